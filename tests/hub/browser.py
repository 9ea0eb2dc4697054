"""Debian's headless Chromium driven by Playwright (no browser download), one browser
context (cookies) per person, a numbered screenshot of every step."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STEP_TIMEOUT_MS = 60_000  # one page action; long steps (grading) pass their own
# What a page shows after a click (a list refreshed, a row added): bounded, and generous
# for a busy 2-core machine (Playwright's default is 5 s).
expect.set_options(timeout=30_000)


class Screens:
    """Numbered screenshots: 01-student-a-assignments.png, ..."""

    def __init__(self, folder: Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0

    def shot(self, page: Page, name: str, full_page: bool = False) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


class Chromium:
    """One headless Chromium (Playwright gives each launch a fresh, temporary profile)."""

    def __init__(self):
        self._pw = sync_playwright().start()
        self.browser: Browser = self._pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=STEP_TIMEOUT_MS)

    def new_page(self) -> Page:
        context = self.browser.new_context(viewport={"width": 1400, "height": 900},
                                           locale="ko-KR")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        return context.new_page()

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def log_in(page: Page, url: str, user: str, password: str) -> None:
    """The hub's login form, then the person's JupyterLab (the server spawns if needed)."""
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{re.escape(user)}/lab"), timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
