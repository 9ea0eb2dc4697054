"""Helpers for writing hidden checks: each failure is one sentence a student understands."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch.overrides import TorchFunctionMode


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
