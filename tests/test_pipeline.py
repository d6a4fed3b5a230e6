"""One run over one source against the fixture portal, served with ETags by the scripted
server: conditional requests, remembered 404s, incomplete runs, parser problems,
interrupted runs."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import newswatch.parse
from newswatch.config import Config, config_from_dict
from newswatch.fetch import Fetcher, FetchPolicy
from newswatch.parse import FeedProfile, SiteProfile, load_profile, reader_version
from newswatch.pipeline import SourceReport, SourceRun, source_profiles
from newswatch.store import Store
from tests.conftest import FIXTURES, Route, ScriptedServer, fetch_all_once, never

HOME = "/webpro1/main/newshome.asp"
ARTICLE = "/webpro1/main/mainnews.asp?id="
MISSING = {"1405790", "1405795"}
ARTICLES = {f"14058{n:02d}" for n in range(1, 13)}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def portal(server: ScriptedServer) -> ScriptedServer:
    server.serve_folder(FIXTURES / "portal")
    return server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "news.db", clock=clock) as opened:
        yield opened


def make_config(tmp_path: Path, base_url: str, **source: object) -> Config:
    return config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "3s", "retries": 0},
            "sources": [{"name": "home", "url": base_url + HOME, **source}],
        },
        tmp_path / "newswatch.toml",
    )


def run_once(config: Config, store: Store) -> SourceReport:
    [report] = fetch_all_once(config, store)
    return report


def article_requests(server: ScriptedServer, since: int = 0) -> list[str]:
    return [p.rsplit("=", 1)[-1] for p, _ in server.log[since:] if p.startswith(ARTICLE)]


def query(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(store.path) as connection:
        return connection.execute(sql).fetchall()


def test_unchanged_second_run_is_one_conditional_request_and_no_body(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url)
    first = run_once(config, store)
    assert first.ok and first.new_articles == 11 and first.duplicates == 1
    assert first.items_found == 10 and not first.not_modified
    assert set(article_requests(portal)) == ARTICLES | MISSING
    before, answered = len(portal.log), len(portal.responses)

    second = run_once(config, store)
    assert second.ok and second.not_modified and second.items_found is None
    asked = [(path, headers) for path, headers in portal.log[before:] if path != "/robots.txt"]
    assert [path for path, _ in asked] == [HOME]
    assert asked[0][1]["If-None-Match"].startswith('"')
    assert [r for r in portal.responses[answered:] if r[0] != "/robots.txt"] == [(HOME, 304, 0)]
    assert (second.requests, second.bytes_fetched, second.pages_fetched) == (1, 0, 1)
    assert first.bytes_fetched > 100_000
    assert query(store, "SELECT status, bytes, error FROM fetches ORDER BY id DESC LIMIT 1") == [
        (304, 0, None)
    ]
    assert query(store, "SELECT ok, not_modified, items_found FROM runs ORDER BY id") == [
        (1, 0, 10),
        (1, 1, None),
    ]


def test_a_changed_listing_is_fetched_and_parsed_again(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url)
    run_once(config, store)
    [route] = portal.routes[HOME]
    portal.add(HOME, Route(body=route.body + b"<!-- changed -->", headers={"ETag": '"v2"'}))
    report = run_once(config, store)
    assert report.ok and not report.not_modified and report.items_found == 10
    assert report.new_articles == 0
    assert store.validators(portal.base_url + HOME) is not None


def test_an_edited_profile_reads_the_unchanged_listing_again(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    """A user fixing a profile must not get 304 for the page the old profile misread."""
    bundled = Path(newswatch.parse.__file__).parent / "profiles" / "gulfoilandgas.toml"
    profile = tmp_path / "portal.toml"
    profile.write_text(bundled.read_text(encoding="utf-8"), encoding="utf-8")
    config = make_config(tmp_path, portal.base_url, profile="portal.toml")
    run_once(config, store)
    assert run_once(config, store).not_modified

    profile.write_text(profile.read_text(encoding="utf-8") + "\n# tuned\n", encoding="utf-8")
    config = make_config(tmp_path, portal.base_url, profile="portal.toml")
    before = len(portal.log)
    report = run_once(config, store)
    assert report.ok and not report.not_modified and report.items_found == 10
    [(_, headers)] = [(path, h) for path, h in portal.log[before:] if path == HOME]
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers
    assert run_once(config, store).not_modified  # and conditional again from then on


def test_changed_link_settings_read_the_unchanged_listing_again(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    """Links the old settings skipped are not a reason for the listing to change."""
    config = make_config(tmp_path, portal.base_url)
    run_once(config, store)
    assert run_once(config, store).not_modified
    widened = make_config(tmp_path, portal.base_url, allow_hosts=["cdn.example.com"])
    assert not run_once(widened, store).not_modified
    assert run_once(widened, store).not_modified


def test_a_feed_is_read_again_when_its_article_profile_changes() -> None:
    generic, site = load_profile("generic"), load_profile("gulfoilandgas")
    assert isinstance(site, SiteProfile)
    edited = dataclasses.replace(site, version="another")
    versions = {
        reader_version(FeedProfile(articles=articles)) for articles in (generic, site, edited)
    }
    assert len(versions) == 3


def test_gone_links_are_not_requested_again_before_the_sources_next_run(
    tmp_path: Path, portal: ScriptedServer, store: Store, clock: Clock
) -> None:
    config = make_config(tmp_path, portal.base_url)
    run_once(config, store)
    assert sorted(r for r in article_requests(portal) if r in MISSING) == sorted(MISSING)
    store.forget_validators(portal.base_url + HOME)  # as if the listing had changed
    before = len(portal.log)
    report = run_once(config, store)
    assert report.ok and article_requests(portal, before) == []
    assert report.skipped_unavailable == 0  # 1405790/95 are ticker links of stored articles
    assert query(store, "SELECT count(*), min(status) FROM unavailable_urls") == [(2, 404)]

    # The listing now links to a missing page directly: skipped until the next run is due.
    [route] = portal.routes[HOME]
    block = b'<div class="newsblock"><a class="newslinkgog" href="mainnews.asp?id=1405790">'
    block += b"<b>Gone</b></a></div>\n"
    first = b'<div class="newsblock">'
    portal.add(HOME, Route(body=route.body.replace(first, block + first, 1)))
    before = len(portal.log)
    report = run_once(config, store)
    assert report.ok and report.skipped_unavailable == 1 and article_requests(portal, before) == []
    clock.now += timedelta(hours=25)
    portal.add(ARTICLE + "1405790", Route(body=portal.routes[ARTICLE + "1405810"][0].body))
    before = len(portal.log)
    report = run_once(config, store)
    assert sorted(article_requests(portal, before)) == sorted(MISSING)  # both due again
    assert query(store, "SELECT url, failures FROM unavailable_urls") == [
        (portal.base_url + ARTICLE + "1405795", 2)  # still missing: now two intervals
    ]  # and 1405790 is back: stored, forgotten as unavailable
    assert query(store, f"SELECT count(*) FROM articles WHERE url LIKE '%{1405790}'") == [(1,)]


def test_a_run_cut_short_by_the_page_budget_keeps_no_validators(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url, max_new_pages=4)
    fetched: list[str] = []
    for _ in range(5):
        before = len(portal.log)
        report = run_once(config, store)
        fetched += article_requests(portal, before)
        if report.not_modified:
            break
    assert report.not_modified, "the listing becomes conditional once everything was followed"
    assert set(fetched) == ARTICLES | MISSING and len(fetched) == len(set(fetched))
    statuses = [
        row[0] for row in query(store, "SELECT status FROM fetches WHERE url LIKE '%newshome%'")
    ]
    assert statuses[:-1] == [200] * (len(statuses) - 1) and statuses[-1] == 304


def test_a_transient_failure_keeps_no_validators(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url)
    good = portal.routes[ARTICLE + "1405808"][0]
    portal.add(ARTICLE + "1405808", Route(status=503), good)
    first = run_once(config, store)
    assert first.ok and any("503" in error for error in first.errors)
    assert store.validators(portal.base_url + HOME) is None
    before = len(portal.log)
    second = run_once(config, store)
    assert first.from_entries == 1  # stored from its listing item meanwhile
    assert article_requests(portal, before) == ["1405808"] and second.upgraded == 1
    assert store.validators(portal.base_url + HOME) is not None


def test_a_listing_that_parses_to_nothing_is_a_parser_problem(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url)
    assert run_once(config, store).ok
    redesigned = b"<html><body><div class='new-design'><p>News</p></div></body></html>"
    portal.add(HOME, Route(body=redesigned, headers={"ETag": '"redesign"'}))
    report = run_once(config, store)
    assert not report.ok and report.failure_kind == "parser" and report.items_found == 0
    assert report.failure is not None and "layout" in report.failure
    assert store.validators(portal.base_url + HOME) is None  # a fixed profile re-parses it
    [status] = store.source_status()
    assert status["health"] == "parser problem" and status["usual_items"] == 10


def test_article_pages_that_parse_to_no_article_are_a_parser_problem(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url, follow=True)
    for path in list(portal.routes):
        if path.startswith(ARTICLE):
            portal.add(path, Route(body=b"<html><body><p>Redesigned article</p></body></html>"))
    report = run_once(config, store)
    assert not report.ok and report.failure_kind == "parser"
    assert report.failure is not None and "none parsed to an article" in report.failure
    assert store.source_status()[0]["health"] == "parser problem"


def test_a_cancelled_run_is_recorded_as_interrupted(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    config = make_config(tmp_path, portal.base_url)
    portal.add(ARTICLE + "1405803", Route(action="hang"))
    source = config.sources[0]

    async def go() -> None:
        async with Fetcher(FetchPolicy.from_settings(config.settings)) as fetcher:
            run = SourceRun(
                source,
                config=config,
                store=store,
                fetcher=fetcher,
                profile=source_profiles(config, config.sources)["home"],
                matcher=never,
            )
            task = asyncio.create_task(run.run())
            while not query(store, "SELECT 1 FROM articles LIMIT 1"):
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())
    [(ok, kind, error)] = query(store, "SELECT ok, error_kind, error FROM runs")
    assert (ok, kind) == (0, "interrupted") and "shutdown" in error
    assert query(store, "PRAGMA integrity_check") == [("ok",)]
    assert store.validators(portal.base_url + HOME) is None
    assert store.consecutive_failures("home") == 0


def test_a_source_claims_only_the_stories_it_fetches_now(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    """home may fetch one new story per run: the other stories it links to stay free for
    middle-east, which lists three of them, to fetch in the same invocation."""
    config = config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "3s", "retries": 0},
            "sources": [
                {"name": "home", "url": portal.base_url + HOME, "max_new_pages": 1},
                {
                    "name": "middle-east",
                    "url": portal.base_url + "/webpro1/main/newslist.asp?id=ME",
                },
            ],
        },
        tmp_path / "newswatch.toml",
    )
    fetch_all_once(config, store)
    stored = {url.rsplit("=", 1)[-1] for (url,) in query(store, "SELECT url FROM articles")}
    assert {"1405804", "1405809", "1405810", "1405812"} <= stored  # everything middle-east lists


def test_a_page_robots_txt_keeps_us_from_is_not_counted_as_fetched(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    robots = b"User-agent: *\nDisallow: /\n"
    server.add("/robots.txt", Route(body=robots, headers={"Content-Type": "text/plain"}))
    config = make_config(tmp_path, server.base_url, robots=True)
    report = run_once(config, store)
    assert not report.ok and "robots.txt" in (report.failure or "")
    assert (report.pages_fetched, report.requests) == (0, 0)
    assert server.hits(HOME) == 0


def test_a_link_that_redirects_to_a_stored_article_is_not_fetched_again(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    listing = (
        b'<html><body><div class="newsblock"><a class="newslinkgog" href="/old/mainnews.asp?id=77">'
        b'<b>Ras Laffan Expansion</b></a><span class="lblues">Qatar &gt;&gt; 3/28/2025</span>'
        b"</div></body></html>"
    )
    portal.add("/list.asp", Route(body=listing, headers={"Content-Type": "text/html"}))
    portal.add(
        "/old/mainnews.asp?id=77", Route(status=301, headers={"Location": ARTICLE + "1405801"})
    )
    config = config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "3s", "retries": 0},
            "sources": [{"name": "short-links", "url": portal.base_url + "/list.asp"}],
        },
        tmp_path / "newswatch.toml",
    )
    first = run_once(config, store)
    second = run_once(config, store)
    assert first.ok and second.ok
    assert portal.hits("/old/mainnews.asp?id=77") == 1  # known since it led to 1405801
    assert portal.hits(ARTICLE + "1405801") == 1
    assert query(store, "SELECT url FROM article_aliases") == [
        (portal.base_url + "/old/mainnews.asp?id=77",)
    ]


def test_a_link_robots_txt_refuses_is_remembered_quietly(
    tmp_path: Path, portal: ScriptedServer, store: Store
) -> None:
    robots = f"User-agent: *\nDisallow: {ARTICLE}1405802\n".encode()
    portal.add("/robots.txt", Route(body=robots, headers={"Content-Type": "text/plain"}))
    config = make_config(tmp_path, portal.base_url, robots=True)
    first = run_once(config, store)
    assert first.ok and not any("robots" in error for error in first.errors)
    assert query(store, "SELECT error FROM unavailable_urls WHERE url LIKE '%1405802'") == [
        ("disallowed by robots.txt",)
    ]
    # what the listing said of it is stored meanwhile, marked as such
    assert query(store, "SELECT read_from FROM articles WHERE url LIKE '%1405802'") == [
        ("listing",)
    ]
    store.forget_validators(portal.base_url + HOME)
    second = run_once(config, store)
    assert second.ok and second.errors == [] and second.skipped_unavailable >= 1
    assert portal.hits(ARTICLE + "1405802") == 0
