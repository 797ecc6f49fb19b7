"""The settings object: defaults, every problem named at once, the topology rules,
what endpoints.yml gets from it, and that no module reads these variables itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import inspect

from bot.cli import main
from bot.locks import InProcessLockStore, RedisLockStore
from bot.paths import project_root
from bot.settings import (
    BY_NAME,
    RASA_VARIABLES,
    VARIABLES,
    Settings,
    SettingsError,
    current,
)
from bot.trackers.redis_store import RedisTrackerStore
from bot.trackers.sql import SqlTrackerStore

ROOT = project_root()
SECRET = "s" * 20
PG = "postgresql+psycopg2://copilot:pw@db.internal/copilot"


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    return raised.value.problems


def test_defaults_are_the_single_machine() -> None:
    settings = Settings.from_env({})
    assert settings.db_url == f"sqlite:///{ROOT / 'var' / 'copilot.db'}"
    assert (settings.trackers, settings.locks, settings.replicas) == ("sql", "in-process", 1)
    assert (settings.port, settings.actions_port, settings.nlu_port) == (5005, 5055, 5056)
    assert settings.action_endpoint_url == "http://127.0.0.1:5055/webhook"
    assert settings.nlu_endpoint_url == "http://127.0.0.1:5056"
    assert (settings.actions_host, settings.nlu_host) == ("127.0.0.1", "127.0.0.1")
    assert not settings.wecom_can_send and settings.wecom_client() is None


def test_every_problem_is_named_at_once_in_english() -> None:
    found = problems(
        {"COPILOT_PORT": "5o05", "COPILOT_REPLICAS": "two", "COPILOT_ACTIONS_PORT": "5055"}
    )
    assert found == [
        "COPILOT_REPLICAS must be a whole number, not 'two'",
        "COPILOT_PORT must be a whole number, not '5o05'",
    ]
    found = problems(
        {
            "COPILOT_NLU_PORT": "5005",
            "COPILOT_TRACKER_STORE": "mongo",
            "COPILOT_REDIS_URL": "http://cache:6379",
            "COPILOT_ACTIONS_SECRET": "short",
            "COPILOT_ACTIONS_URL": "actions:5055",
            "WECOM_CORP_ID": "ww123",
            "WECOM_AES_KEY": "x" * 40,
            "WECOM_TOKEN": "t",
        }
    )
    text = "\n".join(found)
    for expected in (
        "COPILOT_NLU_PORT and COPILOT_PORT would both use port 5005",
        "COPILOT_TRACKER_STORE must be auto, sql or redis, not 'mongo'",
        "COPILOT_REDIS_URL must start with redis://",
        "COPILOT_ACTIONS_SECRET must be at least 16 characters",
        "COPILOT_ACTIONS_URL must be an http:// or https:// address",
        "WECOM_CORP_ID and WECOM_SECRET are needed together",
        "WECOM_AES_KEY must be the 43-character EncodingAESKey",
        "also need WECOM_AGENT_ID",
    ):
        assert expected in text, text
    assert str(SettingsError(found)).startswith("The copilot's settings are not valid")


def test_replicas_need_postgresql_and_shared_stores() -> None:
    (refused,) = problems({"COPILOT_REPLICAS": "2"})
    assert "2 replicas need PostgreSQL, not SQLite" in refused
    assert "COPILOT_DB_URL=postgresql" in refused
    assert "in-process cannot serve several replicas" in "\n".join(
        problems(
            {"COPILOT_REPLICAS": "3", "COPILOT_DB_URL": PG, "COPILOT_LOCK_STORE": "in-process"}
        )
    )
    scaled = Settings.from_env({"COPILOT_REPLICAS": "2", "COPILOT_DB_URL": PG})
    assert (scaled.trackers, scaled.locks) == ("redis", "redis")
    # A SQL tracker store on PostgreSQL is shared too; only the lock must be Redis.
    sql = scaled.replace(tracker_store="sql")
    assert (sql.trackers, sql.locks) == ("sql", "redis")
    with pytest.raises(SettingsError, match="PostgreSQL"):
        Settings.from_env({}).replace(replicas=2)


def test_what_rasa_needs_is_checked_before_it_starts() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"COPILOT_REPLICAS": "2", "COPILOT_DB_URL": PG}).rasa_environment()
    text = str(raised.value)
    assert "COPILOT_ACTIONS_SECRET must hold a secret" in text
    assert "COPILOT_NLU_TOKEN must hold a secret" in text
    assert "COPILOT_REDIS_URL must say where" in text


def rasa_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    variables = settings.rasa_environment()
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def test_endpoints_yml_names_exactly_the_variables_the_settings_give() -> None:
    text = re.sub(r"#.*", "", (ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    named = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert named == set(RASA_VARIABLES)
    assert "http" not in text  # no address is written in the file
    assert set(Settings(actions_secret=SECRET, nlu_token=SECRET).rasa_environment()) == named


def test_conversations_have_a_sqlite_file_of_their_own_and_share_a_server_database() -> None:
    def conversations(db_url: str) -> str:
        return Settings(db_url=db_url).conversations_url

    assert conversations("sqlite:////srv/copilot/cards.db") == (
        "sqlite:////srv/copilot/cards-conversations.db"
    )
    assert conversations("sqlite:///var/copilot.db?timeout=9") == (
        "sqlite:///var/copilot-conversations.db?timeout=9"
    )
    assert conversations("sqlite:////srv/v1.2/cards") == "sqlite:////srv/v1.2/cards-conversations"
    assert conversations("sqlite://") == "sqlite://"  # in memory: one connection's database
    assert conversations("sqlite:///:memory:") == "sqlite:///:memory:"
    server = "postgresql+psycopg2://copilot:pw@db.internal/copilot"
    assert conversations(server) == server


def test_rasa_builds_the_single_machine_stores_from_endpoints_yml(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"COPILOT_DB_URL": db_url}).replace(
        actions_secret=SECRET, nlu_token=SECRET + "n", actions_port=6001, nlu_port=6002
    )
    rasa_env(settings, monkeypatch)
    endpoints = read_endpoints_from_path(str(ROOT / "endpoints.yml"))
    assert endpoints.action.url == "http://127.0.0.1:6001/webhook"
    assert endpoints.action.headers == {"Authorization": f"Bearer {SECRET}"}
    assert endpoints.nlu.url == "http://127.0.0.1:6002"
    store = TrackerStore.create(endpoints.tracker_store, domain=Domain.empty())
    assert isinstance(store, SqlTrackerStore) and store.event_limit == 20
    # Conversations in a SQLite file of their own beside the cards, migrated by the store.
    assert str(store.engine.url) == db_url.replace("copilot.db", "copilot-conversations.db")
    assert inspect(store.engine).has_table("conversations")
    assert isinstance(LockStore.create(endpoints.lock_store), InProcessLockStore)


def test_action_calls_leave_the_domain_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """No action reads the domain: Rasa's selective domain keeps it out of every call."""
    rasa_env(Settings().replace(actions_secret=SECRET, nlu_token=SECRET), monkeypatch)
    endpoints = read_endpoints_from_path(str(ROOT / "endpoints.yml"))
    domain = Domain.load(str(ROOT / "domain"))
    tracker = DialogueStateTracker.from_events("A001", [], domain.slots)
    assert domain.user_actions
    for name in domain.user_actions:
        call = RemoteAction(name, endpoints.action)._action_call_format(tracker, domain)
        assert "domain" not in call and call["next_action"] == name


def test_rasa_builds_the_redis_stores_for_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env(
        {"COPILOT_REPLICAS": "2", "COPILOT_DB_URL": PG, "COPILOT_REDIS_URL": "redis://cache:6380/2"}
    ).replace(actions_secret=SECRET, nlu_token=SECRET)
    rasa_env(settings, monkeypatch)
    endpoints = read_endpoints_from_path(str(ROOT / "endpoints.yml"))
    store = TrackerStore.create(endpoints.tracker_store, domain=Domain.empty())
    assert isinstance(store, RedisTrackerStore) and store.event_limit == 20
    locks = LockStore.create(endpoints.lock_store)
    assert isinstance(locks, RedisLockStore)
    assert locks.redis.connection_pool.connection_kwargs["port"] == 6380


def test_current_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_PORT", "6123")
    assert current().port == 6123
    monkeypatch.setenv("COPILOT_PORT", "6124")
    assert current().port == 6124
    assert current() is current()  # cached while nothing changes


def test_settings_round_trip_through_the_environment() -> None:
    settings = Settings.from_env(
        {"COPILOT_REPLICAS": "2", "COPILOT_DB_URL": PG, "COPILOT_REDIS_URL": "redis://r:6379/0",
         "WECOM_CORP_ID": "ww1", "WECOM_SECRET": "sec", "COPILOT_NLU_TOKEN": SECRET}
    )  # fmt: skip
    assert Settings.from_env(settings.environment()) == settings


def test_invalid_settings_stop_a_command_with_the_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COPILOT_PORT", "http")
    assert main(["db", "upgrade"]) == 2
    assert "COPILOT_PORT must be a whole number, not 'http'" in capsys.readouterr().err


def test_up_refuses_replicas_on_sqlite_before_doing_anything(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("copilot up went on despite the refusal")

    monkeypatch.setattr("bot.cli.running", must_not_run)
    monkeypatch.setattr("bot.training.train", must_not_run)
    assert main(["up", "--replicas", "2"]) == 2
    assert "2 replicas need PostgreSQL, not SQLite" in capsys.readouterr().err


def test_the_variables_are_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in section]
    assert not missing, f"README's Configuration does not list {missing}"


# -- nobody reads these variables but bot/settings.py ------------------------------------------


def direct_reads(path: Path) -> list[str]:
    """Settings variables a module reads from the environment itself (os.environ[...],
    os.environ.get(...), os.getenv(...)), by literal name or by a module constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)
    }  # fmt: skip

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            value = constants.get(node.id)
            return value if isinstance(value, str) else None
        return None

    found = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            called = ast.unparse(node.func)
            if called.endswith(("environ.get", "getenv")):
                key = node.args[0]
        name = name_of(key) if key is not None else None
        if name in BY_NAME:
            found.append(name)
    return found


def test_no_module_reads_a_setting_from_the_environment_itself() -> None:
    readers = {}
    for folder in ("bot", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "settings.py" and path.parent.name == "bot":
                continue
            if reads := direct_reads(path):
                readers[str(path.relative_to(ROOT))] = reads
    assert readers == {}


def test_the_check_finds_direct_reads(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'import os\nHOST = "COPILOT_NLU_HOST"\na = os.environ.get(HOST)\n'
        'b = os.environ["WECOM_SECRET"]\nc = os.getenv("COPILOT_DB_URL")\n'
        'd = os.environ.get("HOME")\n',
        encoding="utf-8",
    )
    assert direct_reads(sample) == ["COPILOT_NLU_HOST", "WECOM_SECRET", "COPILOT_DB_URL"]
