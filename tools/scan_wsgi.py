"""The app as tools/scan.sh serves it to the scanner: the embedded default configuration,
except that login throttling allows the scanner's hundreds of failed logins (otherwise
every form attack after the twentieth would meet a 429 and test nothing). Never deploy."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from config import load_config  # noqa: E402
from icbt import create_app  # noqa: E402
from icbt.security.throttle import Backoff  # noqa: E402

config = load_config()
config.THROTTLE_POLICIES = {kind: Backoff(free=100_000, base=1, cap=1, window=60) for kind in ("acct", "ip", "dev", "2fa")}
app = create_app(config)
