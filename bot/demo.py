"""The demo data set: cards and advisors from data/demo/, loaded into an empty database."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy.orm import Session

from bot.advisors import issue_token, upsert_advisor
from bot.cards.importer import ImportResult, import_file
from bot.cards.models import Advisor
from bot.cards.store import CardStore
from bot.paths import project_root

DEMO_ADVISOR = "A001"


def demo_dir() -> Path:
    return project_root() / "data" / "demo"


def load_advisors(session: Session, path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        upsert_advisor(session, row["advisor_id"], row["name"], row["store"], row["role"])
    session.flush()
    return len(rows)


def load_if_empty(session: Session) -> ImportResult | None:
    """Load the demo cards and advisors when there are no cards yet."""
    if CardStore(session).count():
        return None
    load_advisors(session, demo_dir() / "advisors.csv")
    return import_file(session, demo_dir() / "clients.csv", progress=False)


def demo_token(session: Session) -> tuple[Advisor, str] | None:
    """A fresh token for the demo advisor, for trying the bot with curl."""
    advisor = session.get(Advisor, DEMO_ADVISOR)
    if advisor is None:
        return None
    return advisor, issue_token(session, advisor)
