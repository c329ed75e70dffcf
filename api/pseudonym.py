"""Refuse anything that looks like a Swedish personal identity number.

A client is a pseudonymous reference.  A personnummer or samordningsnummer
typed by mistake (into the reference, a fact or an event) must not be stored,
so every string the service receives is checked: ten or twelve digits, with or
without the separator, whose date part is a possible date (a
samordningsnummer adds 60 to the day).  The Luhn check digit is deliberately
not required: a mistyped number is still personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_PIN = re.compile(r"(?<!\d)(?:(?:19|20)?(\d{2}))(\d{2})(\d{2})[-+ ]?\d{4}(?!\d)")

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$"
# Ids of districts, steps, units, reasons: what the process files declare.  Errors may name
# an unknown id back to the caller ("did you mean"); this shape keeps free text out of them.
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


def looks_like_pin(text: str) -> bool:
    for match in _PIN.finditer(text):
        month, day = int(match.group(2)), int(match.group(3))
        if 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91):
            return True
    return False


def pin_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The paths of every string (key or value) in ``value`` that looks like one."""
    if isinstance(value, str):
        if looks_like_pin(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and looks_like_pin(key):
                yield (*path, key)
            yield from pin_paths(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from pin_paths(item, (*path, index))


MESSAGE = (
    "looks like a personal identity number (personnummer or samordningsnummer); "
    "clients are recorded under a pseudonymous reference only"
)
