"""What a page says about itself, and the headline chosen from it.

Sites move their headline into elements no profile names, and their `<title>` carries the
site's name before or after the headline, or is one generic title for the whole site. So the
headline comes from, in order: the profile's selectors (or the extractor's own choice);
og:title or the JSON-LD headline; what the listing or feed that linked to the page called it;
`<title>` with the site's name removed wherever it stands. A title that is the site's generic
page title is never a headline. The stored URL follows the page's rel=canonical or og:url when
they stay on the same site. Pure functions on an already parsed tree; nothing here raises.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

from newswatch.models import PageHints
from newswatch.parse.text import HtmlElement, single_line

_ARTICLE_TYPE = re.compile(
    r"^(?:News|Analysis|Opinion|Reportage|Review|Report|Background|Satirical|Scholarly|Tech)?"
    r"(?:Article|BlogPosting|LiveBlogPosting)$"
)
_SEPARATOR = re.compile(r"\s+(?:[|\-–—:·»«/~•]|::|\|\|)\s+")
"""What sites put between their name and the headline: always with spaces around, so a
'15-Year' or 'Block 4/1B' in a headline is not cut."""
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_JSON_LD_MAX_CHARS = 200_000


@dataclass(frozen=True)
class SelfDescription:
    """What a page's head says about the page."""

    title_tag: str | None = None
    og_title: str | None = None
    headline: str | None = None
    """The JSON-LD headline of an article-typed object."""
    site_name: str | None = None
    """og:site_name, or the JSON-LD publisher's name."""
    canonical: str | None = None
    """rel=canonical, else og:url: absolute, as written."""
    og_type: str | None = None
    declares_article: bool = False
    """JSON-LD says the page is an article (NewsArticle, BlogPosting, ...)."""
    published: date | None = None
    """The JSON-LD datePublished."""


@dataclass(frozen=True)
class Headline:
    text: str
    fallback: str | None
    """Where it came from when not from the first choice: said in a warning."""


def describe(tree: HtmlElement, url: str) -> SelfDescription:
    """The page's <title>, og: tags, JSON-LD article data and canonical URL."""
    meta: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        content = element.get("content")
        if key and content and key not in meta:
            meta[key] = " ".join(content.split())
    canonical = None
    for element in tree.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        if "canonical" in rel and element.get("href"):
            canonical = _absolute(url, element.get("href") or "")
            break
    if canonical is None and meta.get("og:url"):
        canonical = _absolute(url, meta["og:url"])
    title_element = next(tree.iter("title"), None)
    title_tag = single_line([title_element]) if title_element is not None else ""
    article = next(_json_ld_articles(tree), None)
    headline = _text(article.get("headline")) if article else None
    publisher = article.get("publisher") if article else None
    site = meta.get("og:site_name") or (
        _text(publisher.get("name")) if isinstance(publisher, dict) else None
    )
    return SelfDescription(
        title_tag=title_tag or None,
        og_title=meta.get("og:title") or meta.get("twitter:title"),
        headline=headline,
        site_name=site,
        canonical=canonical,
        og_type=meta.get("og:type", "").lower() or None,
        declares_article=article is not None,
        published=_date(article.get("datePublished")) if article else None,
    )


def choose_headline(
    found: str | None,
    page: SelfDescription,
    hints: PageHints | None,
    url: str,
    *,
    title_text: str | None = None,
    page_text: Callable[[], str] | None = None,
    headings: Sequence[str] = (),
) -> Headline | None:
    """The first of: `found` (the profile's or the extractor's choice), og:title or the
    JSON-LD headline, the title the listing gave the link, the <title> without the site's
    name (`title_text`: the <title> as a profile already cleaned it). Any of them that is
    only the site's name or its generic title is passed over. A <title> whose rest is not
    shown anywhere in `page_text()` is taken for a generic one when the page has `headings`
    (h1-h3): the first of them is the headline then."""
    site_titles = hints.site_titles if hints else ()
    names = site_names(page, site_titles, url)
    link_title = hints.link.title if hints and hints.link else None
    candidates = [
        (found, None),
        (page.og_title, "og:title"),
        (page.headline, "the JSON-LD headline"),
        (link_title, "the title the listing or feed gave the link"),
        (title_text or page.title_tag, "<title> with the site's name removed"),
    ]
    for text, fallback in candidates:
        if not text:
            continue
        cleaned = strip_site_name(text, names)
        if not cleaned or is_generic(cleaned, text, names, site_titles, page.title_tag):
            continue
        last = fallback == candidates[-1][1]
        if last and page_text and headings and _key(cleaned) not in _key(page_text()):
            break  # a <title> the page does not show: its heading comes first
        return Headline(cleaned, fallback)
    for heading in headings:
        cleaned = strip_site_name(heading, names)
        if len(cleaned.split()) >= 3 and not is_generic(
            cleaned, heading, names, site_titles, page.title_tag
        ):
            return Headline(cleaned, "the page's first heading (its <title> is not shown)")
    return None


def site_names(page: SelfDescription, site_titles: tuple[str, ...], url: str) -> list[str]:
    """What the site calls itself: og:site_name, the parts that the page's <title> shares at
    its start or end with the titles of the site's other pages, and a part that spells the
    site's host ('Gulf Oil & Gas' on gulfoilandgas.com)."""
    names = [page.site_name] if page.site_name else []
    own = _parts(page.title_tag or "")
    if len(own) > 1:
        ends = _index(site_titles).ends
        for part in dict.fromkeys((own[0], own[-1])):
            if ends.get(_key(part), frozenset()) - {page.title_tag}:
                names.append(part)
        host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        label = _NOT_WORD.sub("", host.split(".")[0]) if host else ""
        names += [part for part in (own[0], own[-1]) if label and _key(part) == label]
    return [name for name in names if _key(name)]


@dataclass(frozen=True)
class _TitleIndex:
    """The site's other <title>s by the keys of their whole text, of their parts and of
    their first and last parts (titles of more than one part only)."""

    whole: dict[str, frozenset[str]]
    parts: dict[str, frozenset[str]]
    ends: dict[str, frozenset[str]]


@functools.lru_cache(maxsize=64)  # one per host and stage of a run: the same for its pages
def _index(site_titles: tuple[str, ...]) -> _TitleIndex:
    whole: dict[str, set[str]] = {}
    parts: dict[str, set[str]] = {}
    ends: dict[str, set[str]] = {}
    for title in site_titles:
        whole.setdefault(_key(title), set()).add(title)
        split = _parts(title)
        if len(split) > 1:
            for part in split:
                parts.setdefault(_key(part), set()).add(title)
            for part in (split[0], split[-1]):
                ends.setdefault(_key(part), set()).add(title)
    return _TitleIndex(*({k: frozenset(v) for k, v in d.items()} for d in (whole, parts, ends)))


def strip_site_name(title: str, names: Iterable[str]) -> str:
    """`title` without a site name at its start or end (and the separator beside it)."""
    title = " ".join(title.split())
    keys = {_key(name) for name in names}
    parts = _SEPARATOR.split(title)
    separators = _SEPARATOR.findall(title)
    while len(parts) > 1 and _key(parts[0]) in keys:
        parts, separators = parts[1:], separators[1:]
    while len(parts) > 1 and _key(parts[-1]) in keys:
        parts, separators = parts[:-1], separators[:-1]
    rebuilt = parts[0]
    for separator, part in zip(separators, parts[1:], strict=True):
        rebuilt += separator + part
    return rebuilt.strip()


def is_generic(
    cleaned: str,
    raw: str,
    names: Iterable[str],
    site_titles: tuple[str, ...],
    title_tag: str | None,
) -> bool:
    """The site's name alone, or the title the site's listing pages carry (in full, or one
    of its parts once the name is off: 'Latest Energy News')."""
    if _key(cleaned) in {_key(name) for name in names}:
        return True
    index = _index(site_titles)
    # the page's own <title>, when another page has it too, says nothing against its og:title
    own = {title_tag} if raw != title_tag else set()
    none: frozenset[str] = frozenset()
    return bool(
        (index.whole.get(_key(raw), none) - own)
        or (index.whole.get(_key(cleaned), none) - own)
        or (index.parts.get(_key(cleaned), none) - own)
    )


def same_site_canonical(page: SelfDescription, url: str) -> str | None:
    """The page's rel=canonical or og:url when it names another URL of the same site (www.
    or not, http or https) that is not the site's front page; a canonical on another site
    would merge two sites' copies, one on the front page every story of a careless site."""
    target = page.canonical
    if not target or target == url:
        return None
    try:
        mine, theirs = urlsplit(url), urlsplit(target)
        if theirs.scheme not in ("http", "https") or not theirs.hostname:
            return None
        same = _bare_host(mine.hostname) == _bare_host(theirs.hostname) and (
            mine.port == theirs.port or mine.scheme != theirs.scheme
        )
    except ValueError:
        return None
    if not same or (theirs.path.strip("/") == "" and not theirs.query):
        return None
    return target


def _bare_host(host: str | None) -> str:
    return (host or "").lower().removeprefix("www.")


@functools.lru_cache(maxsize=4096)  # a site's titles come back for every page of a run
def _parts(title: str) -> tuple[str, ...]:
    return tuple(part for part in _SEPARATOR.split(" ".join(title.split())) if part)


@functools.lru_cache(maxsize=16384)
def _key(text: str) -> str:
    """Letters and digits only, '&' read as 'and': 'Gulf Oil & Gas' = 'Gulf Oil and Gas'."""
    return _NOT_WORD.sub("", text.lower().replace("&", "and"))


def _absolute(base: str, href: str) -> str | None:
    try:
        url = urljoin(base, href.strip()).split("#", 1)[0]
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


def _json_ld_articles(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json":
            continue
        text = script.text or ""
        if len(text) > _JSON_LD_MAX_CHARS:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        yield from _articles_in(data, depth=0)


def _articles_in(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _articles_in(item, depth + 1)
    elif isinstance(data, dict):
        kinds = data.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(kind, str) and _ARTICLE_TYPE.match(kind) for kind in kinds):
            yield data
        if "@graph" in data:
            yield from _articles_in(data["@graph"], depth + 1)


def _text(value: Any) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
