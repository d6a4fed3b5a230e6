"""Score article-text extraction on the public article-extraction benchmark.

    python scripts/bench_extraction.py BENCH_DIR [--limit N]

BENCH_DIR holds ground-truth.json and html/<id>.html.gz (see its README). For every page,
newswatch's generic profile and, as the reference measured in the same run, trafilatura's
`extract` with default settings are scored against the reference text: token-level
precision, recall and F1 (lower-case word tokens compared as bags with counts), averaged
over pages; and pages per second (parsing and extraction only, files read beforehand).
newswatch's figure covers its whole `parse_page`: article links and metadata too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from newswatch.parse import load_profile, parse_page

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class BenchPage:
    id: str
    url: str
    html: str
    expected: str


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Result:
    name: str
    score: Score
    pages_per_second: float
    empty: int
    """Pages for which the extractor returned no text at all."""


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def score(extracted: str, expected: str) -> Score:
    """Bag-of-words overlap; an empty extraction of a non-empty reference scores zero."""
    got, want = tokens(extracted), tokens(expected)
    overlap = sum((got & want).values())
    got_total, want_total = sum(got.values()), sum(want.values())
    if got_total == 0 and want_total == 0:
        return Score(1.0, 1.0, 1.0)
    precision = overlap / got_total if got_total else 0.0
    recall = overlap / want_total if want_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def load_pages(bench_dir: Path, limit: int | None) -> list[BenchPage]:
    truth = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        html = gzip.decompress((bench_dir / "html" / f"{page_id}.html.gz").read_bytes())
        entry = truth[page_id]
        pages.append(BenchPage(page_id, entry["url"], html.decode("utf-8"), entry["articleBody"]))
    return pages


def newswatch_generic() -> Callable[[str, str], str]:
    profile = load_profile("generic")

    def extract(html: str, url: str) -> str:
        article = parse_page(html, url, profile).article
        return article.body if article else ""

    return extract


def trafilatura_default(html: str, url: str) -> str:
    return trafilatura.extract(html) or ""


WARM_UP_PAGES = 5
"""Run untimed first, so that neither side pays for imports and caches the other warmed."""


def run(name: str, extract: Callable[[str, str], str], pages: list[BenchPage]) -> Result:
    for page in pages[:WARM_UP_PAGES]:
        extract(page.html, page.url)
    outputs = []
    started = time.perf_counter()
    for page in pages:
        outputs.append(extract(page.html, page.url))
    elapsed = time.perf_counter() - started
    scores = [score(text, page.expected) for text, page in zip(outputs, pages, strict=True)]
    count = len(scores)
    return Result(
        name=name,
        score=Score(
            precision=sum(s.precision for s in scores) / count,
            recall=sum(s.recall for s in scores) / count,
            f1=sum(s.f1 for s in scores) / count,
        ),
        pages_per_second=count / elapsed,
        empty=sum(not text.strip() for text in outputs),
    )


def table(results: list[Result], pages: int) -> str:
    lines = [
        f"{pages} pages",
        f"{'extractor':<32} {'precision':>9} {'recall':>9} {'F1':>9} {'pages/s':>9} {'empty':>6}",
    ]
    for result in results:
        s = result.score
        lines.append(
            f"{result.name:<32} {s.precision:>9.3f} {s.recall:>9.3f} {s.f1:>9.3f}"
            f" {result.pages_per_second:>9.1f} {result.empty:>6}"
        )
    ours, reference = results
    ratio = Score(
        ours.score.precision / reference.score.precision,
        ours.score.recall / reference.score.recall,
        ours.score.f1 / reference.score.f1,
    )
    speed = ours.pages_per_second / reference.pages_per_second
    lines.append(
        f"{'ratio (newswatch / reference)':<32} {ratio.precision:>9.3f} {ratio.recall:>9.3f}"
        f" {ratio.f1:>9.3f} {speed:>9.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_dir", type=Path, metavar="BENCH_DIR")
    parser.add_argument("--limit", type=int, help="score only the first N pages (by id)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # trafilatura logs every page it finds odd
    if not (args.bench_dir / "ground-truth.json").is_file():
        parser.error(f"{args.bench_dir}: no ground-truth.json here")
    pages = load_pages(args.bench_dir, args.limit)
    results = [
        run("newswatch generic profile", newswatch_generic(), pages),
        run("trafilatura.extract (defaults)", trafilatura_default, pages),
    ]
    print(table(results, len(pages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
