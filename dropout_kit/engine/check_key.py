"""The course's secret for the checks' random numbers (issue 32).

Every hidden check runs with torch's random state seeded (dropout_kit.checking.seeded), in the
checker and in the student's kernel, so a regrade gives the same verdict. A seed written in
the kit's public source would let a student's code recognise the checks' inputs (torch's
initial seed, the tensors drawn from it). The seed of one submission's checks is instead a
keyed hash of that submission's code cells and the check module's name, with a key the
course keeps where no kernel and no checker can read it:

    <course>/.dropout-kit/check-key     64 hex digits, mode 0600, made on first use

nbgrader's side (SafeExecute) computes the seed and sends it with the module to run; the
checker and the kernel see the seed of the current module only. The same submission gets the
same seeds at every regrade; a changed cell changes all of them. A course whose key cannot be
read (another account) grades with a key of its own process: verdicts stay right, a regrade
may draw other numbers.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

KEY_FILE = Path(".dropout-kit") / "check-key"
SEED_BITS = 63  # torch.manual_seed takes up to 64 bits; a positive int64 is safe everywhere


def course_check_key(course_root: Path) -> str:
    """The course's key (hex), made on first use; "" when it can be neither read nor made."""
    path = course_root / KEY_FILE
    if not path.exists():
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another grading process
        except OSError:
            return ""
        else:
            key = secrets.token_hex(32)
            with os.fdopen(descriptor, "w") as file:
                file.write(key + "\n")
            _give_to_course_owner(course_root, path)
            return key
    try:
        key = path.read_text(encoding="ascii").strip()
        return key if len(bytes.fromhex(key)) >= 16 else ""
    except (OSError, ValueError):  # unreadable (another account), or not a key
        return ""


def _give_to_course_owner(course_root: Path, path: Path) -> None:
    """Root setting up a course of another account (a hub) leaves the key to that account."""
    owner = course_root.stat()
    if os.geteuid() == 0 and owner.st_uid != 0:
        for made in (path.parent, path):
            os.chown(made, owner.st_uid, owner.st_gid)


def submission_seed(key: bytes, code_sources: list[str], module: str) -> int:
    """The seed of `module`'s checks for the submission whose code cells are `code_sources`."""
    message = json.dumps([code_sources, module], ensure_ascii=False).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)
