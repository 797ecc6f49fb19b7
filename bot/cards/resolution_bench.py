"""How long finding and resolving the clients a message names takes, in process.

The card store must answer in a few milliseconds whatever its size and whatever
the message: a full name, 王先生 shared by thousands, an English alias, a
stranger, no name at all, or a long voice-input run-on. This samples real cards
from the store, builds messages of each kind, and times the resolver exactly as
an action runs it (one session per message), excluding the network.
"""

from __future__ import annotations

import random
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from bot.advisors import AdvisorIdentity
from bot.cards import db
from bot.cards.models import Client, ClientAlias
from bot.cards.resolver import Resolver
from bot.cards.store import CardStore
from bot.turn import Turn

# (kind, template): {name} a card's full name, {address} its surname + honorific,
# {alias} one of its aliases.
TEMPLATES = (
    ("full name", "帮我查一下{name}"),
    ("full name", "记一下{name}喜欢喝热美式"),
    ("honorific", "{address}来了 他上次说想看看新款"),
    ("honorific", "开始接待{address}"),
    ("alias", "{alias}的卡调一下"),
    ("common name", "记一下张伟喜欢喝拿铁"),
    ("stranger", "记一下闻人语嫣喜欢喝拿铁"),
    ("stranger", "帮我查一下Zelda"),
    ("no name", "记一下 他不吃香菜"),
    ("no name", "下一句怎么说"),
    (
        "run-on",
        "那个刚进来的{address}他说今天想坐包间然后上次那块表带有点松了问能不能换个短一点的"
        "顺便说他太太下个月生日想挑个礼物预算大概五万左右你帮我记一下",
    ),
)


@dataclass(frozen=True)
class Timing:
    kind: str
    count: int
    p50_ms: float
    p95_ms: float


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# What an advisor sends to pull up a card, for timing whole lookup turns.
LOOKUP_TEMPLATES = (
    ("full name", "帮我查一下{name}"),
    ("honorific", "看下{address}的档案"),
    ("alias", "{alias}的卡调一下"),
    ("stranger", "帮我查一下Linda"),
)


def sample_messages(
    db_url: str,
    count: int,
    seed: int = 7,
    templates: tuple[tuple[str, str], ...] = TEMPLATES,
) -> list[tuple[str, str]]:
    """``count`` (kind, message) pairs built from cards sampled across the store."""
    rng = random.Random(seed)
    with db.session_scope(db_url) as session:
        ids = list(session.scalars(select(Client.id).order_by(Client.id).limit(1)))
        last = list(session.scalars(select(Client.id).order_by(Client.id.desc()).limit(1)))
        clients = []
        for _ in range(max(count // 2, 20)):
            # Probe a random point of the id range: an index seek, not a random scan.
            probe = _between(ids[0], last[0], rng.random()) if ids and last else ""
            client = session.scalars(
                select(Client).where(Client.id >= probe).order_by(Client.id).limit(1)
            ).first()
            if client is not None:
                clients.append((client.name, client.surname + (client.honorific or "先生")))
        aliases = list(session.scalars(select(ClientAlias.alias).limit(200))) or ["David"]
    messages = []
    for i in range(count):
        kind, template = templates[i % len(templates)]
        name, address = rng.choice(clients)
        text = template.format(name=name, address=address, alias=rng.choice(aliases))
        messages.append((kind, text))
    return messages


def _between(low: str, high: str, share: float) -> str:
    """An id between ``low`` and ``high`` for ids of one prefix and width (S0000001)."""
    prefix = low.rstrip("0123456789")
    if not high.startswith(prefix) or not low[len(prefix) :].isdigit():
        return low
    start, end = int(low[len(prefix) :]), int(high[len(prefix) :])
    width = len(low) - len(prefix)
    return f"{prefix}{start + int((end - start) * share):0{width}d}"


def time_resolution(
    db_url: str, messages: Iterable[tuple[str, str]], advisor: AdvisorIdentity
) -> list[Timing]:
    """p50/p95 per kind of message and over all, resolving as an action does."""
    samples: dict[str, list[float]] = defaultdict(list)
    for kind, text in messages:
        turn = Turn(text=text, intent="lookup_client", entities=(), advisor=advisor)
        started = time.perf_counter()
        with db.session_scope(db_url) as session:
            Resolver(CardStore(session), turn).target()
        elapsed = (time.perf_counter() - started) * 1000
        samples[kind].append(elapsed)
        samples["all"].append(elapsed)
    return [
        Timing(kind, len(v), statistics.median(v), percentile(v, 0.95))
        for kind, v in samples.items()
    ]


def peak_memory_mb() -> float:
    """This process's peak resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
