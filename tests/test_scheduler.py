"""The daemon's parts: schedules, backoff, log lines, and a daemon run in-process (reload,
backoff, stop) against the scripted server."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newswatch.config import Config, config_from_dict
from newswatch.cron import crontab_trigger, crontab_weekdays
from newswatch.errors import ConfigError
from newswatch.pipeline import SourceReport
from newswatch.scheduler import (
    MAX_BACKOFF_SECONDS,
    Daemon,
    JsonFormatter,
    PlainFormatter,
    _Runtime,
    backoff_delay,
    jitter_for,
    run_fields,
    source_period,
    source_trigger,
)
from newswatch.store import Store
from tests.conftest import FIXTURES, Route, ScriptedServer

HOME = "/webpro1/main/newshome.asp"


# --- schedules ---------------------------------------------------------------------------


def test_backoff_doubles_per_failure_up_to_a_day() -> None:
    assert backoff_delay(60, 0) == 60
    assert [backoff_delay(60, n) for n in (1, 2, 3)] == [120, 240, 480]
    assert backoff_delay(1800, 10) == MAX_BACKOFF_SECONDS
    week = 7 * 86400.0
    assert backoff_delay(week, 3) == week  # never sooner than the source's own period


def test_jitter_is_a_tenth_of_the_period_at_most_five_minutes() -> None:
    assert jitter_for(2) == pytest.approx(0.2)
    assert jitter_for(1800) == 180
    assert jitter_for(86400) == 300


@pytest.mark.parametrize(
    ("crontab", "apscheduler"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("mon-fri", "mon-fri"),
        ("sat,sun", "sat,sun"),
    ],
)
def test_crontab_weekdays_count_from_sunday(crontab: str, apscheduler: str) -> None:
    assert crontab_weekdays(crontab) == apscheduler


def test_weekday_crontab_fires_monday_to_friday() -> None:
    trigger = crontab_trigger("0 7 * * 1-5")
    saturday = datetime(2025, 3, 29, 12, 0, tzinfo=trigger.timezone)
    fires: list[datetime] = []
    previous = None
    moment = saturday
    for _ in range(6):
        fire = trigger.get_next_fire_time(previous, moment)
        assert fire is not None
        fires.append(fire)
        previous, moment = fire, fire + timedelta(seconds=1)
    assert [f.strftime("%a %H:%M") for f in fires] == [
        "Mon 07:00",
        "Tue 07:00",
        "Wed 07:00",
        "Thu 07:00",
        "Fri 07:00",
        "Mon 07:00",
    ]


def make_config(tmp_path: Path, sources: list[dict[str, Any]], **settings: Any) -> Config:
    return config_from_dict(
        {
            "settings": {
                "database": "news.db",
                "per_host_delay": 0,
                "timeout": "3s",
                "retries": 0,
                **settings,
            },
            "sources": sources,
        },
        tmp_path / "newswatch.toml",
    )


def test_triggers_and_periods(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        [
            {"name": "every-half-hour", "url": "http://example.com/a", "interval": "30m"},
            {"name": "weekdays", "url": "http://example.com/b", "cron": "0 7 * * 1-5"},
            {"name": "quarter", "url": "http://example.com/c", "cron": "*/15 * * * *"},
        ],
    )
    now = datetime(2025, 3, 26, 12, 0, tzinfo=UTC)
    half_hour, weekdays, quarter = config.sources
    interval = source_trigger(half_hour, now)
    assert isinstance(interval, IntervalTrigger)
    assert interval.interval == timedelta(minutes=30) and interval.jitter == 180
    assert isinstance(source_trigger(weekdays, now), CronTrigger)
    assert source_period(half_hour, now) == 1800
    assert source_period(weekdays, now) == 86400  # Wednesday noon: Thursday 7:00, Friday 7:00
    assert source_period(quarter, now) == 900


# --- log lines -------------------------------------------------------------------------


def report() -> SourceReport:
    started = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    return SourceReport(
        "portal-home",
        started_at=started,
        finished_at=started + timedelta(seconds=1.5),
        pages_fetched=3,
        new_articles=2,
        errors=["http://x/a: HTTP 404 Not Found"],
        requests=3,
        bytes_fetched=12345,
        items_found=10,
    )


def format_record(formatter: logging.Formatter, message: str, fields: dict[str, Any]) -> str:
    record = logging.LogRecord("newswatch.scheduler", logging.INFO, __file__, 1, message, (), None)
    record.fields = fields
    return formatter.format(record)


def test_plain_log_line_is_logfmt() -> None:
    failed = report()
    failed.failure, failed.failure_kind = 'cannot connect: "refused"', "fetch"
    line = format_record(PlainFormatter(), "run failed", run_fields(failed, None))
    assert line.endswith(
        "INFO newswatch.scheduler: run failed source=portal-home result=fetch pages=3"
        " requests=3 bytes=12345 not_modified=no items_found=10 new_articles=2"
        " new_ticker_items=0 duplicates=0 flags=0 errors=1 skipped_unavailable=0"
        ' seconds=1.5 next_run=- error="cannot connect: \\"refused\\""'
    )
    assert "\n" not in line


def test_json_log_line() -> None:
    next_run = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    line = format_record(JsonFormatter(), "run finished", run_fields(report(), next_run))
    entry = json.loads(line)
    assert entry["message"] == "run finished" and entry["level"] == "INFO"
    assert entry["source"] == "portal-home" and entry["result"] == "ok"
    assert (entry["pages"], entry["new_articles"], entry["errors"]) == (3, 2, 1)
    assert entry["next_run"] == "2026-11-29T18:30:00Z" and entry["time"].endswith("Z")


# --- the daemon, in-process ----------------------------------------------------------------


def serve_until(
    daemon: Daemon, condition: Callable[[], bool], then: Callable[[], None] | None = None
) -> int:
    """Run the daemon until `condition` holds (checked every 0.1 s), call `then`, stop it;
    the exit status."""

    async def go() -> int:
        serving = asyncio.create_task(daemon.serve())
        async with asyncio.timeout(30):
            while not condition():
                await asyncio.sleep(0.1)
            if then is not None:
                then()
            daemon.stop("test")
            return await serving

    return asyncio.run(go())


def db_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute(sql).fetchall()
        except sqlite3.OperationalError:  # schema not there yet
            return []


def runs_of(db: Path, source: str) -> int:
    return len(db_rows(db, f"SELECT 1 FROM runs WHERE source = '{source}'"))


def run_daemon_in_process(config: Config, load: Callable[[], Config]) -> tuple[Daemon, Path]:
    database = config.settings.database
    return Daemon(load, _Runtime.build(config, previous=None), database=database), database


def test_daemon_runs_sources_backs_off_a_failing_one_and_stops(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.serve_folder(FIXTURES / "portal")
    server.add("/broken.asp", Route(status=500))
    config = make_config(
        tmp_path,
        [
            {"name": "home", "url": server.base_url + HOME, "interval": 0.5},
            {"name": "broken", "url": server.base_url + "/broken.asp", "interval": 0.5},
        ],
    )
    daemon, db = run_daemon_in_process(config, lambda: config)
    health: dict[str, str] = {}

    def look() -> None:
        with Store(db) as reader:
            health.update((row["name"], row["health"]) for row in reader.source_status())

    started = time.monotonic()
    assert serve_until(daemon, lambda: runs_of(db, "home") >= 6, look) == 0
    elapsed = time.monotonic() - started
    # Runs of the broken source: at 0 s, then 1 s, 2 s, 4 s ... after the one before (the
    # interval doubled per failure). How many fit depends on how long home took to run six
    # times (longer on a loaded machine), so the bound is worked out from that time.
    fit = 1
    while sum(backoff_delay(0.5, failures) for failures in range(1, fit + 1)) <= elapsed:
        fit += 1
    assert 1 <= runs_of(db, "broken") <= fit
    assert health == {"home": "ok", "broken": "backing off"}
    assert db_rows(db, "SELECT count(*) FROM articles") == [(12,)]
    # A home run caught by the stop is recorded as interrupted, whatever it had got by then.
    [(home_runs, not_modified)] = db_rows(
        db,
        "SELECT count(*), sum(not_modified) FROM runs"
        " WHERE source = 'home' AND error_kind IS NOT 'interrupted'",
    )
    assert home_runs >= 6 and not_modified == home_runs - 1  # then the listing answers 304
    assert db_rows(db, "SELECT next_run_at FROM sources") == [(None,), (None,)]  # stopped


def test_reload_adds_sources_and_keeps_the_old_config_when_the_new_one_is_bad(
    tmp_path: Path, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.serve_folder(FIXTURES / "portal")
    home = {"name": "home", "url": server.base_url + HOME, "interval": 0.5}
    middle_east = {
        "name": "middle-east",
        "url": server.base_url + "/webpro1/main/newslist.asp?id=ME",
        "interval": 0.5,
    }
    first = make_config(tmp_path, [home])
    second = make_config(tmp_path, [home, middle_east])
    answers: list[Callable[[], Config]] = []

    def load() -> Config:
        return answers.pop(0)()

    def bad() -> Config:
        raise ConfigError(tmp_path / "newswatch.toml", "sources[1].interval", "expected a duration")

    daemon, db = run_daemon_in_process(first, load)
    answers.extend([bad, lambda: second])
    results: list[bool] = []

    def reload_twice() -> None:
        results.append(daemon.reload())
        results.append(daemon.reload())

    async def go() -> int:
        serving = asyncio.create_task(daemon.serve())
        async with asyncio.timeout(30):
            while runs_of(db, "home") < 1:
                await asyncio.sleep(0.1)
            reload_twice()
            while runs_of(db, "middle-east") < 1:
                await asyncio.sleep(0.1)
            daemon.stop("test")
            return await serving

    with caplog.at_level(logging.INFO):
        assert asyncio.run(go()) == 0
    assert results == [False, True]
    [refusal] = [r for r in caplog.records if "not reloaded" in r.getMessage()]
    assert refusal.levelname == "ERROR" and "sources[1].interval" in refusal.fields["error"]
    assert db_rows(db, "SELECT count(*) FROM articles") == [(12,)]


def test_the_daemon_prunes_old_log_records_at_start(
    tmp_path: Path, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.serve_folder(FIXTURES / "portal")
    config = make_config(
        tmp_path,
        [{"name": "home", "url": server.base_url + HOME, "interval": 60}],
        keep_log="30d",
    )
    long_ago = datetime.now(UTC) - timedelta(days=31)
    with Store(config.settings.database, clock=lambda: long_ago) as old:
        for number in range(3):
            old.record_fetch(
                source="home", url=f"{server.base_url}/{number}", status=200, size=1, elapsed=0.1
            )
    daemon, db = run_daemon_in_process(config, lambda: config)

    def pruned() -> bool:
        return any(r.getMessage() == "old records pruned" for r in caplog.records)

    with caplog.at_level(logging.INFO):
        assert serve_until(daemon, lambda: pruned() and runs_of(db, "home") >= 1) == 0
    [line] = [r for r in caplog.records if r.getMessage() == "old records pruned"]
    assert line.fields["fetches"] == 3 and line.fields["runs"] == 0
    assert db_rows(db, "SELECT count(*) FROM fetches WHERE url LIKE '%/0'") == [(0,)]
    assert db_rows(db, "SELECT count(*) FROM articles") == [(12,)]  # this run's, untouched


def test_overlapping_sources_running_at_once_fetch_a_shared_story_once(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("newswatch.scheduler.START_STAGGER_SECONDS", 0)  # both start at once
    server.serve_folder(FIXTURES / "portal")
    config = make_config(
        tmp_path,
        [
            {"name": "home", "url": server.base_url + HOME, "interval": 60},
            {
                "name": "middle-east",
                "url": server.base_url + "/webpro1/main/newslist.asp?id=ME",
                "interval": 60,
            },
        ],
        per_host_delay=0.05,
    )
    daemon, db = run_daemon_in_process(config, lambda: config)
    assert serve_until(daemon, lambda: runs_of(db, "home") + runs_of(db, "middle-east") >= 2) == 0
    article_requests = [path for path, _, _ in server.responses if "mainnews.asp" in path]
    assert len(article_requests) == len(set(article_requests))  # the 3 shared: once each
    assert len(article_requests) >= 12
    assert db_rows(db, "SELECT count(*) FROM articles") == [(12,)]


def test_a_run_in_progress_is_cut_short_and_recorded(
    tmp_path: Path, server: ScriptedServer
) -> None:
    server.serve_folder(FIXTURES / "portal")
    server.add("/webpro1/main/mainnews.asp?id=1405803", Route(action="hang"))
    config = make_config(
        tmp_path, [{"name": "home", "url": server.base_url + HOME, "interval": 10}], timeout=30
    )
    daemon, db = run_daemon_in_process(config, lambda: config)
    started = datetime.now(UTC)
    status = serve_until(daemon, lambda: bool(db_rows(db, "SELECT 1 FROM articles LIMIT 5")))
    assert status == 0
    assert datetime.now(UTC) - started < timedelta(seconds=20)  # did not wait for the hang
    assert db_rows(db, "SELECT ok, error_kind FROM runs") == [(0, "interrupted")]
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
