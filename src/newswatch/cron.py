"""Crontab lines as people write them, turned into APScheduler 3 triggers.

Shared by the configuration (to reject a bad line with a clear message) and the daemon
(to schedule it), so both read a line the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_NUMERIC_DAYS = re.compile(r"(\*|[0-7])(?:-([0-7]))?(?:/(\d+))?")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field in APScheduler 3's terms.

    Crontab counts from Sunday = 0 (or 7), APScheduler 3 from Monday = 0, so
    "0 7 * * 1-5" would silently run Tuesday to Saturday. Numbers become day names,
    which mean the same to both.
    """
    if field == "*":
        return field
    days: list[str] = []
    for part in field.split(","):
        found = _CRON_NUMERIC_DAYS.fullmatch(part)
        if found is None:
            days.append(part)  # names ("mon-fri") already mean the same to both
            continue
        first, last, step = found.groups()
        if first == "*":
            low, high = 0, 6
        else:
            low = int(first)
            high = int(last) if last else (6 if step else low)
        days.extend(_CRON_WEEKDAYS[day] for day in range(low, high + 1, int(step or 1)))
    return ",".join(dict.fromkeys(days))


def crontab_trigger(expression: str, *, jitter: float | None = None) -> CronTrigger:
    """A CronTrigger for a standard five-field crontab line, in the local time zone.

    APScheduler is imported here, not with the module: the configuration checks cron lines
    with this, and commands other than the daemon should not pay for loading it."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 crontab fields, got {len(fields)}: {expression!r}")
    minute, hour, day, month, weekdays = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekdays),
        jitter=jitter,
    )
