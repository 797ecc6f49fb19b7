"""Shared fixtures: a real SQLite database per test, demo data, rasa-sdk trackers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from bot import demo
from bot.advisors import issue_token, upsert_advisor
from bot.cards import db
from bot.paths import project_root
from bot.training import model_path

ROOT = project_root()


@pytest.fixture()
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'copilot.db'}"
    monkeypatch.setenv("COPILOT_DB_URL", url)
    db.upgrade(url)
    return url


@pytest.fixture()
def session(db_url: str) -> Iterator[Session]:
    with db.session_scope(db_url) as active:
        yield active


@pytest.fixture()
def demo_db(db_url: str) -> str:
    with db.session_scope(db_url) as active:
        demo.load_if_empty(active)
    return db_url


@pytest.fixture()
def advisor_tokens(demo_db: str) -> dict[str, str]:
    """Fresh tokens for two demo advisors in different cities."""
    with db.session_scope(demo_db) as active:
        return {
            advisor_id: issue_token(
                active, upsert_advisor(active, advisor_id, name, store, "advisor")
            )
            for advisor_id, name, store in (
                ("A001", "李娜", "上海恒隆店"),
                ("A002", "陈思远", "北京SKP店"),
            )
        }


def make_tracker(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    sender: str = "A001",
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest message is ``text`` classified as ``intent``."""
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
            "metadata": metadata or {},
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


@pytest.fixture(scope="session")
def trained_model() -> Path:
    path = model_path(ROOT)
    if not path.exists():
        pytest.fail(f"{path} is missing: run `copilot prepare` (make test does) first")
    return path


@pytest.fixture(scope="session")
def rasa_agent(trained_model: Path) -> Any:
    """The trained model loaded as Rasa loads it (dask runner, Rasa's own parse).

    Shared by the model tests and used as the reference the fast paths are checked
    against, so no test may change it.
    """
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))
