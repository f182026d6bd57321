"""Password hashing with Argon2id (argon2-cffi); parameters come from configuration."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def _hasher() -> PasswordHasher:
    params = current_app.config["PASSWORD_HASH"]
    key = (params["time_cost"], params["memory_cost"], params["parallelism"])
    if key not in _hashers:
        _hashers[key] = PasswordHasher(
            time_cost=key[0], memory_cost=key[1], parallelism=key[2]
        )
    return _hashers[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# A hash to verify against when the account does not exist, so that an unknown e-mail
# costs the same time as a wrong password (no user enumeration by timing).
# The dummy hash is made with the parameters in force, so that it costs what a real one does.
def dummy_verify(password: str) -> None:
    params = current_app.config["PASSWORD_HASH"]
    key = ("icbt.dummy_hash", params["time_cost"], params["memory_cost"], params["parallelism"])
    hashes = current_app.extensions.setdefault("icbt.dummy_hashes", {})
    if key not in hashes:
        hashes[key] = hash_password("not-a-real-account-password")
    verify_password(hashes[key], password)
