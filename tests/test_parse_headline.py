"""Headline choice, site-name removal and canonical URLs, on pages written here."""

from __future__ import annotations

from newswatch.models import Link, PageHints
from newswatch.parse.generic import html_tree
from newswatch.parse.headline import choose_headline, describe, same_site_canonical, strip_site_name

URL = "https://www.northern-review.example/2025/04/02/story"


def description(head: str) -> object:
    tree = html_tree(f"<html><head>{head}</head><body><p>x</p></body></html>", [])
    assert tree is not None
    return describe(tree, URL)


def test_the_site_name_goes_wherever_it_stands() -> None:
    names = ["Northern Review"]
    assert strip_site_name("Northern Review - Wind farm approved", names) == "Wind farm approved"
    assert strip_site_name("Wind farm approved | Northern Review", names) == "Wind farm approved"
    assert strip_site_name("Wind farm approved :: NORTHERN REVIEW", names) == "Wind farm approved"
    assert strip_site_name("A 15-Year Deal - Not Ours", names) == "A 15-Year Deal - Not Ours"


def test_the_site_name_is_learned_from_the_sites_other_titles() -> None:
    page = description("<title>Northern Review » Wind farm approved</title>")
    hints = PageHints(site_titles=("Northern Review | Home of energy news",))
    headline = choose_headline(None, page, hints, URL)  # type: ignore[arg-type]
    assert headline is not None and headline.text == "Wind farm approved"


def test_a_site_wide_title_is_never_a_headline_and_the_listing_title_is_used() -> None:
    page = description("<title>Northern Review | Home of energy news</title>")
    listing = "Northern Review | Home of energy news"
    alone = choose_headline(None, page, PageHints(site_titles=(listing,)), URL)  # type: ignore[arg-type]
    assert alone is None
    hints = PageHints(link=Link(URL, title="Wind farm approved"), site_titles=(listing,))
    found = choose_headline(None, page, hints, URL)  # type: ignore[arg-type]
    assert found is not None and found.fallback == "the title the listing or feed gave the link"


def test_og_title_and_json_ld_come_before_the_listing() -> None:
    page = description(
        '<meta property="og:title" content="Wind farm approved in Lofoten">'
        '<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",'
        ' "headline": "JSON-LD headline"}]}</script>'
    )
    hints = PageHints(link=Link(URL, title="Listing title"))
    found = choose_headline(None, page, hints, URL)  # type: ignore[arg-type]
    assert found is not None and found.text == "Wind farm approved in Lofoten"


def test_only_a_same_site_canonical_is_followed() -> None:
    same = description('<link rel="canonical" href="https://northern-review.example/wind">')
    assert same_site_canonical(same, URL) == "https://northern-review.example/wind"  # type: ignore[arg-type]
    other = description('<link rel="canonical" href="https://partner.example/wind">')
    assert same_site_canonical(other, URL) is None  # type: ignore[arg-type]
    front = description('<meta property="og:url" content="https://www.northern-review.example/">')
    assert same_site_canonical(front, URL) is None  # type: ignore[arg-type]


def test_a_title_the_page_does_not_show_gives_way_to_its_heading() -> None:
    page = description("<title>Northern Review | Oil &amp; Gas Today</title>")
    shown = "Menu\nWind farm approved in Lofoten\nThe council approved the farm on Monday."
    found = choose_headline(  # type: ignore[arg-type]
        None, page, None, URL, page_text=lambda: shown, headings=["Wind farm approved in Lofoten"]
    )
    assert found is not None and found.text == "Wind farm approved in Lofoten"
    shown_title = choose_headline(  # type: ignore[arg-type]
        None, page, None, URL, page_text=lambda: "Oil & Gas Today " + shown, headings=["Menu"]
    )
    assert shown_title is not None and shown_title.text == "Oil & Gas Today"
