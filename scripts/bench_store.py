"""Benchmark: does storing stay as cheap as the history grows?

For each history size (default 1 thousand, 100 thousand and 1 million articles, with ten
times as many ticker sightings), it builds a database, then measures:

- the cost of saving one more article page (article + 8 ticker items, 6 of them already
  known) through `Store.save_page`, the path every fetched page takes (canonical URLs,
  fingerprint lookup, ticker upserts, flags, FTS triggers), as a median over batches;
- the queries people run: the latest flagged stories, full-text searches (a phrase few
  stories have, "sulfide electrolyte", and two words that a quarter of the synthetic stories
  have, "hydrogen electrolyser", which `newswatch search` lists most recently stored first
  since more than 10,000 articles match; ranking every match, as `search --all` does, is
  printed beside it: its cost follows the match count), one source's status (its runs are
  a third as many as the articles: a year of half-hourly runs);
- the file size per thousand articles.

The reference is the smallest size, measured in the same run; the target is a ratio of
at most 1.3 for the largest. Usage:

    python scripts/bench_store.py [--sizes 1000,100000,1000000] [--workdir DIR]

History is grown by `synthetic_news.grow` from a seed of real `save_page` writes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newswatch.rules import RuleMatch
from newswatch.store import Store
from synthetic_news import at_rest, grow, page

TARGET_RATIO = 1.3
QUERY_TARGET_MS = 50.0
SEED_PAGES = 1000


def matcher(fields: Mapping[str, str]) -> list[RuleMatch]:
    """About one story in a hundred mentions our topic."""
    text = " ".join(fields.values())
    if "electrolyser" in text and "battery" in text:
        return [RuleMatch("topic", ("electrolyser",), ("electrolyser",), ("body",))]
    return []


def timed(action: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of `action` in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


@dataclass
class Figures:
    articles: int
    save_ms: float
    flagged_ms: float
    search_ms: float
    """A selective query: "sulfide electrolyte"."""
    broad_search_ms: float
    """A query matching about a quarter of all stories: "hydrogen electrolyser"."""
    broad_ranked_all_ms: float
    """The same, every match ranked (`search --all`): for reference, no target."""
    broad_matches: int
    status_ms: float
    kb_per_1000: float


def measure(size: int, workdir: Path, batches: int = 5, batch_size: int = 200) -> Figures:
    rng = random.Random(size)
    path = workdir / f"store-{size}.db"
    path.unlink(missing_ok=True)
    with Store(path) as store:
        store.upsert_source("bench", "https://news.example.com/", "gulfoilandgas")
        for number in range(min(SEED_PAGES, size)):
            store.save_page("bench", page(rng, number), fetch_id=None, matcher=matcher)
        grow(store, size)
        store.db.execute("PRAGMA optimize")
        at_rest(store)
        next_number = 10**9
        per_page: list[float] = []
        for _ in range(batches):
            pages = [page(rng, next_number + i) for i in range(batch_size)]
            next_number += batch_size
            started = time.perf_counter()
            for new_page in pages:
                store.save_page("bench", new_page, fetch_id=None, matcher=matcher)
            per_page.append((time.perf_counter() - started) * 1000 / batch_size)
        flagged_ms = timed(lambda: store.flagged(limit=20))
        search_ms = timed(lambda: store.search("sulfide electrolyte", limit=20))
        broad_search_ms = timed(lambda: store.search("hydrogen electrolyser", limit=20))
        broad_ranked_all_ms = timed(
            lambda: store.search("hydrogen electrolyser", limit=20, max_ranked=None)
        )
        broad_matches = store.db.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'hydrogen electrolyser'"
        ).fetchone()[0]
        status_ms = timed(store.source_status)
    size_kb = path.stat().st_size / 1024
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Figures(
        articles=size,
        save_ms=statistics.median(per_page),
        flagged_ms=flagged_ms,
        search_ms=search_ms,
        broad_search_ms=broad_search_ms,
        broad_ranked_all_ms=broad_ranked_all_ms,
        broad_matches=broad_matches,
        status_ms=status_ms,
        kb_per_1000=size_kb / size * 1000,
    )


def report(results: Sequence[Figures]) -> None:
    reference = results[0]
    print(
        f"{'articles':>10} {'save ms/page':>13} {'ratio':>6} {'flagged ms':>11} "
        f"{'search ms':>10} {'broad search ms':>16} {'(--all)':>8} {'(matches)':>10} "
        f"{'status ms':>10} "
        f"{'KB/1000':>8}"
    )
    for r in results:
        print(
            f"{r.articles:>10,} {r.save_ms:>13.3f} {r.save_ms / reference.save_ms:>6.2f} "
            f"{r.flagged_ms:>11.2f} {r.search_ms:>10.2f} {r.broad_search_ms:>16.2f} "
            f"{r.broad_ranked_all_ms:>8.1f} {r.broad_matches:>10,} {r.status_ms:>10.2f} "
            f"{r.kb_per_1000:>8.0f}"
        )
    largest = results[-1]
    ratio = largest.save_ms / reference.save_ms
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(
        f"\nsave cost at {largest.articles:,} vs {reference.articles:,} articles: "
        f"{ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})"
    )
    for name, ms in (
        ("latest flagged", largest.flagged_ms),
        ("search (selective)", largest.search_ms),
        ("search (broad: most recently stored first)", largest.broad_search_ms),
        ("source status", largest.status_ms),
    ):
        verdict = "met" if ms <= QUERY_TARGET_MS else "NOT met"
        print(
            f"{name} at {largest.articles:,}: {ms:.1f} ms "
            f"(target <= {QUERY_TARGET_MS:g} ms: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    results = []
    for size in sizes:
        started = time.perf_counter()
        results.append(measure(size, workdir))
        print(f"  measured {size:,} articles in {time.perf_counter() - started:.0f}s", flush=True)
    report(results)


if __name__ == "__main__":
    main()
