"""An opener for each follow-up: the first line to send the client, from the script
library (data/scripts/followup/, one group per kind of task).

The same ranking as the guided flows (bot.flows.engine.rank) picks lines that
fit the client's scenario and card, never one naming what they avoid; among the
best, the task id picks, so two clients on the same list rarely get the same line
and the same task always gets the same one.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from bot.cards.card import ClientCard
from bot.cards.models import Client, Preference, VisitNote
from bot.flows.engine import rank
from bot.flows.facts import card_values, dislikes, short_value
from bot.flows.scripts import GENERAL, load_library
from bot.followups.models import FollowUp
from bot.followups.tasks import complaint_issue
from bot.nlu.vocabulary import load_vocabulary

FLOW = "followup"
# What a visit note filed under which step fills which placeholder.
NOTE_FACTS = {"fact": "situation", "problem": "problem", "need": "need_payoff"}


def _task_values(session: Session, task: FollowUp) -> dict[str, str]:
    """Placeholder values the task itself provides: the occasion, the complaint, the visit."""
    values: dict[str, str] = {}
    preference = session.get(Preference, task.preference_id) if task.preference_id else None
    if preference is not None:
        values["occasion"] = short_value(preference.value)
    note = session.get(VisitNote, task.note_id) if task.note_id else None
    if note is not None:
        if note.kind == "complaint":
            values["issue"] = complaint_issue(note)
        facts = (note.details or {}).get("facts") or {}
        for name, step in NOTE_FACTS.items():
            if facts.get(step):
                values[name] = str(facts[step][0])
    return values


def _scenario(client: Client) -> str:
    history = " ".join([p.value for p in client.preferences] + [n.summary for n in client.notes])
    return load_vocabulary().scenario_of(history) or GENERAL


def opener(
    session: Session, task: FollowUp, client: Client, today: date, card: ClientCard | None = None
) -> str | None:
    """The line for ``task``; pass the client's ``card`` if it is already built."""
    card = card or ClientCard.of(client, history=0)
    values = {**card_values(card, today), "address": card.address, **_task_values(session, task)}
    ranked = rank(
        load_library().group(FLOW, task.kind), _scenario(client), values, dislikes(card), set()
    )
    if not ranked:
        return None
    best = [row for row in ranked if row[0] == ranked[0][0]]
    return best[task.id % len(best)][2]
