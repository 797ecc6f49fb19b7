"""The store manager's page at /app/manager: follow-ups, complaint SLA, role-play,
card enrichment, membership KPIs and RFM segments, with charts and CSV exports.

The page is static (web_static/manager.*, ECharts vendored under web_static/vendor/);
its data comes from ``/app/manager/data`` and ``/app/manager/export/<table>.csv``,
both for the manager role only, with the same Bearer token (or WeCom sign-in
session) as the widget. The tables are computed off the event loop, so a slow
query never holds up advisors' messages.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.advisors import AdvisorIdentity
from bot.cards.db import session_scope
from bot.channels.copilot import bearer_token, token_owner
from bot.clock import local_iso, utcnow
from bot.followups.report import Table, manager_tables

STATIC = Path(__file__).resolve().parent / "web_static"
VENDOR = STATIC / "vendor"
VENDOR_TYPES = {".js": "text/javascript; charset=utf-8", ".md": "text/plain; charset=utf-8",
                "": "text/plain; charset=utf-8"}  # fmt: skip
MANAGER_ROLES = ("manager",)


def _page(name: str, content_type: str) -> HTTPResponse:
    return response.raw(
        (STATIC / name).read_bytes(), content_type=content_type,
        headers={"Cache-Control": "no-cache"},
    )  # fmt: skip


def _who(request: Request) -> AdvisorIdentity | HTTPResponse:
    advisor = token_owner(bearer_token(request))
    if advisor is None:
        return response.json({"error": "令牌无效或已过期，请重新登录。"}, status=401)
    if advisor.role not in MANAGER_ROLES:
        return response.json({"error": "这个页面只对店长开放。"}, status=403)
    return advisor


def _days(request: Request) -> int:
    try:
        return max(1, min(int(request.args.get("days", "30")), 365))
    except ValueError:
        return 30


def _tables(role: str, days: int) -> list[Table]:
    with session_scope() as session:
        return manager_tables(session, utcnow(), role, days=days)


def register(app: Blueprint) -> None:
    @app.route("/manager", methods=["GET"])
    async def manager_page(_: Request) -> HTTPResponse:
        return _page("manager.html", "text/html; charset=utf-8")

    @app.route("/vendor/<name>", methods=["GET"])
    async def vendor(_: Request, name: str) -> HTTPResponse:
        path = (VENDOR / name).resolve()
        if path.parent != VENDOR or not path.is_file() or path.suffix not in VENDOR_TYPES:
            return response.text("not found", status=404)
        return response.raw(
            path.read_bytes(), content_type=VENDOR_TYPES[path.suffix],
            headers={"Cache-Control": "max-age=86400"},
        )  # fmt: skip

    @app.route("/manager/data", methods=["GET"])
    async def manager_data(request: Request) -> HTTPResponse:
        who = await asyncio.get_running_loop().run_in_executor(None, _who, request)
        if isinstance(who, HTTPResponse):
            return who
        days = _days(request)
        tables = await asyncio.get_running_loop().run_in_executor(None, _tables, who.role, days)
        return response.json(
            {
                "manager": {"id": who.id, "name": who.name, "store": who.store},
                "generated_at": local_iso(utcnow()),
                "days": days,
                "tables": [t.to_payload() for t in tables],
            }
        )

    @app.route("/manager/export/<table_id>", methods=["GET"])
    async def manager_export(request: Request, table_id: str) -> HTTPResponse:
        who = await asyncio.get_running_loop().run_in_executor(None, _who, request)
        if isinstance(who, HTTPResponse):
            return who
        name = table_id.removesuffix(".csv")
        tables = await asyncio.get_running_loop().run_in_executor(
            None, _tables, who.role, _days(request)
        )
        table = next((t for t in tables if t.id == name), None)
        if table is None:
            return response.json({"error": f"no table '{name}'"}, status=404)
        return response.raw(
            table.to_csv().encode("utf-8"),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                     "Cache-Control": "no-store"},
        )  # fmt: skip
