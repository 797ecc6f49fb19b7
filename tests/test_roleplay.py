"""Role-play: reading the trainee, answering in character, scoring, the trainer's side,
and the routing Rasa sees (the rules in data/rules/ drive the conversations here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.cards import ActionLookupClient
from actions.chat import ActionChat
from actions.flows import ActionEndSession, ActionNextStep, ActionRelaySignal, ActionStartReception
from actions.roleplay import (
    ActionEndRoleplay,
    ActionRoleplayHint,
    ActionRoleplayTasks,
    ActionRoleplayTurn,
    ActionStartRoleplay,
)
from bot.cli import main
from bot.datafiles import DataFileError
from bot.flows.scripts import load_library
from bot.roleplay.evaluate import (
    MOVES_SETS,
    TRANSCRIPTS,
    Transcript,
    agreement,
    load_labelled,
    load_transcripts,
    render_agreement,
    render_moves,
    score_moves,
)
from bot.roleplay.moves import load_catalogue, parse_catalogue
from bot.roleplay.personas import (
    BANDS,
    MIN_ANSWERS,
    Persona,
    load_personas,
    load_rules,
    parse_persona,
    parse_rules,
)
from bot.roleplay.scoring import Scorecard, replay, score
from bot.roleplay.simulator import Line, RoleplayState
from bot.roleplay.stages import load_stages, parse_stages
from tests.conftest import ROOT, make_tracker

PERSONAS = load_personas()
RULES = load_rules()
LIBRARY = load_library()
CATALOGUE = load_catalogue()
RECEPTION = sorted(p for p in PERSONAS if PERSONAS[p].flow == "reception")
TRANSCRIPT_SET = load_transcripts(ROOT / TRANSCRIPTS, PERSONAS)
# The moves the issue asks to recognise "whatever the wording", 30+ lines each.
MEASURED = ("greeting", "drink", "seat", "compliment", "wecom", "invite", "material",
            "follow_up", "close", "apology", "empathy")  # fmt: skip
# Lines from the issue: a need-payoff question answered 哦，好，我先看看 and a
# textbook hook judged 还没有成交或留下钩子 before.
NEED_PAYOFF = "如果能把这个问题解决掉,对您来说最大的好处会是什么"
TEXTBOOK_HOOK = "您要是还想再考虑,我加您企业微信,把这两款的资料发给您,下周也欢迎您来我们工坊看看"


def transcript(transcript_id: str) -> Transcript:
    return next(t for t in TRANSCRIPT_SET if t.id == transcript_id)


def by_the_book(persona_id: str) -> list[tuple[str, str]]:
    """The persona's first benchmark transcript: rapport, SPIN in order, value, a hook or close."""
    return list(next(t for t in TRANSCRIPT_SET if t.persona == persona_id).lines)


def card_of(persona: Persona, lines: list[tuple[str, str]]) -> Scorecard:
    return score(persona, RULES, LIBRARY, [Line("advisor", text, intent) for intent, text in lines])


def client_lines(state: RoleplayState) -> list[str]:
    return [line.text for line in state.transcript if line.who == "client"]


def answers(persona: Persona, move: str) -> list[str]:
    """Everything the persona may answer to ``move``, in any band."""
    return [text for band in BANDS for text in persona.answers[move][band]]


def check(card: Scorecard, check_id: str) -> Any:
    return next(c for c in card.checks if c.id == check_id)


# -- data files --------------------------------------------------------------


def test_personas_cover_the_situations_and_answer_every_move_in_every_band() -> None:
    assert len(PERSONAS) >= 6
    assert {p.flow for p in PERSONAS.values()} == {"reception", "complaint"}
    assert len({p.scenario for p in PERSONAS.values()}) >= 4
    for persona in PERSONAS.values():
        for move in CATALOGUE.for_flow(persona.flow):
            for band in BANDS:
                answers = persona.answers[move][band]
                assert len(set(answers)) >= MIN_ANSWERS, (persona.id, move, band)


def test_one_definition_of_stages_serves_facts_coverage_and_hints() -> None:
    stages = load_stages()
    for persona in PERSONAS.values():
        assert tuple(persona.facts) == stages[persona.flow].ids
    for flow in stages.values():
        for stage in flow.stages:
            assert LIBRARY.group(flow.flow, stage.hint), stage


def test_bad_persona_names_file_and_line(tmp_path: Path) -> None:
    source = (ROOT / "data/personas/tech_founder_watch.yml").read_text(encoding="utf-8")
    path = tmp_path / "p.yml"
    path.write_text(source.replace("trust: 50", "trust: 500"), encoding="utf-8")
    with pytest.raises(DataFileError, match="from 0 to 100") as caught:
        parse_persona(path, CATALOGUE, load_stages())
    assert caught.value.line is not None and caught.value.line > 1
    first = PERSONAS["tech_founder_watch"].answers["drink"]["cool"][0]
    path.write_text(source.replace(f"[{first},", "[嗯。,"), encoding="utf-8")
    with pytest.raises(DataFileError, match="also an answer") as caught:
        parse_persona(path, CATALOGUE, load_stages())
    assert caught.value.line is not None


def test_bad_cue_pattern_and_bad_rules_name_file_and_line(tmp_path: Path) -> None:
    moves = tmp_path / "moves.yml"
    source = (ROOT / "data/roleplay/moves.yml").read_text(encoding="utf-8")
    moves.write_text(source.replace("(入座|落座|就座)", "(入座|落座|就座"), encoding="utf-8")
    with pytest.raises(DataFileError, match="regular expression") as caught:
        parse_catalogue(moves)
    assert caught.value.line is not None and caught.value.line > 1
    rules = tmp_path / "rules.yml"
    source = (ROOT / "data/roleplay/rules.yml").read_text(encoding="utf-8")
    rules.write_text(source.replace("default: 80", "default: 80\n  手机: 70"), encoding="utf-8")
    with pytest.raises(DataFileError, match="pass_marks") as caught:
        parse_rules(rules)
    assert caught.value.line is not None
    stages = tmp_path / "stages.yml"
    source = (ROOT / "data/roleplay/stages.yml").read_text(encoding="utf-8")
    stages.write_text(source.replace("hint: need_payoff", "hint: nothing"), encoding="utf-8")
    with pytest.raises(DataFileError, match="no script group") as caught:
        parse_stages(stages, CATALOGUE, LIBRARY)
    assert caught.value.line is not None


def test_pass_marks_are_per_scenario_with_a_default() -> None:
    assert RULES.pass_mark("腕表") == RULES.pass_marks.get("腕表", RULES.pass_marks["default"])
    assert RULES.pass_marks["default"] == 80


# -- understanding the trainee -----------------------------------------------


def test_moves_are_recognised_whatever_the_wording() -> None:
    """Recall and precision per move on labelled trainee lines kept out of training
    (run with -s to see the table; `copilot roleplay moves` prints it too)."""
    for path, floor in zip(MOVES_SETS, (0.9, 0.85, 0.85), strict=True):
        lines = load_labelled(ROOT / path, CATALOGUE)
        scores = {s.move: s for s in score_moves(CATALOGUE, lines)}
        print(f"\n{path}\n{render_moves(list(scores.values()))}")
        for move in MEASURED:
            assert min(scores[move].recall, scores[move].precision) >= floor, scores[move]
    first = load_labelled(ROOT / MOVES_SETS[0], CATALOGUE)
    for move in MEASURED:
        assert sum(move in line.moves for line in first) >= 30, move


@pytest.mark.parametrize(
    ("text", "intent", "moves"),
    [
        (
            "陈先生您好，欢迎光临，这边请坐，给您倒杯茶？",
            "ask_need_payoff",
            ("greeting", "drink", "seat"),
        ),
        (TEXTBOOK_HOOK, "ask_need_payoff", ("wecom", "invite", "material")),
        (NEED_PAYOFF, "ask_need_payoff", ("need_payoff",)),
        ("您好，今天想看点什么？", "ask_situation", ("greeting", "situation")),
        ("喝点什么？我们有咖啡和茶", "ask_situation", ("drink",)),
        ("下周五请客，我们新推了个宴请套餐，您要不要看看？", "nlu_fallback", ("pitch",)),
        ("那这块我给您包起来吧", "pitch_product", ("close",)),
    ],
)
def test_a_line_is_read_into_every_move_it_makes(
    text: str, intent: str, moves: tuple[str, ...]
) -> None:
    assert CATALOGUE.read(text, intent, "reception").moves == moves


# -- answering in character --------------------------------------------------


@pytest.mark.parametrize("persona_id", RECEPTION)
def test_rapport_gets_rapport_and_a_generic_implication_a_partial_yes(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    state = replay(persona, RULES, LIBRARY, [("ask_need_payoff", "您好，先坐，给您倒杯茶？")])
    assert client_lines(state)[-1] in answers(persona, "drink")
    lines = [*by_the_book(persona_id)[:4], ("ask_implication", "这样会有什么影响吗？")]
    state = replay(persona, RULES, LIBRARY, lines)
    answer = client_lines(state)[-1]
    assert state.generic and answer in answers(persona, "implication")
    assert len(answer) > 8 and answer not in ("对。", "是的。")


@pytest.mark.parametrize("persona_id", RECEPTION)
def test_need_payoff_gets_the_need_once_problem_and_implication_landed(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    book = by_the_book(persona_id)
    early = replay(persona, RULES, LIBRARY, [*book[:3], ("ask_need_payoff", NEED_PAYOFF)])
    assert client_lines(early)[-1] in answers(persona, "need_payoff")
    landed = replay(persona, RULES, LIBRARY, [*book[:5], ("ask_need_payoff", NEED_PAYOFF)])
    assert "problem" in landed.covered and "implication" in landed.covered
    assert client_lines(landed)[-1] == persona.facts["need"][0]


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_no_client_line_is_repeated_and_facts_come_in_order(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    pushy = [("ask_need_payoff", "先坐先坐，给您倒杯茶？")] * 5 + [
        ("ask_situation", "您平时一般都是怎么安排的？")
    ] * 8 + [("ask_problem", "现在有哪些地方让您不满意？")] * 5 + [
        ("nlu_fallback", "嗯嗯好的")
    ] * 8  # fmt: skip
    state = replay(persona, RULES, LIBRARY, pushy)
    said = client_lines(state)
    assert len(said) == len(set(said)), [s for s in said if said.count(s) > 1]
    for stage, facts in persona.facts.items():
        order = [facts.index(text) for text in said if text in facts]
        assert order == sorted(order) == list(range(len(order))), (stage, order)


# -- scoring -------------------------------------------------------------------


def test_the_scorer_agrees_with_the_trainer_labels() -> None:
    for persona_id in PERSONAS:
        assert sum(t.persona == persona_id for t in TRANSCRIPT_SET) >= 12
    result = agreement(TRANSCRIPT_SET, PERSONAS, RULES, LIBRARY)
    print("\n" + render_agreement(result, examples=10))
    assert result.share >= 0.95


@pytest.mark.parametrize("persona_id", RECEPTION)
def test_by_the_book_reception_with_the_textbook_hook_passes(persona_id: str) -> None:
    """As a new user would: the benchmark's by-the-book lines, the issue's own
    need-payoff question, a pitch on the need, then the issue's textbook hook."""
    persona = PERSONAS[persona_id]
    book = by_the_book(persona_id)
    lines = [*book[:5], ("ask_need_payoff", NEED_PAYOFF), book[6], ("nlu_fallback", TEXTBOOK_HOOK)]
    state = replay(persona, RULES, LIBRARY, lines)
    card = card_of(persona, lines)
    assert card.score >= 80 and card.passed, card.render()
    hook = check(card, "close_or_hook")
    assert hook.passed and hook.turn == len(lines), hook
    assert state.outcome == "hook"
    assert len(client_lines(state)) == len(set(client_lines(state)))


@pytest.mark.parametrize("persona_id", RECEPTION)
def test_pitch_first_scores_low_and_the_client_cools(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    lines = [
        ("pitch_product", "给您推荐这款今年的新款，卖得特别好。"),
        ("pitch_product", "这款很多客人都喜欢，您试试？"),
        ("ask_situation", "您平时用吗？"),
        ("pitch_product", "那要不就拿这款？"),
    ]
    state = replay(persona, RULES, LIBRARY, lines)
    card = card_of(persona, lines)
    assert card.score <= 50, card.render()
    assert state.trust < persona.trust and client_lines(state)[1] in answers(persona, "pitch")
    failed = [c for c in card.checks if not c.passed]
    assert failed and all(c.better for c in failed if c.id != "no_forbidden")


def test_each_check_names_the_turn_it_rests_on() -> None:
    persona = PERSONAS["tech_founder_watch"]
    card = card_of(persona, list(transcript("watch_12").lines))
    assert check(card, "need_payoff_before_pitch").turn == 3  # the early pitch
    assert "第3句" in check(card, "need_payoff_before_pitch").reason
    assert check(card, "close_or_hook").turn == 8
    rest_on_a_turn = [c for c in card.checks if c.id not in ("open_questions", "no_forbidden")]
    assert all(c.turn is not None and f"第{c.turn}句" in c.reason for c in rest_on_a_turn)


def test_a_hook_counts_only_after_value_and_whenever_it_comes() -> None:
    persona = PERSONAS["tech_founder_watch"]
    early = card_of(persona, list(transcript("watch_06").lines))
    assert not check(early, "close_or_hook").passed
    assert "之前" in check(early, "close_or_hook").reason
    late = card_of(persona, list(transcript("watch_01").lines))
    assert check(late, "close_or_hook").passed


def test_complaint_out_of_order_and_blaming_scores_low() -> None:
    persona = PERSONAS["vip_complaint_brooch"]
    lines = [
        ("nlu_fallback", "我们可以免费补偿您一次保养。"),
        ("nlu_fallback", "规定就是这样，我们也没办法。"),
    ]
    card = card_of(persona, lines)
    assert card.score <= 50
    assert "顺序不对" in check(card, "compensate").reason
    assert check(card, "no_forbidden").turn == 2


def test_the_same_transcript_always_gets_the_same_score() -> None:
    persona = PERSONAS["tech_founder_watch"]
    lines = list(transcript("watch_05").lines)
    assert card_of(persona, lines) == card_of(persona, list(lines))


# -- routing, through the actions -------------------------------------------


ACTIONS = {
    action.name(): action
    for action in (
        ActionStartRoleplay(), ActionRoleplayTurn(), ActionRoleplayHint(), ActionEndRoleplay(),
        ActionRoleplayTasks(), ActionChat(), ActionStartReception(), ActionRelaySignal(),
        ActionNextStep(), ActionEndSession(), ActionLookupClient(),
    )
}  # fmt: skip


def load_routes() -> list[tuple[dict[str, Any], set[str], str]]:
    """(condition slots, intents, action) of every rule in data/rules/."""
    routes = []
    for path in sorted((ROOT / "data/rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
            condition: dict[str, Any] = {}
            for item in rule.get("condition", []):
                for slot in item.get("slot_was_set", []):
                    condition.update(slot)
            step = rule["steps"][0]
            intents = {o["intent"] for o in step["or"]} if "or" in step else {step["intent"]}
            routes.append((condition, intents, rule["steps"][1]["action"]))
    return routes


ROUTES = load_routes()


def route(intent: str, slots: dict[str, Any]) -> str:
    """What RulePolicy picks: the matching rule with the most conditions."""
    matching = [
        (len(cond), action)
        for cond, intents, action in ROUTES
        if intent in intents and all(slots.get(k) == v for k, v in cond.items())
    ]
    assert matching, intent
    return max(matching)[1]


def test_in_a_role_play_every_intent_has_a_route() -> None:
    domain = yaml.safe_load((ROOT / "domain/intents.yml").read_text(encoding="utf-8"))
    routed = {intent: route(intent, {"mode": "roleplay"}) for intent in domain["intents"]}
    assert routed["greet"] == routed["client_hesitation"] == "action_roleplay_turn"
    assert routed["next_step"] == "action_roleplay_hint"
    assert routed["end_session"] == "action_end_roleplay"
    assert route("ask_situation", {"mode": "idle"}) == "action_chat"


class Trainee:
    """One advisor's chat: each message goes to the action the rules pick."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {}
        self.ran: list[str] = []

    def say(self, text: str, intent: str, **entities: str) -> dict[str, Any]:
        name = route(intent, self.slots)
        self.ran.append(name)
        dispatcher = CollectingDispatcher()
        found = [{"entity": k, "value": v} for k, v in entities.items()]
        tracker = make_tracker(text, intent, found, sender=self.sender, slots=dict(self.slots))
        for event in ACTIONS[name].run(dispatcher, tracker, {}):
            self.slots[event["name"]] = event["value"]
        message = dispatcher.messages[-1]
        return {
            "text": message["text"],
            "buttons": message["buttons"],
            **message["custom"]["copilot"],
        }


def test_a_role_play_through_the_actions_is_scored_stored_and_reported(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = Trainee("A001")
    opened = chat.say("开始陪练 我想练手表", "start_roleplay")
    assert opened["mode"] == "roleplay" and opened["roleplay"]["persona"] == "tech_founder_watch"
    assert [s["id"] for s in opened["roleplay"]["stages"]] == list(load_stages()["reception"].ids)
    trust = [opened["roleplay"]["trust"]]
    for intent, text in by_the_book("tech_founder_watch")[:4]:
        trust.append(chat.say(text, intent)["roleplay"]["trust"])
    assert trust == sorted(trust) and trust[-1] > trust[0]
    hinted = chat.say("给我提示", "next_step")
    assert "暗示问题" in hinted["text"] and hinted["mode"] == "roleplay"
    assert "需求-效益" in chat.say("直接跳到需求那步", "jump_step")["text"]
    ended = chat.say("结束陪练 打分", "end_session")
    assert ended["mode"] == "idle" and ended["roleplay"]["scorecard"]["score"] > 0
    assert "陪练得分" in ended["text"] and "及格线 80" in ended["text"]
    assert chat.ran == [
        "action_start_roleplay", *["action_roleplay_turn"] * 4, *["action_roleplay_hint"] * 2,
        "action_end_roleplay",
    ]  # fmt: skip
    after = chat.say("下一步说啥", "next_step")
    assert chat.ran[-1] == "action_next_step" and after["mode"] == "idle"
    chat.say("开始陪练 练手表", "start_roleplay")
    for intent, text in by_the_book("tech_founder_watch"):
        reply = chat.say(text, intent)
    assert reply["mode"] == "idle" and reply["roleplay"]["outcome"] == "hook"
    assert reply["roleplay"]["scorecard"]["passed"]
    out = tmp_path / "chart.png"
    assert main(["roleplay", "report", "A001", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Role-plays of A001: 2" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_assign_tasks_override_and_team(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["roleplay", "assign", "A003", "--persona", "tech_founder_watch", "--due", "2026-12-01"]
    assert main([*args, "--by", "A008"]) == 0
    assert main([*args[:3], "--persona", "nobody", "--due", "2026-12-01"]) == 1
    assert main([*args, "--by", "A001"]) == 1  # an advisor, not a trainer
    capsys.readouterr()
    chat = Trainee("A003")
    listed = chat.say("我的陪练任务", "roleplay_tasks")
    assert chat.ran == ["action_roleplay_tasks"] and "陈先生" in listed["text"]
    assert "12月1日" in listed["text"] and listed["buttons"]
    payload = listed["buttons"][0]["payload"]
    started = chat.say(payload, "start_roleplay", option="tech_founder_watch")
    assert started["roleplay"]["persona"] == "tech_founder_watch"
    for intent, text in by_the_book("tech_founder_watch"):
        reply = chat.say(text, intent)
    assert reply["roleplay"]["scorecard"]["passed"]
    assert "没有待完成" in chat.say("我的陪练任务", "roleplay_tasks")["text"]

    assert main(["roleplay", "tasks", "A003"]) == 0
    assert "done (best 100)" in capsys.readouterr().out
    assert (
        main(["roleplay", "report", "A003", "--out", str(Path(demo_db[10:]).parent / "c.png")]) == 0
    )
    roleplay_id = int(capsys.readouterr().out.splitlines()[2].split()[0])
    override = ["roleplay", "override", str(roleplay_id), "close_or_hook", "--fail"]
    assert main([*override, "--reason", "", "--by", "A008"]) == 1
    assert main([*override, "--reason", "加微信前没有确认客户意愿", "--by", "A008"]) == 0
    assert "100 automatic, 93 with overrides" in capsys.readouterr().out
    assert main(["roleplay", "show", str(roleplay_id)]) == 0
    shown = capsys.readouterr().out
    assert "close_or_hook" in shown and "→ fail by A008" in shown and "[1] 顾问" in shown
    assert main(["roleplay", "team", "--store", "深圳万象城店"]) == 0
    team = capsys.readouterr().out
    assert "A003" in team and "给出价值之后促成或留下钩子 ×1" in team


def test_the_benchmark_commands_print_their_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roleplay", "moves"]) == 0
    assert "greeting" in capsys.readouterr().out
    assert main(["roleplay", "agreement"]) == 0
    assert "scorer agrees with the trainer labels" in capsys.readouterr().out
