"""Keyword rules: decide which stories a topic covers, without making analysts write regexes.

A rules file is TOML with one ``[[rules]]`` table per rule::

    [[rules]]
    name = "solid-state-battery"          # required: letters, digits, "-", "_", "."
    description = "Solid-state batteries"  # optional, shown by `newswatch rules test`
    fields = ["title", "body", "ticker"]   # optional: where to look; default: all three
    any = ["solid-state battery", "ASSB"]  # fires when at least one of these is found ...
    all = ["Toyota"]                       # ... and every one of these is found ...
    none = ["obituary"]                    # ... and none of these appears anywhere it looks

    [[rules.near]]                         # terms judged by their neighbourhood
    terms = ["SSB"]                        # (or `term = "SSB"`); they count like `any` terms ...
    context = ["battery", "electrolyte"]   # ... only when one of these is near ...
    unless = ["radio", "sideband"]         # ... and none of these is near
    within = 12                            # "near" = at most this many words away (default 10)

    [rules.prominence]                     # optional: the story must be about the terms ...
    paragraphs = 2                         # ... in the headline, the lead, or >= 2 paragraphs
    mentions = 3                           # ... (or >= 3 mentions); either key may be left out

A rule needs at least one of ``any``, ``all`` or ``near``; a ``near`` table needs ``context``
or ``unless``. Every term is matched:

- case-insensitively, on word boundaries ("cell" does not match "excellent");
- with hyphen, space or nothing between its words: "solid-state battery" also matches
  "solid state battery" and "solidstate battery";
- with singular and plural (English -s/-es/-ies, German -e/-n/-en) of its last word, so write
  the singular: "solid-state battery" also matches "solid-state batteries";
- a ``*`` at the start or end of a term drops the word boundary on that side, for compounds:
  "Festkörperbatterie*" also matches "Festkörperbatteriezellen";
- Chinese, Japanese and Korean terms match as substrings (those scripts have no spaces between
  words, and Korean attaches particles), and each Chinese or Japanese character counts as one
  word for ``within``.

With ``prominence``, the terms that make a rule fire (``any`` and ``near``) must be prominent:
in the headline (title), in the lead (the first paragraph of the body, with a byline or dateline
before it), in at least ``paragraphs`` paragraphs, or mentioned at least ``mentions`` times.
A ticker item or a one-paragraph body is all lead. Otherwise the story only mentions the topic
in passing, and the rule does not fire.

``none`` vetoes the whole story; ``unless`` only discards the term occurrences it is near, so an
article about solid-state batteries that also mentions a fuel cell elsewhere still matches.
Hard negatives are best kept out by precise positive terms ("solid-state battery", never bare
"solid-state"), which is why the default rule never fires on solid-state drives.

The first words of all terms of all rules go into one Aho–Corasick automaton, so a story is
scanned once however many rules there are; where a first word is found, the terms starting
with it are then confirmed one by one.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import NoReturn

import ahocorasick

from newswatch.errors import ConfigError
from newswatch.models import Article, TickerItem

FIELD_NAMES: tuple[str, ...] = ("title", "body", "ticker")
_FIELD_SET = frozenset(FIELD_NAMES)
DEFAULT_WITHIN = 10
LEAD_MIN_WORDS = 12
"""A first paragraph shorter than this (a byline, a dateline, a repeated headline) does not make
the lead on its own: the lead runs to the first paragraph at least this long."""
MAX_EVIDENCE = 5

# Scripts written without spaces between words (or, for Hangul, with particles glued on):
# their terms match as substrings.
_UNSPACED = (
    "\u1100-\u11ff\u3005\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002ffff"
)
# Han and kana: one character is one word when measuring distances.
_IDEOGRAPHIC = (
    "\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_WORD_CHAR = f"[^\\W_{_UNSPACED}]"
_WORDS = re.compile(f"[{_IDEOGRAPHIC}]|[^\\W_{_IDEOGRAPHIC}]+")
_WORD_RUN_CHAR = re.compile(f"[^\\W_{_IDEOGRAPHIC}]")
_ONE_WORD_CHAR = re.compile(_WORD_CHAR)
_TERM_WORD_SPLIT = re.compile(r"[\s\u00ad\u2010-\u2013-]+")
_RULE_NAME = re.compile(r"\w[\w.-]*")
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_LINE_BREAK = re.compile(r"\s*\n\s*")

# Atoms of a compiled term: single literal characters, or one of these markers.
_SEPARATOR = "\x00sep"
_SUFFIX_Y = "\x00y"
_SUFFIX = "\x00suffix"
_LEFT_BOUNDARY = "\x00left"
_END_BOUNDED = "\x00end"
_END_OPEN = "\x00open"
_ATOM_PATTERNS = {
    _SEPARATOR: r"[\s\u00ad\u2010-\u2013-]{0,3}",
    _SUFFIX_Y: "(?:y|ies)",
    _SUFFIX: "(?:e?[sn]|e)?",
    # Placed after the first character: a term's pattern is tried where its first word is.
    _LEFT_BOUNDARY: f"(?<!{_WORD_CHAR}(?s:.))",
    _END_BOUNDED: f"(?!{_WORD_CHAR})",
    _END_OPEN: "",
}


@dataclass(frozen=True)
class NearTerm:
    """Terms that count only when a context term is near and no ``unless`` term is."""

    terms: tuple[str, ...]
    context: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    within: int = DEFAULT_WITHIN


@dataclass(frozen=True)
class Prominence:
    """When terms count as what a story is about rather than a passing mention: in the headline
    or the lead always; also in at least `paragraphs` paragraphs or `mentions` mentions."""

    paragraphs: int | None = None
    mentions: int | None = None

    def describe(self) -> str:
        ways = ["the headline", "the lead"]
        if self.paragraphs is not None:
            ways.append(f"{self.paragraphs} paragraphs")
        if self.mentions is not None:
            ways.append(f"{self.mentions} mentions")
        return ", ".join(ways[:-1]) + " or " + ways[-1]


@dataclass(frozen=True)
class Rule:
    """One topic, as an analyst wrote it."""

    name: str
    description: str = ""
    fields: tuple[str, ...] = FIELD_NAMES
    any_terms: tuple[str, ...] = ()
    all_terms: tuple[str, ...] = ()
    none_terms: tuple[str, ...] = ()
    near: tuple[NearTerm, ...] = ()
    prominence: Prominence | None = None


@dataclass(frozen=True)
class RuleMatch:
    """A rule that fired on a story: what a flag records."""

    rule: str
    terms: tuple[str, ...]
    """The configured terms that matched, in rule order (any, all, near), deduplicated."""
    evidence: tuple[str, ...]
    """The text as it appeared, e.g. "solid state batteries"; at most MAX_EVIDENCE."""
    fields: tuple[str, ...]


@dataclass(frozen=True)
class RuleExplanation:
    """Why a rule fired or did not, for `newswatch rules test`."""

    rule: str
    fired: bool
    reason: str
    terms: tuple[str, ...]
    evidence: tuple[str, ...]
    fields: tuple[str, ...]
    missing_all: tuple[str, ...]
    """`all` terms that were not found."""
    excluded_by: tuple[str, ...]
    """`none` terms found, and `unless` terms that discarded a near term."""
    blocked: tuple[str, ...]
    """Near terms found but discarded because an `unless` term was near."""
    without_context: tuple[str, ...]
    """Near terms found with no context term near enough."""
    in_passing: str = ""
    """When the rule's terms were found but not prominently: where they were, e.g. "1 mention,
    in paragraph 4 of 6"; empty otherwise."""

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "fired": self.fired,
            "reason": self.reason,
            "terms": list(self.terms),
            "evidence": list(self.evidence),
            "fields": list(self.fields),
            "missing_all": list(self.missing_all),
            "excluded_by": list(self.excluded_by),
            "blocked": list(self.blocked),
            "without_context": list(self.without_context),
            "in_passing": self.in_passing,
        }


class _Role(Enum):
    ANY = "any"
    ALL = "all"
    NONE = "none"
    NEAR = "near"
    CONTEXT = "context"
    UNLESS = "unless"


_PRIMARY_ROLES = (_Role.ANY, _Role.ALL, _Role.NEAR)


@dataclass(frozen=True)
class _Use:
    """One place where a rule uses a term; several uses may share one compiled pattern."""

    rule_index: int
    role: _Role
    term: str
    order: int
    near_index: int = -1


@dataclass(frozen=True)
class _Occurrence:
    use: _Use
    field: str
    start: int
    end: int


@dataclass
class _Outcome:
    """The evaluation of one rule on one story, before it becomes a match or an explanation."""

    fired: bool
    counted: list[_Occurrence]
    missing_all: list[str]
    vetoed_by: list[str]
    """`none` terms found."""
    blocked: list[tuple[str, str]] = field(default_factory=list)
    """(near term, the `unless` term near it that discarded it)."""
    without_context: list[str] = field(default_factory=list)
    in_passing: str = ""
    """Where the terms were, when they were found only in passing (see Prominence)."""
    prominent: str = ""
    """Where the terms were prominent, for a rule with prominence that fired."""

    @property
    def any_found(self) -> bool:
        return any(o.use.role is not _Role.ALL for o in self.counted)


@dataclass
class _Text:
    """One field's text, folded for matching."""

    display: str
    folded: str
    word_starts: list[int] | None = field(default=None, init=False, repr=False)
    paragraph_starts: list[int] | None = field(default=None, init=False, repr=False)
    lead_paragraphs: int = field(default=1, init=False, repr=False)

    def paragraph(self, offset: int) -> int:
        """The number (0-based) of the paragraph the offset is in. Every line is a paragraph:
        stored bodies separate paragraphs with a blank line, but a <br> makes a single line
        break, and pages use it between paragraphs too."""
        if self.paragraph_starts is None:
            self.paragraph_starts = [0] + [
                m.end() for m in _LINE_BREAK.finditer(self.folded) if m.end() < len(self.folded)
            ]
            ends = [*self.paragraph_starts[1:], len(self.folded)]
            self.lead_paragraphs = len(self.paragraph_starts)
            for number, (start, end) in enumerate(zip(self.paragraph_starts, ends, strict=True)):
                if len(_WORDS.findall(self.folded, start, end)) >= LEAD_MIN_WORDS:
                    self.lead_paragraphs = number + 1
                    break
        return bisect_right(self.paragraph_starts, offset) - 1

    @property
    def paragraph_count(self) -> int:
        self.paragraph(0)
        assert self.paragraph_starts is not None
        return len(self.paragraph_starts)

    def in_lead(self, offset: int) -> bool:
        """The lead: the first paragraph, with the short ones before it (byline, dateline)."""
        return self.paragraph(offset) < self.lead_paragraphs

    def near(self, a: _Occurrence, b: _Occurrence, within: int) -> bool:
        """Whether one occurrence is at most `within` words from the other (0 if they overlap,
        1 if adjacent). Only the words between them are counted, and no more than needed:
        indexing every word of a long body for one near term cost more than all the rest."""
        if a.start < b.end and b.start < a.end:
            return True
        low, high = (a.end, b.start) if a.end <= b.start else (b.end, a.start)
        inside_a_word = (
            low > 0
            and _WORD_RUN_CHAR.match(self.folded, low - 1) is not None
            and _WORD_RUN_CHAR.match(self.folded, low) is not None
        )
        words_between = -1 if inside_a_word else 0  # the rest of a word is no word of its own
        for _word in _WORDS.finditer(self.folded, low, high):
            words_between += 1
            if words_between >= within:
                return False
        return True

    def snippet(self, start: int, end: int) -> str:
        """The text as written, widened to whole words where a `*` term cut one."""
        if not _UNSPACED_CHAR.match(self.folded, start):
            while start > 0 and _ONE_WORD_CHAR.match(self.folded, start - 1):
                start -= 1
        if not _UNSPACED_CHAR.match(self.folded, end - 1):
            while end < len(self.folded) and _ONE_WORD_CHAR.match(self.folded, end):
                end += 1
        return " ".join(self.display[start:end].split())


class _Scanner:
    """Where terms are, found in one pass over a text by an Aho–Corasick automaton
    (pyahocorasick, in C) over the literal first word of every term; only where one of those
    occurs is the term's own pattern (separators, plural, word boundaries) tried. A regex
    alternation over hundreds of terms, as before, tried its branches at every candidate
    character: 100 rules cost three times one."""

    def __init__(self, uses: Iterable[_Use]) -> None:
        keys: dict[tuple[str, ...], int] = {}
        self.uses: list[list[_Use]] = []
        for use in uses:
            atoms = _term_atoms(use.term)
            if atoms not in keys:
                keys[atoms] = len(keys)
                self.uses.append([])
            self.uses[keys[atoms]].append(use)
        candidates: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        for atoms, index in keys.items():
            pattern = re.compile("".join(_ATOM_PATTERNS.get(a, re.escape(a)) for a in atoms))
            candidates.setdefault(_literal_prefix(atoms), []).append((index, pattern))
        self.automaton: ahocorasick.Automaton | None = None
        if candidates:
            self.automaton = ahocorasick.Automaton()
            for prefix, patterns in candidates.items():
                self.automaton.add_word(prefix, (len(prefix), patterns))
            self.automaton.make_automaton()

    def scan(self, text: _Text, field: str, rules: Sequence[Rule]) -> Iterable[_Occurrence]:
        for start, index, end in self.find(text.folded):
            for use in self.uses[index]:
                if field in rules[use.rule_index].fields:
                    yield _Occurrence(use, field, start, end)

    def find(self, folded: str) -> list[tuple[int, int, int]]:
        """Every (start, term, end), overlapping ones included, in the order of their start."""
        found: list[tuple[int, int, int]] = []
        if self.automaton is None:
            return found
        for last, (length, patterns) in self.automaton.iter(folded):
            start = last - length + 1
            for index, pattern in patterns:
                match = pattern.match(folded, start)
                if match is not None:
                    found.append((start, index, match.end()))
        if len(found) > 1:
            found.sort()
        return found


class RuleSet:
    """Compiled rules.

    Matching is two-phase: one scan per field looks for the terms that can make any rule fire
    (any, all, near) and those that veto one (none: rare words, as a rule); a rule's context
    and unless terms, often common words, are looked for only when it has found a near term.
    So rules that find nothing cost almost nothing.
    """

    def __init__(self, rules: Sequence[Rule], warnings: Sequence[str] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.warnings: tuple[str, ...] = tuple(warnings)
        """Mistakes that do not stop the rules from working, but likely make a term useless
        (a regular expression written as a term): shown by the CLI, logged by the daemon."""
        uses = list(_uses_of(self.rules))
        self._primary = _Scanner(u for u in uses if u.role in (*_PRIMARY_ROLES, _Role.NONE))
        self._neighbours = [
            _Scanner(
                u for u in uses if u.rule_index == index and u.role in (_Role.CONTEXT, _Role.UNLESS)
            )
            for index in range(len(self.rules))
        ]

        self._fields_in_use = {name for rule in self.rules for name in rule.fields}

    def match(self, fields: Mapping[str, str]) -> list[RuleMatch]:
        """One RuleMatch per rule that fires, in rule order."""
        texts, occurrences = self._scan(fields, every_rule=False)
        matches = []
        for rule_index in sorted(occurrences):
            rule = self.rules[rule_index]
            outcome = _evaluate(rule, occurrences[rule_index], texts)
            if outcome.fired:
                terms, evidence, found_in = _report(outcome.counted, texts)
                matches.append(RuleMatch(rule.name, terms, evidence, found_in))
        return matches

    def explain(self, fields: Mapping[str, str]) -> dict[str, RuleExplanation]:
        """For every rule, fired or not, what was found and what stopped it."""
        texts, occurrences = self._scan(fields, every_rule=True)
        explanations = {}
        for rule_index, rule in enumerate(self.rules):
            outcome = _evaluate(rule, occurrences.get(rule_index, []), texts)
            terms, evidence, found_in = _report(outcome.counted, texts)
            explanations[rule.name] = RuleExplanation(
                rule=rule.name,
                fired=outcome.fired,
                reason=_reason(rule, outcome, terms),
                terms=terms,
                evidence=evidence,
                fields=found_in,
                missing_all=tuple(outcome.missing_all),
                excluded_by=_unique([*outcome.vetoed_by, *(b for _, b in outcome.blocked)]),
                blocked=_unique(term for term, _ in outcome.blocked),
                without_context=_unique(outcome.without_context),
                in_passing=outcome.in_passing,
            )
        return explanations

    def _scan(
        self, fields: Mapping[str, str], every_rule: bool
    ) -> tuple[dict[str, _Text], dict[int, list[_Occurrence]]]:
        if not _FIELD_SET.issuperset(fields):
            unknown = sorted(set(fields) - _FIELD_SET)
            raise ValueError(f"unknown field(s) {unknown}; expected some of {FIELD_NAMES}")
        texts = {
            name: _fold(fields[name])
            for name in FIELD_NAMES
            if fields.get(name) and name in self._fields_in_use
        }
        occurrences: dict[int, list[_Occurrence]] = {}
        vetoes: dict[int, list[_Occurrence]] = {}
        for name, text in texts.items():
            for found in self._primary.scan(text, name, self.rules):
                found_by = vetoes if found.use.role is _Role.NONE else occurrences
                found_by.setdefault(found.use.rule_index, []).append(found)
        in_play = range(len(self.rules)) if every_rule else list(occurrences)
        for rule_index in in_play:
            found_so_far = occurrences.setdefault(rule_index, [])
            if every_rule or any(o.use.role is _Role.NEAR for o in found_so_far):
                for name, text in texts.items():
                    found_so_far.extend(self._neighbours[rule_index].scan(text, name, self.rules))
            found_so_far.extend(vetoes.get(rule_index, ()))
        return texts, occurrences


def item_fields(item: Article | TickerItem) -> dict[str, str]:
    """The rule fields of a stored story: an article's title and body, a ticker item's text."""
    if isinstance(item, Article):
        return {"title": item.title, "body": item.body}
    return {"ticker": item.text}


def default_rules_path() -> Path:
    """The rules shipped with the package: the file users copy and edit."""
    return Path(__file__).parent / "defaults" / "rules.toml"


def load_rules(path: Path) -> RuleSet:
    """Read and compile a rules file; every problem is a ConfigError naming file and key."""
    try:
        source = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read rules file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from exc
    return parse_rules(data, path)


def parse_rules(data: Mapping[str, object], path: Path | None = None) -> RuleSet:
    """Validate and compile already-parsed TOML; `path` only names the file in errors."""
    reader = _RulesReader(path)
    rules = reader.read(data)
    return RuleSet(rules, reader.warnings)


# --- compiling terms ---------------------------------------------------------------------------


def _term_atoms(term: str) -> tuple[str, ...]:
    """The matching key of a term: its variants all share it (used to spot duplicate terms)."""
    term = term.strip()
    open_start, open_end = term.startswith("*"), term.endswith("*")
    words = [w for w in _TERM_WORD_SPLIT.split(_fold(term.strip("*")).folded) if w]
    if not words:
        raise ValueError(f"not a term: {term!r}")
    stem, suffix = (words[-1], None) if open_end else _inflect(words[-1])
    atoms: list[str] = []
    for position, word in enumerate(words):
        if position:
            atoms.append(_SEPARATOR)
        atoms.extend(stem if position == len(words) - 1 else word)
    if suffix is not None:
        atoms.append(suffix)
    if not open_start and not _UNSPACED_CHAR.match(atoms[0]):
        atoms.insert(1, _LEFT_BOUNDARY)
    last_char = words[-1][-1]
    atoms.append(_END_OPEN if open_end or _UNSPACED_CHAR.match(last_char) else _END_BOUNDED)
    return tuple(atoms)


def _literal_prefix(atoms: tuple[str, ...]) -> str:
    """The characters a term always starts with: its first word, or the stem of its only one
    (what the automaton looks for)."""
    prefix = ""
    for atom in atoms:
        if atom == _LEFT_BOUNDARY:
            continue
        if atom in _ATOM_PATTERNS:
            break
        prefix += atom
    return prefix


def _inflect(word: str) -> tuple[str, str | None]:
    """Split a last word into a stem and the suffix pattern that covers singular and plural."""
    last = word[-1]
    if len(word) < 2 or not last.isalpha() or _UNSPACED_CHAR.match(last):
        return word, None
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3], _SUFFIX_Y
    if len(word) > 2 and last == "y" and word[-2] not in "aeiou":
        return word[:-1], _SUFFIX_Y
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2], _SUFFIX
    if word.endswith("ien"):
        return word[:-1], _SUFFIX
    if len(word) >= 5 and last == "s" and word[-2] not in "siu":
        return word[:-1], _SUFFIX
    return word, _SUFFIX


def _fold(text: str) -> _Text:
    """NFC, full-width ASCII made ASCII, lower case; offsets stay valid for the display text."""
    if text.isascii():  # most English text: nothing to normalise, and quick to tell
        return _Text(text, text.lower())
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    display = _FULLWIDTH.sub(_fullwidth_to_ascii, text)
    folded = display.lower()
    if len(folded) != len(display):  # e.g. "İ" lowers to two characters
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in display)
    return _Text(display, folded)


def _fullwidth_to_ascii(match: re.Match[str]) -> str:
    char = match.group()
    return " " if char == "\u3000" else chr(ord(char) - 0xFEE0)


def _uses_of(rules: Sequence[Rule]) -> Iterable[_Use]:
    for index, rule in enumerate(rules):
        order = 0
        for role, terms in ((_Role.ANY, rule.any_terms), (_Role.ALL, rule.all_terms)):
            for term in terms:
                yield _Use(index, role, term, order)
                order += 1
        for near_index, near in enumerate(rule.near):
            for term in near.terms:
                yield _Use(index, _Role.NEAR, term, order, near_index)
                order += 1
            for term in near.context:
                yield _Use(index, _Role.CONTEXT, term, -1, near_index)
            for term in near.unless:
                yield _Use(index, _Role.UNLESS, term, -1, near_index)
        for term in rule.none_terms:
            yield _Use(index, _Role.NONE, term, -1)


# --- evaluating rules --------------------------------------------------------------------------


def _evaluate(rule: Rule, occurrences: list[_Occurrence], texts: Mapping[str, _Text]) -> _Outcome:
    counted = [o for o in occurrences if o.use.role in (_Role.ANY, _Role.ALL)]
    found_all = {o.use.term for o in counted if o.use.role is _Role.ALL}
    outcome = _Outcome(
        fired=False,
        counted=counted,
        missing_all=[t for t in rule.all_terms if t not in found_all],
        vetoed_by=[o.use.term for o in occurrences if o.use.role is _Role.NONE],
    )
    for occurrence in occurrences:
        if occurrence.use.role is _Role.NEAR:
            _judge_near(rule, occurrence, occurrences, texts[occurrence.field], outcome)
    needs_any = bool(rule.any_terms or rule.near)
    outcome.fired = (
        (outcome.any_found or not needs_any) and not outcome.missing_all and not outcome.vetoed_by
    )
    if outcome.fired and rule.prominence is not None and needs_any:
        outcome.fired, where = _prominence(rule.prominence, outcome.counted, texts)
        if outcome.fired:
            outcome.prominent = where
        else:
            outcome.in_passing = where
    return outcome


def _prominence(
    prominence: Prominence, counted: list[_Occurrence], texts: Mapping[str, _Text]
) -> tuple[bool, str]:
    """Whether the terms that made a rule fire are prominent, and where they were: "in the
    headline", "in 3 paragraphs", or, found only in passing, "1 mention, in paragraph 4 of 6"."""
    found = [o for o in counted if o.use.role is not _Role.ALL]
    fields = {o.field for o in found}
    if "title" in fields:
        return True, "in the headline"
    if "ticker" in fields:
        return True, "in a ticker item (all lead)"
    body = texts["body"]
    if any(body.in_lead(o.start) for o in found):
        return True, "in the lead"
    mentions = len(_spans(found))
    paragraphs = sorted({body.paragraph(o.start) + 1 for o in found})
    if prominence.paragraphs is not None and len(paragraphs) >= prominence.paragraphs:
        return True, f"in {len(paragraphs)} paragraphs"
    if prominence.mentions is not None and mentions >= prominence.mentions:
        return True, f"{mentions} mentions"
    where = ", ".join(map(str, paragraphs))
    return False, (
        f"{mentions} mention{'s' if mentions != 1 else ''}, in paragraph"
        f"{'s' if len(paragraphs) != 1 else ''} {where} of {body.paragraph_count};"
        f" prominent means in {prominence.describe()}"
    )


def _judge_near(
    rule: Rule,
    occurrence: _Occurrence,
    occurrences: list[_Occurrence],
    text: _Text,
    outcome: _Outcome,
) -> None:
    near = rule.near[occurrence.use.near_index]
    neighbours = [
        other
        for other in occurrences
        if other.field == occurrence.field
        and other.use.near_index == occurrence.use.near_index
        and other.use.role in (_Role.CONTEXT, _Role.UNLESS)
        and text.near(occurrence, other, near.within)
    ]
    blocker = next((o.use.term for o in neighbours if o.use.role is _Role.UNLESS), None)
    if blocker is not None:
        outcome.blocked.append((occurrence.use.term, blocker))
    elif near.context and not any(o.use.role is _Role.CONTEXT for o in neighbours):
        outcome.without_context.append(occurrence.use.term)
    else:
        outcome.counted.append(occurrence)


def _report(
    counted: list[_Occurrence], texts: Mapping[str, _Text]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Terms, evidence and fields of the counted occurrences. Overlapping occurrences make one
    piece of evidence: "all-solid-state battery", not "all-solid-state", "solid-state battery"."""
    terms = _unique(o.use.term for o in sorted(counted, key=lambda o: o.use.order))
    spans = _spans(counted)
    evidence: dict[str, str] = {}
    for name, start, end in spans:
        snippet = texts[name].snippet(start, end)
        evidence.setdefault(snippet.casefold(), snippet)
    found_in = _unique(name for name, _, _ in spans)
    return terms, tuple(evidence.values())[:MAX_EVIDENCE], found_in


def _spans(occurrences: Iterable[_Occurrence]) -> list[tuple[str, int, int]]:
    """(field, start, end) of the occurrences, overlapping ones merged: one mention each."""
    ordered = sorted(occurrences, key=lambda o: (FIELD_NAMES.index(o.field), o.start))
    spans: list[tuple[str, int, int]] = []
    for occurrence in ordered:
        if spans and spans[-1][0] == occurrence.field and occurrence.start < spans[-1][2]:
            name, start, end = spans[-1]
            spans[-1] = (name, start, max(end, occurrence.end))
        else:
            spans.append((occurrence.field, occurrence.start, occurrence.end))
    return spans


def _reason(rule: Rule, outcome: _Outcome, terms: tuple[str, ...]) -> str:
    if outcome.fired:
        where = f" ({outcome.prominent})" if outcome.prominent else ""
        return "fired on " + _quoted(terms) + where
    parts = []
    if outcome.in_passing:
        parts.append(f"mentioned only in passing ({_quoted(terms)}: {outcome.in_passing})")
    if outcome.vetoed_by:
        parts.append(f"vetoed by none term {_quoted(outcome.vetoed_by)}")
    if (rule.any_terms or rule.near) and not outcome.any_found:
        for term, blocker in dict.fromkeys(outcome.blocked):
            parts.append(f"{_quoted([term])} found but {_quoted([blocker])} near it")
        if outcome.without_context:
            parts.append(f"{_quoted(outcome.without_context)} found but no context term near it")
        if not outcome.blocked and not outcome.without_context:
            parts.append("no any or near term found")
    if outcome.missing_all:
        parts.append(f"missing all term {_quoted(outcome.missing_all)}")
    return "not fired: " + "; ".join(parts)


def _quoted(terms: Iterable[str]) -> str:
    return ", ".join(json.dumps(t, ensure_ascii=False) for t in _unique(terms))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- reading rules files -----------------------------------------------------------------------

_REGEX_LOOK = re.compile(r"[|()\[\]{}\\^$?+]|\.[*+?]|[a-z]{2,}\.[a-z]{2,}")
"""Alternation, groups, classes, escapes, anchors, quantifiers, and a dot joining two
lower-case words ("solid.state"): a regular expression written as a term, which matches
nothing like what was meant. ("E.ON", "U.S." and "Li-ion" are not flagged.)"""

_RULE_KEYS = ("name", "description", "fields", "any", "all", "none", "near", "prominence")
_PROMINENCE_KEYS = ("paragraphs", "mentions")
_NEAR_KEYS = ("term", "terms", "context", "unless", "within")


class _RulesReader:
    """Validates parsed TOML, naming the file and the exact key of every problem."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, key: str | None, message: str) -> NoReturn:
        raise ConfigError(self.path, key, message)

    def read(self, data: Mapping[str, object]) -> list[Rule]:
        self.check_keys(data, "", ("rules",))
        tables = data.get("rules")
        if tables is None:
            self.fail("rules", "missing; expected at least one [[rules]] table")
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail("rules", f"expected an array of tables ([[rules]]), got {_describe(tables)}")
        if not tables:
            self.fail("rules", "expected at least one [[rules]] table")
        rules: list[Rule] = []
        first_seen: dict[str, int] = {}
        for index, table in enumerate(tables):
            rule = self.rule(table, f"rules[{index}]")
            if rule.name in first_seen:
                earlier = first_seen[rule.name]
                self.fail(
                    f"rules[{index}].name",
                    f"duplicate rule name {_describe(rule.name)} (also rules[{earlier}])",
                )
            first_seen[rule.name] = index
            rules.append(rule)
        return rules

    def rule(self, table: Mapping[str, object], key: str) -> Rule:
        self.check_keys(table, key, _RULE_KEYS)
        name = table.get("name")
        if name is None:
            self.fail(f"{key}.name", "missing; expected the rule's name")
        if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
            self.fail(
                f"{key}.name",
                f"expected a name of letters, digits, '-', '_' or '.', got {_describe(name)}",
            )
        description = table.get("description", "")
        if not isinstance(description, str):
            self.fail(f"{key}.description", f"expected a string, got {_describe(description)}")
        rule = Rule(
            name=name,
            description=description.strip(),
            fields=self.fields(table, key),
            any_terms=self.terms(table, key, "any"),
            all_terms=self.terms(table, key, "all"),
            none_terms=self.terms(table, key, "none"),
            near=self.near_terms(table, key),
            prominence=self.prominence(table, key),
        )
        if not (rule.any_terms or rule.all_terms or rule.near):
            self.fail(key, "rule has no terms; expected at least one of any, all, near")
        return rule

    def fields(self, table: Mapping[str, object], key: str) -> tuple[str, ...]:
        if "fields" not in table:
            return FIELD_NAMES
        values = self.strings(table["fields"], f"{key}.fields")
        if not values:
            self.fail(f"{key}.fields", f"expected at least one of {', '.join(FIELD_NAMES)}")
        for position, value in enumerate(values):
            if value not in FIELD_NAMES:
                self.fail(
                    f"{key}.fields[{position}]",
                    f"expected one of {', '.join(FIELD_NAMES)}, got {_describe(value)}",
                )
            if value in values[:position]:
                self.fail(f"{key}.fields[{position}]", f"duplicate field {_describe(value)}")
        return values

    def prominence(self, table: Mapping[str, object], key: str) -> Prominence | None:
        if "prominence" not in table:
            return None
        value = table["prominence"]
        key = f"{key}.prominence"
        if not isinstance(value, dict):
            self.fail(
                key,
                "expected a table ([rules.prominence]) with paragraphs and/or mentions,"
                f" got {_describe(value)}",
            )
        self.check_keys(value, key, _PROMINENCE_KEYS)
        counts: dict[str, int | None] = {}
        for name in _PROMINENCE_KEYS:
            count = value.get(name)
            if count is not None and (
                not isinstance(count, int) or isinstance(count, bool) or count < 1
            ):
                self.fail(f"{key}.{name}", f"expected a positive integer, got {_describe(count)}")
            counts[name] = count
        return Prominence(paragraphs=counts["paragraphs"], mentions=counts["mentions"])

    def near_terms(self, table: Mapping[str, object], key: str) -> tuple[NearTerm, ...]:
        tables = table.get("near", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self.fail(
                f"{key}.near",
                f"expected an array of tables ([[rules.near]]), got {_describe(tables)}",
            )
        return tuple(self.near(t, f"{key}.near[{i}]") for i, t in enumerate(tables))

    def near(self, table: Mapping[str, object], key: str) -> NearTerm:
        self.check_keys(table, key, _NEAR_KEYS)
        if ("term" in table) == ("terms" in table):
            self.fail(key, 'expected exactly one of "term" (a string) or "terms" (an array)')
        if "term" in table:
            term = table["term"]
            if not isinstance(term, str):
                self.fail(f"{key}.term", f"expected a string, got {_describe(term)}")
            self.check_term(term, f"{key}.term")
            terms: tuple[str, ...] = (term,)
        else:
            terms = self.terms(table, key, "terms")
            if not terms:
                self.fail(f"{key}.terms", "expected at least one term")
        within = table.get("within", DEFAULT_WITHIN)
        if not isinstance(within, int) or isinstance(within, bool) or within < 1:
            self.fail(f"{key}.within", f"expected a positive integer, got {_describe(within)}")
        near = NearTerm(
            terms=terms,
            context=self.terms(table, key, "context"),
            unless=self.terms(table, key, "unless"),
            within=within,
        )
        if not near.context and not near.unless:
            self.fail(key, 'expected "context" or "unless" (or both): the terms they qualify')
        return near

    def terms(self, table: Mapping[str, object], key: str, name: str) -> tuple[str, ...]:
        if name not in table:
            return ()
        terms = self.strings(table[name], f"{key}.{name}")
        keys: dict[tuple[str, ...], int] = {}
        for position, term in enumerate(terms):
            self.check_term(term, f"{key}.{name}[{position}]")
            atoms = _term_atoms(term)
            if atoms in keys:
                self.fail(
                    f"{key}.{name}[{position}]",
                    f"{_describe(term)} duplicates {name}[{keys[atoms]}] "
                    f"{_describe(terms[keys[atoms]])} (hyphen, space and plural variants "
                    "are matched automatically)",
                )
            keys[atoms] = position
        return terms

    def check_term(self, term: str, key: str) -> None:
        core = term.strip("*").strip()
        if not core:
            self.fail(key, f"expected a term, got {_describe(term)}")
        if "*" in core:
            self.fail(
                key, f"'*' is only allowed at the start or end of a term, got {_describe(term)}"
            )
        if not any(c.isalnum() for c in core):
            self.fail(key, f"a term needs at least one letter or digit, got {_describe(term)}")
        if _REGEX_LOOK.search(core):
            where = ": ".join(part for part in (str(self.path) if self.path else None, key) if part)
            self.warnings.append(
                f"{where}: {_describe(term)} looks like a regular expression, but terms are"
                " plain words ('.', '|', '(' and the like match nothing special): write each"
                ' variant as a term of its own, e.g. "solid-state battery", "solid-state cell"'
            )

    def strings(self, value: object, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(key, f"expected an array of strings, got {_describe(value)}")
        for position, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{position}]", f"expected a string, got {_describe(item)}")
        return tuple(value)

    def check_keys(self, table: Mapping[str, object], key: str, allowed: Sequence[str]) -> None:
        for name in table:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
                self.fail(
                    f"{key}.{name}" if key else name,
                    f"unknown key; expected one of {', '.join(allowed)}{suggestion}",
                )


def _describe(value: object) -> str:
    """A value as the user wrote it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"
