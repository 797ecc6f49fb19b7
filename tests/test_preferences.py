"""The rule-based preference parser, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from bot.nlu.preferences import allergen, fact_values, parse_alias, parse_preference
from bot.nlu.vocabulary import load_vocabulary

TODAY = date(2026, 11, 29)


def spans(text: str, mention: str | None) -> list[tuple[int, int]]:
    if not mention:
        return []
    start = text.find(mention)
    return [(start, start + len(mention))]


CASES = [
    ("记一下,王建国不吃蒜", "王建国", "忌口", "不吃蒜"),
    ("张女士酸梅汤要冰的大杯", "张女士", "饮品", "酸梅汤要冰的大杯"),
    ("备注: 陈先生喜欢靠窗", "陈先生", "座位", "喜欢靠窗"),
    ("李太太对坚果过敏记下来", "李太太", "过敏", "坚果过敏"),
    ("周小姐戒圈11号", "周小姐", "尺码", "戒圈11号"),
    ("帮我记一下 王先生 香槟金的表盘 👍", "王先生", "颜色", "香槟金的表盘"),
    ("给刘女士记一下：生日是3月5号", "刘女士", "重要日期", "生日是3月5日"),
    # voice input, relays, trailing commands, change words: only the fact is kept
    ("那个刚进来的孙总他说今天想坐包间记一下", "孙总", "座位", "11月29日想坐包间"),
    ("钱女士说她对芒果也过敏 帮我记到卡上", "钱女士", "过敏", "芒果过敏"),
    ("记一下 他喜欢喝单枞", None, "饮品", "喜欢喝单枞"),
    ("他现在能吃辣了 更新下", None, "口味", "能吃辣"),
    ("改喝热美式了哈哈😂", None, "饮品", "喝热美式"),
    ("她最近换了戒圈 现在是11号 记一下", None, "尺码", "戒圈 现在是11号"),
    ("王建国生日是下个月3号", "王建国", "重要日期", "生日是12月3日"),
    ("记一下 她不喝冰的", None, "饮品", "不喝冰的"),
    ("记录一下何女士只接受微信联系 别打电话", "何女士", "沟通方式", "只接受微信联系 别打电话"),
    ("记下 韩小姐每次来都先逛二楼", "韩小姐", "习惯", "每次来都先逛二楼"),
    ("徐老师下下周六要带学生来聚餐 记一下日子", "徐老师", "习惯", "12月12日要带学生来聚餐"),
]


@pytest.mark.parametrize(("text", "mention", "category", "value"), CASES)
def test_parses_category_and_value(
    text: str, mention: str | None, category: str, value: str
) -> None:
    parsed = parse_preference(text, spans(text, mention), load_vocabulary(), TODAY)
    assert parsed is not None
    assert (parsed.category, parsed.value) == (category, value)


RUN_ONS = [
    # facts of different kinds: one value each, the context before them dropped
    ("宋总今天带了俩朋友来 坐大包间 他说想喝点白葡萄酒 帮我记上", "宋总",
     ["坐大包间", "想喝点白葡萄酒"]),
    ("记一下王总不吃辣，喜欢坐靠窗还有生日是下个月3号", "王总",
     ["不吃辣", "喜欢坐靠窗", "生日是下个月3号"]),
    # one kind of fact, or a clause with no cue of its own: one value as said
    ("她最近换了戒圈 现在是11号 记一下", None, ["最近换了戒圈 现在是11号"]),
    ("记录一下何女士只接受微信联系 别打电话", "何女士", ["只接受微信联系 别打电话"]),
    ("钱女士说她对芒果也过敏 帮我记到卡上", "钱女士", ["芒果也过敏"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "mention", "values"), RUN_ONS)
def test_run_on_facts(text: str, mention: str | None, values: list[str]) -> None:
    found = fact_values(text, spans(text, mention), load_vocabulary())
    assert [value for _, value in found] == values


def test_change_words_are_kept_beside_the_value() -> None:
    vocabulary = load_vocabulary()
    changed = parse_preference("现在能吃辣了", [], vocabulary, TODAY)
    also = parse_preference("她也喜欢拿铁", [], vocabulary, TODAY)
    gone = parse_preference("现在不对坚果过敏了", [], vocabulary, TODAY)
    dated = parse_preference("生日是下个月3号", [], vocabulary, TODAY)
    assert changed is not None and changed.change and not changed.addition
    assert also is not None and also.addition and not also.change
    assert gone is not None and gone.retire and gone.category == "过敏"
    assert dated is not None and dated.when == date(2026, 12, 3)


def test_allergen_and_alias() -> None:
    assert (
        allergen("坚果过敏") == allergen("对坚果过敏") == allergen("现在不对坚果过敏了") == "坚果"
    )
    david = parse_alias("记一下王建国英文名叫David")
    assert david is not None and (david.alias, david.kind) == ("David", "alias")
    nickname = parse_alias("她小名叫豆豆 记一下")
    assert nickname is not None and (nickname.alias, nickname.kind) == ("豆豆", "nickname")
    assert parse_alias("记一下王建国不吃蒜") is None


@pytest.mark.parametrize("text", ["记一下王建国", "记一下", "备注：王先生 哈"])
def test_nothing_to_record(text: str) -> None:
    mention = "王建国" if "王建国" in text else ("王先生" if "王先生" in text else None)
    assert parse_preference(text, spans(text, mention), load_vocabulary(), TODAY) is None


def test_longest_cue_wins_over_priority() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.category_of("香槟金表盘") == "颜色"
    assert vocabulary.category_of("不喝酒") == "忌口"
    assert vocabulary.category_of("海鲜过敏") == "过敏"
