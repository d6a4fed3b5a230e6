"""End to end: `newswatch fetch` as a subprocess against the fixture portal on 127.0.0.1.

What the portal holds, and so what these tests expect, is written down in
tests/fixtures/portal/EXPECTED.md.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from newswatch.sampleserver import SampleSite
from tests.conftest import CliRunner

ARTICLE = "/webpro1/main/mainnews.asp?id="
SSB_ARTICLES = {"1405801", "1405802"}
"""1405803 names its semi-solid-state cells in one paragraph, not in its headline or lead: the
default rule's prominence (2 paragraphs) takes that for a passing mention."""
MISSING = {"1405790", "1405795"}


def write_config(tmp_path: Path, base_url: str, **settings: object) -> Path:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    config = tmp_path / "newswatch.toml"
    config.write_text(
        f"""
[settings]
database = "news.db"
per_host_delay = 0
timeout = "10s"
retries = 0
{extra}
[[sources]]
name = "portal-home"
url = "{base_url}/webpro1/main/newshome.asp"
profile = "gulfoilandgas"

[[sources]]
name = "portal-middle-east"
url = "{base_url}/webpro1/main/newslist.asp?id=ME"
""",
        encoding="utf-8",
    )
    return config


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def article_id(url: object) -> str:
    return str(url).rsplit("=", 1)[-1]


def requested_articles(site: SampleSite) -> list[str]:
    return [article_id(p) for p in site.requests if p.startswith(ARTICLE)]


@pytest.fixture
def first_run(
    tmp_path: Path, portal: SampleSite, run_cli: CliRunner
) -> tuple[Path, SampleSite, CliRunner]:
    config = write_config(tmp_path, portal.base_url)
    result = run_cli("--config", str(config), "fetch")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return config, portal, run_cli


def test_stores_each_article_once(first_run: tuple[Path, SampleSite, CliRunner]) -> None:
    config, _, _ = first_run
    db = config.parent / "news.db"
    rows = query(db, "SELECT url, duplicate_of FROM articles ORDER BY url")
    ids = [article_id(url) for url, _ in rows]
    assert ids == sorted(f"14058{n:02d}" for n in range(1, 13))
    assert all(str(url).endswith(ARTICLE + i) for (url, _), i in zip(rows, ids, strict=True))
    assert not any("utm_" in str(url) for url, _ in rows)
    duplicates = {article_id(url): dup for url, dup in rows if dup is not None}
    assert list(duplicates) == ["1405812"]
    original = query(db, f"SELECT url FROM articles WHERE id = {duplicates['1405812']}")
    assert article_id(original[0][0]) == "1405811"


def test_bodies_are_clean(first_run: tuple[Path, SampleSite, CliRunner]) -> None:
    config, _, _ = first_run
    rows = query(config.parent / "news.db", "SELECT url, title, body, published FROM articles")
    for url, title, body, published in rows:
        text = str(body)
        assert title and published, url
        for junk in ("Advertisement", "Related news", "Share this article", ">>", "document.write"):
            assert junk not in text, (url, junk)
        assert "\n\n\n" not in text and text == text.strip()
        assert text.count("\n\n") >= 1, url  # several paragraphs


def test_flags_exactly_the_solid_state_battery_stories(
    first_run: tuple[Path, SampleSite, CliRunner],
) -> None:
    config, _, _ = first_run
    db = config.parent / "news.db"
    flagged = query(
        db, "SELECT rule, kind, url, title, published, matched, flagged_at FROM flagged"
    )
    articles = {article_id(url) for _, kind, url, *_ in flagged if kind == "article"}
    tickers = {article_id(url) for _, kind, url, *_ in flagged if kind == "ticker"}
    assert articles == SSB_ARTICLES
    assert tickers == {"1405795"}
    assert {rule for rule, *_ in flagged} == {"solid-state-battery"}
    for *_, matched, flagged_at in flagged:
        assert json.loads(str(matched)), "a flag records the terms that matched"
        assert str(flagged_at).endswith("Z")


def test_ticker_items_stored_once_each(first_run: tuple[Path, SampleSite, CliRunner]) -> None:
    config, _, _ = first_run
    rows = query(
        config.parent / "news.db", "SELECT url, region, published, seen_count FROM ticker_items"
    )
    targets = {article_id(url) for url, *_ in rows}
    assert targets == {
        "1405804",
        "1405805",
        "1405806",
        "1405807",
        "1405808",
        "1405809",
        "1405810",
        "1405811",
        "1405812",
        "1405790",
        "1405795",
    }
    assert len(rows) == len(targets)
    assert all(region and published for _, region, published, _ in rows)
    shared = [seen for url, _, _, seen in rows if article_id(url) == "1405810"]
    assert shared[0] > 1  # the same ticker line, seen on many pages, counted not repeated


def test_every_request_logged_and_robots_obeyed(
    first_run: tuple[Path, SampleSite, CliRunner],
) -> None:
    config, portal, _ = first_run
    db = config.parent / "news.db"
    fetched = query(db, "SELECT url, status, bytes, error FROM fetches")
    missing = {article_id(url) for url, status, _, error in fetched if status == 404}
    assert missing == MISSING
    assert all(error for url, status, _, error in fetched if status != 200)
    assert all(size > 0 for _, status, size, _ in fetched if status == 200)
    assert not any(p.startswith("/webpro1/admin") for p in portal.requests)
    article_requests = requested_articles(portal)
    assert len(article_requests) == len(set(article_requests))  # each page fetched once


def test_second_run_stores_nothing_new(first_run: tuple[Path, SampleSite, CliRunner]) -> None:
    config, portal, run_cli = first_run
    db = config.parent / "news.db"
    tables = ("articles", "ticker_items", "flags")
    before = {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    requests_before = len(portal.requests)
    result = run_cli("--config", str(config), "fetch")
    assert result.returncode == 0, result.stderr
    after = {t: query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    assert after == before
    second = portal.requests[requests_before:]
    refetched = {article_id(p) for p in second if p.startswith(ARTICLE)}
    assert refetched <= MISSING  # stored articles are never fetched again
    runs = query(db, "SELECT source, ok, new_articles, new_ticker_items FROM runs ORDER BY id")
    assert len(runs) == 4 and all(ok for _, ok, _, _ in runs)
    assert [r[2:] for r in runs[2:]] == [(0, 0), (0, 0)]


def test_summary_and_flagged_command(first_run: tuple[Path, SampleSite, CliRunner]) -> None:
    config, _, run_cli = first_run
    flagged = run_cli("--config", str(config), "flagged", "--json")
    assert flagged.returncode == 0, flagged.stderr
    rows = json.loads(flagged.stdout)
    assert {article_id(r["url"]) for r in rows} == SSB_ARTICLES | {"1405795"}
    text = run_cli("flagged", "--config", str(config))  # options also after the command
    assert "Solid-State Battery Plant" in text.stdout


def test_one_failing_source_does_not_stop_the_others(
    tmp_path: Path, portal: SampleSite, run_cli: CliRunner
) -> None:
    config = write_config(tmp_path, portal.base_url)
    with config.open("a", encoding="utf-8") as handle:
        handle.write('\n[[sources]]\nname = "dead"\nurl = "http://127.0.0.1:9/news.asp"\n')
    result = run_cli("--config", str(config), "fetch")
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert (
        "dead: failed: http://127.0.0.1:9/news.asp: cannot reach the host: cannot connect: "
        in result.stderr
    )
    db = tmp_path / "news.db"
    assert "(no page of it was requested)" in result.stderr and "robots" not in result.stderr
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 12
    assert query(db, "SELECT error IS NOT NULL FROM fetches WHERE source = 'dead'") == [(1,)]


def test_only_the_named_source(tmp_path: Path, portal: SampleSite, run_cli: CliRunner) -> None:
    config = write_config(tmp_path, portal.base_url, max_new_pages=2)
    name = "portal-middle-east"
    result = run_cli("--config", str(config), "fetch", "--source", name, "--source", name)
    assert result.returncode == 0, result.stderr
    assert query(tmp_path / "news.db", "SELECT DISTINCT source FROM fetches") == [(name,)]
    assert query(tmp_path / "news.db", "SELECT count(*) FROM runs") == [(1,)]  # named twice
    assert len(requested_articles(portal)) == 2  # the per-run budget of new pages
    unknown = run_cli("--config", str(config), "fetch", "--source", "nope")
    assert unknown.returncode == 2 and "no source named 'nope'" in unknown.stderr
