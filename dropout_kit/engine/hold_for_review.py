"""After nbgrader's SaveAutoGrades: held parts need a person, and a person's grade stands.

nbgrader's SaveAutoGrades clears `needs_manual_grade` whenever an automatic score exists,
so a held part (dropout_kit.engine.review; recorded with 0 points) would look graded. This
step sets it again, so the formgrader lists the submission as needing manual grading, and
flags the submission (the formgrader's "Flagged?" column).

A person's grade of a held part (the formgrader's manual score) is kept across regrades
while the student's cells that the part depends on are unchanged: the digest of their
sources when the part was held is kept in the gradebook's database, in a table of the
kit's own (REVIEWS). When those cells changed, the old manual score no longer applies:
it is cleared and the part waits for a person again.
"""
from __future__ import annotations

import hashlib

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy import Column, MetaData, String, Table, select

from dropout_kit.cells import grade_id
from dropout_kit.engine.review import HELD
from dropout_kit.integrity.scan import student_cells

_metadata = MetaData()
REVIEWS = Table(
    "dropout_kit_held_parts", _metadata,
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("sources", String(64), nullable=False),  # sha256 of the student's cells before the part
)


def sources_digest(nb: NotebookNode, autograder_index: int) -> str:
    """The digest of the student's cells that run before the autograder cell at the index."""
    digest = hashlib.sha256()
    for index in student_cells(nb):
        if index < autograder_index:
            digest.update(nb.cells[index].source.encode("utf-8"))
            digest.update(b"\0")
    return digest.hexdigest()


class HoldForReview(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        held = resources.get(HELD) or {}
        if not held:
            return nb, resources
        info = resources["nbgrader"]
        key = {"assignment": info["assignment"], "notebook": info["notebook"], "student": info["student"]}
        indices = {grade_id(cell): index for index, cell in enumerate(nb.cells)}
        with Gradebook(info["db_url"]) as gb:
            _metadata.create_all(gb.engine, tables=[REVIEWS], checkfirst=True)
            for part in held:
                digest = sources_digest(nb, indices[part])
                self._hold(gb, part, {**key, "grade_id": part}, digest, info)
            # nbgrader's own flag: the formgrader's "Flagged?" column shows the submission
            gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"]).flagged = True
            gb.db.commit()
        return nb, resources

    def _hold(self, gb: Gradebook, part: str, row: dict, digest: str, info: dict) -> None:
        grade = gb.find_grade(part, info["notebook"], info["assignment"], info["student"])
        where = [REVIEWS.c[name] == value for name, value in row.items()]
        before = gb.db.execute(select(REVIEWS.c.sources).where(*where)).scalar()
        if grade.manual_score is not None and before == digest:
            grade.needs_manual_grade = False  # a person graded exactly this code
            self.log.info("Student %s: %s: the reviewer's %g points stand (cells unchanged)",
                          info["student"], part, grade.manual_score)
            return
        if grade.manual_score is not None:
            self.log.warning("Student %s: %s: cells changed since the review; the reviewer's %g points "
                             "are cleared", info["student"], part, grade.manual_score)
            grade.manual_score = None
        grade.needs_manual_grade = True
        if before is None:
            gb.db.execute(REVIEWS.insert().values(**row, sources=digest))
        elif before != digest:
            gb.db.execute(REVIEWS.update().where(*where).values(sources=digest))
