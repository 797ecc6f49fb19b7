"""Durable conversations: a reception in progress comes back exactly as it was saved.

Every backend is real: SQLite (per test), a throwaway PostgreSQL and a throwaway
redis-server (one per module, on free loopback ports). The reception is built
by the real actions against the demo cards, so the documents are the size the
copilot really writes (client cards and suggestions in every bot message).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import delete, update

from actions.chat import ActionChat
from actions.flows import ActionRelaySignal, ActionStartReception
from bot.cards import db
from bot.paths import project_root
from bot.trackers.redis_store import RedisTrackerStore
from bot.trackers.snapshot import Snapshot
from bot.trackers.sql import SqlTrackerStore
from bot.trackers.store import ConversationConflict, DurableTrackerStore, cap
from bot.trackers.table import Conversation
from tests.conftest import make_tracker
from tests.throwaway_servers import pg_url, redis_url  # noqa: F401  (fixtures)

ROOT = project_root()
SENDER = "A001"
LIMIT = 20


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


def make_store(kind: str, url: str, domain: Domain) -> DurableTrackerStore:
    """A new store instance (its own read cache), as a new replica would have."""
    if kind == "redis":
        return RedisTrackerStore(domain, url, max_event_history=LIMIT)
    return SqlTrackerStore(domain, url, max_event_history=LIMIT)


@dataclass(frozen=True)
class Backend:
    kind: str
    url: str

    def store(self, domain: Domain) -> DurableTrackerStore:
        return make_store(self.kind, self.url, domain)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    if kind == "sqlite":
        return Backend(kind, request.getfixturevalue("db_url"))
    if kind == "postgres":
        url = request.getfixturevalue("pg_url")
        db.upgrade(url)
        with db.get_engine(url).begin() as connection:
            connection.execute(delete(Conversation.__table__))
        return Backend(kind, url)
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return Backend(kind, url)


def reception_events(sender: str = SENDER) -> list[Event]:
    """A reception of 王建国 four turns in, then five turns of small talk with the
    copilot, as Rasa logs them, from the real actions. The small talk sets no slot,
    so none of the events that set the reception's slots is among the last 20."""
    intents = [
        "start_reception", "client_situation", "client_problem", "client_need",
        "lookup_client", "greet", "help", "next_step", "record_preference", "goodbye",
    ]  # fmt: skip
    events: list[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    slots: dict[str, Any] = {}
    for number, (text, intent, action) in enumerate(
        [
            ("开始接待王建国", "start_reception", ActionStartReception()),
            ("他说平时经常出差见投资人", "client_situation", ActionRelaySignal()),
            ("他说现在戴的是一块运动表", "client_situation", ActionRelaySignal()),
            ("他说运动表配西装总觉得不太搭", "client_problem", ActionRelaySignal()),
            ("收到", "greet", ActionChat()),
            ("你都能帮我干啥来着", "help", ActionChat()),
            ("在吗", "greet", ActionChat()),
            ("ok👌", "greet", ActionChat()),
            ("hhh好的", "greet", ActionChat()),
        ]
    ):
        metadata = {"advisor": {"id": sender, "name": "李娜", "store": "上海恒隆店"}}
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.98},
            "entities": [],
            "intent_ranking": [
                {"name": name, "confidence": 0.98 if name == intent else 0.002}
                for name in [intent, *(i for i in intents if i != intent)]
            ],
            "message_id": f"{number:032x}",
            "metadata": metadata,
        }
        events.append(
            UserUttered(text, parse_data["intent"], [], parse_data, input_channel="copilot",
                        message_id=f"{number:032x}", metadata=metadata)
        )  # fmt: skip
        events.append(ActionExecuted(action.name(), policy="RulePolicy", confidence=1.0))
        dispatcher = CollectingDispatcher()
        for event in action.run(dispatcher, make_tracker(text, intent, slots=dict(slots)), {}):
            slots[event["name"]] = event["value"]
            parsed = Event.from_parameters(event)
            assert parsed is not None
            events.append(parsed)
        for message in dispatcher.messages:
            data = {key: message.get(key) for key in ("buttons", "custom", "image", "attachment")}
            events.append(BotUttered(message.get("text"), data, {}))
        events.append(ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0))
    return events


@pytest.fixture()
def reception(demo_db: str, domain: Domain) -> list[Event]:
    return reception_events()


def state(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Everything Rasa reads from a tracker, as JSON (what another replica would see)."""
    return json.loads(json.dumps(tracker.current_state(EventVerbosity.ALL)))


def expected_after_save(events: list[Event], domain: Domain) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(SENDER, events, domain.slots)
    cap(tracker, LIMIT)
    return tracker


def test_reception_survives_the_cap_and_comes_back_in_another_replica(
    backend: Backend, reception: list[Event], domain: Domain
) -> None:
    assert len(reception) > LIMIT
    tracker = DialogueStateTracker.from_events(SENDER, reception, domain.slots)

    async def scenario() -> DialogueStateTracker | None:
        writer, reader = backend.store(domain), backend.store(domain)
        await writer.save(tracker)
        found = await reader.retrieve(SENDER)
        assert await reader.retrieve("nobody") is None
        assert list(await reader.keys()) == [SENDER]
        return found

    found = asyncio.run(scenario())
    assert found is not None
    assert state(found) == state(expected_after_save(reception, domain))
    # The reception is where it was: mode, step, client and the facts gathered.
    assert found.get_slot("mode") == "reception"
    assert found.get_slot("flow_step") == "implication"
    flow_state = found.get_slot("flow_state")
    assert isinstance(flow_state, dict) and "运动表" in json.dumps(flow_state, ensure_ascii=False)
    assert found.get_slot("active_client_id") == "C0001"
    # The events that set them fell off the 20-event history; the values lead it,
    # so Rasa's replays (each action runs on tracker.copy()) see them too.
    carried = [e.key for e in found.events if isinstance(e, SlotSet)]
    assert sorted(carried) == ["active_client_id", "flow_state", "flow_step", "mode"]
    assert len(found.events) == LIMIT + len(carried)
    assert all(isinstance(e, SlotSet) for e in list(found.events)[: len(carried)])
    assert found.copy().current_slot_values() == found.current_slot_values()
    assert found.latest_message is not None
    assert found.latest_message.text == "hhh好的"
    # The same object as the event in the history, as in a tracker never saved.
    assert found.latest_message is [e for e in found.events if isinstance(e, UserUttered)][-1]
    assert found.events.maxlen is None  # a turn's new events do not push the carried ones out


def test_cap_carries_only_slots_that_are_still_set(domain: Domain) -> None:
    chat = [UserUttered("在吗"), ActionExecuted("action_chat"), ActionExecuted("action_listen")]
    tracker = DialogueStateTracker.from_events(
        SENDER,
        [SlotSet("mode", "reception"), SlotSet("awaiting", "client"), *chat * 3,
         Restarted(), SlotSet("mode", "complaint"), *chat * 7],
        domain.slots,
    )  # fmt: skip
    cap(tracker, LIMIT)
    assert [e.as_dict()["event"] for e in list(tracker.events)[:2]] == ["slot", "action"]
    assert len(tracker.events) == LIMIT + 1
    # awaiting was cleared by the restart: it stays cleared in a replay too.
    replayed = tracker.copy()
    assert replayed.current_slot_values() == tracker.current_slot_values()
    assert (replayed.get_slot("mode"), replayed.get_slot("awaiting")) == ("complaint", None)
    cap(tracker, LIMIT)  # capping again changes nothing
    assert len(tracker.events) == LIMIT + 1


def test_unchanged_conversation_is_not_parsed_again_and_trackers_are_independent(
    backend: Backend,
    reception: list[Event],
    domain: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    loads = Snapshot.loads.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Snapshot], version: str, text: str | bytes) -> Snapshot:
        parsed.append(version)
        return loads(cls, version, text)

    monkeypatch.setattr(Snapshot, "loads", classmethod(counting))
    tracker = DialogueStateTracker.from_events(SENDER, reception, domain.slots)

    async def scenario() -> None:
        here, other = backend.store(domain), backend.store(domain)
        await here.save(tracker)
        first = await here.retrieve(SENDER)
        assert first is not None and parsed == []  # cached when saved
        # A turn that fails after changing its tracker leaves nothing behind.
        first.update(SlotSet("mode", "complaint"))
        first.update(UserUttered("这句没有保存"))
        again = await here.retrieve(SENDER)
        assert again is not None and parsed == []
        assert again.get_slot("mode") == "reception" and state(again) == state(tracker)
        # Another replica moves the conversation on: read and parsed once here.
        moved = await other.retrieve(SENDER)
        assert moved is not None and len(parsed) == 1
        moved.update(SlotSet("mode", "idle"))
        await other.save(moved)
        assert (await here.retrieve(SENDER)).get_slot("mode") == "idle"  # type: ignore[union-attr]
        assert (await here.retrieve(SENDER)).get_slot("mode") == "idle"  # type: ignore[union-attr]
        assert len(parsed) == 2

    asyncio.run(scenario())


def test_a_save_based_on_a_stale_read_is_refused(
    backend: Backend, reception: list[Event], domain: Domain
) -> None:
    """Two replicas ran a turn of the same conversation at once (a lock outlived):
    the later save must not silently overwrite the earlier one."""

    async def scenario() -> str | None:
        first, second = backend.store(domain), backend.store(domain)
        await first.save(DialogueStateTracker.from_events(SENDER, reception, domain.slots))
        one, two = await first.retrieve(SENDER), await second.retrieve(SENDER)
        assert one is not None and two is not None
        one.update(SlotSet("mode", "complaint"))
        await first.save(one)
        two.update(SlotSet("mode", "roleplay"))
        with pytest.raises(ConversationConflict, match="A001"):
            await second.save(two)
        # Read again, the second replica goes on from the saved state.
        latest = await second.retrieve(SENDER)
        assert latest is not None
        latest.update(SlotSet("flow_step", "need_payoff"))
        await second.save(latest)
        final = await backend.store(domain).retrieve(SENDER)
        assert final is not None and final.get_slot("flow_step") == "need_payoff"
        return final.get_slot("mode")

    assert asyncio.run(scenario()) == "complaint"


def test_a_new_tracker_never_replaces_a_stored_conversation(
    backend: Backend, reception: list[Event], domain: Domain
) -> None:
    """If a read fails for a moment, Rasa starts the conversation afresh; saving that
    must not wipe the reception in progress."""

    async def scenario() -> DialogueStateTracker | None:
        store = backend.store(domain)
        await store.save(DialogueStateTracker.from_events(SENDER, reception, domain.slots))
        with pytest.raises(ConversationConflict, match="already stored"):
            await backend.store(domain).create_tracker(SENDER)  # Rasa's path for a new one
        return await backend.store(domain).retrieve(SENDER)

    kept = asyncio.run(scenario())
    assert kept is not None and kept.get_slot("mode") == "reception"


def test_an_unreadable_conversation_starts_over(
    backend: Backend, domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[DialogueStateTracker | None, DialogueStateTracker | None]:
        store = backend.store(domain)
        await store.save(DialogueStateTracker.from_events(SENDER, [SlotSet("mode", "idle")]))
        if backend.kind == "redis":
            await store.redis.hset(store.key_prefix + SENDER, "d", "{not json")  # type: ignore[attr-defined]
        else:
            with db.get_engine(backend.url).begin() as connection:
                connection.execute(update(Conversation.__table__).values(state="{not json"))
        reader = backend.store(domain)
        broken = await reader.get_or_create_tracker(SENDER)
        broken.update(SlotSet("mode", "complaint"))
        await reader.save(broken)  # replaces the unreadable document
        return broken, await backend.store(domain).retrieve(SENDER)

    broken, healed = asyncio.run(scenario())
    assert broken is not None and "starts over" in caplog.text
    assert healed is not None and healed.get_slot("mode") == "complaint"


def test_rasa_creates_and_reads_a_new_conversation(backend: Backend, domain: Domain) -> None:
    kind = {"sqlite": "bot.trackers.sql.SqlTrackerStore", "postgres": "bot.trackers.sql."
            "SqlTrackerStore", "redis": "bot.trackers.redis_store.RedisTrackerStore"}  # fmt: skip
    config = EndpointConfig(url=backend.url, type=kind[backend.kind], max_event_history=LIMIT)
    store = TrackerStore.create(config, domain=domain)
    assert isinstance(store, DurableTrackerStore) and store.event_limit == LIMIT

    async def scenario() -> DialogueStateTracker:
        created = await store.get_or_create_tracker("A009")
        created.update(SlotSet("mode", "idle"))
        await store.save(created)
        return await store.get_or_create_tracker("A009")

    again = asyncio.run(scenario())
    assert again.get_slot("mode") == "idle"
    assert [e.as_dict()["event"] for e in again.events] == ["action", "slot"]


def saving_child(kind: str, url: str, events_file: str, state_file: str) -> None:
    """Run in a subprocess: save the reception, report its state, then wait to be killed."""
    domain = Domain.load(str(ROOT / "domain"))
    events = json.loads(Path(events_file).read_text(encoding="utf-8"))
    tracker = DialogueStateTracker.from_dict(SENDER, events, domain.slots)
    asyncio.run(make_store(kind, url, domain).save(tracker))
    Path(state_file).write_text(json.dumps(state(tracker)), encoding="utf-8")
    print("saved", flush=True)
    time.sleep(3600)


def test_reception_survives_sigkill_of_the_process_that_saved_it(
    backend: Backend, reception: list[Event], domain: Domain, tmp_path: Path
) -> None:
    events_file, state_file = tmp_path / "events.json", tmp_path / "state.json"
    events_file.write_text(json.dumps([e.as_dict() for e in reception]), encoding="utf-8")
    code = (
        "from tests.test_trackers import saving_child; "
        f"saving_child({backend.kind!r}, {backend.url!r}, {str(events_file)!r}, "
        f"{str(state_file)!r})"
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"saved", "the child did not save"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
    saved = json.loads(state_file.read_text(encoding="utf-8"))
    assert saved == state(expected_after_save(reception, domain))

    found = asyncio.run(backend.store(domain).retrieve(SENDER))
    assert found is not None and state(found) == saved
    assert (found.get_slot("mode"), found.get_slot("flow_step")) == ("reception", "implication")


def cpu_ms(action: Callable[[], object], repeat: int = 200) -> float:
    """Median CPU time of ``action`` in ms (this thread's CPU, not wall time: other work
    on the machine slows the clock, not the work)."""
    action()
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        action()
        times.append(time.thread_time() - started)
    return statistics.median(times) * 1000


def test_reads_skip_the_work_that_makes_rasas_slow(
    reception: list[Event], domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes a read cheap, checked by what it does, not by a clock: a cached
    snapshot becomes a tracker without parsing anything, and parsing a document
    looks each event class up once, not by walking Event's subclasses per event.
    The CPU cost is printed beside Rasa's own round trip for the record (timings are
    ``copilot bench``'s job, not an assertion's)."""
    tracker = expected_after_save(reception, domain)
    snapshot = Snapshot.of(tracker, "v1")
    document = snapshot.dumps()
    rasa_text = json.dumps(tracker.as_dialogue().as_dict())

    def rasa_read() -> None:
        fresh = DialogueStateTracker(SENDER, domain.slots)
        fresh.recreate_from_dialogue(Dialogue.from_parameters(json.loads(rasa_text)))

    costs = {
        "save (to JSON)": cpu_ms(lambda: Snapshot.of(tracker, "v2").dumps()),
        "read (parse)": cpu_ms(lambda: Snapshot.loads("v1", document)),
        "read (cached)": cpu_ms(lambda: snapshot.tracker(SENDER, domain.slots)),
        "Rasa's save": cpu_ms(lambda: json.dumps(tracker.as_dialogue().as_dict())),
        "Rasa's read": cpu_ms(rasa_read),
    }
    print(f"\n{len(document.encode())} bytes at {LIMIT} events; CPU ms per call: "
          + ", ".join(f"{name} {ms:.3f}" for name, ms in costs.items()))  # fmt: skip

    looked_up: list[str] = []
    resolve = Event.resolve_by_type

    def counted(type_name: str, default: Any = None) -> Any:
        looked_up.append(type_name)
        return resolve(type_name, default)

    monkeypatch.setattr("bot.trackers.snapshot._EVENT_CLASSES", {})
    monkeypatch.setattr(Event, "resolve_by_type", staticmethod(counted))
    parsed = Snapshot.loads("v1", document)
    Snapshot.loads("v1", document)
    assert sorted(looked_up) == sorted({e["event"] for e in json.loads(document)["events"]})
    assert state(parsed.tracker(SENDER, domain.slots)) == state(tracker)

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a cached read parsed or replayed something")

    with monkeypatch.context() as nothing_parsed:
        nothing_parsed.setattr("bot.trackers.snapshot.json.loads", refuse)
        nothing_parsed.setattr("bot.trackers.snapshot.ujson.loads", refuse)
        nothing_parsed.setattr(Event, "resolve_by_type", staticmethod(refuse))
        nothing_parsed.setattr(DialogueStateTracker, "update", refuse)
        nothing_parsed.setattr(DialogueStateTracker, "replay_events", refuse)
        cached = snapshot.tracker(SENDER, domain.slots)
    assert state(cached) == state(tracker)


def test_a_save_encodes_only_the_events_it_has_not_encoded_before(
    reception: list[Event], domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document is the JSON of every event's ``as_dict`` and the state, as if all were
    encoded anew; the next turn's save encodes only the events that turn added."""
    tracker = expected_after_save(reception, domain)
    first = Snapshot.of(tracker, "v1").dumps()
    encoded: list[str] = []

    def counted(as_dict: Callable[[Event], dict[str, Any]]) -> Callable[[Event], dict[str, Any]]:
        def encode(event: Event) -> dict[str, Any]:
            encoded.append(type(event).__name__)
            return as_dict(event)

        return encode

    def turn() -> list[Event]:
        return [
            ActionExecuted("action_listen"),
            UserUttered("她对坚果过敏", {"name": "record_preference", "confidence": 0.9}),
            ActionExecuted("action_record_preference"),
            BotUttered("记下了：坚果过敏"),
        ]

    with monkeypatch.context() as patched:
        for cls in {type(event) for event in [*tracker.events, *turn()]}:
            patched.setattr(cls, "as_dict", counted(cls.as_dict))
        again = Snapshot.loads("v1", first).tracker(SENDER, domain.slots)
        for event in turn():
            again.update(event)
        cap(again, LIMIT)
        Snapshot.of(again, "v2").dumps()  # encodes what was parsed, not yet encoded
        encoded.clear()
        for event in turn():
            again.update(event)
        cap(again, LIMIT)
        second = Snapshot.of(again, "v3").dumps()
    # The cap carries the slots set before its window as new SlotSet events at its head.
    carried = [e for e in again.events if isinstance(e, SlotSet)][: encoded.count("SlotSet")]
    assert all(e.timestamp == again.events[len(carried)].timestamp for e in carried)
    assert sorted(n for n in encoded if n != "SlotSet") == sorted(
        type(event).__name__ for event in turn()
    )
    document = json.loads(second)
    events = [event.as_dict() for event in again.events]
    assert document["events"] == json.loads(json.dumps(events)) and len(events) > LIMIT
    assert json.loads(first)["events"] == json.loads(
        json.dumps([e.as_dict() for e in tracker.events])
    )
    assert state(Snapshot.loads("v3", second).tracker(SENDER, domain.slots)) == state(again)


def test_sqlite_runs_in_the_loop_and_waits_for_a_held_lock_in_a_thread(
    db_url: str, reception: list[Event], domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the file's write lock free, reads and saves run in the event loop (no
    thread). While another connection holds it, a save waits in a worker thread: the
    loop goes on meanwhile, and the save lands once the lock is released."""
    import bot.trackers.sql as sql

    threads: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(work: Callable[..., Any], *args: Any) -> Any:
        threads.append(work.__name__)
        return await to_thread(work, *args)

    monkeypatch.setattr(sql.asyncio, "to_thread", counted)
    tracker = expected_after_save(reception, domain)
    path = db_url.removeprefix("sqlite:///")

    async def scenario() -> tuple[int, DialogueStateTracker | None]:
        store = SqlTrackerStore(domain, db_url, max_event_history=LIMIT)
        await store.save(tracker)
        assert await store.retrieve(SENDER) is not None
        assert threads == []  # the lock was free: all in the loop
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process's write in progress
        release = threading.Timer(0.2, holder.execute, ["COMMIT"])
        release.start()
        again = await store.retrieve(SENDER)  # a WAL read is not blocked by a writer
        assert again is not None
        again.update(UserUttered("她对坚果过敏", {"name": "record_preference"}))
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(tick())
        await store.save(again)  # waits for the lock, the loop going on meanwhile
        ticking.cancel()
        release.join()
        holder.close()
        return ticks, await make_store("sqlite", db_url, domain).retrieve(SENDER)

    ticks, found = asyncio.run(scenario())
    assert ticks > 0 and threads == ["_write_now"]
    assert found is not None and found.latest_message is not None
    assert found.latest_message.text == "她对坚果过敏"


def test_save_and_retrieve_time(backend: Backend, reception: list[Event], domain: Domain) -> None:
    """Wall time per call at 20 events, the backend's round trips included."""
    tracker = expected_after_save(reception, domain)
    expected = state(tracker)

    async def scenario() -> dict[str, float]:
        store, other = backend.store(domain), backend.store(domain)
        await store.save(tracker)
        timings: dict[str, list[float]] = {"save": [], "retrieve": [], "retrieve, parsed": []}
        current = tracker
        for _ in range(100):
            started = time.perf_counter()
            found = await store.retrieve(SENDER)
            timings["retrieve"].append(time.perf_counter() - started)
            assert found is not None and state(found) == expected
            current = found
            started = time.perf_counter()
            await store.save(current)
            timings["save"].append(time.perf_counter() - started)
            started = time.perf_counter()
            elsewhere = await other.retrieve(SENDER)  # the other replica's cache is stale
            timings["retrieve, parsed"].append(time.perf_counter() - started)
            assert elsewhere is not None and state(elsewhere) == expected
        return {name: statistics.median(values) * 1000 for name, values in timings.items()}

    medians = asyncio.run(scenario())
    # For the record only: timings are copilot bench's job, not an assertion's.
    print(f"\n{backend.kind}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items()))
