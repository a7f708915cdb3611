"""Configured channels as senders: each joins a channel module's pure ``render`` to its ``send``.

Secrets are resolved once, at start; a missing one is a configuration error naming the variable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from watcher.notify import apprise_channel, console, email, slack, webhook
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import (
    AppriseSettings,
    ChannelSettings,
    ConsoleSettings,
    EmailSettings,
    Secrets,
    SlackSettings,
    WebhookSettings,
)


@dataclass(frozen=True)
class SlackChannel:
    settings: SlackSettings
    url: str

    def deliver(self, digest: Digest) -> SendResult:
        return slack.send(self.url, slack.render(digest), key=digest.key, timeout=self.settings.timeout)


@dataclass(frozen=True)
class EmailChannel:
    settings: EmailSettings
    password: str | None

    def deliver(self, digest: Digest) -> SendResult:
        try:
            message = email.render(digest, sender=self.settings.sender, recipients=list(self.settings.recipients))
        except ValueError as exc:  # a bad sender or recipient address: no retry will fix it
            return SendResult(False, f"cannot build the message: {exc}", permanent=True)
        return email.send(self.settings, self.password, message)


@dataclass(frozen=True)
class WebhookChannel:
    settings: WebhookSettings
    url: str
    secret: str | None

    def deliver(self, digest: Digest) -> SendResult:
        body = webhook.render(digest)
        return webhook.send(self.url, body, key=digest.key, secret=self.secret, timeout=self.settings.timeout)


@dataclass(frozen=True)
class ConsoleChannel:
    settings: ConsoleSettings
    stream: TextIO | None = None

    def deliver(self, digest: Digest) -> SendResult:
        return console.send(console.render(digest), self.stream or sys.stdout)


@dataclass(frozen=True)
class AppriseChannel:
    settings: AppriseSettings
    url: str

    def deliver(self, digest: Digest) -> SendResult:
        title, body = apprise_channel.render(digest)
        return apprise_channel.send(self.url, title, body)


Sender = SlackChannel | EmailChannel | WebhookChannel | ConsoleChannel | AppriseChannel


def build(settings: ChannelSettings, secrets: Secrets) -> Sender:
    """The sender for one configured channel (raises SecretMissing when a secret is not set)."""
    match settings:
        case SlackSettings():
            return SlackChannel(settings, secrets.require(settings.url_env, settings.name))
        case EmailSettings():
            return EmailChannel(settings, secrets.get(settings.password_env) if settings.username else None)
        case WebhookSettings():
            return WebhookChannel(
                settings, secrets.require(settings.url_env, settings.name), secrets.get(settings.secret_env)
            )
        case ConsoleSettings():
            return ConsoleChannel(settings)
        case AppriseSettings():
            return AppriseChannel(settings, secrets.require(settings.url_env, settings.name))
    raise AssertionError(f"unknown channel type {settings!r}")


def build_all(channels: Iterable[ChannelSettings], secrets: Secrets) -> dict[str, Sender]:
    return {c.name: build(c, secrets) for c in channels}
