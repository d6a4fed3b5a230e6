"""The Atom feed of flagged stories, read back with feedparser as a feed reader would."""

from __future__ import annotations

import calendar
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import feedparser
import pytest

from newswatch.feedout import (
    ATOM_NS,
    FeedFile,
    default_feed_id,
    write_atom,
    write_atom_file,
    write_feeds,
)
from newswatch.models import Article, Page, TickerItem
from newswatch.rules import parse_rules
from newswatch.store import Store

GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"
RULES = parse_rules(
    {
        "rules": [
            {"name": "ssb", "any": ["solid-state battery"]},
            {"name": "toyota", "any": ["Toyota"]},
        ]
    }
)
START = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    moments = iter(START + timedelta(minutes=n) for n in range(1000))
    with Store(tmp_path / "newswatch.db", clock=lambda: next(moments)) as opened:
        opened.upsert_source("gog", f"{GOG}?home", "gulfoilandgas")
        yield opened


def save(store: Store, number: int, title: str, *, ticker: list[TickerItem] | None = None) -> None:
    url = f"{GOG}?id={number}"
    body = f"{title}. " + " ".join(f"Paragraph {number} word {n}." for n in range(40))
    article = Article(url=url, title=title, published=date(2025, 1, number), body=body)
    page = Page(url=url, article=article, ticker=ticker or [])
    store.save_page("gog", page, fetch_id=None, matcher=RULES.match)


def parse(store: Store, **options: str) -> feedparser.FeedParserDict:
    out = io.BytesIO()
    write_atom(
        store.flagged(),
        out,
        title=options.get("title", "newswatch: flagged stories"),
        feed_id="urn:uuid:2f2c4b2e-4b4f-4f5e-9d1c-1f2f3e4d5c6b",
        self_url=options.get("self_url"),
    )
    feed = feedparser.parse(out.getvalue())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def utc(parsed: object) -> datetime:
    assert isinstance(parsed, tuple)
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def test_flagged_stories_become_atom_entries_newest_first(store: Store) -> None:
    save(store, 1, "Solid-state battery pilot line opens")
    save(store, 2, "LNG carrier order")  # not flagged
    save(store, 3, "Solid-state battery & <electrolyte> news")

    feed = parse(store, self_url="https://example.com/flagged.xml")

    assert feed.version == "atom10"
    assert feed.feed.title == "newswatch: flagged stories"
    assert feed.feed.id == "urn:uuid:2f2c4b2e-4b4f-4f5e-9d1c-1f2f3e4d5c6b"
    assert feed.feed.links[0].rel == "self"
    assert [entry.title for entry in feed.entries] == [
        "Solid-state battery & <electrolyte> news",
        "Solid-state battery pilot line opens",
    ]
    newest = feed.entries[0]
    assert newest.id == newest.link == f"{GOG}?id=3"
    assert utc(newest.published_parsed) == datetime(2025, 1, 3, tzinfo=UTC)
    flagged_at = datetime.fromisoformat(store.flagged()[0]["flagged_at"])
    assert flagged_at > START
    assert utc(newest.updated_parsed) == utc(feed.feed.updated_parsed) == flagged_at
    assert [tag.term for tag in newest.tags] == ["ssb"]
    assert "matched: solid-state battery" in newest.summary


def test_a_story_is_one_entry_however_often_it_was_flagged(store: Store) -> None:
    teaser = TickerItem(url=f"{GOG}?id=1", text="Asia >> Toyota solid-state battery plant")
    save(store, 5, "Toyota expands in Asia", ticker=[teaser])  # the teaser of article 1
    save(store, 1, "Toyota plans a solid-state battery plant")  # ssb and toyota

    feed = parse(store)

    assert sorted(entry.link for entry in feed.entries) == [f"{GOG}?id=1", f"{GOG}?id=5"]
    story = next(entry for entry in feed.entries if entry.link.endswith("id=1"))
    assert sorted(tag.term for tag in story.tags) == ["ssb", "toyota"]


def test_every_element_atom_requires_is_there(store: Store) -> None:
    save(store, 1, "Solid-state battery pilot line opens")
    out = io.BytesIO()
    write_atom(store.flagged(), out, title="t", feed_id="urn:x:1")
    root = ET.fromstring(out.getvalue())
    assert root.tag == f"{{{ATOM_NS}}}feed"
    for name in ("id", "title", "updated", "author/{ns}name"):
        assert root.find(f"{{{ATOM_NS}}}" + name.format(ns=f"{{{ATOM_NS}}}")) is not None, name
    for entry in root.iter(f"{{{ATOM_NS}}}entry"):
        for name in ("id", "title", "updated", "link"):
            assert entry.find(f"{{{ATOM_NS}}}{name}") is not None, name
    assert out.getvalue().startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<feed xmlns=")


def test_an_empty_feed_is_still_valid() -> None:
    out = io.BytesIO()
    assert write_atom([], out, title="nothing yet", feed_id="urn:x:empty") == 0
    feed = feedparser.parse(out.getvalue())
    assert not feed.bozo and feed.version == "atom10" and feed.entries == []


def test_the_file_is_replaced_whole_and_unchanged_data_gives_the_same_bytes(
    store: Store, tmp_path: Path
) -> None:
    target = tmp_path / "public" / "flagged.xml"
    save(store, 1, "Solid-state battery pilot line opens")
    options = {"title": "t", "feed_id": default_feed_id(store.path, None)}
    assert write_atom_file(target, store.flagged(), **options) == 1
    first = target.read_bytes()
    assert write_atom_file(target, store.flagged(), **options) == 1
    assert target.read_bytes() == first
    save(store, 2, "Another solid-state battery story")
    assert write_atom_file(target, store.flagged(), **options) == 2
    assert len(feedparser.parse(target.read_bytes()).entries) == 2
    assert [p.name for p in target.parent.iterdir()] == ["flagged.xml"]


def test_feed_ids_are_stable_per_database_and_rule(tmp_path: Path) -> None:
    database = tmp_path / "newswatch.db"
    assert default_feed_id(database, "ssb") == default_feed_id(database, "ssb")
    assert default_feed_id(database, "ssb") != default_feed_id(database, None)
    assert default_feed_id(database, None).startswith("urn:uuid:")


def test_configured_feed_files_are_rewritten_per_rule(store: Store, tmp_path: Path) -> None:
    save(store, 1, "Toyota plans a solid-state battery plant")
    save(store, 2, "Toyota opens a showroom")
    feeds = [
        FeedFile(path=tmp_path / "ssb.xml", rule="ssb", self_url="https://example.com/ssb.xml"),
        FeedFile(path=tmp_path / "all.xml", limit=1),
    ]
    write_feeds(store, feeds)
    ssb = feedparser.parse((tmp_path / "ssb.xml").read_bytes())
    assert ssb.feed.title == "newswatch: ssb" and ssb.feed.id == "https://example.com/ssb.xml"
    assert [entry.link for entry in ssb.entries] == [f"{GOG}?id=1"]
    assert len(feedparser.parse((tmp_path / "all.xml").read_bytes()).entries) == 1
