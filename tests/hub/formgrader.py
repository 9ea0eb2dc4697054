"""What the instructor clicks in nbgrader's formgrader, opened in its own browser tab
(/user/<instructor>/formgrader): under JupyterHub ≥ 4.1 the single-user server forbids
being framed (Content-Security-Policy frame-ancestors 'none'), so the formgrader inside
JupyterLab's iframe would stay blank (nbgrader #1870); its own tab is what nbgrader
documents."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

GRADING_TIMEOUT_MS = 300_000  # one autograde from the page: sandboxed kernel, hidden checks


def open_formgrader(page: Page, url: str, user: str) -> None:
    page.goto(f"{url}/user/{user}/formgrader")
    expect(page.locator("#main-table tr")).not_to_have_count(0)


def _assignment_row(page: Page, assignment: str):
    return page.locator("#main-table tr").filter(
        has=page.locator("td.name", has_text=re.compile(rf"^\s*{assignment}\s*$")))


def _modal_text(page: Page, timeout: int) -> str:
    modal = page.locator(".modal.in")
    expect(modal).to_be_visible(timeout=timeout)
    settle(page)
    return modal.inner_text()


def settle(page: Page) -> None:
    """Let bootstrap's fade-in (0.15 s) and slide-in (0.3 s) of the dialog finish, so
    that the screenshot shows it, not a half-transparent frame."""
    page.wait_for_function(
        "() => { const m = document.querySelector('.modal.in');"
        " return m && getComputedStyle(m).opacity === '1'; }", timeout=10_000)
    page.wait_for_timeout(400)


def close_modal(page: Page) -> None:
    page.locator(".modal.in .modal-footer button").last.click()
    expect(page.locator(".modal.in")).to_have_count(0)


def click_assignment_action(page: Page, assignment: str, column: str,
                            timeout: int = GRADING_TIMEOUT_MS) -> str:
    """Click the link of a column (collect, generate-feedback, release-feedback) on the
    assignment's row of Manage Assignments; the result dialog's text (left open)."""
    _assignment_row(page, assignment).locator(f"td.{column} a").click()
    return _modal_text(page, timeout)


def submissions_count(page: Page, assignment: str) -> int:
    return int(_assignment_row(page, assignment).locator("td.num-submissions").inner_text())


def open_submissions(page: Page, assignment: str) -> None:
    _assignment_row(page, assignment).locator("td.num-submissions a").click()
    page.wait_for_url(re.compile(rf"/formgrader/manage_submissions/{assignment}"))
    expect(page.locator("#main-table tr")).not_to_have_count(0)


def autograde(page: Page, student: str) -> str:
    """The autograde link on the student's row of Manage Submissions; the dialog's text."""
    row = page.locator("#main-table tr").filter(has=page.locator("td", has_text=student))
    row.locator("td.autograde a").click()
    return _modal_text(page, GRADING_TIMEOUT_MS)


def open_manual_grading(page: Page, url: str, user: str, assignment: str, notebook: str,
                        student: str) -> None:
    """Manual Grading → assignment → notebook → the student's submission (its row, shown
    by the student's name, is found through the formgrader's own API by student id)."""
    base = f"{url}/user/{user}/formgrader"
    page.goto(f"{base}/gradebook/{assignment}/{notebook}")
    r = page.request.get(f"{base}/api/submitted_notebooks/{assignment}/{notebook}")
    assert r.ok, f"formgrader API: {r.status}"
    submission = next(s["id"] for s in r.json() if s["student"] == student)
    # Names are hidden by default ("Submission #1"): click the link that is shown.
    page.locator(f"#main-table a[href$='/{submission}']:visible").first.click()
    page.wait_for_selector("input.score")


def show_cell(page: Page, grade_id: str) -> None:
    """Scroll the manual-grading page so that the cell's score box is near the top (the
    page has a fixed navigation bar at the bottom)."""
    page.locator(f"input.score#{grade_id}").evaluate(
        "el => { el.scrollIntoView({block: 'start'}); window.scrollBy(0, -80); }")
    page.wait_for_function("() => document.readyState === 'complete'")


def give_points(page: Page, grade_id: str, points: float, comment: str | None = None) -> None:
    """Type points (and a comment) into the manual-grading page, as a grader does: the
    page saves a box when it loses focus, showing ↻ until the server has it."""
    _type(page, f"input.score#{grade_id}", str(points))
    if comment is not None:
        _type(page, f"textarea#{grade_id}-comment", comment)


def _type(page: Page, selector: str, text: str) -> None:
    box = page.locator(selector)
    box.fill(text)
    box.press("Tab")
    expect(page.locator(".save-icon.glyphicon-refresh")).to_have_count(0, timeout=60_000)


def assert_saved(page: Page, grades: dict[str, tuple[float, str | None]]) -> None:
    """Reload the manual-grading page: the points and comments come from the server."""
    page.reload()
    page.wait_for_selector("input.score")
    for grade_id, (points, comment) in grades.items():
        expect(page.locator(f"input.score#{grade_id}")).to_have_value(str(points))
        if comment is not None:
            expect(page.locator(f"textarea#{grade_id}-comment")).to_have_value(comment)
