"""Card turns: look a client up, create a card, record a preference.

Each handler takes the store and the advisor's turn and returns a Reply; the
Rasa action adapters only translate it. Whatever card a reply shows becomes the
active client, so the next "记一下…" without a name lands on the right card.
"""

from __future__ import annotations

import json

from bot.cards.card import ClientCard, phone_tail
from bot.cards.models import Client
from bot.cards.store import CardStore
from bot.nlu.preferences import parse_preference
from bot.replies import Button, Message, Reply
from bot.turn import ACTIVE_CLIENT, FLOW_STEP, PENDING_PREFERENCE, Turn

# More matches than this are narrowed by asking for the full name instead.
MAX_CHOICES = 5


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


def choose_reply(turn: Turn, mention: str, clients: list[Client], intent: str) -> Reply:
    if len(clients) > MAX_CHOICES:
        return base_reply(
            turn, [Message("client_too_many", {"mention": mention, "count": len(clients)})]
        )
    buttons = tuple(
        Button(choice_title(c), intent_payload(intent, client_id=c.id)) for c in clients
    )
    message = Message("client_choose", {"mention": mention, "count": len(clients)}, buttons)
    return base_reply(turn, [message])


def not_found_reply(turn: Turn, mention: str) -> Reply:
    button = Button(
        f"新建「{mention}」的客户卡", intent_payload("create_client", client_name=mention)
    )
    return base_reply(turn, [Message("client_not_found", {"mention": mention}, (button,))])


def card_reply(turn: Turn, client: Client, messages: list[Message] | None = None) -> Reply:
    card = ClientCard.of(client)
    shown = [*(messages or []), Message("client_card", {"card": card.render()})]
    reply = base_reply(turn, shown, card)
    reply.slots[ACTIVE_CLIENT] = client.id
    return reply


def lookup_client(store: CardStore, turn: Turn) -> Reply:
    chosen = turn.entity("client_id")
    if chosen:
        client = store.get(chosen)
        return card_reply(turn, client) if client else not_found_reply(turn, chosen)
    mention, clients = store.resolve(turn.text, turn.entity_text("client_name"))
    if mention is None:
        active = store.get(turn.active_client_id) if turn.active_client_id else None
        if active:
            return card_reply(turn, active)
        return base_reply(turn, [Message("ask_client_name")])
    if not clients:
        return not_found_reply(turn, mention)
    if len(clients) > 1:
        return choose_reply(turn, mention, clients, "lookup_client")
    return card_reply(turn, clients[0])


def create_client(store: CardStore, turn: Turn) -> Reply:
    mention = turn.entity("client_name") or next((m.text for m in store.mentions(turn.text)), None)
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


def record_preference(store: CardStore, turn: Turn) -> Reply:
    chosen = turn.entity("client_id")
    pending = turn.slots.get(PENDING_PREFERENCE)
    if chosen and isinstance(pending, dict):
        client = store.get(chosen)
        if client is None:
            return not_found_reply(turn, chosen)
        return _save(store, turn, client, pending["category"], pending["value"])

    mention, clients = store.resolve(turn.text, turn.entity_text("client_name"))
    parsed = parse_preference(turn.text, mention, store.vocabulary)
    if parsed is None:
        return base_reply(turn, [Message("ask_preference_value")])
    if mention is None:
        active = store.get(turn.active_client_id) if turn.active_client_id else None
        if active is None:
            reply = base_reply(turn, [Message("ask_preference_client")])
            reply.slots[PENDING_PREFERENCE] = {"category": parsed.category, "value": parsed.value}
            return reply
        clients = [active]
    if not clients:
        return not_found_reply(turn, mention or "")
    if len(clients) > 1:
        reply = choose_reply(turn, mention or "", clients, "record_preference")
        reply.slots[PENDING_PREFERENCE] = {"category": parsed.category, "value": parsed.value}
        return reply
    return _save(store, turn, clients[0], parsed.category, parsed.value)


def _save(store: CardStore, turn: Turn, client: Client, category: str, value: str) -> Reply:
    _, created = store.add_preference(client, category, value, turn.advisor)
    card = ClientCard.of(client)
    response = "preference_recorded" if created else "preference_exists"
    message = Message(
        response, {"address": card.address, "name": card.name, "category": category, "value": value}
    )
    reply = base_reply(turn, [message], card)
    reply.slots[ACTIVE_CLIENT] = client.id
    reply.slots[PENDING_PREFERENCE] = None
    return reply
