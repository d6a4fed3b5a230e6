import re

import pytest

from newswatch.dedup import canonical_url, content_words, fingerprint, is_followable

GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # already canonical
        (f"{GOG}?id=1234567", f"{GOG}?id=1234567"),
        # scheme and host case; path case kept
        (
            "HTTP://WWW.GulfOilAndGas.COM/WebPro1/Main/MainNews.asp?id=1",
            "http://www.gulfoilandgas.com/WebPro1/Main/MainNews.asp?id=1",
        ),
        # default ports dropped, others kept
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        # fragment dropped
        (f"{GOG}?id=1#comments", f"{GOG}?id=1"),
        ("http://example.com/#top", "http://example.com/"),
        # tracking parameters dropped, id and ref kept
        (f"{GOG}?id=1&utm_source=rss&utm_medium=feed&UTM_Campaign=x", f"{GOG}?id=1"),
        (f"{GOG}?fbclid=abc&id=1&gclid=def", f"{GOG}?id=1"),
        (f"{GOG}?mc_cid=1&mc_eid=2&id=7", f"{GOG}?id=7"),
        ("http://example.com/a?ref=home&ref_src=twsrc", "http://example.com/a?ref=home"),
        ("http://example.com/a?utm_source=x", "http://example.com/a"),
        # query sorted by key; duplicate keys keep their order; blank values kept
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/a?tag=z&id=1&tag=a", "http://example.com/a?id=1&tag=z&tag=a"),
        ("http://example.com/a?x=&y", "http://example.com/a?x=&y"),
        ("http://example.com/a?&&id=1&", "http://example.com/a?id=1"),
        # empty path
        ("http://example.com", "http://example.com/"),
        ("http://example.com?id=1", "http://example.com/?id=1"),
        ("http://example.com/?", "http://example.com/"),
        # percent-encoding: unreserved decoded, hex upper-cased, unsafe escaped
        ("http://example.com/%7euser/%61", "http://example.com/~user/a"),
        ("http://example.com/a%2fb?q=%3d%c3%a9", "http://example.com/a%2Fb?q=%3D%C3%A9"),
        ("http://example.com/caf\u00e9 menu", "http://example.com/caf%C3%A9%20menu"),
        ("http://example.com/100%", "http://example.com/100%25"),
        # surrounding whitespace, trailing dot of the host
        ("  http://Example.com./a  ", "http://example.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"{GOG}?id=1&utm_source=x#top",
        "HTTP://Example.com:80",
        "http://example.com/a%2fb?q=%3d&b=2&a=1",
        "http://example.com/caf\u00e9",
    ],
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_tracking_variants_of_one_article_share_a_canonical_url() -> None:
    variants = {
        f"{GOG}?id=1",
        f"{GOG}?id=1&utm_source=newsletter",
        "http://WWW.gulfoilandgas.com:80/webpro1/main/mainnews.asp?fbclid=x&id=1#more",
    }
    assert {canonical_url(url) for url in variants} == {f"{GOG}?id=1"}
    assert canonical_url(f"{GOG}?id=1") != canonical_url(f"{GOG}?id=2")


@pytest.mark.parametrize(
    ("url", "followable"),
    [
        ("http://example.com/a", True),
        ("HTTPS://example.com", True),
        ("ftp://example.com/file", False),
        ("mailto:news@example.com", False),
        ("javascript:void(0)", False),
        ("/webpro1/main/mainnews.asp?id=1", False),
        ("http://", False),
        ("http://example.com:99999/", False),
        ("", False),
    ],
)
def test_is_followable(url: str, followable: bool) -> None:
    assert is_followable(url) is followable


def test_canonical_url_rejects_what_cannot_be_followed() -> None:
    with pytest.raises(ValueError, match="mailto"):
        canonical_url("mailto:news@example.com")


BODY = (
    "According to TrendForce's latest \u201cDevelopment Trends of Solid-State Battery Market\u201d,"
    " the Japanese government aims to achieve commercialization in all-solid-state batteries"
    " (ASSB) by about 2030 and has been expanding R&D funds over recent years."
)


def test_fingerprint_ignores_whitespace_quotes_and_case() -> None:
    variants = [
        BODY,
        BODY.upper(),
        BODY.replace(" ", "  \n\t "),
        BODY.replace("\u201c", '"').replace("\u201d", '"').replace("'", "\u2019"),
        "\n\n" + BODY.replace(". ", ".\n\n") + "  ",
        BODY.replace("2030", "\uff12\uff10\uff13\uff10"),  # full-width digits fold under NFKC
    ]
    prints = {fingerprint(text) for text in variants}
    assert len(prints) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", prints.pop())


def test_fingerprint_differs_for_different_texts() -> None:
    assert fingerprint(BODY) != fingerprint(BODY.replace("2030", "2031"))
    assert fingerprint(BODY) != fingerprint(BODY + " More to follow.")


@pytest.mark.parametrize("text", ["", "   \n ", "Too short to tell stories apart.", "word " * 19])
def test_fingerprint_is_empty_for_short_bodies(text: str) -> None:
    assert fingerprint(text) == ""


def test_fingerprint_starts_at_twenty_words() -> None:
    assert fingerprint("word " * 20) != ""


def test_content_words_break_on_punctuation() -> None:
    assert content_words("Solid-State  \u201cBATTERIES\u201d, e.g. ASSB!") == [
        "solid",
        "state",
        "batteries",
        "e",
        "g",
        "assb",
    ]
