"""Follow-ups: tasks generated over an injected clock, the five turns through rasa-sdk,
WeCom reminders and escalation against the local fake WeCom API, and exactly-once
delivery with two scheduler processes (and a restart) sharing one database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from actions.followups import (
    ActionFollowupBirthdays,
    ActionFollowupDone,
    ActionFollowupOverdue,
    ActionFollowupPostpone,
    ActionFollowupToday,
)
from bot.advisors import upsert_advisor
from bot.cards import db
from bot.cards.models import CURRENT, RETIRED, Client, Preference, VisitNote
from bot.channels.wecom.api import WeComClient
from bot.clock import to_local, utcnow
from bot.datafiles import DataFileError
from bot.followups import tasks
from bot.followups.models import (
    CANCELLED,
    DONE,
    DUE,
    ESCALATE,
    OPEN,
    REMIND,
    SENT,
    FollowUp,
    Reminder,
)
from bot.followups.reminders import Sweep, sweep
from bot.followups.rules import load_rules, parse_rules
from bot.purchases.models import Purchase
from tests.conftest import ROOT, make_tracker
from tests.fake_wecom import FakeWeCom, running_fake

CORP, SECRET, AGENT = "wwcorp0001", "fake-secret", "1000002"
STORE = "上海恒隆店"
# Monday 16 March 2026, 10:00 in Shanghai.
NOW = datetime(2026, 3, 16, 2, 0)
RULES = load_rules()


def at_local(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return tasks.utc_at(day, hour, minute)


def add_client(
    session: Session, client_id: str, name: str, *, tier: str = "钻石", advisor: str = "A001",
    created: datetime = NOW - timedelta(days=10), dates: tuple[tuple[str, date], ...] = (),
) -> Client:  # fmt: skip
    client = Client(
        id=client_id, name=name, honorific="女士", tier=tier, home_store=STORE, advisor=advisor,
        surname=name[0], created_at=created, updated_at=created,
    )  # fmt: skip
    session.add(client)
    for value, when in dates:
        client.preferences.append(
            Preference(
                category="重要日期",
                value=value,
                recorded_by="测试",
                store=STORE,
                recorded_at=created,
                date_value=when,
                status=CURRENT,
            )
        )
    session.flush()
    return client


def complaint(session: Session, client_id: str, opened: datetime, issue: str) -> VisitNote:
    note = VisitNote(
        client_id=client_id, kind="complaint", advisor_id="A001", store=STORE,
        summary=f"投诉：{issue}", details={"issue": issue}, status="open", created_at=opened,
    )  # fmt: skip
    session.add(note)
    session.flush()
    return note


def team(session: Session) -> None:
    upsert_advisor(session, "A001", "李娜", STORE, "advisor", "lina")
    upsert_advisor(session, "A007", "吴海燕", STORE, "manager", "wuhaiyan")
    upsert_advisor(session, "A009", "许明哲", "深圳万象城店", "manager", "xumingzhe")


def open_tasks(session: Session) -> dict[str, FollowUp]:
    rows = session.scalars(select(FollowUp).where(FollowUp.status == OPEN)).all()
    return {f"{t.client_id}:{t.kind}": t for t in rows}


# -- generation over an injected clock ------------------------------------------------


def test_tasks_appear_when_due_over_an_injected_clock(session: Session) -> None:
    team(session)
    november = datetime(2025, 11, 1)
    add_client(session, "C1", "周晓雯", dates=(("生日3月21日", date(2000, 3, 21)),))
    add_client(session, "C2", "钱芳", tier="金卡", dates=(("结婚纪念日4月2日", date(2026, 4, 2)),))
    add_client(session, "C3", "孙丽", tier="金卡", dates=(("女儿生日12月5日", date(2026, 12, 5)),))
    add_client(session, "C4", "赵雪", created=november)  # no visit or purchase since
    add_client(session, "C5", "吴敏", created=november)  # bought in February
    add_client(session, "C6", "郑洁", tier="金卡", created=november)  # not top tier
    session.add(
        Purchase(key="p1", client_id="C5", purchased_on=date(2026, 2, 1), store=STORE,
                 amount_fen=1_000_000, category="腕表", order_id="O1")
    )  # fmt: skip
    session.add(
        VisitNote(client_id="C2", kind="visit", advisor_id="A001", store=STORE,
                  summary="· 背景问题：常出差\n· 建议跟进：3月18日", details={},
                  status="visit", follow_up_on=date(2026, 3, 18), created_at=datetime(2026, 3, 4))
    )  # fmt: skip
    session.flush()

    first = tasks.generate(session, at_local(date(2026, 3, 10)))
    assert set(open_tasks(session)) == {"C4:lapsed"}  # the birthday is 11 days off, the visit 8
    assert first.created == 1
    lapsed = open_tasks(session)["C4:lapsed"]
    assert lapsed.owner_id == "A001" and "钻石客户" in lapsed.reason and "129天" in lapsed.reason

    tasks.generate(session, at_local(date(2026, 3, 12)))
    found = open_tasks(session)
    assert set(found) == {"C4:lapsed", "C1:birthday", "C2:visit"}
    birthday = found["C1:birthday"]
    # due five days before (data/followups/rules.yml), at 10:00 local
    assert birthday.event_on == date(2026, 3, 21)
    assert birthday.due_at == at_local(date(2026, 3, 16))
    assert birthday.reason == "生日3月21日（还有9天）"
    assert found["C2:visit"].due_at == at_local(date(2026, 3, 18))
    assert found["C2:visit"].reason.startswith("3月4日接待后约好的回访：常出差")
    reminders = session.scalars(select(Reminder).where(Reminder.followup_id == birthday.id)).all()
    assert [(r.kind, r.due_at, r.status) for r in reminders] == [(REMIND, birthday.due_at, DUE)]

    # Again, and again later the same day: nothing new.
    assert tasks.generate(session, at_local(date(2026, 3, 12))).created == 0
    assert tasks.generate(session, NOW).created == 0

    # A complaint: one task per step deadline, reminded before and escalated at it.
    note = complaint(session, "C1", NOW, "定制胸针延期一个月")
    tasks.generate(session, NOW)
    found = open_tasks(session)
    respond, resolve = found["C1:complaint_respond"], found["C1:complaint_resolve"]
    assert (respond.due_at, resolve.due_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    assert respond.note_id == note.id and "定制胸针延期一个月" in respond.reason
    kinds = session.execute(
        select(Reminder.kind, Reminder.due_at).where(Reminder.followup_id == respond.id)
    ).all()
    assert sorted(kinds) == [
        (ESCALATE, NOW + timedelta(hours=1)),
        (REMIND, NOW + timedelta(minutes=40)),
    ]

    # The anniversary shows up ten days ahead; the family birthday in November.
    tasks.generate(session, at_local(date(2026, 3, 23)))
    assert "C2:anniversary" in open_tasks(session)
    assert "C3:family_date" not in open_tasks(session)
    tasks.generate(session, at_local(date(2026, 11, 28)))
    assert open_tasks(session)["C3:family_date"].due_at == at_local(date(2026, 11, 28))

    # Yearly: next year's birthday is a task of its own.
    tasks.generate(session, at_local(date(2027, 3, 12)))
    births = session.scalars(select(FollowUp).where(FollowUp.kind == "birthday")).all()
    assert sorted(t.event_on for t in births) == [date(2026, 3, 21), date(2027, 3, 21)]


def test_a_corrected_date_cancels_its_task_and_reminder(session: Session) -> None:
    client = add_client(session, "C1", "周晓雯", dates=(("生日3月21日", date(2000, 3, 21)),))
    tasks.generate(session, NOW)
    task = open_tasks(session)["C1:birthday"]
    client.preferences[0].status = RETIRED
    session.flush()
    assert tasks.generate(session, NOW).cancelled == 1
    assert session.get(FollowUp, task.id).status == CANCELLED
    assert session.scalars(select(Reminder.status)).all() == [CANCELLED]


def test_a_resolved_complaint_closes_its_steps(session: Session) -> None:
    add_client(session, "C1", "周晓雯")
    note = complaint(session, "C1", NOW, "表送修拖了一个月")
    tasks.generate(session, NOW)
    assert (
        tasks.record_complaint_progress(session, note.id, ["respond"], NOW + timedelta(minutes=20))
        == 1
    )
    note.status = "resolved"
    session.flush()
    assert tasks.generate(session, NOW + timedelta(minutes=50)).closed == 1
    rows = {t.kind: t for t in session.scalars(select(FollowUp))}
    assert rows["complaint_respond"].done_at == NOW + timedelta(minutes=20)
    assert rows["complaint_resolve"].done_by == "complaint_closed"


def test_yearly_dates_and_29_february() -> None:
    assert tasks.next_occurrence(3, 21, date(2026, 3, 21)) == date(2026, 3, 21)
    assert tasks.next_occurrence(3, 21, date(2026, 3, 22)) == date(2027, 3, 21)
    assert tasks.next_occurrence(2, 29, date(2027, 1, 10)) == date(2027, 2, 28)
    assert tasks.next_occurrence(2, 29, date(2028, 1, 10)) == date(2028, 2, 29)


def test_rules_file_mistakes_name_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "data/followups/rules.yml").read_text(encoding="utf-8")
    bad = tmp_path / "rules.yml"
    bad.write_text(text.replace("inactive_days: 90", "inactive_days: ninety"), encoding="utf-8")
    with pytest.raises(DataFileError, match="whole number") as caught:
        parse_rules(bad)
    assert caught.value.line == text[: text.index("inactive_days: 90")].count("\n") + 1
    bad.write_text(text.replace("respond: complaint_respond", "reply: complaint_respond"), "utf-8")
    with pytest.raises(DataFileError, match="no step 'reply'"):
        parse_rules(bad)
    bad.write_text(text.replace("  lapsed: {title", "  lapsd: {title"), encoding="utf-8")
    with pytest.raises(DataFileError, match="unknown kind 'lapsd'"):
        parse_rules(bad)


# -- the turns, through rasa-sdk with tracker fixtures ------------------------------------


def run(action: Any, text: str, intent: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    action.run(dispatcher, make_tracker(text, intent, **kwargs), {})
    (message,) = dispatcher.messages
    return message["text"], message["custom"]["copilot"]


def test_lists_done_and_postpone_through_the_actions(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.followups.turns.utcnow", lambda: NOW)
    with db.session_scope(demo_db) as session:
        # 周晓雯 (C0004, A001's client) has 生日3月21日 on her card: in five days.
        complaint(session, "C0001", NOW - timedelta(minutes=70), "表送修拖了一个月")

    text, payload = run(ActionFollowupToday(), "今天要跟进谁", "followup_today")
    items = payload["followups"]
    assert [(i["client"]["name"], i["kind"], i["status"]) for i in items] == [
        ("王建国", "complaint_respond", "overdue"),
        ("王建国", "complaint_resolve", "open"),
        ("周晓雯", "birthday", "open"),
    ]
    assert set(items[0]) >= {"id", "client", "kind", "due", "status", "reason"}
    assert items[0]["due"] == "2026-03-16T09:50:00+08:00"
    assert all(i["opener"] for i in items) and "王先生" in items[0]["opener"]
    assert "已超时10分钟" in text and "1. ⏰王先生（王建国" in text

    text, payload = run(ActionFollowupBirthdays(), "这周有哪些客户过生日", "followup_birthdays")
    assert [i["client"]["name"] for i in payload["followups"]] == ["周晓雯"]
    assert "还有5天" in text and "生日" in payload["followups"][0]["opener"]

    text, payload = run(ActionFollowupOverdue(), "有没有超时的投诉", "followup_overdue")
    assert [i["kind"] for i in payload["followups"]] == ["complaint_respond"]

    text, payload = run(ActionFollowupDone(), "第1条完成了", "followup_done")
    assert payload["followups"][0]["status"] == "done" and "今天还剩2条" in text

    name = [{"entity": "client_name", "value": "周晓雯", "start": 0, "end": 3}]
    text, payload = run(
        ActionFollowupPostpone(), "周晓雯那条推迟到周五", "followup_postpone", entities=name
    )
    assert payload["followups"][0]["kind"] == "birthday"
    assert payload["followups"][0]["due"] == "2026-03-20T10:00:00+08:00"
    assert "改到3月20日 10:00" in text or "推到3月20日 10:00" in text

    name = [{"entity": "client_name", "value": "王建国", "start": 0, "end": 3}]
    text, _ = run(
        ActionFollowupPostpone(), "王建国的投诉推迟两天", "followup_postpone", entities=name
    )
    assert "投诉的时限不能往后推" in text

    text, payload = run(ActionFollowupDone(), "第5条完成了", "followup_done")
    assert "没有第5条" in text
    with db.session_scope(demo_db) as session:
        birthday = session.scalars(select(FollowUp).where(FollowUp.kind == "birthday")).one()
        remind = session.scalars(select(Reminder).where(Reminder.followup_id == birthday.id)).one()
        assert remind.due_at == at_local(date(2026, 3, 20)) and birthday.postponed == 1


def test_done_during_a_complaint_marks_its_open_step(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.followups.turns.utcnow", lambda: NOW)
    with db.session_scope(demo_db) as session:
        note_id = complaint(session, "C0001", NOW - timedelta(minutes=30), "包的五金掉色").id
    state = {"flow": "complaint", "note_id": note_id, "client_id": "C0001"}
    _, payload = run(
        ActionFollowupDone(), "客户已经联系上了 完成了", "followup_done",
        slots={"flow_state": state, "mode": "complaint"},
    )  # fmt: skip
    assert payload["followups"][0]["kind"] == "complaint_respond"
    assert payload["followups"][0]["status"] == "done"


# -- reminders and escalation against the fake WeCom API -------------------------------


def sweep_at(url: str, fake: FakeWeCom, now: datetime, worker: str = "test") -> Sweep:
    async def go() -> Sweep:
        client = WeComClient(fake.base_url, CORP, SECRET, AGENT, backoff_s=0.0)
        try:
            return await sweep(url, client, now, worker)
        finally:
            await client.close()

    return asyncio.run(go())


def test_an_overdue_complaint_step_escalates_to_the_store_manager(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        team(session)
        add_client(session, "C1", "周晓雯")
        note_id = complaint(session, "C1", NOW, "定制胸针延期一个月").id
        tasks.generate(session, NOW)
    with running_fake(CORP, SECRET) as fake:
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=39)).sent == 0
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=41)).sent == 1
        assert fake.messages_to("lina")[0].startswith("**跟进提醒 · 投诉·首次联系**")
        # The first contact was not recorded by its deadline: the manager hears of it.
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=61)).sent == 1
        (escalation,) = fake.messages_to("wuhaiyan")
        assert "投诉超时 · 投诉·首次联系" in escalation and "李娜负责" in escalation
        assert "定制胸针延期一个月" in escalation
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=91)).sent == 1  # plan reminder
        with db.session_scope(db_url) as session:
            tasks.record_complaint_progress(
                session, note_id, ["respond", "resolve"], NOW + timedelta(minutes=100)
            )
        # The plan came in time: no second escalation, and nothing is sent twice.
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=125)).sent == 0
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=200)).sent == 0
        assert Counter(m["touser"] for m in fake.sent) == {"lina": 2, "wuhaiyan": 1}
        assert not fake.messages_to("xumingzhe")  # another store's manager


def test_refused_sends_are_retried_then_given_up_and_dead_claims_released(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        team(session)
        add_client(session, "C1", "周晓雯", dates=(("生日3月21日", date(2000, 3, 21)),))
        tasks.generate(session, NOW)
        reminder_id = session.scalars(select(Reminder.id)).one()
    with running_fake(CORP, SECRET) as fake:
        fake.forced_errors = [81013]  # WeCom: user not found, not retried by the client
        assert sweep_at(db_url, fake, NOW).retried == 1
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=5)).sent == 0  # waits 10 min
        # A process claimed it and died: after claim_timeout_minutes another one sends it.
        with db.get_engine(db_url).begin() as connection:
            connection.execute(
                Reminder.__table__.update().values(
                    status="claimed", claimed_by="dead:1", claimed_at=NOW + timedelta(minutes=10)
                )
            )
        assert sweep_at(db_url, fake, NOW + timedelta(minutes=15)).sent == 0
        result = sweep_at(db_url, fake, NOW + timedelta(minutes=21))
        assert (result.released, result.sent) == (1, 1)
    with db.session_scope(db_url) as session:
        reminder = session.get(Reminder, reminder_id)
        assert (reminder.status, reminder.attempts, reminder.sent_to) == (SENT, 2, "lina")


# -- exactly once with two scheduler processes ------------------------------------------


def start_schedulers(
    count: int, env: dict[str, str], rules: Path, logs: str
) -> list[subprocess.Popen[bytes]]:
    command = ["-m", "bot.followups.scheduler", "--sweep-seconds", "1", "--rules", str(rules)]
    return [
        subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=env,
            stdout=Path(f"{logs}-{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        assert process.wait(20) == 0


def test_two_scheduler_processes_send_each_reminder_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    now = utcnow()
    today = to_local(now).date()
    birthday = today + timedelta(days=5)
    with db.session_scope(db_url) as session:
        team(session)
        value = f"生日{birthday.month}月{birthday.day}日"
        add_client(session, "C1", "周晓雯", created=now, dates=((value, birthday),))
        add_client(session, "C2", "王建国", created=now)
        complaint(session, "C2", now - timedelta(minutes=130), "表送修拖了一个月")
    # Reminders at midnight instead of 10:00, so the birthday's is due whenever this runs.
    rules = tmp_path / "rules.yml"
    text = (ROOT / "data/followups/rules.yml").read_text(encoding="utf-8")
    rules.write_text(text.replace("remind_hour: 10", "remind_hour: 0"), encoding="utf-8")
    with running_fake(CORP, SECRET) as fake:
        env = {
            **os.environ, "COPILOT_DB_URL": db_url, "WECOM_CORP_ID": CORP, "WECOM_SECRET": SECRET,
            "WECOM_AGENT_ID": AGENT, "WECOM_API_BASE": fake.base_url,
        }  # fmt: skip
        started = time.monotonic()
        processes = start_schedulers(2, env, rules, str(tmp_path / "first"))
        try:
            # the birthday, and for the complaint two reminders and two escalations
            while len(fake.sent) < 5 and time.monotonic() - started < 60:
                time.sleep(0.5)
            delivered = time.monotonic() - started
            time.sleep(4)  # several more sweeps by both processes
        finally:
            stop(processes)
        assert len(fake.sent) == 5, fake.sent
        contents = [m["markdown"]["content"] for m in fake.sent]
        assert len(set(contents)) == 5
        assert Counter(m["touser"] for m in fake.sent) == {"lina": 3, "wuhaiyan": 2}
        assert any("生日" in c and "还有5天" in c for c in fake.messages_to("lina"))

        # A restart (one process) finds the jobs in the database and sends nothing again.
        processes = start_schedulers(1, env, rules, str(tmp_path / "restart"))
        try:
            time.sleep(5)
        finally:
            stop(processes)
        assert len(fake.sent) == 5
    with db.session_scope(db_url) as session:
        statuses = session.scalars(select(Reminder.status)).all()
        assert Counter(statuses) == {SENT: 5}
        workers = set(session.scalars(select(Reminder.claimed_by)))
        assert session.execute(sql("SELECT count(*) FROM apscheduler_jobs")).scalar() == 3
    print(json.dumps({"delivered_s": round(delivered, 1), "workers": sorted(workers)}))


def claim_every(url: str, ids: list[int], worker: str, go: Any, out: Any) -> None:
    """In a process of its own: once both are ready, try to claim every id in order."""
    from bot.followups.reminders import claim

    out.put((worker, None))
    go.wait(60)
    out.put((worker, [i for i in ids if claim(url, i, worker, utcnow())]))


def test_concurrent_claims_from_two_processes_never_overlap(db_url: str) -> None:
    import multiprocessing

    with db.session_scope(db_url) as session:
        add_client(session, "C1", "周晓雯")
        session.add_all(
            FollowUp(client_id="C1", owner_id="A001", store=STORE, kind="visit", due_at=NOW,
                     status=OPEN, source=f"test:{i}", reason="", postponed=0)
            for i in range(300)
        )  # fmt: skip
        session.flush()
        for task_id in session.scalars(select(FollowUp.id)):
            tasks.schedule_reminder(session, task_id, REMIND, NOW)
        ids = list(session.scalars(select(Reminder.id)))
    spawn = multiprocessing.get_context("spawn")
    out, go = spawn.Queue(), spawn.Event()
    # Opposite orders: the two meet in the middle and race for the same rows there.
    orders = {"w1": ids, "w2": ids[::-1]}
    workers = [
        spawn.Process(target=claim_every, args=(db_url, order, name, go, out))
        for name, order in orders.items()
    ]
    for worker in workers:
        worker.start()
    assert {out.get(timeout=120)[1] is None for _ in workers} == {True}
    go.set()
    results = dict(out.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(30)
    first, second = set(results["w1"]), set(results["w2"])
    assert first | second == set(ids) and not first & second
    assert first and second
    print(json.dumps({"claims": {"w1": len(first), "w2": len(second)}}))


def start_job_store(url: str, go: Any, out: Any) -> None:
    """In a process of its own: once both are ready, start the scheduler's job store."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from bot.followups.scheduler import JOBS_TABLE, job_store_engine

    store = SQLAlchemyJobStore(engine=job_store_engine(url), tablename=JOBS_TABLE)
    out.put(None)
    go.wait(60)
    try:
        store.start(None, "default")
    except Exception as error:  # the test reports what failed
        out.put(f"{type(error).__name__}: {error}")
    else:
        out.put("started")


def test_two_schedulers_starting_together_on_a_new_database_both_start(
    tmp_path: Path,
) -> None:
    """APScheduler creates its table by checking first; two at once used to race (the
    second CREATE failed and that scheduler exited). The migrations make the table."""
    import multiprocessing

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import inspect

    from bot.followups.scheduler import JOBS_TABLE, job_store_engine

    spawn = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'new{attempt}.db'}"
        db.upgrade(url)
        out, go = spawn.Queue(), spawn.Event()
        starters = [spawn.Process(target=start_job_store, args=(url, go, out)) for _ in "ab"]
        for starter in starters:
            starter.start()
        assert [out.get(timeout=120) for _ in starters] == [None, None]
        go.set()
        assert [out.get(timeout=120) for _ in starters] == ["started", "started"]
        for starter in starters:
            starter.join(30)
    # The migration's table is the job store's own: same columns, same index.
    store = SQLAlchemyJobStore(engine=job_store_engine(url), tablename=JOBS_TABLE)
    inspector = inspect(db.get_engine(url))
    assert [c["name"] for c in inspector.get_columns(JOBS_TABLE)] == [
        c.name for c in store.jobs_t.columns
    ]
    assert {i["name"] for i in inspector.get_indexes(JOBS_TABLE)} == {
        i.name for i in store.jobs_t.indexes
    }


def test_done_task_is_not_reminded(db_url: str) -> None:
    with db.session_scope(db_url) as session:
        team(session)
        add_client(session, "C1", "周晓雯", dates=(("生日3月21日", date(2000, 3, 21)),))
        tasks.generate(session, NOW - timedelta(days=3))
        task = session.scalars(select(FollowUp)).one()
        tasks.close(session, task, DONE, NOW - timedelta(days=1), "A001")
    with running_fake(CORP, SECRET) as fake:
        assert sweep_at(db_url, fake, NOW).sent == 0
        assert not fake.sent


def test_the_complaint_flow_marks_its_steps_done_as_it_moves(demo_db: str) -> None:
    from tests.test_flow_actions import Conversation

    chat = Conversation()
    chat.say("周女士投诉定制胸针延期了一个月", "report_complaint")
    with db.session_scope(demo_db) as session:
        steps = {t.kind: t.status for t in session.scalars(select(FollowUp))}
    assert steps == {"complaint_respond": OPEN, "complaint_resolve": OPEN}
    chat.say("她说上个月在恒隆店订的", "client_problem")  # contact made: respond → empathise
    with db.session_scope(demo_db) as session:
        steps = {t.kind: (t.status, t.done_by) for t in session.scalars(select(FollowUp))}
        reminders = session.scalars(select(Reminder.status).where(Reminder.kind == ESCALATE))
        escalations = sorted(reminders)
    assert steps == {"complaint_respond": (DONE, "A001"), "complaint_resolve": (OPEN, None)}
    assert escalations == [CANCELLED, DUE]  # only the plan's deadline can still escalate
