#!/usr/bin/env bash
# Set up everything repograder needs on this machine; safe to run again.
#   bash scripts/setup.sh          the grader: .venv, Docker engine, sandbox base image
#   bash scripts/setup.sh --dev    also the test tools and the browser for the report tests
# As root on Debian/Ubuntu it installs and starts a Docker engine itself (apt-get). Elsewhere it
# says what is missing; repograder then falls back to the local backend (no isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# 1. System packages (root on Debian/Ubuntu only).
packages=(git docker.io debootstrap python3-venv)
[ "$DEV" = 1 ] && packages+=(chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "not installed: ${missing[*]} (install them with your package manager for full isolation)"
  fi
fi

# 2. Python environment.
# A venv from Debian's interpreter: nobody installs packages into it, so a missing dependency
# fails here as it would on a user's machine (the development interpreter may carry extras).
if [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=${PYTHON:-python3}; fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
extras=""
[ "$DEV" = 1 ] && extras="[dev]"
say "installing repograder${extras} into .venv"
.venv/bin/python -m pip install -q -e ".${extras}"

# 3. Docker engine.
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; then
    say "starting the Docker engine (dockerd, log: /var/log/repograder-dockerd.log)"
    nohup dockerd >/var/log/repograder-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

# 4. Sandbox base image (from a registry when reachable, else offline with debootstrap).
if docker info >/dev/null 2>&1; then
  .venv/bin/repograder sandbox build
else
  say "no Docker engine reachable: repograder will fall back to the LOCAL backend, which does"
  say "NOT isolate student code. Start a Docker engine and run this script again to fix that."
fi
