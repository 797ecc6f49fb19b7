"""The jieba user dictionary: domain words from data/dict/ plus honorific names.

jieba's dictionary is process-global, so the Rasa tokenizer and the spaCy
segmenter share whatever is loaded here. Honorific forms (王先生, 李总) are
generated from the vocabulary rather than listed by hand; without them jieba
glues the honorific to the next word (李总来了 → 李总来/了).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import jieba

from bot.nlu.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

HONORIFIC_FILE = "generated_honorifics.txt"
HONORIFIC_FREQUENCY = 50000

_loaded: set[Path] = set()


def honorific_words(vocabulary: Vocabulary) -> list[str]:
    """Every surname + honorific pair (王先生, 欧阳女士, 李总)."""
    return [s + h for s in vocabulary.surnames for h in vocabulary.honorifics]


def add_honorific_words(vocabulary: Vocabulary) -> None:
    for word in honorific_words(vocabulary):
        jieba.add_word(word, HONORIFIC_FREQUENCY, "nr")


def write_honorific_file(vocabulary: Vocabulary, folder: Path) -> Path:
    path = folder / HONORIFIC_FILE
    lines = (f"{word} {HONORIFIC_FREQUENCY} nr" for word in honorific_words(vocabulary))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def dictionary_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt")


def load_user_dictionaries(files: Iterable[Path]) -> None:
    """Load userdict files into jieba once each per process."""
    for path in files:
        resolved = path.resolve()
        if resolved in _loaded:
            continue
        logger.debug("Loading jieba user dictionary %s", resolved)
        jieba.load_userdict(str(resolved))
        _loaded.add(resolved)
