"""A few demo clients for ``make run``, registered through the API's own routes.

References are made up (``demo-…``); no real persons.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from .app import create_app
from .auth import Role, mint
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
        for district, reference, facts, events in DEMO:
            headers = {"Authorization": "Bearer " + mint(settings, "demo", Role.caseworker, district, hours=1)}
            opened = today + dt.timedelta(days=min([d for d, _ in events], default=0))
            body: dict[str, Any] = {"district": district, "reference": reference, "opened": opened.isoformat()}
            body["facts"] = {k: _dated(v, today) for k, v in facts.items()}
            response = client.post("/cases", json=body, headers=headers)
            if response.status_code == 409:
                continue
            response.raise_for_status()
            case_id = response.json()["id"]
            for days, event in events:
                sent = {**event, "on": (today + dt.timedelta(days=days)).isoformat()}
                client.post(f"/cases/{case_id}/events", json=sent, headers=headers).raise_for_status()
            created += 1
    return created
