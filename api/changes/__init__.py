"""Reviewed change of a process: draft, preview, propose, approve or reject, history, restore.

A district's change to how it handles victims of violence is a decision, not a saved file:

* the district's process owner (an ``implementer`` whose token names the district) stores a
  **draft**, the district file's text as written (comments and all), built against the central
  process the district serves now; a draft with findings is stored with them and cannot be
  proposed until a new text fixes them;
* the **preview** says what the draft changes against the district's live version (steps,
  units, deadlines, guarantees, notes; a note left beside a step whose unit changed is flagged),
  which cells of the equality matrix it changes, and what it would do to every open case;
* the author **proposes** it; the city's ``process_owner`` **approves** it with the day it takes
  effect (today or later, Europe/Stockholm) and, optionally, the diary number, or **rejects** it
  with a note.  Nobody approves a draft they wrote (four eyes).  Two approvals at once: one wins,
  the other is a 409, since the decision is a conditional update of the draft's row;
* an approval stores the version and its history row (``api/versions.py``); from its day every
  instance serves it.  Open cases stay where they are until moved (``api/impact.py``);
* **restore** makes an earlier version a new draft, so a rollback is reviewed like any change.

The central process changes the same way with ``district`` = ``central``, drafted by a process
owner and approved by another: its preview covers every district, and its approval stores a new
version of each.

``review.py`` holds the review's rules (who may do what, the transitions, withdrawal,
history); ``building.py`` what a draft is written on and what its text builds to.
"""

from .building import (
    CENTRAL,
    Built,
    base_of,
    body_problem,
    build_text,
    compiled_version,
    display_path,
    last_scheduled,
    live_row,
    live_rows,
    newest_rows,
    newest_version,
    set_id,
    stored_version,
)
from .review import (
    MAX_AHEAD,
    NOTE_LENGTH,
    Status,
    approve,
    create,
    get_draft,
    history,
    list_drafts,
    may_read,
    may_write,
    propose,
    queue,
    read,
    refuse,
    reject,
    replace,
    require_read,
    require_write,
    restore,
    withdraw,
)

__all__ = [
    "CENTRAL",
    "MAX_AHEAD",
    "NOTE_LENGTH",
    "Built",
    "Status",
    "approve",
    "base_of",
    "body_problem",
    "build_text",
    "compiled_version",
    "create",
    "display_path",
    "get_draft",
    "history",
    "last_scheduled",
    "list_drafts",
    "live_row",
    "live_rows",
    "may_read",
    "may_write",
    "newest_rows",
    "newest_version",
    "propose",
    "queue",
    "read",
    "refuse",
    "reject",
    "replace",
    "require_read",
    "require_write",
    "restore",
    "set_id",
    "stored_version",
    "withdraw",
]
