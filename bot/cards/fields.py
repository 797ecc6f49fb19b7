"""One row of a client file, checked and brought to the card's own form.

Store exports write the same thing many ways: 赵先生 in the 称呼 column, M or
male for 男, +86 139-1234-0001 for a mobile number. Each is accepted and stored
one way; anything that cannot be read is a problem naming its column and why,
and every problem of the row is reported, not only the first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from operator import gt, itemgetter
from typing import NamedTuple

from bot.cards.exports import Header
from bot.cards.models import Client, ClientAlias, Preference
from bot.cards.names import alias_key
from bot.nlu.dates import find_date
from bot.nlu.vocabulary import Vocabulary

# The card columns an import writes, in the order rows carry them. ``surname``
# is derived from the name; the others come from the file's columns.
CLIENT_FIELDS = (
    "name",
    "honorific",
    "gender",
    "phone",
    "wecom_external_userid",
    "tier",
    "home_store",
    "advisor",
    "surname",
)
FILE_FIELDS = CLIENT_FIELDS[:-1]
DATED_CATEGORY = "重要日期"
CACHED = 200_000

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PHONE = re.compile(r"\+?\d{6,20}")
_PHONE_SEPARATORS = re.compile(r"[\s\-–—().（）·/]")
_EXCEL_NUMBER = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")
_ALIAS_SPLIT = re.compile(r"[;；,，、/|\n]")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[\s\u3000]+(?=[\u4e00-\u9fff])")

GENDERS = {
    "": "",
    "男": "男",
    "女": "女",
    "m": "男",
    "f": "女",
    "male": "男",
    "female": "女",
    "男性": "男",
    "女性": "女",
    # CRM exports write these when nobody asked; they say nothing.
    "未知": "",
    "保密": "",
    "unknown": "",
}
ENGLISH_HONORIFICS = {"mr": "先生", "mrs": "太太", "ms": "女士", "miss": "小姐", "dr": "博士"}


def _limit(table: object, column: str) -> int:
    return int(table.__table__.c[column].type.length)  # type: ignore[attr-defined]


LIMITS = {column: _limit(Client, column) for column in FILE_FIELDS}
VALUE_LIMIT = _limit(Preference, "value")
ALIAS_LIMIT = min(_limit(ClientAlias, "alias"), _limit(ClientAlias, "key"))


@dataclass(frozen=True)
class Issue:
    """A problem with a file: where (line, column as the file names it) and why."""

    line: int
    column: str
    reason: str

    def render(self, unit: str) -> str:
        where = f"{unit} {self.line}" if self.line else "file"
        return (
            f"{where}, {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"
        )


class Card(NamedTuple):
    """A row as the card store keeps it (a tuple: a million of them are made)."""

    line: int
    client_id: str
    values: list[str]  # CLIENT_FIELDS, in order
    preferences: list[tuple[str, str, str]]  # (category, value, ISO date or "")
    aliases: list[tuple[str, str]]  # (alias, alias_key)


def normalise_phone(raw: str) -> str | None:
    """+86 139-1234-0001 → 13912340001; (021) 6288-1234 → 02162881234; None if no number."""
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    text = _PHONE_SEPARATORS.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13 and text[2] == "1":
        text = text[2:]
    return text if _PHONE.fullmatch(text) else None


class RowChecker:
    """Checks rows of one file against its header; keeps what repeats across rows
    (honorific spellings, dates, the surname table) so a million rows stay fast."""

    def __init__(self, header: Header, vocabulary: Vocabulary, today: date, strict: bool) -> None:
        self.width = len(header.columns)
        # Each field's position in the row, -1 when the file has no such column.
        self.positions = {
            column: (header.columns.index(column) if column in header.columns else -1)
            for column in (*FILE_FIELDS, "client_id", "preferences", "aliases")
        }
        self._fields = itemgetter(*(self.positions[column] for column in FILE_FIELDS))
        self._id_at = self.positions["client_id"]
        self._preferences_at = self.positions["preferences"]
        self._aliases_at = self.positions["aliases"]
        self._limits = [LIMITS[column] for column in FILE_FIELDS]
        self.unnamed = [i for i, column in enumerate(header.columns) if column is None]
        self.labels = {column: header.label(column) for column in self.positions}
        self.vocabulary = vocabulary
        self.category_names = vocabulary.category_names
        self.categories = frozenset(vocabulary.category_names)
        self.honorifics = frozenset(vocabulary.honorifics)
        self.today = today
        # A CSV row must have the header's width; a spreadsheet leaves trailing cells out.
        self.strict = strict
        self._surnames = (
            sorted({len(s) for s in vocabulary.surnames if len(s) > 1}, reverse=True),
            frozenset(vocabulary.surnames),
        )
        self._honorific_cache: dict[str, tuple[str, str]] = {}
        # Parsed preference parts (饮品:美式 recurs across thousands of cards).
        self._parts: dict[str, tuple[str, str, str] | tuple[()] | str] = {}

    @property
    def present(self) -> tuple[str, ...]:
        """The card columns this file sets (surname always: it follows the name)."""
        return tuple(c for c in CLIENT_FIELDS if c == "surname" or self.positions[c] >= 0)

    def surname_of(self, name: str) -> str:
        """Vocabulary.surname_of without sorting the surnames for every row."""
        lengths, surnames = self._surnames
        for size in lengths:
            if len(name) > size and name[:size] in surnames:
                return name[:size]
        return name[:1]

    def honorific(self, written: str, name: str) -> tuple[str, str | None]:
        """(honorific, None) or ("", reason): 先生, 先森, Mr → 先生; 赵先生 for 赵明轩 → 先生."""
        if name and len(written) > len(name) and written.startswith(name):
            written = written[len(name) :]  # 赵明轩先生 → 先生
        if written not in self._honorific_cache:
            self._honorific_cache[written] = self._read_honorific(written)
        honorific, surname = self._honorific_cache[written]
        if not honorific and written:
            known = ", ".join(self.vocabulary.honorifics)
            return "", f"unknown honorific '{written}' (known: {known}; 赵先生 works too)"
        if surname and not name.startswith(surname):
            return "", f"honorific '{written}' has the surname {surname}, but the name is {name}"
        return honorific, None

    def _read_honorific(self, written: str) -> tuple[str, str]:
        """(honorific, the surname written with it): 赵先森 → (先生, 赵); ("", "") if unknown."""
        english = ENGLISH_HONORIFICS.get(written.lower().rstrip("."))
        if english:
            return english, ""
        canonical = self.vocabulary.canonical_honorific(written)
        if canonical in self.honorifics:
            return canonical, ""
        split = self.vocabulary.split_honorific(written)
        if split is not None:
            surname, honorific = split
            return honorific, surname
        return "", ""

    def preferences(self, text: str) -> list[tuple[str, str, str]] | str:
        """``饮品:普洱;重要日期：生日3月21日`` → [(饮品, 普洱, ""), (重要日期, 生日3月21日,
        "2027-03-21")], or the reason it cannot be read. The date is the next one the
        value names, as advisors' notes get it; the value keeps the file's words."""
        if "；" in text or "\n" in text:
            text = text.replace("；", ";").replace("\n", ";")
        found: list[tuple[str, str, str]] = []
        parts = self._parts
        for part in text.split(";"):
            parsed = parts.get(part)
            if parsed is None:
                parsed = self._preference(part)
                if len(parts) < CACHED:
                    parts[part] = parsed
            if isinstance(parsed, str):
                return parsed
            if parsed and parsed not in found:
                found.append(parsed)
        return found

    def _preference(self, part: str) -> tuple[str, str, str] | tuple[()] | str:
        """One ``category:value``: (category, value, date), () when blank, or the reason."""
        part = part.strip()
        if not part:
            return ()
        category, colon, value = part.partition(":")
        if not colon or "：" in category:
            category, colon, value = part.partition("：")
        if not colon:
            return f"preference '{part}' is not 'category:value'"
        category, value = category.strip(), value.strip()
        if category not in self.categories:
            known = ", ".join(self.category_names)
            return f"unknown preference category '{category}' (known: {known})"
        if not value:
            return f"preference category '{category}' has no value"
        if len(value) > VALUE_LIMIT:
            return f"preference value for '{category}' is longer than {VALUE_LIMIT} characters"
        when = ""
        if category == DATED_CATEGORY and (found := find_date(value, self.today)):
            when = found.when.isoformat()
        return category, value, when

    def check(self, line: int, cells: list[str]) -> Card | list[Issue]:
        """The row as a card, or every problem it has."""
        if len(cells) != self.width:
            if self.strict or any(c.strip() for c in cells[self.width :]):
                return [Issue(line, "", f"expected {self.width} columns, found {len(cells)}")]
            cells = cells + [""] * (self.width - len(cells))
        # A last empty cell stands for every column the file does not have (position -1).
        cells.append("")
        problems: list[tuple[str, str]] = []
        for i in self.unnamed:
            if cells[i].strip():
                problems.append(("", f"column {i + 1} has a value but no header"))
        # name, honorific, gender, phone, external id, tier, home store, advisor
        values = [value.strip() for value in self._fields(cells)]
        client_id = cells[self._id_at].strip()
        if not _CLIENT_ID.fullmatch(client_id):
            problems.append(
                (
                    "client_id",
                    f"client_id '{client_id}' must be 1-64 letters, digits, '_', '-' or '.'",
                )
            )
        name = values[0]
        if " " in name or "\u3000" in name:
            name = values[0] = _CJK_GAP.sub("", name)
        if not name:
            problems.append(("name", "name is empty"))
        written = values[1]
        if written and written not in self.honorifics:
            values[1], reason = self.honorific(written, name)
            if reason:
                problems.append(("honorific", reason))
        gender = GENDERS.get(values[2]) if values[2] in GENDERS else GENDERS.get(values[2].lower())
        if gender is None:
            problems.append(("gender", f"gender '{values[2]}' must be 男/女, M/F or male/female"))
        values[2] = gender or ""
        phone = values[3]
        if phone and not (phone.isdigit() and 6 <= len(phone) <= 20):
            normal = normalise_phone(phone)
            if normal is None:
                reason = f"phone '{phone}' is not a phone number"
                if _EXCEL_NUMBER.fullmatch(phone):
                    reason += " (Excel wrote it as a number: format the column as text)"
                problems.append(("phone", reason))
            values[3] = normal or ""
        if any(map(gt, map(len, values), self._limits)):
            problems += [
                (column, f"{column} is longer than {limit} characters")
                for column, limit, value in zip(FILE_FIELDS, self._limits, values, strict=True)
                if len(value) > limit
            ]
        preferences: list[tuple[str, str, str]] | str = []
        if text := cells[self._preferences_at].strip():
            preferences = self.preferences(text)
            if isinstance(preferences, str):
                problems.append(("preferences", preferences))
        aliases: dict[str, str] = {}
        if text := cells[self._aliases_at].strip():
            for alias in _ALIAS_SPLIT.split(text):
                alias = alias.strip()
                key = alias_key(alias)
                if alias and (not key or len(alias) > ALIAS_LIMIT or len(key) > ALIAS_LIMIT):
                    problems.append(
                        ("aliases", f"alias '{alias}' must be 1-{ALIAS_LIMIT} characters")
                    )
                if key:
                    aliases.setdefault(key, alias)
        if problems:
            return [
                Issue(line, self.labels[column] if column else "", reason)
                for column, reason in problems
            ]
        values.append(self.surname_of(name))
        return Card(
            line,
            client_id,
            values,
            preferences if isinstance(preferences, list) else [],
            [(alias, key) for key, alias in aliases.items()],
        )
