"""Synthetic news history for the benchmarks: realistic sizes, Zipf word frequencies.

Seed pages are written through `Store.save_page`; `grow` then copies them with set-based
SQL, since writing a million pages one by one would take most of an hour and measure
nothing more than the seed already does.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from datetime import date
from pathlib import Path

from newswatch import dedup
from newswatch.models import Article, Page, TickerItem
from newswatch.store import WEEK_SECONDS, Store

DOMAIN_WORDS = (
    "oil gas lng pipeline offshore drilling rig contract award company announced project "
    "energy battery lithium cell plant capacity storage grid solar wind hydrogen electrolyser "
    "refinery crude barrels production field discovery exploration license partner agreement"
).split()
YEAR_SECONDS = 365 * 24 * 3600
VOCABULARY = DOMAIN_WORDS + [f"w{n}" for n in range(20_000)]
CUMULATIVE_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))
"""Zipf-like word frequencies, as in real text: a few words are everywhere, most are rare."""


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE_WEIGHTS, k=count))


TOPICAL_SENTENCES = (
    "The company plans to start pilot production of all-solid-state batteries in 2027.",
    "Its semi-solid-state cells use a sulfide solid electrolyte.",
    "Toyota and Idemitsu expand their solid state battery partnership.",
    "The data centre replaced its spinning disks with solid-state drives.",
    "A solid-state transformer now feeds the substation.",
    "The plant runs on solid oxide fuel cells with a ceramic solid electrolyte.",
    "The state-owned battery maker posted solid results for the quarter.",
)
"""Sentences that rules have to judge: the topic, and the hard negatives around it."""


def body(rng: random.Random, count: int = 150, topical_share: float = 0.02) -> str:
    """Three paragraphs; a share of bodies also carry one topical (or look-alike) sentence."""
    paragraphs = [words(rng, count // 3) for _ in range(3)]
    if rng.random() < topical_share:
        paragraphs[rng.randrange(3)] += " " + rng.choice(TOPICAL_SENTENCES)
    return "\n\n".join(paragraphs)


def page(rng: random.Random, number: int, host: str = "news.example.com") -> Page:
    url = f"https://{host}/news.asp?id={number}"
    ticker = [
        TickerItem(
            url=f"https://{host}/news.asp?id={number - offset}",
            text=words(rng, 20) + "...",
            region="Asia",
            published=date(2025, 3, 27),
        )
        for offset in range(1, 9)
    ]
    article = Article(
        url=url,
        title=words(rng, 9).title(),
        published=date(2025, 1 + number % 12, 1 + number % 28),
        location="Asia",
        source_line="news.example.com",
        body=body(rng),
    )
    return Page(url=url, article=article, ticker=ticker)


def build_history(path: Path, articles: int, *, seed_pages: int) -> None:
    """A database of `articles` synthetic articles: the first `seed_pages` saved as a fetch
    saves them (stories, LSH keys, counters), the rest grown in bulk by `grow`."""
    rng = random.Random(articles)
    with Store(path) as store:
        store.upsert_source("bench", "https://news.example.com/", "gulfoilandgas")
        for number in range(min(seed_pages, articles)):
            store.save_page("bench", page(rng, number), fetch_id=None, matcher=lambda _: [])
        grow(store, articles)


def grow(store: Store, articles: int, *, flag_every: int | None = 100, runs_every: int = 3) -> None:
    """Copy the seed rows until `articles` articles and ten times as many sightings exist,
    first seen one after another over the past year (ids in the order of time, as in a real
    database), with the rest of a year's history around them: one fetch per article, one run per
    `runs_every` articles (one in forty failed), and the near-duplicate index's band keys
    (random ones: copies must not all look alike).

    One copied article in `flag_every` gets a flag, so flag queries have rows to find.
    """
    db = store.db
    tables = set(db.table_names())
    while (count := db.execute("SELECT count(*) FROM articles").fetchone()[0]) < articles:
        take = min(count, articles - count)
        last_id = db.execute("SELECT max(id) FROM articles").fetchone()[0]
        with db.conn:
            db.execute(
                """
                INSERT INTO articles (url, fetched_url, source, title, published, location,
                    source_line, body, language, fingerprint, duplicate_of, first_seen,
                    last_seen, fetch_id)
                SELECT url || '&copy=' || :count, fetched_url, source, title, published,
                    location, source_line, body, language,
                    CASE WHEN fingerprint IS NULL THEN NULL ELSE fingerprint || :count END,
                    NULL, seen, seen, fetch_id
                FROM (
                    SELECT *, strftime('%Y-%m-%dT%H:%M:%SZ', :now - (:target - :last_id
                        - row_number() OVER (ORDER BY id)) * :spacing, 'unixepoch') AS seen
                    FROM articles WHERE duplicate_of IS NULL ORDER BY id LIMIT :take
                )
                """,
                {
                    "count": count,
                    "take": take,
                    "now": time.time(),
                    "target": articles,
                    "last_id": last_id,
                    "spacing": YEAR_SECONDS / articles,
                },
            )
            db.execute(
                """
                INSERT OR IGNORE INTO ticker_items (url, region, published, text, source,
                    first_seen, last_seen, seen_count)
                SELECT url || '&copy=' || :count, region, published, text, source,
                    first_seen, last_seen, 10
                FROM ticker_items ORDER BY id LIMIT :take
                """,
                {"count": count, "take": take},
            )
            db.execute(
                """
                INSERT INTO fetches (source, url, status, bytes, elapsed, fetched_at)
                SELECT source, fetched_url, 200, 9000, 0.05, first_seen
                FROM articles WHERE id > :last_id
                """,
                {"last_id": last_id},
            )
            db.execute(
                """
                WITH RECURSIVE number(n) AS (
                    SELECT 1 UNION ALL SELECT n + 1 FROM number WHERE n < :runs)
                INSERT INTO runs (source, started_at, finished_at, ok, pages_fetched,
                    new_articles, new_ticker_items, duplicates, flags, errors, error,
                    error_kind, items_found, not_modified)
                SELECT 'bench', strftime('%Y-%m-%dT%H:%M:%SZ', 1.7e9 + (:base + n) * 600,
                        'unixepoch'),
                    strftime('%Y-%m-%dT%H:%M:%SZ', 1.7e9 + (:base + n) * 600 + 30,
                        'unixepoch'),
                    n % 40 != 0, 4, :runs_every, 20, 0, 0, 0,
                    CASE WHEN n % 40 = 0 THEN 'cannot connect' END,
                    CASE WHEN n % 40 = 0 THEN 'fetch' END,
                    CASE WHEN n % 40 = 0 THEN NULL ELSE 50 END, 0
                FROM number
                """,
                {"runs": take // runs_every, "base": count, "runs_every": runs_every},
            )
            if "article_lsh" in tables:
                db.execute(
                    """
                    WITH RECURSIVE band(n) AS (
                        SELECT 1 UNION ALL SELECT n + 1 FROM band WHERE n < :bands)
                    INSERT OR IGNORE INTO article_lsh (week, key, article_id)
                    SELECT CAST(strftime('%s', first_seen) AS INTEGER) / :week, random(),
                        articles.id
                    FROM articles, band WHERE articles.id > :last_id
                    """,
                    {"last_id": last_id, "bands": dedup.LSH_BANDS, "week": WEEK_SECONDS},
                )
            if flag_every:
                db.execute(
                    """
                    INSERT OR IGNORE INTO flags (rule, kind, item_id, matched, evidence, fields,
                        flagged_at)
                    SELECT 'topic', 'article', id, '["electrolyser"]', '[]', '["body"]',
                        first_seen
                    FROM articles
                    WHERE id > coalesce((SELECT max(item_id) FROM flags), 0)
                        AND id % :every = 0
                    """,
                    {"every": flag_every},
                )


def at_rest(store: Store) -> None:
    """Put the history just generated on disk, as a year of use would have left it.

    Otherwise the first timed checkpoint's fsync also flushes the gigabytes `grow` left in
    the OS's write-back cache, and a save at 1 million articles looks several times dearer
    than it is (measured: 2.1 instead of 0.37 ms per page spent checkpointing).
    """
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.sync()
