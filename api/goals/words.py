"""The goals' figures as a manager reads them on the page: Swedish words and one number convention.

Every number on the page is written here, with a decimal comma and a non-breaking space before
"%" (as Swedish writes it, and as the browser's ``Intl.NumberFormat("sv-SE")`` writes the chart
axes), so that the tables, the charts' labels and the targets never mix "1.25" with "1,4".  A
figure always travels with what it is made of ("3 av 4"): 100 % of one placement is not the
success that 100 % of forty is.  A figure with nothing to count (the denominator is 0) says so
in words, never as an empty bar or a 0 that reads as a result.  The CSV keeps the machine
convention (``report.py``).
"""

from __future__ import annotations

from typing import Literal

from .definitions import GoalDefinition
from .report import Indicator

NOTHING = "inget att räkna"
PERCENT = "\u00a0%"  # a non-breaking space: "80 %" never breaks between the number and its sign
Status = Literal["met", "unmet", "none"]


def number(value: float, decimals: int) -> str:
    """``0.125, 1`` → ``"0,1"``-style: rounded, a decimal comma, trailing zeros dropped ("80", not "80,0")."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def scaled(goal: GoalDefinition, value: float | None) -> float | None:
    """The value in the unit the page shows: per cent for a share, the ratio itself for goal 4."""
    if value is None:
        return None
    return round(value * 100, 1) if goal.kind == "share" else round(value, 2)


def value_text(goal: GoalDefinition, value: float | None) -> str:
    if value is None:
        return NOTHING
    if goal.kind == "share":
        return number(value * 100, 1) + PERCENT
    return number(value, 2)


def count_text(goal: GoalDefinition, numerator: int, denominator: int) -> str:
    """What the figure is made of: "3 av 4"; for the ratio to the baseline "12 mot 10"."""
    return f"{numerator} {'av' if goal.kind == 'share' else 'mot'} {denominator}"


def target_text(goal: GoalDefinition) -> str:
    bound = "minst" if goal.direction == "at_least" else "högst"
    if goal.kind == "share":
        return f"{bound} {number(goal.target * 100, 1)}{PERCENT}"
    return f"{bound} {number(goal.target, 2)} gånger basåret"


def better_text(goal: GoalDefinition) -> str:
    return "Högre värde är bättre" if goal.direction == "at_least" else "Lägre värde är bättre"


def status(row: Indicator) -> Status:
    return "none" if row.met is None else ("met" if row.met else "unmet")


STATUS_TEXT: dict[Status, str] = {"met": "når målet", "unmet": "når inte målet", "none": NOTHING}


def area(label: str) -> str:
    """ "Skärholmens stadsdelsförvaltning" → "Skärholmen": eleven long names do not fit under a bar
    (no district's name ends in s, so the genitive s can go)."""
    name = label.removesuffix(" stadsdelsförvaltning")
    return name.removesuffix("s") if name != label else name
