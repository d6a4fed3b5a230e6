"""The generic profile: any news site nobody has described.

The article's text and metadata come from trafilatura, asked to favour precision and to
leave reader comments out: on the article-extraction benchmark that scores higher than its
defaults (see scripts/bench_extraction.py). Whether a page is an article at all is decided by
what it says it is and by its structure, not by its length: a two-paragraph brief is a story,
a long home page of teasers is not. Links to articles come from the shape of their URLs and
anchors, since nothing is known of the site's markup. The page is parsed once
(lxml) and that tree serves both. Like every parser, this one is pure and never raises.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document

from newswatch.models import Article, Link, Page, PageHints
from newswatch.parse.headline import SelfDescription, choose_headline, describe, same_site_canonical

GENERIC = "generic"

LONG_TEXT_CHARS = 250
"""This much text on a page that is an article by its URL or markup is a story, whatever
the shape of its paragraphs. Shorter text needs real paragraphs (see `_has_prose`)."""
PROSE_WORDS = 8
"""A paragraph of article text is a sentence of at least this many words; captions, menu
items and 'Photo 1 of 3' are not."""
_SENTENCE_END = re.compile(r"[.!?][\"'”’»)\]]*$")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)[\"'”’»)\]]*$")
MIN_ANCHOR_WORDS = 3
"""'Read more' and 'Energy' are not headlines; 'Equinor starts Johan Castberg' is."""
MIN_SLUG_WORDS = 4
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
"""The <link rel="alternate"> types that announce a feed feedparser can read."""

_ARTICLE_TYPES = re.compile(
    r'"@type"\s*:\s*(?:\[[^\]]*?)?"(?:News|Analysis|Opinion|Reportage|Review|Report|Background'
    r"|Satirical|Scholarly|Tech)?(?:Article|BlogPosting|LiveBlogPosting)\"",
)
_LISTING_OG_TYPES = frozenset({"website", "blog", "profile"})

_DATE_IN_PATH = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d{2})(?P<sep>[/_-]?)(?P<month>0[1-9]|1[0-2])(?P=sep)"
    r"(?P<day>0[1-9]|[12]\d|3[01])(?!\d)"
)
_YEAR_MONTH_PATH = re.compile(r"/(?:19|20)\d{2}/(?:0?[1-9]|1[0-2])/")
_LONG_NUMBER = re.compile(r"\d{5,}")
_NUMERIC_QUERY = re.compile(r"(?:^|&)(?:[a-z_]*id|p)=\d{3,}(?:&|$)", re.IGNORECASE)
_PAGE_EXTENSION = re.compile(r"\.(?:s?html?|php|aspx?|jsp|cfm)$", re.IGNORECASE)
_NOT_A_PAGE = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|pdf|zip|gz|mp[34]|mov|avi|webm|xml|rss|atom|json|css|js"
    r"|docx?|xlsx?|pptx?|csv|txt)$",
    re.IGNORECASE,
)
_NOT_ARTICLE_SEGMENT = re.compile(
    r"^(?:tags?|categor(?:y|ies)|topics?|sections?|authors?|writers?|contributors?|users?|"
    r"profiles?|people|log-?in|log-?out|sign-?in|sign-?up|sign-?out|register|account|"
    r"my-?account|subscribe|subscriptions?|newsletters?|search|about(?:-us)?|contact(?:-us)?|"
    r"privacy.*|terms.*|cookies?.*|advertis.*|feed|rss|page|wp-admin|wp-login\.php|cart|"
    r"checkout|shop|store|events?|jobs|careers|sitemap.*|legal|imprint|impressum|help|faq|"
    r"archives?)$",
    re.IGNORECASE,
)
_NOT_ARTICLE_QUERY = re.compile(
    r"(?:^|&)(?:s|q|search|page|paged|replytocom|share|print|output)=", re.IGNORECASE
)
_WORD = re.compile(r"\w+")
_COMMENTS_FEED = re.compile(r"\bcomments?\b", re.IGNORECASE)

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenericProfile:
    """The built-in profile for sites without a profile of their own."""

    name: str = GENERIC
    description: str = "any news site: main text and metadata by trafilatura, links by URL shape"


def parse_generic(html: str, url: str, hints: PageHints | None = None) -> Page:
    """The article (if the page is one) and the same-site article links of any web page.
    `hints`: what the link's listing or feed said, for a headline or date the page lacks."""
    page = Page(url=url)
    tree = html_tree(html, page.warnings)
    if tree is None:
        return page
    base = _base_url(tree, url)
    page.links = article_links(tree, base, url)
    description = describe(tree, base)
    page.title_tag = description.title_tag
    extracted = _extract(tree, url, page.warnings)
    found = single_spaced(extracted.title or "") if extracted else ""
    headline = choose_headline(found or None, description, hints, url)
    title = headline.text if headline else ""
    body = _body(extracted.text, title) if extracted else None
    if (
        extracted is None
        or body is None
        or not _is_article(tree, description, extracted.pagetype, url, body)
    ):
        if not page.links:
            feeds = feed_links(tree, base)
            hint = f"; it announces feeds: {', '.join(feeds)}" if feeds else ""
            why = _why_no_links(tree, base, url)
            page.warnings.append(
                f"generic: neither article text nor links to articles found: {why}{hint}"
            )
        return page
    if headline is None:
        page.warnings.append("generic: article text found but no title; not kept")
        return page
    if headline.fallback is not None:
        page.warnings.append(f"generic: no headline of its own; used {headline.fallback}")
    published = _iso_date(extracted.date) or description.published
    listed = hints.link if hints else None
    if published is None and listed is not None and listed.published is not None:
        published = listed.published
        page.warnings.append("generic: no publication date on the page; used the listing's")
    elif published is None:
        page.warnings.append("generic: no publication date found")
    page.article = Article(
        url=same_site_canonical(description, url) or url.split("#", 1)[0],
        title=title,
        published=published,
        location=listed.region if listed is not None else None,
        source_line=source_line(extracted.sitename, extracted.author),
        body=body,
        language=page_language(tree),
    )
    return page


def looks_like_article(url: str) -> bool:
    """Whether a URL has the shape of a story: a date or a long number in its path, or a slug
    of several words; and is not a tag, category, author, account or search page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or _NOT_A_PAGE.search(parts.path):
        return False
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(_NOT_ARTICLE_SEGMENT.match(segment) for segment in segments):
        return False
    if parts.query and _NOT_ARTICLE_QUERY.search(parts.query):
        return False
    if _DATE_IN_PATH.search(parts.path) or _YEAR_MONTH_PATH.search(parts.path):
        return not segments[-1].isdigit()  # /2025/01/07/ alone is a day's archive
    if _LONG_NUMBER.search(parts.path) or _NUMERIC_QUERY.search(parts.query):
        return True
    slug = _PAGE_EXTENSION.sub("", segments[-1]) if segments else ""
    return len(_WORD.findall(slug.replace("_", " "))) >= MIN_SLUG_WORDS


ARTICLE_URL_SHAPES = (
    "a date (/2025/01/07/, 2025-01-07), a number of 5 or more digits (/news/123456), an"
    " id=NNN query, or a last segment of 4 or more words (/news/equinor-starts-castberg-field)"
)
"""What looks_like_article accepts, in words, for messages (the README says the same)."""


def _why_no_links(tree: HtmlElement, base: str, page_url: str) -> str:
    """Why article_links found nothing, in terms a user can act on: no links to the same
    site at all, none with a headline, or which ones were turned down for their URL."""
    host = _site_host(page_url) or _site_host(base)
    same_site: dict[str, str] = {}
    for anchor in tree.iterfind(".//a[@href]"):
        target = absolute_url(base, anchor.get("href") or "")
        if target is not None and _site_host(target) == host:
            same_site.setdefault(target, single_spaced(anchor.text_content()))
    if not same_site:
        return f"no links to other pages of {host or 'the site'}"
    headlines = [u for u, text in same_site.items() if len(_WORD.findall(text)) >= MIN_ANCHOR_WORDS]
    if not headlines:
        return (
            f"{_links(len(same_site))} to the same site, none with a headline"
            f" ({MIN_ANCHOR_WORDS} words or more) as its text"
        )
    by_shape = sorted(headlines, key=lambda u: any(map(_NOT_ARTICLE_SEGMENT.match, u.split("/"))))
    examples = ", ".join(urlsplit(u).path or "/" for u in by_shape[:3])
    return (
        f"{_links(len(headlines))} with a headline, none to an article's URL (e.g. {examples}):"
        f" article URLs have {ARTICLE_URL_SHAPES}, and are no tag, section or search pages;"
        " for a site whose URLs differ, write a profile (links.article)"
    )


def _links(count: int) -> str:
    return f"{count} link{'' if count == 1 else 's'}"


def article_links(tree: HtmlElement, base: str, page_url: str) -> list[Link]:
    """Links to articles of the page's own site, in page order, each with its best anchor
    text as title (an image link and a 'Read more' link to the same story are common)."""
    host = _site_host(page_url) or _site_host(base)
    own = page_url.split("#", 1)[0]
    titles: dict[str, str] = {}
    for anchor in tree.iterfind(".//a[@href]"):
        target = absolute_url(base, anchor.get("href") or "")
        if target is None or target == own or _site_host(target) != host:
            continue
        text = single_spaced(anchor.text_content()) or single_spaced(anchor.get("title") or "")
        if len(_WORD.findall(text)) > len(_WORD.findall(titles.get(target, ""))):
            titles[target] = text
        else:
            titles.setdefault(target, "")
    return [
        Link(url=target, title=title, published=date_in_url(target))
        for target, title in titles.items()
        if len(_WORD.findall(title)) >= MIN_ANCHOR_WORDS and looks_like_article(target)
    ]


def discover_feeds(html: str, url: str) -> list[str]:
    """Feed URLs a web page announces with <link rel="alternate" type="application/rss+xml">
    (or Atom, RDF), in page order; comment feeds left out, as they carry no stories."""
    tree = html_tree(html, [])
    return [] if tree is None else feed_links(tree, _base_url(tree, url))


def feed_links(tree: HtmlElement, base: str) -> list[str]:
    """`discover_feeds` on an already parsed page; `base` is where relative links point."""
    found: dict[str, None] = {}
    for element in tree.iterfind(".//link[@href]"):
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rel or kind not in FEED_TYPES:
            continue
        if _COMMENTS_FEED.search(element.get("title") or "") or "/comments/" in (
            element.get("href") or ""
        ):
            continue
        target = absolute_url(base, element.get("href") or "")
        if target is not None:
            found.setdefault(target, None)
    return list(found)


def date_in_url(url: str) -> date | None:
    """The date a URL carries in its path (/2025/01/07/, 2025-01-07, 20250107), if any."""
    try:
        found = _DATE_IN_PATH.search(urlsplit(url).path)
        return date(int(found["year"]), int(found["month"]), int(found["day"])) if found else None
    except ValueError:  # 2025/02/31, or a malformed IPv6 host
        return None


@functools.lru_cache(maxsize=4096)
def absolute_url(base: str, href: str) -> str | None:
    """The absolute http(s) URL of an href, fragment dropped; None for anything else.
    Cached: menus, tickers and footers repeat on every page of a site."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    try:
        url = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return url if parts.scheme in ("http", "https") and host else None


def page_language(tree: HtmlElement) -> str | None:
    """The declared language: <html lang>, Content-Language or og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            candidates.append(meta.get("content"))
    for candidate in candidates:
        code = language_code(candidate)
        if code is not None:
            return code
    return None


def language_code(tag: str | None) -> str | None:
    """The primary language subtag in lower case ('en-US', 'en_GB' -> 'en'), so that every
    source names a language the same way."""
    if not tag:
        return None
    primary = re.split(r"[-_,;\s]", tag.strip(), maxsplit=1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def source_line(site: str | None, author: str | None) -> str | None:
    """Who the story comes from, as a reader would credit it: 'Site, by Author'."""
    site = single_spaced(site or "")
    author = single_spaced(author or "")
    if author and author.lower() != site.lower():
        return f"{site}, by {author}" if site else f"by {author}"
    return site or None


def single_spaced(text: str) -> str:
    return " ".join(text.split())


def html_tree(html: str, notes: list[str]) -> HtmlElement | None:
    """The page parsed once, as trafilatura parses it; None (and a note) when it is not HTML."""
    if not html.strip():
        notes.append("page: empty")
        return None
    if "<" not in html:
        notes.append("page: not HTML (no markup found)")
        return None
    try:
        tree = trafilatura.load_html(html)
    except Exception as exc:  # a third-party parser on arbitrary input: report, never raise
        notes.append(f"page: not readable as HTML ({type(exc).__name__})")
        return None
    if tree is None:
        notes.append("page: not readable as HTML")
    return tree


def _extract(tree: HtmlElement, url: str, notes: list[str]) -> Document | None:
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url if url.startswith(("http://", "https://")) else None,
            favor_precision=True,
            include_comments=False,
            with_metadata=True,
        )
    except Exception as exc:  # a third-party extractor on arbitrary input: report, never raise
        _log.debug("trafilatura failed on %s", url, exc_info=True)
        notes.append(f"generic: text extraction failed ({type(exc).__name__})")
        return None
    return document if isinstance(document, Document) else None


def _body(text: str | None, title: str) -> str | None:
    """trafilatura's text has one block per line; the body has one paragraph per block. A
    first block that repeats the title is left out: the title is a field of its own."""
    blocks = [single_spaced(line) for line in (text or "").splitlines()]
    blocks = [block for block in blocks if block]
    if blocks and _WORD.findall(blocks[0].lower()) == _WORD.findall(title.lower()):
        blocks = blocks[1:]
    return "\n\n".join(blocks) or None


def _is_article(
    tree: HtmlElement, page: SelfDescription, og_type: str | None, url: str, body: str
) -> bool:
    """Enough text is not enough: a home page's teasers add up to a long text too; and a
    short text is no reason to refuse a brief. What the page says it is counts first, then
    the shape of its own URL, then its markup (one <article>, a headline over the text);
    a short text must also be made of real paragraphs."""
    kind = (page.og_type or og_type or "").lower()
    declared = kind == "article" or page.declares_article or _declares_article(tree)
    if len(body) >= LONG_TEXT_CHARS:
        if declared or looks_like_article(url):
            return True
        if kind in _LISTING_OG_TYPES:
            return False
        path = urlsplit(url).path.strip("/")
        return bool(path) and len(tree.findall(".//article")) <= 1
    if not _has_prose(body) or kind in _LISTING_OG_TYPES:
        return False
    structured = len(tree.findall(".//article")) == 1 or tree.find(".//h1") is not None
    return declared or (structured and looks_like_article(url))


def _has_prose(body: str) -> bool:
    """A paragraph that is a finished sentence of real length: a teaser cut short ('...'),
    a caption, a menu or a consent wall is not that."""
    return any(
        _SENTENCE_END.search(block)
        and not _ELLIPSIS.search(block)
        and len(_WORD.findall(block)) >= PROSE_WORDS
        for block in body.split("\n\n")
    )


def _declares_article(tree: HtmlElement) -> bool:
    return any(
        (script.get("type") or "").lower() == "application/ld+json"
        and _ARTICLE_TYPES.search(script.text or "")
        for script in tree.iterfind(".//script[@type]")
    )


def _base_url(tree: HtmlElement, url: str) -> str:
    base = tree.find(".//base[@href]")
    href = base.get("href") if base is not None else None
    return (absolute_url(url, href) if href else None) or url


def _site_host(url: str) -> str | None:
    """The host without a leading www., so www.example.com and example.com are one site."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def _iso_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None
