"""A case's decision and facts as the caseworker's case page says them: deadlines, lateness and the
reasons for a step in Swedish sentences from the process's own labels, and the facts as form fields
or as text.  Nothing here reads or writes the database; routes/work_pages.py serves the page."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from engine.decide import DeadlineInfo, NextStep, Reason
from engine.schema import EffectiveProcess, FactSpec, parse_duration

# Facts the form edits; dates, lists (the children) and objects are shown as they are and kept as they are.
EDITABLE = ("boolean", "enum", "integer", "set")


def step_view(process: EffectiveProcess, step: NextStep, on: dt.date) -> dict[str, Any]:
    """A next step as the page says it: the deadline and how late it is in words, its reasons as sentences."""
    declared = process.steps.get(step.step)
    return {
        "item": step,
        "child": None if step.child is None else step.child + 1,
        "deadline": deadline_text(step.deadline) if step.deadline else None,
        "timing": timing(step, on),
        "reasons": [reason_view(process, r) for r in step.reasons],
        "outcomes": declared.outcomes if declared else {},
        "waiting_for": [process.steps[s].label if s in process.steps else s for s in step.waiting_for],
        # A fresh key per form: the same form sent twice (a reload) records the step once.
        "key": uuid.uuid4().hex,
    }


def deadline_text(deadline: DeadlineInfo) -> str:
    """``14d`` from ``report_received`` -> "inom 14 dagar från att orosanmälan om barn inkom"."""
    months, days = parse_duration(deadline.within)
    event = deadline.counts_from_label
    # "Orosanmälan …" reads on in the sentence; a name ("SHIS …") keeps its capitals.
    event = event[:1].lower() + event[1:] if event[1:2].islower() else event
    if months == days == 0:
        return f"samma dag som {event}"
    amount = f"{months} {'månad' if months == 1 else 'månader'}" if months else f"{days} {'dag' if days == 1 else 'dagar'}"
    return f"inom {amount} från att {event}"


def timing(step: NextStep, on: dt.date) -> str | None:
    if step.due is None:
        return None
    days = (on - step.due).days
    if step.overdue:
        return f"Försenat {days} {'dag' if days == 1 else 'dagar'}" if days > 0 else "Försenat"
    if days == 0:
        return "Ska göras i dag"
    return f"{-days} {'dag' if days == -1 else 'dagar'} kvar"


def reason_view(process: EffectiveProcess, reason: Reason) -> dict[str, Any]:
    """Why a step is open, as a sentence from the process's own words: the step done before it and the
    transition's Swedish label; the condition as written and the rule's file:line for implementers."""
    condition = None if reason.condition in (None, "otherwise") else reason.condition
    source, _, target = reason.rule.partition("->")
    before = process.steps.get(source)
    transition = before.transitions().get(target) if before else None
    if reason.rule == "start":
        text = "Varje ärende börjar med det här steget."
    elif before is None or transition is None:
        text = f"Regeln {reason.rule} ledde hit."
    else:
        text = f"Efter ”{before.label}”" + (f": {transition.label}" if transition.label else "")
        text += " (inget av de andra villkoren gällde)." if reason.condition == "otherwise" else "."
    return {"text": text, "condition": condition, "source": reason.source, "district": reason.origin == "district"}


def fact_fields(vocabulary: dict[str, FactSpec], facts: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The facts form's fields (booleans, enums, integers, sets) with their current values, and the
    facts it shows but does not edit.  The district is the case's own and not shown."""
    editable, shown = [], []
    for name, spec in vocabulary.items():
        if name == "district":
            continue
        value = facts.get(name)
        if spec.type in EDITABLE:
            editable.append({"name": name, "spec": spec, "value": value})
        elif value is not None:
            shown.append({"label": spec.label, "text": fact_text(spec, value)})
    return editable, shown


def fact_text(spec: FactSpec, value: Any) -> str:
    if spec.type == "boolean":
        return "ja" if value else "nej"
    if spec.type == "set" and isinstance(value, list):
        return ", ".join(str(v) for v in value) or "inga"
    if spec.type == "object" and isinstance(value, dict) and spec.fields:
        return _fields_text(spec.fields, value)
    if spec.type == "list" and isinstance(value, list) and spec.fields:
        fields = spec.fields
        items = [f"{n}. {_fields_text(fields, item)}" for n, item in enumerate(value, 1) if isinstance(item, dict)]
        return " · ".join(items) or "–"
    return str(value)


def _fields_text(fields: dict[str, FactSpec], value: dict[str, Any]) -> str:
    return "; ".join(f"{fields[k].label}: {fact_text(fields[k], v)}" for k, v in value.items() if k in fields) or "–"
