"""The scorecard: yes/no checks a trainer can defend, and a score.

Every check names the trainee turn it rests on (第3句) and says why, quoting the
line. Scoring replays the trainee's lines through a fresh simulator, so the
score is a function of the transcript alone: the same conversation always
scores the same. For each failed check the card offers a better line from the
script library. The pass mark is per scenario (data/roleplay/rules.yml).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from bot.flows.scripts import GENERAL, Library
from bot.roleplay.moves import Catalogue, load_catalogue
from bot.roleplay.personas import Persona, Rules
from bot.roleplay.simulator import PITCH, Line, RoleplayState, Simulator, start
from bot.roleplay.stages import FlowStages, load_stages

CHECK_WEIGHT = 70
COVERAGE_WEIGHT = 30
QUOTE_CHARS = 28
CHECK_TITLES = {
    "rapport": "开场先建立信任",
    "situation_first": "推荐之前先问了背景",
    "problem_uncovered": "挖出了客户的难点",
    "implication_after_problem": "暗示问题让客户感到影响",
    "need_payoff_before_pitch": "推荐之前让客户说出需求",
    "pitch_on_need": "推荐扣住了客户说的需求",
    "facts_used": "用上了客户说过的话",
    "open_questions": "开放式问题为主",
    "no_forbidden": "没有傲慢、施压或先让价的说法",
    "close_or_hook": "给出价值之后促成或留下钩子",
    "respond": "第一步：先道歉、先担责",
    "empathise": "第二步：共情并确认事实",
    "resolve": "第三步：给出解决方案",
    "compensate": "第四步：给出补偿",
    "improve": "第五步：说明改进并约回访",
}
RECEPTION_CHECKS = ("rapport", "situation_first", "problem_uncovered",
                    "implication_after_problem", "need_payoff_before_pitch", "pitch_on_need",
                    "facts_used", "open_questions", "no_forbidden", "close_or_hook")  # fmt: skip
# Which script group holds a better line for a failed check that is not a stage.
BETTER_LINE = {
    "rapport": "rapport",
    "situation_first": "situation",
    "problem_uncovered": "problem",
    "implication_after_problem": "implication",
    "need_payoff_before_pitch": "need_payoff",
    "pitch_on_need": "value",
    "facts_used": "value",
    "open_questions": "situation",
    "close_or_hook": "hook",
}
OUTCOME_TEXT = {"purchase": "客户决定购买", "hook": "客户留了下次联系的口子",
                "left": "客户离开了", "satisfied": "客户接受了处理"}  # fmt: skip


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    passed: bool
    reason: str
    turn: int | None = None  # the trainee turn (from 1) the verdict rests on
    better: str | None = None


@dataclass(frozen=True)
class Scorecard:
    score: int
    pass_mark: int
    checks: tuple[Check, ...]
    coverage: dict[str, bool]
    outcome: str | None
    trust: int

    @property
    def passed(self) -> bool:
        return self.score >= self.pass_mark

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "pass_mark": self.pass_mark,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "coverage": self.coverage,
            "outcome": self.outcome,
            "trust": self.trust,
        }

    def render(self) -> str:
        verdict = "通过" if self.passed else "未通过"
        lines = [f"陪练得分：{self.score}/100（及格线 {self.pass_mark}，{verdict}）"]
        if self.outcome in OUTCOME_TEXT:
            lines.append(f"结果：{OUTCOME_TEXT[self.outcome]}")
        for check in self.checks:
            lines.append(f"{'✅' if check.passed else '❌'} {check.title}：{check.reason}")
            if check.better:
                lines.append(f"   更好的说法：{check.better}")
        return "\n".join(lines)


def simulator_for(persona: Persona, rules: Rules, library: Library) -> Simulator:
    return Simulator(
        persona, rules, library.forbidden, load_catalogue(), load_stages()[persona.flow]
    )


def replay(
    persona: Persona, rules: Rules, library: Library, lines: Iterable[tuple[str, str]]
) -> RoleplayState:
    """A fresh conversation with the same trainee lines, each (intent, text)."""
    simulator = simulator_for(persona, rules, library)
    state = start(persona)
    for intent, text in lines:
        if state.ended:
            break
        simulator.respond(state, intent, text)
    return state


def _quote(line: Line | None) -> str:
    if line is None:
        return ""
    text = line.text if len(line.text) <= QUOTE_CHARS else line.text[:QUOTE_CHARS] + "…"
    return f"第{line.turn}句「{text}」"


class _Reader:
    """The trainee's lines of one replayed session, by turn and by move."""

    def __init__(self, state: RoleplayState, catalogue: Catalogue) -> None:
        self.state = state
        self.lines = state.advisor_lines()
        self.questions = set(catalogue.ids("question"))
        self.rapport = set(catalogue.ids("rapport"))
        self.closing = set(catalogue.ids("close") + catalogue.ids("hook"))

    def at(self, turn: int | None) -> Line | None:
        return next((line for line in self.lines if line.turn == turn), None)

    def first(self, moves: set[str], after: int = 0) -> Line | None:
        return next(
            (line for line in self.lines if line.turn >= after and moves & set(line.moves)), None
        )

    def asked(self, move: str) -> list[Line]:
        return [line for line in self.lines if move in line.moves]


def _reception_checks(
    persona: Persona, rules: Rules, library: Library, state: RoleplayState
) -> list[tuple[str, bool, str, int | None]]:
    read = _Reader(state, load_catalogue())
    covered = state.covered
    pitch = read.at(state.first_pitch)
    checks: list[tuple[str, bool, str, int | None]] = []

    rapport = read.first(read.rapport)
    opener = read.first(read.questions | {PITCH})
    if rapport is not None and (opener is None or rapport.turn <= opener.turn):
        checks.append(("rapport", True, f"{_quote(rapport)}先招呼了客户", rapport.turn))
    elif rapport is not None and opener is not None:
        why = f"{_quote(opener)}一开口就提问或推荐，第{rapport.turn}句才寒暄"
        checks.append(("rapport", False, why, opener.turn))
    else:
        checks.append(("rapport", False, "整场没有问候、奉茶、让座或真诚的赞美", None))

    situation = read.at(covered.get("situation"))
    if situation is not None and (pitch is None or situation.turn < pitch.turn):
        why = f"{_quote(situation)}问出了客户的情况"
        checks.append(("situation_first", True, why, situation.turn))
    elif pitch is not None:
        why = f"{_quote(pitch)}先推荐了，客户的情况还没问出来"
        checks.append(("situation_first", False, why, pitch.turn))
    else:
        checks.append(("situation_first", False, _not_drawn(read, "situation", "背景问题"), None))

    checks.append(_stage_check(read, state, persona, "problem", "problem_uncovered", "难点",
                               f"客户说出了难点：「{persona.facts['problem'][0]}」"))  # fmt: skip
    generic = read.at(state.generic[0]) if state.generic else None
    if "implication" in covered:
        why = f"{_quote(read.at(covered['implication']))}扣住了客户说的难点，客户确认了影响"
        checks.append(("implication_after_problem", True, why, covered["implication"]))
    elif generic is not None:
        why = f"{_quote(generic)}问得太泛，没有扣住客户说的难点，客户只是含糊带过"
        checks.append(("implication_after_problem", False, why, generic.turn))
    else:
        checks.append(_stage_check(read, state, persona, "implication",
                                   "implication_after_problem", "暗示", ""))  # fmt: skip

    need = read.at(covered.get("need"))
    if need is not None and (pitch is None or need.turn < pitch.turn):
        checks.append(("need_payoff_before_pitch", True,
                       f"{_quote(need)}让客户亲口说出了需求", need.turn))  # fmt: skip
    elif need is not None and pitch is not None:
        why = f"{_quote(pitch)}推荐在先，第{need.turn}句才让客户说出需求"
        checks.append(("need_payoff_before_pitch", False, why, pitch.turn))
    else:
        checks.append(_stage_check(read, state, persona, "need", "need_payoff_before_pitch",
                                   "需求-效益", ""))  # fmt: skip

    value = read.at(state.value_turn)
    if value is not None:
        checks.append(("pitch_on_need", True, f"{_quote(value)}扣住了客户说的需求", value.turn))
    else:
        checks.append(("pitch_on_need", False, _missed_value(read, state), None))

    used = _facts_used(rules, state, read)
    if used is not None:
        checks.append(("facts_used", True, f"{_quote(used)}用上了客户说过的话", used.turn))
    else:
        checks.append(("facts_used", False, "提问和推荐都没有用上客户说过的话", None))

    questions = [line for line in read.lines if read.questions & set(line.moves)]
    opened = [line for line in questions if line.open]
    closed = next((line for line in questions if not line.open), None)
    share_ok = bool(questions) and len(opened) / len(questions) >= rules.min_open_share
    why = f"开放式问题 {len(opened)}/{len(questions)}"
    if closed is not None and not share_ok:
        why += f"，如{_quote(closed)}是封闭式"
    where = closed.turn if closed is not None and not share_ok else None
    checks.append(("open_questions", share_ok, why, where))
    checks.append(_forbidden_check(library, read))

    hook = read.first(read.closing, after=state.value_turn or 0) if value else None
    early_hook = read.first(read.closing)
    if hook is not None:
        what = "促成" if "close" in hook.moves else "留下了钩子"
        checks.append(("close_or_hook", True, f"{_quote(hook)}在推荐对路之后{what}", hook.turn))
    elif early_hook is not None:
        why = f"{_quote(early_hook)}的钩子或促成在给出价值之前，之后没有再收尾"
        checks.append(("close_or_hook", False, why, early_hook.turn))
    else:
        why = "推荐对路之后没有促成，也没有留钩子" if value else "没有促成，也没有留钩子"
        checks.append(("close_or_hook", False, why, None))
    return checks


def _not_drawn(read: _Reader, move: str, name: str) -> str:
    asked = read.asked(move)
    if not asked:
        return f"没有问{name}"
    if not any(line.open for line in asked):
        return f"{_quote(asked[0])}是封闭式问题，客户没有展开"
    return f"{_quote(asked[0])}问了，但客户戒备，没有说出来"


def _stage_check(
    read: _Reader, state: RoleplayState, persona: Persona, stage: str, check: str, name: str,
    passed_why: str,
) -> tuple[str, bool, str, int | None]:  # fmt: skip
    move = {"need": "need_payoff"}.get(stage, stage)
    turn = state.covered.get(stage)
    if turn is not None:
        return check, True, f"{_quote(read.at(turn))}，{passed_why}".rstrip("，"), turn
    early = read.at(state.early.get(stage))
    if early is not None:
        return check, False, f"{_quote(early)}问{name}问题太早，前一步还没做好", early.turn
    return check, False, _not_drawn(read, move, f"{name}问题"), None


def _missed_value(read: _Reader, state: RoleplayState) -> str:
    pitches = read.asked(PITCH)
    if not pitches:
        return "没有推荐产品"
    need = state.covered.get("need")
    after = [line for line in pitches if need is not None and line.turn > need]
    if after:
        return f"{_quote(after[0])}推荐的没有对上客户说的需求"
    return f"{_quote(pitches[0])}推荐时客户还没说出需求"


def _facts_used(rules: Rules, state: RoleplayState, read: _Reader) -> Line | None:
    """The first question or pitch that picks up something the client had told in
    answer to a question (why they came, in the opening line, is not enough)."""
    heard = ""
    for line in state.transcript:
        if line.who == "client" and line.kind.startswith("fact:"):
            heard += line.text
        elif (
            line.who == "advisor"
            and (read.questions | {PITCH}) & set(line.moves)
            and rules.pairs(line.text) & rules.pairs(heard)
        ):
            return line
    return None


def _forbidden_check(library: Library, read: _Reader) -> tuple[str, bool, str, int | None]:
    for line in read.lines:
        hits = library.forbidden.find(line.text)
        if hits:
            return "no_forbidden", False, f"{_quote(line)}：{hits[0].why}", line.turn
    return "no_forbidden", True, "没有出现", None


def _complaint_checks(
    stages: FlowStages, library: Library, state: RoleplayState
) -> list[tuple[str, bool, str, int | None]]:
    read = _Reader(state, load_catalogue())
    checks: list[tuple[str, bool, str, int | None]] = []
    for stage in stages.stages:
        turn = state.covered.get(stage.id)
        early = read.at(state.early.get(stage.id))
        if turn is not None:
            checks.append((stage.id, True, f"{_quote(read.at(turn))}按顺序做到了", turn))
        elif early is not None:
            before = stages.get(stage.needs).title if stage.needs else ""
            why = f"{_quote(early)}顺序不对：「{before}」还没做到"
            checks.append((stage.id, False, why, early.turn))
        else:
            checks.append((stage.id, False, "没有做到", None))
    checks.append(_forbidden_check(library, read))
    return checks


def better_line(library: Library, persona: Persona, flow: str, group: str) -> str | None:
    values = {"address": persona.name}
    for script in library.group(flow, group):
        if script.scenario in (persona.scenario, GENERAL):
            text = script.render(values)
            if text:
                return text
    return None


def _better_group(stages: FlowStages, check: str) -> tuple[str, str] | None:
    if check in stages.ids:
        return stages.flow, stages.get(check).hint
    if check == "no_forbidden":
        return (stages.flow, "price_objection" if stages.flow == "reception" else "respond")
    return (stages.flow, BETTER_LINE[check]) if check in BETTER_LINE else None


def score(persona: Persona, rules: Rules, library: Library, lines: list[Line]) -> Scorecard:
    """The scorecard of the trainee lines (their ``kind`` is the NLU intent)."""
    state = replay(persona, rules, library, [(line.kind, line.text) for line in lines])
    stages = load_stages()[persona.flow]
    if persona.flow == "complaint":
        raw = _complaint_checks(stages, library, state)
    else:
        raw = _reception_checks(persona, rules, library, state)
    checks = []
    for check_id, passed, reason, turn in raw:
        group = None if passed else _better_group(stages, check_id)
        better = better_line(library, persona, *group) if group else None
        checks.append(Check(check_id, CHECK_TITLES[check_id], passed, reason, turn, better))
    coverage = {stage_id: stage_id in state.covered for stage_id in stages.ids}
    passed_share = sum(1 for c in checks if c.passed) / len(checks)
    covered_share = sum(coverage.values()) / len(coverage)
    total = round(CHECK_WEIGHT * passed_share + COVERAGE_WEIGHT * covered_share)
    return Scorecard(
        total, rules.pass_mark(persona.scenario), tuple(checks), coverage, state.outcome,
        state.trust,
    )  # fmt: skip
