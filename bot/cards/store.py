"""Finding clients and keeping their card headers, notes and aliases.

Name resolution does not trust the NLU alone: every way a message can name a
client (bot/cards/names.py) is checked against indexed columns of the card
store, so a client imported after the model was trained is still found, and no
lookup reads the whole client table.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, column, func, literal, select, union_all
from sqlalchemy.orm import Session

from bot.advisors import AdvisorIdentity
from bot.cards import audit, prepared
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

# Candidates shown for a name many clients answer to; how far a count goes
# before it is "more than 200"; how many a typed query (CLI) lists.
SHOWN = 5
COUNT_CAP = 200
FIND_LIMIT = 50
# How many holders of a popular alias the "most recently active" probe looks at.
ALIAS_RECENT_POOL = 50
# Which of a message's substrings are names and aliases, on PostgreSQL.
_KNOWN_PG = (
    f"SELECT '{NAME}', k.v FROM unnest(CAST(:keys AS text[])) AS k(v) "
    "WHERE EXISTS (SELECT 1 FROM clients c WHERE c.name = k.v) UNION ALL "
    f"SELECT '{ALIAS}', k.v FROM unnest(CAST(:keys AS text[])) AS k(v) "
    "WHERE EXISTS (SELECT 1 FROM client_aliases a WHERE a.key = k.v)"
)
# The same on SQLite (no arrays): both lookups in one statement, built once; the
# expanding parameter takes each chunk's keys. Building it per call cost three times
# running it (0.66 against 0.19 ms for a 51-substring message, timeit).
_KEYS = bindparam("keys", expanding=True)
_KNOWN = union_all(
    select(literal(NAME), Client.name).where(Client.name.in_(_KEYS)).distinct(),
    select(literal(ALIAS), ClientAlias.key).where(ClientAlias.key.in_(_KEYS)).distinct(),
)
# A card's columns, named: a prepared statement that said clients.* would fail on
# PostgreSQL ("cached plan must not change result type") once a migration adds one.
_CARD_COLUMNS = ", ".join(f"clients.{column.name}" for column in Client.__table__.columns)
# The cards going by an alias.
_HOLDERS = "SELECT client_id FROM client_aliases WHERE key = :key"
# Near-miss names offered for a name no card has (PostgreSQL only).
NEAR_MISSES = 3


@dataclass(frozen=True)
class Candidates:
    """The best few clients a mention may mean, and how many there are in all."""

    clients: list[Client]
    total: int


# Honorifics that say the client's gender; the rest (总, 老师, 医生 …) do not.
MALE_HONORIFICS = {"先生", "哥"}
FEMALE_HONORIFICS = {"女士", "小姐", "太太", "夫人", "姐", "阿姨"}


def honorific_gender(honorific: str) -> str:
    if honorific in MALE_HONORIFICS:
        return "男"
    if honorific in FEMALE_HONORIFICS:
        return "女"
    return ""


def _store(advisor: AdvisorIdentity | None) -> str:
    return advisor.store if advisor else ""


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

    def find(self, query: str | Mention, limit: int = FIND_LIMIT) -> list[Client]:
        """Clients a mention (or a typed query: id, external id, name, alias, 王先生) names,
        by id, at most ``limit``."""
        if isinstance(query, Mention):
            where = self._where(query)
        else:
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
                .limit(limit)
            ).all()
            if exact:
                return list(exact)
            whole = [m for m in self.mentions(query) if m.start == 0 and m.end == len(query)]
            where = self._where(whole[0]) if whole else None
        if where is None:
            return []
        query_ = select(Client).where(*where).order_by(Client.id).limit(limit)
        return list(self.session.scalars(query_))

    def candidates(self, mention: Mention, advisor: AdvisorIdentity | None = None) -> Candidates:
        """The clients ``mention`` may mean, best first: the advisor's own clients, then
        their store's, then the most recently active; at most SHOWN, with the total.

        This runs on every turn that names someone, so it is one round trip, written
        as SQL (SQLAlchemy's statement building cost several times the indexed queries
        themselves): a capped count beside the best SHOWN of the cards the ranking
        probes pick. Each probe is an indexed lookup with a LIMIT, so 王先生 among a
        million cards costs a few index probes and a sort of at most 3 × SHOWN rows,
        not a sort of every 王. A round trip saved matters most on a database over the
        network.
        """
        ranked = advisor is not None
        # Best first: the advisor's own, then their store's, then the most recent.
        order = "(advisor = :me) DESC, (home_store = :store) DESC, " if ranked else ""
        for sql, params in self._conditions(mention):
            query = (
                f"SELECT {_CARD_COLUMNS}, ({self._count_sql(mention, sql)}) AS total FROM clients "
                f"WHERE id IN ({self._probes(mention, sql, ranked)}) "
                f"ORDER BY {order}updated_at DESC, id DESC LIMIT {SHOWN}"
            )
            params = {**params, "me": advisor.id if advisor else "", "store": _store(advisor)}
            rows = self.session.execute(
                select(Client, column("total", Integer)).from_statement(
                    prepared.statement(self.session, query, params)
                )
            ).all()
            if rows:
                return Candidates([row[0] for row in rows], rows[0][1])
        return Candidates([], 0)

    @staticmethod
    def _probes(mention: Mention, sql: str, ranked: bool) -> str:
        """The ids the ranking probes pick for ``mention`` (``sql`` selects its clients):
        the most recently active, and (``ranked``) the advisor's own and their store's,
        each an indexed probe with a LIMIT. The most recent come first among all, so
        when few clients answer to the name, these are all of them. A popular alias is
        reached through its alias rows, which carry their card's advisor and store
        (migration 0010); its most recent holders are looked for among
        ALIAS_RECENT_POOL of them (after the advisor's own and their store's, an
        approximation)."""
        if mention.kind == ALIAS:
            pool = _HOLDERS
            if mention.surname:
                pool = (
                    "SELECT a.client_id FROM client_aliases a JOIN clients c ON c.id = "
                    "a.client_id WHERE a.key = :key AND c.surname = :surname"
                )
            surname = " AND surname = :surname" if mention.surname else ""
            probes = [
                f"SELECT id FROM clients WHERE id IN ({pool} LIMIT {ALIAS_RECENT_POOL}) "
                f"ORDER BY updated_at DESC LIMIT {SHOWN}"
            ]
            if ranked:
                probes += [
                    f"SELECT id FROM clients WHERE id IN ({_HOLDERS} AND {column} = {value})"
                    f"{surname} LIMIT {SHOWN}"
                    for column, value in (("advisor", ":me"), ("home_store", ":store"))
                ]
        else:
            probes = [f"SELECT id FROM clients WHERE {sql} ORDER BY updated_at DESC LIMIT {SHOWN}"]
            if ranked:
                probes += [
                    f"SELECT id FROM clients WHERE {sql} AND {column} = {value} LIMIT {SHOWN}"
                    for column, value in (("advisor", ":me"), ("home_store", ":store"))
                ]
        return " UNION ALL ".join(f"SELECT id FROM ({p}) AS p{n}" for n, p in enumerate(probes))

    @staticmethod
    def _count_sql(mention: Mention, sql: str) -> str:
        """How many clients ``sql`` selects, counted up to COUNT_CAP. An alias is
        counted from its rows, not by gathering every holder first."""
        rows = f"SELECT 1 FROM clients WHERE {sql}"
        if mention.kind == ALIAS:
            rows = "SELECT 1 FROM client_aliases a WHERE a.key = :key"
            if mention.surname:
                rows = (
                    "SELECT 1 FROM client_aliases a JOIN clients c ON c.id = a.client_id "
                    "WHERE a.key = :key AND c.surname = :surname"
                )
        return f"SELECT count(*) FROM ({rows} LIMIT {COUNT_CAP}) AS n"

    def near_misses(self, mention: Mention) -> list[Client]:
        """Cards whose name nearly matches a name no card has (王建华 typed, 王建国 on file),
        closest first: PostgreSQL's trigram index (migration 0009) answers without
        comparing every name. Offered as suggestions, never written to. Other databases
        have no such index and offer none."""
        if self.session.get_bind().dialect.name != "postgresql" or len(mention.text) < 3:
            return []
        query = (
            select(Client)
            .where(Client.name.op("%")(mention.text))
            .order_by(func.similarity(Client.name, mention.text).desc(), Client.id)
            .limit(NEAR_MISSES)
        )
        return list(self.session.scalars(query))

    def narrow(self, mention: Mention, answer: str) -> list[Client]:
        """The clients ``mention`` may mean that fit an answer naming a phone tail or a
        full name (尾号0006, 赵子轩): for an answer about someone not among those shown."""
        where = self._where(mention)
        if where is None:
            return []
        filters = []
        if tail := re.search(r"(\d{4})", answer):
            filters.append(Client.phone.endswith(tail.group(1)))
        names = [n for n in cjk_substrings(answer) if n.startswith(mention.surname or "\0")]
        if names:
            filters.append(Client.name.in_(names))
        if not filters:
            return []
        query = select(Client).where(*where, *filters).order_by(Client.id).limit(SHOWN + 1)
        return list(self.session.scalars(query))

    def means(self, mention: Mention, client: Client) -> bool:
        """Could ``mention`` mean ``client``? (王先生 while 王建国 is being served.)"""
        where = self._where(mention)
        if where is None:
            return False
        query = select(Client.id).where(*where, Client.id == client.id)
        return self.session.scalar(query) is not None

    def _where(self, mention: Mention) -> list[Any] | None:
        """The conditions that select the clients ``mention`` names; None for nobody."""
        for where in self._wheres(mention):
            if self.session.scalar(select(Client.id).where(*where).limit(1)) is not None:
                return where
        return None

    def _conditions(self, mention: Mention) -> list[tuple[str, dict[str, Any]]]:
        """SQL conditions on ``clients`` (with their parameters) that select the clients
        ``mention`` names; the first that selects anyone applies.

        张女士 means the 张 recorded as 女士 if there is one; only otherwise any 张 the
        honorific fits (a 小姐 or 太太 is also addressed as 女士; 王总 fits any 王). An
        NLU span the store does not know in any form is a name, but nobody's."""
        if mention.kind == NAME:
            return [("name = :name", {"name": mention.text})]
        if mention.kind == ALIAS:
            owners = f"id IN ({_HOLDERS})"
            if mention.surname:
                owners += " AND surname = :surname"
            return [(owners, {"key": mention.key, "surname": mention.surname})]
        if mention.kind == HONORIFIC:
            names = {"surname": mention.surname, "honorific": mention.honorific}
            gender = honorific_gender(mention.honorific)
            fits = "surname = :surname" + (" AND gender IN (:gender, '')" if gender else "")
            return [
                ("surname = :surname AND honorific = :honorific", names),
                (fits, {**names, "gender": gender}),
            ]
        if mention.kind == EXTERNAL:
            return [("wecom_external_userid = :external", {"external": mention.text})]
        return []

    def _wheres(self, mention: Mention) -> list[list[Any]]:
        """:meth:`_conditions` as SQLAlchemy conditions, for the queries that build on
        them (find, narrow, means)."""
        return [[prepared.bound(sql, params)] for sql, params in self._conditions(mention)]

    def mentions(self, text: str, nlu_spans: Sequence[tuple[int, int]] = ()) -> list[Mention]:
        """Every span of ``text`` that names a client, in message order.

        ``nlu_spans`` are the model's client_name spans: one the store does not
        recognise still counts (kind ``nlu``), so a named stranger is never
        mistaken for "no name given".
        """
        found: list[Mention] = []
        substrings = cjk_substrings(text)
        words = latin_words(text)
        names, aliases = self._known(substrings, {alias_key(w.group(0)) for w in words})
        for name in names:
            start = text.find(name)
            while start >= 0:
                found.append(Mention(name, start, NAME))
                start = text.find(name, start + 1)
        found.extend(self._alias_mentions(text, words, substrings, aliases))
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

    def _known(self, substrings: list[str], latin_keys: set[str]) -> tuple[set[str], set[str]]:
        """Which substrings are client names and which keys are aliases: one round trip
        per chunk (both lookups in one UNION ALL), each an index probe. Distinct, since
        a popular name or alias (王伟, Linda) has hundreds of holders, not one row."""
        names: set[str] = set()
        aliases: set[str] = set()
        keys = sorted(set(substrings) | latin_keys)
        if keys and self.session.get_bind().dialect.name == "postgresql":
            # One array parameter, each value an index probe (a semi-join): PostgreSQL
            # plans an IN list of a run-on's 200 substrings value by value, and may
            # merge-join a popular alias's whole index.
            rows = self.session.execute(prepared.statement(self.session, _KNOWN_PG, {"keys": keys}))
            for kind, value in rows:
                (names if kind == NAME else aliases).add(value)
            return names, aliases
        for chunk in chunks(keys):
            for kind, value in self.session.execute(_KNOWN, {"keys": chunk}):
                (names if kind == NAME else aliases).add(value)
        return names, aliases

    def _alias_mentions(
        self, text: str, words: list[re.Match[str]], substrings: list[str], known: set[str]
    ) -> list[Mention]:
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
