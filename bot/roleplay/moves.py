"""What a trainee does in a role-play line, recognised whatever the wording.

The NLU model was trained to tell the advisor's commands and relayed client
signals apart, not to see that 坐下喝口水歇一歇 offers a seat and a drink or that
我加您企业微信，把资料发给您 leaves a hook; on such lines it guesses (often
``nlu_fallback`` or a question intent). So the moves are read from cue patterns
in data/roleplay/moves.yml, deterministic and editable by trainers, and the NLU
intent is one signal beside them: it names the SPIN question or the pitch, and
is kept next to cue moves only if the rest of the line still asks something.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.datafiles import DataFileError, Located, load_located
from bot.paths import project_root

MOVES_FILE = Path("data/roleplay/moves.yml")
FLOWS = ("reception", "complaint")
KINDS = ("rapport", "hook", "close", "complaint", "question", "pitch")
# Moves the cues decide; questions and pitches are the NLU intent's first.
SPOKEN = ("rapport", "hook", "close", "complaint")
# When no intent names a question, cues are tried from the most specific down.
QUESTION_ORDER = ("need_payoff", "implication", "problem", "situation")
_CLAUSE = re.compile(r"[，,。.！!；;：:\s~～、…]+")
_WORD_CHARS = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
MIN_CLAUSE_CHARS = 3


@dataclass(frozen=True)
class Move:
    id: str
    title: str
    kind: str
    flows: tuple[str, ...]
    cues: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    intents: tuple[str, ...] = ()
    fallback: bool = False
    weak_cues: tuple[re.Pattern[str], ...] = ()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the cues match (nothing if an `unless` pattern cancels the move)."""
        if any(pattern.search(text) for pattern in self.unless):
            return []
        return [
            match.span()
            for pattern in self.cues
            for match in pattern.finditer(text)
            if match.end() > match.start()
        ]


@dataclass(frozen=True)
class Reading:
    """The moves one line makes, in catalogue order, and the SPIN question it asks."""

    moves: tuple[str, ...]
    question: str | None = None

    def __contains__(self, move: object) -> bool:
        return move in self.moves

    @property
    def pitch(self) -> bool:
        return "pitch" in self.moves

    def of(self, ids: Iterable[str]) -> list[str]:
        """The moves of this line among ``ids``, in catalogue order."""
        wanted = set(ids)
        return [move for move in self.moves if move in wanted]


@dataclass(frozen=True)
class Catalogue:
    moves: dict[str, Move]
    asking: tuple[str, ...]

    def ids(self, kind: str, flow: str | None = None) -> tuple[str, ...]:
        return tuple(
            m.id
            for m in self.moves.values()
            if m.kind == kind and (flow is None or flow in m.flows)
        )

    def for_flow(self, flow: str) -> tuple[str, ...]:
        return tuple(m.id for m in self.moves.values() if flow in m.flows)

    def asks(self, text: str) -> bool:
        """Whether some clause of ``text`` asks something and says something besides
        (乜嘢呀 left over from 饮啲乜嘢呀 is no question of its own)."""
        for clause in _CLAUSE.split(text):
            words = [word for word in self.asking if word in clause]
            if not words:
                continue
            content = clause
            for word in words:
                content = content.replace(word, "")
            if len(_WORD_CHARS.findall(content)) >= MIN_CLAUSE_CHARS:
                return True
        return False

    def read(
        self,
        text: str,
        intent: str,
        flow: str,
        expect: str | None = None,
        done: Collection[str] = (),
    ) -> Reading:
        """The moves of ``text``. ``expect`` is the question the conversation is due
        for and ``done`` the questions already answered. The NLU often confuses
        neighbouring SPIN questions, so when it names one, the cues decide which:
        the due one if its cues match (会不会让他们觉得公司还不够成熟, filed as a
        problem question after the problem is out, is an implication), else the
        named one, else another, one not answered yet first (踩过什么坑 filed as
        a situation question is a problem question)."""
        active = [m for m in self.moves.values() if flow in m.flows]
        found: set[str] = set()
        covered: list[tuple[int, int]] = []
        for move in active:
            if move.kind in SPOKEN and (spans := move.spans(text)):
                found.add(move.id)
                covered.extend(spans)
        rest = _blank(text, covered)
        asks = self.asks(rest)
        if not found:
            # An intent may name a spoken move (a question in a complaint is
            # listening), when nothing else in the line is a cue.
            found.update(m.id for m in active if m.kind in SPOKEN and intent in m.intents and asks)
        spoken = bool(found)
        closing = any(self.moves[m].kind in ("hook", "close") for m in found)
        question = self._question(active, intent, rest, asks, spoken, expect, done)
        if question is not None:
            found.add(question)
        elif self._pitches(active, intent, rest, spoken, closing):
            found.add("pitch")
        return Reading(tuple(m.id for m in active if m.id in found), question)

    def _question(
        self,
        active: list[Move],
        intent: str,
        rest: str,
        asks: bool,
        spoken: bool,
        expect: str | None,
        done: Collection[str],
    ) -> str | None:
        questions = {m.id: m for m in active if m.kind == "question"}
        named = next((m for m in questions.values() if intent in m.intents), None)
        if named is not None:
            if not (asks or (not spoken and _asks_only(rest))):
                return None  # 按您说的，这枚细戒简约…… taken for a question, says
            # The intent says a question is asked; which one, the cues may know
            # better: the one the conversation is due for, else the intent's own,
            # else another whose cues match.
            due = questions.get(expect or "")
            others = sorted(QUESTION_ORDER, key=lambda q: q in done)
            ordered = [due, named, *(questions.get(q) for q in others)]
            cued = next((m for m in ordered if m and m.spans(rest)), None)
            if cued is None and self._strong_pitch(active, rest):
                return None  # 我们新推了个宴请套餐，您要不要看看？ offers, it does not ask
            return (cued or named).id
        if not asks or any(intent in m.intents for m in active if m.kind == "pitch"):
            return None
        for move_id in QUESTION_ORDER:
            move = questions.get(move_id)
            if move is not None and move.spans(rest):
                return move.id
        if spoken or self._strong_pitch(active, rest):
            return None
        return next((m.id for m in questions.values() if m.fallback), None)

    @staticmethod
    def _strong_pitch(active: list[Move], rest: str) -> bool:
        return any(m.kind == "pitch" and m.spans(rest) for m in active)

    @staticmethod
    def _pitches(active: list[Move], intent: str, rest: str, spoken: bool, closing: bool) -> bool:
        pitch = next((m for m in active if m.kind == "pitch"), None)
        if pitch is None:
            return False
        strong = bool(pitch.spans(rest))
        weak = not closing and any(p.search(rest) for p in pitch.weak_cues)
        if intent in pitch.intents:
            return not spoken or strong or weak
        # An offer the NLU missed or took for a question (…套餐，您要不要看看？);
        # a bare 这款 in a question (这款您喜欢吗？) is no pitch.
        return not spoken and (strong or (weak and not _asks_only(rest)))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the cue matches replaced by a clause break."""
    chars = list(text)
    for start, end in spans:
        for index in range(start, end):
            chars[index] = "，"
    return "".join(chars)


def _asks_only(text: str) -> bool:
    return text.rstrip().endswith(("？", "?"))


def _pattern(node: Located) -> re.Pattern[str]:
    source = node.text()
    try:
        return re.compile(source)
    except re.error as exc:
        raise node.error(f"not a valid regular expression: {exc}") from exc


def _choice(node: Located, allowed: tuple[str, ...], what: str) -> str:
    value = node.text()
    if value not in allowed:
        raise node.error(f"{what} must be one of {', '.join(allowed)}")
    return value


def parse_catalogue(path: Path) -> Catalogue:
    root = load_located(path)
    moves: dict[str, Move] = {}
    for move_id, node in root.get("moves").mapping().items():
        kind = _choice(node.get("kind"), KINDS, "kind")
        flows = tuple(_choice(item, FLOWS, "flow") for item in node.get("flows").items())
        if not flows:
            raise node.get("flows").error("a move needs at least one flow")
        cues = node.get("cues")
        if not cues.items():
            raise cues.error(f"move '{move_id}' needs at least one cue")
        unless = node.optional("unless")
        intents = node.optional("intents")
        fallback = node.optional("fallback")
        weak = node.optional("weak_cues")
        if fallback is not None and (kind != "question" or not isinstance(fallback.value, bool)):
            raise fallback.error("fallback is true or false, and only for a question")
        moves[move_id] = Move(
            id=move_id,
            title=node.get("title").text(),
            kind=kind,
            flows=flows,
            cues=tuple(_pattern(item) for item in cues.items()),
            unless=tuple(_pattern(item) for item in unless.items()) if unless else (),
            intents=tuple(intents.texts()) if intents else (),
            fallback=bool(fallback.value) if fallback else False,
            weak_cues=tuple(_pattern(item) for item in weak.items()) if weak else (),
        )
    if not moves:
        raise DataFileError(path, root.line, "no moves defined")
    pitches = [m for m in moves.values() if m.kind == "pitch"]
    if len(pitches) > 1 or (pitches and pitches[0].id != "pitch"):
        raise DataFileError(path, root.line, "there is one pitch move and its id is 'pitch'")
    asking = root.get("asking")
    return Catalogue(moves, tuple(asking.texts()))


@cache
def load_catalogue() -> Catalogue:
    return parse_catalogue(project_root() / MOVES_FILE)
