"""The retry policy for failed links, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newswatch.retry import RetryPolicy, failure_kind

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_failures_are_sorted_into_transient_lasting_and_refused() -> None:
    assert failure_kind(transient=True, refused=False) == "transient"
    assert failure_kind(transient=False, refused=False) == "lasting"
    assert failure_kind(transient=False, refused=True) == "refused"


def test_a_lasting_failure_is_due_at_the_next_run_then_doubles_to_a_day() -> None:
    policy = RetryPolicy(interval=timedelta(minutes=30))
    waits = [
        policy.next_try(failures=n, first_failed=START, run_started=START) - START  # type: ignore[operator]
        for n in range(1, 8)
    ]
    grace = timedelta(minutes=3)
    assert waits == [
        timedelta(minutes=30) - grace,
        timedelta(hours=1) - grace,
        timedelta(hours=2) - grace,
        timedelta(hours=4) - grace,
        timedelta(hours=8) - grace,
        timedelta(hours=16) - grace,
        timedelta(days=1) - grace,  # at most a day
    ]


def test_a_source_run_less_than_daily_waits_its_own_interval() -> None:
    policy = RetryPolicy(interval=timedelta(days=2))
    due = policy.next_try(failures=3, first_failed=START, run_started=START)
    assert due == START + timedelta(days=2) - timedelta(minutes=5)


def test_a_link_failing_for_seven_days_is_given_up() -> None:
    policy = RetryPolicy(interval=timedelta(hours=1))
    almost = START + timedelta(days=7) - timedelta(minutes=1)
    assert policy.next_try(failures=12, first_failed=START, run_started=almost) is not None
    week = START + timedelta(days=7)
    assert policy.next_try(failures=13, first_failed=START, run_started=week) is None


def test_a_robots_refusal_is_left_alone_for_a_day() -> None:
    policy = RetryPolicy(interval=timedelta(minutes=10))
    assert policy.refused_until(START) == START + timedelta(days=1)
