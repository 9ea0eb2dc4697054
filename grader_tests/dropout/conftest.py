"""Fixtures shared by the hidden checks.

`student` (the student's notebook, reached through requests to their kernel) comes from
the runner (dropout_kit.checks.runner). Every check runs with torch's random state forked
and seeded, in the checker and in the kernel (dropout_kit.checking.seeded), so a regrade
gives the same verdict and the student's own random state is untouched.
"""
import pytest
import torch

import lecture
from dropout_kit.checking import SMALL_CALL, OverBudget, describe_error, fail, flag, function, module, seeded

# my_dropout's first calls, on a few elements (1-D and 2-D, training mode): a mask of the
# wrong shape (an (n, 1) mask turns n inputs into n × n outputs) or a wrong dtype shows here,
# before the checks call it on 10 000 or 100 000 elements.
SMALL_INPUTS = (torch.linspace(1, 2, 8), torch.linspace(1, 2, 12).reshape(3, 4))


# torch's dropout family at the dispatcher (aten names; the in-place ones end in _): however
# student code reaches them (a container, getattr, an exception's args, a method), a call of
# my_dropout by the checks that enters one fails the hand-written gate.
TORCH_DROPOUT_OPS = ("dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout",
                     "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "native_dropout")


@pytest.fixture(scope="session", autouse=True)
def torch_dropout_forbidden_in_my_dropout(student):
    student.forbid("my_dropout", TORCH_DROPOUT_OPS,
                   "검사가 my_dropout 을 부를 때 torch 의 드랍아웃({ops})이 실행되었습니다. 이 부분은 난수로 "
                   "직접 구현해야 점수를 받습니다 (torch.rand, torch.bernoulli 등은 써도 됩니다).")


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


@pytest.fixture(scope="module")
def small_calls_problem(student) -> str | None:
    """What is wrong with my_dropout's results on SMALL_INPUTS (p=0.5, training mode), or None.
    Called once per module; a missing my_dropout is the `my_dropout` fixture's to say."""
    if not student.has("my_dropout"):
        return None
    with seeded(student):
        try:
            calls = function(student, "my_dropout").calls([(x, 0.5) for x in SMALL_INPUTS], budget=SMALL_CALL)
        except OverBudget as over:
            return str(over)
    for x, call in zip(SMALL_INPUTS, calls):
        given = f"작은 입력 (shape {tuple(x.shape)}, p=0.5) 으로 먼저 불러 봤더니"
        if call.error is not None:
            return f"{given} 오류가 났습니다: {describe_error(call.error)}."
        out = call.value
        if not isinstance(out, torch.Tensor):
            return f"{given} 텐서가 아니라 {type(out).__name__} 을(를) 돌려줬습니다."
        if out.shape != x.shape:
            return (f"{given} 출력의 shape 이 {tuple(out.shape)} 입니다; 입력과 같은 {tuple(x.shape)} "
                    "이어야 합니다 (마스크를 입력과 같은 shape 으로 만드세요).")
        if out.dtype != x.dtype:
            return f"{given} 출력의 dtype 이 {out.dtype} 입니다; 입력과 같은 {x.dtype} 이어야 합니다."
    return None


@pytest.fixture(scope="module")
def small_calls_told() -> list:
    """Whether a check of this module has told the student about the small calls yet."""
    return []


@pytest.fixture
def drop(my_dropout, small_calls_problem, small_calls_told):
    """my_dropout for the checks on large inputs, once its small calls are right (else the
    check fails at once: the first such check says what was wrong, the others refer to it).
    Each call runs in the kernel on a copy of the checker's input (every request carries its
    own copy): a function that modifies its input in place loses the check about that only."""
    if small_calls_problem:
        if small_calls_told:
            fail("위의 검사에서 말한 문제(작은 입력) 때문에 이 검사도 하지 않았습니다.")
        small_calls_told.append(True)
        fail(f"{small_calls_problem} 그래서 큰 입력으로 하는 이 검사는 하지 않았습니다.")
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
    time, exec, …) passes here and goes to a person with the line (flag). Below Python, the
    checks' calls of my_dropout run with torch's dropout operators blocked
    (torch_dropout_forbidden_in_my_dropout): entering one fails this gate after the module's
    checks (dropout_kit.checks.runner.fail_gate_on_entered)."""
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
