"""Importing client cards from store exports: check every row, then write all or nothing.

Two passes, neither holding the file in memory:

1. The file is streamed (CSV in UTF-8 or GBK/GB18030, or .xlsx: see
   bot/cards/exports.py) and every row checked (bot/cards/fields.py). Good
   rows go to private staging tables (bot/cards/bulk.py), never to the cards;
   every problem is collected, and the first 50 are shown with a count of the
   rest. Repeated client ids and external ids are found from 16-byte
   fingerprints per row (bot/cards/checking.py).
2. Only when no row had a problem are the staged rows written to the card
   tables in bulk, inside the caller's transaction. Re-importing changes
   nothing: clients are upserted on client_id, a preference or alias already on
   the card is not added again, and observations recorded by advisors are
   never removed. ``--dry-run`` stops after counting what would change.

A column the file does not have is left as it is on existing cards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session
from tqdm import tqdm

from bot.cards.bulk import Staging
from bot.cards.checking import (
    SHOWN_ISSUES,
    Checked,
    CsvImportError,
    Finished,
    Rows,
    check_events,
)
from bot.cards.fields import Issue
from bot.clock import to_local, utcnow
from bot.nlu.vocabulary import Vocabulary, load_vocabulary

__all__ = ["CsvImportError", "ImportResult", "import_file"]

IMPORTED_BY = "档案导入"
PROGRESS_FROM_ROWS = 500
SQLITE_CACHE_KB = 65_536


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


def _progress(total: int | None, desc: str, show: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="row", unit_scale=True, disable=not show)


def _check(
    path: Path, staging: Staging, vocabulary: Vocabulary, progress: bool
) -> tuple[Checked, int]:
    """Pass 1: every row checked, the good ones staged; CsvImportError naming the problems."""
    events = check_events(path, vocabulary, to_local(utcnow()).date())
    checked = next(events)
    assert isinstance(checked, Checked)
    show = progress and (checked.approx_rows or 0) >= PROGRESS_FROM_ROWS
    finished = Finished(0, [], 0)
    with _progress(checked.approx_rows, f"Checking {path.name}", show) as bar:
        for event in events:
            if isinstance(event, Rows):
                for card in event.cards:
                    staging.add(card)
                bar.update(event.read)
            elif isinstance(event, Finished):
                finished = event
    if finished.problems:
        lines = (line for pairs in finished.repeats.values() for line, _ in pairs)
        keys = staging.keys_at(lines)
        issues = list(finished.issues)
        for column, pairs in finished.repeats.items():
            index = 0 if column == "client_id" else 1
            # Rows after the first bad one are not staged: their key is not at hand.
            issues += [
                Issue(
                    line,
                    checked.labels[column],
                    f"{column} '{keys[line][index]}' repeats line {first}"
                    if line in keys
                    else f"{column} repeats line {first}",
                )
                for line, first in pairs
            ]
        issues.sort(key=lambda issue: issue.line)
        raise CsvImportError(path, issues[:SHOWN_ISSUES], finished.problems, checked.unit)
    return checked, finished.rows


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
            checked, rows = _check(path, staging, vocabulary or load_vocabulary(), progress)
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
                show = progress and rows >= PROGRESS_FROM_ROWS
                with _progress(steps, "Writing cards", show) as bar:
                    counts = staging.apply(checked.present, IMPORTED_BY, bar.update)
    finally:
        staging.drop()
    return ImportResult(
        rows=rows,
        created=counts.created,
        updated=counts.updated,
        unchanged=rows - counts.created - counts.updated,
        preferences_added=counts.preferences_added,
        aliases_added=counts.aliases_added,
        described=checked.described,
        dry_run=dry_run,
        seconds=time.perf_counter() - started,
        examples=counts.examples,
    )
