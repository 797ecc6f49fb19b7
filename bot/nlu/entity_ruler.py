"""Rule-based entities: client names by their shape, and spaCy's EntityRuler for cues.

Client names have no closed list, but many are names by their shape alone, and
those are found here character by character (jieba often cuts them apart:
Amy|孙说, 陈太说): a surname with a title (王先生, 欧阳总, 陈生) in any of the
ways advisors type it (王先森, 李小jie, 张女仕, 黄老湿), an English name alone
or beside a surname or title (Linda, Kevin王, Sandy姐), and Mr.周. Full names
(张伟, 诸葛明远) have no such shape; the trained model reads those in context,
and :func:`merge_names` joins both. The action layer still checks every name
against the card store; this only marks what names a client.

Preference cues and product words are matched on jieba tokens by a spaCy
EntityRuler compiled from data/entities/vocabulary.yml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jieba
import spacy
from spacy.language import Language

from bot.datafiles import load_located
from bot.nlu.vocabulary import Vocabulary

CLIENT_NAME = "client_name"
PREFERENCE_CATEGORY = "preference_category"
PRODUCT = "product"

Span = tuple[int, int]


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    text: str
    # Canonical value: the category for preference cues, the text otherwise.
    value: str


@dataclass(frozen=True)
class NameLexicon:
    """What the name finder knows; saved inside the model, so a model runs alone."""

    surnames: tuple[str, ...]
    # Every written form of a title after a surname: 先生, 先森, 先sheng, 老湿, sir.
    titles: tuple[str, ...]
    # One-character titles → characters that, following them, make an ordinary word.
    guarded: tuple[tuple[str, str], ...]
    # One-character titles the vocabulary does not list (陈太, 黄生, 孔老): not read as a
    # title where they start a dictionary word (包太沉, 王生日).
    weak_titles: tuple[str, ...]
    latin_titles: tuple[str, ...]  # written before a surname: Mr, Mrs
    given_names: tuple[str, ...]  # lower case
    not_names: tuple[str, ...]  # lower case
    # Words that point at a client without naming them (她, 这位, 客人): never a name.
    pronouns: tuple[str, ...] = ()
    # The vocabulary's titles: a span the model marks that starts with one (姐您) is none.
    honorifics: tuple[str, ...] = ()
    # Ordinary words shaped like a name (凌晨, 金色, 方圆) and the domain's own words.
    common_words: frozenset[str] = frozenset()
    # Characters that end a given name after a surname (夏侯然说 → 夏侯然).
    name_stops: str = ""
    # Compound surnames that are no ordinary word: with a given name, a full name.
    full_name_surnames: tuple[str, ...] = ()
    # Words after which an English name is an alias being written down (英文名叫Sophie).
    alias_cues: tuple[str, ...] = ()
    # Surnames that are also conjunctions (她和太太, Linda和Kevin): a name only where a
    # sentence starts, and never the surname of an English name before it.
    conjunctions: tuple[str, ...] = ("和",)

    @cached_property
    def compiled(self) -> _Compiled:
        """The patterns, made once per lexicon. Kept on the instance: a cache keyed
        by the lexicon hashed and compared all its word lists on every message."""
        return _compile(self)

    def to_json(self) -> str:
        raw = asdict(self)
        raw["common_words"] = sorted(self.common_words)
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> NameLexicon:
        raw: dict[str, Any] = json.loads(text)
        fields: dict[str, Any] = {k: v if isinstance(v, str) else tuple(v) for k, v in raw.items()}
        fields["guarded"] = tuple((title, chars) for title, chars in raw["guarded"])
        fields["common_words"] = frozenset(raw.get("common_words", ()))
        return cls(**fields)

    def save(self, folder: Path) -> None:
        (folder / LEXICON_FILE).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> NameLexicon:
        return cls.from_json((folder / LEXICON_FILE).read_text(encoding="utf-8"))


LEXICON_FILE = "name_lexicon.json"
_LATIN_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,15}(?![A-Za-z])")
# How often a word must occur in jieba's dictionary to outweigh a name's reading of
# its characters (Linda明天来 but Tony陈说, 钱包太厚 but 查下田先生: 陈说, 下田 are rare).
_COMMON_WORD = 200
# How often a word shaped like a name (a surname + one to three characters) must occur
# in jieba's dictionary to be taken as an ordinary word when the model marks it.
_SHAPED_WORD = 100
_SENTENCE_START = re.compile(r"(^|[\s,，。.!！?？;；:：、~～()（）\[\]【】\"“”'‘’])$")


def _variants(title: str, confusables: dict[str, list[str]]) -> set[str]:
    """``title`` with one of its characters swapped for a confusable (老师 → 老湿)."""
    if len(title) < 2:
        return set()
    return {
        title[:i] + swap + title[i + 1 :]
        for i, char in enumerate(title)
        for swap in confusables.get(char, [])
    }


def build_lexicon(vocabulary: Vocabulary, names_file: Path, domain_words: set[str]) -> NameLexicon:
    """The lexicon from the vocabulary, data/dict/names.yml and the dictionary words."""
    extra = load_located(names_file)
    surnames = set(vocabulary.surnames) | set(extra.get("extra_surnames").texts())
    canonical = set(vocabulary.honorifics) | set(extra.get("extra_titles").texts())
    confusables = {k: v.texts() for k, v in extra.get("confusables").mapping().items()}
    titles = set(canonical)
    for _, variants in vocabulary.honorific_variants:
        titles |= set(variants)
    for title in canonical:
        titles |= _variants(title, confusables)
    products_written = {w for _, words in vocabulary.products for w in words}
    products = {w.lower() for w in products_written}
    latin_words = {w.lower() for w in domain_words if w.isascii() and w.isalpha()}
    return NameLexicon(
        surnames=tuple(sorted(surnames, key=lambda s: (-len(s), s))),
        titles=tuple(sorted(titles, key=lambda t: (-len(t), t))),
        guarded=tuple(
            (title, node.text()) for title, node in extra.get("guarded_titles").mapping().items()
        ),
        weak_titles=tuple(sorted(t for t in titles - set(vocabulary.honorifics) if len(t) == 1)),
        latin_titles=tuple(extra.get("latin_titles_before").texts()),
        given_names=tuple(sorted(w.lower() for w in extra.get("given_names").texts())),
        not_names=tuple(
            sorted({w.lower() for w in extra.get("not_names").texts()} | products | latin_words)
        ),
        pronouns=tuple(sorted({w for _, words in vocabulary.pronouns for w in words})),
        alias_cues=tuple(extra.get("alias_cues").texts()),
        honorifics=vocabulary.honorifics,
        common_words=frozenset(_name_shaped_words(surnames) | domain_words | products_written),
        name_stops=extra.get("name_stops").text(),
        full_name_surnames=tuple(extra.get("full_name_surnames").texts()),
    )


def _name_shaped_words(surnames: set[str]) -> set[str]:
    """jieba's common words that start with a surname but are no name (凌晨, 金色)."""
    words = set()
    with jieba.get_dict_file() as handle:
        for raw in handle:
            word, frequency, *tag = raw.decode("utf-8").split()
            if (
                2 <= len(word) <= 4
                and (word[:1] in surnames or word[:2] in surnames)
                and not (tag and tag[0].startswith("nr"))
                and int(frequency) >= _SHAPED_WORD
            ):
                words.add(word)
    return words


@dataclass(frozen=True)
class _Compiled:
    surname_title: re.Pattern[str]
    full_name: re.Pattern[str]
    mister: re.Pattern[str]
    surname_after_latin: re.Pattern[str]
    title_after_latin: re.Pattern[str]
    alias_cue: re.Pattern[str]
    weak_titles: frozenset[str]
    given: frozenset[str]
    not_names: frozenset[str]
    conjunctions: frozenset[str]


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _compile(lexicon: NameLexicon) -> _Compiled:
    guards = dict(lexicon.guarded)
    options = []
    for title in lexicon.titles:
        option = re.escape(title)
        if title in guards:
            option += f"(?![{re.escape(guards[title])}])"
        if title.isascii():  # 张Sir, 高先sheng: the Latin part ends the word
            option += "(?![A-Za-z])"
        options.append(option)
    surnames = _alternatives(lexicon.surnames)
    titles = "|".join(options)
    return _Compiled(
        surname_title=re.compile(f"({surnames})({titles})", re.IGNORECASE),
        full_name=re.compile(_alternatives(lexicon.full_name_surnames) or "(?!)"),
        mister=re.compile(
            rf"(?<![A-Za-z])(?i:{_alternatives(lexicon.latin_titles)})\.?\s?"
            rf"(?:{surnames}|[A-Z][a-z]{{1,11}}(?![A-Za-z]))",
        ),
        surname_after_latin=re.compile(f"({surnames})"),
        title_after_latin=re.compile(f"({titles})", re.IGNORECASE),
        alias_cue=re.compile(f"(?:{_alternatives(lexicon.alias_cues)})[叫是为:：\\s]*$"),
        weak_titles=frozenset(lexicon.weak_titles),
        given=frozenset(lexicon.given_names),
        not_names=frozenset(lexicon.not_names),
        conjunctions=frozenset(lexicon.conjunctions),
    )


def _is_latin_name(word: str, compiled: _Compiled) -> bool:
    lowered = word.lower()
    if lowered in compiled.not_names:
        return False
    if lowered in compiled.given:
        return True
    # Capitalised, not an acronym (SKP, VIP): Fiona, Yuki.
    return len(word) >= 3 and word[0].isupper() and word[1:].islower()


def _starts_word(text: str, start: int, surname: str) -> bool:
    """Whether the surname at ``start`` opens a common word (马上, 明天, 方便)."""
    jieba.dt.check_initialized()
    frequencies = jieba.dt.FREQ
    for size in (2, 3, 4):
        word = text[start : start + size]
        if len(word) == size > len(surname) and frequencies.get(word, 0) >= _COMMON_WORD:
            return True
    return False


def _dictionary_words(text: str) -> list[tuple[int, int, bool]]:
    """Where jieba's dictionary sees words of two or more characters (钱包, 古董表),
    and whether each is a common word."""
    jieba.dt.check_initialized()
    frequencies = jieba.dt.FREQ
    return [
        (start, end, frequencies.get(word, 0) >= _COMMON_WORD)
        for word, start, end in jieba.tokenize(text, HMM=False)
        if len(word) > 1
    ]


def _part_of_word(
    words: list[tuple[int, int, bool]], start: int, end: int, title_start: int, weak: bool
) -> bool:
    """Whether surname + title at ``start:end`` is really part of ordinary words: the
    surname ends a common one (钱包太厚, 语文老师; not the rare 下田 of 查下田先生), the
    whole is inside one (古董表), or a weak title starts one (包太沉)."""
    return any(
        (common and s < start < e) or (s <= start and end < e) or (weak and s == title_start)
        for s, e, common in words
    )


def _latin_names(text: str, compiled: _Compiled) -> list[Span]:
    spans = []
    previous: re.Match[str] | None = None
    for match in _LATIN_WORD.finditer(text):
        word, start, end = match.group(0), match.start(), match.end()
        # The second word of a brand (La Mer, Apple Watch) is no name either.
        follows_brand = (
            previous is not None
            and text[previous.end() : start] == " "
            and previous.group(0)[0].isupper()
            and not _is_latin_name(previous.group(0), compiled)
        )
        previous = match
        if follows_brand or not _is_latin_name(word, compiled):
            continue
        if compiled.alias_cue.search(text[:start]):
            continue
        if text[start - 1 : start] == "阿":  # 阿May姐
            start -= 1
        surname = compiled.surname_after_latin.match(text, end)
        if (
            surname
            and surname.group(0) not in compiled.conjunctions
            and not _starts_word(text, end, surname.group(0))
        ):
            end = surname.end()
            title = compiled.title_after_latin.match(text, end)
            end = title.end() if title else end
        else:
            title = compiled.title_after_latin.match(text, end)
            if title and not title.group(0).isascii():  # Sandy姐, Leo哥
                end = title.end()
        spans.append((start, end))
    return spans


def find_names(lexicon: NameLexicon, text: str) -> list[Span]:
    """Spans of ``text`` that name a client by their shape, longest first, no overlaps:
    surname + title, a compound surname + given name, English names, Mr. + surname."""
    compiled = lexicon.compiled
    found: list[Span] = []
    words: list[tuple[int, int, bool]] | None = None
    for match in compiled.surname_title.finditer(text):
        surname = match.group(1)
        if surname in compiled.conjunctions and not _SENTENCE_START.search(text[: match.start()]):
            continue
        if len(surname) == 1:
            words = _dictionary_words(text) if words is None else words
            weak = match.group(2) in compiled.weak_titles
            if _part_of_word(words, match.start(), match.end(), match.start(2), weak):
                continue
        found.append(match.span())
    for match in compiled.full_name.finditer(text):
        end = _given_name_end(lexicon, text, match.end())
        words = _dictionary_words(text) if words is None else words
        # 完颜 is no surname in 护理完颜色变深: a common word starts inside it.
        inside = any(common and match.start() < s < match.end() for s, _, common in words)
        if end > match.end() and not inside:
            found.append((match.start(), end))
    found.extend(match.span() for match in compiled.mister.finditer(text))
    found.extend(_latin_names(text, compiled))
    return keep_longest(found)


def keep_longest(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans, longer ones first, in text order."""
    kept: list[Span] = []
    for span in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0])):
        if not any(span[0] < other[1] and other[0] < span[1] for other in kept):
            kept.append(span)
    return sorted(kept)


def merge_names(
    lexicon: NameLexicon, rule_spans: Sequence[Span], model_spans: Sequence[Span], text: str
) -> list[Span]:
    """The rule spans, and the model's spans (tidied) that overlap none of them."""
    merged = list(rule_spans)
    for start, end in _tidy(lexicon, model_spans, text):
        if not any(start < e and s < end for s, e in merged):
            merged.append((start, end))
    return sorted(merged)


def _tidy(lexicon: NameLexicon, spans: Sequence[Span], text: str) -> list[Span]:
    """The model's spans made whole and checked: a surname it marked apart from the
    given name is joined to it (欧阳|若曦) or given the name that follows (夏侯然说,
    where the model marked only 夏侯); what no name can be is dropped."""
    surnames = set(lexicon.surnames)
    tidied: list[Span] = []
    for start, end in sorted(spans):
        if tidied and tidied[-1][1] == start and text[slice(*tidied[-1])] in surnames:
            start = tidied.pop()[0]
        if text[start:end] in surnames:
            end = _given_name_end(lexicon, text, end)
        tidied.append((start, end))
    return [span for span in tidied if _could_be_name(lexicon, text[slice(*span)].strip())]


def _given_name_end(lexicon: NameLexicon, text: str, end: int) -> int:
    """Where a given name of one or two characters after the surname ending at ``end``
    ends: before a particle or verb of saying (夏侯然说), a title (诸葛总 is the
    title rule's), or, as its second character, a common word (端木蓉承认)."""
    compiled = lexicon.compiled
    stop = end
    while (
        stop < len(text)
        and stop - end < 2
        and "\u4e00" <= text[stop] <= "\u9fff"
        and text[stop] not in lexicon.name_stops
        and not compiled.title_after_latin.match(text, stop)
        and not (stop > end and _starts_word(text, stop, ""))
    ):
        stop += 1
    return stop


def _could_be_name(lexicon: NameLexicon, name: str) -> bool:
    """Not a lone character, an English word (the rules decide those), a pronoun, an
    ordinary word shaped like a name (凌晨, 金色), or a bare title (姐您, 先生)."""
    return (
        len(name) >= 2
        and not name.isascii()
        and name not in lexicon.pronouns
        and name not in lexicon.common_words
        and not name.startswith(lexicon.honorifics)
    )


def _cue_token_patterns(words: tuple[str, ...], attr: str) -> list[list[dict]]:
    """Multi-character cues match inside a token; single characters only as a whole
    token, so 包 marks 包 but not 包间 or 包括."""
    long_words = tuple(w for w in words if len(w) > 1)
    short_words = [w for w in words if len(w) == 1]
    patterns: list[list[dict[str, Any]]] = []
    if long_words:
        patterns.append([{attr: {"REGEX": _alternatives(long_words)}}])
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


def build_pipeline(vocabulary: Vocabulary) -> Language:
    """A fresh spaCy pipeline (jieba segmenter) for preference cues and products."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    ruler.add_patterns(cue_patterns(vocabulary))  # type: ignore[attr-defined]
    return nlp


def extract(nlp: Language, lexicon: NameLexicon, text: str) -> list[Entity]:
    """Client names by shape, and the cue and product entities outside them."""
    names = find_names(lexicon, text)
    entities = [Entity(CLIENT_NAME, s, e, text[s:e], text[s:e]) for s, e in names]
    for span in nlp(text).ents:
        start, end = span.start_char, span.end_char
        if any(start < e and s < end for s, e in names):
            continue  # 包 in 包总 is no product
        value = span.ent_id_ if span.label_ == PREFERENCE_CATEGORY and span.ent_id_ else span.text
        entities.append(Entity(span.label_, start, end, span.text, value))
    return entities
