#!/usr/bin/env bash
# Idempotent machine and project set-up shared by infra/dev.sh and infra/test.sh:
# system packages the stack needs, the project virtualenv (.venv) and the project installed in it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

apt_install() {
  log "installing Debian packages: $*"
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v kcat >/dev/null || need+=(kcat)
# The dashboard test drives a headless browser (tests/test_superset.py).
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${need[*]} — install them (sudo apt-get install ${need[*]}) and run again"; exit 1
  fi
  apt_install "${need[@]}"
fi
command -v go >/dev/null || { log "Go is needed to build the object store (go.dev toolchain >= 1.24)"; exit 1; }

PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info[:2] in ((3,11),(3,12)), sys.version' \
  || { log "Python 3.11 or 3.12 is required (set PYTHON=...)"; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  rm -f .venv/.installed-*; touch "$stamp"
fi
