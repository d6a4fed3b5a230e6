"""The `newswatch` command: a thin layer that loads config, calls the library, prints.

Only this module prints. Every NewswatchError becomes one line on stderr and an
exit code (2 for configuration and usage problems, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO, TypeVar, cast
from urllib.parse import urlsplit

import click

from newswatch import __version__
from newswatch.errors import ConfigError, NewswatchError, QueryError
from newswatch.export import FORMATS, ExportFormat, write_rows

if TYPE_CHECKING:
    import signal

    from rich.console import Console

    from newswatch.config import Config, Source
    from newswatch.evaluation import RuleScore
    from newswatch.models import Page
    from newswatch.parse import Profile
    from newswatch.pipeline import Progress as PageProgress
    from newswatch.pipeline import SourceReport
    from newswatch.rules import RuleSet
    from newswatch.store import ExportKind, Store, StoryOrder

# Each command imports what it uses when it runs: `newswatch --version` and `--help` load
# nothing but click, and `status` does not pay for the fetcher, the parsers or apprise.
F = TypeVar("F", bound=Callable[..., Any])

EXIT_SOURCE_FAILED = 1
EXIT_USAGE = 2


class _LazyConsole:
    """A rich Console made on first use: importing rich costs what `--version` may not."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            class _Console(Console):
                def on_broken_pipe(self) -> None:
                    """As any write to a closed pipe (rich would exit 1): see _Group.invoke."""
                    raise BrokenPipeError

            self._console = _Console(**self._options)
        return getattr(self._console, name)


# Text from pages and users is printed as it is: markup and :emoji: codes only where a
# call asks for markup=True (and escapes what it interpolates).
out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True, markup=False, emoji=False))
err = cast(
    "Console",
    _LazyConsole(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False),
)


def escape(text: str) -> str:
    """rich's markup escaping, imported when first needed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


@dataclasses.dataclass
class App:
    """What the global options say; config and database are opened only when needed."""

    config_path: Path | None = None
    db_path: Path | None = None
    verbose: int = 0
    _config: Config | None = None
    _rules_checked: bool = False

    @property
    def config(self) -> Config:
        if self._config is None:
            from newswatch.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def database(self) -> Path:
        return self.db_path or self.config.settings.database

    @contextmanager
    def store(self, *, must_exist: bool = False) -> Iterator[Store]:
        path = self.database()
        if must_exist and not path.exists():
            raise NewswatchError(
                f"{path}: no database yet; run `newswatch fetch` first (or pass --db PATH)"
            )
        from newswatch.store import Store

        with Store(path) as store:
            yield store

    def rules(self) -> RuleSet:
        from newswatch.pipeline import config_rules

        ruleset = config_rules(self.config)
        if not self._rules_checked:  # once per command, however often the rules are read
            self._rules_checked = True
            for warning in ruleset.warnings:
                err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True, highlight=False)
        return ruleset


def _global_options(func: F) -> F:
    """--config, --db and -v, accepted before the command and after it."""

    def remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
        def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
            if value is not None:
                setattr(ctx.ensure_object(App), attribute, value)
            return value

        return callback

    def louder(ctx: click.Context, _param: click.Parameter, count: int) -> None:
        if count:
            app = ctx.ensure_object(App)
            app.verbose += count
            _log_level(app.verbose)

    func = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=louder,
        help="More log output on stderr (-vv for debug).",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=remember("db_path"),
        help="SQLite database (default: [settings] database).",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=remember("config_path"),
        help="Configuration file (default: the one shipped with newswatch).",
    )(func)
    return func


class _Group(click.Group):
    """Turns newswatch's own errors into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, QueryError) as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
            ctx.exit(EXIT_USAGE)
        except NewswatchError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
            ctx.exit(EXIT_SOURCE_FAILED)
        except BrokenPipeError:
            # `newswatch export ... | head`: the reader has what it wanted, a normal end for a
            # Unix tool. What is still buffered for stdout goes nowhere, quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)


@click.group(cls=_Group)
@_global_options
@click.version_option(__version__, prog_name="newswatch")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Watch energy-industry news; store every story once; flag what your rules select."""
    app = ctx.ensure_object(App)
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    _log_level(app.verbose)


def _log_level(verbose: int) -> None:
    """-v: INFO, -vv: DEBUG; set again when -v is also given after the command."""
    logging.getLogger().setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))
    # newswatch reports failed sends itself, naming the channel
    logging.getLogger("apprise").setLevel(logging.ERROR if verbose < 2 else logging.NOTSET)


pass_app = click.make_pass_decorator(App, ensure=True)


# --- fetching -------------------------------------------------------------------------


@dataclasses.dataclass
class FetchOutcome:
    reports: list[SourceReport]
    interrupted_by: signal.Signals | None = None
    """SIGINT or SIGTERM cut the runs short; what they stored is kept and reported."""


def _run_fetch(app: App, sources: Sequence[Source]) -> FetchOutcome:
    import asyncio
    import signal

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from newswatch.fetch import Fetcher, FetchPolicy
    from newswatch.pipeline import run_sources, source_profiles
    from newswatch.publish import prepare, publish

    config = app.config
    profiles = source_profiles(config, sources)
    rules = app.rules()
    show_progress = err.is_terminal
    outcome = FetchOutcome(reports=[])
    with app.store() as store:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[url]}", style="dim", markup=False),
            console=err,
            transient=True,
            disable=not show_progress,
        )
        tasks = {s.name: progress.add_task(s.name, total=1, url="") for s in sources}

        def on_page(event: PageProgress) -> None:
            progress.update(
                tasks[event.source], completed=event.done, total=event.total, url=event.url[-60:]
            )

        async def fetch_all() -> list[SourceReport]:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def interrupt(signum: signal.Signals) -> None:
                outcome.interrupted_by = signum
                stop.set()

            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, interrupt, signum)
            async with Fetcher(FetchPolicy.from_settings(config.settings)) as fetcher:
                return await run_sources(
                    config,
                    sources,
                    store=store,
                    fetcher=fetcher,
                    profiles=profiles,
                    matcher=rules.match,
                    progress=on_page,
                    stop=stop,
                )

        prepare(store, config)
        with progress:
            outcome.reports = asyncio.run(fetch_all())
        delivery = publish(store, config)
    for failure in delivery.failures:
        err.print(f"[yellow]not published:[/] {escape(failure)}", markup=True)
    if delivery.messages_sent:
        sent = _count(delivery.messages_sent, "message")
        err.print(f"alerts: {sent} sent, {_count(delivery.flags_sent, 'story', 'stories')}")
    return outcome


def _print_reports(reports: Sequence[SourceReport], *, verbose: bool) -> None:
    """A table of figures per source, then what went wrong, one line each, on stderr."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="newswatch fetch", title_justify="left")
    table.add_column("source", overflow="fold")  # whole, since --source needs the name
    for column in ("pages", "new", "ticker", "dups", "flags", "errors"):
        table.add_column(column, justify="right")
    table.add_column("result")
    for r in reports:
        counts = (r.pages_fetched, r.new_articles, r.new_ticker_items, r.duplicates, r.flags)
        result = Text("ok", style="green") if r.ok else Text("FAILED", style="red")
        table.add_row(r.source, *map(str, counts), str(len(r.errors)), result)
    out.print(table)
    for r in reports:
        if r.failure:
            err.print(
                f"[red]{r.source}: failed:[/] {escape(r.failure)}", markup=True, highlight=False
            )
        shown = r.errors if verbose else r.errors[:5]
        for problem in shown:
            if problem != r.failure:
                err.print(f"[yellow]{r.source}:[/] {escape(problem)}", markup=True, highlight=False)
        if len(r.errors) > len(shown):
            err.print(f"{r.source}: … {len(r.errors) - len(shown)} more (use -v)", style="yellow")
        if r.from_entries:
            err.print(
                f"{r.source}: {_stories(r.from_entries)} stored from what the feed or"
                " listing said, as their pages could not be read (read again on later runs)",
                highlight=False,
            )
        if r.upgraded:
            err.print(
                f"{r.source}: {_stories(r.upgraded)} stored earlier from a feed or"
                " listing now hold their page's text",
                highlight=False,
            )
        if verbose:
            for warning in r.warnings:
                err.print(f"[dim]{r.source}: warning: {escape(warning)}[/]", markup=True)


@cli.command()
@_global_options
@click.option(
    "--source", "source_names", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@pass_app
@click.pass_context
def fetch(ctx: click.Context, app: App, source_names: tuple[str, ...]) -> None:
    """Fetch every source (or the named ones) once, store and flag, then exit.

    Exit status: 0 all sources fetched, 1 at least one failed (the others were
    still fetched and stored), 2 usage or configuration error.
    """
    config = app.config
    chosen = dict.fromkeys(source_names)  # a name given twice runs once
    sources = [config.source(name) for name in chosen] if chosen else config.sources
    if not sources:
        raise ConfigError(config.path, "sources", "no sources configured")
    _ask_for_contact(config, sources)
    outcome = _run_fetch(app, list(sources))
    _print_reports(outcome.reports, verbose=app.verbose > 0)
    if outcome.interrupted_by is not None:
        name = outcome.interrupted_by.name
        err.print(f"interrupted by {name}: what was fetched until then is stored")
        ctx.exit(128 + outcome.interrupted_by.value)
    if not all(r.ok for r in outcome.reports):
        ctx.exit(EXIT_SOURCE_FAILED)


@cli.command()
@_global_options
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="One log line per source run on stderr, as text or JSON.",
)
@pass_app
@click.pass_context
def run(ctx: click.Context, app: App, log_format: str) -> None:
    """Run as a daemon: every source on its own schedule until SIGTERM or SIGINT.

    SIGHUP re-reads the configuration. The write in progress always finishes.
    """
    if not app.config.sources:  # a bad configuration fails here, with exit status 2
        raise ConfigError(app.config.path, "sources", "no sources configured")
    _ask_for_contact(app.config, app.config.sources)
    from newswatch.config import load_config
    from newswatch.scheduler import run_daemon  # APScheduler is loaded only for the daemon

    config_path, db_path = app.config_path, app.db_path
    ctx.exit(run_daemon(lambda: load_config(config_path), database=db_path, log_format=log_format))


def _ask_for_contact(config: Config, sources: Sequence[Source]) -> None:
    """Until `contact` is set, every site is told to ask newswatch's project, not the user,
    about the requests: say so at each fetch and daemon start (the demo fetches only its
    own sample site, on this machine, and is not asked)."""
    from newswatch.config import contact_missing, default_config_path

    if not contact_missing(config, sources):
        return
    if config.path is None or config.path == default_config_path():
        where = f"a copy of {default_config_path()} (then use it with --config)"
    else:
        where = str(config.path)
    err.print(
        "[yellow]warning:[/] \\[settings] contact is not set, so the sites you read are told to"
        " ask newswatch's project page about your requests. Set your e-mail or web page in"
        f' {escape(where)}: contact = "mailto:you@example.com"',
        markup=True,
        highlight=False,
    )


# --- parse ----------------------------------------------------------------------------


class _ProfileOption(click.Option):
    """--profile, whose help lists the bundled profiles: found when help is shown, since
    finding them loads the parsers."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from newswatch.parse import profile_names

        self.help = f"Profile: a bundled name ({', '.join(profile_names())}) or a .toml file."
        return super().get_help_record(ctx)


def _to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _read_page(app: App, target: str) -> tuple[str, str]:
    """The HTML and the URL of a page given as a file path or an http(s) URL."""
    import asyncio

    from newswatch.config import check_http_url
    from newswatch.fetch import FEED_TYPES, Fetcher, FetchPolicy, decode_html

    if target.lower().startswith(("http://", "https://")):
        try:
            check_http_url(target)
        except ValueError as exc:
            raise NewswatchError(str(exc)) from None

        async def get() -> tuple[str, str]:
            settings = app.config.settings
            async with Fetcher(FetchPolicy.from_settings(settings)) as fetcher:
                result = await fetcher.get(target, accept=FEED_TYPES)
            if not result.ok:
                raise NewswatchError(f"{target}: {result.error or result.status}")
            return result.text(), result.final_url

        return asyncio.run(get())
    if "://" in target:
        raise NewswatchError(f"{target}: only http:// and https:// URLs, or files, can be parsed")
    path = Path(target)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise NewswatchError(f"{target}: cannot read: {exc.strerror or exc}") from None
    return decode_html(content), path.resolve().as_uri()


def _print_page(page: Page) -> None:
    from rich.table import Table
    from rich.text import Text

    article = page.article
    if article is not None:
        out.print(article.title, style="bold")
        facts = [
            ("published", article.published.isoformat() if article.published else "?"),
            ("location", article.location or "?"),
            ("source", article.source_line or "?"),
            ("url", article.url),
        ]
        for name, value in facts:
            out.print(f"[dim]{name}:[/] {escape(value)}", markup=True)
        out.print()
        out.print(article.body, markup=False)
        out.print()
    else:
        out.print("(no article on this page)", style="dim")
    if page.ticker:
        table = Table(title=f"ticker items ({len(page.ticker)})", title_justify="left")
        for column in ("region", "date", "text", "url"):
            table.add_column(column, overflow="fold")
        for item in page.ticker:
            day = item.published.isoformat() if item.published else "?"
            table.add_row(*map(Text, (item.region or "?", day, item.text, item.url)))
        out.print(table)
    if page.links:
        table = Table(title=f"article links ({len(page.links)})", title_justify="left")
        for column in ("title", "region", "date", "url"):
            table.add_column(column, overflow="fold")
        for link in page.links:
            day = link.published.isoformat() if link.published else ""
            table.add_row(*map(Text, (link.title or "", link.region or "", day, link.url)))
        out.print(table)
    for warning in page.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True, highlight=False)


@cli.command()
@_global_options
@click.argument("target", metavar="FILE_OR_URL")
@click.option("--url", help="The page's address, to resolve relative links in a saved FILE.")
@click.option(
    "--profile",
    "profile_ref",
    cls=_ProfileOption,
    metavar="NAME|FILE",
    help="Profile: a bundled name or a .toml file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the parsed page as JSON.")
@pass_app
def parse(app: App, target: str, url: str | None, profile_ref: str | None, as_json: bool) -> None:
    """Show what the parser makes of one page (a saved file or a URL)."""
    from newswatch.parse import load_profile, parse_page

    if url is not None and not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"expected an http(s) URL, got {url!r}", param_hint="--url")
    html, page_url = _read_page(app, target)
    if profile_ref:
        profile, why = load_profile(profile_ref), "--profile"
    else:
        profile, why = _profile_for(app, html, url or page_url)
    err.print(f"profile: {profile.name} ({why})", style="dim")
    page = parse_page(html, url or page_url, profile)
    if as_json:
        click.echo(json.dumps(_to_jsonable(page), ensure_ascii=False, indent=2))
    else:
        _print_page(page)


def _profile_for(app: App, html: str, url: str) -> tuple[Profile, str]:
    """The profile a page most likely wants when --profile is not given, and why.

    A page with an address (a URL, or a file with --url): the profile of a configured source
    on its host, else of a bundled site profile that claims the host, else the generic one.
    A saved file without --url has no host: the first site profile (configured sources',
    then bundled) that finds anything on it, else the generic one; never just the first
    source's, which may belong to another site altogether.
    """
    from newswatch.parse import SiteProfile, available_profiles, load_profile, parse_page
    from newswatch.parse.generic import GENERIC
    from newswatch.pipeline import source_profiles

    host = (urlsplit(url).hostname or "").lower()
    config = app.config
    configured = [s for s in config.sources if not host or s.host == host]
    profiles = source_profiles(config, configured)
    site_profiles = [p for p in profiles.values() if isinstance(p, SiteProfile)] + [
        p for p in map(load_profile, available_profiles()) if isinstance(p, SiteProfile)
    ]
    if host:
        if configured:
            source = configured[0]
            return profiles[source.name], f"source {source.name!r} is on {host}"
        for profile in site_profiles:
            if host in profile.links.hosts:
                return profile, f"a site profile for {host}"
        return load_profile(GENERIC), f"no source or site profile for {host}"
    for profile in site_profiles:
        if _items_found(parse_page(html, url, profile)):
            return profile, "a saved file without --url: the first site profile that finds a story"
    return load_profile(GENERIC), "a saved file without --url, and no site profile finds a story"


def _items_found(page: Page) -> bool:
    return page.article is not None or bool(page.links or page.ticker)


# --- rules ----------------------------------------------------------------------------


@cli.group()
def rules() -> None:
    """Try keyword rules on text or on labeled examples, or re-apply them to what is stored."""


@rules.command("apply")
@_global_options
@pass_app
def rules_apply(app: App) -> None:
    """Re-evaluate every stored article and ticker item after the rules changed."""
    ruleset = app.rules()
    with app.store(must_exist=True) as store:
        result = store.reapply_rules(ruleset.match)
    out.print(f"flags added: {result.added}, removed: {result.removed}, unchanged: {result.kept}")


@rules.command("test")
@_global_options
@click.argument("texts", metavar="[TEXT]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: an object per non-empty line.")
@pass_app
def rules_test(app: App, texts: tuple[str, ...], as_json: bool) -> None:
    """Say which rules match each TEXT and why; without TEXT, each line read from stdin.

    An item is its text (its title, body and ticker text at once), or a JSON object with
    "title", "lead", "body" and/or "ticker", so that a whole article (paragraphs separated
    by a blank line) can be tried: a rule with prominence then says when its terms were
    mentioned only in passing.
    """
    ruleset = app.rules()
    if not texts and sys.stdin.isatty():
        end = "Ctrl-Z then Enter" if sys.platform == "win32" else "Ctrl-D"
        err.print(f"reading text from stdin, one item a line; end with {end}", style="dim")
    for number, raw in enumerate(texts or sys.stdin, start=1):
        text = raw.strip()
        if not text:
            continue
        fields = _test_fields(text, number)
        if text.startswith("{"):  # shown by its headline, else its first line
            text = next(iter(fields.values())).strip().splitlines()[0]
        matches = ruleset.match(fields)
        explanations = ruleset.explain(fields)
        if as_json:
            record = {
                "text": text,
                "rules": [m.rule for m in matches],
                "matches": {
                    m.rule: {"terms": list(m.terms), "evidence": list(m.evidence)} for m in matches
                },
                "explanations": {name: e.to_dict() for name, e in explanations.items()},
            }
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        if matches:
            for m in matches:
                found = ", ".join(m.evidence or m.terms)
                out.print(f"[green]MATCH[/] {escape(f'{m.rule} ({found}): {text}')}", markup=True)
        else:
            out.print(f"[dim]no match[/]: {escape(text)}", markup=True)
            for name, explanation in explanations.items():
                out.print(f"  [dim]{escape(f'{name}: {explanation.reason}')}[/]", markup=True)


def _test_fields(text: str, number: int) -> dict[str, str]:
    """The fields of one line of `rules test` input: plain text, or a JSON object."""
    if not text.startswith("{"):
        return {"title": text, "body": text, "ticker": text}
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("<stdin>", f"line {number}", f"not JSON: {exc.msg}") from None
    if not isinstance(record, dict):
        raise ConfigError("<stdin>", f"line {number}", "expected a JSON object")

    def fail(key: str | None, message: str) -> ConfigError:
        return ConfigError("<stdin>", f"line {number}: {key}" if key else f"line {number}", message)

    from newswatch.evaluation import item_fields

    return item_fields(record, fail)


@rules.command("evaluate")
@_global_options
@click.argument("labeled", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rules file to score (default: the configuration's).",
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 1),
    metavar="SCORE",
    help="Exit 1 when a rule's precision or recall is below SCORE (e.g. 0.98).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@pass_app
@click.pass_context
def rules_evaluate(
    ctx: click.Context,
    app: App,
    labeled: Path,
    rules_path: Path | None,
    fail_under: float | None,
    as_json: bool,
) -> None:
    """Score the rules on labeled items: precision, recall and F1 per rule, and each false
    alarm and miss with the reason the rule gave.

    LABELED is JSON Lines, one item a line: its text ("title", "lead", "body", "ticker") and
    the verdict expected per rule, e.g. {"title": "...", "body": "...", "expected":
    {"solid-state-battery": true}}. A rule an item does not name is not scored on it.
    """
    from newswatch.evaluation import below, evaluate, read_labeled
    from newswatch.rules import load_rules

    ruleset = load_rules(rules_path) if rules_path else app.rules()
    items = read_labeled(labeled, [rule.name for rule in ruleset.rules])
    scores = evaluate(ruleset, items)
    if as_json:
        report = {"file": str(labeled), "items": len(items), "rules": [s.to_dict() for s in scores]}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_scores(scores, len(items))
    if fail_under is not None and (shortfalls := below(scores, fail_under)):
        err.print(f"below --fail-under {fail_under:g}: {'; '.join(shortfalls)}")
        ctx.exit(EXIT_SOURCE_FAILED)


def _print_scores(scores: Sequence[RuleScore], items: int) -> None:
    for score in scores:
        fired = score.true_positives + score.false_positives
        positives = score.true_positives + score.false_negatives
        out.print(
            f"[bold]{escape(score.rule)}[/]: precision {score.precision:.3f}"
            f" ({score.true_positives}/{fired}), recall {score.recall:.3f}"
            f" ({score.true_positives}/{positives}), F1 {score.f1:.3f}"
            f" on {score.labeled} of {items} items",
            markup=True,
        )
        for heading, verdicts in (("false alarm", score.false_alarms), ("miss", score.misses)):
            for verdict in verdicts:
                out.print(f"  {heading:<12}{verdict.item.label()}", markup=False)
                out.print(f"  {'':<12}[dim]{escape(verdict.reason)}[/]", markup=True)


# --- reading the database -------------------------------------------------------------


def _print_stories(rows: Sequence[dict[str, Any]]) -> None:
    """Flagged stories or search hits as short blocks: readable at any terminal width.

    The URL gets a line of its own and is never wrapped, so it can be copied.
    """
    for row in rows:
        day = row.get("published") or "????-??-??"
        out.print(f"[bold]{day}[/]  {escape(row.get('title') or '(untitled)')}", markup=True)
        facts = [row.get("kind"), row.get("source"), row.get("location") or row.get("region")]
        about = " · ".join(str(f) for f in facts if f)
        if row.get("rule"):
            about += f" · {row['rule']}: {_cell(row.get('matched'))}"
        if about:
            out.print(f"            [dim]{escape(about)}[/]", markup=True)
        if row.get("snippet"):
            out.print(f"            {row['snippet']}", markup=False)
        out.print(f"            {row.get('url')}", markup=False, overflow="ignore", crop=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class _MaxRankedOption(click.Option):
    """--max-ranked, whose default is the store's, read when the option is used."""

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        from newswatch.store import MAX_RANKED_MATCHES

        return MAX_RANKED_MATCHES


def _print_json_rows(rows: Sequence[dict[str, Any]]) -> None:
    click.echo(json.dumps(_to_jsonable(list(rows)), ensure_ascii=False, indent=2))


@cli.command()
@_global_options
@click.option("--rule", help="Only flags of this rule.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only stories published on or after this day (YYYY-MM-DD; for a story without a"
    " publication date, the day newswatch first saw it).",
)
@click.option(
    "--sort",
    type=click.Choice(["published", "flagged"]),
    default="published",
    show_default=True,
    help="Newest publication date first (flag time breaks ties), or newest flag first.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--explain",
    is_flag=True,
    help="Say why each story is flagged, by the rules as they are now (where the terms are;"
    " or that they are mentioned only in passing, when the rules changed since).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def flagged(
    app: App,
    rule: str | None,
    since: Any,
    sort: StoryOrder,
    limit: int,
    explain: bool,
    as_json: bool,
) -> None:
    """List flagged stories, newest publication date first (the day first seen for a story
    without one; flag time breaks ties; --sort flagged: newest flag first), each once, with
    every source that carried it."""
    with app.store(must_exist=True) as store:
        _check_rule(app, store, rule)
        rows = store.flagged_stories(
            rule=rule, since=since.date() if since else None, limit=limit, order=sort
        )
        if explain:
            ruleset = app.rules()
            for row in rows:
                explanations = ruleset.explain(store.flagged_story_fields(row["story"], row["url"]))
                row["explanations"] = {
                    name: explanations[name].reason if name in explanations else "no such rule"
                    for name in row["rules"]
                }
    if as_json:
        _print_json_rows(rows)
    elif rows:
        _print_flagged_stories(rows)
    elif rule or since:
        out.print("no flagged stories match")
    else:
        out.print("no flagged stories yet")


def _check_rule(app: App, store: Store, rule: str | None) -> None:
    """--rule names a rule of the rules file, or one whose flags are stored; a typo would
    otherwise give an empty answer (and an empty feed) that looks like a quiet day."""
    if rule is None:
        return
    names = [r.name for r in app.rules().rules]
    if rule not in names and not store.has_flags(rule):
        raise QueryError(f"--rule: no rule named {rule!r} (rules: {', '.join(names)})")


def _print_flagged_stories(rows: Sequence[dict[str, Any]]) -> None:
    """A story per block: date and title, why it was flagged, then each source that carried
    it, first one first, with when it first did and the URL (never wrapped, to copy)."""
    for row in rows:
        day = row.get("published") or "????-??-??"
        out.print(f"[bold]{day}[/]  {escape(row.get('title') or '(untitled)')}", markup=True)
        count = row["source_count"]
        about = [
            f"{', '.join(row['rules'])}: {_cell(row['matched'])}",
            row.get("region"),
            f"{count} source{'s' if count != 1 else ''}",
        ]
        out.print(f"            [dim]{escape(' · '.join(a for a in about if a))}[/]", markup=True)
        width = max(len(carrier["source"] or "") for carrier in row["sources"])
        for carrier in row["sources"]:
            line = f"{carrier['first_seen']}  {carrier['source'] or '':<{width}}  {carrier['url']}"
            out.print(f"            {line}", markup=False, overflow="ignore", crop=False)
        for name, reason in row.get("explanations", {}).items():
            if reason.startswith("not fired"):
                reason = f"now {reason} (`newswatch rules apply` drops the flag)"
            out.print(f"            why: {name}: {reason}", markup=False)


@cli.command()
@_global_options
@click.argument("query")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many articles.",
)
@click.option(
    "--max-ranked",
    cls=_MaxRankedOption,
    type=click.IntRange(min=1),
    show_default=True,
    help="When more than N articles match, list the most recently stored first instead of"
    " ranking them.",
)
@click.option("--all", "rank_all", is_flag=True, help="Rank however many match (slower).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def search(
    app: App, query: str, limit: int, max_ranked: int, rank_all: bool, as_json: bool
) -> None:
    """Full-text search over stored articles, best match first (SQLite FTS5 syntax allowed).

    Operators (AND, OR, NOT, NEAR) are upper case; hyphenated words are searched as
    phrases. A query that matches very many articles lists the most recently stored of them
    first, and says so; --all ranks them all.
    """
    with app.store(must_exist=True) as store:
        result = store.search(query, limit=limit, max_ranked=None if rank_all else max_ranked)
    if result.latest_stored_above:
        err.print(
            f"{query!r} matches more than {_count(result.latest_stored_above, 'article')}: the"
            " most recently stored first (narrow the query, or use --all to rank them all)"
        )
    if as_json:
        _print_json_rows(result.hits)
    elif not result.hits:
        out.print(f"nothing found for {query!r}")
    else:
        _print_stories(result.hits)


@cli.command()
@_global_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Whether a daemon runs; per source, what is stored and how the last runs went; the
    alert channels' health."""
    from newswatch import daemonlock

    database = app.database()
    with app.store(must_exist=True) as store:
        running = daemonlock.is_held(database)
        rows = store.source_status(daemon_running=running is not False)
        channels = store.alert_status()
    if app.db_path is None:  # the configuration's database: list its sources in its order
        order = {source.name: index for index, source in enumerate(app.config.sources)}
        rows.sort(key=lambda row: order.get(row["name"], len(order)))
    if as_json:
        daemon = {"running": running, "lock": str(daemonlock.lock_path(database))}
        document = {"daemon": daemon, "sources": rows, "alert_channels": channels}
        click.echo(json.dumps(_to_jsonable(document), ensure_ascii=False, indent=2))
        return
    if running:
        out.print("daemon: running (`newswatch run` holds this database)")
    elif running is None:
        lock = daemonlock.lock_path(database)
        out.print(f"daemon: cannot tell ({lock} is not readable by this user)", style="yellow")
    else:
        out.print("daemon: not running (no `newswatch run` on this database)", style="dim")
    if not rows:
        out.print("no sources have run yet")
    for row in rows:
        _print_source_status(row)
    if channels:
        out.print("[bold]alert channels[/]", markup=True)
    for channel in channels:
        _print_channel_status(channel)


def _retention_option(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> float | None:
    """Seconds; infinity for "forever" (nothing is that old); 0 prunes all that may go."""
    from newswatch.config import parse_duration

    if value is None:
        return None
    if value.strip().lower() == "forever":
        return math.inf
    try:
        return parse_duration(value)
    except ValueError as exc:
        message = f'{exc} (or "0s": every record that may go, or "forever": none)'
        raise click.BadParameter(message, param=param) from None


@cli.command()
@_global_options
@click.option(
    "--older-than",
    callback=_retention_option,
    metavar="DURATION",
    help='Prune records older than this, e.g. "30d" ("0s": all that may go; default:'
    " [settings] keep_log).",
)
@pass_app
def prune(app: App, older_than: float | None) -> None:
    """Delete old request and run records (the fetches and runs tables).

    Kept whatever their age: the requests that stored an article, and each source's latest
    successful run and the runs since. Stories, ticker items and flags are never pruned.
    The daemon does this once a day by itself. The file does not shrink: SQLite reuses the
    space for new records (`sqlite3 FILE VACUUM`, with the daemon stopped, gives it back).
    """
    keep = older_than if older_than is not None else app.config.settings.keep_log
    if keep is None or keep == math.inf:
        why = "--older-than forever" if older_than is not None else 'keep_log is "forever"'
        out.print(f"{why}: nothing pruned")
        return
    from newswatch.store import utc_iso

    cutoff = datetime.now(UTC) - timedelta(seconds=keep)
    with app.store(must_exist=True) as store:
        result = store.prune_log(cutoff)
    out.print(
        f"pruned {_count(result.fetches, 'request record')} and"
        f" {_count(result.runs, 'run record')} from before {utc_iso(cutoff)}"
    )


# --- telling people: alerts, feeds, exports ------------------------------------------


@cli.group()
def alerts() -> None:
    """Notifications of new flagged stories ([[alerts]] in the configuration)."""


@alerts.command("test")
@_global_options
@pass_app
@click.pass_context
def alerts_test(ctx: click.Context, app: App) -> None:
    """Send a test message to every URL of every alert target; exit 1 if any failed."""
    if not app.config.alerts:
        raise ConfigError(app.config.path, "alerts", "no [[alerts]] targets configured")
    from newswatch.notify import send_test

    app.rules()  # an alert target naming a rule that does not exist is a configuration error
    outcomes = send_test(app.config.alerts)
    for outcome in outcomes:
        if outcome.error is None:
            out.print(f"[green]sent[/]    {escape(outcome.label)}", markup=True)
        else:
            message = f"[red]failed[/]  {escape(outcome.label)}: {escape(outcome.error)}"
            err.print(message, markup=True)
    if any(outcome.error for outcome in outcomes):
        ctx.exit(EXIT_SOURCE_FAILED)


_OUTPUT = click.Path(dir_okay=False, allow_dash=True, path_type=Path)


@cli.command()
@_global_options
@click.option("--rule", help="Only stories this rule flagged.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Newest flags."
)
@click.option("--title", help='Feed title (default: "newswatch: RULE").')
@click.option("--self-url", metavar="URL", help="Where the feed will be published; also its id.")
@click.option(
    "-o",
    "--output",
    type=_OUTPUT,
    required=True,
    help="File to write, replaced whole ('-': stdout).",
)
@pass_app
def feed(
    app: App, rule: str | None, limit: int, title: str | None, self_url: str | None, output: Path
) -> None:
    """Write an Atom feed of flagged stories, newest first, for any feed reader."""
    from newswatch.feedout import default_feed_id, feed_title, write_atom

    with app.store(must_exist=True) as store:
        _check_rule(app, store, rule)
        rows = store.flagged(rule=rule, limit=limit)
    with _output(output, "wb") as stream:
        count = write_atom(
            rows,
            cast(BinaryIO, stream),
            title=title or feed_title(rule),
            feed_id=self_url or default_feed_id(app.database(), rule),
            self_url=self_url,
        )
    if str(output) != "-":
        out.print(f"{_count(count, 'story', 'stories')} → {output}")


@cli.command("export")
@_global_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option(
    "--what",
    type=click.Choice(["flagged", "articles", "ticker"]),
    default="flagged",
    show_default=True,
    help="Flagged stories, every article, or every ticker item.",
)
@click.option("--rule", help="Only stories this rule flagged.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only stories published on or after this day (YYYY-MM-DD; for one without a"
    " publication date, the day newswatch first saw it).",
)
@click.option("-o", "--output", type=_OUTPUT, default="-", help="File to write (default: stdout).")
@pass_app
def export_rows(
    app: App,
    fmt: ExportFormat,
    what: ExportKind,
    rule: str | None,
    since: datetime | None,
    output: Path,
) -> None:
    """Export stored rows as CSV, JSON Lines or a JSON array, streaming (constant memory)."""
    with app.store(must_exist=True) as store:
        _check_rule(app, store, rule)
        rows = store.iter_rows(
            what, rule=rule, since=since.date() if since else None, decode_json=fmt != "csv"
        )
        with _output(output, "w") as stream:
            columns = store.export_columns(what)
            count = write_rows(rows, cast(TextIO, stream), fmt=fmt, columns=columns)
    if str(output) != "-":
        out.print(f"{_count(count, 'row')} → {output}")


@contextmanager
def _output(output: Path, mode: str) -> Iterator[IO[Any]]:
    """The file to write (replaced whole, only once complete) or stdout for '-'."""
    to_stdout = str(output) == "-"
    try:
        if not to_stdout:
            output.parent.mkdir(parents=True, exist_ok=True)
        encoding = None if "b" in mode else "utf-8"
        with click.open_file(str(output), mode, encoding=encoding, atomic=not to_stdout) as stream:
            yield stream
    except BrokenPipeError:
        raise  # the reader stopped reading (`| head`): see _Group.invoke
    except OSError as exc:
        raise NewswatchError(f"{output}: cannot write: {exc.strerror or exc}") from None


def _count(number: object, noun: str, plural: str | None = None) -> str:
    """'1 flag', '2 flags', '1,204 stories'."""
    amount = number if isinstance(number, int) else 0
    return f"{amount:,} {noun if amount == 1 else plural or noun + 's'}"


def _stories(number: int) -> str:
    return f"{number:,} {'story' if number == 1 else 'stories'}"


_HEALTH_STYLE = {"ok": "green", "failing": "red", "backing off": "yellow"}


def _print_source_status(row: dict[str, Any]) -> None:
    """One source as a short block: health, what is stored, how the last run went."""
    health = str(row.get("health"))
    style = _HEALTH_STYLE.get(health, "magenta")
    out.print(f"[bold]{escape(row['name'])}[/]  [{style}]{escape(health)}[/]", markup=True)
    stored = (
        f"{_count(row['articles'], 'article')} ({_count(row['duplicates'], 'duplicate')}), "
        f"{_count(row['ticker_items'], 'ticker item')}, {_count(row['flags'], 'flag')}"
    )
    lines = [("stored", stored)]
    if row.get("last_run_started_at"):
        result = "ok" if row.get("last_run_ok") else "FAILED"
        if row.get("last_run_not_modified"):
            result += " (unchanged)"
        if row.get("last_run_not_modified"):
            found = "nothing to read"
        else:
            found = _count(row.get("last_run_items_found"), "item") + " found"
            if (usual := row.get("usual_items")) is not None:
                found += f" (usually {usual})"
        figures = ", ".join(
            (
                _count(row.get("last_run_pages_fetched"), "page"),
                found,
                f"{row.get('last_run_new_articles') or 0} new",
                _count(row.get("last_run_flags"), "flag"),
                _count(row.get("last_run_errors"), "error"),
            )
        )
        lines.append(("last run", f"{row['last_run_started_at']} {result}: {figures}"))
    lines.append(("last success", str(row.get("last_success_at") or "never")))
    if row.get("consecutive_failures"):
        lines.append(("failures", f"{row['consecutive_failures']} in a row"))
    if row.get("next_run_at"):
        lines.append(("next run", str(row["next_run_at"])))
    if row.get("last_run_error"):
        lines.append(("error", str(row["last_run_error"])))
    for link in row.get("given_up_links") or ():
        since = f"failing since {link['first_failed_at']}"
        lines.append(("given up", f"{link['url']} ({link['error']}; {since})"))
    for label, text in lines:
        out.print(f"  [dim]{label:<13}[/]{escape(text)}", markup=True)


def _print_channel_status(channel: dict[str, Any]) -> None:
    """One alert channel as a short block, like a source: readable at any width. The last
    error shows only while the channel is failing: once a message went through it is past."""
    health = str(channel["health"])
    style = _HEALTH_STYLE.get(health, "magenta")
    out.print(f"  {escape(channel['channel'])}  [{style}]{escape(health)}[/]", markup=True)
    backlog = f"{_count(channel['owed'], 'flag')} owed, {_count(channel['unsent'], 'message')}"
    lines = [
        ("rule", channel.get("rule") or "(every rule)"),
        ("backlog", f"{backlog} not sent yet"),
        ("last success", str(channel.get("last_success_at") or "never")),
    ]
    if channel["failures"]:
        lines.append(("failures", f"{channel['failures']} in a row"))
        lines.append(("next try", str(channel.get("retry_at") or "at the next run")))
        lines.append(("error", str(channel.get("last_error") or "?")))
    for label, text in lines:
        out.print(f"    [dim]{label:<13}[/]{escape(text)}", markup=True)


# --- demo -----------------------------------------------------------------------------


DEMO_PORT = 48213
"""A fixed port keeps the demo's URLs stable across runs, so a second run stores nothing new."""


def demo_site_root() -> Path:
    return Path(__file__).parent / "demo_site"


@cli.command()
@_global_options
@pass_app
def demo(app: App) -> None:
    """Fetch a sample portal bundled with newswatch, served on 127.0.0.1; no network needed."""
    from newswatch.config import config_from_dict
    from newswatch.rules import default_rules_path
    from newswatch.sampleserver import SampleSite

    database = app.db_path or Path("newswatch-demo.db")
    with SampleSite(demo_site_root(), port=DEMO_PORT) as site:
        base = app.config.path.parent if app.config.path else Path.cwd()
        config = config_from_dict(
            {
                "settings": {
                    "database": str(database.resolve()),
                    "rules": str(app.config.rules_path or default_rules_path()),
                    "per_host_delay": 0,
                    "timeout": "10s",
                },
                "sources": [
                    {
                        "name": "demo-portal",
                        "url": f"{site.base_url}/webpro1/main/newshome.asp",
                        "profile": "gulfoilandgas",
                    }
                ],
            },
            base / "demo.toml",
        )
        demo_app = App(db_path=database, _config=config)
        out.print(f"Serving the sample portal at {site.base_url}/webpro1/main/newshome.asp")
        reports = _run_fetch(demo_app, list(config.sources)).reports
    _print_reports(reports, verbose=False)
    if any(report.errors for report in reports):
        err.print(
            "(the sample portal has one broken ticker link on purpose: that error is expected)"
        )
    with demo_app.store() as store:
        rows = store.flagged_stories(limit=20)
    if rows:
        out.print("\nFlagged stories", style="bold")
        _print_flagged_stories(rows)
    out.print(
        f"\nStored in {database}. Try:\n"
        f"  newswatch --db {database} flagged\n"
        f"  newswatch --db {database} search battery\n"
        f"  sqlite3 {database} 'select title, published from articles'"
    )
    if not all(r.ok for r in reports):
        raise NewswatchError("the demo fetch had a failing source; see above")


def main() -> None:
    cli(prog_name="newswatch")
