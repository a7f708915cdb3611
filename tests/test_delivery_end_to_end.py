"""The fixture history v1 -> v4, checked through a loopback docs server, gives exactly the expected Slack,
email and webhook messages.

Nothing is mocked and nothing sleeps: the clock is injected, and the receivers are loopback servers (the
Slack stand-in of tests/test_notify_slack.py, the aiosmtpd server of tests/test_notify_email.py and
tests/receivers.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.delivery_helpers import SECRET, Clock, _event_ids, _rows
from tests.loopback import Reply
from tests.receivers import HOOK, Post, webhook_receiver
from tests.test_notify_email import Inbox, smtp_server
from tests.test_notify_slack import header, slack_stand_in
from watcher import demo
from watcher.checker import Checker
from watcher.config import Settings
from watcher.fetch import Fetcher
from watcher.notify.channels import build_all
from watcher.notify.settings import Secrets
from watcher.outbox import Deliverer

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
