"""The daemon: every source on its own schedule, in one asyncio loop, until told to stop.

APScheduler (3.x, AsyncIOScheduler) fires one job per source: on its interval or its
crontab, with a random jitter so sources do not fire together, never two runs of one
source at once, late runs coalesced into one, and a first run at start-up. A source
whose runs keep failing has its next run put off (interval × 2^failures, at most a
day); the failure count lives in the database, so a restart does not reset it.

Signals: SIGTERM and SIGINT stop taking new work and cancel the runs in progress at
their next network wait (store writes are synchronous, so the page being written is
always committed whole), record those runs as interrupted, and return 0. SIGHUP
re-reads the configuration; an invalid one is logged and the old one kept.

Logging goes to stderr, plain text or JSON Lines, one line per source run with its
figures (logfmt key=value pairs in plain text).

After every source run, and once a minute for digests and retries, owed alerts are
delivered and feed files rewritten (newswatch.publish). Apprise sends block, so that
happens in a worker thread with its own database connection, one publish at a time.
At start-up and then once a day, request and run records older than keep_log are
pruned, in a worker thread too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import sqlite3
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newswatch import daemonlock
from newswatch.config import Config, Source
from newswatch.cron import crontab_trigger
from newswatch.errors import ConfigError, NewswatchError
from newswatch.fetch import Fetcher, FetchPolicy
from newswatch.notify import DeliveryReport
from newswatch.parse import Profile
from newswatch.pipeline import SourceReport, SourceRun, config_rules, source_profiles
from newswatch.publish import prepare, publish
from newswatch.rules import RuleSet
from newswatch.store import PruneResult, Store, utc_iso

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 24 * 3600.0
"""A failing source is still tried at least once a day (or once per period, if longer)."""
JITTER_FRACTION = 0.1
MAX_JITTER_SECONDS = 300.0
START_STAGGER_SECONDS = 5.0
"""First runs at start-up are spread over at most this long."""
PUBLISH_EVERY_SECONDS = 60.0
"""How often alert digests fall due and failed deliveries are retried, between runs."""
_PUBLISH_JOB = "newswatch:publish"
PRUNE_EVERY_SECONDS = 24 * 3600.0
"""How often request and run records older than keep_log are deleted (first at start-up)."""
_PRUNE_JOB = "newswatch:prune"
SHUTDOWN_GRACE_SECONDS = 5.0
"""How long cancelled runs get to record themselves before the daemon exits anyway."""
_QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.ERROR,
    "apprise": logging.ERROR,  # a failed send is logged by newswatch, with the channel
}
"""One line per request or per job event would drown the run lines; -vv shows them.
APScheduler warns whenever a run is skipped because the previous one still runs, which
is what max_instances=1 is for."""


def run_daemon(
    load_config: Callable[[], Config],
    *,
    database: Path | None = None,
    log_format: str = "plain",
) -> int:
    """Run every configured source on its schedule until SIGTERM/SIGINT; the exit status.

    `load_config` is called at start and again on SIGHUP. A configuration error at
    start raises ConfigError; later ones are logged and the running configuration kept.
    Takes over the root logger's output (stderr, `log_format` "plain" or "json").
    """
    configure_logging(log_format)
    config = load_config()
    if not config.sources:
        raise ConfigError(config.path, "sources", "no sources configured")
    database = database or config.settings.database
    Store(database).close()  # a file that is not ours is refused before a lock is put by it
    with daemonlock.hold(database):
        runtime = _Runtime.build(config, previous=None)
        daemon = Daemon(load_config, runtime, database=database)
        return asyncio.run(daemon.serve())


# --- schedules ---------------------------------------------------------------------------


def backoff_delay(period: float, failures: int) -> float:
    """Seconds until the next run of a source that failed `failures` times in a row.

    period × 2^failures, capped at a day (or at the period itself, when that is longer).
    """
    if failures <= 0:
        return period
    return min(period * 2.0**failures, max(MAX_BACKOFF_SECONDS, period))


def jitter_for(period: float) -> float:
    """A tenth of the period, at most five minutes: spreads sources without drifting far."""
    return min(period * JITTER_FRACTION, MAX_JITTER_SECONDS)


def source_period(source: Source, now: datetime) -> float:
    """Seconds between two runs: the interval, or the gap between the crontab's next two."""
    if source.cron is None:
        return source.interval
    trigger = crontab_trigger(source.cron)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    if first is None or second is None:
        return source.interval
    return float((second - first).total_seconds())


def source_trigger(source: Source, now: datetime) -> BaseTrigger:
    jitter = jitter_for(source_period(source, now))
    if source.cron is not None:
        return crontab_trigger(source.cron, jitter=jitter)
    return IntervalTrigger(seconds=source.interval, jitter=jitter)


# --- the daemon --------------------------------------------------------------------------


@dataclass
class _Runtime:
    """One configuration's worth of objects. A reload builds a new one; runs already
    going keep theirs, and a fetcher nobody uses any more is closed."""

    config: Config
    profiles: dict[str, Profile]
    rules: RuleSet
    fetcher: Fetcher
    active: int = 0

    @classmethod
    def build(cls, config: Config, *, previous: _Runtime | None) -> _Runtime:
        """Raises ConfigError (or another NewswatchError) for a profile or rules problem."""
        profiles = source_profiles(config, config.sources)
        rules = config_rules(config)
        for warning in rules.warnings:
            log.warning("rules: %s", warning)
        policy = FetchPolicy.from_settings(config.settings)
        if previous is not None and previous.fetcher.policy == policy:
            fetcher = previous.fetcher  # keeps its per-host pacing and robots.txt cache
        else:
            fetcher = Fetcher(policy)
        return cls(config, profiles, rules, fetcher)

    def source(self, name: str) -> Source | None:
        return next((s for s in self.config.sources if s.name == name), None)


def _schedule_key(source: Source) -> tuple[float, str | None]:
    return source.interval, source.cron


class Daemon:
    """The scheduler, the open database and the current runtime; `serve()` runs it all."""

    def __init__(
        self, load_config: Callable[[], Config], runtime: _Runtime, *, database: Path
    ) -> None:
        self._load_config = load_config
        self._runtime = runtime
        self._database = database
        self._retired: list[_Runtime] = []
        self._running: set[asyncio.Task[Any]] = set()
        self._claimed: set[str] = set()
        """Article URLs the runs in progress have in hand: two sources whose listings
        overlap, running at once, do not both fetch a story they share."""
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._stop_requested: asyncio.Event | None = None
        self._store: Store | None = None
        self._publishing = asyncio.Lock()
        self._scheduler = AsyncIOScheduler(
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        )

    @property
    def store(self) -> Store:
        assert self._store is not None, "the daemon is not serving"
        return self._store

    async def serve(self) -> int:
        """Run until stop() (or SIGTERM/SIGINT); returns the exit status."""
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        with Store(self._database) as store:
            self._store = store
            self._runtime.fetcher.open()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop, signal.Signals(signum).name)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            try:
                self._scheduler.start()
                now = datetime.now(UTC)
                prepare(store, self._runtime.config)
                for source in self._runtime.config.sources:
                    self._add_job(source, now)
                self._scheduler.add_job(
                    self._publish,
                    trigger=IntervalTrigger(seconds=PUBLISH_EVERY_SECONDS),
                    id=_PUBLISH_JOB,
                    name="publish",
                )
                self._scheduler.add_job(
                    self._prune,
                    trigger=IntervalTrigger(seconds=PRUNE_EVERY_SECONDS),
                    id=_PRUNE_JOB,
                    name="prune",
                    next_run_time=now,
                )
                log.info(
                    "newswatch daemon started",
                    extra={
                        "fields": {
                            "sources": len(self._runtime.config.sources),
                            "database": str(self._database),
                        }
                    },
                )
                await self._stop_requested.wait()
                await self._shut_down()
            finally:
                for signum in handled:
                    loop.remove_signal_handler(signum)
                self._store = None
        return 0

    def stop(self, reason: str = "stop requested") -> None:
        """Stop taking new work and end the runs in progress; serve() then returns 0."""
        if self._stop_requested is None or self._stop_requested.is_set():
            return
        log.info(
            "stopping", extra={"fields": {"reason": reason, "runs_in_progress": len(self._running)}}
        )
        self._stop_requested.set()

    def reload(self) -> bool:
        """Re-read the configuration (SIGHUP); on any error keep running with the old one."""
        if self._stopping:
            return False
        try:
            config = self._load_config()
            if not config.sources:
                raise ConfigError(config.path, "sources", "no sources configured")
            runtime = _Runtime.build(config, previous=self._runtime)
        except NewswatchError as exc:
            log.error(
                "configuration not reloaded; still running with the previous one",
                extra={"fields": {"error": str(exc)}},
            )
            return False
        old = self._runtime
        if runtime.fetcher is not old.fetcher:
            runtime.fetcher.open()
            self._retired.append(old)
        self._runtime = runtime
        changes = self._sync_jobs(old.config, config)
        try:
            prepare(self.store, config)
        except NewswatchError as exc:
            log.warning("alert targets not registered", extra={"fields": {"error": str(exc)}})
        if config.settings.database != old.config.settings.database:
            log.warning(
                "a new database takes a restart; still writing to the old one",
                extra={"fields": {"database": str(self._database)}},
            )
        self._close_retired()
        log.info("configuration reloaded", extra={"fields": changes})
        return True

    # --- jobs ---------------------------------------------------------------------------

    def _add_job(self, source: Source, now: datetime) -> None:
        """A new source runs soon: within a few seconds, spread so sources do not collide."""
        stagger = random.uniform(0, min(START_STAGGER_SECONDS, jitter_for(source.interval)))
        first_run = now + timedelta(seconds=stagger)
        self._scheduler.add_job(
            self._run_source,
            trigger=source_trigger(source, now),
            args=[source.name],
            id=source.name,
            name=source.name,
            next_run_time=first_run,
            replace_existing=True,
        )
        self._publish_plan(source.name, first_run, source)

    def _sync_jobs(self, old: Config, new: Config) -> dict[str, str]:
        before = {s.name: s for s in old.sources}
        after = {s.name: s for s in new.sources}
        now = datetime.now(UTC)
        added = [name for name in after if name not in before]
        removed = [name for name in before if name not in after]
        rescheduled = [
            name
            for name in after
            if name in before and _schedule_key(before[name]) != _schedule_key(after[name])
        ]
        for name in removed:
            self._scheduler.remove_job(name)
            self._publish_plan(name, None)
        for name in added:
            self._add_job(after[name], now)
        for name in rescheduled:
            job = self._scheduler.reschedule_job(name, trigger=source_trigger(after[name], now))
            self._publish_plan(name, job.next_run_time)
        return {
            "added": ",".join(added),
            "removed": ",".join(removed),
            "rescheduled": ",".join(rescheduled),
        }

    async def _run_source(self, name: str) -> None:
        """The job: one run over one source, then its log line and its next run."""
        runtime = self._runtime
        source = runtime.source(name)
        task = asyncio.current_task()
        if self._stopping or source is None or task is None:
            return
        run = SourceRun(
            source,
            config=runtime.config,
            store=self.store,
            fetcher=runtime.fetcher,
            profile=runtime.profiles[name],
            matcher=runtime.rules.match,
            claimed=self._claimed,
        )
        self._running.add(task)
        runtime.active += 1
        try:
            report = await run.run()
        except asyncio.CancelledError:
            # Only stop() cancels runs, and SourceRun has recorded this one as interrupted;
            # ending the job quietly keeps APScheduler from logging it as a crash.
            _log_run(run.report, next_run=None)
            return
        except NewswatchError as exc:  # the database was held locked by another program
            log.error("run abandoned", extra={"fields": {"source": name, "error": str(exc)}})
            return
        finally:
            run.release_claims()
            self._running.discard(task)
            runtime.active -= 1
            self._close_retired()
        _log_run(report, next_run=self._plan_next_run(source))
        if report.flags:
            await self._publish()

    def _plan_next_run(self, source: Source) -> datetime | None:
        """Put a failing source's next run off, and tell the database when it will be."""
        job = self._scheduler.get_job(source.name)
        if job is None or self._stopping:
            return None
        next_run: datetime | None = job.next_run_time
        if failures := self.store.consecutive_failures(source.name):
            now = datetime.now(UTC)
            period = source_period(source, now)
            delay = backoff_delay(period, failures) + random.uniform(0, jitter_for(period))
            delayed = now + timedelta(seconds=delay)
            if next_run is None or delayed > next_run:
                job = job.modify(next_run_time=delayed)
                next_run = delayed
        self._publish_plan(source.name, next_run)
        return next_run

    def _publish_plan(self, name: str, when: datetime | None, new: Source | None = None) -> None:
        """Tell `newswatch status` when a source runs next (and about a new source). Only
        for show: a database held locked by another program is logged, not fatal."""
        try:
            if new is not None:
                self.store.upsert_source(new.name, new.url, new.profile)
            self.store.set_next_run(name, when)
        except NewswatchError as exc:
            log.warning(
                "next run not recorded", extra={"fields": {"source": name, "error": str(exc)}}
            )

    async def _publish(self) -> None:
        """Deliver owed alerts and rewrite feed files, in a thread (apprise blocks)."""
        config = self._runtime.config
        if self._stopping or (not config.alerts and not config.feeds):
            return
        async with self._publishing:
            try:
                report = await asyncio.to_thread(self._publish_blocking, config)
            except NewswatchError as exc:
                log.error("alerts not delivered", extra={"fields": {"error": str(exc)}})
                return
        if report.messages_sent or report.failures:
            log.log(
                logging.WARNING if report.failures else logging.INFO,
                "alerts delivered",
                extra={
                    "fields": {
                        "messages": report.messages_sent,
                        "flags": report.flags_sent,
                        "resent": report.resent,
                        "failures": "; ".join(report.failures),
                    }
                },
            )

    def _publish_blocking(self, config: Config) -> DeliveryReport:
        with Store(self._database) as store:
            return publish(store, config)

    async def _prune(self) -> None:
        """Delete old request and run records, in a thread: the first prune of a large
        history takes a while, a batch per transaction, and sources keep running meanwhile."""
        keep = self._runtime.config.settings.keep_log
        task = asyncio.current_task()
        if self._stopping or keep is None or task is None:
            return
        self._background.add(task)  # a shutdown waits for the batch being deleted
        task.add_done_callback(self._background.discard)
        cutoff = datetime.now(UTC) - timedelta(seconds=keep)
        try:
            result = await asyncio.to_thread(self._prune_blocking, cutoff)
        except (NewswatchError, sqlite3.Error) as exc:  # a disk full, say: try again tomorrow
            log.error("old records not pruned", extra={"fields": {"error": str(exc)}})
            return
        log.info(
            "old records pruned",
            extra={
                "fields": {
                    "fetches": result.fetches,
                    "runs": result.runs,
                    "before": utc_iso(cutoff),
                }
            },
        )

    def _prune_blocking(self, cutoff: datetime) -> PruneResult:
        with Store(self._database) as store:
            return store.prune_log(cutoff, keep_going=lambda: not self._stopping)

    # --- stopping -----------------------------------------------------------------------

    def _close_retired(self) -> None:
        """Close the fetchers of replaced configurations once their last run is over."""
        in_use = {id(self._runtime.fetcher)}
        in_use.update(id(r.fetcher) for r in self._retired if r.active)
        for runtime in [r for r in self._retired if not r.active]:
            self._retired.remove(runtime)
            if id(runtime.fetcher) not in in_use:
                self._spawn(runtime.fetcher.aclose())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shut_down(self) -> None:
        self._stopping = True
        self._scheduler.pause()
        await asyncio.sleep(0)  # a job submitted just now starts, sees _stopping, returns
        running = set(self._running)
        for task in running:
            task.cancel()
        if running:
            _, pending = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
            if pending:
                log.warning(
                    "runs did not end in time",
                    extra={"fields": {"runs": len(pending)}},
                )
        self._scheduler.shutdown(wait=False)
        try:
            self.store.clear_next_runs()
        except NewswatchError as exc:
            log.warning("planned runs not cleared", extra={"fields": {"error": str(exc)}})
        fetchers = {id(r.fetcher): r.fetcher for r in (self._runtime, *self._retired)}
        for fetcher in fetchers.values():
            await fetcher.aclose()
        if self._background:
            await asyncio.wait(set(self._background), timeout=SHUTDOWN_GRACE_SECONDS)
        log.info("newswatch daemon stopped")


# --- logging -----------------------------------------------------------------------------


def run_fields(report: SourceReport, next_run: datetime | None) -> dict[str, Any]:
    """The figures of one run, as they appear in its log line."""
    finished = report.finished_at or datetime.now(UTC)
    fields: dict[str, Any] = {
        "source": report.source,
        "result": "ok" if report.ok else (report.failure_kind or "failed"),
        "pages": report.pages_fetched,
        "requests": report.requests,
        "bytes": report.bytes_fetched,
        "not_modified": report.not_modified,
        "items_found": report.items_found,
        "new_articles": report.new_articles,
        "new_ticker_items": report.new_ticker_items,
        "duplicates": report.duplicates,
        "flags": report.flags,
        "errors": len(report.errors),
        "skipped_unavailable": report.skipped_unavailable,
        "seconds": round((finished - report.started_at).total_seconds(), 2),
        "next_run": utc_iso(next_run) if next_run else None,
    }
    if report.failure:
        fields["error"] = report.failure
    return fields


def _log_run(report: SourceReport, *, next_run: datetime | None) -> None:
    if report.ok:
        level, message = logging.INFO, "run finished"
    elif report.failure_kind == "interrupted":
        level, message = logging.INFO, "run interrupted"
    else:
        level, message = logging.WARNING, "run failed"
    log.log(level, message, extra={"fields": run_fields(report, next_run)})


def _record_fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _timestamp(record: logging.LogRecord) -> str:
    return utc_iso(datetime.fromtimestamp(record.created, UTC))


def _logfmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if not text or any(c in text for c in ' "=\\') or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


class PlainFormatter(logging.Formatter):
    """`TIME LEVEL logger: message key=value ...` (logfmt pairs: easy to read and to grep)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        pairs = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _record_fields(record).items())
        if pairs:
            line += " " + pairs
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_record_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str) -> None:
    """Send all logging to stderr in `log_format`; INFO and up (DEBUG when asked for).

    The daemon is the whole program, so it owns the root logger: any handler set up
    before (the CLI's) is replaced.
    """
    if log_format not in ("plain", "json"):
        raise ValueError(f"log format must be 'plain' or 'json', not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    debug = logging.NOTSET < root.level <= logging.DEBUG
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.NOTSET if debug else level)
