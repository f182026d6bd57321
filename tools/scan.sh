#!/usr/bin/env bash
# External scan of the running app with wapiti (https://wapiti-scanner.github.io), on
# loopback only. Installs wapiti into its own virtual environment (never the project's),
# seeds a throwaway demo instance, serves it with gunicorn over TLS (a self-signed
# certificate for 127.0.0.1) with production's cookie and transport settings
# (tools/scan_wsgi.py), runs an anonymous pass and an authenticated pass per role, and
# prints wapiti's summaries.
#
#   tools/scan.sh                 # port 5131, reports in /tmp/icbt-scan/
#   PORT=5139 OUT=/tmp/x tools/scan.sh
#
# Needs: python3, the project's venv (VENV, default .venv, for flask and gunicorn).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-5131}
OUT=${OUT:-/tmp/icbt-scan}
VENV=${VENV:-.venv}
WAPITI_VENV=${WAPITI_VENV:-/tmp/icbt-wapiti-venv}
MAX_TIME=${MAX_TIME:-420}
BASE="https://127.0.0.1:${PORT}"
AGENT="Mozilla/5.0 (X11; Linux x86_64) icbt-security-scan"
export ICBT_INSTANCE="${OUT}/instance"

if [ ! -x "${WAPITI_VENV}/bin/wapiti" ]; then
  python3 -m venv "${WAPITI_VENV}"
  "${WAPITI_VENV}/bin/pip" install --quiet wapiti3
fi

rm -rf "${OUT}"; mkdir -p "${OUT}"
"${VENV}/bin/flask" --app wsgi db upgrade >/dev/null
"${VENV}/bin/flask" --app wsgi demo --if-empty >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "${OUT}/key.pem" -out "${OUT}/cert.pem" 2>/dev/null
"${VENV}/bin/gunicorn" -b "127.0.0.1:${PORT}" -w 2 --certfile "${OUT}/cert.pem" --keyfile "${OUT}/key.pem" \
  --error-logfile "${OUT}/gunicorn.log" --access-logfile "${OUT}/access.log" tools.scan_wsgi:app &
SERVER=$!
trap 'kill ${SERVER} 2>/dev/null; wait ${SERVER} 2>/dev/null' EXIT
for _ in $(seq 1 30); do curl -kfs "${BASE}/healthz" >/dev/null && break; sleep 1; done

# Logout and the second-factor reset would end the scanner's own session: not crawled.
EXCLUDE=(-x "${BASE}/auth/logout" -x "${BASE}/account/two-factor/disable")
# common = wapiti's default set (sql, xss, permanentxss, exec, file, redirect, ssrf, upload,
# csp, http_headers, cookieflags, ssl...) plus the slower and rarer ones below.
MODULES="common,csrf,crlf,methods,timesql,xxe,htaccess,backup,https_redirect"

scan() {  # name, extra arguments...
  local name=$1; shift
  "${WAPITI_VENV}/bin/wapiti" -u "${BASE}/" --scope folder -m "${MODULES}" --flush-session --verify-ssl 0 -A "${AGENT}" \
    --max-scan-time "${MAX_TIME}" --max-attack-time 90 -f txt -o "${OUT}/${name}.txt" \
    --store-session "${OUT}/${name}-session" "${EXCLUDE[@]}" "$@" >"${OUT}/${name}.log" 2>&1 || true
  echo "== ${name} =="
  grep -E "Crawled pages" "${OUT}/${name}.txt" || true
  # every category with a non-zero count, from each summary (vulnerabilities, anomalies, additionals)
  awk '/^Summary of/ {print; next} /Crawled pages/ {next} /: +[0-9]+$/ && $NF > 0 {print}' "${OUT}/${name}.txt" || true
}

scan anonymous
for email in patient07@demo.example therapist1@demo.example admin@demo.example; do
  # the session is bound to the User-Agent: log in with the scanner's
  COOKIE=$("${VENV}/bin/python" tools/scan_login.py "${BASE}" "${email}" "${AGENT}")
  scan "${email%%@*}" -C "${COOKIE}"
done
echo "== requests the app answered, by method and status (access log) =="
awk '{print $6, $9}' "${OUT}/access.log" | tr -d '"' | sort | uniq -c | sort -rn
echo "Reports: ${OUT}/*.txt"
