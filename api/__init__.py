"""The case service (FastAPI + SQLModel) — arrives with issue 4; ``engine`` never imports it."""
