"""What nbgrader may read from an executed autograder cell: a score in [0, points].

nbgrader's own reading (nbgrader.utils.determine_grade) has four traps that a hostile or
merely noisy notebook can spring: any stderr output scores the cell 0; a missing or
non-numeric result earns FULL points; a negative or NaN result earns FULL points; a
result above the cell's points raises and drops the whole submission. The kit's test
cells end in dropout_kit.grading.grade(...), which prints its report to stdout and
returns a number in range, so `GuardGradeCells` (run after Execute, before
SaveAutoGrades) can make the reading strict:
  * stderr in an autograder cell is kept but relabelled stdout (noise is not failure),
  * a cell with an error keeps it (0 points),
  * otherwise the cell must show exactly one finite result in [0, points]; anything else
    becomes an error output (0 points) with the reason, and a warning in the log.
"""
from __future__ import annotations

import math

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool


def reported_score(output: NotebookNode) -> float | None:
    """The number an execute_result shows, or None if it is not one plain number."""
    text = output.get("data", {}).get("text/plain")
    if isinstance(text, list):
        text = "".join(text)
    if not isinstance(text, str):
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


class GuardGradeCells(NbGraderPreprocessor):
    """Turns whatever an autograder cell showed into something nbgrader scores safely."""

    require_score = Bool(
        True, help="an autograder cell that shows no number scores 0 (nbgrader: full points)"
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self._student = resources.get("nbgrader", {}).get("student", "?")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
        if any(output.output_type == "error" for output in cell.outputs):
            return cell, resources
        points = float(cell.metadata.nbgrader["points"])
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        problem = None
        if not results:
            if self.require_score:
                problem = "채점 셀이 점수를 내지 않았습니다."
        elif len(results) > 1:
            problem = "채점 셀이 점수를 여러 번 냈습니다."
        else:
            score = reported_score(results[0])
            if score is None or not math.isfinite(score):
                problem = "채점 셀의 결과가 숫자가 아닙니다."
            elif not 0 <= score <= points:
                problem = f"채점 셀의 점수 {score:g} 이(가) 0~{points:g}점 범위를 벗어났습니다."
        if problem is None:
            return cell, resources
        self.log.warning("Student %s: autograder cell %s: %s Scored 0.", self._student,
                         cell.metadata.nbgrader["grade_id"], problem)
        kept = []
        for output in cell.outputs:
            if output.output_type == "execute_result":
                text = output.get("data", {}).get("text/plain", "")
                kept.append(new_output("stream", name="stdout", text=f"(무시된 결과: {str(text)[:200]})\n"))
            else:
                kept.append(output)
        kept.append(new_output("error", ename="InvalidScore", evalue=problem,
                               traceback=[f"InvalidScore: {problem} 이 셀은 0점입니다."]))
        cell.outputs = kept
        return cell, resources
