"""Card turns: look a client up, create a card, record, correct, answer a question.

Each handler takes the store and the advisor's turn and returns a Reply; the
Rasa action adapters only translate it. Whose card a turn is about is decided by
one resolver (bot/cards/resolver.py); what a write does to the values already on
the card by bot/cards/writes.py. Anything the copilot cannot decide alone (which
王先生? replace 冰美式 or keep both?) becomes a question, with the operation
kept in the ``pending`` slot and ``awaiting`` set so the answer is routed back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.cards.audit import CardAccess
from bot.cards.card import ClientCard, PreferenceView, phone_tail
from bot.cards.models import Client, Preference, PreferenceEvent
from bot.cards.names import Mention
from bot.cards.resolver import (
    CHOOSE,
    CLIENT,
    MISMATCH,
    NOT_FOUND,
    Resolver,
    Target,
    spans,
)
from bot.cards.store import COUNT_CAP, CardStore
from bot.cards.writes import ASK, EXISTS, NOT_ON_CARD, RETIRED, CardWriter, WriteOutcome
from bot.clock import to_local, utcnow
from bot.nlu.preferences import (
    SHARED_BY_ALL,
    ParsedPreference,
    fact_values,
    parse_alias,
    parse_value,
)
from bot.replies import Button, Message, Reply
from bot.turn import ACTIVE_CLIENT, AWAITING, FLOW_STATE, FLOW_STEP, PENDING, Turn

# Buttons offered for a name many clients answer to; more are narrowed in words.
MAX_CHOICES = 5
RECENT_CLIENTS = 4
# awaiting values (the categorical slot the dialogue rules see)
AWAIT_CLIENT = "client"
AWAIT_REPLACE = "replace"


def today() -> date:
    return to_local(utcnow()).date()


def base_reply(turn: Turn, messages: list[Message], client: ClientCard | None = None) -> Reply:
    """A reply that keeps the current mode and step, showing ``client`` if given."""
    return Reply(
        messages=messages,
        mode=turn.mode,
        flow_step=turn.slots.get(FLOW_STEP),
        client=client,
    )


def intent_payload(intent: str, **entities: str) -> str:
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}"


def choice_title(client: Client) -> str:
    # Built from the client row alone: a full card would load every candidate's
    # preferences and notes just to tell them apart.
    parts = [client.name, client.home_store or "未知门店", client.tier or "未分级"]
    if tail := phone_tail(client.phone):
        parts.append(f"尾号{tail}")
    return " · ".join(parts)


def ask(reply: Reply, kind: str, pending: dict[str, Any], options: list[Button]) -> Reply:
    """Turn ``reply`` into a question the next turn answers."""
    reply.slots[AWAITING] = kind
    reply.slots[PENDING] = pending
    reply.extra["question"] = {
        "kind": kind,
        "text": reply.messages[-1].text() if reply.messages else "",
        "options": [b.to_dict() for b in options],
    }
    return reply


def client_buttons(clients: list[Client]) -> list[Button]:
    return [
        Button(choice_title(c), intent_payload("choose_option", client_id=c.id)) for c in clients
    ]


def choose_reply(turn: Turn, target: Target, op: str, extra: dict[str, Any] | None = None) -> Reply:
    """Several clients answer to the name: ask which one, the best few as buttons
    (the advisor's own, their store's, the most recent), keeping ``op`` pending."""
    clients = target.candidates[:MAX_CHOICES]
    reply = base_reply(turn, [])
    if target.total > len(clients):
        total = f"{target.total}+" if target.total >= COUNT_CAP else str(target.total)
        reply.messages.append(
            Message(
                "client_too_many",
                {"mention": target.mention, "count": total, "shown": len(clients)},
            )
        )
    buttons = client_buttons(clients)
    reply.messages.append(
        Message("client_choose", {"mention": target.mention, "count": len(clients)}, tuple(buttons))
    )
    pending = {"op": op, "text": turn.text, "candidates": [c.id for c in clients], **(extra or {})}
    if target.named_as is not None:
        pending["mention"] = dataclasses.asdict(target.named_as)
    return ask(reply, AWAIT_CLIENT, pending, buttons)


def not_found_reply(
    turn: Turn, mention: str, key: str = "client_not_found", near: Sequence[Client] = ()
) -> Reply:
    """Nobody has the name: say so, offer a new card, and any near-miss names to look at
    (only looked at: a fact is never written to a client the advisor did not name)."""
    button = Button(
        f"新建「{mention}」的客户卡", intent_payload("create_client", client_name=mention)
    )
    messages = [Message(key, {"mention": mention}, (button,))]
    if near:
        looks = tuple(
            Button(choice_title(c), intent_payload("lookup_client", client_id=c.id)) for c in near
        )
        names = "、".join(c.name for c in near)
        messages.append(Message("client_near_miss", {"names": names}, looks))
    reply = base_reply(turn, messages)
    reply.extra["not_found"] = mention
    return reply


def card_reply(turn: Turn, client: Client, messages: list[Message] | None = None) -> Reply:
    """Show ``client``'s card; it becomes the active client unless a session is open."""
    card = ClientCard.of(client)
    shown = [*(messages or []), Message("client_card", {"card": card.render()})]
    reply = base_reply(turn, shown, card)
    if not turn.slots.get(FLOW_STATE):
        reply.slots[ACTIVE_CLIENT] = client.id
    return reply


def recent_clients(store: CardStore, turn: Turn) -> list[Client]:
    """The advisor's clients of late: the one on screen, then the cards they saw last."""
    ids: list[str] = []
    if turn.active_client_id:
        ids.append(turn.active_client_id)
    ids += store.session.scalars(
        select(CardAccess.client_id)
        .where(CardAccess.advisor_id == turn.advisor.id)
        .order_by(CardAccess.id.desc())
        .limit(30)
    )
    return store.get_many(ids)[:RECENT_CLIENTS]


# -- lookup and create -----------------------------------------------------------------


def lookup_client(store: CardStore, turn: Turn) -> Reply:
    resolver = Resolver(store, turn)
    target = resolver.target()
    if target.kind == CLIENT and target.client is not None:
        return card_reply(turn, target.client)
    if target.kind == CHOOSE:
        return choose_reply(turn, target, "lookup")
    if target.kind == NOT_FOUND:
        return not_found_reply(turn, target.mention, "client_not_found", target.near)
    return base_reply(turn, [Message("ask_client_name")])


def create_client(store: CardStore, turn: Turn) -> Reply:
    resolver = Resolver(store, turn)
    mention = turn.entity("client_name") or next((m.text for m in resolver.mentions), None)
    if not mention:
        return base_reply(turn, [Message("ask_new_client_name")])
    existing = [c for c in store.find(mention) if c.name == mention]
    if existing:
        return card_reply(turn, existing[0], [Message("client_exists", {"name": mention})])
    split = store.vocabulary.split_honorific(mention)
    honorific = split[1] if split else ""
    client = store.create_client(mention, honorific, turn.advisor)
    created = Message("client_created", {"name": client.name, "store": client.home_store})
    return card_reply(turn, client, [created])


# -- recording --------------------------------------------------------------------------


def _fact_dict(parsed: ParsedPreference) -> dict[str, Any]:
    return {
        "category": parsed.category,
        "value": parsed.value,
        "when": parsed.when.isoformat() if parsed.when else None,
        "change": parsed.change,
        "addition": parsed.addition,
        "retire": parsed.retire,
    }


def _fact_of(data: dict[str, Any]) -> ParsedPreference:
    when = date.fromisoformat(data["when"]) if data.get("when") else None
    return ParsedPreference(
        data["category"], data["value"], when,
        bool(data.get("change")), bool(data.get("addition")), bool(data.get("retire")),
    )  # fmt: skip


def _pending_facts(pending: dict[str, Any]) -> list[ParsedPreference]:
    """The fact a question holds, then any more from the same message."""
    return [_fact_of(pending["fact"])] + [_fact_of(more) for more in pending.get("more") or []]


def _held(facts: Sequence[ParsedPreference]) -> dict[str, Any]:
    """``facts`` as a pending question keeps them: the first, and any more."""
    return {"fact": _fact_dict(facts[0]), "more": [_fact_dict(f) for f in facts[1:]]}


def write_entry(card: ClientCard, category: str, value: str, change: str, **more: Any) -> dict:
    return {
        "client_id": card.id,
        "client_name": card.name,
        "store": card.home_store,
        "category": category,
        "value": value,
        "change": change,
        **more,
    }


def _keep_active(turn: Turn, reply: Reply, client: Client) -> Reply:
    """A write does not change who is being served; it only sets the active
    client when there was none."""
    if not turn.active_client_id and not turn.slots.get(FLOW_STATE):
        reply.slots[ACTIVE_CLIENT] = client.id
    return reply


def write_fact(
    store: CardStore, turn: Turn, client: Client, parsed: ParsedPreference,
    replace: bool | None = None,
) -> Reply:  # fmt: skip
    """Write ``parsed`` on ``client``'s card and say exactly what happened, and where."""
    writer = CardWriter(store.session, store.vocabulary, turn.advisor)
    outcome = writer.write(client, parsed, replace=replace)
    store.session.refresh(client)
    card = ClientCard.of(client)
    label = PreferenceView(parsed.category, parsed.value, "", "", "").label
    old = "、".join(f"「{p.value}」" for p in outcome.replaced)
    variables = {"who": card.who, "label": label, "value": parsed.value, "old": old}
    if outcome.change == ASK:
        reply = base_reply(turn, [], card)
        buttons = [
            Button(f"替换{old}", intent_payload("choose_option", option="replace")),
            Button("两条都保留", intent_payload("choose_option", option="keep")),
        ]
        reply.messages.append(Message("preference_ask_replace", variables, tuple(buttons)))
        pending = {"op": "replace", "client_id": client.id, "fact": _fact_dict(parsed)}
        return _keep_active(turn, ask(reply, AWAIT_REPLACE, pending, buttons), client)
    key = {
        EXISTS: "preference_exists",
        NOT_ON_CARD: "preference_not_on_card",
        RETIRED: "preference_retired",
        "superseded": "preference_superseded",
    }.get(outcome.change, "preference_recorded")
    reply = base_reply(turn, [Message(key, variables)], card)
    reply.extra["writes"] = _writes(card, parsed, outcome)
    return _keep_active(turn, reply, client)


def write_facts(
    store: CardStore, turn: Turn, client: Client, facts: Sequence[ParsedPreference],
    replace: bool | None = None,
) -> Reply:  # fmt: skip
    """Write each fact in turn (``replace`` answers for the first), one reply for all.

    A fact the copilot must ask about (replace or keep?) ends the run: what was
    written before it is reported, the question is asked, and the facts after it
    wait in the question's pending slot until the answer.
    """
    done: list[Reply] = []
    for index, fact in enumerate(facts):
        reply = write_fact(store, turn, client, fact, replace if index == 0 else None)
        asked = reply.slots.get(AWAITING) == AWAIT_REPLACE
        if asked:
            reply.slots[PENDING]["more"] = [_fact_dict(f) for f in facts[index + 1 :]]
        done.append(reply)
        if asked:
            break
    return _joined(done)


def _joined(done: list[Reply]) -> Reply:
    """Replies of one turn as one: every message and write in order, the last's
    question (if any) last, a name that found nobody kept."""
    last = done[-1]
    if len(done) > 1:
        last.messages[:0] = [m for reply in done[:-1] for m in reply.messages]
        last.extra["writes"] = [w for reply in done for w in reply.extra.get("writes", [])]
        missing = [r.extra["not_found"] for r in done if "not_found" in r.extra]
        if missing:
            last.extra["not_found"] = missing[0]
        for reply in done[:-1]:
            last.slots = {**reply.slots, **last.slots}
    return last


def _writes(card: ClientCard, parsed: ParsedPreference, outcome: WriteOutcome) -> list[dict]:
    if outcome.change == NOT_ON_CARD:
        return []
    replaced = [p.value for p in outcome.replaced]
    if outcome.change == RETIRED:
        return [write_entry(card, p.category, p.value, RETIRED) for p in outcome.replaced]
    return [
        write_entry(
            card, parsed.category, parsed.value, outcome.change,
            date=parsed.when.isoformat() if parsed.when else None, replaced=replaced,
        )
    ]  # fmt: skip


def _ask_whose(
    store: CardStore, turn: Turn, facts: Sequence[ParsedPreference], key: str, **variables: Any
) -> Reply:
    recent = recent_clients(store, turn)
    buttons = client_buttons(recent)
    label = "、".join(PreferenceView(f.category, f.value, "", "", "").label for f in facts)
    reply = base_reply(turn, [Message(key, {"label": label, **variables}, tuple(buttons))])
    pending = {"op": "write", "text": turn.text, "candidates": [c.id for c in recent],
               **_held(facts), "any_client": True}  # fmt: skip
    return ask(reply, AWAIT_CLIENT, pending, buttons)


def write_to_target(
    store: CardStore, turn: Turn, target: Target, facts: Sequence[ParsedPreference]
) -> Reply:
    """Write the facts for whoever ``target`` says is meant, or ask."""
    if target.kind == CLIENT and target.client is not None:
        return write_facts(store, turn, target.client, facts)
    if target.kind == CHOOSE:
        return choose_reply(turn, target, "write", _held(facts))
    if target.kind == NOT_FOUND:
        return not_found_reply(turn, target.mention, "write_not_found", target.near)
    if target.kind == MISMATCH and target.client is not None:
        card = ClientCard.of(target.client)
        return _ask_whose(store, turn, facts, "pronoun_mismatch", who=card.who,
                          gender="男" if target.client.gender == "男" else "女")  # fmt: skip
    return _ask_whose(store, turn, facts, "ask_preference_client")


def record_preference(store: CardStore, turn: Turn) -> Reply:
    resolver = Resolver(store, turn)
    alias = parse_alias(turn.text)
    if alias is not None:
        return _record_alias(store, turn, resolver, alias.alias, alias.kind)
    values = fact_values(turn.text, spans(resolver.mentions), store.vocabulary)
    facts = [f for _, value in values if (f := parse_value(value, store.vocabulary, today()))]
    pending = turn.slots.get(PENDING)
    if not facts:
        if isinstance(pending, dict) and pending.get("fact") and resolver.mentions:
            # 记到钱雅琴卡上 answering 记在哪位客户的卡上？
            return write_to_target(store, turn, resolver.target(), _pending_facts(pending))
        return base_reply(turn, [Message("ask_preference_value")])
    if len(resolver.mentions) > 1 and _SHARED.search(turn.text[resolver.mentions[-1].end :]):
        return _write_shared(store, turn, resolver, facts)
    return write_to_target(store, turn, resolver.target(values[0][0]), facts)


# 李总和黄先生都不吃香菜: after the last name, a word that gives the fact to all named.
_SHARED = re.compile(rf"^[\s,，、]*{SHARED_BY_ALL}")


def _write_shared(
    store: CardStore, turn: Turn, resolver: Resolver, facts: Sequence[ParsedPreference]
) -> Reply:
    """The facts go onto the card of every client named; a name that finds nobody is
    said, and the first that needs a choice is asked (keeping the facts for it)."""
    done: list[Reply] = []
    for target in resolver.all_named():
        reply = write_to_target(store, turn, target, facts)
        done.append(reply)
        if AWAITING in reply.slots:
            break
    return _joined(done)


def _record_alias(store: CardStore, turn: Turn, resolver: Resolver, alias: str, kind: str) -> Reply:
    # The alias itself is not a mention of the client it is being given to.
    resolver.mentions = [m for m in resolver.mentions if alias not in m.text]
    target = resolver.target()
    if target.kind != CLIENT or target.client is None:
        if target.kind == NOT_FOUND:
            return not_found_reply(turn, target.mention, "write_not_found", target.near)
        if target.kind == CHOOSE:
            return choose_reply(turn, target, "lookup")
        return base_reply(turn, [Message("ask_client_name")])
    client = target.client
    _, created = store.add_alias(client, alias, turn.advisor.name, kind)
    if created:
        store.session.add(
            PreferenceEvent(
                client_id=client.id, action="alias", category="别名", value=alias,
                detail=kind, advisor_id=turn.advisor.id, advisor_name=turn.advisor.name,
                store=turn.advisor.store, at=utcnow(),
            )
        )  # fmt: skip
        from bot.cards import audit

        audit.record(store.session, turn.advisor, client.id, "alias", alias)
    store.session.refresh(client)
    card = ClientCard.of(client)
    reply = base_reply(turn, [Message("alias_recorded", {"who": card.who, "alias": alias})], card)
    reply.extra["writes"] = [write_entry(card, "别名", alias, "alias" if created else EXISTS)]
    return _keep_active(turn, reply, client)


# -- corrections ------------------------------------------------------------------------

_WRONG_CLIENT = re.compile(
    r"记错人|记错客户|记错卡|不是他的|不是她的|搞错人|弄错人|应该记在|应该记到|记串了"
)
_INSTEAD = re.compile(
    r"不是(?P<wrong>[^,，。是]{1,20})[,，\s]*(?:而)?是(?P<right>[^,，。]{1,30})"
    r"|是(?P<right2>[^,，。]{1,30}?)[,，\s]*不是(?P<wrong2>[^,，。]{1,20})"
    r"|(?:应该是|改成|改为|换成)(?P<right3>[^,，。]{1,30})"
)
_NAMED_DELETE = re.compile(
    r"(?:删掉|删了|删除|去掉|划掉|撤掉)(?P<a>[^,，。]{2,20}?)(?:那条|这条|那一条)|把(?P<b>[^,，。]{2,20}?)(?:那条|这条)?(?:删掉|删了|删除|去掉|划掉)"
)
_FILLER = re.compile(
    r"刚才|刚刚|记错了|搞错了|弄错了|写错了|说错了|不对|帮我|麻烦|一下|吧|啊|哈|了"
)


def correct_record(store: CardStore, turn: Turn) -> Reply:
    writer = CardWriter(store.session, store.vocabulary, turn.advisor)
    resolver = Resolver(store, turn)
    last = writer.last_write()
    if _WRONG_CLIENT.search(turn.text) and resolver.mentions:
        return _move(store, turn, resolver, writer)
    named = _NAMED_DELETE.search(turn.text)
    if named:
        words = _FILLER.sub("", named.group("a") or named.group("b") or "").strip()
        target = resolver.target()
        client = target.client if target.kind == CLIENT else (last.client if last else None)
        found = writer.find_current(client, words) if client is not None and words else None
        if found is not None:
            return _retracted(store, turn, writer, found)
    instead = _INSTEAD.search(turn.text)
    if instead:
        right = next(instead.group(g) for g in ("right", "right2", "right3") if instead.group(g))
        wrong = next((instead.group(g) for g in ("wrong", "wrong2") if instead.group(g)), "")
        correction = {"right": _clean_value(right), "wrong": _clean_value(wrong)}
        target = resolver.target()
        if resolver.mentions and target.kind == NOT_FOUND:
            return not_found_reply(turn, target.mention, "write_not_found", target.near)
        if resolver.mentions and target.kind == CHOOSE:
            if last is None or last.client not in target.candidates:
                return choose_reply(turn, target, "correct", correction)
            target = dataclasses.replace(target, kind=CLIENT, client=last.client)
        client = target.client if target.kind == CLIENT else None
        if correction["right"] and (client is not None or last is not None):
            named_client = client if target.via == "named" else None
            reply = correct_value(store, turn, writer, client, correction, named_client, last)
            if reply is not None:
                return reply
    if last is None:
        return base_reply(turn, [Message("nothing_to_undo")])
    return _retracted(store, turn, writer, last)


def _clean_value(words: str) -> str:
    return _FILLER.sub("", words).strip(" ,，。的")


def correct_value(
    store: CardStore,
    turn: Turn,
    writer: CardWriter,
    client: Client | None,
    correction: dict[str, str],
    named: Client | None,
    last: Preference | None,
) -> Reply | None:
    """不是X是Y: Y replaces X on the card meant, or replaces the advisor's last write.

    The card meant is the client named, else the one being served; a value holding X
    on it is the one corrected (杨子轩的鞋码其实是44 不是43 fixes 鞋码43, whoever was
    written last). Without such a value the advisor's last write is corrected, unless
    another client was named: a correction never lands on a client not meant. None
    when there is nothing to correct and nobody was named. ``last``: the advisor's
    last write (``writer.last_write()``, which the caller has already read).
    """
    right, wrong = correction["right"], correction.get("wrong", "")
    found = writer.find_current(client, wrong) if client is not None and wrong else None
    if found is None and last is not None and (named is None or last.client.id == named.id):
        found = last
    if found is None:
        if named is None:
            return None
        card = ClientCard.of(named)
        return base_reply(
            turn, [Message("correction_not_on_card", {"who": card.who, "value": wrong})], card
        )
    # 鞋码43 with 不是43是44 becomes 鞋码44; a bare 美式 for 拿铁 stays 美式.
    candidate = found.value.replace(wrong, right) if wrong and wrong in found.value else right
    parsed = parse_value(candidate, store.vocabulary, today())
    if parsed is None:
        return None
    category = found.category
    if store.vocabulary.category_of(parsed.value) not in (None, category):
        category = parsed.category
    owner = found.client
    old_label = PreferenceView.of(found).label
    writer.retract(found, f"改为「{parsed.value}」")
    outcome = writer.write(owner, ParsedPreference(category, parsed.value, parsed.when))
    store.session.refresh(owner)
    card = ClientCard.of(owner)
    label = PreferenceView(category, parsed.value, "", "", "").label
    message = Message("record_corrected", {"who": card.who, "old": old_label, "label": label})
    reply = base_reply(turn, [message], card)
    reply.extra["writes"] = [
        write_entry(card, found.category, found.value, "retracted"),
        write_entry(card, category, parsed.value, outcome.change),
    ]
    return _keep_active(turn, reply, owner)


def _retracted(store: CardStore, turn: Turn, writer: CardWriter, preference: Any) -> Reply:
    client = preference.client
    label = PreferenceView.of(preference).label
    restored = writer.retract(preference)
    store.session.refresh(client)
    card = ClientCard.of(client)
    messages = [Message("record_retracted", {"who": card.who, "label": label})]
    if restored:
        back = "、".join(f"「{p.value}」" for p in restored)
        messages.append(Message("record_restored", {"values": back}))
    reply = base_reply(turn, messages, card)
    reply.extra["writes"] = [write_entry(card, preference.category, preference.value, "retracted")]
    return reply


def _move(store: CardStore, turn: Turn, resolver: Resolver, writer: CardWriter) -> Reply:
    last = writer.last_write()
    if last is None:
        return base_reply(turn, [Message("nothing_to_undo")])
    # 记错人了 应该是钱女士: the client named who is not the card it went onto.
    others = [m for m in resolver.mentions if m.text not in (last.client.name,)]
    target = resolver.named(others[-1]) if others else resolver.named(resolver.mentions[-1])
    if target.kind == CHOOSE:
        return choose_reply(turn, target, "move", {"preference_id": last.id})
    if target.kind != CLIENT or target.client is None:
        return not_found_reply(turn, target.mention, "write_not_found", target.near)
    return move_to(store, turn, writer, last, target.client)


def move_to(
    store: CardStore, turn: Turn, writer: CardWriter, preference: Any, target: Client
) -> Reply:
    source = preference.client
    if source.id == target.id:
        card = ClientCard.of(source)
        return base_reply(turn, [Message("move_same_client", {"who": card.who})], card)
    label = PreferenceView.of(preference).label
    writer.move(preference, target)
    store.session.refresh(source)
    store.session.refresh(target)
    from_card, to_card = ClientCard.of(source), ClientCard.of(target)
    message = Message(
        "record_moved", {"label": label, "from_who": from_card.who, "to_who": to_card.who}
    )
    reply = base_reply(turn, [message], to_card)
    reply.extra["writes"] = [
        write_entry(from_card, preference.category, preference.value, "moved_out"),
        write_entry(to_card, preference.category, preference.value, "moved"),
    ]
    return reply


# -- answering the copilot's question ------------------------------------------------------

_REPLACE = re.compile(
    r"替换|换掉|换成新|用新的|改成新|覆盖|更新|对|是的|嗯|好|replace", re.IGNORECASE
)
_KEEP = re.compile(r"都留|都保留|保留|两个都|两条都|都要|都对|keep", re.IGNORECASE)
_CANCEL = re.compile(r"算了|不用了|取消|不记了|别记")


def answer_pending(
    store: CardStore, turn: Turn
) -> tuple[str, Client | None, dict[str, Any]] | Reply:
    """What the advisor's answer picks: (op, client, pending) or a Reply (asked again,
    or nothing pending). ``option`` answers the replace question."""
    pending = turn.slots.get(PENDING)
    chosen = turn.entity("client_id")
    if not isinstance(pending, dict):
        if chosen and (client := store.get(chosen)) is not None:
            return "lookup", client, {}
        return base_reply(turn, [Message("nothing_pending")])
    if pending.get("op") == "replace":
        return "replace", store.get(str(pending.get("client_id"))), pending
    if chosen:
        return str(pending["op"]), store.get(chosen), pending
    candidates = store.get_many(pending.get("candidates") or [])
    from bot.cards.resolver import pick

    picked = pick(turn.text, candidates, store)
    if not picked and isinstance(pending.get("mention"), dict):
        # 尾号0006 for a 赵先生 beyond the few shown
        picked = store.narrow(Mention(**pending["mention"]), turn.text)
    if len(picked) == 1:
        return str(pending["op"]), picked[0], pending
    resolver = Resolver(store, turn)
    if resolver.mentions and pending.get("any_client"):
        target = resolver.target()
        if target.kind == CLIENT:
            return str(pending["op"]), target.client, pending
        if target.kind == NOT_FOUND:
            return not_found_reply(turn, target.mention, "write_not_found", target.near)
    buttons = client_buttons(candidates)
    reply = base_reply(turn, [Message("choice_unclear", {}, tuple(buttons))])
    return ask(reply, AWAIT_CLIENT, pending, buttons)


def answer_replace(
    store: CardStore, turn: Turn, client: Client | None, pending: dict[str, Any]
) -> Reply:
    option = turn.entity("option") or ""
    text = option or turn.text
    if client is None:
        return base_reply(turn, [Message("nothing_pending")])
    if _CANCEL.search(text):
        return base_reply(turn, [Message("write_cancelled")])
    if _KEEP.search(text) or option == "keep":
        return write_facts(store, turn, client, _pending_facts(pending), replace=False)
    if _REPLACE.search(text) or option == "replace":
        return write_facts(store, turn, client, _pending_facts(pending), replace=True)
    reply = base_reply(turn, [Message("replace_unclear")])
    buttons = [
        Button("替换", intent_payload("choose_option", option="replace")),
        Button("两条都保留", intent_payload("choose_option", option="keep")),
    ]
    return ask(reply, AWAIT_REPLACE, pending, buttons)


def complete_card_op(
    store: CardStore, turn: Turn, op: str, client: Client, pending: dict[str, Any]
) -> Reply | None:
    """Finish a card operation waiting on the choice; None if ``op`` is not a card one."""
    if op == "lookup":
        return card_reply(turn, client)
    if op == "write":
        return write_facts(store, turn, client, _pending_facts(pending))
    if op == "correct":
        writer = CardWriter(store.session, store.vocabulary, turn.advisor)
        correction = {key: str(pending.get(key, "")) for key in ("right", "wrong")}
        last = writer.last_write()
        reply = correct_value(store, turn, writer, client, correction, client, last)
        return reply or card_reply(turn, client)
    if op == "move":
        writer = CardWriter(store.session, store.vocabulary, turn.advisor)
        preference = store.session.get(Preference, pending.get("preference_id"))
        if preference is None:
            return base_reply(turn, [Message("nothing_to_undo")])
        return move_to(store, turn, writer, preference, client)
    return None
