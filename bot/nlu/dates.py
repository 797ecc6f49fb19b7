"""Relative and partial dates in an advisor's note, resolved to calendar dates.

下个月3号 written on 29 November means 3 December; a card that keeps the words
would say "next month" forever. Dates are resolved in the store's time zone
(bot/clock.py) against ``today``, and the text keeps the resolved month and day
so every colleague reads the same date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_NUMERALS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9, "十": 10}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_NUMBER = r"(\d{1,4}|[零一二两三四五六七八九十]{1,3})"

_ABSOLUTE = re.compile(rf"(?:(\d{{4}})年)?{_NUMBER}月(?:份)?{_NUMBER}[日号]?(?![\d个])")
_NEXT_MONTH_DAY = re.compile(rf"(下个?月|这个?月|本月|下下个?月){_NUMBER}[号日]")
_WEEKDAY = re.compile(r"(?<!每)(下下|下|这|本|上)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])")
_RELATIVE_DAY = re.compile(r"大后天|后天|明天|明儿|今天|今儿|大前天|前天|昨天")
_DAY_ONLY = re.compile(rf"(?<![月\d]){_NUMBER}号")
_RELATIVE_OFFSETS = {"大后天": 3, "后天": 2, "明天": 1, "明儿": 1, "今天": 0, "今儿": 0,
                     "昨天": -1, "前天": -2, "大前天": -3}  # fmt: skip
# Occasions that come back every year: a date without a year is their next one.
YEARLY = ("生日", "纪念日", "周年", "结婚")


@dataclass(frozen=True)
class FoundDate:
    when: date
    start: int
    end: int
    with_year: bool = False

    def text(self) -> str:
        year = f"{self.when.year}年" if self.with_year else ""
        return f"{year}{self.when.month}月{self.when.day}日"


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _NUMERALS[text[1]]
    if text.endswith("十"):
        return _NUMERALS[text[0]] * 10
    if "十" in text:
        tens, ones = text.split("十")
        return _NUMERALS[tens] * 10 + _NUMERALS[ones]
    return _NUMERALS[text]


def _month_add(today: date, months: int, day: int) -> date | None:
    month = today.month - 1 + months
    try:
        return date(today.year + month // 12, month % 12 + 1, day)
    except ValueError:
        return None


def find_date(text: str, today: date) -> FoundDate | None:
    """The first date ``text`` names, resolved against ``today``; None if none."""
    yearly = any(word in text for word in YEARLY)
    if match := _NEXT_MONTH_DAY.search(text):
        months = {"下": 1, "这": 0, "本": 0}.get(match.group(1)[0], 2)
        if match.group(1).startswith("下下"):
            months = 2
        when = _month_add(today, months, _number(match.group(2)))
        return FoundDate(when, match.start(), match.end()) if when else None
    if match := _ABSOLUTE.search(text):
        month, day = _number(match.group(2)), _number(match.group(3))
        year = int(match.group(1)) if match.group(1) else today.year
        try:
            when = date(year, month, day)
        except ValueError:
            return None
        if not match.group(1) and yearly and when < today:
            when = when.replace(year=when.year + 1)
        return FoundDate(when, match.start(), match.end(), bool(match.group(1)))
    if match := _WEEKDAY.search(text):
        prefix, day_word = match.group(1) or "", match.group(2)
        weeks = {"下下": 2, "下": 1, "上": -1}.get(prefix, 0)
        monday = today - timedelta(days=today.weekday())
        when = monday + timedelta(weeks=weeks, days=_WEEKDAYS[day_word])
        if prefix in ("", "这", "本") and when < today:
            when += timedelta(weeks=1)
        return FoundDate(when, match.start(), match.end())
    if match := _RELATIVE_DAY.search(text):
        when = today + timedelta(days=_RELATIVE_OFFSETS[match.group(0)])
        return FoundDate(when, match.start(), match.end())
    # A bare 3号 is a date only beside an occasion: 戒圈12号 is a size.
    if yearly and (match := _DAY_ONLY.search(text)):
        day = _number(match.group(1))
        when = _month_add(today, 0, day)
        if when is not None and when < today:
            when = _month_add(today, 1, day)
        return FoundDate(when, match.start(), match.end()) if when else None
    return None


def resolve_dates(text: str, today: date) -> tuple[str, date | None]:
    """``text`` with its first date written as 12月3日, and that date."""
    found = find_date(text, today)
    if found is None:
        return text, None
    return text[: found.start] + found.text() + text[found.end :], found.when
