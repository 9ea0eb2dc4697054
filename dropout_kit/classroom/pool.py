"""Worker processes (dropout_kit.classroom.worker) fed one student at a time, so that the
run decides how many submissions are graded at once: at most one per core, because torch's
default of one thread per core in every kernel would oversubscribe the machine and stretch a
2 s training past the cell time limit."""
from __future__ import annotations

import multiprocessing
import os
import queue

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.outcome import Outcome
from dropout_kit.classroom.worker import worker_main


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class WorkerPool:
    """Worker processes fed one student at a time (so the parent decides how many run)."""

    def __init__(self, paths: CoursePaths, workers: int):
        context = multiprocessing.get_context("spawn")
        self.tasks = context.Queue()
        self.results = context.Queue()
        self.processes = [context.Process(target=worker_main, name=f"grader-{n}", daemon=True,
                                          args=(n, str(paths.root), paths.assignment,
                                                self.tasks, self.results))
                          for n in range(1, workers + 1)]
        self.in_flight: dict[int, str] = {}
        self.queued = 0
        self.last_crash = ""
        for process in self.processes:
            process.start()

    def submit(self, student: str) -> None:
        self.tasks.put(student)
        self.queued += 1

    def next_event(self, wait: float):
        """("done", worker, Outcome), ("lost", worker, Outcome) for a worker that died with a
        student, or None when nothing happened within `wait` seconds."""
        try:
            kind, worker, payload = self.results.get(timeout=wait)
        except queue.Empty:
            return self._check_alive()
        if kind == "started":
            self.in_flight[worker] = payload
            self.queued -= 1
            return self.next_event(0)
        if kind == "done":
            self.in_flight.pop(worker, None)
            return "done", worker, Outcome(**payload)
        if kind == "crashed":
            self.last_crash = payload
            student = self.in_flight.pop(worker, None)
            if student is not None:
                return "lost", worker, Outcome(student, "failed", worker=worker,
                                               error=payload.strip().splitlines()[-1][:300])
        return None

    def _check_alive(self):
        for number, process in enumerate(self.processes, start=1):
            if not process.is_alive() and number in self.in_flight:
                student = self.in_flight.pop(number)
                return "lost", number, Outcome(student, "failed", worker=number,
                                               error=f"grading worker exited with code {process.exitcode}")
        if not self.alive:
            raise RuntimeError("every grading worker has stopped" +
                               (f"; the last one said:\n{self.last_crash}" if self.last_crash else ""))
        return None

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    def close(self) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5)
