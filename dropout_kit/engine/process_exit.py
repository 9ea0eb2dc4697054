"""Clean-up when this process ends, including a worker process that multiprocessing
started (a Dask Nanny's), which ends through os._exit and skips atexit."""
from __future__ import annotations

import atexit
import multiprocessing.util
from typing import Callable


def on_process_exit(callback: Callable[[], None]) -> None:
    """Calls `callback` once when this process ends normally."""
    called = []

    def once() -> None:
        if not called:
            called.append(True)
            callback()

    atexit.register(once)
    multiprocessing.util.Finalize(None, once, exitpriority=100)
