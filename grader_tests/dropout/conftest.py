"""Fixtures shared by the hidden checks.

`student` (the student's notebook, reached through requests to their kernel) comes from
the runner (dropout_kit.checks.runner). Every check runs with torch's random state forked
and seeded, in the checker and in the kernel (dropout_kit.checking.seeded), so a regrade
gives the same verdict and the student's own random state is untouched.
"""
import pytest
import torch

import lecture
from dropout_kit.checking import fail, function, module, seeded


@pytest.fixture(autouse=True)
def seeded_rng(student):
    with seeded(student):
        yield


@pytest.fixture
def lecture_data():
    """The lecture's data and 8:2 split, made afresh."""
    return lecture.split()


@pytest.fixture
def my_dropout(student):
    return function(student, "my_dropout")


@pytest.fixture
def drop(my_dropout):
    """my_dropout called in the kernel on a copy of the checker's input (every request
    carries its own copy): a function that modifies its input in place loses the check
    about that only."""
    return my_dropout


@pytest.fixture
def net(student):
    return module(student, "net")


@pytest.fixture(scope="module")
def solution_sources(student):
    """The submitted solution cells, from nbgrader's copy of the submission (never from
    a file the student's code could have rewritten)."""
    cache = {}

    def source(grade_id):
        if grade_id not in cache:
            cache[grade_id] = student.source(grade_id)
        if cache[grade_id] is None:
            fail(f"노트북에서 `{grade_id}` 셀을 찾지 못했습니다.")
        return cache[grade_id]

    return source


@pytest.fixture
def hand_written(my_dropout):
    """Fails the check if `my_dropout` reaches any of torch's own dropouts."""
    inputs = (torch.linspace(1, 2, 1000), torch.linspace(1, 2, 1000).reshape(50, 20))
    calls = my_dropout.calls([((x, p), {"training": training}) for x in inputs for p in (0.5, 0.8, 0.9)
                              for training in (True, False)], torch_calls=True)
    # errors are the other checks' business
    used = sorted({name for call in calls for name in call.torch_calls if "dropout" in name.lower()})
    if used:
        fail(f"torch의 드랍아웃({', '.join(used)})을 불렀습니다. 이 부분은 난수로 직접 "
             "구현해야 점수를 받습니다 (torch.rand 등은 써도 됩니다).")
