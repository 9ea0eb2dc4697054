"""The course's week on a real JupyterHub, driven in headless Chromium (issue 9).

`make hub`'s own program starts the hub (one Unix user per person, Debian's proxy, the
instructor's course, the assignment released); the tests below run in file order, as
the week does: students fetch, validate and submit; the instructor collects, autogrades,
grades by hand and returns feedback from the formgrader; students read it. Every step
leaves a screenshot in build/hub/screenshots/.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import dropout_assignment as dropout
import payloads
import pytest
from playwright.sync_api import expect
from hub.server import HUB_PREFIX, HUB_PYTHON, HubRun, Login, run_as

from dropout_kit.harness import samples
from hub import browser, formgrader, gradebooks, lab, notebooks, terminal

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / "build" / "hub"
PORT = int(os.environ.get("HUB_PORT", "8000"))
HW = "dropout"  # the assignment (homework), and its notebook
EXCHANGE_COURSE = Path("/srv/nbgrader/exchange/dl-dropout")
NO_SCALING_MESSAGE = "살아남은 값은 10배가 되어야 합니다"
PENDING_MANUAL = "채점 대기"
# Student B's two classic mistakes: no 1/(1-p) scaling, prediction in training mode.
MISTAKES = samples.mistakes(dropout.in_course(REPO))
B_MISTAKES = {**MISTAKES["no-scaling"], **MISTAKES["no-eval-mode"]}
MANUAL = {  # student -> {grade_id: (points, comment)}
    0: {"plot_modes": (2, None), "why_dropout": (3, "좋은 설명입니다. 앙상블 관점도 잘 짚었어요.")},
    1: {"plot_modes": (1, "평가모드 그림의 제목이 없습니다."), "why_dropout": (2, None)},
}
HIDDEN_CODE_MARKERS = ["BEGIN HIDDEN TESTS", "dropout_kit.grading", 'grade("test_', "def test_"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the hub creates Unix users: run as root"),
    pytest.mark.skipif(not HUB_PYTHON.exists(),
                       reason=f"no hub environment at {HUB_PREFIX}: `make hub-test` builds it"),
]


class Week:
    """What the scenario shares: the hub, the browser, one page per person, timings."""

    def __init__(self):
        self.hub = HubRun(STATE, PORT)
        self.screens = browser.Screens(STATE / "screenshots")
        self.chromium: browser.Chromium | None = None
        self.pages: dict[str, object] = {}
        self.timings: dict[str, float] = {}
        self.submitted: dict[str, float] = {}  # user → when they last clicked Submit
        self.status_pages: list[str] = []  # what Fetch Feedback brought before the report
        self.service_scores: dict[str, dict] = {}

    def page(self, login: Login):
        """The person's browser tab, logged in (their server spawned) on first use."""
        if login.user not in self.pages:
            page = self.chromium.new_page()
            t0 = time.monotonic()
            browser.log_in(page, self.hub.url, login.user, login.password)
            self.timings[f"log in + spawn {login.user}"] = time.monotonic() - t0
            self.pages[login.user] = page
        return self.pages[login.user]

    def shot(self, login: Login, step: str, **kw) -> None:
        self.screens.shot(self.page(login), f"{login.user}-{step}", **kw)


@pytest.fixture(scope="module")
def week(pytestconfig):
    if port_in_use(PORT):
        pytest.fail(f"127.0.0.1:{PORT} is taken: is `make hub` running? Stop it (Ctrl-C) "
                    "first, or choose another port with HUB_PORT=...")
    w = Week()
    w.hub.start()
    w.timings["hub start (users, course, release, hub)"] = w.hub.start_seconds
    w.chromium = browser.Chromium()
    yield w
    w.chromium.close()
    w.hub.stop()
    report = "\n".join(["", "hub-test timings (s):",
                        *[f"  {name:<48} {seconds:7.1f}" for name, seconds in w.timings.items()],
                        f"screenshots: {w.screens.folder}", ""])
    (STATE / "timings.txt").write_text(report)
    with pytestconfig.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(report)


def COURSE_DB(week: Week) -> Path:  # noqa: N802 - a path, read like a constant
    return week.hub.instructor.home / "course" / "gradebook.db"


def latest_submission(user: str) -> str:
    """The timestamp of `user`'s latest submission folder in inbound/ (as root)."""
    stamps = [d.split("+")[2] for d in os.listdir(EXCHANGE_COURSE / "inbound")
              if d.startswith(f"{user}+{HW}+") and not d.endswith("+forged")]
    return max(stamps)


def wait_for_report(week: Week, student: Login, name: str) -> str:
    """The student fetches feedback until their latest submission's report arrives; the time
    from Submit to the report is recorded, the status page seen meanwhile screenshotted."""
    page = week.page(student)
    stamp = latest_submission(student.user)
    path = f"{HW}/feedback/{stamp}/{HW}.html"

    def read_newest() -> str:
        try:
            return notebooks.get_text(page, week.hub.url, student.user, path)
        except AssertionError:  # not fetched yet
            return ""

    def on_status(text: str) -> None:
        week.status_pages.append(text)
        if len(week.status_pages) == 1:  # kept to be looked at, as the student's browser shows it
            (week.screens.folder / "status-page.html").write_text(text, encoding="utf-8")
            week.shot(student, "status-page-list")

    html = lab.fetch_until_report(page, read_newest, on_status=on_status)
    week.timings[f"submit → report read: {name}"] = time.monotonic() - week.submitted[student.user]
    return html


def submitted_at(report: str) -> str | None:
    """The submission time a feedback page names at its top (UTC, to the second)."""
    found = re.search(r"제출 시각 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", report)
    return found.group(1) if found else None


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def timed(week: Week, name: str, fn, *args):
    t0 = time.monotonic()
    result = fn(*args)
    week.timings[name] = time.monotonic() - t0
    return result


@pytest.fixture(scope="module")
def reference() -> dict[str, str]:
    return samples.reference_answers(dropout.source_notebook(REPO))


def test_student_a_fetches_validates_and_submits(week, reference):
    a = week.hub.students[0]
    page = week.page(a)
    week.shot(a, "lab")
    lab.open_assignments(page)
    week.shot(a, "assignments")
    lab.fetch(page, HW)
    lab.refresh_file_browser(page)
    week.shot(a, "fetched")

    # Validate tells the truth: a my_dropout that does not scale fails its self-check.
    notebooks.write_answers(page, week.hub.url, a.user, {**reference,
                                                         **MISTAKES["no-scaling"]})
    verdict = timed(week, "validate (list button)", lab.validate, page, HW, HW)
    week.shot(a, "validate-self-check-fails")
    assert NO_SCALING_MESSAGE in verdict, verdict
    assert "Success" not in verdict
    lab.close_dialog(page)

    # The right answers, with every payload of tests/payloads.py in the hand-graded answer
    # and in what the plot cell displays (issue 31): open the notebook, the notebook's own
    # Validate button, Submit.
    notebooks.write_answers(page, week.hub.url, a.user, payloads.answers(reference))
    lab.open_notebook(page, HW, HW)
    week.shot(a, "notebook")
    page.locator(".validate-button jp-button, .validate-button button").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=lab.GRADING_TIMEOUT_MS)
    verdict = dialog.inner_text()
    week.shot(a, "validate-success")
    assert "Success! Your notebook passes all the tests." in verdict, verdict
    lab.close_dialog(page)

    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    lab.refresh(page)
    lab.submit(page, HW)
    week.submitted[a.user] = time.monotonic()
    week.shot(a, "submitted")


def test_student_a_reads_the_feedback_without_the_instructor(week):
    """Grading on submission: Fetch Feedback first brings the status page, then the report."""
    a = week.hub.students[0]
    page = week.page(a)
    html = wait_for_report(week, a, "a-on-submission")
    for marker in HIDDEN_CODE_MARKERS:
        assert marker not in html, f"hidden code in {a.user}'s feedback: {marker}"
    assert "[test_split]" in html and "✅" in html and "❌" not in html
    assert PENDING_MANUAL in html  # the hand-graded parts wait for the instructor
    assert any("채점 중" in status for status in week.status_pages), week.status_pages
    lab.open_feedback(page, notebooks.newest_feedback(page, week.hub.url, a.user, HW),
                      "[test_my_dropout_scale]")
    week.shot(a, "feedback-on-submission")


def test_student_b_renamed_notebook_refused_then_submits_twice(week, reference):
    b = week.hub.students[1]
    page = week.page(b)
    lab.open_assignments(page)
    lab.fetch(page, HW)
    # The notebook renamed: nbgrader refuses the submission with its message (the hub's
    # ExchangeSubmit.strict); nothing is lost, the renamed notebook stays in B's home.
    notebooks.rename(page, week.hub.url, b.user, f"{HW}/{HW}.ipynb", f"{HW}/내 과제.ipynb")
    message = lab.submit_refused(page, HW)
    week.shot(b, "renamed-notebook-refused")
    lab.close_dialog(page)
    assert f"{HW}.ipynb: MISSING" in message and "내 과제.ipynb: EXTRA" in message, message
    assert notebooks.get_notebook(page, week.hub.url, b.user, f"{HW}/내 과제.ipynb")
    assert not [d for d in os.listdir(EXCHANGE_COURSE / "inbound") if d.startswith(b.user)]

    # Two submissions, the name restored: first two classic mistakes, which the feedback
    # names minutes later, then the fixed notebook, whose feedback replaces it (the latest
    # submission counts, as in `nbgrader collect`).
    notebooks.rename(page, week.hub.url, b.user, f"{HW}/내 과제.ipynb", f"{HW}/{HW}.ipynb")
    notebooks.write_answers(page, week.hub.url, b.user, {**reference, **B_MISTAKES})
    lab.refresh(page)
    lab.submit(page, HW)
    week.submitted[b.user] = time.monotonic()
    html = wait_for_report(week, b, "b-first-on-submission")
    assert "❌" in html and "net 이 학습모드로 동작합니다" in html and NO_SCALING_MESSAGE in html
    first_stamp, first_path = latest_submission(b.user), notebooks.newest_feedback(page, week.hub.url, b.user, HW)
    assert submitted_at(html) == first_stamp[:19]  # the report names the submission it is about
    lab.refresh_file_browser(page)
    lab.open_feedback(page, first_path, NO_SCALING_MESSAGE)
    week.shot(b, "feedback-mistakes")
    page.locator(".lm-TabBar-tab.jp-mod-current .lm-TabBar-tabCloseIcon").click()  # the report's tab
    page.locator(".lm-TabBar-tab", has_text="Assignments").first.click()

    notebooks.write_answers(page, week.hub.url, b.user, reference)
    lab.submit(page, HW)
    week.submitted[b.user] = time.monotonic()
    html = wait_for_report(week, b, "b-fixed-on-submission")
    assert "✅" in html and "❌" not in html
    # The first report stays where it was, as it was: a tab left open on it names its own,
    # earlier submission, not the one the Assignments list shows last.
    assert submitted_at(html) == latest_submission(b.user)[:19] != first_stamp[:19]
    assert submitted_at(notebooks.get_text(page, week.hub.url, b.user, first_path)) == first_stamp[:19]
    lab.refresh_file_browser(page)
    lab.open_feedback(page, notebooks.newest_feedback(page, week.hub.url, b.user, HW),
                      "[test_my_dropout_scale]")
    week.shot(b, "feedback-fixed")
    assert page.locator(f"{lab.SUBMITTED} .nested_list_item").count() == 2
    week.service_scores = {s.user: gradebooks.cell_scores(COURSE_DB(week), s.user)
                           for s in week.hub.students[:2]}


def test_a_folder_dropped_in_a_classmates_name_is_refused(week):
    """Student A writes a submission folder named as B's into inbound/ (every student can):
    the service refuses it; B's own latest submission stands; the instructor is told."""
    a, b = week.hub.students[0], week.hub.students[1]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime())
    forged = EXCHANGE_COURSE / "inbound" / f"{b.user}+{HW}+{stamp}+forged"
    notebook = a.home / HW / f"{HW}.ipynb"
    done = run_as(a, [str(HUB_PYTHON), "-c",
                      f"import os, shutil; os.mkdir({str(forged)!r}); shutil.copy({str(notebook)!r}, "
                      f"{str(forged)!r}); open({str(forged / 'timestamp.txt')!r}, 'w').write({stamp!r}); "
                      f"open({str(forged / 'submission_secret.txt')!r}, 'w').write('forged')"])
    assert done.returncode == 0, done.stderr
    journal = week.hub.instructor.home / "course" / "autograded" / ".dropout-kit" / "on-submission" / HW
    deadline = time.monotonic() + 30
    while forged.name not in (journal / "journal.jsonl").read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e.get("folder") == forged.name] == ["refused"]
    submitted = week.hub.instructor.home / "course" / "submitted" / b.user / HW / "timestamp.txt"
    assert submitted.read_text().strip() != stamp
    status = run_as(week.hub.instructor, [str(HUB_PREFIX / "bin" / "dropout-kit"), "on-submission", "status"],
                    cwd=week.hub.instructor.home / "course")
    assert "refused: 1" in status.stdout, status.stdout + status.stderr


def test_student_c_fetches_never_submits_and_validate_names_every_unanswered_part(week):
    c = week.hub.students[2]
    page = week.page(c)
    lab.open_assignments(page)
    lab.fetch(page, HW)
    verdict = lab.validate(page, HW, HW)
    week.shot(c, "validate-unanswered")
    lab.close_dialog(page)
    assert "Success" not in verdict
    for stub_start in ["# 여기에 코드를 작성하세요", "def my_dropout(x, p, training=True):",
                       "torch.manual_seed(1)"]:
        assert stub_start in verdict
    assert verdict.count("NotImplementedError") >= 4, verdict


def test_nbgrader_validate_command_reports_failing_self_checks(week, reference):
    """The same verdicts from `nbgrader validate` typed in B's JupyterLab terminal, as the
    README says it (B's notebook changed again after B's last submission); C's from a shell."""
    b, c = week.hub.students[1], week.hub.students[2]
    page = week.page(b)
    notebooks.write_answers(page, week.hub.url, b.user, {**reference, **MISTAKES["no-scaling"]})
    terminal.open_terminal(page, week.hub.url, b.user)
    shown = terminal.run(page, f"nbgrader validate {HW}/{HW}.ipynb")
    week.shot(b, "terminal-validate")
    assert "command not found" not in shown, shown
    assert terminal.flat(NO_SCALING_MESSAGE) in terminal.flat(shown), shown
    assert "Success" not in shown
    done = run_as(c, [str(HUB_PREFIX / "bin" / "nbgrader"), "validate", f"{HW}/{HW}.ipynb"])
    assert done.stdout.count("NotImplementedError") >= 4, done.stdout + done.stderr


def test_students_cannot_read_each_other(week):
    a, b = week.hub.students[0], week.hub.students[1]
    inbound = EXCHANGE_COURSE / "inbound"
    b_submission = next(d for d in os.listdir(inbound) if d.startswith(f"{b.user}+"))
    guess = "+".join(b_submission.split("+")[:3])  # the name without its random part
    probe = f"""
import glob, os, sys
def denied(fn):
    try:
        fn()
    except PermissionError:
        return True
    return False
checks = {{
    "B's home": denied(lambda: os.listdir({str(b.home)!r})),
    "B's notebook": denied(lambda: open({str(b.home / HW / (HW + '.ipynb'))!r}).read()),
    "the inbound listing": denied(lambda: os.listdir({str(inbound)!r})),
}}
checks["B's submission by name"] = not glob.glob({str(inbound)!r} + "/{b.user}+*")
checks["B's submission without its random part"] = not os.path.exists({str(inbound / guess)!r})
print(checks)
sys.exit(0 if all(checks.values()) else 1)
"""
    done = run_as(a, [str(HUB_PYTHON), "-c", probe])
    assert done.returncode == 0, f"student A could read: {done.stdout}{done.stderr}"


def test_hub_restart_keeps_servers_and_exchange(week):
    a = week.hub.students[0]
    before = exchange_snapshot()
    server_pids = singleuser_pids(a)
    assert server_pids, "student A's server is not running"
    timed(week, "hub restart (SIGHUP: the hub process)", week.hub.restart_hub)
    assert singleuser_pids(a) == server_pids, "student A's server was restarted"
    page = week.page(a)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    lab.open_assignments(page)
    week.shot(a, "after-hub-restart")
    assert page.locator(f"{lab.SUBMITTED} > .list_item").count() == 1
    assert exchange_snapshot() == before


def exchange_snapshot() -> dict[str, int]:
    snap = {}
    for dirpath, _, files in os.walk(EXCHANGE_COURSE):
        for f in files:
            p = Path(dirpath) / f
            snap[str(p.relative_to(EXCHANGE_COURSE))] = p.stat().st_size
    return snap


def singleuser_pids(login: Login) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == login.uid and \
                        b"jupyterhub-singleuser" in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def autograded_files(week: Week, student: Login) -> dict[str, tuple[int, int]]:
    folder = week.hub.instructor.home / "course" / "autograded" / student.user / HW
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_autograde_while_grading_on_submission_runs_is_refused_and_loses_nothing(week):
    """The formgrader shows that the service runs; Autograde clicked anyway is refused in
    plain words, and A's graded folder, its files and the gradebook stay as they were."""
    inst, a, b = week.hub.instructor, week.hub.students[0], week.hub.students[1]
    page = week.page(inst)
    formgrader.open_formgrader(page, week.hub.url, inst.user)
    banner = page.locator(f"#kit-service-{HW}")
    expect(banner).to_contain_text("실행 중 · running")
    expect(banner.get_by_role("cell", name=b.user, exact=True)).to_be_visible()  # A's forgery in B's name
    week.shot(inst, "formgrader-service-running")
    files, grades = autograded_files(week, a), gradebooks.cell_scores(COURSE_DB(week), a.user)
    assert files
    formgrader.open_submissions(page, HW)
    text = formgrader.autograde(page, a.user)
    week.shot(inst, "autograde-refused")
    assert "Grading on submission is running" in text and "Traceback" not in text, text
    formgrader.close_modal(page)
    assert autograded_files(week, a) == files
    assert gradebooks.cell_scores(COURSE_DB(week), a.user) == grades


def test_instructor_grades_in_the_formgrader(week):
    inst = week.hub.instructor
    a, b = week.hub.students[0], week.hub.students[1]
    page = week.page(inst)
    # The official round: grading on submission paused first (one gradebook writer), typed
    # in a JupyterLab terminal as the README says it.
    terminal.open_terminal(page, week.hub.url, inst.user)
    shown = terminal.run(page, "dropout-kit on-submission pause")
    week.shot(inst, "terminal-pause")
    assert "paused" in shown and "command not found" not in shown, shown
    # The formgrader has its own tab (its address in logins.json; the lab menu item that
    # would show it blank in a frame is gone), and its links reach the instructor's own lab.
    assert week.hub.logins["formgrader"] == f"{week.hub.url}/user/{inst.user}/formgrader"
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    expect(page.locator(".lm-Menu-itemLabel", has_text="Assignment List")).to_be_visible()
    expect(page.locator(".lm-Menu-itemLabel:text-is('Formgrader')")).to_have_count(0)
    page.keyboard.press("Escape")
    page.goto(f"{week.hub.url}/tree/course/source/{HW}")
    page.wait_for_url(f"**/user/{inst.user}/lab/tree/course/source/{HW}**", timeout=60_000)
    formgrader.open_formgrader(page, week.hub.url, inst.user)
    week.shot(inst, "formgrader")
    log = formgrader.click_assignment_action(page, HW, "collect")
    week.shot(inst, "collected")
    assert "Successfully collected" in log, log
    formgrader.close_modal(page)
    page.reload()
    assert formgrader.submissions_count(page, HW) == 2  # A and B; C never submitted

    formgrader.open_submissions(page, HW)
    for student in (a, b):
        log = timed(week, f"autograde {student.user} (formgrader)", formgrader.autograde,
                    page, student.user)
        week.shot(inst, f"autograded-{student.user}")
        assert f"Successfully autograded '{HW}' for student '{student.user}'" in log, log
        # The kit's sandbox ran the grading kernel, as the instructor, in bubblewrap; and the
        # checker server too, which the first autograde in the instructor's server starts.
        sandboxed = log.count(f"Sandbox: mode=namespaces, user={inst.user}")
        assert sandboxed >= (2 if student is a else 1), log
        assert ("checker server started" in log) == (student is a), log
        formgrader.close_modal(page)

    for index, student in enumerate((a, b)):
        formgrader.open_manual_grading(page, week.hub.url, inst.user, HW, HW, student.user)
        for grade_id, (points, comment) in MANUAL[index].items():
            formgrader.give_points(page, grade_id, points, comment)
        formgrader.assert_saved(page, MANUAL[index])
        formgrader.show_cell(page, "plot_modes")
        week.shot(inst, f"manual-grading-{student.user}")

    formgrader.open_formgrader(page, week.hub.url, inst.user)
    log = timed(week, "generate feedback (formgrader)", formgrader.click_assignment_action,
                page, HW, "generate-feedback")
    week.shot(inst, "feedback-generated")
    assert "Success" in log, log
    formgrader.close_modal(page)
    log = formgrader.click_assignment_action(page, HW, "release-feedback")
    week.shot(inst, "feedback-released")
    assert "Success" in log, log
    formgrader.close_modal(page)


def test_no_payload_runs_in_the_instructors_browser(week):
    """Student A's notebook carries every payload. The instructor opens A's grading page,
    the live notebook from it, A's feedback in the lab's HTML viewer with "Trust HTML", and
    through /files/: no payload writes a file or changes a title, and the grading page,
    under its policy, reports no violation (nothing of A's even tried to run)."""
    inst, a = week.hub.instructor, week.hub.students[0]
    page = week.page(inst)
    page.add_init_script(payloads.WATCH_VIOLATIONS)
    formgrader.open_manual_grading(page, week.hub.url, inst.user, HW, HW, a.user)
    response = page.goto(page.url)
    page.wait_for_selector("input.score")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]  # the hub's, kept
    page.wait_for_timeout(2000)
    assert page.title() == HW
    assert page.evaluate("window.__violations || []") == []
    formgrader.show_cell(page, "why_dropout")
    week.shot(inst, "grading-page-payloads")

    with page.context.expect_page() as opened:  # "Open live notebook": the instructor's lab
        page.locator(".live-notebook a:visible").first.click()
    live = opened.value
    live.wait_for_selector(".jp-NotebookPanel", timeout=120_000)
    live.wait_for_timeout(3000)
    assert payloads.PWNED not in live.title()
    week.screens.shot(live, f"{inst.user}-live-notebook-payloads")
    live.close()

    feedback = f"course/feedback/{a.user}/{HW}/{HW}.html"
    page.goto(f"{week.hub.url}/user/{inst.user}/lab/tree/{feedback}")
    page.wait_for_selector(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe", timeout=120_000)
    page.get_by_role("button", name="Trust HTML").first.click()
    page.wait_for_timeout(3000)
    assert payloads.PWNED not in page.title()
    week.shot(inst, "feedback-trusted-html")
    response = page.goto(f"{week.hub.url}/user/{inst.user}/files/{feedback}")
    assert "sandbox" in response.headers["content-security-policy"]
    page.wait_for_timeout(2000)
    week.shot(inst, "feedback-files")
    for home in (inst.home, a.home):
        assert not list(home.glob("pwned-*")), sorted(p.name for p in home.glob("pwned-*"))


@pytest.mark.parametrize("index", [0, 1], ids=["student-a", "student-b"])
def test_students_read_their_feedback(week, index):
    student = week.hub.students[index]
    page = week.page(student)
    lab.open_assignments(page)
    lab.fetch_feedback(page, HW)
    week.shot(student, "feedback-fetched")
    html_path = notebooks.newest_feedback(page, week.hub.url, student.user, HW)
    lab.open_feedback(page, html_path, "[test_my_dropout_scale]")
    week.shot(student, "feedback")
    html = notebooks.get_text(page, week.hub.url, student.user, html_path)
    for marker in HIDDEN_CODE_MARKERS:
        assert marker not in html, f"hidden code in {student.user}'s feedback: {marker}"
    assert "[test_split]" in html and "✅" in html and "❌" not in html
    assert PENDING_MANUAL not in html  # graded by the instructor
    comment = MANUAL[index]["why_dropout"][1] or MANUAL[index]["plot_modes"][1]
    assert comment in html
    assert not list(student.home.glob("pwned-*"))  # A's own payloads ran nowhere for A either


def test_the_formgrader_round_gives_the_grades_of_grading_on_submission(week):
    course_db = COURSE_DB(week)
    for index, student in enumerate(week.hub.students[:2]):
        official = gradebooks.cell_scores(course_db, student.user)
        on_submission = week.service_scores[student.user]
        for cell in dropout.AUTO_CELLS:
            assert official[cell] == on_submission[cell], (student.user, cell, official, on_submission)
        manual = sum(points for points, _ in MANUAL[index].values())
        assert sum(official.values()) == gradebooks.auto_total(official) + manual
        assert gradebooks.auto_total(official) == 15


def test_stopping_the_hub_removes_its_users_and_processes(week):
    people = [week.hub.instructor, *week.hub.students]
    uids = [p.uid for p in people]
    week.hub.stop()
    for p in people:
        done = subprocess.run(["id", p.user], capture_output=True)
        assert done.returncode != 0, f"user {p.user} still exists"
    left = [e.name for e in Path("/proc").iterdir()
            if e.name.isdigit() and _owner(e) in uids]
    assert not left, f"processes of the removed users: {left}"
    assert not EXCHANGE_COURSE.exists()


def _owner(entry: Path) -> int | None:
    try:
        return entry.stat().st_uid
    except FileNotFoundError:
        return None
