"""Parsing an advisor's note into a fact for the card: 记一下,王建国不吃蒜 → 忌口: 不吃蒜.

Rule-based on purpose: the category comes from the vocabulary's cue words and the
value is the advisor's own words minus the command, the relay (他说…), the
client's name and the change words (现在, 改成, 也), so the card keeps exactly
what was observed and nothing of the sentence around it. What the change words
said is kept beside the value: it decides whether the fact replaces an older one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.nlu.dates import resolve_dates
from bot.nlu.vocabulary import FALLBACK_CATEGORY, Vocabulary

_COMMAND = re.compile(
    r"^(?:请|麻烦)?(?:你)?(?:帮我|帮忙|给我)?(?:记一下|记以下|记一笔|记下来|记下|记着|记住|记录一下|"
    r"记录|备注一下|备注下|备注|补充一下|补充|更新一下|更新|标记一下|标记|存一下|加一条|加个备注|记)"
    r"[\s:：,，、。.!！~～-]*"
)
_LEADING = re.compile(
    r"^[\s:：,，、。.]*(?:那个|就是|嗯|呃|哦|诶|欸)?[\s,，]*(?:给|把|关于)?[\s:：,，、]*"
)
_ARRIVED = re.compile(r"^(?:刚进来的|刚来的|刚到的|刚才那位|刚才的|今天来的|进来的)(?:的)?")
_RELAY = re.compile(
    r"^[\s:：,，、的]*(?:这位|那位|客人|客户|顾客|他|她|TA|ta)?(?:刚才|刚刚|刚|又)?"
    r"(?:说|讲|提到|提了|觉得|表示|反馈|告诉我|跟我说)?[了过]?[\s:：,，、]*"
    r"(?:他|她|自己)?(?:是|对)?(?=.)"
)
# 王总和李总都不吃香菜: the 都 that shares the fact between the clients named.
SHARED_BY_ALL = r"(?:两位|两个人|俩人|两人|俩|他们|她们)?都"
_SHARED_BY_ALL = re.compile(rf"^{SHARED_BY_ALL}(?=[\u4e00-\u9fff])")
_PRONOUN_SUBJECT = re.compile(r"^(?:他|她|这位|客人|客户|TA|ta)(?=[^\s,，说])")
_TRAILING_COMMAND = re.compile(
    r"(?:[\s,，。.!！~～]*(?:你|请|麻烦)?(?:帮我|帮忙|给我)?"
    r"(?:记一下|记以下|记下来|记下|记住|记上|记录下|记录一下|备注下|备注一下|更新一下|更新下|存一下|"
    r"记到|记在|写到|写在|存到|加到|更新到)"
    r"(?:[^\s,，。]{0,10}?(?:卡上|卡里|档案里|档案上|名下|那里|那儿|那|这))?"
    # 记一下日子 / 记下时间: what to note is named after the command
    r"(?:日子|日期|时间|这个|这条|这一条)?(?:吧|哈|啊|哦|一下)?)+$"
)
_TRAILING = re.compile(
    r"(?:[\s,，。.!！~～]|哈|哦|啊|呀|呢|哟|喔|啦|嘛|[\U0001F300-\U0001FAFF\u2600-\u27BF\ufe0f])+$"
)
_CHANGE = re.compile(
    r"^(?:现在|目前|最近|如今|以后|从今往后|今后|已经|其实|后来)?(?:(?:改成|改为|换成|改|换|变成)了?)?"
)
CHANGE_WORDS = re.compile(
    r"现在|目前|最近|如今|以后|今后|已经|改成|改为|换成|改喝|改吃|改|换|不再|变成|其实"
)
ADDITION_WORDS = re.compile(r"也|还有|还喜欢|还爱|另外|同时")
_NO_LONGER_ALLERGIC = re.compile(
    r"(?:不再|不|没有?|已经不|已不)(?:对)?(.{1,10}?)过敏|(.{1,10}?)过敏(?:已经)?(?:好了|好啦|治好了)|脱敏"
)
_LATIN_ALIAS = r"[A-Za-z][A-Za-z .'-]{0,30}[A-Za-z]|[A-Za-z]"
_ALIAS_WORDS = "英文名字|英文名|英语名|外文名|小名|昵称|外号|网名|花名|别名"
_ALIAS = re.compile(
    rf"({_ALIAS_WORDS})(?:[\s:：]*(?:是|叫做|叫|为))?[\s:：]*"
    rf"({_LATIN_ALIAS}|[\u4e00-\u9fff]{{1,6}})"
)
# 家里人都叫她豆豆 这个小名帮我记一下: the name before the word that says it is one.
_CALLED = re.compile(
    rf"叫(?:她|他|TA)?[\s:：]*({_LATIN_ALIAS}|[\u4e00-\u9fff]{{1,4}}?)(?=[\s,，。]|$|这|的)"
)
_NOT_ALIASES = re.compile(r"^(?:帮我|记一下|记下|记住|记上|存上|存一下|一下|这个|那个|她|他)")
MAX_VALUE = 200


@dataclass(frozen=True)
class ParsedPreference:
    category: str
    value: str
    # The calendar date the value names (下个月3号 → 2026-12-03), if any.
    when: date | None = None
    # Said as a change (现在能吃辣了, 改喝热美式): an older value on the topic goes.
    change: bool = False
    # Said as an addition (也喜欢拿铁): older values on the topic stay.
    addition: bool = False
    # Said as no longer true (现在不对坚果过敏了): the matching value is retired.
    retire: bool = False


@dataclass(frozen=True)
class ParsedAlias:
    alias: str
    kind: str  # "alias" for English / other names, "nickname" for 小名 / 昵称


def strip_command(text: str) -> str:
    text = _LEADING.sub("", text.strip())
    return _COMMAND.sub("", text)


def _clean_segment(segment: str) -> str:
    rest = strip_command(segment)
    rest = _ARRIVED.sub("", rest)
    rest = _RELAY.sub("", rest, count=1)
    rest = _PRONOUN_SUBJECT.sub("", rest)
    rest = _SHARED_BY_ALL.sub("", rest)
    rest = strip_command(rest)
    for _ in range(3):
        rest = _TRAILING.sub("", rest)
        rest = _TRAILING_COMMAND.sub("", rest)
    return rest.strip(" ,，:：、").lstrip("的")


def fact_segments(text: str, mentions: Sequence[tuple[int, int]]) -> list[tuple[int, str]]:
    """The message cut at the client mentions, each piece cleaned, with its offset."""
    pieces: list[tuple[int, str]] = []
    cursor = 0
    for start, end in sorted(mentions):
        pieces.append((cursor, text[cursor:start]))
        cursor = max(cursor, end)
    pieces.append((cursor, text[cursor:]))
    return [(offset, cleaned) for offset, piece in pieces if (cleaned := _clean_segment(piece))]


def fact_span(
    text: str, mentions: Sequence[tuple[int, int]], vocabulary: Vocabulary
) -> tuple[int, str] | None:
    """The piece of the message that carries the fact: the one with a category cue,
    else the longest; with its offset (so the client named just before it is its subject)."""
    segments = fact_segments(text, mentions)
    if not segments:
        return None
    with_cue = [s for s in segments if vocabulary.category_of(s[1])]
    return (with_cue or sorted(segments, key=lambda s: -len(s[1])))[0]


# Where a voice run-on changes subject: pauses and the words that add another fact.
_CLAUSE = re.compile(r"[\s,，。；;！!]+|还有|另外|而且|并且")


def fact_values(
    text: str, mentions: Sequence[tuple[int, int]], vocabulary: Vocabulary
) -> list[tuple[int, str]]:
    """The facts in the message: usually the one :func:`fact_span` finds, but a run-on
    whose clauses carry cues of different categories holds one fact per such clause
    (宋总今天带了俩朋友来 坐大包间 他说想喝点白葡萄酒 → 坐大包间, 想喝点白葡萄酒).

    A clause without a cue belongs to the fact before it (戒圈 现在是11号 stays one)
    and context before the first fact is dropped (今天带了俩朋友来 is no preference);
    clauses of one category stay one value, as the advisor said them.
    """
    span = fact_span(text, mentions, vocabulary)
    if span is None:
        return []
    offset, segment = span
    facts: list[list[str]] = []
    for part in _CLAUSE.split(segment):
        clause = _clean_segment(part)
        if clause and vocabulary.category_of(clause):
            facts.append([clause])
        elif clause and facts:
            facts[-1].append(clause)
    if len({vocabulary.category_of(fact[0]) for fact in facts}) < 2:
        return [span]
    return [(offset, " ".join(fact)) for fact in facts]


def parse_preference(
    text: str,
    mentions: Sequence[tuple[int, int]],
    vocabulary: Vocabulary,
    today: date,
) -> ParsedPreference | None:
    """The fact in ``text`` without the client mentions at ``mentions``; None if empty."""
    span = fact_span(text, mentions, vocabulary)
    if span is None:
        return None
    return parse_value(span[1], vocabulary, today)


def parse_value(raw: str, vocabulary: Vocabulary, today: date) -> ParsedPreference | None:
    """A cleaned fact → category, value, date and what the change words said."""
    change = bool(CHANGE_WORDS.search(raw))
    addition = bool(ADDITION_WORDS.search(raw)) and not change
    value = _CHANGE.sub("", raw)
    value = re.sub(r"(?<=[对])也|也(?=[\u4e00-\u9fff])", "", value)
    value = re.sub(r"[了啦]$", "", value).strip(" ,，:：、")
    if not value:
        return None
    value, when = resolve_dates(value, today)
    value = re.sub(r"\s+", " ", value)[:MAX_VALUE]
    category = vocabulary.category_of(value) or FALLBACK_CATEGORY
    retire = category == "过敏" and bool(_NO_LONGER_ALLERGIC.search(value))
    retire = retire or value.startswith("不再")
    return ParsedPreference(category, value, when, change or retire, addition, retire)


def allergen(value: str) -> str:
    """What the allergy is to: 对坚果过敏 / 坚果过敏 / 现在不对坚果过敏了 → 坚果."""
    match = _NO_LONGER_ALLERGIC.search(value)
    if match:
        return (match.group(1) or match.group(2) or "").strip(" 对")
    stem = re.sub(r"^(?:有点|有些|轻微|严重|比较)?对?", "", value)
    stem = re.split(r"过敏|不耐受?|敏感", stem)[0]
    return stem.strip(" 对的，,") or value


def parse_alias(text: str) -> ParsedAlias | None:
    """记一下王建国英文名叫David → David (alias); 家里人都叫她豆豆 这个小名… → 豆豆 (nickname)."""
    found = _ALIAS.search(text)
    kind_word, alias = (found.group(1), found.group(2)) if found else ("", "")
    if not alias or _NOT_ALIASES.match(alias):
        named = re.search(_ALIAS_WORDS, text)
        called = _CALLED.search(text) if named else None
        if called is None:
            return None
        kind_word, alias = named.group(0) if named else "", called.group(1)
    kind = "nickname" if kind_word in ("小名", "昵称", "外号", "花名", "网名") else "alias"
    alias = re.sub(r"\s+", " ", alias).strip()
    alias = re.sub(r"(?:记一下|记下|记住|记上|帮我.*)$", "", alias).strip()
    if not alias or _NOT_ALIASES.match(alias):
        return None
    return ParsedAlias(alias, kind)
