"""A round that runs in a thread beside the session's tests: started when the collection
finishes if its test module is selected (conftest.py, which runs that module last), waited
for by that module, its folder removed when the session ends."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar


class BackgroundRound:
    MODULE: ClassVar[str]  # the test module that reads the round
    PREFIX: ClassVar[str]  # of its folder in the machine's temporary folder
    _started: ClassVar[dict[type, BackgroundRound]] = {}

    def __init__(self):
        self.dest = Path(tempfile.mkdtemp(prefix=self.PREFIX))
        self.error: BaseException | None = None
        self.result: Any = None
        self._thread = threading.Thread(target=self._run_kept, name=type(self).__name__, daemon=True)
        self._thread.start()

    def run(self) -> Any:
        """The round itself, in its thread: what `wait` returns."""
        raise NotImplementedError

    def _run_kept(self) -> None:
        try:
            self.result = self.run()
        except BaseException as error:  # noqa: BLE001 - reported by the test that waits
            self.error = error

    def wait(self) -> Any:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.result

    def stop(self) -> None:
        self._thread.join()
        shutil.rmtree(self.dest, ignore_errors=True)

    @classmethod
    def start_if_selected(cls, items) -> None:
        """pytest_collection_finish: the round starts if its module is to run."""
        if any(item.path.name == cls.MODULE for item in items):
            BackgroundRound._started[cls] = cls()

    @classmethod
    def started_round(cls) -> BackgroundRound:
        """The round started with the session, or (its module run alone by hand) one started now."""
        if cls not in BackgroundRound._started:
            BackgroundRound._started[cls] = cls()
        return BackgroundRound._started[cls]

    @classmethod
    def stop_started(cls) -> None:
        started = BackgroundRound._started.pop(cls, None)
        if started is not None:
            started.stop()
