"""Benchmark: does the daemon stay as small as it starts, cycle after cycle?

Runs `newswatch run` as a user runs it (a subprocess, with a configuration this script
writes) against the loopback portal of scripts/synthetic_portal.py: 4 hosts, 50 stories
each to begin with, every host publishing one more story every few seconds, so that cycles
alternate between "nothing new" (a 304 for the listing) and a new listing with a story to
fetch, parse, store and judge. Sources run every `--interval` seconds, with a short
per-host delay.

A cycle is one run of every source (counted in the `runs` table). After 20 cycles (the
reference, once imports and caches have settled) and then every 50 up to `--cycles`, it
reads /proc/PID/status (VmRSS, Threads) and /proc/PID/fd of the daemon. Target: resident
memory after 500 cycles at most 1.1 x that after 20, and no more open files or threads.
Finally SIGTERM, which must end the daemon with status 0. Usage:

    python scripts/bench_daemon.py [--cycles 500] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_cycle import write_config
from synthetic_portal import PortalProcess

TARGET_RATIO = 1.1
REFERENCE_CYCLES = 20
HOSTS = 4


@dataclass(frozen=True)
class Sample:
    cycles: int
    rss_kb: int
    threads: int
    files: int
    """Open descriptors other than sockets: the database, its WAL, the log."""
    sockets: int
    """Connections the HTTP pool keeps alive, at most one per host."""
    articles: int


def _probe(pid: int) -> tuple[int, int, int, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    sockets = sum(target.startswith("socket:") for target in targets)
    return int(fields["VmRSS"][0]), int(fields["Threads"][0]), len(targets) - sockets, sockets


def sample(pid: int, cycles: int, database: Path, probes: int = 5) -> Sample:
    """The median RSS and the fewest threads, files and sockets of a few probes 0.1 s
    apart: a connection or a file open just at one probe is not a leak."""
    readings = []
    for _ in range(probes):
        readings.append(_probe(pid))
        time.sleep(0.1)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return Sample(
        cycles=cycles,
        rss_kb=statistics.median(r[0] for r in readings),
        threads=min(r[1] for r in readings),
        files=min(r[2] for r in readings),
        sockets=min(r[3] for r in readings),
        articles=articles,
    )


def cycles_done(database: Path) -> int:
    """Runs of the source that has run least: every source has run at least this often."""
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            counts = [row[0] for row in db.execute("SELECT count(*) FROM runs GROUP BY source")]
    except sqlite3.OperationalError:  # not created yet
        return 0
    return min(counts) if len(counts) == HOSTS else 0


def wait_for(database: Path, cycles: int, daemon: subprocess.Popen[bytes]) -> None:
    while cycles_done(database) < cycles:
        if daemon.poll() is not None:
            sys.exit(f"the daemon stopped early (status {daemon.returncode})")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between runs")
    parser.add_argument("--publish-every", type=float, default=4.0, help="seconds, per host")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="newswatch-bench-daemon-")
    folder = Path(scratch.name)
    portal_options = {"hosts": HOSTS, "articles": 50, "latency": 0.01}
    with PortalProcess(**portal_options, publish_every=args.publish_every) as portal:
        config = write_config(folder, portal.hosts, delay=0.05, interval=f"{args.interval}s")
        database = folder / "news.db"
        with (folder / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
                stdout=log,
                stderr=log,
            )
            samples = []
            started = time.perf_counter()
            try:
                checkpoints = [REFERENCE_CYCLES, *range(50, args.cycles + 1, 50)]
                for cycles in sorted(set(checkpoints)):
                    wait_for(database, cycles, daemon)
                    samples.append(sample(daemon.pid, cycles, database))
                    s = samples[-1]
                    print(
                        f"cycle {s.cycles:>4}: RSS {s.rss_kb / 1024:6.1f} MiB, "
                        f"{s.threads} threads, {s.files} files and {s.sockets} sockets open, "
                        f"{s.articles} articles stored, {time.perf_counter() - started:5.0f}s",
                        flush=True,
                    )
            finally:
                daemon.send_signal(signal.SIGTERM)
                status = daemon.wait(timeout=30)
    scratch.cleanup()
    reference, last = samples[0], samples[-1]
    ratio = last.rss_kb / reference.rss_kb
    print(f"\nRSS after {last.cycles} cycles / after {reference.cycles}: {ratio:.3f} ", end="")
    print(f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    grew = last.threads > reference.threads or last.files > reference.files
    grew = grew or last.sockets > max(reference.sockets, HOSTS)
    print(
        f"threads {reference.threads} -> {last.threads}, files {reference.files} -> "
        f"{last.files}, sockets {reference.sockets} -> {last.sockets} "
        f"(target: no growth: {'NOT met' if grew else 'met'})"
    )
    print(f"SIGTERM: exit status {status} ({'ok' if status == 0 else 'NOT ok'})")


if __name__ == "__main__":
    main()
