"""Clean-up when this process ends, including a worker process that multiprocessing
started (a Dask Nanny's), which ends through os._exit and skips atexit."""
from __future__ import annotations

import atexit
import multiprocessing.util
import signal
import threading
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


def stop_on_sigterm() -> None:
    """From now on SIGTERM stops this process as Ctrl-C does (KeyboardInterrupt in the main
    thread), so that its clean-up runs: by default SIGTERM ends Python at once, skipping it.
    Only from the main thread, and only where nobody set a handler of their own."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)
