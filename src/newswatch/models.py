"""The plain data that flows between fetcher, parsers, deduplicator and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Article:
    """The main story of an article page."""

    url: str
    title: str
    published: date | None = None
    location: str | None = None
    source_line: str | None = None
    body: str = ""
    """Plain text; paragraphs separated by one blank line."""
    language: str | None = None


@dataclass(frozen=True)
class TickerItem:
    """One line of the regional ticker that surrounds an article: a teaser for another story."""

    url: str
    """Absolute URL of the article the item links to."""
    text: str
    region: str | None = None
    published: date | None = None


@dataclass(frozen=True)
class Link:
    """A link to an article discovered on a listing page, with what the listing says of it."""

    url: str
    title: str | None = None
    summary: str | None = None
    region: str | None = None
    published: date | None = None


@dataclass(frozen=True)
class PageHints:
    """What is known of a page before it is read: what the listing, ticker or feed that
    linked to it said (the best fallback for a headline, date or region the page lacks), and
    the <title>s of the site's other pages (to tell the site's name and generic title)."""

    link: Link | None = None
    site_titles: tuple[str, ...] = ()


@dataclass
class Page:
    """What a parser makes of one fetched page.

    A listing page has no article; an article page usually has one plus ticker items.
    Warnings say which expected parts were missing or malformed, so a layout change
    shows up as a parser problem rather than as silence.
    """

    url: str
    article: Article | None = None
    ticker: list[TickerItem] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    title_tag: str | None = None
    """The page's <title> as written, for telling the site's name on its other pages."""
