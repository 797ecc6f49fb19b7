"""Server-side prepared statements for the queries every turn runs, on PostgreSQL.

Why: a name lookup's SQL takes PostgreSQL about 0.1 ms to execute against a
million cards, but parsing and planning the same text again on every turn cost
0.3–0.5 ms more (measured with psycopg2 on loopback, which has no automatic
statement preparation). So the statements on the turn path are prepared once per
database connection (``PREPARE``) and run as ``EXECUTE`` after that. Prepared
statements belong to the server session, survive a rolled-back transaction, and
are replanned by PostgreSQL itself when the schema changes. Other databases run
the SQL as it is (SQLite caches its own statements).

A pooler in transaction mode (PgBouncer) would hand out server sessions without
the statements: run the copilot against PostgreSQL directly or in session mode.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

# A named parameter (:name), not a PostgreSQL cast (::text).
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# Where a connection keeps the names of the statements prepared on it.
_PREPARED = "copilot_prepared"


@cache
def _prepared_form(sql: str) -> tuple[str, str, tuple[str, ...]]:
    """(statement name, body with $1…$n, parameter names in that order) for ``sql``."""
    order: list[str] = []

    def positional(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    body = _PARAMETER.sub(positional, sql)
    name = "copilot_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
    return name, body, tuple(order)


def bound(sql: str, params: dict[str, Any]) -> TextClause:
    """``sql`` as a text clause with those of ``params`` it names (:name) bound."""
    return text(sql).bindparams(**{k: v for k, v in params.items() if f":{k}" in sql})


def statement(session: Session, sql: str, params: dict[str, Any]) -> TextClause:
    """``sql`` with its parameters (those it names, from ``params``), ready to execute
    on ``session``: on PostgreSQL an ``EXECUTE`` of the statement, prepared on this
    session's connection the first time it is used there."""
    if session.get_bind().dialect.name != "postgresql":
        return bound(sql, params)
    name, body, order = _prepared_form(sql)
    connection = session.connection()
    prepared: set[str] = connection.connection.info.setdefault(_PREPARED, set())
    if name not in prepared:
        connection.exec_driver_sql(f"PREPARE {name} AS {body}")
        prepared.add(name)
    arguments = ", ".join(f":{p}" for p in order)
    return text(f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}").bindparams(
        **{p: params[p] for p in order}
    )
