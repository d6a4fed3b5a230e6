"""Benchmark: CPU time per stored article, against a generic extractor on the same pages.

Runs the whole newswatch pipeline in this process (fetch over HTTP, decode, parse, dedupe,
store, rules: `pipeline.run_sources`, as `newswatch fetch` runs it) against the loopback
portal of scripts/synthetic_portal.py (4 hosts x 250 article pages, no latency, no
per-host delay, served from another process so its work is not counted), into a fresh
database each time, and divides the process CPU time by the articles stored.

The reference, measured in the same run on the same pages (their decoded HTML, read
beforehand): `trafilatura.extract` with its default settings, the generic extractor a
user would otherwise run, which extracts the text and nothing else. Target: the whole
per-page pipeline costs no more than trafilatura's extraction alone.

Also printed, for where the time goes: `parse_page` alone, and trafilatura on the real
site's markup (tests/fixtures/portal, whose short bodies send trafilatura down its
slower fallback path). With --profile, one more pipeline run under pyinstrument (a dev
tool: pip install pyinstrument) prints its call tree. Usage:

    python scripts/bench_pipeline.py [--repeat 5] [--articles 250] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import trafilatura

from bench_cycle import write_config
from newswatch import dedup
from newswatch.config import load_config
from newswatch.fetch import Fetcher, FetchPolicy, decode_html
from newswatch.models import Page
from newswatch.parse import load_profile, parse_page
from newswatch.pipeline import config_rules, run_sources, source_profiles
from newswatch.store import Store
from synthetic_portal import PortalProcess

HOSTS = 4
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "portal"


def run_pipeline(config_path: Path) -> tuple[float, int, list[str]]:
    """CPU seconds of one full run into a fresh database, articles stored, their URLs."""
    config = load_config(config_path)
    database = config.settings.database
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    profiles = source_profiles(config, config.sources)
    rules = config_rules(config)
    with Store(database) as store:

        async def fetch_all() -> int:
            async with Fetcher(FetchPolicy.from_settings(config.settings)) as fetcher:
                reports = await run_sources(
                    config,
                    config.sources,
                    store=store,
                    fetcher=fetcher,
                    profiles=profiles,
                    matcher=rules.match,
                )
            return sum(report.new_articles for report in reports)

        started = time.process_time()
        articles = asyncio.run(fetch_all())
        cpu = time.process_time() - started
        urls = [row[0] for row in store.db.execute("SELECT fetched_url FROM articles")]
    return cpu, articles, urls


def per_page(action: Callable[[str, str], object], pages: Sequence[tuple[str, str]]) -> float:
    """CPU milliseconds per page of `action(html, url)`."""
    started = time.process_time()
    for url, html in pages:
        action(html, url)
    return (time.process_time() - started) * 1000 / len(pages)


def near_duplicate_signing(pages: Sequence[Page]) -> float:
    """CPU milliseconds per page of what the store computes to find near-duplicates
    (shingles and MinHash signature), when this version of newswatch has them."""
    shingles, minhash = getattr(dedup, "shingles", None), getattr(dedup, "minhash", None)
    if shingles is None or minhash is None:
        return 0.0
    started = time.process_time()
    for page in pages:
        if page.article is not None and (found := shingles(page.article.body)):
            minhash(found)
    return (time.process_time() - started) * 1000 / len(pages)


def download(urls: Sequence[str]) -> list[tuple[str, str]]:
    pages = []
    for url in urls:
        with urllib.request.urlopen(url) as answer:
            pages.append((url, decode_html(answer.read(), answer.headers["Content-Type"])))
    return pages


def fixture_pages() -> list[tuple[str, str]]:
    pages = []
    for file in sorted((FIXTURES / "webpro1" / "main").glob("mainnews.asp__id=*")):
        query = file.name.split("__", 1)[1]
        url = f"http://127.0.0.1/webpro1/main/mainnews.asp?{query}"
        pages.append((url, decode_html(file.read_bytes())))
    return pages


def profile_once(config_path: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    run_pipeline(config_path)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--articles", type=int, default=250, help="per host")
    parser.add_argument("--profile", action="store_true", help="also profile one run")
    args = parser.parse_args()
    profile = load_profile("gulfoilandgas")
    scratch = tempfile.TemporaryDirectory(prefix="newswatch-bench-pipeline-")
    folder = Path(scratch.name)
    pipeline_ms: list[float] = []
    parse_ms: list[float] = []
    signing_ms: list[float] = []
    extract_ms: list[float] = []
    with PortalProcess(hosts=HOSTS, articles=args.articles, latency=0) as portal:
        config = write_config(folder, portal.hosts, delay=0)
        run_pipeline(config)  # warm-up: imports, compiled patterns, page cache
        for attempt in range(args.repeat):
            cpu, articles, urls = run_pipeline(config)
            if attempt == 0:
                pages = download(urls)
                fixtures = fixture_pages()
            pipeline_ms.append(cpu * 1000 / articles)
            parsed = [parse_page(html, url, profile) for url, html in pages]
            parse_ms.append(per_page(lambda html, url: parse_page(html, url, profile), pages))
            signing_ms.append(near_duplicate_signing(parsed))
            extract_ms.append(per_page(lambda html, _: trafilatura.extract(html), pages))
            print(
                f"run {attempt + 1}: {articles} articles, pipeline {pipeline_ms[-1]:.2f} ms, "
                f"parse_page {parse_ms[-1]:.2f} ms, trafilatura {extract_ms[-1]:.2f} ms per page",
                flush=True,
            )
        if args.profile:
            profile_once(config)
    scratch.cleanup()
    fixture_extract = statistics.median(
        per_page(lambda html, _: trafilatura.extract(html), fixtures) for _ in range(args.repeat)
    )
    fixture_parse = statistics.median(
        per_page(lambda html, url: parse_page(html, url, profile), fixtures)
        for _ in range(args.repeat)
    )
    pipeline, reference = statistics.median(pipeline_ms), statistics.median(extract_ms)
    print(f"\nCPU ms per stored article (median of {args.repeat} runs, {len(pages)} pages):")
    print(f"  newswatch pipeline (fetch+parse+dedupe+store+rules) {pipeline:>7.2f}")
    parse, signing = statistics.median(parse_ms), statistics.median(signing_ms)
    print(f"    of which parse_page                              {parse:>7.2f}")
    print(f"    of which near-duplicate signing (dedup)          {signing:>7.2f}")
    print(f"  trafilatura.extract alone (reference)               {reference:>7.2f}")
    verdict = "met" if pipeline <= reference else "NOT met"
    print(f"  pipeline / trafilatura  {pipeline / reference:.2f}x  (target <= 1: {verdict})")
    print(f"real-site markup ({len(fixtures)} fixture pages, tests/fixtures/portal):")
    print(f"  parse_page {fixture_parse:.2f} ms, trafilatura.extract {fixture_extract:.2f} ms")


if __name__ == "__main__":
    main()
