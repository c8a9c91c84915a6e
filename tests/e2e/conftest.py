"""Browser fixtures for the end-to-end tests: Debian's Chromium driven by Playwright's sync API.

Playwright's own browser download is not used: the tests launch the system Chromium
(PLAYBOOK_CHROMIUM, default /usr/bin/chromium; `manage.py testsuite` installs it when missing).
One browser per test module, a fresh context (cookies, storage) per test.
"""
import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PLAYBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# A baseline job on a small CPU-only machine can take a minute; navigations and clicks get the same room.
DEFAULT_TIMEOUT_MS = 60_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module", autouse=True)
def _allow_sync_playwright_with_django():
    """Playwright's sync API runs an asyncio loop in the test thread; Django's ORM then refuses to run
    ("SynchronousOnlyOperation") unless told that this thread is allowed to."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is needed for the browser tests at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    # --- Content-Security-Policy: a page that breaks the policy fails its test (security part of issue 11).
    violations = []
    page.on("console", lambda msg: violations.append(f"{page.url} ({msg.location.get('url')}:"
                                                     f"{msg.location.get('lineNumber')}): {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert violations == [], "the page broke its Content-Security-Policy:\n" + "\n".join(violations)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
