"""The bundled gulfoilandgas profile on hand-written pages modelled on the real site.

The seed article (a real page as a reader sees it) must come out exactly: title, dateline,
the four body paragraphs and the six ticker items. The other fixtures are the ways real
pages go wrong; each must yield what is there plus a warning that names what is not.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from newswatch.fetch import decode_html
from newswatch.models import Link, Page, TickerItem
from newswatch.parse import load_profile, parse_page

FIXTURES = Path(__file__).parent / "fixtures" / "gulfoilandgas"
SITE = "https://www.gulfoilandgas.com/webpro1/main/"
ARTICLE_URL = SITE + "mainnews.asp?id=1389532"
PROFILE = load_profile("gulfoilandgas")
EXPECTED = json.loads((FIXTURES / "article_1389532.expected.json").read_text(encoding="utf-8"))
SEED_BODY = "\n\n".join(EXPECTED["body_paragraphs"])
SEED_TICKER = [
    TickerItem(
        url=item["url"],
        text=item["text"],
        region=item["region"],
        published=date.fromisoformat(item["published"]),
    )
    for item in EXPECTED["ticker"]
]


def parse_fixture(name: str, url: str = ARTICLE_URL, content_type: str | None = None) -> Page:
    return parse_page(decode_html((FIXTURES / name).read_bytes(), content_type), url, PROFILE)


def by_url(items: list[TickerItem]) -> dict[str, TickerItem]:
    return {item.url: item for item in items}


# --- the seed article --------------------------------------------------------------------


def test_the_windows_1252_fixture_really_is_windows_1252() -> None:
    raw = (FIXTURES / "article_1389532_cp1252.html").read_bytes()
    assert b"\x92" in raw and b"\x93" in raw and b"\x94" in raw  # ’ “ ”
    assert b"charset=windows-1252" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_the_utf8_fixture_declares_no_charset_and_still_decodes_right() -> None:
    raw = (FIXTURES / "article_1389532_utf8.html").read_bytes()
    assert b"charset" not in raw.lower()
    text = decode_html(raw, None)
    assert "Japan’s Subsidy" in text
    assert "â€" not in text  # no mojibake


@pytest.mark.parametrize("fixture", ["article_1389532_cp1252.html", "article_1389532_utf8.html"])
def test_seed_article_comes_out_exactly(fixture: str) -> None:
    page = parse_fixture(fixture)
    article = page.article
    assert article is not None
    assert article.url == EXPECTED["url"]
    assert article.title == EXPECTED["title"]
    assert article.published == date(2025, 1, 5)
    assert article.location == "Asia"
    assert article.source_line == "www.gulfoilandgas.com"
    assert article.language == "en"
    assert article.body.split("\n\n") == EXPECTED["body_paragraphs"]
    assert article.body == SEED_BODY
    assert page.warnings == []


@pytest.mark.parametrize("fixture", ["article_1389532_cp1252.html", "article_1389532_utf8.html"])
def test_seed_ticker_items_come_out_exactly(fixture: str) -> None:
    page = parse_fixture(fixture)
    assert page.ticker == SEED_TICKER


def test_body_has_no_menus_ads_scripts_ticker_or_footer() -> None:
    article = parse_fixture("article_1389532_cp1252.html").article
    assert article is not None
    body = article.body
    for junk in (
        "Projects",  # top menu
        "Advertisement",  # inline ad
        "google_ad",  # inline script
        "sharebox",  # inline style
        "Share this article",
        "Twitter",
        ">>",  # ticker lines
        "BHP Group",
        "The decis",  # a ticker teaser's second line
        "Most Read",
        "Copyright",
        "Source:",  # the dateline is not body either
        "  ",
    ):
        assert junk not in body, junk
    assert not body.startswith(("\n", " ")) and not body.endswith(("\n", " "))
    assert "\n\n\n" not in body


def test_article_page_links_are_the_other_articles_only() -> None:
    page = parse_fixture("article_1389532_cp1252.html")
    assert page.links == [
        Link(SITE + "mainnews.asp?id=1404001", "Aramco Awards Offshore Maintenance Contracts"),
        Link(SITE + "mainnews.asp?id=1404002", "QatarEnergy Signs Long-Term LNG Supply Deal"),
        Link(SITE + "mainnews.asp?id=1403990", "ADNOC Gas Posts Record Quarterly Profit"),
    ]


def test_a_saved_file_resolves_links_against_the_profiles_site() -> None:
    page = parse_fixture("article_1389532_utf8.html", url="file:///tmp/saved.html")
    assert page.article is not None and page.article.title == EXPECTED["title"]
    assert [item.url for item in page.ticker] == [item.url for item in SEED_TICKER]


# --- listings ----------------------------------------------------------------------------


def test_home_listing_gives_every_item_with_its_facts() -> None:
    page = parse_fixture(
        "newshome.html", SITE + "newshome.asp", content_type="text/html; charset=windows-1252"
    )
    assert page.article is None
    assert page.ticker == []
    first = page.links[0]
    assert first == Link(
        url=ARTICLE_URL,
        title=EXPECTED["title"],
        summary="According to TrendForce’s latest “Development Trends of Solid-State Battery "
        "Market (2025)”, the Japanese government aims ...",
        region="Asia",
        published=date(2025, 1, 5),
    )
    assert [(link.url, link.region, link.published) for link in page.links[1:8]] == [
        (SITE + "mainnews.asp?id=1389530", "Saudi Arabia", date(2025, 1, 5)),
        (
            SITE + "mainnews.asp?id=1389527&utm_source=home&utm_medium=list",
            "Norway",
            date(2025, 1, 4),
        ),
        (SITE + "mainnews.asp?id=1389519", "Qatar", date(2025, 1, 4)),
        (SITE + "mainnews.asp?id=1389511", "United Arab Emirates", date(2025, 1, 3)),
        (SITE + "mainnews.asp?id=1389502", "Cyprus", date(2025, 1, 3)),
        (SITE + "mainnews.asp?id=1389498", "Brazil", date(2025, 1, 2)),
        (SITE + "mainnews.asp?id=1389490", "Brazil", date(2025, 1, 2)),
    ]
    assert page.links[3].summary is None
    assert page.links[4].title == "ADNOC Drilling Wins $1.7 Billion Rig Contract"
    # the sidebar adds one story; the seed story it repeats is not listed twice
    assert page.links[8:] == [
        Link(SITE + "mainnews.asp?id=1388001", "OPEC+ Extends Output Cuts to End of 2025")
    ]
    assert page.warnings == [
        "listing.summary: no selector matched (td.newssubblock, .newssubblock) in 1 of 8 items",
        "listing.title: a.newslinkgog b matched nothing in 1 of 8 items",
    ]


def test_region_listing_honours_base_href_and_reads_a_line_without_its_span() -> None:
    page = parse_fixture(
        "newslist_ME.html", "http://gulfoilandgas.com/webpro1/main/newslist.asp?id=ME"
    )
    assert page.article is None
    assert [(link.url, link.region, link.published) for link in page.links] == [
        (SITE + "mainnews.asp?id=1405790", "Oman", date(2025, 3, 26)),
        (SITE + "mainnews.asp?id=1405771", "Kuwait", date(2025, 3, 25)),
        (SITE + "mainnews.asp?id=1405760", "Iraq", date(2025, 3, 25)),
        (SITE + "mainnews.asp?id=1405744", "Bahrain", date(2025, 3, 24)),
        (SITE + "mainnews.asp?id=1405731", "Israel", date(2025, 3, 24)),
    ]
    assert page.links[0].title == "Oman’s OQ Awards EPC Contract for Duqm Ammonia Plant"
    assert page.warnings == [
        "listing.meta: no selector matched (span.lblues); found by pattern in the item text"
        " in 1 of 5 items"
    ]


# --- pages with parts missing or broken --------------------------------------------------


def test_no_dateline_still_gives_the_article_and_says_what_is_missing() -> None:
    page = parse_fixture("article_no_dateline.html")
    article = page.article
    assert article is not None
    assert article.title == "Everen Announces $350 Million Dividend"
    assert (article.published, article.location, article.source_line) == (None, None, None)
    assert article.body.split("\n\n") == [
        "Everen Limited today announced a dividend of $350 million, affirming Everen’s "
        "commitment to delivering value to its shareholders.",
        "The decision reflects the company’s financial strength and its disciplined approach "
        "to capital management, the company said in a statement.",
        "Everen provides insurance and risk management services to the energy industry.",
    ]
    assert len(page.ticker) == 1
    assert page.warnings == [
        "article.dateline: no selector matched (div.newsdate, .newsdate); "
        "pattern not found in the text"
    ]


def test_no_body_container_falls_back_and_keeps_the_ticker_out_of_the_body() -> None:
    page = parse_fixture("article_no_body_container.html")
    article = page.article
    assert article is not None
    assert article.body == SEED_BODY
    assert (article.published, article.location) == (date(2025, 1, 5), "Asia")
    expected = by_url(SEED_TICKER)
    assert page.ticker == [
        expected[SITE + "mainnews.asp?id=1405811"],
        expected[SITE + "mainnews.asp?id=1405812"],  # region beside the link, not in it
        TickerItem(
            url=SITE + "mainnews.asp?id=1405820",
            text=expected[SITE + "MainNews.asp?id=1405820"].text,
            region="France",
            published=date(2025, 3, 27),
        ),
    ]
    assert page.warnings == [
        "article.body: div.newsbodytext, .newsbodytext, div.newsbody matched nothing; "
        "used td.maincol"
    ]


def test_title_only_in_head_uses_it_without_the_site_suffix() -> None:
    page = parse_fixture("article_title_only_in_head.html")
    article = page.article
    assert article is not None
    assert article.title == "Golar LNG Files 2024 Annual Report on Form 20-F"
    assert (article.published, article.location) == (date(2025, 3, 27), "Bermuda")
    assert article.body.endswith("The annual report can be downloaded from the company’s website.")
    assert page.ticker == [by_url(SEED_TICKER)[SITE + "mainnews.asp?id=1405809"]]
    assert page.warnings == [
        "article.title: h1.newsheading, .newsheading, td.maincol h1, h1 matched nothing;"
        " used <title> with the site's name removed"
    ]


def test_unclosed_tags_swallowing_the_ticker_into_the_body_div() -> None:
    page = parse_fixture("article_unclosed_tags.html")
    article = page.article
    assert article is not None
    assert article.title == EXPECTED["title"]
    assert article.published == date(2025, 1, 5)
    assert article.body == SEED_BODY
    expected = by_url(SEED_TICKER)
    assert [(item.region, item.text) for item in page.ticker] == [
        ("Australia", expected[SITE + "mainnews.asp?id=1405811"].text),
        ("Bermuda", expected[SITE + "mainnews.asp?id=1405812"].text),
        ("Canada", expected[SITE + "mainnews.asp?id=1405815&utm_source=ticker"].text),
    ]
    assert page.warnings == []


def test_missing_ticker_is_reported_on_an_article_page() -> None:
    page = parse_fixture("article_no_ticker.html")
    assert page.article is not None and page.article.location == "France"
    assert page.ticker == []
    assert page.warnings == ["ticker: no line matched ticker.pattern"]


def test_a_ticker_line_with_an_impossible_date_is_kept_undated_with_a_warning() -> None:
    page = parse_fixture("article_bad_ticker_date.html")
    finland, france = page.ticker
    assert finland.region == "Finland"
    assert finland.published is None
    assert finland.text.startswith("Stora Enso has published its annual Green")
    assert finland.url == SITE + "mainnews.asp?id=1405801"
    assert france.published == date(2025, 3, 27)
    [warning] = page.warnings
    assert warning.startswith("ticker: cannot read the date '13/45/2025' (formats: %m/%d/%Y)")
    assert "Finland" in warning


def test_empty_page() -> None:
    assert parse_fixture("empty.html") == Page(url=ARTICLE_URL, warnings=["page: empty"])


def test_a_server_error_page_is_neither_article_nor_listing() -> None:
    page = parse_fixture("iis_error.html")
    assert page.article is None and page.links == [] and page.ticker == []
    assert (
        "article.body: no selector matched (div.newsbodytext, .newsbodytext, div.newsbody, "
        "td.maincol)"
    ) in page.warnings
    assert "listing.items: no selector matched (div.newsblock, table.newsblock)" in page.warnings
    assert page.warnings[-1] == "page: neither an article (needs title and body) nor a listing"


def test_a_binary_blob_is_not_html() -> None:
    page = parse_fixture("not_html.bin")
    assert page == Page(url=ARTICLE_URL, warnings=["page: not HTML (no markup found)"])


@pytest.mark.parametrize(
    "html",
    [
        '{"error": "not found"}',
        "<" * 500,
        '<?xml version="1.0"?><rss><channel><item><title>x</title></item></channel></rss>',
        "<html><body><h1 class=newsheading>T\ud800</h1><div class=newsbodytext>b</div>",
        '<a href="http://[::1">x</a><a href="javascript:go()">y</a><base href="http://[bad">',
        "<html><body><div class=newsbodytext>" + "<font>" * 3000 + "deep text",
        "<td class=maincol>" + "<p>Asia >> 1/5/2025 - x<br>" * 300,
    ],
    ids=["json", "angles", "xml", "surrogate", "bad-urls", "deep-nesting", "ticker-only"],
)
def test_garbage_never_raises(html: str) -> None:
    page = parse_page(html, ARTICLE_URL, PROFILE)
    assert page.url == ARTICLE_URL
    assert page.warnings


def test_deeply_nested_text_is_still_found() -> None:
    html = "<title>Deep - Gulf Oil and Gas News</title><div class=newsbodytext>" + "<font>" * 3000
    page = parse_page(html + "deep text", ARTICLE_URL, PROFILE)
    assert page.article is not None and page.article.body == "deep text"
