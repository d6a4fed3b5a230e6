"""A loopback news portal for the benchmarks: several hosts of synthetic article pages.

One server per host, on 127.0.0.1, 127.0.0.2, ... (all of 127/8 is loopback on Linux), all
on one port, each answering after a fixed latency, in the markup of gulfoilandgas.com (the
bundled profile reads it): a listing of the newest stories, article pages with a regional
ticker, menus, ads and scripts around them. Pages carry an ETag and answer 304 to a matching
If-None-Match, and are gzipped when the client accepts it, as real servers do.

Each host's stories are reached within two hops from its listing, as `newswatch fetch`
follows them (listing -> newest 50 stories -> the ticker of each leads to 4 older ones), and
every ticker link points at a story that exists, so a full run leaves nothing unfollowed.
With --publish-every, each host publishes one more story that often (the listing changes).

    python scripts/synthetic_portal.py [--hosts 4] [--articles 250] [--latency 0.05]

prints one JSON line ({"port": ..., "hosts": [...]}) once it serves. GET /__stats on any
host answers per-host counters (requests, 200s, 304s, body bytes on the wire) without
latency and without counting itself; GET /__reset zeroes them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import hashlib
import json
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from synthetic_news import TOPICAL_SENTENCES, words

LISTED = 50
"""Stories on a host's listing page, newest first."""
TICKER = 8
FIRST_ID = 1_500_000
IDS_PER_HOST = 100_000
REGIONS = ("Asia", "Qatar", "Norway", "United Arab Emirates", "Germany", "China", "Oman")
LISTING_PATH = "/webpro1/main/newshome.asp"
ARTICLE_PATH = "/webpro1/main/mainnews.asp"

_HEAD = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<!-- Synthetic page for the newswatch benchmarks: generated text, FICTIONAL news. -->
<title>{title} - Gulf Oil and Gas News</title>
<meta name="keywords" content="oil, gas, energy, news, middle east, projects">
<script type="text/javascript">
  var _gaq = _gaq || [];
  _gaq.push(['_setAccount', 'UA-1234567-1']);
  _gaq.push(['_trackPageview']);
  (function() {{ var ga = document.createElement('script'); ga.type = 'text/javascript';
    ga.async = true; ga.src = 'https://ssl.google-analytics.com/ga.js';
    var s = document.getElementsByTagName('script')[0]; s.parentNode.insertBefore(ga, s); }})();
</script>
<link rel="stylesheet" href="/css/style.css" type="text/css">
</head>
<body leftmargin=0 topmargin=0 marginwidth=0 marginheight=0>
<table class="topmenu" width="100%" cellspacing=0 cellpadding=3 bgcolor="#003366"><tr>
<td><a href="/">Home</a> | <a href="/webpro1/main/newshome.asp">News</a> |
<a href="/webpro1/prj/projects.asp">Projects</a> | <a href="/webpro1/main/tenders.asp">Tenders</a> |
<a href="/webpro1/main/events.asp">Events</a> | <a href="/webpro1/main/jobs.asp">Jobs</a> |
<a href="/webpro1/main/directory.asp">Directory</a>
<td align="right"><form action="/webpro1/main/search.asp" method="get" style="margin:0">
<input type="text" name="q" size="18">&nbsp;<input type="submit" value="Search"></form>
</tr></table>
<table class="regionmenu" width="100%" cellpadding=2><tr><td>{regions}</table>
<div class="adbanner" align="center"><a href="/ads/click.asp?id=7"><img src="/ads/banner.gif"
 width=728 height=90 border=0 alt="Advertisement"></a></div>
<table width="100%" border=0 cellpadding=6><tr>
{sections}<td valign="top" class="maincol">
"""
_TAIL = """<td valign="top" class="rightcol" width="300">
<div class="adbox"><a href="/ads/click.asp?id=31"><img src="/ads/sky_31.gif" width=300 height=250
 border=0></a></div><br>
<div class="mostread"><b>Most Read</b><br><br>
{most_read}</div>
<div class="newsletter"><b>Free daily newsletter</b><br>
<form action="/webpro1/main/subscribe.asp" method="post"><input type="text" name="email" size="20">
&nbsp;<input type="submit" value="Subscribe"></form></div>
</tr></table>
<div class="footer">Gulf Oil and Gas<br>Copyright &copy; 2023 ICT All rights reserved. -
<a href="/terms.asp">Terms of Service</a> - <a href="/privacy.asp">Privacy Policy</a>.</div>
<script type="text/javascript">
function bookmarksite(title, url) {{
  if (window.sidebar) window.sidebar.addPanel(title, url, "");
  else if (document.all) window.external.AddFavorite(url, title);
}}
</script>
</body></html>
"""
_INLINE_AD = """<div class="inlinead" style="margin:10px 0;text-align:center">
<span class="adlabel">Advertisement</span><br>
<script type="text/javascript">
  var adslot = "gog_mpu_" + Math.floor(Math.random() * 4);
  document.write('<a href="/ads/click.asp?slot=' + adslot + '"><img src="/ads/'
    + adslot + '.gif" border=0></a>');
</script>
<noscript><a href="/ads/click.asp?id=21"><img src="/ads/mpu_21.gif" border=0
 alt="Advertise with Gulf Oil and Gas"></a></noscript>
</div>"""
_REGION_MENU = " &nbsp;|&nbsp; ".join(
    f'<a href="/webpro1/main/newslist.asp?id={code}">{name}</a>'
    for code, name in (("ME", "Middle East"), ("AF", "Africa"), ("AS", "Asia"), ("EU", "Europe"))
)
_SECTIONS = '<td valign="top" width="160" class="leftcol"><b>Sections</b><br>' + "".join(
    f'<a href="/webpro1/{path}">{name}</a><br>'
    for path, name in (
        ("main/newshome.asp", "Latest News"),
        ("prj/projects.asp", "Project Tracker"),
        ("main/tenders.asp", "Tenders"),
        ("main/events.asp", "Events &amp; Conferences"),
        ("main/companies.asp", "Company Directory"),
        ("main/jobs.asp", "Jobs"),
    )
)


@dataclass(frozen=True)
class Story:
    """What one story's pages show; a function of (host, index) only, so pages are stable."""

    id: int
    title: str
    region: str
    published: date
    paragraphs: tuple[str, ...]


FUNCTION_WORDS = (
    "the of and to in a said is for on that with by at from as will its it has be was are an "
    "this which have been their than more after also new about up over into two million per"
).split()
"""English text is about half function words; extractors that weigh stopwords need them."""


def sentences(rng: random.Random, count: int) -> str:
    """About `count` words as prose: sentences of 8 to 30 words, about half of them function
    words, a comma now and then."""
    out = []
    while count > 0:
        length = min(count, rng.randint(8, 30))
        sentence = [
            rng.choice(FUNCTION_WORDS) if rng.random() < 0.45 else word
            for word in words(rng, length).split()
        ]
        if length > 12:
            sentence[rng.randrange(4, length - 4)] += ","
        out.append(" ".join(sentence).capitalize() + ".")
        count -= length
    return " ".join(out)


@functools.lru_cache(maxsize=4096)
def story(host: int, index: int) -> Story:
    rng = random.Random(host * IDS_PER_HOST + index)
    paragraphs = [sentences(rng, rng.randint(70, 120)) for _ in range(4)]
    if rng.random() < 0.05:
        paragraphs[rng.randrange(4)] += " " + rng.choice(TOPICAL_SENTENCES)
    return Story(
        id=FIRST_ID + host * IDS_PER_HOST + index,
        title=words(rng, 9).title(),
        region=rng.choice(REGIONS),
        published=date(2025, 1, 1) + timedelta(days=index // 10),
        paragraphs=tuple(paragraphs),
    )


def _us_date(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _link(story_: Story) -> str:
    return f"{ARTICLE_PATH}?id={story_.id}"


@dataclass
class Host:
    """One site: its stories 0..count-1 (the highest is the newest) and its counters."""

    number: int
    initial: int
    publish_every: float | None
    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    body_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        if not self.publish_every:
            return self.initial
        return self.initial + int((time.monotonic() - self.started) / self.publish_every)

    def ticker(self, index: int) -> list[int]:
        """The stories an article's ticker links to: for the newest LISTED of the initial
        set, four older ones each (so two hops reach them all) and the four newest; for the
        others, their neighbours; for stories published later, the ones just before them."""
        if index >= self.initial:
            return [index - step for step in range(1, TICKER + 1)]
        rank = self.initial - 1 - index
        older = self.initial - LISTED
        if rank < LISTED:
            children = [LISTED + 4 * rank + k for k in range(4)]
            ranks = [rank for rank in children if rank < self.initial] + [0, 1, 2, 3]
        else:
            ranks = [LISTED + (rank - LISTED + step) % max(older, 1) for step in range(1, 9)]
        return [self.initial - 1 - r for r in ranks if r < self.initial and r != rank][:TICKER]

    def listing(self, count: int) -> str:
        blocks = []
        for index in range(count - 1, max(count - 1 - LISTED, -1), -1):
            item = story(self.number, index)
            blocks.append(
                f'<div class="newsblock">\n  <a class="newslinkgog" href="{_link(item)}">'
                f"<b>{item.title}</b></a>\n"
                f'  <table><tr><td class="newssubblock">{item.paragraphs[0][:200]}...</table>\n'
                f'  <span class="lblues">{item.region} &gt;&gt; {_us_date(item.published)}</span>\n'
                "</div>\n<hr size=1 noshade color=#CCCCCC>\n"
            )
        head = _HEAD.format(
            title="Latest Oil and Gas News", regions=_REGION_MENU, sections=_SECTIONS
        )
        main = '<h2 class="pagehead">Latest Oil and Gas News</h2>\n' + "".join(blocks)
        return head + main + _TAIL.format(most_read=self._most_read(count))

    def article(self, index: int, count: int) -> str:
        """An article page laid out as the real site's (see tests/fixtures/portal): the body's
        paragraphs separated by <br><br>, an inline ad with its script, a related-news box
        and share buttons inside the body, the ticker after it."""
        item = story(self.number, index)
        ticker = [story(self.number, other) for other in self.ticker(index)]
        first, second, third, fourth = item.paragraphs
        share = (
            f"https%3A%2F%2Fwww.gulfoilandgas.com%2Fwebpro1%2Fmain%2Fmainnews.asp%3Fid%3D{item.id}"
        )
        related = "".join(f'<tr><td><a href="{_link(s)}">{s.title}</a>\n' for s in ticker[:2])
        lines = [
            '<div class="breadcrumb"><a href="/">Home</a> &gt;&gt; '
            f'<a href="{LISTING_PATH}">News</a> &gt;&gt; {item.region}</div>',
            f'<h1 class="newsheading">{item.title}</h1>',
            f'<div class="newsdate">Source: www.gulfoilandgas.com {_us_date(item.published)}, '
            f"Location: {item.region}</div>",
            f'<div class="newsbodytext">{first}<br><br>',
            _INLINE_AD,
            second,
            '<table class="relatednews" align="right" width="220" border=0 cellpadding=3 '
            f'bgcolor="#EEF3F8"><tr><td><b>Related news</b>\n{related}</table>',
            f"{third}<br><br>",
            fourth,
            '<div class="sharebuttons"><br>Share this article: '
            f'<a href="https://www.facebook.com/sharer/sharer.php?u={share}">Facebook</a> | '
            f'<a href="https://twitter.com/intent/tweet?url={share}">Tweet</a> | '
            f'<a href="https://www.linkedin.com/shareArticle?mini=true&amp;url={share}">'
            "LinkedIn</a> | "
            '<a href="mailto:?subject=News">Email to a friend</a> | '
            '<a href="javascript:window.print()">Print</a></div></div>',
            '<div class="newsticker">',
            *(
                f'<a href="{_link(t)}"><span class="lblues">{t.region} &gt;&gt; </span> '
                f"{_us_date(t.published)} - {t.paragraphs[0][:150]}...</a><br>"
                for t in ticker
            ),
            "</div>",
        ]
        head = _HEAD.format(title=item.title, regions=_REGION_MENU, sections="")
        return head + "\n".join(lines) + "\n" + _TAIL.format(most_read=self._most_read(count))

    def _most_read(self, count: int) -> str:
        newest = [story(self.number, index) for index in range(count - 1, max(count - 6, -1), -1)]
        return "".join(f'<a href="{_link(s)}">{s.title}</a><br><br>\n' for s in newest)

    def page(self, path: str) -> bytes | None:
        """The page at `path` (with its query), or None for a 404."""
        parts = urlsplit(path)
        count = self.count()
        if parts.path == "/robots.txt":
            return b"User-agent: *\nDisallow: /webpro1/admin/\n"
        if parts.path == LISTING_PATH:
            return _encoded(self.listing(count))
        if parts.path == ARTICLE_PATH:
            ids = parse_qs(parts.query).get("id", [""])
            index = int(ids[0]) - FIRST_ID - self.number * IDS_PER_HOST if ids[0].isdigit() else -1
            if 0 <= index < count:
                return _encoded(self.article(index, count))
        return None


@functools.lru_cache(maxsize=4096)
def _encoded(html: str) -> bytes:
    return html.encode("windows-1252", errors="replace")


@functools.lru_cache(maxsize=4096)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


class _Handler(BaseHTTPRequestHandler):
    server: _HostServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        portal = self.server.portal
        if self.path == "/__stats":
            self._answer(200, json.dumps(portal.stats()).encode(), "application/json")
            return
        if self.path == "/__reset":
            portal.reset()
            self._answer(200, b"{}", "application/json")
            return
        host = self.server.host
        time.sleep(portal.latency)
        body = host.page(self.path)
        with host.lock:
            host.requests += 1
        if body is None:
            self._answer(404, b"not found", "text/plain")
            return
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            with host.lock:
                host.not_modified += 1
            self._answer(304, b"", None, etag=etag)
            return
        kind = "text/plain" if self.path == "/robots.txt" else "text/html; charset=windows-1252"
        gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
        wire = _gzipped(body) if gzipped else body
        with host.lock:
            host.ok += 1
            host.body_bytes += len(wire)
        self._answer(200, wire, kind, etag=etag, gzipped=gzipped)

    def _answer(
        self,
        status: int,
        body: bytes,
        kind: str | None,
        *,
        etag: str | None = None,
        gzipped: bool = False,
    ) -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        if etag:
            self.send_header("ETag", etag)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmarks print their own figures."""


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], host: Host, portal: Portal) -> None:
        super().__init__(address, _Handler)
        self.host = host
        self.portal = portal


class Portal:
    """All hosts, served from background threads until `close()`."""

    def __init__(
        self,
        *,
        hosts: int = 4,
        articles: int = 250,
        latency: float = 0.05,
        publish_every: float | None = None,
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.hosts = [Host(number, articles, publish_every) for number in range(hosts)]
        self.servers: list[_HostServer] = []
        for host in self.hosts:
            address = (f"127.0.0.{host.number + 1}", port)
            server = _HostServer(address, host, self)
            port = server.server_address[1]
            self.servers.append(server)
        self.port = port
        for server in self.servers:
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.{host.number + 1}:{self.port}" for host in self.hosts]

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            address: {
                "requests": host.requests,
                "ok": host.ok,
                "not_modified": host.not_modified,
                "body_bytes": host.body_bytes,
                "articles": host.count(),
            }
            for address, host in zip(self.addresses, self.hosts, strict=True)
        }

    def reset(self) -> None:
        for host in self.hosts:
            with host.lock:
                host.requests = host.ok = host.not_modified = host.body_bytes = 0

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


class PortalProcess:
    """The portal in a child process, so its work does not count in the caller's CPU time."""

    def __init__(self, **options: float | int | None) -> None:
        command = [sys.executable, str(Path(__file__))]
        for name, value in options.items():
            if value is not None:
                command += [f"--{name.replace('_', '-')}", str(value)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        ready = json.loads(self._process.stdout.readline())
        self.port: int = ready["port"]
        self.hosts: list[str] = ready["hosts"]

    def stats(self) -> dict[str, dict[str, int]]:
        with urllib.request.urlopen(f"http://{self.hosts[0]}/__stats") as answer:
            stats: dict[str, dict[str, int]] = json.load(answer)
            return stats

    def reset(self) -> None:
        urllib.request.urlopen(f"http://{self.hosts[0]}/__reset").close()

    def __enter__(self) -> PortalProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--articles", type=int, default=250, help="stories per host")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--publish-every", type=float, default=None, help="seconds")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    portal = Portal(
        hosts=args.hosts,
        articles=args.articles,
        latency=args.latency,
        publish_every=args.publish_every,
        port=args.port,
    )
    print(json.dumps({"port": portal.port, "hosts": portal.addresses}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # serve until the parent closes our stdin (or Ctrl-D)
    portal.close()


if __name__ == "__main__":
    main()
