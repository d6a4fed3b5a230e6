"""Benchmark: how long does the schema v10 upgrade (every LSH key computed again) take?

Builds a history of `--articles` stored articles (default 1 million; grown by
`synthetic_news.grow` from a seed of real `save_page` writes, bodies of about 150 words),
puts it back in the state a v9 database is in right after the v10 migration (old keys in
article_lsh, the new-key table empty, nothing done), then opens it with `Store`, which
computes every original article's keys again, a batch per transaction.

The reference, measured in the same run on the same file, is reading every body once
(the least any upgrade that looks at the bodies must do). Prints the upgrade's wall time,
per article, and its ratio to the reference; `--stop-after` also interrupts a first attempt
after that many seconds (as a user pressing Ctrl-C would) and times the rest, to show an
upgrade cut short goes on from where it stopped. Usage:

    python scripts/bench_upgrade.py [--articles 1000000] [--stop-after 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newswatch import store as store_module
from newswatch.rules import RuleMatch
from newswatch.store import Store
from synthetic_news import at_rest, grow, page

SEED_PAGES = 1000


def build(path: Path, articles: int) -> None:
    rng = random.Random(articles)

    def matcher(fields: object) -> list[RuleMatch]:
        return []

    with Store(path) as store:
        store.upsert_source("bench", "https://news.example.com/", "gulfoilandgas")
        for number in range(min(SEED_PAGES, articles)):
            store.save_page("bench", page(rng, number), fetch_id=None, matcher=matcher)
        grow(store, articles)
        for statement in store_module._statements(store_module._SCHEMA_V10):
            store.db.execute(statement)
        at_rest(store)


def read_every_body(path: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        for (_body,) in db.execute("SELECT body FROM articles WHERE duplicate_of IS NULL"):
            pass
    return time.perf_counter() - started


def upgrade(path: Path, stop_after: float | None = None) -> float:
    """Open the database in another process (as a user's first command after upgrading
    would), interrupted with SIGINT after `stop_after` seconds if given; its wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from newswatch.store import Store; Store({str(path)!r}).close()"],
        stderr=subprocess.DEVNULL if stop_after is not None else None,  # no KeyboardInterrupt
    )
    if stop_after is not None:
        try:
            process.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
    process.wait()
    return time.perf_counter() - started


def remaining(path: Path) -> int | None:
    with sqlite3.connect(path) as db:
        try:
            row = db.execute("SELECT next_id FROM lsh_rekey").fetchone()
        except sqlite3.OperationalError:
            return None
        left: int = db.execute(
            "SELECT count(*) FROM articles WHERE duplicate_of IS NULL AND id > ?", [row[0]]
        ).fetchone()[0]
        return left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--stop-after", type=float, default=None, help="seconds")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newswatch-bench-upgrade-"))
    path = workdir / f"upgrade-{args.articles}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    build(path, args.articles)
    print(f"built {args.articles:,} articles in {time.perf_counter() - started:.0f}s", flush=True)
    os.sync()
    reference = read_every_body(path)
    wall = 0.0
    if args.stop_after is not None:
        wall += upgrade(path, args.stop_after)
        print(
            f"first attempt interrupted after {wall:.1f}s: {remaining(path):,} articles left",
            flush=True,
        )
    wall += upgrade(path)
    left = remaining(path)
    if left is not None:
        sys.exit(f"the upgrade did not finish: {left:,} articles left")
    with sqlite3.connect(path) as db:
        keyed = db.execute("SELECT count(DISTINCT article_id) FROM article_lsh").fetchone()[0]
    print(f"reading every body (reference)   {reference:8.1f} s")
    print(
        f"upgrade to v10 (all keys again)  {wall:8.1f} s  ({wall / reference:.1f}x the reference;"
        f" {wall / args.articles * 1000:.2f} ms per article; {keyed:,} articles keyed)"
    )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
