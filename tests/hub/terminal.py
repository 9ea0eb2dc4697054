"""A JupyterLab terminal, typed into as a person does (File → New → Terminal).

xterm.js draws the screen on a canvas; with JupyterLab's terminal setting "screen reader
mode" (switched on for the person through the lab's settings API) it also keeps the rows as
text, which is read here. Only the rows on screen exist: the page is made tall while a
command runs, so that its whole output stays on screen."""
from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page, expect

SCREEN = ".jp-MainAreaWidget:not(.lm-mod-hidden) .jp-Terminal .xterm-accessibility-tree"
SETTINGS = "lab/api/settings/@jupyterlab/terminal-extension:plugin"
TALL = {"width": 1400, "height": 3200}


def open_terminal(page: Page, url: str, user: str) -> None:
    xsrf = next(c["value"] for c in page.context.cookies()
                if c["name"] == "_xsrf" and c["path"] == f"/user/{user}/")
    done = page.request.put(f"{url}/user/{user}/{SETTINGS}",
                            data=json.dumps({"raw": json.dumps({"screenReaderMode": True})}),
                            headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"})
    assert done.ok, f"terminal settings: {done.status} {done.text()[:200]}"
    page.goto(f"{url}/user/{user}/lab")  # the lab again, with the setting
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    page.click(".lm-MenuBar-itemLabel:text-is('File')")
    page.locator(".lm-Menu-itemLabel:text-is('New')").hover()
    page.click(".lm-Menu-itemLabel:text-is('Terminal')")
    expect(page.locator(SCREEN)).to_be_attached(timeout=60_000)
    _wait_for_prompt(page, 60)


def _screen(page: Page) -> str:
    return page.locator(SCREEN).inner_text()


def _last_line(page: Page) -> str:
    lines = [line.rstrip() for line in _screen(page).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _wait_for_prompt(page: Page, timeout_s: float) -> None:
    """Until the last line on screen is a shell prompt (ends with `$`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _last_line(page).endswith("$"):
            return
        page.wait_for_timeout(300)
    raise AssertionError(f"no shell prompt in the terminal:\n{_screen(page)}")


def run(page: Page, command: str, timeout_s: float = 300) -> str:
    """Types `command` and Enter; once the shell prompts again after the command's line,
    what the terminal shows after that line. The screen-reader rows lag behind the canvas:
    the prompt that was there before the command counts for nothing."""
    viewport = page.viewport_size
    page.set_viewport_size(TALL)
    try:
        seen_before = _screen(page).count(command)
        page.locator(".jp-MainAreaWidget:not(.lm-mod-hidden) .jp-Terminal").click()
        page.keyboard.type(command)
        page.keyboard.press("Enter")
        deadline = time.monotonic() + timeout_s
        while True:
            text = _screen(page)
            after = text.rsplit(command, 1)[-1]
            lines = [line.rstrip() for line in after.splitlines() if line.strip()]
            if text.count(command) > seen_before and lines and lines[-1].endswith("$"):
                return after
            if time.monotonic() > deadline:
                raise AssertionError(f"`{command}` did not end with a shell prompt:\n{text}")
            page.wait_for_timeout(300)
    finally:
        page.set_viewport_size(viewport)


def flat(text: str) -> str:
    """`text` without any whitespace: lines the terminal wrapped read as one."""
    return re.sub(r"\s+", "", text)
