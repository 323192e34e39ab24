#!/bin/sh
# Install the headless browser the map test drives: Debian's chromium and chromium-driver.
# Does nothing when both are already installed. Needs root (or sudo) for apt-get.
#
#   scripts/setup-browser.sh            # install if missing
#   PLANNING_CHROMIUM=/path/to/chromium # tests use another binary instead of /usr/bin/chromium
set -eu

missing=""
for pkg in chromium chromium-driver; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done

if [ -z "$missing" ]; then
  echo "setup-browser: chromium and chromium-driver are installed ($(command -v chromium))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: apt-get not found; install$missing with your package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup-browser: run as root (or install sudo) to install$missing" >&2
    exit 1
  fi
fi

echo "setup-browser: installing$missing"
$SUDO apt-get update
# shellcheck disable=SC2086  # $missing is a list of package names
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
test -x /usr/bin/chromium
echo "setup-browser: done ($(/usr/bin/chromium --version 2>/dev/null || echo chromium))"
