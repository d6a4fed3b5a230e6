"""Exports: csv, jsonl and json written row by row from one lazy store cursor."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newswatch.export import FORMATS, ExportFormat, write_rows
from newswatch.models import Article, Page, TickerItem
from newswatch.rules import parse_rules
from newswatch.store import Store

GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"
RULES = parse_rules(
    {
        "rules": [
            {"name": "ssb", "any": ["solid-state battery"]},
            {"name": "lng", "any": ["LNG"]},
        ]
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "newswatch.db", clock=clock) as opened:
        opened.upsert_source("gog", f"{GOG}?home", "gulfoilandgas")
        yield opened


def save(
    store: Store,
    number: int,
    title: str,
    body: str = "",
    ticker: str = "",
    published: date | None = date(2025, 1, 5),
) -> None:
    url = f"{GOG}?id={number}"
    text = body or f"{title}. " + " ".join(f"Paragraph {number} word {n}." for n in range(40))
    article = Article(url=url, title=title, published=published, body=text)
    items = [TickerItem(url=f"{GOG}?id={number + 500}", text=ticker)] if ticker else []
    store.save_page(
        "gog", Page(url=url, article=article, ticker=items), fetch_id=None, matcher=RULES.match
    )


def export(store: Store, fmt: ExportFormat, kind: Any = "articles", **filters: Any) -> str:
    out = io.StringIO(newline="")
    rows = store.iter_rows(kind, decode_json=fmt != "csv", **filters)
    write_rows(rows, out, fmt=fmt, columns=store.export_columns(kind))
    return out.getvalue()


def test_csv_has_every_column_and_survives_commas_quotes_and_newlines(store: Store) -> None:
    body = 'He said "solid-state battery", twice.\n\nSecond paragraph, with commas.'
    save(store, 1, "A, B and C", body)
    save(store, 2, "LNG exports rise")
    text = export(store, "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == store.export_columns("articles")
    assert [row["title"] for row in rows] == ["A, B and C", "LNG exports rise"]
    assert rows[0]["body"] == body
    assert rows[0]["duplicate_of"] == ""  # NULL


def test_jsonl_and_json_give_the_same_rows_with_lists_decoded(store: Store) -> None:
    save(store, 1, "Solid-state battery news", ticker="Canada >> LNG terminal")
    lines = [json.loads(line) for line in export(store, "jsonl", "flagged").splitlines()]
    array = json.loads(export(store, "json", "flagged"))
    assert lines == array
    assert sorted((row["rule"], row["kind"]) for row in array) == [
        ("lng", "ticker"),
        ("ssb", "article"),
    ]
    article = next(row for row in array if row["kind"] == "article")
    assert article["matched"] == ["solid-state battery"]
    assert article["url"] == f"{GOG}?id=1"


def test_csv_of_flagged_keeps_lists_as_json_text(store: Store) -> None:
    save(store, 1, "Solid-state battery news")
    [row] = list(csv.DictReader(io.StringIO(export(store, "csv", "flagged"), newline="")))
    assert json.loads(row["matched"]) == ["solid-state battery"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_rows_is_still_a_well_formed_file(store: Store, fmt: ExportFormat) -> None:
    text = export(store, fmt, "ticker")
    expected = {
        "csv": ",".join(store.export_columns("ticker")) + "\r\n",
        "jsonl": "",
        "json": "[]\n",
    }
    assert text == expected[fmt]


def test_rule_and_since_filter_every_kind(store: Store, clock: Clock) -> None:
    """--since is on the publication date; first seen for a story without one."""
    save(store, 1, "Solid-state battery news", ticker="Asia >> Solid-state battery plant")
    save(store, 2, "LNG news", ticker="Canada >> LNG terminal", published=date(2026, 12, 3))
    clock.now += timedelta(days=2)
    save(store, 3, "More solid-state battery news", published=None)
    save(store, 4, "Older solid-state battery news", published=date(2024, 6, 1))

    def urls(kind: Any, **filters: Any) -> list[str]:
        return [row["url"] for row in store.iter_rows(kind, **filters)]

    assert urls("articles", rule="ssb") == [f"{GOG}?id={n}" for n in (1, 3, 4)]
    assert urls("articles", since=date(2026, 12, 1)) == [f"{GOG}?id=2", f"{GOG}?id=3"]
    assert urls("articles", since=date(2025, 1, 5)) == [f"{GOG}?id={n}" for n in (1, 2, 3)]
    assert urls("ticker", rule="lng") == [f"{GOG}?id=502"]
    assert urls("ticker", since=date(2026, 11, 29)) == [f"{GOG}?id=501", f"{GOG}?id=502"]
    assert urls("ticker", since=date(2026, 11, 30)) == []
    assert urls("flagged", rule="ssb", since=date(2025, 1, 1)) == [
        f"{GOG}?id=1",
        f"{GOG}?id=501",
        f"{GOG}?id=3",
    ]
    assert urls("flagged", since=datetime(2026, 12, 1, 7, 0, tzinfo=UTC)) == [
        f"{GOG}?id=2",
        f"{GOG}?id=3",
    ]


# --- streaming ----------------------------------------------------------------------------


class WatchedRows:
    """Rows made on demand, counting how many were taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for number in range(self.total):
            self.taken += 1
            yield {"id": number, "title": f"story {number}", "matched": ["a", "b"]}


class WatchedOutput(io.StringIO):
    """Remembers how many rows had been taken at each write."""

    def __init__(self, rows: WatchedRows) -> None:
        super().__init__(newline="")
        self.rows = rows
        self.taken_at_write: list[int] = []

    def write(self, text: str) -> int:
        self.taken_at_write.append(self.rows.taken)
        return super().write(text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_writers_write_each_row_before_taking_the_next(fmt: ExportFormat) -> None:
    rows = WatchedRows(5000)
    out = WatchedOutput(rows)
    assert write_rows(rows, out, fmt=fmt, columns=["id", "title", "matched"]) == 5000
    row_writes = [taken for taken in out.taken_at_write if taken > 0]
    assert row_writes[:3] == [1, 2, 3]  # written as they come, not gathered first
    assert len(set(row_writes)) == 5000


def add_articles(store: Store, count: int) -> None:
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO articles (url, fetched_url, source, title, body, first_seen, last_seen)"
            " VALUES (?, ?, 'gog', ?, 'text', '2026-11-29T07:00:00Z', '2026-11-29T07:00:00Z')",
            [(f"{GOG}?id={n}", f"{GOG}?id={n}", f"story {n}") for n in range(count)],
        )


def test_the_store_reads_rows_a_batch_at_a_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_articles(store, 3000)
    fetched: list[int] = []

    class CountingCursor:
        def __init__(self, cursor: sqlite3.Cursor) -> None:
            self.cursor = cursor
            self.description = cursor.description

        def fetchmany(self, size: int) -> list[Any]:
            batch = self.cursor.fetchmany(size)
            fetched.append(len(batch))
            return batch

    execute = store.db.execute
    monkeypatch.setattr(store.db, "execute", lambda *a: CountingCursor(execute(*a)))

    rows = store.iter_rows("articles")
    first = next(rows)
    assert first["title"] == "story 0"
    assert sum(fetched) < 3000  # one batch is in memory, not the table
    assert sum(1 for _ in rows) == 2999
    assert sum(fetched) == 3000


def test_rows_are_a_consistent_snapshot_while_the_database_changes(store: Store) -> None:
    add_articles(store, 1200)  # more than one batch
    rows = store.iter_rows("articles")
    next(rows)
    with Store(store.path) as writer:  # another process stores a story meanwhile
        save(writer, 5000, "A story stored mid-export")
    assert sum(1 for _ in rows) == 1199
    assert sum(1 for _ in store.iter_rows("articles")) == 1201
