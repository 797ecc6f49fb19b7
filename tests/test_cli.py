"""The copilot command: showing cards and registering advisors, on a real database."""

from __future__ import annotations

import re

import pytest

from bot.advisors import authenticate
from bot.cards import db
from bot.cli import main


def test_cards_show_prints_every_match_with_masked_phones(
    demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cards", "show", "王先生"]) == 0
    printed = capsys.readouterr().out
    assert "[C0001]" in printed and "[C0002]" in printed
    assert "王建国" in printed and "王志强" in printed
    assert not re.search(r"1\d{10}", printed)
    assert main(["cards", "show", "诸葛先生"]) == 1
    assert "No card matches" in capsys.readouterr().err


def test_advisors_add_prints_a_working_token_on_its_last_line(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "advisors",
        "add",
        "A100",
        "--name",
        "赵敏",
        "--store",
        "杭州大厦店",
        "--role",
        "trainer",
    ]
    assert main(args) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("cpk_")
    with db.session_scope(db_url) as session:
        advisor = authenticate(session, token)
    assert advisor is not None and (advisor.id, advisor.role) == ("A100", "trainer")
    with pytest.raises(SystemExit):
        main(["advisors", "add", "A101", "--name", "x", "--store", "y", "--role", "boss"])
