"""The manager's tables: follow-ups and complaint SLA, role-play scores, card
enrichment, membership KPIs and RFM segments, per store and per advisor.

Each table is plain data (columns and rows) so the page, its charts and the CSV
export show exactly the same numbers.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.cards.models import Advisor, Client, PreferenceEvent, Roleplay
from bot.clock import to_local
from bot.followups.models import DONE, OPEN, FollowUp
from bot.followups.tasks import local_day, utc_at
from bot.purchases import kpis
from bot.purchases.rfm import compute, load_rfm

# A new observation, or a newer value replacing an old one.
ENRICHING = ("added", "superseded")


@dataclass
class Table:
    id: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": [{"key": k, "label": label} for k, label in self.columns],
            "rows": self.rows,
        }

    def to_csv(self) -> str:
        """UTF-8 with a BOM, so Excel on a Chinese Windows opens it without mojibake."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([label for _, label in self.columns])
        for row in self.rows:
            writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in self.columns])
        return "\ufeff" + buffer.getvalue()


def week_of(moment: datetime | date) -> str:
    day = to_local(moment).date() if isinstance(moment, datetime) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _share(hit: int, total: int) -> float | None:
    return round(hit / total, 3) if total else None


@dataclass
class Tally:
    done: int = 0
    on_time: int = 0
    overdue: int = 0
    respond: int = 0
    respond_in_time: int = 0
    resolve: int = 0
    resolve_in_time: int = 0

    def add(self, task: FollowUp, now: datetime, since: datetime) -> None:
        if task.status == DONE and task.done_at and task.done_at >= since:
            self.done += 1
            self.on_time += task.done_at <= task.due_at
        if task.status == OPEN and task.due_at < now:
            self.overdue += 1
        if task.kind in ("complaint_respond", "complaint_resolve") and since <= task.due_at <= now:
            in_time = (
                task.status == DONE and task.done_at is not None and task.done_at <= task.due_at
            )
            if task.kind == "complaint_respond":
                self.respond += 1
                self.respond_in_time += in_time
            else:
                self.resolve += 1
                self.resolve_in_time += in_time

    def row(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "on_time": self.on_time,
            "on_time_rate": _share(self.on_time, self.done),
            "overdue": self.overdue,
            "complaints": self.respond,
            "respond_sla": _share(self.respond_in_time, self.respond),
            "resolve_sla": _share(self.resolve_in_time, self.resolve),
        }


TALLY_COLUMNS = [
    ("done", "已完成"),
    ("on_time", "按时完成"),
    ("on_time_rate", "按时率"),
    ("overdue", "逾期未完成"),
    ("complaints", "投诉数"),
    ("respond_sla", "1小时内首次联系"),
    ("resolve_sla", "2小时内给方案"),
]


def followup_tables(session: Session, now: datetime, days: int) -> tuple[Table, Table]:
    since = now - timedelta(days=days)
    tasks = session.scalars(
        select(FollowUp).where(
            or_(
                FollowUp.done_at >= since,
                (FollowUp.status == OPEN) & (FollowUp.due_at < now),
                FollowUp.due_at >= since,
            )
        )
    ).all()
    by_store: dict[str, Tally] = defaultdict(Tally)
    by_owner: dict[str, Tally] = defaultdict(Tally)
    for task in tasks:
        by_store[task.store or "未知门店"].add(task, now, since)
        by_owner[task.owner_id or ""].add(task, now, since)
    advisors = {a.id: a for a in session.scalars(select(Advisor))}
    stores = Table(
        "followups_by_store",
        f"跟进与投诉时效 · 按门店（近{days}天）",
        [("store", "门店"), *TALLY_COLUMNS],
        [{"store": store, **tally.row()} for store, tally in sorted(by_store.items())],
    )
    owners = Table(
        "followups_by_advisor",
        f"跟进与投诉时效 · 按顾问（近{days}天）",
        [("advisor_id", "顾问编号"), ("name", "顾问"), ("store", "门店"), *TALLY_COLUMNS],
    )
    for owner, tally in sorted(by_owner.items()):
        advisor = advisors.get(owner)
        owners.rows.append(
            {
                "advisor_id": owner or "（未分配）",
                "name": advisor.name if advisor else "",
                "store": advisor.store if advisor else "",
                **tally.row(),
            }
        )
    return stores, owners


def roleplay_table(session: Session, now: datetime, weeks: int) -> Table:
    since = utc_at(local_day(now) - timedelta(weeks=weeks), 0)
    advisors = {a.id: a for a in session.scalars(select(Advisor))}
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for advisor_id, ended_at, score in session.execute(
        select(Roleplay.advisor_id, Roleplay.ended_at, Roleplay.score).where(
            Roleplay.ended_at >= since
        )
    ):
        grouped[(advisor_id, week_of(ended_at))].append(score)
    table = Table(
        "roleplay_scores",
        f"陪练得分 · 按顾问和周（近{weeks}周）",
        [("advisor_id", "顾问编号"), ("name", "顾问"), ("store", "门店"), ("week", "周"),
         ("count", "陪练次数"), ("average", "平均分"), ("best", "最高分")],
    )  # fmt: skip
    for (advisor_id, week), scores in sorted(grouped.items()):
        advisor = advisors.get(advisor_id)
        table.rows.append(
            {
                "advisor_id": advisor_id,
                "name": advisor.name if advisor else "",
                "store": advisor.store if advisor else "",
                "week": week,
                "count": len(scores),
                "average": round(sum(scores) / len(scores), 1),
                "best": max(scores),
            }
        )
    return table


def enrichment_table(session: Session, now: datetime, weeks: int) -> Table:
    """Cards enriched per week: observations advisors added (imports are not counted)."""
    since = utc_at(local_day(now) - timedelta(weeks=weeks), 0)
    grouped: dict[tuple[str, str], tuple[int, set[str]]] = {}
    for store, at, client_id in session.execute(
        select(PreferenceEvent.store, PreferenceEvent.at, PreferenceEvent.client_id).where(
            PreferenceEvent.at >= since, PreferenceEvent.action.in_(ENRICHING)
        )
    ):
        count, clients = grouped.get((store, week_of(at)), (0, set()))
        clients.add(client_id)
        grouped[(store, week_of(at))] = (count + 1, clients)
    return Table(
        "cards_enriched",
        f"客户卡丰富度 · 按门店和周（近{weeks}周）",
        [
            ("store", "门店"),
            ("week", "周"),
            ("observations", "新记录条数"),
            ("cards", "涉及客户卡"),
        ],
        [
            {"store": store, "week": week, "observations": count, "cards": len(clients)}
            for (store, week), (count, clients) in sorted(grouped.items())
        ],
    )


def kpi_table(session: Session, today: date, amounts: bool) -> Table:
    catalogue = kpis.load_kpis()
    columns: list[tuple[str, str]] = [("store", "门店"), ("members", "会员数")]
    for kpi in catalogue.values():
        target = kpi.show(kpi.target)
        columns += [(kpi.id, f"{kpi.title}（目标≥{target}）"), (f"{kpi.id}_met", "达标")]
    if amounts:
        columns += [("ltv_yuan", "LTV（元）"), ("ticket_yuan", "平均客单价（元）")]
    table = Table("membership_kpis", "会员KPI · 对照目标", columns)
    for row in kpis.by_store(session, today):
        values: dict[str, Any] = {"store": row.store, "members": row.members}
        for kpi in catalogue.values():
            value = row.values[kpi.id]
            values[kpi.id] = None if value is None else round(value, 3)
            met = kpi.met(value)
            values[f"{kpi.id}_met"] = "—" if met is None else "是" if met else "否"
        if amounts:
            values["ltv_yuan"] = row.amounts["ltv"] / 100
            values["ticket_yuan"] = row.amounts["ticket"] / 100
        table.rows.append(values)
    return table


def segment_table(session: Session, today: date, amounts: bool) -> Table:
    rules = load_rfm()
    values = compute(session, today, rules)
    members = int(session.scalar(select(func.count(Client.id))) or 0)
    columns = [("segment", "RFM分层"), ("clients", "客户数"), ("share", "占会员比例")]
    if amounts:
        columns.append(("spend_yuan", f"近{rules.window_days}天消费（元）"))
    table = Table("rfm_segments", "RFM 客户分层", columns)
    grouped: dict[str, list[int]] = defaultdict(list)
    for value in values:
        grouped[value.segment].append(value.monetary_fen)
    for segment in rules.segments.values():
        spends = grouped.get(segment, [])
        row: dict[str, Any] = {
            "segment": segment,
            "clients": len(spends),
            "share": _share(len(spends), members),
        }
        if amounts:
            row["spend_yuan"] = sum(spends) / 100
        table.rows.append(row)
    return table


def manager_tables(
    session: Session, now: datetime, role: str, days: int = 30, weeks: int = 8
) -> list[Table]:
    amounts = load_rfm().may_see_amounts(role)
    today = local_day(now)
    stores, owners = followup_tables(session, now, days)
    return [
        stores,
        owners,
        roleplay_table(session, now, weeks),
        enrichment_table(session, now, weeks),
        kpi_table(session, today, amounts),
        segment_table(session, today, amounts),
    ]
