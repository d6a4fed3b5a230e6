"""Benchmark: how much memory does the daemon hold while it works?

Runs `newswatch run` as a user runs it (a subprocess, with a configuration this script
writes) against the loopback portal of scripts/synthetic_portal.py: 3 hosts of 50 stories
each, every host publishing one more story every few seconds, and the 3 listings fetched
every 2 seconds, so that the daemon fetches, parses, stores and judges pages throughout.

After `--seconds` (default 40) it reads the resident memory (VmRSS, from /proc) of the
daemon and of every process it started, as the median of a few probes 0.2 s apart, and
the peak (VmHWM). The reference, measured in the same run, is a bare interpreter
(`python -c` sleeping). Target: at most 80 MiB for the daemon and its workers together.
Usage:

    python scripts/bench_memory.py [--seconds 40] [--interval 2]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cycle import write_config
from synthetic_portal import PortalProcess

TARGET_MIB = 80.0
HOSTS = 3


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def _family(pid: int) -> list[int]:
    """The process and all its descendants (worker processes count too)."""
    family = [pid]
    for member in family:
        for task in Path(f"/proc/{member}/task").iterdir():
            children = (task / "children").read_text().split()
            family.extend(int(child) for child in children)
    return family


def resident_kib(pid: int, probes: int = 5) -> tuple[float, float, int]:
    """Median total VmRSS, total VmHWM (KiB) of the process and its descendants; count."""
    totals, peaks, counts = [], [], []
    for _ in range(probes):
        family = _family(pid)
        readings = [_status(member) for member in family]
        totals.append(sum(r["VmRSS"] for r in readings))
        peaks.append(sum(r["VmHWM"] for r in readings))
        counts.append(len(family))
        time.sleep(0.2)
    return statistics.median(totals), max(peaks), max(counts)


def reference_kib() -> float:
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        time.sleep(1)
        return resident_kib(bare.pid)[0]
    finally:
        bare.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between runs")
    parser.add_argument("--publish-every", type=float, default=3.0, help="seconds, per host")
    args = parser.parse_args()
    reference = reference_kib()
    with (
        tempfile.TemporaryDirectory(prefix="newswatch-bench-memory-") as scratch,
        PortalProcess(
            hosts=HOSTS, articles=50, latency=0.01, publish_every=args.publish_every
        ) as portal,
    ):
        folder = Path(scratch)
        config = write_config(folder, portal.hosts, delay=0.05, interval=f"{args.interval}s")
        with (folder / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
                stdout=log,
                stderr=log,
            )
            try:
                time.sleep(args.seconds)
                if daemon.poll() is not None:
                    sys.exit(f"the daemon stopped early (status {daemon.returncode})")
                rss, peak, processes = resident_kib(daemon.pid)
            finally:
                daemon.send_signal(signal.SIGTERM)
                status = daemon.wait(timeout=30)
        with sqlite3.connect(folder / "news.db") as db:
            runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    mib = rss / 1024
    print(f"after {args.seconds:g}s: {runs} runs of {HOSTS} listings, {articles} articles stored")
    print(f"bare interpreter (reference)   {reference / 1024:6.1f} MiB")
    print(
        f"daemon, {processes} process(es)        {mib:6.1f} MiB  "
        f"({rss / reference:.1f}x the reference; peak {peak / 1024:.1f} MiB)"
    )
    verdict = "met" if mib <= TARGET_MIB else "NOT met"
    print(f"\nresident memory {mib:.1f} MiB (target <= {TARGET_MIB:g} MiB: {verdict})")
    print(f"SIGTERM: exit status {status} ({'ok' if status == 0 else 'NOT ok'})")


if __name__ == "__main__":
    main()
