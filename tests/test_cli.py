"""The `newswatch` command as a user runs it: a subprocess, real files, exit codes."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser  # type: ignore[import-untyped]

from newswatch.models import Article, Page
from newswatch.rules import default_rules_path, load_rules, parse_rules
from newswatch.store import Store
from tests.conftest import FIXTURES, CliRunner, Route, ScriptedServer

SEED_PAGE = FIXTURES / "gulfoilandgas" / "article_1389532_cp1252.html"
SEED_TITLE = (
    "China & South Korea Tailgating behind Japan’s Subsidy of US$660M for Batteries in 2024"
)


SSB = "solid-state-battery"
PASSING = (
    "Toyota raised its profit forecast on Wednesday as hybrid sales in North America rose.\n\n"
    "Hybrids made up nearly 40% of its sales in the quarter, the company said.\n\n"
    "It also kept its plans for cars with solid-state batteries later in the decade.\n\n"
    "Shares rose 3% in Tokyo."
)


def assert_clean_failure(result: object, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


def test_version_and_help(run_cli: CliRunner) -> None:
    assert run_cli("--version").stdout.startswith("newswatch, version ")
    commands = run_cli("--help").stdout
    for command in ("fetch", "run", "parse", "rules", "flagged", "search", "status", "demo"):
        assert command in commands


def test_parse_a_saved_page(run_cli: CliRunner) -> None:
    result = run_cli("parse", str(SEED_PAGE))
    assert result.returncode == 0, result.stderr
    assert SEED_TITLE in result.stdout
    assert "published: 2025-01-05" in result.stdout and "location: Asia" in result.stdout
    assert "ticker items (6)" in result.stdout


def test_parse_json(run_cli: CliRunner) -> None:
    url = "https://www.gulfoilandgas.com/webpro1/main/mainnews.asp?id=1389532"
    result = run_cli("parse", str(SEED_PAGE), "--url", url, "--json")
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert page["url"] == url
    assert page["article"]["title"] == SEED_TITLE
    assert page["article"]["published"] == "2025-01-05"
    assert page["article"]["body"].count("\n\n") == 3  # four paragraphs
    assert [item["region"] for item in page["ticker"]] == [
        "Australia",
        "Bermuda",
        "Bermuda",
        "Canada",
        "Finland",
        "France",
    ]
    assert all(item["url"].startswith("https://www.gulfoilandgas.com/") for item in page["ticker"])


def test_parse_errors(run_cli: CliRunner, tmp_path: Path) -> None:
    assert_clean_failure(run_cli("parse", "no-such-file.html"), 1, "no-such-file.html")
    assert_clean_failure(run_cli("parse", "ftp://example.org/a"), 1, "only http:// and https://")
    assert_clean_failure(run_cli("parse", "http://127.0.0.1:99999/x"), 1, "port")
    assert_clean_failure(
        run_cli("parse", str(SEED_PAGE), "--profile", "nope"), 2, "nope", "gulfoilandgas"
    )
    bad_profile = tmp_path / "mine.toml"
    bad_profile.write_text("[artcle]\n", encoding="utf-8")
    assert_clean_failure(
        run_cli("parse", str(SEED_PAGE), "--profile", str(bad_profile)), 2, "mine.toml", "artcle"
    )


def test_rules_test_plain_and_json(run_cli: CliRunner) -> None:
    lines = (
        "Toyota delays its all-solid-state battery launch\n"
        "Samsung ships a faster solid-state drive\n\n"
    )
    plain = run_cli("rules", "test", input=lines)
    assert plain.returncode == 0, plain.stderr
    first, second = [line for line in plain.stdout.splitlines() if not line.startswith("  ")][:2]
    assert first.startswith("MATCH solid-state-battery") and "Toyota" in first
    assert second.startswith("no match") and "Samsung" in second
    records = [
        json.loads(line)
        for line in run_cli("rules", "test", "--json", input=lines).stdout.splitlines()
    ]
    assert len(records) == 2
    assert records[0]["rules"] == ["solid-state-battery"]
    assert records[0]["matches"]["solid-state-battery"]["terms"]
    assert records[1]["rules"] == [] and records[1]["matches"] == {}
    assert "solid-state-battery" in records[1]["explanations"]


def test_reading_commands_without_a_database(run_cli: CliRunner, tmp_path: Path) -> None:
    for command in ("flagged", "status"):
        assert_clean_failure(run_cli("--db", "absent.db", command), 1, "absent.db", "no database")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE inventory (item TEXT)")
    for command in ("flagged", "fetch", "run"):  # a usage error: a service must not restart
        result = run_cli("--db", str(other), command)
        assert_clean_failure(result, 2, "other.db: not a newswatch database")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other.db"]  # no lock file


def test_configuration_errors_exit_2(run_cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[settings]\ntimeout = 'soon'\n", encoding="utf-8")
    assert_clean_failure(
        run_cli("--config", str(config), "fetch"), 2, "bad.toml", "settings.timeout"
    )
    config.write_text(
        "[[sources]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\nprofile = 'atlantis'\n",
        encoding="utf-8",
    )
    assert_clean_failure(
        run_cli("--config", str(config), "fetch"), 2, "bad.toml", "sources[0].profile", "atlantis"
    )
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rules]]\nname = 'x'\nanyy = ['a']\n", encoding="utf-8")
    config.write_text("[settings]\nrules = 'rules.toml'\n", encoding="utf-8")
    assert_clean_failure(run_cli("--config", str(config), "rules", "test", input="x\n"), 2, "anyy")
    assert_clean_failure(run_cli("--config", str(tmp_path / "none.toml"), "fetch"), 2, "not found")
    assert_clean_failure(run_cli("fetch", "--no-such-option"), 2, "no-such-option")


def test_a_bad_alert_url_is_one_clear_line(run_cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text(
        "[[sources]]\nname = 's'\nurl = 'http://127.0.0.1:9/'\n"
        "[[alerts]]\nname = 'x'\nurls = ['json://127.0.0.1:9/', 'notascheme://foo']\n",
        encoding="utf-8",
    )
    for command in (["alerts", "test"], ["fetch"], ["run"]):  # before anything is sent
        result = run_cli("--config", str(config), *command)
        assert_clean_failure(result, 2, "alerts[0].urls[1]: not a notification URL apprise")
        assert result.stderr.count("\n") == 1, result.stderr  # not apprise's log, not an echo


def test_demo_then_read_the_database(run_cli: CliRunner, tmp_path: Path) -> None:
    demo = run_cli("demo")
    assert demo.returncode == 0, demo.stderr
    assert "Flagged stories" in demo.stdout
    assert "Solid-State Batteries in Arizona" in demo.stdout
    db = tmp_path / "newswatch-demo.db"
    with sqlite3.connect(db) as connection:
        articles = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        flagged = connection.execute("SELECT count(*) FROM flagged").fetchone()[0]
    assert articles == 8 and flagged == 3

    assert "broken ticker link on purpose" in demo.stderr
    again = run_cli("demo")  # a second run finds the same stories already stored
    assert again.returncode == 0, again.stderr
    assert "broken ticker link" not in again.stderr  # no error this time: nothing to explain
    with sqlite3.connect(db) as connection:
        originals = "SELECT count(*) FROM articles WHERE duplicate_of IS NULL"
        assert connection.execute(originals).fetchone()[0] == 8
        assert connection.execute("SELECT count(*) FROM flagged").fetchone()[0] == 3

    search = run_cli("--db", str(db), "search", "Arizona", "--json")
    assert search.returncode == 0, search.stderr
    assert any("Arizona" in hit["title"] for hit in json.loads(search.stdout))
    every = json.loads(run_cli("--db", str(db), "search", "the", "--json").stdout)
    assert len(every) == 8
    broad = run_cli("--db", str(db), "search", "the", "--max-ranked", "3", "--json")
    assert broad.returncode == 0, broad.stderr
    assert [hit["id"] for hit in json.loads(broad.stdout)] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert "'the' matches more than 3 articles: the most recently stored first" in broad.stderr
    assert "--all" in broad.stderr
    malformed = run_cli("--db", str(db), "search", "battery AND NOT hydrogen")
    assert_clean_failure(malformed, 2, "bad search query 'battery AND NOT hydrogen'")
    near = run_cli("--db", str(db), "search", "NEAR(solid battery, x)")
    assert_clean_failure(near, 2, "bad search query")
    assert_clean_failure(run_cli("--db", str(db), "search", " "), 2, "empty search query")
    ranked = run_cli("--db", str(db), "search", "the", "--max-ranked", "3", "--all", "--json")
    assert len(json.loads(ranked.stdout)) == 8 and not ranked.stderr
    assert all(hit["rank"] is not None for hit in json.loads(ranked.stdout))
    status = run_cli("--db", str(db), "status", "--json")
    (row,) = json.loads(status.stdout)["sources"]
    assert row["name"] == "demo-portal" and row["articles"] == 8

    applied = run_cli("--db", str(db), "rules", "apply")
    assert applied.returncode == 0, applied.stderr
    assert "added: 0, removed: 0" in applied.stdout

    empty_rules = tmp_path / "other-rules.toml"
    empty_rules.write_text("[[rules]]\nname = 'lng'\nany = ['LNG']\n", encoding="utf-8")
    config = tmp_path / "other.toml"
    config.write_text(f"[settings]\nrules = '{empty_rules.name}'\n", encoding="utf-8")
    changed = run_cli("--config", str(config), "--db", str(db), "rules", "apply")
    assert changed.returncode == 0, changed.stderr
    assert "removed: 3" in changed.stdout
    with sqlite3.connect(db) as connection:
        rules = {r for (r,) in connection.execute("SELECT DISTINCT rule FROM flagged")}
    assert rules == {"lng"}


def test_feed_export_and_alerts_commands(run_cli: CliRunner, tmp_path: Path) -> None:
    assert run_cli("demo").returncode == 0
    db = str(tmp_path / "newswatch-demo.db")

    feed = run_cli("--db", db, "feed", "--rule", "solid-state-battery", "-o", "out/ssb.xml")
    assert feed.returncode == 0, feed.stderr
    parsed = feedparser.parse((tmp_path / "out" / "ssb.xml").read_bytes())
    assert not parsed.bozo
    assert len(parsed.entries) == 3
    assert any("Arizona" in entry.title for entry in parsed.entries)

    jsonl = run_cli("--db", db, "export", "--format", "jsonl", "--what", "articles")
    assert jsonl.returncode == 0, jsonl.stderr
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(rows) == 8 and all(row["url"] and row["body"] for row in rows)

    csv_out = run_cli("--db", db, "export", "--format", "csv", "-o", str(tmp_path / "f.csv"))
    assert csv_out.returncode == 0, csv_out.stderr
    with (tmp_path / "f.csv").open(newline="", encoding="utf-8") as handle:
        flagged = list(csv.DictReader(handle))
    assert {row["rule"] for row in flagged} == {"solid-state-battery"} and len(flagged) == 3

    no_targets = run_cli("--db", db, "alerts", "test")
    assert_clean_failure(no_targets, 2, "[[alerts]]", "no [[alerts]] targets configured")


def test_text_is_printed_literally(run_cli: CliRunner, tmp_path: Path) -> None:
    assert run_cli("demo").returncode == 0
    db = str(tmp_path / "newswatch-demo.db")
    for query in ("[/]", "[x]", "a:b:c"):
        result = run_cli("--db", db, "search", query)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        assert query in result.stdout + result.stderr
    tested = run_cli("rules", "test", input="x :smile: [bold]SSB[/bold]\n")
    assert "x :smile: [bold]SSB[/bold]" in tested.stdout


def test_unwritable_outputs_are_clean_errors(run_cli: CliRunner, tmp_path: Path) -> None:
    assert run_cli("demo").returncode == 0
    db = str(tmp_path / "newswatch-demo.db")
    for command in (
        ["feed", "-o", "/proc/newswatch.xml"],
        ["export", "--format", "csv", "-o", "/proc/x.csv"],
    ):
        assert_clean_failure(run_cli("--db", db, *command), 1, "/proc/", "cannot write")


def test_ctrl_c_keeps_what_was_fetched(tmp_path: Path, server: ScriptedServer) -> None:
    links = "".join(
        f'<div class="newsblock"><a class="newslinkgog" href="/webpro1/main/mainnews.asp?id={n}">'
        f"<b>Story {n}</b></a></div>"
        for n in range(1, 6)
    )
    server.add(
        "/webpro1/main/newshome.asp", Route(body=f"<html><body>{links}</body></html>".encode())
    )
    page = (FIXTURES / "portal" / "webpro1" / "main" / "mainnews.asp__id=1405808").read_bytes()
    server.add("/webpro1/main/mainnews.asp?id=1", Route(body=page))
    for n in range(2, 6):
        server.add(f"/webpro1/main/mainnews.asp?id={n}", Route(action="hang"))
    config = tmp_path / "slow.toml"
    config.write_text(
        f'[settings]\ndatabase = "slow.db"\nper_host_delay = 0\nretries = 0\ntimeout = "60s"\n'
        f'[[sources]]\nname = "slow"\nurl = "{server.base_url}/webpro1/main/newshome.asp"\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "newswatch", "--config", str(config), "fetch"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 20
    while server.hits("/webpro1/main/mainnews.asp?id=2") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted by SIGINT" in stderr
    assert "slow" in stdout and "FAILED" in stdout  # the summary is still printed
    with sqlite3.connect(tmp_path / "slow.db") as connection:
        assert connection.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
        (error,) = connection.execute("SELECT error FROM runs").fetchone()
    assert "interrupted" in error


def test_feeds_and_alerts_must_name_existing_rules(run_cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(
        "[[sources]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\n"
        "[[feeds]]\npath = 'out.xml'\nrule = 'solid-state-batery'\n",
        encoding="utf-8",
    )
    assert_clean_failure(
        run_cli("--config", str(config), "fetch"), 2, "feeds[0].rule", "solid-state-batery"
    )
    config.write_text(
        "[[alerts]]\nname = 'desk'\nurls = ['json://127.0.0.1:9/']\nrule = 'nope'\n",
        encoding="utf-8",
    )
    assert_clean_failure(run_cli("--config", str(config), "alerts", "test"), 2, "nope")


def test_status_of_a_run_that_found_the_listing_unchanged(
    tmp_path: Path, server: ScriptedServer, run_cli: CliRunner
) -> None:
    server.serve_folder(FIXTURES / "portal")  # answers 304 to a matching If-None-Match
    config = tmp_path / "portal.toml"
    config.write_text(
        '[settings]\ndatabase = "portal.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "home"\nurl = "{server.base_url}/webpro1/main/newshome.asp"\n',
        encoding="utf-8",
    )
    for _ in range(2):
        fetched = run_cli("--config", str(config), "fetch")
        assert fetched.returncode == 0, fetched.stderr
    status = run_cli("--config", str(config), "status")
    assert status.returncode == 0, status.stderr
    assert "ok (unchanged): 1 page, nothing to read, 0 new" in status.stdout
    assert "usually" not in status.stdout and "0 items found" not in status.stdout


def test_status_lists_sources_in_the_order_of_the_configuration(
    tmp_path: Path, server: ScriptedServer, run_cli: CliRunner
) -> None:
    server.serve_folder(FIXTURES / "portal")
    main = f"{server.base_url}/webpro1/main"
    config = tmp_path / "portal.toml"
    config.write_text(
        '[settings]\ndatabase = "portal.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "zeta"\nurl = "{main}/newshome.asp"\n'
        f'[[sources]]\nname = "alpha"\nurl = "{main}/newslist.asp?id=ME"\n',
        encoding="utf-8",
    )
    assert run_cli("--config", str(config), "fetch").returncode == 0

    def names(*options: str) -> list[str]:
        status = run_cli(*options, "status", "--json")
        assert status.returncode == 0, status.stderr
        return [row["name"] for row in json.loads(status.stdout)["sources"]]

    assert names("--config", str(config)) == ["zeta", "alpha"]
    assert names("--db", str(tmp_path / "portal.db")) == ["alpha", "zeta"]  # no configuration


def test_prune_deletes_old_log_records_and_keeps_the_stories(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    for _ in range(2):
        assert run_cli("demo").returncode == 0
    db = tmp_path / "newswatch-demo.db"
    with sqlite3.connect(db) as connection:  # a history from long ago
        connection.execute("UPDATE fetches SET fetched_at = '2020-01-01T00:00:00Z'")
        connection.execute("UPDATE runs SET started_at = '2020-01-0' || id || 'T00:00:00Z'")
        unused = connection.execute(
            "SELECT count(*) FROM fetches WHERE id NOT IN"
            " (SELECT fetch_id FROM articles WHERE fetch_id IS NOT NULL)"
        ).fetchone()[0]
        stories = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert unused > 0

    pruned = run_cli("--db", str(db), "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert f"pruned {unused} request records and 1 run record from before " in pruned.stdout
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM articles").fetchone()[0] == stories
        assert connection.execute(
            "SELECT count(*) FROM fetches WHERE NOT EXISTS"
            " (SELECT 1 FROM articles WHERE articles.fetch_id = fetches.id)"
        ).fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)  # the latest
    assert_clean_failure(
        run_cli("--db", str(db), "prune", "--older-than", "1000000d"), 2, "100 years"
    )
    again = run_cli("--db", str(db), "prune", "--older-than", "3650d")
    assert "pruned 0 request records and 0 run records" in again.stdout

    assert_clean_failure(
        run_cli("--db", str(db), "prune", "--older-than", "soon"), 2, "--older-than"
    )
    forever = tmp_path / "forever.toml"
    forever.write_text("[settings]\nkeep_log = 'forever'\n", encoding="utf-8")
    kept = run_cli("--config", str(forever), "--db", str(db), "prune")
    assert kept.returncode == 0 and "nothing pruned" in kept.stdout


HEAVY_MODULES = ("apprise", "trafilatura", "httpx", "apscheduler", "pydantic", "numpy", "lxml")


def modules_loaded_by(tmp_path: Path, *args: str) -> set[str]:
    """Which of HEAVY_MODULES (and rich) `newswatch ARGS` imported, run in a fresh process."""
    script = (
        "import json, sys\n"
        "from newswatch.cli import main\n"
        f"sys.argv = ['newswatch', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"names = {[*HEAVY_MODULES, 'rich']!r}\n"
        "print(json.dumps([name for name in names if name in sys.modules]), file=sys.stderr)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    return set(json.loads(finished.stderr.strip().splitlines()[-1]))


def test_version_and_help_start_without_loading_what_commands_use(tmp_path: Path) -> None:
    assert modules_loaded_by(tmp_path, "--version") == set()
    assert modules_loaded_by(tmp_path, "--help") == set()


def test_reading_the_database_loads_neither_fetcher_nor_parsers_nor_alerts(tmp_path: Path) -> None:
    from newswatch.store import Store

    Store(tmp_path / "news.db").close()
    for command in ("status", "flagged", "search"):
        args = ("--db", "news.db", command, *(["battery"] if command == "search" else []))
        assert modules_loaded_by(tmp_path, *args) == {"rich"}, command


def test_rules_evaluate_scores_reports_and_fails_under(run_cli: CliRunner, tmp_path: Path) -> None:
    labeled = tmp_path / "mine.jsonl"
    yes, no = {SSB: True}, {SSB: False}
    lines = [
        {"id": "a", "title": "Toyota's all-solid-state battery", "expected": yes},
        {"id": "b", "ticker": "Asia >> Samsung ships a faster solid-state drive", "expected": no},
        {
            "id": "c",
            "title": "Solid-state cells: a Lyon start-up",
            "lead": "Ceramic.",
            "expected": yes,
        },
        {"id": "d", "title": "Profits", "body": PASSING, "expected": no},
        {"id": "e", "title": "Profits", "body": PASSING, "expected": yes},
    ]
    labeled.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    plain = run_cli("rules", "evaluate", str(labeled))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith(
        f"{SSB}: precision 1.000 (2/2), recall 0.667 (2/3), F1 0.800 on 5 of 5 items"
    )
    assert "miss        e: Profits" in plain.stdout
    assert "mentioned only in passing" in plain.stdout
    report = json.loads(run_cli("rules", "evaluate", str(labeled), "--json").stdout)
    (score,) = report["rules"]
    assert score["recall"] == 0.6667 and [m["id"] for m in score["misses"]] == ["e"]
    assert score["false_alarms"] == []
    failing = run_cli("rules", "evaluate", str(labeled), "--fail-under", "0.9")
    assert failing.returncode == 1
    assert f"below --fail-under 0.9: {SSB} recall 0.667" in failing.stderr
    assert run_cli("rules", "evaluate", str(labeled), "--fail-under", "0.6").returncode == 0
    other = tmp_path / "other.toml"
    other.write_text('[[rules]]\nname = "lng"\nany = ["LNG"]\n', encoding="utf-8")
    unknown = run_cli("rules", "evaluate", str(labeled), "--rules", str(other))
    assert_clean_failure(unknown, 2, f"{labeled}: line 1: expected.{SSB}: no rule of that name")
    labeled.write_text('{"title": "x"\n', encoding="utf-8")
    assert_clean_failure(run_cli("rules", "evaluate", str(labeled)), 2, "line 1: not JSON")


def test_the_shipped_labeled_set_passes_the_ci_bar(run_cli: CliRunner) -> None:
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    (line,) = [line for line in ci.splitlines() if "rules evaluate" in line]
    arguments = line.split()[line.split().index("evaluate") + 1 :]
    arguments[0] = str(Path(__file__).parents[1] / arguments[0])
    result = run_cli("rules", "evaluate", *arguments)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_test_reads_json_items_and_says_in_passing(run_cli: CliRunner) -> None:
    items = [{"title": "Quarterly profits", "body": PASSING}, {"title": "Solid-state batteries"}]
    lines = "\n".join(json.dumps(item) for item in items) + "\n"
    plain = run_cli("rules", "test", input=lines)
    assert plain.returncode == 0, plain.stderr
    assert "no match: Quarterly profits" in plain.stdout
    assert "mentioned only in passing" in plain.stdout
    assert (
        "MATCH solid-state-battery (Solid-state batteries): Solid-state batteries" in plain.stdout
    )
    record = json.loads(run_cli("rules", "test", "--json", input=lines).stdout.splitlines()[0])
    assert record["explanations"][SSB]["in_passing"].startswith("1 mention, in paragraph 3")
    bad = run_cli("rules", "test", input='{"title": 3}\n')
    assert_clean_failure(bad, 2, "<stdin>: line 1: title: expected a string, got 3")


def test_flagged_lists_by_publication_date_and_sorts_by_flag_time(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    db = tmp_path / "stories.db"
    rules = load_rules(default_rules_path())
    minutes = itertools.count()  # each flag a minute after the one before: distinct flag times
    clock = lambda: datetime(2025, 3, 5, tzinfo=UTC) + timedelta(minutes=next(minutes))  # noqa: E731
    with Store(db, clock=clock) as store:
        store.upsert_source("portal", "http://portal.example.com/", "generic")
        for number, day in ((1, date(2025, 3, 1)), (2, date(2024, 12, 1)), (3, date(2025, 2, 1))):
            url = f"http://portal.example.com/?id={number}"
            words = " ".join(f"w{number}x{i}" for i in range(60))  # distinct stories
            body = f"Solid-state battery plant number {number} opens. {words}"
            article = Article(url=url, title=f"Plant {number}", body=body, published=day)
            page = Page(url=url, article=article)
            store.save_page("portal", page, fetch_id=None, matcher=rules.match)

    def titles(*options: str) -> list[str]:
        result = run_cli("--db", str(db), "flagged", "--json", *options)
        assert result.returncode == 0, result.stderr
        return [row["title"] for row in json.loads(result.stdout)]

    assert titles() == ["Plant 1", "Plant 3", "Plant 2"]
    assert titles("--sort", "flagged") == ["Plant 3", "Plant 2", "Plant 1"]
    assert titles("--since", "2025-01-15") == ["Plant 1", "Plant 3"]
    plain = run_cli("--db", str(db), "flagged", "--since", "2025-02-02").stdout
    assert plain.startswith("2025-03-01  Plant 1") and "Plant 3" not in plain
    assert "publication date" in run_cli("flagged", "--help").stdout
    assert "published on or after" in run_cli("export", "--help").stdout


def test_flagged_explain_says_why_and_what_is_now_only_in_passing(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    """Flags made by an older rule without prominence, explained by today's default rule."""
    db = tmp_path / "stories.db"
    older = parse_rules({"rules": [{"name": SSB, "any": ["solid-state battery"]}]})
    with Store(db) as store:
        store.upsert_source("portal", "http://portal.example.com/", "generic")
        for number, title, body in (
            (1, "Toyota lifts profit forecast", PASSING),
            (2, "Toyota's solid-state battery plant", "Production starts in 2027 in Kyushu."),
        ):
            url = f"http://portal.example.com/?id={number}"
            article = Article(url=url, title=title, body=body, published=date(2025, 3, number))
            page = Page(url=url, article=article)
            store.save_page("portal", page, fetch_id=None, matcher=older.match)
    plain = run_cli("--db", str(db), "flagged", "--explain")
    assert plain.returncode == 0, plain.stderr
    assert f'why: {SSB}: fired on "solid-state battery" (in the headline)' in plain.stdout
    assert f"why: {SSB}: now not fired: mentioned only in passing" in plain.stdout
    assert "`newswatch rules apply` drops the flag" in plain.stdout
    rows = json.loads(run_cli("--db", str(db), "flagged", "--explain", "--json").stdout)
    assert [row["explanations"][SSB].split(":")[0] for row in rows] == [
        'fired on "solid-state battery" (in the headline)',
        "not fired",
    ]
