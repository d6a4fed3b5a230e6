"""One daemon per database: the lock file beside the database, held while a daemon runs.

Two daemons on one file would fetch every source twice as often as configured and send
every alert from both. The lock is the operating system's (filelock: flock on POSIX), so it
goes with the process however that ends; the file stays, empty, and must not be removed
while a daemon runs. `newswatch status` asks whether it is held to say whether a daemon
runs, and so whether the "next run" times in the database are plans or leftovers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from newswatch.errors import ConfigError, NewswatchError

STARTUP_WAIT = 2.0
"""Seconds a starting daemon waits for the lock: `status` holds it for an instant to see
whether it is free, and a daemon starting in that instant must not be refused for it."""


def lock_path(database: Path) -> Path:
    """`<database>.daemon-lock`, one however the database is named (symlinks, ../)."""
    real = database.resolve()
    return real.with_name(f"{real.name}.daemon-lock")


@contextmanager
def hold(database: Path) -> Iterator[None]:
    """Hold the database's daemon lock while the block runs; ConfigError (exit status 2: a
    service manager should not retry) when another daemon holds it."""
    path = lock_path(database)
    try:
        lock = filelock.FileLock(path, timeout=STARTUP_WAIT)
        lock.acquire()
    except filelock.Timeout:
        raise ConfigError(
            database,
            None,
            f"another `newswatch run` is already running on this database (it holds"
            f" {path}); stop it first, or give this one another database",
        ) from None
    except OSError as error:
        raise NewswatchError(f"{path}: cannot create the daemon's lock file: {error}") from None
    try:
        yield
    finally:
        lock.release()


def is_held(database: Path) -> bool:
    """Whether a daemon runs on the database now: its lock is held. No lock file (no daemon
    ever ran here) or one that cannot be opened (not ours to know) counts as not held."""
    path = lock_path(database)
    if not path.exists():
        return False
    lock = filelock.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False
