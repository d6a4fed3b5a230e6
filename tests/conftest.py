"""Shared test fixtures: real HTTP servers on 127.0.0.1 and a way to run the CLI."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest

from newswatch.config import Config
from newswatch.fetch import Fetcher, FetchPolicy
from newswatch.pipeline import SourceReport, run_sources, source_profiles
from newswatch.rules import RuleMatch
from newswatch.sampleserver import SampleSite
from newswatch.store import Matcher, Store

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Route:
    """What the scripted server answers for one path: a list of answers, used in turn."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str = ""
    """'' normal, 'hang' never answer, 'reset' close the socket, 'truncate' short body,
    'gzip' / 'brotli' compress the body, 'badgzip' claim gzip and send garbage,
    'stream' send body forever. A route whose headers hold an ETag or Last-Modified
    answers a matching If-None-Match / If-Modified-Since with 304 and no body."""


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.routes: dict[str, list[Route]] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self.responses: list[tuple[str, int, int]] = []
        """(path, status, body bytes sent) per answered request."""
        self.stop = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, path: str, *answers: Route) -> None:
        self.routes[path] = list(answers)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up (the fault tests make them) is no error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def hits(self, path: str) -> int:
        return sum(1 for logged, _ in self.log if logged == path)

    def serve_folder(self, root: Path) -> None:
        """Answer like SampleSite (file `P__Q` for `P?Q`), plus ETag and Last-Modified."""
        for file in root.rglob("*"):
            if not file.is_file() or file.name.endswith(".md"):
                continue
            name = file.relative_to(root).as_posix()
            path, _, query = name.partition("__")
            body = file.read_bytes()
            kind = "text/plain" if name.endswith(".txt") else "text/html"
            headers = {
                "Content-Type": kind,
                "ETag": f'"{hashlib.sha1(body).hexdigest()[:16]}"',
                "Last-Modified": "Wed, 26 Mar 2025 08:00:00 GMT",
            }
            self.add("/" + path + ("?" + query if query else ""), Route(body=body, headers=headers))


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.log.append((self.path, dict(self.headers.items())))
        answers = self.server.routes.get(self.path)
        # Each answer is recorded before it is sent, so a test that has its reply sees it.
        if not answers:
            self.server.responses.append((self.path, 404, 0))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        route = answers.pop(0) if len(answers) > 1 else answers[0]
        if _not_modified(route.headers, self.headers):
            self.server.responses.append((self.path, 304, 0))
            self.send_response(304)
            for name in ("ETag", "Last-Modified"):
                if name in route.headers:
                    self.send_header(name, route.headers[name])
            self.end_headers()
            return
        if route.delay:
            time.sleep(route.delay)
        if route.action == "hang":
            self.server.stop.wait(30)
            return
        if route.action == "reset":
            self.connection.shutdown(2)
            return
        self.send_response(route.status)
        body = route.body
        headers = {"Content-Type": "text/html; charset=utf-8", **route.headers}
        if route.action == "badgzip":
            headers["Content-Encoding"] = "gzip"
            body = b"this is not gzip at all" * 10
        elif route.action == "gzip":
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body)
        elif route.action == "brotli":
            headers["Content-Encoding"] = "br"
            body = brotli.compress(body)
        for name, value in headers.items():
            self.send_header(name, value)
        if route.action == "stream":
            self.end_headers()
            chunk = b"<p>" + b"x" * 65536 + b"</p>"
            while not self.server.stop.is_set():
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
            return
        length = len(body) * 2 if route.action == "truncate" else len(body)
        self.send_header("Content-Length", str(length))
        self.server.responses.append((self.path, route.status, len(body)))
        self.end_headers()
        self.wfile.write(body)
        if route.action == "truncate":
            self.wfile.flush()
            self.connection.shutdown(2)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _not_modified(answer: dict[str, str], request: Message) -> bool:
    etag, modified = answer.get("ETag"), answer.get("Last-Modified")
    if etag and request.get("If-None-Match"):
        return request["If-None-Match"] == etag
    return bool(modified) and request.get("If-Modified-Since") == modified


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def portal() -> Iterator[SampleSite]:
    with SampleSite(FIXTURES / "portal") as site:
        yield site


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> CliRunner:
    """Run `newswatch ARGS` in a subprocess, as a user would, in tmp_path."""

    def run(
        *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        return subprocess.run(
            [sys.executable, "-m", "newswatch", *args],
            cwd=tmp_path,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    return run


def never(fields: Mapping[str, str]) -> list[RuleMatch]:
    """A matcher for tests about fetching and storing: flags nothing."""
    return []


def fetch_all_once(config: Config, store: Store, matcher: Matcher = never) -> list[SourceReport]:
    """One run over every configured source, as `newswatch fetch` does it, in-process."""

    async def go() -> list[SourceReport]:
        async with Fetcher(FetchPolicy.from_settings(config.settings)) as fetcher:
            return await run_sources(
                config,
                config.sources,
                store=store,
                fetcher=fetcher,
                profiles=source_profiles(config, config.sources),
                matcher=matcher,
            )

    return asyncio.run(go())
