"""Serve a folder of saved pages on 127.0.0.1, as the demo and the tests need.

A request for path P with query Q is answered from the file ``<root>/P`` (no query)
or ``<root>/P__Q`` (the literal query string), so a portal of ASP pages with
``?id=`` URLs can be kept as plain files. A missing file is a 404.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit


def file_for(root: Path, request_path: str) -> Path | None:
    """The file that answers a request path, or None if there is none (or it escapes root)."""
    parts = urlsplit(request_path)
    name = unquote(parts.path).lstrip("/")
    if parts.query:
        name += "__" + parts.query
    candidate = (root / name).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


class _Handler(BaseHTTPRequestHandler):
    server: _SiteHTTPServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        file = file_for(self.server.root, self.path)
        if file is None:
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        kind = "text/plain" if file.name.endswith(".txt") else "text/html"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the demo and the tests have their own output."""


class _SiteHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = root
        self.requests: list[str] = []


class SampleSite:
    """A folder served over real HTTP on a free loopback port, in a background thread."""

    def __init__(self, root: Path, *, port: int = 0) -> None:
        """Serve on `port`, or on any free port when it is 0 or already taken."""
        try:
            self._server = _SiteHTTPServer(root, port)
        except OSError:
            self._server = _SiteHTTPServer(root, 0)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order (tests count them)."""
        return self._server.requests

    def __enter__(self) -> SampleSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
