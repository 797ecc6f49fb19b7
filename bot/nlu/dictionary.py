"""The jieba user dictionary: domain words from data/dict/.

jieba's dictionary is process-global, so the Rasa tokenizer and the spaCy
segmenter share whatever is loaded here. Names are not listed: jieba would glue
a title to the next word (李总来了 → 李总来/了), so the tokenizer cuts tokens
at the edges of the names the rules find instead (bot.nlu.components).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import jieba

logger = logging.getLogger(__name__)

# The client_name finder's lexicon in the dictionary folder (YAML, not a jieba file).
NAMES_FILE = "names.yml"

_loaded: set[Path] = set()


def dictionary_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt")


def dictionary_words(folder: Path) -> set[str]:
    """Every word of the folder's jieba dictionaries: domain words, never names."""
    words = set()
    for path in dictionary_files(folder):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.add(line.split()[0])
    return words


def load_user_dictionaries(files: Iterable[Path]) -> None:
    """Load userdict files into jieba once each per process."""
    for path in files:
        resolved = path.resolve()
        if resolved in _loaded:
            continue
        logger.debug("Loading jieba user dictionary %s", resolved)
        jieba.load_userdict(str(resolved))
        _loaded.add(resolved)
