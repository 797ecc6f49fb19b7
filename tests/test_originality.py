"""Everything we wrote in Chinese is our own: no 14-character run is taken from the
source documents in ../shared/seeds/ (scripts, personas, replies, NLU data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
WINDOW = 14
_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)|\{[a-z_]+\}")


def seed_corpus() -> str:
    if not SEEDS.is_dir():
        pytest.skip("the source documents are not beside this checkout")
    return "".join(p.read_text(encoding="utf-8", errors="ignore") for p in SEEDS.iterdir())


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def our_texts() -> list[tuple[str, str]]:
    files = [*ROOT.glob("data/scripts/**/*.yml"), *ROOT.glob("data/personas/*.yml"),
             ROOT / "data/replies/zh.yml", *ROOT.glob("data/flows/*.yml"),
             *ROOT.glob("data/nlu/*.yml"), *ROOT.glob("tests/nlu/*.yml")]  # fmt: skip
    texts = []
    for path in files:
        for text in strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for line in text.splitlines():
                clean = _MARKUP.sub(r"\1", line).strip("- ").strip()
                if len(clean) >= WINDOW:
                    texts.append((str(path.relative_to(ROOT)), clean))
    return texts


def test_no_sentence_is_copied_from_the_source_documents() -> None:
    corpus = seed_corpus()
    windows = {corpus[i : i + WINDOW] for i in range(len(corpus) - WINDOW + 1)}
    copied = [
        (where, text)
        for where, text in our_texts()
        if any(text[i : i + WINDOW] in windows for i in range(len(text) - WINDOW + 1))
    ]
    assert not copied, copied[:5]
