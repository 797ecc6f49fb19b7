"""The script library lint: coverage, placeholders, forbidden phrasing, originality."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.datafiles import DataFileError
from bot.flows.definition import load_flows
from bot.flows.scripts import (
    MIN_PER_SCENARIO,
    PLACEHOLDERS,
    SCENARIOS,
    load_library,
    parse_forbidden,
    parse_script_file,
)

ROOT = Path(__file__).parent.parent
LIBRARY = load_library()
GROUPS = [(flow.id, step.id) for flow in load_flows().values() for step in flow.steps] + [
    ("reception", "price_objection")
]
FULL = {name: "样例" for name in PLACEHOLDERS}


@pytest.mark.parametrize(("flow", "group"), GROUPS)
def test_every_step_and_scenario_has_enough_scripts(flow: str, group: str) -> None:
    scripts = LIBRARY.group(flow, group)
    for scenario in SCENARIOS:
        mine = [s for s in scripts if s.scenario == scenario]
        assert len(mine) >= MIN_PER_SCENARIO, f"{flow}/{group}/{scenario}: {len(mine)}"
        # A walk-in with nothing known still gets suggestions.
        bare = [s for s in mine if s.render({"address": "您好"}) is not None]
        assert len(bare) >= 3, f"{flow}/{group}/{scenario} needs scripts without card data"


def test_every_placeholder_resolves_or_the_script_is_skipped() -> None:
    for scripts in LIBRARY.scripts.values():
        for script in scripts:
            assert script.render(FULL) is not None, script.id
            if script.placeholders - {"address"}:
                assert script.render({"address": "王先生"}) is None, script.id


def test_no_script_uses_forbidden_phrasing() -> None:
    for scripts in LIBRARY.scripts.values():
        for script in scripts:
            assert not LIBRARY.forbidden.find(script.text), script.id


def test_forbidden_list_catches_the_classics() -> None:
    for line in ("这款不是谁都能买的", "今天不买就没了哦", "您要是嫌贵我给您打个折", "赶紧下单吧"):
        assert LIBRARY.forbidden.find(line), line
    assert not LIBRARY.forbidden.find("这只表的机芯是手工打磨的，您可以先戴上感受一下。")


def test_bad_script_file_names_its_line(tmp_path: Path) -> None:
    forbidden = parse_forbidden(ROOT / "data/scripts/forbidden.yml")
    path = tmp_path / "bad.yml"
    path.write_text(
        "flow: reception\nstep: value\nscripts:\n  通用:\n    - 好的\n    - 今天不买就没了\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match="forbidden phrasing") as caught:
        parse_script_file(path, forbidden)
    assert caught.value.line == 6
    path.write_text(
        "flow: reception\nstep: value\nscripts:\n  通用:\n    - 您的{pet}真可爱\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError, match="unknown placeholder"):
        parse_script_file(path, forbidden)
    path.write_text(
        "flow: reception\nstep: value\nscripts:\n  通用:\n    - 好的，{address}\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError, match="vocative"):
        parse_script_file(path, forbidden)
