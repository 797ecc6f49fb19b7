"""The rule-based preference parser, table-driven."""

from __future__ import annotations

import pytest

from bot.nlu.preferences import parse_preference
from bot.nlu.vocabulary import load_vocabulary

CASES = [
    ("记一下,王建国不吃蒜", "王建国", "忌口", "不吃蒜"),
    ("张女士酸梅汤要冰的大杯", "张女士", "饮品", "酸梅汤要冰的大杯"),
    ("备注: 陈先生喜欢靠窗", "陈先生", "座位", "喜欢靠窗"),
    ("李太太对坚果过敏记下来", "李太太", "过敏", "坚果过敏"),
    ("周小姐戒圈11号", "周小姐", "尺码", "戒圈11号"),
    ("帮我记一下 王先生 香槟金的表盘 👍", "王先生", "颜色", "香槟金的表盘"),
    ("给刘女士记一下：生日是3月5号", "刘女士", "重要日期", "生日是3月5号"),
    ("记一下 她不喝冰的", None, "饮品", "不喝冰的"),
    ("记录一下何女士只接受微信联系 别打电话", "何女士", "沟通方式", "只接受微信联系 别打电话"),
    ("记下 韩小姐每次来都先逛二楼", "韩小姐", "习惯", "每次来都先逛二楼"),
]


@pytest.mark.parametrize(("text", "mention", "category", "value"), CASES)
def test_parses_category_and_value(
    text: str, mention: str | None, category: str, value: str
) -> None:
    parsed = parse_preference(text, mention, load_vocabulary())
    assert parsed is not None
    assert (parsed.category, parsed.value) == (category, value)


@pytest.mark.parametrize("text", ["记一下王建国", "记一下", "备注：王先生 哈"])
def test_nothing_to_record(text: str) -> None:
    mention = "王建国" if "王建国" in text else ("王先生" if "王先生" in text else None)
    assert parse_preference(text, mention, load_vocabulary()) is None


def test_longest_cue_wins_over_priority() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.category_of("香槟金表盘") == "颜色"
    assert vocabulary.category_of("不喝酒") == "忌口"
    assert vocabulary.category_of("海鲜过敏") == "过敏"
