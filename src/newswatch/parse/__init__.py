"""Page parsers: one generic engine applying site profiles kept as data (TOML files).

What is specific to a site (selectors, line patterns, date formats, link rules) lives in a
profile; the bundled ones are in `profiles/`, and a user may point at a file of their own.
`parse_page` is pure: it never fetches and never raises on bad HTML; what it could not find
is reported in `Page.warnings`.
"""

from newswatch.parse.engine import parse_page
from newswatch.parse.profile import Profile, available_profiles, load_profile

__all__ = ["Profile", "available_profiles", "load_profile", "parse_page"]
