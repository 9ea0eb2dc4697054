"""nbgrader's execute step done elsewhere: in `nbgrader autograde`'s pipeline, in place of
the course's execute preprocessor, it hands the sanitized notebook (and the submission's
other files) to `run`, e.g. a Dask worker (dropout_kit.cluster), and continues with the
notebook that comes back, so that nbgrader's own later steps record the grades here."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from dropout_kit.engine.kit_cells import VERDICTS


@dataclass
class Job:
    student: str
    notebook: str  # the notebook's file name
    source: str  # the sanitized notebook (JSON)
    nbgrader: dict  # resources["nbgrader"] of nbgrader's autograde step
    executor: str  # the course's execute preprocessor, as an import path
    files: dict[str, bytes] = field(default_factory=dict)  # the submission's other files
    more_to_come: bool = True  # other submissions will follow (worth starting a kernel ahead)


@dataclass
class Executed:
    source: str  # the executed notebook (JSON)
    verdicts: dict
    log: str
    seconds: float
    worker: str


class RemoteExecute(NbGraderPreprocessor):
    def __init__(self, executor: str, run: Callable[[Job], Executed], **kw):
        super().__init__(**kw)
        self.executor = executor
        self.run = run
        self.executed: Executed | None = None
        self.waited = 0.0  # seconds the notebook was away (queued and executed)

    def preprocess(self, nb, resources):
        folder = Path(resources["metadata"]["path"])
        files = {p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".ipynb"}
        # The worker never sees the gradebook (nor its address, which may hold a password).
        nbgrader = {k: v for k, v in resources["nbgrader"].items() if k != "db_url"}
        job = Job(nbgrader["student"], resources["unique_key"] + ".ipynb", nbformat.writes(nb), nbgrader,
                  self.executor, files)
        sent = time.perf_counter()
        self.executed = self.run(job)
        self.waited = time.perf_counter() - sent
        resources[VERDICTS] = self.executed.verdicts
        return nbformat.reads(self.executed.source, as_version=nbformat.NO_CONVERT), resources
