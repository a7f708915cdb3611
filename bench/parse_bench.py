"""Parser throughput: pages per second (median of several runs) next to raw lxml on the same bytes.

Run with ``make bench``. Add ``--profile`` to print where the time goes for the 28 KB page.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html
from bs4 import BeautifulSoup

from watcher.parse import parse

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rekognition"
RUNS = 7


def large_page(target_bytes: int = 150_000) -> bytes:
    """page-v3 with its policy sections repeated (renamed) until the page is about ``target_bytes``."""
    html = (FIXTURES / "page-v3.html").read_text()
    start = html.index('<h2 id="security-iam-awsmanpol-AmazonRekognitionFullAccess">')
    end = html.index('<h2 id="security-iam-awsmanpol-updates">')
    sections = html[start:end]
    copies: list[str] = []
    n = 0
    while len(html) + sum(map(len, copies)) < target_bytes:
        n += 1
        copies.append(re.sub(r"(AmazonRekognition\w+)", rf"\g<1>Copy{n}", sections))
    return (html[:end] + "".join(copies) + html[end:]).encode()


def per_second(fn: Callable[[], object], min_seconds: float = 0.3) -> float:
    """Calls per second of ``fn``: the median over RUNS runs of at least ``min_seconds`` each."""
    rates: list[float] = []
    for _ in range(RUNS):
        calls = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds:
            fn()
            calls += 1
        rates.append(calls / elapsed)
    return statistics.median(rates)


def main() -> None:
    bodies = {name: (FIXTURES / name).read_bytes() for name in ("page-v1.html", "page-legacy.html", "seed.md")}
    bodies["doc-history-v2.rss"] = (FIXTURES / "doc-history-v2.rss").read_bytes()
    bodies["large page (synthetic)"] = large_page()
    print(f"{'body':<24}{'KB':>6}{'parse/s':>10}{'bs4+lxml/s':>12}{'lxml/s':>10}{'lxml/parse':>12}")
    for name, body in bodies.items():
        rate = per_second(lambda body=body: parse(body))  # type: ignore[misc]
        soup = per_second(lambda body=body: BeautifulSoup(body, "lxml"))  # type: ignore[misc]
        raw = per_second(lambda body=body: lxml.html.fromstring(body))  # type: ignore[misc]
        print(f"{name:<24}{len(body) / 1024:>6.1f}{rate:>10.0f}{soup:>12.0f}{raw:>10.0f}{raw / rate:>11.1f}x")
    print(f"(median of {RUNS} runs, one core; target: 150 pages/s on the 28 KB page-v1.html)")
    if "--profile" in sys.argv:
        body = bodies["page-v1.html"]
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [parse(body) for _ in range(200)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
