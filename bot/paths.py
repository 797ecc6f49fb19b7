"""Where the project's files live, independent of the current directory."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout root: ``COPILOT_HOME`` if set, else the folder above ``bot/``."""
    home = os.environ.get("COPILOT_HOME")
    return Path(home) if home else Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """Runtime state (the default SQLite file, pid files); created on demand."""
    path = project_root() / "var"
    path.mkdir(parents=True, exist_ok=True)
    return path
