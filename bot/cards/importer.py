"""Importing client cards from store exports: check every row, then write all or nothing.

Two passes, neither holding the file in memory:

1. The file is streamed (CSV in UTF-8 or GBK/GB18030, or .xlsx: see
   bot/cards/exports.py) and every row checked (bot/cards/fields.py). Good
   rows go to private staging tables (bot/cards/bulk.py), never to the cards;
   every problem is collected, and the first 50 are shown with a count of the
   rest. Repeated client ids and external ids are found from 16-byte
   fingerprints per row.
2. Only when no row had a problem are the staged rows written to the card
   tables in bulk, inside the caller's transaction. Re-importing changes
   nothing: clients are upserted on client_id, a preference or alias already on
   the card is not added again, and observations recorded by advisors are
   never removed. ``--dry-run`` stops after counting what would change.

A column the file does not have is left as it is on existing cards.
"""

from __future__ import annotations

import time
import zlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session
from tqdm import tqdm

from bot.cards.bulk import Staging
from bot.cards.exports import FileRefused, Table, open_table, parse_header
from bot.cards.fields import CLIENT_FIELDS, Issue, RowChecker
from bot.clock import to_local, utcnow
from bot.nlu.vocabulary import Vocabulary, load_vocabulary

IMPORTED_BY = "档案导入"
PROGRESS_FROM_ROWS = 500
SHOWN_ISSUES = 50
SQLITE_CACHE_KB = 65_536
_EXTERNAL = CLIENT_FIELDS.index("wecom_external_userid")


class CsvImportError(ValueError):
    """The file has problems (a CSV or an .xlsx alike); nothing from it was written."""

    def __init__(self, path: Path, issues: list[Issue], total: int, unit: str = "line") -> None:
        self.issues = issues
        self.total = total
        lines = [f"{path}: {total} problem{'s' if total > 1 else ''}. Nothing was imported."]
        lines += [f"  {issue.render(unit)}" for issue in issues]
        if total > len(issues):
            lines.append(f"  … and {total - len(issues)} more")
        super().__init__("\n".join(lines))


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    preferences_added: int = 0
    aliases_added: int = 0
    described: str = ""  # "CSV, GB18030", "XLSX"
    dry_run: bool = False
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)


class Fingerprints:
    """Which keys repeat, in 16 bytes a row: two independent hashes and the line."""

    def __init__(self) -> None:
        self.hashes = array("q")
        self.crcs = array("I")
        self.lines = array("I")

    def add(self, key: str, line: int) -> None:
        self.hashes.append(hash(key))
        self.crcs.append(zlib.crc32(key.encode("utf-8")))
        self.lines.append(line)

    def repeats(self) -> list[tuple[int, int]]:
        """(line, line it repeats) for every row whose key an earlier row had, by line."""
        if len(self.lines) < 2:
            return []
        hashes = np.frombuffer(self.hashes, dtype=np.int64)
        crcs = np.frombuffer(self.crcs, dtype=np.uint32)
        lines = np.frombuffer(self.lines, dtype=np.uint32)
        order = np.lexsort((lines, crcs, hashes))
        hashes, crcs, lines = hashes[order], crcs[order], lines[order]
        starts = np.ones(len(lines), dtype=bool)
        starts[1:] = (hashes[1:] != hashes[:-1]) | (crcs[1:] != crcs[:-1])
        first = lines[starts][np.cumsum(starts) - 1]
        return sorted(zip(lines[~starts].tolist(), first[~starts].tolist(), strict=True))


@dataclass
class Checked:
    """What pass 1 learnt about a file whose every row passed."""

    described: str
    unit: str
    present: tuple[str, ...]
    rows: int
    labels: dict[str, str]  # column → the header text the file uses for it


def _progress(total: int | None, desc: str, show: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="row", unit_scale=True, disable=not show)


def _open(path: Path) -> Table:
    try:
        return open_table(path)
    except FileRefused as exc:
        raise CsvImportError(path, [Issue(exc.line, "", exc.reason)], 1) from exc


def check_rows(
    path: Path, staging: Staging, vocabulary: Vocabulary | None = None, progress: bool = True
) -> Checked:
    """Pass 1: check every row, staging the good ones; CsvImportError naming the problems."""
    table = _open(path)
    header, problems = parse_header(table.header_cells)
    if problems:
        refused = [Issue(table.header_line, "", p) for p in problems]
        raise CsvImportError(path, refused[:SHOWN_ISSUES], len(refused), table.unit)
    checker = RowChecker(
        header, vocabulary or load_vocabulary(), to_local(utcnow()).date(), table.kind == "CSV"
    )
    ids, externals = Fingerprints(), Fingerprints()
    issues: list[Issue] = []
    total = rows = count = 0
    show = progress and (table.approx_rows or 0) >= PROGRESS_FROM_ROWS
    try:
        with _progress(table.approx_rows, f"Checking {path.name}", show) as bar:
            for count, (line, cells) in enumerate(table.rows, 1):
                if not count % 1000:
                    bar.update(1000)
                if not "".join(cells).strip():
                    continue
                card = checker.check(line, cells)
                if isinstance(card, list):
                    total += len(card)
                    issues.extend(card[: SHOWN_ISSUES - len(issues)])
                    continue
                rows += 1
                ids.add(card.client_id, line)
                if card.values[_EXTERNAL]:
                    externals.add(card.values[_EXTERNAL], line)
                if not total:  # once a row is bad nothing will be written: stop staging
                    staging.add(card)
            bar.update(count % 1000)
    except FileRefused as exc:
        raise CsvImportError(path, [Issue(exc.line, "", exc.reason)], 1, table.unit) from exc
    repeats = {"client_id": ids.repeats(), "wecom_external_userid": externals.repeats()}
    repeated = sum(len(pairs) for pairs in repeats.values())
    if total or repeated:
        shown = {column: pairs[:SHOWN_ISSUES] for column, pairs in repeats.items()}
        keys = staging.keys_at(line for pairs in shown.values() for line, _ in pairs)
        for column, pairs in shown.items():
            index = 0 if column == "client_id" else 1
            # Rows after the first bad one are not staged: their key is not at hand.
            issues += [
                Issue(
                    line,
                    checker.labels[column],
                    f"{column} '{keys[line][index]}' repeats line {first}"
                    if line in keys
                    else f"{column} repeats line {first}",
                )
                for line, first in pairs
            ]
        issues.sort(key=lambda issue: issue.line)
        raise CsvImportError(path, issues[:SHOWN_ISSUES], total + repeated, table.unit)
    return Checked(table.described, table.unit, checker.present, rows, checker.labels)


@contextmanager
def _sqlite_cache(session: Session) -> Iterator[None]:
    """A larger page cache while SQLite fills its indexes, then back to what it was."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def import_file(
    session: Session,
    path: Path,
    dry_run: bool = False,
    progress: bool = True,
    vocabulary: Vocabulary | None = None,
) -> ImportResult:
    """Check the whole file, then write it in the session's transaction (or, with
    ``dry_run``, only count what it would change); CsvImportError if any row is bad."""
    started = time.perf_counter()
    staging = Staging(session.connection(), utcnow())
    try:
        with _sqlite_cache(session):
            staging.create()
            checked = check_rows(path, staging, vocabulary, progress)
            staging.finish()
            conflicts, total = staging.external_conflicts(checked.present, SHOWN_ISSUES)
            if total:
                label = checked.labels["wecom_external_userid"]
                issues = [
                    Issue(c.line, label, f"'{c.external}' already belongs to client {c.owner}")
                    for c in conflicts
                ]
                raise CsvImportError(path, issues, total, checked.unit)
            if dry_run:
                counts = staging.preview(checked.present)
            else:
                steps = sum(staging.sizes.values())
                show = progress and checked.rows >= PROGRESS_FROM_ROWS
                with _progress(steps, "Writing cards", show) as bar:
                    counts = staging.apply(checked.present, IMPORTED_BY, bar.update)
    finally:
        staging.drop()
    return ImportResult(
        rows=checked.rows,
        created=counts.created,
        updated=counts.updated,
        unchanged=checked.rows - counts.created - counts.updated,
        preferences_added=counts.preferences_added,
        aliases_added=counts.aliases_added,
        described=checked.described,
        dry_run=dry_run,
        seconds=time.perf_counter() - started,
        examples=counts.examples,
    )
