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
    last started with this source in its configuration).
fetches        one row per HTTP request.
    id, source, url (as requested), status (HTTP status; NULL when no response),
    bytes (size of the body), elapsed (seconds), error (NULL on success),
    warnings (JSON array of parser/fetch warnings; NULL when none), fetched_at.
articles       one row per story, unique by canonical URL.
    id, url (canonical, see newswatch.dedup.canonical_url), fetched_url (as fetched),
    source, title, published, location, source_line, body (plain text, paragraphs
    separated by a blank line), language, fingerprint (hash of the normalised body;
    NULL for bodies too short to fingerprint), duplicate_of (id of the article with
    the same fingerprint stored first; NULL for originals), first_seen, last_seen
    (last time a page with this URL was saved), fetch_id (the fetch that stored it).
    A duplicate row only records that its URL is known: it is neither flagged nor
    full-text indexed. A known article is never rewritten, only last_seen moves.
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
runs           one row per run over one source.
    id, source, started_at, finished_at, ok (1/0), pages_fetched, new_articles,
    new_ticker_items, duplicates, flags (new flags), errors (pages that failed),
    error (why the run failed; NULL when ok).
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
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import sqlite_utils

from newswatch.dedup import canonical_url, fingerprint, is_followable
from newswatch.errors import NewswatchError
from newswatch.models import Article, Page, TickerItem

BUSY_TIMEOUT_SECONDS = 30.0
_BATCH_SIZE = 500
"""Rows per query when walking or looking up many rows (well under SQLite's variable limit)."""


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

    article: Literal["new", "known", "duplicate", "none"]
    """none: the page had no article."""
    article_id: int | None
    duplicate_of: str | None
    """Canonical URL of the original, when article == "duplicate"."""
    new_ticker_items: int
    seen_ticker_items: int
    """Already stored: last_seen and seen_count were bumped."""
    new_flags: int


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


def _create_schema_v1(db: sqlite_utils.Database) -> None:
    db.executescript(_SCHEMA_V1)


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_create_schema_v1,)
"""MIGRATIONS[n] upgrades a database from user_version n to n + 1. Append only."""
SCHEMA_VERSION = len(MIGRATIONS)

# Signs that a search query is written in FTS5 syntax on purpose (operators are upper case).
_FTS_SYNTAX = re.compile(r"\b(?:AND|OR|NOT|NEAR)\b|\w\*|\b(?:title|body)\s*:")
_JSON_COLUMNS = ("matched", "evidence", "fields")


class Store:
    """One open newswatch database. Use from one thread at a time; it keeps no caches."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or _utc_now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise NewswatchError(f"{self.path}: cannot open database: {error}") from error
        self.db = sqlite_utils.Database(connection, execute_plugins=False)
        try:
            self._prepare()
        except sqlite3.DatabaseError as error:
            self.close()
            raise NewswatchError(
                f"{self.path}: cannot use as newswatch database: {error}"
            ) from error
        except BaseException:
            self.close()
            raise

    def _prepare(self) -> None:
        self._check_version(self._user_version())
        self.db.enable_wal()
        if self._user_version() < SCHEMA_VERSION:
            self._migrate()

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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front, so a second writer waits for the
        busy timeout instead of failing midway when its read turns into a write."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

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
        """Insert one row; returns its id."""
        row_id = self.db.table(table).insert(record).last_pk
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
        self, source: str, page: Page, *, fetch_id: int | None, matcher: Matcher
    ) -> SaveResult:
        """Store a parsed page's article and ticker items and flag the new ones, atomically.

        Raises ValueError if the page has an article but neither its URL nor the page's
        is an http(s) URL. Ticker items whose URL is not http(s) are skipped: they
        cannot be told apart.
        """
        now = self._now()
        article: Literal["new", "known", "duplicate", "none"] = "none"
        article_id: int | None = None
        duplicate_of: str | None = None
        new_flags = 0
        with self._transaction():
            if page.article is not None:
                article, article_id, duplicate_of, new_flags = self._save_article(
                    source, page, page.article, fetch_id, matcher, now
                )
            new_items = seen_items = 0
            for item in _distinct_followable(page.ticker):
                item_id, flags = self._save_ticker_item(source, item, matcher, now)
                if item_id is None:
                    seen_items += 1
                else:
                    new_items += 1
                    new_flags += flags
        return SaveResult(
            article=article,
            article_id=article_id,
            duplicate_of=duplicate_of,
            new_ticker_items=new_items,
            seen_ticker_items=seen_items,
            new_flags=new_flags,
        )

    def _save_article(
        self,
        source: str,
        page: Page,
        article: Article,
        fetch_id: int | None,
        matcher: Matcher,
        now: str,
    ) -> tuple[Literal["new", "known", "duplicate"], int, str | None, int]:
        url = canonical_url(article.url if is_followable(article.url) else page.url)
        known = self.db.execute("SELECT id FROM articles WHERE url = ?", [url]).fetchone()
        if known is not None:
            self.db.execute("UPDATE articles SET last_seen = ? WHERE id = ?", [now, known[0]])
            return "known", known[0], None, 0
        content_hash = fingerprint(article.body) or None
        original = None
        if content_hash is not None:
            original = self.db.execute(
                "SELECT id, url FROM articles WHERE fingerprint = ? AND duplicate_of IS NULL",
                [content_hash],
            ).fetchone()
        record = {
            "url": url,
            "fetched_url": page.url,
            "source": source,
            "title": article.title,
            "published": _iso_date(article.published),
            "location": article.location,
            "source_line": article.source_line,
            "body": article.body,
            "language": article.language,
            "fingerprint": content_hash,
            "duplicate_of": original[0] if original else None,
            "first_seen": now,
            "last_seen": now,
            "fetch_id": fetch_id,
        }
        article_id = self._insert("articles", record)
        if original is not None:
            return "duplicate", article_id, original[1], 0
        matches = matcher(_article_fields(article.title, article.body))
        return "new", article_id, None, self._insert_flags("article", article_id, matches, now)

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
        by_rule = _matches_by_rule(matches)
        for rule, match in by_rule.items():
            self.db.execute(
                "INSERT INTO flags (rule, kind, item_id, matched, evidence, fields, flagged_at)"
                " VALUES (:rule, :kind, :item_id, :matched, :evidence, :fields, :flagged_at)",
                {"rule": rule, "kind": kind, "item_id": item_id, "flagged_at": now}
                | _flag_details(match),
            )
        return len(by_rule)

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
        }
        with self._transaction():
            self._insert("runs", record)

    def reapply_rules(self, matcher: Matcher) -> ReapplyResult:
        """Re-judge every stored original article and ticker item after the rules changed.

        Flags still selected keep their flagged_at (their terms and evidence are
        refreshed); flags of rules that no longer select an item are deleted.
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
        added = removed = kept = 0
        for item_id, fields in batch:
            stored = existing.get(item_id, {})
            wanted = _matches_by_rule(matcher(fields))
            for rule in stored.keys() - wanted.keys():
                self.db.execute("DELETE FROM flags WHERE id = ?", [stored[rule]["id"]])
                removed += 1
            added += self._insert_flags(
                kind, item_id, [m for rule, m in wanted.items() if rule not in stored], now
            )
            for rule in stored.keys() & wanted.keys():
                details = _flag_details(wanted[rule])
                if any(stored[rule][column] != details[column] for column in details):
                    self.db.execute(
                        "UPDATE flags SET matched = :matched, evidence = :evidence,"
                        " fields = :fields WHERE id = :id",
                        details | {"id": stored[rule]["id"]},
                    )
                kept += 1
        return added, removed, kept

    # --- reading -------------------------------------------------------------------------

    def known_article_urls(self, urls: Iterable[str]) -> set[str]:
        """Those of `urls` whose canonical form is already stored (as original or duplicate)."""
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
                f"SELECT url FROM articles WHERE url IN ({placeholders})", chunk
            ):
                known.update(by_canonical[url])
        return known

    def flagged(
        self, *, rule: str | None = None, since: date | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows of the `flagged` view, newest flag first; `since` compares with flagged_at.

        matched, evidence and fields are decoded from JSON into lists.
        """
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if rule is not None:
            conditions.append("rule = :rule")
            params["rule"] = rule
        if since is not None:
            conditions.append("flagged_at >= :since")
            params["since"] = utc_iso(since) if isinstance(since, datetime) else since.isoformat()
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM flagged{where} ORDER BY flagged_at DESC, published DESC, item_id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        rows = []
        for row in self.db.query(sql, params):
            rows.append(row | {column: json.loads(row[column]) for column in _JSON_COLUMNS})
        return rows

    def search(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over original articles, best match first.

        Plain words are quoted, so punctuation is harmless; FTS5 syntax (upper-case
        AND/OR/NOT/NEAR, prefix*, title:) is passed through, and if it is malformed
        the NewswatchError says so.
        """
        if not query.strip():
            raise NewswatchError("empty search query")
        uses_fts_syntax = bool(_FTS_SYNTAX.search(query))
        match = query if uses_fts_syntax else self.db.quote_fts(query)
        sql = (
            "SELECT articles.id, articles.url, articles.title, articles.published,"
            " articles.source, articles.location,"
            " snippet(articles_fts, -1, '[', ']', '…', 12) AS snippet,"
            " articles_fts.rank AS rank"
            " FROM articles_fts JOIN articles ON articles.id = articles_fts.rowid"
            " WHERE articles_fts MATCH :match ORDER BY articles_fts.rank LIMIT :limit"
        )
        try:
            return list(self.db.query(sql, {"match": match, "limit": limit}))
        except sqlite3.OperationalError as error:
            hint = " (put words in double quotes to search for them literally)"
            raise NewswatchError(
                f"bad search query {query!r}: {error}{hint if uses_fts_syntax else ''}"
            ) from error

    def source_status(self) -> list[dict[str, Any]]:
        """Per source: what is stored, how the last run went, how long it has been failing."""
        statuses = []
        names = [
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sources UNION SELECT source FROM runs ORDER BY 1"
            )
        ]
        for name in names:
            statuses.append(self._source_status(name))
        return statuses

    def _source_status(self, name: str) -> dict[str, Any]:
        def scalar(sql: str) -> Any:
            return self.db.execute(sql, {"name": name}).fetchone()[0]

        source = self.db.execute(
            "SELECT url, profile FROM sources WHERE name = ?", [name]
        ).fetchone() or (None, None)
        last_run = next(
            self.db.query(
                "SELECT * FROM runs WHERE source = :name ORDER BY started_at DESC, id DESC LIMIT 1",
                {"name": name},
            ),
            None,
        )
        last_success = scalar("SELECT max(finished_at) FROM runs WHERE source = :name AND ok = 1")
        status: dict[str, Any] = {
            "name": name,
            "url": source[0],
            "profile": source[1],
            "articles": scalar(
                "SELECT count(*) FROM articles WHERE source = :name AND duplicate_of IS NULL"
            ),
            "duplicates": scalar(
                "SELECT count(*) FROM articles WHERE source = :name AND duplicate_of IS NOT NULL"
            ),
            "ticker_items": scalar("SELECT count(*) FROM ticker_items WHERE source = :name"),
            "flags": scalar("SELECT count(*) FROM flagged WHERE source = :name"),
            "last_success_at": last_success,
            "consecutive_failures": scalar(
                "SELECT count(*) FROM runs WHERE source = :name AND ok = 0 AND started_at >"
                " coalesce((SELECT max(started_at) FROM runs WHERE source = :name AND ok = 1), '')"
            ),
        }
        for column in (
            "started_at",
            "finished_at",
            "ok",
            "pages_fetched",
            "new_articles",
            "new_ticker_items",
            "duplicates",
            "flags",
            "errors",
            "error",
        ):
            status[f"last_run_{column}"] = last_run[column] if last_run else None
        if last_run:
            status["last_run_ok"] = bool(last_run["ok"])
        return status


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
