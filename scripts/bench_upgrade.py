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
upgrade cut short goes on from where it stopped (the first attempt is killed with SIGKILL,
as by a power cut or the OOM killer: nothing is cleaned up). `--keep` leaves the database in
the work folder, and a later run with the same `--workdir` and size starts from it instead
of building it again. Usage:

    python scripts/bench_upgrade.py [--articles 1000000] [--stop-after 5] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newswatch import store as store_module
from synthetic_news import build_history

SEED_PAGES = 1000


def build(path: Path, articles: int) -> None:
    build_history(path, articles, seed_pages=SEED_PAGES)


def set_up_v10(path: Path) -> None:
    """The state the v10 migration leaves: the new-key table empty, nothing done."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("DROP TABLE IF EXISTS article_lsh_rekeyed")
        db.execute("DROP TABLE IF EXISTS lsh_rekey")
        for statement in store_module._statements(store_module._SCHEMA_V10):
            db.execute(statement)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def read_every_body(path: Path) -> float:
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        for (_body,) in db.execute("SELECT body FROM articles WHERE duplicate_of IS NULL"):
            pass
    return time.perf_counter() - started


def upgrade(path: Path, stop_after: float | None = None) -> float:
    """Open the database in another process (as a user's first command after upgrading
    would), killed after `stop_after` seconds if given; its wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", f"from newswatch.store import Store; Store({str(path)!r}).close()"]
    )
    if stop_after is not None:
        try:
            process.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
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
    parser.add_argument("--keep", action="store_true", help="keep the database for a next run")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newswatch-bench-upgrade-"))
    path = workdir / f"upgrade-{args.articles}.db"
    if not path.exists():
        started = time.perf_counter()
        build(path, args.articles)
        print(f"built {args.articles:,} articles in {time.perf_counter() - started:.0f}s")
    set_up_v10(path)
    os.sync()
    reference = read_every_body(path)
    wall = 0.0
    if args.stop_after is not None:
        wall += upgrade(path, args.stop_after)
        left = remaining(path)
        print(
            f"first attempt killed after {wall:.1f}s: "
            + (f"{left:,} articles left" if left is not None else "it had finished"),
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
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if args.workdir is None:
            workdir.rmdir()


if __name__ == "__main__":
    main()
