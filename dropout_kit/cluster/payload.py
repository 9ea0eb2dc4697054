"""What a Dask worker needs besides the kit: the assignment's hidden checks and the course's
execution settings, sent with every task and unpacked once per worker process, into a cache
keyed by their digest (a folder of the process's own, dropout_kit.tempfolders: removed when the
process ends, or by a sweep if it is killed). A worker whose kit differs from the
coordinator's refuses to grade."""
from __future__ import annotations

import copy
import functools
import hashlib
import pickle
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from traitlets.config import Config

from dropout_kit import tempfolders
from dropout_kit.engine.fingerprint import digest, folder_files, kit_files


class WorkerMismatch(RuntimeError):
    """The worker's kit (version or code) is not the coordinator's: its verdicts could differ."""


@functools.cache
def kit_identity() -> tuple[str, str]:
    """(version, digest of the kit's code and torch's version) of this process's kit."""
    return version("dropout-kit"), digest(kit_files())


@dataclass
class Payload:
    assignment: str
    kit_version: str
    kit_digest: str
    config: Config  # the course's nbgrader configuration (its execution and sandbox sections)
    grader_tests: dict[str, bytes] = field(default_factory=dict)  # path in grader_tests/<A>/ → bytes
    course_root: str = ""  # hidden from kernels when the worker shares the coordinator's disk

    @classmethod
    def build(cls, config: Config, course_root: Path, grader_tests: Path, assignment: str) -> "Payload":
        folder = grader_tests / assignment
        kit_version, kit_digest = kit_identity()
        return cls(assignment, kit_version, kit_digest, copy.deepcopy(config),
                   {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder_files(folder))},
                   str(course_root))

    @property
    def key(self) -> str:
        sha = hashlib.sha256(f"{self.assignment}\0{self.kit_version}\0{self.kit_digest}\0".encode())
        for name, data in sorted(self.grader_tests.items()):
            sha.update(name.encode() + b"\0" + data + b"\0")
        sha.update(pickle.dumps(dict(self.config)))
        return sha.hexdigest()[:16]

    def check_worker(self, where: str) -> None:
        kit_version, kit_digest = kit_identity()
        if (kit_version, kit_digest) != (self.kit_version, self.kit_digest):
            raise WorkerMismatch(
                f"worker {where} refuses to grade: its dropout-kit {kit_version} "
                f"(code {kit_digest[:12]}) is not the coordinator's {self.kit_version} "
                f"(code {self.kit_digest[:12]}); install the same kit and torch on every worker")

    def unpacked(self) -> Path:
        """This payload's grader_tests/ folder in this process (written once per digest; a
        thread that loses the race to write it uses the other's copy)."""
        parent = payloads_folder()
        root = parent / self.key
        if not root.exists():
            staging = Path(tempfile.mkdtemp(dir=parent, prefix=".unpacking-"))
            folder = staging / "grader_tests" / self.assignment
            folder.mkdir(parents=True)
            for name, data in self.grader_tests.items():
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            staging.chmod(0o755)  # the checker may run as the sandbox's account
            try:
                staging.rename(root)
            except OSError:  # another thread unpacked it first
                shutil.rmtree(staging, ignore_errors=True)
        return root / "grader_tests"


_payloads: dict[str, Path] = {}  # temporary folder → this process's payloads folder
_payloads_lock = threading.Lock()


def payloads_folder() -> Path:
    """This process's folder of unpacked payloads, <tmp>/dropout-kit-payloads-*."""
    with _payloads_lock:
        folder = _payloads.get(tempfile.gettempdir())
        if folder is None or not folder.is_dir():
            folder = tempfolders.new_folder("dropout-kit-payloads-")
            folder.chmod(0o711)  # the checker may run as the sandbox's account
            _payloads[tempfile.gettempdir()] = folder
        return folder
