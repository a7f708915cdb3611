"""The history bench's generation: walk the timeline in order, as the watcher would have written it.

``generate()`` builds the plan (``bench.history_workload``) and runs it through ``Generator``, which writes
rows per table with ``bench.history_rows.RowWriter``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import uuid
from typing import Any

from bench.history_rows import PolicyState, RowWriter, SourceState, clear_variants
from bench.history_workload import (
    END,
    HOURLY_CHECK_DAYS,
    MONTHS,
    SEED,
    SourcePlan,
    camel,
    make_plan,
    make_services,
)

BASELINE, CHANGE, CHECK, NEW_POLICY = range(4)
"""What happens to a source at a point of the timeline: first sight, a change, an unchanged check, a new policy."""


class Generator(RowWriter):
    """Five years of history, event by event, in chronological order."""

    # -- timeline ----------------------------------------------------------------------------------------------

    def run(self) -> dict[str, list[list[Any]]]:
        timeline: list[tuple[dt.datetime, int, int]] = []  # (when, what, index of the source)
        for i, plan in enumerate(self.plans):
            timeline.append((plan.created, BASELINE, i))
            span = (END - plan.created).total_seconds()
            for p in plan.policies:
                if not p.at_baseline:
                    at = plan.created + dt.timedelta(seconds=span * self.rng.uniform(0.05, 0.95))
                    timeline.append((at, NEW_POLICY, i))
            t = plan.created
            while True:
                t += dt.timedelta(days=self.rng.expovariate(1 / plan.gap_days), hours=self.rng.uniform(0, 1))
                if t >= END:
                    break
                timeline.append((t, CHANGE, i))
            first = max(plan.created, END - dt.timedelta(days=HOURLY_CHECK_DAYS))
            minute = dt.timedelta(minutes=self.rng.randrange(60), seconds=self.rng.randrange(60))
            hours = int((END - first).total_seconds() // 3600)
            timeline.extend((first + dt.timedelta(hours=h) + minute, CHECK, i) for h in range(hours))
        timeline.sort()
        states: list[SourceState | None] = [None] * len(self.plans)
        for t, what, i in timeline:
            state = states[i]
            if what == BASELINE:
                states[i] = self.baseline(self.plans[i], t)
            elif state is not None and what == CHANGE:
                self.change(state, t)
            elif state is not None and what == NEW_POLICY:
                self.new_policy(state, t)
            elif state is not None:
                self.unchanged_check(state, t)
        return self.rows

    # -- what happens at a point in time -----------------------------------------------------------------------

    def baseline(self, plan: SourcePlan, t: dt.datetime) -> SourceState:
        sid_source = self.next_id("sources")
        body = self.base_body.replace("Rekognition", camel(plan.title)).encode()
        source = SourceState(plan, sid_source, body)
        source.row = self.add(
            "sources",
            [sid_source, plan.name, "page", plan.url, plan.title, True, None, None, t, t, 0, False, t],
        )
        source.row[6] = f'"{uuid.UUID(int=self.rng.getrandbits(128)).hex}"'
        sid = self.snapshot(source, t, "baseline")
        for p in plan.policies:
            if p.at_baseline:
                self.add_policy(source, p, sid, t)
            else:
                source.pending.append(p)
        for n in range(self.rng.randint(2, 8)):
            day = t - dt.timedelta(days=30 * (n + 1) + self.rng.randint(0, 20))
            key = hashlib.md5(f"{source.id}:baseline:{n}".encode()).hexdigest()
            policy = source.live[0].plan.name
            actions = [row[2] for row in list(source.live[0].grants.values())[:3]]
            date_raw = f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
            self.add(
                "update_rows",
                [
                    self.next_id("update_rows"),
                    source.id,
                    key,
                    f"Permissions updated – AWS managed policy: {policy}",
                    f"{plan.title} updated the {policy} managed policy.",
                    day.date().isoformat(),
                    date_raw,
                    actions,
                    [policy],
                    t,
                    True,
                ],
            )
        payload = {
            "grants": [],
            "title": f"AWS managed policies for {plan.title}",
            "policies": len(source.live),
            "updates": 0,
            "repaired": [],
            "unparseable": [],
            "no_document": [],
        }
        self.event(source, sid, t, "baseline", None, payload)
        return source

    def new_policy(self, source: SourceState, t: dt.datetime) -> None:
        sid = self.snapshot(source, t, "changed")
        plan = source.pending.pop(0)
        policy = self.add_policy(source, plan, sid, t)
        grants = [[row[5], row[2]] for row in policy.grants.values()]
        self.event(source, sid, t, "policy_added", plan.name, {"grants": grants, "status": "ok"})
        self.update_row(source, sid, t, plan.name, "New policy added", [g[1] for g in grants])

    def change(self, source: SourceState, t: dt.datetime) -> None:
        rng = self.rng
        sid = self.snapshot(source, t, "changed")
        removable = [p for p in source.live[1:] if p.plan.removable]
        if removable and rng.random() < 0.006:
            policy = rng.choice(removable)
            source.live.remove(policy)
            assert policy.row is not None and policy.version is not None
            grants = [list(self.revoke(policy, key, t)) for key in list(policy.grants)]
            policy.row[4] = t
            policy.version[4] = t
            self.event(source, sid, t, "policy_removed", policy.plan.name, {"grants": grants})
            self.update_row(source, sid, t, policy.plan.name, "Policy deprecated", [])
            return
        if not source.live:
            return
        n = min(len(source.live), rng.choices((1, 2, 3), weights=(60, 28, 12))[0])
        weights = [p.plan.weight for p in source.live]
        chosen: list[PolicyState] = []
        while len(chosen) < n:
            pick = rng.choices(source.live, weights=weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        for policy in chosen:
            self.change_policy(source, policy, sid, t)

    def change_policy(self, source: SourceState, policy: PolicyState, sid: int, t: dt.datetime) -> None:
        rng = self.rng
        name = policy.plan.name
        op = rng.choices(("add", "remove", "both", "statement"), weights=(68, 12, 6, 14))[0]
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        if op in ("add", "both") and policy.plan.pool and policy.plan.add_mean > 0:
            added = self.draw(policy, min(200, max(1, round(rng.expovariate(1 / policy.plan.add_mean)))), t)
        if op in ("remove", "both"):
            candidates = [k for k in policy.grants if k[0] == "Allow" and "*" not in k[1]]
            for key in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
                removed.append(self.revoke(policy, key, t))
        if not added and not removed:
            op = "statement"
            arn = f"arn:aws:{source.plan.name}:*:*:resource/{rng.getrandbits(32):08x}"
            policy.resources.append(arn)
            if "*" in policy.resources and len(policy.resources) > 1:
                policy.resources.remove("*")
        self.new_version(source, policy, sid, t)
        if added:
            self.event(source, sid, t, "actions_added", name, {"grants": [list(g) for g in added]})
        if removed:
            self.event(source, sid, t, "actions_removed", name, {"grants": [list(g) for g in removed]})
        if op == "statement":
            payload = {
                "grants": [],
                "resources_added": [f"Resource:{policy.resources[-1]}"],
                "resources_removed": [],
                "conditions_added": [],
                "conditions_removed": [],
            }
            self.event(source, sid, t, "statement_changed", name, payload)
        if rng.random() < 0.85:
            change = "Added permissions" if added else "Removed permissions" if removed else "Updated policy"
            self.update_row(source, sid, t, name, change, [a for _, a in added + removed])


def generate() -> tuple[dict[str, list[list[Any]]], float]:
    """Rows per table (lists in column order, ids assigned) and the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    plans = make_plan(rng, make_services(rng))
    rows = Generator(rng, plans).run()
    clear_variants()
    return rows, time.perf_counter() - started
