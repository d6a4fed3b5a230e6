"""Profiles as data: loading and checking TOML, and one engine applying any profile.

A made-up site (tests/fixtures/profiles/examplenews.*) that shares nothing with
gulfoilandgas shows that all site knowledge lives in the profile.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from newswatch.errors import ConfigError
from newswatch.models import Link, TickerItem
from newswatch.parse import Profile, available_profiles, load_profile, parse_page

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "profiles"
HOME = "https://news.example.org"
STORY_URL = HOME + "/news/2025/equinor-starts-johan-castberg"
STORY_BODY = [
    "Equinor and its partners have started production from the Johan Castberg field in the "
    "Barents Sea.",
    "The field is expected to produce 220,000 barrels of oil per day at plateau.",
    "Partners are Vår Energi and Petoro.",
]


def example_profile() -> Profile:
    return load_profile(EXAMPLE / "examplenews.toml")


def example_page(name: str) -> str:
    return (EXAMPLE / name).read_text(encoding="utf-8")


# --- loading -----------------------------------------------------------------------------


def test_gulfoilandgas_is_bundled() -> None:
    assert "gulfoilandgas" in available_profiles()


@pytest.mark.parametrize("name", available_profiles())
def test_every_bundled_profile_loads_under_its_own_name(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.path.endswith(f"{name}.toml")


def test_a_profile_file_loads_by_path_or_by_string() -> None:
    by_path = example_profile()
    by_string = load_profile(str(EXAMPLE / "examplenews.toml"))
    assert by_path.name == by_string.name == "examplenews"
    assert by_path.date_formats == ("%d %B %Y", "%Y-%m-%d")


def test_profiles_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        example_profile().name = "other"  # type: ignore[misc]


def test_unknown_profile_name_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("nope")
    message = str(caught.value)
    assert "unknown profile 'nope'" in message
    assert "gulfoilandgas" in message


def test_missing_profile_file(tmp_path: Path) -> None:
    missing = tmp_path / "mine.toml"
    with pytest.raises(ConfigError) as caught:
        load_profile(missing)
    assert str(caught.value) == f"{missing}: no such profile file"


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "my-site.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_profile(path).name == "my-site"


MINIMAL = """
[links]
article = ['^/story/\\d+$']

[article]
title = ["h1"]
body = ["div.text"]
"""


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("titel = 'x'\n" + MINIMAL, "titel", "unknown key (expected one of: name,"),
        (MINIMAL.replace("[article]", "[artcle]"), "artcle", "unknown key"),
        (MINIMAL.replace('title = ["h1"]', 'titel = ["h1"]'), "article.titel", "unknown key"),
        (
            MINIMAL.replace('body = ["div.text"]', 'body = { selectors = ["p"], remve = ["x"] }'),
            "article.body.remve",
            "unknown key",
        ),
        (
            MINIMAL.replace("article = ['^/story/\\d+$']", "article = 5"),
            "links.article",
            "expected a string or an array of strings, got integer",
        ),
        (
            MINIMAL + "[ticker]\npattern = '(?P<text>.+'\n",
            "ticker.pattern",
            "bad regular expression '(?P<text>.+': missing ), unterminated subpattern",
        ),
        (
            MINIMAL.replace('title = ["h1"]', 'title = ["h1[class"]'),
            "article.title",
            "bad CSS selector 'h1[class': Operator expected, got <EOF at 8>",
        ),
        (
            MINIMAL.replace(
                'title = ["h1"]',
                "title = [\"h1\"]\ndateline = { selectors = ['p.by'], pattern = '(?P<when>\\d+)' }",
            ),
            "article.dateline.pattern",
            "unknown named group 'when' (allowed: date, location, source)",
        ),
        (
            MINIMAL + "[ticker]\npattern = '(?P<region>\\w+) >>'\n",
            "ticker.pattern",
            "needs named groups (?P<name>...) among: text",
        ),
        (
            MINIMAL + '[dates]\nformats = ["%m/%Y"]\n',
            "dates.formats",
            "date format '%m/%Y' does not give day, month and year",
        ),
        (MINIMAL + '[dates]\nformats = ["%Q"]\n', "dates.formats", "bad date format '%Q'"),
        (
            MINIMAL + "[ticker]\npattern = '(?P<date>\\S+) (?P<text>.+)'\n",
            "dates.formats",
            "missing: needed to read ticker.pattern's date",
        ),
        (MINIMAL.split("[article]")[0], "article", "missing"),
        (
            MINIMAL.replace(
                'body = ["div.text"]', 'body = { selectors = ["p"], max_link_density = 2 }'
            ),
            "article.body.max_link_density",
            "expected a number from 0 to 1, got 2",
        ),
        ("site = 'www.example.com'\n" + MINIMAL, "site", "expected an http(s) URL"),
        (
            MINIMAL.replace('title = ["h1"]', "title = { selectors = ['h1'], pattern = 'x' }"),
            "article.title.pattern",
            "unknown key",
        ),
        (MINIMAL + '[listing]\nlink = ["a"]\n', "listing.items", "missing"),
        (
            MINIMAL.replace("[article]", "same_host = 'yes'\n[article]"),
            "links.same_host",
            "expected true or false, got string",
        ),
        ("article = 'h1'\n" + MINIMAL.split("[article]")[0], "article", "expected a table"),
    ],
    ids=[
        "unknown-top-key",
        "misspelt-table-is-unknown-not-missing",
        "misspelt-key-is-unknown-not-missing",
        "unknown-nested-key",
        "wrong-type",
        "bad-regex",
        "bad-selector",
        "unknown-group",
        "ticker-needs-text",
        "partial-date-format",
        "bad-date-directive",
        "date-group-needs-formats",
        "missing-article",
        "density-out-of-range",
        "site-not-a-url",
        "pattern-where-none-applies",
        "listing-needs-items",
        "bool-expected",
        "table-expected",
    ],
)
def test_profile_errors_name_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.path, error.key) == (path, key)
    assert str(error).startswith(f"{path}: {key}: ")
    assert fragment in error.message


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[links\narticle = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path}: not valid TOML: ")


# --- the engine on another site ----------------------------------------------------------


def test_example_site_article() -> None:
    page = parse_page(example_page("examplenews_article.html"), STORY_URL, example_profile())
    article = page.article
    assert article is not None
    assert article.title == "Equinor starts production at Johan Castberg"
    assert article.published == date(2025, 3, 27)
    assert (article.location, article.source_line, article.language) == (
        "Stavanger",
        "Kari Nordmann",
        "en-GB",
    )
    assert article.body.split("\n\n") == STORY_BODY
    assert page.ticker == [
        TickerItem(
            HOME + "/news/2025/aker-bp-yggdrasil-update",
            "Aker BP updates Yggdrasil schedule",
            "NORWAY",
            date(2025, 3, 26),
        ),
        TickerItem(
            HOME + "/news/2025/orsted-hornsea-3-milestone",
            "Ørsted reaches Hornsea 3 milestone",
            "DENMARK",
            date(2025, 3, 25),
        ),
    ]  # the wire line linking to another host is not ours
    assert page.links == [
        Link(HOME + "/news/2025/barents-sea-licences", "Barents Sea licences"),
        Link(HOME + "/news/2025/most-read-neptune-energy", "Most read: Neptune Energy sale closes"),
    ]
    assert page.warnings == []


def test_example_site_listing() -> None:
    page = parse_page(example_page("examplenews_listing.html"), HOME + "/", example_profile())
    assert page.article is None
    assert page.links == [
        Link(
            STORY_URL,
            "Equinor starts production at Johan Castberg",
            "First oil from the Barents Sea field.",
            "Norway",
            date(2025, 3, 27),
        ),
        Link(
            HOME + "/news/2025/aker-bp-yggdrasil-update",
            "Aker BP updates Yggdrasil schedule",
            "First gas now expected in 2027.",
            "Norway",
            date(2025, 3, 26),
        ),
        Link(
            HOME + "/news/2025/orsted-hornsea-3-milestone",
            "Ørsted reaches Hornsea 3 milestone",
            "Monopile installation completed.",
            "Denmark",
            date(2025, 3, 25),
        ),
    ]
    assert page.warnings == []


def test_link_rules_are_data() -> None:
    profile = example_profile()
    anywhere = dataclasses.replace(
        profile, links=dataclasses.replace(profile.links, same_host=False)
    )
    page = parse_page(example_page("examplenews_article.html"), STORY_URL, anywhere)
    assert [item.region for item in page.ticker] == ["NORWAY", "DENMARK", "UK"]


def test_selector_fallbacks_and_the_pattern_as_last_resort() -> None:
    html = (
        example_page("examplenews_article.html")
        .replace('class="headline"', 'class="title"')
        .replace('class="byline"', 'class="credits"')
        .replace('class="story-body"', 'class="story"')
        .replace('"headline": "ignored"', '"name": "ignored"')  # JSON-LD would come first
    )
    page = parse_page(html, STORY_URL, example_profile())
    article = page.article
    assert article is not None
    assert article.title == "Equinor starts production at Johan Castberg"  # from <title>
    assert (article.published, article.location) == (date(2025, 3, 27), "Stavanger")
    # the body now comes from <article>: the heading and the byline line are not body
    assert article.body.split("\n\n") == STORY_BODY
    assert page.warnings == [
        "article.title: h2.headline matched nothing; used <title> with the site's name removed",
        "article.body: div.story-body matched nothing; used article",
        "article.dateline: no selector matched (p.byline); found by pattern in the text",
    ]


def test_a_profile_that_does_not_fit_the_page_says_which_selectors_found_nothing() -> None:
    gulf_page = (FIXTURES / "gulfoilandgas" / "article_1389532_utf8.html").read_text("utf-8")
    page = parse_page(gulf_page, STORY_URL, example_profile())
    assert page.article is None
    assert "article.body: no selector matched (div.story-body, article)" in page.warnings
    assert "listing.items: no selector matched (li.teaser)" in page.warnings


def test_a_minimal_profile_needs_only_links_title_and_body(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    html = (
        "<h1>Tiny &amp; small</h1><div class=text>One<br><br>Two &nbsp; words<p>Three</div>"
        "<a href='/story/7#c'>Next story</a><a href='/about'>About</a>"
    )
    page = parse_page(html, "http://tiny.example/story/6", load_profile(path))
    assert page.article is not None
    assert page.article.title == "Tiny & small"
    assert page.article.body == "One\n\nTwo words\n\nThree"
    assert page.links == [Link("http://tiny.example/story/7", "Next story")]
    assert page.ticker == [] and page.warnings == []
