"""The exact binomial bounds of the statistical checks, against exact rational arithmetic."""
from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from dropout_kit import stats


def exact_pmf(n: int, p: Fraction) -> list[Fraction]:
    return [comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


@pytest.mark.parametrize("n, p, alpha", [(100, Fraction(4, 5), 1e-6), (2000, Fraction(1, 2), 1e-6 / 3),
                                         (2000, Fraction(9, 10), 1e-6), (1500, Fraction(1, 10), 1e-3)])
def test_bounds_are_the_narrowest_with_tails_at_most_alpha(n, p, alpha):
    pmf = exact_pmf(n, p)
    lo, hi = stats.binomial_bounds(n, float(p), alpha)
    half = Fraction(alpha) / 2
    assert sum(pmf[:lo]) <= half and sum(pmf[hi + 1:]) <= half
    assert sum(pmf[:lo + 1]) > half and sum(pmf[hi:]) > half  # one step narrower breaks it
    outside = float(sum(pmf[:lo]) + sum(pmf[hi + 1:]))
    assert stats.binomial_tail_outside(n, float(p), lo, hi) == pytest.approx(outside, rel=1e-9)
    assert stats.binomial_prob_inside(n, float(p), lo, hi) == pytest.approx(1 - outside, rel=1e-9)


def test_probability_that_all_counts_are_equal():
    n, p, calls = 30, Fraction(4, 5), 4
    exact = sum(q**calls for q in exact_pmf(n, p))
    assert stats.binomial_all_equal(n, float(p), calls) == pytest.approx(float(exact), rel=1e-9)
