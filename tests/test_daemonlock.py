"""The daemon's lock beside the database, and `status`'s probe of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from newswatch import daemonlock

HOLD = """
import sys
from pathlib import Path
from newswatch import daemonlock
with daemonlock.hold(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_the_probe_sees_another_process_hold_the_lock_and_changes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "news.db"
    lock = tmp_path / "news.db.daemon-lock"
    assert daemonlock.is_held(database) is False
    assert not lock.exists()  # a read-only command leaves no file behind
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        lock.chmod(0o444)  # as a service's lock looks to another user: read-only
        assert daemonlock.is_held(database) is True
        assert daemonlock.is_held(tmp_path / "." / "news.db") is True  # however it is named
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert daemonlock.is_held(database) is False
    lock.chmod(0o000)
    if os.geteuid() != 0:  # root reads anything: only another user can be refused
        assert daemonlock.is_held(database) is None
