"""The score nbgrader records for the kit's autograder cells: the checker's verdict.

SafeExecute grades a kit autograder cell (hidden region `grade("<module>")`) in the checker
process and records the verdict in the notebook's resources. `GuardGradeCells` (after
Execute, before SaveAutoGrades) makes that verdict the only thing nbgrader can read:
  * a kit cell with a recorded verdict shows exactly one result, that score;
  * a kit cell without one (its checks did not finish: an error, a timeout, a dead kernel,
    `--no-execute`) shows an error, which nbgrader scores 0 — never the full points that
    nbgrader gives a test cell with no output.
Every other cell, ordinary nbgrader test cells included, keeps nbgrader's own reading.

It also holds parts for review (dropout_kit.engine.review): an autograder cell, of the kit
or not, with evidence from the integrity scan or from its own checks' flags is recorded
with 0 points, its automatic score shown to the grader as a suggestion beside the evidence.
"""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.engine.broker import kit_test_id
from dropout_kit.engine.review import FINDINGS, HELD, review_output
from dropout_kit.engine.kit_cells import VERDICTS

NO_VERDICT = "채점 셀의 검사가 끝나지 않아 점수가 없습니다."


class GuardGradeCells(NbGraderPreprocessor):
    """Takes each kit autograder cell's score from the checker's record."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self._student = resources.get("nbgrader", {}).get("student", "?")
        self._verdicts = resources.get(VERDICTS, {})
        self._findings = resources.get(FINDINGS, {})
        resources[HELD] = {}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        if kit_test_id(cell) is not None:
            self._take_verdict(cell)
        if utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code":
            evidence = [*self._findings.get(cell.metadata.nbgrader["grade_id"], []), *self._check_flags(cell)]
            if evidence:
                self._hold(cell, evidence, resources)
        return cell, resources

    def _take_verdict(self, cell: NotebookNode) -> None:
        grade_id = cell.metadata.nbgrader["grade_id"]
        kept = [o for o in cell.outputs if o.output_type != "execute_result"]
        if grade_id in self._verdicts:
            kept.append(new_output("execute_result", data={"text/plain": repr(self._verdicts[grade_id])},
                                   execution_count=None))
        elif not any(o.output_type == "error" for o in kept):
            self.log.warning("Student %s: autograder cell %s: %s Scored 0.", self._student, grade_id,
                             "no verdict from the checks.")
            kept.append(new_output("error", ename="NoVerdict", evalue=NO_VERDICT,
                                   traceback=[f"NoVerdict: {NO_VERDICT} 이 셀은 0점입니다."]))
        cell.outputs = kept

    @staticmethod
    def _check_flags(cell: NotebookNode) -> list[str]:
        """What the kit cell's own checks routed to a person (SafeExecute wrote the payload)."""
        if kit_test_id(cell) is None:
            return []
        for output in cell.outputs:
            payload = output.get("data", {}).get(CHECKS_MIME)
            if isinstance(payload, dict):
                return [str(flag) for flag in payload.get("flags", [])]
        return []

    def _hold(self, cell: NotebookNode, evidence: list[str], resources: ResourcesDict) -> None:
        grade_id = cell.metadata.nbgrader["grade_id"]
        suggested, points = utils.determine_grade(cell, self.log)
        kept = [o for o in cell.outputs if o.output_type != "execute_result"]
        for output in kept:
            payload = output.get("data", {}).get(CHECKS_MIME)
            if isinstance(payload, dict):
                payload["held"] = True
        kept += [review_output(evidence, suggested, points),
                 new_output("execute_result", data={"text/plain": "0.0"}, execution_count=None)]
        cell.outputs = kept
        resources[HELD][grade_id] = evidence
        self.log.warning("Student %s: autograder cell %s recorded as 0 until reviewed (automatic "
                         "score %s)", self._student, grade_id, suggested)
