"""Feed sources end to end: feed content types and encodings, entries stored without a fetch,
entries followed one level deep to other hosts and read by the generic or a site profile,
health in `newswatch status`, and one release carried by three sources as one flagged story.

Feeds are served on 127.0.0.1 by the scripted server; "localhost" names the same machine
under another host name, as feeds.example.com and www.example.com would.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from newswatch.config import Config, config_from_dict
from newswatch.errors import ConfigError
from newswatch.fetch import decode_html
from newswatch.pipeline import SourceReport, source_profiles
from newswatch.sampleserver import SampleSite
from newswatch.store import Store
from tests.conftest import FIXTURES, CliRunner, Route, ScriptedServer, fetch_all_once
from tests.test_stories import PLANT

ARTICLE = "/webpro1/main/mainnews.asp?id="
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


PLANT_WIRE_COPY = (
    "BAUTZEN, Germany, March 26 (Newswire) - Construction has started on Germany's first "
    "large solid-state battery factory. " + PLANT
)
PLANT_TRADE_COPY = "DRESDEN (Trade Daily) - " + PLANT.rsplit("\n\n", 1)[0]


def paragraphs_html(text: str) -> str:
    return "".join(f"<p>{escape(paragraph)}</p>" for paragraph in text.split("\n\n"))


def rss(items: Sequence[Mapping[str, str]], *, encoding: str = "utf-8") -> str:
    entries = "".join(
        "<item>"
        f"<title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        "<pubDate>Wed, 26 Mar 2025 09:00:00 +0000</pubDate>"
        f"<description>{escape(item.get('summary', ''))}</description>"
        + (
            f"<content:encoded><![CDATA[{paragraphs_html(item['content'])}]]></content:encoded>"
            if "content" in item
            else ""
        )
        + "</item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Newswire</title><link>http://127.0.0.1/</link>{entries}</channel></rss>"
    )


def atom(title: str, link: str, summary: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Trade Daily</title><id>urn:trade</id><updated>2025-03-26T10:00:00Z</updated>"
        f'<entry><title>{escape(title)}</title><link href="{escape(link)}"/>'
        f"<id>{escape(link)}</id><updated>2025-03-26T10:00:00Z</updated>"
        f"<summary>{escape(summary)}</summary></entry></feed>"
    )


def article_page(title: str, text: str) -> bytes:
    """A news article page of a site nobody described: for the generic profile."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | Trade Daily</title>
<meta property="og:type" content="article">
<meta property="og:site_name" content="Trade Daily">
<meta property="article:published_time" content="2025-03-26T10:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/news/">News</a></nav>
<article><h1>{escape(title)}</h1>{paragraphs_html(text)}</article>
<footer><a href="/privacy/">Privacy</a></footer></body></html>""".encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "news.db") as opened:
        yield opened


def make_config(tmp_path: Path, *sources: dict[str, object]) -> Config:
    return config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "5s", "retries": 0},
            "sources": list(sources),
        },
        tmp_path / "newswatch.toml",
    )


def run(config: Config, store: Store) -> list[SourceReport]:
    return fetch_all_once(config, store)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def other_host(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


# --- entries: stored, followed, read ------------------------------------------------------


def test_full_entries_are_stored_and_teasers_followed_to_other_hosts(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    full_url = f"{server.base_url}/2025/03/26/solvane-breaks-ground/"
    teaser_url = other_host(f"{server.base_url}/news/2025/03/26/solvane-supply-deal")
    teaser_text = (
        "Solvane Energy has signed a five-year agreement to supply battery packs to Nordbahn "
        "Logistik, which will electrify 400 regional delivery trucks from next year.\n\n"
        "Financial terms were not disclosed. Deliveries are due to start in the second quarter, "
        "the companies said in a joint statement on Wednesday."
    )
    server.add(
        "/feed.xml",
        Route(
            body=rss(
                [
                    {"title": "Solvane breaks ground", "link": full_url, "content": PLANT},
                    {
                        "title": "Solvane signs supply deal",
                        "link": teaser_url,
                        "summary": "A deal.",
                    },
                ]
            ).encode(),
            headers=RSS_TYPE,
        ),
    )
    server.add(
        "/news/2025/03/26/solvane-supply-deal",
        Route(body=article_page("Solvane signs truck battery supply deal", teaser_text)),
    )
    config = make_config(
        tmp_path, {"name": "wire", "url": server.base_url + "/feed.xml", "profile": "feed"}
    )
    [report] = run(config, store)
    assert report.ok, report.failure
    assert report.new_articles == 2 and report.items_found == 2
    assert server.hits("/2025/03/26/solvane-breaks-ground/") == 0  # its entry was the story
    assert server.hits("/news/2025/03/26/solvane-supply-deal") == 1
    stored = query(store.path, "SELECT url, fetched_url, title, source FROM articles ORDER BY id")
    assert stored == [
        (full_url, server.base_url + "/feed.xml", "Solvane breaks ground", "wire"),
        (teaser_url, teaser_url, "Solvane signs truck battery supply deal", "wire"),
    ]
    [(body,)] = query(store.path, f"SELECT body FROM articles WHERE url = '{teaser_url}'")
    assert body == teaser_text

    again = run(config, store)[0]  # known entries are neither stored nor fetched again
    assert again.ok and again.new_articles == 0
    assert server.hits("/news/2025/03/26/solvane-supply-deal") == 1


def test_an_article_profile_reads_entry_pages_one_level_deep(
    tmp_path: Path, server: ScriptedServer, portal: SampleSite, store: Store
) -> None:
    links = [other_host(f"{portal.base_url}{ARTICLE}{n}") for n in ("1405801", "1405804")]
    items = [{"title": f"Story {n}", "link": link} for n, link in enumerate(links)]
    server.add("/gog.xml", Route(body=rss(items).encode(), headers=RSS_TYPE))
    source = {"name": "gog-feed", "url": server.base_url + "/gog.xml", "profile": "feed"}
    config = make_config(tmp_path, {**source, "article_profile": "gulfoilandgas"})
    [report] = run(config, store)
    assert report.ok, report.failure
    stored = query(store.path, "SELECT title, location FROM articles ORDER BY id")
    assert [location for _, location in stored] == ["Asia", "Saudi Arabia"]  # the site's fields
    assert stored[0][0].startswith("Tokai Kasei and Hanseong Chemical")
    assert query(store.path, "SELECT count(*) FROM ticker_items")[0][0] > 0
    pages = [path for path in portal.requests if path != "/robots.txt"]
    assert sorted(pages) == [f"{ARTICLE}1405801", f"{ARTICLE}1405804"]  # tickers not followed

    generic = make_config(tmp_path, {**source, "name": "generic-feed"})
    assert source_profiles(generic, generic.sources)["generic-feed"].articles.name == "generic"


def test_without_follow_every_entry_is_an_article(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    items = [
        {"title": "Short item", "link": f"{server.base_url}/a", "summary": "Only a teaser."},
        {"title": "Full item", "link": f"{server.base_url}/b", "content": PLANT},
    ]
    server.add("/feed.xml", Route(body=rss(items).encode(), headers=RSS_TYPE))
    config = make_config(
        tmp_path,
        {"name": "f", "url": server.base_url + "/feed.xml", "profile": "feed", "follow": False},
    )
    [report] = run(config, store)
    assert report.ok and report.new_articles == 2
    assert query(store.path, "SELECT title, body FROM articles ORDER BY title") == [
        ("Full item", PLANT),
        ("Short item", "Only a teaser."),
    ]
    assert [path for path, _ in server.log if path != "/robots.txt"] == ["/feed.xml"]


@pytest.mark.parametrize(
    "content_type",
    ["application/atom+xml", "application/xml", "text/xml; charset=utf-8", "text/html"],
)
def test_feed_content_types_are_accepted(
    tmp_path: Path, server: ScriptedServer, store: Store, content_type: str
) -> None:
    body = atom("Solvane breaks ground", f"{server.base_url}/a", "Teaser.")
    server.add("/feed", Route(body=body.encode(), headers={"Content-Type": content_type}))
    config = make_config(
        tmp_path,
        {"name": "f", "url": server.base_url + "/feed", "profile": "feed", "follow": False},
    )
    [report] = run(config, store)
    assert report.ok and report.items_found == 1


def test_the_xml_declaration_names_the_encoding(
    tmp_path: Path, server: ScriptedServer, store: Store
) -> None:
    title = "Новости энергетики: аккумуляторы"
    feed = rss([{"title": title, "link": f"{server.base_url}/a"}], encoding="koi8-r")
    content = feed.encode("koi8-r")
    assert decode_html(content, "application/rss+xml") == feed  # no charset in the header
    server.add("/feed", Route(body=content, headers={"Content-Type": "application/rss+xml"}))
    config = make_config(
        tmp_path,
        {"name": "ru", "url": server.base_url + "/feed", "profile": "feed", "follow": False},
    )
    [report] = run(config, store)
    assert report.ok
    assert query(store.path, "SELECT title FROM articles") == [(title,)]


# --- health -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "health", "error"),
    [
        (Route(status=404), "failing", "HTTP 404"),
        (Route(body=b"{}", headers={"Content-Type": "application/json"}), "failing", "json"),
        (Route(body=b"<rss><channel><title>x", headers=RSS_TYPE), "parser problem", "nothing"),
        (Route(body=b"<html><body>Back soon</body></html>"), "not a feed", "not an RSS or Atom"),
    ],
)
def test_a_feed_that_fails_shows_in_status(
    tmp_path: Path, server: ScriptedServer, store: Store, route: Route, health: str, error: str
) -> None:
    server.add("/feed.xml", route)
    config = make_config(
        tmp_path, {"name": "feed", "url": server.base_url + "/feed.xml", "profile": "feed"}
    )
    [report] = run(config, store)
    assert not report.ok
    [status] = store.source_status()
    assert (status["name"], status["health"]) == ("feed", health)
    assert error in status["last_run_error"]


# --- configuration ------------------------------------------------------------------------


def test_article_profile_is_checked(tmp_path: Path) -> None:
    feed = {"name": "f", "url": "http://127.0.0.1:9/feed", "profile": "feed"}
    with pytest.raises(ConfigError, match=r"sources\[0\]\.article_profile: only a source"):
        make_config(tmp_path, {**feed, "profile": "generic", "article_profile": "gulfoilandgas"})
    with pytest.raises(ConfigError, match=r"sources\[0\]\.article_profile: expected the profile"):
        make_config(tmp_path, {**feed, "article_profile": "feed"})
    config = make_config(tmp_path, {**feed, "article_profile": "atlantis"})
    with pytest.raises(ConfigError, match=r"sources\[0\]\.article_profile: unknown profile"):
        source_profiles(config, config.sources)


def test_the_shipped_config_watches_the_portal_and_public_feeds() -> None:
    from newswatch.config import load_config

    config = load_config()
    profiles = source_profiles(config, config.sources)
    feeds = [source for source in config.sources if source.profile == "feed"]
    assert any(source.profile == "gulfoilandgas" for source in config.sources)
    assert len(feeds) >= 5
    assert all(source.url.startswith("https://") for source in feeds)
    assert all(15 * 60 <= source.interval <= 24 * 3600 for source in config.sources)
    assert {type(profiles[source.name]).__name__ for source in feeds} == {"FeedProfile"}


# --- one story, three sources -------------------------------------------------------------


def test_one_release_from_three_sources_is_one_flagged_story(
    tmp_path: Path, server: ScriptedServer, portal: SampleSite, run_cli: CliRunner
) -> None:
    """The portal's page, a wire feed carrying an edited copy in full, and a trade site's
    Atom feed whose entry leads to its own edited copy on another host name."""
    trade_page = other_host(f"{server.base_url}/2025/03/26/solvane-energy-breaks-ground-saxony")
    wire_item = {"title": "Solvane starts work", "link": f"{server.base_url}/w/1", "content": ""}
    wire_item["content"] = PLANT_WIRE_COPY
    server.add("/wire.xml", Route(body=rss([wire_item]).encode(), headers=RSS_TYPE))
    server.add(
        "/trade.atom",
        Route(
            body=atom("Solvane builds in Saxony", trade_page, "Teaser").encode(),
            headers={"Content-Type": "application/atom+xml"},
        ),
    )
    server.add(
        "/2025/03/26/solvane-energy-breaks-ground-saxony",
        Route(body=article_page("Solvane Energy breaks ground in Saxony", PLANT_TRADE_COPY)),
    )
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f"""
[settings]
database = "news.db"
per_host_delay = 0
retries = 0

[[sources]]
name = "portal"
url = "{portal.base_url}/webpro1/main/newshome.asp"
profile = "gulfoilandgas"

[[sources]]
name = "wire"
url = "{server.base_url}/wire.xml"
profile = "feed"

[[sources]]
name = "trade"
url = "{server.base_url}/trade.atom"
profile = "feed"
""",
        encoding="utf-8",
    )
    fetched = run_cli("--config", str(config), "fetch")
    assert fetched.returncode == 0, fetched.stderr
    db = tmp_path / "news.db"
    assert query(db, "SELECT count(*) FROM articles WHERE source IN ('wire', 'trade')") == [(2,)]

    result = run_cli("--config", str(config), "flagged", "--json")
    assert result.returncode == 0, result.stderr
    stories = json.loads(result.stdout)
    carried = [story for story in stories if story["source_count"] > 1]
    assert len(carried) == 1
    [story] = carried
    assert {carrier["source"] for carrier in story["sources"]} == {"portal", "wire", "trade"}
    assert story["rules"] == ["solid-state-battery"]
    # two articles of the SSB rule's stories on the portal, one flag each; copies add none
    # (1405803 mentions solid-state cells in one paragraph only: not prominent)
    assert len(stories) == 3  # 1405801, 1405802 (x3 sources), ticker 1405795
    assert query(db, "SELECT count(*) FROM flags WHERE kind = 'article'") == [(2,)]

    wire_url = f"{server.base_url}/wire.xml"
    parsed = run_cli("--config", str(config), "parse", wire_url, "--profile", "feed", "--json")
    assert parsed.returncode == 0, parsed.stderr  # a feed URL, as `parse` fetches it
    assert [link["url"] for link in json.loads(parsed.stdout)["links"]] == [wire_item["link"]]

    text = run_cli("--config", str(config), "flagged").stdout
    assert text.count("3 sources") == 1
    for name in ("portal", "wire", "trade"):
        assert any(line.split()[1:2] == [name] for line in text.splitlines() if "://" in line)


def test_a_feed_source_pointed_at_a_web_page_says_so_and_offers_its_feeds(
    tmp_path: Path, server: ScriptedServer, run_cli: CliRunner
) -> None:
    """A site's home page built by JavaScript: no links to follow, feeds in its <head>."""
    page = (FIXTURES / "generic" / "app_shell_home.html").read_bytes()
    server.add("/", Route(body=page))
    config = tmp_path / "newswatch.toml"
    config.write_text(
        '[settings]\ndatabase = "news.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "kanto"\nurl = "{server.base_url}/"\nprofile = "feed"\n',
        encoding="utf-8",
    )
    fetched = run_cli("--config", str(config), "fetch")
    assert fetched.returncode == 1
    assert (
        "kanto: failed: not an RSS or Atom feed but a web page; it announces feeds:"
        f" {server.base_url}/feed/, https://wire.kanto-energy.example/news.atom"
        " (use one as the source's url)"
    ) in fetched.stderr
    assert "layout" not in fetched.stderr and "comments" not in fetched.stderr
    status = run_cli("--config", str(config), "status")
    assert "kanto  not a feed" in status.stdout
    assert "parser problem" not in status.stdout
