"""Input channels: the authenticated copilot REST channel (and later WeCom)."""
