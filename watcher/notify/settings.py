"""Channel settings (``[[channels]]`` in config/watcher.toml) and the secrets they name.

Secrets never live in the config: a channel names the environment variable that holds its webhook URL,
SMTP password or HMAC key (``*_env``), read at start from the environment or from the file named by
``WATCHER_SECRETS_FILE`` (``NAME=value`` lines).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from watcher.notify.schedule import parse_quiet_hours, parse_time_of_day, zone
from watcher.risk.levels import ORDER, Severity


class SecretMissing(Exception):
    """A channel names a secret that neither the environment nor the secrets file holds."""


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    kinds: list[str] | None = None
    """Event kinds to send; default: every change kind (not the operator kinds)."""
    services: list[str] = []
    """Only events of sources whose service contains one of these (case-insensitive)."""
    policies: list[str] = []
    """Only events about these policies."""
    only_additions: bool = False
    """Only policy_added and actions_added."""
    operator: bool = False
    """Also receive operator alerts: source_failing, source_recovered, layout_suspect, parse_failed, delivery_dead."""
    timeout: float = Field(10.0, gt=0)
    min_severity: Severity = Severity.INFO
    """Drop change events below this severity (a missing severity counts as info); operator alerts always pass."""
    immediate_severity: Severity = Severity.HIGH
    """With ``digest = "daily"``: change events at or above this go out at once, the others wait for the digest."""
    digest: Literal["none", "daily"] = "none"
    """``none``: everything that passes goes out at once (one message per check); ``daily``: change events below
    ``immediate_severity`` wait for one daily digest."""
    digest_time: str = "09:00"
    """When the daily digest goes out (HH:MM in ``timezone``; at the end of the quiet hours if inside them)."""
    quiet_hours: str | None = None
    """``HH:MM-HH:MM`` in ``timezone`` (may wrap midnight): immediate messages wait until the end, except those
    holding a critical event and operator alerts."""
    timezone: str = "UTC"
    """IANA time zone of ``digest_time`` and ``quiet_hours``."""

    @field_validator("min_severity", "immediate_severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return Severity(value.strip().lower())
            except ValueError:
                pass
        if isinstance(value, Severity):
            return value
        levels = ", ".join(s.value for s in ORDER[:-1]) + f" or {ORDER[-1].value}"
        raise ValueError(f"{value!r} is not a severity; use {levels}")

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        parse_time_of_day(value)
        return value.strip()

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        start, end = parse_quiet_hours(value)
        return f"{start:%H:%M}-{end:%H:%M}"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value.strip())
        return value.strip()


class SlackSettings(_Channel):
    type: Literal["slack"]
    url_env: str = "WATCHER_SLACK_WEBHOOK_URL"


class EmailSettings(_Channel):
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = "WATCHER_SMTP_PASSWORD"
    sender: str
    recipients: list[str] = Field(min_length=1)


class WebhookSettings(_Channel):
    type: Literal["webhook"]
    url_env: str = "WATCHER_WEBHOOK_URL"
    secret_env: str | None = "WATCHER_WEBHOOK_SECRET"
    """HMAC-SHA256 key for ``X-Watcher-Signature``; no signature when the variable is unset."""


class ConsoleSettings(_Channel):
    type: Literal["console"]


class AppriseSettings(_Channel):
    type: Literal["apprise"]
    url_env: str = "WATCHER_APPRISE_URL"


ChannelSettings = Annotated[
    SlackSettings | EmailSettings | WebhookSettings | ConsoleSettings | AppriseSettings, Field(discriminator="type")
]


def read_secrets_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


class Secrets:
    """Secret values by variable name: the environment first, then the secrets file."""

    def __init__(self, env: Mapping[str, str], file_values: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._file = file_values or {}

    @classmethod
    def load(cls, env: Mapping[str, str]) -> Secrets:
        path = env.get("WATCHER_SECRETS_FILE")
        return cls(env, read_secrets_file(Path(path)) if path else None)

    def get(self, name: str | None) -> str | None:
        if not name:
            return None
        return self._env.get(name) or self._file.get(name) or None

    def require(self, name: str, channel: str) -> str:
        value = self.get(name)
        if value is None:
            raise SecretMissing(
                f"channel {channel!r} needs the secret {name}: set it in the environment or in WATCHER_SECRETS_FILE"
            )
        return value
