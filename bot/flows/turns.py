"""Flow turns: start a reception or complaint, relay client signals, move, end.

The handlers keep the session in the ``flow_state`` slot and answer with the
current step, its checklist, deadlines and up to three ranked suggestions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.cards import turns as card_turns
from bot.cards.card import ClientCard, PreferenceView
from bot.cards.models import Client, Preference, VisitNote
from bot.cards.resolver import CHOOSE, CLIENT, NOT_FOUND, Resolver, spans
from bot.cards.store import CardStore
from bot.cards.turns import base_reply, choose_reply, not_found_reply
from bot.clock import to_local, utcnow
from bot.flows.definition import Flow, load_flows
from bot.flows.engine import (
    Move,
    Session,
    deadlines,
    jump,
    neighbour,
    note,
    open_session,
    relay,
    suggest,
)
from bot.flows.facts import card_values, clean_fact, dislikes
from bot.flows.scripts import GENERAL, load_library
from bot.flows.summary import summarize
from bot.followups.tasks import record_complaint_progress
from bot.nlu.preferences import ParsedPreference, fact_values, parse_value
from bot.replies import Button, Message, Reply
from bot.turn import ACTIVE_CLIENT, AWAITING, FLOW_STATE, FLOW_STEP, MODE, PENDING, Turn

WALK_IN_ADDRESS = "您好"
_BACK_WORDS = ("上一步", "退回", "返回上", "倒回")
_NEXT_WORDS = ("下一步", "往下", "继续下", "进入下")


def current(turn: Turn) -> tuple[Flow, Session] | None:
    state = turn.slots.get(FLOW_STATE)
    if not isinstance(state, dict):
        return None
    session = Session.from_dict(state)
    return load_flows()[session.flow], session


def _scenario(store: CardStore, turn: Turn, client: Client | None) -> str:
    """From the product mentioned, else the advisor's words, else the card's history."""
    vocabulary = store.vocabulary
    for text in (turn.entity("product"), turn.text):
        found = vocabulary.scenario_of(text) if text else None
        if found:
            return found
    if client is not None:
        history = " ".join(
            [p.value for p in client.preferences] + [n.summary for n in client.notes]
        )
        return vocabulary.scenario_of(history) or GENERAL
    return GENERAL


def _values(card: ClientCard | None, session: Session) -> dict[str, str]:
    values = card_values(card)
    values["address"] = card.address if card else WALK_IN_ADDRESS
    for name, signal in (
        ("fact", "client_situation"),
        ("problem", "client_problem"),
        ("need", "client_need"),
    ):
        latest = session.latest(signal)
        if latest:
            values[name] = latest
    if session.product:
        values["product"] = session.product
    if session.issue:
        values["issue"] = session.issue
    return values


def _checklist(flow: Flow, session: Session) -> list[dict[str, Any]]:
    return [
        {"id": item.id, "label": item.label, "captured": session.checklist.get(item.id)}
        for item in flow.step(session.step).checklist
    ]


def flow_reply(
    store: CardStore,
    turn: Turn,
    flow: Flow,
    session: Session,
    messages: list[Message],
    move: Move | None = None,
) -> Reply:
    """The reply for any flow turn: header messages, suggestions, full payload."""
    client = store.get(session.client_id) if session.client_id else None
    card = ClientCard.of(client) if client else None
    step = flow.step(session.step)
    if move and move.skipped:
        titles = "、".join(f"「{flow.step(s).title}」" for s in move.skipped)
        messages.append(
            Message("step_skipped", {"skipped": titles, "first": flow.step(move.skipped[0]).title})
        )
    safety = card.safety_line() if card else None
    if safety and not any(m.key == "client_card" for m in messages):
        # Allergies head every reply about the client being served.
        messages.insert(0, Message("safety_header", {"line": safety}))
    group = (move.scripts if move else None) or session.step
    avoid = dislikes(card) if card else []
    suggestions = suggest(load_library(), session, group, _values(card, session), avoid)
    if suggestions:
        lines = "\n".join(f"{i}. {s.text}" for i, s in enumerate(suggestions, 1))
        messages.append(Message("suggestions", {"step_title": step.title, "lines": lines}))
    else:
        messages.append(Message("suggestions_used_up", {"step_title": step.title}))
    extra: dict[str, Any] = {
        "flow": {
            "id": flow.id,
            "title": flow.title,
            "steps": [{"id": s.id, "title": s.title} for s in flow.steps],
        },
        "step": {"id": step.id, "title": step.title, "goal": step.goal, "evidence": step.evidence},
        "checklist": _checklist(flow, session),
        "skipped": list(session.skipped),
    }
    if flow.mode == "complaint":
        extra["deadlines"] = deadlines(flow, session)
        if session.note_id:
            # The complaint's SLA clock: a step the flow has moved past is done now, so
            # it is not escalated (bot/followups/tasks.py).
            done = [row["step"] for row in extra["deadlines"] if row["done"]]
            record_complaint_progress(store.session, session.note_id, done, utcnow())
        tier = card.tier if card and card.tier in flow.compensation else "其他"
        extra["compensation"] = {"tier": tier, "options": list(flow.compensation.get(tier, ()))}
    reply = Reply(
        messages=messages,
        mode=flow.mode,
        flow_step=session.step,
        client=card,
        suggestions=[s.to_payload() for s in suggestions],
        extra=extra,
    )
    reply.slots.update({FLOW_STATE: session.to_dict(), MODE: flow.mode, FLOW_STEP: session.step})
    if session.client_id:
        reply.slots[ACTIVE_CLIENT] = session.client_id
    return reply


def _resolve_client(store: CardStore, turn: Turn, op: str) -> Client | Reply | None:
    """The client named in the turn; a Reply when the advisor must choose or nothing matched."""
    target = Resolver(store, turn).target()
    if target.kind == CLIENT:
        return target.client if target.via == "named" else None
    if target.kind == NOT_FOUND:
        return not_found_reply(turn, target.mention, near=target.near)
    if target.kind == CHOOSE:
        return choose_reply(turn, target, op)
    return None


def start_reception(store: CardStore, turn: Turn) -> Reply:
    client = _resolve_client(store, turn, "reception")
    if isinstance(client, Reply):
        return client
    flow = load_flows()["reception"]
    session = open_session(
        flow, _scenario(store, turn, client), client.id if client else None, utcnow()
    )
    session.product = turn.entity_text("product")
    step = flow.step(session.step)
    messages: list[Message] = []
    if client:
        card = ClientCard.of(client)
        messages.append(Message("client_card", {"card": card.render()}))
        messages.append(
            Message(
                "flow_started",
                {
                    "flow_title": flow.title,
                    "address": card.address,
                    "step_title": step.title,
                    "goal": step.goal,
                },
            )
        )
    else:
        messages.append(Message("walk_in_started", {"step_title": step.title, "goal": step.goal}))
    return flow_reply(store, turn, flow, session, messages)


def _describe(flow: Flow, move: Move) -> Message:
    step = flow.step(move.after)
    if move.scripts == "price_objection":
        return Message("price_objection")
    if move.moved:
        key = "step_jumped" if move.manual else "step_moved"
        return Message(key, {"step_title": step.title, "goal": step.goal})
    return Message("step_stay", {"step_title": step.title, "evidence": step.evidence})


def _card_facts(
    store: CardStore, turn: Turn, resolver: Resolver
) -> tuple[int, list[ParsedPreference]] | None:
    """Relayed statements that are facts for the card (她说她对芒果过敏, 他喜欢坐包间),
    one per kind of fact in a run-on; with where the first starts."""
    values = fact_values(turn.text, spans(resolver.mentions), store.vocabulary)
    facts = []
    for _, value in values:
        parsed = parse_value(value, store.vocabulary, card_turns.today())
        if parsed is None or parsed.category not in store.vocabulary.relayed_card_categories:
            continue
        if store.vocabulary.category_of(value) is not None:
            facts.append(parsed)
    return (values[0][0], facts) if facts else None


def relay_signal(store: CardStore, turn: Turn, signal: str | None = None) -> Reply:
    """File what the client said (``signal`` defaults to the turn's intent) and move on.

    A statement that is a fact about the client also goes onto the card, during a
    reception or not; with no reception open, nothing starts one silently.
    """
    active = current(turn)
    resolver = Resolver(store, turn)
    fact = _card_facts(store, turn, resolver)
    if active is None:
        if fact is not None:
            return card_turns.write_to_target(store, turn, resolver.target(fact[0]), fact[1])
        return _no_session(store, turn, resolver)
    flow, session = active
    if session.product is None:
        session.product = turn.entity_text("product")
    mention = resolver.mentions[0].text if resolver.mentions else None
    move = relay(flow, session, signal or turn.intent, clean_fact(turn.text, mention))
    reply = flow_reply(store, turn, flow, session, [_describe(flow, move)], move)
    if fact is not None:
        written = card_turns.write_to_target(store, turn, resolver.target(fact[0]), fact[1])
        reply.messages[:0] = written.messages
        for key in ("writes", "question", "not_found"):
            if key in written.extra:
                reply.extra[key] = written.extra[key]
        reply.slots.update({k: v for k, v in written.slots.items() if k in (AWAITING, PENDING)})
        if written.client is not None and written.client.id == session.client_id:
            reply.client = written.client
    return reply


def _no_session(store: CardStore, turn: Turn, resolver: Resolver) -> Reply:
    """A relayed statement with no reception open: say so, offer to start one."""
    target = resolver.target()
    client = target.client if target.kind == CLIENT else None
    buttons: tuple[Button, ...] = ()
    if client is not None:
        payload = card_turns.intent_payload("start_reception", client_id=client.id)
        buttons = (Button(f"开始接待{ClientCard.of(client).address}", payload),)
    reply = base_reply(turn, [Message("relay_no_session", {}, buttons)])
    if target.kind == NOT_FOUND:
        reply.extra["not_found"] = target.mention
    return reply


def next_step(store: CardStore, turn: Turn) -> Reply:
    active = current(turn)
    if active is None:
        return base_reply(turn, [Message("no_session")])
    flow, session = active
    step = flow.step(session.step)
    return flow_reply(
        store,
        turn,
        flow,
        session,
        [Message("step_stay", {"step_title": step.title, "evidence": step.goal})],
    )


def jump_step(store: CardStore, turn: Turn) -> Reply:
    active = current(turn)
    if active is None:
        return base_reply(turn, [Message("no_session")])
    flow, session = active
    target = flow.step_named(turn.text)
    if target is None and any(w in turn.text for w in _BACK_WORDS):
        target = neighbour(flow, session, -1)
    elif target is None and any(w in turn.text for w in _NEXT_WORDS):
        target = neighbour(flow, session, +1)
    if target is None:
        return flow_reply(store, turn, flow, session, [Message("jump_unknown")])
    move = jump(flow, session, target)
    return flow_reply(store, turn, flow, session, [_describe(flow, move)], move)


def report_complaint(store: CardStore, turn: Turn) -> Reply:
    active = current(turn)
    mentions = Resolver(store, turn).mentions
    if active and active[0].mode == "complaint" and not mentions:
        # More detail about the complaint already open, not a new one.
        return relay_signal(store, turn, "client_problem")
    client = _resolve_client(store, turn, "complaint")
    if isinstance(client, Reply):
        return client
    if client is None and turn.active_client_id:
        client = store.get(turn.active_client_id)
    flow = load_flows()["complaint"]
    now = utcnow()
    session = open_session(flow, _scenario(store, turn, client), client.id if client else None, now)
    session.product = turn.entity_text("product")
    issue = clean_fact(turn.text, mentions[0].text if mentions else None)
    for word in ("我要投诉", "要投诉", "投诉说", "投诉", "客户", "客人"):
        issue = issue.replace(word, "")
    session.issue = issue.strip(" ,，:：了") or "服务问题"
    note(flow, session, turn.text)
    card = ClientCard.of(client) if client else None
    if client is not None:
        complaint = store.add_note(
            client, turn.advisor, f"投诉：{session.issue}", kind="complaint", status="open",
            details={"issue": session.issue, "opened_at": session.opened_at},
        )  # fmt: skip
        session.note_id = complaint.id
    due = {
        row["step"]: to_local(datetime.fromisoformat(row["due"]).replace(tzinfo=None))
        for row in deadlines(flow, session)
    }
    started = Message(
        "complaint_started",
        {
            "address": card.address if card else "客户",
            "issue": session.issue,
            "respond_due": f"{due['respond']:%H:%M}" if "respond" in due else "",
            "resolve_due": f"{due['resolve']:%H:%M}" if "resolve" in due else "",
        },
    )
    tier = card.tier if card and card.tier in flow.compensation else "其他"
    offer = Message(
        "compensation", {"tier": tier, "options": "、".join(flow.compensation.get(tier, ()))}
    )
    return flow_reply(store, turn, flow, session, [started, offer])


def _recorded_since(store: CardStore, client: Client, since: datetime) -> list[PreferenceView]:
    rows = store.session.scalars(
        select(Preference).where(Preference.client_id == client.id, Preference.recorded_at >= since)
    ).all()
    return [PreferenceView.of(p) for p in rows]


def end_session(store: CardStore, turn: Turn) -> Reply:
    active = current(turn)
    if active is None:
        return base_reply(turn, [Message("no_session")])
    flow, session = active
    client = store.get(session.client_id) if session.client_id else None
    opened = datetime.fromisoformat(session.opened_at)
    recorded = _recorded_since(store, client, opened) if client else []
    summary = summarize(flow, session, recorded, to_local(utcnow()).date())
    if client is not None:
        existing = store.session.get(VisitNote, session.note_id) if session.note_id else None
        if existing is not None:
            existing.summary, existing.details = summary.text, summary.details
            existing.status, existing.follow_up_on = summary.status, summary.follow_up_on
            store.session.flush()
        else:
            kind = "complaint" if flow.mode == "complaint" else "visit"
            store.add_note(
                client, turn.advisor, summary.text, kind=kind, details=summary.details,
                status=summary.status, follow_up_on=summary.follow_up_on,
            )  # fmt: skip
        store.session.refresh(client)
    key = "session_ended" if client else "walk_in_ended"
    message = Message(key, {"flow_title": flow.title, "summary": summary.text})
    reply = Reply(
        messages=[message],
        mode="idle",
        flow_step=None,
        client=ClientCard.of(client) if client else None,
        extra={
            "summary": {
                "text": summary.text,
                "follow_up_on": summary.follow_up_on.isoformat(),
                **summary.details,
            }
        },
    )
    reply.slots.update({FLOW_STATE: None, MODE: "idle", FLOW_STEP: None})
    return reply
