"""A few demo clients for ``make run``, registered through the API's own case service
(``api/casework.py``, as ``api/demo_data.py`` writes its data set).

References are made up (``demo-…``); no real persons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from .app import create_app
from .demo_data import Writer
from .settings import Settings

# (district, reference, facts, events) – dates relative to today, so due dates look current.
DEMO: list[tuple[str, str, dict[str, Any], list[tuple[int, dict[str, Any]]]]] = [
    (
        "farsta",
        "demo-farsta-001",
        {"age": 34, "entry_channel": "self_referral", "needs": ["financial", "practical"], "consent_joint_handling": True},
        [
            (-10, {"kind": "step_completed", "step": "actualisation"}),
            (-10, {"kind": "step_completed", "step": "intake_registration"}),
        ],
    ),
    (
        "farsta",
        "demo-farsta-002",
        {
            "age": 29,
            "entry_channel": "police",
            "children": [{"age": 8, "witnessed_violence": True, "accompanying": True, "in_school": True}],
            "report_received": "{-3}",
        },
        [
            (-3, {"kind": "step_completed", "step": "actualisation"}),
            (-3, {"kind": "step_completed", "step": "intake_registration"}),
        ],
    ),
    (
        "jarva",
        "demo-jarva-001",
        {"age": 22, "entry_channel": "health_care", "honour_related": True},
        [(-2, {"kind": "step_completed", "step": "actualisation"})],
    ),
    ("sodermalm", "demo-sodermalm-001", {"age": 71, "entry_channel": "self_referral"}, []),
]


def _dated(value: Any, today: dt.date) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return (today + dt.timedelta(days=int(value[1:-1]))).isoformat()
    return value


def load_demo(settings: Settings) -> int:
    settings = settings.model_copy(update={"reload_interval": 0})
    created = 0
    today = dt.date.today()
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        writer = Writer(client.app, subject="demo")
        for district, reference, facts, events in DEMO:
            opened = today + dt.timedelta(days=min([d for d, _ in events], default=0))
            case_id = writer.create(district, reference, opened, {k: _dated(v, today) for k, v in facts.items()})
            if case_id is None:
                continue
            for days, event in events:
                writer.event(district, case_id, {**event, "on": (today + dt.timedelta(days=days)).isoformat()})
            created += 1
    return created
