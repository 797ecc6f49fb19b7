"""SIGKILL of every copilot process mid-reception loses nothing.

The servers are started as `copilot up` starts them (single-machine default:
conversations in SQLite beside the card file). A reception is opened and moved to
the 背景问题 step; then every process is killed with SIGKILL, with no chance to
save anything, and the servers are started again: the next message carries the
reception on from the same step, with the facts gathered before the kill.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot import demo
from bot.advisors import issue_token, upsert_advisor
from bot.cards import db
from bot.server import Servers, free_port, running

pytestmark = pytest.mark.servers


def say(servers: Servers, token: str, text: str) -> dict[str, Any]:
    """The copilot payload of the last reply to ``text``."""
    request = urllib.request.Request(
        servers.webhook,
        data=json.dumps({"message": text}, ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        replies = json.loads(answer.read())
    assert replies, f"no reply to {text!r}"
    return dict(replies[-1]["custom"]["copilot"], text="\n".join(r["text"] for r in replies))


def start(url: str, log_dir: Path) -> Any:
    return running(url, free_port(), free_port(), "127.0.0.1", log_dir, nlu_port=free_port())


def test_reception_continues_at_the_same_step_after_every_process_is_killed(
    tmp_path: Path, trained_model: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'copilot.db'}"
    db.upgrade(url)
    with db.session_scope(url) as session:
        demo.load_if_empty(session)
        token = issue_token(
            session, upsert_advisor(session, "A001", "李娜", "上海恒隆店", "advisor")
        )

    with start(url, tmp_path / "first") as servers:
        opened = say(servers, token, "开始接待王建国")
        assert (opened["mode"], opened["flow_step"]) == ("reception", "rapport")
        before = say(servers, token, "他说平时经常出差见投资人")
        assert (before["mode"], before["flow_step"]) == ("reception", "situation")  # 背景问题
        processes = list(servers.processes.values())
        for process in processes:
            os.kill(process.pid, signal.SIGKILL)
        for process in processes:
            assert process.wait(timeout=30) == -signal.SIGKILL

    with start(url, tmp_path / "second") as servers:
        after = say(servers, token, "他说平时戴的是一块运动表")
        assert (after["mode"], after["flow_step"]) == ("reception", "problem")  # the next step
        assert after["client"]["name"] == "王建国"
        ended = say(servers, token, "结束接待")
    assert ended["mode"] == "idle"
    # The summary holds what was said on both sides of the kill.
    assert "平时经常出差见投资人" in ended["text"] and "运动表" in ended["text"], ended["text"]
