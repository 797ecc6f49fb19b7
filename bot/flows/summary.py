"""The visit note written when a session ends: facts by step, signals, follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.cards.card import PreferenceView
from bot.flows.definition import Flow
from bot.flows.engine import Session

SIGNAL_LABELS = {
    "client_interest": "购买信号",
    "client_hesitation": "犹豫",
    "client_price_objection": "价格顾虑",
}
# Days until the suggested follow-up, by where the session ended.
FOLLOW_UP_DAYS = {"close": 7, "hook": 3, "complaint": 1}
DEFAULT_FOLLOW_UP_DAYS = 14


@dataclass(frozen=True)
class Summary:
    text: str
    details: dict[str, Any]
    status: str
    follow_up_on: date


def summarize(flow: Flow, session: Session, recorded: list[PreferenceView], today: date) -> Summary:
    lines = []
    facts_by_step: dict[str, list[str]] = {}
    for step in flow.steps:
        texts = [f.text for f in session.facts_for(step.id) if f.signal not in SIGNAL_LABELS]
        if texts:
            facts_by_step[step.id] = texts
            lines.append(f"· {step.title}：{'；'.join(texts)}")
    signals = [
        (SIGNAL_LABELS[f.signal], f.text) for f in session.facts if f.signal in SIGNAL_LABELS
    ]
    for label, text in signals:
        lines.append(f"· {label}：{text}")
    if session.issue:
        lines.append(f"· 投诉事项：{session.issue}")
    checklist = [
        {"id": item.id, "label": item.label, "captured": session.checklist.get(item.id)}
        for step in flow.steps
        for item in step.checklist
    ]
    if flow.mode == "complaint":
        marks = " ".join(f"{c['label']}{'✓' if c['captured'] else '✗'}" for c in checklist)
        lines.append(f"· 事实确认：{marks}")
    if recorded:
        lines.append("· 本次记下的偏好：" + "；".join(f"{p.category}·{p.value}" for p in recorded))
    reached = flow.step(session.step)
    lines.append(f"· 进行到：{reached.title}")
    if session.skipped:
        lines.append("· 跳过的步骤：" + "、".join(flow.step(s).title for s in session.skipped))
    key = "complaint" if flow.mode == "complaint" else session.step
    follow_up = today + timedelta(days=FOLLOW_UP_DAYS.get(key, DEFAULT_FOLLOW_UP_DAYS))
    lines.append(f"· 建议跟进：{follow_up.month}月{follow_up.day}日")
    if flow.mode == "complaint":
        status = "resolved" if reached.ending else "open"
    else:
        status = session.step if reached.ending else "visit"
    details = {
        "flow": flow.id,
        "reached": session.step,
        "facts": facts_by_step,
        "signals": [{"label": label, "text": text} for label, text in signals],
        "preferences": [p.to_payload() for p in recorded],
        "checklist": checklist,
        "skipped": list(session.skipped),
        "issue": session.issue,
    }
    return Summary("\n".join(lines), details, status, follow_up)
