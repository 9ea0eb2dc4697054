"""The integrity scan as an autograde step: before the notebook runs, nbgrader's copy of
the submission (after the instructor's cells are restored) is read with `ast`, outside any
kernel (dropout_kit.integrity.scan), and each autograder cell gets the evidence of the
student's cells before it (resources[FINDINGS]). GuardGradeCells holds those parts for
review; the notebook is still run and graded, so the grader sees the automatic score."""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from dropout_kit.engine.review import FINDINGS
from dropout_kit.integrity.scan import scan_notebook


class IntegrityScan(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        student = resources.get("nbgrader", {}).get("student", "?")
        findings = {grade_id: [finding.evidence() for finding in found]
                    for grade_id, found in scan_notebook(nb).items() if found}
        for grade_id, evidence in findings.items():
            self.log.warning("Student %s: autograder cell %s held for review: %s", student, grade_id,
                             "; ".join(evidence[:3]) + (" …" if len(evidence) > 3 else ""))
        resources[FINDINGS] = findings
        return nb, resources
