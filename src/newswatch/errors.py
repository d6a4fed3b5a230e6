"""Errors that reach the user as a message, never as a traceback."""

from __future__ import annotations

from pathlib import Path


class NewswatchError(Exception):
    """Base class: anything newswatch reports to the user as a plain message."""


class ConfigError(NewswatchError):
    """A configuration, rules or profile file is wrong; the message names file and key."""

    def __init__(self, path: Path | str | None, key: str | None, message: str) -> None:
        self.path = Path(path) if path is not None else None
        self.key = key
        self.message = message
        where = ": ".join(part for part in (str(path) if path else None, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class QueryError(NewswatchError):
    """A query the user typed cannot be read (malformed full-text search syntax): a usage
    error, like a bad option."""
