"""Relative dates in notes are resolved to calendar dates (Asia/Shanghai), table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from bot.nlu.dates import resolve_dates

SUNDAY = date(2026, 11, 29)

CASES = [
    ("生日是下个月3号", "生日是12月3日", date(2026, 12, 3)),
    ("后天来取表", "12月1日来取表", date(2026, 12, 1)),
    ("大后天到店", "12月2日到店", date(2026, 12, 2)),
    ("这周六要来", "12月5日要来", date(2026, 12, 5)),
    ("下周三生日宴", "12月2日生日宴", date(2026, 12, 2)),
    ("生日6月8日", "生日6月8日", date(2027, 6, 8)),  # a yearly date: its next one
    ("生日是十二月五号", "生日是12月5日", date(2026, 12, 5)),
    ("她3号过生日", "她12月3日过生日", date(2026, 12, 3)),
    ("2027年1月2日结婚", "2027年1月2日结婚", date(2027, 1, 2)),
]


@pytest.mark.parametrize(("text", "written", "when"), CASES)
def test_dates_are_resolved(text: str, written: str, when: date) -> None:
    assert resolve_dates(text, SUNDAY) == (written, when)


@pytest.mark.parametrize("text", ["戒圈12号", "每周六来", "喜欢喝美式", "鞋码43"])
def test_sizes_and_habits_are_not_dates(text: str) -> None:
    assert resolve_dates(text, SUNDAY) == (text, None)


def test_month_end_that_does_not_exist_is_not_invented() -> None:
    assert resolve_dates("下个月31号", date(2026, 10, 15)) == ("下个月31号", None)
