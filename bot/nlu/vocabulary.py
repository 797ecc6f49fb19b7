"""The domain vocabulary (data/entities/vocabulary.yml), loaded and validated once.

One file feeds the spaCy EntityRuler, the preference parser and the scenario
detector, so a new cue word is added in one place and every part agrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from bot.datafiles import Located, load_located
from bot.paths import project_root

DEFAULT_VOCABULARY = Path("data/entities/vocabulary.yml")
FALLBACK_CATEGORY = "习惯"


# A single-character honorific variant (陈太) is only read as one when it does not
# start an ordinary adverb phrase (太贵了, 太多).
_NOT_AFTER_SHORT_VARIANT = "贵多少大小高低好累忙远近久快慢重轻长短热冷甜咸辣浓淡难了过不"

Groups = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Vocabulary:
    honorifics: tuple[str, ...]
    surnames: tuple[str, ...]
    # Ordered by priority: the first category with a matching cue wins.
    categories: Groups
    products: Groups
    # honorific → the ways advisors mistype it (先生 → 先森)
    honorific_variants: Groups = ()
    # gender (男 / 女 / 任意) → words that point at a client without naming them
    pronouns: Groups = ()
    # topic → words: what a preference is about (see data/entities/vocabulary.yml)
    topics: Groups = ()
    supersede_families: tuple[tuple[str, ...], ...] = ()
    # categories of a relayed statement that make it a fact for the card
    relayed_card_categories: tuple[str, ...] = ()

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
        """Matches surname + honorific (王先生, 欧阳女士, 王先森, 陈太), longest first."""
        return _honorific_pattern(self)

    def canonical_honorific(self, written: str) -> str:
        """先森 → 先生; an honorific as written if it is no known variant."""
        for honorific, variants in self.honorific_variants:
            if written in variants:
                return honorific
        return written

    def split_honorific(self, mention: str) -> tuple[str, str] | None:
        """``王先生`` / ``王先森`` → ``("王", "先生")``; None when not of that form."""
        match = self.honorific_pattern().fullmatch(mention)
        if not match:
            return None
        return match.group(1), self.canonical_honorific(match.group(2))

    def topics_of(self, text: str) -> dict[str, str]:
        """Topic → the longest topic word found in ``text`` (冰美式 → {咖啡: 美式})."""
        found: dict[str, str] = {}
        for topic, words in self.topics:
            for word in words:
                if word in text and len(word) > len(found.get(topic, "")):
                    found[topic] = word
        return found

    def family_of(self, category: str) -> tuple[str, ...]:
        """The categories whose values can contradict one in ``category``."""
        for family in self.supersede_families:
            if category in family:
                return family
        return (category,)

    def pronoun_gender(self, text: str) -> str | None:
        """男 / 女 when ``text`` points at the client with a gendered word, else None."""
        for gender, words in self.pronouns:
            if gender != "任意" and any(word in text for word in words):
                return gender
        return None

    def surname_of(self, name: str) -> str:
        for surname in sorted(self.surnames, key=len, reverse=True):
            if name.startswith(surname) and len(name) > len(surname):
                return surname
        return name[:1]


@cache
def _honorific_pattern(vocabulary: Vocabulary) -> re.Pattern[str]:
    surnames = "|".join(sorted(vocabulary.surnames, key=len, reverse=True))
    written = set(vocabulary.honorifics)
    for _, variants in vocabulary.honorific_variants:
        written |= set(variants)
    long_forms = sorted((w for w in written if len(w) > 1), key=len, reverse=True)
    short = "|".join(re.escape(w) for w in written if len(w) == 1 and w in vocabulary.honorifics)
    guarded = "|".join(
        re.escape(w) for w in written if len(w) == 1 and w not in vocabulary.honorifics
    )
    options = [re.escape(w) for w in long_forms]
    if short:
        options.append(short)
    if guarded:
        options.append(f"(?:{guarded})(?![{_NOT_AFTER_SHORT_VARIANT}])")
    return re.compile(f"({surnames})({'|'.join(options)})", re.IGNORECASE)


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


T = TypeVar("T")


def _optional(root: Located, key: str, parse: Callable[[Located, str], T], default: T) -> T:
    """An optional section: the parsed value, or ``default`` when it is absent."""
    node = root.optional(key)
    return parse(node, key) if node is not None else default


def _category_list(node: Located, categories: Groups) -> tuple[str, ...]:
    known = {name for name, _ in categories}
    for item, name in zip(node.items(), node.texts(), strict=True):
        if name not in known:
            raise item.error(f"'{name}' is not a preference category")
    return tuple(node.texts())


def _families(node: Located, categories: Groups) -> tuple[tuple[str, ...], ...]:
    return tuple(_category_list(item, categories) for item in node.items())


def parse_vocabulary(path: Path) -> Vocabulary:
    root = load_located(path)
    categories = _grouped(root.get("preference_categories"), "preference_categories")
    vocabulary = Vocabulary(
        honorifics=_word_list(root.get("honorifics"), "honorifics"),
        surnames=_word_list(root.get("surnames"), "surnames"),
        categories=categories,
        products=_grouped(root.get("products"), "products"),
        honorific_variants=_optional(root, "honorific_variants", _grouped, ()),
        pronouns=_optional(root, "pronouns", _grouped, ()),
        topics=_optional(root, "topics", _grouped, ()),
        supersede_families=_optional(
            root, "supersede_families", lambda n, _: _families(n, categories), ()
        ),
        relayed_card_categories=_optional(
            root, "relayed_card_categories", lambda n, _: _category_list(n, categories), ()
        ),
    )
    for honorific, _ in vocabulary.honorific_variants:
        if honorific not in vocabulary.honorifics:
            raise (
                root.get("honorific_variants")
                .get(honorific)
                .error(f"'{honorific}' is not one of the honorifics")
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
