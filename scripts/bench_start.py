"""Benchmark: how long does a `newswatch` command take to start and answer?

Runs, as a user runs them (subprocesses of this interpreter, `python -m newswatch`):

- `newswatch --version` and `newswatch --help`: nothing to do but start, so the figure is
  the cost of what the command imports;
- `newswatch status` and `newswatch flagged` on a database of 10,000 articles (grown by
  `synthetic_news.grow` from a seed of real `save_page` writes, one in a hundred flagged).

The reference is `python -c pass`, measured in the same run, interleaved with the commands,
so load from other programs on the machine weighs on both alike. Each figure is the median
of `--repeat` runs. Targets: `--version` at most 8 times the reference; `status` and
`flagged` at most 0.4 s. Usage:

    python scripts/bench_start.py [--repeat 15] [--articles 10000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from newswatch.store import Store
from synthetic_news import at_rest, build_history

VERSION_TARGET_RATIO = 8.0
COMMAND_TARGET_SECONDS = 0.4
SEED_PAGES = 500


def build_database(path: Path, articles: int) -> None:
    build_history(path, articles, seed_pages=SEED_PAGES)
    with Store(path) as store:
        at_rest(store)


def wall(argv: Sequence[str]) -> float:
    started = time.perf_counter()
    finished = subprocess.run(argv, capture_output=True)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({finished.returncode}):\n{finished.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newswatch-bench-start-") as folder:
        database = Path(folder) / "news.db"
        build_database(database, args.articles)
        newswatch = [sys.executable, "-m", "newswatch"]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "newswatch --version": [*newswatch, "--version"],
            "newswatch --help": [*newswatch, "--help"],
            "newswatch status": [*newswatch, "--db", str(database), "status"],
            "newswatch flagged": [*newswatch, "--db", str(database), "flagged"],
        }
        for argv in commands.values():  # once each, unmeasured: files into the OS cache
            wall(argv)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, argv in commands.items():
                samples[name].append(wall(argv))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    reference = medians["python -c pass"]
    print(f"median of {args.repeat} runs each; {args.articles:,} articles in the database\n")
    print(f"{'command':<22} {'wall ms':>8} {'vs python -c pass':>18}")
    for name, seconds in medians.items():
        print(f"{name:<22} {seconds * 1000:>8.0f} {seconds / reference:>17.1f}x")
    ratio = medians["newswatch --version"] / reference
    verdict = "met" if ratio <= VERSION_TARGET_RATIO else "NOT met"
    target = f"target <= {VERSION_TARGET_RATIO:g}x: {verdict}"
    print(f"\n--version: {ratio:.1f}x python -c pass ({target})")
    for name in ("newswatch status", "newswatch flagged"):
        seconds = medians[name]
        verdict = "met" if seconds <= COMMAND_TARGET_SECONDS else "NOT met"
        print(f"{name}: {seconds:.2f} s (target <= {COMMAND_TARGET_SECONDS:g} s: {verdict})")


if __name__ == "__main__":
    main()
