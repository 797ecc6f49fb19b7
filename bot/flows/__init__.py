"""Guided conversations: flow definitions, the script library and the step engine."""
