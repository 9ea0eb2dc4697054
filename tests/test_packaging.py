"""The installable package holds no answer and no hidden check.

On most hubs the environment that runs the grading kernel is every student's environment,
so whatever the wheel holds, students can read. The wheel is built as pip builds it and
searched for the lines of the instructor's solution regions and of grader_tests/.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest

from dropout_kit.harness import samples

# Shorter lines are too common to betray anything (`net.eval()`, `return x`).
MIN_LINE = 20
HANGUL = re.compile("[\uac00-\ud7a3]")


def solution_lines(source_notebook: Path, release_notebook: Path) -> set[str]:
    """Lines inside solution regions that the released notebook does not show."""
    released = {line.strip() for cell in nbformat.read(release_notebook, as_version=4).cells
                for line in cell.source.splitlines()}
    lines, inside = set(), False
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker in (samples.BEGIN, samples.END):
                inside = marker == samples.BEGIN
            elif inside and len(marker) >= MIN_LINE and marker not in released:
                lines.add(marker)
    return lines


def check_lines(grader_tests: Path) -> set[str]:
    """What identifies the hidden checks: their Korean messages and titles (every line with
    Hangul) and the names of the check functions."""
    lines = set()
    for module in grader_tests.glob("*.py"):
        for line in module.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if HANGUL.search(line) and len(line) >= MIN_LINE or line.startswith("def test_"):
                lines.add(line)
    return lines


@pytest.fixture(scope="module")
def wheel_text(tmp_path_factory, repo_root) -> dict[str, str]:
    out = tmp_path_factory.mktemp("wheel")
    project = out / "project"  # a clean copy: setuptools reuses an in-tree build/ folder
    project.mkdir()
    shutil.copy2(repo_root / "pyproject.toml", project)
    for folder in ("dropout_kit", "jupyter-config"):
        shutil.copytree(repo_root / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(project)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = out.glob("dropout_kit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}


def test_wheel_holds_the_kit(wheel_text):
    assert "dropout_kit/engine/broker.py" in wheel_text and "dropout_kit/kernel/agent.py" in wheel_text
    # the pages' templates and files, and the file that enables the formgrader extension
    assert {"dropout_kit/pages/templates/kit_feedback.html.j2", "dropout_kit/pages/static/globals.js",
            "dropout_kit/pages/static/formgrader.css"} <= set(wheel_text)
    assert any(name.endswith("etc/jupyter/jupyter_server_config.d/dropout-kit.json") for name in wheel_text)


def test_wheel_holds_no_course_files(wheel_text):
    assert not [name for name in wheel_text if "grader_tests" in name or name.endswith((".ipynb", ".pt"))]


def test_wheel_holds_no_solution(wheel_text, repo_root):
    secrets = solution_lines(dropout.source_notebook(repo_root), dropout.release_notebook(repo_root))
    assert len(secrets) >= 5  # the search is not empty
    found = {(name, line) for name, text in wheel_text.items() for line in secrets if line in text}
    assert not found


def test_wheel_holds_no_hidden_check(wheel_text, repo_root):
    secrets = check_lines(repo_root / "grader_tests" / "dropout")
    assert len(secrets) >= 50
    found = {(name, line) for name, text in wheel_text.items() for line in secrets if line in text}
    assert not found


# Imports every module of the extracted wheel and calls each function shaped like the
# part-2 answer, my_dropout(x, p, ...), on the lecture's example: a working dropout zeroes
# about 90% at p=0.9 and multiplies the survivors by 10.
FIND_DROPOUT = """
import importlib, inspect, json, pkgutil, sys
import torch
import dropout_kit
working = []
for info in pkgutil.walk_packages(dropout_kit.__path__, "dropout_kit."):
    module = importlib.import_module(info.name)
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        params = list(inspect.signature(fn).parameters)
        if params[:2] != ["x", "p"]:
            continue
        x = torch.linspace(1, 2, 10000)
        try:
            out = fn(x, 0.9)
        except Exception:
            continue
        if isinstance(out, torch.Tensor) and out.shape == x.shape:
            kept = out != 0
            if 0.05 < kept.float().mean() < 0.15 and torch.allclose(out[kept], 10 * x[kept]):
                working.append(f"{info.name}.{name}")
print(json.dumps(working))
"""


def test_wheel_holds_no_working_dropout(tmp_path, wheel_text):
    for name, text in wheel_text.items():
        if name.startswith("dropout_kit/"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
                           + FIND_DROPOUT], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
