"""Which story a new article belongs to, whatever order the copies of a story arrive in.

Two articles are one story when their bodies resemble each other (`dedup.resemblance`: word
runs in common, or a shorter copy contained in a longer one). A story is then every article
linked to another of it by resemblance: the connected parts of the "resembles" graph, which do
not depend on the order the articles came in, as long as each new article is compared with
the stored articles it may resemble (the candidates the store finds through the LSH index,
and the other members of their stories) and not only with the first alike one it meets.

So a new article that resembles articles of two or more stories joins them into one: the
oldest story (the lowest story id, that of the earliest article) takes in the others. This is
a union-find whose find is the stored story id: the store relabels the merged stories'
articles. Pure functions; the store only moves the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from newswatch.dedup import resemblance

SAME_STORY = 0.4
"""Resemblance from which two articles are one story (see dedup.resemblance; a shorter copy
needs 64% of its word runs in the longer one). Measured on tests/fixtures/stories/groups.json:
different stories of one company in one week, sharing a background paragraph, reach 0.29;
a short copy with a dateline and a rewritten first sentence comes down to 0.44 against its
original. At 0.5 those copies were left out as stories of their own (pairwise recall 0.89)."""


@dataclass(frozen=True)
class Candidate:
    """A stored article a new one may belong with."""

    article_id: int
    story_id: int
    shingles: frozenset[int]


@dataclass(frozen=True)
class Placement:
    """Where a new article goes."""

    story_id: int | None
    """The story it joins (the oldest of those it resembles); None: it begins a story."""
    resemblance: float | None
    """How alike it is to the closest article of those stories, 0..1."""
    merged: tuple[int, ...] = ()
    """The other stories it resembles: they become part of story_id."""


def place(own: frozenset[int], candidates: Iterable[Candidate]) -> Placement:
    """The story of an article with shingles `own`, given the stored articles it may resemble.

    Every candidate is compared, not only until one resembles it: an article that resembles
    members of two stories is what shows they are one.
    """
    best: dict[int, float] = {}
    for candidate in candidates:
        score = resemblance(own, candidate.shingles)
        if score >= SAME_STORY and score > best.get(candidate.story_id, -1.0):
            best[candidate.story_id] = score
    if not best:
        return Placement(None, None)
    story_id, *others = sorted(best)
    return Placement(story_id, round(max(best.values()), 3), tuple(others))
