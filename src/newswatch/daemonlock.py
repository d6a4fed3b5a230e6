"""One daemon per database: the lock file beside the database, held while a daemon runs.

Two daemons on one file would fetch every source twice as often as configured and send
every alert from both. The lock is the operating system's (filelock: flock on POSIX), so it
goes with the process however that ends; the file stays, empty, and must not be removed
while a daemon runs. `newswatch status` asks whether it is held to say whether a daemon
runs, and so whether the "next run" times in the database are plans or leftovers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

if sys.platform != "win32":
    import fcntl

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


def is_held(database: Path) -> bool | None:
    """Whether a daemon runs on the database now: True while its lock is held, False when
    it is free or there is no lock file (no daemon ever ran here), None when this user cannot
    tell (the lock file cannot be read).

    On POSIX the probe is a shared lock taken on a read-only descriptor, so it works for a
    user other than the daemon's (a service runs as its own user, and the lock file is not
    writable by others). It is held for an instant; a daemon starting then waits for it.
    """
    path = lock_path(database)
    if sys.platform == "win32":
        return _is_held_portably(path)
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def _is_held_portably(path: Path) -> bool | None:
    if not path.exists():
        return False
    lock = filelock.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    except OSError:
        return None
    lock.release()
    return False
