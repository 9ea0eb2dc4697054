"""What a student clicks in JupyterLab: nbgrader's Assignments tab (Fetch, Validate,
Submit, Fetch Feedback) and the notebook itself."""
from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

GRADING_TIMEOUT_MS = 180_000  # Validate runs the whole notebook (two trainings)

RELEASED = "#released_assignments_list"
FETCHED = "#fetched_assignments_list"
SUBMITTED = "#submitted_assignments_list"


def open_assignments(page: Page) -> None:
    """Nbgrader → Assignment List, loaded."""
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
    page.wait_for_selector("#assignments", state="attached")
    tab = page.locator(".lm-TabBar-tab", has_text="Assignments")
    if tab.count():  # a restored layout may keep another tab in front
        tab.first.click()
    page.wait_for_selector("#assignments")
    refresh(page)


def refresh(page: Page) -> None:
    page.click("#refresh_assignments_list")
    for box in (RELEASED, FETCHED, SUBMITTED):
        expect(page.locator(f"{box}_loading")).to_be_hidden()


def row(page: Page, box: str, assignment: str):
    return page.locator(f"{box} > .list_item").filter(
        has=page.locator(".item_name", has_text=re.compile(rf"^\s*{assignment}")))


def fetch(page: Page, assignment: str) -> None:
    row(page, RELEASED, assignment).locator("button:text-is('Fetch')").click()
    expect(row(page, FETCHED, assignment)).to_be_visible()


def show_notebooks(page: Page, assignment: str) -> None:
    """Unfold the assignment's notebooks (each with its Validate button)."""
    nested = page.locator(f"{FETCHED} .nested_list_item").first
    if not nested.is_visible():
        row(page, FETCHED, assignment).locator("a.assignment-notebooks-link").click()
    expect(nested).to_be_visible()


def validate(page: Page, assignment: str, notebook: str) -> str:
    """Click the notebook's Validate in the list; the verdict dialog's text (left open)."""
    show_notebooks(page, assignment)
    item = page.locator(f"{FETCHED} .nested_list_item").filter(has_text=notebook)
    item.locator("button:text-is('Validate')").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    return dialog.inner_text()


def close_dialog(page: Page) -> None:
    page.locator(".jp-Dialog .jp-Dialog-button").last.click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def submit(page: Page, assignment: str) -> None:
    before = page.locator(f"{SUBMITTED} .list_item").count()
    row(page, FETCHED, assignment).locator("button:text-is('Submit')").click()
    expect(page.locator(f"{SUBMITTED} .list_item")).not_to_have_count(before,
                                                                      timeout=GRADING_TIMEOUT_MS)


def open_notebook(page: Page, assignment: str, notebook: str) -> None:
    """Open the fetched notebook from the list (JupyterLab opens it in a tab)."""
    show_notebooks(page, assignment)
    page.locator(f"{FETCHED} .nested_list_item a", has_text=notebook).click()
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=GRADING_TIMEOUT_MS)


def fetch_feedback(page: Page, assignment: str) -> None:
    button = page.locator(f"{SUBMITTED} button:text-is('Fetch Feedback')").first
    button.click()
    expect(page.locator(f"{SUBMITTED} a", has_text="view feedback").first).to_be_visible()


def open_feedback(page: Page, html_path: str, scroll_to: str) -> None:
    """(view feedback) opens the folder in the file browser; the page opens from there,
    scrolled to the text `scroll_to`."""
    stamp = html_path.rsplit("/", 2)[1]  # <assignment>/feedback/<timestamp>/<nb>.html
    submission = page.locator(f"{SUBMITTED} .nested_list_item", has_text=stamp)
    submission.locator("a", has_text="view feedback").click()
    name = html_path.rsplit("/", 1)[1]
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text(stamp)  # not the folder shown before
    item = page.locator(".jp-DirListing-item", has_text=name)
    item.dblclick()
    frame = page.frame_locator(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe").first
    expect(frame.locator("body")).to_contain_text("test_split", timeout=60_000)
    frame.get_by_text(scroll_to).first.scroll_into_view_if_needed()


def submit_refused(page: Page, assignment: str) -> str:
    """Click Submit expecting nbgrader to refuse; the dialog's text (left open)."""
    row(page, FETCHED, assignment).locator("button:text-is('Submit')").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=GRADING_TIMEOUT_MS)
    return dialog.inner_text()


def refresh_file_browser(page: Page) -> None:
    page.get_by_role("button", name=re.compile("Refresh the file browser")).click()


def fetch_until_report(page: Page, read_newest, timeout_s: float = 600.0, on_status=None) -> str:
    """What a student does after Submit: refresh the list and click Fetch Feedback whenever
    it offers feedback, until the newest fetched page is the real report (not the status
    page "⏳ 채점 중" that grading on submission puts there meanwhile). `read_newest()`
    gives the newest fetched page's text; `on_status(text)` is called with each status page."""
    deadline = time.monotonic() + timeout_s
    fetch_button = page.locator(f"{SUBMITTED} button:text-is('Fetch Feedback')").first
    offered = page.locator(f"{SUBMITTED} .nested_list_item", has_text="feedback available to fetch")
    while time.monotonic() < deadline:
        refresh(page)
        if offered.count():
            fetch_button.click()
            fetched_by = time.monotonic() + 30
            text = read_newest()
            while not text and time.monotonic() < fetched_by:
                page.wait_for_timeout(500)
                text = read_newest()
            if "test_split" in text:
                return text
            if on_status is not None:
                on_status(text)
        page.wait_for_timeout(2000)
    raise AssertionError(f"no feedback report within {timeout_s:.0f} s of submitting")
