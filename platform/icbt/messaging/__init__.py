"""Secure messaging between a patient and their therapist, weekly feedback, snippets and
therapist time. One conversation per participant; whoever is the participant's therapist
now reads and writes in it, so a replacement therapist sees the whole history."""
