"""The domain vocabulary (data/entities/vocabulary.yml), loaded and validated once.

One file feeds the spaCy EntityRuler, the preference parser and the scenario
detector, so a new cue word is added in one place and every part agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import Located, load_located
from bot.paths import project_root

DEFAULT_VOCABULARY = Path("data/entities/vocabulary.yml")
FALLBACK_CATEGORY = "习惯"


@dataclass(frozen=True)
class Vocabulary:
    honorifics: tuple[str, ...]
    surnames: tuple[str, ...]
    # Ordered by priority: the first category with a matching cue wins.
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    products: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.categories)

    @property
    def scenario_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.products)

    def category_of(self, text: str) -> str | None:
        """The category of the longest cue inside ``text``; ties go to the earlier
        category, so 香槟金 is a colour rather than 香槟 a drink, and 过敏 beats 习惯."""
        best: tuple[int, int] | None = None  # (-length, priority)
        for priority, (_name, cues) in enumerate(self.categories):
            for cue in cues:
                if cue in text and (best is None or (-len(cue), priority) < best):
                    best = (-len(cue), priority)
        return self.categories[best[1]][0] if best else None

    def scenario_of(self, text: str) -> str | None:
        """The scenario whose longest product word occurs in ``text``."""
        best: tuple[int, str] | None = None
        lowered = text.lower()
        for scenario, words in self.products:
            for word in words:
                if word.lower() in lowered and (best is None or len(word) > best[0]):
                    best = (len(word), scenario)
        return best[1] if best else None

    def honorific_pattern(self) -> re.Pattern[str]:
        """Matches surname + honorific (王先生, 欧阳女士), longest alternatives first."""
        surnames = "|".join(sorted(self.surnames, key=len, reverse=True))
        honorifics = "|".join(sorted(self.honorifics, key=len, reverse=True))
        return re.compile(f"({surnames})({honorifics})")

    def split_honorific(self, mention: str) -> tuple[str, str] | None:
        """``王先生`` → ``("王", "先生")``; None when the mention is not of that form."""
        match = self.honorific_pattern().fullmatch(mention)
        return (match.group(1), match.group(2)) if match else None

    def surname_of(self, name: str) -> str:
        for surname in sorted(self.surnames, key=len, reverse=True):
            if name.startswith(surname) and len(name) > len(surname):
                return surname
        return name[:1]


def _word_list(node: Located, what: str) -> tuple[str, ...]:
    words = node.texts()
    if not words:
        raise node.error(f"{what} must not be empty")
    seen: set[str] = set()
    for item, word in zip(node.items(), words, strict=True):
        if word in seen:
            raise item.error(f"'{word}' is listed twice in {what}")
        seen.add(word)
    return tuple(words)


def _grouped(node: Located, what: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups = node.mapping()
    if not groups:
        raise node.error(f"{what} must not be empty")
    return tuple((name, _word_list(cues, f"{what}.{name}")) for name, cues in groups.items())


def parse_vocabulary(path: Path) -> Vocabulary:
    root = load_located(path)
    vocabulary = Vocabulary(
        honorifics=_word_list(root.get("honorifics"), "honorifics"),
        surnames=_word_list(root.get("surnames"), "surnames"),
        categories=_grouped(root.get("preference_categories"), "preference_categories"),
        products=_grouped(root.get("products"), "products"),
    )
    if FALLBACK_CATEGORY not in vocabulary.category_names:
        raise root.get("preference_categories").error(
            f"the fallback category '{FALLBACK_CATEGORY}' must be defined"
        )
    return vocabulary


@cache
def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """The project's vocabulary, parsed once per process."""
    return parse_vocabulary(path or project_root() / DEFAULT_VOCABULARY)
