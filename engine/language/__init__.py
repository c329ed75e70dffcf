"""The condition and fact language: what a ``when:`` may say, and what a fact may hold.

Every part of the language has one home here:

* ``nodes``: the condition tree (``Name``, ``Literal``, ``Compare``, ``Not``,
  ``BoolOp``, ``Quantifier``, ``Otherwise``) and ``Visitor``, one abstract method
  per node.  Every backend below is a ``Visitor``, so a new node is a type error
  in each of them until it is handled.
* ``parse``: the text of a condition into the tree (the grammar is there).
* ``facttypes``: one class per fact type (boolean, integer, enum, set, date,
  object, list), owning the keys its declaration needs, its normalisation and
  the generated normaliser's lines, how conditions may use it, its cases for
  the branch checks, its range or length, its durable-rules shape and its
  sample values.  ``schema.FactSpec``
  declares a fact; the class of its ``type`` says what that means.
* The backends:
  ``check`` types a condition against the declared facts (at load time);
  ``evaluate`` computes it over a client's facts (the oracle every other
  backend must agree with);
  ``durable`` translates it to durable-rules' JSON and flattens facts for it;
  ``python`` writes it as Python source (the BPMN export);
  ``domains`` finds the finitely many cases a gateway's conditions distinguish
  (the branch checks of ``validate``).

``case.normalize_facts`` and its generated fast twin ``case.fact_normalizer``
drive the fact types over a whole vocabulary.  ``tests/engine/test_language.py``
runs every node type and every fact type through every backend.
"""

from ..errors import ConditionSyntaxError, RulesError
from .check import CHILDREN, check_condition, children_fields, fact_spec
from .domains import Domains, evaluate_case
from .durable import Translator, combine, flatten_facts, rule_fields
from .evaluate import compare_values, evaluate, lookup
from .facttypes import FACT_TYPES, FactType, example_facts, fact_type, json_value
from .nodes import NODES, BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor, literal_text
from .parse import parse_condition
from .python import python_source

__all__ = [
    "CHILDREN",
    "FACT_TYPES",
    "NODES",
    "BoolOp",
    "Compare",
    "ConditionSyntaxError",
    "Domains",
    "Expr",
    "FactType",
    "Literal",
    "Name",
    "Not",
    "Otherwise",
    "Quantifier",
    "RulesError",
    "Translator",
    "Visitor",
    "check_condition",
    "children_fields",
    "combine",
    "compare_values",
    "evaluate",
    "evaluate_case",
    "example_facts",
    "fact_spec",
    "fact_type",
    "flatten_facts",
    "json_value",
    "literal_text",
    "lookup",
    "parse_condition",
    "python_source",
    "rule_fields",
]
