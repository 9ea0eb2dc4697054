"""`dropout-kit grade`: a whole class graded on a local Dask cluster by real nbgrader, on
SQLite and on a real PostgreSQL server; resumable; timeouts and failures reported."""
from __future__ import annotations

import datetime
import io
import json

import dropout_assignment as dropout
import nbformat
import pytest
from class_builder import CLASS_CHECK_KEY, GradedClass, grade, new_class_course, run_cli

from dropout_kit.checking import DEFAULT_CHECK_SEED
from dropout_kit.classroom import changes, gradebook
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.outcome import Outcome
from dropout_kit.classroom.progress import Progress
from dropout_kit.classroom.report import write_report
from dropout_kit.engine.check_key import submission_seed
from dropout_kit.harness.course import place_submission

pytest_plugins = ["grading_fixtures", "postgres_fixtures"]


@pytest.fixture(scope="module")
def postgres_class(tmp_path_factory, class_notebooks, postgres_server) -> GradedClass:
    """The class graded by two workers into a PostgreSQL gradebook (NBGRADER_DB_URL, which
    the course config reads)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NBGRADER_DB_URL", postgres_server.database())
        root = new_class_course(tmp_path_factory.mktemp("postgres") / "course", class_notebooks)
        graded = grade(root, workers=2)
        # The report is read while the variable still points at the server.
        write_report(dropout.in_course(root))
        return graded


def test_serial_run_grades_the_class_as_expected(serial_class, class_notebooks):
    assert set(serial_class.grades) == set(class_notebooks)
    assert not serial_class.run.failed and not serial_class.run.timed_out
    totals = {s: sum(gradebook.part_scores(cells, dropout.DROPOUT).values()) for s, cells in serial_class.grades.items()}
    assert totals["reference"] == totals["threads-probe"] == 15
    assert totals["blank"] == 0
    assert 0 < totals["no-scaling"] < 15


@pytest.mark.parametrize("graded", ["parallel_class", "postgres_class"])
def test_parallel_grades_equal_the_serial_run(graded, request, serial_class):
    parallel = request.getfixturevalue(graded)
    assert parallel.run.workers == 2
    assert not parallel.run.failed and not parallel.run.timed_out
    assert parallel.grades == serial_class.grades


def test_postgres_class_went_to_postgres(postgres_class):
    assert postgres_class.db_url.startswith("postgresql")
    assert not (postgres_class.root / "gradebook.db").exists()
    scores = (postgres_class.root / "reports" / dropout.ASSIGNMENT / "scores.csv").read_text(encoding="utf-8")
    assert len(scores.splitlines()) == 1 + len(postgres_class.grades)


@pytest.mark.parametrize(("graded", "forked"), [("serial_class", True), ("parallel_class", False)])
def test_kernels_run_single_threaded_forked_or_fresh(graded, forked, request):
    root = request.getfixturevalue(graded).root
    notebook = (root / "autograded" / "threads-probe" / dropout.ASSIGNMENT / dropout.NOTEBOOK).read_text()
    assert "torch threads: 1" in notebook
    assert f"first process of its namespace: {forked}" in notebook


def printed_check_seeds(graded: GradedClass) -> tuple[list[int], list[str]]:
    """What the probe's dropout_net cell printed, and its code cells as nbgrader graded them."""
    notebook = nbformat.read(graded.root / "autograded" / "threads-probe" / dropout.ASSIGNMENT / dropout.NOTEBOOK,
                             as_version=4)
    text = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    [line] = [line for line in text.splitlines() if line.startswith("check seeds:")]
    return json.loads(line.split(":", 1)[1]), [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_the_checks_draw_the_submissions_secret_seeds_the_same_at_every_grading(serial_class, parallel_class):
    """The probe's my_dropout records torch's initial seed at every call: under the checks of
    each module that calls it, the seed drawn from the course's key and the submission's code
    cells (dropout_kit/engine/check_key.py), the same in two gradings, never the kit's public
    default (besides the seed its own cells set before its self-check)."""
    serial, sources = printed_check_seeds(serial_class)
    parallel, _ = printed_check_seeds(parallel_class)
    secret = {submission_seed(bytes.fromhex(CLASS_CHECK_KEY), sources, module)
              for module in ("test_my_dropout_mask", "test_my_dropout_scale")}
    assert serial == parallel
    assert secret <= set(serial) and len(secret) == 2 and DEFAULT_CHECK_SEED not in serial
    assert len(serial) == 3  # and the seed of the notebook's own cells (1)


def outputs(graded: GradedClass, student: str) -> list[list[dict]]:
    """Each cell's outputs; consecutive text of one stream as one output (where the kernel's
    flushes cut a cell's printed text depends on timing, not on what it computed)."""
    notebook = nbformat.read(graded.root / "autograded" / student / dropout.ASSIGNMENT / dropout.NOTEBOOK, as_version=4)
    cells = []
    for cell in notebook.cells:
        merged: list[dict] = []
        for output in cell.get("outputs", []):
            output = {k: v for k, v in output.items() if k != "execution_count"}
            if merged and output["output_type"] == "stream" and merged[-1]["output_type"] == "stream" \
                    and merged[-1]["name"] == output["name"]:
                merged[-1] = {**merged[-1], "text": merged[-1]["text"] + output["text"]}
            else:
                merged.append(output)
        cells.append(merged)
    return cells


@pytest.mark.parametrize("student", ["reference", "no-scaling"])
def test_a_forked_kernel_computes_what_a_fresh_one_does_bit_for_bit(student, serial_class, parallel_class):
    """The same notebook and hidden checks in a kernel forked from the template (serial class)
    and in one started afresh (parallel class), on this machine: every output the same, to
    the last printed digit (trained losses, the checks' measured values, the plots' bytes)."""
    forked, fresh = outputs(serial_class, student), outputs(parallel_class, student)
    assert any(forked), "nothing was printed"
    assert forked == fresh


def test_progress_has_one_line_per_submission_with_its_time(parallel_class, class_notebooks):
    lines = parallel_class.output.splitlines()
    for student in class_notebooks:
        mine = [line for line in lines if f" {student}: graded " in line]
        assert len(mine) == 1, (student, lines)
        assert mine[0].split(" in ")[-1].split(" s")[0].replace(".", "").isdigit()
    bars = [line for line in lines if "ETA" in line]
    assert bars and f"{len(class_notebooks)}/{len(class_notebooks)}" in bars[-1]
    assert "0 failed" in bars[-1]


def test_state_records_every_submission(parallel_class, class_notebooks):
    paths = CoursePaths.load(parallel_class.root, dropout.ASSIGNMENT)
    recorded = json.loads(paths.state_file.read_text(encoding="utf-8"))["students"]
    assert set(recorded) == set(class_notebooks)
    for student, record in recorded.items():
        assert record["status"] == "graded"
        assert record["checksum"] == changes.submission_checksum(paths, student)
        assert 0 < record["cells_seconds"] < record["seconds"]


def test_force_plans_every_submission(parallel_class, class_notebooks):
    paths = CoursePaths.load(parallel_class.root, dropout.ASSIGNMENT)
    state = changes.GradingState(paths)
    assert changes.plan(paths, state, force=False).to_grade == {}
    assert set(changes.plan(paths, state, force=True).to_grade) == set(class_notebooks)


def test_rerun_grades_nothing_then_only_a_resubmission(serial_class, class_notebooks):
    root = serial_class.root
    autograded = {s: (root / "autograded" / s / dropout.ASSIGNMENT / dropout.NOTEBOOK).stat().st_mtime_ns
                  for s in class_notebooks}

    again = run_cli("grade", "--course", str(root), "--workers", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"0 to grade, {len(class_notebooks)} unchanged" in again.stdout
    assert "0 graded" in again.stdout

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    place_submission(root, "no-scaling", class_notebooks["reference"], assignment=dropout.ASSIGNMENT, when=later)
    resumed = grade(root, workers=2)
    assert resumed.run.plan.to_grade == {"no-scaling": "resubmitted"}
    assert sum(gradebook.part_scores(resumed.grades["no-scaling"], dropout.DROPOUT).values()) == 15
    for student in class_notebooks:
        if student != "no-scaling":
            assert resumed.grades[student] == serial_class.grades[student]
            path = root / "autograded" / student / dropout.ASSIGNMENT / dropout.NOTEBOOK
            assert path.stat().st_mtime_ns == autograded[student]


def test_timeout_is_retried_alone_then_reported(troubled_run):
    root, done = troubled_run
    assert "sleeper: timed out in split" in done.stdout
    assert "will be graded again alone" in done.stdout
    assert "sleeper: TIMED OUT in split" in done.stdout and "(2nd try)" in done.stdout
    assert "1 timed out" in done.stdout
    record = json.loads(CoursePaths.load(root, dropout.ASSIGNMENT).state_file.read_text())["students"]["sleeper"]
    assert record["status"] == "timeout" and record["attempts"] == 2
    assert "split" in record["timed_out_cells"]


def test_failure_is_retried_then_reported_with_exit_code(troubled_run):
    root, done = troubled_run
    assert done.returncode == 1
    assert "renamed: FAILED" in done.stdout
    assert "NOT graded" in done.stdout and "renamed" in done.stdout.split("NOT graded")[1]
    record = json.loads(CoursePaths.load(root, dropout.ASSIGNMENT).state_file.read_text())["students"]["renamed"]
    assert record["status"] == "failed" and record["attempts"] == 2
    assert "handed in: dropout (1).ipynb, timestamp.txt" in record["error"]
    assert (root / "autograded" / ".dropout-kit" / "logs" / dropout.ASSIGNMENT / "renamed.log").read_text()


def test_rerun_retries_failures_but_not_timeouts(troubled_run):
    root, _ = troubled_run
    paths = CoursePaths.load(root, dropout.ASSIGNMENT)
    planned = changes.plan(paths, changes.GradingState(paths), force=False)
    assert planned.to_grade == {"renamed": "failed before"}
    assert planned.timed_out_before == ["sleeper"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def visible_lines(text: str) -> list[str]:
    """What a terminal shows: on each line, what was written after its last carriage return."""
    return [line.rsplit("\r", 1)[-1].rstrip() for line in text.split("\n") if line.rsplit("\r", 1)[-1].strip()]


def test_progress_bar_stays_on_the_last_line_of_a_terminal():
    out = Terminal()
    progress = Progress(2, out)
    progress.done(Outcome("ann", "graded", seconds=3.2, auto_score=15, auto_max=15, worker=1))
    progress.deferred(Outcome("bob", "timeout", seconds=9.0, timed_out_cells=["split"], worker=2))
    progress.refresh()
    progress.done(Outcome("bob", "timeout", seconds=8.0, timed_out_cells=["split"], attempts=2, worker=1))
    progress.close()
    shown = visible_lines(out.getvalue())
    assert [line.split(" ", 1)[1] for line in shown[:-1]] == [
        "ann: graded 15/15 auto points in 3.2 s, worker 1",
        "bob: timed out in split after 9.0 s; will be graded again alone at the end",
        "bob: TIMED OUT in split (those cells scored 0) in 8.0 s (2nd try), worker 1",
    ]
    assert shown[-1].startswith("[" + "#" * 24 + "] 2/2 | 1 graded | 0 failed | 1 timed out | elapsed ")
    assert shown[-1].endswith("ETA 00:00")
