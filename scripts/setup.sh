#!/usr/bin/env bash
# One-time (and idempotent) set-up for `make run` / `make test` on a fresh machine:
# a virtualenv with the pinned packages, the Kafka jars, the OTLP test collectors (Go), and
# Prometheus and Chromium when we are root.
# Every missing prerequisite is named with the command that installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STATE=${TICKWATCH_STACK_STATE_DIR:-.tickwatch}
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

find_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

apt_install() {  # apt_install PACKAGE... : only as root, only when apt-get exists
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
    return 0
  fi
  return 1
}

# --- Python ------------------------------------------------------------------------------
PY=$(find_python) || die "Python 3.11+ is required (Debian: apt-get install python3 python3-venv)."
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV with $($PY --version)"
  "$PY" -m venv "$VENV" || die "could not create a virtualenv (Debian: apt-get install python3-venv)."
fi
STAMP="$VENV/.tickwatch-installed"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "installing Python packages (pinned in pyproject.toml)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  touch "$STAMP"
fi

# --- Java + Maven + the Kafka jars --------------------------------------------------------
if ! command -v java >/dev/null 2>&1; then
  apt_install openjdk-17-jre-headless || die "Java 17+ is required for Kafka (Debian: apt-get install openjdk-17-jre-headless)."
fi
JAVA_MAJOR=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == "1") ? v[2] : v[1]}')
[ "${JAVA_MAJOR:-0}" -ge 17 ] || die "Java 17+ is required for Kafka; found Java ${JAVA_MAJOR:-unknown}."
if ! command -v mvn >/dev/null 2>&1; then
  apt_install maven || die "Maven is required to fetch the Kafka jars (Debian: apt-get install maven)."
fi
"$VENV/bin/python" -m tickwatch.stack.kafka_broker --fetch-jars --state-dir "$STATE" ||
  die "could not resolve the Kafka jars with Maven (see the messages above)."

# --- the OpenTelemetry Collector the OTLP tests send to (built with ocb, cached) ----------
if ! command -v go >/dev/null 2>&1; then
  apt_install golang-go ||
    say "not root: Go missing, so the OTLP tests will fail (apt-get install golang-go)."
fi
if command -v go >/dev/null 2>&1; then
  # Not fatal here: `make run` does not need it; the OTLP tests then fail naming the cause.
  "$VENV/bin/python" -m tests.tickwatch.telemetry.otelcol --build --state-dir "$STATE" ||
    say "could not build the test collector (ocb needs Go >= 1.25; see above): the OTLP tests will fail."
fi

# --- The S3 server (gofakes3 from the Go module proxy) for the archive ----------------------
if [ -x "$STATE/bin/gofakes3" ]; then
  :
elif command -v go >/dev/null 2>&1 || apt_install golang-go; then
  say "building the S3 server (gofakes3) into $STATE/bin"
  "$VENV/bin/python" -c "from pathlib import Path; from tickwatch.stack.s3_server import ensure_binary; ensure_binary(Path('$STATE/bin'))" ||
    die "could not build the S3 server with Go (see $STATE/bin/build.log)."
else
  say "Go missing: the local S3 server (archive) will not start (apt-get install golang-go)."
fi

# --- Prometheus + Alertmanager (optional for `make run`, required by the tests) ------------
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if ((${#missing[@]})); then
  apt_install "${missing[@]}" ||
    say "not root: ${missing[*]} missing, so the Prometheus tests will fail (apt-get install ${missing[*]})."
fi
# --- Chromium (the status page's browser tests, through Playwright) ------------------------
# Playwright's own browser download cannot work here: the tests drive Debian's chromium.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium ||
    say "not root: chromium missing, so the browser tests will be skipped (apt-get install chromium)."
fi
say "ready"
