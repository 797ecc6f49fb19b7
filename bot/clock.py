"""Time in one place: stored as naive UTC, shown in China Standard Time.

SQLite keeps no time zone, PostgreSQL would; storing naive UTC everywhere keeps
both databases identical, and advisors read local (UTC+8) times.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)


def local_iso(moment: datetime) -> str:
    return to_local(moment).isoformat(timespec="seconds")


def local_text(moment: datetime) -> str:
    """Short form for chat replies, e.g. 11月23日 14:05."""
    local = to_local(moment)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
