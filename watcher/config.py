"""Settings: ``config/watcher.toml`` (or ``--config PATH``) validated once at start, environment on top.

Nothing here runs at import time; ``load_settings`` is called by the CLI and the result passed down.

Environment variables override the file (an empty variable counts as unset):

==========================  ======================
variable                    setting
==========================  ======================
``WATCHER_DATABASE_URL``    ``database.url``
``WATCHER_LOG_FORMAT``      ``service.log_format``
``WATCHER_LISTEN_HOST``     ``service.listen_host``
``WATCHER_LISTEN_PORT``     ``service.listen_port``
``WATCHER_HTTP_USER_AGENT`` ``http.user_agent``
==========================  ======================

Every problem is a ``ConfigError`` with one line per problem, ``FILE: KEY: what is wrong; what to do``, the
key spelled as in TOML (``http.read_timeout``, ``sources[3].kind``; sources are counted from 0, in file
order). A value that came from the environment is named by its variable instead of the file.

Durations (``interval``, ``jitter``, ``misfire_grace``) are whole seconds (``90``) or a string with a unit:
``"90s"``, ``"30m"``, ``"1h"``, ``"1d"``.

The messages are built by ``watcher.config_errors``; durations are parsed by ``watcher.config_durations``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from watcher.config_durations import Duration as Duration
from watcher.config_durations import parse_duration as parse_duration
from watcher.config_errors import _describe
from watcher.notify.settings import ChannelSettings
from watcher.risk.rules import RiskSettings

if TYPE_CHECKING:
    from watcher.outbox import RetryPolicy

DEFAULT_DATABASE_URL = "sqlite:///data/watcher.db"
DEFAULT_CONFIG_PATH = Path("config/watcher.toml")

ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "WATCHER_DATABASE_URL": ("database", "url"),
    "WATCHER_LOG_FORMAT": ("service", "log_format"),
    "WATCHER_LISTEN_HOST": ("service", "listen_host"),
    "WATCHER_LISTEN_PORT": ("service", "listen_port"),
    "WATCHER_HTTP_USER_AGENT": ("http", "user_agent"),
}
"""Environment variable -> key path of the setting it overrides."""

# Secrets (webhook URLs, SMTP passwords, tokens) come from the environment only, never from the committed
# file. When the notification channels land, add their ``*_url``/``password`` fields here with a
# ``field_validator`` that rejects a value read from the file ("set WATCHER_SLACK_WEBHOOK_URL instead"),
# and extend ENV_OVERRIDES with the variables that carry them.


class ConfigError(Exception):
    """The configuration cannot be used; the message says where, what and how to fix it."""


def guide_of(url: str) -> str:
    """The URL's directory: everything up to and including the last ``/`` of the path (no query, no fragment)."""
    parts = urlsplit(url)
    path = parts.path[: parts.path.rfind("/") + 1] or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


class DatabaseSettings(_Strict):
    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        scheme, sep, _ = url.partition("://")
        if not sep or scheme.lower() not in _DATABASE_SCHEMES:
            # The URL itself is not repeated: it may hold a password.
            what = f"{scheme!r} is not supported (SQLite, or PostgreSQL through psycopg 3)" if sep else "no scheme"
            raise ValueError(
                f"{what}; use 'sqlite:///data/watcher.db' (a file) or "
                "'postgresql+psycopg://user:password@host:5432/watcher'"
            )
        return url


class HttpSettings(_Strict):
    """How politely pages are fetched."""

    user_agent: str | None = None
    """Defaults to ``policy-watcher/<version> (+project URL)``."""
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    body_timeout: float = Field(120.0, gt=0)
    """Most seconds to read one answer's body: a server that sends a little now and then, each time within
    ``read_timeout``, cannot hold a check (and its lease, and a shutdown) for longer."""
    max_bytes: int = Field(10 * 1024 * 1024, gt=0)
    retries: int = Field(3, ge=0, le=10)
    """Extra attempts after the first, on connection errors, timeouts, 429 and 5xx."""
    backoff: float = Field(1.0, ge=0)
    """First retry delay in seconds; doubles per attempt, with jitter."""
    backoff_max: float = Field(60.0, ge=0)
    max_redirects: int = Field(5, ge=0, le=30)
    concurrency: int = Field(4, ge=1, le=64)
    """Requests in flight for the whole cycle."""
    per_host_concurrency: int = Field(2, ge=1, le=16)
    per_host_min_interval: float = Field(1.0, ge=0)
    """Minimum seconds between the starts of two requests to one host."""
    follow_references: bool = True
    """A page's policy that links to the AWS Managed Policy Reference instead of embedding its JSON is checked
    on that reference page too (a derived source ``<page>/<Policy>``, checked right after the page)."""
    max_reference_pages: int = Field(50, ge=1, le=1000)
    """Most reference pages checked per page per check; the ones checked longest ago go first."""

    def longest_fetch(self) -> float:
        """Seconds one fetch may take at most once it has its slot: every attempt timing out at each redirect hop
        and on its body, with the longest wait between attempts."""
        attempt = (self.max_redirects + 1) * (self.connect_timeout + self.read_timeout) + self.body_timeout
        return (self.retries + 1) * attempt + self.retries * self.backoff_max


class Defaults(_Strict):
    interval: Duration = Field(3600, ge=10)
    """Seconds between checks of a source."""
    jitter: Duration = Field(120, ge=0)
    failure_threshold: int = Field(3, ge=1)
    """Consecutive failures before one ``source_failing`` event."""
    misfire_grace: Duration = Field(300, ge=1)


class SourceSettings(_Strict):
    name: str = Field(min_length=1, max_length=200)
    url: str
    kind: Literal["page", "feed"]
    service: str | None = None
    guide: str | None = None
    """Pages and the feed of one guide share this; a new feed item checks the guide's pages at once.
    Defaults to the URL's directory (``https://docs.aws.amazon.com/rekognition/latest/dg/``)."""
    interval: Duration | None = Field(None, ge=10)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _default_guide(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("guide") is None and isinstance(data.get("url"), str):
            return {**data, "guide": guide_of(data["url"])}
        return data

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{url!r} is not an http(s) URL; use a full address such as "
                "'https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html'"
            )
        return url


def _auto_parse_workers() -> int:
    from watcher.parse_pool import auto_workers

    return auto_workers()


class ServiceSettings(_Strict):
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(9108, ge=0, le=65535)
    """``/healthz`` and ``/metrics``; 0 picks a free port."""
    deliver_every: int = Field(5, ge=1)
    """Seconds between two runs of the deliverer job."""
    delivery_max_attempts: int = Field(10, ge=1, le=100)
    """A delivery that keeps failing goes ``dead`` after this many attempts."""
    delivery_backoff: int = Field(30, ge=1)
    """Seconds before the first retry of a failed delivery; doubles per attempt, with jitter, up to an hour."""
    parse_workers: int = Field(default_factory=lambda: _auto_parse_workers(), ge=0, le=16)
    """Worker processes that parse new bodies (default 2 on a machine with several cores, else 0: in process)."""
    reconcile_every: Duration = Field(3600, ge=60)
    """How often the service compares observed changes with the updates tables and feeds (``watcher reconcile``)."""
    log_format: Literal["text", "json"] = "text"

    def retry_policy(self) -> RetryPolicy:
        from watcher.outbox import RetryPolicy

        return RetryPolicy(max_attempts=self.delivery_max_attempts, backoff=float(self.delivery_backoff))


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    defaults: Defaults = Defaults()
    service: ServiceSettings = ServiceSettings()
    sources: list[SourceSettings] = []
    channels: list[ChannelSettings] = []
    """Where notifications go (``[[channels]]``); secrets are named by ``*_env`` keys, never written here."""
    risk: RiskSettings = RiskSettings()
    """How severe a change is (``[risk]``): the rules per grant, the floor per event kind."""

    @model_validator(mode="after")
    def _unique_source_names(self) -> Settings:
        seen: dict[str, int] = {}
        for index, channel in enumerate(self.channels):
            if channel.name in seen:
                raise PydanticCustomError(
                    "duplicate_channel_name",
                    "channel name '{name}' is used twice",
                    {"name": channel.name, "index": index, "first": seen[channel.name]},
                )
            seen[channel.name] = index
        first: dict[str, int] = {}
        for index, source in enumerate(self.sources):
            if source.name in first:
                raise PydanticCustomError(
                    "duplicate_source_name",
                    "source name '{name}' is used twice",
                    {"name": source.name, "index": index, "first": first[source.name]},
                )
            first[source.name] = index
        return self

    def interval_of(self, source: SourceSettings) -> int:
        """Seconds between two checks of ``source``: its own ``interval``, else ``defaults.interval``."""
        return source.interval if source.interval is not None else self.defaults.interval

    def enabled_sources(self) -> list[SourceSettings]:
        """The sources to watch, in file order."""
        return [source for source in self.sources if source.enabled]


# ---------------------------------------------------------------------------------------------------- loading


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (default ``config/watcher.toml`` in the current directory), validate, apply the environment.

    A missing default file means built-in defaults and no sources; a missing explicit ``path`` is an error.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    file = DEFAULT_CONFIG_PATH if path is None else path
    data = _read_toml(file, required=path is not None)
    overridden: dict[tuple[str, ...], str] = {}
    for variable, key in ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value and _set_path(data, key, value):
            overridden[key] = variable
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(file), overridden)) from None


def _read_toml(file: Path, *, required: bool) -> dict[str, Any]:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(f"{file}: no such file; pass an existing file, or copy config/watcher.toml") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory; pass the path of a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.strerror or exc}); check the path and permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise ConfigError(f"{file}: line {line}, column {column}: not UTF-8; save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {_toml_problem(str(exc))}") from None


def _toml_problem(message: str) -> str:
    """``Invalid value (at line 3, column 8)`` -> ``line 3, column 8: invalid TOML: Invalid value; fix ...``."""
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if match:
        where, what = f"line {match.group(2)}, column {match.group(3)}", match.group(1)
    else:
        match = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
        where, what = ("end of file", match.group(1)) if match else ("somewhere", message)
    return f"{where}: invalid TOML: {what}; fix the syntax there (https://toml.io)"


def _set_path(data: dict[str, Any], key: tuple[str, ...], value: str) -> bool:
    """Put ``value`` at ``key`` in ``data``, creating tables; False if the file holds a non-table on the way."""
    node = data
    for part in key[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False  # the file's own error about that key is reported instead
        node = child
    node[key[-1]] = value
    return True
