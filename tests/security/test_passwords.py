"""Passwords: Argon2id with OWASP's parameters, 12-128 characters, common passwords
refused after normalisation, and login failures that look and take the same."""
from __future__ import annotations

import gzip
import statistics
import time
from importlib import resources

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

import config as cfg
from icbt.extensions import db
from icbt.users.password_policy import common_passwords, normalise, weakness
from icbt.users.services import AccountError, create_user, set_password
from tests.conftest import PASSWORD


def test_production_hashing_uses_the_owasp_argon2id_parameters(app, monkeypatch) -> None:
    # OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB (19456 KiB), t=2, p=1.
    assert cfg.Config.PASSWORD_HASH == {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
    assert cfg.ProductionConfig.PASSWORD_HASH == cfg.Config.PASSWORD_HASH
    monkeypatch.setitem(app.config, "PASSWORD_HASH", dict(cfg.Config.PASSWORD_HASH))
    from icbt.users.passwords import hash_password

    params = extract_parameters(hash_password("a-long-test-passphrase"))
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 19456, 2, 1)


def test_the_shipped_list_is_large_normalised_and_readable() -> None:
    raw = resources.files("icbt").joinpath("data/common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    assert 5_000 <= len(lines) <= 100_000
    assert lines == sorted(set(lines))
    assert all(line == normalise(line) for line in lines[:2000])
    for well_known in ("123456", "password", "qwerty", "iloveyou", "trustno1", "letmein"):
        assert well_known in common_passwords()


@pytest.mark.parametrize(
    "password",
    [
        "password1234",  # listed word + digits
        "PASSWORD1234",  # case
        "P@ssw0rd1234!",  # look-alike characters and a sign
        "1234password",  # digits in front
        "pass word 1234",  # spaces
        "passwordpassword",  # repetition of a listed word
        "qwertyuiop123",  # keyboard walk in the list
        "iloveyou2026!!",
        "trustno1trustno1",
        "aaaaaaaaaaaa",  # one character repeated
        "abcabcabcabc",  # a short unit repeated
        "abcdefghijklm",  # a run
        "123456789012",  # a run of digits
        "ＰＡＳＳＷＯＲＤ１２３４",  # full-width: NFKC folds it to password1234
    ],
)
def test_common_passwords_are_refused_after_normalisation(password: str) -> None:
    assert weakness(password) == "common"


@pytest.mark.parametrize(
    "password",
    [PASSWORD, "calm-harbour-2026", "lantern meadow quietly", "a-long-enough-password", "Ölkännchen im Regal",
     "x" * 3 + "quiet-fern-bridge", "🦊 fox jumps over river"],
)
def test_good_passphrases_are_accepted(password: str) -> None:
    assert weakness(password) is None


def test_length_limits_count_characters_and_allow_at_least_64() -> None:
    assert weakness("fern-bridge") == "too_short"  # 11
    assert weakness("fern-bridge!") is None  # 12
    long_ok = ("river stone cloud lamp " * 6)[:128]
    assert len(long_ok) == 128 and weakness(long_ok) is None
    assert weakness(long_ok[:64]) is None
    assert weakness(long_ok + "x") == "too_long"


def test_the_accounts_own_details_are_refused(app) -> None:
    with pytest.raises(AccountError, match="too common"):
        create_user(db.session, email="kim.svensson@example.org", password="Kim.Svensson2026", role="patient",
                    display_name="Kim Svensson")
    user = create_user(db.session, email="kim.svensson@example.org", password=PASSWORD, role="patient",
                       display_name="Kim Svensson")
    with pytest.raises(AccountError, match="too common"):
        set_password(db.session, user, "kimsvensson!!!!", actor=user)


def test_password_form_shows_the_policy_error_next_to_the_field(client, factory) -> None:
    from tests.conftest import login

    login(client, factory.user())
    for bad, message in [("short-one", "at least 12"), ("password1234", "too common"), ("x" * 129, "at most 128")]:
        html = client.post("/account/password", data={"password": bad, "confirm": bad}).get_data(as_text=True)
        assert 'id="password-error"' in html and message in html, bad


def test_wrong_password_and_unknown_user_take_the_same_time(app, client, factory, monkeypatch) -> None:
    """Same status, same message and, with the production hash parameters, the same time
    (medians within 25 % of each other, or 5 ms)."""
    monkeypatch.setitem(app.config, "PASSWORD_HASH", dict(cfg.Config.PASSWORD_HASH))
    monkeypatch.setitem(app.config, "THROTTLE_POLICIES", {k: throttle_off for k in ("acct", "ip", "dev", "2fa")})
    user = factory.user()  # hashed with the production parameters
    client.post("/auth/login", data={"email": "warm-up@example.org", "password": "x" * 12})  # dummy hash made
    wrong, unknown = [], []
    bodies = set()
    for i in range(15):
        for sample, email in ((wrong, user.email), (unknown, f"nobody{i}@example.org")):
            start = time.perf_counter()
            response = client.post("/auth/login", data={"email": email, "password": f"wrong-guess-{i:04d}"})
            sample.append(time.perf_counter() - start)
            assert response.status_code == 200
            bodies.add(response.get_data(as_text=True).replace(email, "EMAIL"))
    assert len(bodies) == 1  # byte-for-byte the same page apart from the echoed address
    w, u = statistics.median(wrong), statistics.median(unknown)
    print(f"\nlogin failure medians: wrong password {w * 1000:.1f} ms, unknown user {u * 1000:.1f} ms")
    assert w > 0.005  # the real KDF ran
    assert abs(w - u) <= max(0.25 * max(w, u), 0.005), (w, u)


from icbt.security.throttle import Backoff  # noqa: E402

throttle_off = Backoff(free=10**6, base=1, cap=1, window=1)
