"""Delivery end to end, through real channels and real receivers: at least once on the wire, exactly once in effect.

A receiver that is down for a while gets every event once it is up; a deliverer killed (SIGKILL) between
sending and marking costs one duplicate, recognisable by its ``X-Watcher-Delivery`` key; two ``watcher run``
replicas on one PostgreSQL database send every row once; and the fixture history v1 -> v4, checked through a
loopback docs server, gives exactly the expected Slack, email and webhook messages.

Nothing is mocked and nothing sleeps: clocks are injected, receivers are loopback servers (tests/receivers.py,
the Slack stand-in of tests/test_notify_slack.py, the aiosmtpd server of tests/test_notify_email.py), and
subprocesses are followed through what they print.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests import deliver_child
from tests.conftest import REKOGNITION
from tests.history_helpers import T0, ingest_fixture
from tests.loopback import Close, Reply, loopback
from tests.receivers import HOOK, Post, webhook_receiver
from tests.test_notify_email import Inbox, smtp_server
from tests.test_notify_slack import header, slack_stand_in
from watcher import demo
from watcher.checker import Checker
from watcher.config import Settings
from watcher.db.models import Delivery, DeliveryEvent, Event
from watcher.fetch import Fetcher
from watcher.notify.channels import Sender, build, build_all
from watcher.notify.settings import Secrets, WebhookSettings
from watcher.outbox import Deliverer, RetryPolicy, enqueue

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hmac-key-reliability-7Qx"
TIMEOUT = 60.0
"""Longest wait for a subprocess to say something (a safety net: the tests wait on what they print)."""


def _child_env(**secrets: str) -> dict[str, str]:
    """The environment of a subprocess: this one's without WATCHER_* overrides, loopback unproxied, the secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    return {**env, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **secrets}


class Clock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _hook_sender(url: str, settings: WebhookSettings = deliver_child.CHANNEL) -> dict[str, Sender]:
    """The webhook channel as ``watcher run`` builds it: URL and HMAC key are secrets named by the settings."""
    secrets = Secrets({"WATCHER_WEBHOOK_URL": url, "WATCHER_WEBHOOK_SECRET": SECRET})
    return {settings.name: build(settings, secrets)}


def _enqueue_versions(sessions: sessionmaker[Session], versions: list[int], channel: WebhookSettings) -> None:
    """Ingest page v<n> in turn (an hour apart), then one delivery per snapshot's events, as the checker writes them."""
    for hours, version in enumerate(versions):
        ingest_fixture(sessions, "rekognition", f"page-v{version}.html", hours=hours)
    with sessions.begin() as session:
        by_snapshot: dict[int | None, list[Event]] = {}
        for event in session.scalars(select(Event).order_by(Event.id)):
            by_snapshot.setdefault(event.snapshot_id, []).append(event)
        for events in by_snapshot.values():
            enqueue(session, events, [channel], T0)


def _rows(sessions: sessionmaker[Session]) -> list[Delivery]:
    with sessions() as session:
        rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
        session.expunge_all()
        return rows


def _event_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id)))


def _same_body_per_key(posts: list[Post]) -> bool:
    bodies: dict[str | None, set[bytes]] = {}
    for post in posts:
        bodies.setdefault(post.key, set()).add(post.body)
    return all(len(b) == 1 for b in bodies.values())


# --- (1) a receiver that is down for a while ---------------------------------------------------------------------


def test_the_receiver_is_down_for_a_while_then_up_every_event_is_delivered_exactly_once(
    sessions: sessionmaker[Session],
) -> None:
    _enqueue_versions(sessions, [1, 2, 3], deliver_child.CHANNEL)  # 3 rows: baseline, v2 (2 events), v3 (4)
    clock = Clock()
    with webhook_receiver(SECRET) as hook:
        # Down: 503s (one asking for no wait at all, one naming a time already past), then closed connections.
        unavailable = [
            Reply(503, b"maintenance", headers=headers, content_type="text/plain")
            for headers in ({}, {"Retry-After": "0"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
        ]
        hook.script(HOOK, *unavailable, Close(), Close(), Close(), Reply(200, b"ok", content_type="text/plain"))
        deliverer = Deliverer(sessions, _hook_sender(hook.url(HOOK)), owner="deliverer", clock=clock)
        rounds: list[list[str]] = []
        errors: list[set[str | None]] = []
        backoffs: list[list[float]] = []
        for _ in range(3):
            rounds.append([o.status for o in deliverer.run_once()])
            assert deliverer.run_once() == []  # nothing is due before its backoff has passed
            rows = _rows(sessions)
            errors.append({r.last_error for r in rows})
            waiting = [r.next_attempt_at for r in rows if r.status != "sent"]
            backoffs.append([(t - clock.now).total_seconds() for t in waiting])
            if waiting:
                clock.now = max(waiting)  # past every row's backoff
        clock.advance(86400)
        assert deliverer.run_once() == []  # sent rows are never sent again
        posts, accepted = hook.posts, hook.accepted

    assert rounds == [["retrying"] * 3, ["retrying"] * 3, ["sent"] * 3]
    assert errors == [{"HTTP 503 Service Unavailable: maintenance"}, {"connection failed: ConnectionError"}, {None}]
    # Exponential backoff: 30 s, then 60 s, each plus up to a quarter of jitter; a Retry-After of no time at all
    # is no reason to try again at once (it would spend every attempt of an outage in one go).
    policy = RetryPolicy()
    assert [len(b) for b in backoffs] == [3, 3, 0]
    assert all(policy.backoff <= b <= policy.backoff * 1.25 for b in backoffs[0])
    assert all(2 * policy.backoff <= b <= 2 * policy.backoff * 1.25 for b in backoffs[1])
    assert [p.status for p in posts] == [503] * 3 + [None] * 3 + [200] * 3  # None: the connection was closed
    rows = _rows(sessions)
    keys = [r.digest_key for r in rows]
    assert Counter(p.key for p in accepted) == Counter(keys)  # each delivery key accepted exactly once
    assert Counter(p.key for p in posts) == {key: 3 for key in keys}
    assert _same_body_per_key(posts)  # every retry carried the same body under the same key
    assert sorted(i for p in accepted for i in p.event_ids) == _event_ids(sessions)  # every event exactly once
    assert [(r.status, r.attempts, r.last_error, r.lease_owner) for r in rows] == [("sent", 3, None, None)] * 3


# --- (2) a deliverer killed between sending and marking ------------------------------------------------------------


def test_a_deliverer_killed_between_sending_and_marking_is_redelivered_once_its_lease_expires(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    _enqueue_versions(sessions, [1, 2], deliver_child.CHANNEL)  # 2 rows: the child claims both, sends the first
    with webhook_receiver(SECRET) as hook:
        env = _child_env(WATCHER_WEBHOOK_URL=hook.url(HOOK), WATCHER_WEBHOOK_SECRET=SECRET)
        with subprocess.Popen(
            [sys.executable, "-m", "tests.deliver_child", db_url, T0.isoformat()],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            try:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "READY"  # sent and accepted, not marked
                os.kill(child.pid, signal.SIGKILL)
                assert child.wait(timeout=TIMEOUT) == -signal.SIGKILL
            finally:
                if child.poll() is None:
                    child.kill()
        first, second = _rows(sessions)
        assert [p.key for p in hook.accepted] == [first.digest_key]
        assert [(r.status, r.attempts, r.lease_owner) for r in (first, second)] == [
            ("sending", 0, deliver_child.OWNER)
        ] * 2

        clock = Clock()
        survivor = Deliverer(sessions, _hook_sender(hook.url(HOOK)), owner="survivor", clock=clock)
        clock.advance(RetryPolicy().lease.total_seconds())
        assert survivor.run_once() == []  # the dead deliverer's lease still holds, to the second
        clock.advance(1)
        assert [(o.id, o.status) for o in survivor.run_once()] == [(first.id, "sent"), (second.id, "sent")]
        accepted, unique = hook.accepted, hook.deduplicated()

    assert Counter(p.key for p in accepted) == {first.digest_key: 2, second.digest_key: 1}  # at most twice
    duplicates = [p for p in accepted if p.key == first.digest_key]
    assert duplicates[0].body == duplicates[1].body  # the same key and the very same signed body
    assert Counter(p.key for p in unique.values()) == {first.digest_key: 1, second.digest_key: 1}
    assert sorted(i for p in unique.values() for i in p.event_ids) == _event_ids(sessions)  # once after de-dup
    rows = _rows(sessions)
    # The killed attempt never got marked: one attempt counted, by the survivor.
    assert [(r.status, r.attempts, r.lease_owner, r.sent_at) for r in rows] == [("sent", 1, None, clock())] * 2


# --- (3) two `watcher run` replicas on one PostgreSQL database ----------------------------------------------------


class Replicas:
    """``watcher run`` subprocesses whose stderr lines arrive in one queue, each tagged with its replica."""

    def __init__(self, count: int, config: Path, env: dict[str, str]) -> None:
        self.lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self.seen: list[list[str]] = [[] for _ in range(count)]
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "watcher", "run", "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        for index, process in enumerate(self.processes):
            threading.Thread(target=self._read, args=(index, process), daemon=True).start()

    def _read(self, index: int, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                self.lines.put((index, line.rstrip("\n")))
        self.lines.put((index, None))

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        """Read lines until ``done()``; fails if a replica exits first or nothing is said for TIMEOUT seconds."""
        while not done():
            try:
                index, line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"never saw {what}; the replicas said: {[s[-20:] for s in self.seen]}")
            if line is None:
                pytest.fail(f"replica {index} exited before {what}: {self.seen[index][-20:]}")
            self.seen[index].append(line)

    def matches(self, pattern: str) -> list[tuple[int, re.Match[str]]]:
        return [(i, m) for i, lines in enumerate(self.seen) for line in lines if (m := re.search(pattern, line))]

    def stop(self) -> list[int]:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=TIMEOUT) for process in self.processes]

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


FILES = ["page-v1.html", "page-v2.html", "page-v3.html", "page-v4.html", "doc-history-v1.rss", "doc-history-v2.rss"]


def _replica_config(tmp_path: Path, db_url: str, base: str) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{Path(f).stem}"\nurl = "{base}/rekognition/{f}"\n'
        f'kind = "{"feed" if f.endswith(".rss") else "page"}"\nservice = "Amazon Rekognition"\n\n'
        for f in FILES
    )
    path = tmp_path / "watcher.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[http]
retries = 0
per_host_min_interval = 0
[defaults]
interval = "1h"
jitter = 0
[service]
listen_port = 0
deliver_every = 1

{sources}
[[channels]]
type = "webhook"
name = "hook"
url_env = "RELIABILITY_HOOK_URL"
secret_env = "RELIABILITY_HOOK_SECRET"
"""
    )
    return path


def test_two_replicas_on_one_postgresql_database_deliver_every_row_exactly_once(
    tmp_path: Path, pg_url: str, db_url: str, sessions: sessionmaker[Session]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    names = [Path(f).stem for f in FILES]
    both_up = threading.Event()  # the docs answer once both replicas run: they race for every lease and row
    with loopback() as docs, webhook_receiver(SECRET) as hook:
        for f in FILES:
            docs.script(f"/rekognition/{f}", Reply(200, (REKOGNITION / f).read_bytes(), gate=both_up))
        env = _child_env(RELIABILITY_HOOK_URL=hook.url(HOOK), RELIABILITY_HOOK_SECRET=SECRET)
        replicas = Replicas(2, _replica_config(tmp_path, db_url, docs.base), env)
        try:

            def said(pattern: str, index: int | None = None) -> list[str]:
                return [m[1] for i, m in replicas.matches(pattern) if index is None or i == index]

            def sent() -> set[str]:
                return set(said(r"delivery (\d+) channel=hook status=sent "))

            replicas.wait_until(lambda: all(said(r"(watching \d+ sources)", i) for i in (0, 1)), "both replicas up")
            both_up.set()
            replicas.wait_until(lambda: set(said(r"check source=(\S+) outcome=baseline ")) == set(names), "checks")
            replicas.wait_until(lambda: len(sent()) == len(names), f"{len(names)} deliveries sent")
            assert replicas.stop() == [0, 0]
        finally:
            both_up.set()
            replicas.kill()
        posts = hook.posts

    lines = replicas.matches(r"delivery (\d+) channel=(\S+) status=(\S+)")
    assert sorted(m[1] for _, m in lines) == sorted(sent())  # each row logged once, by one replica
    assert {(m[2], m[3]) for _, m in lines} == {("hook", "sent")}
    outcomes = Counter(said(r"check source=\S+ outcome=(\w+)"))
    assert outcomes["baseline"] == len(names) and set(outcomes) <= {"baseline", "skipped"}  # each checked once
    rows = _rows(sessions)
    keys = Counter(p.key for p in posts)
    assert [p.status for p in posts] == [200] * len(names)
    assert set(keys.values()) == {1}  # no key twice at the receiver
    assert set(keys) == {r.digest_key for r in rows if r.status == "sent"}
    assert len(rows) == len(names)  # one per check digest per channel: each source's baseline, to "hook"
    assert [(r.channel, r.status, r.attempts) for r in rows] == [("hook", "sent", 1)] * len(names)
    with sessions() as session:
        carried = list(session.scalars(select(DeliveryEvent.event_id).order_by(DeliveryEvent.event_id)))
    assert carried == _event_ids(sessions)
    assert sorted(i for p in posts for i in p.event_ids) == carried


# --- (4) the fixture history v1 -> v4, end to end, on three channels -----------------------------------------------

PAGE_SOURCE, FEED_SOURCE = "rekognition-policies", "rekognition-history"
CFL = "AmazonRekognitionCustomLabelsFullAccess"
FLA = "AmazonRekognitionFaceLivenessAccess"
ROA = "AmazonRekognitionReadOnlyAccess"
HookEvent = tuple[str, str, str | None, list[str], str | None]
"""(source, kind, policy, actions, date of the updates row AWS wrote about the policy) of a webhook event."""
Step = tuple[str, str, list[HookEvent] | None, str | None, str | None]
"""(source checked, its outcome, the webhook events, the Slack header, the email subject): None is no message."""

HISTORY: list[Step] = [
    (
        PAGE_SOURCE, "baseline",
        [(PAGE_SOURCE, "baseline", None, [], None)],
        f"Baseline: {PAGE_SOURCE}",
        f"[Policy Watcher] now watching {PAGE_SOURCE} (Amazon Rekognition)",
    ),
    (
        FEED_SOURCE, "baseline",
        [(FEED_SOURCE, "baseline", None, [], None)],
        f"Baseline: {FEED_SOURCE}",
        f"[Policy Watcher] now watching {FEED_SOURCE} (Amazon Rekognition)",
    ),
    (
        PAGE_SOURCE, "changed",  # v2
        [
            (PAGE_SOURCE, "actions_added", ROA,
             ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs"], "2023-10-31"),
            (PAGE_SOURCE, "update_row_added", ROA, [], None),
        ],
        f"{ROA}: +2 actions",
        f"[Policy Watcher] {ROA}: +2 actions",
    ),
    (
        FEED_SOURCE, "changed",  # feed v2
        [(FEED_SOURCE, "feed_item_added", None, [], None)],
        f"New documentation update: {FEED_SOURCE}",
        "[Policy Watcher] 1 new feed item (Amazon Rekognition)",
    ),
    (
        PAGE_SOURCE, "changed",  # v3
        [
            (PAGE_SOURCE, "actions_removed", CFL, ["rekognition:DistributeDatasetEntries"], "2024-03-04"),
            (PAGE_SOURCE, "policy_added", FLA,
             ["rekognition:CreateFaceLivenessSession", "rekognition:GetFaceLivenessSessionResults",
              "rekognition:StartFaceLivenessSession"], "2024-03-04"),
            (PAGE_SOURCE, "update_row_added", FLA, [], None),
            (PAGE_SOURCE, "update_row_added", CFL, [], None),
        ],
        "[high] 2 policies changed",  # the new policy grants Write actions: high leads the message
        "[high] [Policy Watcher] 2 policies changed (Amazon Rekognition)",
    ),
    (PAGE_SOURCE, "unchanged", None, None, None),  # v4: the page chrome only
    (PAGE_SOURCE, "not_modified", None, None, None),  # v4 again: 304
]  # fmt: skip


def _hook_events(post: Post) -> list[HookEvent]:
    return [
        (e["source"], e["kind"], e["policy"], e["actions"], (e["update_row"] or {}).get("date"))
        for e in post.json["events"]
    ]


@pytest.fixture
def replay() -> Iterator[tuple[demo.Replay, str]]:
    """watcher.demo's docs server: page v1, v2, v3, v4 in turn (then 304), and the feed (v2 once the page is)."""
    history = demo.Replay(
        pages=[(REKOGNITION / f"page-v{i}.html").read_bytes() for i in range(1, 5)],
        feeds=[(REKOGNITION / f"doc-history-v{i}.rss").read_bytes() for i in (1, 2)],
    )
    server = demo.serve(history)
    try:
        yield history, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ingesting_v1_to_v4_end_to_end_produces_exactly_the_expected_slack_email_and_webhook_messages(
    db_url: str, sessions: sessionmaker[Session], replay: tuple[demo.Replay, str]
) -> None:
    history, base = replay
    inbox = Inbox()
    with slack_stand_in() as slack, smtp_server(inbox) as smtp_port, webhook_receiver(SECRET) as hook:
        slack_path = "/services/T0/B0/reliability"
        slack.script(slack_path, Reply(200, b"ok", content_type="text/html"))
        settings = Settings.model_validate(
            {
                "database": {"url": db_url},
                "http": {"retries": 0, "per_host_min_interval": 0},
                "sources": [
                    {"name": PAGE_SOURCE, "url": base + demo.PAGE, "kind": "page", "service": "Amazon Rekognition"},
                    {"name": FEED_SOURCE, "url": base + demo.FEED, "kind": "feed", "service": "Amazon Rekognition"},
                ],
                "channels": [
                    {"type": "slack", "name": "slack", "url_env": "SLACK_URL"},
                    {"type": "email", "name": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
                     "sender": "Policy Watcher <watcher@example.com>", "recipients": ["security@example.com"]},
                    {"type": "webhook", "name": "hook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
                ],
            }
        )  # fmt: skip
        secrets = Secrets({"SLACK_URL": slack.url(slack_path), "HOOK_URL": hook.url(HOOK), "HOOK_SECRET": SECRET})
        clock = Clock()
        fetcher = Fetcher(settings.http)
        checker = Checker(settings, sessions, fetcher, owner="replay", clock=clock)
        deliverer = Deliverer(sessions, build_all(settings.channels, secrets), owner="replay", clock=clock)
        sources = {s.name: s for s in settings.sources}
        got: list[Step] = []
        try:
            for name, *_ in HISTORY:
                seen = (len(hook.posts), len(slack.bodies), len(inbox.received))
                outcome = checker.check(sources[name])
                while deliverer.run_once():  # drain what this check enqueued
                    pass
                posts, bodies, mails = hook.posts[seen[0] :], slack.bodies[seen[1] :], inbox.received[seen[2] :]
                assert len(posts) <= 1 and len(bodies) <= 1 and len(mails) <= 1  # one digest per check per channel
                got.append(
                    (
                        name,
                        outcome.outcome,
                        _hook_events(posts[0]) if posts else None,
                        header(json.loads(bodies[0])) if bodies else None,
                        # The subject may be folded onto a continuation line; its leading blank is not part of it.
                        str(mails[0].message["Subject"]).strip() if mails else None,
                    )
                )
                clock.advance(3600)
        finally:
            fetcher.close()
        assert history.done.is_set()  # the docs server confirmed the last version with a 304
        posts, message_ids = hook.posts, [m.message["Message-ID"] for m in inbox.received]

    assert got == HISTORY
    rows = _rows(sessions)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert [p.key for p in posts] == [r.digest_key for r in rows if r.channel == "hook"]
    assert message_ids == [f"<{r.digest_key}@policy-watcher>" for r in rows if r.channel == "email"]
    assert sorted(i for p in posts for i in p.event_ids) == _event_ids(sessions)  # the webhook got every event once
