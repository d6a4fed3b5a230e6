"""Recognise the same story again: canonical URLs and content fingerprints.

Pure functions, no I/O. A story is the same when its canonical URL is the same
(`canonical_url`), or when its body normalises to the same text under another URL
(`fingerprint`). Near-duplicate detection (SimHash/MinHash) can be built on the same
word sequence that `content_words` returns.

URL canonicalisation is written here rather than taken from w3lib or url-normalize
because newswatch needs a specific mix neither gives as is: tracking parameters
dropped, duplicate query keys kept in their original order, path case kept.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

FOLLOWABLE_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref_src",
        "ref_url",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
    }
)
"""Query keys (compared lower-case) that only say how a reader got to a page.

Plain `ref` is kept on purpose: some sites use it to select content.
"""
TRACKING_PREFIXES = ("utm_",)

MIN_FINGERPRINT_WORDS = 20
"""Shorter bodies (teasers, empty pages) would make unrelated pages look identical."""

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters left as they are (besides letters, digits and "_.-~", which quote never touches).
_PATH_SAFE = "/!$&'()*+,;=:@%"
_QUERY_PART_SAFE = "/?!$'()*+,;:@%"
_QUERY_VALUE_SAFE = _QUERY_PART_SAFE + "="
_NON_WORD = re.compile(r"[\W_]+")


def is_followable(url: str) -> bool:
    """True for http(s) URLs with a host: the only ones newswatch fetches or stores."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme.lower() in FOLLOWABLE_SCHEMES and bool(parts.hostname)


def canonical_url(url: str) -> str:
    """The form of `url` under which a story is stored, so trivially different links match.

    Lower-cases scheme and host, drops the default port, the fragment and tracking
    parameters, sorts the query by key (duplicate keys keep their order), turns an
    empty path into "/" and normalises percent-encoding. Path case is kept.
    Raises ValueError for anything `is_followable` rejects.
    """
    url = url.strip()
    if not is_followable(url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return urlunsplit(
        (
            scheme,
            _canonical_netloc(scheme, parts.netloc),
            _normalise_escapes(parts.path, _PATH_SAFE) or "/",
            _canonical_query(parts.query),
            "",
        )
    )


def _canonical_netloc(scheme: str, netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    parts = urlsplit(f"//{hostport}")
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def _canonical_query(query: str) -> str:
    pairs: list[tuple[str, str | None]] = []
    for field in query.split("&"):
        if not field:
            continue
        key, has_value, value = field.partition("=")
        key = _normalise_escapes(key, _QUERY_PART_SAFE)
        if _is_tracking(key):
            continue
        pairs.append((key, _normalise_escapes(value, _QUERY_VALUE_SAFE) if has_value else None))
    pairs.sort(key=lambda pair: pair[0])
    return "&".join(key if value is None else f"{key}={value}" for key, value in pairs)


def _is_tracking(key: str) -> bool:
    name = _PERCENT_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), key).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _normalise_escapes(part: str, safe: str) -> str:
    """Escape what must be escaped, upper-case escapes, unescape unreserved characters."""
    part = quote(_STRAY_PERCENT.sub("%25", part), safe=safe)

    def fix(escape: re.Match[str]) -> str:
        char = chr(int(escape.group(1), 16))
        return char if char in _UNRESERVED else f"%{escape.group(1).upper()}"

    return _PERCENT_ESCAPE.sub(fix, part)


def content_words(text: str) -> list[str]:
    """The words of `text` with case, Unicode forms, punctuation and spacing ironed out.

    NFKC folds compatibility forms (full-width letters, ligatures); every run of
    punctuation, quotes or whitespace becomes one word break.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).split()


def fingerprint(text: str) -> str:
    """Hex SHA-256 of the normalised words of a body; "" when too short to tell stories apart."""
    words = content_words(text)
    if len(words) < MIN_FINGERPRINT_WORDS:
        return ""
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()
