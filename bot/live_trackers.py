"""The old name of the copilot's tracker store, kept while endpoints.yml still uses it.

Conversations used to live only in the Rasa process and were lost when it was
killed; they are now written to the card database at the end of every turn
(:class:`bot.trackers.sql.SqlTrackerStore`, same 20-event history, slots kept).
Point endpoints.yml at ``bot.trackers.sql.SqlTrackerStore`` (or
``bot.trackers.redis_store.RedisTrackerStore``) and delete this module.
"""

from bot.trackers.sql import SqlTrackerStore as LiveTrackerStore

__all__ = ["LiveTrackerStore"]
