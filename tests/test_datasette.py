"""The Datasette metadata shipped with newswatch fits the schema Store creates.

Datasette itself is an optional extra; these tests run its canned queries and check its
table settings with plain sqlite3, the way Datasette would (named parameters bound).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from newswatch.datasette import METADATA
from newswatch.models import Article, Page, TickerItem
from newswatch.notify import AlertTarget, register_targets
from newswatch.rules import default_rules_path, load_rules
from newswatch.store import Store

GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"
SAMPLE_PARAMETERS = {"rule": "", "q": "solid-state battery"}
"""What a user might type into each canned query's form."""
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def metadata() -> dict[str, Any]:
    loaded = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def database_metadata() -> dict[str, Any]:
    section: dict[str, Any] = metadata()["databases"]["newswatch"]
    return section


QUERIES = database_metadata()["queries"]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A database made by Store, with a story, a flag, runs and an alert channel."""
    path = tmp_path_factory.mktemp("datasette") / "newswatch.db"
    with Store(path) as store:
        store.upsert_source("gog", f"{GOG}?home", "gulfoilandgas")
        url = f"{GOG}?id=1"
        article = Article(
            url=url,
            title="Toyota and Idemitsu to mass-produce all-solid-state batteries",
            published=date(2025, 1, 5),
            location="Asia",
            body="Toyota and Idemitsu will mass-produce solid-state batteries from 2027. " * 5,
        )
        teaser = TickerItem(url=f"{GOG}?id=2", text="Canada >> LNG Canada ships first cargo")
        page = Page(url=url, article=article, ticker=[teaser])
        store.save_page("gog", page, fetch_id=None, matcher=load_rules(default_rules_path()).match)
        started = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
        record_run(store, started, ok=True)
        record_run(store, started.replace(hour=8), ok=False, error="HTTP 503", error_kind="fetch")
        register_targets(store, [AlertTarget(name="hook", urls=("json://127.0.0.1:9/",))])
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    yield connection
    connection.close()


def record_run(
    store: Store,
    started: datetime,
    *,
    ok: bool,
    error: str | None = None,
    error_kind: str | None = None,
) -> None:
    store.record_run(
        "gog",
        started_at=started,
        finished_at=started,
        ok=ok,
        pages_fetched=1,
        new_articles=int(ok),
        new_ticker_items=int(ok),
        duplicates=0,
        flags=int(ok),
        errors=int(not ok),
        error=error,
        error_kind=error_kind,
    )


def columns_of(database: sqlite3.Connection, table: str) -> set[str]:
    return {row["name"] for row in database.execute(f"PRAGMA table_xinfo({table})")}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_canned_query_runs(database: sqlite3.Connection, name: str) -> None:
    query = QUERIES[name]
    assert query["title"] and query["description"]
    parameters = {p: SAMPLE_PARAMETERS[p] for p in _PARAMETER.findall(query["sql"])}
    rows = database.execute(query["sql"], parameters).fetchall()
    assert rows, f"{name} found nothing in a database that has something for it"


def test_canned_queries_find_what_they_promise(database: sqlite3.Connection) -> None:
    def run(name: str, **parameters: str) -> list[dict[str, Any]]:
        rows = database.execute(QUERIES[name]["sql"], parameters).fetchall()
        return [dict(row) for row in rows]

    [latest] = run("latest_flagged", rule="")
    assert latest["rule"] == "solid-state-battery" and latest["url"] == f"{GOG}?id=1"
    assert run("latest_flagged", rule="no-such-rule") == []
    [hit] = run("search", q="solid-state batteries")
    assert hit["url"] == f"{GOG}?id=1" and "[" in hit["snippet"]
    for awkward in ('"unbalanced', "NEAR(", "AND", "", "   "):
        run("search", q=awkward)  # never an FTS syntax error
    [health] = run("source_health")
    assert (health["health"], health["consecutive_failures"], health["error"]) == (
        "failing",
        1,
        "HTTP 503",
    )
    [by_source] = run("stories_by_source")
    assert (by_source["articles"], by_source["ticker_items"], by_source["flagged"]) == (1, 1, 1)
    [channel] = run("alert_health")
    assert channel["target"] == "hook" and channel["health"] == "ok"


def test_described_tables_and_columns_exist(database: sqlite3.Connection) -> None:
    tables = database_metadata()["tables"]
    existing = {row["name"] for row in database.execute("SELECT name FROM sqlite_master")}
    for table, settings in tables.items():
        assert table in existing, table
        assert settings["description"], table
        columns = columns_of(database, table)
        named = [*settings.get("columns", {}), *settings.get("facets", [])]
        named += [
            settings[key] for key in ("sort_desc", "label_column", "fts_pk") if key in settings
        ]
        for column in named:
            assert column in columns, f"{table}.{column}"
        if "fts_table" in settings:
            assert settings["fts_table"] in existing


def test_every_table_is_described(database: sqlite3.Connection) -> None:
    """A table added to the schema without a description fails here."""
    tables = {
        row["name"]
        for row in database.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'articles_fts%' AND name NOT LIKE 'sqlite_%'"
        )
    }
    assert tables == set(database_metadata()["tables"])


def test_the_metadata_file_is_shipped_inside_the_package() -> None:
    assert METADATA.is_file()
    assert Path(METADATA).parent.name == "datasette"
    assert metadata()["title"] == "newswatch"
    # `newswatch demo` writes newswatch-demo.db: the same descriptions and queries apply
    assert metadata()["databases"]["newswatch-demo"] == database_metadata()
