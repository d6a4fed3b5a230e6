"""Write stored rows as CSV, JSON Lines or JSON, one row at a time.

The writers never hold more than the row in hand, so with Store.iter_rows an export of
a million rows takes as little memory as one of ten. JSON is written as an array whose
elements are streamed out one by one.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TextIO

ExportFormat = Literal["csv", "jsonl", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl", "json")


def write_rows(
    rows: Iterable[Mapping[str, Any]],
    out: TextIO,
    *,
    fmt: ExportFormat,
    columns: Sequence[str],
) -> int:
    """Write `rows` to `out` (opened with newline="" for CSV); returns how many.

    `columns` gives the CSV header, written even when there are no rows; JSON keeps
    each row's own keys.
    """
    if fmt == "csv":
        return _write_csv(rows, out, columns)
    if fmt == "jsonl":
        return _write_jsonl(rows, out)
    return _write_json_array(rows, out)


def _write_csv(rows: Iterable[Mapping[str, Any]], out: TextIO, columns: Sequence[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _json(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)


def _write_jsonl(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(_json(row) + "\n")
        count += 1
    return count


def _write_json_array(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(("[\n" if count == 0 else ",\n") + _json(row))
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count
