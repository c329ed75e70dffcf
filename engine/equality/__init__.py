"""Likställighet: the equality matrix, districts × guaranteed interventions.

Input: the compiled central process and the compiled districts.  Output: an
``EqualityMatrix`` (pydantic, JSON-able; ``to_csv()`` / ``from_csv()``) that
shows, for every district and every guaranteed intervention, which unit
delivers it, and flags where a district departs from the others.

``model.py`` is the document; ``build.py`` builds it from the compiled
processes (``equality_matrix``, ``equality_from_build``); ``derived.py`` what
it flags, with what "differs from the majority" means; ``csv_format.py`` its
CSV; ``changes.py`` what a district's draft changes in its row
(``equality_changes``), for the review of the draft before it goes live;
``terminal.py`` the tables ``brytupp equality`` prints; ``explain.py`` what each flag means, in
Swedish sentences (``cell_remarks``, ``row_remarks``), for the page.
"""

from .build import deadline_tightened, equality_from_build, equality_matrix
from .changes import CELL_ASPECT_LABELS, CellAspect, CellChange, equality_changes
from .explain import Remark, cell_remarks, deadline_sentence, row_remarks
from .model import Cell, CellUnit, Column, DistrictRow, EqualityMatrix, LocalStep, StepNote, TightenedDeadline
from .terminal import equality_tables

__all__ = [
    "CELL_ASPECT_LABELS",
    "Cell",
    "CellAspect",
    "CellChange",
    "CellUnit",
    "Column",
    "DistrictRow",
    "EqualityMatrix",
    "LocalStep",
    "Remark",
    "StepNote",
    "TightenedDeadline",
    "cell_remarks",
    "deadline_sentence",
    "deadline_tightened",
    "equality_changes",
    "equality_from_build",
    "equality_matrix",
    "equality_tables",
    "row_remarks",
]
