"""data/followups/rules.yml: the thresholds of the follow-ups, validated on load.

Store managers tune these (how many days before a birthday, which tiers count as
top tier, how fast a complaint escalates); a typo must stop the scheduler with
the file and line, not silently fall back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import Located, load_located
from bot.flows.definition import load_flows
from bot.paths import project_root

RULES_FILE = Path("data/followups/rules.yml")

COMPLAINT_STEP_KINDS = ("complaint_respond", "complaint_resolve")
DATE_KINDS = ("birthday", "anniversary", "family_date", "occasion")
KINDS = (*COMPLAINT_STEP_KINDS, "complaint_followup", *DATE_KINDS, "visit", "lapsed")


@dataclass(frozen=True)
class Kind:
    id: str
    title: str
    priority: int
    remind_before_minutes: int
    escalate: bool


@dataclass(frozen=True)
class DateRule:
    """Values containing a cue (and, if ``with_words``, one of them) are of ``kind``."""

    kind: str
    cues: tuple[str, ...]
    with_words: tuple[str, ...]
    days_ahead: int

    def matches(self, value: str) -> bool:
        if not any(cue in value for cue in self.cues):
            return False
        return not self.with_words or any(word in value for word in self.with_words)


@dataclass(frozen=True)
class Scheduling:
    sweep_seconds: int
    generate_minutes: int
    claim_timeout_minutes: int
    retry_minutes: int
    attempts: int
    expire_hours: int


@dataclass(frozen=True)
class Rules:
    kinds: dict[str, Kind]
    overdue_bonus: int
    date_category: str
    remind_hour: int
    date_rules: tuple[DateRule, ...]
    occasion_days_ahead: int
    week_days: int
    notes_lookback_days: int
    complaint_steps: dict[str, str]
    complaint_lookback_days: int
    lapsed_tiers: tuple[str, ...]
    lapsed_days: int
    scheduling: Scheduling

    def date_kind(self, value: str) -> tuple[str, int]:
        """The kind of a dated card value and how many days ahead its task is due."""
        for rule in self.date_rules:
            if rule.matches(value):
                return rule.kind, rule.days_ahead
        return "occasion", self.occasion_days_ahead

    @property
    def max_days_ahead(self) -> int:
        return max([self.occasion_days_ahead, *(r.days_ahead for r in self.date_rules)])


def _only(node: Located, allowed: tuple[str, ...]) -> dict[str, Located]:
    children = node.mapping()
    for key, child in children.items():
        if key not in allowed:
            raise child.error(f"unknown key '{key}' (known: {', '.join(allowed)})")
    for key in allowed:
        if key not in children:
            raise node.error(f"missing key '{key}'")
    return children


def _int(node: Located, low: int, high: int) -> int:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int):
        raise node.error(f"expected a whole number, found {value!r}")
    if not low <= value <= high:
        raise node.error(f"{value} is out of range ({low}–{high})")
    return value


def _words(node: Located) -> tuple[str, ...]:
    words = tuple(node.texts())
    if not words:
        raise node.error("expected at least one word")
    return words


def _kinds(node: Located) -> dict[str, Kind]:
    kinds = {}
    for key, child in node.mapping().items():
        if key not in KINDS:
            raise child.error(f"unknown kind '{key}' (known: {', '.join(KINDS)})")
        fields = child.mapping()
        for field in fields:
            if field not in ("title", "priority", "remind_before_minutes", "escalate"):
                raise fields[field].error(f"unknown key '{field}'")
        escalate = fields.get("escalate")
        if escalate is not None and not isinstance(escalate.value, bool):
            raise escalate.error("escalate must be true or false")
        kinds[key] = Kind(
            id=key,
            title=child.get("title").text(),
            priority=_int(child.get("priority"), 0, 1000),
            remind_before_minutes=_int(child.get("remind_before_minutes"), 0, 7 * 24 * 60),
            escalate=bool(escalate.value) if escalate is not None else False,
        )
    missing = [kind for kind in KINDS if kind not in kinds]
    if missing:
        raise node.error(f"kinds missing: {', '.join(missing)}")
    return kinds


def _date_rules(node: Located) -> tuple[DateRule, ...]:
    rules = []
    for item in node.items():
        fields = item.mapping()
        for field in fields:
            if field not in ("kind", "cues", "with", "days_ahead"):
                raise fields[field].error(f"unknown key '{field}'")
        kind = item.get("kind").text()
        if kind not in DATE_KINDS:
            raise item.get("kind").error(f"'{kind}' is not a date kind ({', '.join(DATE_KINDS)})")
        with_words = _words(fields["with"]) if "with" in fields else ()
        rules.append(
            DateRule(
                kind, _words(item.get("cues")), with_words, _int(item.get("days_ahead"), 0, 60)
            )
        )
    return tuple(rules)


def _complaint_steps(node: Located) -> dict[str, str]:
    flow = load_flows()["complaint"]
    steps = {}
    for step_id, child in node.mapping().items():
        kind = child.text()
        if kind not in COMPLAINT_STEP_KINDS:
            raise child.error(f"'{kind}' is not a complaint step kind")
        if step_id not in [s.id for s in flow.steps]:
            raise child.error(f"the complaint flow has no step '{step_id}'")
        if not flow.step(step_id).deadline_minutes:
            raise child.error(f"step '{step_id}' has no deadline in data/flows/complaint.yml")
        steps[step_id] = kind
    return steps


def parse_rules(path: Path) -> Rules:
    root = load_located(path)
    top = _only(
        root,
        ("kinds", "overdue_bonus", "dates", "notes", "complaints", "lapsed", "scheduler"),
    )
    dates = _only(
        top["dates"], ("category", "remind_hour", "kinds", "occasion_days_ahead", "week_days")
    )
    notes = _only(top["notes"], ("lookback_days",))
    complaints = _only(top["complaints"], ("steps", "lookback_days"))
    lapsed = _only(top["lapsed"], ("tiers", "inactive_days"))
    sched = _only(
        top["scheduler"],
        (
            "sweep_seconds",
            "generate_minutes",
            "claim_timeout_minutes",
            "retry_minutes",
            "attempts",
            "expire_hours",
        ),
    )
    return Rules(
        kinds=_kinds(top["kinds"]),
        overdue_bonus=_int(top["overdue_bonus"], 0, 1000),
        date_category=dates["category"].text(),
        remind_hour=_int(dates["remind_hour"], 0, 23),
        date_rules=_date_rules(dates["kinds"]),
        occasion_days_ahead=_int(dates["occasion_days_ahead"], 0, 60),
        week_days=_int(dates["week_days"], 1, 31),
        notes_lookback_days=_int(notes["lookback_days"], 0, 365),
        complaint_steps=_complaint_steps(complaints["steps"]),
        complaint_lookback_days=_int(complaints["lookback_days"], 1, 90),
        lapsed_tiers=_words(lapsed["tiers"]),
        lapsed_days=_int(lapsed["inactive_days"], 1, 3650),
        scheduling=Scheduling(
            sweep_seconds=_int(sched["sweep_seconds"], 1, 3600),
            generate_minutes=_int(sched["generate_minutes"], 1, 24 * 60),
            claim_timeout_minutes=_int(sched["claim_timeout_minutes"], 1, 24 * 60),
            retry_minutes=_int(sched["retry_minutes"], 1, 24 * 60),
            attempts=_int(sched["attempts"], 1, 20),
            expire_hours=_int(sched["expire_hours"], 1, 24 * 30),
        ),
    )


@cache
def load_rules() -> Rules:
    return parse_rules(project_root() / RULES_FILE)
