"""Accounts: who can log in, with which role."""
