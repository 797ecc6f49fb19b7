"""The ``copilot`` command. Every subcommand first brings the database schema up to date."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from bot import demo, training
from bot.advisors import ROLES, issue_token, upsert_advisor
from bot.cards import bulk, db
from bot.cards.card import ClientCard
from bot.cards.importer import CsvImportError, ImportResult, import_file
from bot.cards.store import CardStore
from bot.followups import cli as followups
from bot.roleplay import cli as roleplay_cli
from bot.server import ServerError, Servers, running
from bot.settings import SettingsError, current


def _prepare(session: Session) -> None:
    result = demo.load_if_empty(session)
    if result is not None:
        print(f"Loaded the demo data: {result.created} client cards from data/demo/.")


def cmd_prepare(args: argparse.Namespace) -> int:
    with db.session_scope() as session:
        _prepare(session)
    training.train(force=False)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    training.train(force=args.force)
    return 0


def _starting(replicas: int, args: argparse.Namespace) -> str:
    backends = f"the action server on :{args.actions_port}, the NLU service on :{args.nlu_port}"
    if replicas == 1:
        return f"Starting {backends} and Rasa on :{args.port} ..."
    return (
        f"Starting {backends}, {replicas} Rasa replicas and nginx on :{args.port} "
        "(conversations and locks in Redis) ..."
    )


def _watch(servers: Servers, stop: threading.Event) -> None:
    """Until Ctrl-C: stop if a server the copilot needs has stopped; report a lost replica."""
    reported: set[str] = set()
    while not stop.wait(1.0):
        if exited := servers.exited():
            raise ServerError(exited)
        for name in set(servers.lost_replicas()) - reported:
            reported.add(name)
            print(
                f"warning: {name} stopped (see {servers.log_dir}); nginx sends its "
                "advisors' turns to the other replicas",
                file=sys.stderr,
                flush=True,
            )


def cmd_up(args: argparse.Namespace) -> int:
    settings = current()
    replicas = args.replicas or settings.replicas
    try:  # refuse a topology that cannot work before preparing anything
        settings.replace(
            replicas=replicas, port=args.port, actions_port=args.actions_port,
            nlu_port=args.nlu_port, host=args.host,
        )  # fmt: skip
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with db.session_scope() as session:
        _prepare(session)
    training.train(force=False)
    with db.session_scope() as session:
        issued = demo.demo_token(session)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(_starting(replicas, args))
    try:
        with running(
            settings.db_url, args.port, args.actions_port, args.host, nlu_port=args.nlu_port,
            replicas=replicas,
        ) as servers:  # fmt: skip
            print(f"\n顾问助手 is up: {servers.webhook}")
            print(f"Web widget: {servers.rasa_url}/app/  (toolbar: {servers.rasa_url}/app/toolbar)")
            if issued:
                advisor, token = issued
                print(
                    f"Demo advisor {advisor.id} {advisor.name} ({advisor.store}), token:\n{token}"
                )
                print(
                    "Try it:\n"
                    f"  curl -s -H 'Authorization: Bearer {token}' \\\n"
                    "       -H 'Content-Type: application/json' \\\n"
                    f'       -d \'{{"message": "帮我查一下王先生"}}\' {servers.webhook}'
                )
            print(f"Logs: {servers.log_dir}. Press Ctrl-C to stop.", flush=True)
            _watch(servers, stop)
            print("\nStopping the servers ...")
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("Stopped.")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    print(f"Schema is up to date at {db.database_url()}")
    return 0


def cmd_cards_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    started = time.perf_counter()
    try:
        with db.session_scope() as session:
            result = import_file(session, path, dry_run=args.dry_run)
    except CsvImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.created and not result.dry_run:
        bulk.settle(db.get_engine())
    result.seconds = time.perf_counter() - started  # with the commit
    print(_import_summary(path, result))
    return 0


def _import_summary(path: Path, result: ImportResult) -> str:
    rate = result.rows / result.seconds if result.seconds else 0.0
    if result.dry_run:
        lines = [
            f"Dry run, nothing was written: {path} ({result.described}) has {result.rows:,} "
            f"good rows. Importing it would create {result.created:,} cards, update "
            f"{result.updated:,}, leave {result.unchanged:,} unchanged, and add "
            f"{result.preferences_added:,} preferences and {result.aliases_added:,} aliases."
        ]
        lines += [f"  {example}" for example in result.examples]
        return "\n".join(lines)
    return (
        f"Imported {result.rows:,} rows from {path} ({result.described}) in "
        f"{result.seconds:.1f} s ({rate:,.0f} rows/s): {result.created:,} new, "
        f"{result.updated:,} updated, {result.unchanged:,} unchanged; "
        f"{result.preferences_added:,} preferences and {result.aliases_added:,} aliases added."
    )


def cmd_cards_synth(args: argparse.Namespace) -> int:
    from bot.cards import synthetic

    path = Path(args.file)
    synthetic.write_file(path, args.count, args.seed, progress=args.count >= 10_000)
    print(f"Wrote {args.count:,} synthetic cards (seed {args.seed}) to {path}.")
    return 0


def cmd_cards_show(args: argparse.Namespace) -> int:
    with db.session_scope() as session:
        clients = CardStore(session).find(args.name)
        if not clients:
            print(f"No card matches '{args.name}'.", file=sys.stderr)
            return 1
        for index, client in enumerate(clients):
            if index:
                print()
            card = ClientCard.of(client, history=args.history_limit if args.history else 0)
            print(f"[{card.id}]")
            print(card.render())
            if args.history:
                print(card.render_history())
    return 0


def cmd_cards_alias(args: argparse.Namespace) -> int:
    with db.session_scope() as session:
        store = CardStore(session)
        client = store.get(args.client_id)
        if client is None:
            print(f"No card with id '{args.client_id}'.", file=sys.stderr)
            return 1
        _, created = store.add_alias(client, args.alias, "copilot cards alias", args.kind)
    state = "added" if created else "already there"
    print(f"Alias '{args.alias}' for {client.name} ({client.id}): {state}.")
    return 0


def cmd_advisors_add(args: argparse.Namespace) -> int:
    with db.session_scope() as session:
        advisor = upsert_advisor(
            session, args.id, args.name, args.store, args.role, args.wecom_userid
        )
        token = issue_token(session, advisor)
    print(f"Advisor {args.id} {args.name} ({args.store}, {args.role}) registered. Access token:")
    print(token)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Who saw or changed a client's data, newest first: what PIPL lets a client ask."""
    from bot.cards.audit import accesses
    from bot.clock import to_local

    with db.session_scope() as session:
        rows = accesses(session, args.client_id, args.limit)
    if not rows:
        print(f"No recorded access to client {args.client_id}.")
        return 0
    print(f"Accesses to client {args.client_id}, newest first (local time, UTC+8):")
    for row in rows:
        print(
            f"{to_local(row.at):%Y-%m-%d %H:%M:%S}  {row.advisor_id} {row.advisor_name}  "
            f"{row.advisor_store}  {row.action}  {row.detail}".rstrip()
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.cards:
        from bot.bench_cards import run_cards

        return run_cards(args)
    if args.topologies:
        from bot.bench_topologies import run_topologies

        return run_topologies(args)
    from bot.bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="copilot", description="顾问助手 Advisor Copilot")
    sub = parser.add_subparsers(dest="command", required=True)

    settings = current()
    up = sub.add_parser("up", help="prepare, then serve Rasa, the NLU service and the actions")
    up.add_argument(
        "--port", type=int, default=settings.port, help="HTTP port ($COPILOT_PORT, else 5005)"
    )
    up.add_argument(
        "--actions-port", type=int, default=settings.actions_port,
        help="action server port ($COPILOT_ACTIONS_PORT, else 5055)",
    )  # fmt: skip
    up.add_argument(
        "--nlu-port", type=int, default=settings.nlu_port,
        help="NLU service port, on 127.0.0.1 ($COPILOT_NLU_PORT, else 5056)",
    )  # fmt: skip
    up.add_argument(
        "--host", default=settings.host, help="interface to listen on ($COPILOT_HOST, 0.0.0.0)"
    )
    up.add_argument(
        "--replicas", type=int, default=0, metavar="N",
        help="N Rasa replicas behind nginx, sharing conversations through Redis; needs "
        "PostgreSQL ($COPILOT_REPLICAS, else 1)",
    )  # fmt: skip
    up.set_defaults(func=cmd_up)

    sub.add_parser(
        "prepare", help="migrate, load demo data if empty, train if needed"
    ).set_defaults(func=cmd_prepare)
    train = sub.add_parser("train", help="train the model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if up to date")
    train.set_defaults(func=cmd_train)

    database = sub.add_parser("db", help="database maintenance")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply schema migrations").set_defaults(func=cmd_db_upgrade)

    cards = sub.add_parser("cards", help="client preference cards")
    cards_sub = cards.add_subparsers(dest="cards_command", required=True)
    imp = cards_sub.add_parser(
        "import", help="import cards from a CSV (UTF-8 or GBK) or .xlsx export"
    )
    imp.add_argument("file")
    imp.add_argument(
        "--dry-run", action="store_true", help="check the file and say what would change"
    )
    imp.set_defaults(func=cmd_cards_import)
    synth = cards_sub.add_parser("synth", help="write N synthetic cards to a CSV file")
    synth.add_argument("count", type=int, metavar="N")
    synth.add_argument("file")
    synth.add_argument("--seed", type=int, default=0, help="the same seed, the same cards (0)")
    synth.set_defaults(func=cmd_cards_synth)
    show = cards_sub.add_parser("show", help="print the cards matching a name, 王先生 or id")
    show.add_argument("name")
    show.add_argument("--history", action="store_true", help="also who changed what, when, where")
    show.add_argument("--history-limit", type=int, default=30, help="changes shown (30)")
    show.set_defaults(func=cmd_cards_show)
    alias = cards_sub.add_parser("alias", help="another name a client is found by (David)")
    alias.add_argument("client_id")
    alias.add_argument("alias")
    alias.add_argument("--kind", choices=("alias", "nickname"), default="alias")
    alias.set_defaults(func=cmd_cards_alias)

    advisors = sub.add_parser("advisors", help="advisors and their access tokens")
    adv_sub = advisors.add_subparsers(dest="advisors_command", required=True)
    add = adv_sub.add_parser("add", help="register an advisor and print a new token")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--store", required=True)
    add.add_argument("--role", choices=ROLES, default="advisor")
    add.add_argument("--wecom-userid", help="the advisor's WeCom user id (企业微信账号)")
    add.set_defaults(func=cmd_advisors_add)

    audit = sub.add_parser("audit", help="who saw or changed a client's card, newest first")
    audit.add_argument("client_id")
    audit.add_argument("--limit", type=int, default=50, help="most recent accesses (50)")
    audit.set_defaults(func=cmd_audit)

    roleplay_cli.add_commands(sub)

    bench = sub.add_parser("bench", help="latency and NLU quality against the running bot")
    bench.add_argument("--url", default="http://127.0.0.1:5005", help="the running Rasa server")
    bench.add_argument("--advisors", default="1,16", help="concurrency levels (default 1,16)")
    bench.add_argument(
        "--rounds", type=int, default=10, help="scripted conversations per advisor (10)"
    )
    bench.add_argument("--skip-nlu", action="store_true", help="skip the test-split evaluation")
    bench.add_argument(
        "--nlu-only", action="store_true", help="only the test-split evaluation (no servers needed)"
    )
    bench.add_argument(
        "--errors", type=int, default=0, help="list up to N errors of each kind per split"
    )
    bench.add_argument(
        "--topologies", action="store_true",
        help="start and measure, one after another, a bare Rasa bot (the anchor), the "
        "single-machine default and --replicas 2 (1 and 16 advisors, bursts of 3)",
    )  # fmt: skip
    bench.add_argument(
        "--bursts", type=int, default=20, help="with --topologies: bursts of 3 messages (20)"
    )
    bench.add_argument(
        "--no-anchor", action="store_true", help="with --topologies: skip the bare Rasa bot"
    )
    bench.add_argument(
        "--cards", type=int, default=0, metavar="N",
        help="build a synthetic store of N cards, import it, and time resolution and lookup "
        "turns beside the demo store (starts its own servers)",
    )  # fmt: skip
    bench.add_argument(
        "--cards-db", default="sqlite",
        help="with --cards: sqlite (a fresh file under var/bench), postgresql (a throwaway "
        "server) or a database URL",
    )  # fmt: skip
    bench.set_defaults(func=cmd_bench)

    followups.add_commands(sub)  # purchases import, rfm, followups list
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        db.upgrade()
        return int(args.func(args))
    except SettingsError as error:  # before anything else is touched, or from a command
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
