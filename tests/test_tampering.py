"""Grades cannot be forged and the hidden checks cannot be read from a submission (issue 12).

The tampering class (tests/tampering/tampering_class.py: the corpus, the forgeries of what
the kernel observes or reports, the attacks on the working folder and on the replies), the
same answers without the attacks (honest twins) and two correct submissions are graded in ONE `nbgrader autograde` run
of a scratch copy of the course (started beside the hostile round: tests/stock_rounds.py),
with the short limits of the hostile run (tests/hostile/grading_run.py), then
`nbgrader generate_feedback` makes every student's feedback page. Then:
  * both commands succeed, the correct students have full marks,
  * in every case each right part keeps its points (recorded, or suggested to the grader
    if the part is held) and each wrong or blank part loses points or is held for review,
    whatever the attack did (one rule: forged points and points an attack cost
    an honest answer both show up), and the attack did run,
  * every case scores exactly what its honest twin scores in the parts it does not hold:
    an attack changes no score (the twins themselves score as the cases state, which checks
    the statements); a part the integrity scan holds is recorded as 0 and needs a person,
    its feedback says only that it awaits review, and no honest submission is held,
  * a person's grade of an automatically graded part stands at a regrade only while what
    was graded is unchanged (the cells, the submitted files the run read, the checks' results),
  * no line of the hidden checks (grader_tests/, and what the instructor's notebook holds
    beyond the released one) appears in any feedback page or graded notebook's outputs,
    in clear or base64 / zlib / hex encoded, unless the student wrote it themselves.
These are expectations on behaviour (submissions in, scores and feedback out): they hold
for any way of running the checks.
"""
from __future__ import annotations

import base64
import binascii
import csv
import html
import json
import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest
from hostile import grading_run
from nbgrader.api import Gradebook
from tampering import corpus, tampering_class
from tampering.working_folder import (  # noqa: F401 - tests of this round, collected here
    test_a_flood_of_replies_costs_its_parts_and_the_notebook_goes_on,
    test_feedback_is_generated_without_the_kernels_files,
    test_the_report_builds_and_is_not_forged,
    test_what_the_kernel_writes_stays_out_of_autograded,
)

from dropout_kit.classroom import gradebook
from dropout_kit.engine import review
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader

pytest_plugins = ["stock_rounds"]
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
CASES = tampering_class.CASES
HONEST = [corpus.honest_id(name) for name in tampering_class.HONEST]
STUDENTS = [corpus.CORRECT[0], *HONEST, *(corpus.student_id(case) for case in CASES), *corpus.CORRECT[1:]]
# A hidden line shorter than this (after stripping) is too common to count as a leak.
MIN_LINE = 20


@dataclass
class Graded:
    run: grading_run.Run
    feedback: subprocess.CompletedProcess  # `nbgrader generate_feedback`


@pytest.fixture(scope="module")
def graded(stock_rounds) -> Graded:
    run = stock_rounds["test_tampering.py"].wait()
    feedback = nbgrader("generate_feedback", dropout.ASSIGNMENT, "--force", cwd=run.course, check=False)
    return Graded(run, feedback)


@pytest.fixture(scope="module")
def grades(graded) -> dict[str, dict[str, gradebook.CellGrade]]:
    return graded.run.grades


# -- what counts as a leak -----------------------------------------------------------------
def text_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_LINE}


def notebook_text(path: Path) -> str:
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)


def hidden_lines(course: Path) -> set[str]:
    """Every non-trivial line of grader_tests/ and of the instructor's notebook that the
    released notebook does not hold."""
    lines: set[str] = set()
    for path in sorted((course / "grader_tests").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            try:
                lines |= text_lines(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue  # the stored networks: weights, not code
    lines |= text_lines(notebook_text(dropout.source_notebook(course)))
    released = notebook_text(dropout.release_notebook(course))
    return {line for line in lines if line not in released}


B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){20,}")


def _as_texts(data: bytes) -> list[str]:
    """The bytes as text, and inflated if they are zlib, gzip or raw deflate data."""
    texts = [data.decode("utf-8", "replace")]
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS, zlib.MAX_WBITS | 16):
        try:
            texts.append(zlib.decompressobj(wbits).decompress(data).decode("utf-8", "replace"))
        except zlib.error:
            pass
    return texts


def decoded_views(text: str) -> list[str]:
    """The text (also with HTML entities decoded), plus what every base64-looking or hex
    run of it decodes (and inflates) to; runs split over lines are joined first."""
    views = [text, html.unescape(text)]
    for source in (text, re.sub(r"\s+", "", text)):
        for run in B64_RUN.findall(source):
            body = run.rstrip("=").replace("-", "+").replace("_", "/")
            for start in range(4):  # a run may begin inside a group of four
                chunk = body[start:]
                if len(chunk) % 4 == 1:  # no whole byte in the last character
                    chunk = chunk[:-1]
                chunk += "=" * (-len(chunk) % 4)
                try:
                    views += _as_texts(base64.b64decode(chunk, validate=True))
                except (binascii.Error, ValueError):
                    pass
        for run in HEX_RUN.findall(source):
            views += _as_texts(bytes.fromhex(run))
    return views


def leaked(hidden: set[str], shown: str, own: str) -> list[str]:
    """Hidden lines found in `shown` (decoded too), except those the student wrote in `own`."""
    views = decoded_views(shown)
    return sorted(line for line in hidden if line not in own and any(line in view for view in views))


@pytest.fixture(scope="module")
def hidden(graded) -> set[str]:
    return hidden_lines(graded.run.course)


# -- the run -------------------------------------------------------------------------------
def test_grading_and_feedback_succeed(graded):
    assert graded.run.returncode == 0, graded.run.log[-5000:]
    assert graded.feedback.returncode == 0, (graded.feedback.stdout + graded.feedback.stderr)[-5000:]
    assert set(graded.run.grades) == set(STUDENTS)


@pytest.mark.parametrize("student", corpus.CORRECT)
def test_correct_students_get_full_marks(grades, student):
    cells = grades[student]
    assert {c: cells[c].score for c in dropout.AUTO_CELLS} == \
        {c: cells[c].max_score for c in dropout.AUTO_CELLS}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_right_parts_keep_their_points(graded, grades, case):
    """Right parts keep their points: recorded, or suggested to the grader if the part is held."""
    automatic, cells = graded.run.automatic(corpus.student_id(case)), grades[corpus.student_id(case)]
    assert {c: automatic[c] for c in case.full} == {c: cells[c].max_score for c in case.full}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_wrong_parts_lose_points_or_are_held(graded, grades, case):
    student = corpus.student_id(case)
    cells, held = grades[student], graded.run.held(student)
    kept = {c: cells[c].score for c in case.lose if c not in held and not cells[c].score < cells[c].max_score}
    assert not kept, f"wrong or blank parts kept full points: {kept}"


def scores(grades, student: str) -> dict[str, float]:
    return {c: grades[student][c].score for c in dropout.AUTO_CELLS}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_attack_changes_no_score_it_does_not_hold(graded, grades, case):
    held = graded.run.held(corpus.student_id(case))
    attacked, twin = scores(grades, corpus.student_id(case)), scores(grades, corpus.honest_id(case.honest))
    assert {c: attacked[c] for c in attacked if c not in held} == {c: twin[c] for c in twin if c not in held}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_honest_twin_scores_as_the_case_states(grades, case):
    cells = grades[corpus.honest_id(case.honest)]
    assert {c: cells[c].score for c in case.full} == {c: cells[c].max_score for c in case.full}
    assert all(cells[c].score < cells[c].max_score for c in case.lose), scores(grades, corpus.honest_id(case.honest))


@pytest.mark.parametrize("student", [*corpus.CORRECT, *HONEST])
def test_no_honest_submission_is_held(graded, student):
    assert graded.run.held(student) == {}


@pytest.mark.parametrize("student", STUDENTS)
def test_held_parts_are_recorded_as_zero_for_a_person(graded, student):
    held = graded.run.recorded_while_held(student)
    assert held == {c: (0.0, True) for c in held}
    assert graded.run.flagged(student) == bool(held)


@pytest.mark.parametrize("student", [corpus.student_id(case) for case in CASES])
def test_feedback_of_a_held_part_says_it_awaits_review_and_nothing_more(graded, student):
    held = graded.run.held(student)
    page = graded.run.feedback_text(student)
    assert (review.PENDING in page) == bool(held)
    evidence = {line for record in held.values() for line in record["evidence"]}
    assert [line for line in evidence if line in page] == []
    assert "근거 (evidence)" not in page and "자동 채점 결과" not in page


@pytest.mark.parametrize("case", [c for c in CASES if c.shown], ids=lambda case: case.name)
def test_the_attack_ran(graded, case):
    outputs = graded.run.every_output_text(corpus.student_id(case))
    assert [word for word in case.shown if word not in outputs] == []


@pytest.mark.parametrize("student", STUDENTS)
def test_no_hidden_line_reaches_the_student(graded, hidden, student):
    own = (graded.run.course / "submitted" / student / dropout.ASSIGNMENT / dropout.NOTEBOOK).read_text(
        encoding="utf-8")
    found = {"feedback": leaked(hidden, graded.run.feedback_text(student), own),
             "outputs": leaked(hidden, graded.run.every_output_text(student), own)}
    assert found == {"feedback": [], "outputs": []}, \
        {where: f"{len(lines)} hidden lines, e.g. {lines[:3]}" for where, lines in found.items()}


# -- the leak detector itself ------------------------------------------------------------------
def test_leak_detector_finds_encoded_lines_and_spares_the_students_own():
    secret = 'def test_hidden_check(ns):  return ns["x"] > 0  # only the grader knows'
    hidden = {secret}
    page = "some report\n{}\nmore"
    encodings = {
        "clear": secret,
        "base64": base64.b64encode(secret.encode()).decode(),
        "zlib+base64": base64.b64encode(zlib.compress(secret.encode())).decode(),
        "wrapped base64": base64.encodebytes(("x" * 3 + secret).encode() * 3).decode(),
        "hex": secret.encode().hex(),
        "zlib+hex": zlib.compress(secret.encode()).hex(),
        "inside a line": f"<pre>  {secret} </pre>",
        "HTML-escaped": html.escape(f"<pre>{secret}</pre>"),
    }
    for name, shown in encodings.items():
        assert leaked(hidden, page.format(shown), own="") == [secret], name
    assert leaked(hidden, page.format(secret), own=f"x = 1\n{secret}\n") == []
    assert leaked(hidden, page.format(base64.b64encode(b"unrelated text " * 5).decode()), own="") == []


# -- a person's grade applies to exactly what was graded -------------------------------------
# Last in this module: it grades one more student four times (the round's results are read).
REVIEWED = "review-subject"
COMMENT = "그림 두 개가 잘 그려졌습니다."
PART = "test_eval_predict"
# Held by a global hook (a no-op here: the suggested score is right); it reads a submitted
# settings file and writes, then reads, a checkpoint.
HOOK = "torch.nn.modules.module.register_module_forward_hook(lambda module, args, output: None)\n"
CHECKPOINT = ("\ntorch.save(net.state_dict(), 'dropout_net.pth')\n"
              "net.load_state_dict(torch.load('dropout_net.pth'))")
READS_SETTINGS = ("import json\n"
                  "if json.load(open('settings.json', encoding='utf-8'))['eval']:\n"
                  "    net.eval()\n"
                  "with torch.no_grad():\n"
                  "    yhat_test = net(xtest)\n"
                  "mse_eval = loss_fn(yhat_test, ytest).item()")


def resubmit(run: grading_run.Run, hook: bool, settings: dict, files: dict[str, bytes] | None = None) -> None:
    """The student hands in the notebook (with or without the hook) and its files; graded again."""
    reference = samples.reference_answers(dropout.source_notebook(run.course))
    answers = {**reference, "dropout_net": reference["dropout_net"] + CHECKPOINT,
               "eval_predict": (HOOK if hook else "") + READS_SETTINGS}
    folder = run.course / "submitted" / REVIEWED / dropout.ASSIGNMENT
    shutil.rmtree(folder, ignore_errors=True)
    samples.write_notebook(samples.assemble(dropout.release_notebook(run.course), answers),
                           folder / dropout.NOTEBOOK)
    for name, data in {"settings.json": json.dumps(settings).encode(), **(files or {})}.items():
        (folder / name).write_bytes(data)
    nbgrader("autograde", dropout.ASSIGNMENT, "--student", REVIEWED, "--force", *grading_run.limit_flags(),
             cwd=run.course, env={"DROPOUT_KIT_SANDBOX": "namespaces", **SINGLE_THREAD_ENV})


def grade_of(run: grading_run.Run, cell: str) -> tuple[float | None, bool]:
    """(manual score, needs manual grading) of the reviewed student's cell."""
    with Gradebook(run.db_url) as gb:
        grade = gb.find_grade(cell, dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED)
        return grade.manual_score, grade.needs_manual_grade


def grade_by_hand(run: grading_run.Run, cells: dict[str, float]) -> None:
    """A person grades, as the formgrader saves it (hand-graded cells get a comment too)."""
    with Gradebook(run.db_url) as gb:
        for cell, points in cells.items():
            grade = gb.find_grade(cell, dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED)
            grade.manual_score, grade.needs_manual_grade = points, False
            if cell in dropout.MANUAL_CELLS:
                gb.find_comment(cell, dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED).manual_comment = COMMENT
        gb.db.commit()


def exported_score(run: grading_run.Run) -> float:
    """The student's total as `nbgrader export` writes it."""
    nbgrader("export", "--to", str(run.course / "grades.csv"), cwd=run.course)
    with open(run.course / "grades.csv", encoding="utf-8") as table:
        return next(float(row["raw_score"]) for row in csv.DictReader(table) if row["student_id"] == REVIEWED)


@pytest.fixture(scope="module")
def reviewed(graded) -> grading_run.Run:
    """The student, held at PART, reviewed: the suggested 3 points given, the plot graded."""
    run = graded.run
    resubmit(run, hook=True, settings={"eval": True})
    assert run.held(REVIEWED).keys() == {PART}
    assert run.held(REVIEWED)[PART]["suggested"] == 3.0
    grade_by_hand(run, {PART: 3.0, "plot_modes": 2.0})
    return run


def test_a_review_stands_when_only_a_file_the_run_writes_itself_is_new(reviewed):
    resubmit(reviewed, hook=True, settings={"eval": True}, files={"dropout_net.pth": b"an old checkpoint"})
    assert grade_of(reviewed, PART) == (3.0, False)


def test_a_review_is_cleared_when_a_file_the_run_reads_changes(reviewed):
    """The cells as reviewed, the settings file read by the notebook now says no net.eval()."""
    resubmit(reviewed, hook=True, settings={"eval": False})
    assert grade_of(reviewed, PART) == (None, True)
    assert grade_of(reviewed, "plot_modes")[0] == 2.0  # hand-graded: never cleared (nbgrader asks to look again)
    with Gradebook(reviewed.db_url) as gb:
        assert gb.find_comment("plot_modes", dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED).manual_comment == COMMENT
    grade_by_hand(reviewed, {PART: 3.0})


def test_a_resubmission_no_longer_held_counts_its_new_automatic_score(reviewed):
    """The hook gone, net.eval() still off: nothing held, the reviewer's 3 points cleared,
    and `nbgrader export` gives the automatic score (plus the hand-graded plot)."""
    resubmit(reviewed, hook=False, settings={"eval": False})
    assert reviewed.held(REVIEWED) == {}
    assert grade_of(reviewed, PART) == (None, False)
    with Gradebook(reviewed.db_url) as gb:
        automatic = gb.find_grade(PART, dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED).auto_score
        others = sum(gb.find_grade(c, dropout.ASSIGNMENT, dropout.ASSIGNMENT, REVIEWED).score
                     for c in dropout.AUTO_CELLS if c != PART)
    assert automatic < 3.0
    assert exported_score(reviewed) == others + automatic + 2.0
