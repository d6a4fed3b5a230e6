"""One run over one source: fetch → parse → dedupe → store → flag.

The run starts at the source's listing page (or feed), then follows the article
links it finds, breadth first, until nothing new is left or the per-run budget of
new pages is spent. A feed's entries that carry the whole story are stored as they are;
the others are followed, one level deep, to pages on whatever host they live on, read by
the source's `article_profile` (the generic one by default). Every request becomes a row
in `fetches`; every failure is recorded and counted, never raised, so one broken source or
page cannot stop the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from newswatch.config import Config, Source
from newswatch.dedup import canonical_url, is_followable
from newswatch.errors import ConfigError
from newswatch.fetch import FEED_TYPES, HTML_TYPES, Fetcher, FetchResult, RobotsFile
from newswatch.models import Article, Link, Page, PageHints
from newswatch.notify import check_alert_targets
from newswatch.parse import (
    FeedProfile,
    GenericProfile,
    Profile,
    SiteProfile,
    load_profile,
    parse_feed,
    parse_page,
    reader_version,
)
from newswatch.retry import RetryPolicy, failure_kind
from newswatch.rules import RuleSet, default_rules_path, load_rules
from newswatch.store import DatabaseBusy, Matcher, SaveResult, Store

log = logging.getLogger(__name__)

MAX_FOLLOW_DEPTH = 2
"""Listing → article → the articles its ticker links to; deeper would crawl the whole site."""
PARSER_ALARM_PAGES = 3
"""This many linked pages fetched and not one parsed to an article: the layout changed."""
SITE_TITLES = 50
"""<title>s kept per host in a run, to tell the site's name and generic title from headlines."""


@dataclass
class SourceReport:
    """What one run over one source did; the CLI prints it and `runs` stores it."""

    source: str
    started_at: datetime
    finished_at: datetime | None = None
    pages_fetched: int = 0
    new_articles: int = 0
    new_ticker_items: int = 0
    duplicates: int = 0
    flags: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None
    """Why the source as a whole failed (its own page unreachable or unparseable)."""
    failure_kind: FailureKind | None = None
    requests: int = 0
    """HTTP requests made, retries included (robots.txt excluded)."""
    bytes_fetched: int = 0
    """Body bytes received (decompressed)."""
    not_modified: bool = False
    """The source's page answered 304: nothing was parsed or followed."""
    items_found: int | None = None
    """Links, ticker items and articles the parser found on the source's page."""
    skipped_unavailable: int = 0
    """Links not requested because they failed recently (404, 410, robots.txt, ...) and are
    not due again yet."""
    from_entries: int = 0
    """Articles stored from what their feed entry or listing item said, their page unread."""
    upgraded: int = 0
    """Articles stored from their entry before whose page was read now."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def add(self, saved: SaveResult) -> None:
        self.new_articles += saved.article == "new"
        self.duplicates += saved.article == "duplicate"
        self.upgraded += saved.article == "upgraded"
        self.new_ticker_items += saved.new_ticker_items
        self.flags += saved.new_flags


@dataclass(frozen=True)
class Progress:
    """A page finished; `total` grows as pages discover more links."""

    source: str
    url: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]
FailureKind = Literal["fetch", "parser", "not-a-feed", "internal", "interrupted"]
"""Why a run failed: the source's page could not be fetched, it parsed to nothing (the
site's layout changed?), a feed source's page is a web page, a bug, or a shutdown cut the
run short."""


def _now() -> datetime:
    return datetime.now(UTC)


class SourceRun:
    """State of one run over one source; `run()` does the work.

    The source's page is requested conditionally (the validators of the last complete
    run): a 304 ends the run at once, with nothing parsed. Validators are kept only when
    every link found was followed, so a run cut short by the page budget, a transient
    error or a shutdown is picked up in full by the next one.
    """

    def __init__(
        self,
        source: Source,
        *,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        profile: Profile,
        matcher: Matcher,
        progress: ProgressCallback | None = None,
        claimed: set[str] | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.fetcher = fetcher
        self.profile = profile
        self.matcher = matcher
        self.progress = progress
        settings = config.settings
        self.budget = (
            source.max_new_pages if source.max_new_pages is not None else settings.max_new_pages
        )
        self.robots = settings.robots if source.robots is None else source.robots
        self.allowed_hosts = {source.host, *source.allow_hosts}
        self.feed = profile if isinstance(profile, FeedProfile) else None
        """Set for a feed source: its entries' pages are read by the feed's article profile,
        wherever they live, and nothing beyond them is followed."""
        self.page_profile: Profile = self.feed.articles if self.feed else profile
        """What reads the pages links lead to."""
        self.max_depth = 1 if self.feed else MAX_FOLLOW_DEPTH
        self.report = SourceReport(source.name, started_at=_now())
        self._claimed = claimed if claimed is not None else set()
        """Canonical URLs some run has in hand (fetching now, or its source's own page):
        shared, so sources whose listings overlap do not fetch the same article twice."""
        self._claims: set[str] = set()
        """The URLs this run added to `_claimed`, for release_claims()."""
        self._retrying: set[str] = set()
        """Canonical URLs that failed for good before and are due to be asked again."""
        self._complete = True
        """Every link found was followed, none failed transiently."""
        self._followed_ok = 0
        self._followed_articles = 0
        self._without_article: list[FetchResult] = []
        self._not_a_feed: str | None = None
        """A feed source's page is a web page: what parse_feed says about it."""
        self._done = 0
        self._total = 1
        self._started = store.now()
        """On the store's clock, which judges when failed links are due again."""
        self._retry = RetryPolicy(interval=_until_next_run(source, self._started))
        self._hints: dict[str, Link] = {}
        """What listings, tickers and feeds said of each link (by canonical URL)."""
        self._site_titles: dict[str, list[str]] = {}
        """The <title>s of the pages read in this run, by host."""

    async def run(self) -> SourceReport:
        """Never raises for a source's problems; a shutdown's cancellation is recorded as an
        interrupted run, then passed on. Only a database held locked by another program
        (DatabaseBusy) escapes, since then nothing can be recorded."""
        self.store.upsert_source(self.source.name, self.source.url, self.source.profile)
        self.fetcher.adopt_robots(RobotsFile(*row) for row in self.store.robots_files())
        try:
            await self._crawl()
        except asyncio.CancelledError:
            self._fail("interrupted", "interrupted by a shutdown before the run finished")
            self._finish()
            raise
        except DatabaseBusy:
            raise
        except Exception as exc:  # a bug must not take the other sources down
            log.exception("source %s: unexpected error", self.source.name)
            self._fail("internal", f"internal error: {type(exc).__name__}: {exc}")
        self._finish()
        return self.report

    def _claim(self, urls: Sequence[str]) -> None:
        self._claimed.update(urls)
        self._claims.update(urls)

    def release_claims(self) -> None:
        """Hand back the URLs this run claimed, where `claimed` outlives the run (the
        daemon's, shared by the runs in progress): once a run is over, its stories are
        stored or may be tried again."""
        self._claimed.difference_update(self._claims)
        self._claims.clear()

    def _fail(self, kind: FailureKind, message: str) -> None:
        self.report.failure = message
        self.report.failure_kind = kind

    def _finish(self) -> None:
        for robots in self.fetcher.take_new_robots():
            self.store.save_robots_file(robots.origin, robots.body, robots.fetched_at)
        report = self.report
        report.finished_at = _now()
        self.store.record_run(
            report.source,
            started_at=report.started_at,
            finished_at=report.finished_at,
            ok=report.ok,
            pages_fetched=report.pages_fetched,
            new_articles=report.new_articles,
            new_ticker_items=report.new_ticker_items,
            duplicates=report.duplicates,
            flags=report.flags,
            errors=len(report.errors),
            error=report.failure,
            error_kind=report.failure_kind,
            items_found=report.items_found,
            not_modified=report.not_modified,
        )

    async def _crawl(self) -> None:
        url = self.source.url
        self._claim([canonical_url(url)])  # no other source follows a link to it meanwhile
        reader = self._reader()
        known = self.store.validators(url)
        if known is not None and known.read_with != reader:
            known = None  # read another way last time: read it again, in full
        start = await self.fetcher.get(
            url,
            robots=self.robots,
            accept=FEED_TYPES if self.feed else HTML_TYPES,
            etag=known.etag if known else None,
            last_modified=known.last_modified if known else None,
        )
        page = self._take(start, followed=False)
        if start.not_modified:
            self.report.not_modified = True
            return
        if page is None:
            self._fail("fetch", self.report.errors[-1])
            return
        self.report.items_found = _items_on(page)
        if not self.report.items_found:
            self.store.forget_validators(url)
            self._fail(*self._nothing_found(page))
            return
        if self.feed is not None:  # feeds often live on another host than their stories
            self.allowed_hosts.update(_host(link.url) for link in page.links)
        if self.source.follow:
            await self._follow(page)
        if self._followed_ok >= PARSER_ALARM_PAGES and not self._followed_articles:
            alarm = (
                f"{self._followed_ok} linked pages were fetched but none parsed to an article "
                "(has the site's layout changed?)"
            )
            if self.report.from_entries:
                alarm += f"; {self.report.from_entries} stored from what their entries said"
            self._fail("parser", alarm)
        if self.report.ok:  # pages that are not articles are not asked for again every run
            for result in self._without_article:
                self._remember_unavailable(result, "no article found on the page")
        if self._complete and self.report.ok:
            self.store.save_validators(
                url, etag=start.etag, last_modified=start.last_modified, read_with=reader
            )
        else:
            self.store.forget_validators(url)

    def _nothing_found(self, page: Page) -> tuple[FailureKind, str]:
        """Why the source's page gave nothing to store or follow, in the parser's words."""
        if self._not_a_feed is not None:
            return "not-a-feed", self._not_a_feed
        reasons = "; ".join(page.warnings[:3])
        if isinstance(self.profile, SiteProfile):
            layout = f"has the site's layout changed? {reasons}".strip()
            return (
                "parser",
                f"the page parsed to nothing: no article, links or ticker items ({layout})",
            )
        return (
            "parser",
            f"the page parsed to nothing: {reasons or 'no article, links or ticker items'}",
        )

    def _reader(self) -> str:
        """How the source's page is read and its links chosen: the profile (see
        parse.reader_version) and the source's settings that decide which links are followed,
        so editing any of them reads an unchanged page again instead of getting 304."""
        follows = f"follow={self.source.follow} hosts={sorted(self.allowed_hosts)}"
        return f"{reader_version(self.profile)}; {follows}"

    async def _follow(self, page: Page) -> None:
        """Breadth first from the page's links, then what earlier runs left unfollowed."""
        backlog = self.store.awaiting_pages(self.source.name)
        if not self.feed:
            backlog += self.store.unfetched_ticker_urls(self.source.name)
        self._note_hints([page])
        frontier = self._fresh(_links_on([page]) + backlog)
        depth = 1
        while frontier and depth <= self.max_depth:
            batch = frontier[: self.budget]
            if len(batch) < len(frontier):
                self._complete = False  # the rest waits for the next run
            if not batch:
                return
            self._claim(batch)  # only what is fetched now: the rest stays free for others
            self.budget -= len(batch)
            self._total += len(batch)
            pages = [page for page in await asyncio.gather(*map(self._visit, batch)) if page]
            self._note_hints(pages)
            frontier = self._fresh(_links_on(pages))
            depth += 1

    def _note_hints(self, pages: Sequence[Page]) -> None:
        """Remember what the pages' listings and tickers say of each link they show: the
        first word on a link wins, unless a later one says more (a listing item's summary)."""
        for page in pages:
            said = list(page.links) + [
                Link(item.url, _whole(item.text), None, item.region, item.published)
                for item in page.ticker
            ]
            for link in said:
                if not is_followable(link.url):
                    continue
                key = canonical_url(link.url)
                known = self._hints.get(key)
                if known is None or (link.summary and not known.summary):
                    self._hints[key] = link

    async def _visit(self, url: str) -> Page | None:
        """Fetch and store one linked page; each is committed as soon as it arrives, so a
        slow page neither holds the others back nor takes them down with it on shutdown."""
        hints = PageHints(
            link=self._hints.get(url), site_titles=tuple(self._site_titles.get(_host(url), ()))
        )
        result = await self.fetcher.get(url, robots=self.robots)
        return self._take(result, followed=True, hints=hints)

    def _take(
        self, result: FetchResult, *, followed: bool, hints: PageHints | None = None
    ) -> Page | None:
        """Record one fetch, parse and store its page; None when there is nothing to parse.
        A followed link whose page cannot be read (or holds no article) is stored from what
        its feed entry or listing item said, when that says enough."""
        report = self.report
        report.pages_fetched += result.attempts > 0  # not a page robots.txt kept us from
        report.requests += result.attempts
        report.bytes_fetched += len(result.content)
        page: Page | None = None
        entries: list[tuple[Article, Literal["feed"] | None]] = []
        if result.ok:
            page, entries = self._parse(result, followed=followed, hints=hints)
            if page.warnings:
                report.warnings.extend(f"{result.url}: {w}" for w in page.warnings)
        elif not result.not_modified and not (followed and result.refused):
            report.errors.append(f"{result.url}: {result.error or result.status}")
        stand_in = None
        if followed and (page is None or page.article is None) and hints and hints.link:
            stand_in = self._stand_in(hints.link)
        with self.store.transaction():  # the fetch and what it brought, in one commit
            fetch_id = self.store.record_fetch(
                source=self.source.name,
                url=result.url,
                status=result.status,
                size=len(result.content),
                elapsed=result.elapsed,
                error=result.error,
                warnings=page.warnings if page else (),
            )
            if page is not None:
                report.add(
                    self.store.save_page(
                        self.source.name,
                        page,
                        fetch_id=fetch_id,
                        matcher=self.matcher,
                        requested_url=result.url,
                    )
                )
            for entry, read_from in entries:  # under their own URL; fetched_url is the feed's
                entry_page = Page(url=result.final_url, article=entry)
                report.add(
                    self.store.save_page(
                        self.source.name,
                        entry_page,
                        fetch_id=fetch_id,
                        matcher=self.matcher,
                        read_from=read_from,
                    )
                )
            if stand_in is not None:
                saved = self.store.save_page(
                    self.source.name,
                    Page(url=result.url, article=stand_in),
                    fetch_id=fetch_id,
                    matcher=self.matcher,
                    read_from="feed" if self.feed else "listing",
                )
                report.add(saved)
                report.from_entries += saved.article == "new"
        if followed:
            self._note_followed(result, page)
        self._done += 1
        if self.progress:
            self.progress(Progress(self.source.name, result.url, self._done, self._total))
        return page

    def _parse(
        self, result: FetchResult, *, followed: bool, hints: PageHints | None = None
    ) -> tuple[Page, list[tuple[Article, Literal["feed"] | None]]]:
        """The page, and for a feed the entries to store as articles: those that carry the
        whole story, or, when the source does not follow links, every entry with a title
        (its summary as body, marked as read from the feed)."""
        text = result.text()
        if self.feed is None or followed:
            profile = self.page_profile if followed else self.profile
            page = parse_page(text, result.final_url, profile, hints)
            self._note_title(result.final_url, page.title_tag)
            return page, []
        parsed = parse_feed(text, result.final_url)
        self._not_a_feed = parsed.not_a_feed
        entries: list[tuple[Article, Literal["feed"] | None]] = [
            (entry, None) for entry in parsed.articles
        ]
        if not self.source.follow:
            complete = {entry.url for entry in parsed.articles}
            entries += [
                (stand_in, "feed")
                for link in parsed.page.links
                if link.url not in complete and (stand_in := self._stand_in(link)) is not None
            ]
        return parsed.page, entries

    def _stand_in(self, link: Link) -> Article | None:
        """The article a feed entry (with a title) or a listing item (with a title and a
        summary) makes when its page cannot be read."""
        if not link.title or not (self.feed or link.summary):
            return None
        return Article(
            url=link.url,
            title=link.title,
            published=link.published,
            location=link.region,
            body=link.summary or "",
        )

    def _note_title(self, url: str, title: str | None) -> None:
        titles = self._site_titles.setdefault(_host(url), [])
        if title and title not in titles and len(titles) < SITE_TITLES:
            titles.append(title)

    def _note_followed(self, result: FetchResult, page: Page | None) -> None:
        """Remember what a followed link's answer means for the next runs."""
        if page is not None:
            self._followed_ok += 1
            if page.article is None:
                self._without_article.append(result)
                return
            self._followed_articles += 1
            if canonical_url(result.url) in self._retrying:
                self.store.clear_unavailable(result.url)
        elif (kind := failure_kind(transient=result.transient, refused=result.refused)) == (
            "transient"
        ):
            self._complete = False  # asked again on the next run
        elif kind == "refused":
            until = self._retry.refused_until(self._started)
            self.store.mark_unavailable(
                result.url,
                status=None,
                error=result.error or "disallowed by robots.txt",
                source=self.source.name,
                schedule=lambda failures, first: until,
            )
        else:
            self._remember_unavailable(result, result.error or f"HTTP {result.status}")

    def _remember_unavailable(self, result: FetchResult, error: str) -> None:
        """Due again at the source's next run, then less and less often (newswatch.retry)."""

        def schedule(failures: int, first_failed: datetime) -> datetime | None:
            return self._retry.next_try(
                failures=failures, first_failed=first_failed, run_started=self._started
            )

        self.store.mark_unavailable(
            result.url,
            status=result.status,
            error=error,
            source=self.source.name,
            schedule=schedule,
        )

    def _fresh(self, urls: Iterable[str]) -> list[str]:
        """Those URLs that are on allowed hosts, not yet stored, nor failed for good recently.

        The canonical form is what gets fetched: tracking parameters are not sent back.
        Discovery order is kept, so a budget spends itself on the listing's first (newest)
        items.
        """
        candidates: dict[str, None] = {}
        for url in urls:
            if not is_followable(url):
                continue
            if _host(url) not in self.allowed_hosts:
                continue
            key = canonical_url(url)
            if key not in self._claimed:
                candidates[key] = None
        known = self.store.known_article_urls(candidates)
        unknown = [url for url in candidates if url not in known]
        unavailable = self.store.unavailable_urls(unknown)
        fresh = []
        for url in unknown:
            still_skipped = unavailable.get(url)
            if still_skipped:
                self.report.skipped_unavailable += 1
                continue
            if still_skipped is False:
                self._retrying.add(url)
            fresh.append(url)
        return fresh


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _until_next_run(source: Source, started: datetime) -> timedelta:
    """How long after this run the source's next scheduled one comes: its interval, or for
    a crontab schedule the time to its next line (at least a minute)."""
    if source.cron is None:
        return timedelta(seconds=source.interval)
    from newswatch.cron import crontab_trigger  # APScheduler, only for cron sources

    upcoming = crontab_trigger(source.cron).get_next_fire_time(None, started)
    return max(upcoming - started, timedelta(minutes=1)) if upcoming else timedelta(days=1)


def _whole(teaser: str) -> str | None:
    """A ticker's text as a title, unless it is cut short ('...')."""
    return None if teaser.rstrip().endswith(("...", "…")) else teaser


def _links_on(pages: Sequence[Page]) -> list[str]:
    return [link.url for page in pages for link in page.links] + [
        item.url for page in pages for item in page.ticker
    ]


def _items_on(page: Page) -> int:
    return (page.article is not None) + len(page.links) + len(page.ticker)


async def run_sources(
    config: Config,
    sources: Sequence[Source],
    *,
    store: Store,
    fetcher: Fetcher,
    profiles: dict[str, Profile],
    matcher: Matcher,
    progress: ProgressCallback | None = None,
    stop: asyncio.Event | None = None,
) -> list[SourceReport]:
    """Run the sources concurrently (the fetcher keeps each host's pace).

    Setting `stop` (Ctrl-C) cuts every run short at its next network wait; each is then
    recorded as interrupted, with what it stored so far, and still reported.
    """
    claimed: set[str] = set()
    runs = [
        SourceRun(
            source,
            config=config,
            store=store,
            fetcher=fetcher,
            profile=profiles[source.name],
            matcher=matcher,
            progress=progress,
            claimed=claimed,
        )
        for source in sources
    ]
    tasks = [asyncio.ensure_future(run.run()) for run in runs]
    watcher = asyncio.ensure_future(stop.wait()) if stop is not None else None
    if watcher is not None:
        watcher.add_done_callback(lambda _: [task.cancel() for task in tasks])
    try:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return [run.report for run in runs]


def source_profiles(config: Config, sources: Sequence[Source]) -> dict[str, Profile]:
    """Load each source's profile; a bad one is a configuration error naming the source."""
    profiles: dict[str, Profile] = {}
    for source in sources:
        key = f"sources[{config.sources.index(source)}]"
        profile = _load_profile(config, source.profile, f"{key}.profile")
        if source.article_profile is not None and isinstance(profile, FeedProfile):
            articles = _load_profile(config, source.article_profile, f"{key}.article_profile")
            if not isinstance(articles, SiteProfile | GenericProfile):
                raise ConfigError(config.path, f"{key}.article_profile", "not a page profile")
            profile = FeedProfile(articles=articles)
        profiles[source.name] = profile
    return profiles


def _load_profile(config: Config, name: str, key: str) -> Profile:
    """A profile by name, or by a .toml path relative to the configuration file."""
    reference: str | Path = name
    if name.endswith(".toml") and config.path is not None:
        reference = config.path.parent / name
    try:
        return load_profile(reference)
    except ConfigError as exc:
        if exc.path is not None and exc.path.suffix == ".toml" and exc.path.exists():
            raise
        raise ConfigError(config.path, key, exc.message) from None


def config_rules(config: Config) -> RuleSet:
    """The configuration's rules file, or the bundled default rules; alert targets may only
    name rules that exist."""
    rules = load_rules(config.rules_path or default_rules_path())
    names = [rule.name for rule in rules.rules]
    check_alert_targets(config.alerts, names, config.path)
    for index, feed in enumerate(config.feeds):
        if feed.rule is not None and feed.rule not in names:
            known = ", ".join(names)
            message = f"no rule named {feed.rule!r} in the rules file (rules: {known})"
            raise ConfigError(config.path, f"feeds[{index}].rule", message)
    return rules
