"""The app as tools/scan.sh serves it to the scanner: the embedded default configuration
(SQLite in the instance folder) with production's transport settings - served over TLS,
Secure ``__Host-`` cookies, HSTS, plain HTTP redirected - and login throttling relaxed so
that the scanner's hundreds of failed logins do not all meet a 429 (the throttle has its
own tests). Never deploy this."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from config import ProductionConfig, load_config  # noqa: E402
from icbt import create_app  # noqa: E402
from icbt.security.throttle import Backoff  # noqa: E402

config = load_config("development")
for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE", "SESSION_COOKIE_NAME", "DEVICE_COOKIE_NAME", "FORCE_HTTPS"):
    setattr(config, name, getattr(ProductionConfig, name))
config.THROTTLE_POLICIES = {kind: Backoff(free=100_000, base=1, cap=1, window=60) for kind in ("acct", "ip", "dev", "2fa")}
app = create_app(config)
