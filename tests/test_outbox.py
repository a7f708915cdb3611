"""The outbox on both databases: enqueue with the events, claim with a lease, sent once, retries, dead rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import T0, ingest_fixture
from watcher.db.models import Delivery, Event
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import ChannelSettings, ConsoleSettings, WebhookSettings
from watcher.outbox import Deliverer, RetryPolicy, enqueue, list_rows, requeue


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Recorder:
    """A channel that answers from a script and records every digest it was given."""

    settings: ChannelSettings
    answers: list[SendResult] = field(default_factory=list)
    got: list[Digest] = field(default_factory=list)

    def deliver(self, digest: Digest) -> SendResult:
        self.got.append(digest)
        return self.answers.pop(0) if self.answers else SendResult(True, "HTTP 200")


def _channels() -> dict[str, Recorder]:
    return {
        "changes": Recorder(WebhookSettings(type="webhook", name="changes")),
        "additions": Recorder(WebhookSettings(type="webhook", name="additions", only_additions=True)),
        "ops": Recorder(ConsoleSettings(type="console", name="ops", kinds=[], operator=True)),
    }


def _enqueue_v1_v2(sessions: sessionmaker[Session], channels: dict[str, Recorder]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    with sessions.begin() as session:
        for snapshot_events in _events_by_snapshot(session):
            enqueue(session, snapshot_events, [c.settings for c in channels.values()], T0)


def _events_by_snapshot(session: Session) -> list[list[Event]]:
    groups: dict[int | None, list[Event]] = {}
    for event in session.scalars(select(Event).order_by(Event.id)):
        groups.setdefault(event.snapshot_id, []).append(event)
    return list(groups.values())


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_each_channel_gets_one_digest_per_check_with_only_what_it_wants(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    channels = _channels()
    _enqueue_v1_v2(sessions, channels)
    outcomes = Deliverer(sessions, channels, owner="a", clock=clock).run_once()
    assert sorted((o.channel, o.status) for o in outcomes) == [
        ("additions", "sent"),
        ("changes", "sent"),
        ("changes", "sent"),
    ]
    assert [[n.kind for n in d.notices] for d in channels["changes"].got] == [
        ["baseline"],
        ["actions_added", "update_row_added"],
    ]
    assert [[n.kind for n in d.notices] for d in channels["additions"].got] == [["actions_added"]]
    assert channels["ops"].got == []  # never an empty message


def test_a_sent_row_is_never_sent_again(sessions: sessionmaker[Session], clock: Clock) -> None:
    channels = _channels()
    _enqueue_v1_v2(sessions, channels)
    deliverer = Deliverer(sessions, channels, owner="a", clock=clock)
    deliverer.run_once()
    clock.advance(3600)
    assert deliverer.run_once() == []
    with sessions.begin() as session:
        assert requeue(session, clock(), [1, 2, 3]) == 0


def test_a_policy_digest_carries_the_updates_row_aws_wrote(sessions: sessionmaker[Session], clock: Clock) -> None:
    channels = _channels()
    _enqueue_v1_v2(sessions, channels)
    Deliverer(sessions, channels, owner="a", clock=clock).run_once()
    notice = channels["additions"].got[0].notices[0]
    assert notice.policy == "AmazonRekognitionReadOnlyAccess"
    assert notice.update_row is not None and notice.update_row["date"] == "2023-10-31"
    assert notice.url is not None and notice.url.endswith("#security-iam-awsmanpol-AmazonRekognitionReadOnlyAccess")
    assert notice.grants == (
        ("Allow", "rekognition:GetMediaAnalysisJob"),
        ("Allow", "rekognition:ListMediaAnalysisJobs"),
    )


def test_temporary_failures_back_off_and_honour_retry_after(sessions: sessionmaker[Session], clock: Clock) -> None:
    channels = {"changes": _channels()["changes"]}
    channels["changes"].answers = [SendResult(False, "HTTP 500"), SendResult(False, "HTTP 429", retry_after=70)]
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    with sessions.begin() as session:
        enqueue(session, list(session.scalars(select(Event))), [channels["changes"].settings], T0)
    deliverer = Deliverer(sessions, channels, owner="a", clock=clock, policy=RetryPolicy(backoff=10))
    assert [o.status for o in deliverer.run_once()] == ["retrying"]
    assert deliverer.run_once() == []  # not due yet
    clock.advance(12.5)  # 10 s backoff plus at most 25 % jitter
    assert [o.status for o in deliverer.run_once()] == ["retrying"]
    clock.advance(69.9)  # Retry-After 70 s, longer than the second backoff (20-25 s)
    assert deliverer.run_once() == []
    clock.advance(0.2)
    assert [o.status for o in deliverer.run_once()] == ["sent"]
    assert len(channels["changes"].got) == 3
    assert {d.key for d in channels["changes"].got} == {channels["changes"].got[0].key}  # one idempotency key


def test_a_retry_after_shorter_than_the_backoff_does_not_spend_the_attempts_faster(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    channels = {"changes": _channels()["changes"]}
    channels["changes"].answers = [SendResult(False, "HTTP 429", retry_after=1)] * 5  # throughout an outage
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    with sessions.begin() as session:
        enqueue(session, list(session.scalars(select(Event))), [channels["changes"].settings], T0)
    deliverer = Deliverer(sessions, channels, owner="a", clock=clock, policy=RetryPolicy(max_attempts=5, backoff=10))
    waited = 0.0
    statuses: list[str] = []
    while not statuses or statuses[-1] == "retrying":
        while not (outcomes := deliverer.run_once()):
            clock.advance(1)
            waited += 1
        statuses += [o.status for o in outcomes]
    assert statuses == ["retrying"] * 4 + ["dead"]
    assert waited >= 10 + 20 + 40 + 80  # the backoff, not Retry-After's one second


def test_a_permanent_failure_is_dead_at_once_and_alerts_the_operators_elsewhere(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    channels = _channels()
    channels["changes"].answers = [SendResult(False, "HTTP 404 no_service", permanent=True)]
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    with sessions.begin() as session:
        enqueue(session, list(session.scalars(select(Event))), [c.settings for c in channels.values()], T0)
    deliverer = Deliverer(sessions, channels, owner="a", clock=clock)
    assert [(o.channel, o.status) for o in deliverer.run_once()] == [("changes", "dead")]
    assert [(o.channel, o.status) for o in deliverer.run_once()] == [("ops", "sent")]
    alert = channels["ops"].got[0].notices[0]
    assert (alert.kind, alert.details["channel"], alert.details["error"]) == (
        "delivery_dead",
        "changes",
        "HTTP 404 no_service",
    )
    with sessions() as session:
        rows = list_rows(session, ["dead"])
    assert [(r["channel"], r["attempts"], r["last_error"]) for r in rows] == [("changes", 1, "HTTP 404 no_service")]


def test_a_row_that_keeps_failing_goes_dead_after_the_attempt_limit(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    channels = {"changes": _channels()["changes"]}
    channels["changes"].answers = [SendResult(False, "HTTP 503")] * 3
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    with sessions.begin() as session:
        enqueue(session, list(session.scalars(select(Event))), [channels["changes"].settings], T0)
    deliverer = Deliverer(sessions, channels, owner="a", clock=clock, policy=RetryPolicy(max_attempts=3, backoff=1))
    statuses = []
    for _ in range(3):
        statuses += [o.status for o in deliverer.run_once()]
        clock.advance(10)
    assert statuses == ["retrying", "retrying", "dead"]
    with sessions.begin() as session:
        assert requeue(session, clock(), dead=True) == 1
    assert [o.status for o in deliverer.run_once()] == ["sent"]


def test_a_claimed_row_is_skipped_by_another_deliverer_until_its_lease_expires(
    sessions: sessionmaker[Session], clock: Clock
) -> None:
    channels = {"changes": _channels()["changes"]}
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    with sessions.begin() as session:
        enqueue(session, list(session.scalars(select(Event))), [channels["changes"].settings], T0)
    crashed = Deliverer(sessions, channels, owner="crashed", clock=clock, policy=RetryPolicy())
    assert crashed.claim() == [1]  # ... and dies before sending
    other = Deliverer(sessions, channels, owner="other", clock=clock)
    assert other.run_once() == []
    clock.advance(121)
    assert [o.status for o in other.run_once()] == ["sent"]
    with sessions() as session:
        delivery = session.get(Delivery, 1)
        assert delivery is not None and (delivery.status, delivery.attempts) == ("sent", 1)
