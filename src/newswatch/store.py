"""The SQLite store: the only module that writes SQL.

The database is a public interface: people read it with sqlite3, Datasette or
pandas while newswatch writes (WAL mode, 30 s busy timeout). Columns are only
ever added, never renamed or removed. Timestamps are UTC ISO 8601 text
("2026-11-29T18:05:10Z"); dates (`published`) are "YYYY-MM-DD" text; list-valued
columns hold JSON arrays as text (`["solid-state battery", "ASSB"]`), readable as
they are and queryable with `json_each`. `PRAGMA user_version` holds the schema
version; opening an older database upgrades it in place.

Tables
------
sources        one row per configured source.
    name (primary key), url, profile, first_seen, last_seen (when newswatch first /
    last started with this source in its configuration), next_run_at (when the
    running daemon will run it next, backoff included; NULL when no daemon runs it).
fetches        one row per HTTP request (a log: pruned after keep_log, see Store.prune_log,
    except the request that stored each article).
    id, source, url (as requested), status (HTTP status; NULL when no response),
    bytes (size of the body), elapsed (seconds spent on the request and its retries, the
    politeness waits before and between them left out), error (NULL on success),
    warnings (JSON array of parser/fetch warnings; NULL when none), fetched_at.
articles       one row per story, unique by canonical URL.
    id, url (canonical, see newswatch.dedup.canonical_url), fetched_url (as fetched),
    source, title, published, location, source_line, body (plain text, paragraphs
    separated by a blank line), language, fingerprint (hash of the normalised body;
    NULL for bodies too short to fingerprint), duplicate_of (id of the article with
    the same fingerprint stored first; NULL for originals), first_seen, last_seen
    (last time a page with this URL was saved), fetch_id (the fetch that stored it),
    story_id (the id of the story's first article: every article of one story, from
    whichever source, under whichever URL, has the same story_id), resemblance (how alike
    the article is to the closest article of the story it joined, 0..1, see
    newswatch.dedup.resemblance; 1 for a duplicate; NULL for a story's first article).
    read_from (NULL: the article's own page; 'feed' or 'listing': the page could not be read
    yet, so the row holds what the feed entry or listing item said, title, summary as body,
    date; upgraded in place, same id and flags, once a later run reads the page).
    A duplicate row only records that its URL is known: it is neither flagged nor
    full-text indexed. A known article is never rewritten, only last_seen moves.
    An article that joins a story (a near-duplicate: another source's lightly edited copy)
    is stored and indexed, but a rule that already flagged the story does not flag it
    again, so one story makes one alert. An article that resembles articles of two or more
    stories merges them (newswatch.stories): their articles take the oldest story's
    story_id, so stories do not depend on the order copies arrive in; flags stay with
    their articles (a merged story may hold one flag per rule from each part, and alerts
    send it once).
ticker_items   one row per ticker teaser, unique by the canonical URL it links to.
    id, url, region, published, text, source (the source that saw it first),
    first_seen, last_seen, seen_count (number of saved pages that showed it).
    The text stays as first seen, since its flags were judged on that text;
    region and published are filled in later if first seen without them.
flags          one row per (rule, kind, item_id): a rule selected a story.
    id, rule, kind ('article' -> articles.id, 'ticker' -> ticker_items.id), item_id,
    matched (JSON array of the terms that matched), evidence (JSON array of text
    snippets around the matches), fields (JSON array of where: "title", "body",
    "ticker"), flagged_at.
runs           one row per run over one source (a log: pruned after keep_log, except each
    source's latest successful run and the runs since).
    id, source, started_at, finished_at, ok (1/0), pages_fetched, new_articles,
    new_ticker_items, duplicates, flags (new flags), errors (pages that failed),
    error (why the run failed; NULL when ok), error_kind ('fetch': the source's page
    could not be fetched, 'parser': it was fetched but parsed to nothing, 'not-a-feed': a
    feed source's page is a web page, 'internal', 'interrupted': cut short by a shutdown;
    NULL when ok), items_found (links, ticker
    items and articles the parser found on the source's page; NULL when it was not
    parsed), not_modified (1 when the source's page answered 304 Not Modified).
http_validators  the ETag / Last-Modified a source's page last answered with, sent
    back as If-None-Match / If-Modified-Since so an unchanged page costs no body.
    url (primary key, as requested), etag, last_modified, read_with (the newswatch and
    profile versions that read the page: under others it is read again), checked_at.
unavailable_urls  article URLs that failed in a way retrying at once will not fix (404,
    410, not HTML, too large, no article on the page, refused by robots.txt): not requested
    again before retry_at (see newswatch.retry: the source's next run, then doubling, at most
    a day; given up after 7 days).
    url (primary key, canonical), status, error, failures, first_failed_at,
    last_failed_at, retry_at, source (the source whose run failed last), given_up_at (set:
    not tried again; retry_at is then 9999-12-31).
alert_channels  one row per apprise URL of an [[alerts]] target (see newswatch.notify).
    id, target (the target's name), url_digest (a hash of the URL: URLs often hold
    secrets, so they are never stored), label (the URL with its secrets masked), rule
    (NULL: every rule), watching_since (it owes the flags made from then on), active (1
    while configured), failures (consecutive failed sends), last_error, last_failure_at,
    last_success_at, retry_at (no attempt before then; NULL when not failing).
alert_messages  the outbox: one row per message claimed for a channel.
    id, channel_id, key (idempotency key, sent to webhooks as the Idempotency-Key header),
    title, body (fixed when claimed, so a retry sends the same text), flags (how many it
    carries), state ('pending', 'sending', 'sent'), attempts, created_at, last_attempt_at,
    lease_until (while 'sending': past it, the send is taken to have been cut short),
    sent_at, error (of the last failed attempt).
alert_deliveries  which message carries which flag to which channel: a flag goes into
    one message per channel, ever.
    channel_id, rule, kind, item_id (as in flags), message_id.
article_lsh    the MinHash LSH band keys of each original article long enough to have them
    (newswatch.dedup.lsh_keys): how a new article finds the few stored ones worth
    comparing with, through an index, without reading the others. Ordered by the week the
    article was first seen, so that storing touches only this week's part of the index
    however long the history (see STORY_WEEKS).
    week (whole weeks since 1970-01-01), key, article_id.
lsh_rekey      present only while an upgrade computes article_lsh's keys again (schema v10):
    next_id, the last article done; the new keys go to article_lsh_rekeyed, which then
    replaces article_lsh. Both disappear when the upgrade is done.
article_aliases  canonical URLs of links that redirected to a stored article (http to https, a
    tracking hop, a moved page) or whose page named another URL of its site as its own
    (rel=canonical, og:url), so they count as known and are not fetched again.
    url (primary key), article_id.
source_counts  per source, what `newswatch status` shows, kept up to date by triggers:
    source (primary key), articles (originals), duplicates, ticker_items (first seen by the
    source), flags (on the source's articles and ticker items, as in `flagged`).
robots_files   the robots.txt of each host as last fetched, so a process started soon after
    (a `newswatch fetch` from cron) need not ask again: origin (primary key,
    scheme://host[:port]), body (NULL: the host has none, everything is allowed), fetched_at.
articles_fts   FTS5 index (porter stemming) over articles.title and articles.body,
    original articles only, kept in sync by triggers:
    SELECT url, title FROM articles WHERE id IN
        (SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'lithium');

View
----
flagged        every flag with its story, one row per flag:
    rule, kind, url, title (for ticker items: the item text), published, matched,
    flagged_at, source, region (articles.location or ticker_items.region), evidence,
    fields, item_id.
story_sources  one row per (story, source): story (articles.story_id), source, first_seen
    (when the source first carried the story), url (under which it did), articles.
flagged_stories  every flagged story once, however many sources carried it and rules
    flagged it: story (NULL for a ticker item whose article is not stored), url, title,
    published, region (of the story's first article, else of the ticker item), rules and
    matched (JSON arrays), flagged_at (first flag), first_seen, source_count, sources (JSON
    array of {"source", "first_seen", "url"}, first carrier first). A ticker item flagged
    for an article that is stored counts as that article's story.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from newswatch.dedup import (
    canonical_url,
    content_words,
    fingerprint,
    is_followable,
    lsh_keys,
    minhash,
    resemblance,
    shingles,
)
from newswatch.errors import ConfigError, NewswatchError, QueryError
from newswatch.models import Article, Page, TickerItem
from newswatch.stories import SAME_STORY, Candidate, Placement, place

log = logging.getLogger(__name__)


class Database:
    """The store's connection: statements outside a transaction commit at once, as each
    write is one (the store opens BEGIN IMMEDIATE for the rest); rows come as dicts when
    asked for. On sqlite3 alone: sqlite-utils, which did this before, took a sixth of a
    second and NumPy to import for every command that opened a database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        connection.isolation_level = None  # no implicit BEGIN: see above
        connection.execute("PRAGMA recursive_triggers = ON")
        self.conn = connection

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def query(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Iterator[dict[str, Any]]:
        """The rows of a SELECT as dicts, column name to value."""
        cursor = self.conn.execute(sql, parameters)
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)

    def table_names(self) -> list[str]:
        return [
            row[0] for row in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]

    def enable_wal(self) -> None:
        if self.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.execute("PRAGMA journal_mode = wal")

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


BUSY_TIMEOUT_SECONDS = 30.0
_SLOW_LOCK_SECONDS = 1.0
"""Waiting this long for the write lock is worth a warning in the log."""
NEVER = "9999-12-31T00:00:00Z"
"""retry_at of a link given up."""
RECENT_RUNS = 10
"""Runs the "usual" item count is the median of."""
_BATCH_SIZE = 500
"""Rows per query when walking or looking up many rows (well under SQLite's variable limit)."""
MAX_RANKED_MATCHES = 10_000
"""A search matching more articles than this lists the most recently stored first, not the best:
ranking reads every match, which for a common word among a million articles takes most of a
second, and a query that broad is a query for the latest news."""
KEPT_FAILURES = 20
"""Runs kept by prune_log of a source that never worked: enough for `status` to say it
fails, and for its backoff to stay at its cap (a day) once there."""
PRUNE_BATCH = 2000
"""Old log records deleted per transaction by Store.prune_log."""
STORY_CANDIDATES = 50
"""Stored articles compared with a new one at most: those sharing the most LSH bands with it."""
STORY_WEEKS = 5
"""A lightly edited copy is looked for among the articles first seen this week and in the
4 weeks before (exact copies, by fingerprint, in the whole history): wire stories travel
within days, and the index a new article writes to stays one week's worth, so storing costs
the same after years of history."""
WEEK_SECONDS = 7 * 24 * 3600
"""article_lsh.week is the number of these since 1970-01-01 (UTC)."""


class DatabaseBusy(NewswatchError):
    """Another program held the database's write lock for longer than the busy timeout."""


class RuleMatchLike(Protocol):
    """What the store needs of a newswatch.rules.RuleMatch."""

    @property
    def rule(self) -> str: ...
    @property
    def terms(self) -> tuple[str, ...]: ...
    @property
    def evidence(self) -> tuple[str, ...]: ...
    @property
    def fields(self) -> tuple[str, ...]: ...


Matcher = Callable[[Mapping[str, str]], Sequence[RuleMatchLike]]
"""Judges one item's fields ("title" and "body", or "ticker") against the rules."""
ItemKind = Literal["article", "ticker"]
_ItemBatch = list[tuple[int, Mapping[str, str]]]
"""Stored items as (id, fields for the matcher)."""


@dataclass(frozen=True)
class SaveResult:
    """What saving one page changed, for the run's counters."""

    article: Literal["new", "known", "duplicate", "upgraded", "none"]
    """none: the page had no article; upgraded: a row stored from its feed entry or listing
    item now holds the page's text."""
    article_id: int | None
    duplicate_of: str | None
    """Canonical URL of the original, when article == "duplicate"."""
    new_ticker_items: int
    seen_ticker_items: int
    """Already stored: last_seen and seen_count were bumped."""
    new_flags: int
    story_of: str | None = None
    """Canonical URL of the first article of the story a new article joined as a near-duplicate
    (another source's or URL's lightly edited copy); None when it began a story."""
    merged_stories: int = 0
    """Other stories the new article showed to be the same story, and merged into story_of."""


@dataclass(frozen=True)
class _SavedArticle:
    outcome: Literal["new", "known", "duplicate", "upgraded", "none"]
    article_id: int | None
    duplicate_of: str | None = None
    new_flags: int = 0
    story_of: str | None = None
    merged: int = 0


@dataclass(frozen=True)
class SearchResult:
    """What `Store.search` found, and whether it is ranked."""

    hits: list[dict[str, Any]]
    """Each with id, url, title, published, source, location, snippet (matched words in
    [brackets]) and rank (bm25, lower is better; None when not ranked)."""
    latest_stored_above: int | None = None
    """Set when more articles matched than a search ranks (this many): `hits` are then the
    most recently stored matches, not the best; a narrower query, or max_ranked=None, ranks
    them."""


@dataclass(frozen=True)
class HttpValidators:
    """What makes a request conditional: sent back as If-None-Match / If-Modified-Since."""

    etag: str | None
    last_modified: str | None
    read_with: str | None = None
    """parse.reader_version when the page was read: under another, the page is read again."""


@dataclass(frozen=True)
class PruneResult:
    """How many old log records `Store.prune_log` deleted."""

    fetches: int
    runs: int


@dataclass(frozen=True)
class ReapplyResult:
    """How the flags changed when the rules were re-run over everything stored."""

    added: int
    removed: int
    kept: int


def utc_iso(moment: datetime) -> str:
    """The database's timestamp form; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _article_text(article: Article) -> dict[str, Any]:
    """The columns an article's own text fills, in the database's forms (a new row's and an
    upgraded stand-in's alike)."""
    return {
        "title": article.title,
        "published": _iso_date(article.published),
        "location": article.location,
        "source_line": article.source_line,
        "body": article.body,
        "language": article.language,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


_SCHEMA_V1 = """
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    profile TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE fetches (
    id INTEGER PRIMARY KEY,
    source TEXT REFERENCES sources(name),
    url TEXT NOT NULL,
    status INTEGER,
    bytes INTEGER NOT NULL,
    elapsed REAL NOT NULL,
    error TEXT,
    warnings TEXT,
    fetched_at TEXT NOT NULL
);
CREATE INDEX fetches_by_source ON fetches(source, fetched_at);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    fetched_url TEXT NOT NULL,
    source TEXT REFERENCES sources(name),
    title TEXT NOT NULL,
    published TEXT,
    location TEXT,
    source_line TEXT,
    body TEXT NOT NULL,
    language TEXT,
    fingerprint TEXT,
    duplicate_of INTEGER REFERENCES articles(id),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    fetch_id INTEGER REFERENCES fetches(id)
);
CREATE UNIQUE INDEX articles_original_by_fingerprint ON articles(fingerprint)
    WHERE duplicate_of IS NULL AND fingerprint IS NOT NULL;
CREATE INDEX articles_by_source ON articles(source);
CREATE INDEX articles_by_published ON articles(published);
CREATE TABLE ticker_items (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    region TEXT,
    published TEXT,
    text TEXT NOT NULL,
    source TEXT REFERENCES sources(name),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    seen_count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ticker_items_by_source ON ticker_items(source);
CREATE TABLE flags (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('article', 'ticker')),
    item_id INTEGER NOT NULL,
    matched TEXT NOT NULL,
    evidence TEXT NOT NULL,
    fields TEXT NOT NULL,
    flagged_at TEXT NOT NULL,
    UNIQUE (rule, kind, item_id)
);
CREATE INDEX flags_by_item ON flags(kind, item_id);
CREATE INDEX flags_by_flagged_at ON flags(flagged_at);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    source TEXT REFERENCES sources(name),
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    pages_fetched INTEGER NOT NULL,
    new_articles INTEGER NOT NULL,
    new_ticker_items INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX runs_by_source ON runs(source, started_at);
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, body, content="articles", tokenize='porter unicode61'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
WHEN new.duplicate_of IS NULL BEGIN
    INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
WHEN old.duplicate_of IS NULL BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body, duplicate_of ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body)
        SELECT 'delete', old.id, old.title, old.body WHERE old.duplicate_of IS NULL;
    INSERT INTO articles_fts (rowid, title, body)
        SELECT new.id, new.title, new.body WHERE new.duplicate_of IS NULL;
END;
CREATE VIEW flagged AS
SELECT flags.rule, flags.kind, articles.url, articles.title, articles.published,
       flags.matched, flags.flagged_at, articles.source, articles.location AS region,
       flags.evidence, flags.fields, flags.item_id
FROM flags JOIN articles ON flags.kind = 'article' AND articles.id = flags.item_id
UNION ALL
SELECT flags.rule, flags.kind, ticker_items.url, ticker_items.text AS title,
       ticker_items.published, flags.matched, flags.flagged_at, ticker_items.source,
       ticker_items.region, flags.evidence, flags.fields, flags.item_id
FROM flags JOIN ticker_items ON flags.kind = 'ticker' AND ticker_items.id = flags.item_id;
"""


_SCHEMA_V2 = """
CREATE TABLE http_validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    checked_at TEXT NOT NULL
);
CREATE TABLE unavailable_urls (
    url TEXT PRIMARY KEY,
    status INTEGER,
    error TEXT,
    failures INTEGER NOT NULL,
    first_failed_at TEXT NOT NULL,
    last_failed_at TEXT NOT NULL,
    retry_at TEXT NOT NULL
);
ALTER TABLE sources ADD COLUMN next_run_at TEXT;
ALTER TABLE runs ADD COLUMN error_kind TEXT;
ALTER TABLE runs ADD COLUMN items_found INTEGER;
ALTER TABLE runs ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0;
"""


def _statements(script: str) -> Iterator[str]:
    """Split an SQL script into statements (triggers included) for `execute`.

    `executescript` would commit first and run outside our transaction, so a kill
    midway through a migration could leave half a schema behind.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:60]!r}")


def _run_script(script: str) -> Callable[[Database], None]:
    def migrate(db: Database) -> None:
        for statement in _statements(script):
            db.execute(statement)

    return migrate


@dataclass(frozen=True)
class AlertChannel:
    """One URL of one alert target as the database knows it: by a digest, since URLs
    often hold secrets."""

    target: str
    url_digest: str
    label: str
    """The URL with its secrets masked."""
    rule: str | None
    """None: flags of every rule."""


_SCHEMA_V3 = """
CREATE TABLE alert_channels (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    url_digest TEXT NOT NULL,
    label TEXT NOT NULL,
    rule TEXT,
    watching_since TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_failure_at TEXT,
    last_success_at TEXT,
    retry_at TEXT,
    UNIQUE (target, url_digest)
);
CREATE TABLE alert_messages (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES alert_channels(id),
    key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    flags INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_attempt_at TEXT,
    lease_until TEXT,
    sent_at TEXT,
    error TEXT
);
CREATE INDEX alert_messages_by_channel ON alert_messages(channel_id, state);
CREATE TABLE alert_deliveries (
    channel_id INTEGER NOT NULL REFERENCES alert_channels(id),
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES alert_messages(id),
    PRIMARY KEY (channel_id, rule, kind, item_id)
);
"""

_OWED_FLAGS = """
SELECT flagged.*, coalesce(
           (SELECT story.url FROM articles JOIN articles AS story ON story.id = articles.story_id
            WHERE flagged.kind = 'article' AND articles.id = flagged.item_id),
           (SELECT story.url FROM articles JOIN articles AS story ON story.id = articles.story_id
            WHERE flagged.kind = 'ticker' AND articles.url = flagged.url),
           (SELECT story.url FROM article_aliases
            JOIN articles ON articles.id = article_aliases.article_id
            JOIN articles AS story ON story.id = articles.story_id
            WHERE flagged.kind = 'ticker' AND article_aliases.url = flagged.url),
           flagged.url) AS story_url
FROM flagged JOIN alert_channels AS channel ON channel.id = :channel
WHERE flagged.flagged_at >= channel.watching_since
  AND (channel.rule IS NULL OR flagged.rule = channel.rule)
  AND NOT EXISTS (
      SELECT 1 FROM alert_deliveries AS sent WHERE sent.channel_id = channel.id
      AND sent.rule = flagged.rule AND sent.kind = flagged.kind AND sent.item_id = flagged.item_id)
  AND NOT EXISTS (
      SELECT 1 FROM alert_deliveries AS sent WHERE sent.channel_id = channel.id
      AND sent.rule = flagged.rule
      AND sent.kind = CASE flagged.kind WHEN 'article' THEN 'ticker' ELSE 'article' END
      AND sent.item_id IN (
          SELECT id FROM ticker_items
          WHERE flagged.kind = 'article' AND ticker_items.url = flagged.url
          UNION ALL
          SELECT ticker_items.id FROM article_aliases JOIN ticker_items
              ON ticker_items.url = article_aliases.url
          WHERE flagged.kind = 'article' AND article_aliases.article_id = flagged.item_id
          UNION ALL
          SELECT coalesce(
              (SELECT id FROM articles WHERE url = flagged.url),
              (SELECT article_id FROM article_aliases WHERE url = flagged.url))
          WHERE flagged.kind = 'ticker'))
  AND NOT EXISTS (
      SELECT 1 FROM articles AS flagged_article
      JOIN articles AS member ON member.story_id = flagged_article.story_id
      JOIN alert_deliveries AS sent ON sent.channel_id = channel.id AND sent.rule = flagged.rule
          AND sent.kind = 'article' AND sent.item_id = member.id
      WHERE flagged.kind = 'article' AND flagged_article.id = flagged.item_id)
ORDER BY flagged.flagged_at, flagged.kind, flagged.item_id
"""
"""The flags a channel owes: of its rule, flagged since it watches, in none of its messages,
and not a story the channel already got from this rule in its other form (a ticker teaser
and the article it links to, directly or through a redirect: one story, one alert) or
through another of its articles (two stories flagged apart, then found to be one and
merged); with story_url, the URL of the story a flag is about (its first article's), for
grouping a message."""

ExportKind = Literal["articles", "ticker", "flagged"]
_PUBLISHED_OR_SEEN = "coalesce(published, substr(first_seen, 1, 10))"
"""A story's day: its publication date, or the day it was first seen when it has none."""
_FLAG_PUBLISHED_OR_SEEN = (
    "coalesce(published, substr(CASE kind"
    " WHEN 'article' THEN (SELECT first_seen FROM articles WHERE id = item_id)"
    " ELSE (SELECT first_seen FROM ticker_items WHERE id = item_id) END, 1, 10))"
)
_EXPORTS: dict[str, tuple[str, str, str]] = {
    "articles": ("articles", _PUBLISHED_OR_SEEN, "id"),
    "ticker": ("ticker_items", _PUBLISHED_OR_SEEN, "id"),
    "flagged": ("flagged", _FLAG_PUBLISHED_OR_SEEN, "flagged_at, kind, item_id"),
}
"""kind: (table or view, the day `since` compares with, order)."""
StoryOrder = Literal["published", "flagged"]


def _export_query(
    kind: ExportKind, *, rule: str | None, since: date | None
) -> tuple[str, dict[str, str]]:
    table, day, order = _EXPORTS[kind]
    conditions: list[str] = []
    params: dict[str, str] = {}
    if rule is not None:
        params["rule"] = rule
        if kind == "flagged":
            conditions.append("rule = :rule")
        else:
            flag_kind = "article" if kind == "articles" else "ticker"
            conditions.append(
                f"id IN (SELECT item_id FROM flags WHERE kind = '{flag_kind}' AND rule = :rule)"
            )
    if since is not None:
        conditions.append(f"{day} >= :since")
        params["since"] = _day(since)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM {table}{where} ORDER BY {order}", params


def _day(moment: date) -> str:
    """YYYY-MM-DD of a date, or of a datetime in UTC."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC) if moment.tzinfo else moment
        return moment.date().isoformat()
    return moment.isoformat()


def _flagged_stories_view(ticker_article: str) -> str:
    """The flagged_stories view; `ticker_article` joins a flagged ticker item to the stored
    article it leads to (as `target`), the one part that changed since schema 4."""
    return (
        """CREATE VIEW flagged_stories AS
WITH story_flags AS (
    SELECT flags.rule, flags.matched, flags.flagged_at,
           coalesce(articles.story_id, articles.id) AS story,
           coalesce(articles.story_id, articles.id) AS story_key, NULL AS ticker_id
    FROM flags JOIN articles ON flags.kind = 'article' AND articles.id = flags.item_id
    UNION ALL
    SELECT flags.rule, flags.matched, flags.flagged_at, coalesce(target.story_id, target.id),
           coalesce(target.story_id, target.id, -ticker_items.id), ticker_items.id
    FROM flags JOIN ticker_items ON flags.kind = 'ticker' AND ticker_items.id = flags.item_id
"""
        + ticker_article
        + """
),
grouped AS (
    SELECT story, story_key, max(ticker_id) AS ticker_id, min(flagged_at) AS flagged_at,
           json_group_array(DISTINCT rule) AS rules,
           json_group_array(DISTINCT term.value) FILTER (WHERE term.value IS NOT NULL)
               AS matched
    FROM story_flags LEFT JOIN json_each(story_flags.matched) AS term
    GROUP BY story_key
)
SELECT grouped.story,
       coalesce(first.url, ticker.url) AS url,
       coalesce(first.title, ticker.text) AS title,
       coalesce(first.published, ticker.published) AS published,
       coalesce(first.location, ticker.region) AS region,
       grouped.rules, grouped.matched, grouped.flagged_at,
       coalesce(first.first_seen, ticker.first_seen) AS first_seen,
       CASE WHEN grouped.story IS NULL THEN 1
            ELSE (SELECT count(DISTINCT source) FROM articles
                  WHERE story_id = grouped.story OR id = grouped.story)
       END AS source_count,
       CASE WHEN grouped.story IS NULL
            THEN json_array(json_object('source', ticker.source,
                                        'first_seen', ticker.first_seen, 'url', ticker.url))
            ELSE (SELECT json_group_array(json_object('source', carrier.source,
                                                      'first_seen', carrier.first_seen,
                                                      'url', carrier.url))
                  FROM (SELECT source, min(first_seen) AS first_seen, url FROM articles
                        WHERE story_id = grouped.story OR id = grouped.story
                        GROUP BY source
                        ORDER BY 2, 1) AS carrier)
       END AS sources
FROM grouped
LEFT JOIN articles AS first ON first.id = grouped.story
LEFT JOIN ticker_items AS ticker ON grouped.story IS NULL AND ticker.id = grouped.ticker_id;
"""
    )


_SCHEMA_V4 = """
ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES articles(id);
ALTER TABLE articles ADD COLUMN resemblance REAL;
UPDATE articles SET story_id = coalesce(duplicate_of, id),
    resemblance = CASE WHEN duplicate_of IS NULL THEN NULL ELSE 1.0 END;
CREATE INDEX articles_by_story ON articles(story_id);
CREATE TABLE article_lsh (
    key INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    PRIMARY KEY (key, article_id)
) WITHOUT ROWID;
CREATE VIEW story_sources AS
SELECT coalesce(story_id, id) AS story, source, min(first_seen) AS first_seen, url,
       count(*) AS articles
FROM articles GROUP BY 1, source;
""" + _flagged_stories_view("    LEFT JOIN articles AS target ON target.url = ticker_items.url")


_SCHEMA_V6 = """
DROP TABLE article_lsh;
CREATE TABLE article_lsh (
    week INTEGER NOT NULL,
    key INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    PRIMARY KEY (week, key, article_id)
) WITHOUT ROWID;
"""


_SCHEMA_V7 = """
ALTER TABLE http_validators ADD COLUMN read_with TEXT;
"""
"""Validators remember what read the page (newswatch and profile versions): after an edit
of the profile, or an upgrade, an unchanged listing is read again instead of answering 304.
Validators kept before say nothing: their pages are read again once."""


_SCHEMA_V8 = """
CREATE INDEX articles_by_fetch ON articles(fetch_id);
"""
"""Old request records are pruned (Store.prune_log) but those that stored an article are kept:
this index tells which."""


_SCHEMA_V9 = """
CREATE TABLE article_aliases (
    url TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id)
) WITHOUT ROWID;
CREATE INDEX article_aliases_by_article ON article_aliases(article_id);
DROP VIEW flagged_stories;
""" + _flagged_stories_view(
    "    LEFT JOIN articles AS target ON target.id = coalesce("
    "(SELECT id FROM articles WHERE url = ticker_items.url),"
    " (SELECT article_id FROM article_aliases WHERE url = ticker_items.url))"
)
"""Links that redirected to a stored article (http to https, a tracking hop, a moved page):
known from then on, so they are not fetched again every run, and a flagged teaser linking
to one is the article's story."""


_SCHEMA_V10 = """
CREATE TABLE article_lsh_rekeyed (
    week INTEGER NOT NULL,
    key INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    PRIMARY KEY (week, key, article_id)
) WITHOUT ROWID;
CREATE TABLE lsh_rekey (next_id INTEGER NOT NULL);
INSERT INTO lsh_rekey VALUES (0);
"""
"""MinHash signatures are taken with newswatch's own one-permutation scheme (datasketch, whose
import loaded SciPy, is gone), so every stored LSH key is computed again. The migration only
sets the work up; `Store._rekey` does it a batch per transaction, so an upgrade cut short
keeps what it did and the next start goes on from there."""


_SCHEMA_V11 = """
ALTER TABLE articles ADD COLUMN read_from TEXT;
CREATE INDEX articles_awaiting_page ON articles(source) WHERE read_from IS NOT NULL;
ALTER TABLE unavailable_urls ADD COLUMN source TEXT;
ALTER TABLE unavailable_urls ADD COLUMN given_up_at TEXT;
"""
"""A feed entry or listing item whose page could not be read is stored from what it said
(read_from), and upgraded when the page is read; failed links remember their source and
when they were given up, for `newswatch status`."""


def _migrate_to_v6(db: Database) -> None:
    """LSH keys computed again and filed by week. Signatures are now taken with
    datasketch's 64-bit affine permutations (35 times faster than the former pure-Python
    ones), so keys stored by earlier versions would never meet the new ones; and keys
    ordered by week keep the part of the index a new article writes to small. Stories
    already formed stay."""
    _run_script(_SCHEMA_V6)(db)
    _index_stored_articles(db)


def _index_stored_articles(db: Database) -> None:
    """Every stored original article's LSH keys, batch by batch (about 10 minutes a million:
    said in the log when it is long enough to be noticed)."""
    total = db.execute("SELECT count(*) FROM articles WHERE duplicate_of IS NULL").fetchone()[0]
    if total >= _SLOW_REINDEX_ARTICLES:
        log.warning(
            "upgrading the database: computing the near-duplicate keys of %d articles"
            " (about %d minutes, once)",
            total,
            max(1, round(total * _REINDEX_SECONDS_PER_ARTICLE / 60)),
        )
    last_id = 0
    sql = (
        "SELECT id, first_seen, body FROM articles WHERE duplicate_of IS NULL AND id > ?"
        " ORDER BY id LIMIT ?"
    )
    while rows := db.execute(sql, [last_id, _BATCH_SIZE]).fetchall():
        for article_id, first_seen, body in rows:
            keys = _lsh_keys_of(shingles(body))
            _insert_lsh_keys(db, article_id, _week_of(first_seen), keys)
        last_id = rows[-1][0]


_SLOW_REINDEX_ARTICLES = 20_000
_REINDEX_SECONDS_PER_ARTICLE = 0.0006
"""Shingles and a signature per article, measured on 2 cores."""
_REKEY_BATCH = 1000
"""Articles per transaction of the v10 upgrade: about a second of work each."""


def _lsh_keys_of(shingle_set: frozenset[int]) -> list[int]:
    return lsh_keys(minhash(shingle_set)) if shingle_set else []


def _week_of(timestamp: str) -> int:
    """Whole weeks from 1970-01-01 to a stored UTC timestamp: article_lsh's first column."""
    return int(datetime.fromisoformat(timestamp).timestamp()) // WEEK_SECONDS


def _insert_lsh_keys(db: Database, article_id: int, week: int, keys: Sequence[int]) -> None:
    db.conn.executemany(
        "INSERT OR IGNORE INTO article_lsh (week, key, article_id) VALUES (?, ?, ?)",
        [(week, key, article_id) for key in keys],
    )


_SCHEMA_V5 = """
CREATE TABLE source_counts (
    source TEXT PRIMARY KEY,
    articles INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    ticker_items INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0
);
INSERT INTO source_counts (source)
    SELECT source FROM articles WHERE source IS NOT NULL
    UNION SELECT source FROM ticker_items WHERE source IS NOT NULL;
UPDATE source_counts SET
    articles = (SELECT count(*) FROM articles
                WHERE source = source_counts.source AND duplicate_of IS NULL),
    duplicates = (SELECT count(*) FROM articles
                  WHERE source = source_counts.source AND duplicate_of IS NOT NULL),
    ticker_items = (SELECT count(*) FROM ticker_items WHERE source = source_counts.source),
    flags = (SELECT count(*) FROM flagged WHERE source = source_counts.source);
CREATE TRIGGER source_counts_article_insert AFTER INSERT ON articles
WHEN new.source IS NOT NULL BEGIN
    INSERT OR IGNORE INTO source_counts (source) VALUES (new.source);
    UPDATE source_counts SET articles = articles + (new.duplicate_of IS NULL),
        duplicates = duplicates + (new.duplicate_of IS NOT NULL)
    WHERE source = new.source;
END;
CREATE TRIGGER source_counts_article_delete AFTER DELETE ON articles
WHEN old.source IS NOT NULL BEGIN
    UPDATE source_counts SET articles = articles - (old.duplicate_of IS NULL),
        duplicates = duplicates - (old.duplicate_of IS NOT NULL),
        flags = flags - (SELECT count(*) FROM flags WHERE kind = 'article' AND item_id = old.id)
    WHERE source = old.source;
END;
CREATE TRIGGER source_counts_article_update AFTER UPDATE OF source, duplicate_of ON articles
BEGIN
    UPDATE source_counts SET articles = articles - (old.duplicate_of IS NULL),
        duplicates = duplicates - (old.duplicate_of IS NOT NULL),
        flags = flags - (SELECT count(*) FROM flags WHERE kind = 'article' AND item_id = old.id)
    WHERE source = old.source;
    INSERT OR IGNORE INTO source_counts (source) SELECT new.source WHERE new.source IS NOT NULL;
    UPDATE source_counts SET articles = articles + (new.duplicate_of IS NULL),
        duplicates = duplicates + (new.duplicate_of IS NOT NULL),
        flags = flags + (SELECT count(*) FROM flags WHERE kind = 'article' AND item_id = new.id)
    WHERE source = new.source;
END;
CREATE TRIGGER source_counts_ticker_insert AFTER INSERT ON ticker_items
WHEN new.source IS NOT NULL BEGIN
    INSERT OR IGNORE INTO source_counts (source) VALUES (new.source);
    UPDATE source_counts SET ticker_items = ticker_items + 1 WHERE source = new.source;
END;
CREATE TRIGGER source_counts_ticker_delete AFTER DELETE ON ticker_items
WHEN old.source IS NOT NULL BEGIN
    UPDATE source_counts SET ticker_items = ticker_items - 1,
        flags = flags - (SELECT count(*) FROM flags WHERE kind = 'ticker' AND item_id = old.id)
    WHERE source = old.source;
END;
CREATE TRIGGER source_counts_ticker_update AFTER UPDATE OF source ON ticker_items BEGIN
    UPDATE source_counts SET ticker_items = ticker_items - 1,
        flags = flags - (SELECT count(*) FROM flags WHERE kind = 'ticker' AND item_id = old.id)
    WHERE source = old.source;
    INSERT OR IGNORE INTO source_counts (source) SELECT new.source WHERE new.source IS NOT NULL;
    UPDATE source_counts SET ticker_items = ticker_items + 1,
        flags = flags + (SELECT count(*) FROM flags WHERE kind = 'ticker' AND item_id = new.id)
    WHERE source = new.source;
END;
CREATE TRIGGER source_counts_flag_insert AFTER INSERT ON flags BEGIN
    UPDATE source_counts SET flags = flags + 1 WHERE source = (
        SELECT source FROM articles WHERE new.kind = 'article' AND id = new.item_id
        UNION ALL
        SELECT source FROM ticker_items WHERE new.kind = 'ticker' AND id = new.item_id);
END;
CREATE TRIGGER source_counts_flag_delete AFTER DELETE ON flags BEGIN
    UPDATE source_counts SET flags = flags - 1 WHERE source = (
        SELECT source FROM articles WHERE old.kind = 'article' AND id = old.item_id
        UNION ALL
        SELECT source FROM ticker_items WHERE old.kind = 'ticker' AND id = old.item_id);
END;
CREATE TRIGGER source_counts_flag_update AFTER UPDATE OF kind, item_id ON flags BEGIN
    UPDATE source_counts SET flags = flags - 1 WHERE source = (
        SELECT source FROM articles WHERE old.kind = 'article' AND id = old.item_id
        UNION ALL
        SELECT source FROM ticker_items WHERE old.kind = 'ticker' AND id = old.item_id);
    UPDATE source_counts SET flags = flags + 1 WHERE source = (
        SELECT source FROM articles WHERE new.kind = 'article' AND id = new.item_id
        UNION ALL
        SELECT source FROM ticker_items WHERE new.kind = 'ticker' AND id = new.item_id);
END;
CREATE INDEX runs_by_outcome ON runs(source, ok, started_at);
CREATE INDEX runs_by_outcome_finished ON runs(source, ok, finished_at);
CREATE TABLE robots_files (
    origin TEXT PRIMARY KEY,
    body TEXT,
    fetched_at TEXT NOT NULL
);
"""
"""Per-source counts kept up to date by triggers, so `newswatch status` reads four numbers
instead of counting a million rows; indexes for the runs a status asks about; robots.txt
files kept between processes."""


MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    _run_script(_SCHEMA_V1),
    _run_script(_SCHEMA_V2),
    _run_script(_SCHEMA_V3),
    _run_script(_SCHEMA_V4),  # stories; the LSH keys came with v6
    _run_script(_SCHEMA_V5),
    _migrate_to_v6,
    _run_script(_SCHEMA_V7),
    _run_script(_SCHEMA_V8),
    _run_script(_SCHEMA_V9),
    _run_script(_SCHEMA_V10),  # then Store._rekey, resumable
    _run_script(_SCHEMA_V11),
)
"""MIGRATIONS[n] upgrades a database from user_version n to n + 1. Append only."""
SCHEMA_VERSION = len(MIGRATIONS)

# Signs that a search query is written in FTS5 syntax on purpose (operators are upper case).
_FTS_SYNTAX = re.compile(
    r"\b(?:AND|OR|NOT|NEAR)\b|\w\*|\b(?:title|body)\s*:|\{\s*(?:title|body)[\s\w]*\}\s*:"
)
_DATABASE_TROUBLE = ("locked", "busy", "disk", "I/O", "malformed", "readonly", "no such table")
"""What SQLite says when a search fails for the database's sake; anything else it says about
a MATCH is about the query (FTS5 has many ways of saying so)."""
_QUOTED_OR_HYPHENATED = re.compile(r'"[^"]*"|(?<![\w"])(\w+(?:-\w+)+)(\*?)')


def _quote_hyphenated(query: str) -> str:
    """A query in FTS5 syntax with its hyphenated words ("solid-state") made phrases, which
    FTS5 would otherwise read as a column filter and a NOT; quoted text is left alone."""
    return _QUOTED_OR_HYPHENATED.sub(
        lambda found: f'"{found[1]}"{found[2]}' if found[1] else found[0], query
    )


_WORD_OR_QUOTED = re.compile(r'\s+|(".*?")')


def _quote_words(query: str) -> str:
    """A plain-words query with every word quoted, so FTS5 reads no operator or column in it
    (an unbalanced quote is closed at the end)."""
    if query.count('"') % 2:
        query += '"'
    parts = [part for part in _WORD_OR_QUOTED.split(query) if part and part != '""']
    return " ".join(part if part.startswith('"') else f'"{part}"' for part in parts)


_JSON_COLUMNS = ("matched", "evidence", "fields")


class Store:
    """One open newswatch database. Use from one thread at a time; it keeps no caches."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or _utc_now
        self._in_transaction = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise NewswatchError(f"{self.path}: cannot open database: {error}") from error
        self.db = Database(connection)
        try:
            self._prepare()
        except sqlite3.DatabaseError as error:
            self.close()
            hint = ""
            if "readonly" in str(error):
                hint = (
                    " (newswatch keeps the database in WAL mode, which needs to write next to"
                    f" the file: make {self.path.parent} writable, or copy the file elsewhere)"
                )
            raise NewswatchError(
                f"{self.path}: cannot use as newswatch database: {error}{hint}"
            ) from error
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        # One read, so another process creating the schema meanwhile is seen whole.
        version, tables = self.db.execute(
            "SELECT (SELECT user_version FROM pragma_user_version),"
            " (SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_master"
            "  WHERE type = 'table' ORDER BY name LIMIT 5))"
        ).fetchone()
        self._check_version(version)
        if version == 0 and tables:
            raise ConfigError(  # a usage error: exit status 2, and no service restarts
                self.path,
                None,
                f"not a newswatch database (it holds other tables: {tables}); nothing was"
                " changed: give another file with --db or [settings] database",
            )
        self.db.enable_wal()
        # With WAL, NORMAL never corrupts the file; a power cut may lose the last commits,
        # which the next run fetches again. FULL would wait for the disk after every page.
        self.db.execute("PRAGMA synchronous = NORMAL")
        # Copy the log back into the file every 10,000 pages (40 MB) rather than 1,000: index
        # pages that every page's commit touches are written back once, not ten times.
        self.db.execute("PRAGMA wal_autocheckpoint = 10000")
        if self._user_version() < SCHEMA_VERSION:
            self._migrate()
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lsh_rekey'").fetchone():
            self._rekey()

    def _rekey(self) -> None:
        """Finish schema v10: every original article's LSH keys computed again, a batch per
        transaction, recording how far it got (another process opening the database meanwhile
        helps with the same batches, never twice); then the new keys replace the old."""
        remaining = self.db.execute(
            "SELECT count(*) FROM articles WHERE duplicate_of IS NULL"
            " AND id > (SELECT next_id FROM lsh_rekey)"
        ).fetchone()[0]
        if remaining >= _SLOW_REINDEX_ARTICLES:
            log.warning(
                "upgrading the database: computing the near-duplicate keys of %d articles"
                " again (about %d minutes, once; if stopped, it goes on from there)",
                remaining,
                max(1, round(remaining * _REINDEX_SECONDS_PER_ARTICLE / 60)),
            )
        while True:
            with self._transaction():
                exists = "SELECT 1 FROM sqlite_master WHERE name = 'lsh_rekey'"
                if not self.db.execute(exists).fetchone():
                    return  # another process finished it
                rows = self.db.execute(
                    "SELECT id, first_seen, body FROM articles WHERE duplicate_of IS NULL"
                    " AND id > (SELECT next_id FROM lsh_rekey) ORDER BY id LIMIT ?",
                    [_REKEY_BATCH],
                ).fetchall()
                if not rows:
                    self.db.execute("DROP TABLE article_lsh")
                    self.db.execute("ALTER TABLE article_lsh_rekeyed RENAME TO article_lsh")
                    self.db.execute("DROP TABLE lsh_rekey")
                    return
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO article_lsh_rekeyed (week, key, article_id)"
                    " VALUES (?, ?, ?)",
                    [
                        (_week_of(first_seen), key, article_id)
                        for article_id, first_seen, body in rows
                        for key in _lsh_keys_of(shingles(body))
                    ],
                )
                self.db.execute("UPDATE lsh_rekey SET next_id = ?", [rows[-1][0]])

    def _user_version(self) -> int:
        version: int = self.db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise NewswatchError(
                f"{self.path}: database schema version {version} is newer than this "
                f"newswatch understands (version {SCHEMA_VERSION}); upgrade newswatch"
            )

    def _migrate(self) -> None:
        with self._transaction():
            version = self._user_version()  # again: another process may have migrated meanwhile
            self._check_version(version)
            for number in range(version, SCHEMA_VERSION):
                MIGRATIONS[number](self.db)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def transaction(self) -> AbstractContextManager[None]:
        """Several writes as one transaction, committed once: the writes inside join it
        (a fetch and the page it brought are stored together, at the cost of one commit)."""
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front, so a second writer waits for the
        busy timeout instead of failing midway when its read turns into a write. Inside a
        transaction already, the writes simply join it.

        Readers never block us (WAL); another writer can, and a long wait is logged so
        whoever holds the lock can be found.
        """
        if self._in_transaction:
            yield
            return
        asked = time.monotonic()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "readonly" in str(error):
                raise self._read_only(error) from error
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            raise DatabaseBusy(
                f"{self.path}: another program held the write lock for more than "
                f"{BUSY_TIMEOUT_SECONDS:g}s ({error}); nothing was written"
            ) from error
        waited = time.monotonic() - asked
        if waited >= _SLOW_LOCK_SECONDS:
            log.warning(
                "%s: waited %.1fs for another program to release the write lock",
                self.path,
                waited,
            )
        self._in_transaction = True
        try:
            yield
            self.db.commit()
        except sqlite3.OperationalError as error:
            self.db.rollback()
            if "readonly" in str(error):
                raise self._read_only(error) from error
            raise
        except BaseException:
            self.db.rollback()
            raise
        finally:
            self._in_transaction = False

    def _read_only(self, error: sqlite3.OperationalError) -> NewswatchError:
        return NewswatchError(
            f"{self.path}: cannot write to the database ({error}): make the file writable"
            " for this user, or give another one with --db; nothing was written"
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _now(self) -> str:
        return utc_iso(self._clock())

    def _insert(self, table: str, record: dict[str, Any]) -> int:
        """Insert one row; returns its id. Plain SQL: sqlite-utils' insert reads the schema
        on every call, which costs more than the insert itself."""
        columns = ", ".join(f'"{name}"' for name in record)
        values = ", ".join(f":{name}" for name in record)
        cursor = self.db.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({values})', record)
        row_id = cursor.lastrowid
        if not isinstance(row_id, int):
            raise TypeError(f"{table}: insert returned no integer id: {row_id!r}")
        return row_id

    # --- writing -------------------------------------------------------------------------

    def upsert_source(self, name: str, url: str, profile: str) -> None:
        now = self._now()
        with self._transaction():
            self.db.execute(
                "INSERT INTO sources (name, url, profile, first_seen, last_seen)"
                " VALUES (:name, :url, :profile, :now, :now)"
                " ON CONFLICT (name) DO UPDATE SET"
                " url = excluded.url, profile = excluded.profile, last_seen = excluded.last_seen",
                {"name": name, "url": url, "profile": profile, "now": now},
            )

    def record_fetch(
        self,
        *,
        source: str,
        url: str,
        status: int | None,
        size: int,
        elapsed: float,
        error: str | None = None,
        warnings: Sequence[str] = (),
    ) -> int:
        """Log one HTTP request; returns its id for SaveResult's article.fetch_id."""
        record = {
            "source": source,
            "url": url,
            "status": status,
            "bytes": size,
            "elapsed": elapsed,
            "error": error,
            "warnings": _json_list(warnings) if warnings else None,
            "fetched_at": self._now(),
        }
        with self._transaction():
            return self._insert("fetches", record)

    def save_page(
        self,
        source: str,
        page: Page,
        *,
        fetch_id: int | None,
        matcher: Matcher,
        requested_url: str | None = None,
        read_from: Literal["feed", "listing"] | None = None,
    ) -> SaveResult:
        """Store a parsed page's article and ticker items and flag the new ones, atomically.

        `requested_url`: the link that was followed, when a redirect led elsewhere; it is
        kept as an alias of the article, so the link counts as known from then on.
        `read_from`: the article is what a feed entry or listing item said, its page could not
        be read; an article read from its page later takes that row over (same id, flags).

        Raises ValueError if the page has an article but neither its URL nor the page's
        is an http(s) URL. Ticker items whose URL is not http(s) are skipped: they
        cannot be told apart.
        """
        now = self._now()
        saved = _SavedArticle("none", None)
        with self._transaction():
            if page.article is not None:
                article = page.article
                url = canonical_url(article.url if is_followable(article.url) else page.url)
                own = canonical_url(page.url) if is_followable(page.url) else url
                if url != own and not self._may_hold(url, article.body):
                    url = own  # a careless canonical (a section page): not another story's row
                link = canonical_url(requested_url) if is_followable(requested_url or "") else own
                if link != url and read_from is None:
                    self._move_stand_in(link, url)
                saved = self._save_article(
                    source, url, page, article, fetch_id, matcher, now, read_from
                )
                if link != url and saved.article_id is not None:  # a redirect, a rel=canonical
                    self._remember_alias(link, saved.article_id)
            new_flags = saved.new_flags
            new_items = seen_items = 0
            for item in _distinct_followable(page.ticker):
                item_id, flags = self._save_ticker_item(source, item, matcher, now)
                if item_id is None:
                    seen_items += 1
                else:
                    new_items += 1
                    new_flags += flags
        return SaveResult(
            article=saved.outcome,
            article_id=saved.article_id,
            duplicate_of=saved.duplicate_of,
            new_ticker_items=new_items,
            seen_ticker_items=seen_items,
            new_flags=new_flags,
            story_of=saved.story_of,
            merged_stories=saved.merged,
        )

    def _may_hold(self, url: str, body: str) -> bool:
        """Whether the article a page names as its own URL may be stored there: nothing is
        stored there yet, or a stand-in, or the same text (word for word, or the same story)."""
        row = self.db.execute(
            "SELECT body, read_from FROM articles WHERE url = ?", [url]
        ).fetchone()
        if row is None or row[1] is not None:
            return True
        if content_words(row[0]) == content_words(body):
            return True
        return resemblance(shingles(row[0]), shingles(body)) >= SAME_STORY

    def _move_stand_in(self, link: str, url: str) -> None:
        """An article stored from its entry under the link's URL, whose page turned out to
        live at `url` (a redirect, a rel=canonical), moves there to be upgraded."""
        self.db.execute(
            "UPDATE articles SET url = ? WHERE url = ? AND read_from IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM articles WHERE url = ?)",
            [url, link, url],
        )

    def _remember_alias(self, url: str, article_id: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO article_aliases (url, article_id)"
            " SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM articles WHERE url = ?)",
            [url, article_id, url],
        )

    def _save_article(
        self,
        source: str,
        url: str,
        page: Page,
        article: Article,
        fetch_id: int | None,
        matcher: Matcher,
        now: str,
        read_from: str | None = None,
    ) -> _SavedArticle:
        """`url`: the canonical URL the article is stored under."""
        known = self.db.execute(
            "SELECT id, read_from, duplicate_of, story_id FROM articles WHERE url = ?", [url]
        ).fetchone()
        if known is not None and read_from is None and known[1] is not None and known[2] is None:
            return self._upgrade(known[0], known[3], page, article, fetch_id, matcher, now)
        if known is not None:
            self.db.execute("UPDATE articles SET last_seen = ? WHERE id = ?", [now, known[0]])
            return _SavedArticle("known", known[0])
        content_hash = fingerprint(article.body) or None
        original = None
        if content_hash is not None:
            original = self.db.execute(
                "SELECT id, url, story_id FROM articles"
                " WHERE fingerprint = ? AND duplicate_of IS NULL",
                [content_hash],
            ).fetchone()
        story = Placement(original[2], 1.0) if original else None
        own_shingles = frozenset[int]() if original else shingles(article.body)
        keys = _lsh_keys_of(own_shingles)
        week = _week_of(now)
        if original is None and keys:
            story = place(own_shingles, self._story_candidates(keys, week))
        record = {
            "url": url,
            "fetched_url": page.url,
            "source": source,
            **_article_text(article),
            "fingerprint": content_hash,
            "duplicate_of": original[0] if original else None,
            "first_seen": now,
            "last_seen": now,
            "fetch_id": fetch_id,
            "story_id": story.story_id if story else None,
            "resemblance": story.resemblance if story else None,
            "read_from": read_from,
        }
        article_id = self._insert("articles", record)
        if original is not None:
            return _SavedArticle("duplicate", article_id, duplicate_of=original[1])
        _insert_lsh_keys(self.db, article_id, week, keys)
        matches = matcher(_article_fields(article.title, article.body))
        if story is None or story.story_id is None:
            self.db.execute("UPDATE articles SET story_id = id WHERE id = ?", [article_id])
            return _SavedArticle(
                "new", article_id, new_flags=self._insert_flags("article", article_id, matches, now)
            )
        for merged in story.merged:  # the article showed these stories are one
            self.db.execute(
                "UPDATE articles SET story_id = ? WHERE story_id = ?", [story.story_id, merged]
            )
        flagged = self._story_rules(story.story_id, before=article_id)
        matches = [match for match in matches if match.rule not in flagged]
        first_url = self.db.execute(
            "SELECT url FROM articles WHERE id = ?", [story.story_id]
        ).fetchone()[0]
        return _SavedArticle(
            "new",
            article_id,
            new_flags=self._insert_flags("article", article_id, matches, now),
            story_of=first_url,
            merged=len(story.merged),
        )

    def _upgrade(
        self,
        article_id: int,
        story_id: int,
        page: Page,
        article: Article,
        fetch_id: int | None,
        matcher: Matcher,
        now: str,
    ) -> _SavedArticle:
        """The page of an article stored from its feed entry or listing item was read: the row
        takes the page's text, keeps its id, story and flags; rules run on the new text, and
        a rule that already flagged the story does not flag it again (no second alert)."""
        content_hash = fingerprint(article.body) or None
        if (
            content_hash is not None
            and self.db.execute(
                "SELECT 1 FROM articles WHERE fingerprint = ? AND duplicate_of IS NULL AND id != ?",
                [content_hash, article_id],
            ).fetchone()
        ):
            content_hash = None  # another URL's copy of the same text: this row stays first
        self.db.execute(
            "UPDATE articles SET title = :title, published = coalesce(:published, published),"
            " location = coalesce(:location, location),"
            " source_line = coalesce(:source_line, source_line), body = :body,"
            " language = coalesce(:language, language), fingerprint = :fingerprint,"
            " fetched_url = :fetched_url, fetch_id = :fetch_id, last_seen = :now,"
            " read_from = NULL WHERE id = :id",
            {
                **_article_text(article),
                "fingerprint": content_hash,
                "fetched_url": page.url,
                "fetch_id": fetch_id,
                "now": now,
                "id": article_id,
            },
        )
        keys = _lsh_keys_of(shingles(article.body))
        self.db.execute("DELETE FROM article_lsh WHERE article_id = ?", [article_id])
        (first_seen,) = self.db.execute(
            "SELECT first_seen FROM articles WHERE id = ?", [article_id]
        ).fetchone()
        _insert_lsh_keys(self.db, article_id, _week_of(first_seen), keys)
        flagged = self._story_rules(story_id, before=article_id + 1)
        matches = [
            match
            for match in matcher(_article_fields(article.title, article.body))
            if match.rule not in flagged
        ]
        return _SavedArticle(
            "upgraded",
            article_id,
            new_flags=self._insert_flags("article", article_id, matches, now),
        )

    def _story_candidates(self, keys: Sequence[int], week: int) -> list[Candidate]:
        """The stored articles a new one may belong with: those of the last STORY_WEEKS weeks
        sharing an LSH band with it (the STORY_CANDIDATES sharing the most), and the other
        members of their stories of those weeks (as many again at most), so that a copy is
        compared with every version of its story, not only with those LSH happened to pair
        it with. The cost does not grow with the number of articles stored.
        """
        weeks = list(range(week - STORY_WEEKS + 1, week + 1))
        rows = self.db.execute(
            "SELECT articles.id, articles.story_id, articles.body FROM articles JOIN"
            " (SELECT article_id, count(*) AS bands FROM article_lsh"
            f"  WHERE week IN ({', '.join('?' * len(weeks))})"
            f"  AND key IN ({', '.join('?' * len(keys))})"
            "  GROUP BY article_id ORDER BY bands DESC, article_id DESC LIMIT ?) AS near"
            " ON articles.id = near.article_id",
            [*weeks, *keys, STORY_CANDIDATES],
        ).fetchall()
        seen = {row[0] for row in rows}
        stories = sorted({row[1] for row in rows})
        if stories:
            since = utc_iso(datetime.fromtimestamp(weeks[0] * WEEK_SECONDS, UTC))
            members = self.db.execute(
                "SELECT id, story_id, body FROM articles"
                f" WHERE story_id IN ({', '.join('?' * len(stories))})"
                " AND duplicate_of IS NULL AND first_seen >= ?"
                " ORDER BY id DESC LIMIT ?",
                [*stories, since, STORY_CANDIDATES + len(seen)],
            ).fetchall()
            rows += [row for row in members if row[0] not in seen][:STORY_CANDIDATES]
        return [Candidate(row[0], row[1], shingles(row[2])) for row in rows]

    def _story_rules(self, story_id: int, *, before: int) -> set[str]:
        """Rules that flagged an article of the story stored before article `before`."""
        return {
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT flags.rule FROM articles JOIN flags"
                " ON flags.kind = 'article' AND flags.item_id = articles.id"
                " WHERE articles.story_id = ? AND articles.id < ?",
                [story_id, before],
            )
        }

    def _save_ticker_item(
        self, source: str, item: TickerItem, matcher: Matcher, now: str
    ) -> tuple[int | None, int]:
        """Returns (id, new flags) for a new item, (None, 0) for one seen before."""
        url = canonical_url(item.url)
        published = _iso_date(item.published)
        seen = self.db.execute(
            "UPDATE ticker_items SET last_seen = ?, seen_count = seen_count + 1,"
            " region = coalesce(region, ?), published = coalesce(published, ?) WHERE url = ?",
            [now, item.region, published, url],
        )
        if seen.rowcount:
            return None, 0
        record = {
            "url": url,
            "region": item.region,
            "published": published,
            "text": item.text,
            "source": source,
            "first_seen": now,
            "last_seen": now,
            "seen_count": 1,
        }
        item_id = self._insert("ticker_items", record)
        matches = matcher(_ticker_fields(item.text))
        return item_id, self._insert_flags("ticker", item_id, matches, now)

    def _insert_flags(
        self, kind: ItemKind, item_id: int, matches: Sequence[RuleMatchLike], now: str
    ) -> int:
        rows = _flag_rows(kind, item_id, matches, now)
        self.db.conn.executemany(_INSERT_FLAG, rows)
        return len(rows)

    def record_run(
        self,
        source: str,
        *,
        started_at: datetime,
        finished_at: datetime,
        ok: bool,
        pages_fetched: int,
        new_articles: int,
        new_ticker_items: int,
        duplicates: int,
        flags: int,
        errors: int,
        error: str | None = None,
        error_kind: str | None = None,
        items_found: int | None = None,
        not_modified: bool = False,
    ) -> None:
        record = {
            "source": source,
            "started_at": utc_iso(started_at),
            "finished_at": utc_iso(finished_at),
            "ok": int(ok),
            "pages_fetched": pages_fetched,
            "new_articles": new_articles,
            "new_ticker_items": new_ticker_items,
            "duplicates": duplicates,
            "flags": flags,
            "errors": errors,
            "error": error,
            "error_kind": error_kind,
            "items_found": items_found,
            "not_modified": int(not_modified),
        }
        with self._transaction():
            self._insert("runs", record)

    def prune_log(
        self, older_than: datetime, *, keep_going: Callable[[], bool] = lambda: True
    ) -> PruneResult:
        """Delete the request and run records from before `older_than`.

        They are a log: a year of half-hourly runs over a hundred sources is millions of rows
        that nobody reads. Kept whatever their age: the request that stored each article
        (articles.fetch_id) and, per source, its latest successful run and every run since
        (what `status` and the daemon's backoff read; a source that never worked keeps its
        last KEPT_FAILURES runs). Stories, ticker items, flags and
        alerts are never pruned. Candidates are read without the write lock; each batch is
        deleted in a transaction of its own, so a daemon writing meanwhile waits
        milliseconds, not minutes; `keep_going` is asked between batches (a stopping daemon
        ends the prune early; the next one finishes it).
        """
        cutoff = utc_iso(older_than)
        stored_nothing = "NOT EXISTS (SELECT 1 FROM articles WHERE articles.fetch_id = fetches.id)"
        fetches = self._prune_batches(
            "SELECT id, " + stored_nothing + " FROM fetches WHERE id > ? AND fetched_at < ?"
            " ORDER BY id LIMIT ?",
            "DELETE FROM fetches WHERE id IN (SELECT value FROM json_each(?)) AND "
            + stored_nothing,  # asked again under the lock: the read above was without it
            cutoff,
            keep_going,
            doomed=lambda _id, unreferenced: bool(unreferenced),
        )
        latest_good: dict[str, str] = dict(
            self.db.execute("SELECT source, max(started_at) FROM runs WHERE ok = 1 GROUP BY source")
        )
        never_good = {
            row[0]
            for row in self.db.execute("SELECT DISTINCT source FROM runs")
            if row[0] not in latest_good
        }
        last_failures = {
            row[0]
            for source in never_good
            for row in self.db.execute(
                "SELECT id FROM runs WHERE source = ? ORDER BY started_at DESC, id DESC LIMIT ?",
                [source, KEPT_FAILURES],
            )
        }
        runs = self._prune_batches(
            "SELECT id, source, started_at FROM runs WHERE id > ? AND started_at < ?"
            " ORDER BY id LIMIT ?",
            "DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))",
            cutoff,
            keep_going,
            doomed=lambda run_id, source, started_at: (
                started_at < latest_good[source]
                if source in latest_good
                else run_id not in last_failures
            ),
        )
        return PruneResult(fetches=fetches, runs=runs)

    def _prune_batches(
        self,
        select: str,
        delete: str,
        cutoff: str,
        keep_going: Callable[[], bool],
        doomed: Callable[..., bool],
    ) -> int:
        """Read candidates a batch at a time (`select`: ids first, in order, after a given id),
        and `delete` those `doomed` says may go, a transaction per batch."""
        deleted = after = 0
        while keep_going():
            rows = self.db.execute(select, [after, cutoff, PRUNE_BATCH]).fetchall()
            if not rows:
                break
            ids = [row[0] for row in rows if doomed(*row)]
            if ids:
                with self._transaction():
                    deleted += self.db.execute(delete, [json.dumps(ids)]).rowcount
            after = rows[-1][0]
        return deleted

    def set_next_run(self, source: str, when: datetime | None) -> None:
        """What the daemon plans, for `newswatch status`; None: no daemon runs it."""
        with self._transaction():
            self.db.execute(
                "UPDATE sources SET next_run_at = ? WHERE name = ?",
                [utc_iso(when) if when else None, source],
            )

    def clear_next_runs(self) -> None:
        """The daemon stops: nothing is planned any more."""
        with self._transaction():
            self.db.execute("UPDATE sources SET next_run_at = NULL")

    def validators(self, url: str) -> HttpValidators | None:
        """The ETag / Last-Modified `url` last answered with, if a complete run kept them."""
        row = self.db.execute(
            "SELECT etag, last_modified, read_with FROM http_validators WHERE url = ?", [url]
        ).fetchone()
        return HttpValidators(*row) if row else None

    def save_validators(
        self, url: str, *, etag: str | None, last_modified: str | None, read_with: str | None
    ) -> None:
        """Keep the validators of a page whose every link was followed; none: forget."""
        if etag is None and last_modified is None:
            self.forget_validators(url)
            return
        with self._transaction():
            self.db.execute(
                "INSERT INTO http_validators (url, etag, last_modified, read_with, checked_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,"
                " last_modified = excluded.last_modified, read_with = excluded.read_with,"
                " checked_at = excluded.checked_at",
                [url, etag, last_modified, read_with, self._now()],
            )

    def forget_validators(self, url: str) -> None:
        """The next request for `url` is unconditional (its last run left work undone)."""
        with self._transaction():
            self.db.execute("DELETE FROM http_validators WHERE url = ?", [url])

    def robots_files(self) -> list[tuple[str, str | None, datetime]]:
        """Every kept robots.txt as (origin, body, fetched_at); body None: the host has none."""
        return [
            (origin, body, datetime.strptime(fetched_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
            for origin, body, fetched_at in self.db.execute(
                "SELECT origin, body, fetched_at FROM robots_files"
            )
        ]

    def save_robots_file(self, origin: str, body: str | None, fetched_at: datetime) -> None:
        """Keep a host's robots.txt as just fetched (body None: the host has none)."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO robots_files (origin, body, fetched_at) VALUES (?, ?, ?)"
                " ON CONFLICT (origin) DO UPDATE SET body = excluded.body,"
                " fetched_at = excluded.fetched_at",
                [origin, body, utc_iso(fetched_at)],
            )

    def mark_unavailable(
        self,
        url: str,
        *,
        status: int | None,
        error: str,
        source: str | None = None,
        schedule: Callable[[int, datetime], datetime | None],
    ) -> None:
        """Remember that `url` failed again; it is skipped until its retry time.
        `schedule(failures, first_failed_at)`: that time (newswatch.retry), None to give up."""
        now = self._clock()
        key = canonical_url(url)
        with self._transaction():
            row = self.db.execute(
                "SELECT failures, first_failed_at FROM unavailable_urls WHERE url = ?", [key]
            ).fetchone()
            failures = (row[0] if row else 0) + 1
            first_failed = datetime.fromisoformat(row[1]) if row else now
            retry = schedule(failures, first_failed)
            self.db.execute(
                "INSERT INTO unavailable_urls (url, status, error, failures, first_failed_at,"
                " last_failed_at, retry_at, source, given_up_at)"
                " VALUES (:url, :status, :error, :failures, :now, :now, :retry, :source, :given_up)"
                " ON CONFLICT (url) DO UPDATE SET status = excluded.status,"
                " error = excluded.error, failures = :failures,"
                " last_failed_at = excluded.last_failed_at, retry_at = excluded.retry_at,"
                " source = coalesce(excluded.source, source), given_up_at = excluded.given_up_at",
                {
                    "url": key,
                    "status": status,
                    "error": error,
                    "failures": failures,
                    "now": utc_iso(now),
                    "retry": utc_iso(retry) if retry is not None else NEVER,
                    "source": source,
                    "given_up": utc_iso(now) if retry is None else None,
                },
            )

    def given_up_links(self, source: str) -> list[dict[str, Any]]:
        """Links of `source` given up after failing for days: url, status, error,
        first_failed_at, given_up_at; newest first."""
        return list(
            self.db.query(
                "SELECT url, status, error, first_failed_at, given_up_at FROM unavailable_urls"
                " WHERE source = ? AND given_up_at IS NOT NULL ORDER BY given_up_at DESC, url",
                [source],
            )
        )

    def awaiting_pages(self, source: str, *, limit: int = 200) -> list[str]:
        """URLs of `source`'s articles stored from a feed entry or listing item, whose page is
        still to be read (and not given up), newest first."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT url FROM articles WHERE source = :source AND read_from IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM unavailable_urls"
                "   WHERE unavailable_urls.url = articles.url AND given_up_at IS NOT NULL)"
                " ORDER BY first_seen DESC, id DESC LIMIT :limit",
                {"source": source, "limit": limit},
            )
        ]

    def clear_unavailable(self, url: str) -> None:
        """`url` answered again."""
        with self._transaction():
            self.db.execute("DELETE FROM unavailable_urls WHERE url = ?", [canonical_url(url)])

    def reapply_rules(self, matcher: Matcher) -> ReapplyResult:
        """Re-judge every stored original article and ticker item after the rules changed.

        Flags still selected keep their flagged_at (their terms and evidence are
        refreshed); flags of rules that no longer select an item are deleted. As when
        stored, a rule flags a story once: on the first of its articles that it selects.
        """
        now = self._now()
        added = removed = kept = 0
        walks: tuple[tuple[ItemKind, Iterator[_ItemBatch]], ...] = (
            ("article", self._article_batches()),
            ("ticker", self._ticker_batches()),
        )
        with self._transaction():
            for kind, batches in walks:
                for batch in batches:
                    counts = self._reapply_batch(kind, batch, matcher, now)
                    added, removed, kept = added + counts[0], removed + counts[1], kept + counts[2]
            removed += self.db.execute(
                "DELETE FROM flags WHERE (kind = 'article' AND item_id NOT IN"
                " (SELECT id FROM articles WHERE duplicate_of IS NULL))"
                " OR (kind = 'ticker' AND item_id NOT IN (SELECT id FROM ticker_items))"
            ).rowcount
        return ReapplyResult(added=added, removed=removed, kept=kept)

    def _article_batches(self) -> Iterator[_ItemBatch]:
        sql = (
            "SELECT id, title, body FROM articles WHERE duplicate_of IS NULL AND id > ?"
            " ORDER BY id LIMIT ?"
        )
        last_id = 0
        while rows := self.db.execute(sql, [last_id, _BATCH_SIZE]).fetchall():
            yield [(row[0], _article_fields(row[1], row[2])) for row in rows]
            last_id = rows[-1][0]

    def _ticker_batches(self) -> Iterator[_ItemBatch]:
        sql = "SELECT id, text FROM ticker_items WHERE id > ? ORDER BY id LIMIT ?"
        last_id = 0
        while rows := self.db.execute(sql, [last_id, _BATCH_SIZE]).fetchall():
            yield [(row[0], _ticker_fields(row[1])) for row in rows]
            last_id = rows[-1][0]

    def _reapply_batch(
        self,
        kind: ItemKind,
        batch: _ItemBatch,
        matcher: Matcher,
        now: str,
    ) -> tuple[int, int, int]:
        existing: dict[int, dict[str, dict[str, Any]]] = {}
        for flag in self.db.query(
            "SELECT id, rule, item_id, matched, evidence, fields FROM flags"
            " WHERE kind = ? AND item_id BETWEEN ? AND ?",
            [kind, batch[0][0], batch[-1][0]],
        ):
            existing.setdefault(flag["item_id"], {})[flag["rule"]] = flag
        joined = self._joined_stories(batch) if kind == "article" else {}
        added = removed = kept = 0
        new_flags: list[dict[str, Any]] = []  # inserted together, before reads that need them
        for item_id, fields in batch:
            stored = existing.get(item_id, {})
            wanted = _matches_by_rule(matcher(fields))
            if item_id in joined:  # items are judged in id order: earlier ones are settled
                self.db.conn.executemany(_INSERT_FLAG, new_flags)
                new_flags.clear()
                taken = self._story_rules(joined[item_id], before=item_id)
                wanted = {rule: match for rule, match in wanted.items() if rule not in taken}
            for rule in stored.keys() - wanted.keys():
                self.db.execute("DELETE FROM flags WHERE id = ?", [stored[rule]["id"]])
                removed += 1
            rows = _flag_rows(
                kind, item_id, [m for rule, m in wanted.items() if rule not in stored], now
            )
            new_flags += rows
            added += len(rows)
            for rule in stored.keys() & wanted.keys():
                details = _flag_details(wanted[rule])
                if any(stored[rule][column] != details[column] for column in details):
                    self.db.execute(
                        "UPDATE flags SET matched = :matched, evidence = :evidence,"
                        " fields = :fields WHERE id = :id",
                        details | {"id": stored[rule]["id"]},
                    )
                kept += 1
        self.db.conn.executemany(_INSERT_FLAG, new_flags)
        return added, removed, kept

    def _joined_stories(self, batch: _ItemBatch) -> dict[int, int]:
        """Story ids of the batch's articles that joined a story begun by another article."""
        return dict(
            self.db.execute(
                "SELECT id, story_id FROM articles WHERE id BETWEEN ? AND ? AND story_id != id",
                [batch[0][0], batch[-1][0]],
            ).fetchall()
        )

    # --- reading -------------------------------------------------------------------------

    def unavailable_urls(self, urls: Iterable[str]) -> dict[str, bool]:
        """Those of `urls` (canonical) that failed for good before: True when still to be
        skipped, False when their retry time has come."""
        wanted = [canonical_url(url) for url in urls if is_followable(url)]
        now = self._now()
        found: dict[str, bool] = {}
        for start in range(0, len(wanted), _BATCH_SIZE):
            chunk = wanted[start : start + _BATCH_SIZE]
            placeholders = ", ".join("?" * len(chunk))
            for url, retry_at in self.db.execute(
                f"SELECT url, retry_at FROM unavailable_urls WHERE url IN ({placeholders})", chunk
            ):
                found[url] = retry_at > now
        return found

    def unfetched_ticker_urls(self, source: str, *, limit: int = 1000) -> list[str]:
        """Ticker targets `source` saw first whose article is not stored (nor known to be
        unavailable), newest first: links an earlier run found but could not follow
        (page budget, transient failures, a shutdown)."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT url FROM ticker_items WHERE source = :source"
                " AND NOT EXISTS (SELECT 1 FROM articles WHERE articles.url = ticker_items.url)"
                " AND NOT EXISTS (SELECT 1 FROM unavailable_urls"
                "   WHERE unavailable_urls.url = ticker_items.url AND retry_at > :now)"
                " ORDER BY first_seen DESC, id DESC LIMIT :limit",
                {"source": source, "now": self._now(), "limit": limit},
            )
        ]

    def consecutive_failures(self, source: str) -> int:
        """Failed runs since the last good one; runs cut short by a shutdown do not count."""
        failures: int = self.db.execute(
            "SELECT count(*) FROM runs WHERE source = :name AND ok = 0"
            " AND coalesce(error_kind, '') != 'interrupted' AND started_at >"
            " coalesce((SELECT max(started_at) FROM runs WHERE source = :name AND ok = 1), '')",
            {"name": source},
        ).fetchone()[0]
        return failures

    def known_article_urls(self, urls: Iterable[str]) -> set[str]:
        """Those of `urls` whose canonical form is already stored (as original or duplicate,
        or as a link that redirected to a stored article), not counting articles stored from
        a feed entry or listing item whose page is still to be read."""
        by_canonical: dict[str, list[str]] = {}
        for url in urls:
            if is_followable(url):
                by_canonical.setdefault(canonical_url(url), []).append(url)
        canonical = list(by_canonical)
        known: set[str] = set()
        for start in range(0, len(canonical), _BATCH_SIZE):
            chunk = canonical[start : start + _BATCH_SIZE]
            placeholders = ", ".join("?" * len(chunk))
            for (url,) in self.db.execute(
                f"SELECT url FROM articles WHERE url IN ({placeholders}) AND read_from IS NULL"
                f" UNION SELECT url FROM article_aliases WHERE url IN ({placeholders})",
                chunk + chunk,
            ):
                known.update(by_canonical[url])
        return known

    def has_flags(self, rule: str) -> bool:
        """Whether any story was flagged by `rule` (a rule since removed from the rules file
        keeps its flags)."""
        found = self.db.execute("SELECT 1 FROM flags WHERE rule = ? LIMIT 1", [rule]).fetchone()
        return found is not None

    def flagged(
        self, *, rule: str | None = None, since: date | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows of the `flagged` view, newest flag first; `since` compares with flagged_at.

        matched, evidence and fields are decoded from JSON into lists.
        """
        where, params = _flag_filters("rule = :rule", rule, since, limit)
        sql = f"SELECT * FROM flagged{where} ORDER BY flagged_at DESC, published DESC, item_id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
        rows = []
        for row in self.db.query(sql, params):
            rows.append(row | {column: json.loads(row[column]) for column in _JSON_COLUMNS})
        return rows

    def flagged_stories(
        self,
        *,
        rule: str | None = None,
        since: date | None = None,
        limit: int | None = None,
        order: StoryOrder = "published",
    ) -> list[dict[str, Any]]:
        """Rows of the `flagged_stories` view: each flagged story once, with every source that
        carried it. Newest publication date first (the day first seen for a story without
        one), flag time breaking ties; order="flagged": newest first flag first. `since`
        compares with the publication date (else the day first seen).

        rules, matched and sources are decoded from JSON.
        """
        where, params = _flag_filters(
            "EXISTS (SELECT 1 FROM json_each(rules) WHERE value = :rule)",
            rule,
            since,
            limit,
            day=_PUBLISHED_OR_SEEN,
        )
        if order == "flagged":
            sort = f"flagged_at DESC, {_PUBLISHED_OR_SEEN} DESC, story DESC"
        else:
            sort = f"{_PUBLISHED_OR_SEEN} DESC, flagged_at DESC, story DESC"
        sql = f"SELECT * FROM flagged_stories{where} ORDER BY {sort}"
        if limit is not None:
            sql += " LIMIT :limit"
        return [
            row | {column: json.loads(row[column]) for column in ("rules", "matched", "sources")}
            for row in self.db.query(sql, params)
        ]

    def flagged_story_fields(self, story: int | None, url: str) -> dict[str, str]:
        """The rule fields a flagged story was judged on: its first flagged article's title and
        body, else (a story flagged only as a ticker teaser) the teaser's text."""
        if story is not None:
            for title, body in self.db.execute(
                "SELECT title, body FROM articles WHERE story_id = ? AND duplicate_of IS NULL"
                " AND id IN (SELECT item_id FROM flags WHERE kind = 'article')"
                " ORDER BY id LIMIT 1",
                [story],
            ):
                return dict(_article_fields(title, body))
        for (text,) in self.db.execute(
            "SELECT text FROM ticker_items WHERE url = ?"
            " OR url IN (SELECT url FROM article_aliases WHERE article_id = ?)"
            " OR url = (SELECT url FROM articles WHERE id = ?) LIMIT 1",
            [url, story, story],
        ):
            return dict(_ticker_fields(text))
        return {}

    def search(
        self, query: str, *, limit: int = 20, max_ranked: int | None = MAX_RANKED_MATCHES
    ) -> SearchResult:
        """Full-text search over original articles: best match first when at most
        `max_ranked` articles match (None: however many), else the most recently stored
        first.

        Plain words are quoted, so punctuation is harmless; FTS5 syntax (upper-case
        AND/OR/NOT/NEAR, prefix*, title:) is passed through with its hyphenated words made
        phrases, and if it is malformed the QueryError says so.
        """
        if not query.strip():
            raise QueryError("empty search query")
        uses_fts_syntax = bool(_FTS_SYNTAX.search(query))
        match = _quote_hyphenated(query) if uses_fts_syntax else _quote_words(query)
        columns = (
            "SELECT articles.id, articles.url, articles.title, articles.published,"
            " articles.source, articles.location,"
            " snippet(articles_fts, -1, '[', ']', '…', 12) AS snippet"
        )
        joined = " FROM articles_fts JOIN articles ON articles.id = articles_fts.rowid"
        try:
            broad = max_ranked is not None and self._matches_more_than(match, max_ranked)
            order = "articles_fts.rowid DESC" if broad else "articles_fts.rank"
            rank = "NULL" if broad else "articles_fts.rank"
            hits = list(
                self.db.query(
                    f"{columns}, {rank} AS rank{joined} WHERE articles_fts MATCH :match"
                    f" ORDER BY {order} LIMIT :limit",
                    {"match": match, "limit": limit},
                )
            )
        except sqlite3.OperationalError as error:
            if any(sign in str(error) for sign in _DATABASE_TROUBLE):
                raise NewswatchError(f"{self.path}: cannot search: {error}") from error
            hint = " (put words in double quotes to search for them literally)"
            raise QueryError(
                f"bad search query {query!r}: {error}{hint if uses_fts_syntax else ''}"
            ) from error
        return SearchResult(hits, latest_stored_above=max_ranked if broad else None)

    def _matches_more_than(self, match: str, count: int) -> bool:
        """Whether more than `count` articles match: the index is walked by rowid down and
        stops there, where ranking (bm25 counts every match of every word first) would read
        them all: a word in most of a million articles costs milliseconds, not half a
        second."""
        return (
            self.db.execute(
                "SELECT 1 FROM articles_fts WHERE articles_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                [match, count],
            ).fetchone()
            is not None
        )

    def source_status(self, *, daemon_running: bool = True) -> list[dict[str, Any]]:
        """Per source: what is stored, how its runs went, and one `health` word.

        health: "ok" (the last run worked), "parser problem" (the source's page was
        fetched but parsed to nothing: the site's layout has probably changed), "not a
        feed" (a feed source's page is a web page: its URL is wrong),
        "backing off" (failing, and a daemon has put its next run off), "failing" (no
        daemon runs it), "never run", or "no run finished" (runs were started, and may
        have stored stories, but were cut short). A run cut short by a shutdown says
        nothing about health. A daemon killed without a chance to clean up leaves its last
        plans behind: a next_run_at long past; with `daemon_running` False (no daemon holds
        the database's lock) they are left out, and a failing source is "failing".
        """
        names = [row[0] for row in self.db.execute(_SOURCE_NAMES)]
        return [self._source_status(name, daemon_running) for name in names]

    def _source_status(self, name: str, daemon_running: bool) -> dict[str, Any]:
        def scalar(sql: str) -> Any:
            return self.db.execute(sql, {"name": name}).fetchone()[0]

        source = self.db.execute(
            "SELECT url, profile, next_run_at FROM sources WHERE name = ?", [name]
        ).fetchone() or (None, None, None)
        next_run_at = source[2] if daemon_running else None
        last_run = self._last_run(name, include_interrupted=True)
        judged_run = self._last_run(name, include_interrupted=False)
        failures = self.consecutive_failures(name)
        recent_items = [
            row[0]
            for row in self.db.execute(
                "SELECT items_found FROM runs WHERE source = ? AND ok = 1"
                " AND items_found IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT ?",
                [name, RECENT_RUNS],
            )
        ]
        counts = self.db.execute(
            "SELECT articles, duplicates, ticker_items, flags FROM source_counts WHERE source = ?",
            [name],
        ).fetchone() or (0, 0, 0, 0)
        status: dict[str, Any] = {
            "name": name,
            "health": _health(
                judged_run,
                next_run_at=next_run_at,
                ever_fetched=last_run is not None
                or any(counts)  # stored things, though its requests were pruned since
                or self.db.execute(
                    "SELECT 1 FROM fetches WHERE source = ? LIMIT 1", [name]
                ).fetchone()
                is not None,
            ),
            "url": source[0],
            "profile": source[1],
            "articles": counts[0],
            "duplicates": counts[1],
            "ticker_items": counts[2],
            "flags": counts[3],
            "last_success_at": scalar(
                "SELECT max(finished_at) FROM runs WHERE source = :name AND ok = 1"
            ),
            "consecutive_failures": failures,
            "usual_items": statistics.median_low(recent_items) if recent_items else None,
            "next_run_at": next_run_at,
            "given_up_links": self.given_up_links(name),
        }
        for column in _RUN_STATUS_COLUMNS:
            status[f"last_run_{column}"] = last_run[column] if last_run else None
        if last_run:
            status["last_run_ok"] = bool(last_run["ok"])
            status["last_run_not_modified"] = bool(last_run["not_modified"])
        return status

    def _last_run(self, name: str, *, include_interrupted: bool) -> dict[str, Any] | None:
        condition = "" if include_interrupted else " AND coalesce(error_kind, '') != 'interrupted'"
        return next(
            self.db.query(
                f"SELECT * FROM runs WHERE source = :name{condition}"
                " ORDER BY started_at DESC, id DESC LIMIT 1",
                {"name": name},
            ),
            None,
        )

    # --- alerts (the outbox of newswatch.notify) and exports ------------------------------

    def now(self) -> datetime:
        """The store's clock, so callers judge times the way the store records them."""
        return self._clock()

    def sync_alert_channels(self, channels: Sequence[AlertChannel]) -> dict[tuple[str, str], int]:
        """Record the configured channels; returns their ids by (target, url_digest).

        A new channel, or one whose rule changed, owes only what is flagged from now on.
        Channels no longer configured are kept, with active = 0.
        """
        now = self._now()
        ids: dict[tuple[str, str], int] = {}
        with self._transaction():
            self.db.execute("UPDATE alert_channels SET active = 0")
            for channel in channels:
                key = (channel.target, channel.url_digest)
                row = self.db.execute(
                    "SELECT id, rule, watching_since FROM alert_channels"
                    " WHERE target = ? AND url_digest = ?",
                    key,
                ).fetchone()
                if row is None:
                    record = {
                        "target": channel.target,
                        "url_digest": channel.url_digest,
                        "label": channel.label,
                        "rule": channel.rule,
                        "watching_since": now,
                    }
                    ids[key] = self._insert("alert_channels", record)
                    continue
                ids[key] = row[0]
                self.db.execute(
                    "UPDATE alert_channels SET label = ?, rule = ?, watching_since = ?,"
                    " active = 1 WHERE id = ?",
                    [
                        channel.label,
                        channel.rule,
                        row[2] if row[1] == channel.rule else now,
                        row[0],
                    ],
                )
        return ids

    def alert_channel(self, channel_id: int) -> dict[str, Any]:
        """A channel's row, plus last_message_at: when its latest message was claimed."""
        row: dict[str, Any] = next(
            self.db.query(
                "SELECT *, (SELECT max(created_at) FROM alert_messages WHERE channel_id = :id)"
                " AS last_message_at FROM alert_channels WHERE id = :id",
                {"id": channel_id},
            )
        )
        return row

    def unfinished_alert_message(self, channel_id: int) -> dict[str, Any] | None:
        """The channel's oldest message not sent yet ('pending' or 'sending')."""
        return next(
            self.db.query(
                "SELECT * FROM alert_messages WHERE channel_id = ? AND state != 'sent'"
                " ORDER BY id LIMIT 1",
                [channel_id],
            ),
            None,
        )

    def claim_alert_message(
        self,
        channel_id: int,
        *,
        limit: int,
        render: Callable[[list[dict[str, Any]]], tuple[str, str]],
    ) -> dict[str, Any] | None:
        """Put up to `limit` flags the channel owes (rows of `flagged`, oldest first) into
        one new message, atomically; None when it owes nothing.

        Its key, title and body (`render`'s) are fixed from now on, and its flags are owed
        no more, whatever becomes of the message.
        """
        with self._transaction():
            rows = [
                row | {column: json.loads(row[column]) for column in _JSON_COLUMNS}
                for row in self.db.query(
                    f"{_OWED_FLAGS} LIMIT :limit", {"channel": channel_id, "limit": limit}
                )
            ]
            if not rows:
                return None
            title, body = render(rows)
            record = {
                "channel_id": channel_id,
                "key": uuid.uuid4().hex,
                "title": title,
                "body": body,
                "flags": len(rows),
                "state": "pending",
                "created_at": self._now(),
            }
            message_id = self._insert("alert_messages", record)
            for row in rows:
                self.db.execute(
                    "INSERT INTO alert_deliveries (channel_id, rule, kind, item_id, message_id)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [channel_id, row["rule"], row["kind"], row["item_id"], message_id],
                )
            message: dict[str, Any] = next(
                self.db.query("SELECT * FROM alert_messages WHERE id = ?", [message_id])
            )
        return message

    def begin_alert_send(self, message_id: int, *, attempts: int, lease_until: datetime) -> bool:
        """Mark a message 'sending' until `lease_until`; False if another process got there
        first (its attempt count is no longer `attempts`)."""
        with self._transaction():
            updated = self.db.execute(
                "UPDATE alert_messages SET state = 'sending', attempts = attempts + 1,"
                " last_attempt_at = ?, lease_until = ?"
                " WHERE id = ? AND attempts = ? AND state != 'sent'",
                [self._now(), utc_iso(lease_until), message_id, attempts],
            ).rowcount
        return bool(updated)

    def finish_alert_send(self, message_id: int) -> None:
        """The message was accepted: it is sent, and its channel is healthy."""
        now = self._now()
        with self._transaction():
            self.db.execute(
                "UPDATE alert_messages SET state = 'sent', sent_at = ?, lease_until = NULL"
                " WHERE id = ?",
                [now, message_id],
            )
            self.db.execute(
                "UPDATE alert_channels SET failures = 0, retry_at = NULL, last_success_at = ?"
                " WHERE id = (SELECT channel_id FROM alert_messages WHERE id = ?)",
                [now, message_id],
            )

    def fail_alert_send(self, message_id: int, *, error: str, retry_at: datetime) -> None:
        """The message was not accepted: it waits, unchanged, and its channel backs off."""
        now = self._now()
        with self._transaction():
            self.db.execute(
                "UPDATE alert_messages SET state = 'pending', error = ?, lease_until = NULL"
                " WHERE id = ?",
                [error, message_id],
            )
            self.db.execute(
                "UPDATE alert_channels SET failures = failures + 1, last_error = ?,"
                " last_failure_at = ?, retry_at = ?"
                " WHERE id = (SELECT channel_id FROM alert_messages WHERE id = ?)",
                [error, now, utc_iso(retry_at), message_id],
            )

    def alert_status(self) -> list[dict[str, Any]]:
        """Per configured channel: health ('ok' or 'failing'), its failures, its backlog.

        owed: flags not put into a message yet; unsent: messages claimed but not sent.
        """
        statuses = []
        for channel in self.db.query(
            "SELECT * FROM alert_channels WHERE active = 1 ORDER BY target, label"
        ):
            owed: int = self.db.execute(
                f"SELECT count(*) FROM ({_OWED_FLAGS})", {"channel": channel["id"]}
            ).fetchone()[0]
            unsent: int = self.db.execute(
                "SELECT count(*) FROM alert_messages WHERE channel_id = ? AND state != 'sent'",
                [channel["id"]],
            ).fetchone()[0]
            statuses.append(
                {
                    "target": channel["target"],
                    "channel": channel["label"],
                    "rule": channel["rule"],
                    "health": "failing" if channel["failures"] else "ok",
                    "failures": channel["failures"],
                    "last_error": channel["last_error"],
                    "last_failure_at": channel["last_failure_at"],
                    "last_success_at": channel["last_success_at"],
                    "retry_at": channel["retry_at"],
                    "owed": owed,
                    "unsent": unsent,
                }
            )
        return statuses

    def iter_rows(
        self,
        kind: ExportKind,
        *,
        rule: str | None = None,
        since: date | None = None,
        decode_json: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every article, ticker item or flagged story, read lazily from one cursor a batch
        at a time: constant memory however many rows, and one consistent snapshot.

        rule: only stories this rule flagged. since: only stories published on or after this
        day (first seen, for one without a publication date). decode_json: list columns as
        lists, not text.
        """
        sql, params = _export_query(kind, rule=rule, since=since)
        cursor = self.db.execute(sql, params)
        columns = [description[0] for description in cursor.description]
        lists = [column for column in columns if decode_json and column in _JSON_COLUMNS]
        while batch := cursor.fetchmany(_BATCH_SIZE):
            for values in batch:
                row = dict(zip(columns, values, strict=True))
                yield row | {column: json.loads(row[column]) for column in lists}

    def export_columns(self, kind: ExportKind) -> list[str]:
        """The columns iter_rows gives for `kind`, even when there are no rows."""
        sql, params = _export_query(kind, rule=None, since=None)
        cursor = self.db.execute(f"{sql} LIMIT 0", params)
        return [description[0] for description in cursor.description]


_SOURCE_NAMES = """
WITH RECURSIVE run_source(name) AS (
    SELECT min(source) FROM runs
    UNION ALL
    SELECT (SELECT min(source) FROM runs WHERE source > run_source.name)
    FROM run_source WHERE name IS NOT NULL
)
SELECT name FROM sources UNION SELECT name FROM run_source WHERE name IS NOT NULL ORDER BY 1
"""
"""Configured sources and those with runs: the runs' sources are found by stepping through
the index, one lookup per source, instead of reading every run."""

_RUN_STATUS_COLUMNS = (
    "started_at",
    "finished_at",
    "ok",
    "pages_fetched",
    "items_found",
    "not_modified",
    "new_articles",
    "new_ticker_items",
    "duplicates",
    "flags",
    "errors",
    "error",
    "error_kind",
)


def _health(
    last_run: Mapping[str, Any] | None, *, next_run_at: str | None, ever_fetched: bool
) -> str:
    if last_run is None:  # a run cut short (a shutdown, a kill) may have stored things
        return "no run finished" if ever_fetched else "never run"
    if last_run["ok"]:
        return "ok"
    if last_run["error_kind"] == "parser":
        return "parser problem"
    if last_run["error_kind"] == "not-a-feed":
        return "not a feed"
    if next_run_at is not None:  # a daemon runs it, and put it off after the failure
        return "backing off"
    return "failing"


def _article_fields(title: str, body: str) -> Mapping[str, str]:
    return {"title": title, "body": body}


def _ticker_fields(text: str) -> Mapping[str, str]:
    return {"ticker": text}


def _matches_by_rule(matches: Sequence[RuleMatchLike]) -> dict[str, RuleMatchLike]:
    """One match per rule (the first), since a rule flags an item at most once."""
    by_rule: dict[str, RuleMatchLike] = {}
    for match in matches:
        by_rule.setdefault(match.rule, match)
    return by_rule


_INSERT_FLAG = (
    "INSERT INTO flags (rule, kind, item_id, matched, evidence, fields, flagged_at)"
    " VALUES (:rule, :kind, :item_id, :matched, :evidence, :fields, :flagged_at)"
)


def _flag_rows(
    kind: ItemKind, item_id: int, matches: Sequence[RuleMatchLike], now: str
) -> list[dict[str, Any]]:
    """The flags rows of an item's matches, one per rule (the first match of each)."""
    return [
        {"rule": rule, "kind": kind, "item_id": item_id, "flagged_at": now} | _flag_details(match)
        for rule, match in _matches_by_rule(matches).items()
    ]


def _flag_details(match: RuleMatchLike) -> dict[str, str]:
    return {
        "matched": _json_list(match.terms),
        "evidence": _json_list(match.evidence),
        "fields": _json_list(match.fields),
    }


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _iso_date(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _distinct_followable(items: Iterable[TickerItem]) -> Iterator[TickerItem]:
    """Ticker items with an http(s) URL, each target once (the first occurrence)."""
    seen: set[str] = set()
    for item in items:
        if not is_followable(item.url):
            continue
        url = canonical_url(item.url)
        if url not in seen:
            seen.add(url)
            yield item


def _flag_filters(
    rule_condition: str,
    rule: str | None,
    since: date | None,
    limit: int | None,
    *,
    day: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and parameters shared by the flagged listings: a rule (tested by
    `rule_condition`), flagged on or after a day (or, given `day`, an expression of a story's
    day, on or after it), and the LIMIT's value."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if rule is not None:
        conditions.append(rule_condition)
        params["rule"] = rule
    if since is not None and day is not None:
        conditions.append(f"{day} >= :since")
        params["since"] = _day(since)
    elif since is not None:
        conditions.append("flagged_at >= :since")
        params["since"] = utc_iso(since) if isinstance(since, datetime) else since.isoformat()
    if limit is not None:
        params["limit"] = limit
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params
