"""Moved to ``engine.language``: the names of the facts vocabulary's old home, while importers move."""

from .language import CHILDREN, check_condition, children_fields, fact_spec

__all__ = ["CHILDREN", "check_condition", "children_fields", "fact_spec"]
