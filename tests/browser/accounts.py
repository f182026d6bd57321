"""The accounts the journeys log in with: the demo trial's (``flask --app wsgi demo``)."""
from __future__ import annotations

from dataclasses import dataclass

from icbt.demo import DEMO_PASSWORD


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    password: str = DEMO_PASSWORD


PATIENT = Account("patient07@demo.example", "patient")
THERAPIST = Account("therapist1@demo.example", "therapist")
ADMIN = Account("admin@demo.example", "admin")
BY_ROLE = {a.role: a for a in (PATIENT, THERAPIST, ADMIN)}
