"""Pass 1 of an import: every row of a file checked, as a stream of events.

The importer stages the good rows of each batch as they come, so the file is
read once and never held in memory.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from bot.cards.exports import FileRefused, Table, open_table, parse_header
from bot.cards.fields import CLIENT_FIELDS, Card, Issue, RowChecker
from bot.nlu.vocabulary import Vocabulary

SHOWN_ISSUES = 50
BATCH = 2_000
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
    """The file's header, read: the first event."""

    described: str  # "CSV, GB18030", "XLSX"
    unit: str  # "line" in a CSV, "row" in a spreadsheet
    present: tuple[str, ...]
    labels: dict[str, str]  # column → the header text the file uses for it
    approx_rows: int | None


@dataclass
class Rows:
    """The next good rows; ``read`` counts every row read since the last event.
    Once a row is bad nothing will be written, so good rows are no longer sent."""

    read: int
    cards: list[Card]


@dataclass
class Finished:
    """The last event: problems found (the first few of each kind) and how many."""

    rows: int
    issues: list[Issue]
    total: int
    repeats: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return self.total + sum(len(pairs) for pairs in self.repeats.values())


Event = Checked | Rows | Finished


def _table(path: Path) -> Table:
    try:
        return open_table(path)
    except FileRefused as exc:
        raise CsvImportError(path, [Issue(exc.line, "", exc.reason)], 1) from exc


def check_events(path: Path, vocabulary: Vocabulary, today: date) -> Iterator[Event]:
    """Pass 1 in this process: Checked, then Rows batches, then Finished."""
    table = _table(path)
    header, problems = parse_header(table.header_cells)
    if problems:
        refused = [Issue(table.header_line, "", p) for p in problems]
        raise CsvImportError(path, refused[:SHOWN_ISSUES], len(refused), table.unit)
    checker = RowChecker(header, vocabulary, today, table.kind == "CSV")
    yield Checked(table.described, table.unit, checker.present, checker.labels, table.approx_rows)
    ids, externals = Fingerprints(), Fingerprints()
    issues: list[Issue] = []
    total = rows = read = 0
    cards: list[Card] = []
    try:
        for line, cells in table.rows:
            read += 1
            if read == BATCH:
                yield Rows(read, cards)
                read, cards = 0, []
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
            if not total:
                cards.append(card)
    except FileRefused as exc:
        raise CsvImportError(path, [Issue(exc.line, "", exc.reason)], 1, table.unit) from exc
    yield Rows(read, cards)
    repeats = {"client_id": ids.repeats(), "wecom_external_userid": externals.repeats()}
    yield Finished(rows, issues, total, {k: v[:SHOWN_ISSUES] for k, v in repeats.items() if v})
