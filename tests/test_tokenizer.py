"""The jieba tokenizer drops whitespace, keeps domain words whole and names whole;
the name finder marks names by their shape and leaves ordinary words alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import entity_ruler
from bot.nlu.components import CleanJiebaTokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> CleanJiebaTokenizer:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    config = CleanJiebaTokenizer.get_default_config()
    context = ExecutionContext(GraphSchema({}), "test")
    return CleanJiebaTokenizer.create(config, storage, Resource("tokenizer"), context)


@pytest.fixture(scope="module")
def lexicon(tokenizer: CleanJiebaTokenizer) -> entity_ruler.NameLexicon:
    assert tokenizer._lexicon is not None
    return tokenizer._lexicon


def tokens(tokenizer: CleanJiebaTokenizer, text: str) -> list[str]:
    return [t.text for t in tokenizer.tokenize(Message(data={TEXT: text}), TEXT)]


def names(lexicon: entity_ruler.NameLexicon, text: str) -> list[str]:
    return [text[s:e] for s, e in entity_ruler.find_names(lexicon, text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看 LV 的包", ["看", "LV", "的", "包"]),
        ("  查一下   王先生 ", ["查", "一下", "王先生"]),
        ("李总来了 他有啥喜好", ["李总", "来", "了", "他", "有", "啥", "喜好"]),
    ],
)
def test_no_whitespace_tokens(
    tokenizer: CleanJiebaTokenizer, text: str, expected: list[str]
) -> None:
    assert tokens(tokenizer, text) == expected


def test_domain_words_stay_whole(tokenizer: CleanJiebaTokenizer) -> None:
    words = tokens(tokenizer, "她想要玫瑰金的陀飞轮，戒圈11号，靠窗坐")
    assert {"玫瑰金", "陀飞轮", "戒圈", "靠窗"} <= set(words)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Amy孙说想看表", "Amy孙"),  # jieba alone: Amy / 孙说
        ("陈太说她不吃辣", "陈太"),  # jieba alone: 陈太说
        ("帮我查下李小jie的卡", "李小jie"),
        ("Mr. Chen到了", "Mr. Chen"),
    ],
)
def test_names_are_whole_tokens(tokenizer: CleanJiebaTokenizer, text: str, name: str) -> None:
    assert name in tokens(tokenizer, text)


def test_offsets_point_into_the_text(tokenizer: CleanJiebaTokenizer) -> None:
    for text in ("看 LV 的包", "Amy孙说 Mr. Chen 到了"):
        for token in tokenizer.tokenize(Message(data={TEXT: text}), TEXT):
            assert text[token.start : token.end] == token.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("帮我查一下王先生", ["王先生"]),
        ("欧阳总到了", ["欧阳总"]),
        ("王先森说他不吃蒜", ["王先森"]),  # the vocabulary's variants
        ("张女仕对花粉过敏", ["张女仕"]),
        ("黄老湿喜欢喝普洱", ["黄老湿"]),  # a confusable swapped into 老师
        ("高先sheng到了", ["高先sheng"]),
        ("陈生今日嚟咗", ["陈生"]),  # Cantonese 陈先生
        ("司徒小姐要包间", ["司徒小姐"]),  # a compound surname from data/dict/names.yml
        ("Kevin王和Linda都对坚果过敏", ["Kevin王", "Linda"]),
        ("查一下linda", ["linda"]),
        ("Sandy姐来了", ["Sandy姐"]),
        ("阿May姐到了", ["阿May姐"]),
        ("张Sir到了", ["张Sir"]),
        ("Mr.周的卡调一下", ["Mr.周"]),
        ("公孙慧承认有点贵", ["公孙慧"]),  # a compound surname opens a full name
        ("诸葛总发微信来了", ["诸葛总"]),
        ("Tony陈说他要出差", ["Tony陈"]),  # 陈说 is a rare word
        ("Linda明天来", ["Linda"]),  # 明天 is a common one
    ],
)
def test_names_by_shape(lexicon: entity_ruler.NameLexicon, text: str, expected: list[str]) -> None:
    assert names(lexicon, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "他说他的钱包太厚",  # 包 ends 钱包
        "退休前是语文老师",  # 文 ends 语文
        "她抱怨现在的包太沉",  # 太 starts 太沉
        "他嫌那台车太吵",  # 车 is a surname, 太吵 "too noisy"
        "店里关太早了她没赶上",
        "他玩古董表十几年了",  # inside 古董表
        "王生日是哪天",  # 生 before 日
        "开会时老被袖口卡住",  # 老 is "always" here
        "您和太太拍照一定好看",  # 和 is a conjunction mid-sentence
        "她想看 LV 和 Hermes 的包",  # brands
        "周末方便的话金色那款给她看看",
        "这瓶La Mer的面霜",  # the second word of a brand
        "VIP客户都有",
        "他英文名叫Eric",  # an alias being written down
        "mark一下",
        "往东方走两步就到",  # 东方 is a word before it is a surname
        "护理完颜色变深了",  # 颜色, not 完颜
    ],
)
def test_ordinary_words_are_no_names(lexicon: entity_ruler.NameLexicon, text: str) -> None:
    assert names(lexicon, text) == []


def test_merge_prefers_rules_and_drops_pronouns(lexicon: entity_ruler.NameLexicon) -> None:
    text = "王总和张伟说她要包间"
    rules = [(0, 2)]
    model = [(0, 3), (3, 5), (6, 7)]  # 王总和 overlaps 王总; 她 is a pronoun
    assert entity_ruler.merge_names(lexicon, rules, model, text) == [(0, 2), (3, 5)]


def test_merge_completes_a_surname_the_model_marked_alone(
    lexicon: entity_ruler.NameLexicon,
) -> None:
    assert entity_ruler.merge_names(lexicon, [], [(0, 1)], "章伟说他要来") == [(0, 2)]
    assert entity_ruler.merge_names(lexicon, [], [(0, 2), (2, 4)], "欧阳若曦到了") == [(0, 4)]


def test_lexicon_round_trips_through_the_model(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("tok")
    context = ExecutionContext(GraphSchema({}), "test")
    config = CleanJiebaTokenizer.get_default_config()
    component = CleanJiebaTokenizer.create(config, storage, resource, context)
    component.persist()
    with storage.read_from(resource) as folder:
        files = {p.name for p in Path(folder).iterdir()}
    assert {"service.txt", entity_ruler.LEXICON_FILE} <= files
    loaded = CleanJiebaTokenizer.load(config, storage, resource, context)
    assert loaded._lexicon == component._lexicon
