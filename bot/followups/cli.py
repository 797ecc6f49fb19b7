"""Subcommands of ``copilot``: ``purchases import FILE``, ``rfm`` and ``followups list``.

Kept here and added to the parser by bot.cli with one call, so the main command
file stays short and these evolve with the code they drive.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.cards import db
from bot.cards.models import Client
from bot.clock import local_text, utcnow
from bot.followups.models import OPEN, FollowUp
from bot.followups.rules import load_rules
from bot.followups.tasks import Scope, display_status, generate, local_day, rank


def cmd_purchases_import(args: argparse.Namespace) -> int:
    from bot.purchases.importer import PurchaseImportError, import_purchases

    path = Path(args.file)
    try:
        with db.session_scope() as session:
            result = import_purchases(session, path, local_day(utcnow()))
    except PurchaseImportError as exc:
        print(f"error: {exc}\nNothing was imported.", file=sys.stderr)
        return 1
    print(
        f"Imported {result.rows:,} purchase lines from {path} ({result.described}) in "
        f"{result.seconds:.1f} s: {result.created:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, for {len(result.clients):,} clients."
    )
    return 0


def cmd_rfm(args: argparse.Namespace) -> int:
    """Segments with their counts (and, with --clients, every client's scores)."""
    from bot.purchases.rfm import compute, load_rfm

    rules = load_rfm()
    today = date.fromisoformat(args.as_of) if args.as_of else local_day(utcnow())
    with db.session_scope() as session:
        values = compute(session, today, rules)
        names = dict(session.execute(select(Client.id, Client.name)).all())
    if not values:
        print("No purchases imported yet: run `copilot purchases import FILE` first.")
        return 0
    counts = Counter(v.segment for v in values)
    spend: Counter[str] = Counter()
    for value in values:
        spend[value.segment] += value.monetary_fen
    print(f"RFM as of {today.isoformat()} ({len(values):,} clients with purchases; "
          f"frequency and monetary over {rules.window_days} days):")  # fmt: skip
    for segment in rules.segments.values():
        print(f"  {segment:<8} {counts[segment]:>6,} clients  ¥{spend[segment] / 100:>14,.2f}")
    if args.clients:
        print(f"\n{'client':<10} {'name':<8} {'RFM':<4} {'last':<10} {'R':>5} {'F':>3} "
              f"{'M (¥)':>12}  segment")  # fmt: skip
        for value in sorted(values, key=lambda v: (-v.r - v.f - v.m, v.client_id)):
            print(
                f"{value.client_id:<10} {names.get(value.client_id, ''):<8} "
                f"{value.r}{value.f}{value.m:<2} {value.last_purchase.isoformat():<10} "
                f"{value.recency_days:>5} {value.frequency:>3} {value.monetary_fen / 100:>12,.2f}"
                f"  {value.segment}"
            )
    return 0


def cmd_followups_list(args: argparse.Namespace) -> int:
    """Open tasks, most urgent first (after generating any that are due to exist)."""
    now = utcnow()
    rules = load_rules()
    scope = Scope(owner=args.advisor, store=args.store)
    with db.session_scope() as session:
        generate(session, now, rules, scope)
        query = select(FollowUp).where(FollowUp.status == OPEN)
        if args.advisor:
            query = query.where(FollowUp.owner_id == args.advisor)
        if args.store:
            query = query.where(FollowUp.store == args.store)
        tasks = rank(session.scalars(query).all(), rules, now)
        names = dict(session.execute(select(Client.id, Client.name)).all())
        rows: list[dict[str, Any]] = [
            {
                "id": t.id, "status": display_status(t, now), "due": local_text(t.due_at),
                "kind": rules.kinds[t.kind].title, "client": f"{names.get(t.client_id, '')}"
                f"({t.client_id})", "owner": t.owner_id or "-", "reason": t.reason,
            }
            for t in tasks[: args.limit]
        ]  # fmt: skip
    if not rows:
        print("No open follow-ups.")
        return 0
    print(f"{len(tasks)} open follow-ups, most urgent first (local time, UTC+8):")
    for row in rows:
        mark = "OVERDUE " if row["status"] == "overdue" else ""
        print(
            f"#{row['id']:<5} {mark}{row['due']:<12} {row['kind']:<8} {row['client']:<16} "
            f"{row['owner']:<6} {row['reason']}"
        )
    return 0


def add_commands(sub: Any) -> None:
    """Add ``purchases``, ``rfm`` and ``followups`` to the ``copilot`` subparsers."""
    purchases = sub.add_parser("purchases", help="purchases imported from store exports")
    purchases_sub = purchases.add_subparsers(dest="purchases_command", required=True)
    imp = purchases_sub.add_parser(
        "import", help="import purchases from a CSV (UTF-8 or GBK) or .xlsx export"
    )
    imp.add_argument("file")
    imp.set_defaults(func=cmd_purchases_import)

    rfm = sub.add_parser("rfm", help="RFM scores and segments from the purchases")
    rfm.add_argument("--as-of", help="the day to score at (YYYY-MM-DD, default today)")
    rfm.add_argument("--clients", action="store_true", help="also list every client's scores")
    rfm.set_defaults(func=cmd_rfm)

    followups = sub.add_parser("followups", help="follow-up tasks and reminders")
    followups_sub = followups.add_subparsers(dest="followups_command", required=True)
    listing = followups_sub.add_parser("list", help="open follow-ups, most urgent first")
    listing.add_argument("--advisor", help="only this advisor's tasks (advisor id)")
    listing.add_argument("--store", help="only this store's tasks")
    listing.add_argument("--limit", type=int, default=50, help="rows shown (50)")
    listing.set_defaults(func=cmd_followups_list)
