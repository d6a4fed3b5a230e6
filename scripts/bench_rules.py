"""Benchmark: keyword rules at scale, one rule against a hundred.

Builds a history of stored articles (default 100 thousand; 2% of them carry a
solid-state-battery sentence or one of its look-alikes), then runs what
`newswatch rules apply` runs, `Store.reapply_rules`, from a flag-free copy each time:

- with the default rules (the reference, measured in the same run), and
- with the default rules plus 99 more, each with a handful of terms and a `near` clause.

Target: the 100-rule run costs at most 2 times the 1-rule run, because the first words of
all terms of all rules are found in one Aho–Corasick pass instead of rule by rule. Also prints the
matching cost alone (no database), to show where the time goes. Usage:

    python scripts/bench_rules.py [--articles 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from newswatch.rules import RuleSet, default_rules_path, load_rules, parse_rules
from newswatch.store import Store
from synthetic_news import VOCABULARY, at_rest, grow, page

TARGET_RATIO = 2.0


def hundred_rules(rng: random.Random) -> RuleSet:
    """The default rule and 99 made-up topics of the same shape.

    Like real topics, each is about something most articles never mention: its terms are
    drawn from the vocabulary's less frequent words, its context words from the common ones.
    """
    default = load_rules(default_rules_path())
    common, rarer = VOCABULARY[:500], VOCABULARY[500:]
    topics = []
    for number in range(99):
        topics.append(
            {
                "name": f"topic-{number}",
                "any": [
                    *sorted({" ".join(rng.sample(rarer, 2)) for _ in range(5)}),
                    rng.choice(rarer),
                ],
                "none": [rng.choice(rarer)],
                "near": [{"term": rng.choice(rarer), "context": rng.sample(common, 3)}],
            }
        )
    extra = parse_rules({"rules": topics})
    return RuleSet(default.rules + extra.rules)


def build_history(path: Path, articles: int) -> None:
    rng = random.Random(7)
    with Store(path) as store:
        store.upsert_source("bench", "https://news.example.com/", "gulfoilandgas")
        for number in range(min(2000, articles)):
            store.save_page("bench", page(rng, number), fetch_id=None, matcher=lambda _: [])
        grow(store, articles, flag_every=None)
        at_rest(store)


def time_apply(history: Path, rules: RuleSet, workdir: Path, repeat: int) -> tuple[float, int]:
    samples, flags = [], 0
    for attempt in range(repeat):
        copy = workdir / f"apply-{attempt}.db"
        shutil.copyfile(history, copy)
        os.sync()  # or the timed commit would also flush the copy: see synthetic_news.at_rest
        with Store(copy) as store:
            started = time.perf_counter()
            result = store.reapply_rules(rules.match)
            samples.append(time.perf_counter() - started)
            flags = result.added
        copy.unlink()
    return statistics.median(samples), flags


def time_matching(history: Path, rules: RuleSet, limit: int = 20_000) -> float:
    """Seconds per 1000 articles for RuleSet.match alone."""
    with Store(history) as store:
        rows = store.db.execute("SELECT title, body FROM articles LIMIT ?", [limit]).fetchall()
    started = time.perf_counter()
    for title, body in rows:
        rules.match({"title": title, "body": body})
    return (time.perf_counter() - started) / len(rows) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="newswatch-bench-rules-"))
    history = workdir / "history.db"
    started = time.perf_counter()
    build_history(history, args.articles)
    print(f"built {args.articles:,} articles in {time.perf_counter() - started:.0f}s")

    one = load_rules(default_rules_path())
    hundred = hundred_rules(random.Random(11))
    print(f"{'rules':>6} {'apply s':>9} {'articles/s':>11} {'flags':>7} {'match ms/1000':>14}")
    figures = {}
    for name, rules in (("1", one), ("100", hundred)):
        seconds, flags = time_apply(history, rules, workdir, args.repeat)
        per_thousand = time_matching(history, rules)
        figures[name] = seconds
        print(
            f"{len(rules.rules):>6} {seconds:>9.2f} {args.articles / seconds:>11,.0f} "
            f"{flags:>7,} {per_thousand * 1000:>14.1f}"
        )
    ratio = figures["100"] / figures["1"]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"\n100 rules vs 1 rule: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: {verdict})")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
