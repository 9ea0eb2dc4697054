"""The student's submitted code: read from the notebook being graded, re-run on other inputs.

During `nbgrader autograde` the kernel's working directory holds the sanitized
submission (autograded/<student>/dropout/dropout.ipynb); the instructor's source
notebook lies beside a kernel started in source/dropout/. Re-running a solution cell
with the lecture's inputs lets a check judge one part without the mistakes of another.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from dropout_kit import cells, settings


def solution_source(grade_id: str, folder: Path | None = None) -> str | None:
    """The source of the cell with this grade_id in the notebook being graded."""
    folder = Path.cwd() if folder is None else folder
    candidates = [folder / settings.NOTEBOOK, *sorted(folder.glob("*.ipynb"))]
    for path in candidates:
        try:
            notebook_cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for cell in notebook_cells:
            if cells.grade_id(cell) == grade_id:
                source = cell.get("source", "")
                return "".join(source) if isinstance(source, list) else source
    return None


@dataclass
class Rerun:
    namespace: dict
    error: BaseException | None
    output: str


def rerun(source: str, namespace: dict, **overrides) -> Rerun:
    """Executes `source` in a copy of `namespace` with `overrides` bound; its output and
    figures are discarded, its exceptions returned (KeyboardInterrupt still propagates)."""
    from IPython.core.inputtransformer2 import TransformerManager

    scope = dict(namespace)
    scope.update(overrides)
    output = io.StringIO()
    error = None
    figures_before = _figure_numbers()
    try:
        code = compile(TransformerManager().transform_cell(source), "<student>", "exec")
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exec(code, scope)
    except Exception as caught:
        error = caught
    finally:
        _close_new_figures(figures_before)
    return Rerun(scope, error, output.getvalue())


def _figure_numbers() -> set[int]:
    import sys
    if "matplotlib.pyplot" not in sys.modules:
        return set()
    return set(sys.modules["matplotlib.pyplot"].get_fignums())


def _close_new_figures(before: set[int]) -> None:
    import sys
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
