"""The engine: applies a site profile to one page. Nothing here knows any particular site.

One page is parsed once (BeautifulSoup + lxml) and only the profile's selectors are run on
it. Parts are found in an order that lets later parts exclude earlier ones: ticker lines and
listing items first, then title and dateline, then the body, which skips all of them.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import PageElement, Tag
from soupsieve import SoupSieve

from newswatch.models import Article, Link, Page, TickerItem
from newswatch.parse.profile import (
    BodyRule,
    FieldRule,
    ListingRules,
    Profile,
    TickerRules,
    describe_selectors,
)
from newswatch.parse.text import BLOCK_TAGS, paragraphs, single_line, text_lines

_TAG_LIKE = re.compile(r"<\s*[a-zA-Z!/?]")
_BINARY_SNIFF = 4096


@dataclass(frozen=True)
class _Hit:
    """A value a field rule found: its text, where, and how far down the fallbacks."""

    text: str
    element: Tag | None
    """None when found by the pattern in the surrounding text."""
    rank: int
    """Index of the selector that found it; len(selectors) for the pattern on the text."""
    match: re.Match[str] | None


@dataclass(frozen=True)
class _Body:
    text: str
    rank: int
    """Index of the body selector that found it: above 0 means a fallback container."""


@dataclass(frozen=True)
class _Anchor:
    element: Tag
    url: str


class _Context:
    """One page being parsed: the tree, where relative links point, which hosts are ours."""

    def __init__(self, soup: BeautifulSoup, url: str, profile: Profile) -> None:
        self.soup = soup
        self.profile = profile
        self.base = _base_url(soup, url, profile)
        hosts = {urlsplit(address).hostname for address in (url, self.base, profile.site or "")}
        self.hosts = {host.lower() for host in hosts if host} | profile.links.hosts
        self._page_text: str | None = None

    def page_text(self) -> str:
        if self._page_text is None:
            self._page_text = text_lines([self.soup])
        return self._page_text

    def absolute(self, href: str) -> str | None:
        """The absolute http(s) URL of an href, fragment dropped, query kept as written."""
        href = href.strip()
        if not href or href.startswith("#"):
            return None
        try:
            url = urljoin(self.base, href).split("#", 1)[0]
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # e.g. a malformed IPv6 host
            return None
        return url if parts.scheme in ("http", "https") and host else None

    def is_article_url(self, url: str) -> bool:
        parts = urlsplit(url)
        rules = self.profile.links
        if rules.same_host and (parts.hostname or "").lower() not in self.hosts:
            return False
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        return any(pattern.search(target) for pattern in rules.article)

    def article_anchors(self) -> list[_Anchor]:
        anchors = []
        for element in self.soup.find_all("a", href=True):
            href = element.get("href")
            url = self.absolute(href) if isinstance(href, str) else None
            if url is not None and self.is_article_url(url):
                anchors.append(_Anchor(element, url))
        return anchors


def parse_page(html: str, url: str, profile: Profile) -> Page:
    """What `profile` finds on one page; missing or odd parts become warnings, never errors."""
    page = Page(url=url)
    if not html.strip():
        page.warnings.append("page: empty")
        return page
    if "\x00" in html[:_BINARY_SNIFF] or not _TAG_LIKE.search(html):
        page.warnings.append("page: not HTML (no markup found)")
        return page
    ctx = _Context(_soup(html), url, profile)
    anchors = ctx.article_anchors()
    ticker = _Ticker(ctx, anchors, profile.ticker)
    listing = _Listing(ctx, anchors, profile.listing)

    rules = profile.article
    title, title_rejected = _lookup(ctx.soup, rules.title)
    dateline, dateline_rejected = (
        _lookup(ctx.soup, rules.dateline) if rules.dateline else (None, None)
    )
    taken = ticker.element_ids | listing.item_ids
    taken |= {id(hit.element) for hit in (title, dateline) if hit and hit.element}
    line_filters = [*rules.body.drop, *_patterns(profile.ticker, rules.dateline)]
    body = _body(ctx, rules.body, taken, line_filters, title.text if title else None)

    # A listing page's main column can pass for a body once its items are left out; an
    # article found only by a fallback container on a page with listing items is a listing.
    if title is not None and body is not None and not (listing.links and body.rank > 0):
        article_warnings: list[str] = []
        page.article = _article(
            ctx, url, title, body, dateline, dateline_rejected, article_warnings
        )
        page.warnings += _field_notes("article.title", rules.title, title, title_rejected)
        page.warnings += _rank_notes("article.body", rules.body.selectors, body.rank)
        page.warnings += article_warnings
        if profile.ticker is not None and not ticker.items:
            page.warnings.append("ticker: no line matched ticker.pattern")
    elif listing.links:
        page.warnings += listing.warnings
    else:
        page.warnings += _field_notes("article.title", rules.title, title, title_rejected)
        if body is None:
            page.warnings.append(
                f"article.body: no selector matched ({describe_selectors(rules.body.selectors)})"
            )
        page.warnings += listing.warnings
        page.warnings.append("page: neither an article (needs title and body) nor a listing")
    page.warnings += ticker.warnings
    page.ticker = ticker.items
    page.links = _page_links(anchors, listing.links, ticker.items, url)
    return page


def _soup(html: str) -> BeautifulSoup:
    # bs4's advice about odd input (XML, a lone URL) is noise here: any text may come in.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        try:
            return BeautifulSoup(html, "lxml")
        except UnicodeEncodeError:  # lone surrogates, which lxml cannot take
            return BeautifulSoup(html.encode("utf-8", "replace").decode("utf-8"), "lxml")


def _patterns(ticker: TickerRules | None, dateline: FieldRule | None) -> list[re.Pattern[str]]:
    """Lines these patterns match are ticker or dateline, so never body text."""
    found = [ticker.pattern] if ticker else []
    if dateline is not None and dateline.pattern is not None:
        found.append(dateline.pattern)
    return found


def _article(
    ctx: _Context,
    url: str,
    title: _Hit,
    body: _Body,
    dateline: _Hit | None,
    dateline_rejected: str | None,
    notes: list[str],
) -> Article:
    rule = ctx.profile.article.dateline
    published = location = source = None
    if rule is not None:
        if dateline is None and rule.pattern is not None:
            dateline = _search(rule, ctx.page_text())
        notes += _field_notes("article.dateline", rule, dateline, dateline_rejected)
        if dateline is not None and dateline.match is not None:
            source = _group(dateline.match, "source")
            location = _group(dateline.match, "location")
            published, unreadable = _date_of(ctx.profile, dateline.match)
            if unreadable is not None:
                notes.append(_unreadable("article.dateline", unreadable, ctx.profile))
    return Article(
        url=url.split("#", 1)[0],
        title=title.text,
        published=published,
        location=location,
        source_line=source,
        body=body.text,
        language=ctx.profile.language,
    )


def _lookup(scope: Tag, rule: FieldRule) -> tuple[_Hit | None, str | None]:
    """The first element of the first selector that has text (and fits the pattern, if any);
    else None and the text of an element the pattern turned down, to say why."""
    rejected = None
    for rank, selector in enumerate(rule.selectors):
        for element in selector.iselect(scope):
            text = single_line([element])
            if rule.strip is not None:
                text = rule.strip.sub("", text).strip()
            if not text:
                continue
            match = rule.pattern.search(text) if rule.pattern else None
            if rule.pattern is not None and match is None:
                rejected = rejected or text
                continue
            return _Hit(text, element, rank, match), None
    return None, rejected


def _search(rule: FieldRule, text: str) -> _Hit | None:
    """The last resort: the field's pattern anywhere in the text around."""
    match = rule.pattern.search(text) if rule.pattern else None
    return _Hit(match.group(0), None, len(rule.selectors), match) if match else None


def _field_notes(part: str, rule: FieldRule, hit: _Hit | None, rejected: str | None) -> list[str]:
    """Warnings for a field that was missing or only found by a fallback."""
    tried = f"no selector matched ({describe_selectors(rule.selectors)})" if rule.selectors else ""
    if hit is None:
        clauses = [tried]
        if rejected is not None:
            clauses.append(f"the pattern did not match {_preview(rejected)}")
        if rule.pattern is not None:
            clauses.append("pattern not found in the text")
        return [f"{part}: " + "; ".join(clause for clause in clauses if clause)]
    if hit.element is None and rule.selectors:
        return [f"{part}: {tried}; found by pattern in the text"]
    return _rank_notes(part, rule.selectors, hit.rank)


def _rank_notes(part: str, selectors: Sequence[SoupSieve], rank: int) -> list[str]:
    if rank == 0:
        return []
    tried = describe_selectors(selectors[:rank])
    return [f"{part}: {tried} matched nothing; used {selectors[rank].pattern}"]


def _preview(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _group(match: re.Match[str], name: str) -> str | None:
    if name not in match.re.groupindex:
        return None
    value = match.group(name)
    return " ".join(value.split()) if value and not value.isspace() else None


def _date_of(profile: Profile, match: re.Match[str]) -> tuple[date | None, str | None]:
    """The match's date group read with the profile's formats, or the text that did not read."""
    raw = _group(match, "date")
    if raw is None:
        return None, None
    for date_format in profile.date_formats:
        try:
            return datetime.strptime(raw, date_format).date(), None
        except ValueError:
            continue
    return None, raw


def _unreadable(part: str, raw: str, profile: Profile) -> str:
    return f"{part}: cannot read the date {raw!r} (formats: {', '.join(profile.date_formats)})"


def _body(
    ctx: _Context,
    rule: BodyRule,
    taken: set[int],
    line_filters: list[re.Pattern[str]],
    title: str | None,
) -> _Body | None:
    """The body text and the rank of the selector that found it. Left out: parts already
    taken for something else, `remove` matches, filtered lines, and a paragraph that only
    repeats the title (a heading the title selectors did not catch)."""
    for rank, selector in enumerate(rule.selectors):
        for container in selector.iselect(ctx.soup):
            if id(container) in taken:
                continue
            removed = rule.remove.iselect(container) if rule.remove else ()
            skip = taken | {id(element) for element in removed}
            kept = []
            for paragraph in paragraphs([container], skip):
                if paragraph.link_density > rule.max_link_density:
                    continue
                lines = [
                    line
                    for line in paragraph.lines
                    if not any(pattern.search(line) for pattern in line_filters)
                ]
                text = " ".join(lines)
                if text and text != title:
                    kept.append(text)
            if kept:
                return _Body("\n\n".join(kept), rank)
    return None


class _Ticker:
    """Ticker lines, recognised by their text wherever they are (the container varies)."""

    def __init__(self, ctx: _Context, anchors: list[_Anchor], rule: TickerRules | None) -> None:
        self.items: list[TickerItem] = []
        self.element_ids: set[int] = set()
        self.warnings: list[str] = []
        if rule is None:
            return
        anchor_ids = {id(anchor.element) for anchor in anchors}
        seen: set[str] = set()
        for anchor in anchors:
            found = _ticker_line(anchor.element, rule.pattern, anchor_ids)
            if found is None:
                continue
            match, line = found
            self.element_ids.update(id(node) for node in line)
            text = _group(match, "text")
            if text is None or anchor.url in seen:
                continue
            seen.add(anchor.url)
            published, unreadable = _date_of(ctx.profile, match)
            if unreadable is not None:
                note = _unreadable("ticker", unreadable, ctx.profile)
                self.warnings.append(f"{note} in {_preview(match.group(0))}; item kept, undated")
            self.items.append(
                TickerItem(
                    url=anchor.url, text=text, region=_group(match, "region"), published=published
                )
            )


def _ticker_line(
    anchor: Tag, pattern: re.Pattern[str], anchor_ids: set[int]
) -> tuple[re.Match[str], list[PageElement]] | None:
    """The ticker line an article link makes: its own text, or the line it stands on when
    part of the line (the region, say) sits beside the link."""
    match = pattern.search(single_line([anchor]))
    if match is not None:
        return match, [anchor]
    node: Tag = anchor
    while (
        isinstance(node.parent, Tag)
        and node.parent.name not in BLOCK_TAGS
        and all(_is_blank(sibling) for sibling in _siblings_of(node))
    ):
        node = node.parent
    before = _same_line(node.previous_siblings, anchor_ids)
    line = [*reversed(before), node, *_same_line(node.next_siblings, anchor_ids)]
    match = pattern.search(single_line(line))
    return (match, line) if match is not None else None


def _siblings_of(node: Tag) -> Iterable[PageElement]:
    yield from node.previous_siblings
    yield from node.next_siblings


def _is_blank(node: PageElement) -> bool:
    return not isinstance(node, Tag) and not str(node).strip()


def _same_line(siblings: Iterable[PageElement], anchor_ids: set[int]) -> list[PageElement]:
    """Siblings up to a line break, a block, or another article link (the next line)."""
    line = []
    for sibling in siblings:
        if isinstance(sibling, Tag) and (
            sibling.name == "br"
            or sibling.name in BLOCK_TAGS
            or id(sibling) in anchor_ids
            or any(id(inner) in anchor_ids for inner in sibling.find_all("a", href=True))
        ):
            break
        line.append(sibling)
    return line


class _Listing:
    """The repeated items of a listing page, each a link with what the listing says of it."""

    def __init__(self, ctx: _Context, anchors: list[_Anchor], rule: ListingRules | None) -> None:
        self.links: list[Link] = []
        self.item_ids: set[int] = set()
        self.warnings: list[str] = []
        self._misses: Counter[tuple[str, str]] = Counter()
        if rule is None:
            return
        urls = {id(anchor.element): anchor.url for anchor in anchors}
        found = next(
            (
                (rank, items)
                for rank, selector in enumerate(rule.items)
                if (items := selector.select(ctx.soup))
            ),
            None,
        )
        if found is None:
            self.warnings.append(
                f"listing.items: no selector matched ({describe_selectors(rule.items)})"
            )
            return
        rank, items = found
        self.warnings += _rank_notes("listing.items", rule.items, rank)
        self.item_ids = {id(item) for item in items}
        seen: set[str] = set()
        for item in items:
            link = self._item(ctx, item, rule, urls)
            if link is not None and link.url not in seen:
                seen.add(link.url)
                self.links.append(link)
        for (part, problem), count in sorted(self._misses.items()):
            self.warnings.append(f"listing.{part}: {problem} in {count} of {len(items)} items")

    def _item(
        self, ctx: _Context, item: Tag, rule: ListingRules, urls: dict[int, str]
    ) -> Link | None:
        anchor = self._link(item, rule, urls)
        if anchor is None:
            self._misses["link", "no article link, item skipped"] += 1
            return None
        title = self._text(item, "title", rule.title) or single_line([anchor]) or None
        meta = self._meta(item, rule.meta)
        return Link(
            url=urls[id(anchor)],
            title=title,
            summary=self._text(item, "summary", rule.summary),
            region=_group(meta, "region") if meta else None,
            published=self._date(ctx.profile, meta),
        )

    def _link(self, item: Tag, rule: ListingRules, urls: dict[int, str]) -> Tag | None:
        for selector in rule.link:
            for element in selector.iselect(item):
                anchor = element if element.name == "a" else element.find("a", href=True)
                if isinstance(anchor, Tag) and id(anchor) in urls:
                    return anchor
        fallback = next((a for a in item.find_all("a", href=True) if id(a) in urls), None)
        if fallback is not None and rule.link:
            self._misses["link", f"no selector matched ({describe_selectors(rule.link)})"] += 1
        return fallback

    def _text(self, item: Tag, part: str, rule: FieldRule | None) -> str | None:
        if rule is None:
            return None
        hit, _ = _lookup(item, rule)
        if hit is None:
            self._misses[part, f"no selector matched ({describe_selectors(rule.selectors)})"] += 1
        elif hit.rank > 0:
            self._misses[
                part, f"{describe_selectors(rule.selectors[: hit.rank])} matched nothing"
            ] += 1
        return hit.text if hit else None

    def _meta(self, item: Tag, rule: FieldRule | None) -> re.Match[str] | None:
        if rule is None:
            return None
        hit, _ = _lookup(item, rule)
        if hit is None:
            hit = _search(rule, text_lines([item]))
            problem = f"no selector matched ({describe_selectors(rule.selectors)})"
            outcome = "found by pattern in the item text" if hit else "pattern not found either"
            self._misses["meta", f"{problem}; {outcome}"] += 1
        return hit.match if hit else None

    def _date(self, profile: Profile, meta: re.Match[str] | None) -> date | None:
        if meta is None:
            return None
        published, unreadable = _date_of(profile, meta)
        if unreadable is not None:
            formats = ", ".join(profile.date_formats)
            self._misses["meta", f"cannot read the date (formats: {formats})"] += 1
        return published


def _page_links(
    anchors: list[_Anchor],
    listed: list[Link],
    ticker: list[TickerItem],
    url: str,
) -> list[Link]:
    """Listing items first, then every other article link on the page, each URL once;
    ticker items and the page itself are not repeated here."""
    links = list(listed)
    seen = {link.url for link in links} | {item.url for item in ticker} | {url.split("#", 1)[0]}
    for anchor in anchors:
        if anchor.url not in seen:
            seen.add(anchor.url)
            links.append(Link(url=anchor.url, title=single_line([anchor.element]) or None))
    return links


def _base_url(soup: BeautifulSoup, url: str, profile: Profile) -> str:
    """Where relative links point: <base href>, else the page URL, else the profile's site
    (a saved file has no http(s) address of its own)."""
    base = url if _is_web(url) else (profile.site or url)
    tag = soup.find("base", href=True)
    href = tag.get("href") if isinstance(tag, Tag) else None
    if isinstance(href, str):
        try:
            candidate = urljoin(base, href.strip())
        except ValueError:
            return base
        if _is_web(candidate):
            return candidate
    return base


def _is_web(url: str) -> bool:
    return url.startswith(("http://", "https://"))
