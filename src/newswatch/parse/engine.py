"""The engine: applies a site profile to one page. Nothing here knows any particular site.

One page is parsed once (lxml) and only the profile's selectors are run on it, each at most
once per page (compiled to XPath, so the matching runs in C). Parts are found in an order
that lets later parts exclude earlier ones: ticker lines and listing items first, then title
and dateline, then the body, which skips all of them.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

from newswatch.models import Article, Link, Page, PageHints, TickerItem
from newswatch.parse.generic import absolute_url
from newswatch.parse.headline import (
    Headline,
    SelfDescription,
    choose_headline,
    describe,
    same_site_canonical,
)
from newswatch.parse.profile import (
    BodyRule,
    FieldRule,
    ListingRules,
    Profile,
    Selector,
    TickerRules,
    describe_selectors,
)
from newswatch.parse.text import (
    BLOCK_TAGS,
    HtmlElement,
    Node,
    TextPiece,
    is_element,
    paragraphs,
    parse_html,
    single_line,
    text_lines,
)

_TAG_LIKE = re.compile(r"<\s*[a-zA-Z!/?]")
_BINARY_SNIFF = 4096


@dataclass(frozen=True)
class _Hit:
    """A value a field rule found: its text, where, and how far down the fallbacks."""

    text: str
    element: HtmlElement | None
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
    element: HtmlElement
    url: str


class _Context:
    """One page being parsed: the tree, where relative links point, which hosts are ours,
    and what each selector matched (each is run once per page)."""

    def __init__(self, root: HtmlElement, url: str, profile: Profile) -> None:
        self.root = root
        self.profile = profile
        self.base = _base_url(root, url, profile)
        self._base_path = self.base.split("#", 1)[0].split("?", 1)[0]
        hosts = {urlsplit(address).hostname for address in (url, self.base, profile.site or "")}
        self.hosts = {host.lower() for host in hosts if host} | profile.links.hosts
        self._page_text: str | None = None
        self._matches: dict[Selector, list[HtmlElement]] = {}
        self._matches_inside: dict[Selector, dict[HtmlElement, list[HtmlElement]]] = {}

    def page_text(self) -> str:
        if self._page_text is None:
            self._page_text = text_lines([self.root])
        return self._page_text

    def select(self, selector: Selector, scope: HtmlElement | None = None) -> list[HtmlElement]:
        """The elements `selector` matches in the page, or inside `scope` (not `scope`
        itself), in document order."""
        matches = self._matches.get(selector)
        if matches is None:
            found = selector.xpath(self.root.getroottree())
            assert isinstance(found, list)
            matches = self._matches[selector] = [m for m in found if is_element(m)]
        if scope is None:
            return matches
        inside = self._matches_inside.get(selector)
        if inside is None:
            inside = self._matches_inside[selector] = {}
            for match in matches:
                for ancestor in match.iterancestors():
                    inside.setdefault(ancestor, []).append(match)
        return inside.get(scope, [])

    def absolute(self, href: str) -> str | None:
        """The absolute http(s) URL of an href, fragment dropped, query kept as written."""
        # Only an href of nothing but a query depends on the page's own query: the others
        # resolve against the page's path, which the pages of a site share.
        base = self.base if href.strip().startswith("?") else self._base_path
        return absolute_url(base, href)

    def is_article_url(self, url: str) -> bool:
        host, target = _host_and_target(url)
        rules = self.profile.links
        if rules.same_host and host not in self.hosts:
            return False
        return any(pattern.search(target) for pattern in rules.article)

    def article_anchors(self) -> list[_Anchor]:
        anchors = []
        for element in self.root.iter("a"):
            href = element.get("href")
            url = self.absolute(href) if href is not None else None
            if url is not None and self.is_article_url(url):
                anchors.append(_Anchor(element, url))
        return anchors


def parse_page(html: str, url: str, profile: Profile, hints: PageHints | None = None) -> Page:
    """What `profile` finds on one page; missing or odd parts become warnings, never errors.
    `hints`: what the link's listing said, for a headline, date or region the page lacks."""
    page = Page(url=url)
    if not html.strip():
        page.warnings.append("page: empty")
        return page
    if "\x00" in html[:_BINARY_SNIFF] or not _TAG_LIKE.search(html):
        page.warnings.append("page: not HTML (no markup found)")
        return page
    ctx = _Context(parse_html(html), url, profile)
    anchors = ctx.article_anchors()
    ticker = _Ticker(ctx, anchors, profile.ticker)
    listing = _Listing(ctx, anchors, profile.listing)

    rules = profile.article
    title, title_rejected = _lookup(ctx, rules.title)
    description = describe(ctx.root, ctx.base)
    page.title_tag = description.title_tag
    title_text = None
    if title is not None and title.element is not None and title.element.tag == "title":
        title_text, title = title.text, None  # <title> is the last resort, whatever the order
    headline = choose_headline(
        title.text if title else None,
        description,
        hints,
        url,
        title_text=title_text,
        page_text=ctx.page_text,
        headings=_headings(ctx.root),
    )
    dateline, dateline_rejected = _lookup(ctx, rules.dateline) if rules.dateline else (None, None)
    taken: set[Node] = ticker.taken | listing.items
    taken |= {hit.element for hit in (title, dateline) if hit and hit.element is not None}
    line_filters = [*rules.body.drop, *_patterns(profile.ticker, rules.dateline)]
    body = _body(ctx, rules.body, taken, line_filters, headline.text if headline else None)

    # A listing page's main column can pass for a body once its items are left out; an
    # article found only by a fallback container on a page with listing items is a listing.
    if headline is not None and body is not None and not (listing.links and body.rank > 0):
        article_warnings: list[str] = []
        page.article = _article(
            ctx, url, headline, body, dateline, dateline_rejected, article_warnings, hints
        )
        page.article = _canonical(page.article, description, url)
        if headline.fallback is None:
            page.warnings += _field_notes("article.title", rules.title, title, title_rejected)
        else:
            named = [sel for sel in rules.title.selectors if sel.pattern.strip() != "title"]
            page.warnings.append(
                f"article.title: {describe_selectors(named) or 'no selector'} matched nothing;"
                f" used {headline.fallback}"
            )
        page.warnings += _rank_notes("article.body", rules.body.selectors, body.rank)
        page.warnings += article_warnings
        if profile.ticker is not None and not ticker.items:
            page.warnings.append("ticker: no line matched ticker.pattern")
    elif listing.links:
        page.warnings += listing.warnings
    else:
        if headline is None:
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


def _patterns(ticker: TickerRules | None, dateline: FieldRule | None) -> list[re.Pattern[str]]:
    """Lines these patterns match are ticker or dateline, so never body text."""
    found = [ticker.pattern] if ticker else []
    if dateline is not None and dateline.pattern is not None:
        found.append(dateline.pattern)
    return found


def _article(
    ctx: _Context,
    url: str,
    title: Headline,
    body: _Body,
    dateline: _Hit | None,
    dateline_rejected: str | None,
    notes: list[str],
    hints: PageHints | None,
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
    listed = hints.link if hints else None
    used = []
    if listed is not None and published is None and listed.published is not None:
        published = listed.published
        used.append("date")
    if listed is not None and location is None and listed.region:
        location = listed.region
        used.append("region")
    if used:
        notes.append(f"article.dateline: used the {' and '.join(used)} the listing gave")
    return Article(
        url=url.split("#", 1)[0],
        title=title.text,
        published=published,
        location=location,
        source_line=source,
        body=body.text,
        language=ctx.profile.language,
    )


def _headings(root: HtmlElement) -> list[str]:
    """The text of the page's h1, h2 and h3 elements, in page order."""
    found = (single_line([element]) for element in root.iter("h1", "h2", "h3"))
    return [text for text in found if text]


def _canonical(article: Article, description: SelfDescription, url: str) -> Article:
    """The article under the URL the page gives as its own, when that is on the same site."""
    canonical = same_site_canonical(description, url)
    return replace(article, url=canonical) if canonical else article


def _lookup(
    ctx: _Context, rule: FieldRule, scope: HtmlElement | None = None
) -> tuple[_Hit | None, str | None]:
    """The first element of the first selector that has text (and fits the pattern, if any),
    in the page or inside `scope`; else None and the text of an element the pattern turned
    down, to say why."""
    rejected = None
    for rank, selector in enumerate(rule.selectors):
        for element in ctx.select(selector, scope):
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


def _rank_notes(part: str, selectors: Sequence[Selector], rank: int) -> list[str]:
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
    read = _read_date(raw, profile.date_formats)
    return (read, None) if read is not None else (None, raw)


@functools.lru_cache(maxsize=4096)
def _read_date(raw: str, date_formats: tuple[str, ...]) -> date | None:
    """The date `raw` says in the first format that reads it. Cached: a ticker's dates come
    back on every page of a site, and strptime is slow."""
    for date_format in date_formats:
        try:
            return datetime.strptime(raw, date_format).date()
        except ValueError:
            continue
    return None


def _unreadable(part: str, raw: str, profile: Profile) -> str:
    return f"{part}: cannot read the date {raw!r} (formats: {', '.join(profile.date_formats)})"


def _body(
    ctx: _Context,
    rule: BodyRule,
    taken: set[Node],
    line_filters: list[re.Pattern[str]],
    title: str | None,
) -> _Body | None:
    """The body text and the rank of the selector that found it. Left out: parts already
    taken for something else, `remove` matches, filtered lines, and a paragraph that only
    repeats the title (a heading the title selectors did not catch)."""
    for rank, selector in enumerate(rule.selectors):
        for container in ctx.select(selector):
            if container in taken:
                continue
            removed = ctx.select(rule.remove, container) if rule.remove else ()
            skip = taken.union(removed)
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
        self.taken: set[Node] = set()
        """The elements and text of the ticker lines: not body text."""
        self.warnings: list[str] = []
        if rule is None:
            return
        anchor_elements = {anchor.element for anchor in anchors}
        seen: set[str] = set()
        for anchor in anchors:
            found = _ticker_line(anchor.element, rule.pattern, anchor_elements)
            if found is None:
                continue
            match, line = found
            self.taken.update(line)
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
    anchor: HtmlElement, pattern: re.Pattern[str], anchors: set[HtmlElement]
) -> tuple[re.Match[str], list[Node]] | None:
    """The ticker line an article link makes: its own text, or the line it stands on when
    part of the line (the region, say) sits beside the link."""
    match = pattern.search(single_line([anchor]))
    if match is not None:
        return match, [anchor]
    node = anchor
    parent = node.getparent()
    while (
        parent is not None
        and parent.tag not in BLOCK_TAGS
        and all(_is_blank(sibling) for sibling in _siblings_of(node))
    ):
        node, parent = parent, parent.getparent()
    before = _same_line(_previous_siblings(node), anchors)
    line = [*reversed(before), node, *_same_line(_next_siblings(node), anchors)]
    match = pattern.search(single_line(line))
    return (match, line) if match is not None else None


def _previous_siblings(node: HtmlElement) -> Iterator[Node]:
    """What comes before `node` in its parent, nearest first: elements (comments included)
    and the text between them."""
    sibling = node.getprevious()
    while sibling is not None:
        if sibling.tail:
            yield TextPiece(sibling, tail=True)
        yield sibling
        sibling = sibling.getprevious()
    parent = node.getparent()
    if parent is not None and parent.text:
        yield TextPiece(parent, tail=False)


def _next_siblings(node: HtmlElement) -> Iterator[Node]:
    """What follows `node` in its parent, nearest first."""
    if node.tail:
        yield TextPiece(node, tail=True)
    sibling = node.getnext()
    while sibling is not None:
        yield sibling
        if sibling.tail:
            yield TextPiece(sibling, tail=True)
        sibling = sibling.getnext()


def _siblings_of(node: HtmlElement) -> Iterable[Node]:
    yield from _previous_siblings(node)
    yield from _next_siblings(node)


def _is_blank(node: Node) -> bool:
    """Whitespace, or a comment of nothing but whitespace."""
    if isinstance(node, TextPiece):
        return not node.text.strip()
    return not is_element(node) and not (node.text or "").strip()


def _same_line(siblings: Iterable[Node], anchors: set[HtmlElement]) -> list[Node]:
    """Siblings up to a line break, a block, or another article link (the next line)."""
    line = []
    for sibling in siblings:
        if is_element(sibling) and (
            sibling.tag == "br"
            or sibling.tag in BLOCK_TAGS
            or sibling in anchors
            or any(inner in anchors for inner in sibling.iterdescendants("a"))
        ):
            break
        line.append(sibling)
    return line


class _Listing:
    """The repeated items of a listing page, each a link with what the listing says of it."""

    def __init__(self, ctx: _Context, anchors: list[_Anchor], rule: ListingRules | None) -> None:
        self.links: list[Link] = []
        self.items: set[Node] = set()
        self.warnings: list[str] = []
        self._misses: Counter[tuple[str, str]] = Counter()
        if rule is None:
            return
        urls = {anchor.element: anchor.url for anchor in anchors}
        found = next(
            (
                (rank, items)
                for rank, selector in enumerate(rule.items)
                if (items := ctx.select(selector))
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
        self.items = set(items)
        seen: set[str] = set()
        for item in items:
            link = self._item(ctx, item, rule, urls)
            if link is not None and link.url not in seen:
                seen.add(link.url)
                self.links.append(link)
        for (part, problem), count in sorted(self._misses.items()):
            self.warnings.append(f"listing.{part}: {problem} in {count} of {len(items)} items")

    def _item(
        self, ctx: _Context, item: HtmlElement, rule: ListingRules, urls: dict[HtmlElement, str]
    ) -> Link | None:
        anchor = self._link(ctx, item, rule, urls)
        if anchor is None:
            self._misses["link", "no article link, item skipped"] += 1
            return None
        title = self._text(ctx, item, "title", rule.title) or single_line([anchor]) or None
        meta = self._meta(ctx, item, rule.meta)
        return Link(
            url=urls[anchor],
            title=title,
            summary=self._text(ctx, item, "summary", rule.summary),
            region=_group(meta, "region") if meta else None,
            published=self._date(ctx.profile, meta),
        )

    def _link(
        self, ctx: _Context, item: HtmlElement, rule: ListingRules, urls: dict[HtmlElement, str]
    ) -> HtmlElement | None:
        for selector in rule.link:
            for element in ctx.select(selector, item):
                anchor = element if element.tag == "a" else _first_link(element)
                if anchor is not None and anchor in urls:
                    return anchor
        fallback = next((a for a in item.iterdescendants("a") if a in urls), None)
        if fallback is not None and rule.link:
            self._misses["link", f"no selector matched ({describe_selectors(rule.link)})"] += 1
        return fallback

    def _text(
        self, ctx: _Context, item: HtmlElement, part: str, rule: FieldRule | None
    ) -> str | None:
        if rule is None:
            return None
        hit, _ = _lookup(ctx, rule, item)
        if hit is None:
            self._misses[part, f"no selector matched ({describe_selectors(rule.selectors)})"] += 1
        elif hit.rank > 0:
            self._misses[
                part, f"{describe_selectors(rule.selectors[: hit.rank])} matched nothing"
            ] += 1
        return hit.text if hit else None

    def _meta(
        self, ctx: _Context, item: HtmlElement, rule: FieldRule | None
    ) -> re.Match[str] | None:
        if rule is None:
            return None
        hit, _ = _lookup(ctx, rule, item)
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


@functools.lru_cache(maxsize=4096)
def _host_and_target(url: str) -> tuple[str, str]:
    """The lower-case host, and the path and query that link patterns are searched in."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return (parts.hostname or "").lower(), target


def _first_link(element: HtmlElement) -> HtmlElement | None:
    """The first <a href> inside `element`."""
    return next((a for a in element.iterdescendants("a") if a.get("href") is not None), None)


def _base_url(root: HtmlElement, url: str, profile: Profile) -> str:
    """Where relative links point: <base href>, else the page URL, else the profile's site
    (a saved file has no http(s) address of its own)."""
    base = url if _is_web(url) else (profile.site or url)
    href = next((tag.get("href") for tag in root.iter("base") if tag.get("href") is not None), None)
    if href is not None:
        try:
            candidate = urljoin(base, href.strip())
        except ValueError:
            return base
        if _is_web(candidate):
            return candidate
    return base


def _is_web(url: str) -> bool:
    return url.startswith(("http://", "https://"))
