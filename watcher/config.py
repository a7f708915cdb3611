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
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from watcher.notify.settings import (
    AppriseSettings,
    ChannelSettings,
    ConsoleSettings,
    EmailSettings,
    SlackSettings,
    WebhookSettings,
)
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

_MAX_LINES = 10
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"\s*(\d+)\s*([smhd]?)\s*", re.IGNORECASE)
_DURATION_FIELDS = frozenset({"interval", "jitter", "misfire_grace"})


class ConfigError(Exception):
    """The configuration cannot be used; the message says where, what and how to fix it."""


def parse_duration(value: object) -> object:
    """``90`` or ``"90s"``/``"30m"``/``"1h"``/``"1d"`` -> seconds; other types are left to pydantic."""
    match = _DURATION_RE.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        return int(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if isinstance(value, str | bool):
        raise ValueError(f"{_show(value)} is not a duration; use seconds (90) or a string such as '30m', '1h' or '1d'")
    return value


Duration = Annotated[int, BeforeValidator(parse_duration)]
"""Seconds; accepts ``90`` or ``"90s"``, ``"30m"``, ``"1h"``, ``"1d"``."""


def guide_of(url: str) -> str:
    """The URL's directory: everything up to and including the last ``/`` of the path (no query, no fragment)."""
    parts = urlsplit(url)
    path = parts.path[: parts.path.rfind("/") + 1] or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = DEFAULT_DATABASE_URL


class HttpSettings(_Strict):
    """How politely pages are fetched."""

    user_agent: str | None = None
    """Defaults to ``policy-watcher/<version> (+project URL)``."""
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
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
    log_format: Literal["text", "json"] = "text"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.delivery_max_attempts, backoff=float(self.delivery_backoff))


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    defaults: Defaults = Defaults()
    service: ServiceSettings = ServiceSettings()
    sources: list[SourceSettings] = []
    channels: list[ChannelSettings] = []
    """Where notifications go (``[[channels]]``); secrets are named by ``*_env`` keys, never written here."""

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


# ---------------------------------------------------------------------------------------------------- messages


def _describe(exc: ValidationError, file: str, overridden: Mapping[tuple[str, ...], str]) -> str:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] in ("duplicate_source_name", "duplicate_channel_name"):
            ctx = error.get("ctx") or {}
            table = "sources" if error["type"] == "duplicate_source_name" else "channels"
            lines.append(
                f"{file}: {table}[{ctx['index']}].name: {ctx['name']!r} is already used by {table}[{ctx['first']}]; "
                f"give every {table[:-1]} a unique name"
            )
            continue
        loc, tag = _strip_channel_tag(loc)
        if error["type"] == "union_tag_invalid":
            loc = (*loc, "type")
        key = _key(loc)
        variable = overridden.get(tuple(str(part) for part in loc))
        where = f"{variable} (overrides {key})" if variable else f"{file}: {key}" if key else file
        lines.append(f"{where}: {_problem(error, loc, tag)}")
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"... and {len(lines) - _MAX_LINES} more problems"]
    return "\n".join(lines)


def _key(loc: tuple[int | str, ...]) -> str:
    """``('sources', 3, 'kind')`` -> ``sources[3].kind``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _strip_channel_tag(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], str | None]:
    """pydantic puts a channel's type into the location (``channels.0.webhook.url``): take it out."""
    if len(loc) >= 3 and loc[0] == "channels" and isinstance(loc[1], int) and loc[2] in _CHANNEL_MODELS:
        return (*loc[:2], *loc[3:]), str(loc[2])
    return loc, None


def _problem(error: ErrorDetails, loc: tuple[int | str, ...], tag: str | None = None) -> str:
    kind, given, ctx = error["type"], error["input"], error.get("ctx") or {}
    if kind == "union_tag_invalid":
        names = [repr(t) for t in _CHANNEL_MODELS]
        return f"{_show(ctx.get('tag'))} is not allowed; use {', '.join(names[:-1])} or {names[-1]}"
    if kind == "union_tag_not_found":
        return f"required key is missing; add type = one of {', '.join(repr(t) for t in _CHANNEL_MODELS)}"
    if kind == "extra_forbidden" and tag is not None and len(loc) == 3:
        return _unknown_key(str(loc[-1]), list(_CHANNEL_MODELS[tag].model_fields))
    field = loc[-1] if loc else ""
    duration = field in _DURATION_FIELDS
    if duration and (seconds := _as_seconds(given)) is not None:
        given = _Seconds(seconds)
    if kind == "extra_forbidden":
        return _unknown_key(str(field), _allowed_keys(loc[:-1]))
    if kind == "missing":
        return f"required key is missing; add {field} = ..."
    if kind == "literal_error":
        return f"{_show(given)} is not allowed; use {ctx['expected']}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than", "greater_than_equal"):
        bound, word = (ctx["gt"], "greater than") if kind == "greater_than" else (ctx["ge"], "at least")
        return f"{_show(given)} is too small; use {word} {_bound(bound, duration)}"
    if kind in ("less_than", "less_than_equal"):
        bound, word = (ctx["lt"], "less than") if kind == "less_than" else (ctx["le"], "at most")
        return f"{_show(given)} is too large; use {word} {_bound(bound, duration)}"
    if kind == "string_too_short":
        return f"{_show(given)} is too short; use at least {ctx['min_length']} character(s)"
    if kind == "string_too_long":
        return f"{_show(given)} is too long; use at most {ctx['max_length']} characters"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        table = f"[[{_key(loc[:-1])}]]" if isinstance(field, int) else f"[{_key(loc)}]"
        return f"{_show(given)} is not a table; use {table} with keys {', '.join(_allowed_keys(loc))}"
    if kind == "list_type":
        return f"{_show(given)} is not a list of tables; write each one as [[{field}]]"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        hint = " or a duration such as '30m'" if duration else ""
        return f"{_show(given)} is not a whole number; use an integer such as 10{hint}"
    if kind in ("float_parsing", "float_type"):
        return f"{_show(given)} is not a number; use a number such as 20 or 2.5"
    if kind in ("bool_parsing", "bool_type"):
        return f"{_show(given)} is not a boolean; use true or false"
    if kind == "string_type":
        return f'{_show(given)} is not a string; put it in quotes ("...")'
    return f"{_show(given)}: {error['msg']}"


_CHANNEL_MODELS: dict[str, type[BaseModel]] = {
    "slack": SlackSettings,
    "email": EmailSettings,
    "webhook": WebhookSettings,
    "console": ConsoleSettings,
    "apprise": AppriseSettings,
}


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return f"unknown key; allowed keys are {', '.join(allowed)}"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys of the table at ``loc`` (``()`` is the top level), in declaration order."""
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _model_in(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model class inside ``X``, ``list[X]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _as_seconds(value: object) -> int | None:
    try:
        parsed = parse_duration(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, int) and not isinstance(parsed, bool) else None


def _bound(bound: object, duration: bool) -> object:
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    return _Seconds(bound) if duration and isinstance(bound, int) else bound


class _Seconds(int):
    """A duration in messages: ``1 second``, ``10 seconds``."""

    def __repr__(self) -> str:
        return f"{int(self)} second{'' if self == 1 else 's'}"

    __str__ = __repr__


def _show(value: object) -> str:
    text = repr(value)
    if isinstance(value, bool):
        text = str(value).lower()
    return text if len(text) <= 60 else text[:57] + "..."
