"""The vocabulary and the data-file loader report mistakes with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.datafiles import DataFileError
from bot.nlu.vocabulary import load_vocabulary, parse_vocabulary

GOOD = """\
honorifics: [先生, 女士]
surnames: [王, 欧阳]
preference_categories:
  忌口: [不吃]
  习惯: [习惯]
products:
  腕表: [手表]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vocabulary.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_vocabulary_loads() -> None:
    vocabulary = load_vocabulary()
    assert "先生" in vocabulary.honorifics
    assert vocabulary.category_names[0] == "过敏"
    assert vocabulary.split_honorific("欧阳女士") == ("欧阳", "女士")
    assert vocabulary.surname_of("欧阳娜娜") == "欧阳"
    assert vocabulary.scenario_of("想看 LV 的包") == "皮具"


def test_duplicate_word_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[不吃]", "\n    - 不吃\n    - 不吃"))
    with pytest.raises(DataFileError) as caught:
        parse_vocabulary(path)
    assert f"{path}:6" in str(caught.value)
    assert "listed twice" in str(caught.value)


def test_missing_section_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("products:\n  腕表: [手表]\n", ""))
    with pytest.raises(DataFileError, match="missing key 'products'"):
        parse_vocabulary(path)


def test_bad_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  餐饮: [套餐\n")
    with pytest.raises(DataFileError) as caught:
        parse_vocabulary(path)
    assert caught.value.line is not None and caught.value.line >= 8


def test_fallback_category_required(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  习惯: [习惯]\n", ""))
    with pytest.raises(DataFileError, match="fallback category"):
        parse_vocabulary(path)


def test_reply_wording_loads_and_checks_placeholders(tmp_path: Path) -> None:
    from bot.replies import load_wording, parse_wording

    wording = load_wording()
    assert "王先生" in wording.render("client_choose", {"count": 2, "mention": "王先生"})
    with pytest.raises(KeyError, match="needs mention"):
        wording.render("client_choose", {"count": 2})
    bad = tmp_path / "zh.yml"
    bad.write_text("greet:\n  - 你好\nbroken:\n  - 这里{有问题\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        parse_wording(bad)
    assert f"{bad}:4" in str(caught.value)
