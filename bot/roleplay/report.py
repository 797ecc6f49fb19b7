"""`copilot roleplay report ADVISOR`: the history as text and a PNG chart of scores."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cards.models import Roleplay
from bot.clock import to_local
from bot.roleplay.personas import load_personas


def history(session: Session, advisor_id: str) -> list[Roleplay]:
    query = (
        select(Roleplay)
        .where(Roleplay.advisor_id == advisor_id)
        .order_by(Roleplay.ended_at, Roleplay.id)
    )
    return list(session.scalars(query).all())


def render(advisor_id: str, rows: list[Roleplay]) -> str:
    if not rows:
        return f"No role-plays recorded for {advisor_id}."
    personas = load_personas()
    lines = [
        f"Role-plays of {advisor_id}: {len(rows)}",
        f"{'when':<17} {'score':>5}  {'outcome':<10} persona",
    ]
    for row in rows:
        title = personas[row.persona_id].title if row.persona_id in personas else row.persona_id
        when = to_local(row.ended_at).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{when:<17} {row.score:>5}  {row.outcome or '':<10} {title}")
        failed = [c["title"] for c in row.checks if not c["passed"]]
        if failed:
            lines.append(f"{'':<17} {'':>5}  to work on: {'; '.join(failed)}")
    average = sum(r.score for r in rows) / len(rows)
    lines.append(
        f"average {average:.1f}, best {max(r.score for r in rows)}, latest {rows[-1].score}"
    )
    return "\n".join(lines)


def plot(advisor_id: str, rows: list[Roleplay], path: Path) -> Path:
    """Scores over time, one point per role-play (persona ids as labels, ASCII only,
    since the image needs no CJK font)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    xs = list(range(1, len(rows) + 1))
    scores = [r.score for r in rows]
    axes.plot(xs, scores, marker="o", color="#8a6d3b")
    for x, row in zip(xs, rows, strict=True):
        axes.annotate(row.persona_id, (x, row.score), textcoords="offset points", xytext=(0, 8),
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
