"""Fingerprints of what a verdict depends on, so that a change to any of it is noticed:
the kit's own code (runner, agent, statistics, execution), torch's version, the course's
configuration, the assignment's source and the hidden checks with their data."""
from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

import dropout_kit

SKIPPED = {".ipynb_checkpoints", "__pycache__"}


def folder_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and not SKIPPED & set(p.relative_to(folder).parts)]


def kit_files() -> list[Path]:
    return [p for p in folder_files(Path(dropout_kit.__file__).resolve().parent) if p.suffix == ".py"]


def digest(files: list[Path], *parts: str) -> str:
    """sha256 over torch's version, `parts` and the files' names and contents, in a stable order."""
    sha = hashlib.sha256()
    for part in (version("torch"), *parts):
        sha.update(part.encode() + b"\0")
    for path in sorted(set(files)):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def grading_fingerprint(course_root: Path, assignment: str, *parts: str) -> str:
    """Everything besides a submission that can change its grade."""
    files = [*kit_files(), *folder_files(course_root / "source" / assignment),
             *folder_files(course_root / "grader_tests" / assignment)]
    config = course_root / "nbgrader_config.py"
    if config.is_file():
        files.append(config)
    return digest(files, *parts)
