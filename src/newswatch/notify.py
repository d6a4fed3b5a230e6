"""Alerts: tell people about new flags through apprise, every flag once per channel.

A target (one ``[[alerts]]`` table) sends the flags of one rule (or of every rule) to
one or more apprise URLs; each URL is a *channel* with its own progress, so one URL
being down neither holds back nor repeats the others.

The outbox is derived rather than filled by the fetcher: a channel owes every flag
of its rule flagged since it started watching, minus the flags already put into one
of its messages (``alert_deliveries``). Sending is three steps, each committed:

1. claim: owed flags (at most ``max_stories``) become one ``alert_messages`` row whose
   title, body and idempotency key are fixed from then on; the flags are owed no more;
2. begin: the message is marked 'sending', with a lease, and the attempt is counted;
3. finish: 'sent'; or, on failure, back to 'pending' while the channel backs off
   (1 minute, doubling, at most an hour) and is retried, unchanged, when it comes back.

What "exactly once" can honestly mean: a target down for a day gets its backlog once
it answers, with nothing lost or repeated. A process killed between a service accepting
a message and step 3 leaves the message 'sending'; when its lease has run out it is
sent again, with the same key and the same text. A receiver that drops repeats of a
key (the ``Idempotency-Key`` header, sent on json://, form:// and xml:// webhooks)
therefore sees every flag exactly once; a service with no such notion (e-mail, chat)
may show that one message twice. No sender can do better without the receiver's help,
and a possible repeat is preferred to a possible loss.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from newswatch.config import AlertTarget
from newswatch.errors import ConfigError
from newswatch.store import AlertChannel, Store, utc_iso

if TYPE_CHECKING:
    import apprise

__all__ = ["AlertTarget"]  # the configuration's model, used with this module's functions

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
"""A message 'sending' for longer than this was cut short (the process died): send it again."""
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
IDEMPOTENCY_HEADER = "Idempotency-Key"
_MAX_TITLE = 200


def _check_apprise_url(url: str) -> str | None:
    """Why apprise cannot send to `url`, or None when it can."""
    apprise_log = logging.getLogger("apprise")
    was_disabled, apprise_log.disabled = apprise_log.disabled, True  # we say it better below
    try:
        plugin = _instantiate(url)
    finally:
        apprise_log.disabled = was_disabled
    if plugin is None:
        scheme = url.partition("://")[0] or url[:10]
        return (
            f"not a notification URL apprise understands (scheme {scheme!r}); "
            "see https://appriseit.com/services/"
        )
    return None


def check_alert_targets(
    targets: Sequence[AlertTarget], rule_names: Collection[str], config_path: Path | None
) -> None:
    """Every URL is one apprise can send to, and every target names a rule that exists
    (the rules file is read after the config; apprise is loaded only for configurations
    with alerts, by the commands that load rules)."""
    for index, target in enumerate(targets):
        for number, url in enumerate(target.urls):
            if (problem := _check_apprise_url(url)) is not None:
                raise ConfigError(config_path, f"alerts[{index}].urls[{number}]", problem)
        if target.rule is not None and target.rule not in rule_names:
            known = ", ".join(sorted(rule_names)) or "none"
            raise ConfigError(
                config_path,
                f"alerts[{index}].rule",
                f"no rule named {target.rule!r} (known: {known})",
            )


@dataclass(frozen=True)
class Channel:
    """One URL of one target."""

    target: AlertTarget
    url: str

    @property
    def digest(self) -> str:
        """How the database knows the URL without storing it: URLs often hold tokens."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """The URL with its secrets masked, for logs and `newswatch status`."""
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(self.url):
            return f"{self.target.name}: (a URL apprise does not understand)"
        return f"{self.target.name}: {notifier.urls(privacy=True)[0].partition('?')[0]}"


def channels_of(targets: Iterable[AlertTarget]) -> list[Channel]:
    return [Channel(target, url) for target in targets for url in dict.fromkeys(target.urls)]


def register_targets(store: Store, targets: Sequence[AlertTarget]) -> dict[Channel, int]:
    """Tell the database which channels exist; call before a run, so they owe its flags.

    A new channel (or one whose rule changed) owes only what is flagged from now on.
    Returns the channels' ids.
    """
    channels = channels_of(targets)
    ids = store.sync_alert_channels(
        [AlertChannel(c.target.name, c.digest, c.label, c.target.rule) for c in channels]
    )
    return {c: ids[(c.target.name, c.digest)] for c in channels}


@dataclass
class DeliveryReport:
    """What one call of deliver_pending did."""

    messages_sent: int = 0
    flags_sent: int = 0
    resent: int = 0
    """Messages found cut short by a killed process and sent again under the same key."""
    failures: list[str] = field(default_factory=list)
    """'label: error' for every channel that failed this time; it keeps its backlog."""
    backing_off: list[str] = field(default_factory=list)
    """Labels of channels not tried because they failed recently."""

    @property
    def ok(self) -> bool:
        return not self.failures


def deliver_pending(store: Store, targets: Sequence[AlertTarget]) -> DeliveryReport:
    """Send every channel what it owes and is due: the hook to call after each run.

    Also worth calling every few minutes (a digest's time, a failing channel's retry).
    Registers the targets first, so a target added to the config is picked up.
    """
    report = DeliveryReport()
    for channel, channel_id in register_targets(store, targets).items():
        _deliver_channel(store, channel, channel_id, report)
    return report


def _deliver_channel(
    store: Store, channel: Channel, channel_id: int, report: DeliveryReport
) -> None:
    target = channel.target
    state = store.alert_channel(channel_id)
    now = store.now()
    if state["retry_at"] is not None and state["retry_at"] > utc_iso(now):
        report.backing_off.append(channel.label)
        return
    plugin = _instantiate(channel.url)
    if plugin is None:  # validated with the config; only a changed apprise gets here
        report.failures.append(f"{channel.label}: apprise no longer understands this URL")
        return
    claimed_now = False
    while True:
        message = store.unfinished_alert_message(channel_id)
        if message is not None and message["state"] == "sending":
            if message["lease_until"] > utc_iso(now):
                return  # another process is sending it right now
            log.warning(
                "%s: message %s was cut short while sending; sending it again with the same key",
                channel.label,
                message["key"],
            )
        if message is None:
            if not (claimed_now or _due(target, state, now)):
                return
            render = partial(render_message, target, digest=target.mode == "digest")
            message = store.claim_alert_message(channel_id, limit=target.max_stories, render=render)
            if message is None:
                return
            claimed_now = True
        interrupted = message["state"] == "sending"
        if not store.begin_alert_send(
            message["id"], attempts=message["attempts"], lease_until=now + SEND_LEASE
        ):
            return  # another process took it between our read and our update
        error = _send(plugin, title=message["title"], body=message["body"], key=message["key"])
        if error is not None:
            failures_before = min(store.alert_channel(channel_id)["failures"], 16)
            retry = min(RETRY_FIRST * 2**failures_before, RETRY_MAX)
            store.fail_alert_send(message["id"], error=error, retry_at=now + retry)
            log.warning("%s: sending failed, retrying in %s: %s", channel.label, retry, error)
            report.failures.append(f"{channel.label}: {error}")
            return
        store.finish_alert_send(message["id"])
        report.messages_sent += 1
        report.flags_sent += message["flags"]
        report.resent += interrupted


def _due(target: AlertTarget, state: Mapping[str, Any], now: datetime) -> bool:
    """each-run: always; digest: once the first digest time after the last message passed."""
    if target.mode == "each-run":
        return True
    zone = ZoneInfo(target.timezone) if target.timezone else None
    local_now = now.astimezone(zone)
    slot = local_now.replace(
        hour=target.digest_at.hour, minute=target.digest_at.minute, second=0, microsecond=0
    )
    if slot > local_now:
        slot -= timedelta(days=1)
    last_covered: str = max(state["watching_since"], state["last_message_at"] or "")
    return utc_iso(slot) > last_covered


def render_message(
    target: AlertTarget, rows: Sequence[Mapping[str, Any]], *, digest: bool = False
) -> tuple[str, str]:
    """Title and plain-text body listing flagged stories (rows of the `flagged` view).

    A story flagged by several rules, or as both a ticker teaser and the article it links to
    (story_url, when the rows carry it, else the URL they share), is listed once, as the
    article when there is one.
    """
    stories: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        stories.setdefault(row.get("story_url") or row["url"], []).append(row)
    count = len(stories)
    noun = "story" if count == 1 else "stories"
    about = target.rule or ", ".join(dict.fromkeys(row["rule"] for row in rows))
    title = f"newswatch{' daily digest' if digest else ''}: {count} new {noun} ({about})"
    blocks = []
    for flags in stories.values():
        story = next((flag for flag in flags if flag["kind"] == "article"), flags[0])
        terms = dict.fromkeys(term for flag in flags for term in flag["matched"])
        facts = [
            story["source"],
            story["published"] or "undated",
            story["region"],
            f"matched: {', '.join(terms)}",
        ]
        blocks.append(
            "\n".join(
                [
                    _shorten(story["title"] or "(untitled)"),
                    " · ".join(str(fact) for fact in facts if fact),
                    story["url"],
                ]
            )
        )
    return title, "\n\n".join(blocks)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TITLE else text[: _MAX_TITLE - 1] + "…"


@dataclass(frozen=True)
class TestOutcome:
    label: str
    error: str | None
    """None: the service accepted the message."""


def send_test(targets: Sequence[AlertTarget]) -> list[TestOutcome]:
    """Send a test message to every channel; the database is not involved."""
    outcomes = []
    for channel in channels_of(targets):
        plugin = _instantiate(channel.url)
        if plugin is None:
            outcomes.append(TestOutcome(channel.label, "apprise does not understand this URL"))
            continue
        body = (
            f"If you read this, newswatch alerts of target {channel.target.name!r} "
            f"({channel.target.rule or 'every rule'}, {channel.target.mode}) reach this channel."
        )
        error = _send(plugin, title="newswatch test message", body=body, key=uuid.uuid4().hex)
        outcomes.append(TestOutcome(channel.label, error))
    return outcomes


def _instantiate(url: str) -> apprise.NotifyBase | None:
    """The apprise plugin for a URL, or None when apprise does not understand it.

    apprise is imported on first use: it takes a fifth of a second and 10 MiB, which
    commands and daemons that send nothing should not pay."""
    import apprise

    return apprise.Apprise.instantiate(url)


def _send(plugin: apprise.NotifyBase, *, title: str, body: str, key: str) -> str | None:
    """Send one message; returns why it failed, or None."""
    import apprise
    from apprise.plugins.custom_form import NotifyForm
    from apprise.plugins.custom_json import NotifyJSON
    from apprise.plugins.custom_xml import NotifyXML

    if isinstance(plugin, NotifyJSON | NotifyForm | NotifyXML):  # they carry our headers,
        plugin.headers[IDEMPOTENCY_HEADER] = key  # so the receiver can drop repeats
    notifier = apprise.Apprise()
    notifier.add(plugin)
    try:
        with notifier.notify(
            body=body, title=title, body_format=apprise.NotifyFormat.TEXT
        ) as result:
            if result:
                return None
            problems = [entry.message for entry in result.logs() if entry.level != "DEBUG"]
    except Exception as error:  # a plugin bug must not leave the message 'sending'
        return f"{type(error).__name__}: {error}"
    return problems[-1] if problems else "the service did not accept the message"
