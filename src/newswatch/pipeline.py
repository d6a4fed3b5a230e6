"""One run over one source: fetch → parse → dedupe → store → flag.

The run starts at the source's listing page (or feed), then follows the article
links it finds, breadth first, until nothing new is left or the per-run budget of
new pages is spent. Every request becomes a row in `fetches`; every failure is
recorded and counted, never raised, so one broken source or page cannot stop the
others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from newswatch.config import Config, Source
from newswatch.dedup import canonical_url, is_followable
from newswatch.errors import ConfigError
from newswatch.fetch import Fetcher, FetchResult
from newswatch.models import Page
from newswatch.parse import Profile, load_profile, parse_page
from newswatch.rules import RuleSet, default_rules_path, load_rules
from newswatch.store import Matcher, SaveResult, Store

log = logging.getLogger(__name__)

MAX_FOLLOW_DEPTH = 2
"""Listing → article → the articles its ticker links to; deeper would crawl the whole site."""


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

    @property
    def ok(self) -> bool:
        return self.failure is None

    def add(self, saved: SaveResult) -> None:
        self.new_articles += saved.article == "new"
        self.duplicates += saved.article == "duplicate"
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


def _now() -> datetime:
    return datetime.now(UTC)


class SourceRun:
    """State of one run over one source; `run()` does the work."""

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
        self.report = SourceReport(source.name, started_at=_now())
        self._claimed = claimed if claimed is not None else set()
        """Canonical URLs some source of this run already fetches: shared, so sources whose
        listings overlap do not fetch the same article twice."""
        self._done = 0
        self._total = 1

    async def run(self) -> SourceReport:
        self.store.upsert_source(self.source.name, self.source.url, self.source.profile)
        try:
            await self._crawl()
        except Exception as exc:  # a bug must not take the other sources down
            log.exception("source %s: unexpected error", self.source.name)
            self.report.failure = f"internal error: {type(exc).__name__}: {exc}"
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
        )
        return report

    async def _crawl(self) -> None:
        self._claimed.add(canonical_url(self.source.url))
        start = await self.fetcher.get(self.source.url, robots=self.robots)
        page = self._take(start)
        if page is None:
            self.report.failure = self.report.errors[-1]
            return
        if page.article is None and not page.links and not page.ticker:
            self.report.failure = (
                "the page parsed to nothing: no article, links or ticker items "
                "(has the site's layout changed?)"
            )
            return
        if not self.source.follow:
            return
        frontier = self._new_links([page])
        depth = 1
        while frontier and self.budget > 0 and depth <= MAX_FOLLOW_DEPTH:
            batch = frontier[: self.budget]
            self.budget -= len(batch)
            self._total += len(batch)
            results = await asyncio.gather(
                *(self.fetcher.get(url, robots=self.robots) for url in batch)
            )
            pages = [page for page in map(self._take, results) if page is not None]
            frontier = self._new_links(pages)
            depth += 1

    def _take(self, result: FetchResult) -> Page | None:
        """Record one fetch, parse and store its page; None when there is nothing to parse."""
        self.report.pages_fetched += 1
        page: Page | None = None
        if result.ok:
            page = parse_page(result.text(), result.final_url, self.profile)
            if page.warnings:
                self.report.warnings.extend(f"{result.url}: {w}" for w in page.warnings)
        else:
            self.report.errors.append(f"{result.url}: {result.error or result.status}")
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
            self.report.add(
                self.store.save_page(
                    self.source.name, page, fetch_id=fetch_id, matcher=self.matcher
                )
            )
        self._done += 1
        if self.progress:
            self.progress(Progress(self.source.name, result.url, self._done, self._total))
        return page

    def _new_links(self, pages: Sequence[Page]) -> list[str]:
        """Article URLs found on these pages that are on allowed hosts and not yet stored.

        The canonical form is what gets fetched: tracking parameters are not sent back.
        Discovery order is kept, so a budget spends itself on the listing's first (newest)
        items.
        """
        candidates: dict[str, None] = {}
        for page in pages:
            urls = [link.url for link in page.links] + [item.url for item in page.ticker]
            for url in urls:
                if not is_followable(url):
                    continue
                if (urlsplit(url).hostname or "").lower() not in self.allowed_hosts:
                    continue
                key = canonical_url(url)
                if key not in self._claimed:
                    candidates[key] = None
        known = self.store.known_article_urls(candidates)
        fresh = [url for url in candidates if url not in known]
        self._claimed.update(candidates)
        return fresh


async def run_sources(
    config: Config,
    sources: Sequence[Source],
    *,
    store: Store,
    fetcher: Fetcher,
    profiles: dict[str, Profile],
    matcher: Matcher,
    progress: ProgressCallback | None = None,
) -> list[SourceReport]:
    """Run the sources concurrently (the fetcher keeps each host's pace)."""
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
    return list(await asyncio.gather(*(run.run() for run in runs)))


def source_profiles(config: Config, sources: Sequence[Source]) -> dict[str, Profile]:
    """Load each source's profile; a bad one is a configuration error naming the source."""
    profiles: dict[str, Profile] = {}
    for source in sources:
        index = config.sources.index(source)
        reference: str | Path = source.profile
        if source.profile.endswith(".toml") and config.path is not None:
            reference = config.path.parent / source.profile
        try:
            profiles[source.name] = load_profile(reference)
        except ConfigError as exc:
            if exc.path is not None and exc.path.suffix == ".toml" and exc.path.exists():
                raise
            raise ConfigError(config.path, f"sources[{index}].profile", exc.message) from None
    return profiles


def config_rules(config: Config) -> RuleSet:
    """The configuration's rules file, or the bundled default rules."""
    return load_rules(config.rules_path or default_rules_path())
