"""Alerts through apprise to a webhook receiver on 127.0.0.1: exactly once per flag per
channel, across outages and a SIGKILL between sending and recording."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from newswatch.config import Config, config_from_dict
from newswatch.errors import ConfigError
from newswatch.models import Article, Page, TickerItem
from newswatch.notify import (
    IDEMPOTENCY_HEADER,
    AlertTarget,
    check_alert_targets,
    deliver_pending,
    register_targets,
    render_message,
    send_test,
)
from newswatch.rules import default_rules_path, load_rules
from newswatch.sampleserver import SampleSite
from newswatch.store import Store
from tests.conftest import fetch_all_once
from tests.test_stories import P1, P2

RULES = load_rules(default_rules_path())
RULE = "solid-state-battery"
GOG = "http://www.gulfoilandgas.com/webpro1/main/mainnews.asp"


@dataclass
class Received:
    key: str | None
    title: str
    message: str


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that, like a careful receiver, drops repeats of a key."""

    port: int = 0
    status: int = 200
    kill_pid: int | None = None
    """SIGKILL this process when a message arrives, before answering it."""
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Received]:
        by_key: dict[str | None, Received] = {}
        for message in self.received:
            by_key.setdefault(message.key, message)
        return list(by_key.values())

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.status == 200:
                    receiver.received.append(
                        Received(
                            self.headers.get(IDEMPOTENCY_HEADER),
                            payload["title"],
                            payload["message"],
                        )
                    )
                if receiver.kill_pid is not None:
                    os.kill(receiver.kill_pid, signal.SIGKILL)
                    receiver.kill_pid = None
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused until start() again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.start()
    yield hook
    hook.stop()


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 29, 7, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(tmp_path / "newswatch.db", clock=clock) as opened:
        opened.upsert_source("gog", f"{GOG}?home", "gulfoilandgas")
        yield opened


def save_story(
    store: Store,
    number: int,
    *,
    about: str = "all-solid-state batteries",
    requested_url: str | None = None,
) -> None:
    """Store one article page; it is flagged when `about` mentions solid-state batteries.
    `requested_url`: the link followed, when it redirected to the page."""
    title = f"Story {number}: Toyota and Idemitsu bet on {about}"
    body = (
        f"Story {number}. Toyota and Idemitsu said on Monday they will mass-produce {about}"
        " from 2027, after METI approved four R&D projects on materials and production"
        " technology for the next generation of electric vehicle batteries."
    )
    url = f"{GOG}?id={1000 + number}"
    article = Article(url=url, title=title, published=date(2025, 1, 5), location="Asia", body=body)
    store.save_page(
        "gog",
        Page(url=url, article=article),
        fetch_id=None,
        matcher=RULES.match,
        requested_url=requested_url,
    )


def flag_count(store: Store) -> int:
    total: int = store.db.execute("SELECT count(*) FROM flags").fetchone()[0]
    return total


def stories_in(messages: list[Received]) -> list[str]:
    """The story URLs listed in the messages, repeats included."""
    return [
        line
        for message in messages
        for line in message.message.splitlines()
        if line.startswith("http")
    ]


def hook(receiver: Receiver, **options: Any) -> AlertTarget:
    return AlertTarget(name="hook", urls=(receiver.url,), rule=RULE, **options)


# --- each run -----------------------------------------------------------------------------


def test_new_flags_of_a_run_go_out_together_in_one_message(
    store: Store, receiver: Receiver
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    save_story(store, 1)
    save_story(store, 2)
    save_story(store, 3, about="LNG carriers")  # not flagged

    report = deliver_pending(store, [target])

    assert (report.messages_sent, report.flags_sent, report.ok) == (1, 2, True)
    [message] = receiver.received
    assert message.title == f"newswatch: 2 new stories ({RULE})"
    assert "Story 1: Toyota and Idemitsu bet on all-solid-state batteries" in message.message
    assert (
        "gog · 2025-01-05 · Asia · matched: solid-state battery, all-solid-state" in message.message
    )
    assert stories_in([message]) == [f"{GOG}?id=1001", f"{GOG}?id=1002"]
    assert "LNG" not in message.message
    assert message.key and len(message.key) == 32

    assert deliver_pending(store, [target]).messages_sent == 0
    save_story(store, 4)
    deliver_pending(store, [target])
    assert stories_in(receiver.received) == [f"{GOG}?id=100{n}" for n in (1, 2, 4)]
    assert len({m.key for m in receiver.received}) == 2


def test_flags_made_before_a_target_was_configured_are_not_sent(
    store: Store, receiver: Receiver, clock: FakeClock
) -> None:
    save_story(store, 1)
    clock.advance(seconds=1)
    target = hook(receiver)
    assert deliver_pending(store, [target]).messages_sent == 0
    save_story(store, 2)
    deliver_pending(store, [target])
    assert stories_in(receiver.received) == [f"{GOG}?id=1002"]


def test_a_target_only_gets_its_own_rule(store: Store, receiver: Receiver) -> None:
    target = AlertTarget(name="other", urls=(receiver.url,), rule="hydrogen")
    register_targets(store, [target])
    save_story(store, 1)
    assert deliver_pending(store, [target]).messages_sent == 0
    assert receiver.received == []


def test_a_long_backlog_goes_out_in_several_messages_each_story_once(
    store: Store, receiver: Receiver
) -> None:
    target = hook(receiver, max_stories=2)
    register_targets(store, [target])
    for number in range(1, 6):
        save_story(store, number)
    report = deliver_pending(store, [target])
    assert (report.messages_sent, report.flags_sent) == (3, 5)
    assert sorted(stories_in(receiver.received)) == [f"{GOG}?id=100{n}" for n in range(1, 6)]


def fetch_once(config: Config, store: Store) -> None:
    reports = fetch_all_once(config, store, RULES.match)
    assert all(report.ok for report in reports)


def test_a_loopback_run_alerts_every_new_flag_once(
    tmp_path: Path, portal: SampleSite, receiver: Receiver
) -> None:
    settings = {"per_host_delay": 0, "timeout": "5s", "retries": 0}
    source = {"name": "portal", "url": f"{portal.base_url}/webpro1/main/newshome.asp"}
    config = config_from_dict({"settings": settings, "sources": [source]}, tmp_path / "nw.toml")
    target = hook(receiver)
    with Store(tmp_path / "newswatch.db") as store:
        register_targets(store, [target])
        fetch_once(config, store)
        first = deliver_pending(store, [target])
        fetch_once(config, store)  # nothing new the second time
        second = deliver_pending(store, [target])
        flagged = store.flagged(rule=RULE)

    [message] = receiver.received
    assert len(flagged) >= 3 and first.flags_sent == len(flagged)
    assert sorted(stories_in([message])) == sorted(row["url"] for row in flagged)
    assert "Solvane Energy Breaks Ground on 8 GWh Solid-State Battery Plant" in message.message
    assert second.messages_sent == 0


# --- outages ------------------------------------------------------------------------------


def test_a_target_down_for_a_day_gets_its_backlog_once_when_back(
    store: Store, receiver: Receiver, clock: FakeClock
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    save_story(store, 1)
    receiver.status = 500

    failed = deliver_pending(store, [target])

    assert not failed.ok and "error=500" in failed.failures[0]
    [status] = store.alert_status()
    assert status["health"] == "failing"
    assert (status["failures"], status["owed"], status["unsent"]) == (0 + 1, 0, 1)
    assert "500" in status["last_error"]

    clock.advance(seconds=30)  # still backing off: not even tried
    save_story(store, 2)
    backing_off = deliver_pending(store, [target])
    assert backing_off.backing_off == [f"hook: json://127.0.0.1:{receiver.port}/hook"]

    receiver.stop()  # now it is down altogether
    for _ in range(6):
        clock.advance(hours=4)
        save_story(store, 10 + _)
        assert not deliver_pending(store, [target]).ok
    [status] = store.alert_status()
    assert status["failures"] == 7 and "Connection" in status["last_error"]
    assert status["retry_at"] == "2026-11-30T08:00:30Z"  # backoff at its longest: an hour

    store.db.execute("UPDATE alert_channels SET failures = 5000")  # down for months
    clock.advance(hours=4)
    assert not deliver_pending(store, [target]).ok
    [status] = store.alert_status()
    assert status["retry_at"] == "2026-11-30T12:00:30Z"

    receiver.status = 200
    receiver.start()
    clock.advance(hours=1)
    recovered = deliver_pending(store, [target])

    assert recovered.ok
    assert recovered.messages_sent == 2  # the message that kept failing, then the rest
    expected = [f"{GOG}?id={1000 + n}" for n in (1, 2, 10, 11, 12, 13, 14, 15)]
    assert sorted(stories_in(receiver.accepted)) == sorted(expected)
    assert len(stories_in(receiver.received)) == len(expected)  # nothing twice
    [status] = store.alert_status()
    assert (status["health"], status["owed"], status["unsent"]) == ("ok", 0, 0)
    assert deliver_pending(store, [target]).messages_sent == 0


def test_each_url_keeps_its_own_progress(store: Store, receiver: Receiver) -> None:
    broken = Receiver(status=500)
    broken.start()
    try:
        target = AlertTarget(name="two", urls=(receiver.url, broken.url), rule=RULE)
        register_targets(store, [target])
        save_story(store, 1)
        report = deliver_pending(store, [target])
        assert report.messages_sent == 1 and len(report.failures) == 1
        broken.status = 200
        store.db.execute("UPDATE alert_channels SET retry_at = NULL")  # skip the backoff
        assert deliver_pending(store, [target]).messages_sent == 1
    finally:
        broken.stop()
    assert stories_in(receiver.received) == [f"{GOG}?id=1001"]
    assert stories_in(broken.received) == [f"{GOG}?id=1001"]


# --- killed between sending and recording ---------------------------------------------------

_CHILD = """
import sys
from newswatch.notify import AlertTarget, deliver_pending
from newswatch.store import Store

with Store(sys.argv[1]) as store:
    deliver_pending(store, [AlertTarget(name="hook", urls=[sys.argv[2]], rule=sys.argv[3])])
"""


def test_a_process_killed_between_sending_and_recording_resends_under_the_same_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    clock = FakeClock(datetime.now(UTC))  # the child process runs on the real clock
    database = tmp_path / "newswatch.db"
    target = hook(receiver)
    with Store(database, clock=clock) as store:
        store.upsert_source("gog", f"{GOG}?home", "gulfoilandgas")
        register_targets(store, [target])
        save_story(store, 1)
        save_story(store, 2)

    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(database), receiver.url, RULE])
    receiver.kill_pid = child.pid
    assert child.wait(timeout=60) == -signal.SIGKILL
    [first] = receiver.received
    with sqlite3.connect(database) as conn:
        state = conn.execute("SELECT state, attempts, key FROM alert_messages").fetchall()
    assert state == [("sending", 1, first.key)]

    with Store(database, clock=clock) as store:
        assert deliver_pending(store, [target]).messages_sent == 0  # lease not over yet
        clock.advance(minutes=6)
        report = deliver_pending(store, [target])
        assert (report.messages_sent, report.resent, report.flags_sent) == (1, 1, 2)
        assert deliver_pending(store, [target]).messages_sent == 0

    second = receiver.received[1]
    assert (second.key, second.title, second.message) == (first.key, first.title, first.message)
    assert len(receiver.received) == 2
    [accepted] = receiver.accepted
    assert stories_in([accepted]) == [f"{GOG}?id=1001", f"{GOG}?id=1002"]


# --- digests ------------------------------------------------------------------------------


def test_a_digest_goes_out_once_a_day_at_its_time(
    store: Store, receiver: Receiver, clock: FakeClock
) -> None:
    target = hook(receiver, mode="digest", digest_at="08:00", timezone="UTC")
    register_targets(store, [target])  # 07:00
    save_story(store, 1)
    clock.advance(minutes=30)
    save_story(store, 2)
    assert deliver_pending(store, [target]).messages_sent == 0  # 07:30

    clock.advance(minutes=31)  # 08:01
    assert deliver_pending(store, [target]).messages_sent == 1
    [digest] = receiver.received
    assert digest.title == f"newswatch daily digest: 2 new stories ({RULE})"

    clock.advance(hours=1)
    save_story(store, 3)
    assert deliver_pending(store, [target]).messages_sent == 0  # 09:01: tomorrow
    clock.advance(hours=23)
    assert deliver_pending(store, [target]).messages_sent == 1  # 08:01 the next day
    assert stories_in(receiver.received) == [f"{GOG}?id=100{n}" for n in (1, 2, 3)]


def test_digest_time_is_read_in_its_time_zone(
    store: Store, receiver: Receiver, clock: FakeClock
) -> None:
    target = hook(receiver, mode="digest", digest_at="08:00", timezone="Asia/Tokyo")
    register_targets(store, [target])  # 07:00 UTC is 16:00 in Tokyo
    save_story(store, 1)
    clock.advance(hours=15, minutes=30)  # 22:30 UTC = 07:30 Tokyo
    assert deliver_pending(store, [target]).messages_sent == 0
    clock.advance(minutes=31)  # 08:01 Tokyo
    assert deliver_pending(store, [target]).messages_sent == 1


# --- the message ----------------------------------------------------------------------------


def flagged_row(rule: str, kind: str = "article", item_id: int = 1, **more: Any) -> dict[str, Any]:
    return {
        "rule": rule,
        "kind": kind,
        "item_id": item_id,
        "title": "Toyota to build all-solid-state batteries",
        "url": f"{GOG}?id={item_id}",
        "source": "gog",
        "published": None,
        "region": None,
        "matched": [f"{rule}-term"],
        "flagged_at": "2026-11-29T07:00:00Z",
    } | more


def test_a_story_flagged_by_two_rules_is_listed_once() -> None:
    target = AlertTarget(name="all", urls=("json://127.0.0.1:9/",))
    rows = [flagged_row("ssb"), flagged_row("toyota"), flagged_row("ssb", "ticker", 2)]
    title, body = render_message(target, rows)
    assert title == "newswatch: 2 new stories (ssb, toyota)"
    assert body.count(f"{GOG}?id=1") == 1
    assert "gog · undated · matched: ssb-term, toyota-term" in body


def test_a_ticker_item_is_listed_with_its_text_as_title(store: Store, receiver: Receiver) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    url = f"{GOG}?id=2000"
    teaser = TickerItem(url=f"{GOG}?id=2001", text="Canada >> Solid-state battery plant opens")
    page = Page(url=url, ticker=[teaser])
    store.save_page("gog", page, fetch_id=None, matcher=RULES.match)
    deliver_pending(store, [target])
    [message] = receiver.received
    assert message.message.startswith("Canada >> Solid-state battery plant opens\ngog · undated")


def see_teaser(store: Store, number: int) -> None:
    """A listing page whose ticker teases story `number` (the teaser is flagged too)."""
    teaser = TickerItem(url=f"{GOG}?id={1000 + number}", text="Asia >> Solid-state battery deal")
    store.save_page(
        "gog", Page(url=f"{GOG}?home", ticker=[teaser]), fetch_id=None, matcher=RULES.match
    )


def test_a_teaser_and_its_article_are_one_story_in_one_message(
    store: Store, receiver: Receiver
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    see_teaser(store, 1)
    save_story(store, 1)
    assert flag_count(store) == 2

    report = deliver_pending(store, [target])

    assert (report.messages_sent, report.flags_sent) == (1, 2)
    [message] = receiver.received
    assert message.title == f"newswatch: 1 new story ({RULE})"
    assert stories_in([message]) == [f"{GOG}?id=1001"]
    assert message.message.startswith("Story 1: Toyota and Idemitsu")  # the article, not the teaser


@pytest.mark.parametrize("same_run", [True, False])
def test_a_teaser_whose_link_redirects_to_the_article_is_the_same_story(
    store: Store, receiver: Receiver, same_run: bool
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    short_link = f"{GOG}?id=5001"  # answered by a redirect to story 1's page
    teaser = TickerItem(url=short_link, text="Asia >> Solid-state battery deal")
    store.save_page(
        "gog", Page(url=f"{GOG}?home", ticker=[teaser]), fetch_id=None, matcher=RULES.match
    )
    if not same_run:
        assert deliver_pending(store, [target]).messages_sent == 1
    save_story(store, 1, requested_url=short_link)

    deliver_pending(store, [target])

    assert len(receiver.received) == 1  # one story, one alert
    [story] = store.flagged_stories()
    assert story["url"] == f"{GOG}?id=1001" and story["rules"] == [RULE]


@pytest.mark.parametrize("teaser_first", [True, False])
def test_a_story_alerted_as_teaser_or_article_is_not_alerted_again_in_its_other_form(
    store: Store, receiver: Receiver, teaser_first: bool
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    first, then = (see_teaser, save_story) if teaser_first else (save_story, see_teaser)
    first(store, 1)
    assert deliver_pending(store, [target]).messages_sent == 1
    then(store, 1)
    save_story(store, 2)
    assert flag_count(store) == 3

    assert deliver_pending(store, [target]).messages_sent == 1
    assert stories_in(receiver.received) == [f"{GOG}?id=1001", f"{GOG}?id=1002"]
    [channel] = store.alert_status()
    assert channel["owed"] == 0
    assert deliver_pending(store, [target]).messages_sent == 0


# --- configuration and test messages ---------------------------------------------------------


def test_the_database_never_holds_the_url_only_a_masked_label(store: Store) -> None:
    secret = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#alerts"
    register_targets(store, [AlertTarget(name="team", urls=(secret,))])
    [(label, digest)] = store.db.execute("SELECT label, url_digest FROM alert_channels")
    assert label.startswith("team: slack://") and "TIiajkdnlazkcOXrIdevi7FQ" not in label
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in digest


@pytest.mark.parametrize(
    ("options", "where", "message"),
    [
        ({"urls": []}, ("urls",), "at least 1"),
        ({"name": "my alerts"}, ("name",), "no spaces"),
        ({"mode": "hourly"}, ("mode",), "'each-run' or 'digest'"),
        ({"digest_at": "8 o'clock"}, ("digest_at",), "time"),
        ({"timezone": "Mars/Olympus"}, ("timezone",), "time zone"),
        ({"max_stories": 0}, ("max_stories",), "greater than or equal to 1"),
        ({"url": "json://x"}, ("url",), "Extra inputs"),
    ],
)
def test_bad_targets_are_rejected_with_the_key(
    options: dict[str, Any], where: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertTarget.model_validate({"name": "ok", "urls": ["json://127.0.0.1/"]} | options)
    error = caught.value.errors()[0]
    assert error["loc"] == where
    assert message in error["msg"]


def test_a_target_naming_an_unknown_rule_is_a_config_error(tmp_path: Path) -> None:
    targets = [AlertTarget(name="a", urls=("json://127.0.0.1/",), rule="solid-state-batery")]
    with pytest.raises(ConfigError) as caught:
        check_alert_targets(targets, [RULE], tmp_path / "newswatch.toml")
    assert "alerts[0].rule: no rule named 'solid-state-batery'" in str(caught.value)
    check_alert_targets([AlertTarget(name="b", urls=("json://127.0.0.1/",))], [RULE], None)


def test_a_url_apprise_does_not_understand_is_a_config_error_naming_it(tmp_path: Path) -> None:
    good = AlertTarget(name="a", urls=("json://127.0.0.1/",))
    bad = AlertTarget(name="b", urls=("json://127.0.0.1/", "bogus://nowhere"))
    with pytest.raises(ConfigError) as caught:
        check_alert_targets([good, bad], [RULE], tmp_path / "newswatch.toml")
    assert "alerts[1].urls[1]: not a notification URL apprise understands" in str(caught.value)
    assert "'bogus'" in str(caught.value)


def test_test_messages_reach_working_channels_and_report_the_others(receiver: Receiver) -> None:
    down = Receiver()
    down.start()
    down.stop()
    target = AlertTarget(name="hook", urls=(receiver.url, down.url))
    working, failing = send_test([target])
    assert working.error is None and failing.error is not None
    assert "Connection" in failing.error
    [message] = receiver.received
    assert message.title == "newswatch test message" and "'hook'" in message.message


def save_part(store: Store, number: int, body: str) -> None:
    """An article of the story of tests.test_stories' P1 and P2 (parts, or the whole)."""
    url = f"{GOG}?id={2000 + number}"
    article = Article(url=url, title=f"Part {number}", published=date(2025, 1, 5), body=body)
    store.save_page("gog", Page(url=url, article=article), fetch_id=None, matcher=RULES.match)


def test_stories_merged_after_one_part_was_alerted_are_not_alerted_again(
    store: Store, receiver: Receiver
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    save_part(store, 1, P1)
    assert deliver_pending(store, [target]).messages_sent == 1
    save_part(store, 2, P2)  # flagged as a story of its own: not alerted yet
    save_part(store, 3, f"{P1}\n\n{P2}")  # shows the two are one story

    assert deliver_pending(store, [target]).messages_sent == 0
    assert flag_count(store) == 2 and len(store.flagged_stories()) == 1
    [channel] = store.alert_status()
    assert channel["owed"] == 0
    assert stories_in(receiver.received) == [f"{GOG}?id=2001"]


def test_two_parts_flagged_then_merged_before_any_alert_make_one_story_in_the_message(
    store: Store, receiver: Receiver
) -> None:
    target = hook(receiver)
    register_targets(store, [target])
    save_part(store, 1, P1)
    save_part(store, 2, P2)
    save_part(store, 3, f"{P1}\n\n{P2}")

    assert deliver_pending(store, [target]).messages_sent == 1
    assert stories_in(receiver.received) == [f"{GOG}?id=2001"]
    assert deliver_pending(store, [target]).messages_sent == 0
