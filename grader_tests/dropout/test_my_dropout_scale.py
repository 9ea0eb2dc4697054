"""Part 2b, my_dropout's scaling and modes: survivors × 1/(1-p), evaluation mode unchanged.

All checks but one are exact for a correct implementation (float32 rounding is far
inside rtol=1e-5). The expected-value check is statistical: for an input of ones at
p=0.9 the output mean is 10·K/n with K ~ Binomial(n, 0.1) survivors; K is accepted within
exact binomial bounds at level 1e-6 (false-fail probability 9.8e-7 for n = 100 000).

The gate "written by hand" is judged on the submitted source (conftest.hand_written).
Outputs and gradients must be real tensors with finite values before they are compared.

Cheap before expensive: the scaling, expected-value and gradient checks depend on
my_dropout's small calls in training mode (conftest.small_calls_problem) and are not run on
large inputs when those are wrong; the evaluation-mode, input-unchanged and shape/dtype
checks do not depend on them (they call it on at most 1000 elements) and keep their points.
Each request has a time and memory budget (dropout_kit.checks.remote.CALL); a my_dropout
that ran out of time is not called again in this module.
"""

import pytest
import torch

from dropout_kit.checking import fail, real_tensor
from dropout_kit.stats import FALSE_FAIL, binomial_bounds

PS = (0.5, 0.8, 0.9)


def output(out) -> torch.Tensor:
    """my_dropout's result, if it is a real tensor with finite values (its shape is judged
    where a check needs it)."""
    return real_tensor(out, "my_dropout 의 출력")


@pytest.mark.gate
@pytest.mark.points(0)
def test_hand_written(hand_written):
    """torch의 드랍아웃을 쓰지 않고 직접 구현 (필수 조건)"""


@pytest.mark.points(1)
def test_survivors_scaled(drop):
    """살아남은 값 = 입력 / (1-p)  (p=0.9 이면 10배)"""
    x = torch.linspace(1, 2, 10_000)
    for p, call in zip(PS, drop.calls([(x, p) for p in PS])):
        out = output(call.result())
        kept = out != 0
        if not kept.any():
            fail(f"p={p} 에서 모든 값이 0이 되었습니다.")
        ratio = (out[kept] / x[kept])
        if not torch.allclose(ratio, torch.full_like(ratio, 1 / (1 - p)), rtol=1e-5, atol=0):
            fail(f"p={p} 에서 살아남은 값이 입력의 {ratio.median().item():.3g}배 입니다; "
                 f"1/(1-p) = {1 / (1 - p):.3g}배 이어야 합니다.")


@pytest.mark.points(0.5)
def test_expected_value_preserved(drop):
    """출력의 평균이 입력의 평균과 같게 유지됨 (p=0.9)"""
    n, p = 100_000, 0.9
    mean = output(drop(torch.ones(n), p)).to(torch.float64).mean().item()
    survivors = round(mean * n * (1 - p))  # the K behind the mean, compared as an integer
    lo, hi = binomial_bounds(n, 1 - p, FALSE_FAIL)
    lo_mean, hi_mean = lo / (n * (1 - p)), hi / (n * (1 - p))
    if not lo <= survivors <= hi:
        fail(f"1로 채운 입력에 p={p} 를 적용한 출력의 평균이 {mean:.3f} 입니다; 약 1 "
             f"(허용 범위 {lo_mean:.3f}~{hi_mean:.3f}) 이어야 합니다.")


@pytest.mark.points(0.5)
def test_evaluation_mode_returns_input(my_dropout):
    """training=False 이면 입력과 같은 값"""
    x = torch.linspace(1, 2, 1000)
    for call in my_dropout.calls([((x, 0.8), {"training": False}), (x, 0.8, False)]):
        out = call.result()
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            fail("training=False (평가모드) 에서는 입력과 같은 shape의 텐서를 돌려줘야 합니다.")
        real_tensor(out, "training=False 일 때 my_dropout 의 출력")
        if not torch.equal(out, x):
            changed = int((out != x).sum())
            fail(f"training=False (평가모드) 인데 원소 1000개 중 {changed}개의 값이 바뀌었습니다 "
                 f"(0이 된 원소 {int((out == 0).sum())}개). 평가모드에서는 입력과 같은 값을 "
                 "그대로 돌려줘야 합니다.")


@pytest.mark.points(0.25)
def test_input_not_modified(my_dropout):
    """입력 텐서를 바꾸지 않음"""
    x = torch.linspace(1, 2, 1000)
    for call in my_dropout.calls([(x, 0.8), ((x, 0.8), {"training": False})], return_args=True):
        call.result()
        if not torch.equal(call.args[0], x):
            fail("my_dropout 이 입력 텐서 x 자체를 바꿨습니다. 새 텐서를 만들어 돌려주세요 "
                 "(x *= … 나 x[...] = 0 같은 제자리 연산을 피하세요).")


@pytest.mark.points(0.25)
def test_shape_and_dtype_kept(my_dropout):
    """출력의 shape과 dtype이 입력과 같음"""
    inputs = (torch.ones(3, 4, 5), torch.ones(7, 2, dtype=torch.float64))
    for x, call in zip(inputs, my_dropout.calls([(x, 0.5) for x in inputs])):
        out = call.result()
        if not isinstance(out, torch.Tensor) or out.shape != x.shape or out.dtype != x.dtype:
            got = (tuple(out.shape), out.dtype) if isinstance(out, torch.Tensor) else type(out).__name__
            fail(f"입력 shape {tuple(x.shape)}, dtype {x.dtype} 에 대해 출력이 {got} 입니다.")
        real_tensor(out, "my_dropout 의 출력")


@pytest.mark.points(0.5)
def test_gradient_is_mask_over_keep_probability(drop):
    """기울기(gradient)가 마스크 / (1-p) 로 흐름"""
    p = 0.8
    x = torch.linspace(1, 2, 1000, requires_grad=True)
    call = drop.call(x, p, backward=True)
    if call.error is not None:
        raise call.error
    out = call.value
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        fail("my_dropout 의 출력으로 미분할 수 없습니다 (.data, .detach(), torch.no_grad() 를 "
             "쓰지 마세요). 네트워크 안에서 쓰면 학습이 되지 않습니다.")
    real_tensor(out, "my_dropout 의 출력")
    grad = call.grads[0] if call.grads else None
    if grad is not None:
        real_tensor(grad, "입력에 대한 기울기")
    expected = (out.detach() != 0).float() / (1 - p)
    if grad is None or grad.shape != expected.shape or \
            not torch.allclose(grad.to(expected.dtype), expected, rtol=1e-5, atol=1e-6):
        got = "없음" if grad is None else f"{grad[out.detach() != 0].median().item():.3g}"
        fail(f"p={p} 에서 살아남은 원소에 대한 기울기가 {got} 입니다; 마스크 / (1-p) = 5 이어야 "
             "합니다 (0이 된 원소는 0).")
