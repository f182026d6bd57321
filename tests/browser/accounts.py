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

# The full journeys (test_full_journeys.py) each use their own demo people per viewport, so
# that the phone and the desktop runs do not hand in the same homework or answer the same
# questionnaire. Treatment-arm patients of therapist3, with the week-3 alliance (WAI-S)
# and the post CORE-OM still ahead of them in the demo:
TREATMENT_PATIENT = {"phone": Account("patient35@demo.example", "patient"),
                     "desktop": Account("patient14@demo.example", "patient")}
# Applicants who have not yet answered the intake screening:
APPLICANT = {"phone": Account("patient01@demo.example", "patient"),
             "desktop": Account("patient05@demo.example", "patient")}
# therapist3 has both patients above, and open risk alerts on two more (P-USJEX7, P-AY77TT).
THERAPIST3 = Account("therapist3@demo.example", "therapist")
# Eligible, not yet randomised in the demo: the admin journey randomises one per viewport.
ELIGIBLE = {"phone": "patient03@demo.example", "desktop": "patient04@demo.example"}
# The journey without JavaScript and the keyboard-only journey: treatment patients of
# therapist2 whose week-3 alliance questionnaire is open in the demo today.
NO_JS_PATIENT = Account("patient16@demo.example", "patient")
KEYBOARD_PATIENT = Account("patient13@demo.example", "patient")
