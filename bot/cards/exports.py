"""Client files as store systems really export them: CSV or .xlsx, any encoding
China's Excel writes, headers in English or Chinese, in any order.

A CSV's encoding is detected, never asked for: UTF-8 (with or without the BOM
Excel's "CSV UTF-8" writes) is tried first, then GB18030, the superset of the
GBK that Excel uses for plain "CSV" on a Chinese Windows. Rows are streamed, so
a million-row file never sits in memory.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# canonical column → the header texts that mean it (compared after normalise_header)
COLUMNS: dict[str, tuple[str, ...]] = {
    "client_id": ("client_id", "客户编号", "客户id", "客户号", "会员编号", "会员号"),
    "name": ("name", "姓名", "客户姓名"),
    "honorific": ("honorific", "称呼", "尊称"),
    "gender": ("gender", "sex", "性别"),
    "phone": ("phone", "mobile", "手机", "电话", "手机号", "手机号码", "联系电话", "电话号码"),
    "wecom_external_userid": (
        "wecom_external_userid",
        "external_userid",
        "企业微信id",
        "企业微信外部联系人id",
        "企微id",
    ),
    "tier": ("tier", "等级", "会员等级", "客户等级"),
    "home_store": ("home_store", "所属门店", "门店", "归属门店"),
    "advisor": ("advisor", "顾问", "专属顾问", "所属顾问"),
    "preferences": ("preferences", "偏好", "喜好"),
    "aliases": ("aliases", "alias", "英文名", "别名"),
}
REQUIRED = ("client_id", "name")
_BY_HEADER = {text: column for column, texts in COLUMNS.items() for text in texts}
CHUNK = 1 << 20


class FileRefused(ValueError):
    """The file as a whole cannot be read (not its rows): reason and the line it is at."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(reason)


def normalise_header(text: str) -> str:
    """``Client ID`` / ``client-id`` / `` 手机 `` → ``client_id`` / ``手机``."""
    return re.sub(r"[\s\-]+", "_", text.strip().lstrip("\ufeff")).strip("_").lower()


def known_columns() -> str:
    return ", ".join(f"{texts[1]}/{column}" for column, texts in COLUMNS.items())


@dataclass(frozen=True)
class Header:
    """Which canonical column each position holds; None for a blank header cell."""

    labels: tuple[str, ...]
    columns: tuple[str | None, ...]

    def position(self, column: str) -> int | None:
        return self.columns.index(column) if column in self.columns else None

    def label(self, column: str) -> str:
        position = self.position(column)
        return column if position is None else self.labels[position]


def parse_header(cells: list[str]) -> tuple[Header, list[str]]:
    """The header, and every problem with it (unknown, repeated or missing columns)."""
    labels = tuple(cell.strip().lstrip("\ufeff") for cell in cells)
    columns: list[str | None] = []
    problems: list[str] = []
    first: dict[str, str] = {}
    for label in labels:
        if not label:
            columns.append(None)
            continue
        column = _BY_HEADER.get(normalise_header(label))
        if column is None:
            problems.append(f"unknown column '{label}' (known: {known_columns()})")
        elif column in first:
            problems.append(f"columns '{first[column]}' and '{label}' both mean {column}")
        else:
            first[column] = label
        columns.append(column if column not in columns else None)
    for column in REQUIRED:
        if column not in first:
            problems.append(f"no {COLUMNS[column][1]}/{column} column")
    return Header(labels, tuple(columns)), problems


@dataclass
class Table:
    """A file's header and a stream of its rows, each with the line or row number
    the person who made the file sees (a quoted cell may span lines in a CSV)."""

    path: Path
    kind: str  # "CSV" or "XLSX"
    encoding: str  # "UTF-8", "UTF-8 with BOM", "GB18030"; "" for .xlsx
    approx_rows: int | None
    header_line: int
    header_cells: list[str]
    rows: Iterator[tuple[int, list[str]]]
    # The word for a position in this kind of file: CSV lines, spreadsheet rows.
    unit: str = "line"

    @property
    def described(self) -> str:
        return f"{self.kind}, {self.encoding}" if self.encoding else self.kind


def _decodes(path: Path, codec: str) -> tuple[int, int]:
    """(lines, 0) when the whole file decodes as ``codec``, else (lines so far, bad line)."""
    decoder = codecs.getincrementaldecoder(codec)()
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return lines, lines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
            lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return lines, lines + 1
    return lines, 0


def detect_encoding(path: Path) -> tuple[str, str, int]:
    """(codec, name for people, number of lines) of a CSV file.

    UTF-8 first (one binary pass); if some byte is not UTF-8, GB18030, which
    decodes every GBK file; FileRefused if neither decodes the whole file.
    """
    with path.open("rb") as handle:
        bom = handle.read(3) == codecs.BOM_UTF8
    lines, bad = _decodes(path, "utf-8")
    if not bad:
        return ("utf-8-sig", "UTF-8 with BOM", lines) if bom else ("utf-8", "UTF-8", lines)
    if not bom:
        lines, gb_bad = _decodes(path, "gb18030")
        if not gb_bad:
            return "gb18030", "GB18030", lines
    raise FileRefused(bad, "the file is neither UTF-8 nor GBK/GB18030 text")


def _csv_table(path: Path) -> Table:
    codec, name, lines = detect_encoding(path)
    handle = path.open(encoding=codec, newline="")
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        handle.close()
        raise FileRefused(1, f"malformed CSV ({exc})") from exc
    if header is None:
        handle.close()
        raise FileRefused(1, "the file is empty")

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            previous = reader.line_num
            try:
                for cells in reader:
                    yield previous + 1, cells
                    previous = reader.line_num
            except csv.Error as exc:
                raise FileRefused(previous + 1, f"malformed CSV ({exc})") from exc

    return Table(path, "CSV", name, max(lines - 1, 0), 1, header, rows())


def cell_text(value: Any) -> str:
    """An .xlsx cell as the text it shows: 13912340001 not 13912340001.0, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _xlsx_table(path: Path) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile / XML errors: the file is not a workbook
        raise FileRefused(0, f"not a readable .xlsx workbook ({exc})") from exc
    sheet = workbook.worksheets[0]
    approx = sheet.max_row
    # Some exporters write a wrong sheet dimension; read every row that is there.
    sheet.reset_dimensions()
    numbered = enumerate(sheet.iter_rows(values_only=True), start=1)
    # The header is the first row with anything in it (a title row would be refused).
    header_line, header = 0, []
    for number, values in numbered:
        cells = [cell_text(v) for v in values]
        if any(cell.strip() for cell in cells):
            header_line, header = number, cells
            break
    if not header_line:
        workbook.close()
        raise FileRefused(1, "the first sheet is empty")

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, values in numbered:
                yield line, [cell_text(v) for v in values]
        finally:
            workbook.close()

    total = approx - header_line if approx else None
    return Table(path, "XLSX", "", total, header_line, header, rows(), unit="row")


def open_table(path: Path) -> Table:
    """The file's header and rows; FileRefused when it cannot be read at all."""
    if not path.is_file():
        raise FileRefused(0, "no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_table(path)
    if suffix == ".xls":
        raise FileRefused(0, "old Excel .xls files cannot be read: save it as .xlsx or CSV")
    return _csv_table(path)
