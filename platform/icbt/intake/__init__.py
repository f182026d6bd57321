"""Intake: the patient's screening and the therapist's assessed profile."""
