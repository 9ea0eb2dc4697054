"""After nbgrader's SaveAutoGrades: held parts need a person, and a person's grade of an
automatically graded part applies to exactly what that person saw.

nbgrader's SaveAutoGrades clears `needs_manual_grade` whenever an automatic score exists,
so a held part (dropout_kit.engine.review; recorded with 0 points) would look graded. This
step sets it again, so the formgrader lists the submission as needing manual grading, and
flags the submission (the formgrader's "Flagged?" column).

What a grader saw of an automatically graded part is its fingerprint (part_fingerprint):
the student's cells before it, the files handed in with the notebook that the run read, up
to the part's own checks, before writing them (dropout_kit.engine.file_reads), and the
part's automatic result check by check (which checks passed, not measured values or
messages). It is kept at every autograde in a table of the kit's own in the gradebook's
database (GRADED_PARTS). A manual score of an automatically graded part (a reviewer's
grade of a held part, or an instructor's override) stands while the fingerprint is the one
of the autograde before it was given, and is cleared as soon as it differs: a held part
then waits for a person again; a part no longer held counts its new automatic score, so
`nbgrader export` gives exactly that. Hand-graded cells (answers, plots) are never touched.
A manual score from before the kit kept fingerprints stands once, and the fingerprint is
kept from then on.
"""
from __future__ import annotations

import hashlib
import json

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy import Column, MetaData, String, Table, select

from dropout_kit.cells import grade_id
from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.engine.file_reads import read_through
from dropout_kit.engine.review import HELD, review_of
from dropout_kit.engine.safe_execute import FILES_READ
from dropout_kit.integrity.scan import is_autograder_cell, student_cells

_metadata = MetaData()
GRADED_PARTS = Table(
    "dropout_kit_graded_parts", _metadata,
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # part_fingerprint at the last autograde
)


def automatic_result(cell: NotebookNode, log) -> object:
    """The part's automatic result as a grader sees it: check by check for the kit's cells,
    the score for other autograder cells (held or not)."""
    for output in cell.get("outputs", []):
        payload = output.get("data", {}).get(CHECKS_MIME)
        if isinstance(payload, dict):
            return {"error": bool(payload.get("error")),
                    "checks": [[c.get("name"), c.get("points"), bool(c.get("passed"))]
                               for c in payload.get("checks", [])]}
    review = review_of(cell)
    if review is not None:
        return {"score": review.get("suggested")}
    return {"score": utils.determine_grade(cell, log)[0]}


def part_fingerprint(nb: NotebookNode, index: int, files_read: dict | None, log) -> str:
    """sha256 of what the grader of the autograder cell at `index` saw (see the module's text)."""
    digest = hashlib.sha256()
    for cell_index in student_cells(nb):
        if cell_index < index:
            digest.update(nb.cells[cell_index].source.encode("utf-8"))
            digest.update(b"\0")
    seen = {"files": sorted(read_through(files_read, index).items()),
            "result": automatic_result(nb.cells[index], log)}
    digest.update(json.dumps(seen, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


class HoldForReview(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        held = resources.get(HELD) or {}
        info = resources["nbgrader"]
        key = {"assignment": info["assignment"], "notebook": info["notebook"], "student": info["student"]}
        with Gradebook(info["db_url"]) as gb:
            _metadata.create_all(gb.engine, tables=[GRADED_PARTS], checkfirst=True)
            for index, cell in enumerate(nb.cells):
                if is_autograder_cell(cell):
                    fingerprint = part_fingerprint(nb, index, resources.get(FILES_READ), self.log)
                    self._part(gb, {**key, "grade_id": grade_id(cell)}, fingerprint, grade_id(cell) in held)
            if held:  # nbgrader's own flag: the formgrader's "Flagged?" column shows the submission
                gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"]).flagged = True
            gb.db.commit()
        return nb, resources

    def _part(self, gb: Gradebook, row: dict, fingerprint: str, held: bool) -> None:
        student, part = row["student"], row["grade_id"]
        grade = gb.find_grade(part, row["notebook"], row["assignment"], student)
        where = [GRADED_PARTS.c[name] == value for name, value in row.items()]
        before = gb.db.execute(select(GRADED_PARTS.c.fingerprint).where(*where)).scalar()
        if grade.manual_score is not None and before is not None and before != fingerprint:
            self.log.warning("Student %s: %s: what was graded by hand changed (cells, files read or "
                             "checks' results); the manual %g points are cleared", student, part,
                             grade.manual_score)
            grade.manual_score = None
            grade.needs_manual_grade = held or grade.auto_score is None
        elif grade.manual_score is not None:
            self.log.info("Student %s: %s: the manual %g points stand (what was graded is unchanged)",
                          student, part, grade.manual_score)
            if held:
                grade.needs_manual_grade = False  # a person graded exactly this
        elif held:
            grade.needs_manual_grade = True
        if before is None:
            gb.db.execute(GRADED_PARTS.insert().values(**row, fingerprint=fingerprint))
        elif before != fingerprint:
            gb.db.execute(GRADED_PARTS.update().where(*where).values(fingerprint=fingerprint))
