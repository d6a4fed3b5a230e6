"""Configuration loading: defaults, path resolution, and messages that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.config import load_config, parse_duration
from newswatch.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[settings]
database = "data/news.db"
per_host_delay = "500ms"
timeout = 20

[[sources]]
name = "portal"
url = "https://www.example.com/news/home.asp"
interval = "1h30m"

[[sources]]
name = "weekday-mornings"
url = "http://other.example.org/list"
cron = "0 7 * * mon-fri"
follow = false
allow_hosts = ["CDN.Example.org"]
"""


def test_builtin_default_config_loads() -> None:
    config = load_config()
    assert config.sources, "the shipped config must watch something"
    assert config.rules_path is not None and config.rules_path.is_file()
    assert config.settings.database == Path.cwd() / "newswatch.db"
    assert "newswatch" in config.settings.full_user_agent
    assert "(+http" in config.settings.full_user_agent


def test_values_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.settings.database == tmp_path / "data" / "news.db"
    assert config.settings.per_host_delay == 0.5
    assert config.settings.timeout == 20.0
    portal, mornings = config.sources
    assert portal.interval == 5400.0 and portal.follow and portal.host == "www.example.com"
    assert mornings.cron == "0 7 * * mon-fri" and not mornings.follow
    assert mornings.allow_hosts == ("cdn.example.org",)
    assert config.rules_path is None  # no rules key: the bundled rules are used


def test_rules_path_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "my-rules.toml").write_text("", encoding="utf-8")
    config = load_config(write(tmp_path, '[settings]\nrules = "my-rules.toml"\n'))
    assert config.rules_path == tmp_path / "my-rules.toml"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[settings]\ndatabse = 'x.db'\n", "settings.databse", "unknown key"),
        ("[settings]\ntimeout = 'soon'\n", "settings.timeout", "duration"),
        ("[settings]\nmax_bytes = 'lots'\n", "settings.max_bytes", "integer"),
        ("[settings]\nrobots = 'yes'\n", "settings.robots", "true or false"),
        ("[settings]\nrules = 'nope.toml'\n", "settings.rules", "not found"),
        ("[[sources]]\nname = 'a'\nurl = 'ftp://x.org/'\n", "sources[0].url", "http"),
        ("[[sources]]\nname = 'a'\nurl = 'not a url'\n", "sources[0].url", "http"),
        ("[[sources]]\nname = 'a'\nurl = 'http://x.org:99999/'\n", "sources[0].url", "port"),
        ("[[sources]]\nname = 'a'\nurl = 'http://x.org:abc/'\n", "sources[0].url", "port"),
        ("[[sources]]\nname = 'a'\nurl = 'http://x.org:0/'\n", "sources[0].url", "port"),
        ("[[sources]]\nname = 'a'\nurl = 'http://[::1/x'\n", "sources[0].url", "[::1/x"),
        ("[settings]\nkeep_log = inf\n", "settings.keep_log", "100 years"),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\nallow_hosts = ['http://y.org/']\n",
            "sources[0].allow_hosts",
            "host names",
        ),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\ninterval = '5 parsecs'\n",
            "sources[0].interval",
            "duration",
        ),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\ninterval = -5\n",
            "sources[0].interval",
            "negative",
        ),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\ncron = '61 * * * *'\n",
            "sources[0].cron",
            "crontab",
        ),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\nfollow = 'yes please'\n",
            "sources[0].follow",
            "true or false",
        ),
        ("[[sources]]\nurl = 'http://x.org/'\n", "sources[0].name", "required"),
        ("[[sources]]\nname = 'has space'\nurl = 'http://x.org/'\n", "sources[0].name", "spaces"),
        (
            "[[sources]]\nname='a'\nurl='http://x.org/'\n[[sources]]\nname='a'\nurl='http://y.org/'\n",
            "sources[1].name",
            "duplicate",
        ),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\nprofil = 'gulf'\n",
            "sources[0].profil",
            "unknown key",
        ),
        ("[sources]\nname = 'a'\n", "sources", "expected an array"),
        (
            "[[sources]]\nname = 'a'\nurl = 'http://x.org/'\ninterval = '1h'\ncron = '0 7 * * *'\n",
            "sources[0]",
            "either interval or cron",
        ),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert fragment in message.lower(), message


def test_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected one of: .*per_host_delay"):
        load_config(write(tmp_path, "[settings]\nper_host_dealy = 1\n"))


def test_unknown_key_of_a_feed_lists_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.pth: unknown key; expected one of: path, "):
        load_config(write(tmp_path, "[[feeds]]\npth = 'x.xml'\n"))


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, "[settings]\ntimeout = \n")
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 2"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("250ms", 0.25),
        (" 2H ", 7200.0),
        ("30", 30.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "fast",
        "10 minutes",
        "1h and 5m",
        True,
        None,
        "-5s",
        float("inf"),
        float("nan"),
        1e308,
        "1000000d",
    ],
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_keep_log_is_a_duration_or_forever(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[settings]\n")).settings.keep_log == 90 * 86400
    forever = write(tmp_path, "[settings]\nkeep_log = 'Forever'\n")
    assert load_config(forever).settings.keep_log is None
    assert load_config(write(tmp_path, "[settings]\nkeep_log = '30d'\n")).settings.keep_log == (
        30 * 86400
    )
    for bad in ("'0s'", "'always'", "-1"):
        path = write(tmp_path, f"[settings]\nkeep_log = {bad}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value).startswith(f"{path}: settings.keep_log: expected a duration")


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "[settings]\ntimeout = 'soon'\nrobots = 'yes'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{path}: settings.timeout: ")
    assert lines[1].startswith(f"{path}: settings.robots: expected true or false")


def test_sunday_as_7_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(
        "\ufeff[[sources]]\nname = 'a'\nurl = 'http://x.org/'\ncron = '0 7 * * 5-7'\n".encode()
    )
    assert load_config(path).sources[0].cron == "0 7 * * 5-7"
