"""Load and validate the TOML configuration into typed, immutable objects.

Validation is pydantic's job; this module turns its errors into one message per
problem naming the file, the key (``sources[1].interval``) and what was expected,
so a user can fix the file without reading code.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from collections.abc import Sequence
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from newswatch import __version__
from newswatch.cron import crontab_trigger
from newswatch.errors import ConfigError
from newswatch.names import Name

DEFAULT_DATABASE = "newswatch.db"
PROJECT_URL = "https://github.com/newswatch-project/newswatch"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MAX_DURATION_SECONDS = 100 * 365 * 86400.0
"""Longer is a mistake (and beyond what dates can hold once added to now)."""


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as "30m", "1h30m", "90s", "250ms"."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 30, "90s", "30m", "1h30m"')
    if isinstance(value, int | float) or (
        isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value.strip())
    ):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f'expected a duration such as "90s", "30m", "1h30m", got {value!r}')
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ValueError('expected a duration such as 30, "90s", "30m", "1h30m"')
    if not math.isfinite(seconds) or seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"expected a duration of at most 100 years, got {value!r}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def parse_retention(value: object) -> float | None:
    """How long to keep records: seconds, or None for "forever"."""
    if isinstance(value, str) and value.strip().lower() == "forever":
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f'expected a duration such as "90d", or "forever": {exc}') from None
    if seconds <= 0:
        raise ValueError(f'expected a duration such as "90d", or "forever", got {value!r}')
    return seconds


Retention = Annotated[float | None, BeforeValidator(parse_retention)]


def check_http_url(url: str) -> str:
    """The URL, if it is an http(s) URL with a host and a usable port; else ValueError."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        raise ValueError(f"not a valid URL ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {url!r}")
    try:
        port = parts.port  # reading it checks it is a number from 0 to 65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"the port is not a number from 1 to 65535 in {url!r}")
    return url


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Settings(_Strict):
    """How newswatch fetches and where it stores; one block for all sources."""

    database: Path = Path(DEFAULT_DATABASE)
    rules: Path | None = None
    user_agent: str = f"newswatch/{__version__}"
    contact: str = PROJECT_URL
    timeout: Duration = Field(default=30.0, gt=0)
    connect_timeout: Duration = Field(default=10.0, gt=0)
    max_bytes: int = Field(default=5_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    concurrency: int = Field(default=8, ge=1)
    per_host_concurrency: int = Field(default=1, ge=1)
    per_host_delay: Duration = 1.0
    retries: int = Field(default=2, ge=0)
    max_new_pages: int = Field(default=50, ge=0)
    robots: StrictBool = True
    keep_log: Retention = 90 * 86400.0
    """How long request and run records are kept (the daemon prunes daily, or `newswatch
    prune`); None: forever. Stories, ticker items and flags are always kept."""

    @property
    def full_user_agent(self) -> str:
        """The User-Agent header: our name and version plus how to reach the operator."""
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent


class Source(_Strict):
    """One listing page or feed to watch."""

    name: Name
    url: str
    profile: str = "gulfoilandgas"
    article_profile: str | None = None
    """For a feed: the profile that reads the pages its entries link to (default: generic)."""
    interval: Duration = Field(default=1800.0, gt=0)
    cron: str | None = None
    follow: StrictBool = True
    max_new_pages: int | None = Field(default=None, ge=0)
    allow_hosts: tuple[str, ...] = ()
    robots: StrictBool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("article_profile")
    @classmethod
    def _article_profile(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("profile") != "feed":
            raise ValueError('only a source with profile = "feed" takes an article_profile')
        if value == "feed":
            raise ValueError(
                'expected the profile of the pages entries link to: "generic", a site profile'
                ' such as "gulfoilandgas", or a .toml file'
            )
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Source:
        if self.cron is not None and "interval" in self.model_fields_set:
            raise ValueError("set either interval or cron, not both")
        return self

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                crontab_trigger(value)
            except ValueError as exc:
                raise ValueError(
                    f'expected a crontab expression such as "0 7 * * mon-fri": {exc}'
                ) from exc
        return value

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(host.lower().strip() for host in value)
        for host in hosts:
            if not host or (any(char in host for char in "/:@ ") and not _is_ipv6(host)):
                raise ValueError(f"expected host names such as 'news.example.com', got {host!r}")
        return hosts

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


def _check_timezone(name: str | None) -> str | None:
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'expected a time zone such as "Europe/Berlin", got {name!r}'
            ) from None
    return name


class AlertTarget(BaseModel):
    """One ``[[alerts]]`` table: which flags go where, and when.

    Only its shape is checked here; whether apprise understands each URL is checked by
    `notify.check_alert_targets` when rules are loaded, so that commands which send
    nothing never load apprise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    """Letters, digits, . _ -; the database keeps each channel's progress under it."""
    urls: tuple[str, ...] = Field(min_length=1)
    rule: str | None = None
    """None: flags of every rule."""
    mode: Literal["each-run", "digest"] = "each-run"
    digest_at: time = time(8, 0)
    timezone: Annotated[str | None, AfterValidator(_check_timezone)] = None
    """Of digest_at; None: the machine's local time."""
    max_stories: int = Field(default=50, ge=1)
    """Per message; a longer backlog goes out as several messages."""


class FeedFile(BaseModel):
    """One ``[[feeds]]`` table: a feed file kept up to date with the flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    rule: str | None = None
    """None: stories of every rule."""
    title: str | None = None
    self_url: str | None = None
    """Where the file is published; also the feed's id when given."""
    limit: int = Field(default=100, ge=1)
    """Newest flags in the feed."""


class Config(_Strict):
    """A whole configuration file: settings, sources, and where it came from."""

    settings: Settings = Settings()
    sources: tuple[Source, ...] = ()
    alerts: tuple[AlertTarget, ...] = ()
    feeds: tuple[FeedFile, ...] = ()
    path: Path | None = None
    rules_path: Path | None = None

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(self.path, "sources", f"no source named {name!r} (known: {known})")


def contact_missing(config: Config, sources: Sequence[Source]) -> bool:
    """Whether requests to other people's sites would carry no contact of the user's own:
    `contact` left unset (the project's URL stands in) while a source is not on this machine.
    An operator who wants to ask about the requests should reach whoever runs them."""
    if config.settings.contact != PROJECT_URL:
        return False
    return any(not _is_this_machine(source.host) for source in sources)


def _is_this_machine(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_config_path() -> Path:
    """The configuration shipped inside the package, used when --config is not given."""
    return Path(str(resources.files("newswatch") / "defaults" / "newswatch.toml"))


def _key_of(location: tuple[int | str, ...]) -> str:
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not key:
            key = part
        else:
            key += f".{part}"
    return key


_PLAIN_MESSAGES = {
    "tuple_type": 'expected an array, e.g. ["a", "b"]',
    "list_type": 'expected an array, e.g. ["a", "b"]',
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
}


def _message_of(error: Any) -> str:
    """pydantic's words for one problem, said the way a TOML file is written."""
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = error["loc"][:-1]
        return f"unknown key; expected one of: {', '.join(_allowed_keys(parent))}"
    message = _PLAIN_MESSAGES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    if kind not in ("value_error", "missing"):
        message += f", got {error.get('input')!r}"
    return message


def _without_echoes(errors: list[Any]) -> list[Any]:
    """pydantic also finds a list "too short" when its only items were rejected: that says
    nothing the items' own errors do not."""
    failed_items = {tuple(error["loc"][:-1]) for error in errors if len(error["loc"]) > 1}
    return [
        error
        for error in errors
        if not (error["type"] == "too_short" and tuple(error["loc"]) in failed_items)
    ]


def config_from_dict(data: dict[str, Any], path: Path | None, *, builtin: bool = False) -> Config:
    """Validate parsed TOML; relative paths are resolved against the file's folder.

    The built-in configuration keeps its database in the current directory, since
    the package's own folder is no place for user data.
    """
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as exc:
        first, *others = _without_echoes(exc.errors())
        message = _message_of(first)
        for other in others:  # every problem at once, one a line, so one edit fixes all
            where = ": ".join(part for part in (str(path or ""), _key_of(other["loc"])) if part)
            message += f"\n{where}: {_message_of(other)}"
        raise ConfigError(path, _key_of(first["loc"]) or None, message) from None
    for section, names in (
        ("sources", [source.name for source in config.sources]),
        ("alerts", [target.name for target in config.alerts]),
    ):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise ConfigError(path, f"{section}[{index}].name", f"duplicate name {name!r}")
            seen.add(name)
    base = path.parent if path and not builtin else Path.cwd()
    settings = config.settings
    database = settings.database if settings.database.is_absolute() else base / settings.database
    rules_ref = settings.rules
    rules_base = path.parent if path else Path.cwd()
    if rules_ref is None:
        rules_path = None
    else:
        rules_path = rules_ref if rules_ref.is_absolute() else rules_base / rules_ref
        if not rules_path.is_file():
            raise ConfigError(path, "settings.rules", f"rules file not found: {rules_path}")
    feeds = tuple(
        feed if feed.path.is_absolute() else feed.model_copy(update={"path": base / feed.path})
        for feed in config.feeds
    )
    return config.model_copy(
        update={
            "settings": settings.model_copy(update={"database": database}),
            "rules_path": rules_path,
            "feeds": feeds,
        }
    )


def _allowed_keys(parent: tuple[int | str, ...]) -> list[str]:
    names = [p for p in parent if isinstance(p, str)]
    sections: dict[str, type[BaseModel]] = {
        "settings": Settings,
        "sources": Source,
        "alerts": AlertTarget,
        "feeds": FeedFile,
    }
    model = sections.get(names[-1], Config) if names else Config
    hidden = {"rules_path"} if model is FeedFile else {"path", "rules_path"}
    return [name for name in model.model_fields if name not in hidden]


def load_config(path: Path | None = None) -> Config:
    """Read a configuration file, or the built-in default when path is None."""
    builtin = path is None
    file = default_config_path() if path is None else path
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(file, None, "configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, f"cannot read configuration: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, None, f"invalid TOML: {exc}") from None
    return config_from_dict(data, file, builtin=builtin)
