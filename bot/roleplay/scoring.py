"""The scorecard: yes/no checks with a reason quoting the transcript, and a score.

Scoring replays the advisor's lines through a fresh simulator, so the score is
a function of the transcript alone: the same conversation always scores the same.
For each failed check the card offers a better line from the script library.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.flows.scripts import GENERAL, Library
from bot.roleplay.personas import Persona, Rules
from bot.roleplay.simulator import ASK_STAGE, PITCH, Line, RoleplayState, Simulator, start

CHECK_WEIGHT = 70
COVERAGE_WEIGHT = 30
# Which script group holds a better line for a failed check.
BETTER_LINE = {
    "situation_first": ("reception", "situation"),
    "problem_uncovered": ("reception", "problem"),
    "implication_after_problem": ("reception", "implication"),
    "need_payoff_before_pitch": ("reception", "need_payoff"),
    "need_in_client_words": ("reception", "need_payoff"),
    "facts_used": ("reception", "value"),
    "no_forbidden": ("reception", "price_objection"),
    "open_questions": ("reception", "situation"),
    "close_or_hook": ("reception", "hook"),
    "respond": ("complaint", "respond"),
    "empathise": ("complaint", "empathise"),
    "resolve": ("complaint", "resolve"),
    "compensate": ("complaint", "compensate"),
    "improve": ("complaint", "improve"),
}
CHECK_TITLES = {
    "situation_first": "推荐之前先问了背景问题",
    "problem_uncovered": "至少挖出一个难点",
    "implication_after_problem": "难点之后问了暗示问题",
    "need_payoff_before_pitch": "推荐之前问了需求-效益问题",
    "need_in_client_words": "客户用自己的话说出了需求",
    "facts_used": "用上了客户说过的事实",
    "no_forbidden": "没有傲慢、施压或先让价的说法",
    "open_questions": "开放式问题占多数",
    "close_or_hook": "最后成交或留下钩子",
    "respond": "第一步：先道歉、先担责",
    "empathise": "第二步：共情并确认事实",
    "resolve": "第三步：给出解决方案",
    "compensate": "第四步：给出补偿",
    "improve": "第五步：说明改进并约回访",
}


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    passed: bool
    reason: str
    better: str | None = None


@dataclass(frozen=True)
class Scorecard:
    score: int
    checks: tuple[Check, ...]
    coverage: dict[str, bool]
    outcome: str | None
    trust: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "checks": [asdict(c) for c in self.checks],
            "coverage": self.coverage,
            "outcome": self.outcome,
            "trust": self.trust,
        }

    def render(self) -> str:
        lines = [f"陪练得分：{self.score}/100"]
        for check in self.checks:
            lines.append(f"{'✅' if check.passed else '❌'} {check.title}：{check.reason}")
            if check.better:
                lines.append(f"   更好的说法：{check.better}")
        return "\n".join(lines)


def replay(persona: Persona, rules: Rules, library: Library, lines: list[Line]) -> RoleplayState:
    """A fresh conversation with the same advisor lines."""
    simulator = Simulator(persona, rules, library.forbidden)
    state = start(persona)
    for line in lines:
        if state.ended:
            break
        simulator.respond(
            state, line.kind if line.kind in (*ASK_STAGE, PITCH) else "other", line.text
        )
    return state


def _quote(line: Line | None) -> str:
    return f"「{line.text}」" if line else ""


def _first(lines: list[Line], kinds: tuple[str, ...]) -> tuple[int, Line | None]:
    for index, line in enumerate(lines):
        if line.kind in kinds:
            return index, line
    return len(lines), None


def _facts_used(persona: Persona, state: RoleplayState) -> list[Line]:
    """Advisor lines that pick up a key word the client had already said."""
    words = persona.implication_triggers + persona.need_keywords
    heard = ""
    used = []
    for line in state.transcript:
        if line.who == "client":
            heard += line.text
        elif any(w in line.text and w in heard for w in words):
            used.append(line)
    return used


OUTCOME_TEXT = {"purchase": "客户决定购买", "hook": "留下了下次联系的钩子", "left": "客户离开了"}


def _forbidden_check(state: RoleplayState) -> tuple[str, bool, str]:
    hits = state.forbidden_hits
    return ("no_forbidden", not hits, f"出现了「{hits[0]}」" if hits else "没有出现")


def _reception_checks(
    persona: Persona, rules: Rules, state: RoleplayState
) -> list[tuple[str, bool, str]]:
    advisor = state.advisor_lines()
    pitch_at, pitch = _first(advisor, (PITCH,))
    situation_at, situation = _first(advisor, ("ask_situation",))
    need_at, need_q = _first(advisor, ("ask_need_payoff",))
    _, implication = _first(advisor, ("ask_implication",))
    questions = [line for line in advisor if line.kind in ASK_STAGE]
    open_count = sum(1 for line in questions if line.open)
    heard = "".join(line.text for line in state.transcript if line.who == "client")
    problems = [text for text in persona.facts["problem"] if text in heard]
    needs = [text for text in persona.facts["need"] if text in heard]
    used = _facts_used(persona, state)

    situation_ok = situation is not None and situation_at < pitch_at
    if situation_ok:
        situation_reason = f"第一个背景问题{_quote(situation)}"
    else:
        situation_reason = f"先推荐了{_quote(pitch)}" if pitch else "没有问背景问题"
    if state.landed:
        implication_reason = f"暗示问题{_quote(implication)}让客户确认了影响"
    elif implication:
        implication_reason = f"问了{_quote(implication)}，但没戳到客户在意的地方"
    else:
        implication_reason = "没有问暗示问题"
    need_first = need_q is not None and need_at < pitch_at
    open_share = open_count / len(questions) if questions else 0.0
    return [
        ("situation_first", situation_ok, situation_reason),
        ("problem_uncovered", bool(problems),
         f"客户说出了「{problems[0]}」" if problems else "客户的难点没有被问出来"),
        ("implication_after_problem", state.landed, implication_reason),
        ("need_payoff_before_pitch", need_first,
         f"推荐前问了{_quote(need_q)}" if need_first else "推荐之前没有让客户说出方案的价值"),
        ("need_in_client_words", bool(needs),
         f"客户原话：「{needs[0]}」" if needs else "客户没有亲口说出需求"),
        ("facts_used", bool(used),
         f"{_quote(used[0])}用上了客户说过的事" if used else "推荐和提问没有用上客户说过的事实"),
        _forbidden_check(state),
        ("open_questions", open_share >= rules.min_open_share,
         f"开放式问题 {open_count}/{len(questions)}"),
        ("close_or_hook", state.outcome in ("purchase", "hook"),
         OUTCOME_TEXT.get(state.outcome or "", "还没有成交或留下钩子")),
    ]  # fmt: skip


def _complaint_checks(persona: Persona, state: RoleplayState) -> list[tuple[str, bool, str]]:
    advisor = state.advisor_lines()
    checks = []
    for index, step in enumerate(persona.stages):
        done = len(state.steps_done) > index and state.steps_done[index] == step
        said = next((line for line in advisor if line.kind == step), None)
        reason = (
            f"按顺序做到了：{_quote(said)}"
            if done
            else (f"顺序不对：{_quote(said)}" if said else "没有做到")
        )
        checks.append((step, done, reason))
    checks.append(_forbidden_check(state))
    return checks


def better_line(library: Library, persona: Persona, check: str) -> str | None:
    flow, group = BETTER_LINE[check]
    values = {"address": persona.name}
    for script in library.group(flow, group):
        if script.scenario in (persona.scenario, GENERAL):
            text = script.render(values)
            if text:
                return text
    return None


def score(persona: Persona, rules: Rules, library: Library, lines: list[Line]) -> Scorecard:
    state = replay(persona, rules, library, lines)
    if persona.flow == "complaint":
        raw = _complaint_checks(persona, state)
        coverage = {step: step in state.steps_done for step in persona.stages}
    else:
        raw = _reception_checks(persona, rules, state)
        coverage = {
            "situation": bool(state.revealed.get("situation")),
            "problem": bool(state.revealed.get("problem")),
            "implication": state.landed,
            "need": state.need_stated,
        }
    checks = tuple(
        Check(
            cid,
            CHECK_TITLES[cid],
            passed,
            reason,
            None if passed else better_line(library, persona, cid),
        )
        for cid, passed, reason in raw
    )
    passed = sum(1 for c in checks if c.passed)
    covered = sum(1 for v in coverage.values() if v)
    total = round(CHECK_WEIGHT * passed / len(checks) + COVERAGE_WEIGHT * covered / len(coverage))
    return Scorecard(total, checks, coverage, state.outcome, state.trust)
