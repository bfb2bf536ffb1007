#!/usr/bin/env sh
# Installs what the nginx example needs from Debian's packages: nginx (the light build) and jq.
# Idempotent: does nothing when both are there. Needs root (or sudo).
set -eu
if command -v nginx >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install.sh: need root or sudo to install nginx-light and jq" >&2
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
