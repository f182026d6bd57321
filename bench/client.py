"""A small HTTP client for the benchmarks: cookies, the login form's CSRF token, no
redirect following (a redirect to the login page must be seen, not followed)."""
from __future__ import annotations

import datetime as dt
import http.client
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

USER_AGENT = "icbt-bench/1"  # wrk sends the same: Flask-Login's strong session protection
# ties the session to the address and user agent it was made with.
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class BenchHTTPError(RuntimeError):
    pass


def totp_codes(email: str, now: dt.datetime | None = None) -> list[str]:
    """What an authenticator app shows for a demo or bench staff account (fixed secret, see
    ``icbt.security.demo``): this 30-second step's code, then the next step's. A code is
    single use, so a second login of the same account within one step needs the next one
    (the server accepts one step either side)."""
    from icbt.security.second_factor import code_at, demo_secret, step_of

    secret = demo_secret(email)
    step = step_of(now or dt.datetime.now(dt.timezone.utc))
    return [code_at(secret, step), code_at(secret, step + 1)]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float


@dataclass
class Client:
    host: str
    port: int
    timeout: float = 30.0
    cookies: dict[str, str] = field(default_factory=dict)
    observer: Callable[[str, str, Reply], None] | None = None  # (method, path, reply) of every request

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"User-Agent": USER_AGENT, "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    cookie_value = rest.split(";", 1)[0]
                    if "expires=thu, 01 jan 1970" in value.lower() or cookie_value == "":
                        self.cookies.pop(key.strip(), None)
                    else:
                        self.cookies[key.strip()] = cookie_value
        finally:
            conn.close()
        reply = Reply(response.status, reply_headers, text, time.perf_counter() - started)
        if self.observer is not None:
            self.observer(method, path, reply)
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post_form(self, page_path: str, form: dict[str, str], action: str | None = None) -> Reply:
        """GET ``page_path``, take its CSRF token, POST ``form`` to ``action`` (default: the page)."""
        page = self.get(page_path)
        match = CSRF.search(page.body)
        if page.status != 200 or not match:
            raise BenchHTTPError(f"no form at {page_path} ({page.status})")
        return self.request("POST", action or page_path, {**form, "csrf_token": match.group(1)})

    def log_in(self, email: str, password: str) -> Reply:
        """Password, then (staff) the second factor, as a person with an authenticator app."""
        reply = self.post_form("/auth/login", {"email": email, "password": password})
        if reply.status != 302:
            raise BenchHTTPError(f"login of {email} answered {reply.status}")
        location = urllib.parse.urlsplit(reply.headers.get("location", "")).path
        if location == "/auth/two-factor":
            for code in totp_codes(email):
                reply = self.post_form(location, {"code": code})
                if reply.status == 302:
                    break
            else:
                raise BenchHTTPError(f"second factor of {email} refused ({reply.status})")
        # A browser follows the redirect to its landing page and keeps the cookie that page
        # sets (the session then holds its CSRF token, as it does for every later request).
        landing = urllib.parse.urlsplit(reply.headers.get("location", "")).path
        if landing:
            self.get(landing)
        return reply

    def log_out(self, from_path: str) -> Reply:
        return self.post_form(from_path, {}, action="/auth/logout")
