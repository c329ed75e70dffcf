"""Matching: which of a compiled process's conditions hold for one client's facts.

Stage: part of deciding.  Input: a ``CompiledProcess`` and normalized facts.
Output: the set of ``(rule_id, child)`` that hold, ``child`` being the child's
index for conditions evaluated per child, else None.

Every transition condition (``source->target``) and every ``for_each_when``
(``step:for_each_when``) is one rule.  Two matchers implement the same
interface:

* ``DurableMatcher`` compiles the rules into a durable-rules ruleset (plain
  JSON dicts, see ``ruleset_definition``) registered under a name holding the
  process version, on a private host that never starts durable-rules'
  background threads (they crash under concurrent posting and lose results);
  every evaluation uses a fresh session that is deleted afterwards.  Rules
  that share a condition (``'financial' in needs`` leads on from four steps)
  are one durable-rules rule, asked once.
* ``PythonMatcher`` evaluates the same conditions with ``language.evaluate``;
  it is the test oracle the durable-rules matcher is checked against.

Each child is one more fact, holding only what the per-child rules read: never
a list, since the case's list of children in every child's fact made a
decision's cost grow with the square of the children.  A quantifier such as
``any(children, …)`` in a per-child rule is therefore worked out in Python once
per case, as ``count(…, body)`` always is, and sent as a plain field.

Nothing is kept of the facts matched: every call asks durable-rules.  What is
kept is per process version: its rules (``CompiledProcess.tables``) and, per
``DurableMatcher``, its registered ruleset.

durable-rules quirks this module works around (2.0.28, measured): a rule made
only of a negative test (``$nex``) never returns, so every rule is anchored on
the fact's ``ctx``; a nested path whose parent is missing never returns, so
facts are flattened (``protected_housing__placed``); ``$iall`` over an empty
list is false, so ``all()`` also tests the list's count; a batch in which one
fact matches no rule raises ``MessageNotHandledException`` and drops the other
facts' actions, so a catch-all rule handles every fact.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Hashable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

import durable_rules_engine
from durable.engine import Host, MessageNotHandledException

from .cache import LruCache
from .compile import CompiledProcess
from .language import CHILDREN, Expr, Otherwise, RulesError, Translator, evaluate, rule_fields
from .language import json_value as _json_value
from .language.durable import Flattener

Hit = tuple[str, int | None]


@dataclass(frozen=True)
class Rule:
    id: str
    expr: Expr
    per_child: bool


def transition_rule(source: str, target: str) -> str:
    """The rule id of a transition, as reasons and hits name it."""
    return f"{source}->{target}"


def rules_of(compiled: CompiledProcess) -> list[Rule]:
    """One rule per condition that is not ``otherwise``, in file order."""
    out: list[Rule] = []
    for step_id, step in compiled.process.steps.items():
        per_child = step.for_each == "child"
        if step.for_each_when is not None:
            out.append(Rule(f"{step_id}:for_each_when", step.for_each_when.ast, True))  # type: ignore[attr-defined]
        for target, _, condition in compiled.outgoing(step_id):
            if condition is not None and not isinstance(condition, Otherwise):
                out.append(Rule(transition_rule(step_id, target), condition, per_child))
    return out


class Matcher(Protocol):
    def match(self, compiled: CompiledProcess, facts: Mapping[str, Any]) -> AbstractSet[Hit]: ...


class PythonMatcher:
    """The plain-Python evaluator: the oracle."""

    def match(self, compiled: CompiledProcess, facts: Mapping[str, Any]) -> set[Hit]:
        children = facts.get(CHILDREN) or []
        hits: set[Hit] = set()
        for rule in compiled.tables.rules:
            if rule.per_child:
                hits.update((rule.id, i) for i, child in enumerate(children) if evaluate(rule.expr, facts, child=child))
            elif evaluate(rule.expr, facts):
                hits.add((rule.id, None))
        return hits


# --- durable-rules -----------------------------------------------------------------


class _SyncHost(Host):  # type: ignore[misc]
    """A host without durable-rules' dispatch and timer threads: evaluation is synchronous."""

    def _run(self) -> None:
        return None


@dataclass(frozen=True)
class CompiledRules:
    name: str
    definition: dict[str, Any]  # the JSON rule form, actions left out
    derived: dict[str, Expr]
    never: frozenset[str]  # rules whose condition can never hold
    always: tuple[Rule, ...]  # rules whose condition always holds
    # The fact fields the rules read, of the case's fact and of each child's: nothing else is
    # sent.  No list is read of a child's fact (see language.durable's Translator.visit_quantifier), so a child's
    # fact stays the same size however many children the case has.
    fields: frozenset[str]
    child_fields: frozenset[str]


def ruleset_definition(compiled: CompiledProcess) -> CompiledRules:
    """The durable-rules ruleset of a compiled process, as plain JSON-able dicts."""
    derived: dict[str, Expr] = {}
    translate = Translator(derived)
    definition: dict[str, Any] = {}
    never: set[str] = set()
    always: list[Rule] = []
    reads: dict[str, set[str]] = {"case": {"ctx"}, "child": {"ctx"}}
    for n, rule in enumerate(rules_of(compiled)):
        translate.per_child = rule.per_child
        expr = translate(rule.expr)
        if expr is False:
            never.add(rule.id)
            continue
        if expr is True:
            always.append(rule)
            continue
        ctx = "child" if rule.per_child else "case"
        definition[f"r{n}"] = {"all": [{"m": {"$and": [{"ctx": ctx}, expr]}}], "rule": rule.id}
        rule_fields(expr, reads[ctx])
    definition["seen_case"] = {"all": [{"m": {"ctx": "case"}}], "rule": None}
    definition["seen_child"] = {"all": [{"m": {"ctx": "child"}}], "rule": None}
    name = f"brytupp_{compiled.name}_{compiled.version}"
    fields, child_fields = frozenset(reads["case"]), frozenset(reads["child"])
    return CompiledRules(name, definition, derived, frozenset(never), tuple(always), fields, child_fields)


def _no_action(c: Any) -> None:
    return None


# An action message is one rule's match, ``{"r12": {"m": {…the fact…}}}``: about 1 KB of
# JSON, a dozen per evaluation, and decoding them whole was a third of its time.  Only the
# rule's name and the child the fact is about are read.  ``"_ci":`` can only be the key
# this module adds to a child's fact: fact names are ids (``[a-z][a-z0-9_]*``), list
# elements carry only their declared fields, and inside a JSON string a quote is escaped.
_RULE = re.compile(r'\{\s*"([^"]+)"')
_CHILD = re.compile(r'"_ci"\s*:\s*(\d+)')
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # no spaces: less for durable-rules to read


def _matches(handle: Any, batch: list[dict[str, Any]]) -> Iterator[tuple[str, int | None]]:
    """Assert the facts and yield ``(rule name, child index or None)`` for every match.

    This is durable-rules' own action loop (``Ruleset.do_actions``, which also reads only
    the first rule of a message) without its per-action closures and state round trips:
    the actions here only record which rule matched, so there is no state to write back.
    """
    code, state_handle = durable_rules_engine.assert_facts(handle, _JSON(batch))[:2]
    if code == 1:
        raise MessageNotHandledException(batch)
    started = durable_rules_engine.start_action_for_state(handle, state_handle)
    message = started[1] if started else None
    while message:
        rule = _RULE.match(message)
        if rule is None:
            raise RulesError(f"durable-rules sent an action message this module cannot read: {message[:80]}")
        at = message.rfind('"_ci"')  # a child's fact ends with it; a regex would scan every message whole
        child = _CHILD.match(message, at) if at >= 0 else None
        yield rule.group(1), int(child.group(1)) if child else None
        message = durable_rules_engine.complete_and_start_action(handle, state_handle)


_DICT = object()  # marks a frozen mapping, so that it never equals a frozen list
_NESTED = (dict, list)


def _frozen(value: Any) -> Hashable:
    kind = type(value)
    if kind is dict:
        return (_DICT, *[(k, v if type(v) not in _NESTED else _frozen(v)) for k, v in value.items()])
    if kind is list:
        return tuple([_frozen(v) for v in value])
    scalar: Hashable = value  # scalars, dates and frozensets, as normalized facts hold them
    return scalar


def facts_key(facts: Mapping[str, Any]) -> Hashable:
    """A hashable form of normalized facts, equal for equal facts.

    Normalized facts give each fact one type (the vocabulary's), so scalars are
    compared as they are: ``True == 1`` cannot mix up two facts' values.
    """
    # Keys then values, one flat tuple: n keys and n values can only be read one way.
    return (*facts, *[v if type(v) not in _NESTED else _frozen(v) for v in facts.values()])


@dataclass(frozen=True)
class _Version:
    """One process version's ruleset as registered, and what sending it facts needs."""

    host: _SyncHost  # its own: a host cannot drop a ruleset, but letting the host go drops it
    handle: Any  # the ruleset's handle in durable-rules' engine
    rules: CompiledRules
    ids: Mapping[str, tuple[str, ...]]  # durable-rules' rule -> the rules with its condition
    flatten: Flattener  # of the facts some rule reads: nothing else is flattened
    case_hits: Mapping[str, tuple[Hit, ...]]  # durable-rules' rule -> its hits on the case's fact, made once

    def batch(self, facts: Mapping[str, Any], sid: str) -> list[dict[str, Any]]:
        """The case's fact and one per child, each with only the fields the rules read of it:
        every fact is JSON-encoded in, and back out with every match."""
        rules = self.rules
        flat = self.flatten(facts)
        for key, expr in rules.derived.items():
            flat[key] = evaluate(expr, facts)
        batch = [{**{k: v for k, v in flat.items() if k in rules.fields}, "id": "case", "sid": sid, "ctx": "case"}]
        read = rules.child_fields
        shared = {k: v for k, v in flat.items() if k in read}
        for i, child in enumerate(facts.get(CHILDREN) or []):
            own = {f"child__{k}": _json_value(v) for k, v in child.items() if v is not None and f"child__{k}" in read}
            batch.append({**shared, **own, "id": f"c{i}", "sid": sid, "ctx": "child", "_ci": i})
        return batch


def _register(compiled: CompiledProcess) -> _Version:
    rules = ruleset_definition(compiled)
    first: dict[str, str] = {}  # a condition, as JSON -> the durable-rules rule asking it
    ids: dict[str, list[str]] = {}
    definition: dict[str, Any] = {}
    for rule_name, rule in rules.definition.items():
        asked = first.setdefault(json.dumps(rule["all"], sort_keys=True), rule_name)
        if asked == rule_name:
            # durable-rules wants an action per rule; _matches reads the matches itself.
            definition[rule_name] = {"all": rule["all"], "run": _no_action}
        if rule["rule"] is not None:  # not a catch-all
            ids.setdefault(asked, []).append(rule["rule"])
    host = _SyncHost()
    try:
        host.register_rulesets({rules.name: definition})
    except Exception as exc:  # durable-rules raises bare Exceptions
        raise RulesError(f"durable-rules refused ruleset {rules.name}: {exc}") from exc
    read = rules.fields | rules.child_fields
    vocabulary = {n: spec for n, spec in compiled.process.facts.items() if any(f == n or f.startswith(n + "__") for f in read)}
    handle = host.get_ruleset(rules.name)._handle
    case_hits = {name: tuple((rule_id, None) for rule_id in rule_ids) for name, rule_ids in ids.items()}
    flatten = Flattener(vocabulary)
    return _Version(host, handle, rules, {name: tuple(rule_ids) for name, rule_ids in ids.items()}, flatten, case_hits)


class DurableMatcher:
    """durable-rules does the matching, synchronously, on private hosts."""

    def __init__(self, max_versions: int = 64) -> None:
        self._lock = threading.Lock()  # one evaluation at a time in durable-rules' engine
        self._versions: LruCache[tuple[str, str], _Version] = LruCache(max_versions)
        self._sid = itertools.count(1)

    def _version(self, compiled: CompiledProcess) -> _Version:
        key = (compiled.name, compiled.version)
        found = self._versions.get(key)
        return found if found is not None else self._versions.put(key, _register(compiled))

    def match(self, compiled: CompiledProcess, facts: Mapping[str, Any]) -> frozenset[Hit]:
        hits: set[Hit] = set()
        with self._lock:
            version = self._version(compiled)
            sid = str(next(self._sid))
            try:
                for name, child in _matches(version.handle, version.batch(facts, sid)):
                    if child is None:
                        hits.update(version.case_hits.get(name, ()))
                    else:
                        hits.update([(rule_id, child) for rule_id in version.ids.get(name, ())])
            except MessageNotHandledException as exc:
                raise RulesError("durable-rules handled no fact; the catch-all rule is missing") from exc
            except RulesError:
                raise
            except Exception as exc:
                raise RulesError(f"durable-rules failed: {exc}") from exc
            finally:
                durable_rules_engine.delete_state(version.handle, sid)
        for rule in version.rules.always:
            if rule.per_child:
                hits.update((rule.id, i) for i in range(len(facts.get(CHILDREN) or [])))
            else:
                hits.add((rule.id, None))
        return frozenset(hits)
