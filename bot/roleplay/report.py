"""Role-play reports for trainers: an advisor's history (text and a PNG chart),
one role-play with its transcript and verdicts, and the team view."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cards.models import Roleplay
from bot.clock import to_local
from bot.roleplay.personas import load_personas
from bot.roleplay.trainer import AdvisorSummary, Task, effective_score, verdicts


def history(session: Session, advisor_id: str) -> list[Roleplay]:
    query = (
        select(Roleplay)
        .where(Roleplay.advisor_id == advisor_id)
        .order_by(Roleplay.ended_at, Roleplay.id)
    )
    return list(session.scalars(query).all())


def _title(persona_id: str) -> str:
    personas = load_personas()
    return personas[persona_id].title if persona_id in personas else persona_id


def render(session: Session, advisor_id: str, rows: list[Roleplay]) -> str:
    if not rows:
        return f"No role-plays recorded for {advisor_id}."
    lines = [
        f"Role-plays of {advisor_id}: {len(rows)}",
        f"{'#':>4} {'when':<17} {'score':>5}  {'outcome':<10} persona",
    ]
    scores = []
    for row in rows:
        score = effective_score(session, row)
        scores.append(score)
        when = to_local(row.ended_at).strftime("%Y-%m-%d %H:%M")
        shown = f"{score}" if score == row.score else f"{score}*"
        lines.append(
            f"{row.id:>4} {when:<17} {shown:>5}  {row.outcome or '':<10} {_title(row.persona_id)}"
        )
        failed = [v.title for v in verdicts(session, row) if not v.passed]
        if failed:
            lines.append(f"{'':>4} {'':<17} {'':>5}  to work on: {'; '.join(failed)}")
    lines.append(
        f"average {sum(scores) / len(scores):.1f}, best {max(scores)}, latest {scores[-1]}"
    )
    if any(s != r.score for s, r in zip(scores, rows, strict=True)):
        lines.append("* a trainer overrode a check (copilot roleplay show ID)")
    return "\n".join(lines)


def render_one(session: Session, row: Roleplay) -> str:
    """The transcript, then every check: the automatic verdict and any override."""
    when = to_local(row.ended_at).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Role-play #{row.id} of {row.advisor_id}, {when}: {_title(row.persona_id)}",
        f"score {row.score} (automatic), {effective_score(session, row)} with overrides; "
        f"outcome {row.outcome}",
        "",
    ]
    for line in row.transcript:
        who = "顾问" if line.get("who") == "advisor" else "客户"
        turn = f"[{line['turn']}] " if line.get("who") == "advisor" and line.get("turn") else ""
        lines.append(f"{turn}{who}：{line.get('text', '')}")
    lines.append("")
    for verdict in verdicts(session, row):
        mark = "pass" if verdict.auto else "fail"
        lines.append(f"{verdict.id:<26} {mark:<5} {verdict.title}：{verdict.reason}")
        if verdict.override is not None:
            o = verdict.override
            turned = "pass" if o.passed else "fail"
            at = to_local(o.at).strftime("%Y-%m-%d %H:%M")
            lines.append(f"{'':<26} → {turned} by {o.trainer_id} {at}: {o.reason}")
    return "\n".join(lines)


def render_tasks(advisor_id: str, tasks: list[Task]) -> str:
    if not tasks:
        return f"No role-plays assigned to {advisor_id}."
    lines = [f"Role-plays assigned to {advisor_id}:"]
    for task in tasks:
        if task.done:
            status = f"done (best {task.best})"
        elif task.attempts:
            status = f"tried {task.attempts}x, best {task.best} < {task.pass_mark}"
        else:
            status = "not started"
        if task.overdue:
            status += ", OVERDUE"
        lines.append(
            f"  #{task.assignment.id} {task.persona.id} due {task.assignment.due_on}: {status}"
        )
    return "\n".join(lines)


def render_team(summaries: list[AdvisorSummary]) -> str:
    if not summaries:
        return "No role-plays or assignments yet."
    lines = [
        f"{'advisor':<8} {'name':<6} {'store':<10} {'tries':>5} {'best':>4} {'last':>4} "
        f"{'open':>4} {'late':>4}  weakest checks"
    ]
    for s in summaries:
        weakest = "; ".join(f"{title} ×{count}" for title, count in s.weakest) or "-"
        best = "-" if s.best is None else str(s.best)
        last = "-" if s.last is None else str(s.last)
        lines.append(
            f"{s.advisor_id:<8} {s.name:<6} {s.store:<10} {s.attempts:>5} {best:>4} {last:>4} "
            f"{s.open_tasks:>4} {s.overdue_tasks:>4}  {weakest}"
        )
    return "\n".join(lines)


def plot(advisor_id: str, rows: list[Roleplay], scores: list[int], path: Path) -> Path:
    """Scores over time, one point per role-play (persona ids as labels, ASCII only,
    since the image needs no CJK font)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    xs = list(range(1, len(rows) + 1))
    axes.plot(xs, scores, marker="o", color="#8a6d3b")
    for x, row, score in zip(xs, rows, scores, strict=True):
        axes.annotate(row.persona_id, (x, score), textcoords="offset points", xytext=(0, 8),
                      ha="center", fontsize=7)  # fmt: skip
    axes.axhline(80, color="#5a8f5a", linestyle="--", linewidth=1)
    axes.set_ylim(0, 105)
    axes.set_xticks(xs)
    axes.set_xticklabels(
        [to_local(r.ended_at).strftime("%m-%d %H:%M") for r in rows], rotation=30, fontsize=7
    )
    axes.set_ylabel("score")
    axes.set_title(f"Role-play scores: {advisor_id}")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
