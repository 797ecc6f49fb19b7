"""The trainer's side of role-play: assignments, overrides of a check, the team view.

An assignment is done when the advisor, after it was given, practised that
persona and reached the scenario's pass mark. An override never edits the
stored scorecard: the effective verdict of a check is the trainer's latest
override if there is one, else the automatic result, and both are shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cards.models import Advisor, Roleplay
from bot.clock import to_local, utcnow
from bot.roleplay.models import CheckOverride, RoleplayAssignment
from bot.roleplay.personas import Persona, load_personas, load_rules
from bot.roleplay.scoring import CHECK_WEIGHT

TRAINER_ROLES = ("trainer", "manager")


class TrainerError(ValueError):
    """A trainer command that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Task:
    assignment: RoleplayAssignment
    persona: Persona
    attempts: int
    best: int | None
    pass_mark: int
    overdue: bool

    @property
    def done(self) -> bool:
        return self.best is not None and self.best >= self.pass_mark


@dataclass(frozen=True)
class Verdict:
    """One check of a stored role-play: the automatic result and any override."""

    id: str
    title: str
    auto: bool
    reason: str
    override: CheckOverride | None

    @property
    def passed(self) -> bool:
        return bool(self.override.passed) if self.override is not None else self.auto


@dataclass(frozen=True)
class AdvisorSummary:
    advisor_id: str
    name: str
    store: str
    attempts: int
    best: int | None
    last: int | None
    weakest: list[tuple[str, int]]  # (check title, times failed), most failed first
    open_tasks: int
    overdue_tasks: int


def local_today() -> date:
    return to_local(utcnow()).date()


def _persona(persona_id: str) -> Persona:
    personas = load_personas()
    if persona_id not in personas:
        raise TrainerError(f"no persona '{persona_id}'; one of: {', '.join(sorted(personas))}")
    return personas[persona_id]


def _advisor(session: Session, advisor_id: str) -> Advisor:
    advisor = session.get(Advisor, advisor_id)
    if advisor is None:
        raise TrainerError(f"no advisor '{advisor_id}' (copilot advisors add registers one)")
    return advisor


def _trainer(session: Session, trainer_id: str) -> Advisor:
    trainer = _advisor(session, trainer_id)
    if trainer.role not in TRAINER_ROLES:
        raise TrainerError(f"{trainer_id} is a {trainer.role}; only a trainer or manager can")
    return trainer


def assign(
    session: Session, advisor_id: str, persona_id: str, due_on: date, by: str | None
) -> tuple[RoleplayAssignment, bool]:
    """The assignment, and whether it is new: an open one for the same persona
    gets the new due date instead of a second row."""
    _advisor(session, advisor_id)
    _persona(persona_id)
    if by is not None:
        _trainer(session, by)
    for task in tasks(session, advisor_id):
        if task.assignment.persona_id == persona_id and not task.done:
            task.assignment.due_on = due_on
            task.assignment.assigned_by = by or task.assignment.assigned_by
            session.flush()
            return task.assignment, False
    assignment = RoleplayAssignment(
        advisor_id=advisor_id, persona_id=persona_id, due_on=due_on, assigned_by=by,
        assigned_at=utcnow(),
    )  # fmt: skip
    session.add(assignment)
    session.flush()
    return assignment, True


def tasks(session: Session, advisor_id: str) -> list[Task]:
    """The advisor's assignments with progress, the earliest due first."""
    rows = session.scalars(
        select(RoleplayAssignment)
        .where(RoleplayAssignment.advisor_id == advisor_id)
        .order_by(RoleplayAssignment.due_on, RoleplayAssignment.id)
    ).all()
    personas, rules, today = load_personas(), load_rules(), local_today()
    result = []
    for row in rows:
        if row.persona_id not in personas:
            continue  # a persona since retired from data/personas/
        persona = personas[row.persona_id]
        attempts = session.scalars(
            select(Roleplay).where(
                Roleplay.advisor_id == advisor_id,
                Roleplay.persona_id == row.persona_id,
                Roleplay.ended_at >= row.assigned_at,
            )
        ).all()
        scores = [effective_score(session, attempt) for attempt in attempts]
        mark = rules.pass_mark(persona.scenario)
        best = max(scores) if scores else None
        overdue = row.due_on < today and (best is None or best < mark)
        result.append(Task(row, persona, len(scores), best, mark, overdue))
    return result


def open_tasks(session: Session, advisor_id: str) -> list[Task]:
    return [task for task in tasks(session, advisor_id) if not task.done]


def override(
    session: Session, roleplay_id: int, check_id: str, passed: bool, reason: str, by: str
) -> tuple[CheckOverride, Roleplay]:
    _trainer(session, by)
    roleplay = session.get(Roleplay, roleplay_id)
    if roleplay is None:
        raise TrainerError(f"no role-play #{roleplay_id}")
    ids = [check["id"] for check in roleplay.checks]
    if check_id not in ids:
        raise TrainerError(
            f"role-play #{roleplay_id} has no check '{check_id}'; one of: {', '.join(ids)}"
        )
    if not reason.strip():
        raise TrainerError("an override needs a reason the advisor can read")
    row = CheckOverride(
        roleplay_id=roleplay_id, check_id=check_id, passed=passed, reason=reason.strip(),
        trainer_id=by, at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row, roleplay


def verdicts(session: Session, roleplay: Roleplay) -> list[Verdict]:
    """Each stored check beside the trainer's latest override of it."""
    rows = session.scalars(
        select(CheckOverride)
        .where(CheckOverride.roleplay_id == roleplay.id)
        .order_by(CheckOverride.at, CheckOverride.id)
    ).all()
    latest = {row.check_id: row for row in rows}
    return [
        Verdict(c["id"], c["title"], bool(c["passed"]), c["reason"], latest.get(c["id"]))
        for c in roleplay.checks
    ]


def effective_score(session: Session, roleplay: Roleplay) -> int:
    """The stored score moved by the checks a trainer turned: each check is worth
    the same share of the check weight as when it was scored."""
    checks = verdicts(session, roleplay)
    if not checks:
        return int(roleplay.score)
    turned = sum(
        (1 if v.passed else -1) for v in checks if v.override is not None and v.passed != v.auto
    )
    return max(0, min(100, round(roleplay.score + CHECK_WEIGHT * turned / len(checks))))


def team(session: Session, store: str | None = None) -> list[AdvisorSummary]:
    """Per advisor who practised or has assignments: attempts, best and last
    score (with overrides), the checks failed most often, open assignments."""
    query = select(Advisor).order_by(Advisor.store, Advisor.id)
    if store:
        query = query.where(Advisor.store == store)
    summaries = []
    for advisor in session.scalars(query).all():
        plays = session.scalars(
            select(Roleplay)
            .where(Roleplay.advisor_id == advisor.id)
            .order_by(Roleplay.ended_at, Roleplay.id)
        ).all()
        assigned = tasks(session, advisor.id)
        if not plays and not assigned:
            continue
        scores = [effective_score(session, play) for play in plays]
        failed: Counter[str] = Counter()
        for play in plays:
            failed.update(v.title for v in verdicts(session, play) if not v.passed)
        summaries.append(
            AdvisorSummary(
                advisor_id=advisor.id,
                name=advisor.name,
                store=advisor.store,
                attempts=len(plays),
                best=max(scores) if scores else None,
                last=scores[-1] if scores else None,
                weakest=failed.most_common(3),
                open_tasks=sum(1 for t in assigned if not t.done),
                overdue_tasks=sum(1 for t in assigned if t.overdue),
            )
        )
    return summaries
