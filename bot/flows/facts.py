"""Turning what the advisor relays into facts and card-derived placeholder values.

The advisor writes 他说现在这块表太重了; the client hears 您刚提到现在这块表太重了.
So relayed statements lose their "he said" and switch to the second person, and
card values are cut to the noun an advisor would say (普洱要泡得浓一点 → 普洱).
"""

from __future__ import annotations

import re
from datetime import date

from bot.cards.card import ClientCard
from bot.clock import to_local, utcnow

# An important date is offered to scripts (…快到了) only this many days ahead.
OCCASION_WINDOW_DAYS = 60
_DATE = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")

_RELAY = re.compile(
    r"^(?:客户|客人|顾客|老板|这位|对方|她|他|TA|ta)?(?:刚才|刚刚|刚|又|也|还|就)?"
    r"(?:说|讲|提到|提了|觉得|表示|反馈|抱怨|吐槽|问|承认|坦言|感觉|认为)[了过]?[：:,，\s]*"
)
_TRAIL = re.compile(r"[\s,，。.!！~～?？]+$|(?:哈+|哦+|呀|啊|呢|😂|👍|🙏)+$")
_CUT = re.compile(r"[要，,、（(；;。]|\d")
_LEADING_VERB = re.compile(
    r"^(?:一般|平时|每次|总是|都)?(?:爱喝|喜欢喝|只喝|要喝|喝|喜欢坐|习惯坐|坐|喜欢|偏爱|偏好)"
)
_DISLIKE = re.compile(r"(?:不吃|不喝|不能吃|不碰|忌|过敏|不喜欢|讨厌|不要|别放|不加)")


def clean_fact(text: str, mention: str | None = None) -> str:
    """A relayed statement as something the client said, in the second person."""
    if mention:
        text = text.replace(mention, "")
    text = text.strip(" ,，:：")
    text = _RELAY.sub("", text)
    text = _RELAY.sub("", text)  # 客户说她觉得… has two layers
    text = text.replace("他们", "您们").replace("她", "您").replace("他", "您")
    while True:
        trimmed = _TRAIL.sub("", text)
        if trimmed == text:
            return text.strip()
        text = trimmed


def short_value(value: str) -> str:
    """普洱要泡得浓一点 → 普洱; 结婚纪念日10月8日 → 结婚纪念日."""
    value = _LEADING_VERB.sub("", value.strip())
    cut = _CUT.search(value)
    head = value[: cut.start()] if cut else value
    return head.strip(" 的") or value


def dislikes(card: ClientCard) -> list[str]:
    """Things the client avoids: 不吃蒜 → 蒜, 坚果过敏 → 坚果."""
    terms = []
    for preference in card.preferences:
        if preference.category in {"忌口", "过敏"} or _DISLIKE.search(preference.value):
            term = _DISLIKE.sub("", preference.value)
            term = re.sub(r"^(?:对|吃|喝|任何)", "", term).strip(" 的，,")
            if 1 <= len(term) <= 6:
                terms.append(term)
    return terms


def is_upcoming(value: str, today: date, within_days: int = OCCASION_WINDOW_DAYS) -> bool:
    """结婚纪念日10月8日 is upcoming if 10月8日 falls within the next ``within_days``;
    a value without a date is taken as current (scripts say 快到了 about it)."""
    match = _DATE.search(value)
    if not match:
        return True
    month, day = int(match.group(1)), int(match.group(2))
    for year in (today.year, today.year + 1):
        try:
            when = date(year, month, day)
        except ValueError:
            return False
        if 0 <= (when - today).days <= within_days:
            return True
    return False


def card_values(card: ClientCard | None, today: date | None = None) -> dict[str, str]:
    """Placeholder values the card provides (first matching preference wins)."""
    if card is None:
        return {}
    today = today or to_local(utcnow()).date()
    wanted = {
        "drink": "饮品",
        "seat": "座位",
        "occasion": "重要日期",
        "color": "颜色",
        "style": "风格",
    }
    values = {}
    for name, category in wanted.items():
        found = [v for v in card.preference_values(category) if not _DISLIKE.search(v)]
        if name == "occasion":
            found = [v for v in found if is_upcoming(v, today)]
        if found:
            values[name] = short_value(found[0])
    return {k: v for k, v in values.items() if v}
