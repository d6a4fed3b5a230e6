"""The one rule for names users give things in the configuration (sources, alert targets).

They end up in the database and in log lines, so they are kept plain: letters, digits,
'.', '_' or '-', starting with a letter or digit.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"expected letters, digits, '.', '_' or '-' (no spaces), got {value!r}")
    return value


Name = Annotated[str, AfterValidator(check_name)]
