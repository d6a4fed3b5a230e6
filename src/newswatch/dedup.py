"""Recognise the same story again: canonical URLs and content fingerprints.

Pure functions, no I/O. A story is the same when its canonical URL is the same
(`canonical_url`), or when its body normalises to the same text under another URL
(`fingerprint`). A story is also the same when another source carries it lightly edited (a
new first sentence, a dateline, a trimmed last paragraph): `shingles` and `resemblance` tell,
and `lsh_keys` (MinHash, banded for locality-sensitive hashing) finds the few stored articles
worth comparing with, through an index, however many are stored.

URL canonicalisation is written here rather than taken from w3lib or url-normalize
because newswatch needs a specific mix neither gives as is: tracking parameters
dropped, duplicate query keys kept in their original order, path case kept. The tracking
keys are not courlan's: its pattern (trafilatura's dependency) matches substrings and so
also drops keys that choose content (`cid`, `uid`, `source`, `keywords`, `game`, `gl` among
the 430 query keys of the extraction benchmark's links); the unambiguous families it knows
are here. What a page says about its own URL (rel=canonical) is the parsers' part.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
import zlib
from collections.abc import Collection
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
        "twclid",
        "ttclid",
        "ysclid",
        "li_fat_id",
        "ref_src",
        "ref_url",
        "ref_noscript",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "_ga",
        "_gl",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wickedid",
    }
)
"""Query keys (compared lower-case) that only say how a reader got to a page.

Plain `ref` is kept on purpose: some sites use it to select content.
"""
TRACKING_PREFIXES = ("utm_", "mc_", "itm_", "mtm_", "pk_", "hsa_", "relatedposts_")
"""Google Analytics campaigns, Mailchimp, internal campaign tags, Matomo/Piwik, HubSpot ads,
WordPress (Jetpack) related-posts clicks."""

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


@functools.lru_cache(maxsize=8192)
def is_followable(url: str) -> bool:
    """True for http(s) URLs with a host: the only ones newswatch fetches or stores."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme.lower() in FOLLOWABLE_SCHEMES and bool(parts.hostname)


@functools.lru_cache(maxsize=8192)  # a listing's links come back on every page and every run
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


SHINGLE_WORDS = 5
"""Runs of this many words are compared: long enough that two stories about the same
company share few of them by chance, short enough that an edit spoils few."""
MIN_STORY_WORDS = 40
"""Shorter bodies (teasers, briefs) share too few runs of words to tell a copy from a cousin."""
MAX_STORY_WORDS = 1500
"""Words of a body that are compared; the rest adds cost, not certainty."""
SAME_STORY_RESEMBLANCE = 0.5
"""Jaccard similarity of the word runs that a trimmed copy's containment is scaled to
(newswatch.stories.SAME_STORY is where grouping draws the line)."""
SAME_STORY_CONTAINMENT = 0.8
"""This share of the shorter body's runs in the longer one counts as SAME_STORY_RESEMBLANCE."""
LSH_BANDS = 20
LSH_ROWS = 3
"""A signature of LSH_BANDS * LSH_ROWS MinHash values, indexed in LSH_BANDS bands: two bodies
of resemblance s share at least one band with probability 1 - (1 - s**3)**20, which is 0.93 at
0.5, 0.99 at 0.7, 0.15 at 0.2 and next to nothing for unrelated stories. Changing these, the
seed, the hash or the signing scheme below, or the shingle hash (CRC-32) changes every key:
stored keys must then be computed again (a schema migration, as store.py's v6 and v10 did)."""

MINHASH_SEED = 20250326
"""Seed of the MinHash hash function: part of every stored LSH key, like the numbers above."""
_MASK64 = (1 << 64) - 1
_SLOTS = LSH_BANDS * LSH_ROWS
_BOILERPLATE_HEADING = re.compile(
    r"(?:about\s+\S.*|forward[- ]looking\s+(?:statements?|information)"
    r"|cautionary\s+(?:note|statement|language).*|safe\s+harbou?r.*"
    r"|(?:media|press|investor|company)\s+(?:contacts?|enquiries|inquiries|relations)"
    r"|contacts?|for\s+(?:further|more)\s+information.*|notes?\s+to\s+editors?"
    r"|#{3,}|-+\s*ends?\s*-+)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^([^:.!?]{3,80}):\s")
_DISCLAIMER = re.compile(
    r"^(?:this\s+(?:press\s+|news\s+)?release\s+(?:contains|includes|may\s+contain)"
    r"|certain\s+statements\s+in\s+this|the\s+post\s+.+\s+appeared\s+first\s+on)",
    re.IGNORECASE,
)
_HEADING_MAX_WORDS = 10


def story_words(body: str) -> list[str]:
    """The words two copies of a story are compared on: `content_words` of the body without
    the boilerplate a press release ends with ("About Company X", forward-looking statements,
    media contacts), which two different releases of one company share word for word."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", body) if part.strip()]
    for index, paragraph in enumerate(paragraphs[1:], start=1):
        if _starts_boilerplate(paragraph):
            paragraphs = paragraphs[:index]
            break
    return content_words("\n\n".join(paragraphs))[:MAX_STORY_WORDS]


def _starts_boilerplate(paragraph: str) -> bool:
    """A heading ("About Solvane Energy", "Media contact"), a label opening a paragraph
    ("About Solvane Energy: Solvane is ..."), or a disclaimer's first words."""
    first_line = paragraph.splitlines()[0].strip().rstrip(":")
    label = _LABEL.match(paragraph)
    candidates = [first_line] if not first_line.endswith(".") else []
    candidates += [label[1].strip()] if label else []
    return any(
        len(text.split()) <= _HEADING_MAX_WORDS and _BOILERPLATE_HEADING.fullmatch(text)
        for text in candidates
    ) or bool(_DISCLAIMER.match(paragraph))


def shingles(body: str) -> frozenset[int]:
    """The body's runs of SHINGLE_WORDS words, hashed to 32 bits (CRC-32: fast, and two
    bodies of a few hundred runs each share a value by chance once in tens of thousands of
    comparisons); empty when the body is too short to be recognised in another copy."""
    words = story_words(body)
    if len(words) < MIN_STORY_WORDS:
        return frozenset()
    return frozenset(
        zlib.crc32(" ".join(words[start : start + SHINGLE_WORDS]).encode("utf-8"))
        for start in range(len(words) - SHINGLE_WORDS + 1)
    )


def resemblance(first: Collection[int], second: Collection[int]) -> float:
    """How alike two bodies' shingles are, from 0 to 1: their Jaccard similarity, or, for a
    trimmed copy, the share of the shorter one found in the longer one, scaled so that
    SAME_STORY_CONTAINMENT counts as much as SAME_STORY_RESEMBLANCE."""
    if not first or not second:
        return 0.0
    small, large = sorted((first, second), key=len)
    common = sum(1 for shingle in small if shingle in large)
    jaccard = common / (len(first) + len(second) - common)
    containment = common / len(small)
    scale = SAME_STORY_RESEMBLANCE / SAME_STORY_CONTAINMENT
    return max(jaccard, min(1.0, containment * scale))


def minhash(shingle_set: Collection[int]) -> tuple[int, ...]:
    """The MinHash signature of a shingle set: LSH_BANDS * LSH_ROWS values, each of which two
    sets share with probability equal to their Jaccard similarity.

    One hash function instead of one per value ("one permutation hashing", Li, Owen and
    Zhang, 2012): each shingle's hash picks a slot and competes for that slot's minimum; a
    slot no shingle fell into borrows the value of another, chosen by a sequence that
    depends only on the slot ("optimal densification", Shrivastava, 2017), which keeps the
    probability exact. Each shingle is hashed once rather than sixty times, so pure Python
    signs a body in a tenth of a millisecond, with no NumPy (16 MiB) in the process."""
    if not shingle_set:
        raise ValueError("no shingles: the body is too short to sign")
    slots = [_MASK64] * _SLOTS
    for shingle in shingle_set:
        rank, slot = divmod(_mix64(shingle ^ MINHASH_SEED), _SLOTS)
        if rank < slots[slot]:
            slots[slot] = rank
    filled = [value for value in slots if value != _MASK64]
    if len(filled) == _SLOTS:
        return tuple(slots)
    return tuple(
        value if value != _MASK64 else slots[_donor(slot, slots)]
        for slot, value in enumerate(slots)
    )


def _donor(slot: int, slots: list[int]) -> int:
    """The first filled slot in `slot`'s own pseudo-random sequence of slots."""
    attempt = 0
    while True:
        attempt += 1
        candidate = _mix64((slot << 32 | attempt) ^ ~MINHASH_SEED & _MASK64) % _SLOTS
        if slots[candidate] != _MASK64:
            return candidate


def _mix64(value: int) -> int:
    """SplitMix64's finaliser: a 64-bit integer to a well-spread 64-bit hash (each input
    bit changes about half the output bits)."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _MASK64
    return value ^ (value >> 31)


def lsh_keys(signature: tuple[int, ...]) -> list[int]:
    """One key per band of the signature, as signed 64-bit integers for an SQLite index: two
    bodies that share a key are worth comparing."""
    return [
        _hash64(struct.pack(f"<{LSH_ROWS + 1}Q", band, *signature[start : start + LSH_ROWS]))
        - (1 << 63)
        for band, start in enumerate(range(0, LSH_BANDS * LSH_ROWS, LSH_ROWS))
    ]


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
