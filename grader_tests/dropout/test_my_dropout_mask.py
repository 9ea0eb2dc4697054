"""Part 2a, my_dropout's mask: each element zeroed independently with probability p.

False-fail probability of each check for a correct implementation (independent
Bernoulli(p) drops), derived exactly, not simulated:
- zero counts: exact binomial bounds at level 1e-6/3 for each of the three p, so at
  most 1e-6 in all (dropout_kit.stats.binomial_bounds; each tail is summed exactly);
- counts vary: P(20 independent Binomial(100, 0.8) counts all equal) = 2.1e-20;
- no shared lines: 128 lines of 64 Bernoulli(0.5) drops, each all-zero or all-kept
  with probability 2·0.5^64, so at most 1.4e-17;
- new mask: two masks of 4096 Bernoulli(0.5) drops agree with probability 2^-4096.
torch.rand draws multiples of 2^-24, so `rand >= p` drops with probability p to within
6e-8; that shifts the bounds' tail probabilities by far less than their slack.

The gate "written by hand" is judged on the submitted source (nbgrader's copy of the code
cells up to my_dropout, conftest.hand_written), never on what the kernel reports; what the
reading cannot resolve goes to a person (flag) and does not cost the gate. Below Python,
every call of my_dropout by these checks runs with torch's dropout operators blocked at the
dispatcher: entering one, however it was reached, fails the gate too (the kernel tells it
out of the kernel before the operator raises). Every output is
checked to be a real tensor with finite values before its zeros are counted (a NaN is not
a zero, and a NaN survivor would otherwise pass the mask checks).

Cheap before expensive: every check here but the gate depends on my_dropout's small calls
(conftest.small_calls_problem: 8 and 3×4 elements, right shape and dtype, no error), made
once; if they are wrong, these checks fail at once with what was wrong and never call it on
10 000 elements. Each request has a time and memory budget (dropout_kit.checks.remote.CALL);
a my_dropout that ran out of time is not called again in this module.
"""
import pytest
import torch

from dropout_kit.checking import fail, real_tensor
from dropout_kit.stats import FALSE_FAIL, binomial_bounds

PS = (0.5, 0.8, 0.9)
N = 10_000


def output(out) -> torch.Tensor:
    """my_dropout's result, if it is a real tensor with finite values (its shape is judged
    where a check needs it)."""
    return real_tensor(out, "my_dropout 의 출력")


@pytest.mark.gate
@pytest.mark.points(0)
def test_hand_written(hand_written):
    """torch의 드랍아웃을 쓰지 않고 직접 구현 (필수 조건)"""


@pytest.mark.points(1.5)
def test_zero_fraction_is_binomial(drop):
    """0이 되는 개수: p = 0.5, 0.8, 0.9 에서 Binomial(n, p)"""
    x = torch.linspace(1, 2, N)  # no zeros in the input
    for p, call in zip(PS, drop.calls([(x, p) for p in PS])):
        zeros = int((output(call.result()) == 0).sum())
        lo, hi = binomial_bounds(N, p, FALSE_FAIL / len(PS))
        if not lo <= zeros <= hi:
            fail(f"0이 된 비율이 {zeros / N:.3f} 입니다; p={p} 이면 약 {p:.2f} "
                 f"(허용 범위 {lo / N:.3f}~{hi / N:.3f}) 이어야 합니다 (원소 {N}개).")


@pytest.mark.points(0.5)
def test_count_varies_between_calls(drop):
    """0이 되는 개수가 호출마다 달라짐 (정확히 n·p개를 고르지 않음)"""
    x = torch.linspace(1, 2, 100)
    counts = {int((output(call.result()) == 0).sum()) for call in drop.calls([(x, 0.8)] * 20)}
    if len(counts) == 1:
        fail(f"원소 100개, p=0.8 로 20번 호출했는데 매번 정확히 {counts.pop()}개가 0이 되었습니다. "
             "각 원소가 독립적으로 확률 p로 0이 되어야 하므로 0의 개수는 호출마다 달라집니다.")


@pytest.mark.points(0.5)
def test_no_shared_mask_across_rows_or_columns(drop):
    """2차원 입력에서 원소마다 따로 0을 고름 (행·열 공유 마스크 아님)"""
    out = drop(torch.ones(64, 64) + 1, 0.5)
    if not isinstance(out, torch.Tensor) or out.shape != (64, 64):
        fail("64×64 입력에 대한 출력의 shape이 (64, 64)가 아닙니다.")
    output(out)
    dropped = out == 0
    pure_rows = int((dropped.all(dim=1) | (~dropped).all(dim=1)).sum())
    pure_cols = int((dropped.all(dim=0) | (~dropped).all(dim=0)).sum())
    if pure_rows or pure_cols:
        fail(f"64×64 입력에서 통째로 0이거나 통째로 살아남은 행이 {pure_rows}개, 열이 {pure_cols}개 "
             "입니다 (독립이면 거의 0개). 마스크를 한 행(열)만 만들어 브로드캐스트하지 말고 "
             "원소마다 만드세요.")


@pytest.mark.points(0.5)
def test_new_mask_every_call(drop):
    """호출할 때마다 새로운 마스크"""
    x = torch.linspace(1, 2, 4096)
    first, second = (output(call.result()) for call in drop.calls([(x, 0.5)] * 2))
    if torch.equal(first == 0, second == 0):
        fail("같은 입력으로 두 번 호출했더니 4096개 원소 중 정확히 같은 위치가 0이 되었습니다. "
             "0이 될 위치는 호출할 때마다 새로 무작위로 정해야 합니다 (함수 안에서 시드를 "
             "고정하지 마세요).")
