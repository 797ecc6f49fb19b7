"""Parsing an advisor's note into a preference: 记一下,王建国不吃蒜 → 忌口: 不吃蒜.

Rule-based on purpose: the category comes from the vocabulary's cue words and the
value is the advisor's own words minus the command and the client's name, so the
card keeps exactly what was observed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.vocabulary import FALLBACK_CATEGORY, Vocabulary

_COMMAND = re.compile(
    r"^(?:请|麻烦)?(?:你)?(?:帮我|帮忙|给我)?(?:记一下|记一笔|记下来|记下|记着|记住|记录一下|记录|"
    r"备注一下|备注下|备注|补充一下|补充|更新一下|更新|标记一下|标记|存一下|加一条|加个备注)"
    r"[\s:：,，、。.!！~～-]*"
)
_LEADING = re.compile(r"^[\s:：,，、。.]*(?:给|把|关于)?[\s:：,，、]*")
_AFTER_NAME = re.compile(r"^[\s:：,，、的]*(?:这位|客人|客户|他|她)?(?:说|是|对)?[\s:：,，、]*")
_TRAILING = re.compile(
    r"(?:[\s,，。.!！~～]|记下来|记一下|记住|记上|记录下|备注下|备注一下|哈|哦|啊|呀|呢|哟|喔|"
    r"[\U0001F300-\U0001FAFF\u2600-\u27BF])+$"
)
MAX_VALUE = 200


@dataclass(frozen=True)
class ParsedPreference:
    category: str
    value: str


def strip_command(text: str) -> str:
    text = _LEADING.sub("", text.strip())
    return _COMMAND.sub("", text)


def parse_preference(
    text: str, mention: str | None, vocabulary: Vocabulary
) -> ParsedPreference | None:
    """The preference in ``text`` with the client ``mention`` removed; None if empty."""
    rest = strip_command(text)
    if mention and mention in rest:
        before, _, after = rest.partition(mention)
        rest = (strip_command(before) + " " + after).strip()
    rest = _AFTER_NAME.sub("", rest)
    rest = strip_command(rest)
    rest = _TRAILING.sub("", rest).strip(" ,，:：、")
    if not rest:
        return None
    value = re.sub(r"\s+", " ", rest)[:MAX_VALUE]
    return ParsedPreference(vocabulary.category_of(value) or FALLBACK_CATEGORY, value)
