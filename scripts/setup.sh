#!/usr/bin/env bash
# Create .venv/ at the repository root with the planner and its test tools installed.
# Usage: bash scripts/setup.sh [--run]   (--run also runs the default scenario)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
if [ -x scripts/setup-browser.sh ] || [ -f scripts/setup-browser.sh ]; then
  bash scripts/setup-browser.sh
fi
if [ "${1:-}" = "--run" ]; then
  .venv/bin/planning run scenarios/hampshire.yaml --out out/hampshire
fi
