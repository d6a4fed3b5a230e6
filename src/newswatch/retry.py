"""When a link that failed is asked for again: the policy, with no I/O.

News pages often answer 404 for minutes after a listing shows them, so a failed link must
come back soon, not a day later. Three kinds of failure:

- transient (timeouts, resets, 5xx and 429 after the fetcher's own retries, truncated or
  badly compressed bodies): nothing is remembered, the next run of the source asks again;
- the others (404, 410, a body over the size cap, a redirect loop, a type we cannot read, a
  page without an article): due again at the source's next scheduled run, one interval
  later, then waiting twice as long after each further failure, at most a day; after seven
  days of failures the link is given up (and listed by `newswatch status`);
- refused by robots.txt: remembered quietly for as long as a robots.txt is trusted (a day),
  not an error of every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

FailureKind = Literal["transient", "lasting", "refused"]

LONGEST_WAIT = timedelta(days=1)
GIVE_UP_AFTER = timedelta(days=7)
ROBOTS_WAIT = timedelta(days=1)
"""As long as a host's robots.txt is trusted (RFC 9309), so a changed robots.txt is noticed."""
MAX_GRACE = timedelta(minutes=5)
"""A run starts a little earlier or later than planned (cron, a busy machine): a link due
'one interval later' is due a tenth of the interval earlier than that, at most this much."""


def failure_kind(*, transient: bool, refused: bool) -> FailureKind:
    """What kind of failure a fetch result is (see the module's docstring)."""
    if refused:
        return "refused"
    return "transient" if transient else "lasting"


@dataclass(frozen=True)
class RetryPolicy:
    """When a source's lasting failures are asked for again."""

    interval: timedelta
    """The source's interval: its next scheduled run is this long after the current one."""
    longest_wait: timedelta = LONGEST_WAIT
    give_up_after: timedelta = GIVE_UP_AFTER

    def next_try(
        self, *, failures: int, first_failed: datetime, run_started: datetime
    ) -> datetime | None:
        """When to ask again after the `failures`-th failure in a row (1 for the first) of a
        link that first failed at `first_failed`, in a run started at `run_started`; None
        once it has failed for `give_up_after`: given up."""
        if run_started - first_failed >= self.give_up_after:
            return None
        wait = self.interval * (1 << max(0, min(failures - 1, 32)))
        wait = min(wait, max(self.longest_wait, self.interval))
        grace = min(self.interval / 10, MAX_GRACE)
        return run_started + wait - grace

    def refused_until(self, now: datetime) -> datetime:
        """A link robots.txt refuses is not looked at again before then."""
        return now + ROBOTS_WAIT
