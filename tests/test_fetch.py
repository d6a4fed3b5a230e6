"""The fetcher against a real scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

import newswatch.fetch
from newswatch.fetch import Fetcher, FetchPolicy, FetchResult, decode_html
from tests.conftest import Route, ScriptedServer

POLICY = FetchPolicy(
    user_agent="newswatch-test/1 (+https://example.org/contact)",
    timeout=2.0,
    connect_timeout=1.0,
    max_bytes=200_000,
    max_redirects=3,
    per_host_delay=0.0,
    retries=2,
    robots=False,
    backoff_base=0.01,
    max_retry_after=0.3,
)
PAGE = b"<html><head><title>t</title></head><body><p>Hello</p></body></html>"


def fetch(url: str, policy: FetchPolicy = POLICY, **kwargs: object) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(policy) as fetcher:
            return await fetcher.get(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


# --- decoding ------------------------------------------------------------------------

TEXT = "Japan’s “Battery Supply Assurance Program” — 全固体電池? no: café"


def test_decode_declared_in_header() -> None:
    raw = "Japan’s “Battery” café".encode("cp1252")
    assert decode_html(raw, "text/html; charset=windows-1252") == "Japan’s “Battery” café"


def test_decode_iso_8859_1_label_means_windows_1252() -> None:
    raw = "Japan’s “Battery”".encode("cp1252")
    assert decode_html(raw, "text/html; charset=ISO-8859-1") == "Japan’s “Battery”"


def test_decode_declared_in_meta() -> None:
    raw = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">' + (
        "Japan’s “Battery”".encode("cp1252")
    )
    assert decode_html(raw, "text/html").endswith("Japan’s “Battery”")


def test_decode_undeclared_utf8_and_cp1252() -> None:
    assert decode_html(TEXT.encode("utf-8")) == TEXT
    sample = "<p>The company’s “solid-state” batteries – a report by TrendForce’s analysts.</p>" * 3
    assert decode_html(sample.encode("cp1252")) == sample


def test_decode_wrong_declaration_falls_back() -> None:
    raw = "The company’s “solid-state” batteries".encode("cp1252")
    assert decode_html(raw, "text/html; charset=utf-8") == "The company’s “solid-state” batteries"


def test_decode_bom() -> None:
    assert decode_html(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "text/html; charset=windows-1252") == (
        "<p>café</p>"
    )


# --- fetching ------------------------------------------------------------------------


def test_identifies_itself(server: ScriptedServer) -> None:
    server.add("/page", Route(body=PAGE))
    result = fetch(server.base_url + "/page")
    assert result.ok and result.content == PAGE
    headers = server.log[0][1]
    assert headers["User-Agent"] == POLICY.user_agent
    assert "gzip" in headers["Accept-Encoding"]


def test_gzip_body_is_decoded(server: ScriptedServer) -> None:
    server.add("/gz", Route(body=PAGE, action="gzip"))
    assert fetch(server.base_url + "/gz").content == PAGE


def test_404_is_an_error_without_retry(server: ScriptedServer) -> None:
    result = fetch(server.base_url + "/missing")
    assert not result.ok and result.status == 404
    assert result.error is not None and "404" in result.error
    assert server.hits("/missing") == 1


def test_5xx_is_retried_then_succeeds(server: ScriptedServer) -> None:
    server.add("/flaky", Route(status=500), Route(status=502), Route(body=PAGE))
    result = fetch(server.base_url + "/flaky")
    assert result.ok and result.attempts == 3
    assert server.hits("/flaky") == 3


def test_5xx_gives_up_after_retries(server: ScriptedServer) -> None:
    server.add("/down", Route(status=503))
    result = fetch(server.base_url + "/down")
    assert not result.ok and result.status == 503
    assert result.error is not None and "after 3 attempts" in result.error
    assert server.hits("/down") == 3


def test_429_honours_retry_after(server: ScriptedServer) -> None:
    server.add("/slow-down", Route(status=429, headers={"Retry-After": "0.2"}), Route(body=PAGE))
    server.add("/slow-down2", Route(status=429, headers={"Retry-After": "1"}), Route(body=PAGE))
    started = time.monotonic()
    result = fetch(server.base_url + "/slow-down2")
    waited = time.monotonic() - started
    assert result.ok and result.attempts == 2
    assert waited >= POLICY.max_retry_after  # waited (the capped) Retry-After, not the tiny backoff


def test_hanging_server_hits_total_deadline(server: ScriptedServer) -> None:
    server.add("/hang", Route(action="hang"))
    policy = replace(POLICY, timeout=0.5, retries=0)
    result = fetch(server.base_url + "/hang", policy)
    assert not result.ok and result.error is not None
    assert "0.5s" in result.error


def test_endless_body_stops_at_size_cap(server: ScriptedServer) -> None:
    server.add("/huge", Route(action="stream"))
    result = fetch(server.base_url + "/huge")
    assert not result.ok and result.error is not None and "cap" in result.error
    assert result.content == b""


def test_declared_oversize_is_refused_before_reading(server: ScriptedServer) -> None:
    server.add("/big", Route(body=b"x" * (POLICY.max_bytes + 1)))
    result = fetch(server.base_url + "/big")
    assert result.error is not None and "cap" in result.error


def test_redirect_loop(server: ScriptedServer) -> None:
    server.add("/a", Route(status=302, headers={"Location": "/b"}))
    server.add("/b", Route(status=302, headers={"Location": "/a"}))
    result = fetch(server.base_url + "/a")
    assert result.error is not None and "redirects" in result.error


def test_redirect_is_followed(server: ScriptedServer) -> None:
    server.add("/old", Route(status=301, headers={"Location": "/new"}))
    server.add("/new", Route(body=PAGE))
    result = fetch(server.base_url + "/old")
    assert result.ok and result.final_url == server.base_url + "/new"


def test_non_html_is_refused(server: ScriptedServer) -> None:
    server.add("/doc.pdf", Route(body=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}))
    result = fetch(server.base_url + "/doc.pdf")
    assert result.error is not None and "application/pdf" in result.error


def test_bad_gzip(server: ScriptedServer) -> None:
    server.add("/badgz", Route(body=PAGE, action="badgzip"))
    result = fetch(server.base_url + "/badgz")
    assert result.error is not None and "compressed" in result.error
    assert result.transient  # often a body cut short: the next run asks again


@pytest.mark.parametrize("action", ["reset", "truncate"])
def test_broken_connections_are_retried_and_reported(server: ScriptedServer, action: str) -> None:
    server.add("/broken", Route(body=PAGE, action=action))
    result = fetch(server.base_url + "/broken")
    assert not result.ok and result.error is not None and "after 3 attempts" in result.error
    assert server.hits("/broken") == 3


def test_connection_refused(server: ScriptedServer) -> None:
    result = fetch("http://127.0.0.1:9/nothing-listens-here", replace(POLICY, retries=0))
    assert not result.ok and result.status is None
    assert result.error is not None and "connect" in result.error


def test_robots_txt_is_obeyed(server: ScriptedServer) -> None:
    server.add(
        "/robots.txt",
        Route(body=b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}),
    )
    server.add("/private/x", Route(body=PAGE))
    server.add("/public", Route(body=PAGE))
    policy = replace(POLICY, robots=True)

    async def go() -> tuple[FetchResult, FetchResult]:
        async with Fetcher(policy) as fetcher:
            return await fetcher.get(server.base_url + "/private/x"), await fetcher.get(
                server.base_url + "/public"
            )

    private, public = asyncio.run(go())
    assert private.error == "disallowed by robots.txt" and public.ok
    assert server.hits("/private/x") == 0
    assert server.hits("/robots.txt") == 1  # cached per host


def test_missing_robots_txt_allows_everything(server: ScriptedServer) -> None:
    server.add("/page", Route(body=PAGE))
    assert fetch(server.base_url + "/page", replace(POLICY, robots=True)).ok


def test_per_host_delay_spaces_requests(server: ScriptedServer) -> None:
    server.add("/p", Route(body=PAGE))
    policy = replace(POLICY, per_host_delay=0.2, concurrency=4, per_host_concurrency=4)

    async def go() -> float:
        async with Fetcher(policy) as fetcher:
            started = time.monotonic()
            await asyncio.gather(*(fetcher.get(server.base_url + "/p") for _ in range(4)))
            return time.monotonic() - started

    assert asyncio.run(go()) >= 0.6  # starts at 0, 0.2, 0.4, 0.6


def test_elapsed_is_the_time_of_the_request_not_of_the_politeness_wait(
    server: ScriptedServer,
) -> None:
    server.add("/p", Route(body=PAGE))
    policy = replace(POLICY, per_host_delay=1.0)

    async def go() -> list[FetchResult]:
        async with Fetcher(policy) as fetcher:
            return [await fetcher.get(server.base_url + "/p") for _ in range(2)]

    _, second = asyncio.run(go())
    assert second.ok and 0 < second.elapsed < 1.0  # it waited 1 s for its turn, not counted


def test_conditional_request_headers_and_304(server: ScriptedServer) -> None:
    server.add("/cond", Route(status=304))
    result = fetch(
        server.base_url + "/cond", etag='"abc"', last_modified="Sun, 29 Nov 2026 10:00:00 GMT"
    )
    assert result.not_modified and not result.ok
    headers = server.log[0][1]
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Sun, 29 Nov 2026 10:00:00 GMT"


def test_brotli_body_is_decoded(server: ScriptedServer) -> None:
    server.add("/br", Route(body=PAGE, action="brotli"))
    result = fetch(server.base_url + "/br")
    assert result.ok and result.content == PAGE
    assert "br" in server.log[0][1]["Accept-Encoding"]


def test_failures_say_whether_they_may_pass(server: ScriptedServer) -> None:
    server.add("/down", Route(status=503))
    assert fetch(server.base_url + "/down").transient
    assert not fetch(server.base_url + "/missing").transient
    server.add("/doc.pdf", Route(body=b"%PDF", headers={"Content-Type": "application/pdf"}))
    assert not fetch(server.base_url + "/doc.pdf").transient


def test_server_validators_turn_a_refetch_into_a_304(server: ScriptedServer) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Wed, 26 Mar 2025 08:00:00 GMT"}
    server.add("/listing", Route(body=PAGE, headers=headers))
    first = fetch(server.base_url + "/listing")
    assert first.ok and first.etag == '"v1"' and first.last_modified == headers["Last-Modified"]
    again = fetch(server.base_url + "/listing", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.content == b""
    assert server.responses == [("/listing", 200, len(PAGE)), ("/listing", 304, 0)]


class SteppedClock:
    """The fetcher's time.monotonic, plus an offset a test moves forward: a cache entry runs
    out exactly when the test says so, however slowly a loaded machine answers before."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def stepped_clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    clock = SteppedClock()
    fake_time = SimpleNamespace(monotonic=clock.monotonic, time=time.time)
    monkeypatch.setattr(newswatch.fetch, "time", fake_time)
    return clock


def twice_then_after_a_pause(
    policy: FetchPolicy, url: str, clock: SteppedClock, pause: float
) -> list[FetchResult]:
    """Two requests for `url` in a row, then one `pause` seconds later (on the fetcher's
    clock), through one Fetcher: what a cache lasting less than `pause` keeps, and what it
    renews."""

    async def go() -> list[FetchResult]:
        async with Fetcher(policy) as fetcher:
            results = [await fetcher.get(url) for _ in range(2)]
            clock.offset += pause
            results.append(await fetcher.get(url))
            return results

    return asyncio.run(go())


def test_robots_txt_is_fetched_again_when_its_ttl_runs_out(
    server: ScriptedServer, stepped_clock: SteppedClock
) -> None:
    server.add(
        "/robots.txt",
        Route(body=b"User-agent: *\nDisallow:\n", headers={"Content-Type": "text/plain"}),
        Route(body=b"User-agent: *\nDisallow: /\n", headers={"Content-Type": "text/plain"}),
    )
    server.add("/page", Route(body=PAGE))
    policy = replace(POLICY, robots=True, robots_ttl=60)

    first, cached, renewed = twice_then_after_a_pause(
        policy, server.base_url + "/page", stepped_clock, pause=61
    )
    assert first.ok and cached.ok
    assert renewed.error == "disallowed by robots.txt"
    assert server.hits("/robots.txt") == 2 and server.hits("/page") == 2


def test_unreachable_robots_txt_keeps_out_for_a_while(
    server: ScriptedServer, stepped_clock: SteppedClock
) -> None:
    server.add(
        "/robots.txt", Route(status=500), Route(body=b"", headers={"Content-Type": "text/plain"})
    )
    server.add("/page", Route(body=PAGE))
    policy = replace(POLICY, robots=True, retries=0, robots_error_ttl=60)

    refused, still_refused, allowed = twice_then_after_a_pause(
        policy, server.base_url + "/page", stepped_clock, pause=61
    )
    assert refused.error == (
        "robots.txt answered HTTP 500 Internal Server Error: as RFC 9309 asks, no page of the"
        " host is requested until robots.txt answers normally"
    )
    assert refused.transient and refused.attempts == 0 and still_refused.error == refused.error
    assert allowed.ok
    assert server.hits("/robots.txt") == 2 and server.hits("/page") == 1
