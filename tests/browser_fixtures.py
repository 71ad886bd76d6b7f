"""The browser of the browser tests: Debian's chromium driven by Playwright
(``executable_path``, no browser download; ``make test`` installs chromium
with .ci/ensure-chromium). One browser and one event loop per test module.

Test modules import what they use:
``from browser_fixtures import Page, browser, event_loop, expect``.
"""
from __future__ import annotations

import asyncio
import os

import pytest

try:
    from playwright.async_api import Page, async_playwright, expect  # noqa: F401
except ImportError:  # reported by the browser fixture, never skipped
    async_playwright = None
    Page = expect = None

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def event_loop():
    """One loop for the module: the browser is launched once and shared."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
async def browser():
    if async_playwright is None:
        pytest.fail("playwright is not installed in the venv: pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run .ci/ensure-chromium (installs Debian's chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()
