"""Refuse anything that looks like a Swedish personal identity number.

A client is a pseudonymous reference.  A personnummer or samordningsnummer
typed by mistake (into the reference, a fact, an event, a header) must not be
stored, so every string, number and key the service receives is checked: ten
or twelve digits whose date part is a possible date (a samordningsnummer adds
60 to the day).  The Luhn check digit is deliberately not required: a mistyped
number is still personal data.

Text is normalised first (NFKC, format characters such as zero-width spaces and
soft hyphens dropped, every dash and space made plain), so that a number pasted
from a word processor or typed with full-width digits is still seen.  Digits may
be split by separators (``-+ ._:/``, up to three in a row) anywhere: the check
reads runs of digit groups and tries every stretch of whole groups that holds
ten or twelve digits.  Shapes that are certainly something else are set aside
first, because their digits would otherwise read as a date and four more: ISO
dates and timestamps (``2025-03-12T10:05:30.123456``), UUIDs (case ids) and,
in headers, IPv4 addresses with a port.  A date alone is eight digits and never
matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$"
# Ids of districts, steps, units, reasons: what the process files declare.  Errors may name
# an unknown id back to the caller ("did you mean"); this shape keeps free text out of them.
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

_SEP = r"[-+ ._:/]"
_RUN = re.compile(rf"\d+(?:{_SEP}{{1,3}}\d+)*")
# Not glued to more digits, directly or across separators.
_BEFORE = rf"(?<!\d)(?<!\d{_SEP})(?<!\d{_SEP}{{2}})(?<!\d{_SEP}{{3}})"
_AFTER = rf"(?!\d)(?!{_SEP}{{1,3}}\d)"
_DATE = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_NOT_A_PIN = [
    re.compile(rf"{_BEFORE}{_DATE}(?:[T ]{_TIME}{_ZONE}?)?(?![\d.,:])(?!{_SEP}{{1,3}}\d)", re.ASCII),
    re.compile(rf"{_BEFORE}(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:[.,]\d{{1,9}})?{_ZONE}?{_AFTER}", re.ASCII),
    re.compile(r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])"),
]
_ADDRESS = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?::\d{{1,5}})?(?![\d.])", re.ASCII)
_DASHES = {"\u2212", "\u2043", "\ufe63", "\uff0d"}


def normalise(text: str) -> str:
    """The text as the check reads it: NFKC, no format characters, ASCII digits, plain dashes and spaces."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        if category == "Nd":
            out.append(str(unicodedata.digit(char)))
        elif category == "Pd" or char in _DASHES:
            out.append("-")
        elif category in ("Zs", "Zl", "Zp") or char in "\t\r\n\v\f":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _possible(digits: str) -> bool:
    if len(digits) == 12:
        if digits[:2] not in ("19", "20"):
            return False
        digits = digits[2:]
    elif len(digits) != 10:
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def looks_like_pin(text: str, *, addresses: bool = False) -> bool:
    """``addresses``: also set IPv4 addresses aside (header values such as Host, X-Forwarded-For)."""
    text = normalise(text)
    for shape in _NOT_A_PIN + ([_ADDRESS] if addresses else []):
        text = shape.sub("x", text)
    for run in _RUN.finditer(text):
        groups = re.findall(r"\d+", run.group())
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > 12:
                    break
                if _possible(digits):
                    return True
    return False


def number_looks_like_pin(value: int | float) -> bool:
    """A JSON number: ``198503121234`` is the same number written without quotes."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return False
        if value.is_integer():
            value = int(value)
    return looks_like_pin(str(abs(value)))


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, if it cannot."""
    # JSON may escape a lone UTF-16 half ("\ud800") or NUL: Python keeps both, but no UTF-8
    # encoder takes the one and PostgreSQL's text and jsonb refuse the other.
    if "\x00" in text:
        return NUL
    if any("\ud800" <= char <= "\udfff" for char in text):
        return SURROGATE
    return None


Path = tuple[str | int, ...]


def safe_key(key: str) -> bool:
    # A key that is a field name may be named back; any other key is submitted text.
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key) is not None


def problems(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """``(path, message)`` for each string, number or key in ``value`` that looks like a personal identity
    number or is not valid Unicode.  The path stops at the containing object where a key is the
    problem or is not a plain field name, so that it never repeats submitted text."""
    if isinstance(value, str):
        wrong = text_problem(value) or (MESSAGE if looks_like_pin(value) else None)
        if wrong:
            yield path, wrong
    elif isinstance(value, int | float):
        if number_looks_like_pin(value):
            yield path, MESSAGE
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            wrong = text_problem(key) or (MESSAGE if looks_like_pin(key) else None)
            if wrong:
                yield path, wrong
            else:
                yield from problems(item, (*path, key) if safe_key(key) else path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from problems(item, (*path, index))


MESSAGE = (
    "looks like a personal identity number (personnummer or samordningsnummer); "
    "clients are recorded under a pseudonymous reference only"
)
SURROGATE = "is not valid Unicode text (a lone UTF-16 surrogate); send UTF-8 text"
NUL = "contains a NUL character, which text may not hold"
