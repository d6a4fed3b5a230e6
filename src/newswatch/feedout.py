"""An Atom 1.0 feed of flagged stories, so an analyst can follow them in any feed reader.

Written with the standard library's ElementTree, which escapes everything it writes;
the feed is small (the newest stories only), so it is built in memory. A ``[[feeds]]``
table in the config names a file the daemon rewrites after each run.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree as ET

from newswatch import __version__
from newswatch.config import FeedFile
from newswatch.store import Store, utc_iso

__all__ = ["FeedFile"]  # the configuration's model, used with this module's functions

ATOM_NS = "http://www.w3.org/2005/Atom"


def _add(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, attributes)
    element.text = text
    return element


def default_feed_id(database: Path, rule: str | None) -> str:
    """A stable id for the feed of one database (and rule): the same file, the same feed."""
    name = f"newswatch:{database.resolve()}:{rule or '*'}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def write_atom(
    rows: Iterable[Mapping[str, Any]],
    out: BinaryIO,
    *,
    title: str,
    feed_id: str,
    self_url: str | None = None,
    updated: datetime | None = None,
) -> int:
    """Write rows of the `flagged` view (newest first, as Store.flagged gives them) as an
    Atom feed; returns the number of entries.

    A story appears once, under its URL, however many rules flagged it (an article and
    the ticker teaser linking to it are one story). `updated` defaults to the newest
    flag's time, so an unchanged database gives a byte-identical feed.
    """
    entries: dict[str, ET.Element] = {}
    rules: dict[str, set[str]] = {}
    newest = ""
    for row in rows:
        url = row["url"]
        if url not in entries:
            entries[url] = _entry(row)
            rules[url] = set()
        if row["rule"] not in rules[url]:
            rules[url].add(row["rule"])
            _add(entries[url], "category", term=row["rule"])
        newest = max(newest, row["flagged_at"])
    feed = ET.Element("feed", xmlns=ATOM_NS)
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    _add(feed, "updated", utc_iso(updated) if updated else newest or utc_iso(datetime.now(UTC)))
    _add(feed, "generator", "newswatch", version=__version__)
    author = _add(feed, "author")
    _add(author, "name", "newswatch")
    if self_url:
        _add(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    feed.extend(entries.values())
    ET.ElementTree(feed).write(out, encoding="utf-8", xml_declaration=True)
    return len(entries)


def _entry(row: Mapping[str, Any]) -> ET.Element:
    entry = ET.Element("entry")
    _add(entry, "id", row["url"])
    _add(entry, "title", " ".join((row["title"] or "(untitled)").split()))
    _add(entry, "link", rel="alternate", href=row["url"])
    _add(entry, "updated", row["flagged_at"])
    if row["published"]:
        _add(entry, "published", f"{row['published']}T00:00:00Z")
    facts = [row["source"], row["region"], f"matched: {', '.join(row['matched'])}"]
    summary = " · ".join(str(fact) for fact in facts if fact)
    if row["evidence"]:
        summary += "\n\n" + "\n".join(f"… {snippet} …" for snippet in row["evidence"])
    _add(entry, "summary", summary, type="text")
    return entry


def write_atom_file(
    path: Path,
    rows: Iterable[Mapping[str, Any]],
    *,
    title: str,
    feed_id: str,
    self_url: str | None = None,
) -> int:
    """write_atom to a file, replaced atomically: a feed reader never sees half a feed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            count = write_atom(rows, out, title=title, feed_id=feed_id, self_url=self_url)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return count


def feed_title(rule: str | None) -> str:
    return f"newswatch: {rule or 'flagged stories'}"


def write_feeds(store: Store, feeds: Sequence[FeedFile]) -> list[str]:
    """Rewrite every configured feed file: the hook to call after each run.

    A file that cannot be written is reported ("path: cannot write: reason") and the
    others are still written.
    """
    problems = []
    for feed in feeds:
        try:
            write_atom_file(
                feed.path,
                store.flagged(rule=feed.rule, limit=feed.limit),
                title=feed.title or feed_title(feed.rule),
                feed_id=feed.self_url or default_feed_id(store.path, feed.rule),
                self_url=feed.self_url,
            )
        except OSError as exc:
            problems.append(f"{feed.path}: cannot write: {exc.strerror or exc}")
    return problems
