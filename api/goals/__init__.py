"""The five effect goals (DOMAIN.md §4), per district and for the city, per year.

``definitions.py`` says what each goal counts and holds the open choices in
that (``GoalSettings``); ``queries.py`` counts them in the database, and says
what it leaves uncounted of what is stored; ``report.py`` makes the report of
the counts (``goals_report``, ``GoalsReport`` and its CSV); ``terminal.py``
prints it for ``brytupp goals``; ``words.py`` writes its figures in Swedish for
the page (routes/goal_pages.py).
"""

from .definitions import GoalDefinition, GoalSettings, client_units, definitions, units_by_district
from .queries import MAX_CONTRACT_MONTHS
from .report import GoalsReport, Indicator, goals_report, report_for, year_range
from .terminal import rich_tables

__all__ = [
    "MAX_CONTRACT_MONTHS",
    "GoalDefinition",
    "GoalSettings",
    "GoalsReport",
    "Indicator",
    "client_units",
    "definitions",
    "goals_report",
    "report_for",
    "rich_tables",
    "units_by_district",
    "year_range",
]
