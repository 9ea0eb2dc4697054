"""Submissions assembled on the released notebook: the reference solution, a blank one and
realistic mistakes. The demo grades a small class of them; the tests build their corpora
the same way (an answer is the full source of one solution cell, by grade_id).
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from dropout_kit import cells, settings

SOLUTION_IDS = ("split", "my_dropout", "dropout_net", "eval_predict", "plot_modes", "why_dropout")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def reference_answers(source_notebook: Path) -> dict[str, str]:
    """The instructor's solution cells with the solution markers taken out."""
    answers = {}
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        grade_id = cells.grade_id(cell)
        if grade_id in SOLUTION_IDS:
            lines = [line for line in cell.source.splitlines() if line.strip() not in (BEGIN, END)]
            answers[grade_id] = "\n".join(lines).strip("\n")
    return answers


def assemble(release_notebook: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given solution cells filled in."""
    nb = nbformat.read(release_notebook, as_version=4)
    unknown = set(answers) - set(SOLUTION_IDS)
    if unknown:
        raise KeyError(f"not solution cells: {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = cells.grade_id(cell)
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


# Realistic mistakes, each one wrong answer on top of the reference solution.
MISTAKES: dict[str, dict[str, str]] = {
    "shuffled-split": {"split": """\
idx = torch.randperm(100)
xtr, ytr = x[idx[:80]], y[idx[:80]]
xtest, ytest = x[idx[80:]], y[idx[80:]]"""},
    "torch-dropout": {"my_dropout": """\
def my_dropout(x, p, training=True):
    return torch.nn.functional.dropout(x, p, training)"""},
    "no-scaling": {"my_dropout": """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p)"""},
    "trained-on-all-data": {"dropout_net": """\
torch.manual_seed(1)
net = torch.nn.Sequential(
    torch.nn.Linear(in_features=1, out_features=512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(in_features=512, out_features=1),
)
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(x), y)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""},
    "no-eval-mode": {"eval_predict": """\
yhat_test = net(xtest).data
mse_eval = loss_fn(yhat_test, ytest).item()"""},
}


def sample_class(source_notebook: Path) -> dict[str, dict[str, str] | None]:
    """The demo's class: student id → answers (None: hands in the blank release)."""
    reference = reference_answers(source_notebook)
    students: dict[str, dict[str, str] | None] = {"reference": reference, "blank": None}
    for name, wrong in MISTAKES.items():
        students[name] = {**reference, **wrong}
    return students


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def release_notebook(course_root: Path) -> Path:
    return course_root / "release" / settings.ASSIGNMENT / settings.NOTEBOOK


def source_notebook(course_root: Path) -> Path:
    return course_root / "source" / settings.ASSIGNMENT / settings.NOTEBOOK
