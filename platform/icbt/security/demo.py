"""Demo seed step: demo staff get a fixed TOTP secret (the demo is not production), so
that anyone trying the demo can log in as a therapist or admin with the second factor.

``flask --app wsgi users totp EMAIL`` prints the current code of a demo account; the
secret, for an authenticator app, is printed by ``flask --app wsgi demo``.
"""
from __future__ import annotations

from icbt.demo import DemoContext, demo_step
from icbt import clock
from icbt.security import second_factor

DEMO_DOMAIN = "@demo.example"


def is_demo_account(email: str, secret: str | None) -> bool:
    return email.endswith(DEMO_DOMAIN) and secret is not None and secret == second_factor.demo_secret(email)


@demo_step
def staff_second_factor(ctx: DemoContext) -> None:
    for user in [ctx.admin, *ctx.therapists]:
        if user is None or second_factor.is_enrolled(ctx.session, user):
            continue
        second_factor.set_secret(ctx.session, user, second_factor.demo_secret(user.email), now=clock.now())
        ctx.count("staff second factors")


def demo_second_factor_lines() -> list[str]:
    example = "therapist1@demo.example"
    return [
        "Staff (admin, therapists) log in with a second factor. For the demo accounts:",
        "  flask --app wsgi users totp EMAIL   prints the current 6-digit code, e.g.",
        f"  flask --app wsgi users totp {example}",
        f"  or add the setup key to an authenticator app: {example} -> {second_factor.demo_secret(example)}",
        "  (each demo staff account has its own fixed key; `users totp EMAIL --secret` prints it)",
    ]
