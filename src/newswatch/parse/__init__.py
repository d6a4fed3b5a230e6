"""Page parsers: one generic engine applying site profiles kept as data (TOML files), plus two
built-in profiles that need no description of the site: "feed" (RSS and Atom) and "generic"
(any news site, by trafilatura).

What is specific to a site (selectors, line patterns, date formats, link rules) lives in a
profile; the bundled ones are in `profiles/`, and a user may point at a file of their own.
`parse_page` is pure: it never fetches and never raises on bad input; what it could not find
is reported in `Page.warnings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

from newswatch import __version__
from newswatch.errors import ConfigError
from newswatch.models import Page, PageHints
from newswatch.parse.engine import parse_page as parse_site_page
from newswatch.parse.feed import FEED, FeedProfile, ParsedFeed, parse_feed
from newswatch.parse.generic import (
    GENERIC,
    GenericProfile,
    discover_feeds,
    looks_like_article,
    parse_generic,
)
from newswatch.parse.profile import Profile as SiteProfile
from newswatch.parse.profile import available_profiles
from newswatch.parse.profile import load_profile as load_site_profile

Profile: TypeAlias = SiteProfile | FeedProfile | GenericProfile
"""Any profile `parse_page` accepts: a site described in TOML, or a built-in one."""

BUILTIN_PROFILES: dict[str, FeedProfile | GenericProfile] = {
    FEED: FeedProfile(),
    GENERIC: GenericProfile(),
}


def profile_names() -> list[str]:
    """Every profile a source may name: the built-in ones, then the bundled TOML ones
    (`available_profiles`)."""
    return [*BUILTIN_PROFILES, *available_profiles()]


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile ("feed", "generic"), a bundled one by name, or a profile file by
    path (a Path, or a str ending in .toml or containing a slash)."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name_or_path]
    try:
        return load_site_profile(name_or_path)
    except ConfigError as exc:
        if exc.path is not None or exc.key != "profile":
            raise
        known = ", ".join(profile_names())
        raise ConfigError(
            None,
            "profile",
            f"unknown profile {name_or_path!r} (available: {known}; or give a .toml file)",
        ) from None


def reader_version(profile: Profile) -> str:
    """What a page is read with: this newswatch and the profile (a site profile's text; for
    a feed, also the profile of the pages its entries link to). A source's page is asked for
    conditionally only if it was last read with the same, so an edited profile or an upgrade
    reads an unchanged listing again."""
    if isinstance(profile, FeedProfile):
        return f"{reader_version(profile.articles)}; {profile.name}"
    version = profile.version if isinstance(profile, SiteProfile) else ""
    return f"newswatch {__version__}; {profile.name} {version}".rstrip()


def parse_page(html: str, url: str, profile: Profile, hints: PageHints | None = None) -> Page:
    """What `profile` finds on one page; missing or odd parts become warnings, never errors.
    `hints`: what is known of the page before reading it (its listing's title, date and
    region; the site's other <title>s), the fallback for what the page lacks.

    For the feed profile this is the feed's entries as links; `parse_feed` also gives the
    entries that carry whole stories as articles."""
    if isinstance(profile, FeedProfile):
        return parse_feed(html, url).page
    if isinstance(profile, GenericProfile):
        return parse_generic(html, url, hints)
    return parse_site_page(html, url, profile, hints)


__all__ = [
    "BUILTIN_PROFILES",
    "FeedProfile",
    "GenericProfile",
    "ParsedFeed",
    "Profile",
    "SiteProfile",
    "available_profiles",
    "discover_feeds",
    "load_profile",
    "looks_like_article",
    "parse_feed",
    "parse_page",
    "profile_names",
    "reader_version",
]
