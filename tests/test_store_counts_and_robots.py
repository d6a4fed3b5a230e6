"""What the speed work added to the store and fetcher keeps its promises: the per-source
counts `newswatch status` reads stay equal to counting the rows, robots.txt files are kept
between processes for a day, and a transaction joins the writes made inside it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newswatch.fetch import Fetcher, FetchPolicy, RobotsFile
from newswatch.models import Article, Page, TickerItem
from newswatch.rules import RuleMatch
from newswatch.store import Store
from tests.conftest import Route, ScriptedServer

SITE = "https://news.example.com/news.asp"


def battery_matcher(fields: Mapping[str, str]) -> list[RuleMatch]:
    if "battery" not in " ".join(fields.values()):
        return []
    return [RuleMatch("battery", ("battery",), ("battery",), ("body",))]


def page(number: int, body: str, ticker: tuple[str, ...] = ()) -> Page:
    url = f"{SITE}?id={number}"
    return Page(
        url=url,
        article=Article(url=url, title=f"Story {number}", published=date(2025, 3, 27), body=body),
        ticker=[
            TickerItem(url=f"{SITE}?id={1000 + i}", text=text, region="Asia")
            for i, text in enumerate(ticker)
        ],
    )


def counted(store: Store, source: str) -> dict[str, int]:
    """The counts as `newswatch status` defined them before they were kept: row counts."""

    def one(sql: str) -> int:
        value: int = store.db.execute(sql, [source]).fetchone()[0]
        return value

    return {
        "articles": one("SELECT count(*) FROM articles WHERE source = ? AND duplicate_of IS NULL"),
        "duplicates": one(
            "SELECT count(*) FROM articles WHERE source = ? AND duplicate_of IS NOT NULL"
        ),
        "ticker_items": one("SELECT count(*) FROM ticker_items WHERE source = ?"),
        "flags": one("SELECT count(*) FROM flagged WHERE source = ?"),
    }


def status_counts(store: Store, source: str) -> dict[str, int]:
    [status] = [s for s in store.source_status() if s["name"] == source]
    return {key: status[key] for key in ("articles", "duplicates", "ticker_items", "flags")}


def test_status_counts_follow_inserts_deletes_and_moves(tmp_path: Path) -> None:
    body = "A long enough body about a new battery plant, written for this test only. " * 3
    with Store(tmp_path / "news.db") as store:
        for name in ("one", "two"):
            store.upsert_source(name, SITE, "gulfoilandgas")
        pages = [
            ("one", page(1, body, ("battery teaser", "gas teaser"))),
            ("one", page(2, body)),  # the same text under another URL: a duplicate
            ("two", page(3, "Nothing to see here, a pipeline story. " * 5)),
        ]
        for source, new_page in pages:
            store.save_page(source, new_page, fetch_id=None, matcher=battery_matcher)
        expected_one = {"articles": 1, "duplicates": 1, "ticker_items": 2, "flags": 2}
        assert status_counts(store, "one") == counted(store, "one") == expected_one

        with store.transaction():
            store.db.execute("UPDATE ticker_items SET source = 'two' WHERE text = 'battery teaser'")
            store.db.execute("DELETE FROM flags WHERE kind = 'article'")
            store.db.execute(f"DELETE FROM articles WHERE url = '{SITE}?id=3'")
        for name in ("one", "two"):
            assert status_counts(store, name) == counted(store, name)
        assert status_counts(store, "two") == {
            "articles": 0,
            "duplicates": 0,
            "ticker_items": 1,
            "flags": 1,
        }


def test_a_transaction_joins_the_writes_inside_it_and_undoes_them_together(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "news.db") as store:
        store.upsert_source("one", SITE, "gulfoilandgas")
        with pytest.raises(RuntimeError), store.transaction():
            fetch_id = store.record_fetch(source="one", url=SITE, status=200, size=1, elapsed=0)
            store.save_page("one", page(1, "body " * 50), fetch_id=fetch_id, matcher=lambda _: [])
            raise RuntimeError("the page could not be stored")
        assert store.db.execute("SELECT count(*) FROM fetches").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0


POLICY = FetchPolicy(user_agent="newswatch-test/1", per_host_delay=0.0, retries=0, robots=True)


def fetch_twice(server: ScriptedServer, kept: list[RobotsFile]) -> list[RobotsFile]:
    """One fetcher (one process) that starts from the robots.txt files kept before."""

    async def go() -> list[RobotsFile]:
        async with Fetcher(POLICY) as fetcher:
            fetcher.adopt_robots(kept)
            assert (await fetcher.get(server.base_url + "/page")).ok
            assert (await fetcher.get(server.base_url + "/private/x")).error == (
                "disallowed by robots.txt"
            )
            return fetcher.take_new_robots()

    return asyncio.run(go())


def test_robots_txt_is_kept_between_processes_for_a_day(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.add("/robots.txt", Route(body=b"User-agent: *\nDisallow: /private/\n"))
    server.add("/page", Route(body=b"<html><body><p>Hello</p></body></html>"))
    with Store(tmp_path / "news.db") as store:
        for robots in fetch_twice(server, []):
            store.save_robots_file(robots.origin, robots.body, robots.fetched_at)
        kept = [RobotsFile(*row) for row in store.robots_files()]
    assert server.hits("/robots.txt") == 1
    assert fetch_twice(server, kept) == []  # trusted: not asked again, rules still obeyed
    assert server.hits("/robots.txt") == 1

    day_old = [
        replace(robots, fetched_at=datetime.now(UTC) - timedelta(hours=25)) for robots in kept
    ]
    assert len(fetch_twice(server, day_old)) == 1
    assert server.hits("/robots.txt") == 2
