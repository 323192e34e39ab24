"""The browser the tests drive: Debian's chromium through Playwright (scripts/setup-browser.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Debian's chromium (scripts/setup-browser.sh), started as the machine's closed network needs.
CHROMIUM = Path(os.environ.get("PLANNING_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sync_playwright_or_skip():
    """Playwright's ``sync_playwright`` once chromium is there; skip without them, unless
    PLANNING_REQUIRE_BROWSER=1 (CI), where a missing browser fails."""
    required = os.environ.get("PLANNING_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (pip install -e '.[browser]')")
    if not CHROMIUM.is_file():
        if required:
            pytest.fail(f"{CHROMIUM} not found; run scripts/setup-browser.sh")
        pytest.skip(f"{CHROMIUM} not found; run scripts/setup-browser.sh")
    return sync_playwright
