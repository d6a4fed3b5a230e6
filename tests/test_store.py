import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newswatch.errors import NewswatchError
from newswatch.models import Article, Page, TickerItem
from newswatch.rules import RuleMatch
from newswatch.store import (
    SCHEMA_VERSION,
    DatabaseBusy,
    HttpValidators,
    SaveResult,
    Store,
    utc_iso,
)

GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"
START = datetime(2026, 11, 29, 18, 5, 10, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def keyword_matcher(
    keyword: str = "solid-state", rule: str = "ssb"
) -> Callable[[Mapping[str, str]], Sequence[RuleMatch]]:
    """A stand-in for RuleSet.match: flags anything containing `keyword`."""

    def match(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
        hits = tuple(name for name, text in fields.items() if keyword in text.lower())
        if not hits:
            return []
        return [RuleMatch(rule, (keyword,), tuple(fields[name][:40] for name in hits), hits)]

    return match


flag_solid_state = keyword_matcher()


def never(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
    return []


def body(topic: str) -> str:
    """A body long enough to fingerprint, distinct per topic."""
    return (
        f"{topic}. Japan's METI approved four R&D projects in 2024, including Toyota and"
        " Idemitsu, to support research on materials and breakthroughs in production technology"
        " for the next generation of batteries."
    )


SSB_BODY = body("Japan subsidises all-solid-state batteries")
LNG_BODY = body("Golar LNG files its annual report")


def article_page(
    article_id: int, text: str, *, query: str = "", ticker: Sequence[TickerItem] = ()
) -> Page:
    url = f"{GOG}?id={article_id}{query}"
    article = Article(
        url=url,
        title=f"Story {article_id}",
        published=date(2025, 1, 5),
        location="Asia",
        source_line="Source: www.gulfoilandgas.com 1/5/2025, Location: Asia",
        body=text,
        language="en",
    )
    return Page(url=url, article=article, ticker=list(ticker))


def ticker_item(article_id: int, text: str, *, region: str | None = "Canada") -> TickerItem:
    return TickerItem(
        url=f"{GOG}?id={article_id}", text=text, region=region, published=date(2025, 3, 27)
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "newswatch.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(db_path, clock=clock) as opened:
        opened.upsert_source(
            "gog", "http://www.gulfoilandgas.com/webpro1/main/newshome.asp", "gulfoilandgas"
        )
        yield opened


def rows(db_path: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Read the database as an outside tool would: a separate plain sqlite3 connection."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def count(db_path: Path, table: str) -> int:
    [(total,)] = rows(db_path, f"SELECT count(*) FROM {table}")
    assert isinstance(total, int)
    return total


# --- schema and file handling ------------------------------------------------------------


def test_schema_is_visible_to_plain_sqlite(store: Store, db_path: Path) -> None:
    objects = set(rows(db_path, "SELECT type, name FROM sqlite_master"))
    for table in (
        "sources",
        "fetches",
        "articles",
        "ticker_items",
        "flags",
        "runs",
        "articles_fts",
    ):
        assert ("table", table) in objects
    assert ("view", "flagged") in objects


def test_flagged_view_has_the_promised_columns(store: Store, db_path: Path) -> None:
    columns = [row[1] for row in rows(db_path, "PRAGMA table_info(flagged)")]
    required = ["rule", "kind", "url", "title", "published", "matched", "flagged_at"]
    assert columns[: len(required)] == required
    assert {"source", "region", "evidence"} <= set(columns)


def test_wal_mode_and_schema_version(store: Store, db_path: Path) -> None:
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION >= 1


def test_reopening_keeps_data(db_path: Path, clock: FakeClock) -> None:
    with Store(db_path, clock=clock) as first:
        first.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    with Store(db_path, clock=clock) as second:
        assert second.known_article_urls([f"{GOG}?id=1"]) == {f"{GOG}?id=1"}
    assert rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_newer_database_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(NewswatchError) as raised:
        Store(db_path)
    message = str(raised.value)
    assert str(db_path) in message
    assert str(SCHEMA_VERSION + 5) in message
    assert f"version {SCHEMA_VERSION}" in message


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(NewswatchError, match=str(path)):
        Store(path)


def test_fts_index_is_found_by_sqlite_utils_and_datasette(store: Store, db_path: Path) -> None:
    # Datasette and `sqlite-utils search` find the index the same way.
    import sqlite_utils

    assert sqlite_utils.Database(db_path).table("articles").detect_fts() == "articles_fts"


def test_timestamps_are_utc_iso(store: Store, db_path: Path) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    assert rows(db_path, "SELECT first_seen, last_seen, published FROM articles") == [
        ("2026-11-29T18:05:10Z", "2026-11-29T18:05:10Z", "2025-01-05")
    ]


# --- saving pages ------------------------------------------------------------------------


def test_new_then_known(store: Store, db_path: Path, clock: FakeClock) -> None:
    fetch_id = store.record_fetch(
        source="gog", url=f"{GOG}?id=1", status=200, size=5120, elapsed=0.25, warnings=["no ticker"]
    )
    first = store.save_page("gog", article_page(1, SSB_BODY), fetch_id=fetch_id, matcher=never)
    assert first == SaveResult("new", first.article_id, None, 0, 0, 0)
    clock.advance(hours=1)
    again = store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    assert again.article == "known"
    assert again.article_id == first.article_id
    assert rows(
        db_path, "SELECT url, fetched_url, fetch_id, first_seen, last_seen FROM articles"
    ) == [(f"{GOG}?id=1", f"{GOG}?id=1", fetch_id, "2026-11-29T18:05:10Z", "2026-11-29T19:05:10Z")]
    assert rows(db_path, "SELECT status, bytes, elapsed, warnings FROM fetches") == [
        (200, 5120, 0.25, '["no ticker"]')
    ]


def test_page_without_article(store: Store, db_path: Path) -> None:
    result = store.save_page("gog", Page(url=f"{GOG}?list=ME"), fetch_id=None, matcher=never)
    assert result == SaveResult("none", None, None, 0, 0, 0)
    assert count(db_path, "articles") == 0


def test_tracking_parameter_does_not_make_a_second_article(store: Store, db_path: Path) -> None:
    plain = store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    tracked = article_page(1, SSB_BODY, query="&utm_source=newsletter#top")
    again = store.save_page("gog", tracked, fetch_id=None, matcher=never)
    assert (plain.article, again.article) == ("new", "known")
    assert rows(db_path, "SELECT url FROM articles") == [(f"{GOG}?id=1",)]
    assert store.known_article_urls([f"{GOG}?utm_medium=x&id=1", f"{GOG}?id=2", "mailto:a@b"]) == {
        f"{GOG}?utm_medium=x&id=1"
    }


def test_same_body_under_another_id_is_a_duplicate(store: Store, db_path: Path) -> None:
    original = store.save_page(
        "gog", article_page(1, SSB_BODY), fetch_id=None, matcher=flag_solid_state
    )
    reworded = SSB_BODY.replace("'", "\u2019").replace(" ", "  ").upper()
    copy = store.save_page(
        "gog", article_page(2, reworded), fetch_id=None, matcher=flag_solid_state
    )
    assert copy.article == "duplicate"
    assert copy.duplicate_of == f"{GOG}?id=1"
    assert copy.new_flags == 0
    assert rows(db_path, "SELECT id, url, duplicate_of FROM articles ORDER BY id") == [
        (original.article_id, f"{GOG}?id=1", None),
        (copy.article_id, f"{GOG}?id=2", original.article_id),
    ]
    assert rows(db_path, "SELECT kind, item_id FROM flags") == [("article", original.article_id)]
    assert [hit["id"] for hit in store.search("Idemitsu").hits] == [original.article_id]
    assert store.known_article_urls([f"{GOG}?id=2"]) == {f"{GOG}?id=2"}


def test_short_bodies_are_never_duplicates(store: Store) -> None:
    first = store.save_page("gog", article_page(1, ""), fetch_id=None, matcher=never)
    second = store.save_page("gog", article_page(2, ""), fetch_id=None, matcher=never)
    assert (first.article, second.article) == ("new", "new")


def test_ticker_item_seen_twice_is_one_row(store: Store, db_path: Path, clock: FakeClock) -> None:
    item = ticker_item(9, "Petrus Resources announces its monthly activity update")
    first = store.save_page(
        "gog", article_page(1, SSB_BODY, ticker=[item]), fetch_id=None, matcher=never
    )
    clock.advance(minutes=30)
    second = store.save_page(
        "gog", article_page(2, LNG_BODY, ticker=[item, item]), fetch_id=None, matcher=never
    )
    assert (first.new_ticker_items, first.seen_ticker_items) == (1, 0)
    assert (second.new_ticker_items, second.seen_ticker_items) == (0, 1)
    assert rows(
        db_path,
        "SELECT url, region, published, seen_count, first_seen, last_seen FROM ticker_items",
    ) == [
        (f"{GOG}?id=9", "Canada", "2025-03-27", 2, "2026-11-29T18:05:10Z", "2026-11-29T18:35:10Z")
    ]


def test_ticker_item_keeps_first_text_and_fills_missing_region(store: Store, db_path: Path) -> None:
    bare = ticker_item(9, "Petrus Resources announces", region=None)
    fuller = ticker_item(9, "Petrus Resources announces its monthly update", region="Canada")
    store.save_page("gog", article_page(1, SSB_BODY, ticker=[bare]), fetch_id=None, matcher=never)
    store.save_page("gog", article_page(2, LNG_BODY, ticker=[fuller]), fetch_id=None, matcher=never)
    assert rows(db_path, "SELECT text, region FROM ticker_items") == [
        ("Petrus Resources announces", "Canada")
    ]


def test_ticker_items_without_http_url_are_skipped(store: Store, db_path: Path) -> None:
    items = [TickerItem(url="javascript:void(0)", text="x"), ticker_item(9, "kept")]
    result = store.save_page(
        "gog", article_page(1, SSB_BODY, ticker=items), fetch_id=None, matcher=never
    )
    assert result.new_ticker_items == 1
    assert rows(db_path, "SELECT text FROM ticker_items") == [("kept",)]


def test_resaving_a_page_changes_nothing_but_last_seen(store: Store, db_path: Path) -> None:
    page = article_page(1, SSB_BODY, ticker=[ticker_item(9, "solid-state pilot line opens")])
    first = store.save_page("gog", page, fetch_id=None, matcher=flag_solid_state)
    second = store.save_page("gog", page, fetch_id=None, matcher=flag_solid_state)
    assert (first.article, first.new_ticker_items, first.new_flags) == ("new", 1, 2)
    assert second == SaveResult("known", first.article_id, None, 0, 1, 0)
    assert [count(db_path, t) for t in ("articles", "ticker_items", "flags")] == [1, 1, 2]


def test_flags_record_terms_evidence_and_fields(store: Store, db_path: Path) -> None:
    page = article_page(1, SSB_BODY, ticker=[ticker_item(9, "Solid-State pilot line opens")])
    store.save_page("gog", page, fetch_id=None, matcher=flag_solid_state)
    flags = rows(
        db_path, "SELECT rule, kind, matched, evidence, fields, flagged_at FROM flags ORDER BY kind"
    )
    assert flags == [
        (
            "ssb",
            "article",
            '["solid-state"]',
            json.dumps([SSB_BODY[:40]]),
            '["body"]',
            "2026-11-29T18:05:10Z",
        ),
        (
            "ssb",
            "ticker",
            '["solid-state"]',
            '["Solid-State pilot line opens"]',
            '["ticker"]',
            "2026-11-29T18:05:10Z",
        ),
    ]
    view = rows(db_path, "SELECT kind, url, title, region, published FROM flagged ORDER BY kind")
    assert view == [
        ("article", f"{GOG}?id=1", "Story 1", "Asia", "2025-01-05"),
        ("ticker", f"{GOG}?id=9", "Solid-State pilot line opens", "Canada", "2025-03-27"),
    ]


def test_a_failing_matcher_leaves_nothing_of_the_page(store: Store, db_path: Path) -> None:
    def fails_on_ticker(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
        if "ticker" in fields:
            raise RuntimeError("rules blew up")
        return flag_solid_state(fields)

    page = article_page(1, SSB_BODY, ticker=[ticker_item(9, "anything")])
    with pytest.raises(RuntimeError, match="rules blew up"):
        store.save_page("gog", page, fetch_id=None, matcher=fails_on_ticker)
    assert [count(db_path, t) for t in ("articles", "ticker_items", "flags")] == [0, 0, 0]
    assert store.search("Idemitsu").hits == []
    # and the store is still usable afterwards
    assert store.save_page("gog", page, fetch_id=None, matcher=never).article == "new"


# --- rules re-applied ----------------------------------------------------------------------


def test_reapply_rules_adds_removes_and_is_idempotent(
    store: Store, db_path: Path, clock: FakeClock
) -> None:
    store.save_page(
        "gog",
        article_page(1, SSB_BODY, ticker=[ticker_item(9, "LNG cargo")]),
        fetch_id=None,
        matcher=flag_solid_state,
    )
    store.save_page("gog", article_page(2, LNG_BODY), fetch_id=None, matcher=flag_solid_state)
    assert rows(db_path, "SELECT rule, kind, item_id FROM flags") == [("ssb", "article", 1)]

    clock.advance(days=1)
    lng = keyword_matcher("lng", rule="lng")

    def both(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
        return [*flag_solid_state(fields), *lng(fields)]

    first = store.reapply_rules(both)
    assert (first.added, first.removed, first.kept) == (2, 0, 1)
    assert rows(db_path, "SELECT rule, kind, item_id, flagged_at FROM flags ORDER BY id") == [
        ("ssb", "article", 1, "2026-11-29T18:05:10Z"),  # kept: flagged_at unchanged
        ("lng", "article", 2, "2026-11-30T18:05:10Z"),
        ("lng", "ticker", 1, "2026-11-30T18:05:10Z"),
    ]
    again = store.reapply_rules(both)
    assert (again.added, again.removed, again.kept) == (0, 0, 3)

    dropped = store.reapply_rules(lng)  # the ssb rule no longer exists
    assert (dropped.added, dropped.removed, dropped.kept) == (0, 1, 2)
    assert {row[0] for row in rows(db_path, "SELECT rule FROM flags")} == {"lng"}


def test_reapply_rules_never_flags_duplicates(store: Store, db_path: Path) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    store.save_page("gog", article_page(2, SSB_BODY), fetch_id=None, matcher=never)
    result = store.reapply_rules(flag_solid_state)
    assert result.added == 1
    assert rows(db_path, "SELECT item_id FROM flags") == [(1,)]


# --- reading -----------------------------------------------------------------------------


def test_flagged_newest_first_with_filters(store: Store, clock: FakeClock) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=flag_solid_state)
    clock.advance(days=2)
    store.save_page(
        "gog",
        article_page(2, body("Solid-state cells for buses")),
        fetch_id=None,
        matcher=flag_solid_state,
    )
    flagged = store.flagged()
    assert [row["url"] for row in flagged] == [f"{GOG}?id=2", f"{GOG}?id=1"]
    assert flagged[0]["matched"] == ["solid-state"]
    assert flagged[0]["kind"] == "article"
    assert [row["url"] for row in store.flagged(since=date(2026, 12, 1))] == [f"{GOG}?id=2"]
    assert len(store.flagged(limit=1)) == 1
    assert store.flagged(rule="other") == []


def test_search_finds_a_body_word(store: Store) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    store.save_page("gog", article_page(2, LNG_BODY), fetch_id=None, matcher=never)
    result = store.search("Golar")
    assert [hit["url"] for hit in result.hits] == [f"{GOG}?id=2"]
    assert "[Golar]" in result.hits[0]["snippet"]
    assert result.latest_stored_above is None
    assert [hit["id"] for hit in store.search("all-solid-state").hits] == [1]
    assert len(store.search("Idemitsu OR Golar").hits) == 2
    assert len(store.search("Idem*").hits) == 2
    assert [hit["id"] for hit in store.search("{title body}: Golar").hits] == [2]
    # hyphenated words in FTS syntax are phrases, not a column filter and a NOT
    assert [hit["id"] for hit in store.search("all-solid-state AND Idemitsu").hits] == [1]
    assert [hit["id"] for hit in store.search('all-solid* OR "no-such-word"').hits] == [1]


def test_a_broad_search_lists_the_latest_stored_and_says_so(store: Store) -> None:
    """Ranking reads every match, so past max_ranked matches a search lists the most
    recently stored matches;
    max_ranked=None ranks them all."""
    best = body("Golar Golar Golar: the Golar fleet, Golar's tankers, Golar again")
    store.save_page("gog", article_page(1, best), fetch_id=None, matcher=never)
    for number in range(2, 7):
        text = body(f"Golar is named once in story {number}")
        store.save_page("gog", article_page(number, text), fetch_id=None, matcher=never)
    broad = store.search("Golar", max_ranked=3, limit=4)
    assert broad.latest_stored_above == 3
    assert [hit["id"] for hit in broad.hits] == [6, 5, 4, 3]
    assert all(hit["rank"] is None and "[Golar]" in hit["snippet"] for hit in broad.hits)
    ranked = store.search("Golar", max_ranked=None)
    assert ranked.latest_stored_above is None
    assert ranked.hits[0]["id"] == 1 and len(ranked.hits) == 6
    assert ranked.hits[0]["rank"] < ranked.hits[1]["rank"]
    exact = store.search("Golar", max_ranked=6)
    assert exact.latest_stored_above is None and exact.hits[0]["id"] == 1


@pytest.mark.parametrize("query", ['"unbalanced', "AND OR", "NEAR(", "title:", "(", "^", "-x"])
def test_search_survives_fts_syntax(store: Store, query: str) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    try:
        assert store.search(query).hits == []
    except NewswatchError as error:
        assert query in str(error)


def test_a_read_only_database_is_a_clear_error_and_nothing_is_lost(store: Store) -> None:
    store.save_page("gog", article_page(1, SSB_BODY), fetch_id=None, matcher=never)
    store.db.execute("PRAGMA query_only = ON")  # simulates a file this user may not write
    with pytest.raises(NewswatchError) as raised:
        store.upsert_source("lng", "https://lng.example.com/", "generic")
    message = str(raised.value)
    assert str(store.path) in message and "cannot write" in message and "--db" in message
    with pytest.raises(NewswatchError, match="cannot write"):
        store.save_page("gog", article_page(2, LNG_BODY), fetch_id=None, matcher=never)
    assert [hit["id"] for hit in store.search("Idemitsu").hits] == [1]  # reading still works


def test_search_refuses_an_empty_query(store: Store) -> None:
    with pytest.raises(NewswatchError, match="empty"):
        store.search("  ")


def test_source_status_counts_and_failures(store: Store, clock: FakeClock) -> None:
    page = article_page(1, SSB_BODY, ticker=[ticker_item(9, "x")])
    store.save_page("gog", page, fetch_id=None, matcher=flag_solid_state)
    store.save_page("gog", article_page(2, SSB_BODY), fetch_id=None, matcher=never)
    hour = timedelta(hours=1)

    def run(started_at: datetime, ok: bool, error: str | None = None) -> None:
        store.record_run(
            "gog",
            started_at=started_at,
            finished_at=started_at + hour / 60,
            ok=ok,
            pages_fetched=3,
            new_articles=1,
            new_ticker_items=1,
            duplicates=1,
            flags=1,
            errors=0 if ok else 1,
            error=error,
        )

    run(START - hour, ok=False, error="timeout")
    run(START, ok=True)
    run(START + hour, ok=False, error="timeout")
    run(START + 2 * hour, ok=False, error="connection refused")
    [status] = store.source_status()
    assert status["name"] == "gog"
    assert status["profile"] == "gulfoilandgas"
    assert (status["articles"], status["duplicates"], status["ticker_items"], status["flags"]) == (
        1,
        1,
        1,
        1,
    )
    assert status["last_run_ok"] is False
    assert status["last_run_error"] == "connection refused"
    assert status["last_run_started_at"] == "2026-11-29T20:05:10Z"
    assert status["last_run_errors"] == 1
    assert status["last_success_at"] == "2026-11-29T18:06:10Z"
    assert status["consecutive_failures"] == 2


def test_source_status_of_a_source_never_run(store: Store) -> None:
    [status] = store.source_status()
    assert status["last_run_ok"] is None
    assert status["consecutive_failures"] == 0


# --- schema v2: migration, validators, unavailable URLs, health ---------------------------

V1_DATABASE = Path(__file__).parent / "fixtures" / "store" / "newswatch-v1.db"
"""Made by newswatch 0.1 (schema v1): one source, one flagged article with one ticker
item, one fetch, a good run then a failed one."""


def test_v1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.write_bytes(V1_DATABASE.read_bytes())
    assert rows(db, "PRAGMA user_version") == [(1,)]
    with Store(db) as store:
        [status] = store.source_status()
        assert store.search("sulfide").hits[0]["title"].startswith("Solvane Energy")
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert (count(db, "articles"), count(db, "ticker_items"), count(db, "flags")) == (1, 1, 1)
    assert rows(db, "SELECT error_kind, items_found, not_modified FROM runs ORDER BY id") == [
        (None, None, 0),
        (None, None, 0),
    ]
    assert count(db, "http_validators") == 0 and count(db, "unavailable_urls") == 0
    assert status["health"] == "failing" and status["consecutive_failures"] == 1
    assert status["next_run_at"] is None and status["usual_items"] is None
    with Store(db) as again:  # opening an upgraded database again changes nothing
        assert len(again.source_status()) == 1


def test_a_failed_migration_leaves_the_old_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newswatch.store as store_module

    db = tmp_path / "old.db"
    db.write_bytes(V1_DATABASE.read_bytes())
    broken = store_module._run_script("CREATE TABLE half_done (x);\nCREATE TABLE sources (x);")
    monkeypatch.setattr(store_module, "MIGRATIONS", (store_module.MIGRATIONS[0], broken))
    with pytest.raises(NewswatchError):
        Store(db)
    assert rows(db, "PRAGMA user_version") == [(1,)]
    assert rows(db, "SELECT name FROM sqlite_master WHERE name = 'half_done'") == []


def test_validators_are_kept_per_url(store: Store) -> None:
    url = "http://www.gulfoilandgas.com/webpro1/main/newshome.asp"
    assert store.validators(url) is None
    store.save_validators(url, etag='"a1"', last_modified=None, read_with="v1")
    assert store.validators(url) == HttpValidators(etag='"a1"', last_modified=None, read_with="v1")
    store.save_validators(
        url, etag=None, last_modified="Wed, 26 Mar 2025 08:00:00 GMT", read_with="v2"
    )
    assert store.validators(url) == HttpValidators(None, "Wed, 26 Mar 2025 08:00:00 GMT", "v2")
    store.save_validators(url, etag=None, last_modified=None, read_with="v2")  # nothing: forget
    assert store.validators(url) is None
    store.save_validators(url, etag='"a2"', last_modified=None, read_with="v2")
    store.forget_validators(url)
    assert store.validators(url) is None


def test_unavailable_urls_are_skipped_until_their_retry_time(
    store: Store, db_path: Path, clock: FakeClock
) -> None:
    gone = f"{GOG}?id=1405790&utm_source=ticker"
    other = f"{GOG}?id=1405801"
    asked: list[tuple[int, datetime]] = []

    def schedule(failures: int, first_failed: datetime) -> datetime | None:
        asked.append((failures, first_failed))
        return clock.now + timedelta(hours=failures) if failures < 4 else None

    store.mark_unavailable(gone, status=404, error="HTTP 404 Not Found", schedule=schedule)
    assert store.unavailable_urls([gone, other]) == {f"{GOG}?id=1405790": True}
    clock.advance(hours=2)
    assert store.unavailable_urls([gone]) == {f"{GOG}?id=1405790": False}  # due again
    store.mark_unavailable(gone, status=410, error="HTTP 410 Gone", source="gog", schedule=schedule)
    clock.advance(hours=1)
    assert store.unavailable_urls([gone]) == {f"{GOG}?id=1405790": True}  # now two hours
    assert rows(db_path, "SELECT status, failures, first_failed_at FROM unavailable_urls") == [
        (410, 2, "2026-11-29T18:05:10Z")
    ]
    first = datetime.fromisoformat("2026-11-29T18:05:10+00:00")
    assert asked == [(1, START), (2, first)] and first == START
    assert store.given_up_links("gog") == []
    for _ in range(2):
        store.mark_unavailable(gone, status=404, error="HTTP 404 Not Found", schedule=schedule)
    clock.advance(days=3650)
    assert store.unavailable_urls([gone]) == {f"{GOG}?id=1405790": True}  # given up: for good
    [given_up] = store.given_up_links("gog")
    assert (given_up["url"], given_up["status"]) == (f"{GOG}?id=1405790", 404)
    store.clear_unavailable(gone)
    assert store.unavailable_urls([gone]) == {}


def record(
    store: Store,
    started_at: datetime,
    ok: bool,
    *,
    kind: str | None = None,
    items: int | None = 10,
    source: str = "gog",
) -> None:
    store.record_run(
        source,
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=30),
        ok=ok,
        pages_fetched=1,
        new_articles=0,
        new_ticker_items=0,
        duplicates=0,
        flags=0,
        errors=0 if ok else 1,
        error=None if ok else f"{kind} problem",
        error_kind=kind,
        items_found=items,
        not_modified=items is None and ok,
    )


def test_health_words(store: Store, clock: FakeClock) -> None:
    def health() -> str:
        [status] = store.source_status()
        return str(status["health"])

    assert health() == "never run"
    store.record_fetch(source="gog", url=GOG, status=200, size=1, elapsed=0.1)
    assert health() == "no run finished"  # started, then killed before recording the run
    record(store, START, ok=True)
    assert health() == "ok"
    record(store, START + timedelta(hours=1), ok=False, kind="fetch", items=None)
    assert health() == "failing"
    store.set_next_run("gog", clock.now + timedelta(hours=2))  # the daemon put it off
    assert health() == "backing off"
    record(store, START + timedelta(hours=2), ok=False, kind="parser", items=0)
    assert health() == "parser problem"
    record(store, START + timedelta(hours=3), ok=False, kind="interrupted", items=None)
    assert health() == "parser problem"  # a shutdown says nothing about the source
    [status] = store.source_status()
    assert status["consecutive_failures"] == 2 and status["last_run_error_kind"] == "interrupted"
    store.clear_next_runs()
    assert store.source_status()[0]["next_run_at"] is None


def test_usual_item_count_is_the_median_of_recent_good_runs(store: Store) -> None:
    for hour, items in enumerate([30, 10, 12, 11, None, 13, 500]):
        record(store, START + timedelta(hours=hour), ok=True, items=items)
    record(store, START + timedelta(hours=8), ok=False, kind="parser", items=0)
    [status] = store.source_status()
    assert status["usual_items"] == 12  # 304 runs (None) and failed runs do not count
    assert status["last_run_items_found"] == 0 and status["health"] == "parser problem"
    assert status["last_success_at"] == utc_iso(START + timedelta(hours=6, seconds=30))


def test_a_long_held_write_lock_is_waited_for_and_logged(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.2, other.execute, ["COMMIT"])
    release.start()
    with caplog.at_level(logging.WARNING, logger="newswatch.store"):
        record(store, START, ok=True)
    release.join()
    other.close()
    assert count(db_path, "runs") == 1
    assert "waited" in caplog.text and "write lock" in caplog.text


def test_a_write_lock_held_too_long_is_a_clear_error(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newswatch.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    with Store(db_path) as store:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseBusy, match="write lock"):
                store.upsert_source("gog", "http://example.com/", "gulfoilandgas")
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.upsert_source("gog", "http://example.com/", "gulfoilandgas")  # works again
    assert count(db_path, "sources") == 1


# --- pruning the log -----------------------------------------------------------------------


def test_prune_log_deletes_old_requests_and_runs_but_not_what_is_still_read(
    store: Store, db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newswatch.store.PRUNE_BATCH", 3)  # several batches
    monkeypatch.setattr("newswatch.store.KEPT_FAILURES", 2)
    fetch_ids = [
        store.record_fetch(source="gog", url=f"{GOG}?id={n}", status=200, size=1, elapsed=0.1)
        for n in range(1, 8)
    ]
    page = article_page(1, SSB_BODY, ticker=[ticker_item(9, "Solid-state news")])
    store.save_page("gog", page, fetch_id=fetch_ids[3], matcher=flag_solid_state)
    for hour in range(5):  # three good runs, then two failures
        record(
            store, START + timedelta(hours=hour), ok=hour < 3, kind=None if hour < 3 else "fetch"
        )
    store.upsert_source("dead", "http://dead.example/", "gulfoilandgas")
    for hour in range(3):  # a source that never worked: its last two runs are kept
        record(store, START + timedelta(hours=hour), ok=False, kind="fetch", source="dead")
    before = store.source_status()
    stories = rows(db_path, "SELECT * FROM articles") + rows(db_path, "SELECT * FROM ticker_items")
    flags = rows(db_path, "SELECT * FROM flags")
    clock.advance(days=100)
    recent = store.record_fetch(source="gog", url=GOG, status=304, size=0, elapsed=0.1)

    result = store.prune_log(clock.now - timedelta(days=90))

    assert (result.fetches, result.runs) == (6, 3)
    assert rows(db_path, "SELECT id FROM fetches") == [(fetch_ids[3],), (recent,)]
    hours = [
        (source, (datetime.fromisoformat(str(at)) - START).seconds // 3600)
        for source, at in rows(db_path, "SELECT source, started_at FROM runs ORDER BY id")
    ]
    # the latest good run and the failures since: what health and backoff read
    assert hours == [("gog", 2), ("gog", 3), ("gog", 4), ("dead", 1), ("dead", 2)]
    after = store.source_status()
    assert after[1] == before[1]  # gog: just as before
    assert after[0]["health"] == "failing" and after[0]["consecutive_failures"] == 2  # dead
    assert rows(db_path, "SELECT * FROM articles") + rows(
        db_path, "SELECT * FROM ticker_items"
    ) == (stories)
    assert rows(db_path, "SELECT * FROM flags") == flags

    record(store, clock.now, ok=True)  # the source works again: its old runs can go
    again = store.prune_log(clock.now - timedelta(days=90))
    assert (again.fetches, again.runs) == (0, 3)
    assert rows(db_path, "SELECT source FROM runs ORDER BY id") == [("dead",), ("dead",), ("gog",)]


def test_prune_log_stops_between_batches_when_told(
    store: Store, db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newswatch.store.PRUNE_BATCH", 2)
    for n in range(5):
        store.record_fetch(source="gog", url=f"{GOG}?id={n}", status=200, size=1, elapsed=0.1)
    clock.advance(days=100)
    answers = iter([True, False])
    result = store.prune_log(clock.now, keep_going=lambda: next(answers, False))
    assert result.fetches == 2 and count(db_path, "fetches") == 3
    assert store.prune_log(clock.now).fetches == 3  # the next prune finishes the work


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE inventory (item TEXT)")
    with pytest.raises(NewswatchError, match=r"other\.db: not a newswatch database .*inventory"):
        Store(other)
    assert rows(other, "SELECT name FROM sqlite_master") == [("inventory",)]
    assert rows(other, "PRAGMA journal_mode") == [("delete",)]


def test_a_page_naming_another_url_as_its_own_is_stored_there_only_with_the_same_text(
    store: Store, db_path: Path
) -> None:
    section = "https://blog.example/news/"

    def page(path: str, text: str) -> Page:
        url = f"https://blog.example/{path}"
        return Page(url=url, article=Article(url=section, title=path, body=text))

    store.save_page("blog", page("a-story", SSB_BODY), fetch_id=None, matcher=never)
    store.save_page("blog", page("?p=1", SSB_BODY), fetch_id=None, matcher=never)  # same post
    store.save_page("blog", page("b-story", LNG_BODY), fetch_id=None, matcher=never)
    assert rows(db_path, "SELECT url, title FROM articles ORDER BY id") == [
        (section, "a-story"),
        ("https://blog.example/b-story", "b-story"),  # a careless canonical merges nothing
    ]
    assert rows(db_path, "SELECT url FROM article_aliases ORDER BY url") == [
        ("https://blog.example/?p=1",),
        ("https://blog.example/a-story",),
    ]
