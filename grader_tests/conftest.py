"""Fixtures shared by the hidden checks.

`ns` (the notebook's live namespace) comes from dropout_kit.grading. Every check runs
with torch's random state forked and seeded (dropout_kit.checking.seeded), so a regrade
gives the same verdict and the student's own random state is untouched.
"""
import pytest
import torch

from dropout_kit import reference, student
from dropout_kit.checking import defined, fail, seeded, torch_calls


@pytest.fixture(autouse=True)
def seeded_rng():
    with seeded():
        yield


@pytest.fixture
def lecture():
    """The lecture's data and 8:2 split, made afresh."""
    return reference.split()


@pytest.fixture
def my_dropout(ns):
    fn = defined(ns, "my_dropout")
    if not callable(fn):
        fail("`my_dropout` 은(는) 함수여야 합니다.")
    return fn


@pytest.fixture
def drop(my_dropout):
    """my_dropout called on a copy of its input: a function that modifies its input in
    place loses the check about that only, not every check that reuses the input."""
    def call(x, p, *args, **kwargs):
        return my_dropout(x.clone(), p, *args, **kwargs)
    return call


@pytest.fixture
def net(ns):
    return defined(ns, "net", torch.nn.Module)


@pytest.fixture(scope="module")
def solution_sources():
    """Reads the submitted solution cells once per module."""
    cache = {}

    def source(grade_id):
        if grade_id not in cache:
            cache[grade_id] = student.solution_source(grade_id)
        if cache[grade_id] is None:
            fail(f"노트북에서 `{grade_id}` 셀을 찾지 못했습니다.")
        return cache[grade_id]

    return source


@pytest.fixture
def hand_written(my_dropout):
    """Fails the check if `my_dropout` delegates to any of torch's own dropouts."""
    inputs = (torch.linspace(1, 2, 1000), torch.linspace(1, 2, 1000).reshape(50, 20))
    with torch_calls() as called:
        for x in inputs:
            for p in (0.5, 0.8, 0.9):
                for training in (True, False):
                    try:
                        my_dropout(x.clone(), p, training=training)
                    except Exception:
                        pass  # errors are the other checks' business
    used = sorted({name for name in called if "dropout" in name.lower()})
    if used:
        fail(f"torch의 드랍아웃({', '.join(used)})을 불렀습니다. 이 부분은 난수로 직접 "
             "구현해야 점수를 받습니다 (torch.rand 등은 써도 됩니다).")
