"""Finding clients and keeping their card headers, notes and aliases.

Name resolution does not trust the NLU alone: every way a message can name a
client (bot/cards/names.py) is checked against indexed columns of the card
store, so a client imported after the model was trained is still found, and no
lookup reads the whole client table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.advisors import AdvisorIdentity
from bot.cards import audit
from bot.cards.models import Client, ClientAlias, VisitNote
from bot.cards.names import (
    ALIAS,
    EXTERNAL,
    EXTERNAL_ID,
    HONORIFIC,
    NAME,
    NLU,
    NOT_SURNAME_NEXT_TO_LATIN,
    Mention,
    alias_key,
    chunks,
    cjk_substrings,
    keep_longest,
    latin_name_spans,
    latin_words,
)
from bot.clock import utcnow
from bot.nlu.vocabulary import Vocabulary, load_vocabulary

# Honorifics that say the client's gender; the rest (总, 老师, 医生 …) do not.
MALE_HONORIFICS = {"先生", "哥"}
FEMALE_HONORIFICS = {"女士", "小姐", "太太", "夫人", "姐", "阿姨"}


def honorific_gender(honorific: str) -> str:
    if honorific in MALE_HONORIFICS:
        return "男"
    if honorific in FEMALE_HONORIFICS:
        return "女"
    return ""


def honorific_fits(client: Client, honorific: str) -> bool:
    """Could 王先生 / 王总 mean this client? A gendered honorific must match the
    card's gender; a neutral one (总, 老师) fits anyone with that surname."""
    gender = honorific_gender(honorific)
    return not gender or not client.gender or client.gender == gender


class CardStore:
    """Card operations on one database session (one transaction)."""

    def __init__(self, session: Session, vocabulary: Vocabulary | None = None) -> None:
        self.session = session
        self.vocabulary = vocabulary or load_vocabulary()
        self.surnames = sorted(self.vocabulary.surnames, key=len, reverse=True)
        self._products = {w.lower() for _, words in self.vocabulary.products for w in words}

    def get(self, client_id: str) -> Client | None:
        return self.session.get(Client, client_id)

    def get_many(self, client_ids: Iterable[str]) -> list[Client]:
        """Clients by id, in the order given (unknown ids are left out)."""
        wanted = list(dict.fromkeys(client_ids))
        if not wanted:
            return []
        found = {c.id: c for c in self.session.scalars(select(Client).where(Client.id.in_(wanted)))}
        return [found[i] for i in wanted if i in found]

    # -- finding ----------------------------------------------------------------

    def find(self, query: str | Mention) -> list[Client]:
        """Clients a mention (or a typed query: id, external id, name, alias, 王先生) names."""
        if isinstance(query, Mention):
            return self._find_mention(query)
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
        mentions = self.mentions(query)
        whole = [m for m in mentions if m.start == 0 and m.end == len(query)]
        return self._find_mention(whole[0]) if whole else []

    def _find_mention(self, mention: Mention) -> list[Client]:
        if mention.kind == NAME:
            return list(
                self.session.scalars(
                    select(Client).where(Client.name == mention.text).order_by(Client.id)
                )
            )
        if mention.kind == ALIAS:
            query = (
                select(Client)
                .join(ClientAlias, ClientAlias.client_id == Client.id)
                .where(ClientAlias.key == mention.key)
            )
            if mention.surname:
                query = query.where(Client.surname == mention.surname)
            return list(self.session.scalars(query.order_by(Client.id)).unique())
        if mention.kind == HONORIFIC:
            return self._by_honorific(mention.surname, mention.honorific)
        if mention.kind == EXTERNAL:
            return list(
                self.session.scalars(
                    select(Client).where(Client.wecom_external_userid == mention.text)
                )
            )
        # An NLU span the store does not know in any form: a name, but nobody's.
        return []

    def _by_honorific(self, surname: str, honorific: str) -> list[Client]:
        same_surname = self.session.scalars(
            select(Client).where(Client.surname == surname).order_by(Client.id)
        ).all()
        # 张女士 means the 张 recorded as 女士 if there is one; only otherwise any
        # client the honorific fits (a 小姐 or 太太 is also addressed as 女士).
        exact = [c for c in same_surname if c.honorific == honorific]
        return exact or [c for c in same_surname if honorific_fits(c, honorific)]

    def mentions(self, text: str, nlu_spans: Sequence[tuple[int, int]] = ()) -> list[Mention]:
        """Every span of ``text`` that names a client, in message order.

        ``nlu_spans`` are the model's client_name spans: one the store does not
        recognise still counts (kind ``nlu``), so a named stranger is never
        mistaken for "no name given".
        """
        found: list[Mention] = []
        substrings = cjk_substrings(text)
        names: set[str] = set()
        for chunk in chunks(substrings):
            names.update(self.session.scalars(select(Client.name).where(Client.name.in_(chunk))))
        for name in names:
            start = text.find(name)
            while start >= 0:
                found.append(Mention(name, start, NAME))
                start = text.find(name, start + 1)
        found.extend(self._alias_mentions(text, substrings))
        for match in self.vocabulary.honorific_pattern().finditer(text):
            surname, honorific = match.group(1), self.vocabulary.canonical_honorific(match.group(2))
            found.append(Mention(match.group(0), match.start(), HONORIFIC, "", surname, honorific))
        for match in EXTERNAL_ID.finditer(text):
            found.append(Mention(match.group(0), match.start(), EXTERNAL))
        kept = keep_longest(found)
        guesses = latin_name_spans(text, self.surnames, self._products)
        for start, end in [*nlu_spans, *guesses]:
            span = Mention(text[start:end], start, NLU)
            if span.text.strip() and not any(span.overlaps(m) for m in kept):
                kept.append(span)
        return sorted(kept, key=lambda m: m.start)

    def _alias_mentions(self, text: str, substrings: list[str]) -> list[Mention]:
        words = latin_words(text)
        keys = {alias_key(w.group(0)) for w in words} | set(substrings)
        known: set[str] = set()
        for chunk in chunks(sorted(keys)):
            known.update(
                self.session.scalars(
                    select(ClientAlias.key).where(ClientAlias.key.in_(chunk)).distinct()
                )
            )
        found: list[Mention] = []
        surnames = self.surnames
        for word in words:
            key = alias_key(word.group(0))
            if key not in known:
                continue
            start, end = word.start(), word.end()
            after = next((s for s in surnames if text.startswith(s, end)), "")
            before = next((s for s in surnames if text[:start].endswith(s)), "")
            after = "" if after in NOT_SURNAME_NEXT_TO_LATIN else after
            before = "" if before in NOT_SURNAME_NEXT_TO_LATIN else before
            if after:  # Amy孙
                found.append(Mention(text[start : end + len(after)], start, ALIAS, key, after))
            elif before:  # 孙Amy
                found.append(
                    Mention(
                        text[start - len(before) : end], start - len(before), ALIAS, key, before
                    )
                )
            else:
                found.append(Mention(word.group(0), start, ALIAS, key))
        for key in known & set(substrings):  # nicknames written in Chinese (豆豆)
            start = text.find(key)
            found.append(Mention(key, start, ALIAS, key))
        return found

    # -- writing the header ---------------------------------------------------------

    def create_client(
        self, name: str, honorific: str, advisor: AdvisorIdentity, gender: str = ""
    ) -> Client:
        client = Client(
            id=f"N{uuid.uuid4().hex[:10].upper()}",
            name=name,
            honorific=honorific,
            gender=gender or honorific_gender(honorific),
            phone="",
            tier="",
            home_store=advisor.store,
            advisor=advisor.id,
            surname=self.vocabulary.surname_of(name),
        )
        self.session.add(client)
        self.session.flush()
        audit.record(self.session, advisor, client.id, "create", name)
        return client

    def add_alias(
        self, client: Client, alias: str, recorded_by: str, kind: str = "alias"
    ) -> tuple[ClientAlias, bool]:
        """Record another name for the client; the same alias twice is kept once."""
        key = alias_key(alias)
        for existing in client.aliases:
            if existing.key == key:
                return existing, False
        entry = ClientAlias(
            alias=alias, key=key, kind=kind, recorded_by=recorded_by, recorded_at=utcnow()
        )
        client.aliases.append(entry)
        self.session.flush()
        return entry, True

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
