"""The feed profile: RSS 0.91, 1.0, 2.0 and Atom entries as links and articles; broken and
hostile XML; pages that are not feeds."""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from newswatch.models import Link
from newswatch.parse import FeedProfile, ParsedFeed, load_profile, parse_feed, parse_page

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
GENERIC = Path(__file__).parent / "fixtures" / "generic"
GRID_FEED = "https://gridstoragedaily.example.com/feed/"
GRID = "https://gridstoragedaily.example.com"


def read(name: str, encoding: str = "utf-8") -> str:
    return (FEEDS / name).read_text(encoding=encoding)


@pytest.fixture(scope="module")
def rss2() -> ParsedFeed:
    return parse_feed(read("rss2_energy.xml"), GRID_FEED)


# --- RSS 2.0 ---------------------------------------------------------------------------


def test_rss2_entries_become_links_with_absolute_urls(rss2: ParsedFeed) -> None:
    assert [link.url for link in rss2.page.links] == [
        f"{GRID}/2025/01/07/solid-state-battery-pilot-line-aichi/",
        f"{GRID}/2025/01/06/ercot-battery-additions/",  # relative <link>, made absolute
        f"{GRID}/2025/01/05/long-duration-storage-market/",  # from a permalink <guid>
    ]
    assert rss2.page.article is None
    assert rss2.page.warnings == ["feed: 1 entry without a link skipped"]


def test_rss2_link_fields_are_plain_text(rss2: ParsedFeed) -> None:
    first = rss2.page.links[0]
    assert first.title == "Solid-state battery pilot line opens in Aichi as METI backs scale-up"
    # The HTML <p> is gone and so is WordPress's "The post ... appeared first on ..." line.
    assert first.summary == (
        "A consortium led by a Japanese carmaker has opened a pilot line for sulfide "
        "solid-state cells, with a METI subsidy covering a third of the cost."
    )
    assert rss2.page.links[2].summary == (
        "Capacity markets were not designed for assets that discharge for ten hours or more."
    )


def test_rss2_dates_are_the_publishers_own_day(rss2: ParsedFeed) -> None:
    # "Tue, 07 Jan 2025 23:30:00 -0500" is already 8 January in UTC; the site shows the 7th.
    assert [link.published for link in rss2.page.links] == [
        date(2025, 1, 7),
        date(2025, 1, 6),
        date(2025, 1, 5),
    ]


def test_rss2_entry_with_full_content_is_an_article(rss2: ParsedFeed) -> None:
    assert len(rss2.articles) == 1  # the others carry teasers only: the pipeline fetches them
    article = rss2.articles[0]
    assert article.url == rss2.page.links[0].url
    assert article.title == rss2.page.links[0].title
    assert article.published == date(2025, 1, 7)
    assert article.language == "en"
    assert article.source_line == "Grid & Storage Daily, by Mariko Tanaka"
    paragraphs = article.body.split("\n\n")
    assert paragraphs[0].startswith("A consortium led by a Japanese carmaker has opened")
    assert "400 Wh/kg at the cell level" in paragraphs[1]  # &nbsp; is a plain space
    assert "Subsidy and supply chain" in paragraphs
    assert paragraphs[-1] == (
        "METI approved the subsidy under its battery supply-chain programme last year. "
        "Lithium sulfide, the key precursor for the electrolyte, will come from a domestic "
        "chemicals supplier. Production of the precursor is due to triple by 2026."
    )
    assert "trackView" not in article.body
    assert "appeared first on" not in article.body
    assert "<" not in article.body


def test_feed_profile_through_parse_page(rss2: ParsedFeed) -> None:
    profile = load_profile("feed")
    assert isinstance(profile, FeedProfile)
    page = parse_page(read("rss2_energy.xml"), GRID_FEED, profile)
    assert page.links == rss2.page.links


# --- Atom, RSS 1.0, RSS 0.91 -------------------------------------------------------------


def test_atom_entries_links_and_articles() -> None:
    parsed = parse_feed(read("atom_battery.xml"), "https://batteryinsight.example.org/atom.xml")
    assert parsed.page.warnings == []
    first, second = parsed.page.links
    # Relative to xml:base; the title's HTML (<em>) reduced to its text.
    assert first == Link(
        url="https://batteryinsight.example.org/news/2025/03/trendforce-solid-state-outlook",
        title="TrendForce: solid-state cells to reach 1% of EV batteries by 2030 at best",
        summary="TrendForce expects solid-state cells to stay a niche product this decade.",
        published=date(2025, 3, 27),  # 23:45 at +01:00, its own day
    )
    assert second.published == date(2025, 3, 26)  # no <published>: <updated>
    assert (
        second.summary
        == "Bidders are circling the Skellefteå site.\n\nA decision is expected in April."
    )
    (article,) = parsed.articles
    assert article.url == first.url
    assert article.language == "en"  # xml:lang="en-GB"
    assert article.source_line == "Battery Insight, by Petra Lindqvist"
    assert article.body.split("\n\n")[2:4] == [
        "2027: first small-series vehicles",
        "2030: about 1% share",
    ]


def test_rss1_rdf_feed_in_latin1() -> None:
    text = (FEEDS / "rss1_rdf.xml").read_bytes().decode("iso-8859-1")
    parsed = parse_feed(text, "https://energiewende.example.de/rss.rdf")
    assert parsed.page.warnings == []
    assert [(link.title, link.published) for link in parsed.page.links] == [
        ("Netzbooster in Kupferzell geht in Betrieb", date(2025, 2, 14)),
        ("Wasserstoff-Kernnetz genehmigt", date(2024, 10, 22)),
    ]
    assert parsed.page.links[0].summary == (
        "Der Großbatteriespeicher soll Engpässe im Übertragungsnetz entschärfen."
    )
    assert parsed.articles == []


def test_rss091_with_html_entities_parses_cleanly() -> None:
    # RSS 0.91 takes &eacute; and friends from its (never fetched) DTD.
    parsed = parse_feed(
        read("rss091.xml", "iso-8859-1"), "http://www.pipelinebulletin.example.com/"
    )
    assert parsed.page.warnings == []
    assert [link.url for link in parsed.page.links] == [
        "http://www.pipelinebulletin.example.com/news.asp?id=20871",
        "http://www.pipelinebulletin.example.com/news.asp?id=20870",
    ]
    assert parsed.page.links[1].title == "Nord Stream 2 operator's assets sold"
    assert parsed.page.links[1].summary == (
        "The Swiss-registered company's assets went to a société in Zug – for a fraction of "
        "their cost."
    )


def test_long_plain_summary_makes_an_article_and_a_short_teaser() -> None:
    paragraph = "Grid operators added record battery capacity in the quarter. " * 6
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
        <item><title>Record quarter for batteries</title><link>https://wire.example.com/a-1</link>
        <description>{paragraph}&lt;p&gt;{paragraph}&lt;/p&gt;&lt;p&gt;{paragraph}&lt;/p&gt;</description>
        </item></channel></rss>"""
    parsed = parse_feed(feed, "https://wire.example.com/rss")
    (article,) = parsed.articles
    assert len(article.body.split("\n\n")) == 3
    assert parsed.page.links[0].summary == paragraph.strip()  # cut to the first paragraph


# --- broken and hostile XML ------------------------------------------------------------------


def test_broken_feed_is_read_as_far_as_it_goes_and_says_so() -> None:
    parsed = parse_feed(read("broken_rss.xml"), "https://offshorewire.example.net/rss")
    # The unclosed <b> in the channel swallows the first item; the second is still read.
    assert [link.url for link in parsed.page.links] == [
        "https://offshorewire.example.net/news/floating-wind-tender-seven-bidders-20250303"
    ]
    assert parsed.page.links[0].published == date(2025, 3, 3)
    (warning,) = parsed.page.warnings
    assert warning.startswith("feed: malformed XML (not well-formed (invalid token) at line 4)")
    assert warning.endswith("read leniently, 1 of 2 entries found")


MALICIOUS = [
    "billion_laughs.xml",
    "billion_laughs_markup_in_dtd.xml",  # gets past feedparser's own DOCTYPE scrubber
    "xxe_passwd.xml",
    "xxe_passwd_markup_in_dtd.xml",
    "xxe_parameter_entity.xml",
]


def everything_said(parsed: ParsedFeed) -> str:
    page = parsed.page
    texts = [link.title or "" for link in page.links] + [link.summary or "" for link in page.links]
    texts += [article.body for article in parsed.articles] + page.warnings
    return "\n".join(texts)


@pytest.mark.parametrize("name", MALICIOUS)
def test_entity_attacks_are_harmless(name: str) -> None:
    """feedparser and expat stop most of these on their own, but the bomb with markup in its
    DTD gets past feedparser's scrubber and makes expat expand some 57 MB before its
    amplification limit (where the linked expat has one) cuts it off. Here it never starts."""
    text = read(name)
    tracemalloc.start()
    try:
        parsed = parse_feed(text, "https://attacker.example.com/feed")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024
    said = everything_said(parsed)
    assert said.count("lol") < 10  # no expansion
    assert "root:" not in said  # no /etc/passwd
    assert len(said) < 1000
    assert any("XML entity declarations ignored" in w for w in parsed.page.warnings)
    # The entry itself is still there: the attack costs the attacker, not the reader.
    assert len(parsed.page.links) == 1
    assert parsed.page.links[0].url.startswith("https://attacker.example.com/2025/01/")


@pytest.mark.parametrize("markup_in_dtd", [False, True])
def test_external_entity_never_reads_a_local_file(tmp_path: Path, markup_in_dtd: bool) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    extra = '<!ENTITY bold "<b>">' if markup_in_dtd else ""
    feed = f"""<?xml version="1.0"?>
<!DOCTYPE rss [ {extra}<!ENTITY leak SYSTEM "{secret.as_uri()}"> ]>
<rss version="2.0"><channel><title>t &leak;</title>
<item><title>Entry &leak;</title><link>https://attacker.example.com/e-12345</link>
<description>Before &leak; after, long enough to matter. {"x " * 400}</description></item>
</channel></rss>"""
    parsed = parse_feed(feed, "https://attacker.example.com/feed")
    assert "TOP-SECRET" not in everything_said(parsed)
    assert len(parsed.page.links) == 1


def test_text_that_is_a_file_name_is_never_opened(tmp_path: Path) -> None:
    # feedparser.parse(str) opens a str that names a file (or fetches one that is a URL).
    feed_file = tmp_path / "feed.xml"
    feed_file.write_text(read("rss2_energy.xml"), encoding="utf-8")
    for text in (str(feed_file), feed_file.as_uri(), "/etc/passwd"):
        parsed = parse_feed(text, "https://example.com/feed")
        assert parsed.page.links == []
        assert parsed.page.warnings == ["feed: not an RSS or Atom feed"]


# --- not feeds -----------------------------------------------------------------------------


def test_a_web_page_is_read_by_the_generic_profile() -> None:
    html = (GENERIC / "article_wordpress.html").read_text(encoding="utf-8")
    url = "https://www.energystoragejournal.example.com/2025/03/27/trendforce-solid-state-batteries-2030-outlook/"
    parsed = parse_feed(html, url)
    assert parsed.page.article is not None
    assert parsed.page.article.title == "TrendForce: solid-state batteries stay niche until 2030"
    assert parsed.articles == []


def test_a_web_page_that_is_no_article_says_it_is_not_a_feed() -> None:
    html = (GENERIC / "listing_home.html").read_text(encoding="utf-8")
    parsed = parse_feed(html, "https://www.energystoragejournal.example.com/")
    assert parsed.page.links  # its article links, as the generic profile finds them
    assert parsed.not_a_feed == (
        "not an RSS or Atom feed but a web page; it announces feeds:"
        " https://www.energystoragejournal.example.com/feed/,"
        " https://www.energystoragejournal.example.com/feed/atom/ (use one as the source's url)"
    )
    assert parsed.page.warnings[-1] == f"feed: {parsed.not_a_feed} (read as a web page)"


def test_a_web_page_without_feeds_says_so() -> None:
    html = "<html><body><h1>Maintenance</h1><p>Back soon.</p></body></html>"
    parsed = parse_feed(html, "https://example.com/feed")
    assert parsed.not_a_feed is not None
    assert 'it announces no feed (use the site\'s feed as url, or profile = "generic")' in (
        parsed.not_a_feed
    )


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("", "page: empty"),
        ("   \n", "page: empty"),
        ('{"version": "https://jsonfeed.org/version/1.1", "items": []}', "JSON Feed"),
        (
            '<?xml version="1.0"?><urlset><url><loc>https://x.example/</loc></url></urlset>',
            "not an RSS or Atom feed",
        ),
    ],
)
def test_nothing_to_read(text: str, warning: str) -> None:
    parsed = parse_feed(text, "https://example.com/feed")
    assert parsed.page.links == [] and parsed.articles == []
    assert warning in parsed.page.warnings[-1]


@pytest.mark.parametrize(
    "text",
    [
        "<rss version='2.0'><channel><item><title>cut off",
        "\x00\x01\x02<rss>\udcff</rss>",
        "<feed xmlns='http://www.w3.org/2005/Atom'>" + "<entry><title>x</title>" * 2000,
        '<rss version="2.0"><channel><item><link>http://[::1/</link><title>bad</title></item>'
        "</channel></rss>",
        '<rss version="2.0"><channel><item><pubDate>Mon, 99 Foo 2025</pubDate><link>https://x.example/a</link></item></channel></rss>',
    ],
)
def test_never_raises(text: str) -> None:
    parsed = parse_feed(text, "https://example.com/feed")
    assert isinstance(parsed.page.warnings, list)
