"""Security of accounts and sessions: server-side sessions, second factor, login throttling.

Domain code only (models, services, pure functions); the routes live in ``icbt.auth`` and
``icbt.account``. ``init_security(app)`` in ``hooks.py`` wires the request-level parts.
"""
