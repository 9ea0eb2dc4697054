"""Tampering through the kernel's working folder and through its replies (issue 22, items 4, 5).

Cases for the tampering round (tests/tampering/corpus.py: a `Case`, its honest twin, the
MARKER printed first), and the checks of what they must not reach, written as test
functions over the round's `graded` fixture (tests/test_tampering.py: `Graded`, with the
autograde `run` and the `feedback` command), to be imported into that module.

  working-folder  writes notebooks and files into its working folder: forged.ipynb (every
                  check passed: the class report's pass rates), crash.ipynb and dropout.ipynb
                  (verdicts with a field the report does not know: once a TypeError for the
                  whole class), scores.json, verdicts.json and notes.html. The kernel works in
                  a scratch copy of autograded/<student>/dropout/, so none of it reaches
                  autograded/, `dropout-kit report` or `nbgrader generate_feedback`.
  reply-flood     replaces the kernel's agent by a function that answers each request of the
                  checks with 200 replies of 8 MB: past `SafeExecute.max_reply_bytes` the
                  request is refused, the part scores 0 (as its blank twin), the kernel is
                  restarted and the earlier cells replayed.

Both attacks sit in parts their twin leaves blank (they lose points either way), after the
parts answered right, so the round's rule holds: right parts keep their points, the attack
changes no score. (Tests of the flood's memory: tests/test_bounded_replies.py.)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dropout_assignment as dropout

from dropout_kit.classroom import report
from dropout_kit.classroom.course_paths import CoursePaths

from .corpus import MARKER, POINTS, PRINT_MARKER, Case, honest_id, student_id

BLANK = "raise NotImplementedError()"
WRITTEN = ("forged.ipynb", "crash.ipynb", "dropout.ipynb", "scores.json", "verdicts.json", "notes.html")

# In the working folder: the notebook nbgrader put there, with verdicts of the attacker's
# choosing in every autograder cell (the checks' data output, CHECKS_MIME).
WRITES_WORKING_FOLDER = f"""\
{PRINT_MARKER}
import json, re
POINTS = {POINTS!r}
MIME = "application/vnd.dropout-kit.checks+json"


def _forged(extra):
    with open("dropout.ipynb", encoding="utf-8") as f:
        data = json.load(f)
    for cell in data["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        test = re.search(r'grade\\("(test_[a-z_]+)"\\)', source)
        if cell["cell_type"] != "code" or not test or test.group(1) not in POINTS:
            continue
        points = POINTS[test.group(1)]
        check = {{"name": "forged_everything", "title": "모두 통과", "points": points, "passed": True,
                  "message": "", "gate": False, **extra}}
        verdicts = {{"test_id": test.group(1), "score": points, "max_points": points, "error": "",
                     "checks": [check], "flags": [], **extra}}
        cell["outputs"] = [{{"output_type": "display_data", "metadata": {{}},
                             "data": {{MIME: verdicts, "text/plain": "forged"}}}},
                           {{"output_type": "execute_result", "metadata": {{}}, "execution_count": None,
                             "data": {{"text/plain": str(float(points))}}}}]
    return data


forged, crashing = _forged({{}}), _forged({{"forged": True}})
for name, data in (("forged.ipynb", forged), ("crash.ipynb", crashing), ("dropout.ipynb", crashing)):
    with open(name, "w", encoding="utf-8") as f:
        json.dump(data, f)
    print("WROTE", name)
for name in ("scores.json", "verdicts.json"):
    with open(name, "w") as f:
        json.dump({{"scores": POINTS, "max_scores": POINTS, "passed": True}}, f)
    print("WROTE", name)
with open("notes.html", "w") as f:
    f.write("<h1>full marks</h1>")
print("WROTE notes.html")
{BLANK}"""

# Every request of the checks answered by FLOOD_COUNT replies of FLOOD_MB (one bytes object,
# sent again and again: the kernel needs little memory for it).
FLOOD_COUNT, FLOOD_MB = 200, 8
# The kit's agent replaced: every later request of the checks gets FLOOD_COUNT replies of
# FLOOD_MB each (the same bytes object: the kernel itself needs little memory for it).
FLOOD = f"""\
import os
_kernel = get_ipython().kernel
_blob = os.urandom({FLOOD_MB} * 1024 * 1024)


def _flood(nonce):
    parent = _kernel.get_parent("shell")
    content = {{"data": {{"application/vnd.dropout-kit.reply+json": {{"nonce": nonce}}}},
               "metadata": {{}}, "transient": {{}}}}
    for _ in range({FLOOD_COUNT}):
        _kernel.session.send(_kernel.iopub_socket, "display_data", content, parent=parent,
                             ident=_kernel._topic("display_data"), buffers=[_blob])


__dropout_kit_agent__ = _flood
print("FLOOD", "INSTALLED")"""
FLOODS_REPLIES = f"torch.manual_seed(1)\n{PRINT_MARKER}\n{FLOOD}\n{BLANK}"

WORKING_FOLDER = Case(
    "working-folder", "writes forged.ipynb, crash.ipynb, dropout.ipynb, *.json, notes.html in its working folder",
    {"eval_predict": WRITES_WORKING_FOLDER}, shown=(MARKER, "WROTE forged.ipynb", "WROTE notes.html"))
REPLY_FLOOD = Case(
    "reply-flood", f"the agent replaced: {FLOOD_COUNT} replies of {FLOOD_MB} MB to each request of the checks",
    {"dropout_net": FLOODS_REPLIES}, shown=(MARKER, "FLOOD INSTALLED"))
CASES: tuple[Case, ...] = (WORKING_FOLDER, REPLY_FLOOD)


# -- what the round must show (test functions over tests/test_tampering.py's `graded`) ---------
def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _twin(case: Case) -> str:
    return honest_id(case.honest)


def test_what_the_kernel_writes_stays_out_of_autograded(graded):
    """autograded/<student>/dropout/ holds what nbgrader put there and its executed notebook,
    as for the honest twin; the notebook's verdicts are the checker's."""
    course = graded.run.course
    student, twin = student_id(WORKING_FOLDER), _twin(WORKING_FOLDER)
    folder = course / "autograded" / student / dropout.ASSIGNMENT
    assert _files(folder) == _files(course / "autograded" / twin / dropout.ASSIGNMENT)
    assert not [name for name in WRITTEN if name != dropout.NOTEBOOK and (folder / name).exists()]
    verdicts, damaged = report.read_verdicts(folder, dropout.in_course(course))
    assert damaged == [] and set(verdicts) == set(dropout.AUTO_CELLS)
    assert not [v for cell in verdicts.values() for v in cell.verdicts if v.title == "모두 통과"]


def test_the_report_builds_and_is_not_forged(graded, tmp_path):
    """`dropout-kit report` succeeds; the case's verdicts are its twin's, nothing damaged."""
    course = graded.run.course
    done = subprocess.run([sys.executable, "-m", "dropout_kit.cli", "report", "--course", str(course),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (tmp_path / "index.html").is_file() and (tmp_path / "checks.csv").is_file()
    collected = report.collect(CoursePaths.load(course, dropout.ASSIGNMENT), dropout.in_course(course))
    assert [d for d in collected.damaged if d.student in {student_id(c) for c in CASES}] == []
    rows = {row.student: row for row in collected.rows}

    def passes(student: str) -> dict[str, list[bool]]:
        return {cell: [v.passed for v in r.verdicts] for cell, r in rows[student].cells.items()}

    assert passes(student_id(WORKING_FOLDER)) == passes(_twin(WORKING_FOLDER))


def test_feedback_is_generated_without_the_kernels_files(graded):
    assert graded.feedback.returncode == 0, (graded.feedback.stdout + graded.feedback.stderr)[-3000:]
    feedback = graded.run.course / "feedback"
    student, twin = student_id(WORKING_FOLDER), _twin(WORKING_FOLDER)
    files = _files(feedback / student / dropout.ASSIGNMENT)
    assert dropout.NOTEBOOK.replace(".ipynb", ".html") in files
    assert files == _files(feedback / twin / dropout.ASSIGNMENT)


def test_a_flood_of_replies_costs_its_parts_and_the_notebook_goes_on(graded):
    """The flooded parts score 0 with a note, the kernel is restarted (the flood's replies are
    refused, never kept), and every later cell runs."""
    run, student = graded.run, student_id(REPLY_FLOOD)
    assert "replies to one request passed" in run.log
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in run.notebook(student).cells}
    flooded = "\n".join(str(o.get("evalue", "")) + str(o.get("text", "")) for o in cells["test_dropout_net"].outputs)
    assert "너무 커서" in flooded, flooded
    assert "NotExecuted" not in run.error_names(student)
    # 0, or held for review (the integrity scan flags the agent's name): recorded as 0 until
    # a person grades it, read back as no score yet.
    recorded = {c: run.grades[student][c].score or 0.0 for c in ("test_dropout_net", "test_eval_predict")}
    assert recorded == {"test_dropout_net": 0, "test_eval_predict": 0}
