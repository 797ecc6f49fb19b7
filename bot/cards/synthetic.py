"""Synthetic client cards at brand scale, for benchmarks and load tests.

A national brand's client list is not 王一 … 王一百万: 王, 李 and 张 alone are a
fifth of it, 王伟 and 张敏 repeat across stores, hundreds of 赵先生 share a
store, and a few clients are 欧阳 or 司马. The generator follows the surname
frequencies of the vocabulary's surname list (kept in frequency order), gives
about three preferences per card, unique phone numbers and external ids, an
English name to about one card in twenty, and spreads cards over forty stores
and their advisors. The same seed gives the same cards.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from bot.nlu.vocabulary import load_vocabulary
from bot.paths import project_root

HEADER = (
    "client_id",
    "name",
    "honorific",
    "gender",
    "phone",
    "wecom_external_userid",
    "tier",
    "home_store",
    "advisor",
    "preferences",
    "aliases",
)

# Shares (per thousand people) of the most common surnames; the rest of the
# vocabulary's single surnames follow with a decaying share, compound ones are rare.
TOP_SURNAMES = {
    "王": 71.5, "李": 70.0, "张": 67.5, "刘": 53.5, "陈": 45.5, "杨": 31.0, "黄": 22.5,
    "赵": 20.0, "吴": 19.7, "周": 19.5, "徐": 13.5, "孙": 13.0, "马": 12.0, "朱": 11.5,
    "胡": 11.5, "郭": 10.5, "何": 10.0, "高": 9.5, "林": 9.5, "罗": 9.0, "郑": 8.0,
    "梁": 7.5, "谢": 6.5, "宋": 6.0, "唐": 6.0,
}  # fmt: skip
COMPOUND_SHARE = {"欧阳": 0.4}  # others: 0.03
MALE_GIVEN = (
    "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙"
    "建国志文博晨昊轩睿哲泽瑞嘉子一思远海峰毅诚"
)
FEMALE_GIVEN = (
    "芳娜敏静丽艳娟霞秀玲英萍燕红梅琳雪倩婷颖慧莉琴云洁佳欣怡悦涵诗雨萱妍彤琪晴瑶薇璐蕾菲曼"
)
HONORIFICS = {
    "男": {"先生": 70, "总": 15, "老师": 5, "医生": 2, "律师": 2, "哥": 2, "博士": 1, "教授": 1},
    "女": {"女士": 55, "小姐": 15, "太太": 10, "总": 6, "老师": 6, "姐": 5, "医生": 1, "阿姨": 1},
}
TIERS = {"钻石": 5, "白金": 12, "金卡": 28, "银卡": 30, "普通": 25}
STORES = (
    "上海恒隆店", "北京SKP店", "深圳万象城店", "成都太古里店", "杭州大厦店", "广州太古汇店",
    "南京德基店", "上海国金中心店", "北京国贸店", "武汉国际广场店", "西安SKP店", "重庆来福士店",
    "天津海信店", "苏州中心店", "长沙IFS店", "沈阳万象城店", "青岛海信店", "厦门万象城店",
    "郑州大卫城店", "宁波阪急店", "昆明恒隆店", "大连恒隆店", "济南恒隆店", "无锡恒隆店",
    "合肥银泰店", "福州东百店", "南宁万象城店", "哈尔滨卓展店", "上海港汇店", "深圳湾万象城店",
    "广州天环店", "成都IFS店", "杭州湖滨银泰店", "北京王府中環店", "上海前滩太古里店",
    "三亚国际免税城店", "海口日月广场店", "澳门威尼斯人店", "香港海港城店", "洛杉矶比佛利店",
)  # fmt: skip
ADVISORS_PER_STORE = 8
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
PREFERENCE_COUNTS = {1: 10, 2: 22, 3: 36, 4: 22, 5: 10}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# How often a card has a category, and the values it takes; {low-high} in a value
# is a number in that range.
PREFERENCE_WEIGHTS = {"饮品": 30, "座位": 14, "忌口": 12, "过敏": 6, "尺码": 12, "重要日期": 10,
                      "颜色": 8, "风格": 8, "口味": 5, "沟通方式": 8, "习惯": 7}  # fmt: skip
PREFERENCE_VALUES = {
    "饮品": _words(
        "普洱要泡浓一点 热美式不加糖 冰美式少冰 燕麦拿铁 澳白 龙井水温别太高 白茶 "
        "气泡水加柠檬片 温水 铁观音 单枞 香槟 红茶加奶 苏打水 椰子水 大红袍 卡布奇诺 "
        "手冲咖啡要偏酸的豆子 鲜榨橙汁 柠檬水"
    ),
    "座位": _words("靠窗 包间 安静的角落 沙发位 吧台 离门口远一点 露台 靠里的卡座"),
    "忌口": _words("不吃香菜 不吃辣 吃素 不吃牛肉 不吃葱姜蒜 不喝酒 戒糖 清真 不吃生冷 不吃内脏"),
    "过敏": _words("花粉过敏 对坚果过敏 海鲜过敏 乳糖不耐受 镍过敏 对芒果过敏 酒精过敏 敏感肌"),
    "尺码": _words("戒圈{10-18}号 腕围{14-19}厘米 鞋码{35-44} 表带要短一格 手寸{9-16}号"),
    "重要日期": _words(
        "生日{1-12}月{1-28}日 结婚纪念日{1-12}月{1-28}日 太太生日{1-12}月{1-28}日 "
        "孩子生日{1-12}月{1-28}日"
    ),
    "颜色": _words("偏爱玫瑰金 喜欢黑色 不要粉色 莫兰迪色系 香槟金 藏青 大地色 酒红"),
    "风格": _words("简约 商务低调 复古 设计感强一点 经典款 小众设计 优雅 中性风"),
    "口味": _words("偏甜 清淡少油 能吃辣 怕辣 牛排七分熟 少盐"),
    "沟通方式": _words(
        "只发微信 工作日别打电话 下午三点后再联系 先发短信再打电话 企微留言就行 周末别打扰"
    ),
    "习惯": _words(
        "每次来都带太太 喜欢先看新款 一般周末下午来 不喜欢被跟着介绍 习惯刷卡 总是提前预约"
    ),
}
ENGLISH_NAMES = (
    "David", "Linda", "Kevin", "Amy", "Jason", "Cindy", "Tony", "Grace", "Eric", "Vivian",
    "Jack", "Coco", "Michael", "Sophia", "Leo", "Emma", "Ryan", "Iris", "Frank", "Helen",
    "Peter", "Nancy", "Alex", "Lily", "Sam", "Judy", "Vincent", "Angela", "Steven", "Fiona",
)  # fmt: skip
ALIAS_SHARE = 0.05
EXTERNAL_SHARE = 0.6
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def surname_weights() -> dict[str, float]:
    """Every vocabulary surname with its share: the top ones as measured, the rest
    decaying with rank (the vocabulary lists single surnames by frequency)."""
    weights: dict[str, float] = {}
    tail = 5.5
    for surname in load_vocabulary().surnames:
        if len(surname) > 1:
            weights[surname] = COMPOUND_SHARE.get(surname, 0.03)
        elif surname in TOP_SURNAMES:
            weights[surname] = TOP_SURNAMES[surname]
        else:
            weights[surname] = tail
            tail = max(tail * 0.985, 0.2)
    return weights


def store_advisors() -> dict[str, list[str]]:
    """Advisor ids for each store: the demo advisors of data/demo/ where they work,
    then made-up ids (A100 …) up to eight per store."""
    advisors: dict[str, list[str]] = {store: [] for store in STORES}
    with (project_root() / "data" / "demo" / "advisors.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["store"] in advisors:
                advisors[row["store"]].append(row["advisor_id"])
    for index, store in enumerate(STORES):
        number = 100 + index * 10
        while len(advisors[store]) < ADVISORS_PER_STORE:
            advisors[store].append(f"A{number}")
            number += 1
    return advisors


def _picker(weights: dict[str, float] | dict[str, int]) -> tuple[list[str], list[float]]:
    return list(weights), list(accumulate(weights.values()))


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def cards(count: int, seed: int = 0, prefix: str = "S") -> Iterator[tuple[str, ...]]:
    """``count`` rows in HEADER's order, the same for the same seed."""
    rng = random.Random(seed)
    surnames, surname_cum = _picker(surname_weights())
    honorifics = {gender: _picker(weights) for gender, weights in HONORIFICS.items()}
    tiers, tier_cum = _picker(TIERS)
    stores, store_cum = _picker({s: 1 / (rank + 1) ** 0.8 for rank, s in enumerate(STORES)})
    advisors = store_advisors()
    sizes, size_cum = _picker({str(k): v for k, v in PREFERENCE_COUNTS.items()})
    categories, category_cum = _picker(PREFERENCE_WEIGHTS)
    # A bijection of the card number onto 8-digit phone suffixes: unique phones.
    if count > 10**8:
        raise ValueError("at most 100,000,000 synthetic cards")
    step, offset = rng.randrange(1, 10**8, 2), rng.randrange(10**8)
    if step % 5 == 0:
        step += 2
    for index in range(count):
        gender = "男" if rng.random() < 0.48 else "女"
        given = MALE_GIVEN if gender == "男" else FEMALE_GIVEN
        surname = rng.choices(surnames, cum_weights=surname_cum)[0]
        name = surname + "".join(rng.choice(given) for _ in range(1 if rng.random() < 0.35 else 2))
        honorific = rng.choices(*honorifics[gender])[0] if rng.random() < 0.97 else ""
        mobile = MOBILE_PREFIXES[index % len(MOBILE_PREFIXES)]
        phone = f"{mobile}{(index * step + offset) % 10**8:08d}"
        external = ""
        if rng.random() < EXTERNAL_SHARE:
            external = "wm" + _base62(rng.getrandbits(60), 10) + _base62(index, 6)
        store = rng.choices(stores, cum_weights=store_cum)[0]
        chosen: list[str] = []
        wanted = int(rng.choices(sizes, cum_weights=size_cum)[0])
        while len(chosen) < wanted:
            category = rng.choices(categories, cum_weights=category_cum)[0]
            if category not in chosen:
                chosen.append(category)
        preferences = ";".join(
            f"{c}:{_fill(rng.choice(PREFERENCE_VALUES[c]), rng)}" for c in chosen
        )
        aliases = ""
        if rng.random() < ALIAS_SHARE:
            aliases = rng.choice(ENGLISH_NAMES)
            if rng.random() < 0.1:
                aliases += ";" + rng.choice(ENGLISH_NAMES)
        yield (
            f"{prefix}{index + 1:07d}",
            name,
            honorific,
            gender,
            phone,
            external,
            rng.choices(tiers, cum_weights=tier_cum)[0],
            store,
            rng.choice(advisors[store]),
            preferences,
            aliases,
        )


def _fill(template: str, rng: random.Random) -> str:
    """``戒圈{10-18}号`` → 戒圈13号."""
    while "{" in template:
        start, end = template.index("{"), template.index("}")
        low, high = (int(x) for x in template[start + 1 : end].split("-"))
        template = f"{template[:start]}{rng.randint(low, high)}{template[end + 1 :]}"
    return template


def write_csv(
    handle: TextIO, count: int, seed: int = 0, prefix: str = "S", progress: bool = False
) -> None:
    """``count`` synthetic cards as a UTF-8 CSV the importer reads."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(HEADER)
    rows = cards(count, seed, prefix)
    writer.writerows(tqdm(rows, total=count, unit="row", unit_scale=True, disable=not progress))


def write_file(path: Path, count: int, seed: int = 0, progress: bool = False) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv(handle, count, seed, progress=progress)
