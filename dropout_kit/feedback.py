"""Keeps hidden-test code out of the feedback students receive.

nbgrader's feedback HTML shows test cells as they ran, hidden regions included
(nbgrader issues #917, #1363). The course config runs nbgrader's own
ClearHiddenTests on the feedback, then this preprocessor, which reduces errors in
test cells to their last line: a traceback would quote the hidden lines it ran.
"""
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils


class ScrubTestTracebacks(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
