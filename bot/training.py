"""Train the Rasa model only when its inputs changed.

The fingerprint covers the config, the domain, the training data, the
dictionaries and vocabulary, and the code of our own NLU components, so
editing a component retrains even though Rasa's own check would not notice.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bot.paths import project_root

MODEL_NAME = "copilot"
TRAINING_INPUTS = (
    "config.yml",
    "domain",
    "data/nlu",
    "data/stories",
    "data/rules",
    "data/dict",
    "data/entities",
    # The code of the custom graph components saved inside the model (not the NLU
    # service or the evaluation, which do not change what training produces).
    "bot/nlu/components.py",
    "bot/nlu/entity_ruler.py",
    "bot/nlu/dictionary.py",
    "bot/nlu/vocabulary.py",
)


def model_path(root: Path | None = None) -> Path:
    return (root or project_root()) / "models" / f"{MODEL_NAME}.tar.gz"


def fingerprint(root: Path | None = None) -> str:
    root = root or project_root()
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _stamp(root: Path) -> Path:
    return root / "models" / f"{MODEL_NAME}.fingerprint"


def is_current(root: Path | None = None) -> bool:
    root = root or project_root()
    stamp = _stamp(root)
    return (
        model_path(root).exists()
        and stamp.exists()
        and stamp.read_text().strip() == fingerprint(root)
    )


def train(force: bool = False) -> bool:
    """Train if needed; True when a new model was written."""
    root = project_root()
    if not force and is_current(root):
        print(f"Model {model_path(root).relative_to(root)} is up to date; not training.")
        return False
    print("Training the Rasa model (NLU + dialogue)...", flush=True)
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", "config.yml",
        "--domain", "domain",
        "--data", "data/nlu", "data/stories", "data/rules",
        "--out", "models",
        "--fixed-model-name", MODEL_NAME,
        "--force",
    ]  # fmt: skip
    subprocess.run(command, cwd=root, check=True)
    _stamp(root).write_text(fingerprint(root) + "\n")
    return True
