"""What the `newswatch` command says, as a new user meets it: options where they are
expected, counts in good English, errors that name what is wrong, a pipe closed early."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newswatch.notify import AlertTarget, register_targets
from newswatch.store import Store
from tests.conftest import FIXTURES, CliRunner, Route, ScriptedServer
from tests.test_notify import Receiver

RULE = "solid-state-battery"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo's database, made once: 8 articles, 3 of them flagged."""
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "demo"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    yield folder / "newswatch-demo.db"


@pytest.fixture
def db(demo_db: Path, tmp_path: Path) -> str:
    """A copy of the demo's database that a test may change."""
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    return str(copy)


def test_verbose_is_accepted_after_the_command_too(run_cli: CliRunner, db: str) -> None:
    for args in (["-v", "--db", db, "flagged"], ["flagged", "--db", db, "-v"]):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert "Meridian Cells" in result.stdout
    louder = run_cli("status", "--db", db, "-vv")
    assert louder.returncode == 0, louder.stderr


def test_counts_are_in_good_english(run_cli: CliRunner, db: str) -> None:
    with sqlite3.connect(db) as connection:  # one flag left, one duplicate made
        connection.execute("DELETE FROM flags WHERE id != (SELECT min(id) FROM flags)")
        connection.execute("UPDATE articles SET duplicate_of = 1 WHERE id = 2")
    status = run_cli("--db", db, "status")
    assert status.returncode == 0, status.stderr
    assert "1 flag\n" in status.stdout and "(1 duplicate)" in status.stdout
    assert "1 flags" not in status.stdout and "1 duplicates" not in status.stdout
    one = run_cli("--db", db, "feed", "--rule", RULE, "-o", "one.xml")
    assert one.stdout.strip().startswith("1 story →"), one.stdout


def test_an_unknown_rule_is_an_error_naming_the_known_ones(
    run_cli: CliRunner, db: str, tmp_path: Path
) -> None:
    for command in (
        ["feed", "--rule", "nope", "-o", "x.xml"],
        ["flagged", "--rule", "nope"],
        ["export", "--format", "csv", "--rule", "nope"],
    ):
        result = run_cli("--db", db, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "no rule named 'nope' (rules: solid-state-battery)" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.xml").exists()
    # a rule taken out of the rules file still lists what it flagged
    other_rules = tmp_path / "rules.toml"
    other_rules.write_text("[[rules]]\nname = 'lng'\nany = ['LNG']\n", encoding="utf-8")
    config = tmp_path / "other.toml"
    config.write_text("[settings]\nrules = 'rules.toml'\n", encoding="utf-8")
    old = run_cli("--config", str(config), "--db", db, "flagged", "--rule", RULE, "--json")
    assert old.returncode == 0, old.stderr
    assert len(json.loads(old.stdout)) == 3


def test_prune_takes_zero_and_forever(run_cli: CliRunner, db: str) -> None:
    everything = run_cli("--db", db, "prune", "--older-than", "0s")
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.startswith("pruned ")
    with sqlite3.connect(db) as connection:  # what stored the articles is kept
        assert connection.execute("SELECT count(*) FROM articles").fetchone()[0] == 8
        kept = connection.execute("SELECT count(*) FROM fetches").fetchone()[0]
    assert kept >= 8
    forever = run_cli("--db", db, "prune", "--older-than", "forever")
    assert forever.returncode == 0, forever.stderr
    assert "nothing pruned" in forever.stdout
    bad = run_cli("--db", db, "prune", "--older-than", "soon")
    assert bad.returncode == 2 and "--older-than" in bad.stderr
    assert '"0s"' in bad.stderr and '"forever"' in bad.stderr


def test_a_pipe_closed_early_is_a_normal_end(db: str, tmp_path: Path) -> None:
    """`newswatch export ... | head`: the reader is gone before newswatch is done (here,
    before it starts, so every write meets the closed pipe)."""
    env = {**os.environ, "NO_COLOR": "1"}
    for command in (
        ["export", "--format", "jsonl", "--what", "articles"],
        ["flagged"],
        ["search", "battery"],
    ):
        reader, writer = os.pipe()
        os.close(reader)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "newswatch", "--db", db, *command],
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=60,
            )
        finally:
            os.close(writer)
        assert (result.returncode, result.stderr) == (0, ""), command


def test_rules_test_takes_text_as_arguments(run_cli: CliRunner) -> None:
    result = run_cli("rules", "test", "Toyota delays all-solid-state battery", "Ham radio SSB")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("MATCH solid-state-battery")
    assert lines[1] == "no match: Ham radio SSB"
    piped = run_cli("rules", "test", input="all-solid-state battery\n")
    assert piped.stdout.startswith("MATCH") and "stdin" not in piped.stderr


def test_rules_test_in_a_terminal_says_it_reads_stdin(tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    newswatch = subprocess.Popen(
        [sys.executable, "-m", "newswatch", "rules", "test"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(follower)
    os.write(leader, b"all-solid-state battery\n\x04")
    stdout, stderr = newswatch.communicate(timeout=60)
    os.close(leader)
    assert newswatch.returncode == 0, stderr
    assert "reading text from stdin, one item a line; end with Ctrl-D" in stderr.decode()
    assert stdout.decode().startswith("MATCH")


def test_status_lists_alert_channels_readably_and_in_json(
    run_cli: CliRunner, db: str, tmp_path: Path
) -> None:
    targets = [
        AlertTarget(name="desk", urls=("json://127.0.0.1:9/desk",), rule=RULE),
        AlertTarget(name="pager", urls=("json://127.0.0.1:9/pager",)),
    ]
    with Store(Path(db)) as store:
        register_targets(store, targets)
    with sqlite3.connect(db) as connection:  # desk failed once and recovered; pager fails
        connection.execute(
            "UPDATE alert_channels SET last_error = 'HTTP 500 (long ago)',"
            " last_success_at = '2026-12-01T08:00:00Z', failures = 0 WHERE target = 'desk'"
        )
        connection.execute(
            "UPDATE alert_channels SET last_error = 'cannot connect', failures = 3,"
            " retry_at = '2026-12-05T09:00:00Z' WHERE target = 'pager'"
        )
    narrow = run_cli("--db", db, "status", timeout=60)
    assert narrow.returncode == 0, narrow.stderr
    assert "HTTP 500 (long ago)" not in narrow.stdout  # past: the channel is ok
    assert "cannot connect" in narrow.stdout and "3 in a row" in narrow.stdout
    assert "desk: json://" in narrow.stdout and "(every rule)" in narrow.stdout
    as_json = run_cli("--db", db, "status", "--json")
    channels = json.loads(as_json.stdout)["alert_channels"]
    assert {(c["target"], c["health"]) for c in channels} == {
        ("desk", "ok"),
        ("pager", "failing"),
    }


def test_status_at_80_columns_breaks_no_word(db: str, tmp_path: Path) -> None:
    with Store(Path(db)) as store:
        register_targets(store, [AlertTarget(name="battery-desk", urls=("ntfy://ntfy.sh/ssb",))])
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--db", db, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    [channel] = [line for line in lines if "battery-desk" in line]
    assert channel.split() == ["battery-desk:", "ntfy://ntfy.sh/ssb", "ok"] or "…" in channel
    for label in ("rule", "backlog", "last success"):  # whole words, each on a line of its own
        assert any(line.strip().startswith(f"{label} ") for line in lines), result.stdout
    assert all(len(line) <= 80 for line in lines if not line.startswith("  last run")), lines


def test_a_generic_source_whose_links_have_short_slugs_says_why_none_qualified(
    tmp_path: Path, server: ScriptedServer, run_cli: CliRunner
) -> None:
    page = (FIXTURES / "generic" / "short_slugs_section.html").read_bytes()
    server.add("/news/", Route(body=page))
    config = tmp_path / "newswatch.toml"
    config.write_text(
        '[settings]\ndatabase = "news.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "kanto"\nurl = "{server.base_url}/news/"\nprofile = "generic"\n',
        encoding="utf-8",
    )
    fetched = run_cli("--config", str(config), "fetch")
    assert fetched.returncode == 1
    assert "kanto: failed: the page parsed to nothing: generic: neither article text nor" in (
        fetched.stderr
    )
    assert "none to an article's URL (e.g. /news/kanto-ssb-pilot.html" in fetched.stderr
    assert "layout" not in fetched.stderr


def test_parse_without_profile_picks_one_that_fits_and_says_why(run_cli: CliRunner) -> None:
    german = FIXTURES / "generic" / "article_german.html"
    unrelated = run_cli("parse", str(german))  # the configured first source is another site's
    assert unrelated.returncode == 0, unrelated.stderr
    assert unrelated.stdout.startswith("Netzbooster in Kupferzell geht in Betrieb")
    assert "profile: generic (a saved file without --url, and no site profile finds a story)" in (
        unrelated.stderr
    )
    portal_page = FIXTURES / "gulfoilandgas" / "article_1389532_utf8.html"
    saved = run_cli("parse", str(portal_page))
    assert "profile: gulfoilandgas (a saved file without --url: the first site profile" in (
        saved.stderr
    )
    assert "ticker items (6)" in saved.stdout
    url = "https://www.gulfoilandgas.com/webpro1/main/mainnews.asp?id=1389532"
    by_host = run_cli("parse", str(portal_page), "--url", url)
    assert "profile: gulfoilandgas (source 'gulfoilandgas-home' is on www.gulfoilandgas.com)" in (
        by_host.stderr
    )
    elsewhere = run_cli("parse", str(german), "--url", "https://www.netz.example/2025/02/14/x")
    assert "profile: generic (no source or site profile for www.netz.example)" in elsewhere.stderr
    chosen = run_cli("parse", str(german), "--profile", "generic")
    assert "profile: generic (--profile)" in chosen.stderr


def test_a_term_written_as_a_regular_expression_is_warned_about(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    rules = tmp_path / "my-rules.toml"
    rules.write_text(
        "[[rules]]\nname = 'ssb'\nany = ['solid.state (battery|cell)', 'E.ON', 'Li-ion cell']\n",
        encoding="utf-8",
    )
    config = tmp_path / "my.toml"
    config.write_text("[settings]\nrules = 'my-rules.toml'\n", encoding="utf-8")
    tested = run_cli("--config", str(config), "rules", "test", "a solid state battery cell")
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith("no match")  # what the warning is about
    [warning] = tested.stderr.splitlines()
    assert warning.startswith(
        f'warning: {rules}: rules[0].any[0]: "solid.state (battery|cell)" looks like a regular'
        " expression, but terms are plain words"
    )
    assert "E.ON" not in tested.stderr and "Li-ion" not in tested.stderr


@pytest.fixture
def logging_as_it_was() -> Iterator[None]:
    """An in-process command sets log levels and handlers: put them back afterwards."""
    loggers = [logging.getLogger(name) for name in ("", "apprise")]
    levels = [logger.level for logger in loggers]
    handlers = list(loggers[0].handlers)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
    loggers[0].handlers[:] = handlers


@pytest.mark.usefixtures("logging_as_it_was")
def test_fetch_and_run_ask_for_a_contact_until_one_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with the fetch itself left out: the sources are public sites, and tests
    stay on this machine. (`newswatch fetch` of loopback sources, below, is not asked.)"""
    from click.testing import CliRunner as ClickRunner

    from newswatch import cli

    monkeypatch.setattr(cli, "_run_fetch", lambda app, sources: cli.FetchOutcome(reports=[]))
    monkeypatch.setattr("newswatch.scheduler.run_daemon", lambda *args, **kwargs: 0)
    config = tmp_path / "mine.toml"
    public = '[[sources]]\nname = "wire"\nurl = "https://news.example.com/feed"\n'
    runner = ClickRunner()
    for command in ("fetch", "run"):
        config.write_text(public, encoding="utf-8")
        unset = runner.invoke(cli.cli, ["--config", str(config), command])
        assert unset.exit_code == 0, unset.output
        assert (
            "warning: [settings] contact is not set, so the sites you read are told to ask"
            f" newswatch's project page about your requests. Set your e-mail or web page in"
            f' {config}: contact = "mailto:you@example.com"'
        ) in unset.stderr
        config.write_text(
            f'[settings]\ncontact = "mailto:me@example.org"\n{public}', encoding="utf-8"
        )
        assert "contact" not in runner.invoke(cli.cli, ["--config", str(config), command]).stderr
    builtin = runner.invoke(cli.cli, ["fetch"])
    assert "Set your e-mail or web page in a copy of " in builtin.stderr
    assert "defaults/newswatch.toml (then use it with --config)" in builtin.stderr


def test_loopback_sources_and_the_demo_are_not_asked_for_a_contact(
    run_cli: CliRunner, tmp_path: Path, server: ScriptedServer
) -> None:
    server.serve_folder(FIXTURES / "portal")
    config = tmp_path / "local.toml"
    config.write_text(
        '[settings]\ndatabase = "local.db"\nper_host_delay = 0\nretries = 0\n'
        f'[[sources]]\nname = "local"\nurl = "{server.base_url}/webpro1/main/newshome.asp"\n'
        'profile = "gulfoilandgas"\nfollow = false\n',
        encoding="utf-8",
    )
    fetched = run_cli("--config", str(config), "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert "contact" not in fetched.stderr
    demo = run_cli("demo")
    assert demo.returncode == 0 and "contact" not in demo.stderr


def test_fetch_counts_alerts_in_good_english(
    run_cli: CliRunner, tmp_path: Path, server: ScriptedServer
) -> None:
    hook = Receiver()
    hook.start()
    try:
        server.serve_folder(FIXTURES / "portal")
        config = tmp_path / "alerting.toml"
        config.write_text(
            '[settings]\ndatabase = "alerts.db"\nper_host_delay = 0\nretries = 0\n'
            f'[[sources]]\nname = "portal"\nurl = "{server.base_url}/webpro1/main/newshome.asp"\n'
            f'[[alerts]]\nname = "desk"\nurls = ["{hook.url}"]\n',
            encoding="utf-8",
        )
        fetched = run_cli("--config", str(config), "fetch")
    finally:
        hook.stop()
    assert fetched.returncode == 0, fetched.stderr
    [message] = hook.received
    stories = message.message.count("http://127.0.0.1")
    assert stories > 1
    assert f"alerts: 1 message sent, {stories} stories" in fetched.stderr
    assert "(s)" not in fetched.stderr
