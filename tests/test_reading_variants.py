"""A second round of layouts, written after the fix and not tuned against (issue 10): a site
whose every page names its front page as canonical, an AMP copy, headlines in a plain <div>
with the site's name before them in <title>, an Atom wire whose pages are gone or not HTML,
and a 503 that is asked again on the very next run."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from newswatch.config import Config, config_from_dict
from newswatch.pipeline import config_rules
from newswatch.store import Store
from tests.conftest import FIXTURES, Route, ScriptedServer, fetch_all_once

FOLDER = FIXTURES / "variants"
STORIES = {
    "/stories/shell-sells-nigerian-onshore-unit-to-local-group": "shell.html",
    "/stories/vattenfall-pauses-norfolk-boreas-work-again": "vattenfall.html",
    "/stories/cepsa-renames-itself-moeve-in-rebrand": "cepsa.html",
    "/amp/stories/cepsa-renames-itself-moeve-in-rebrand": "cepsa.html",
}


def make_config(tmp_path: Path, **source: object) -> Config:
    return config_from_dict(
        {
            "settings": {"per_host_delay": 0, "timeout": "3s", "retries": 0},
            "sources": [{"name": "desk", **source}],
        },
        tmp_path / "newswatch.toml",
    )


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def serve(server: ScriptedServer, name: str, path: str, **route: Any) -> None:
    text = (FOLDER / name).read_text().replace("http://desk.example", server.base_url)
    server.add(path, Route(body=text.encode(), **route))


def test_a_front_page_canonical_merges_nothing_and_an_amp_copy_is_one_row(
    tmp_path: Path, server: ScriptedServer
) -> None:
    serve(server, "home.html", "/")
    for path, name in STORIES.items():
        serve(server, name, path)
    with Store(tmp_path / "news.db") as store:
        [report] = fetch_all_once(
            make_config(tmp_path, url=server.base_url + "/", profile="generic"), store
        )
    assert report.ok
    rows = query(tmp_path / "news.db", "SELECT url, title FROM articles ORDER BY title")
    assert [(url.removeprefix(server.base_url), title) for url, title in rows] == [
        ("/stories/cepsa-renames-itself-moeve-in-rebrand", "Cepsa renames itself Moeve in rebrand"),
        (
            "/stories/shell-sells-nigerian-onshore-unit-to-local-group",
            "Shell sells Nigerian onshore unit to local group",
        ),
        (
            "/stories/vattenfall-pauses-norfolk-boreas-work-again",
            "Vattenfall pauses Norfolk Boreas work again",
        ),
    ]


def test_an_atom_wire_whose_pages_are_gone_or_not_html_keeps_every_entry(
    tmp_path: Path, server: ScriptedServer
) -> None:
    serve(server, "wire.atom", "/wire.atom", headers={"Content-Type": "application/atom+xml"})
    server.add("/wire/sodium-ion-ohio", Route(status=410))
    server.add(
        "/wire/ssb-startup-bankruptcy",
        Route(status=503),
        Route(body=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}),
    )
    config = make_config(tmp_path, url=server.base_url + "/wire.atom", profile="feed")
    with Store(tmp_path / "news.db") as store:
        [first] = fetch_all_once(config, store, config_rules(config).match)
        [second] = fetch_all_once(config, store, config_rules(config).match)  # no time passed
    assert first.ok and second.ok
    assert server.hits("/wire/ssb-startup-bankruptcy") == 2  # a 503 is asked again at once
    assert server.hits("/wire/sodium-ion-ohio") == 1  # a 410 waits for the next interval
    stored = query(tmp_path / "news.db", "SELECT title, body, read_from FROM articles ORDER BY 1")
    assert stored == [
        (
            "Sodium-ion maker picks Ohio for first US plant",
            "The plant would make 10 GWh a year of cells for grid storage from 2027.",
            "feed",
        ),
        (
            "Solid-state battery start-up files for bankruptcy",
            "The company had promised solid-state battery samples to carmakers this year.",
            "feed",
        ),
    ]
    assert query(tmp_path / "news.db", "SELECT title FROM flagged") == [
        ("Solid-state battery start-up files for bankruptcy",)
    ]
