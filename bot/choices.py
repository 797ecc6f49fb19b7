"""The advisor's answer to the copilot's question, and the operation it completes.

A question (which 王先生? replace or keep?) leaves its operation in the
``pending`` slot; the answer, by button or in words, comes here and finishes
it: a lookup, a write, a move, or starting the reception or complaint that was
waiting for the client. Lives above bot/cards and bot/flows because it
completes operations of both.
"""

from __future__ import annotations

from dataclasses import replace

from bot.cards import turns as cards
from bot.cards.store import CardStore
from bot.flows import turns as flows
from bot.replies import Reply
from bot.turn import Turn

# Operations that reopen a flow turn with the chosen client in place of the name.
FLOW_OPS = {"reception": flows.start_reception, "complaint": flows.report_complaint}


def answer(store: CardStore, turn: Turn) -> Reply:
    picked = cards.answer_pending(store, turn)
    if isinstance(picked, Reply):
        return picked
    op, client, pending = picked
    if op == "replace":
        return cards.answer_replace(store, turn, client, pending)
    if client is None:
        return cards.not_found_reply(turn, turn.entity("client_id") or turn.text)
    done = cards.complete_card_op(store, turn, op, client, pending)
    if done is not None:
        return done
    handler = FLOW_OPS[op]
    # The original request, now naming the chosen client.
    original = replace(
        turn,
        text=str(pending.get("text") or turn.text),
        entities=({"entity": "client_id", "value": client.id},),
    )
    return handler(store, original)
