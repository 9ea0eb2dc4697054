"""Helpers for writing hidden checks: each failure is one sentence a student understands."""
from __future__ import annotations

import contextlib
import os

import pytest
import torch
from torch.overrides import TorchFunctionMode


# Default seed of the checks' random numbers; DROPOUT_KIT_CHECK_SEED overrides it (the
# benchmark varies it). Read at every use, as the grading kernel imports this once.
CHECK_SEED_ENV = "DROPOUT_KIT_CHECK_SEED"
DEFAULT_CHECK_SEED = 20261127

# Figures a check measured while judging (e.g. an R²), by name, for the benchmark.
MEASURED: dict[str, float] = {}


def check_seed() -> int:
    return int(os.environ.get(CHECK_SEED_ENV, DEFAULT_CHECK_SEED))


@contextlib.contextmanager
def seeded():
    """Torch's global random state forked and seeded with the check seed: a regrade gives
    the same verdict and the student's random state is left as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(check_seed())
        yield


def measure(name: str, value: float) -> float:
    MEASURED[name] = float(value)
    return value


def fail(message: str):
    """Fails the current check with `message` only (no traceback, no code)."""
    pytest.fail(message, pytrace=False)


def describe_error(error: BaseException) -> str:
    """One line about an exception raised by the student's code."""
    if isinstance(error, NotImplementedError):
        return "아직 답을 작성하지 않았습니다 (NotImplementedError)"
    text = f"{type(error).__name__}: {error}".strip()
    return text if len(text) <= 300 else text[:300] + " …"


def defined(ns: dict, name: str, kind: type | None = None):
    """The student's `name` from the notebook, or a failed check saying what is missing."""
    if name not in ns:
        fail(f"`{name}` 이(가) 정의되지 않았습니다. 해당 셀이 오류 없이 실행되는지 확인하세요.")
    value = ns[name]
    if kind is not None and not isinstance(value, kind):
        fail(f"`{name}` 은(는) {kind.__module__}.{kind.__qualname__} 이어야 하는데 "
             f"{type(value).__name__} 입니다.")
    return value


class _TorchCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def torch_calls():
    """Records the name of every torch function called inside the block, however it was
    reached (torch.nn.Dropout, F.dropout, torch.dropout, torch._VF, torch.ops.aten…)."""
    mode = _TorchCalls()
    with mode:
        yield mode.names
