"""`newswatch run` as a subprocess, as systemd would run it: cycles, SIGTERM, SIGHUP,
SIGKILL mid-run, and other programs holding the database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newswatch.sampleserver import SampleSite
from newswatch.store import Store
from tests.conftest import FIXTURES, Route, ScriptedServer
from tests.test_notify import Receiver

HOME = "/webpro1/main/newshome.asp"
ARTICLES = {f"14058{n:02d}" for n in range(1, 13)}
RUN_MESSAGES = {"run finished", "run failed", "run interrupted"}


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    """A copy of the fixture portal, so a test can publish new stories while it runs."""
    root = tmp_path / "portal"
    shutil.copytree(FIXTURES / "portal", root)
    return root


@pytest.fixture
def site(site_root: Path) -> Iterator[SampleSite]:
    with SampleSite(site_root) as served:
        yield served


def write_config(path: Path, sources: list[dict[str, Any]], **settings: Any) -> Path:
    values = {"database": "news.db", "per_host_delay": 0, "timeout": "2s", "retries": 0}
    values.update(settings)
    lines = ["[settings]", *(f"{key} = {json.dumps(value)}" for key, value in values.items())]
    for source in sources:
        lines.append("[[sources]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in source.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Daemon:
    """A `newswatch run` process; its log goes to a file (a pipe could fill and block it)."""

    def __init__(self, config: Path) -> None:
        self.log_path = config.parent / "daemon.log"
        self.db = config.parent / "news.db"
        env = {**os.environ, "NO_COLOR": "1"}
        command = [sys.executable, "-m", "newswatch", "--config", str(config), "run"]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [*command, "--log-format", "json"],
                cwd=config.parent,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM; the exit status, which must come within `timeout` seconds."""
        self.signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log_lines(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def raw_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the daemon died:\n{self.raw_log()}"
            assert time.monotonic() < deadline, f"gave up waiting:\n{self.raw_log()}"
            time.sleep(0.1)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.db, sql)

    def count(self, sql: str) -> int:
        found = self.rows(sql)
        return int(found[0][0]) if found else 0


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as connection:
        try:
            return connection.execute(sql).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise


@contextmanager
def running(config: Path) -> Iterator[Daemon]:
    daemon = Daemon(config)
    try:
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def article_ids(db: Path) -> list[str]:
    return [str(url).rsplit("=", 1)[-1] for (url,) in query(db, "SELECT url FROM articles")]


def replace_file(path: Path, content: bytes) -> None:
    """Write `content` as `path` at once: the site, serving it meanwhile, never sends half."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def publish_story(site_root: Path, story_id: str) -> None:
    """A new article page (a reworded copy of 1405808) and a link to it on the home page."""
    main = site_root / "webpro1" / "main"
    page = (main / "mainnews.asp__id=1405808").read_bytes().replace(b"Al Khaleej", b"Nouveau")
    replace_file(main / f"mainnews.asp__id={story_id}", page)
    home = main / "newshome.asp"
    block = (
        f'<div class="newsblock"><a class="newslinkgog" href="mainnews.asp?id={story_id}">'
        "<b>Nouveau LNG Loads Another Cargo</b></a>"
        '<span class="lblues">Qatar &gt;&gt; 3/28/2025</span></div>\n'
    ).encode()
    first = b'<div class="newsblock">'
    replace_file(home, home.read_bytes().replace(first, block + first, 1))


def test_daemon_cycles_survives_a_faulty_source_and_stops_on_sigterm(
    tmp_path: Path, site: SampleSite, site_root: Path, server: ScriptedServer
) -> None:
    server.add(
        "/news.asp",
        Route(status=500),
        Route(action="reset"),
        Route(status=429, headers={"Retry-After": "1"}),
        Route(action="badgzip"),
        Route(action="hang"),
    )
    config = write_config(
        tmp_path / "newswatch.toml",
        [
            {"name": "home", "url": site.base_url + HOME, "interval": 1},
            {"name": "middle-east", "url": site.base_url + "/webpro1/main/newslist.asp?id=ME"},
            {"name": "faulty", "url": server.base_url + "/news.asp", "interval": 1},
        ],
    )
    with running(config) as daemon:
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs WHERE source='home'") >= 3)
        publish_story(site_root, "1405899")
        daemon.wait_for(lambda: "1405899" in article_ids(daemon.db))
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs WHERE source='home'") >= 6)
        # middle-east (every 30 min) runs once, at a random moment of the first 5 s: on a busy
        # machine its run can still be going when home has had its sixth.
        daemon.wait_for(
            lambda: daemon.count("SELECT count(*) FROM runs WHERE source='middle-east'") >= 1
        )
        with Store(daemon.db) as reader:
            health = {row["name"]: row["health"] for row in reader.source_status()}
        assert daemon.stop() == 0
    assert health == {"home": "ok", "middle-east": "ok", "faulty": "backing off"}
    db = daemon.db
    ids = article_ids(db)
    assert sorted(ids) == sorted(ARTICLES | {"1405899"})  # each story once
    assert query(db, "SELECT count(*) FROM ticker_items") == [(11,)]
    flagged = query(db, "SELECT kind, count(*) FROM flagged GROUP BY kind ORDER BY kind")
    assert flagged == [("article", 2), ("ticker", 1)]  # 1405803: solid-state only in passing
    assert query(db, "PRAGMA integrity_check") == [("ok",)]

    runs = Counter(source for (source,) in query(db, "SELECT source FROM runs"))
    faulty = query(db, "SELECT ok, error FROM runs WHERE source = 'faulty'")
    assert runs["home"] >= 6 and 1 <= runs["faulty"] < runs["home"]  # backed off
    assert all(not ok and error for ok, error in faulty)
    fetch_errors = query(db, "SELECT error FROM fetches WHERE source = 'faulty'")
    assert fetch_errors and all(error for (error,) in fetch_errors)

    lines = daemon.log_lines()
    logged = Counter(line["source"] for line in lines if line["message"] in RUN_MESSAGES)
    assert logged == runs  # one log line per run
    # The two listings share three stories and run at the same time: whichever saves a
    # shared story first fetches and stores it, so only the sum of their first runs is fixed.
    first = [
        next(
            line
            for line in lines
            if line.get("source") == name and line["message"] == "run finished"
        )
        for name in ("home", "middle-east")
    ]
    assert sum(run["new_articles"] + run["duplicates"] for run in first) == 12
    assert sum(run["pages"] for run in first) >= 14  # two listings, twelve stories
    assert "Traceback" not in daemon.raw_log()
    assert lines[-1]["message"] == "newswatch daemon stopped"
    assert query(db, "SELECT DISTINCT next_run_at FROM sources") == [(None,)]


def test_sighup_reloads_the_configuration(tmp_path: Path, site: SampleSite) -> None:
    home = {"name": "home", "url": site.base_url + HOME, "interval": 1}
    config = write_config(tmp_path / "newswatch.toml", [home])
    with running(config) as daemon:
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs") >= 1)
        write_config(config, [{**home, "interval": "5 parsecs"}])
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda: "not reloaded" in daemon.raw_log())
        middle_east = {
            "name": "me",
            "url": site.base_url + "/webpro1/main/newslist.asp?id=ME",
            "interval": 1,
        }
        write_config(config, [home, middle_east])
        daemon.signal(signal.SIGHUP)
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs WHERE source='me'") >= 1)
        assert daemon.stop() == 0
    [refusal] = [line for line in daemon.log_lines() if "not reloaded" in line["message"]]
    assert "interval" in refusal["error"] and refusal["level"] == "ERROR"
    assert any(line["message"] == "configuration reloaded" for line in daemon.log_lines())


def test_sigkill_mid_run_loses_nothing_committed_and_the_next_run_completes(
    tmp_path: Path, site: SampleSite, run_cli: Callable[..., Any]
) -> None:
    home = {"name": "home", "url": site.base_url + HOME, "interval": 10}
    # Paced so that after three stories the run has ten pages more, over five seconds, to go:
    # the kill comes mid-run even when a loaded machine is slow to notice the three.
    slow = write_config(tmp_path / "slow.toml", [home], per_host_delay=0.5)
    with running(slow) as daemon:
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM articles") >= 3)
        committed = set(article_ids(daemon.db))
        daemon.process.kill()
        daemon.process.wait(timeout=10)
    db = daemon.db
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    survived = set(article_ids(db))
    assert committed <= survived and len(survived) < len(ARTICLES)  # killed mid-run
    assert query(db, "SELECT count(*) FROM runs") == [(0,)]  # the killed run never ended

    fast = write_config(tmp_path / "fast.toml", [home])
    result = run_cli("--config", str(fast), "fetch")
    assert result.returncode == 0, result.stderr
    ids = article_ids(db)
    assert sorted(ids) == sorted(ARTICLES)  # the rest fetched, nothing twice
    assert query(db, "SELECT count(*) FROM ticker_items") == [(11,)]
    assert query(db, "SELECT kind, count(*) FROM flagged GROUP BY kind ORDER BY kind") == [
        ("article", 2),  # 1405803 mentions solid-state cells in passing (prominence)
        ("ticker", 1),
    ]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_long_readers_and_a_writer_holding_the_lock_do_not_stop_the_daemon(
    tmp_path: Path, site: SampleSite
) -> None:
    home = {"name": "home", "url": site.base_url + HOME, "interval": 10}
    # Paced so that after two stories the run has ten pages more, over 2.5 s, to go: the
    # writer below takes the lock before the daemon is done, even on a loaded machine.
    config = write_config(tmp_path / "newswatch.toml", [home], per_host_delay=0.25)
    db = tmp_path / "news.db"
    Store(db).close()  # the schema exists before anyone reads
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    try:
        with running(config) as daemon:
            daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM articles") >= 2)
            writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            writer.execute("BEGIN IMMEDIATE")
            holding = threading.Timer(3, writer.execute, ["COMMIT"])
            holding.start()
            daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs") >= 1)
            holding.join()
            writer.close()
            assert reader.execute("SELECT count(*) FROM articles").fetchone() == (0,)  # snapshot
            assert daemon.stop() == 0
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert sorted(article_ids(db)) == sorted(ARTICLES)
    assert query(db, "SELECT ok FROM runs") == [(1,)]
    assert any("write lock" in line["message"] for line in daemon.log_lines())
    assert "Traceback" not in daemon.raw_log()


def test_the_daemon_sends_each_new_flag_once(tmp_path: Path, site: SampleSite) -> None:
    hook = Receiver()
    hook.start()
    try:
        config = write_config(
            tmp_path / "newswatch.toml",
            [{"name": "portal", "url": site.base_url + HOME, "interval": "2s"}],
        )
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f'[[alerts]]\nname = "desk"\nurls = ["{hook.url}"]\n')
        with running(config) as daemon:
            daemon.wait_for(lambda: len(hook.received) >= 1)
            daemon.wait_for(
                lambda: (
                    sum(line.get("message") == "run finished" for line in daemon.log_lines()) >= 3
                )
            )
            assert daemon.stop() == 0
        assert len(hook.received) == 1, hook.received  # later runs found nothing new to tell
        message = hook.received[0].message
        assert "Solid-State Battery Plant in Saxony" in message
        flagged = query(daemon.db, "SELECT count(*) FROM flags")[0][0]
        assert hook.received[0].title.startswith(f"newswatch: {flagged} new stories")
    finally:
        hook.stop()


def test_a_second_daemon_on_the_same_database_is_refused(tmp_path: Path, site: SampleSite) -> None:
    home = {"name": "home", "url": site.base_url + HOME, "interval": 60}
    config = write_config(tmp_path / "newswatch.toml", [home])
    with running(config) as first:
        first.wait_for(lambda: first.count("SELECT count(*) FROM runs") >= 1)
        second = subprocess.run(
            [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 2  # a configuration mistake: systemd does not retry it
        assert "another `newswatch run` is already running" in second.stderr
        assert str(tmp_path / "news.db") in second.stderr
        assert "Traceback" not in second.stderr
        assert first.process.poll() is None  # the first one is untouched
        assert first.stop() == 0
    link = tmp_path / "same.db"
    link.symlink_to(tmp_path / "news.db")
    with running(config) as first:  # another name for the same file is the same database
        first.wait_for(lambda: first.count("SELECT count(*) FROM runs") >= 2)
        aliased = subprocess.run(
            [sys.executable, "-m", "newswatch", "--config", str(config), "--db", str(link), "run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert aliased.returncode == 2 and "already running" in aliased.stderr
        assert first.stop() == 0
    with running(config) as after:  # the lock went with the process that held it
        after.wait_for(lambda: after.count("SELECT count(*) FROM runs") >= 3)
        assert after.stop() == 0


def test_status_says_whether_a_daemon_runs_and_shows_next_runs_only_then(
    tmp_path: Path, site: SampleSite
) -> None:
    home = {"name": "home", "url": site.base_url + HOME, "interval": 3600}
    config = write_config(tmp_path / "newswatch.toml", [home])

    def status(*options: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "newswatch", "--config", str(config), "status"]
        result = subprocess.run(
            [*command, *options], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result

    with running(config) as daemon:
        daemon.wait_for(lambda: daemon.count("SELECT count(*) FROM runs") >= 1)
        daemon.wait_for(lambda: daemon.count("SELECT count(next_run_at) FROM sources") == 1)
        shown = json.loads(status("--json").stdout)
        assert shown["daemon"]["running"] is True
        assert shown["daemon"]["lock"] == str(tmp_path / "news.db.daemon-lock")
        assert shown["sources"][0]["next_run_at"] is not None
        text = status().stdout
        assert "daemon: running" in text and "next run" in text
        daemon.process.kill()  # SIGKILL: no chance to clear its plans
        daemon.process.wait()

    assert daemon.count("SELECT count(next_run_at) FROM sources") == 1  # left behind
    shown = json.loads(status("--json").stdout)
    assert shown["daemon"]["running"] is False
    assert shown["sources"][0]["next_run_at"] is None
    text = status().stdout
    assert "daemon: not running" in text and "next run" not in text
    with running(config) as again:  # status took the lock for an instant only
        again.wait_for(lambda: again.count("SELECT count(*) FROM runs") >= 2)
        assert again.stop() == 0
