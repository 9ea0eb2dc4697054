"""Keeps hidden-test code out of the feedback students receive.

nbgrader's feedback HTML shows test cells as they ran, hidden regions included
(nbgrader issues #917, #1363). The course config runs nbgrader's own ClearHiddenTests
(dropout_kit.engine.clear_hidden_tests) on the feedback, then this preprocessor, which
reduces errors in test cells that had a hidden region to their last line: a traceback would
quote the hidden lines it ran. A visible test (no hidden region) keeps its traceback, as in
stock nbgrader: the student can read every line of it anyway. The kit's cells also lose
their verdicts-as-data output (CHECKS_MIME): the student reads the same verdicts in the
Korean report above it.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry

from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.engine.clear_hidden_tests import ClearHiddenTests


class ScrubTestTracebacks(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        self._hidden = self.hidden_test_cells(resources)
        return super().preprocess(nb, resources)

    def hidden_test_cells(self, resources) -> set[str] | None:
        """grade_ids of the cells whose instructor source has a hidden test region (the
        gradebook keeps it; ClearHiddenTests has already removed it from the notebook);
        None when the gradebook cannot tell, and then every test cell is scrubbed."""
        info = (resources or {}).get("nbgrader", {})
        if not {"db_url", "notebook", "assignment"} <= set(info):
            return None
        begin = ClearHiddenTests(config=self.config).begin_test_delimeter
        try:
            with Gradebook(info["db_url"]) as gb:
                notebook = gb.find_notebook(info["notebook"], info["assignment"])
                return {cell.name for cell in notebook.source_cells if begin in (cell.source or "")}
        except MissingEntry:
            return None

    def preprocess_cell(self, cell, resources, index):
        if not (utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"):
            return cell, resources
        if self._hidden is not None and cell.metadata.nbgrader.get("grade_id") not in self._hidden:
            return cell, resources
        kept = []
        for output in cell.get("outputs", []):
            if CHECKS_MIME in output.get("data", {}):
                continue  # the verdicts as data are for the instructor's tools; the report shows them
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
            kept.append(output)
        cell["outputs"] = kept
        return cell, resources
