"""Part 2a, my_dropout's mask: each element zeroed independently with probability p.

Every count is judged with exact binomial bounds (dropout_kit.stats): a correct
implementation fails a check with probability at most 1e-6.
"""
import pytest
import torch

from dropout_kit.checking import fail
from dropout_kit.stats import FALSE_FAIL, binomial_bounds

PS = (0.5, 0.8, 0.9)
N = 10_000


@pytest.mark.gate
@pytest.mark.points(0)
def test_hand_written(hand_written):
    """torch의 드랍아웃을 쓰지 않고 직접 구현 (필수 조건)"""


@pytest.mark.points(1.5)
def test_zero_fraction_is_binomial(my_dropout):
    """0이 되는 개수: p = 0.5, 0.8, 0.9 에서 Binomial(n, p)"""
    x = torch.linspace(1, 2, N)  # no zeros in the input
    for p in PS:
        zeros = int((my_dropout(x, p) == 0).sum())
        lo, hi = binomial_bounds(N, p, FALSE_FAIL / len(PS))
        if not lo <= zeros <= hi:
            fail(f"p={p} 에서 0이 된 비율이 {zeros / N:.3f} 입니다; 약 {p:.2f} "
                 f"(허용 범위 {lo / N:.3f}~{hi / N:.3f}) 이어야 합니다.")


@pytest.mark.points(0.5)
def test_count_varies_between_calls(my_dropout):
    """0이 되는 개수가 호출마다 달라짐 (정확히 n·p개를 고르지 않음)"""
    # Independent drops make the count Binomial(100, 0.8): 20 equal counts in a row
    # have probability at most max_k P(X=k)^19 < 1e-19.
    x = torch.linspace(1, 2, 100)
    counts = {int((my_dropout(x, 0.8) == 0).sum()) for _ in range(20)}
    if len(counts) == 1:
        fail(f"20번 호출했는데 매번 정확히 {counts.pop()}개가 0이 되었습니다. 각 원소가 "
             "독립적으로 확률 p로 0이 되어야 하므로 개수는 호출마다 달라집니다.")


@pytest.mark.points(0.5)
def test_no_shared_mask_across_rows_or_columns(my_dropout):
    """2차원 입력에서 원소마다 따로 0을 고름 (행·열 공유 마스크 아님)"""
    # A row or column of 64 independent p=0.5 drops is all-zero or all-kept with
    # probability 2·0.5^64; over 128 lines that is below 1e-17.
    out = my_dropout(torch.ones(64, 64) + 1, 0.5)
    dropped = out == 0
    pure_rows = int((dropped.all(dim=1) | (~dropped).all(dim=1)).sum())
    pure_cols = int((dropped.all(dim=0) | (~dropped).all(dim=0)).sum())
    if pure_rows or pure_cols:
        fail(f"64×64 입력에서 통째로 0이거나 통째로 살아남은 행이 {pure_rows}개, 열이 {pure_cols}개 "
             "입니다. 마스크를 한 행(열)만 만들어 브로드캐스트하지 말고 원소마다 만드세요.")


@pytest.mark.points(0.5)
def test_new_mask_every_call(my_dropout):
    """호출할 때마다 새로운 마스크"""
    # Two independent masks of 4096 elements at p=0.5 agree with probability 0.5^4096.
    x = torch.linspace(1, 2, 4096)
    if torch.equal(my_dropout(x, 0.5) == 0, my_dropout(x, 0.5) == 0):
        fail("같은 입력으로 두 번 호출했더니 같은 위치가 0이 되었습니다. 0이 될 위치는 "
             "호출할 때마다 새로 (시드를 고정하지 말고) 무작위로 정해야 합니다.")
