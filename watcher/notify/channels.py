"""Configured channels as senders: each joins a channel module's pure ``render`` to its ``send``.

Secrets are resolved once, at start; a missing one is a configuration error naming the variable. The HTTP
channels (Slack, webhook) keep one ``requests.Session`` per thread, so that their messages reuse a connection.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import TextIO

import requests

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


def http_session() -> requests.Session:
    """A session for one channel's POSTs: its connections stay open between messages. It keeps no cookies (a
    session per message kept none either); proxies and CA bundles still come from the environment on every request,
    and ``send`` still never follows redirects."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


class _Sessions(threading.local):
    """One ``requests.Session`` per thread (a session is not meant to be shared by threads), made when first used."""

    session: requests.Session | None = None

    def get(self) -> requests.Session:
        if self.session is None:
            self.session = http_session()
        return self.session


@dataclass(frozen=True)
class SlackChannel:
    settings: SlackSettings
    url: str
    _sessions: _Sessions = field(default_factory=_Sessions, init=False, repr=False, compare=False)

    def deliver(self, digest: Digest) -> SendResult:
        payload = slack.render(digest)
        return slack.send(
            self.url, payload, key=digest.key, timeout=self.settings.timeout, session=self._sessions.get()
        )


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
    _sessions: _Sessions = field(default_factory=_Sessions, init=False, repr=False, compare=False)

    def deliver(self, digest: Digest) -> SendResult:
        body = webhook.render(digest)
        return webhook.send(
            self.url,
            body,
            key=digest.key,
            secret=self.secret,
            timeout=self.settings.timeout,
            session=self._sessions.get(),
        )


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
