"""A synthetic, reproducible data set for the effect goals: ``brytupp demo-data``.

Every case and event is written through the API's own case service
(``api/casework.py``), and every unit routine through its route function
(``api/routes/goals.py``), on an app whose start-up ran as the service's does
(migrations, process registry): the same validation, engine check and storage
as a caseworker's request, without the HTTP round trip (about 3 ms a call
instead of 9).  No real persons: clients are ``demo-s<seed>-<n>`` references
with made-up facts.  The same seed, case count and years give the same clients,
dates and events.

The districts differ on purpose, so that the goal charts show differences worth
looking at (see ``PROFILES``): some adopted the routine for asking about
violence early, some late; some get children into school within a week almost
always, some often not; some find stable housing after protected housing far
more often than others; re-actualisation and the growth of SHIS Mellanbo
referrals vary too.  Nothing here describes the real districts.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.requests import Request

from .app import create_app
from .auth import CITY, Principal, Role
from .casework import Casework
from .errors import ApiError
from .events import EventIn
from .goals import client_units
from .models import Case, OpenStep
from .routes import goals
from .schemas import CaseCreate
from .settings import Settings

EVENT = TypeAdapter(EventIn)
ENTRY = ["self_referral", "police", "report_of_concern", "health_care", "civil_society", "after_hours", "youth_clinic"]
NEEDS = ["financial", "housing", "practical", "health", "legal", "substance", "psychiatric"]
STABLE = ["second_hand_lease", "shis_bostader", "lodger", "priority_housing"]
REASONS = ["needs_met", "declined", "moved_away", "returned_to_perpetrator"]


@dataclass(frozen=True)
class Profile:
    """How a made-up district does; probabilities per case or per event."""

    weight: float  # share of the cases
    routine: tuple[float, float, float]  # share of its units with the routine by the end of the 1st, 2nd, 3rd year
    placement: float  # a case goes to protected housing
    completed: float  # a placement is completed as planned
    stable: float  # a completed placement is followed by a contract of >= 6 months
    school_in_week: float  # a school-age child placed starts school within 7 days
    reactualised: float  # a closed client comes back within a year
    referral: float  # a case is referred to SHIS Mellanbo in the first year
    referral_growth: float  # … and that rate grows by this factor a year
    trend: float = 0.03  # schooling within a week and stable housing get this much likelier each year


PROFILES: dict[str, Profile] = {
    "bromma": Profile(0.06, (0.5, 0.9, 1.0), 0.30, 0.85, 0.88, 0.93, 0.12, 0.15, 1.20),
    "enskede_arsta_vantor": Profile(0.12, (0.3, 0.6, 0.85), 0.40, 0.80, 0.76, 0.90, 0.18, 0.18, 1.30),
    "farsta": Profile(0.08, (0.9, 1.0, 1.0), 0.38, 0.82, 0.82, 0.97, 0.15, 0.20, 1.35),
    "hagersten_alvsjo": Profile(0.09, (0.2, 0.5, 0.7), 0.35, 0.78, 0.80, 0.70, 0.17, 0.14, 1.10, trend=0.08),
    "hasselby_vallingby": Profile(0.09, (0.4, 0.7, 0.9), 0.40, 0.75, 0.70, 0.88, 0.22, 0.18, 1.25),
    "jarva": Profile(0.14, (0.6, 0.8, 0.95), 0.48, 0.72, 0.62, 0.98, 0.26, 0.22, 1.45),
    "kungsholmen": Profile(0.05, (0.1, 0.4, 0.6), 0.26, 0.88, 0.90, 0.91, 0.10, 0.12, 1.00),
    "norra_innerstaden": Profile(0.08, (0.3, 0.6, 0.9), 0.28, 0.86, 0.85, 0.89, 0.13, 0.14, 1.15),
    "skarholmen": Profile(0.10, (0.5, 0.7, 0.8), 0.46, 0.70, 0.55, 0.84, 0.28, 0.24, 1.50),
    "skarpnack": Profile(0.07, (0.0, 0.3, 0.6), 0.37, 0.80, 0.74, 0.78, 0.19, 0.16, 0.95, trend=-0.04),
    "sodermalm": Profile(0.12, (0.4, 0.8, 1.0), 0.34, 0.84, 0.83, 0.95, 0.14, 0.16, 1.25),
}
DEFAULT = Profile(0.05, (0.3, 0.6, 0.9), 0.35, 0.8, 0.75, 0.9, 0.18, 0.16, 1.2)
# Days from a step opening to its completion, and how much slower or quicker a district is than that.
WAITS = (0, 0, 1, 1, 2, 3, 5, 8, 13)
PACE = {"jarva": 1.6, "skarholmen": 1.4, "kungsholmen": 0.6, "bromma": 0.7, "skarpnack": 1.3}


@dataclass
class Loaded:
    cases: int
    events: int
    routines: int
    seconds: float
    skipped: bool = False


class Writer:
    """Writes made-up cases and their events through the case service, as ``subject``, on the started app."""

    def __init__(self, app: Any, subject: str = "demo-data") -> None:
        self.app = app
        self.engine = app.state.engine
        self.subject = subject
        self.events = 0

    def _casework(self, session: Session, district: str) -> Casework:
        return Casework(self.app, session, Principal(subject=self.subject, role=Role.caseworker, district=district))

    def create(self, district: str, reference: str, opened: dt.date, facts: dict[str, Any]) -> uuid.UUID | None:
        body = CaseCreate(district=district, reference=reference, facts=facts, opened=opened)
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                case = self._casework(session, district).create(body)
            except ApiError as exc:
                if exc.status == 409:  # this client already has an open case
                    return None
                raise
        return case.id

    def event(self, district: str, case_id: uuid.UUID, event: dict[str, Any]) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            self._casework(session, district).record(case_id, EVENT.validate_python(event))
        self.events += 1

    def walk(self, district: str, case_id: uuid.UUID, rng: random.Random, until: dt.date, pace: float) -> None:
        """Complete the case's first open step, and the next, as a caseworker would, each some days
        after it opened (``pace`` stretches the days), up to ``until``: the steps the live figures
        per step count (``step_passages``).  A step the service refuses ends the walk."""
        for _ in range(rng.randrange(2, 9)):
            with Session(self.engine) as session:
                query = select(OpenStep).where(col(OpenStep.case_id) == case_id, col(OpenStep.waiting).is_(False))
                first = session.exec(query.order_by(col(OpenStep.sort_due), col(OpenStep.step), col(OpenStep.child))).first()
            if first is None:
                return
            on = first.opened_on + dt.timedelta(days=round(rng.choice(WAITS) * pace))
            if on > until:
                return
            event: dict[str, Any] = {"kind": "step_completed", "step": first.step, "on": on.isoformat()}
            if first.child >= 0:
                event["child"] = first.child
            try:
                self.event(district, case_id, event)
            except ApiError:
                return

    def routine(self, district: str, unit: str, adopted: dt.date) -> None:
        # The unit routine has no service of its own: its route function, with a request on the app.
        request = Request({"type": "http", "app": self.app, "headers": [], "method": "POST", "path": "/"})
        principal = Principal(subject=self.subject, role=Role.manager, scope=CITY)
        body = goals.RoutineIn(district=district, adopted=adopted)
        with Session(self.engine, expire_on_commit=False) as session:
            goals.record_routine(unit=unit, body=body, request=request, response=Response(), principal=principal, session=session)


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(max(1, (end - start).days + 1)))


def make_children(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        age = rng.randrange(0, 18)
        child: dict[str, Any] = {"age": age, "witnessed_violence": rng.random() < 0.7, "accompanying": rng.random() < 0.85}
        child["in_school"] = 6 <= age <= 15 or (age > 15 and rng.random() < 0.7)
        out.append(child)
    return out


def case_story(
    rng: random.Random, profile: Profile, opened: dt.date, horizon: dt.date, first_year: int, children: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dt.date | None]:
    """The events of one case, in date order, up to ``horizon``; and the day it closed (None: still open)."""
    # Only the events the goals count: each costs a full API write (~5 ms), and make run loads this.
    events: list[dict[str, Any]] = []
    last = opened
    stable = False
    if rng.random() < profile.placement:
        start = opened + dt.timedelta(days=rng.randrange(0, 15))
        events.append({"kind": "placement_started", "on": start, "decision_expires": start + dt.timedelta(days=60)})
        for index, child in enumerate(children):
            if child["accompanying"] and child["in_school"]:
                late = rng.random() >= min(0.995, profile.school_in_week + profile.trend * (start.year - first_year))
                days = rng.randrange(8, 30) if late else rng.choice([1, 2, 3, 3, 4, 5, 6, 7, 7])
                events.append({"kind": "schooling_started", "child": index, "on": start + dt.timedelta(days=days)})
        end = start + dt.timedelta(days=rng.randrange(20, 160))
        completed = rng.random() < profile.completed
        events.append({"kind": "placement_ended", "completed": completed, "on": end})
        last = end
        if completed:
            on = end + dt.timedelta(days=rng.randrange(0, 45))
            stable = rng.random() < min(0.995, profile.stable + profile.trend * (end.year - first_year))
            if stable:
                housing = {"type": rng.choice(STABLE), "contract_months": rng.choice([6, 12, 12, 24, 36])}
            elif rng.random() < 0.5:
                housing = {"type": "shis_mellanbo", "contract_months": rng.choice([6, 12])}
            else:
                housing = {"type": rng.choice(["second_hand_lease", "other"]), "contract_months": rng.randrange(1, 6)}
            events.append({"kind": "housing_outcome", "on": on, **housing})
            last = on
    growth = profile.referral_growth ** (last.year - first_year)
    if rng.random() < min(0.9, profile.referral * growth):
        on = last + dt.timedelta(days=rng.randrange(1, 30))
        events.append({"kind": "referral_sent", "to": "shis_mellanbo", "on": on})
        last = on
    closed: dt.date | None = None
    if rng.random() < 0.8:
        closed = last + dt.timedelta(days=rng.randrange(14, 120))
        reason = "stable_housing" if stable else rng.choice(REASONS)
        events.append({"kind": "case_closed", "reason": reason, "on": closed})
    events.sort(key=lambda e: e["on"])
    kept = [e for e in events if e["on"] <= horizon]
    if closed is not None and closed > horizon:
        closed = None
    return [{**e, "on": e["on"].isoformat()} for e in kept], closed


def existing(settings: Settings, seed: int) -> int:
    """How many cases of this seed's data set the database holds."""
    from .db import make_engine, migrate

    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with Session(engine) as session:
            count = session.exec(
                select(func.count()).select_from(Case).where(col(Case.reference).startswith(f"demo-s{seed}-"))
            ).one()
    finally:
        engine.dispose()
    return int(count)


@dataclass(frozen=True)
class _Span:
    """The days the data set covers: cases open from ``first`` to ``last``, nothing after ``horizon``."""

    first: dt.date
    last: dt.date
    horizon: dt.date
    first_year: int


def load_demo_data(settings: Settings, cases_wanted: int, years: list[int], seed: int, today: dt.date | None = None) -> Loaded:
    """Write the data set unless this seed's is there already."""
    begun = time.perf_counter()
    if existing(settings, seed):
        return Loaded(0, 0, 0, time.perf_counter() - begun, skipped=True)
    settings = settings.model_copy(update={"reload_interval": 0})
    rng = random.Random(seed)
    first, last = dt.date(min(years), 1, 1), dt.date(max(years), 12, 31)
    span = _Span(first, last, min(today or dt.date.today(), last + dt.timedelta(days=90)), min(years))
    if span.horizon < first:
        raise ValueError(f"the years {min(years)}–{max(years)} have not begun: demo data are made for the past")
    created = 0
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        writer = Writer(client.app)
        districts = registry_districts(client)
        weights = [PROFILES.get(d, DEFAULT).weight for d in districts]
        routines = _routines(rng, writer, districts, sorted(years), span.horizon)
        number = 0
        while created < cases_wanted:
            number += 1
            district = rng.choices(list(districts), weights)[0]
            created += _client(rng, writer, span, district, f"demo-s{seed}-{number:06d}", cases_wanted - created)
    return Loaded(created, writer.events, routines, time.perf_counter() - begun)


def _routines(rng: random.Random, writer: Writer, districts: dict[str, list[str]], years: list[int], horizon: dt.date) -> int:
    """Goal 1: each district's units adopt the routine over the years, at the district's pace."""
    routines = 0
    for district, units in districts.items():
        profile = PROFILES.get(district, DEFAULT)
        for unit in units:
            draw = rng.random()
            for n, year in enumerate(years[:3]):
                if draw < profile.routine[min(n, 2)]:
                    adopted = _day(rng, dt.date(year, 1, 1), min(dt.date(year, 12, 31), horizon))
                    if adopted <= horizon:
                        writer.routine(district, unit, adopted)
                        routines += 1
                    break
    return routines


def _client(rng: random.Random, writer: Writer, span: _Span, district: str, reference: str, wanted: int) -> int:
    """One made-up client's cases, at most ``wanted``: the first, and each time they come back
    (re-actualisation) a new case for the same reference."""
    profile = PROFILES.get(district, DEFAULT)
    opened = _day(rng, span.first, min(span.last, span.horizon))
    children = make_children(rng) if rng.random() < 0.5 else []
    facts: dict[str, Any] = {
        "age": rng.randrange(18, 80),
        "entry_channel": rng.choice(ENTRY),
        "needs": sorted(set(rng.sample(NEEDS, rng.randrange(1, 4)))),
        "risk_level": rng.choice(["low", "medium", "medium", "high"]),
        "risk_instrument": "freda",
        "consent_joint_handling": rng.random() < 0.8,
    }
    created = 0
    while created < wanted and opened <= span.horizon:
        case_facts = {**facts, "children": children} if children else dict(facts)
        if children:
            case_facts["report_received"] = opened.isoformat()
        case_id = writer.create(district, reference, opened, case_facts)
        if case_id is None:
            break
        created += 1
        events, closed = case_story(rng, profile, opened, span.horizon, span.first_year, children)
        # The first steps of the pathway, before what the goals count happens; districts keep their own pace.
        first_event = min((dt.date.fromisoformat(e["on"]) for e in events), default=span.horizon)
        # A generator of its own (seeded by the case), so the stories the goals count stay as they were.
        walk = random.Random(f"{reference}:{created}")
        writer.walk(district, case_id, walk, min(first_event - dt.timedelta(days=1), span.horizon), PACE.get(district, 1.0))
        for event in events:
            writer.event(district, case_id, event)
        if closed is None:
            break
        # Back within a year (the district's rate), later, or never.
        draw = rng.random()
        if draw < profile.reactualised:
            opened = closed + dt.timedelta(days=rng.randrange(3, 366))
        elif draw < profile.reactualised + 0.05:
            opened = closed + dt.timedelta(days=rng.randrange(366, 700))
        else:
            break
        facts["months_since_closure"] = max(0, (opened - closed).days // 30)
    return created


def registry_districts(client: TestClient) -> dict[str, list[str]]:
    """The districts serving now, with the units that count for goal 1."""
    app: Any = client.app
    out: dict[str, list[str]] = {}
    for name, state in app.state.registry.snapshot.districts.items():
        if state.compiled is not None:
            out[name] = client_units(state.compiled.process.units, app.state.settings.goals)
    return out
