"""The write half of an import: checked rows into the card tables in bulk.

Checked rows go to temporary staging tables as they are read: SQLite takes
them in batched ``executemany`` on the session's own connection; PostgreSQL
gets them spooled to CSV files and loaded with one ``COPY`` per table. Staging
tables are private to the import and disappear with it; the card tables are
only touched once every row has passed. Then a few set-based statements (on
SQLite each over slices of the staging rows, so a progress bar can follow):

- ``UPDATE clients … FROM stage`` where a column the file has differs;
- ``INSERT INTO clients … WHERE NOT EXISTS`` for new cards;
- for new preferences and aliases: the existing cards they change get
  ``updated_at``, then ``INSERT … WHERE NOT EXISTS`` adds them (with
  ``ON CONFLICT DO NOTHING`` where other writers may be about).

Everything runs in the caller's transaction, so the import is all or nothing,
and a row already there is left as it is, so re-importing changes nothing. The
``updated_at <> :now`` guard counts each updated card once.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bot.cards.fields import CLIENT_FIELDS, Card

STAGE_COLUMNS = {
    "stage_clients": ("line", "id", *CLIENT_FIELDS),
    "stage_preferences": ("client_id", "category", "value", "store", "date_value"),
    "stage_aliases": ("client_id", "alias", "key"),
}
SLICE = 50_000
# Indexes are rebuilt rather than filled row by row when at least this many cards,
# and more than the store has, are coming (see Staging._first_load).
REBUILD_FROM = 100_000
BATCH = 5_000
EXAMPLES = 5
# Rows SQLite samples per index when it gathers statistics after an import.
SQLITE_ANALYSIS_ROWS = 2_000
EXTERNAL = "wecom_external_userid"
_HOME_STORE = CLIENT_FIELDS.index("home_store")
_EXTERNAL = CLIENT_FIELDS.index(EXTERNAL)

Progress = Callable[[int], None]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    preferences_added: int = 0
    aliases_added: int = 0
    # What an import would change, for --dry-run: a few cards, in words.
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Conflict:
    """A file row whose external id already belongs to another card."""

    line: int
    external: str
    owner: str


class Staging:
    """Staging tables on the session's connection, and the statements over them."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.now = now
        self.sizes = dict.fromkeys(STAGE_COLUMNS, 0)
        self._batches: dict[str, list[tuple[Any, ...]]] = {t: [] for t in STAGE_COLUMNS}
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._writers: dict[str, Any] = {}

    # -- taking rows -----------------------------------------------------------------

    def create(self) -> None:
        for table, columns in STAGE_COLUMNS.items():
            # An earlier import in the same transaction may have left them.
            schema = "pg_temp" if self.postgres else "temp"
            self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{table}")
            if self.postgres:
                typed = ", ".join(
                    f"{c} {'integer' if c == 'line' else 'date' if c == 'date_value' else 'text'}"
                    for c in columns
                )
                self.connection.exec_driver_sql(
                    f"CREATE TEMP TABLE {table} (n bigserial, {typed}) ON COMMIT DROP"
                )
            else:
                self.connection.exec_driver_sql(
                    f"CREATE TEMP TABLE {table} (n INTEGER PRIMARY KEY, {', '.join(columns)})"
                )
        if self.postgres:
            self._folder = tempfile.TemporaryDirectory(prefix="copilot-import-")
            for table in STAGE_COLUMNS:
                handle = self._spool(table).open("w", encoding="utf-8", newline="")
                self._writers[table] = (handle, csv.writer(handle, lineterminator="\n"))

    def _spool(self, table: str) -> Path:
        assert self._folder is not None
        return Path(self._folder.name) / f"{table}.csv"

    def add(self, card: Card) -> None:
        """One checked row; SQLite stages it in batches, PostgreSQL spools it for COPY."""
        batches = self._batches
        batches["stage_clients"].append((card.line, card.client_id, *card.values))
        store = card.values[_HOME_STORE]
        batches["stage_preferences"] += [
            (card.client_id, c, v, store, d) for c, v, d in card.preferences
        ]
        if card.aliases:
            batches["stage_aliases"] += [(card.client_id, a, k) for a, k in card.aliases]
        if len(batches["stage_clients"]) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        cursor = None if self.postgres else self.connection.connection.cursor()
        for table, rows in self._batches.items():
            if not rows:
                continue
            self.sizes[table] += len(rows)
            if cursor is None:
                self._writers[table][1].writerows(rows)
            else:
                columns = STAGE_COLUMNS[table]
                cursor.executemany(
                    f"INSERT INTO temp.{table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    rows,
                )
            rows.clear()
        if cursor is not None:
            cursor.close()

    def finish(self) -> None:
        """Every row is in: PostgreSQL loads the spools with COPY."""
        self._flush()
        if not self.postgres:
            return
        cursor = self.connection.connection.cursor()
        try:
            for table, columns in STAGE_COLUMNS.items():
                handle, _ = self._writers[table]
                handle.close()
                text_columns = ", ".join(c for c in columns if c not in ("line", "date_value"))
                with self._spool(table).open(encoding="utf-8", newline="") as spool:
                    cursor.copy_expert(
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                        f"WITH (FORMAT csv, FORCE_NOT_NULL ({text_columns}))",
                        spool,
                    )
                cursor.execute(f"ANALYZE {table}")
        finally:
            cursor.close()

    def keys_at(self, lines: Iterable[int]) -> dict[int, tuple[str, str]]:
        """(client_id, external id) of the staged rows at these lines, for messages."""
        self._flush()
        wanted = set(lines)
        found: dict[int, tuple[str, str]] = {}
        if self.postgres:
            self._writers["stage_clients"][0].close()
            with self._spool("stage_clients").open(encoding="utf-8", newline="") as handle:
                rows: Iterable[Any] = csv.reader(handle)
                for row in rows:
                    if int(row[0]) in wanted:
                        found[int(row[0])] = (row[1], row[2 + _EXTERNAL])
            return found
        for line, client_id, external in self.connection.exec_driver_sql(
            "SELECT line, id, wecom_external_userid FROM temp.stage_clients"
        ):
            if int(line) in wanted:
                found[int(line)] = (client_id, external)
        return found

    def drop(self) -> None:
        """Spools removed; SQLite's temp tables dropped (PostgreSQL drops its own)."""
        for handle, _ in self._writers.values():
            handle.close()
        if self._folder is not None:
            self._folder.cleanup()
        if not self.postgres:
            for table in STAGE_COLUMNS:
                self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")

    # -- checks ----------------------------------------------------------------------

    def external_conflicts(
        self, present: tuple[str, ...], limit: int
    ) -> tuple[list[Conflict], int]:
        """Rows whose external id belongs to another card already (the first few), and how many."""
        if EXTERNAL not in present:
            return [], 0
        where = (
            "FROM stage_clients s JOIN clients c "
            "ON c.wecom_external_userid = s.wecom_external_userid "
            "WHERE s.wecom_external_userid <> '' AND c.id <> s.id"
        )
        total = int(self.connection.execute(text(f"SELECT count(*) {where}")).scalar_one())
        if not total:
            return [], 0
        rows = self.connection.execute(
            text(f"SELECT s.line, s.wecom_external_userid, c.id {where} ORDER BY s.line LIMIT :n"),
            {"n": limit},
        ).all()
        return [Conflict(int(r[0]), r[1], r[2]) for r in rows], total

    # -- statements ------------------------------------------------------------------

    @staticmethod
    def _differs(present: tuple[str, ...], card: str) -> str:
        parts = [
            f"COALESCE({card}.{c}, '') <> s.{c}" if c == EXTERNAL else f"{card}.{c} <> s.{c}"
            for c in present
        ]
        return "(" + " OR ".join(parts) + ")"

    @staticmethod
    def _value(column: str) -> str:
        return f"NULLIF(s.{column}, '')" if column == EXTERNAL else f"s.{column}"

    @staticmethod
    def _new_preference() -> str:
        return (
            "NOT EXISTS (SELECT 1 FROM preferences p WHERE p.client_id = sp.client_id "
            "AND p.category = sp.category AND p.value = sp.value)"
        )

    @staticmethod
    def _new_alias() -> str:
        return (
            "NOT EXISTS (SELECT 1 FROM client_aliases a WHERE a.client_id = sa.client_id "
            "AND a.key = sa.key)"
        )

    def _sliced(self, table: str, statements: list[tuple[str, str]], counts: Counts,
                progress: Progress, imported_by: str) -> None:  # fmt: skip
        """Each statement over every slice of ``table``'s rows, its rowcount added up.
        PostgreSQL takes each statement whole: it plans one hash join over all the
        rows, where slices would each scan the card table again."""
        size = self.sizes[table]
        step = max(size, 1) if self.postgres else SLICE
        for lo in range(1, size + 1, step):
            hi = lo + step - 1
            for counter, sql in statements:
                statement = text(sql)
                if ":now" in sql:
                    statement = statement.bindparams(bindparam("now", type_=DateTime()))
                result = self.connection.execute(
                    statement, {"lo": lo, "hi": hi, "now": self.now, "by": imported_by}
                )
                if counter:  # "": a statement that only keeps copies in step
                    setattr(counts, counter, getattr(counts, counter) + max(result.rowcount, 0))
            progress(min(hi, size) - lo + 1)

    @contextmanager
    def _first_load(self) -> Iterator[bool]:
        """Whether this import writes the card tables alone, so inserts need no
        ``ON CONFLICT``: always on SQLite (one writer at a time); on PostgreSQL
        when more cards come in than the store has (a first load). Then the card
        tables' non-unique indexes (and on PostgreSQL their unique constraints
        and the foreign keys of preferences and aliases) are dropped and built
        again at the end: one sorted pass each instead of an index insert and a
        key check per row. All inside the import's transaction: SQLite's readers
        (WAL) never see the tables without them, PostgreSQL's wait for the commit."""
        incoming = self.sizes["stage_clients"]
        first = (
            incoming >= REBUILD_FROM
            and incoming
            > self.connection.exec_driver_sql("SELECT count(*) FROM clients").scalar_one()
        )
        if not first:
            yield not self.postgres
            return
        tables = "ARRAY['clients', 'preferences', 'client_aliases']::regclass[]"
        constraints: list[Any] = []
        if self.postgres:
            self.connection.exec_driver_sql(
                "LOCK TABLE clients, preferences, client_aliases IN EXCLUSIVE MODE"
            )
            indexes = self.connection.exec_driver_sql(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                f"WHERE NOT indisunique AND indrelid = ANY({tables})"
            ).all()
            # Foreign keys first, then unique constraints no foreign key relies on.
            constraints = self.connection.exec_driver_sql(
                "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
                f"FROM pg_constraint c WHERE conrelid = ANY({tables}) AND ("
                "(contype = 'f' AND conrelid <> 'clients'::regclass) OR (contype = 'u' "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint f "
                "WHERE f.contype = 'f' AND f.conindid = c.conindid))) ORDER BY contype"
            ).all()
        else:
            indexes = self.connection.exec_driver_sql(
                "SELECT '\"' || name || '\"', sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN ('clients', 'preferences', 'client_aliases') "
                "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
            ).all()
        for table, name, _ in constraints:
            self.connection.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            self.connection.exec_driver_sql(f"DROP INDEX {name}")
        yield True
        for _, definition in indexes:
            self.connection.exec_driver_sql(definition)
        for table, name, definition in reversed(constraints):
            self.connection.exec_driver_sql(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
            )

    def apply(self, present: tuple[str, ...], imported_by: str, progress: Progress) -> Counts:
        with self._first_load() as alone:
            counts = self._apply(present, imported_by, progress, alone)
        if counts.created:
            # The planner's statistics, once the rows and the indexes are back: without
            # them SQLite may walk a broad index (a whole store's clients) and
            # PostgreSQL scan every alias on the turn path. SQLite keeps them per
            # index and samples a bounded number of rows per index here.
            if not self.postgres:
                self.connection.exec_driver_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_ROWS}")
            for table in ("clients", "preferences", "client_aliases"):
                self.connection.exec_driver_sql(f"ANALYZE {table}")
        return counts

    def _apply(
        self, present: tuple[str, ...], imported_by: str, progress: Progress, alone: bool
    ) -> Counts:
        def guard(key: str) -> str:
            # New rows are already filtered; with other writers about, one may have
            # added the same row since, and the import should not fail for it.
            return "" if alone else f" ON CONFLICT ({key}) DO NOTHING"

        counts = Counts()
        update = (
            "UPDATE clients SET "
            + ", ".join(f"{c} = {self._value(c)}" for c in present)
            + ", updated_at = :now FROM stage_clients s "
            "WHERE s.id = clients.id AND s.n BETWEEN :lo AND :hi "
            f"AND {self._differs(present, 'clients')}"
        )
        insert = (
            f"INSERT INTO clients (id, {', '.join(CLIENT_FIELDS)}, created_at, updated_at) "
            f"SELECT s.id, {', '.join(self._value(c) for c in CLIENT_FIELDS)}, :now, :now "
            "FROM stage_clients s WHERE s.n BETWEEN :lo AND :hi "
            "AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = s.id)" + guard("id")
        )
        touch = (
            "UPDATE clients SET updated_at = :now WHERE updated_at <> :now AND id IN "
            "(SELECT {alias}.client_id FROM {table} {alias} "
            "WHERE {alias}.n BETWEEN :lo AND :hi AND {new})"
        )
        date_value = "sp.date_value" if self.postgres else "NULLIF(sp.date_value, '')"
        add_preferences = (
            "INSERT INTO preferences (client_id, category, value, recorded_by, store, "
            "recorded_at, status, date_value) "
            "SELECT sp.client_id, sp.category, sp.value, :by, sp.store, :now, 'current', "
            f"{date_value} FROM stage_preferences sp WHERE sp.n BETWEEN :lo AND :hi "
            f"AND {self._new_preference()}" + guard("client_id, category, value")
        )
        add_aliases = (
            "INSERT INTO client_aliases (client_id, alias, key, kind, recorded_by, recorded_at, "
            "advisor, home_store) "
            "SELECT sa.client_id, sa.alias, sa.key, 'alias', :by, :now, c.advisor, c.home_store "
            "FROM stage_aliases sa JOIN clients c ON c.id = sa.client_id "
            "WHERE sa.n BETWEEN :lo AND :hi "
            f"AND {self._new_alias()}" + guard("client_id, key")
        )
        # An alias carries its card's advisor and store for ranking (migration 0010).
        follow = (
            "UPDATE client_aliases SET advisor = c.advisor, home_store = c.home_store "
            "FROM clients c, stage_clients s WHERE c.id = client_aliases.client_id "
            "AND s.id = c.id AND s.n BETWEEN :lo AND :hi "
            "AND (client_aliases.advisor <> c.advisor OR client_aliases.home_store <> c.home_store)"
        )
        statements = [("updated", update), ("created", insert)]
        if "advisor" in present or "home_store" in present:
            statements.append(("", follow))
        self._sliced("stage_clients", statements, counts, progress, imported_by)
        if self.postgres and counts.created:
            # The planner's idea of the clients table is stale after an insert.
            self.connection.exec_driver_sql("ANALYZE clients")
        # When every card is new, no existing card can gain a preference or an alias.
        existing = counts.created < self.sizes["stage_clients"]
        for table, alias, new, add, counter in (
            ("stage_preferences", "sp", self._new_preference(), add_preferences,
             "preferences_added"),
            ("stage_aliases", "sa", self._new_alias(), add_aliases, "aliases_added"),
        ):  # fmt: skip
            statements = [(counter, add)]
            if existing:
                statements.insert(0, ("updated", touch.format(alias=alias, table=table, new=new)))
            self._sliced(table, statements, counts, progress, imported_by)
        return counts

    def preview(self, present: tuple[str, ...]) -> Counts:
        """What apply() would do, from read-only queries on the card tables."""

        def scalar(sql: str) -> int:
            return int(self.connection.execute(text(sql)).scalar_one())

        differs = self._differs(present, "c")
        counts = Counts(
            created=scalar(
                "SELECT count(*) FROM stage_clients s "
                "WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = s.id)"
            ),
            updated=scalar(
                "SELECT count(*) FROM clients WHERE id IN ("
                f"SELECT s.id FROM stage_clients s JOIN clients c ON c.id = s.id WHERE {differs} "
                "UNION SELECT sp.client_id FROM stage_preferences sp "
                f"WHERE {self._new_preference()} "
                f"UNION SELECT sa.client_id FROM stage_aliases sa WHERE {self._new_alias()})"
            ),
            preferences_added=scalar(
                f"SELECT count(*) FROM stage_preferences sp WHERE {self._new_preference()}"
            ),
            aliases_added=scalar(
                f"SELECT count(*) FROM stage_aliases sa WHERE {self._new_alias()}"
            ),
        )
        columns = ", ".join(f"c.{c}, s.{c}" for c in present)
        changed = self.connection.execute(
            text(
                f"SELECT s.id, {columns} FROM stage_clients s JOIN clients c ON c.id = s.id "
                f"WHERE {differs} ORDER BY s.n LIMIT {EXAMPLES}"
            )
        ).all()
        for row in changed:
            pairs = zip(present, row[1::2], row[2::2], strict=True)
            diffs = [
                f"{c} {old or '∅'} → {new or '∅'}" for c, old, new in pairs if (old or "") != new
            ]
            counts.examples.append(f"{row[0]}: {'; '.join(diffs)}")
        added = self.connection.execute(
            text(
                "SELECT sp.client_id, sp.category, sp.value FROM stage_preferences sp "
                f"JOIN clients c ON c.id = sp.client_id WHERE {self._new_preference()} "
                f"ORDER BY sp.n LIMIT {EXAMPLES}"
            )
        ).all()
        counts.examples.extend(f"{r[0]}: + {r[1]}:{r[2]}" for r in added)
        return counts


# The tables an import writes.
_IMPORTED_TABLES = ("clients", "preferences", "client_aliases")
# What name resolution reads on every turn: loaded into PostgreSQL's shared buffers
# after an import, so the first advisors' turns do not each fetch it page by page.
# ('%%' reads as '%' whether or not the driver formats the string; LIKE takes either.)
_TURN_PATH = (
    "SELECT pg_prewarm(c.oid) FROM pg_class c WHERE c.relname IN ('clients', "
    "'client_aliases') OR c.relname LIKE 'ix_client%%'"
)


def settle(engine: Engine) -> None:
    """After an import that created cards has committed, on PostgreSQL:

    - VACUUM the tables it wrote. Freshly written pages are not yet marked
      all-visible, so every index-only scan of the turn path (a name's existence,
      王先生's capped count) visits the table too; and autovacuum, woken by a
      million inserts, would do the same work later in the middle of the
      advisors' turns (measured at a million cards just after an import:
      resolution p95 7.1 ms while it ran);
    - load the tables and indexes name resolution reads into shared buffers
      (``pg_prewarm``, a contrib extension; skipped with a note where the database
      user may not create it). The first pass over a million cards right after an
      import otherwise took p95 5.8 ms, reading them page by page.

    VACUUM cannot run inside a transaction, hence after the commit."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in _IMPORTED_TABLES:
            connection.exec_driver_sql(f"VACUUM {table}")
        try:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            connection.exec_driver_sql(_TURN_PATH)
        except DBAPIError as error:
            print(f"note: the lookup tables were not preloaded (pg_prewarm: {error.orig})")
