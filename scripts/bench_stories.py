"""Benchmark: does grouping articles into stories stay cheap as the history grows?

Stores synthetic articles through `Store.save_page` (the path every fetched page takes), one
in ten a lightly edited copy of an earlier one from another source (a dateline, a new first
sentence, the last paragraph trimmed), and at each history size measures:

- candidates per lookup: stored articles sharing an LSH band with a new one, so read and
  compared with it (a scan would compare it with every stored article);
- the cost of saving one more article, in milliseconds (median of the last batch), and the
  part of it spent on shingles and MinHash;
- grouping: copies that joined their original's story (or that of another copy of it), and
  articles that joined the story of another original;
- the LSH index's share of the file, and the `flagged_stories` query time.

First, on the hand-made groups of tests/fixtures/stories/groups.json (one story as four
sources carry it: a dateline and a rewritten first sentence, a trimmed last paragraph,
another headline, a much shorter copy; and pairs of stories about the same company in the
same week that must stay apart), fed in --orders random orders: whether every order gives the
same stories, and pairwise precision and recall (of the pairs of articles that are one story,
the share grouped; of the pairs grouped, the share that are one story).

Usage:

    python scripts/bench_stories.py [--sizes 10000,100000] [--orders 20] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from newswatch.dedup import lsh_keys, minhash, shingles
from newswatch.models import Article, Page
from newswatch.rules import RuleMatch
from newswatch.store import STORY_WEEKS, WEEK_SECONDS, Store
from synthetic_news import words

GROUPS = Path(__file__).parents[1] / "tests" / "fixtures" / "stories" / "groups.json"
COPY_SHARE = 0.1
BATCH = 500
FLAG_SHARE = 0.01


def matcher(fields: Mapping[str, str]) -> list[RuleMatch]:
    if "flagme" not in fields.get("body", ""):
        return []
    return [RuleMatch("topic", ("flagme",), (), ("body",))]


def original_body(rng: random.Random) -> str:
    """Four paragraphs of 40-80 words; one in a hundred carries the flagged topic."""
    paragraphs = [words(rng, rng.randint(40, 80)) for _ in range(4)]
    if rng.random() < FLAG_SHARE:
        paragraphs[0] += " flagme"
    return "\n\n".join(paragraphs)


def edited_copy(rng: random.Random, body: str) -> str:
    paragraphs = body.split("\n\n")[:-1]  # the last paragraph trimmed
    paragraphs[0] = f"DUBAI, March {rng.randint(1, 28)} (Wire) - {words(rng, 15)}. {paragraphs[0]}"
    return "\n\n".join(paragraphs)


def page(number: int, source: str, body: str) -> Page:
    url = f"https://{source}.example.com/news/{number}"
    article = Article(url=url, title=f"Story {number}", published=date(2025, 3, 26), body=body)
    return Page(url=url, article=article)


def candidates(db: sqlite3.Connection, body: str) -> int:
    """Stored articles a new one is compared with: those of the weeks looked in (as
    Store._closest_story does) sharing a band with it."""
    keys = lsh_keys(minhash(shingles(body)))
    week = int(time.time()) // WEEK_SECONDS
    weeks = list(range(week - STORY_WEEKS + 1, week + 1))
    sql = (
        "SELECT count(DISTINCT article_id) FROM article_lsh"
        f" WHERE week IN ({', '.join('?' * len(weeks))}) AND key IN ({', '.join('?' * len(keys))})"
    )
    count: int = db.execute(sql, [*weeks, *keys]).fetchone()[0]
    return count


def table_bytes(db: sqlite3.Connection, name: str) -> int | None:
    try:
        size: int = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", [name]).fetchone()[
            0
        ]
    except sqlite3.OperationalError:  # SQLite built without the dbstat table
        return None
    return size


def fixture_partitions(orders: int, workdir: Path) -> None:
    """Store the fixture's articles in `orders` random orders; compare the stories made."""
    fixture = json.loads(GROUPS.read_text(encoding="utf-8"))
    articles = [
        (group["id"], index, member)
        for group in fixture["groups"]
        for index, member in enumerate(group["members"])
    ]
    partitions: list[frozenset[frozenset[tuple[str, int]]]] = []
    for order in range(orders):
        shuffled = random.Random(order).sample(articles, len(articles))
        path = workdir / f"order{order}.db"
        stories: dict[int, set[tuple[str, int]]] = {}
        with Store(path) as store:
            for group, index, member in shuffled:
                url = f"https://{member['source']}.example.com/{group}/{index}"
                article = Article(url=url, title=member["title"], body=member["body"])
                store.save_page(member["source"], Page(url=url, article=article), fetch_id=None,
                                matcher=matcher)  # fmt: skip
            db = sqlite3.connect(path)
            for url, story in db.execute("SELECT url, story_id FROM articles"):
                group, index = url.rsplit("/", 2)[1:]
                stories.setdefault(story, set()).add((group, int(index)))
            db.close()
        path.unlink()
        partitions.append(frozenset(frozenset(members) for members in stories.values()))
    truth = {(g, i) for g, i, _ in articles}
    same = {frozenset(p) for p in itertools.combinations(sorted(truth), 2) if p[0][0] == p[1][0]}
    recalls, precisions = [], []
    for partition in partitions:
        grouped = {frozenset(p) for s in partition for p in itertools.combinations(sorted(s), 2)}
        recalls.append(len(grouped & same) / len(same))
        precisions.append(len(grouped & same) / len(grouped) if grouped else 1.0)
    apart = fixture["apart"]
    kept_apart = min(
        sum(not any({(a, 0), (b, 0)} <= set(story) for story in partition) for a, b in apart)
        for partition in partitions
    )
    print(
        f"fixture: {len(fixture['groups'])} stories of {len(articles)} articles,"
        f" {len(apart)} must-not-group pairs, {orders} orders:"
        f" {len(set(partitions))} distinct partition(s); pairwise recall"
        f" {min(recalls):.3f}..{max(recalls):.3f}, precision {min(precisions):.3f}.."
        f"{max(precisions):.3f}; must-not-group pairs kept apart in every order:"
        f" {kept_apart}/{len(apart)}",
        flush=True,
    )


def run(sizes: Sequence[int], workdir: Path) -> None:
    rng = random.Random(7)
    path = workdir / "stories.db"
    originals: list[tuple[int, str]] = []  # (article number, body)
    expected_story: dict[int, int] = {}  # article number -> number of its story's original
    number = 0
    print(
        f"{'articles':>9} {'cand/lookup':>12} {'max':>4} {'save ms':>8} {'sign ms':>8}"
        f" {'copies grouped':>15} {'wrongly grouped':>16} {'lsh MB':>7} {'flagged ms':>10}"
    )
    with Store(path) as store:
        for size in sizes:
            save_times: list[float] = []
            while number < size:
                number += 1
                if originals and rng.random() < COPY_SHARE:
                    of, text = rng.choice(originals)
                    body, source = edited_copy(rng, text), "wire"
                    expected_story[number] = of
                else:
                    body, source = original_body(rng), "portal"
                    originals.append((number, body))
                    expected_story[number] = number
                started = time.perf_counter()
                store.save_page(source, page(number, source, body), fetch_id=None, matcher=matcher)
                if size - number < BATCH:
                    save_times.append((time.perf_counter() - started) * 1000)
            db = sqlite3.connect(path)
            probes = [original_body(rng) for _ in range(100)] + [
                edited_copy(rng, text) for _, text in rng.sample(originals, 100)
            ]
            found = [candidates(db, body) for body in probes]
            started = time.perf_counter()
            for body in probes:
                lsh_keys(minhash(shingles(body)))
            sign_ms = (time.perf_counter() - started) * 1000 / len(probes)
            stories = dict(
                db.execute(
                    "SELECT CAST(substr(a.url, instr(a.url, '/news/') + 6) AS INTEGER),"
                    " CAST(substr(s.url, instr(s.url, '/news/') + 6) AS INTEGER)"
                    " FROM articles a JOIN articles s ON s.id = a.story_id"
                ).fetchall()
            )
            copies = [n for n, of in expected_story.items() if of != n]
            # A copy that missed its original starts a story that later copies may join: still
            # the right story. Wrong is a story begun by another original's lineage.
            grouped = sum(
                stories[n] != n and expected_story[stories[n]] == expected_story[n] for n in copies
            )
            wrong = sum(expected_story[stories[n]] != expected_story[n] for n in stories)
            lsh = table_bytes(db, "article_lsh")
            started = time.perf_counter()
            db.execute("SELECT * FROM flagged_stories ORDER BY flagged_at DESC LIMIT 50").fetchall()
            flagged_ms = (time.perf_counter() - started) * 1000
            db.close()
            print(
                f"{size:>9,} {statistics.mean(found):>12.2f} {max(found):>4}"
                f" {statistics.median(save_times):>8.2f} {sign_ms:>8.2f}"
                f" {grouped:>7}/{len(copies):<7} {wrong:>16}"
                f" {(lsh or 0) / 1e6:>7.1f} {flagged_ms:>10.1f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--workdir", type=Path)
    options = parser.parse_args()
    sizes = sorted(int(size) for size in options.sizes.split(",") if size)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = options.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        fixture_partitions(options.orders, workdir)
        run(sizes, workdir)


if __name__ == "__main__":
    main()
