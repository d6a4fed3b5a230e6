"""HTTP for newswatch: the only module that talks to the network.

Also home of `decode_html`, since turning bytes on the wire into text is part of
fetching (and `newswatch parse FILE` needs the same decoding for saved pages).
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import charset_normalizer
import httpx

from newswatch.config import Settings

# The WHATWG encoding standard treats these labels as windows-1252; old ASP portals
# declare iso-8859-1 and then serve curly quotes from the 0x80-0x9F range.
_WINDOWS_1252_ALIASES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii"}
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""")
_SNIFF_BYTES = 4096


def _known_codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _WINDOWS_1252_ALIASES:
        return "windows-1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charset(content: bytes, content_type: str | None = None) -> str | None:
    """The charset the server or the page itself declares (an XML declaration, a <meta>), if
    it is one Python knows."""
    if content_type:
        found = _HEADER_CHARSET.search(content_type)
        codec = _known_codec(found.group(1) if found else None)
        if codec:
            return codec
    found_xml = _XML_ENCODING.match(content[:_SNIFF_BYTES])
    if found_xml:
        codec = _known_codec(found_xml.group(1).decode("ascii", "replace"))
        if codec:
            return codec
    found_meta = _META_CHARSET.search(content[:_SNIFF_BYTES])
    if found_meta:
        return _known_codec(found_meta.group(1).decode("ascii", "replace"))
    return None


def decode_html(content: bytes, content_type: str | None = None) -> str:
    """Decode a page or feed: BOM, then HTTP header, then the XML declaration's encoding, then
    <meta>, then UTF-8, then detection.

    A declared charset that does not fit the bytes (a page labelled utf-8 but saved
    as windows-1252) falls through to detection instead of producing mojibake.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            return content.decode(codec, errors="replace")
    declared = declared_charset(content, content_type)
    if declared:
        try:
            return content.decode(declared)
        except UnicodeDecodeError:
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(content).best()
    if best is not None and best.encoding and not _looks_latin(best.alphabets):
        return str(best)
    # Detectors cannot tell the Western code pages apart on short texts (cp1250, cp852
    # and mac_roman all "fit" equally); windows-1252 is what such pages really are.
    return content.decode("windows-1252", errors="replace")


def _looks_latin(alphabets: list[str]) -> bool:
    return all("Latin" in name or "Punctuation" in name or name in _NEUTRAL for name in alphabets)


_NEUTRAL = {"Control character", "Currency Symbols", "Letterlike Symbols", "Number Forms"}


@dataclass(frozen=True)
class FetchPolicy:
    """How politely and how defensively to fetch; built from [settings]."""

    user_agent: str
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    concurrency: int = 8
    per_host_concurrency: int = 1
    per_host_delay: float = 1.0
    retries: int = 2
    robots: bool = True
    backoff_base: float = 0.5
    """First retry waits about this long; each further retry doubles it (plus jitter)."""
    max_retry_after: float = 120.0
    """Cap on a server's Retry-After, so one host cannot stall a run for hours."""
    max_crawl_delay: float = 30.0
    robots_ttl: float = 86400.0
    """How long a host's robots.txt is trusted (RFC 9309: at most 24 hours)."""
    robots_error_ttl: float = 600.0
    """How long "robots.txt unreachable, so stay out" holds before asking again."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            user_agent=settings.full_user_agent,
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            max_bytes=settings.max_bytes,
            max_redirects=settings.max_redirects,
            concurrency=settings.concurrency,
            per_host_concurrency=settings.per_host_concurrency,
            per_host_delay=settings.per_host_delay,
            retries=settings.retries,
            robots=settings.robots,
        )


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one fetch, failures included: the fetcher never raises for a URL."""

    url: str
    final_url: str
    status: int | None
    content: bytes = b""
    content_type: str | None = None
    elapsed: float = 0.0
    error: str | None = None
    attempts: int = 1
    etag: str | None = None
    last_modified: str | None = None
    transient: bool = False
    """Failed in a way that may pass (timeouts, resets, 5xx, 429, truncated or badly
    compressed bodies): worth asking again soon."""
    refused: bool = False
    """robots.txt disallows the URL: no request was made."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    def text(self) -> str:
        return decode_html(self.content, self.content_type)


class _AttemptFailed(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status
        self.elapsed = 0.0
        """Seconds from sending the request to the failure."""


class _Retryable(_AttemptFailed):
    """An attempt failed in a way worth trying again (timeouts, resets, 5xx, 429)."""

    def __init__(self, message: str, status: int | None = None, wait: float | None = None):
        super().__init__(message, status)
        self.wait = wait


class _Final(_AttemptFailed):
    """An attempt failed in a way that retrying will not fix."""


@dataclass
class _HostGate:
    """Spaces requests to one host and bounds how many are in flight."""

    slots: asyncio.Semaphore
    delay: float
    next_start: float = 0.0

    async def until_due(self) -> None:
        """Sleep until a request to the host may start (without claiming the turn)."""
        while (wait := self.next_start - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def claim(self) -> bool:
        """Take the turn if it is due: the next request waits `delay` from now."""
        now = time.monotonic()
        if now < self.next_start:
            return False
        self.next_start = now + self.delay
        return True


HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    *HTML_TYPES,
)
"""What a feed source's own URL may answer with: feeds under their many names, or a web page
(the feed parser reads that as the generic profile would)."""
ACCEPT_ENCODING = "gzip, deflate, br"
"""br is decoded by httpx when the `brotli` package is installed (a dependency)."""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """Polite async HTTP GETs: one instance per run, shared by all sources.

    Different hosts are fetched concurrently; requests to one host are spaced by
    the larger of the configured delay and the host's robots.txt Crawl-delay.
    """

    def __init__(
        self, policy: FetchPolicy, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._all_slots = asyncio.Semaphore(policy.concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _RobotsEntry] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._new_robots: list[RobotsFile] = []
        self.requests_made = 0

    async def __aenter__(self) -> Fetcher:
        return self.open()

    def open(self) -> Fetcher:
        """Start the connection pool; `async with` does this, the daemon calls it directly
        since its fetchers live from one configuration reload to the next."""
        self._client = httpx.AsyncClient(
            transport=self._transport,
            headers={"User-Agent": self.policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            follow_redirects=True,
            max_redirects=self.policy.max_redirects,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the daemon does this when a reload retires a fetcher."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        robots: bool | None = None,
        accept: tuple[str, ...] = HTML_TYPES,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch one URL with retries; failures come back as a result with `error` set."""
        if self.policy.robots if robots is None else robots:
            entry = await self._robots_for(url)
            if entry.unreachable:
                return FetchResult(
                    url,
                    url,
                    None,
                    error=entry.unreachable,
                    attempts=0,
                    transient=True,
                )
            if not entry.allows(self.policy.user_agent, url):
                return FetchResult(
                    url, url, None, error="disallowed by robots.txt", attempts=0, refused=True
                )
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        on_the_wire = 0.0  # every attempt's time, the waits before and between them left out
        while True:
            attempt += 1
            try:
                result = await self._attempt(url, headers, accept)
            except _Retryable as failure:
                on_the_wire += failure.elapsed
                if attempt > self.policy.retries:
                    return FetchResult(
                        url,
                        url,
                        failure.status,
                        elapsed=on_the_wire,
                        error=f"{failure} (after {attempt} attempts)"
                        if attempt > 1
                        else str(failure),
                        attempts=attempt,
                        transient=True,
                    )
                await asyncio.sleep(self._backoff(attempt, failure.wait))
                continue
            except _Final as failure:
                return FetchResult(
                    url,
                    url,
                    failure.status,
                    elapsed=on_the_wire + failure.elapsed,
                    error=str(failure),
                    attempts=attempt,
                )
            return replace(result, elapsed=on_the_wire + result.elapsed, attempts=attempt)

    def _backoff(self, attempt: int, server_wait: float | None) -> float:
        if server_wait is not None:
            return min(server_wait, self.policy.max_retry_after)
        base = self.policy.backoff_base * 2 ** (attempt - 1)
        return float(base + random.uniform(0, base))

    def _gate(self, url: str) -> _HostGate:
        host = _host_key(url)
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(
                asyncio.Semaphore(self.policy.per_host_concurrency), self.policy.per_host_delay
            )
            self._gates[host] = gate
        return gate

    async def _attempt(
        self, url: str, headers: dict[str, str], accept: tuple[str, ...]
    ) -> FetchResult:
        """One request, once its host's turn comes; `elapsed` counts from sending it, so the
        politeness wait before it is not taken for the site's slowness."""
        assert self._client is not None, "use Fetcher as an async context manager"
        gate = self._gate(url)
        async with gate.slots:
            await self._take_turn(gate)
            sent = time.monotonic()
            try:
                result = await self._request(url, headers, accept)
            except _AttemptFailed as failure:
                failure.elapsed = time.monotonic() - sent
                raise
            finally:
                self._all_slots.release()
            return replace(result, elapsed=time.monotonic() - sent)

    async def _request(
        self, url: str, headers: dict[str, str], accept: tuple[str, ...]
    ) -> FetchResult:
        """The request and its body, httpx's failures translated into retryable or final."""
        try:
            self.requests_made += 1
            async with asyncio.timeout(self.policy.timeout):
                return await self._send(url, headers, accept)
        except TimeoutError:
            raise _Retryable(f"no complete answer within {self.policy.timeout:g}s") from None
        except httpx.TooManyRedirects:
            raise _Final(f"more than {self.policy.max_redirects} redirects") from None
        except httpx.DecodingError as exc:  # often a body cut short: worth asking again
            raise _Retryable(f"invalid compressed body: {exc}") from None
        except httpx.ConnectError as exc:
            raise _Retryable(f"cannot connect: {exc or type(exc).__name__}") from None
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out: {type(exc).__name__}") from None
        except httpx.RemoteProtocolError as exc:
            raise _Retryable(f"connection broken: {exc}") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"network error: {exc or type(exc).__name__}") from None
        except httpx.InvalidURL as exc:
            raise _Final(f"invalid URL: {exc}") from None

    async def _take_turn(self, gate: _HostGate) -> None:
        """Wait for the host's turn, then for a slot among all hosts; returns holding one.

        The host's slot comes first, so requests queued for one busy host never hold the
        slots other hosts could use; the turn is claimed only once a slot is held, so a
        wait for a slot never brings two requests to one host closer than the delay.
        """
        while True:
            await gate.until_due()
            await self._all_slots.acquire()
            if gate.claim():
                return
            self._all_slots.release()

    async def _send(
        self, url: str, headers: dict[str, str], accept: tuple[str, ...]
    ) -> FetchResult:
        assert self._client is not None
        async with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                wait = _retry_after(response.headers.get("Retry-After"))
                raise _Retryable(f"HTTP {status} {response.reason_phrase}", status, wait)
            if status >= 400:
                raise _Final(f"HTTP {status} {response.reason_phrase}", status)
            content_type = response.headers.get("Content-Type")
            common = {
                "final_url": str(response.url),
                "status": status,
                "content_type": content_type,
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
            }
            if status == 304:
                return FetchResult(url, **common)
            media_type = (content_type or "").split(";")[0].strip().lower()
            if media_type and accept and media_type not in accept:
                raise _Final(f"not a page we can read (Content-Type: {media_type})", status)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise _Final(self._too_large(), status)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise _Final(self._too_large(), status)
                chunks.append(chunk)
            return FetchResult(url, content=b"".join(chunks), **common)

    def _too_large(self) -> str:
        return f"response larger than the {self.policy.max_bytes:,}-byte cap; not read further"

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's host lets us fetch it."""
        entry = await self._robots_for(url)
        return not entry.unreachable and entry.allows(self.policy.user_agent, url)

    async def _robots_for(self, url: str) -> _RobotsEntry:
        """The host's robots.txt, cached for `robots_ttl` (a failed fetch for
        `robots_error_ttl`): a daemon running for months notices changed rules, and keeps
        one entry per host."""
        host = _host_key(url)
        lock = self._robots_locks.setdefault(host, asyncio.Lock())
        async with lock:
            entry = self._robots.get(host)
            if entry is None or entry.expires <= time.monotonic():
                entry = await self._load_robots(host)
                self._robots[host] = entry
        return entry

    async def _load_robots(self, host: str) -> _RobotsEntry:
        """Per RFC 9309: 4xx means no rules; an unreachable or failing server means stay
        out, for a short while."""
        robots_url = f"{host}/robots.txt"
        try:
            result = await self._attempt(robots_url, {}, accept=())
        except _AttemptFailed as failure:
            if failure.status is not None and 400 <= failure.status < 500:
                return self._fetched_robots(host, None)
            return self._unreachable_robots(_robots_problem(failure))
        return self._fetched_robots(host, result.content.decode("utf-8", errors="replace"))

    def _fetched_robots(self, host: str, body: str | None) -> _RobotsEntry:
        self._new_robots.append(RobotsFile(host, body, datetime.now(UTC)))
        return self._robots_entry(host, body, self.policy.robots_ttl)

    def _robots_entry(self, host: str, body: str | None, ttl: float) -> _RobotsEntry:
        """The rules of `body` (None: no rules) for `ttl` seconds; its Crawl-delay, if longer
        than ours, spaces the requests to the host from now on."""
        if body is None:
            return _RobotsEntry(None, time.monotonic() + ttl)
        robots_url = f"{host}/robots.txt"
        parser = RobotFileParser(robots_url)
        parser.parse(body.splitlines())
        crawl_delay = min(
            float(parser.crawl_delay(self.policy.user_agent) or 0.0), self.policy.max_crawl_delay
        )
        self._gate(robots_url).delay = max(self.policy.per_host_delay, crawl_delay)
        return _RobotsEntry(parser, time.monotonic() + ttl)

    def adopt_robots(self, files: Iterable[RobotsFile]) -> None:
        """Trust robots.txt files fetched before (by an earlier process) for what is left of
        `robots_ttl`, so a `newswatch fetch` run every half hour does not ask for them every
        time. Hosts this fetcher has asked itself keep what it learnt."""
        now = datetime.now(UTC)
        for file in files:
            if file.origin in self._robots:
                continue
            age = max(0.0, (now - file.fetched_at).total_seconds())
            if age < self.policy.robots_ttl:
                entry = self._robots_entry(file.origin, file.body, self.policy.robots_ttl - age)
                self._robots[file.origin] = entry

    def take_new_robots(self) -> list[RobotsFile]:
        """The robots.txt files fetched since the last call, for keeping (see adopt_robots)."""
        taken, self._new_robots = self._new_robots, []
        return taken

    def _unreachable_robots(self, problem: str) -> _RobotsEntry:
        return _RobotsEntry(None, time.monotonic() + self.policy.robots_error_ttl, problem)


def _robots_problem(failure: _AttemptFailed) -> str:
    """Why none of a host's pages are requested: it cannot be reached at all, or its
    robots.txt fails (RFC 9309: then stay out). Asked again after `robots_error_ttl`."""
    if failure.status is None:
        return f"cannot reach the host: {failure} (no page of it was requested)"
    return (
        f"robots.txt answered {failure}: as RFC 9309 asks, no page of the host is requested"
        " until robots.txt answers normally"
    )


@dataclass(frozen=True)
class RobotsFile:
    """A host's robots.txt as fetched, kept in the database between processes."""

    origin: str
    """scheme://host[:port], as the requests to the host have it."""
    body: str | None
    """None: the host has none (it answered 4xx), so everything is allowed."""
    fetched_at: datetime


@dataclass(frozen=True)
class _RobotsEntry:
    parser: RobotFileParser | None
    """None: no rules, everything allowed."""
    expires: float
    """time.monotonic() after which the host's robots.txt is fetched again."""
    unreachable: str | None = None
    """Why robots.txt could not be read (the host is down, or robots.txt fails); until
    `expires`, the host is left alone."""

    def allows(self, user_agent: str, url: str) -> bool:
        return self.parser is None or self.parser.can_fetch(user_agent, url)


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"
