"""Durable conversations: Rasa tracker stores that survive any process being killed.

Advisors keep one conversation open all day, and a reception in progress lives
in its slots (``mode``, ``flow_state``, ``active_client_id`` ...). Every store here
writes the conversation out at the end of each turn, so a SIGKILLed Rasa process
loses nothing, and several Rasa replicas can share conversations:

- :class:`bot.trackers.sql.SqlTrackerStore`: the card database (SQLite or
  PostgreSQL), the single-machine default;
- :class:`bot.trackers.redis_store.RedisTrackerStore`: Redis, for scale-out.

Both keep the last 20 events (slots are tracker state and survive the cap),
store one JSON document per conversation (:mod:`bot.trackers.snapshot`) and keep
a per-process cache keyed by a version number (:mod:`bot.trackers.store`).

This package imports nothing heavy, so the migrations can import the table
(:mod:`bot.trackers.table`) without loading Rasa.
"""
