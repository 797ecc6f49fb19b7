"""The spaCy side of entity extraction: ``spacy.blank("zh")`` + jieba + EntityRuler.

Patterns are compiled from data/entities/vocabulary.yml. Client names have no
closed list, so a full name is any 2-3 character jieba token that starts with
a known surname and is not an ordinary dictionary word (周末, 高兴, 金色 ...):
jieba's own dictionary tells those apart, since it tags real names ``nr``.
The action layer still checks names against the card database; this only
marks what looks like a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jieba
import spacy
from spacy.language import Language

from bot.nlu.vocabulary import Vocabulary

CLIENT_NAME = "client_name"
PREFERENCE_CATEGORY = "preference_category"
PRODUCT = "product"
_CJK = "[\u4e00-\u9fff]"


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    text: str
    # Canonical value: the category for preference cues, the text otherwise.
    value: str


def _regex_union(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def non_name_words(vocabulary: Vocabulary, extra_words: set[str]) -> list[str]:
    """Dictionary words shaped like a name (surname + 1-2 characters) that are not names."""
    surnames = set(vocabulary.surnames)
    words: set[str] = set()
    with jieba.get_dict_file() as handle:
        for raw in handle:
            word, _freq, *tag = raw.decode("utf-8").split()
            is_name = bool(tag) and tag[0].startswith("nr")
            shaped = 2 <= len(word) <= 4 and (word[:1] in surnames or word[:2] in surnames)
            if shaped and not is_name:
                words.add(word)
    words |= {w for w in extra_words if w[:1] in surnames or w[:2] in surnames}
    return sorted(words)


def name_patterns(vocabulary: Vocabulary, not_names: list[str]) -> list[dict]:
    surnames = _regex_union(vocabulary.surnames)
    honorifics = _regex_union(vocabulary.honorifics)
    compound = [s for s in vocabulary.surnames if len(s) == 2]
    single = _regex_union(tuple(s for s in vocabulary.surnames if len(s) == 1))
    # Two-character tokens (包里, 全包, 金色) are too often ordinary words: a full
    # name is a single surname + two characters, or a compound surname + one or two.
    shape = f"^(({single}){_CJK}{{2}}|({_regex_union(tuple(compound))}){_CJK}{{1,2}})$"
    full_name = {"TEXT": {"REGEX": shape, "NOT_IN": not_names}}
    return [
        {"label": CLIENT_NAME, "pattern": [{"TEXT": {"REGEX": f"^({surnames})({honorifics})$"}}]},
        {
            "label": CLIENT_NAME,
            "pattern": [
                {"TEXT": {"IN": list(vocabulary.surnames)}},
                {"TEXT": {"IN": list(vocabulary.honorifics)}},
            ],
        },
        {"label": CLIENT_NAME, "pattern": [full_name]},
        {
            "label": CLIENT_NAME,
            "pattern": [
                {"TEXT": {"IN": compound}},
                {"TEXT": {"REGEX": f"^{_CJK}{{1,2}}$", "NOT_IN": not_names}},
            ],
        },
    ]


def _cue_token_patterns(words: tuple[str, ...], attr: str) -> list[list[dict]]:
    """Multi-character cues match inside a token; single characters only as a whole
    token, so 包 marks 包 but not 包间 or 包括."""
    long_words = tuple(w for w in words if len(w) > 1)
    short_words = [w for w in words if len(w) == 1]
    patterns: list[list[dict[str, Any]]] = []
    if long_words:
        patterns.append([{attr: {"REGEX": _regex_union(long_words)}}])
    if short_words:
        patterns.append([{attr: {"IN": short_words}}])
    return patterns


def cue_patterns(vocabulary: Vocabulary) -> list[dict]:
    """Preference cues (labelled with their category) and product words."""
    patterns: list[dict] = []
    for category, cues in vocabulary.categories:
        for pattern in _cue_token_patterns(cues, "TEXT"):
            patterns.append({"label": PREFERENCE_CATEGORY, "id": category, "pattern": pattern})
    for scenario, words in vocabulary.products:
        lowered = tuple(w.lower() for w in words)
        for pattern in _cue_token_patterns(lowered, "LOWER"):
            patterns.append({"label": PRODUCT, "id": scenario, "pattern": pattern})
    return patterns


def build_pipeline(vocabulary: Vocabulary, domain_words: set[str]) -> Language:
    """A fresh pipeline; ``domain_words`` are the user-dictionary words (never names)."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    not_names = non_name_words(vocabulary, domain_words)
    ruler.add_patterns(name_patterns(vocabulary, not_names) + cue_patterns(vocabulary))  # type: ignore[attr-defined]
    return nlp


def extract(nlp: Language, text: str) -> list[Entity]:
    doc = nlp(text)
    entities = []
    for span in doc.ents:
        value = span.ent_id_ if span.label_ == PREFERENCE_CATEGORY and span.ent_id_ else span.text
        entities.append(Entity(span.label_, span.start_char, span.end_char, span.text, value))
    return entities
