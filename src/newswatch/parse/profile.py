"""Site profiles: everything specific to one site, read from a TOML file and checked up front.

A profile is data (CSS selectors, regular expressions, date formats); the engine in
`newswatch.parse.engine` applies any profile the same way. Loading compiles every selector
and pattern, so a mistake is reported once, with file and key, instead of on every page.
The bundled profiles in `profiles/*.toml` document the format.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from cssselect import HTMLTranslator, SelectorError
from cssselect.parser import SelectorSyntaxError
from lxml import etree

from newswatch.errors import ConfigError

PROFILE_SUFFIX = ".toml"

TOP_KEYS = (
    "name",
    "description",
    "language",
    "site",
    "dates",
    "links",
    "article",
    "listing",
    "ticker",
)
LINKS_KEYS = ("article", "same_host", "hosts")
ARTICLE_KEYS = ("title", "dateline", "body")
BODY_KEYS = ("selectors", "remove", "drop", "max_link_density")
LISTING_KEYS = ("items", "link", "title", "summary", "meta")
TEXT_FIELD_KEYS = ("selectors", "strip")
PATTERN_FIELD_KEYS = ("selectors", "pattern")

DATELINE_GROUPS = frozenset({"source", "date", "location"})
META_GROUPS = frozenset({"region", "date"})
TICKER_GROUPS = frozenset({"region", "date", "text"})


@dataclass(frozen=True)
class Selector:
    """A CSS selector as the profile wrote it, compiled to XPath for lxml.

    Like the DOM's querySelectorAll, it is matched against the whole document: in "td.main
    h1" the td may lie outside the part of the page being searched. cssselect compiles it
    (and says where a mistake is).
    """

    pattern: str
    xpath: etree.XPath
    """Every match in a document, in document order (evaluate it on the ElementTree)."""


_CSS_TO_XPATH = HTMLTranslator()


def compile_selector(text: str) -> Selector:
    """Raises ValueError, naming the selector and the problem."""
    try:
        xpath = _CSS_TO_XPATH.css_to_xpath(text, prefix="descendant::")
    except SelectorSyntaxError as exc:
        raise ValueError(f"bad CSS selector {text!r}: {exc}") from None
    except SelectorError as exc:
        raise ValueError(f"unsupported CSS selector {text!r}: {exc}") from None
    return Selector(text, etree.XPath(xpath))


@dataclass(frozen=True)
class FieldRule:
    """Where one value is found: selectors tried in order, then `pattern` on the text around."""

    selectors: tuple[Selector, ...] = ()
    pattern: re.Pattern[str] | None = None
    """Named groups give the values; an element only counts if the pattern matches its text."""
    strip: re.Pattern[str] | None = None
    """Removed from the found text (e.g. the site name that <title> appends)."""


@dataclass(frozen=True)
class BodyRule:
    """How the article body is cut out of the page and cleaned."""

    selectors: tuple[Selector, ...]
    remove: Selector | None = None
    """Elements inside the body container that are not article text (ads, share boxes);
    the profile's list compiled as one selector group, so one walk finds them all."""
    drop: tuple[re.Pattern[str], ...] = ()
    """Lines of text that are never article text (e.g. 'Advertisement')."""
    max_link_density: float = 0.5
    """Paragraphs whose text is mostly link text are menus or link lists, not prose."""


@dataclass(frozen=True)
class LinkRules:
    """Which hrefs point at articles of this site."""

    article: tuple[re.Pattern[str], ...]
    """Searched in the path and query of the absolute URL (e.g. `mainnews\\.asp\\?id=\\d+`)."""
    same_host: bool = True
    hosts: frozenset[str] = frozenset()
    """Further host names that count as this site (besides the page's own and `site`'s)."""


@dataclass(frozen=True)
class ArticleRules:
    title: FieldRule
    body: BodyRule
    dateline: FieldRule | None = None


@dataclass(frozen=True)
class ListingRules:
    items: tuple[Selector, ...]
    link: tuple[Selector, ...] = ()
    title: FieldRule | None = None
    summary: FieldRule | None = None
    meta: FieldRule | None = None


@dataclass(frozen=True)
class TickerRules:
    pattern: re.Pattern[str]
    """A ticker line, e.g. `Region >>  M/D/YYYY - text`; groups region, date and text."""


@dataclass(frozen=True)
class Profile:
    """A site profile, compiled and checked."""

    name: str
    path: str
    """Where the profile was read from, for messages."""
    links: LinkRules
    article: ArticleRules
    listing: ListingRules | None = None
    ticker: TickerRules | None = None
    date_formats: tuple[str, ...] = ()
    description: str = ""
    language: str | None = None
    site: str | None = None
    """Home URL; the base for relative links when the page's own URL is not http(s)."""
    version: str = ""
    """A digest of the profile file's text: a page read with another version of the profile
    is read again rather than answered 304 (see parse.reader_version)."""


def describe_selectors(selectors: Iterable[Selector]) -> str:
    """Selectors as the profile wrote them, for messages."""
    return ", ".join(selector.pattern for selector in selectors)


def _bundled_dir() -> Path:
    return Path(str(resources.files("newswatch.parse").joinpath("profiles")))


def available_profiles() -> list[str]:
    """Names of the profiles shipped with newswatch."""
    return sorted(path.stem for path in _bundled_dir().glob(f"*{PROFILE_SUFFIX}"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A bundled profile by name, or a profile file by path (a Path, or a str ending in .toml
    or containing a slash)."""
    if isinstance(name_or_path, Path) or _looks_like_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(path, None, "no such profile file")
        return _load_file(path)
    if name_or_path not in available_profiles():
        known = ", ".join(available_profiles())
        raise ConfigError(
            None,
            "profile",
            f"unknown profile {name_or_path!r} (available: {known}; or give a .toml file)",
        )
    return _load_file(_bundled_dir() / f"{name_or_path}{PROFILE_SUFFIX}")


def _looks_like_path(text: str) -> bool:
    return text.endswith(PROFILE_SUFFIX) or "/" in text or "\\" in text


def _load_file(path: Path) -> Profile:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"not valid TOML: {exc}") from None
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return _build_profile(_Table(data, path, "", TOP_KEYS), path, version)


_T = TypeVar("_T")


class _Table:
    """One TOML table being read: typed getters that name file and key in every error.
    Unknown keys are refused first, so a typo is reported as such, not as a missing key."""

    def __init__(
        self, data: dict[str, object], path: Path, prefix: str, keys: tuple[str, ...]
    ) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        unknown = sorted(set(data) - set(keys))
        if unknown:
            raise self.error(unknown[0], f"unknown key (expected one of: {', '.join(keys)})")

    def key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, self.key(key), message)

    def get(self, key: str, convert: Callable[[object], _T]) -> _T | None:
        """The converted value, or None when absent; `convert` raises ValueError to reject."""
        value = self.data.get(key)
        if value is None:
            return None
        try:
            return convert(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def require(self, key: str, convert: Callable[[object], _T]) -> _T:
        value = self.get(key, convert)
        if value is None:
            raise self.error(key, "missing")
        return value

    def table(self, key: str, keys: tuple[str, ...]) -> _Table | None:
        value = self.get(key, _as_table)
        return None if value is None else _Table(value, self.path, self.key(key), keys)


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    return "table" if isinstance(value, dict) else names.get(type(value), type(value).__name__)


def _as_table(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table, got {_type_name(value)}")
    return value


def _as_string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type_name(value)}")
    return value


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_type_name(value)}")
    return value


def _as_fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def _as_strings(value: object) -> tuple[str, ...]:
    """A string or an array of strings (one selector may be written without brackets)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(str(item) for item in value)
    raise ValueError(f"expected a string or an array of strings, got {_type_name(value)}")


def _as_selectors(value: object) -> tuple[Selector, ...]:
    return tuple(compile_selector(text) for text in _as_strings(value))


def _as_selector_group(value: object) -> Selector | None:
    selectors = _as_selectors(value)
    return compile_selector(", ".join(s.pattern for s in selectors)) if selectors else None


def _as_patterns(value: object) -> tuple[re.Pattern[str], ...]:
    return tuple(_compile(text) for text in _as_strings(value))


def _compile(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {text!r}: {exc}") from None


def _pattern_with_groups(
    allowed: frozenset[str], required: frozenset[str] = frozenset()
) -> Callable[[object], re.Pattern[str]]:
    def convert(value: object) -> re.Pattern[str]:
        pattern = _compile(_as_string(value))
        groups = set(pattern.groupindex)
        unknown = sorted(groups - allowed)
        if unknown:
            names = ", ".join(sorted(allowed))
            raise ValueError(f"unknown named group {unknown[0]!r} (allowed: {names})")
        if not groups or required - groups:
            needed = ", ".join(sorted(required or allowed))
            raise ValueError(f"the pattern needs named groups (?P<name>...) among: {needed}")
        return pattern

    return convert


def _as_date_formats(value: object) -> tuple[str, ...]:
    sample = date(2025, 3, 27)
    formats = _as_strings(value)
    for text in formats:
        try:
            read_back = datetime.strptime(sample.strftime(text), text).date()
        except ValueError as exc:
            raise ValueError(f"bad date format {text!r}: {exc}") from None
        if read_back != sample:
            raise ValueError(f"date format {text!r} does not give day, month and year")
    return formats


def _as_site(value: object) -> str:
    text = _as_string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL, got {text!r}")
    return text


def _field(
    parent: _Table, key: str, *, pattern_groups: frozenset[str] | None = None
) -> FieldRule | None:
    """A field is a selector list (shorthand) or a table; `pattern` only where groups apply,
    `strip` elsewhere."""
    if not isinstance(parent.data.get(key), dict):
        selectors = parent.get(key, _as_selectors)
        return None if selectors is None else FieldRule(selectors=selectors)
    if pattern_groups:
        table = parent.table(key, PATTERN_FIELD_KEYS)
        assert table is not None
        rule = FieldRule(
            selectors=table.get("selectors", _as_selectors) or (),
            pattern=table.get("pattern", _pattern_with_groups(pattern_groups)),
        )
    else:
        table = parent.table(key, TEXT_FIELD_KEYS)
        assert table is not None
        rule = FieldRule(
            selectors=table.get("selectors", _as_selectors) or (),
            strip=table.get("strip", lambda value: _compile(_as_string(value))),
        )
    if not rule.selectors and rule.pattern is None:
        wanted = "selectors, or a pattern" if pattern_groups else "selectors"
        raise table.error("selectors", f"missing (give {wanted})")
    return rule


def _body(parent: _Table) -> BodyRule:
    if not isinstance(parent.data.get("body"), dict):
        return BodyRule(selectors=parent.require("body", _as_selectors))
    table = parent.table("body", BODY_KEYS)
    assert table is not None
    density = table.get("max_link_density", _as_fraction)
    return BodyRule(
        selectors=table.require("selectors", _as_selectors),
        remove=table.get("remove", _as_selector_group),
        drop=table.get("drop", _as_patterns) or (),
        max_link_density=0.5 if density is None else density,
    )


def _build_profile(top: _Table, path: Path, version: str) -> Profile:
    links_table = top.table("links", LINKS_KEYS)
    if links_table is None:
        raise top.error("links", "missing (needs at least `article`, the article link patterns)")
    links = LinkRules(
        article=links_table.require("article", _as_patterns),
        same_host=links_table.get("same_host", _as_bool) is not False,
        hosts=frozenset(host.lower() for host in links_table.get("hosts", _as_strings) or ()),
    )

    article_table = top.table("article", ARTICLE_KEYS)
    if article_table is None:
        raise top.error("article", "missing (needs `title` and `body`)")
    title = _field(article_table, "title")
    if title is None:
        raise article_table.error("title", "missing")
    article = ArticleRules(
        title=title,
        dateline=_field(article_table, "dateline", pattern_groups=DATELINE_GROUPS),
        body=_body(article_table),
    )

    listing: ListingRules | None = None
    listing_table = top.table("listing", LISTING_KEYS)
    if listing_table is not None:
        listing = ListingRules(
            items=listing_table.require("items", _as_selectors),
            link=listing_table.get("link", _as_selectors) or (),
            title=_field(listing_table, "title"),
            summary=_field(listing_table, "summary"),
            meta=_field(listing_table, "meta", pattern_groups=META_GROUPS),
        )

    ticker: TickerRules | None = None
    ticker_table = top.table("ticker", ("pattern",))
    if ticker_table is not None:
        pattern = _pattern_with_groups(TICKER_GROUPS, frozenset({"text"}))
        ticker = TickerRules(pattern=ticker_table.require("pattern", pattern))

    dates_table = top.table("dates", ("formats",))
    date_formats = dates_table.get("formats", _as_date_formats) if dates_table else None
    profile = Profile(
        name=top.get("name", _as_string) or path.stem,
        path=str(path),
        description=top.get("description", _as_string) or "",
        language=top.get("language", _as_string),
        site=top.get("site", _as_site),
        links=links,
        article=article,
        listing=listing,
        ticker=ticker,
        date_formats=date_formats or (),
        version=version,
    )
    if not profile.date_formats:
        for key, rule in (
            ("article.dateline.pattern", profile.article.dateline),
            ("listing.meta.pattern", listing.meta if listing else None),
        ):
            if rule is not None and rule.pattern is not None and "date" in rule.pattern.groupindex:
                raise ConfigError(path, "dates.formats", f"missing: needed to read {key}'s date")
        if ticker is not None and "date" in ticker.pattern.groupindex:
            raise ConfigError(
                path, "dates.formats", "missing: needed to read ticker.pattern's date"
            )
    return profile
