"""SandboxKernelManager starts the kernel the notebook names, as stock nbgrader does: an
unknown name fails (NoSuchKernel), a Python kernel is this environment's python, a kernel
of another language is its own program; all of them in the sandbox."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import NoSuchKernel
from sandboxed_kernel import printed_by

# What the kernel reports: its kernelspec's variable, whether python runs isolated (-I, the
# kit's python), whether the course folder is visible.
PROBE = ("import os, sys; print(os.environ.get('FROM_SPEC', '-'), sys.flags.isolated, "
         "os.path.exists({course!r}))")


def install_kernelspec(kernels: Path, name: str, language: str) -> None:
    """A kernelspec of `language` that runs an IPython kernel of this python, with a marker."""
    folder = kernels / name
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": language, "env": {"FROM_SPEC": name},
    }))


@pytest.fixture
def course(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A course folder with a kernelspec of another language installed, and a student folder."""
    data = tmp_path / "jupyter-data"
    install_kernelspec(data / "kernels", "other", language="otherlang")
    install_kernelspec(data / "kernels", "another-python", language="python")
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    course = tmp_path / "course"
    workdir = course / "autograded" / "s" / "ps1"
    workdir.mkdir(parents=True)
    (course / "gradebook.db").write_text("secret")
    return course, workdir


@pytest.mark.parametrize("kernel_name, expected", [
    ("other", ["other", "0", "False"]),          # its own program (no -I), sandboxed
    ("another-python", ["-", "1", "False"]),     # Python: this environment's python
    ("python3", ["-", "1", "False"]),
])
def test_the_named_kernel_runs_sandboxed(course, kernel_name, expected):
    root, workdir = course
    out = printed_by(PROBE.format(course=str(root / "gradebook.db")), workdir, course=root, kernel_name=kernel_name)
    assert out.split() == expected


def test_an_unknown_kernel_is_no_such_kernel(course):
    root, workdir = course
    with pytest.raises(NoSuchKernel):
        printed_by("1", workdir, course=root, kernel_name="blah")
