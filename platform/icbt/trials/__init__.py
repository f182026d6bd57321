"""Trials, their participants, arms and (in later work) randomisation."""
