"""Helpers for writing hidden checks: each failure is one sentence a student understands."""
from __future__ import annotations

import contextlib
import os

import pytest
import torch

from dropout_kit.checks.remote import (  # noqa: F401
    MISSING,
    Notebook,
    Remote,
    RemoteFunction,
    RemoteModule,
    describe_error,
)

# Default seed of the checks' random numbers; DROPOUT_KIT_CHECK_SEED overrides it (the
# benchmark varies it). Read at every use, as a long-lived process imports this once.
CHECK_SEED_ENV = "DROPOUT_KIT_CHECK_SEED"
DEFAULT_CHECK_SEED = 20261127

# Figures a check measured while judging (e.g. an R²), by name, for the benchmark.
MEASURED: dict[str, float] = {}


def check_seed() -> int:
    return int(os.environ.get(CHECK_SEED_ENV, DEFAULT_CHECK_SEED))


@contextlib.contextmanager
def seeded(student: Notebook | None = None):
    """Torch's random state forked and seeded with the check seed, here and (given the
    student's notebook) in the kernel: a regrade gives the same verdict and the student's
    random state is left as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(check_seed())
        with student.seeded(check_seed()) if student is not None else contextlib.nullcontext():
            yield


def measure(name: str, value: float) -> float:
    MEASURED[name] = float(value)
    return value


def fail(message: str):
    """Fails the current check with `message` only (no traceback, no code)."""
    pytest.fail(message, pytrace=False)


def type_name(value) -> str:
    return value.type_name if isinstance(value, Remote) else type(value).__name__


def is_kind(value, kind: type) -> bool:
    if isinstance(value, Remote):
        return value.is_a(kind)
    return isinstance(value, kind)


def defined(student, name: str, kind: type | None = None):
    """The student's `name` (from the notebook or a re-run), or a failed check saying what
    is missing. Tensors and numbers come as values; functions and modules stay in the
    kernel (RemoteFunction, RemoteModule)."""
    value = student.get(name)
    if value is MISSING:
        fail(f"`{name}` 이(가) 정의되지 않았습니다. 해당 셀이 오류 없이 실행되는지 확인하세요.")
    if kind is not None and not is_kind(value, kind):
        fail(f"`{name}` 은(는) {kind.__module__}.{kind.__qualname__} 이어야 하는데 "
             f"{type_name(value)} 입니다.")
    return value


def function(student, name: str) -> RemoteFunction:
    value = defined(student, name)
    if not isinstance(value, RemoteFunction):
        fail(f"`{name}` 은(는) 함수여야 합니다.")
    return value


def module(student, name: str) -> RemoteModule:
    return defined(student, name, torch.nn.Module)
