"""Sites, feeds and layouts the parsers were not written for, served on 127.0.0.1: the
headline, one row per article, short stories, failed links coming back (issue 10). The
fixtures were written before the code they test; see each folder's EXPECTED.md."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newswatch.config import Config, config_from_dict
from newswatch.pipeline import config_rules
from newswatch.store import Store
from tests.conftest import FIXTURES, Route, ScriptedServer, fetch_all_once

HEADLINES = {
    2200001: "Equinor Awards Subsea Compression Contract for Åsgard Phase Three",
    2200002: "Basra Gas Company Raises Output to 1.2 Billion Cubic Feet a Day",
    2200003: "Tanzania Signs Production Sharing Agreement for Deepwater Block 4/1B",
    2200004: "Qatar Petroleum Trading Signs 15-Year LNG Deal With Gujarat Utility",
    2200005: "Halvdan Batteri Pilot Line Produces First Solid-State Battery Cells",
    2200006: "Kuwait Oil Tanker Company Takes Delivery of Second New VLCC",
}
WIRE = "/wire/2025/03/28/quantumcell-arizona-line"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "news.db", clock=clock) as opened:
        yield opened


def make_config(tmp_path: Path, **source: object) -> Config:
    return config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "3s", "retries": 0},
            "sources": [{"name": "site", **source}],
        },
        tmp_path / "newswatch.toml",
    )


def query(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(store.path) as connection:
        return connection.execute(sql).fetchall()


def test_headlines_the_profile_does_not_name_come_from_fallbacks_never_the_site_title(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    server.serve_folder(FIXTURES / "portal_variant")
    url = server.base_url + "/webpro1/main/newshome.asp"
    [report] = fetch_all_once(make_config(tmp_path, url=url, profile="gulfoilandgas"), store)
    rows = query(store, "SELECT url, title, published, location FROM articles")
    titles = {int(url.rsplit("=", 1)[-1]): title for url, title, *_ in rows}
    assert titles == HEADLINES  # listed, and reached through the ticker only (2200005/6)
    dated = {int(url.rsplit("=", 1)[-1]): (day, place) for url, _, day, place in rows}
    assert dated[2200002] == ("2025-04-01", "Iraq")  # no dateline: the listing's
    assert dated[2200003] == ("2025-03-31", "Tanzania")
    assert query(store, "SELECT read_from FROM articles WHERE read_from IS NOT NULL") == []
    # each fallback is a stored warning, so the layout's drift still shows
    warnings = " ".join(
        row[0] for row in query(store, "SELECT warnings FROM fetches WHERE warnings IS NOT NULL")
    )
    assert "used og:title" in warnings and "used the JSON-LD headline" in warnings
    assert "used the title the listing or feed gave the link" in warnings
    assert "used <title> with the site's name removed" in warnings
    assert "used the date and region the listing gave" in warnings
    assert report.ok


def serve_blog(server: ScriptedServer) -> None:
    folder = FIXTURES / "wordpress_site"

    def body(name: str) -> bytes:
        return (folder / name).read_text().replace("http://blog.example", server.base_url).encode()

    server.add("/", Route(body=body("home.html")))
    posts = {
        "/2025/03/28/solvane-opens-sulfide-cell-pilot-line/": "post_solvane.html",
        "/2025/03/27/harbour-grid-battery-tender-opens/": "post_harbour.html",
        "/2025/03/26/narvik-electrolyser-decision-delayed/": "post_narvik.html",
        "/2025/03/25/partner-copy-lng-market-outlook/": "post_partner.html",
    }
    related = [
        f"?relatedposts_hit=1&relatedposts_origin={origin}&relatedposts_position={position}"
        for origin in (117, 118, 119)
        for position in (0, 1)
    ]
    for path, name in posts.items():
        for query_string in ["", "?utm_source=homepage&utm_medium=web", "?fbclid=IwAR0abc123"]:
            server.add(path + query_string, Route(body=body(name)))
        for query_string in related:
            server.add(path + query_string, Route(body=body(name)))
    server.add("/?p=119", Route(body=body("post_narvik.html")))


def test_a_post_reached_by_several_urls_is_one_row_and_an_alias(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    serve_blog(server)
    config = make_config(tmp_path, url=server.base_url + "/", profile="generic")
    fetch_all_once(config, store)
    fetch_all_once(config, store)
    base = server.base_url
    assert sorted(
        row[0].removeprefix(base) for row in query(store, "SELECT url FROM articles")
    ) == [
        "/2025/03/25/partner-copy-lng-market-outlook/",  # its cross-site canonical is ignored
        "/2025/03/26/narvik-electrolyser-decision-delayed/",
        "/2025/03/27/harbour-grid-battery-tender-opens/",
        "/2025/03/28/solvane-opens-sulfide-cell-pilot-line/",
    ]
    assert query(store, "SELECT url FROM article_aliases") == [(base + "/?p=119",)]
    requested = [path for path, _ in server.log]
    assert not any("relatedposts" in path or "utm_" in path for path in requested)


def test_two_paragraph_briefs_are_articles_and_a_gallery_is_not(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    folder = FIXTURES / "briefs_site"
    server.add("/news/", Route(body=(folder / "index.html").read_bytes()))
    pages = {
        "2025/03/28/toyota-delays-all-solid-state-battery-pilot": "brief_toyota.html",
        "2025/03/28/repsol-restarts-cartagena-hydrocracker": "brief_repsol.html",
        "2025/03/27/ampere-signs-supply-memo-for-solid-state-cells": "brief_ampere.html",
        "2025/03/27/offshore-wind-in-pictures": "gallery.html",
    }
    for path, name in pages.items():
        server.add("/news/" + path, Route(body=(folder / name).read_bytes()))
    config = make_config(tmp_path, url=server.base_url + "/news/", profile="generic")
    [report] = fetch_all_once(config, store, config_rules(config).match)
    assert report.ok
    titles = sorted(row[0] for row in query(store, "SELECT title FROM articles"))
    assert titles == [
        "Ampere signs supply memo for solid-state cells",
        "Repsol restarts Cartagena hydrocracker",
        "Toyota delays all-solid-state battery pilot",
    ]
    assert sorted(row[0] for row in query(store, "SELECT title FROM flagged")) == [
        "Ampere signs supply memo for solid-state cells",
        "Toyota delays all-solid-state battery pilot",
    ]


def serve_wire(server: ScriptedServer) -> None:
    feed = (FIXTURES / "feeds" / "wire_briefs.xml").read_text()
    feed = feed.replace("http://wire.example", server.base_url)
    server.add(
        "/feed.xml", Route(body=feed.encode(), headers={"Content-Type": "application/rss+xml"})
    )
    pages = FIXTURES / "wire_pages"
    server.add(
        WIRE, Route(status=404), Route(body=(pages / "quantumcell_arizona_line.html").read_bytes())
    )
    for slug, name in {
        "2025/03/28/baltic-wind-stake": "baltic_wind_stake.html",
        "2025/03/27/brent-steady-opec": "brent_steady_opec.html",
        "2025/03/27/celtic-interconnector-study": "celtic_interconnector_study.html",
    }.items():
        server.add("/wire/" + slug, Route(body=(pages / name).read_bytes()))


def test_feed_entries_are_never_lost_and_a_404_comes_back_one_interval_later(
    tmp_path: Path, server: ScriptedServer, store: Store, clock: Clock
) -> None:
    serve_wire(server)
    config = make_config(
        tmp_path, url=server.base_url + "/feed.xml", profile="feed", interval="30m"
    )
    rules = config_rules(config)
    [first] = fetch_all_once(config, store, rules.match)
    stored = dict(query(store, "SELECT substr(url, instr(url, '/wire/')), read_from FROM articles"))
    assert stored == {
        WIRE: "feed",  # 404: the entry itself
        "/wire/2025/03/28/baltic-wind-stake": None,  # a two-paragraph page
        "/wire/2025/03/27/brent-steady-opec": "feed",  # a consent wall
        "/wire/2025/03/27/celtic-interconnector-study": None,
    }
    assert first.ok and first.from_entries == 2
    [(flag_title,)] = query(store, "SELECT title FROM flagged")
    assert flag_title == "QuantumCell to build solid-state battery line in Arizona"

    clock.now += timedelta(minutes=10)  # not yet due: the source's next run is 30 min away
    hits = server.hits(WIRE)
    fetch_all_once(config, store, rules.match)
    assert server.hits(WIRE) == hits

    clock.now += timedelta(minutes=20)  # the next scheduled run: asked again, and it answers
    [later] = fetch_all_once(config, store, rules.match)
    assert server.hits(WIRE) == hits + 1 and later.upgraded == 1
    [(body, read_from)] = query(
        store, f"SELECT body, read_from FROM articles WHERE url LIKE '%{WIRE}'"
    )
    assert read_from is None and body.startswith("QuantumCell will spend $300 million")
    assert query(store, "SELECT count(*) FROM flags") == [(1,)]  # same story, no second flag
    assert query(store, "SELECT url FROM unavailable_urls WHERE url LIKE '%quantumcell%'") == []


def test_a_link_that_keeps_failing_is_given_up_after_a_week_and_listed_by_status(
    tmp_path: Path, server: ScriptedServer, store: Store, clock: Clock, run_cli: Any
) -> None:
    serve_wire(server)
    server.add(WIRE, Route(status=404))
    config = make_config(tmp_path, url=server.base_url + "/feed.xml", profile="feed", interval="1h")
    requests = []
    for _ in range(60):  # hourly runs for two and a half days, then daily ones
        before = server.hits(WIRE)
        fetch_all_once(config, store)
        requests.append(server.hits(WIRE) - before)
        clock.now += timedelta(hours=1)
    # asked after 1, 2, 4, 8, 16 hours, then once a day
    assert [hour for hour, asked in enumerate(requests) if asked] == [0, 1, 3, 7, 15, 31, 55]
    for _ in range(6):
        clock.now += timedelta(days=1)
        fetch_all_once(config, store)
    given_up = {
        link["url"].removeprefix(server.base_url): link for link in store.given_up_links("site")
    }
    assert given_up[WIRE]["status"] == 404  # (and the consent wall, never an article)
    before = server.hits(WIRE)
    clock.now += timedelta(days=30)
    fetch_all_once(config, store)
    assert server.hits(WIRE) == before
    shown = run_cli("--db", str(store.path), "status")
    assert shown.returncode == 0, shown.stderr
    assert (
        f"given up     {server.base_url}{WIRE} (HTTP 404 Not Found; failing since" in shown.stdout
    )


def test_fetch_says_which_stories_were_stored_from_the_feed(
    tmp_path: Path, server: ScriptedServer, run_cli: Any
) -> None:
    serve_wire(server)
    config = tmp_path / "newswatch.toml"
    config.write_text(
        '[settings]\ndatabase = "news.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "wire"\nurl = "{server.base_url}/feed.xml"\nprofile = "feed"\n'
    )
    first = run_cli("--config", str(config), "fetch")
    assert first.returncode == 0, first.stderr
    assert "wire: 2 stories stored from what the feed or listing said" in first.stderr
    flagged = run_cli("--config", str(config), "flagged")
    assert "QuantumCell to build solid-state battery line in Arizona" in flagged.stdout
