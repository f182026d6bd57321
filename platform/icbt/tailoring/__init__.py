"""Tailoring: the rules (data in ``modules/tailoring.yaml``) and the engine (a pure function)
that turns a patient's assessed profile into a proposed, ordered module plan."""
