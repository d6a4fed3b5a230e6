"""Benchmark: why site profiles run on an lxml tree rather than on BeautifulSoup.

Profile authors know BeautifulSoup, and the design once named it. This measures, on pages
in the real site's markup (tests/fixtures/portal and tests/fixtures/gulfoilandgas: article
pages with their regional ticker, and listing pages), what newswatch does on its parse path
against what a BeautifulSoup path would do at the least:

- reference: `parse_page` with the bundled gulfoilandgas profile, the whole parse (lxml tree,
  every selector as compiled XPath, text, dates, links, ticker lines);
- BeautifulSoup with the "lxml" builder (the fastest it offers), building the tree and
  running every selector of the same profile with `select` (soupsieve), nothing extracted:
  a lower bound for a BeautifulSoup parse path;
- the same with Python's "html.parser" builder, and the bare trees for comparison.

Each figure is the median over rounds of the mean time per page, printed with its ratio to
the reference measured in the same run. BeautifulSoup is not a dependency of newswatch:
`pip install beautifulsoup4` to run this. Usage:

    python scripts/bench_html_parsers.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from newswatch.fetch import decode_html
from newswatch.parse import SiteProfile, load_profile, parse_page
from newswatch.parse.profile import Selector
from newswatch.parse.text import parse_html

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SITE = "https://www.gulfoilandgas.com/webpro1/main/"


def pages() -> list[tuple[str, str]]:
    """(url, html) of every page in the real site's markup the tests keep."""
    found = []
    for file in sorted((FIXTURES / "portal" / "webpro1" / "main").iterdir()):
        path, _, query = file.name.partition("__")
        url = f"{SITE}{path}{'?' + query if query else ''}"
        found.append((url, decode_html(file.read_bytes())))
    for file in sorted((FIXTURES / "gulfoilandgas").glob("*.html")):
        listing = {"newshome": "newshome.asp", "newslist_ME": "newslist.asp?id=ME"}
        path = listing.get(file.stem, "mainnews.asp?id=1389532")
        found.append((f"{SITE}{path}", decode_html(file.read_bytes())))
    return found


def selectors(value: Any) -> Iterator[str]:
    """Every CSS selector a profile holds, wherever it is nested."""
    if isinstance(value, Selector):
        yield value.pattern
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from selectors(getattr(value, item.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from selectors(item)


def per_page(action: Callable[[str, str], object], sample: Sequence[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for url, html in sample:
        action(html, url)
    return (time.perf_counter() - start) / len(sample)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--rounds", type=int, default=7)
    rounds = options.parse_args().rounds
    profile = load_profile("gulfoilandgas")
    assert isinstance(profile, SiteProfile)
    css = list(dict.fromkeys(selectors(profile)))
    sample = pages()

    def soup_path(builder: str) -> Callable[[str, str], object]:
        def run(html: str, _url: str) -> object:
            soup = BeautifulSoup(html, builder)
            return [soup.select(selector) for selector in css]

        return run

    contenders: dict[str, Callable[[str, str], object]] = {
        "newswatch parse_page (lxml tree + XPath, everything extracted)": lambda html, url: (
            parse_page(html, url, profile)
        ),
        "BeautifulSoup 'lxml' tree + select() of every selector": soup_path("lxml"),
        "BeautifulSoup 'html.parser' tree + select() of every selector": soup_path("html.parser"),
        "lxml tree alone": lambda html, _url: parse_html(html),
        "BeautifulSoup 'lxml' tree alone": lambda html, _url: BeautifulSoup(html, "lxml"),
    }
    for action in contenders.values():  # warm caches and imports
        per_page(action, sample)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, action in contenders.items():
            times[name].append(per_page(action, sample))
    medians = {name: statistics.median(values) for name, values in times.items()}
    reference = next(iter(medians.values()))
    print(f"{len(sample)} pages in the real site's markup, {len(css)} selectors, {rounds} rounds")
    for name, value in medians.items():
        print(f"{name:<66} {value * 1000:7.2f} ms/page  {value / reference:5.2f} x")


if __name__ == "__main__":
    main()
