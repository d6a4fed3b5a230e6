"""After a run: tell people. Deliver owed alerts and rewrite the configured feed files.

Called by `newswatch fetch` after each run and by the daemon after each source run and
every minute (for digests and retries), so both ways in publish the same way.
"""

from __future__ import annotations

from newswatch.config import Config
from newswatch.feedout import write_feeds
from newswatch.notify import DeliveryReport, deliver_pending, register_targets
from newswatch.store import Store


def prepare(store: Store, config: Config) -> None:
    """Register alert targets before a run, so a new target is owed that run's flags."""
    if config.alerts:
        register_targets(store, config.alerts)


def publish(store: Store, config: Config) -> DeliveryReport:
    """Send what alert channels owe and rewrite feed files; failures are reported, kept."""
    report = deliver_pending(store, config.alerts) if config.alerts else DeliveryReport()
    report.failures.extend(write_feeds(store, config.feeds))
    return report
