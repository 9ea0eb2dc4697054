"""What a Dask worker does with one submission: the execute step of `nbgrader autograde`
(the course's own, e.g. SafeExecute with its sandbox and hidden checks) on the notebook the
coordinator sanitized, in a scratch folder holding the student's other files. The worker
never sees the gradebook: it returns the executed notebook and the checks' verdicts.

Each worker process grades one submission at a time and, while it does, starts the next
submission's kernel (a spare: dropout_kit.engine.kernel_lifecycle.Spare) in a new empty folder:
the next submission finds its kernel started and torch imported, and the kernel of the
one before is stopped in the background. A spare serves one submission only, so no
kernel, folder or state passes from one student to another.

The job's folder is the kernel's working folder (SafeExecute makes no copy of its own:
`folder_is_scratch`); it is removed once the kernel is gone, and nothing of it goes back:
the coordinator gets the executed notebook and the verdicts only, so nothing the student's
code writes reaches autograded/, the report or the feedback. The folders of a worker killed
outright are removed by the next sweep on its machine (dropout_kit.tempfolders): a worker's
first task, the end of a local round."""
from __future__ import annotations

import asyncio
import copy
import io
import logging
import os
import threading
import time
from pathlib import Path

import nbformat
from traitlets.config import Config
from traitlets.utils.importstring import import_item

from dropout_kit import tempfolders
from dropout_kit.cluster.payload import Payload
from dropout_kit.process_exit import on_process_exit
from dropout_kit.engine.remote_execute import Executed, Job
from dropout_kit.engine.kernel_lifecycle import (
    Spare,
    remove_in_background,
    stop_in_background,
    stop_kernel,
    stopped_in_background,
)
from dropout_kit.engine.kit_cells import VERDICTS
from dropout_kit.engine.safe_execute import SafeExecute

STOP_SECONDS = 30  # for the spare kernel when the worker process ends


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
    captured = io.StringIO()
    log = logging.getLogger(f"dropout_kit.cluster.{job.student}")
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        source, verdicts = _kernels().run(_run(payload, job, log))
    finally:
        log.removeHandler(handler)
    return Executed(source, verdicts, captured.getvalue(), time.perf_counter() - started, worker)


def _config(payload: Payload) -> Config:
    config = copy.deepcopy(payload.config)
    config.SafeExecute.grader_tests = str(payload.unpacked())
    if payload.course_root and not Path(payload.course_root).is_dir():
        config.SandboxKernelManager.course_root = ""  # another machine: nothing to hide
    return config


async def _run(payload: Payload, job: Job, log: logging.Logger) -> tuple[str, dict]:
    notebook = nbformat.reads(job.source, as_version=nbformat.NO_CONVERT)
    config = _config(payload)
    preprocessor = import_item(job.executor)(config=config, log=log)
    kernel_name = notebook.metadata.get("kernelspec", {}).get("name", "")
    kind = (payload.key, job.executor, kernel_name)  # submissions that can share a kind of spare
    kernels = _kernels()
    spare = await kernels.take(kind)
    if isinstance(preprocessor, SafeExecute):
        if job.more_to_come:
            kernels.start_next(kind, config, kernel_name)
        preprocessor.background_stop = True
        preprocessor.folder_is_scratch = True  # the kernel works in the job's folder (removed below)
    folder = spare.folder if spare else job_folder()
    scratch = folder.parent
    try:
        for name, data in job.files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if spare is not None:
            spare.hand_over_files()
            preprocessor.spare = spare
        resources = {"nbgrader": dict(job.nbgrader), "metadata": {"path": str(folder)}}
        os.environ["NBGRADER_EXECUTION"] = "autograde"  # as `nbgrader autograde` sets it
        if hasattr(preprocessor, "async_preprocess"):
            notebook, resources = await preprocessor.async_preprocess(notebook, resources)
        else:
            notebook, resources = await asyncio.to_thread(preprocessor.preprocess, notebook, resources)
    finally:
        unused = getattr(preprocessor, "spare", None)  # the run failed before its kernel started
        if unused is not None:
            stop_in_background(unused.km, unused.kc, log)
        remove_in_background(scratch)  # once its kernel is gone
    return nbformat.writes(notebook), dict(resources.get(VERDICTS, {}))


def job_folder() -> Path:
    """A new folder for one submission's files and kernel: <tmp>/dropout-kit-job-*/submission."""
    scratch = tempfolders.new_folder("dropout-kit-job-")
    scratch.chmod(0o711)  # a kernel of another account (the worker as root, no namespaces) goes through
    folder = scratch / "submission"
    folder.mkdir()
    return folder


class WarmKernels:
    """This worker process's event loop (in a thread of its own, so that kernels started
    for a later submission live on between tasks) and its one spare kernel."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="dropout-kit-kernels", daemon=True).start()
        self._next: tuple[tuple, asyncio.Task] | None = None
        self._log = logging.getLogger("dropout_kit.cluster.spare")

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def take(self, key: tuple) -> Spare | None:
        """The spare started for a submission like this one, if there is one and it started."""
        if self._next is None:
            return None
        (wanted, starting), self._next = self._next, None
        if wanted != key:
            starting.cancel()
            await self._discard(starting)
            return None
        try:
            return await starting
        except Exception as error:  # noqa: BLE001 - the submission gets a kernel of its own
            self._log.warning("the spare kernel did not start: %s", error)
            return None

    def start_next(self, key: tuple, config: Config, kernel_name: str) -> None:
        self._next = (key, asyncio.ensure_future(self._start(config, kernel_name)))

    async def _start(self, config: Config, kernel_name: str) -> Spare:
        folder = job_folder()
        starter = SafeExecute(config=config, log=self._log)
        try:
            return await starter.start_spare(kernel_name, folder)
        except BaseException:
            await stop_kernel(starter.km, starter.kc, self._log, remove=folder.parent)
            raise

    async def _discard(self, starting: asyncio.Task) -> None:
        try:
            spare = await starting
        except BaseException:  # noqa: BLE001 - it cleaned up after itself
            return
        await stop_kernel(spare.km, spare.kc, self._log, remove=spare.folder.parent)

    async def close(self) -> None:
        if self._next is not None:
            (_, starting), self._next = self._next, None
            await self._discard(starting)
        await stopped_in_background()

    def shutdown(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.close(), self.loop).result(STOP_SECONDS)
        except Exception:  # noqa: BLE001 - the process is ending; the sandbox ends its kernels
            pass


_warm: WarmKernels | None = None
_warm_lock = threading.Lock()


def _kernels() -> WarmKernels:
    global _warm
    with _warm_lock:
        if _warm is None:
            # This worker's first task: what killed workers left on this machine goes first.
            tempfolders.sweep(logging.getLogger("dropout_kit.cluster.worker"))
            _warm = WarmKernels()
            on_process_exit(_warm.shutdown)
        return _warm
