"""SQLAlchemy models (1.4, written in 2.0 style) for advisors, clients and their cards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import registry, relationship
from sqlalchemy.orm.decl_api import DeclarativeMeta

from bot.clock import utcnow

mapper_registry = registry()


class Base(metaclass=DeclarativeMeta):
    """Declarative base in the form type checkers understand (SQLAlchemy 1.4)."""

    __abstract__ = True
    registry = mapper_registry
    metadata = mapper_registry.metadata
    __init__ = mapper_registry.constructor


class Advisor(Base):
    """A person who uses the copilot; only a hash of their access token is stored."""

    __tablename__ = "advisors"

    id = Column(String(64), primary_key=True)
    name = Column(String(64), nullable=False)
    store = Column(String(64), nullable=False)
    role = Column(String(16), nullable=False, default="advisor")
    token_hash = Column(String(64), unique=True, nullable=True)
    wecom_userid = Column(String(64), unique=True, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Client(Base):
    """A client's card header; preferences and notes hang off it."""

    __tablename__ = "clients"
    # The lookups of bot/cards/store.py: a full name or 王先生 (surname + honorific),
    # ranked by the advisor's own clients, their store's, and recent activity, each a
    # LIMIT probe on an index led by what the message said (migrations 0009, 0011).
    __table_args__ = (
        Index("ix_clients_name_updated", "name", "updated_at"),
        Index("ix_clients_name_advisor", "name", "advisor"),
        Index("ix_clients_name_store", "name", "home_store"),
        Index("ix_clients_surname_honorific", "surname", "honorific", "updated_at"),
        Index("ix_clients_advisor_surname_honorific", "advisor", "surname", "honorific"),
        Index("ix_clients_store_surname_honorific", "home_store", "surname", "honorific"),
        # Ranking candidates reads this, not their rows (e.g. the most recent of an
        # alias's holders).
        Index("ix_clients_ranking", "id", "advisor", "home_store", "updated_at"),
    )

    id = Column(String(64), primary_key=True)
    name = Column(String(64), nullable=False)
    honorific = Column(String(16), nullable=False, default="")
    gender = Column(String(8), nullable=False, default="")
    phone = Column(String(32), nullable=False, default="")
    wecom_external_userid = Column(String(64), unique=True, nullable=True)
    tier = Column(String(16), nullable=False, default="")
    home_store = Column(String(64), nullable=False, default="")
    advisor = Column(String(64), nullable=False, default="")
    # The surname as the vocabulary splits it (欧阳 for 欧阳晨), kept so that
    # 欧阳先生 is an indexed lookup rather than a scan of every name.
    surname = Column(String(8), nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    preferences = relationship(
        "Preference",
        order_by="Preference.recorded_at",
        cascade="all, delete-orphan",
        back_populates="client",
    )
    aliases = relationship(
        "ClientAlias",
        order_by="ClientAlias.id",
        cascade="all, delete-orphan",
        back_populates="client",
    )
    notes = relationship(
        "VisitNote",
        order_by="VisitNote.created_at.desc()",
        cascade="all, delete-orphan",
        back_populates="client",
    )


class ClientAlias(Base):
    """Another name the client goes by: an English name (David), a nickname an
    advisor recorded. ``key`` is the normalised form that lookups match."""

    __tablename__ = "client_aliases"
    # (key, client_id): the holders of an alias straight from the index; (key, advisor)
    # and (key, home_store): the advisor's own and their store's holders of a popular
    # alias (David) without reading every holder's card (migration 0010).
    __table_args__ = (
        UniqueConstraint("client_id", "key"),
        Index("ix_client_aliases_key_client", "key", "client_id"),
        Index("ix_client_aliases_key_advisor", "key", "advisor"),
        Index("ix_client_aliases_key_store", "key", "home_store"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    alias = Column(String(64), nullable=False)
    key = Column(String(64), nullable=False)
    kind = Column(String(16), nullable=False, default="alias")
    recorded_by = Column(String(64), nullable=False, default="")
    recorded_at = Column(DateTime, nullable=False, default=utcnow)
    # Copies of the card's advisor and home store, for ranking only: set on insert
    # (below) and by the importer when a card's advisor or store changes.
    advisor = Column(String(64), nullable=False, default="", server_default="")
    home_store = Column(String(64), nullable=False, default="", server_default="")

    client = relationship("Client", back_populates="aliases")


@event.listens_for(ClientAlias, "before_insert")
def _copy_ranking_columns(_mapper: Any, _connection: Any, alias: ClientAlias) -> None:
    if alias.client is not None:
        alias.advisor = alias.client.advisor
        alias.home_store = alias.client.home_store


# A preference's life: current until superseded by a newer value, retracted by
# the advisor who wrote it, or retired because it no longer holds.
CURRENT = "current"
SUPERSEDED = "superseded"
RETRACTED = "retracted"
RETIRED = "retired"


class Preference(Base):
    """One observation: 饮品 = 酸梅汤要冰的大杯, by whom, where and when.

    Rows are never deleted by the copilot: a value that no longer holds changes
    ``status`` and the change is logged in ``preference_events``.
    """

    __tablename__ = "preferences"
    __table_args__ = (UniqueConstraint("client_id", "category", "value"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    category = Column(String(16), nullable=False)
    value = Column(String(200), nullable=False)
    recorded_by = Column(String(64), nullable=False)
    store = Column(String(64), nullable=False, default="")
    recorded_at = Column(DateTime, nullable=False, default=utcnow)
    advisor_id = Column(String(64), nullable=True)
    status = Column(String(12), nullable=False, default=CURRENT)
    # A calendar date the value names (生日 → 2026-06-08), for follow-ups.
    date_value = Column(Date, nullable=True)
    changed_at = Column(DateTime, nullable=True)

    client = relationship("Client", back_populates="preferences")


class PreferenceEvent(Base):
    """Who changed what on a card, when and from which store: the card's history."""

    __tablename__ = "preference_events"
    __table_args__ = (Index("ix_preference_events_advisor", "advisor_id", "id"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    preference_id = Column(Integer, nullable=True, index=True)
    action = Column(String(16), nullable=False)
    category = Column(String(16), nullable=False)
    value = Column(String(200), nullable=False)
    detail = Column(String(200), nullable=False, default="")
    advisor_id = Column(String(64), nullable=False)
    advisor_name = Column(String(64), nullable=False)
    store = Column(String(64), nullable=False, default="")
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


class VisitNote(Base):
    """What happened in a visit or complaint, written when a session ends."""

    __tablename__ = "visit_notes"
    # Follow-ups look notes up by their follow-up date and complaints by their age
    # (bot/followups/tasks.py; migration 0008_followups).
    __table_args__ = (
        Index("ix_visit_notes_follow_up_on", "follow_up_on"),
        Index("ix_visit_notes_kind_created", "kind", "created_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    client_id = Column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind = Column(String(16), nullable=False, default="visit")
    advisor_id = Column(String(64), nullable=False)
    store = Column(String(64), nullable=False, default="")
    summary = Column(Text, nullable=False)
    details = Column(JSON, nullable=False, default=dict)
    status = Column(String(16), nullable=True)
    follow_up_on = Column(Date, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    client = relationship("Client", back_populates="notes")


class Roleplay(Base):
    """One training role-play: who practised, with which persona, and the scorecard."""

    __tablename__ = "roleplays"

    id = Column(Integer, primary_key=True, autoincrement=True)
    advisor_id = Column(String(64), nullable=False, index=True)
    persona_id = Column(String(64), nullable=False)
    transcript = Column(JSON, nullable=False, default=list)
    checks = Column(JSON, nullable=False, default=list)
    score = Column(Integer, nullable=False)
    outcome = Column(String(16), nullable=True)
    started_at = Column(DateTime, nullable=False)
    ended_at = Column(DateTime, nullable=False, default=utcnow)


class WeComMessage(Base):
    """A WeCom callback MsgId already taken in; WeCom retries unanswered callbacks,
    and a restart must not make the bot answer one twice."""

    __tablename__ = "wecom_messages"

    msg_id = Column(String(64), primary_key=True)
    user_id = Column(String(64), nullable=False)
    received_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False, index=True)
