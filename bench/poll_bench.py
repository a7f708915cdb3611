"""Poll cost: Policy Watcher against urlwatch on 200 realistic pages behind a loopback server.

Three workloads, each a whole cycle over the 200 pages: cold (nothing known), unchanged (every page answers
304) and 10 changed (10 pages have a new version). Each round runs, per workload and in this order, urlwatch,
a one-shot ``watcher check --config FILE`` (both as subprocesses: wall time, user+sys CPU and peak RSS from
``os.wait4``), then one cycle inside a running service (``Service.run_source`` for every source through a
``ThreadPoolExecutor(10)`` in a child process, ``bench.poll_child``: wall, CPU with its parse workers', its peak
RSS during the cycle and its parse workers' from ``/proc``). After the rounds, ``watcher run`` starts
with a fresh database and an interval of one hour; once its log shows the 200 first checks, its RSS is read
from ``/proc``. It prints medians, ratios and the targets next to them; it never asserts anything. Each round also
times a process that only imports requests and ``sqlalchemy.orm`` (the stack floor): where that alone is over a
ratio's target, no implementation on the product's fixed stack can meet the target.

urlwatch is installed once, with pip, into its own venv under /tmp/policy-watcher-bench (never a project
dependency). Run with ``.venv/bin/python -m bench.poll_bench`` (``--rounds N``; ``--profile`` prints a
cProfile of the in-service cold and unchanged cycles). A whole run takes about three minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.poll_pages import CHANGED, PAGES, page_path
from bench.poll_service import WORKERS, InService, ServiceProcess, Usage, quiet_logging
from watcher.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = Path("/tmp/policy-watcher-bench")
URLWATCH_VENV = CACHE / "urlwatch-venv"
WORKLOADS = ("cold", "unchanged", "changed")
WALL_TARGET = {"cold": 1.0, "unchanged": 0.5, "changed": 0.6}
"""Most watcher check / urlwatch wall time allowed, per workload."""
SERVICE_CPU_TARGET = 0.15
IDLE_RSS_TARGET = 80.0
IDLE_RUNS = 3
FLOOR = "import requests, sqlalchemy.orm"
"""What any ``watcher check`` must import (the product fixes requests and SQLAlchemy): a lower bound of its cost."""


RUNNER = """
import json, os, sys, time
for line in sys.stdin:
    job = json.loads(line)
    write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fds = [os.open(os.devnull, os.O_RDONLY)] + [os.open(job[k], write, 0o644) for k in "oe"]
    actions = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(fds)]
    start = time.perf_counter()
    pid = os.posix_spawn(job["cmd"][0], job["cmd"], job["env"], file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    for fd in fds:
        os.close(fd)
    usage = [wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]
    print(json.dumps(usage), flush=True)
"""
"""Runs the measured commands. ``ru_maxrss`` of a child counts the memory of the process that spawned it (Linux
records the old address space's high-water mark at exec), so they are spawned from this small process."""


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def measure(self, cmd: list[str], out: Path) -> Usage:
        """Run ``cmd`` (stdout to ``out``): its wall time, user+sys CPU and peak RSS, from ``os.wait4``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        job = {"cmd": cmd, "env": self.env, "o": str(out), "e": str(out.with_suffix(".err"))}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        wall, cpu, peak, code = json.loads(self.proc.stdout.readline())
        if code != 0:
            tail = out.with_suffix(".err").read_text(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(cmd[:2])} exited with {code}:\n{tail}")
        return Usage(wall, cpu, peak)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def clean_env() -> dict[str, str]:
    """This environment without WATCHER_* overrides (they would beat the generated config)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}


def compile_watcher() -> bool:
    """Compile the ``watcher`` package's bytecode (``__pycache__``, ignored by git) as a wheel install does; True when
    the environment would otherwise keep every run from caching it."""
    subprocess.run([str(BIN / "python"), "-m", "compileall", "-q", str(ROOT / "watcher")], check=True)
    return bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))


def urlwatch() -> tuple[Path, str]:
    """The urlwatch executable (installed into its own venv on first use) and its version."""
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if not exe.exists():
        print(f"installing urlwatch into {URLWATCH_VENV} (once)...", flush=True)
        shutil.rmtree(URLWATCH_VENV, ignore_errors=True)
        subprocess.run(["python3.11", "-m", "venv", str(URLWATCH_VENV)], check=True)
        pip = [str(URLWATCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "urlwatch"]
        subprocess.run(pip, check=True, stderr=subprocess.DEVNULL)
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout
    return exe, version.strip()


class Site:
    """The page server (``bench.poll_pages``) in a subprocess, so that its CPU is nobody's."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.poll_pages"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{info['port']}"
        self.sizes: list[int] = info["sizes"]
        self.policies: list[int] = info["policies"]

    def control(self, what: str) -> None:
        with urllib.request.urlopen(f"{self.base}/_control/{what}", timeout=30) as response:
            response.read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def write_configs(tmp: Path, base: str) -> None:
    """watcher.toml (200 page sources) and urlwatch's urls.yaml (one job per page) and config.yaml."""
    lines = [
        "[database]", f'url = "sqlite:///{tmp}/check.db"',
        "[http]", "per_host_min_interval = 0", f"concurrency = {WORKERS}", f"per_host_concurrency = {WORKERS}",
        "[defaults]", 'interval = "1h"', "jitter = 0",
        "[service]", "listen_port = 0",
    ]  # fmt: skip
    jobs = []
    for i in range(PAGES):
        url = base + page_path(i)
        lines += ["[[sources]]", f'name = "svc{i:03d}-policies"', f'url = "{url}"', 'kind = "page"']
        jobs.append(f"name: svc{i:03d}\nurl: {url}\nfilter:\n  - css: pre code\n")
    (tmp / "watcher.toml").write_text("\n".join(lines) + "\n")
    (tmp / "urls.yaml").write_text("---\n".join(jobs))
    (tmp / "urlwatch.yaml").write_text("report:\n  stdout:\n    enabled: true\n    color: false\n")


def urlwatch_saw(out: Path) -> str:
    counts = Counter(m.group(1) for m in re.finditer(r"^\d+\. (NEW|CHANGED|ERROR):", out.read_text(), re.M))
    return ", ".join(f"{k.lower()} {counts[k]}" for k in ("NEW", "CHANGED", "ERROR")) + f" of {PAGES}"


def check_saw(out: Path) -> str:
    return out.read_text().strip().splitlines()[-1]


def idle_service(config: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """``watcher run`` on a fresh database: seconds to its 200th check, then VmRSS and VmHWM (MB) once idle."""
    for leftover in config.parent.glob("check.db*"):
        leftover.unlink()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "watcher"), "run", "--config", str(config)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    watchdog = threading.Timer(180, proc.kill)  # a service that never gets there must not hang the benchmark
    watchdog.start()
    checks, tail = 0, list[str]()
    for line in proc.stderr:
        tail = [*tail[-20:], line]
        checks += " check source=" in line
        if checks == PAGES:
            break
    first_cycle = time.perf_counter() - start
    watchdog.cancel()
    time.sleep(1.0)  # let the last transactions and the scheduler settle
    status = Path(f"/proc/{proc.pid}/status").read_text() if proc.poll() is None else ""
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    if checks < PAGES or not status:
        raise SystemExit(f"watcher run stopped after {checks} checks:\n{''.join(tail)}")
    kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return first_cycle, kb["VmRSS"] / 1024, kb["VmHWM"] / 1024


def ok(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


class Results:
    """Usages and what each tool saw, per (workload, tool)."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], list[Usage]] = {}
        self.saw: dict[tuple[str, str], set[str]] = {}

    def add(self, workload: str, tool: str, usage: Usage, seen: str = "") -> None:
        self.runs.setdefault((workload, tool), []).append(usage)
        self.saw.setdefault((workload, tool), set()).add(seen)

    def median(self, workload: str, tool: str, key: Callable[[Usage], float | None]) -> float:
        return statistics.median(float(key(u) or 0.0) for u in self.runs[workload, tool])

    def print(self, rounds: int) -> None:
        print(f"\nmedians of {rounds} rounds; ratio = watcher check / urlwatch, of the medians")
        print(f"{'workload':<11}{'tool':<15}{'wall s':>7}{'CPU s':>7}{'peak MB':>9}  {'wall ratio':<26}", end="")
        print(f"{'peak ratio':<26}what it saw")
        for workload in ("start-up", *WORKLOADS):
            for tool in ("urlwatch", "watcher check", "stack floor", "in-service"):
                if (workload, tool) not in self.runs:
                    continue
                wall, cpu = self.median(workload, tool, lambda u: u.wall), self.median(workload, tool, lambda u: u.cpu)
                peak = self.median(workload, tool, lambda u: u.peak_mb)
                wall_ratio = peak_ratio = ""
                if tool == "watcher check":
                    r_wall = wall / self.median(workload, "urlwatch", lambda u: u.wall)
                    r_peak = peak / self.median(workload, "urlwatch", lambda u: u.peak_mb)
                    target = WALL_TARGET.get(workload)
                    wall_ratio = f"{r_wall:5.2f}x" + (f" (<= {target:.1f}x) {ok(r_wall, target)}" if target else "")
                    peak_ratio = f"{r_peak:5.2f}x" + (f" (<= 1.0x) {ok(r_peak, 1.0)}" if target else "")
                elif tool == "in-service" and workload == "unchanged":
                    wall_ratio = f"CPU < {SERVICE_CPU_TARGET} s: {ok(cpu, SERVICE_CPU_TARGET)}"
                name = workload if tool == "urlwatch" else ""
                shown = f"{peak:9.1f}" if peak else f"{'-':>9}"
                seen = " | ".join(sorted(self.saw[workload, tool]))
                print(f"{name:<11}{tool:<15}{wall:7.2f}{cpu:7.2f}{shown}  {wall_ratio:<26}{peak_ratio:<26}{seen}")

    def workers(self) -> str:
        """The in-service parse workers' peak memory per workload where any ran."""
        peaks = [
            f"{workload} {self.median(workload, 'in-service', lambda u: u.workers_peak_mb):.1f} MB"
            for workload in WORKLOADS
            if any(u.workers_peak_mb for u in self.runs[workload, "in-service"])
        ]
        return ", ".join(peaks) + " (the largest worker of a cycle, median)" if peaks else "none ran"

    def print_floor(self) -> None:
        """The floor's share of urlwatch's whole runs: where it is over a target, no implementation on this stack
        can meet that target."""
        wall = self.median("start-up", "stack floor", lambda u: u.wall)
        peak = self.median("start-up", "stack floor", lambda u: u.peak_mb)
        parts = []
        for workload in WORKLOADS:
            r_wall = wall / self.median(workload, "urlwatch", lambda u: u.wall)
            r_peak = peak / self.median(workload, "urlwatch", lambda u: u.peak_mb)
            parts.append(f"{workload} {r_wall:.2f}x wall (target {WALL_TARGET[workload]:.1f}x), {r_peak:.2f}x peak")
        print(
            f"stack floor: `python -c '{FLOOR}'` alone takes {wall:.2f} s and {peak:.1f} MB, as a share of urlwatch's "
            f"whole run: {'; '.join(parts)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile of the in-service cold and unchanged cycles")
    args = parser.parse_args()
    exe, version = urlwatch()
    compiled = compile_watcher()
    env = clean_env()
    site, runner = Site(), Runner(env)
    started = time.perf_counter()
    sizes = sorted(site.sizes)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(
        f"{PAGES} pages on {site.base}: {sizes[0] / 1024:.0f}-{sizes[-1] / 1024:.0f} KB "
        f"(median {statistics.median(sizes) / 1024:.0f} KB, {sum(sizes) / 1e6:.1f} MB in all), "
        f"{min(site.policies)}-{max(site.policies)} policies and an updates table each; "
        f"'changed': a new version of {CHANGED} pages (one action added), new ETag and Last-Modified"
    )
    print(f"urlwatch {version.split()[-1]} in {URLWATCH_VENV}: one url job per page, filter css 'pre code'")
    if compiled:
        print(
            "watcher's bytecode compiled first (PYTHONDONTWRITEBYTECODE is set and the package is installed editable: "
            "without this, each run would compile it again, which `pip install .` in the image does once)"
        )
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    print(
        f"Policy Watcher {git.stdout.strip() or '(no git)'}: [http] concurrency {WORKERS}, "
        f"per_host_concurrency {WORKERS}, per_host_min_interval 0 "
        "(the politeness spacing is off here: every page is on one loopback host)"
    )
    results = Results()
    profiles = {w: cProfile.Profile() for w in ("cold", "unchanged")} if args.profile else {}
    with tempfile.TemporaryDirectory(prefix="poll-bench-") as name, quiet_logging():
        tmp = Path(name)
        write_configs(tmp, site.base)
        config = tmp / "watcher.toml"
        settings = load_settings(config, env={})
        uw = [str(exe), "--urls", str(tmp / "urls.yaml"), "--config", str(tmp / "urlwatch.yaml")]
        uw += ["--hooks", str(tmp / "hooks.py"), "--cache", str(tmp / "urlwatch.db")]
        watcher = str(BIN / "watcher")
        check = [watcher, "check", "--config", str(config)]
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds} ...", end=" ", flush=True)
            out = tmp / "out.txt"
            results.add("start-up", "urlwatch", runner.measure([str(exe), "--version"], out), "--version")
            results.add("start-up", "watcher check", runner.measure([watcher, "--version"], out), "--version")
            floor = runner.measure([str(BIN / "python"), "-c", FLOOR], out)
            results.add("start-up", "stack floor", floor, FLOOR)
            site.control("reset")
            for leftover in tmp.glob("*.db*"):
                leftover.unlink()
            service = ServiceProcess(config, tmp / "service.db")
            for workload in WORKLOADS:
                if workload == "changed":
                    site.control(f"change?round={r}")
                results.add(workload, "urlwatch", runner.measure(uw, out), urlwatch_saw(out))
                results.add(workload, "watcher check", runner.measure(check, out), check_saw(out))
                results.add(workload, "in-service", *service.cycle())
            service.close()
            print(f"{time.perf_counter() - started:.0f} s", flush=True)
        idle = [idle_service(config, env) for _ in range(IDLE_RUNS)]
        if args.profile:
            site.control("reset")
            profiled = InService(settings, tmp / "profile.db")
            for profiler in profiles.values():
                profiled.cycle(profiler)
            profiled.close()
    site.close()
    runner.close()
    results.print(args.rounds)
    print("(start-up: `--version` of each. in-service: one cycle of Service.run_source x 200, ThreadPoolExecutor(10),")
    print(" in a child process (bench.poll_service); CPU of that process and of its parse workers; peak MB: that")
    print(f" process's VmHWM during the cycle. Parse workers, started when bodies come, peaked at {results.workers()})")
    results.print_floor()
    first, rss, hwm = (statistics.median(x) for x in zip(*idle, strict=True))
    print(
        f"\nidle service (watcher run, fresh database, interval 1h), median of {IDLE_RUNS}: "
        f"VmRSS {rss:.1f} MB after its first cycle (target < {IDLE_RSS_TARGET:.0f} MB: {ok(rss, IDLE_RSS_TARGET)}), "
        f"VmHWM {hwm:.1f} MB, first cycle done {first:.1f} s after start"
    )
    print(
        "politeness: with the default per_host_min_interval of 1 s, one cycle of 200 pages on one host "
        f"(docs.aws.amazon.com) spends at least {PAGES - 1} s spacing requests (waiting, not CPU)"
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at end: {load}; whole run {time.perf_counter() - started:.0f} s")
    for workload, profiler in profiles.items():
        print(f"\n--- cProfile of an in-service {workload} cycle (run serially), by cumulative time ---")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
