"""Weekly treatment: module plans, their changes, reading and homework."""
