"""One story, many sources: near-duplicate detection (MinHash LSH over word shingles), stories
in the store, one flag per story and rule, and the `flagged_stories` view."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from newswatch.dedup import (
    LSH_BANDS,
    SAME_STORY_RESEMBLANCE,
    SHINGLE_WORDS,
    content_words,
    lsh_keys,
    minhash,
    resemblance,
    shingles,
    story_words,
)
from newswatch.models import Article, Page, TickerItem
from newswatch.rules import RuleMatch
from newswatch.store import SCHEMA_VERSION, STORY_WEEKS, WEEK_SECONDS, Store
from newswatch.stories import SAME_STORY as SAME_STORY_JOIN
from newswatch.stories import Candidate, Placement, place

PLANT = """Solvane Energy GmbH broke ground on Wednesday on an 8 GWh solid-state battery plant \
near Bautzen in the German state of Saxony, a €1.1 billion project the Dresden-based start-up \
says will supply cells for commercial vehicles and stationary storage from 2027.

The plant will make lithium-metal pouch cells with a polymer-ceramic separator, a design \
Solvane has tested in delivery vans since 2023. The company said its cells reached 400 Wh/kg in \
third-party testing and kept 85% of their capacity after 1,500 cycles.

“Europe cannot afford to watch the next generation of batteries being industrialised \
elsewhere,” said chief executive Katrin Albers. Saxony’s economy ministry has pledged €180 \
million in support, subject to approval under EU state aid rules.

Solvane said it would hire about 900 people at the site and is in talks with two truck makers \
over long-term supply agreements."""
"""The body of the fixture portal's article 1405802 (flagged by the default rule)."""

LEAD = "Construction has started on Germany's first large solid-state battery factory. "
DATELINE = "BAUTZEN, Germany, March 26 (Newswire) - "


def without_last_paragraph(text: str) -> str:
    return text.rsplit("\n\n", 1)[0]


SAME_STORY = {
    "new first sentence": LEAD + PLANT,
    "dateline": DATELINE + PLANT,
    "last paragraph trimmed": without_last_paragraph(PLANT),
    "all three edits": DATELINE + LEAD + without_last_paragraph(PLANT),
    "first sentence rewritten": (
        "Solvane Energy has started building a solid-state battery factory in Saxony, a "
        "€1.1 billion project meant to supply truck and storage cells from 2027.\n\n"
        + PLANT.split("\n\n", 1)[1]
    ),
    "typography and case": PLANT.replace("“", '"').replace("”", '"').upper(),
}

ABOUT = """About Solvane Energy

Solvane Energy GmbH, founded in 2019 and based in Dresden, develops and manufactures \
lithium-metal battery cells with a polymer-ceramic separator for commercial vehicles, \
buses and stationary energy storage. The company employs more than 350 people in Dresden \
and Munich and is backed by a group of European industrial and financial investors. \
Its cells are tested by delivery fleets in Germany, the Netherlands and Denmark."""

FORWARD_LOOKING = """Forward-looking statements

This release contains forward-looking statements based on the current expectations of \
Solvane Energy's management. They are subject to risks and uncertainties, many of which are \
beyond the company's control, and actual results may differ materially from those expressed \
or implied. Solvane Energy assumes no obligation to update any forward-looking statement, \
whether as a result of new information, future events or otherwise."""

CONTACT = """Media contact: Jana Krüger, press@solvane.example, +49 351 555 0100"""


def release(news: str) -> str:
    return "\n\n".join([news, ABOUT, FORWARD_LOOKING, CONTACT])


PLANT_RELEASE = release(
    "Solvane Energy broke ground on Wednesday on its 8 GWh battery plant near Bautzen, "
    "Saxony, where it will hire about 900 people. Production of cells for trucks and "
    "stationary storage is due to start in 2027, the company said."
)
SUPPLY_RELEASE = release(
    "Solvane Energy has signed a five-year agreement to supply battery packs to Nordbahn "
    "Logistik, which will electrify 400 regional delivery trucks from next year. Financial "
    "terms were not disclosed; deliveries start in the second quarter."
)
RESULTS_STORY = (
    "Solvane Energy said on Thursday that its revenue tripled last year as delivery fleets in "
    "Germany and the Netherlands took more of its cells, though it remained loss-making as "
    "it spent on its new factory. The company expects to break even in 2028.\n\n"
    "Chief financial officer Tomasz Nowak said Solvane had enough cash to reach its first "
    "commercial production and was not planning to raise more equity this year. The company "
    "will report first-half results in August."
)


def raw_resemblance(first: str, second: str) -> float:
    """Resemblance over every word, boilerplate included: what the grouping would see
    without story_words."""

    def runs(text: str) -> frozenset[int]:
        words = content_words(text)
        return frozenset(
            hash(tuple(words[i : i + SHINGLE_WORDS])) for i in range(len(words) - SHINGLE_WORDS)
        )

    return resemblance(runs(first), runs(second))


# --- the measure ---------------------------------------------------------------------------


@pytest.mark.parametrize("edit", sorted(SAME_STORY))
def test_lightly_edited_copies_are_the_same_story(edit: str) -> None:
    assert resemblance(shingles(PLANT), shingles(SAME_STORY[edit])) >= SAME_STORY_RESEMBLANCE


@pytest.mark.parametrize("edit", sorted(SAME_STORY))
def test_lightly_edited_copies_share_an_lsh_band(edit: str) -> None:
    original = set(lsh_keys(minhash(shingles(PLANT))))
    assert original & set(lsh_keys(minhash(shingles(SAME_STORY[edit]))))


def test_two_releases_of_one_company_sharing_boilerplate_are_different_stories() -> None:
    # The shared boilerplate is most of each text: compared whole, they would be grouped.
    assert raw_resemblance(PLANT_RELEASE, SUPPLY_RELEASE) >= SAME_STORY_RESEMBLANCE
    assert resemblance(shingles(PLANT_RELEASE), shingles(SUPPLY_RELEASE)) < 0.1
    for other in (PLANT, RESULTS_STORY):
        assert resemblance(shingles(SUPPLY_RELEASE), shingles(other)) < 0.1
    assert resemblance(shingles(PLANT), shingles(RESULTS_STORY)) < 0.1


def test_story_words_stop_at_the_boilerplate() -> None:
    assert story_words(PLANT_RELEASE) == content_words(PLANT_RELEASE.split("\n\n")[0])
    inline = "Solvane signs a supply deal.\n\nAbout Solvane Energy: Solvane makes cells."
    assert story_words(inline) == ["solvane", "signs", "a", "supply", "deal"]
    # A paragraph that merely starts with "About" is text, not a heading.
    text = "Solvane signs a deal.\n\nAbout 900 people will work at the Bautzen site."
    assert story_words(text) == content_words(text)
    # The first paragraph is never cut, whatever it says.
    assert story_words(ABOUT) == content_words(ABOUT)


def test_short_bodies_have_no_shingles() -> None:
    assert shingles("Solvane breaks ground in Saxony. " * 3) == frozenset()
    assert resemblance(frozenset(), shingles(PLANT)) == 0.0
    with pytest.raises(ValueError):
        minhash(frozenset())


def test_lsh_keys_are_stable_across_processes() -> None:
    """Stored keys must keep meaning the same thing: no per-process hash seed, fixed
    permutations. A change here means every stored key must be computed again."""
    keys = lsh_keys(minhash(shingles(PLANT)))
    assert len(keys) == LSH_BANDS == len(set(keys))
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert keys[:2] == EXPECTED_FIRST_KEYS


EXPECTED_FIRST_KEYS = [-1813969204551336875, -7098947333062489135]


@pytest.mark.parametrize(("size", "jaccard"), [(40, 0.5), (40, 0.8), (400, 0.2), (400, 0.5)])
def test_signatures_agree_in_the_share_of_positions_the_sets_have_in_common(
    size: int, jaccard: float
) -> None:
    """What LSH relies on: a position of two signatures agrees with probability equal to the
    sets' Jaccard similarity, also for sets too small to fill every slot (borrowed values)."""
    generator = random.Random(size)
    common = round(2 * jaccard * size / (1 + jaccard))  # |A & B| / |A | B| = jaccard
    agree = positions = 0
    for _ in range(200):
        values = generator.sample(range(2**32), 2 * size - common)
        first, second = minhash(values[:size]), minhash(values[size - common :])
        agree += sum(a == b for a, b in zip(first, second, strict=True))
        positions += len(first)
    assert abs(agree / positions - jaccard) < 0.02


# --- the store -------------------------------------------------------------------------------


def solid_state(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
    text = " ".join(fields.values()).lower()
    return (
        [RuleMatch("ssb", ("solid-state battery",), (), ("body",))]
        if "solid-state battery" in text
        else []
    )


def solid_state_and_saxony(fields: Mapping[str, str]) -> Sequence[RuleMatch]:
    text = " ".join(fields.values()).lower()
    found = [*solid_state(fields)]
    if "saxony" in text:
        found.append(RuleMatch("saxony", ("Saxony",), (), ("body",)))
    return found


class TickingClock:
    """Every reading a second later: first_seen tells the order articles were stored in."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 26, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "news.db", clock=TickingClock()) as opened:
        for name in ("portal", "wire", "trade"):
            opened.upsert_source(name, f"http://{name}.example.com/", "generic")
        yield opened


def page(url: str, text: str, title: str = "Solvane breaks ground") -> Page:
    return Page(url=url, article=Article(url=url, title=title, body=text, published=date.today()))


def query(store: Store, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(sql, params).fetchall()


def test_near_duplicates_from_other_sources_and_urls_join_one_story(store: Store) -> None:
    first = store.save_page("portal", page("http://portal.example.com/?id=1", PLANT), **NO_FETCH)
    copies = [
        ("wire", "http://wire.example.com/2025/03/26/solvane", SAME_STORY["all three edits"]),
        ("trade", "http://trade.example.com/news/solvane.html", SAME_STORY["dateline"]),
        ("portal", "http://portal.example.com/?id=2", SAME_STORY["new first sentence"]),
    ]
    for source, url, text in copies:
        saved = store.save_page(source, page(url, text, title="Other headline"), **NO_FETCH)
        assert saved.article == "new" and saved.story_of == "http://portal.example.com/?id=1"
    other = store.save_page("wire", page("http://wire.example.com/r", RESULTS_STORY), **NO_FETCH)
    assert first.story_of is None and other.story_of is None
    stories = query(store, "SELECT story_id, count(*) FROM articles GROUP BY story_id")
    assert sorted(stories) == [(first.article_id, 4), (other.article_id, 1)]
    similarity = query(store, "SELECT resemblance FROM articles WHERE story_id != id")
    assert all(SAME_STORY_RESEMBLANCE <= value <= 1 for (value,) in similarity)
    # every copy stays searchable under its own URL
    assert len(store.search("Bautzen").hits) == 4


NO_FETCH: dict[str, object] = {"fetch_id": None, "matcher": solid_state}


def test_same_company_same_week_stays_apart(store: Store) -> None:
    saved = [
        store.save_page("portal", page(f"http://portal.example.com/?id={n}", text), **NO_FETCH)
        for n, text in enumerate((PLANT_RELEASE, SUPPLY_RELEASE, RESULTS_STORY, PLANT))
    ]
    assert [result.story_of for result in saved] == [None, None, None, None]
    assert query(store, "SELECT count(DISTINCT story_id) FROM articles") == [(4,)]


def test_a_story_is_flagged_once_per_rule_and_listed_once(store: Store) -> None:
    def save(source: str, url: str, text: str) -> int:
        matcher = solid_state_and_saxony
        return store.save_page(source, page(url, text), fetch_id=None, matcher=matcher).new_flags

    assert save("portal", "http://portal.example.com/?id=1", PLANT) == 2
    assert save("wire", "http://wire.example.com/solvane", SAME_STORY["dateline"]) == 0
    # the exact same text under a third URL: a duplicate, in the same story
    assert save("trade", "http://trade.example.com/solvane", PLANT) == 0
    assert save("trade", "http://trade.example.com/results", RESULTS_STORY) == 0
    assert query(store, "SELECT count(*) FROM flags") == [(2,)]

    [story] = store.flagged_stories()
    assert sorted(story["rules"]) == ["saxony", "ssb"]
    assert story["url"] == "http://portal.example.com/?id=1"
    assert story["source_count"] == 3
    assert [carrier["source"] for carrier in story["sources"]] == ["portal", "wire", "trade"]
    assert story["sources"][1]["url"] == "http://wire.example.com/solvane"
    assert all(carrier["first_seen"] for carrier in story["sources"])
    assert sorted(story["matched"]) == ["Saxony", "solid-state battery"]
    assert [row["story"] for row in store.flagged_stories(rule="saxony")] == [story["story"]]
    assert store.flagged_stories(rule="other") == []
    # the per-flag view is unchanged: one row per flag
    assert len(store.flagged()) == 2
    carriers = query(store, "SELECT story, source, articles FROM story_sources ORDER BY first_seen")
    assert carriers[:3] == [(story["story"], name, 1) for name in ("portal", "wire", "trade")]


def test_a_copy_can_bring_a_rule_the_first_article_lacked(store: Store) -> None:
    plain = PLANT.replace("solid-state battery", "battery")
    store.save_page("portal", page("http://portal.example.com/?id=1", plain), **NO_FETCH)
    saved = store.save_page("wire", page("http://wire.example.com/s", LEAD + PLANT), **NO_FETCH)
    assert saved.story_of is not None and saved.new_flags == 1
    [story] = store.flagged_stories()
    assert story["url"] == "http://portal.example.com/?id=1" and story["source_count"] == 2


def test_reapplying_rules_keeps_one_flag_per_story(store: Store) -> None:
    never: dict[str, object] = {"fetch_id": None, "matcher": lambda fields: []}
    store.save_page("portal", page("http://portal.example.com/?id=1", PLANT), **never)
    store.save_page("wire", page("http://wire.example.com/s", DATELINE + PLANT), **never)
    store.save_page("wire", page("http://wire.example.com/r", RESULTS_STORY), **never)
    assert store.flagged_stories() == []
    result = store.reapply_rules(solid_state)
    assert (result.added, result.removed) == (1, 0)
    [(item_id,)] = query(store, "SELECT item_id FROM flags")
    assert item_id == query(store, "SELECT min(id) FROM articles")[0][0]
    assert store.reapply_rules(solid_state).added == 0


def test_a_ticker_flag_for_a_stored_article_is_that_story(store: Store) -> None:
    url = "http://portal.example.com/?id=1"
    teaser = TickerItem(url=url, text="Solvane breaks ground on solid-state battery plant...")
    store.save_page("portal", Page(url="http://portal.example.com/", ticker=[teaser]), **NO_FETCH)
    orphan = TickerItem(url="http://portal.example.com/?id=9", text="A solid-state battery...")
    store.save_page("portal", Page(url="http://portal.example.com/", ticker=[orphan]), **NO_FETCH)
    store.save_page("portal", page(url, PLANT), **NO_FETCH)
    store.save_page("wire", page("http://wire.example.com/s", DATELINE + PLANT), **NO_FETCH)
    stories = store.flagged_stories()
    assert len(stories) == 2
    by_url = {story["url"]: story for story in stories}
    assert by_url[url]["source_count"] == 2
    assert by_url["http://portal.example.com/?id=9"]["story"] is None
    assert by_url["http://portal.example.com/?id=9"]["sources"][0]["source"] == "portal"


def test_lookups_stay_narrow_as_history_grows(store: Store) -> None:
    """Each article brings LSH_BANDS keys; a new one is compared only with the articles that
    share a key with it, never with the whole history."""
    for number in range(120):
        text = " ".join(f"w{number}x{i}" for i in range(60))  # unrelated stories
        store.save_page("wire", page(f"http://wire.example.com/{number}", text), **NO_FETCH)
    store.save_page("portal", page("http://portal.example.com/?id=1", PLANT), **NO_FETCH)
    assert query(store, "SELECT count(*) FROM article_lsh") == [(121 * LSH_BANDS,)]
    keys = lsh_keys(minhash(shingles(DATELINE + PLANT)))
    (week,) = {row[0] for row in query(store, "SELECT week FROM article_lsh")}
    lookup = (
        "SELECT DISTINCT article_id FROM article_lsh"
        f" WHERE week IN (?, ?) AND key IN ({', '.join('?' * len(keys))})"
    )
    candidates = query(store, lookup, [week - 1, week, *keys])
    assert len(candidates) == 1
    plan = " ".join(
        str(row[-1])
        for row in query(store, f"EXPLAIN QUERY PLAN {lookup}", [week - 1, week, *keys])
    )
    assert "USING PRIMARY KEY" in plan or "USING COVERING INDEX" in plan


def test_copies_are_looked_for_in_the_last_weeks_only(store: Store) -> None:
    """Lightly edited copies are grouped within STORY_WEEKS weeks; after that only exact
    copies (same fingerprint) are recognised."""
    store.save_page("portal", page("http://portal.example.com/?id=1", PLANT), **NO_FETCH)
    clock = store._clock
    assert isinstance(clock, TickingClock)
    clock.now += timedelta(weeks=STORY_WEEKS - 2)
    soon = store.save_page("wire", page("http://wire.example.com/a", DATELINE + PLANT), **NO_FETCH)
    assert soon.story_of == "http://portal.example.com/?id=1"
    clock.now += timedelta(weeks=STORY_WEEKS + 1)
    late_copy = page("http://trade.example.com/b", PLANT + "\n\nMore to follow.")
    late = store.save_page("trade", late_copy, **NO_FETCH)
    assert late.story_of is None
    exact = store.save_page("trade", page("http://trade.example.com/c", PLANT), **NO_FETCH)
    assert exact.article == "duplicate" and exact.duplicate_of == "http://portal.example.com/?id=1"


def database_at_version(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty database as an older newswatch, at schema `version`, left it."""
    import newswatch.store as store_module

    with monkeypatch.context() as older:
        older.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:version])
        older.setattr(store_module, "SCHEMA_VERSION", version)
        Store(path).close()
    return path


def test_keys_stored_by_an_older_version_are_computed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema v6 changed how signatures are taken and files keys by week: keys from v5 are
    replaced, stories kept."""
    db = database_at_version(tmp_path / "v5.db", 5, monkeypatch)
    with sqlite3.connect(db) as conn:
        for number, text in enumerate((PLANT, DATELINE + PLANT), start=1):
            conn.execute(
                "INSERT INTO articles (url, fetched_url, title, body, story_id, first_seen,"
                " last_seen) VALUES (?, ?, 'Solvane', ?, 1, '2025-03-26T08:00:00Z',"
                " '2025-03-26T08:00:00Z')",
                [f"http://portal.example.com/?id={number}"] * 2 + [text],
            )
        conn.execute("INSERT INTO article_lsh (key, article_id) VALUES (42, 1)")  # v5 keys
    with Store(db, clock=TickingClock()) as store:
        assert query(store, "SELECT id, story_id FROM articles") == [(1, 1), (2, 1)]
        week = int(datetime(2025, 3, 26, 8, tzinfo=UTC).timestamp()) // WEEK_SECONDS
        stored = query(store, "SELECT week, key FROM article_lsh WHERE article_id = 1")
        assert sorted(stored) == sorted((week, key) for key in lsh_keys(minhash(shingles(PLANT))))
        store.upsert_source("wire", "http://wire.example.com/", "feed")
        copy = page("http://wire.example.com/copy", PLANT + "\n\nMore later.")
        saved = store.save_page("wire", copy, **NO_FETCH)
    assert saved.story_of == "http://portal.example.com/?id=1"


def version_9_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, articles: int) -> Path:
    """A schema v9 database whose articles have keys that v10 no longer computes."""
    db = database_at_version(tmp_path / "v9.db", 9, monkeypatch)
    with sqlite3.connect(db) as conn:
        for number in range(1, articles + 1):
            conn.execute(
                "INSERT INTO articles (url, fetched_url, title, body, story_id, first_seen,"
                " last_seen) VALUES (?, ?, 'Solvane', ?, ?, '2025-03-26T08:00:00Z',"
                " '2025-03-26T08:00:00Z')",
                [f"http://portal.example.com/?id={number}"] * 2 + [PLANT, number],
            )
            conn.execute(
                "INSERT INTO article_lsh (week, key, article_id) VALUES (2882, ?, ?)",
                [number, number],
            )
    return db


def test_version_10_computes_every_key_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = version_9_database(tmp_path, monkeypatch, articles=3)
    week = int(datetime(2025, 3, 26, 8, tzinfo=UTC).timestamp()) // WEEK_SECONDS
    expected = {(week, key) for key in lsh_keys(minhash(shingles(PLANT)))}
    with Store(db, clock=TickingClock()) as store:
        for article_id in (1, 2, 3):
            stored = query(
                store, f"SELECT week, key FROM article_lsh WHERE article_id = {article_id}"
            )
            assert set(stored) == expected
        assert query(store, "SELECT count(*) FROM article_lsh") == [(3 * LSH_BANDS,)]
        tables = {row[0] for row in query(store, "SELECT name FROM sqlite_master")}
        assert not tables & {"lsh_rekey", "article_lsh_rekeyed"}
        assert query(store, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        store.upsert_source("wire", "http://wire.example.com/", "feed")
        saved = store.save_page(
            "wire", page("http://wire.example.com/c", DATELINE + PLANT), **NO_FETCH
        )
    assert saved.story_of is not None  # found through the new keys


def test_version_10_cut_short_goes_on_from_where_it_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import newswatch.store as store_module

    db = version_9_database(tmp_path, monkeypatch, articles=5)
    signed: list[int] = []
    real_keys_of = store_module._lsh_keys_of

    def keys_of_until_the_fourth(shingle_set: frozenset[int]) -> list[int]:
        if len(signed) == 3:
            raise KeyboardInterrupt  # the user stops the upgrade in the middle of a batch
        signed.append(1)
        return real_keys_of(shingle_set)

    monkeypatch.setattr(store_module, "_REKEY_BATCH", 2)
    monkeypatch.setattr(store_module, "_lsh_keys_of", keys_of_until_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        Store(db)
    with sqlite3.connect(db) as conn:  # the first batch is kept, the second rolled back
        assert conn.execute("SELECT next_id FROM lsh_rekey").fetchall() == [(2,)]
        done = conn.execute("SELECT DISTINCT article_id FROM article_lsh_rekeyed").fetchall()
        assert sorted(done) == [(1,), (2,)]
        assert conn.execute("SELECT count(*) FROM article_lsh").fetchall() == [(5,)]  # old
    monkeypatch.setattr(store_module, "_lsh_keys_of", real_keys_of)
    signed.clear()
    with Store(db) as store:
        assert query(store, "SELECT count(DISTINCT article_id) FROM article_lsh") == [(5,)]
        assert query(store, "SELECT count(*) FROM article_lsh") == [(5 * LSH_BANDS,)]


def test_an_older_database_gets_stories_and_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database_at_version(tmp_path / "v3.db", 3, monkeypatch)
    with sqlite3.connect(db) as conn:
        for number, (text, duplicate_of) in enumerate(((PLANT, None), (PLANT, 1)), start=1):
            conn.execute(
                "INSERT INTO articles (url, fetched_url, title, body, duplicate_of, first_seen,"
                " last_seen) VALUES (?, ?, 'Solvane', ?, ?, '2025-03-26T08:00:00Z',"
                " '2025-03-26T08:00:00Z')",
                [f"http://portal.example.com/?id={number}"] * 2 + [text, duplicate_of],
            )
    with Store(db, clock=TickingClock()) as store:  # the same week as the stored ones
        assert query(store, "SELECT id, story_id, resemblance FROM articles") == [
            (1, 1, None),
            (2, 1, 1.0),
        ]
        assert query(store, "SELECT count(*) FROM article_lsh") == [(LSH_BANDS,)]
        store.upsert_source("wire", "http://wire.example.com/", "feed")
        copy = page("http://wire.example.com/copy", DATELINE + PLANT)
        saved = store.save_page("wire", copy, **NO_FETCH)
    assert saved.story_of == "http://portal.example.com/?id=1"


def test_flagged_stories_newest_publication_first_and_since_on_publication(
    store: Store,
) -> None:
    """Stored out of publication order: a late find of an older story, a story with no date
    (its day is the day first seen), a ticker teaser without a date."""

    def save(number: int, published: date | None, text: str) -> None:
        url = f"http://portal.example.com/?id={number}"
        article = Article(url=url, title=f"Story {number}", body=text, published=published)
        store.save_page("portal", Page(url=url, article=article), **NO_FETCH)

    save(1, date(2025, 3, 20), PLANT)
    save(2, date(2025, 1, 2), "A solid-state battery story. " + RESULTS_STORY)
    save(3, None, "Solid-state battery news. " + SUPPLY_RELEASE)  # first seen 2025-03-26
    save(4, date(2025, 3, 20), "Solid-state battery review. " + PLANT_RELEASE)
    teaser = TickerItem(url="http://portal.example.com/?id=99", text="A solid-state battery...")
    store.save_page("portal", Page(url="http://portal.example.com/", ticker=[teaser]), **NO_FETCH)

    def urls(**options: object) -> list[int]:
        return [int(row["url"].rsplit("=", 1)[1]) for row in store.flagged_stories(**options)]

    # 99 and 3: first seen 2025-03-26 (99 flagged later); 4 ties with 1, flagged later
    assert urls() == [99, 3, 4, 1, 2]
    assert urls(order="flagged") == [99, 4, 3, 2, 1]
    assert urls(since=date(2025, 3, 20)) == [99, 3, 4, 1]
    assert urls(since=date(2025, 3, 21)) == [99, 3]
    assert urls(since=date(2025, 1, 1), limit=2) == [99, 3]


# --- grouping whatever the order ---------------------------------------------------------------

GROUPS = json.loads((Path(__file__).parent / "fixtures/stories/groups.json").read_text("utf-8"))


def candidate(article_id: int, story_id: int, text: str) -> Candidate:
    return Candidate(article_id, story_id, shingles(text))


def test_place_joins_the_oldest_story_it_resembles_and_merges_the_others() -> None:
    copy = DATELINE + PLANT
    placed = place(
        shingles(copy),
        [
            candidate(9, 7, SAME_STORY["last paragraph trimmed"]),
            candidate(3, 3, RESULTS_STORY),
            candidate(5, 4, SAME_STORY["new first sentence"]),
            candidate(6, 4, PLANT_RELEASE),
        ],
    )
    assert placed.story_id == 4 and placed.merged == (7,)
    assert placed.resemblance is not None and placed.resemblance >= SAME_STORY_JOIN
    others = [candidate(5, 4, PLANT), candidate(6, 6, SUPPLY_RELEASE)]
    alone = place(shingles(RESULTS_STORY), others)
    assert alone == Placement(None, None)


def save_fixture_articles(path: Path, order: int) -> dict[int, set[tuple[str, int]]]:
    """Store every article of the fixture in a shuffled order: the stories made, as sets of
    (group, member)."""
    articles = [
        (group["id"], index, member)
        for group in GROUPS["groups"]
        for index, member in enumerate(group["members"])
    ]
    stories: dict[int, set[tuple[str, int]]] = {}
    with Store(path) as store:
        for group, index, member in random.Random(order).sample(articles, len(articles)):
            url = f"http://{member['source']}.example.com/{group}/{index}"
            article = Article(url=url, title=member["title"], body=member["body"])
            store.save_page(member["source"], Page(url=url, article=article), **NO_FETCH)
        for url, story in query(store, "SELECT url, story_id FROM articles"):
            group, index = str(url).rsplit("/", 2)[1:]
            stories.setdefault(int(str(story)), set()).add((group, int(index)))
    return stories


def pairs(groups: Iterable[Iterable[tuple[str, int]]]) -> set[frozenset[tuple[str, int]]]:
    return {frozenset(pair) for group in groups for pair in itertools.combinations(group, 2)}


def test_the_same_stories_whatever_order_the_copies_come_in(tmp_path: Path) -> None:
    """40 stories as four sources carry them (a dateline and a rewritten first sentence, the
    last paragraph trimmed, another headline, a much shorter copy), and 14 pairs of stories of
    one company in one week that must stay apart, stored in 20 random orders."""
    assert len(GROUPS["groups"]) >= 30 and len(GROUPS["apart"]) >= 10
    truth = pairs(
        [(group["id"], index) for index in range(len(group["members"]))]
        for group in GROUPS["groups"]
    )
    partitions = set()
    for order in range(20):
        stories = save_fixture_articles(tmp_path / f"order{order}.db", order)
        partitions.add(frozenset(frozenset(story) for story in stories.values()))
        grouped = pairs(stories.values())
        assert len(grouped & truth) / len(truth) >= 0.95, order  # pairwise recall
        assert len(grouped & truth) / len(grouped) >= 0.99, order  # pairwise precision
        story_of = {member: story for story, members in stories.items() for member in members}
        for first, second in GROUPS["apart"]:
            assert story_of[(first, 0)] != story_of[(second, 0)], (order, first, second)
    assert len(partitions) == 1


P1 = (
    "Toyota Motor said on Wednesday it would build its first all-solid-state battery "
    "plant in Fukuoka prefecture, with production starting in 2027 and output rising once "
    "yields on the sulfide electrolyte improve, the company told reporters at its headquarters."
    " The plant will at first supply cells for a limited run of hybrid and electric cars."
)
P2 = (
    "Idemitsu Kosan, which supplies the solid electrolyte, said its lithium sulphide plant in "
    "Chiba would be ready in time, and that the two companies expected the solid-state battery "
    "cells to give an electric car a range of about 1,000 km on a single charge."
    " Analysts at Nomura said the plan showed Toyota had solved problems with cracking cells."
)


def test_an_article_resembling_two_stories_merges_them(store: Store) -> None:
    """Two partial copies of one story, each flagged, stored apart; then the whole story."""
    first = store.save_page("digest", page("http://digest.example.com/1", P1), **NO_FETCH)
    second = store.save_page("trade", page("http://trade.example.com/2", P2), **NO_FETCH)
    assert second.story_of is None  # nothing in common with the first: a story of its own
    assert len(store.flagged_stories()) == 2
    whole = "\n\n".join((P1, P2))
    joined = store.save_page("wire", page("http://wire.example.com/3", whole), **NO_FETCH)
    assert joined.story_of == "http://digest.example.com/1" and joined.merged_stories == 1
    assert joined.new_flags == 0  # the story was flagged already
    assert query(store, "SELECT DISTINCT story_id FROM articles") == [(first.article_id,)]
    [story] = store.flagged_stories()
    assert story["story"] == first.article_id and story["source_count"] == 3
    assert [carrier["source"] for carrier in story["sources"]] == ["digest", "trade", "wire"]
    sources = query(store, "SELECT story, source FROM story_sources ORDER BY source")
    assert sources == [(first.article_id, name) for name in ("digest", "trade", "wire")]
