"""The feed profile: RSS 0.9x, 1.0 and 2.0 and Atom, read by feedparser.

A feed is a listing whose items say a lot about themselves: every entry becomes a link
(url, title, summary, date), and an entry that carries the whole story (content:encoded,
Atom content, a long summary) is also an article, so it need not be fetched. Pages that are
not feeds (the entries' own pages, when a source follows them) go to the generic profile.

Feeds are XML from strangers. feedparser already switches off external entities and scrubs
entity declarations with regular expressions, but a declaration holding markup slips past
its scrubber, and what then stops a billion-laughs bomb is the amplification limit of the
expat library Python happens to be linked with. So no entity declaration ever reaches an
XML parser here: each one is turned into inert text first, and feedparser reads the feed
leniently. Feed text is handed over as bytes in a stream, never as a str, which feedparser
would take for a file name or URL to open.
"""

from __future__ import annotations

import email.utils
import html.entities
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]

from newswatch.models import Article, Link, Page
from newswatch.parse.generic import (
    GenericProfile,
    absolute_url,
    discover_feeds,
    language_code,
    parse_generic,
    single_spaced,
    source_line,
)
from newswatch.parse.profile import Profile as SiteProfile
from newswatch.parse.text import paragraphs, parse_html

FEED = "feed"

FULL_TEXT_MIN_CHARS = 600
"""An entry with at least this much text is the story itself, not a teaser to follow."""
SUMMARY_MAX_CHARS = 600
"""A link's summary is a teaser: longer summaries are cut to their first paragraph."""


_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.IGNORECASE | re.DOTALL,
)
_ENTRY_TAG = re.compile(r"<(?:[\w-]+:)?(?:item|entry)[\s>]")
_XML_DECLARATION = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_WORDPRESS_FOOTER = re.compile(r"^The post .+ appeared first on .+\.$")


@dataclass(frozen=True)
class FeedProfile:
    """The built-in profile for feed sources."""

    name: str = FEED
    description: str = "RSS and Atom feeds; any other page is read by the generic profile"
    articles: SiteProfile | GenericProfile = field(default_factory=GenericProfile)
    """What reads the pages the entries link to, when a source follows them: the generic
    profile, or a site's (a source's `article_profile`)."""


@dataclass
class ParsedFeed:
    """A feed's page (its entries as links) and the entries complete enough to be articles."""

    page: Page
    articles: list[Article] = field(default_factory=list)
    not_a_feed: str | None = None
    """Set when the text is a web page that is no article (a feed source pointed at a site's
    page): what it is, and the feeds it announces, if any, to use instead."""


def parse_feed(text: str, url: str) -> ParsedFeed:
    """Entries as links and, where they carry the whole story, as articles. Not a feed: the
    generic profile's reading of the page. Malformed XML is read as far as it goes."""
    if _HTML_START.match(text[:4096].lstrip("\ufeff")):
        return _web_page(text, url)
    page = Page(url=url)
    if not text.strip():
        page.warnings.append("page: empty")
        return ParsedFeed(page)
    safe, declarations = _prepared(text)
    if declarations:
        page.warnings.append(f"feed: {declarations} XML entity declarations ignored")
    try:
        parsed = feedparser.parse(
            io.BytesIO(safe.encode("utf-8", "replace")),  # "replace": lone surrogates
            response_headers={"content-type": "application/xml; charset=utf-8"},
        )
    except Exception as exc:  # a third-party parser on arbitrary input: report, never raise
        page.warnings.append(f"feed: unreadable ({type(exc).__name__}: {exc})")
        return ParsedFeed(page)
    if not parsed.get("version") and not parsed.entries:
        start = text.lstrip("\ufeff \t\r\n")
        if start.startswith("<") and not start.startswith("<?xml"):
            return _web_page(text, url)
        json_feed = " (a JSON Feed? only RSS and Atom are read)" if start.startswith("{") else ""
        page.warnings.append(f"feed: not an RSS or Atom feed{json_feed}")
        return ParsedFeed(page)
    feed: dict[str, Any] = parsed.feed
    language = language_code(feed.get("language"))
    site = single_spaced(feed.get("title", "")) or None
    result = ParsedFeed(page)
    unlinked = 0
    for entry in parsed.entries:
        target = _entry_url(entry, url)
        if target is None:
            unlinked += 1
            continue
        summary = _detail_text(entry.get("summary"), entry.get("summary_detail"))
        link = Link(
            url=target,
            title=_title(entry) or None,
            summary=_teaser(summary),
            published=_entry_date(entry),
        )
        page.links.append(link)
        article = _entry_article(entry, link, summary, site, language)
        if article is not None:
            result.articles.append(article)
    if unlinked:
        page.warnings.append(f"feed: {_entries(unlinked)} without a link skipped")
    if parsed.get("bozo"):
        page.warnings.append(_malformed(parsed, text))
    if not parsed.entries:
        page.warnings.append("feed: no entries")
    return result


def _web_page(html: str, url: str) -> ParsedFeed:
    """The generic profile's reading of a page that is no feed; unless it is an article, a
    warning that says so and offers the feeds the page announces (<link rel="alternate">)."""
    page = parse_generic(html, url)
    if page.article is not None:
        return ParsedFeed(page)
    feeds = discover_feeds(html, url)  # a second parse, only for a page that is no feed
    if len(feeds) == 1:
        offer = f"it announces a feed: {feeds[0]} (use it as the source's url)"
    elif feeds:
        offer = f"it announces feeds: {', '.join(feeds)} (use one as the source's url)"
    else:
        offer = 'it announces no feed (use the site\'s feed as url, or profile = "generic")'

    problem = f"not an RSS or Atom feed but a web page; {offer}"
    page.warnings.append(f"feed: {problem} (read as a web page)")
    return ParsedFeed(page, not_a_feed=problem)


def _prepared(text: str) -> tuple[str, int]:
    """The feed as handed to feedparser, and how many entity declarations it had.

    Every entity declaration becomes inert text (see the module's docstring). HTML's named
    entities (&nbsp;, &eacute;), which RSS 0.91 takes from its DTD and many feeds simply
    assume, become character references, so such a feed still parses as XML instead of
    falling back to the lenient reader. The text is declared UTF-8, as it will be encoded.
    """
    safe, count = _ENTITY_DECLARATION.subn("&lt;!ENTITY", text)
    safe = _NAMED_ENTITY.sub(_character_reference, safe)
    return _XML_DECLARATION.sub(r"\1\2utf-8\2", safe, count=1), count


def _character_reference(found: re.Match[str]) -> str:
    name = found[1]
    code = None if name in _XML_ENTITIES else html.entities.name2codepoint.get(name)
    return found[0] if code is None else f"&#{code};"


def _malformed(parsed: Any, text: str) -> str:
    """Say the feed was malformed, and how much of it could still be read."""
    problem = parsed.get("bozo_exception")
    where = ""
    line = getattr(problem, "getLineNumber", None)
    if callable(line):
        where = f" at line {line()}"
    message = getattr(problem, "getMessage", None)
    reason = message() if callable(message) else str(problem or "unknown error")
    announced = len(_ENTRY_TAG.findall(text))
    read = len(parsed.entries)
    count = f"{read} of {_entries(announced)}" if announced > read else _entries(read)
    return f"feed: malformed XML ({reason}{where}); read leniently, {count} found"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _entry_url(entry: Any, feed_url: str) -> str | None:
    for candidate in _link_candidates(entry):
        target = absolute_url(feed_url, candidate)
        if target is not None:
            return target
    return None


def _teaser(summary: str) -> str | None:
    if len(summary) > SUMMARY_MAX_CHARS:
        summary = summary.split("\n\n", 1)[0]
    return summary or None


def _link_candidates(entry: Any) -> list[str]:
    """The entry's page: its link, an alternate link, else a permalink guid or an id URL."""
    candidates = [entry.get("link") or ""]
    candidates += [
        link.get("href") or ""
        for link in entry.get("links", [])
        if link.get("rel", "alternate") == "alternate"
    ]
    guid = entry.get("id") or ""
    if guid.startswith(("http://", "https://")):
        candidates.append(guid)
    return [candidate for candidate in candidates if candidate]


def _entry_article(
    entry: Any, link: Link, summary: str, site: str | None, feed_language: str | None
) -> Article | None:
    """The entry as an article when it carries the whole story (and a title to show)."""
    contents = [
        (_detail_text(content.get("value"), content), content)
        for content in entry.get("content", [])
    ]
    body, detail = max(
        [*contents, (summary, entry.get("summary_detail"))], key=lambda pair: len(pair[0])
    )
    if len(body) < FULL_TEXT_MIN_CHARS or not link.title:
        return None
    language = language_code((detail or {}).get("language")) or feed_language
    return Article(
        url=link.url,
        title=link.title,
        published=link.published,
        source_line=source_line(site, entry.get("author")),
        body=body,
        language=language,
    )


def _title(entry: Any) -> str:
    return _detail_text(entry.get("title"), entry.get("title_detail")).replace("\n\n", " ")


def _detail_text(value: str | None, detail: Any) -> str:
    """Plain text of a feed text construct: HTML becomes paragraphs separated by a blank
    line; plain text keeps its own blank lines."""
    if not value:
        return ""
    kind = (detail or {}).get("type", "text/html")
    if "html" not in kind:
        blocks = re.split(r"\n\s*\n", value)
    else:
        blocks = [" ".join(paragraph.lines) for paragraph in paragraphs([parse_html(value)])]
    kept = [single_spaced(block) for block in blocks]
    return "\n\n".join(block for block in kept if block and not _WORDPRESS_FOOTER.match(block))


def _entry_date(entry: Any) -> date | None:
    """The date as the publisher wrote it (its own time zone), which is the date its site
    shows; feedparser's parsed dates are in UTC, so only a fallback. (Plain dict.get:
    feedparser's own get("updated") answers with the published date, and warns.)"""
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key)
        found = _written_date(raw) if isinstance(raw, str) else None
        if found is not None:
            return found
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            try:
                return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
            except ValueError:
                continue
    return None


def _written_date(raw: str) -> date | None:
    raw = raw.strip()
    try:
        return email.utils.parsedate_to_datetime(raw).date()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        return None
