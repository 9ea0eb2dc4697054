"""Helpers for writing hidden checks: each failure is one sentence a student understands.

Points come only from what the student's kernel cannot forge: nbgrader's copy of the cell
sources (`student.source`, `student.cells_before`) and values (tensors, state dicts,
numbers) that a check compares with its own computation. Values are checked before they are
compared (`real_tensor`, `finite_float`): NaN compares false with everything, so
`abs(nan - expected) > tol` would pass it. What a check cannot judge from data (which
torch function a cell reached, how many epochs it ran) is never a point: `flag(evidence)`
routes the part to a person with the evidence (which construct, which cell, which line), and
the check passes or fails on the data alone.
"""
from __future__ import annotations

import contextlib
import math
import os

import pytest
import torch

from dropout_kit.checks.remote import (  # noqa: F401
    CALL,
    DEFAULT,
    MISSING,
    SMALL_CALL,
    TRAINING,
    Budget,
    Notebook,
    OverBudget,
    Remote,
    RemoteFunction,
    RemoteModule,
    describe_error,
)
from dropout_kit.checks.runner import flag  # noqa: F401

# The seed of the checks' random numbers: while nbgrader grades, the submission's own secret
# seed, which the checker process sets here (dropout_kit/engine/check_key.py); in one process
# (an instructor running the source notebook, the benchmarks, which vary it) the default.
# Read at every use, as a long-lived process imports this once.
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


def real_tensor(value, what: str) -> torch.Tensor:
    """`value` if it is a tensor of real numbers, all finite; otherwise a failed check. Integer
    and bool tensors pass (their values are compared as they are)."""
    if not isinstance(value, torch.Tensor):
        fail(f"{what} 이(가) 텐서가 아니라 {type_name(value)} 입니다.")
    if value.is_complex():
        fail(f"{what} 이(가) 복소수 텐서({value.dtype}) 입니다; 실수 텐서여야 합니다.")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        fail(f"{what} 에 NaN 이나 inf 값이 있습니다.")
    return value


def finite_float(value, what: str) -> float:
    """`value` if it is a Python float (a subclass such as numpy.float64 counts) other than
    NaN and ±inf; otherwise a failed check."""
    if not isinstance(value, float):
        fail(f"{what} 은(는) 파이썬 float 이어야 하는데 {type_name(value)} 입니다 (.item() 을 쓰세요).")
    if not math.isfinite(value):
        fail(f"{what} 이(가) {value} 입니다; 유한한 숫자여야 합니다.")
    return float(value)
