"""CSV import of client cards: validate every row first, then write all or nothing.

Format (UTF-8, header required):
``client_id,name,honorific,gender,phone,wecom_external_userid,tier,home_store,advisor,preferences``
with ``preferences`` as ``category:value;category:value`` (full-width ： and ； too).
Re-importing a file changes nothing: clients are upserted on client_id and a
preference already on the card is not added again.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from bot.cards.models import Client, ClientAlias, Preference
from bot.cards.names import alias_key
from bot.clock import utcnow
from bot.nlu.vocabulary import Vocabulary, load_vocabulary

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
)
# Optional columns after the required ones: ``aliases`` is ``;``-separated other
# names (English names, nicknames) the client is found by.
OPTIONAL = ("aliases",)
CARD_FIELDS = HEADER[1:-1]
IMPORTED_BY = "档案导入"
PROGRESS_FROM_ROWS = 500

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PHONE = re.compile(r"\+?\d{6,20}")
_GENDERS = {"", "男", "女"}


class CsvImportError(ValueError):
    """A row cannot be imported; nothing from the file was written."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"{path}: line {line}: {reason}. Nothing was imported.")


@dataclass(frozen=True)
class CardRow:
    line: int
    client_id: str
    fields: dict[str, str | None]
    preferences: tuple[tuple[str, str], ...]
    aliases: tuple[str, ...] = ()


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    preferences_added: int = 0
    rows: int = 0
    changed_ids: list[str] = field(default_factory=list)


def parse_preferences(text: str, vocabulary: Vocabulary) -> tuple[tuple[str, str], ...]:
    """``饮品:普洱;座位：靠窗`` → ((饮品, 普洱), (座位, 靠窗)); raises ValueError."""
    pairs: list[tuple[str, str]] = []
    for part in re.split(r"[;；]", text):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"([^:：]*)[:：](.*)", part, re.S)
        if not match:
            raise ValueError(f"preference '{part}' is not 'category:value'")
        category, value = match.group(1).strip(), match.group(2).strip()
        if category not in vocabulary.category_names:
            known = ", ".join(vocabulary.category_names)
            raise ValueError(f"unknown preference category '{category}' (known: {known})")
        if not value:
            raise ValueError(f"preference category '{category}' has no value")
        if len(value) > 200:
            raise ValueError(f"preference value for '{category}' is longer than 200 characters")
        if (category, value) not in pairs:
            pairs.append((category, value))
    return tuple(pairs)


def _validate(record: dict[str, str], vocabulary: Vocabulary) -> CardRow | str:
    """A parsed row, or the reason it is refused."""
    values = {key: (record.get(key) or "").strip() for key in (*HEADER, *OPTIONAL)}
    client_id = values["client_id"]
    if not _CLIENT_ID.fullmatch(client_id):
        return f"client_id '{client_id}' must be 1-64 letters, digits, '_', '-' or '.'"
    if not values["name"]:
        return "name is empty"
    if len(values["name"]) > 64:
        return "name is longer than 64 characters"
    if values["honorific"] and values["honorific"] not in vocabulary.honorifics:
        return (
            f"unknown honorific '{values['honorific']}' (known: {', '.join(vocabulary.honorifics)})"
        )
    if values["gender"] not in _GENDERS:
        return f"gender '{values['gender']}' must be 男, 女 or empty"
    phone = re.sub(r"[\s-]", "", values["phone"])
    if phone and not _PHONE.fullmatch(phone):
        return f"phone '{values['phone']}' is not a phone number"
    for key in ("tier", "home_store", "advisor", "wecom_external_userid"):
        if len(values[key]) > 64:
            return f"{key} is longer than 64 characters"
    try:
        preferences = parse_preferences(values["preferences"], vocabulary)
    except ValueError as exc:
        return str(exc)
    fields: dict[str, str | None] = {key: values[key] for key in CARD_FIELDS}
    fields["phone"] = phone
    fields["wecom_external_userid"] = values["wecom_external_userid"] or None
    fields["surname"] = vocabulary.surname_of(values["name"])
    aliases = tuple(
        dict.fromkeys(a.strip() for a in re.split(r"[;；]", values["aliases"]) if a.strip())
    )
    if any(len(a) > 64 for a in aliases):
        return "an alias is longer than 64 characters"
    return CardRow(0, client_id, fields, preferences, aliases)


def read_rows(path: Path, vocabulary: Vocabulary | None = None) -> list[CardRow]:
    """Every row of the file, validated; the first bad row raises CsvImportError."""
    vocabulary = vocabulary or load_vocabulary()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CsvImportError(path, 0, f"cannot open the file ({exc.strerror})") from exc
    rows: list[CardRow] = []
    seen_ids: dict[str, int] = {}
    seen_external: dict[str, int] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            columns = tuple(h.strip() for h in header or ())
            if columns[: len(HEADER)] != HEADER or not set(columns[len(HEADER) :]) <= set(OPTIONAL):
                raise CsvImportError(
                    path, 1, f"the header must be: {','.join(HEADER)}[,{','.join(OPTIONAL)}]"
                )
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(columns):
                    raise CsvImportError(
                        path, line, f"expected {len(columns)} columns, found {len(cells)}"
                    )
                parsed = _validate(dict(zip(columns, cells, strict=True)), vocabulary)
                if isinstance(parsed, str):
                    raise CsvImportError(path, line, parsed)
                if parsed.client_id in seen_ids:
                    raise CsvImportError(
                        path,
                        line,
                        f"client_id '{parsed.client_id}' repeats line {seen_ids[parsed.client_id]}",
                    )
                external = parsed.fields["wecom_external_userid"]
                if external and external in seen_external:
                    raise CsvImportError(
                        path,
                        line,
                        f"wecom_external_userid '{external}' "
                        f"repeats line {seen_external[external]}",
                    )
                seen_ids[parsed.client_id] = line
                if external:
                    seen_external[external] = line
                rows.append(replace(parsed, line=line))
        except UnicodeDecodeError as exc:
            raise CsvImportError(path, reader.line_num + 1, "the file is not UTF-8 text") from exc
        except csv.Error as exc:
            raise CsvImportError(path, reader.line_num, f"malformed CSV ({exc})") from exc
    return rows


def apply_rows(session: Session, rows: Iterable[CardRow], path: Path, total: int) -> ImportResult:
    """Upsert the rows inside the caller's transaction."""
    result = ImportResult()
    now = utcnow()
    for row in tqdm(
        rows, total=total, desc="Importing cards", unit="row", disable=total < PROGRESS_FROM_ROWS
    ):
        result.rows += 1
        external = row.fields["wecom_external_userid"]
        if external:
            owner = session.scalars(
                select(Client.id).where(Client.wecom_external_userid == external)
            ).first()
            if owner and owner != row.client_id:
                raise CsvImportError(
                    path,
                    row.line,
                    f"wecom_external_userid '{external}' already belongs to client {owner}",
                )
        client = session.get(Client, row.client_id)
        if client is None:
            client = Client(id=row.client_id, created_at=now, updated_at=now, **row.fields)
            session.add(client)
            result.created += 1
            changed = True
        else:
            changed = any(getattr(client, key) != value for key, value in row.fields.items())
            if changed:
                for key, value in row.fields.items():
                    setattr(client, key, value)
        for alias in row.aliases:
            if alias_key(alias) not in {a.key for a in client.aliases}:
                client.aliases.append(
                    ClientAlias(alias=alias, key=alias_key(alias), kind="alias",
                                recorded_by=IMPORTED_BY, recorded_at=now)
                )  # fmt: skip
                changed = True
        existing = {(p.category, p.value) for p in client.preferences}
        for category, value in row.preferences:
            if (category, value) in existing:
                continue
            client.preferences.append(
                Preference(
                    category=category,
                    value=value,
                    recorded_by=IMPORTED_BY,
                    store=row.fields["home_store"] or "",
                    recorded_at=now,
                )
            )
            result.preferences_added += 1
            changed = True
        if changed:
            client.updated_at = now
            result.changed_ids.append(row.client_id)
            if client not in session.new:
                result.updated += 1
        else:
            result.unchanged += 1
        session.flush()
    return result
