"""Grading on submission as the formgrader shows and respects it (issue 34, items 1 and 3).

A copy of a graded class (grading_fixtures: no grading round of its own) with the service's
lock held by this test, as a running service holds it, and a refused folder in its journal:
  * Autograde clicked in the formgrader is refused in plain words (no traceback), and the
    student's autograded folder, its files and the gradebook are unchanged;
  * `nbgrader autograde --force` on the command line is refused the same way, before
    nbgrader removes anything;
  * every list page shows the service's state, the deadline it uses and the refused folder
    with its reason; once the service stops, the banner says so.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import dropout_assignment as dropout
import pytest
from formgrader_server import FormgraderServer
from playwright.sync_api import expect

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.harness.commands import nbgrader
from dropout_kit.on_submission import control
from hub import formgrader as clicks

pytest_plugins = ["grading_fixtures"]

STUDENT = "reference"
REFUSED = {"event": "refused", "student": STUDENT, "folder": f"{STUDENT}+dropout+2026-12-07 06:00:00 UTC+forged",
           "reason": "the folder belongs to another account", "at": 1_796_000_000.0}


@pytest.fixture(scope="module")
def course(parallel_class, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("service") / "course"
    shutil.copytree(parallel_class.root, root)
    return root


@pytest.fixture(scope="module")
def service(course):
    """The service's folder as a running service keeps it: its lock held, its health, a
    journal with one refused folder."""
    paths = CoursePaths.load(course, dropout.ASSIGNMENT)
    folder = control.Folder(paths)
    lock = folder.hold_lock()
    folder.write_health({"paused": False, "after_deadline": False, "queue": 0, "graded": 3,
                         "deadline": "2026-12-11 00:00 KST (UTC 15:00)", "last_error": None})
    folder.journal.write_text(json.dumps(REFUSED) + "\n", encoding="utf-8")
    yield folder
    lock.close()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def gradebook_rows(course: Path) -> dict:
    return dropout.cell_grades(CoursePaths.load(course, dropout.ASSIGNMENT).db_url)


@pytest.fixture(scope="module")
def server(course, service, tmp_path_factory):
    with FormgraderServer(course, tmp_path_factory.mktemp("home")) as running:
        yield running


def test_autograde_clicked_in_the_formgrader_is_refused_and_changes_nothing(course, service, server, chromium):
    autograded = CoursePaths.load(course, dropout.ASSIGNMENT).autograded_dir(STUDENT)
    files, grades = snapshot(autograded), gradebook_rows(course)
    page = chromium.new_page()
    server.open(page, f"formgrader/manage_submissions/{dropout.ASSIGNMENT}")
    expect(page.locator("#main-table")).to_contain_text(STUDENT)
    text = clicks.autograde(page, STUDENT)
    assert "Grading on submission is running" in text and "제출 즉시 채점" in text, text
    assert "Traceback" not in text
    assert snapshot(autograded) == files
    assert gradebook_rows(course) == grades


def test_autograde_on_the_command_line_is_refused_before_anything_is_removed(course, service):
    autograded = CoursePaths.load(course, dropout.ASSIGNMENT).autograded_dir(STUDENT)
    files, grades = snapshot(autograded), gradebook_rows(course)
    done = nbgrader("autograde", dropout.ASSIGNMENT, "--force", f"--student={STUDENT}", cwd=course, check=False)
    assert done.returncode != 0
    assert "Grading on submission is running" in done.stderr
    assert "Removing existing" not in done.stderr
    assert snapshot(autograded) == files
    assert gradebook_rows(course) == grades


@pytest.mark.parametrize("path", ["formgrader/manage_assignments",
                                  f"formgrader/manage_submissions/{dropout.ASSIGNMENT}"])
def test_list_pages_show_the_service_its_deadline_and_refused_folders(server, service, chromium, path):
    page = chromium.new_page()
    server.open(page, path)
    banner = page.locator(f"#kit-service-{dropout.ASSIGNMENT}")
    expect(banner).to_contain_text("실행 중 · running")
    expect(banner).to_contain_text("2026-12-11 00:00 KST (UTC 15:00)")
    expect(banner).to_contain_text("dropout-kit on-submission pause --assignment dropout")
    expect(banner.locator("td", has_text=REFUSED["reason"])).to_be_visible()
    box, viewport = banner.bounding_box(), page.viewport_size
    assert box["y"] + box["height"] < viewport["height"], "the banner is readable without scrolling"


def test_the_api_says_stopped_once_the_service_is_gone(course, server, chromium):
    paths = dataclasses.replace(CoursePaths.load(course, dropout.ASSIGNMENT), assignment="other")
    control.Folder(paths).make()  # an assignment served once, its service not running
    page = chromium.new_page()
    server.open(page, "formgrader/manage_assignments")
    states = {s["assignment"]: s["state"] for s in page.request.get(
        f"{server.url}/dropout-kit/api/on-submission").json()}
    assert states == {dropout.ASSIGNMENT: "running", "other": "stopped"}
