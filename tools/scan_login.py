"""Log a demo account in through the real pages (second factor included) and print its
session cookie as NAME=VALUE, for the scanner's authenticated pass. The certificate of
the loopback test server is self-signed, so it is not verified.

    python tools/scan_login.py https://127.0.0.1:5131 admin@demo.example "User-Agent of the scanner"

The session is bound to the client's address and User-Agent (Flask-Login's "strong"
protection), so the scanner must send the same User-Agent as this login did.
"""
from __future__ import annotations

import http.cookiejar
import re
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "calm-harbour-2026"


def main(base: str, email: str, agent: str) -> None:
    jar = http.cookiejar.CookieJar()
    loopback_tls = urllib.request.HTTPSHandler(context=ssl._create_unverified_context())  # noqa: S323
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), loopback_tls)
    opener.addheaders = [("User-Agent", agent)]

    def post(path: str, fields: dict[str, str]) -> str:
        page = opener.open(base + path).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        # Over HTTPS the CSRF check also wants a same-site Referer, as a browser sends.
        request = urllib.request.Request(base + path, data=data, headers={"Referer": base + path})
        response = opener.open(request)
        return response.geturl()

    landed = post("/auth/login", {"email": email, "password": PASSWORD})
    if landed.endswith("/auth/two-factor"):
        flask = str(Path(sys.executable).parent / "flask")
        result = subprocess.run([flask, "--app", "wsgi", "users", "totp", email], cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"no demo code for {email}: {result.stderr.strip()}")
        code = result.stdout.split()[0]
        landed = post("/auth/two-factor", {"code": code})
    if "/auth/" in landed:
        raise SystemExit(f"login of {email} failed (landed on {landed})")
    cookie = next(c for c in jar if "session" in c.name)
    print(f"{cookie.name}={cookie.value}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
