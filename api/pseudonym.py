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
in headers, IPv4 addresses with a port and opaque hex ids.  A date alone is eight
digits and never matches.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator
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
# Trace and idempotency ids are random hex: a run of 16 or more with a letter in it, or the W3C traceparent
# (which may have an all-digit part).  About one in 200 holds ten digits in a row that read as a date, and
# would then refuse an ordinary request.  Setting them aside lets a number through only when it is glued to
# hex letters, which no one types by mistake; the guard stops a caseworker's slip, not an insider, who could
# encode a number in any of a hundred ways anyway.
_OPAQUE = [
    re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?![0-9A-Za-z])"),
    re.compile(r"(?<![0-9A-Za-z])(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{16,}(?![0-9A-Za-z])"),
]
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


def looks_like_pin(text: str, *, addresses: bool = False, header: bool = False) -> bool:
    """``addresses``: also set IPv4 addresses aside (such as Host, X-Forwarded-For); ``header``: a header
    value, where addresses and opaque hex ids (traceparent, Idempotency-Key) are set aside."""
    text = normalise(text)
    for shape in _NOT_A_PIN + ([_ADDRESS] if addresses or header else []) + (_OPAQUE if header else []):
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
# JSON as the guard reads it: "facts" nest a few levels (a list of children, each an object); a bound keeps
# every reader of the body, recursive or not, far from the interpreter's recursion limit.
MAX_DEPTH = 32
DEPTH_MESSAGE = f"nests objects and lists deeper than {MAX_DEPTH} levels, which no request of this API does"
_NAMEABLE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


class Pairs(list[tuple[str, Any]]):
    """A JSON object with every key it was sent with: FastAPI keeps the last of duplicate keys, and no
    earlier one may hide a number from the check."""


def json_pairs(text: str | bytes) -> Any:
    """``text`` parsed as JSON with objects as ``Pairs``; raises ``ValueError`` (not JSON) or ``RecursionError``."""
    return json.loads(text, object_pairs_hook=Pairs)


def safe_key(key: str, declared: Collection[str]) -> bool:
    """Whether an error may name ``key``: a key the client chose is submitted text (a name, say), so only
    a name the API itself declares (a field, a fact, a parameter, a header it reads) is named back."""
    return key in declared and _NAMEABLE.fullmatch(key) is not None


def safe_loc(path: Iterable[str | int], declared: Collection[str]) -> list[str | int]:
    """``path`` up to the first key that may not be named: the location is then the object holding it."""
    loc: list[str | int] = []
    for part in path:
        if not isinstance(part, int) and not safe_key(part, declared):
            break
        loc.append(part)
    return loc


def _items(value: Any) -> list[tuple[str | int, Any]] | None:
    if isinstance(value, dict):
        return [(str(key), item) for key, item in value.items()]
    if isinstance(value, Pairs):
        return [(str(key), item) for key, item in value]
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    return None


def too_deep(value: Any) -> Path | None:
    """The path of the first object or list nested deeper than ``MAX_DEPTH``, if any (without recursion)."""
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        children = _items(item)
        if children is None:
            continue
        if len(path) >= MAX_DEPTH:
            return path
        stack.extend((child, (*path, key)) for key, child in children)
    return None


def problems(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """``(path, message)`` for each string, number or key in ``value`` that looks like a personal identity
    number or is not valid Unicode.  Where a key is the problem the path is that of its object.  The path
    holds the keys as sent: pass it through ``safe_loc`` before it goes into an answer.  No recursion, so
    any depth is safe; the guard bounds depth anyway."""
    # A pending entry is a value to read, or (``wrong`` set) a key already found wrong, in the order sent.
    stack: list[tuple[Any, Path, str | None]] = [(value, path, None)]
    while stack:
        item, where, wrong = stack.pop()
        if wrong is not None:
            yield where, wrong
        elif isinstance(item, str):
            wrong = text_problem(item) or (MESSAGE if looks_like_pin(item) else None)
            if wrong:
                yield where, wrong
        elif isinstance(item, int | float):
            if number_looks_like_pin(item):
                yield where, MESSAGE
        elif (children := _items(item)) is not None:
            keyed = isinstance(item, dict | Pairs)
            pending: list[tuple[Any, Path, str | None]] = []
            for key, child in children:
                bad = text_problem(key) or (MESSAGE if looks_like_pin(key) else None) if keyed and isinstance(key, str) else None
                pending.append((None, where, bad) if bad else (child, (*where, key), None))
            stack.extend(reversed(pending))


MESSAGE = (
    "looks like a personal identity number (personnummer or samordningsnummer); "
    "clients are recorded under a pseudonymous reference only"
)
SURROGATE = "is not valid Unicode text (a lone UTF-16 surrogate); send UTF-8 text"
NUL = "contains a NUL character, which text may not hold"
