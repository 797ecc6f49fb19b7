"""The copilot's settings: one typed object, read from the environment and checked at start.

Every process (the ``copilot`` commands, the Rasa server, the action server,
the NLU service) reads its configuration through :func:`current`, so a setting
has one name, one default and one check, and a mistake stops the process at
start with a message naming the variable instead of surfacing later as failed
turns. The same names are what ``copilot up`` hands to the processes it starts,
what ``endpoints.yml`` expands (through :meth:`Settings.rasa_environment`) and
what ``deploy/`` sets; a test checks ``deploy/`` against :data:`VARIABLES`.

Nothing heavy is imported here (no Rasa, no database engine), so an entry
point can check its settings before it spends a minute loading a model.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.paths import var_dir

if TYPE_CHECKING:
    from bot.channels.wecom.api import WeComClient

# A secret an operator sets by hand must not be guessable (copilot up makes 43-character ones).
MIN_SECRET_CHARS = 16
MAX_REPLICAS = 64
LOOPBACK = "127.0.0.1"
TRACKER_STORES = {
    "sql": "bot.trackers.sql.SqlTrackerStore",
    "redis": "bot.trackers.redis_store.RedisTrackerStore",
}
LOCK_STORES = {"in-process": "bot.locks.InProcessLockStore", "redis": "bot.locks.RedisLockStore"}
AUTO = "auto"


@dataclass(frozen=True)
class Variable:
    """One environment variable: the attribute of :class:`Settings` it sets, and why."""

    name: str
    attribute: str
    meaning: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    # The two URLs may carry passwords: deploy/ keeps them with the secrets.
    Variable("COPILOT_DB_URL", "db_url",
             "SQLAlchemy URL of the card database (SQLite file under var/ by default)",
             secret=True),
    Variable("COPILOT_REDIS_URL", "redis_url",
             "Redis for shared conversations and locks; copilot up starts one when needed",
             secret=True),
    Variable("COPILOT_TRACKER_STORE", "tracker_store",
             "where conversations live: sql, redis, or auto (sql for 1 replica, else redis)"),
    Variable("COPILOT_LOCK_STORE", "lock_store",
             "conversation locks: in-process, redis, or auto (in-process for 1 replica)"),
    Variable("COPILOT_REPLICAS", "replicas",
             "Rasa replicas sharing the conversations (copilot up --replicas)"),
    Variable("COPILOT_HOST", "host", "interface the copilot's HTTP port listens on"),
    Variable("COPILOT_PORT", "port", "the copilot's HTTP port (Rasa, or nginx before replicas)"),
    Variable("COPILOT_REPLICA_PORT", "replica_port",
             "first loopback port of the Rasa replicas behind nginx (copilot up)"),
    Variable("COPILOT_ACTIONS_HOST", "actions_host", "interface the action server listens on"),
    Variable("COPILOT_ACTIONS_PORT", "actions_port", "action server port"),
    Variable("COPILOT_ACTIONS_URL", "actions_url",
             "action server webhook Rasa calls (default: loopback at COPILOT_ACTIONS_PORT)"),
    Variable("COPILOT_NLU_HOST", "nlu_host", "interface the NLU service listens on"),
    Variable("COPILOT_NLU_PORT", "nlu_port", "NLU service port"),
    Variable("COPILOT_NLU_URL", "nlu_url",
             "NLU service Rasa calls (default: loopback at COPILOT_NLU_PORT)"),
    Variable("COPILOT_ACTIONS_SECRET", "actions_secret",
             "Bearer secret Rasa sends the action server (copilot up makes one per run)",
             secret=True),
    Variable("COPILOT_NLU_TOKEN", "nlu_token",
             "Bearer secret Rasa sends the NLU service (copilot up makes one per run)",
             secret=True),
    Variable("WECOM_CORP_ID", "wecom_corp_id", "WeCom corp id (企业ID)"),
    Variable("WECOM_AGENT_ID", "wecom_agent_id", "WeCom self-built app AgentId"),
    Variable("WECOM_SECRET", "wecom_secret", "WeCom app Secret (send API)", secret=True),
    Variable("WECOM_TOKEN", "wecom_token", "WeCom callback Token", secret=True),
    Variable("WECOM_AES_KEY", "wecom_aes_key", "WeCom callback EncodingAESKey", secret=True),
    Variable("WECOM_API_BASE", "wecom_api_base", "WeCom API address (a test fake, a proxy)"),
)  # fmt: skip
BY_NAME = {variable.name: variable for variable in VARIABLES}
INTEGERS = {"replicas", "port", "replica_port", "actions_port", "nlu_port"}
# What endpoints.yml expands (see Settings.rasa_environment); derived, not set by hand.
RASA_VARIABLES = (
    "COPILOT_ACTIONS_URL",
    "COPILOT_ACTIONS_SECRET",
    "COPILOT_NLU_URL",
    "COPILOT_NLU_TOKEN",
    "COPILOT_TRACKER_STORE_TYPE",
    "COPILOT_TRACKER_STORE_URL",
    "COPILOT_LOCK_STORE_TYPE",
    "COPILOT_LOCK_STORE_URL",
)


class SettingsError(ValueError):
    """Settings that cannot work; the message lists every problem, one per line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"The copilot's settings are not valid (README, Configuration):\n{lines}")


def default_db_url() -> str:
    return f"sqlite:///{var_dir() / 'copilot.db'}"


@dataclass(frozen=True)
class Settings:
    """Every setting of every copilot process; an instance is always valid.

    Empty strings mean "not set": ``db_url`` then defaults to the SQLite file,
    ``actions_url`` and ``nlu_url`` to the loopback addresses at their ports.
    """

    db_url: str = ""
    redis_url: str = ""
    tracker_store: str = AUTO
    lock_store: str = AUTO
    replicas: int = 1
    host: str = "0.0.0.0"
    port: int = 5005
    replica_port: int = 5100
    actions_host: str = LOOPBACK
    actions_port: int = 5055
    actions_url: str = ""
    nlu_host: str = LOOPBACK
    nlu_port: int = 5056
    nlu_url: str = ""
    actions_secret: str = ""
    nlu_token: str = ""
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    def __post_init__(self) -> None:
        if not self.db_url:
            object.__setattr__(self, "db_url", default_db_url())
        problems = list(self._problems())
        if problems:
            raise SettingsError(problems)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """The settings the variables in ``env`` give (unset or empty: the default)."""
        values: dict[str, object] = {}
        problems = []
        for variable in VARIABLES:
            raw = (env.get(variable.name) or "").strip()
            if not raw:
                continue
            if variable.attribute in INTEGERS:
                try:
                    values[variable.attribute] = int(raw)
                except ValueError:
                    problems.append(f"{variable.name} must be a whole number, not {raw!r}")
            else:
                values[variable.attribute] = raw
        if problems:
            raise SettingsError(problems)
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` (attribute names), checked like any other."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # -- what the settings amount to ----------------------------------------------------------

    @property
    def trackers(self) -> str:
        """The tracker store in use: ``sql`` or ``redis``."""
        if self.tracker_store != AUTO:
            return self.tracker_store
        return "sql" if self.replicas == 1 else "redis"

    @property
    def locks(self) -> str:
        """The lock store in use: ``in-process`` or ``redis``."""
        if self.lock_store != AUTO:
            return self.lock_store
        return "in-process" if self.replicas == 1 else "redis"

    @property
    def needs_redis(self) -> bool:
        return "redis" in (self.trackers, self.locks)

    @property
    def uses_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def conversations_url(self) -> str:
        """Where the SQL tracker store keeps conversations: the card database, except
        that a SQLite card file gets a file of its own beside it (copilot.db:
        copilot-conversations.db).

        SQLite lets one connection at a time write a file. With the conversations in
        the card file, the Rasa server's save of every turn and the action server's
        card writes queued on that one lock across two processes, and a process the
        machine paused while holding it held up the other (16 advisors, two runs
        each: save p95 40-44 ms against 5 ms apart, turn p95 247-266 against
        183-198 ms). PostgreSQL locks rows, so one database serves both.
        """
        path, mark, query = self.db_url.partition("?")
        database = path.partition(":///")[2]  # sqlite:///relative or sqlite:////absolute
        if not self.uses_sqlite or database in ("", ":memory:"):
            return self.db_url  # a server, or SQLite in memory (one connection's database)
        folder, slash, name = path.rpartition("/")
        stem, dot, extension = name.rpartition(".") if "." in name else (name, "", "")
        return f"{folder}{slash}{stem}-conversations{dot}{extension}{mark}{query}"

    @property
    def action_endpoint_url(self) -> str:
        return self.actions_url or f"http://{LOOPBACK}:{self.actions_port}/webhook"

    @property
    def nlu_endpoint_url(self) -> str:
        return self.nlu_url or f"http://{LOOPBACK}:{self.nlu_port}"

    @property
    def wecom_can_send(self) -> bool:
        """The send API (replies, reminders, the toolbar page's signatures) is set up."""
        return bool(self.wecom_corp_id and self.wecom_secret)

    @property
    def wecom_callbacks(self) -> bool:
        """Everything the WeCom callback channel needs is set."""
        return self.wecom_can_send and bool(
            self.wecom_agent_id and self.wecom_token and self.wecom_aes_key
        )

    def wecom_client(self) -> WeComClient | None:
        """A client of WeCom's send API, when the corp id and app secret are set."""
        if not self.wecom_can_send:
            return None
        from bot.channels.wecom.api import WeComClient

        return WeComClient(
            self.wecom_api_base, self.wecom_corp_id, self.wecom_secret, self.wecom_agent_id
        )

    def secret(self, name: str) -> str:
        """The backend secret in variable ``name``; SettingsError if it is not set."""
        value = str(getattr(self, BY_NAME[name].attribute))
        if not value:
            raise SettingsError(
                [f"{name} must hold a secret of at least {MIN_SECRET_CHARS} characters: the "
                 "Rasa server sends it with every request (copilot up sets it)"]
            )  # fmt: skip
        return value

    def environment(self) -> dict[str, str]:
        """The variables that give these settings (unset ones left out), for a child process."""
        found = {}
        for variable in VARIABLES:
            value = getattr(self, variable.attribute)
            if value not in ("", None):
                found[variable.name] = str(value)
        return found

    def rasa_environment(self) -> dict[str, str]:
        """The variables endpoints.yml names, worked out from the settings.

        SettingsError when the Rasa server could not run with them: a backend
        secret missing, or a Redis store chosen without ``COPILOT_REDIS_URL``.
        """
        problems = []
        for name in ("COPILOT_ACTIONS_SECRET", "COPILOT_NLU_TOKEN"):
            try:
                self.secret(name)
            except SettingsError as error:
                problems += error.problems
        if self.needs_redis and not self.redis_url:
            problems.append(
                f"the {'tracker' if self.trackers == 'redis' else 'lock'} store is Redis, so "
                "COPILOT_REDIS_URL must say where (redis://host:6379/0); copilot up starts a "
                "local redis-server itself"
            )
        if problems:
            raise SettingsError(problems)
        trackers_url = self.redis_url if self.trackers == "redis" else self.conversations_url
        return {
            "COPILOT_ACTIONS_URL": self.action_endpoint_url,
            "COPILOT_ACTIONS_SECRET": self.actions_secret,
            "COPILOT_NLU_URL": self.nlu_endpoint_url,
            "COPILOT_NLU_TOKEN": self.nlu_token,
            "COPILOT_TRACKER_STORE_TYPE": TRACKER_STORES[self.trackers],
            "COPILOT_TRACKER_STORE_URL": trackers_url,
            "COPILOT_LOCK_STORE_TYPE": LOCK_STORES[self.locks],
            "COPILOT_LOCK_STORE_URL": self.redis_url if self.locks == "redis" else "",
        }

    # -- checks -------------------------------------------------------------------------------

    def _problems(self) -> Iterator[str]:
        yield from self._number_problems()
        yield from self._url_problems()
        if self.tracker_store not in (AUTO, *TRACKER_STORES):
            yield f"COPILOT_TRACKER_STORE must be auto, sql or redis, not {self.tracker_store!r}"
        if self.lock_store not in (AUTO, *LOCK_STORES):
            yield f"COPILOT_LOCK_STORE must be auto, in-process or redis, not {self.lock_store!r}"
        if self.replicas > 1:
            if self.uses_sqlite:
                yield (
                    f"{self.replicas} replicas need PostgreSQL, not SQLite: the replicas share "
                    "the cards and SQLite is one file on one machine that one writer at a time "
                    "can change. Set COPILOT_DB_URL=postgresql+psycopg2://USER:PASSWORD@HOST/DB"
                )
            if self.lock_store == "in-process":
                yield (
                    "COPILOT_LOCK_STORE=in-process cannot serve several replicas: each would "
                    "lock only its own turns. Use redis (or auto)"
                )
        for name in ("COPILOT_ACTIONS_SECRET", "COPILOT_NLU_TOKEN"):
            value = str(getattr(self, BY_NAME[name].attribute))
            if value and len(value) < MIN_SECRET_CHARS:
                yield f"{name} must be at least {MIN_SECRET_CHARS} characters long when set"
        yield from self._wecom_problems()

    def _number_problems(self) -> Iterator[str]:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            yield f"COPILOT_REPLICAS must be from 1 to {MAX_REPLICAS}, not {self.replicas}"
            return
        ports = {
            "COPILOT_PORT": [self.port],
            "COPILOT_NLU_PORT": [self.nlu_port],
            "COPILOT_ACTIONS_PORT": [self.actions_port],
        }
        if self.replicas > 1:
            ports["COPILOT_REPLICA_PORT"] = [self.replica_port + i for i in range(self.replicas)]
        owners: dict[int, str] = {}
        for name, numbers in ports.items():
            if not all(1 <= number <= 65535 for number in numbers):
                yield f"{name} must leave every port it needs within 1 to 65535, not {numbers[0]}"
                continue
            for number in numbers:
                if number in owners and owners[number] != name:
                    yield f"{name} and {owners[number]} would both use port {number}"
                owners.setdefault(number, name)

    def _url_problems(self) -> Iterator[str]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(self.db_url)
        except ArgumentError:
            yield f"COPILOT_DB_URL is not a database URL: {self.db_url!r}"
        if self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            yield (
                "COPILOT_REDIS_URL must start with redis://, rediss:// or unix://, "
                f"not {self.redis_url!r}"
            )
        for name in ("COPILOT_ACTIONS_URL", "COPILOT_NLU_URL", "WECOM_API_BASE"):
            value = str(getattr(self, BY_NAME[name].attribute))
            parts = urlsplit(value)
            if value and (parts.scheme not in ("http", "https") or not parts.netloc):
                yield f"{name} must be an http:// or https:// address, not {value!r}"

    def _wecom_problems(self) -> Iterator[str]:
        pairs = (("WECOM_CORP_ID", "WECOM_SECRET"), ("WECOM_TOKEN", "WECOM_AES_KEY"))
        for first, second in pairs:
            given = [bool(getattr(self, BY_NAME[n].attribute)) for n in (first, second)]
            if any(given) and not all(given):
                yield f"{first} and {second} are needed together; only one of them is set"
        if self.wecom_aes_key and len(self.wecom_aes_key) != 43:
            yield (
                "WECOM_AES_KEY must be the 43-character EncodingAESKey from the app's "
                f"callback settings, not {len(self.wecom_aes_key)} characters"
            )
        if self.wecom_agent_id and not self.wecom_agent_id.isdigit():
            yield f"WECOM_AGENT_ID must be the app's numeric AgentId, not {self.wecom_agent_id!r}"
        if self.wecom_token and not self.wecom_agent_id:
            yield "WECOM_TOKEN and WECOM_AES_KEY (callbacks) also need WECOM_AGENT_ID"


_WATCHED = (*(variable.name for variable in VARIABLES), "COPILOT_HOME")


def current() -> Settings:
    """The settings the process's environment gives now.

    Cheap enough to call per use (a few dictionary look-ups while the
    environment is unchanged), so a test that changes a variable is obeyed.
    Raises SettingsError with every problem listed.
    """
    return _settings(tuple(os.environ.get(name) for name in _WATCHED))


@lru_cache(maxsize=8)
def _settings(values: tuple[str | None, ...]) -> Settings:
    return Settings.from_env({k: v for k, v in zip(_WATCHED, values, strict=True) if v is not None})


def current_or_exit() -> Settings:
    """:func:`current` for an entry point: invalid settings stop the process with the list."""
    try:
        return current()
    except SettingsError as error:
        raise SystemExit(f"error: {error}") from None
