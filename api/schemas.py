"""Request and response bodies of the API (the tables are in models.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.case import CompletedStep, DatedFacts

from .pseudonym import ID_PATTERN, REFERENCE_PATTERN


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_In):
    district: str = Field(pattern=ID_PATTERN, description="District id, e.g. `farsta`; a caseworker's own district.")
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description="Pseudonymous client reference (3–64 letters, digits, `_.:-`); never a name or personal identity number.",
    )
    facts: dict[str, Any] = Field(default_factory=dict, description="Client facts in the process's vocabulary.")
    opened: dt.date | None = Field(default=None, description="When the case was opened (aktualiserat); today by default.")


class CaseOut(BaseModel):
    id: uuid.UUID
    district: str
    reference: str
    facts: dict[str, Any]
    opened: dt.date
    process_version: str
    row_version: int = Field(description="Also the ETag; send it back in If-Match to update.")
    closed: bool
    closed_on: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    assigned_to: str | None = Field(default=None, description="The caseworker the case is assigned to (a user id).")


class FactsUpdate(_In):
    facts: dict[str, Any] = Field(description="All the client's facts as they are now (replaces the stored ones).")
    on: dt.date | None = Field(default=None, description="From when these facts hold; today by default.")


class Transfer(_In):
    district: str = Field(pattern=ID_PATTERN, description="The district that takes over the case.")


class EventOut(BaseModel):
    id: int
    case_id: uuid.UUID
    kind: str
    on: dt.date
    payload: dict[str, Any]
    facts: dict[str, Any] | None = Field(description="The facts after this event, where it changed them.")
    recorded_at: dt.datetime
    recorded_by: str


class DecideRequest(_In):
    """A what-if question: nothing is stored."""

    district: str = Field(pattern=ID_PATTERN)
    facts: dict[str, Any] = Field(default_factory=dict)
    opened: dt.date
    today: dt.date | None = None
    completed: list[CompletedStep] = Field(default_factory=list, max_length=500)
    history: list[DatedFacts] = Field(default_factory=list, max_length=500)


class ProcessSummary(BaseModel):
    district: str
    label: str
    path: str
    version: str | None = Field(description="The version serving now (the last good one).")
    status: str = Field(description="`ok`, or `errors` when the files as they are now fail: the last good version serves.")
    findings: list[str] = Field(description="`file:line:col: key: message`, one per problem.")
    loaded_at: dt.datetime | None
    local_steps: int
    changed_steps: int


class ProcessList(BaseModel):
    districts: list[ProcessSummary]
    problems: list[str] = Field(description="Problems no one district owns, e.g. in the central process file.")
    checked_at: dt.datetime | None


class EffectiveProcessOut(BaseModel):
    district: str
    version: str
    findings: list[str]
    process: dict[str, Any] = Field(description="The merged process the district runs, in the process language.")


class OverdueStep(BaseModel):
    case_id: uuid.UUID
    step: str | None = None
    label: str | None = None
    child: int | None = None
    due: dt.date | None = None
    days_overdue: int | None = None
    problem: str | None = Field(
        default=None, description="Set (and no step) when the case cannot be decided: it needs a caseworker's attention."
    )


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    subject: str
    role: str
    district: str | None = Field(description="The district of the token, if any.")
    case_id: uuid.UUID | None
    case_district: str | None = Field(default=None, description="The district of the case accessed, where there was one.")
    action: str
    outcome: str
    request_id: str | None = None
    source: str | None = Field(default=None, description="The client's network address.")
    token_id: str | None = None
    target: str | None = Field(default=None, description="What else the action was on: a process draft's id or a version.")
    case_ids: list[uuid.UUID] | None = Field(default=None, description="The cases a list showed, for a list's one row.")


class DraftOut(BaseModel):
    """A draft of a district's process (or of the central one: district ``central``)."""

    id: uuid.UUID
    district: str
    path: str = Field(description="The file the text is, as findings name it.")
    status: str = Field(description="`draft`, `proposed`, `approved` or `rejected`.")
    version: str | None = Field(description="The version it builds to; none while it has findings.")
    base_version: str | None = Field(description="The district's newest version when the text was stored.")
    findings: list[str] = Field(
        description="`file:line:col: key: message`, one per problem; a draft with any cannot be proposed."
    )
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
    proposed_by: str | None
    proposed_at: dt.datetime | None
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str | None
    reference: str | None
    effective_from: dt.date | None
    etag: str = Field(description="Send it as If-Match to change, propose, approve or reject the draft.")


class DraftText(DraftOut):
    text: str = Field(description="The file's text as written.")


NOTE = Field(default=None, max_length=2000, description="Why, in a sentence or a few.")


class ProposeIn(_In):
    note: str | None = NOTE


class ApproveIn(_In):
    effective_from: dt.date = Field(description="The day caseworkers get the new version (Europe/Stockholm), today or later.")
    note: str | None = NOTE
    reference: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-zÅÄÖåäö0-9 ./:_-]+$",
        description="The city's diary number, e.g. SOF 2026/1234.",
    )


class RejectIn(_In):
    note: str = Field(min_length=1, max_length=2000, description="What the author needs to change.")


class PublicationOut(BaseModel):
    """One entry of a district's history: a version made current, or approved to be from a later day."""

    version: str
    effective_from: dt.date
    in_force_since: dt.datetime | None = Field(description="When it became current; none while scheduled.")
    status: str = Field(description="`scheduled`, `in_force` (serving now), `replaced` or `withdrawn` (before its day).")
    drafted_by: str
    approved_by: str | None = Field(description="None for versions published from the files (development, a release).")
    note: str | None
    reference: str | None
    draft_id: uuid.UUID | None
    withdrawn_by: str | None = None
    withdrawal_note: str | None = None


class MigrationIn(_In):
    dry_run: bool = Field(default=True, description="List what would change for each open case, and move nothing.")


class WorkItem(BaseModel):
    """One open step of one case, as a unit's worklist shows it (never the case's facts)."""

    case_id: uuid.UUID
    reference: str | None = Field(description="The client's pseudonym: for the district's caseworkers, not for managers.")
    step: str
    label: str
    phase: str
    child: int | None = Field(description="Index into the case's children for a per-child step.")
    guaranteed: bool
    opened_on: dt.date
    due: dt.date | None
    overdue: bool
    days_overdue: int | None
    assigned_to: str | None


class Worklist(BaseModel):
    unit: str
    district: str
    today: dt.date
    as_of: dt.date | None = Field(description="The oldest day the listed steps were decided for (writes and `brytupp refresh`).")
    items: list[WorkItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; none on the last.")
    problems: list[uuid.UUID] = Field(
        default_factory=list, description="Open cases whose steps could not be worked out (first page only): each needs a look."
    )


class AssignmentIn(_In):
    # Only oneself: a free text here could hold anything (a client's pseudonym, a name) and would be
    # shown on every list of the unit, managers' included.
    assigned_to: Literal["me"] | None = Field(description="`me`: the case is yours (taken over from anyone); null: nobody's.")
