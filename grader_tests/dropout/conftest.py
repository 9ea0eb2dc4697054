"""Fixtures shared by the hidden checks.

`student` (the student's notebook, reached through requests to their kernel) comes from
the runner (dropout_kit.checks.runner). Every check runs with torch's random state forked
and seeded, in the checker and in the kernel (dropout_kit.checking.seeded), so a regrade
gives the same verdict and the student's own random state is untouched.
"""
import pytest

import lecture
from dropout_kit.checking import fail, flag, function, module, seeded


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
def hand_written(student):
    """Fails the check if the submitted code uses torch's own dropout for my_dropout, read
    from nbgrader's copy of the code cells up to the my_dropout cell (never from the kernel,
    which the student's code controls). What the reading cannot resolve (a name built at run
    time, exec, …) passes here and goes to a person with the line (flag)."""
    from dropout_kit.integrity.dropout_use import dropout_use

    sources = student.cells_before("my_dropout")
    if sources is None:
        fail("노트북에서 `my_dropout` 셀을 찾지 못했습니다.")
    use = dropout_use(sources, "my_dropout")
    if use.uses:
        fail(f"my_dropout 에 torch의 드랍아웃을 썼습니다: {', '.join(use.uses)}. 이 부분은 난수로 직접 "
             "구현해야 점수를 받습니다 (torch.rand 등은 써도 됩니다).")
    for line in use.unresolved:
        flag(f"my_dropout written by hand? not decidable from the source: {line}")
    if not use.defined and student.has("my_dropout"):
        flag("my_dropout written by hand? no definition of my_dropout in the submitted code cells, "
             "yet the kernel has one")
