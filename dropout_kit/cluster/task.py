"""What a Dask worker does with one submission: the execute step of `nbgrader autograde`
(the course's own, e.g. SafeExecute with its sandbox and hidden checks) on the notebook the
coordinator sanitized, in a scratch folder holding the student's other files. The worker
never sees the gradebook: it returns the executed notebook and the checks' verdicts."""
from __future__ import annotations

import copy
import io
import logging
import os
import tempfile
import time
from pathlib import Path

import nbformat
from traitlets.utils.importstring import import_item

from dropout_kit.cluster.payload import Payload
from dropout_kit.engine.remote_execute import Executed, Job
from dropout_kit.engine.safe_execute import VERDICTS


def _worker_name() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


def execute(payload: Payload, job: Job) -> Executed:
    """Runs on a worker: the course's execute preprocessor on `job`'s notebook."""
    started = time.perf_counter()
    worker = _worker_name()
    payload.check_worker(worker)
    config = copy.deepcopy(payload.config)
    config.SafeExecute.grader_tests = str(payload.unpacked())
    if payload.course_root and not Path(payload.course_root).is_dir():
        config.SandboxKernelManager.course_root = ""  # another machine: nothing to hide
    captured = io.StringIO()
    log = logging.getLogger(f"dropout_kit.cluster.{job.student}")
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        with tempfile.TemporaryDirectory(prefix="dropout-kit-job-") as scratch:
            folder = Path(scratch) / job.student / job.nbgrader.get("assignment", "assignment")
            folder.mkdir(parents=True)
            for name, data in job.files.items():
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            notebook = nbformat.reads(job.source, as_version=nbformat.NO_CONVERT)
            resources = {"nbgrader": dict(job.nbgrader), "metadata": {"path": str(folder)}}
            preprocessor = import_item(job.executor)(config=config, log=log)
            os.environ["NBGRADER_EXECUTION"] = "autograde"  # as `nbgrader autograde` sets it
            notebook, resources = preprocessor.preprocess(notebook, resources)
    finally:
        log.removeHandler(handler)
    return Executed(nbformat.writes(notebook), dict(resources.get(VERDICTS, {})), captured.getvalue(),
                    time.perf_counter() - started, worker)
