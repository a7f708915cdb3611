"""Delivery end to end, through real channels and real receivers: at least once on the wire, exactly once in effect.

A receiver that is down for a while gets every event once it is up, and a deliverer killed (SIGKILL) between
sending and marking costs one duplicate, recognisable by its ``X-Watcher-Delivery`` key. Two ``watcher run``
replicas on one database and the fixture history v1 -> v4 on three channels are in tests/test_delivery_*.py.

Nothing is mocked and nothing sleeps: clocks are injected, the receiver is a loopback server
(tests/receivers.py), and the killed deliverer (tests/deliver_child.py) is followed through what it prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests import deliver_child
from tests.delivery_helpers import ROOT, SECRET, TIMEOUT, Clock, _child_env, _event_ids, _rows
from tests.history_helpers import T0, ingest_fixture
from tests.loopback import Close, Reply
from tests.receivers import HOOK, Post, webhook_receiver
from watcher.db.models import Event
from watcher.notify.channels import Sender, build
from watcher.notify.settings import Secrets, WebhookSettings
from watcher.outbox import Deliverer, RetryPolicy, enqueue


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
