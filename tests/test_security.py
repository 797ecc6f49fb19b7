"""Only the copilot writes: the backends refuse anyone without the run's secret.

Real processes over HTTP and a real SQLite file: the action server on its own
(with a secret the test knows, to show that the forged call would work if it
got through) and the three servers as ``bot.server.running`` starts them
(``copilot up``), where only the Rasa server knows the secrets. Then the card
access log and ``copilot audit``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import demo
from bot.advisors import AdvisorIdentity, issue_token, upsert_advisor
from bot.backend_auth import ACTIONS_SECRET_ENV, presents, secret_from_env
from bot.cards import audit, db
from bot.cards.models import Client, ClientAlias, Preference, PreferenceEvent, VisitNote
from bot.cli import main
from bot.paths import project_root
from bot.server import Servers, running

SECRET = "test-only-secret-0123456789abcdef"
# A made-up manager, the identity the forged calls claim.
FORGED = {"id": "M999", "name": "王经理", "store": "上海恒隆店", "role": "manager"}
DIAMOND = ("C0001", "王建国", "18825273100")
WATCHED = (Preference, PreferenceEvent, ClientAlias, VisitNote, Client, audit.CardAccess)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'copilot.db'}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
    return url


def forged_call(text: str = "记一下王建国不吃香菜") -> dict[str, Any]:
    """What the attacker of issue 9 posted: a preference on a diamond client's card,
    claimed by a manager who does not exist, in Rasa's action-call format."""
    return {
        "next_action": "action_record_preference",
        "sender_id": FORGED["id"],
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": FORGED["id"],
            "slots": {},
            "latest_message": {
                "text": text,
                "intent": {"name": "record_preference", "confidence": 1.0},
                "entities": [
                    {"entity": "client_name", "value": "王建国", "start": 3, "end": 6},
                    {"entity": "preference_category", "value": "忌口", "start": 6, "end": 8},
                ],
                "metadata": {"advisor": FORGED},
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def send(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


def health(base: str) -> tuple[int, Any]:
    status, answer = send(f"{base}/health", method="GET")
    return status, json.loads(answer)


def as_json(call: dict[str, Any]) -> bytes:
    return json.dumps(call, ensure_ascii=False).encode()


def counts(url: str) -> dict[str, int]:
    with db.session_scope(url) as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in WATCHED
        }


def readable(answer: bytes) -> str:
    """The answer as text, with JSON's \\u escapes spelled out."""
    try:
        return json.dumps(json.loads(answer), ensure_ascii=False)
    except ValueError:
        return answer.decode("utf-8", "replace")


def assert_reveals_nothing(answer: bytes) -> None:
    text = readable(answer)
    for secret in (*DIAMOND, "preferences", "普洱", "钻石", "events", "responses"):
        assert secret not in text, text


def refused_before_the_body(port: int, path: str, extra: str = "") -> tuple[float, bytes]:
    """Declare a 6 MB body, send 1 kB of it, and time the answer: a server that
    read the body first would still be waiting for the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {6 * 1024 * 1024}\r\n{extra}\r\n"
        )
        connection.sendall(head.encode() + b"{" + b" " * 1023)
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
        return time.monotonic() - started, answer


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not come up; see {log}")


# -- the action server on its own, with a secret the test knows ----------------------------


@pytest.fixture(scope="module")
def lone_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of ``python -m bot.action_server`` on a demo database."""
    folder = tmp_path_factory.mktemp("actions")
    url = demo_database(folder)
    port = free_port()
    log = folder / "actions.log"
    env = {**os.environ, "COPILOT_DB_URL": url, ACTIONS_SECRET_ENV: SECRET}
    env.pop("COPILOT_ACTIONS_HOST", None)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.action_server", "--port", str(port)],
            cwd=project_root(), env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}", url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_forged_calls_without_the_secret_change_nothing(lone_actions: tuple[str, str]) -> None:
    base, url = lone_actions
    before = counts(url)
    json_type = {"Content-Type": "application/json"}
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {SECRET[:-1]}"},
        {"Authorization": f"Basic {SECRET}"},
        {"Authorization": SECRET},
        {"X-Secret": SECRET},
    ):
        status, answer = send(f"{base}/webhook", as_json(forged_call()), {**json_type, **headers})
        assert status == 401, (headers, answer)
        assert json.loads(answer) == {"error": "missing or wrong action server secret"}
    for method, path in (("GET", "/actions"), ("OPTIONS", "/webhook"), ("GET", "/health/")):
        status, answer = send(f"{base}{path}", None, {"Origin": "http://evil"}, method)
        assert status == 401, (method, path, answer)
    assert counts(url) == before


def test_the_secret_is_checked_before_the_body_is_read(lone_actions: tuple[str, str]) -> None:
    base, url = lone_actions
    port = int(base.rsplit(":", 1)[1])
    before = counts(url)
    seconds, answer = refused_before_the_body(port, "/webhook")
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert seconds < 2.0
    assert b"connection: close" in answer.lower()
    # The whole of a huge body, sent: refused all the same, nothing parsed.
    status, body = send(f"{base}/webhook", b"[" * (6 * 1024 * 1024), {"Authorization": "Bearer x"})
    assert status == 401, body
    assert counts(url) == before


def test_health_says_only_ok(lone_actions: tuple[str, str]) -> None:
    assert health(lone_actions[0]) == (200, {"status": "ok"})


def test_with_the_secret_the_same_call_is_run(lone_actions: tuple[str, str]) -> None:
    """The control: the forged call is a working call; only the secret stopped it.
    With the secret, the identity in the metadata counts (that is the Rasa server's)."""
    base, url = lone_actions
    before = counts(url)
    status, answer = send(
        f"{base}/webhook",
        as_json(forged_call()),
        {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )
    assert status == 200, answer
    assert "王建国" in readable(answer)
    after = counts(url)
    assert after["preferences"] == before["preferences"] + 1
    with db.session_scope(url) as session:
        reads = [a for a in audit.accesses(session, "C0001") if a.advisor_id == FORGED["id"]]
        assert "read" in {a.action for a in reads}


# -- the servers as `copilot up` starts them -------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("stack")
    url = demo_database(folder)
    with running(
        url, free_port(), free_port(), "127.0.0.1", folder / "log", nlu_port=free_port()
    ) as started:
        yield started


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.servers
def test_the_running_backends_refuse_forged_requests(stack: Servers) -> None:
    before = counts(stack.db_url)
    # The action server: the forged write, with no secret and with guesses.
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": f"Bearer {SECRET}"}):
        status, answer = send(f"{stack.actions_url}/webhook", as_json(forged_call()), headers)
        assert status == 401, answer
        assert_reveals_nothing(answer)
    # The NLU service: the token in the body, as Rasa's interpreter would send it, is not enough.
    parse = as_json({"text": "查一下王建国", "token": "guess", "message_id": "M999"})
    for headers in ({}, {"Authorization": "Bearer guess"}):
        status, answer = send(f"{stack.nlu_url}/model/parse", parse, headers)
        assert status == 401, answer
        assert b"intent" not in answer
    for url in (stack.actions_url, stack.nlu_url):
        assert health(url) == (200, {"status": "ok"})
    for url, path in ((stack.actions_url, "/webhook"), (stack.nlu_url, "/model/parse")):
        seconds, answer = refused_before_the_body(port_of(url), path, "Authorization: Bearer x\r\n")
        assert answer.startswith(b"HTTP/1.1 401") and seconds < 2.0, answer
        status, _ = send(f"{url}{path}", b"{" * (6 * 1024 * 1024))
        assert status == 401
    assert counts(stack.db_url) == before


def non_loopback_addresses() -> list[str]:
    """This machine's own non-loopback IPv4 addresses, found from its routes (a UDP
    socket's connect sends nothing)."""
    found = set()
    for probe in ("8.8.8.8", "10.255.255.254", "192.168.255.254", "172.31.255.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
            except OSError:
                continue
            address = udp.getsockname()[0]
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            found.add(address)
    return sorted(found)


def reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.servers
def test_the_backends_listen_on_loopback_only(stack: Servers) -> None:
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address")
    with socket.socket() as everywhere:  # the control: the address does take connections
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        control = everywhere.getsockname()[1]
        for address in addresses:
            assert reachable(address, control), address
            assert not reachable(address, port_of(stack.actions_url)), address
            assert not reachable(address, port_of(stack.nlu_url)), address
    assert reachable("127.0.0.1", port_of(stack.actions_url))


@pytest.mark.servers
def test_a_message_through_the_copilot_channel_still_works_and_is_audited(
    stack: Servers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session_scope(stack.db_url) as session:
        token = issue_token(
            session, upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor")
        )
    status, answer = send(
        f"{stack.rasa_url}/webhooks/copilot/webhook",
        json.dumps({"message": "查一下王建国"}, ensure_ascii=False).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert status == 200, answer
    replies = json.loads(answer)
    client = replies[-1]["custom"]["copilot"]["client"]
    assert client["id"] == "C0001" and "****" in client["phone"]  # NLU and actions both answered
    with db.session_scope(stack.db_url) as session:
        reads = [a for a in audit.accesses(session, "C0001") if a.action == "read"]
    assert reads and (reads[0].advisor_id, reads[0].advisor_store) == ("A001", "上海恒隆店")
    monkeypatch.setenv("COPILOT_DB_URL", stack.db_url)
    assert main(["audit", "C0001"]) == 0
    printed = capsys.readouterr().out
    assert "A001 李娜  上海恒隆店  read" in printed


# -- the card access log ----------------------------------------------------------------------

SHANGHAI = AdvisorIdentity("A001", "李娜", "上海恒隆店", "advisor")
BEIJING = AdvisorIdentity("A002", "陈思远", "北京SKP店", "advisor")


def test_record_and_accesses_newest_first(session: Session) -> None:
    audit.record(session, SHANGHAI, "C0001", "read", "action_lookup_client")
    audit.record(session, BEIJING, "C0001", "write", "忌口·不吃香菜" * 40)
    audit.record(session, BEIJING, "C0002", "read")
    session.flush()
    rows = audit.accesses(session, "C0001")
    assert [(r.advisor_id, r.advisor_name, r.advisor_store, r.action) for r in rows] == [
        ("A002", "陈思远", "北京SKP店", "write"),
        ("A001", "李娜", "上海恒隆店", "read"),
    ]
    assert len(rows[0].detail) == audit.DETAIL_CHARS
    assert rows[1].detail == "action_lookup_client"
    assert [r.client_id for r in audit.accesses(session, "C0002")] == ["C0002"]
    assert len(audit.accesses(session, "C0001", limit=1)) == 1
    assert audit.accesses(session, "C9999") == []


def test_copilot_audit_prints_who_saw_or_changed_a_client(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with db.session_scope(db_url) as session:
        audit.record(session, SHANGHAI, "C0001", "read", "action_lookup_client")
        audit.record(session, BEIJING, "C0001", "retract", "饮品·美式")
        session.flush()
        first, second = session.execute(select(audit.CardAccess).order_by(audit.CardAccess.id))
        first[0].at = datetime(2026, 11, 28, 17, 5, 9)  # UTC: 01:05:09 next day in Shanghai
        second[0].at = datetime(2026, 11, 29, 2, 0, 0)
    assert main(["audit", "C0001"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "C0001" in lines[0] and "UTC+8" in lines[0]
    assert lines[1:] == [
        "2026-11-29 10:00:00  A002 陈思远  北京SKP店  retract  饮品·美式",
        "2026-11-29 01:05:09  A001 李娜  上海恒隆店  read  action_lookup_client",
    ]
    assert main(["audit", "C0404"]) == 0
    assert "No recorded access" in capsys.readouterr().out


def test_the_migration_creates_and_drops_the_log(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    engine = db.get_engine(db_url)
    indexes = {i["name"] for i in inspect(engine).get_indexes("card_access")}
    assert {"ix_card_access_client_id", "ix_card_access_at"} <= indexes
    with engine.begin() as connection:
        config = db.alembic_config(db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_trust")
    assert "card_access" not in inspect(engine).get_table_names()
    db.upgrade(db_url)
    assert "card_access" in inspect(engine).get_table_names()


def test_rasa_reads_the_secrets_from_the_environment_not_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rasa.core.utils import read_endpoints_from_path

    from bot.settings import Settings

    settings = Settings(actions_secret="actions-" + SECRET, nlu_token="nlu-" + SECRET)
    for name, value in settings.rasa_environment().items():  # as bot.rasa_server sets them
        monkeypatch.setenv(name, value)
    path = project_root() / "endpoints.yml"  # the file Rasa runs with, as it is
    assert SECRET not in path.read_text(encoding="utf-8")
    endpoints = read_endpoints_from_path(str(path))
    assert endpoints.action.headers == {"Authorization": f"Bearer actions-{SECRET}"}
    assert endpoints.nlu.headers == {"Authorization": f"Bearer nlu-{SECRET}"}
    assert endpoints.nlu.token is None


def test_the_secret_must_be_presented_exactly() -> None:
    assert presents(f"Bearer {SECRET}", SECRET)
    assert presents(f"bearer  {SECRET} ", SECRET)
    for header in (None, "", SECRET, f"Basic {SECRET}", f"Bearer {SECRET}x", "Bearer 你好"):
        assert not presents(header, SECRET), header
    assert not presents("Bearer ", "")


def test_a_backend_will_not_start_without_a_usable_secret() -> None:
    for environ in ({}, {ACTIONS_SECRET_ENV: ""}, {ACTIONS_SECRET_ENV: "short"}):
        with pytest.raises(SystemExit, match=ACTIONS_SECRET_ENV):
            secret_from_env(ACTIONS_SECRET_ENV, environ)
    assert secret_from_env(ACTIONS_SECRET_ENV, {ACTIONS_SECRET_ENV: SECRET}) == SECRET
