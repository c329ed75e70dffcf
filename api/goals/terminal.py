"""The effect goals' report in the terminal (``brytupp goals``): one table per year."""

from __future__ import annotations

from typing import Any

from .definitions import GoalDefinition
from .report import GoalsReport
from .words import area


def _shown(goal: GoalDefinition, value: float | None) -> str:
    if value is None:
        return "–"
    if goal.kind == "ratio":
        return f"{value:.2f}".replace(".", ",")
    return f"{value * 100:.1f} %".replace(".", ",")


def rich_tables(report: GoalsReport) -> list[Any]:
    """One rich table per year: districts (and the city) × the five goals, value (numerator/denominator),
    green where the target is met, red where it is not."""
    from rich.markup import escape
    from rich.table import Table

    goals = report.goals
    cells = {(r.goal, r.year, r.district): r for r in report.indicators}
    places: list[str | None] = [*report.districts, *([None] if report.district is None else [])]
    last_district = next(reversed(report.districts), None)
    tables = []
    for year in report.years:
        table = Table(title=f"Bryt upp – effektmål {year}", title_justify="left")
        table.add_column("Stadsdelsområde")
        for goal in goals:
            sign = "≤" if goal.direction == "at_most" else "≥"
            table.add_column(f"{goal.goal}. {goal.label}\n(mål {sign} {_shown(goal, goal.target)})", justify="right")
        for place in places:
            name = "Hela staden" if place is None else escape(area(report.districts[place]))
            row = [f"[bold]{name}[/bold]" if place is None else name]
            for goal in goals:
                cell = cells.get((goal.goal, year, place))
                if cell is None:
                    row.append("")
                    continue
                style = "" if cell.met is None else ("green" if cell.met else "red")
                text = f"{_shown(goal, cell.value)} ({cell.numerator}/{cell.denominator})"
                row.append(f"[{style}]{text}[/{style}]" if style else text)
            table.add_row(*row, end_section=report.district is None and place == last_district)
        tables.append(table)
    return tables
