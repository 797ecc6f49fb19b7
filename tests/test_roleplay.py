"""Role-play: personas, the simulated client, deterministic scoring, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.datafiles import DataFileError
from bot.flows.scripts import load_library
from bot.roleplay.personas import Persona, load_personas, load_rules, parse_persona
from bot.roleplay.scoring import score
from bot.roleplay.simulator import Line, RoleplayState, Simulator, start
from tests.test_flow_actions import Conversation

PERSONAS = load_personas()
RULES = load_rules()
LIBRARY = load_library()


def good_lines(persona: Persona) -> list[tuple[str, str]]:
    """A well-ordered conversation built from what this persona cares about."""
    if persona.flow == "complaint":
        cues = persona.step_cues or {}
        return [
            ("other", f"{persona.name}，真的非常{cues['respond'][0]}，这件事是我们没做好。"),
            ("other", f"我{cues['empathise'][0]}您的心情，想和您{cues['empathise'][-1]}细节。"),
            ("other", f"我们的{cues['resolve'][0]}是这样：今天就和工坊确认，给您一个确定的时间。"),
            ("other", f"另外想给您一点{cues['compensate'][0]}，表达我们的歉意。"),
            ("other", f"我们已经在{cues['improve'][0]}门店的流程，之后我会亲自回访您。"),
        ]  # fmt: skip
    trigger, keyword = persona.implication_triggers[0], persona.need_keywords[0]
    return [
        ("other", f"{persona.name}您好，先坐下歇会儿。"),
        ("ask_situation", "您平时主要在什么场合用得比较多呢？"),
        ("ask_situation", "最近生活和工作上有哪些新的安排？"),
        ("ask_problem", "现在用的这些，有哪些地方让您觉得不太称心？"),
        ("ask_implication", f"这种情况在{trigger}上，会带来哪些影响呢？"),
        ("ask_need_payoff", "如果这个问题解决了，对您来说最大的不同是什么？"),
        ("pitch_product", f"按您说的，我给您拿一款{keyword}的，您先上手感受一下。"),
        ("pitch_product", f"这款也很{keyword}，细节做得很用心，您对比看看。"),
        ("other", "不着急决定，我们下周有个小沙龙，我加您微信发邀请给您。"),
    ]


def pitch_first_lines(persona: Persona) -> list[tuple[str, str]]:
    return [
        ("pitch_product", "给您推荐这款今年的新款，卖得特别好。"),
        ("pitch_product", "这款很多客人都喜欢，您试试？"),
        ("ask_situation", "您平时用吗？"),
        ("pitch_product", "那要不就拿这款？"),
    ]


def play(persona: Persona, lines: list[tuple[str, str]]) -> RoleplayState:
    simulator = Simulator(persona, RULES, LIBRARY.forbidden)
    state = start(persona)
    for kind, text in lines:
        if state.ended:
            break
        simulator.respond(state, kind, text)
    return state


def test_at_least_six_personas_cover_the_source_situations() -> None:
    assert len(PERSONAS) >= 6
    assert {p.flow for p in PERSONAS.values()} == {"reception", "complaint"}
    assert len({p.scenario for p in PERSONAS.values()}) >= 4


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_well_ordered_conversation_scores_high_and_ends_well(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    state = play(persona, good_lines(persona))
    card = score(persona, RULES, LIBRARY, state.advisor_lines())
    assert card.score >= 80, card.render()
    assert state.outcome in {"purchase", "hook", "satisfied"}, state.outcome
    revealed = [line.text for line in state.transcript if line.who == "client"]
    assert any(
        fact in " ".join(revealed) for stage in persona.stages for fact in persona.facts[stage]
    )


@pytest.mark.parametrize(
    "persona_id", sorted(p for p in PERSONAS if PERSONAS[p].flow == "reception")
)
def test_pitch_first_scores_low_and_client_turns_guarded(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    state = play(persona, pitch_first_lines(persona))
    card = score(persona, RULES, LIBRARY, state.advisor_lines())
    assert card.score <= 50, card.render()
    assert state.trust < RULES.guarded_below
    replies = [line.text for line in state.transcript if line.who == "client"][1:]
    assert persona.line("pitch_early") in replies
    failed = [c for c in card.checks if not c.passed]
    assert failed and all(c.better for c in failed if c.id != "no_forbidden")


def test_complaint_out_of_order_and_blaming_scores_low() -> None:
    persona = PERSONAS["vip_complaint_brooch"]
    lines = [("other", "我们可以免费补偿您一次保养。"), ("other", "规定就是这样，我们也没办法。")]
    state = play(persona, lines)
    card = score(persona, RULES, LIBRARY, state.advisor_lines())
    assert card.score <= 50 and state.forbidden_hits


def test_the_same_transcript_always_gets_the_same_score() -> None:
    persona = PERSONAS["tech_founder_watch"]
    lines = play(persona, good_lines(persona)[:5]).advisor_lines()
    first = score(persona, RULES, LIBRARY, lines)
    second = score(persona, RULES, LIBRARY, [Line(**line.__dict__) for line in lines])
    assert first == second


@pytest.mark.parametrize("persona_id", sorted(PERSONAS))
def test_facts_never_contradict_across_turns(persona_id: str) -> None:
    persona = PERSONAS[persona_id]
    kinds = (
        ["ask_situation"] * 6 + ["ask_problem"] * 4
        if persona.flow == "reception"
        else ["other"] * 6
    )
    state = play(persona, [(k, "您平时都是怎么安排的？") for k in kinds])
    said = [line.text for line in state.transcript if line.who == "client"]
    for stage in persona.stages:
        facts = persona.facts[stage]
        order = [facts.index(text) for text in said if text in facts]
        assert order == sorted(order) and len(order) == len(set(order)), (stage, order)
    # Asking again after every fact is out repeats a fact already said, never a new one.
    repeats = [text for text in said if text.startswith(persona.line("repeat").split("{")[0])]
    for text in repeats:
        assert any(fact in text for stage in persona.stages for fact in persona.facts[stage])


def test_bad_persona_names_file_and_line(tmp_path: Path) -> None:
    source = Path(__file__).parent.parent / "data/personas/tech_founder_watch.yml"
    path = tmp_path / "p.yml"
    path.write_text(
        source.read_text(encoding="utf-8").replace("trust: 50", "trust: 500"), encoding="utf-8"
    )
    with pytest.raises(DataFileError, match="from 0 to 100") as caught:
        parse_persona(path)
    assert caught.value.line is not None and caught.value.line > 1


def test_roleplay_through_actions_is_scored_stored_and_reported(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = Conversation("A001")
    opened = chat.say("开始陪练 我想练手表", "start_roleplay")
    payload = chat.payload(opened)
    assert payload["mode"] == "roleplay" and payload["roleplay"]["persona"] == "tech_founder_watch"
    assert "【陈先生】" in opened[-1]["text"]
    persona = PERSONAS["tech_founder_watch"]
    trust = [payload["roleplay"]["trust"]]
    for kind, text in good_lines(persona)[1:4]:
        trust.append(chat.payload(chat.say(text, kind))["roleplay"]["trust"])
    assert trust == sorted(trust) and trust[-1] > trust[0]
    hinted = chat.say("给我提示", "next_step")
    assert "提示" in hinted[0]["text"]
    ended = chat.say("结束陪练 打分", "end_session")
    final = chat.payload(ended)
    assert final["mode"] == "idle" and final["roleplay"]["scorecard"]["score"] > 0
    assert "陪练得分" in ended[-1]["text"]
    chat.say("开始陪练", "start_roleplay")
    for kind, text in pitch_first_lines(persona):
        chat.say(text, kind)
    chat.say("结束陪练", "end_session")
    out = tmp_path / "chart.png"
    assert main(["roleplay", "report", "A001", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Role-plays of A001: 2" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
