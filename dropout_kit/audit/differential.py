"""Survivors compared with the reference outside grading: are they different at all?

A surviving mutant's notebook and the reference's are run without their autograder cells in
the course's sandboxed kernel (SafeExecute, as grading runs them), and then the assignment's
`observe(namespace)` (grader_tests/<name>/audit.py, self-contained: it runs in the kernel,
where grader_tests is not visible) reads what the contract fixes: every contract name's value,
the functions' outputs on fixed inputs and seeds, the network's outputs in both modes on its
trained weights and on fixed weights. The values come back to this process and are compared
here (MATCH: the same float32 operations on one machine):
  no observable differs                                        → likely equivalent
  it differs only where an answer the assignment accepts       → accepted by the contract
  differs too (audit.py's ACCEPTED: another seed, more epochs,   (the precedent is named)
  `return x` for `x.clone()`, ...), and outside audit.py's FREE
  observables (what another seed changes) with its values
  anything else                                                → survived: for the instructor,
                                                                 with the differences found
An assignment without audit.py keeps its survivors as they are.

Each notebook runs in a process of its own (`python -m dropout_kit.audit.differential`),
`workers` at a time; observations are kept in the audit's folder, so a rerun reuses them.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import io
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from dropout_kit.assignment import Assignment
from dropout_kit.audit.results import ACCEPTED, EQUIVALENT, SURVIVED, Difference, MutantResult
from dropout_kit.cells import nbgrader_metadata
from dropout_kit.harness import samples

SPEC = "audit.py"  # in grader_tests/<assignment>/
MARKER = "DROPOUT-KIT-AUDIT-OBSERVATIONS "
MATCH = dict(rtol=1e-5, atol=1e-7)
OBSERVATION_CELL = """\
import base64 as _audit_b64, io as _audit_io, torch as _audit_torch
_audit_ns = {{}}
exec(compile({source!r}, "audit.py", "exec"), _audit_ns)
_audit_buffer = _audit_io.BytesIO()
_audit_torch.save(_audit_ns["observe"](globals()), _audit_buffer)
print({marker!r} + _audit_b64.b64encode(_audit_buffer.getvalue()).decode())
"""


def load_spec(assignment: Assignment):
    """The assignment's audit.py as a module (its `observe` and `ACCEPTED`), or None."""
    path = assignment.grader_tests / SPEC
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"audit_spec_{assignment.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SOURCE = path.read_text(encoding="utf-8")
    return module


def observed_notebook(release: Path, answers: dict[str, str], spec_source: str) -> nbformat.NotebookNode:
    """The submission of `answers` without its autograder cells, the observation cell at its end."""
    nb = samples.assemble(release, answers)
    nb.cells = [cell for cell in nb.cells
                if not (nbgrader_metadata(cell).get("grade") and not nbgrader_metadata(cell).get("solution"))]
    nb.cells.append(nbformat.v4.new_code_cell(OBSERVATION_CELL.format(source=spec_source, marker=MARKER)))
    return nb


def run_observation(course_root: Path, assignment: str, notebook: Path, out: Path) -> None:
    """Executes `notebook` with the course's SafeExecute (sandboxed kernel, no checker) and
    writes the observations it printed to `out` (raises when there are none)."""
    from dropout_kit import tempfolders
    from dropout_kit.classroom.course_paths import environment_kept, load_autograde_app
    from dropout_kit.engine.safe_execute import SafeExecute

    with environment_kept():
        config = load_autograde_app(course_root, assignment).config
    nb = nbformat.read(notebook, as_version=4)
    folder = tempfolders.new_folder("dropout-kit-audit-")
    try:
        folder.chmod(0o755)
        resources = {"metadata": {"path": str(folder)}, "nbgrader": {"student": "audit", "assignment": assignment}}
        nb, _ = SafeExecute(config=copy.deepcopy(config)).preprocess(nb, resources)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    for line in printed.splitlines():
        if line.startswith(MARKER):
            out.write_bytes(base64.b64decode(line[len(MARKER):]))
            return
    errors = [f"{o.ename}: {o.evalue}" for o in nb.cells[-1].outputs if o.output_type == "error"]
    raise RuntimeError(f"no observations from {notebook.name}: {'; '.join(errors) or printed[-500:]}")


class Observer:
    """Observations of answers, run `workers` at a time and kept in `folder` by content."""

    def __init__(self, assignment: Assignment, course_root: Path, release: Path, folder: Path, spec):
        self.assignment, self.course_root, self.release, self.spec = assignment, course_root, release, spec
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, answers: dict[str, str]) -> Path:
        """Where the observations of `answers` are kept: by the answers, audit.py and the
        released notebook (its given cells run too), so that none outlives a change to them."""
        given = self.release.read_text(encoding="utf-8")
        key = hashlib.sha256(repr((sorted(answers.items()), self.spec.SOURCE, given)).encode()).hexdigest()[:20]
        return self.folder / f"{key}.pt"

    def observe(self, answers: dict[str, str]) -> dict:
        path = self._path(answers)
        if not path.is_file():
            notebook = path.with_suffix(".ipynb")
            nbformat.write(observed_notebook(self.release, answers, self.spec.SOURCE), notebook)
            done = subprocess.run([sys.executable, "-m", "dropout_kit.audit.differential", str(self.course_root),
                                   self.assignment.name, str(notebook), str(path)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"observation failed: {done.stderr.strip()[-2000:]}")
        import torch
        return torch.load(io.BytesIO(path.read_bytes()), weights_only=True)

    def observe_all(self, answer_sets: list[dict[str, str]], workers: int) -> list[dict]:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(self.observe, answer_sets))


def describe(value) -> str:
    import torch
    if isinstance(value, torch.Tensor):
        if value.numel() == 0 or not value.is_floating_point():
            return f"tensor {tuple(value.shape)} {value.dtype}"
        finite = value[torch.isfinite(value)]
        mean = f", mean {finite.double().mean().item():.4g}" if finite.numel() else ""
        zeros = f", {int((value == 0).sum())} zeros" if (value == 0).any() else ""
        return f"tensor {tuple(value.shape)}{mean}{zeros}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def same(a, b) -> bool:
    import torch
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype
                and (torch.equal(a, b) or (a.is_floating_point()
                                           and torch.allclose(a, b, equal_nan=True, **MATCH))))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b) or abs(a - b) <= MATCH["atol"] + MATCH["rtol"] * abs(b)
    return type(a) is type(b) and a == b


def differences(reference: dict, other: dict) -> list[Difference]:
    missing = object()
    found = []
    for name in list(reference) + [n for n in other if n not in reference]:
        a, b = reference.get(name, missing), other.get(name, missing)
        if a is missing or b is missing or not same(a, b):
            found.append(Difference(name, "(none)" if a is missing else describe(a),
                                    "(none)" if b is missing else describe(b)))
    return found


def covered(found: list[Difference], reference: dict, precedent: dict, seen: dict, free: tuple[str, ...]) -> bool:
    """Whether an accepted answer (`precedent`) differs from the reference wherever the mutant
    (`seen`) does, with the mutant's very values outside the `free` observables."""
    differing = {d.observable for d in differences(reference, precedent)}
    return all(d.observable in differing and (d.observable.startswith(free)
                                              or same(precedent.get(d.observable), seen.get(d.observable)))
               for d in found)


def judge_survivors(assignment: Assignment, scratch, results: list[MutantResult], workers: int | None,
                    out) -> None:
    """Turns each survivor into equivalent, accepted or (still) survived, with its differences."""
    survivors = [r for r in results if r.status == SURVIVED]
    spec = load_spec(assignment) if survivors else None
    if spec is None:
        if survivors:
            print(f"audit: no {SPEC} in {assignment.grader_tests}: survivors not compared with the reference",
                  file=out)
        return
    reference = samples.reference_answers(assignment.source_notebook)
    parts = {r.mutant.part for r in survivors}
    accepted = {name: answers for name, answers in getattr(spec, "ACCEPTED", {}).items() if set(answers) & parts}
    print(f"audit: comparing {len(survivors)} survivors with the reference "
          f"({len(accepted)} accepted answers as precedents)", file=out)
    observer = Observer(assignment, scratch.root, scratch.release_notebook, scratch.root.parent / "observations",
                        spec)
    answer_sets = [reference, *({**reference, **answers} for answers in accepted.values()),
                   *({**reference, r.mutant.part: r.mutant.source} for r in survivors)]
    observed = observer.observe_all(answer_sets, workers or 1)
    base, rest = observed[0], observed[1:]
    precedents = dict(zip(accepted, rest[:len(accepted)]))
    free = tuple(getattr(spec, "FREE", ()))
    for result, seen in zip(survivors, rest[len(accepted):]):
        result.differences = differences(base, seen)
        if not result.differences:
            result.status = EQUIVALENT
            continue
        for name, precedent in precedents.items():
            if result.mutant.part in accepted[name] and covered(result.differences, base, precedent, seen, free):
                result.status, result.precedent = ACCEPTED, name
                break


def main(argv: list[str]) -> int:
    course_root, assignment, notebook, out = argv
    run_observation(Path(course_root), assignment, Path(notebook), Path(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
