"""The generic profile: article text and metadata of pages nobody described, article links
of listing pages, feed autodiscovery, and the built-in profiles beside the TOML ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from newswatch.errors import ConfigError
from newswatch.models import Page
from newswatch.parse import (
    GenericProfile,
    available_profiles,
    discover_feeds,
    load_profile,
    looks_like_article,
    parse_page,
    profile_names,
)
from newswatch.parse.generic import parse_generic

PAGES = Path(__file__).parent / "fixtures" / "generic"
ESJ = "https://www.energystoragejournal.example.com"
WORDPRESS_URL = f"{ESJ}/2025/03/27/trendforce-solid-state-batteries-2030-outlook/"
GERMAN_URL = "https://energiewende.example.de/meldung/netzbooster-kupferzell-in-betrieb-12345"
NORTHGRID = "https://www.northgrid-energy.example.com"
RELEASE_URL = (
    f"{NORTHGRID}/news/press-releases/northgrid-commissions-200-mw-battery-in-lincolnshire"
)

_parsed: dict[str, Page] = {}


def parsed(name: str, url: str) -> Page:
    """Each fixture parsed once per run: trafilatura is the slow part of these tests."""
    if name not in _parsed:
        _parsed[name] = parse_generic((PAGES / name).read_text(encoding="utf-8"), url)
    return _parsed[name]


# --- article pages ---------------------------------------------------------------------


def test_wordpress_article_text_and_metadata() -> None:
    page = parsed("article_wordpress.html", WORDPRESS_URL)
    assert page.warnings == []
    article = page.article
    assert article is not None
    assert article.url == WORDPRESS_URL
    assert article.title == "TrendForce: solid-state batteries stay niche until 2030"
    assert article.published == date(2025, 3, 27)
    assert article.language == "en"  # lang="en-GB"
    assert article.source_line == "Energy Storage Journal, by Petra Lindqvist"
    paragraphs = article.body.split("\n\n")
    assert paragraphs[0].startswith("Market researcher TrendForce expects all-solid-state")
    assert paragraphs[-1] == (
        '"The technology is real, but the factories are not there yet," said an analyst at '
        "the firm."
    )
    assert "Subsidies in Japan and Korea" in paragraphs


def test_wordpress_article_leaves_out_comments_menus_and_boilerplate() -> None:
    body = parsed("article_wordpress.html", WORDPRESS_URL).article.body  # type: ignore[union-attr]
    for noise in (
        "They said the same thing",  # a reader's comment
        "GridWatcher",
        "We use cookies",
        "Share on",
        "Tags:",
        "Related stories",
        "All rights reserved",
        "Subscribe",
    ):
        assert noise not in body
    assert not body.startswith("TrendForce: solid-state")  # the title is a field, not body


def test_article_page_links_are_its_related_stories() -> None:
    page = parsed("article_wordpress.html", WORDPRESS_URL)
    assert [(link.url, link.title, link.published) for link in page.links] == [
        (
            f"{ESJ}/2025/03/20/toyota-idemitsu-sulfide-electrolyte-plant-approved/",
            "Toyota and Idemitsu sulfide electrolyte plant approved",
            date(2025, 3, 20),
        ),
        (
            f"{ESJ}/2025/03/12/quantumscape-ships-b-samples-to-volkswagen/",
            "QuantumScape ships B samples to Volkswagen",
            date(2025, 3, 12),
        ),
    ]


def test_german_page_without_open_graph() -> None:
    page = parsed("article_german.html", GERMAN_URL)
    article = page.article
    assert article is not None
    assert article.title == "Netzbooster in Kupferzell geht in Betrieb"
    assert article.published == date(2025, 2, 14)  # from <time datetime>
    assert article.language == "de"
    assert article.source_line == "energiewende.example.de, by Anna Becker"
    paragraphs = article.body.split("\n\n")
    assert paragraphs[-3].startswith("Der Übertragungsnetzbetreiber TransnetBW hat in Kupferzell")
    assert paragraphs[-1].endswith("auch an Standorten in Bayern und Niedersachsen.")
    assert "Impressum" not in article.body and "Weitere Meldungen" not in article.body
    assert [link.title for link in page.links] == [
        "Wasserstoff-Kernnetz von der Bundesnetzagentur genehmigt",
        "Offshore-Ausschreibung endet ohne ein einziges Gebot",
    ]


def test_press_release_on_a_corporate_site() -> None:
    page = parsed("press_release.html", RELEASE_URL)
    article = page.article
    assert article is not None
    assert article.title == "NorthGrid commissions 200 MW battery in Lincolnshire"
    assert article.published == date(2025, 1, 15)  # article:published_time
    assert article.source_line == "NorthGrid Energy, by NorthGrid Energy Press Office"
    assert article.body.startswith("Boston, Lincolnshire, 15 January 2025 – NorthGrid Energy")
    assert "Facebook" not in article.body and "Latest news" not in article.body
    assert [link.url for link in page.links] == [
        f"{NORTHGRID}/news/northgrid-secures-financing-for-three-scottish-projects",
        f"{NORTHGRID}/news/press-releases/2024/northgrid-appoints-new-chief-financial-officer",
    ]


# --- listing pages ---------------------------------------------------------------------


def test_home_page_is_a_listing_of_same_site_article_links() -> None:
    page = parsed("listing_home.html", f"{ESJ}/")
    assert page.article is None
    assert page.warnings == []
    assert [(link.url, link.title, link.published) for link in page.links] == [
        (  # image link, headline and "Read more": one link, titled by its headline
            WORDPRESS_URL,
            "TrendForce: solid-state batteries stay niche until 2030",
            date(2025, 3, 27),
        ),
        (  # absolute, fragment dropped
            f"{ESJ}/2025/03/26/ercot-battery-fleet-passes-10-gw/",
            "ERCOT battery fleet passes 10 GW",
            date(2025, 3, 26),
        ),
        (  # numeric id
            f"{ESJ}/news/448213/fluence-wins-order-for-australian-grid-battery",
            "Fluence wins order for Australian grid battery",
            None,
        ),
        (  # a long slug
            f"{ESJ}/sodium-ion-cells-enter-stationary-storage-market-in-china",
            "Sodium-ion cells enter stationary storage market in China",
            None,
        ),
        (  # ?p=NNN
            f"{ESJ}/index.php?p=48211",
            "Northvolt creditors weigh sale of Swedish plant",
            None,
        ),
    ]
    # Not followed: categories, tags, authors, login, search, the month archive, "Go", the
    # other site, the PDF, mailto, pagination, newsletter, privacy, about, social.


@pytest.mark.parametrize(
    "url",
    [
        f"{ESJ}/2025/03/27/trendforce-solid-state-batteries-2030-outlook/",
        f"{ESJ}/news/2025-03-27-trendforce-outlook",
        f"{ESJ}/news/20250327/trendforce",
        f"{ESJ}/news/448213",
        "https://www.gulfoilandgas.com/webpro1/main/mainnews.asp?id=1412301",
        f"{ESJ}/markets/sodium-ion-cells-enter-stationary-storage.html",
    ],
)
def test_article_shaped_urls(url: str) -> None:
    assert looks_like_article(url)


@pytest.mark.parametrize(
    "url",
    [
        f"{ESJ}/",
        f"{ESJ}/news/",
        f"{ESJ}/2025/03/",
        f"{ESJ}/2025/03/27/",
        f"{ESJ}/category/grid-scale-energy-storage-projects/",
        f"{ESJ}/tag/solid-state-batteries-and-beyond/",
        f"{ESJ}/author/petra-lindqvist-and-team-writers/",
        f"{ESJ}/terms-and-conditions-of-use/",
        f"{ESJ}/search/long-query-about-batteries-here",
        f"{ESJ}/page/2/",
        f"{ESJ}/?s=solid+state+battery+news+today",
        f"{ESJ}/wp-content/uploads/2025/03/annual-storage-market-report-2025.pdf",
        "mailto:news@example.com",
        "ftp://example.com/2025/03/27/file-of-many-words-here",
    ],
)
def test_urls_that_are_not_articles(url: str) -> None:
    assert not looks_like_article(url)


def test_page_without_articles_points_at_its_feeds() -> None:
    html = """<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">
        </head><body><p>Welcome.</p><a href="/about/">About us and our team</a></body></html>"""
    page = parse_generic(html, "https://quiet.example.com/")
    assert page.article is None and page.links == []
    assert page.warnings == [
        "generic: neither article text nor links to articles found: 1 link with a headline,"
        " none to an article's URL (e.g. /about/): article URLs have a date (/2025/01/07/,"
        " 2025-01-07), a number of 5 or more digits (/news/123456), an id=NNN query, or a last"
        " segment of 4 or more words (/news/equinor-starts-castberg-field), and are no tag,"
        " section or search pages; for a site whose URLs differ, write a profile"
        " (links.article); it announces feeds: https://quiet.example.com/atom.xml"
    ]


def test_a_section_page_with_short_slugs_says_which_links_were_turned_down() -> None:
    page = parsed("short_slugs_section.html", "https://www.kanto-energy.example/news/")
    assert page.article is None and page.links == []
    [warning] = page.warnings
    assert (
        "4 links with a headline, none to an article's URL (e.g. /news/kanto-ssb-pilot.html,"
        in (warning)
    )
    assert "/tag/batteries/" not in warning  # turned down for being a tag page: shown last
    assert "a last segment of 4 or more words" in warning and "links.article" in warning


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('<p>Hello.</p><a href="https://elsewhere.example/x">A story somewhere else</a>',
         "no links to other pages of example.com"),
        ('<a href="/a">Home</a> <a href="/2025/01/07/x">More</a>',
         "2 links to the same site, none with a headline (3 words or more) as its text"),
    ],
)  # fmt: skip
def test_why_no_links_qualified(body: str, why: str) -> None:
    page = parse_generic(f"<html><body>{body}</body></html>", "https://www.example.com/")
    assert page.warnings == [f"generic: neither article text nor links to articles found: {why}"]


# --- feed autodiscovery ------------------------------------------------------------------


def test_discover_feeds_on_a_home_page() -> None:
    html = (PAGES / "listing_home.html").read_text(encoding="utf-8")
    # RSS and Atom, made absolute; not the comments feed, oEmbed or the German edition.
    assert discover_feeds(html, f"{ESJ}/") == [f"{ESJ}/feed/", f"{ESJ}/feed/atom/"]


def test_discover_feeds_honours_base_and_rel_lists() -> None:
    html = """<html><head><base href="https://cdn.example.org/site/">
        <link rel="Alternate nofollow" type="application/RSS+XML; charset=utf-8" href="rss.xml">
        <link rel="alternate" type="application/rdf+xml" href="https://example.org/index.rdf">
        <link rel="alternate" type="application/rss+xml" href="rss.xml">
        <link rel="stylesheet" type="text/css" href="feed.css">
        <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
        </head><body></body></html>"""
    assert discover_feeds(html, "https://example.org/") == [
        "https://cdn.example.org/site/rss.xml",
        "https://example.org/index.rdf",
    ]


@pytest.mark.parametrize("html", ["", "no markup at all", "<html><body></body></html>"])
def test_discover_feeds_finds_none(html: str) -> None:
    assert discover_feeds(html, "https://example.org/") == []


# --- the built-in profiles ---------------------------------------------------------------


def test_generic_profile_through_parse_page() -> None:
    profile = load_profile("generic")
    assert isinstance(profile, GenericProfile)
    html = (PAGES / "press_release.html").read_text(encoding="utf-8")
    assert parse_page(html, RELEASE_URL, profile) == parsed("press_release.html", RELEASE_URL)


def test_profile_names_list_built_in_and_bundled_profiles() -> None:
    assert profile_names()[:2] == ["feed", "generic"]
    assert "gulfoilandgas" in profile_names()
    assert "generic" not in available_profiles()  # still the TOML files only
    with pytest.raises(ConfigError) as caught:
        load_profile("rss")
    assert "unknown profile 'rss' (available: feed, generic, gulfoilandgas" in str(caught.value)


# --- never raises ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "warning"),
    [
        ("", "page: empty"),
        ("just words, no markup", "page: not HTML (no markup found)"),
        ("<html><body><p>Short.</p></body></html>", "neither article text nor links"),
        ("\x00\x01\x02<p>\udcff binary junk</p>", None),
        ("<div>" * 5000 + "deep" + "</div>" * 5000, None),
        ('<a href="http://[::1/broken-ipv6-host-with-many-words">A link with many words</a>', None),
        ("<?xml version='1.0'?><rss><channel><item>feed</item></channel></rss>", None),
    ],
)
def test_never_raises(html: str, warning: str | None) -> None:
    page = parse_generic(html, "https://example.org/some-page")
    assert page.article is None
    if warning is not None:
        assert any(warning in w for w in page.warnings)


def test_a_teaser_cut_short_is_not_an_article_however_it_is_marked() -> None:
    html = (
        '<html><head><title>Shell sells unit | Desk</title><meta property="og:type"'
        ' content="article"></head><body><article><h1>Shell sells Nigerian onshore unit</h1>'
        "<p>Shell has agreed to sell its Nigerian onshore subsidiary to a group of five"
        " local companies for up to...</p><a href='/subscribe'>Subscribe to read more</a>"
        "</article></body></html>"
    )
    page = parse_generic(html, "https://desk.example/2025/04/02/shell-sells-nigerian-unit")
    assert page.article is None


def test_a_two_sentence_brief_is_an_article() -> None:
    html = (
        '<html><head><title>Shell sells unit | Desk</title></head><body><nav><a href="/">'
        "Home</a></nav><h1>Shell sells Nigerian onshore unit</h1><div><p>Shell has agreed to"
        " sell its Nigerian onshore subsidiary to five local companies.</p><p>Terms were not"
        " disclosed.</p></div></body></html>"
    )
    page = parse_generic(html, "https://desk.example/2025/04/02/shell-sells-nigerian-unit")
    assert page.article is not None
    assert page.article.title == "Shell sells Nigerian onshore unit"
    assert page.article.body.startswith("Shell has agreed")
