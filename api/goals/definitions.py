"""What each of the five effect goals counts, and the choices left open in that.

A case counts in the district that holds it now (a transferred case takes its
history with it).  A year is a calendar year, 1 January to 31 December, of the
date an event happened (``on``), not when it was recorded.

Definitions (the choices in brackets are ``GoalSettings`` fields, with their
defaults; each can also be set in the environment as ``BRYTUPP_GOAL_<FIELD>``):

1. **Routine questions about violence** (target 100 %).  Denominator: the units
   of each district's current process (its district file) whose ``kind`` is
   one of [``routine_unit_kinds`` = ``["district"]``]: the district's own units
   that meet clients; the RVC, city-wide and regional units are not the
   district's to adopt a routine for.  Numerator: those of them with a routine
   recorded in ``unit_routines`` (``PUT /units/{unit}/routine``) adopted on or
   before 31 December of the year.  A routine recorded for a unit no longer in
   the district file does not count.

2. **Stable housing after protected housing** (target ≥ 80 %).  Denominator:
   placements that ended in the year: ``placement_ended`` events dated in the
   year with ``completed = true`` [``count_broken_off_placements = false``; true
   counts every ended placement].  A placement that ends on 2 January of the
   next year counts in the next year.  Numerator: those followed by a
   ``housing_outcome`` event on the same case dated on or after the end of the
   placement, in the same or any later year [``housing_within_months = null``;
   a number limits "followed" to that many calendar months after the end],
   with ``contract_months`` ≥ [``housing_min_contract_months`` = 6] and a type
   other than [``housing_excluded_types`` = ``["shis_mellanbo"]``]: SHIS
   Mellanbo is a step in the housing chain, not the stable housing the goal
   means (as the process's ``stable_housing`` closure reads it).  A year's
   figure can therefore still rise after the year ends, as outcomes are
   recorded.

3. **Re-actualised clients at the RVT** (target ≤ 20 %).  Every case in the
   service is a Bryt upp case held by the district's RVT (the
   ``vinr_investigator`` role).  Denominator: distinct clients (pseudonymous
   references) of the district with a case closed in the year (``closed_on``).
   Numerator: those of them with a new case for the same reference in the
   same district opened on or after the day of such a closure and no later
   than the same day of the month [``reactualisation_months`` = 12] calendar
   months later (a closure on 1 March 2025 is re-actualised by a case opened
   up to and including 1 March 2026, day 365; 2 March 2026, day 366, is
   outside).  Where that month is shorter, the window ends on its last day
   (31 January + 1 month = 28/29 February), on both databases.  References are
   pseudonymous per district (``api/pseudonym.py``): the same person in two
   districts has two references, so a client who moves district is not
   re-actualised by the other district's case.

4. **Referrals to SHIS Mellanbo** (target ≥ 1.25).  Numerator: ``referral_sent``
   events dated in the year; denominator: those dated in the baseline year
   [``referral_baseline_year`` = 2024].  With no referrals in the baseline year
   the value is undefined (``null``).  SHIS Mellanbo is the only referral the
   service records (``ReferralSent.to``), so the payload is not read (the count
   is answered from an index); tests/api/test_goals.py fails if another target is
   added, as this count would then have to filter on ``payload.to``.

5. **Schooling within a week** (target ≥ 95 %).  Denominator: school-age
   children placed: for every ``placement_started`` event dated in the year,
   the children in the case's facts as that event left them
   (``case_events.facts``, the facts at the placement) that are
   ``accompanying`` and of school age by the process's rule (``in_school``, or
   age [``school_age_min`` = 6] to [``school_age_max`` = 15]).  Numerator: those
   for whom a ``schooling_started`` event for that child (its index in
   ``children``) is dated on or after the placement start and no more than
   [``schooling_days`` = 7] calendar days after it: placed on 3 March,
   schooling on 10 March counts (day 7), on 11 March does not (day 8).

``api/goals/queries.py`` counts these in the database and says what it does with
stored values that do not fit them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

Direction = Literal["at_least", "at_most"]
# What a person reads for each ``housing_outcome.type`` (the process file lists the values without labels):
# the goal's measure names the excluded types, and an id such as shis_mellanbo is no word for a manager.
HOUSING_TYPE_LABELS = {
    "second_hand_lease": "andrahandskontrakt",
    "shis_bostader": "SHIS Bostäder",
    "lodger": "inneboendekontrakt",
    "priority_housing": "förtur via Bostadsförmedlingen",
    "shis_mellanbo": "SHIS Mellanbo",
    "other": "annan boendeform",
}
UnitKind = Literal["district", "rvc", "city", "region", "external"]


class GoalSettings(BaseSettings):
    """The open choices in the goals' definitions (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix="BRYTUPP_GOAL_", extra="ignore")

    routine_unit_kinds: list[UnitKind] = Field(
        default_factory=lambda: list[UnitKind](["district"]),
        description="Goal 1: the unit kinds that count as units meeting clients.",
    )
    count_broken_off_placements: bool = Field(
        default=False, description="Goal 2: count every ended placement, not only those completed as planned."
    )
    housing_min_contract_months: int = Field(default=6, ge=0, description="Goal 2: the shortest contract that is stable housing.")
    housing_excluded_types: list[str] = Field(
        default_factory=lambda: ["shis_mellanbo"], description="Goal 2: housing types that are not stable housing."
    )
    housing_within_months: int | None = Field(
        default=None,
        ge=0,
        le=240,
        description="Goal 2: the housing outcome must follow within this many months (null: any time).",
    )
    reactualisation_months: int = Field(
        default=12, ge=1, le=240, description="Goal 3: the re-actualisation window, calendar months."
    )
    referral_baseline_year: int = Field(
        default=2024, ge=1900, le=9999, description="Goal 4: the year referrals are compared with."
    )
    schooling_days: int = Field(default=7, ge=0, le=366, description="Goal 5: calendar days from placement to schooling.")
    school_age_min: int = Field(default=6, ge=0, description="Goal 5: school age from (or in school).")
    school_age_max: int = Field(default=15, ge=0, description="Goal 5: school age to (or in school).")


class GoalDefinition(BaseModel):
    goal: int
    key: str
    label: str = Field(description="Swedish.")
    measure: str = Field(description="Numerator / denominator, in Swedish.")
    target: float
    direction: Direction
    kind: Literal["share", "ratio"] = Field(description="A share (0–1, shown as %) or a ratio to the baseline.")

    @computed_field(description="Which way the goal points: higher (at_least) or lower (at_most) values are better.")  # type: ignore[prop-decorator]
    @property
    def better(self) -> Literal["higher", "lower"]:
        return "higher" if self.direction == "at_least" else "lower"


def definitions(config: GoalSettings) -> list[GoalDefinition]:
    excluded = ", ".join(housing_type_label(t) for t in config.housing_excluded_types) or "ingen"
    return [
        GoalDefinition(
            goal=1,
            key="routine_questions",
            label="Rutinmässiga frågor om våld",
            measure="Enheter med antagen rutin för frågor om våld / enheter som möter klienter",
            target=1.0,
            direction="at_least",
            kind="share",
        ),
        GoalDefinition(
            goal=2,
            key="stable_housing",
            label="Tryggt och stadigvarande boende efter skyddat boende",
            measure=(
                f"Fullföljda placeringar följda av kontrakt om minst {config.housing_min_contract_months} månader "
                f"(ej {excluded}) / fullföljda placeringar"
            ),
            target=0.8,
            direction="at_least",
            kind="share",
        ),
        GoalDefinition(
            goal=3,
            key="reactualised",
            label="Återaktualiserade våldsutsatta vid RVT",
            measure=(
                f"Klienter återaktualiserade inom {config.reactualisation_months} månader efter avslut "
                "/ klienter vars ärende avslutades"
            ),
            target=0.2,
            direction="at_most",
            kind="share",
        ),
        GoalDefinition(
            goal=4,
            key="shis_mellanbo_referrals",
            label="Remisser till SHIS Mellanbo",
            measure=f"Remisser under året / remisser under basåret {config.referral_baseline_year}",
            target=1.25,
            direction="at_least",
            kind="ratio",
        ),
        GoalDefinition(
            goal=5,
            key="schooling_within_a_week",
            label="Skolgång inom en vecka för barn i skyddat boende",
            measure=(
                f"Barn i skolåldern i skyddat boende med skolgång inom {config.schooling_days} dagar "
                "/ barn i skolåldern placerade i skyddat boende"
            ),
            target=0.95,
            direction="at_least",
            kind="share",
        ),
    ]


def housing_type_label(value: str) -> str:
    """A housing type in Swedish; a type configured without a label reads as words, not as an id."""
    return HOUSING_TYPE_LABELS.get(value, value.replace("_", " "))


def client_units(compiled_units: Mapping[str, Any], config: GoalSettings) -> list[str]:
    """The units of one district's process that count for goal 1 (``routine_unit_kinds``)."""
    return [unit_id for unit_id, unit in compiled_units.items() if unit.kind in config.routine_unit_kinds]


def units_by_district(districts: Mapping[str, Any], config: GoalSettings) -> tuple[dict[str, list[str]], dict[str, str]]:
    """From a registry snapshot's districts: the counted units and the label of each district."""
    units: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for name, state in districts.items():
        labels[name] = state.label
        if state.compiled is not None:
            units[name] = client_units(state.compiled.process.units, config)
    return units, labels
