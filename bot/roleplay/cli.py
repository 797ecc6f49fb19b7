"""`copilot roleplay …`: history, assignments, overrides, the team, and the benchmarks."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.cards import db
from bot.cards.models import Roleplay
from bot.paths import project_root, var_dir


def cmd_report(args: argparse.Namespace) -> int:
    from bot.roleplay import report
    from bot.roleplay.trainer import effective_score

    with db.session_scope() as session:
        rows = report.history(session, args.advisor)
        print(report.render(session, args.advisor, rows))
        if rows:
            out = (
                Path(args.out)
                if args.out
                else var_dir() / "reports" / f"roleplay-{args.advisor}.png"
            )
            scores = [effective_score(session, row) for row in rows]
            print(f"Chart: {report.plot(args.advisor, rows, scores, out)}")
    return 0


def _due(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-12-01") from exc


def cmd_assign(args: argparse.Namespace) -> int:
    from bot.roleplay.trainer import TrainerError, assign

    try:
        with db.session_scope() as session:
            row, created = assign(session, args.advisor, args.persona, args.due, args.by)
            what = "Assigned" if created else "Already assigned; due date now"
            print(f"{what}: #{row.id} {args.persona} to {args.advisor}, due {row.due_on}.")
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from bot.roleplay.report import render_tasks
    from bot.roleplay.trainer import tasks

    with db.session_scope() as session:
        print(render_tasks(args.advisor, tasks(session, args.advisor)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from bot.roleplay.report import render_one

    with db.session_scope() as session:
        row = session.get(Roleplay, args.roleplay_id)
        if row is None:
            print(f"error: no role-play #{args.roleplay_id}", file=sys.stderr)
            return 1
        print(render_one(session, row))
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from bot.roleplay.trainer import TrainerError, effective_score, override

    try:
        with db.session_scope() as session:
            _, row = override(
                session, args.roleplay_id, args.check, args.passed, args.reason, args.by
            )
            verdict = "pass" if args.passed else "fail"
            print(
                f"Role-play #{args.roleplay_id}: {args.check} → {verdict} ({args.by}: "
                f"{args.reason}). Score {row.score} automatic, "
                f"{effective_score(session, row)} with overrides."
            )
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_team(args: argparse.Namespace) -> int:
    from bot.roleplay.report import render_team
    from bot.roleplay.trainer import team

    with db.session_scope() as session:
        print(render_team(team(session, args.store)))
    return 0


def cmd_moves(args: argparse.Namespace) -> int:
    from bot.roleplay.evaluate import MOVES_SETS, load_labelled, render_moves, score_moves
    from bot.roleplay.moves import load_catalogue

    catalogue = load_catalogue()
    for path in MOVES_SETS:
        lines = load_labelled(project_root() / path, catalogue)
        print(f"{path} ({len(lines)} lines)")
        print(render_moves(score_moves(catalogue, lines), args.examples))
        print()
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from bot.flows.scripts import load_library
    from bot.roleplay.evaluate import TRANSCRIPTS, agreement, load_transcripts, render_agreement
    from bot.roleplay.personas import load_personas, load_rules

    personas = load_personas()
    transcripts = load_transcripts(project_root() / TRANSCRIPTS, personas)
    result = agreement(transcripts, personas, load_rules(), load_library())
    print(render_agreement(result, args.examples))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """The `roleplay` subcommands, added to the `copilot` parser."""
    roleplay = sub.add_parser("roleplay", help="training role-play: history, assignments, reports")
    rp = roleplay.add_subparsers(dest="roleplay_command", required=True)

    report = rp.add_parser("report", help="an advisor's role-play history and score chart")
    report.add_argument("advisor")
    report.add_argument("--out", help="PNG path (default var/reports/roleplay-ADVISOR.png)")
    report.set_defaults(func=cmd_report)

    assign = rp.add_parser("assign", help="assign a persona to an advisor, due by a date")
    assign.add_argument("advisor")
    assign.add_argument("--persona", required=True, help="a persona id of data/personas/")
    assign.add_argument("--due", required=True, type=_due, help="YYYY-MM-DD")
    assign.add_argument("--by", help="the trainer or manager assigning it")
    assign.set_defaults(func=cmd_assign)

    tasks = rp.add_parser("tasks", help="an advisor's assignments and progress")
    tasks.add_argument("advisor")
    tasks.set_defaults(func=cmd_tasks)

    show = rp.add_parser("show", help="one role-play: transcript, checks, overrides")
    show.add_argument("roleplay_id", type=int)
    show.set_defaults(func=cmd_show)

    override = rp.add_parser("override", help="a trainer's verdict on one check, with a reason")
    override.add_argument("roleplay_id", type=int)
    override.add_argument("check", help="a check id, as `roleplay show` lists them")
    verdict = override.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--pass", dest="passed", action="store_true")
    verdict.add_argument("--fail", dest="passed", action="store_false")
    override.add_argument("--reason", required=True)
    override.add_argument("--by", required=True, help="the trainer or manager")
    override.set_defaults(func=cmd_override)

    team = rp.add_parser("team", help="per advisor: attempts, best and last score, weakest checks")
    team.add_argument("--store", help="only this store's advisors")
    team.set_defaults(func=cmd_team)

    moves = rp.add_parser("moves", help="move recognition per move on the labelled trainee lines")
    moves.add_argument("--examples", type=int, default=0, help="list up to N misses per move")
    moves.set_defaults(func=cmd_moves)

    agree = rp.add_parser("agreement", help="scorer vs trainer labels on the benchmark transcripts")
    agree.add_argument("--examples", type=int, default=0, help="list up to N disagreements")
    agree.set_defaults(func=cmd_agreement)
