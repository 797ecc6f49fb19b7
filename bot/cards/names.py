"""Where a message names a client: found from the card store's own names.

A client imported this morning is not in the NLU model, so the model's
``client_name`` spans are only one source. The others come from the message
itself, each checked against indexed columns, never by scanning the table:

- every CJK run's 2–4 character substrings, looked up in ``clients.name`` and in
  the alias keys (one ``IN`` query each: a 40-character message asks ~100 keys);
- surname + honorific forms (王先生, 欧阳先森, 陈太), resolved through the
  ``surname`` index;
- Latin words (Linda, David) as alias keys, and a Latin word touching a surname
  (Amy孙, Kevin王) as that alias narrowed to that surname;
- WeCom external user ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import jieba

from bot.nlu.vocabulary import load_vocabulary
from bot.paths import project_root

EXTERNAL_ID = re.compile(r"\bw[mo][A-Za-z0-9_-]{8,}\b")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'.-]*[A-Za-z]|[A-Za-z]")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
LONGEST_NAME = 4
# SQLite accepts 999 bound parameters in older builds; stay well below.
IN_CHUNK = 400

# Surnames that are also everyday function words (查一下David, Amy和Linda): a Latin
# name touching one of these is not read as Amy孙-style "alias + surname".
NOT_SURNAME_NEXT_TO_LATIN = set("查和向于与同跟把将叫问找请帮给说是对")
# Capitalised Latin words that are not people (besides the product words of the vocabulary).
NOT_NAMES = set(
    [
        "ok",
        "hi",
        "hello",
        "bye",
        "vip",
        "svip",
        "vvip",
        "app",
        "id",
        "ps",
        "wifi",
        "pdf",
        "ppt",
        "ai",
        "logo",
        "ins",
        "plus",
        "pro",
        "max",
        "mini",
        "new",
        "sale",
        "thanks",
        "sorry",
        "yes",
        "no",
        "hhh",
        "yyds",
        "emmm",
        "omg",
        "wow",
        "nice",
        "good",
        "cool",
    ]
)

NAME = "name"
ALIAS = "alias"
HONORIFIC = "honorific"
EXTERNAL = "external_id"
NLU = "nlu"


@dataclass(frozen=True)
class Mention:
    """A span of the message that names a client, and how it names them."""

    text: str
    start: int
    kind: str
    # Alias key (lower-case) for ALIAS; the surname for HONORIFIC and Amy孙 forms.
    key: str = ""
    surname: str = ""
    honorific: str = ""

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def overlaps(self, other: Mention) -> bool:
        return self.start < other.end and other.start < self.end


def alias_key(alias: str) -> str:
    """How aliases are compared: case, spaces and dots do not matter (Mr. Chen = mrchen)."""
    return re.sub(r"[\s.'-]", "", alias).lower()


def cjk_substrings(text: str) -> list[str]:
    """Every 2–4 character substring of the message's CJK runs, once each."""
    seen: dict[str, None] = {}
    for run in CJK_RUN.finditer(text):
        word = run.group(0)
        for size in range(2, LONGEST_NAME + 1):
            for i in range(len(word) - size + 1):
                seen.setdefault(word[i : i + size], None)
    return list(seen)


def latin_words(text: str) -> list[re.Match[str]]:
    return list(LATIN_WORD.finditer(text))


def latin_name_spans(
    text: str, surnames: Sequence[str], products: set[str]
) -> list[tuple[int, int]]:
    """Latin words that name a person, known or not: Linda, Kevin王, 孙Amy.

    A capitalised word that is not a brand or product (LV, Rolex) or a chat
    word (OK, yyds); with a surname touching it, the span includes the surname.
    """
    found = []
    for word in latin_words(text):
        token = word.group(0)
        if token.lower() in NOT_NAMES or token.lower() in products or len(token) < 2:
            continue
        start, end = word.start(), word.end()
        after = next((s for s in surnames if text.startswith(s, end)), "")
        before = next((s for s in surnames if text[:start].endswith(s)), "")
        if after and after not in NOT_SURNAME_NEXT_TO_LATIN:
            found.append((start, end + len(after)))
        elif before and before not in NOT_SURNAME_NEXT_TO_LATIN:
            found.append((start - len(before), end))
        elif token[0].isupper() and not token.isupper():
            found.append((start, end))
    return found


# After a name at the start of a note or request, one of these usually follows.
_AFTER_NAME = re.compile(
    r"$|[\s,，。!！?？~～:：]|的|喜欢|爱|不|对|说|讲|要|想|生日|是|今天|明天|最近|现在|一般|平时|每次|"
    r"只|也|还|有|觉得|过敏|英文|小名|来|到|在|改|换|吃|喝|坐|穿|戴|用"
)
_LEAD_VERB = re.compile(
    r"^(?:请|麻烦)?(?:你)?(?:帮我|帮忙|给我)?(?:查一下|查下|查查|查|搜一下|搜|看一下|看下|看看|调一下|调出|"
    r"调|找一下|找|翻一下|翻|开始接待|接待一下|接待|新建|给)?[\s:：,，]*"
)


COMMON_WORD_FREQ = 500


@cache
def ordinary_words() -> frozenset[str]:
    """Words that are not names though they may start with a surname (白茶, 金色, 黄金):
    jieba's dictionary words not tagged as person names, the project's domain
    dictionary (data/dict/) and every word of the vocabulary."""
    words = set()
    with jieba.get_dict_file() as handle:
        for raw in handle:
            word, freq, *tag = raw.decode("utf-8").split()
            # jieba tags some everyday words as names (安静 1199 nr); real people
            # in its dictionary are rare words (刘德华 37).
            is_name = bool(tag) and tag[0].startswith("nr") and int(freq) < COMMON_WORD_FREQ
            if 2 <= len(word) <= 4 and not is_name:
                words.add(word)
    for path in sorted((project_root() / "data" / "dict").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                words.add(line.split()[0])
    vocabulary = load_vocabulary()
    for _, group in (*vocabulary.categories, *vocabulary.products, *vocabulary.topics):
        words.update(group)
    return frozenset(words)


def leading_name(text: str, surnames: Sequence[str]) -> str | None:
    """A stranger's name opening a request (查一下张伟, 张伟喜欢喝拿铁): a surname and
    one or two more characters, not an ordinary word, followed by what follows names."""
    rest = _LEAD_VERB.sub("", text.strip(), count=1)
    for surname in surnames:
        if not rest.startswith(surname):
            continue
        for size in (2, 1):
            name = rest[: len(surname) + size]
            if len(name) != len(surname) + size or not CJK_RUN.fullmatch(name):
                continue
            if name in ordinary_words() or rest[len(surname) : len(name)] in ("先生", "女士"):
                continue
            if _AFTER_NAME.match(rest[len(name) :]):
                return name
        return None
    return None


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), IN_CHUNK):
        yield items[i : i + IN_CHUNK]


def keep_longest(mentions: Iterable[Mention]) -> list[Mention]:
    """Non-overlapping mentions, longer spans first, in message order."""
    kept: list[Mention] = []
    for mention in sorted(mentions, key=lambda m: (-len(m.text), m.start)):
        if not any(mention.overlaps(other) for other in kept):
            kept.append(mention)
    return sorted(kept, key=lambda m: m.start)
