"""Score keyword rules on labeled examples: precision, recall and F1 per rule, with the reason
the rule gave for each false alarm and each miss.

A labeled file is JSON Lines, one item a line::

    {"id": "fr-012", "title": "...", "body": "...", "expected": {"solid-state-battery": true}}

Text fields are those rules look at (``title``, ``body``, ``ticker``) and ``lead``, a summary
or first paragraph, which is read as the start of the body. ``expected`` gives the verdict per
rule; a rule an item does not mention is not scored on it. ``id``, ``kind``, ``lang``, ``note``
and ``url`` are kept for the report and otherwise ignored. Pure functions over parsed data;
reading the file is `read_labeled`, the only I/O here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newswatch.errors import ConfigError
from newswatch.rules import RuleSet

TEXT_KEYS = ("title", "lead", "body", "ticker")
META_KEYS = ("id", "kind", "lang", "note", "url")
_KEYS = (*TEXT_KEYS, "expected", *META_KEYS)


@dataclass(frozen=True)
class LabeledItem:
    """One example: the fields rules see and the verdict expected of each named rule."""

    line: int
    id: str
    fields: dict[str, str]
    expected: dict[str, bool]
    kind: str = ""

    def label(self) -> str:
        """How the report names the item: its id and the start of its text."""
        text = self.fields.get("title") or self.fields.get("ticker") or self.fields.get("body", "")
        text = " ".join(text.split())
        return f"{self.id}: {text[:90]}{'…' if len(text) > 90 else ''}"


@dataclass(frozen=True)
class Verdict:
    """A labeled item the rule got wrong, with the reason the rule gave."""

    item: LabeledItem
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.item.id,
            "line": self.item.line,
            "kind": self.item.kind,
            "text": self.item.label().partition(": ")[2],
            "reason": self.reason,
        }


@dataclass
class RuleScore:
    """How one rule did on the items that name it."""

    rule: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    true_negatives: int = 0
    false_alarms: list[Verdict] = field(default_factory=list)
    misses: list[Verdict] = field(default_factory=list)

    @property
    def labeled(self) -> int:
        return (
            self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
        )

    @property
    def precision(self) -> float:
        """Share of the items it fired on that it should have; 1 when it fired on none."""
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else 1.0

    @property
    def recall(self) -> float:
        """Share of the items it should have fired on that it did; 1 when there were none."""
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "labeled": self.labeled,
            "positives": self.true_positives + self.false_negatives,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "false_alarms": [v.to_dict() for v in self.false_alarms],
            "misses": [v.to_dict() for v in self.misses],
        }


def evaluate(rules: RuleSet, items: Iterable[LabeledItem]) -> list[RuleScore]:
    """A score for every rule that some item names, in the rules file's order."""
    scores = {rule.name: RuleScore(rule.name) for rule in rules.rules}
    named: set[str] = set()
    for item in items:
        explanations = rules.explain(item.fields)
        for name, expected in item.expected.items():
            named.add(name)
            score = scores[name]
            explanation = explanations[name]
            if explanation.fired and expected:
                score.true_positives += 1
            elif explanation.fired:
                score.false_positives += 1
                score.false_alarms.append(Verdict(item, explanation.reason))
            elif expected:
                score.false_negatives += 1
                score.misses.append(Verdict(item, explanation.reason))
            else:
                score.true_negatives += 1
    return [score for name, score in scores.items() if name in named]


def below(scores: Sequence[RuleScore], threshold: float) -> list[str]:
    """What falls short of `threshold`: "RULE precision 0.950", one per rule and measure."""
    shortfalls = []
    for score in scores:
        for measure in ("precision", "recall"):
            value: float = getattr(score, measure)
            if value < threshold:
                shortfalls.append(f"{score.rule} {measure} {value:.3f}")
    return shortfalls


def read_labeled(path: Path, rule_names: Sequence[str]) -> list[LabeledItem]:
    """The items of a labeled JSON Lines file; every problem is a ConfigError naming the file,
    the line and the key."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(path, f"line {number}", f"not JSON: {exc.msg}") from exc
        items.append(labeled_item(record, rule_names, path=path, line=number))
    if not items:
        raise ConfigError(path, None, "no labeled items (expected one JSON object a line)")
    return items


def labeled_item(
    record: object, rule_names: Sequence[str], *, path: Path | None = None, line: int = 0
) -> LabeledItem:
    """Validate one parsed line."""
    where = f"line {line}"

    def fail(key: str | None, message: str) -> ConfigError:
        return ConfigError(path, f"{where}: {key}" if key else where, message)

    if not isinstance(record, dict):
        raise fail(None, "expected a JSON object")
    for key in record:
        if key not in _KEYS:
            hint = difflib.get_close_matches(key, _KEYS, n=1)
            suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise fail(key, f"unknown key; expected some of {', '.join(_KEYS)}{suggestion}")
    fields = item_fields(record, fail)
    expected = record.get("expected")
    if not isinstance(expected, dict) or not expected:
        raise fail("expected", 'expected an object of verdicts, e.g. {"RULE": true}')
    for name, verdict in expected.items():
        if name not in rule_names:
            hint = difflib.get_close_matches(name, rule_names, n=1)
            suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise fail(f"expected.{name}", f"no rule of that name in the rules{suggestion}")
        if not isinstance(verdict, bool):
            raise fail(f"expected.{name}", f"expected true or false, got {json.dumps(verdict)}")
    meta = {key: record.get(key) for key in META_KEYS}
    for key, value in meta.items():
        if value is not None and not isinstance(value, str):
            raise fail(key, f"expected a string, got {json.dumps(value)}")
    return LabeledItem(
        line=line,
        id=meta["id"] or f"line {line}",
        fields=fields,
        expected=dict(expected),
        kind=meta["kind"] or "",
    )


def item_fields(
    record: Mapping[str, object], fail: Callable[[str | None, str], ConfigError]
) -> dict[str, str]:
    """The rule fields of an item given as JSON: title, body (a lead first), ticker."""
    values: dict[str, str] = {}
    for key in TEXT_KEYS:
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise fail(key, f"expected a string, got {json.dumps(value)}")
        if value.strip():
            values[key] = value
    if not values:
        raise fail(None, f"no text: expected some of {', '.join(TEXT_KEYS)}")
    lead = values.pop("lead", "")
    if lead:
        values["body"] = f"{lead}\n\n{values['body']}" if "body" in values else lead
    return values
