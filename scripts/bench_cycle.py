"""Benchmark: how close does a full `newswatch fetch` come to the limit politeness sets?

A loopback portal (scripts/synthetic_portal.py, in its own process) serves 4 hosts,
127.0.0.1 .. 127.0.0.4, of about 250 article pages each, answering every request after
50 ms. `newswatch fetch` runs as a user runs it (a subprocess, with a configuration this
script writes: per-host delay 0.2 s, a page budget that covers the whole portal).

- First run, empty database: the lower bound on its wall time is the busiest host's
  request count (robots.txt included) times the per-host delay, since requests to one
  host cannot start closer together than that. Target: wall time <= 1.15 x the bound.
- Second run, nothing new: only conditional requests for the listing pages (answered
  304), no article bodies. Prints its request count, body bytes and wall time.

Both are repeated (fresh database each time) and the medians printed. With many hosts
(`--hosts 50 --articles 20`, and `concurrency` raised to one request per host, as anyone
watching that many sites would) the politeness bound is short and the run is bound by the
CPU work per page instead: target 1.5 x the bound. Usage:

    python scripts/bench_cycle.py [--repeat 3] [--hosts 4] [--articles 250] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from synthetic_portal import LISTING_PATH, PortalProcess

TARGET_RATIO = 1.15
MANY_HOSTS_TARGET_RATIO = 1.5
"""With more than 4 hosts (the many-hosts mode)."""


def write_config(
    folder: Path, hosts: list[str], *, delay: float, interval: str = "30m", concurrency: int = 8
) -> Path:
    """A configuration with one source per portal host."""
    sources = "".join(
        f'\n[[sources]]\nname = "host{number}"\nurl = "http://{address}{LISTING_PATH}"\n'
        f'profile = "gulfoilandgas"\ninterval = "{interval}"\n'
        for number, address in enumerate(hosts, start=1)
    )
    path = folder / "newswatch.toml"
    path.write_text(
        "[settings]\n"
        'database = "news.db"\n'
        'contact = "mailto:bench@example.com"\n'
        f"per_host_delay = {delay}\n"
        f"concurrency = {concurrency}\n"
        'timeout = "30s"\n'
        "retries = 1\n"
        "max_new_pages = 100000\n" + sources,
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Cycle:
    wall: float
    requests: int
    busiest_host_requests: int
    ok: int
    not_modified: int
    body_bytes: int


def fetch_once(portal: PortalProcess, config: Path) -> Cycle:
    portal.reset()
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), "fetch"],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"newswatch fetch failed ({finished.returncode}):\n{finished.stderr}")
    hosts = portal.stats().values()
    return Cycle(
        wall=wall,
        requests=sum(h["requests"] for h in hosts),
        busiest_host_requests=max(h["requests"] for h in hosts),
        ok=sum(h["ok"] for h in hosts),
        not_modified=sum(h["not_modified"] for h in hosts),
        body_bytes=sum(h["body_bytes"] for h in hosts),
    )


def stored_articles(config: Path) -> int:
    with sqlite3.connect(config.parent / "news.db") as db:
        count: int = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--articles", type=int, default=250, help="per host")
    parser.add_argument("--delay", type=float, default=0.2, help="per-host delay, seconds")
    parser.add_argument("--latency", type=float, default=0.05, help="per response, seconds")
    args = parser.parse_args()
    hosts = args.hosts
    target = TARGET_RATIO if hosts <= 4 else MANY_HOSTS_TARGET_RATIO
    firsts: list[Cycle] = []
    seconds: list[Cycle] = []
    with PortalProcess(hosts=hosts, articles=args.articles, latency=args.latency) as portal:
        for attempt in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="newswatch-bench-cycle-") as folder:
                config = write_config(
                    Path(folder), portal.hosts, delay=args.delay, concurrency=max(8, hosts)
                )
                first = fetch_once(portal, config)
                second = fetch_once(portal, config)
                articles = stored_articles(config)
            firsts.append(first)
            seconds.append(second)
            bound = first.busiest_host_requests * args.delay
            print(
                f"run {attempt + 1}: first {first.wall:.1f}s for {first.requests} requests "
                f"({articles} articles stored; bound {bound:.1f}s, "
                f"{first.wall / bound:.3f}x); second {second.wall:.2f}s, "
                f"{second.requests} requests, {second.body_bytes} body bytes",
                flush=True,
            )
    first_wall = statistics.median(c.wall for c in firsts)
    busiest = statistics.median(c.busiest_host_requests for c in firsts)
    bound = busiest * args.delay
    ratio = first_wall / bound
    print(f"\nfirst run (median of {args.repeat}), {hosts} hosts x {args.articles} articles:")
    print(f"  requests        {statistics.median(c.requests for c in firsts):>10.0f}")
    print(f"  busiest host    {busiest:>10.0f} requests x {args.delay:g}s = bound {bound:.1f}s")
    print(f"  wall time       {first_wall:>10.1f} s")
    verdict = "met" if ratio <= target else "NOT met"
    print(f"  wall / bound    {ratio:>10.3f}   (target <= {target}: {verdict})")
    second_wall = statistics.median(c.wall for c in seconds)
    requests = statistics.median(c.requests for c in seconds)
    print("second run, nothing new (median):")
    print(f"  requests        {requests:>10.0f}   ({hosts} listings expected, all conditional)")
    print(f"  answered 304    {statistics.median(c.not_modified for c in seconds):>10.0f}")
    print(f"  answered 200    {statistics.median(c.ok for c in seconds):>10.0f}")
    print(f"  body bytes      {statistics.median(c.body_bytes for c in seconds):>10.0f}")
    print(f"  wall time       {second_wall:>10.2f} s")
    conditional_only = all(
        c.requests == c.not_modified == hosts and not c.body_bytes for c in seconds
    )
    print(f"  only conditional listing requests, no bodies: {'yes' if conditional_only else 'NO'}")


if __name__ == "__main__":
    main()
