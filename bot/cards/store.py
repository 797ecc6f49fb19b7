"""Finding clients and writing to their cards.

Name resolution does not trust the NLU alone: a mention is checked against the
database, and the database is also scanned for any known name in the text, so a
client imported after the model was trained is still found.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from bot.advisors import AdvisorIdentity
from bot.cards.models import Client, Preference, VisitNote
from bot.clock import utcnow
from bot.nlu.vocabulary import Vocabulary, load_vocabulary

EXTERNAL_ID = re.compile(r"\bw[mo][A-Za-z0-9_-]{8,}\b")
MALE_HONORIFICS = {"先生"}
FEMALE_HONORIFICS = {"女士", "小姐", "太太", "夫人"}


def honorific_fits(client: Client, honorific: str) -> bool:
    """Could 王先生 mean this client? A generic honorific that matches the gender."""
    if honorific in MALE_HONORIFICS:
        return client.gender == "男"
    if honorific in FEMALE_HONORIFICS:
        return client.gender == "女"
    return False


@dataclass(frozen=True)
class Mention:
    """Where a client is named in a message, earliest first."""

    text: str
    start: int


class CardStore:
    """Card operations on one database session (one transaction)."""

    def __init__(self, session: Session, vocabulary: Vocabulary | None = None) -> None:
        self.session = session
        self.vocabulary = vocabulary or load_vocabulary()

    def get(self, client_id: str) -> Client | None:
        return self.session.get(Client, client_id)

    def find(self, query: str) -> list[Client]:
        """Clients matching an id, external id, full name or 王先生-style mention."""
        query = query.strip()
        if not query:
            return []
        exact = self.session.scalars(
            select(Client)
            .where(
                (Client.id == query)
                | (Client.wecom_external_userid == query)
                | (Client.name == query)
            )
            .order_by(Client.id)
        ).all()
        if exact:
            return list(exact)
        split = self.vocabulary.split_honorific(query)
        if split:
            surname, honorific = split
            candidates = self.session.scalars(
                select(Client).where(Client.name.startswith(surname)).order_by(Client.id)
            ).all()
            same_surname = [c for c in candidates if self.vocabulary.surname_of(c.name) == surname]
            # 张女士 means the 张 recorded as 女士 if there is one; only otherwise any
            # woman named 张 (a 小姐 or 太太 is also addressed as 女士).
            exact = [c for c in same_surname if c.honorific == honorific]
            return exact or [c for c in same_surname if honorific_fits(c, honorific)]
        if len(query) >= 2:
            return list(
                self.session.scalars(
                    select(Client).where(Client.name.contains(query)).order_by(Client.id)
                ).all()
            )
        return []

    def mentions(self, text: str) -> list[Mention]:
        """Every way a client is named in ``text``: known full names, 王先生 forms, ids."""
        found: dict[int, Mention] = {}
        names = self.session.scalars(
            select(Client.name).where(literal(text).contains(Client.name)).distinct()
        ).all()
        for name in sorted(names, key=len, reverse=True):
            start = text.find(name)
            if start >= 0 and start not in found:
                found[start] = Mention(name, start)
        for match in self.vocabulary.honorific_pattern().finditer(text):
            covered = any(m.start <= match.start() < m.start + len(m.text) for m in found.values())
            if not covered:
                found[match.start()] = Mention(match.group(0), match.start())
        for match in EXTERNAL_ID.finditer(text):
            found.setdefault(match.start(), Mention(match.group(0), match.start()))
        return [found[k] for k in sorted(found)]

    def resolve(self, text: str, hint: str | None = None) -> tuple[str | None, list[Client]]:
        """The mention used and its matching clients; the NLU ``hint`` is tried first."""
        if hint:
            clients = self.find(hint)
            if clients:
                return hint, clients
        mentions = self.mentions(text)
        for mention in mentions:
            clients = self.find(mention.text)
            if clients:
                return mention.text, clients
        return hint or (mentions[0].text if mentions else None), []

    def add_preference(
        self, client: Client, category: str, value: str, advisor: AdvisorIdentity
    ) -> tuple[Preference, bool]:
        """Record an observation; the same category and value twice is kept once."""
        existing = self.session.scalars(
            select(Preference).where(
                Preference.client_id == client.id,
                Preference.category == category,
                Preference.value == value,
            )
        ).first()
        if existing:
            return existing, False
        preference = Preference(
            category=category,
            value=value,
            recorded_by=advisor.name,
            store=advisor.store,
            recorded_at=utcnow(),
        )
        client.preferences.append(preference)
        client.updated_at = utcnow()
        self.session.flush()
        return preference, True

    def create_client(
        self, name: str, honorific: str, advisor: AdvisorIdentity, gender: str = ""
    ) -> Client:
        if not gender:
            if honorific in MALE_HONORIFICS:
                gender = "男"
            elif honorific in FEMALE_HONORIFICS:
                gender = "女"
        client = Client(
            id=f"N{uuid.uuid4().hex[:10].upper()}",
            name=name,
            honorific=honorific,
            gender=gender,
            phone="",
            tier="",
            home_store=advisor.store,
            advisor=advisor.id,
        )
        self.session.add(client)
        self.session.flush()
        return client

    def add_note(
        self,
        client: Client,
        advisor: AdvisorIdentity,
        summary: str,
        *,
        kind: str = "visit",
        details: dict | None = None,
        status: str | None = None,
        follow_up_on: object = None,
    ) -> VisitNote:
        note = VisitNote(
            kind=kind,
            advisor_id=advisor.id,
            store=advisor.store,
            summary=summary,
            details=details or {},
            status=status,
            follow_up_on=follow_up_on,
            created_at=utcnow(),
        )
        client.notes.append(note)
        self.session.flush()
        return note

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Client)) or 0)
