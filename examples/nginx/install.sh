#!/usr/bin/env sh
# Installs what the nginx example needs from Debian's packages: nginx (the light build) and jq.
# Idempotent: does nothing when both are there. Needs root, or sudo that asks no password: it runs
# `sudo -n` and never waits at a password prompt (it says what it needs and exits 1 instead).
set -eu
if command -v nginx >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "install.sh: installing nginx-light and jq needs root or sudo without a password (sudo -n);" \
    "install them yourself (sudo apt-get install nginx-light jq) and run again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx-light jq >/dev/null
# The example runs its own nginx under its own prefix; the package's service is not needed.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
command -v nginx >/dev/null && command -v jq >/dev/null
