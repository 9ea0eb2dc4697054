"""Exact acceptance bounds for the statistical checks.

Every statistical check accepts with exact binomial bounds chosen so that a correct
implementation fails it with probability at most FALSE_FAIL (split evenly over the
bounds a check tests); no normal approximation, no hand-picked tolerance.
"""
from __future__ import annotations

import math
from functools import lru_cache

# Upper bound on the probability that one check fails a correct submission.
FALSE_FAIL = 1e-6


def _log_pmf(n: int, p: float, k: int) -> float:
    if p == 0.0:
        return 0.0 if k == 0 else -math.inf
    if p == 1.0:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


@lru_cache(maxsize=None)
def binomial_bounds(n: int, p: float, alpha: float = FALSE_FAIL) -> tuple[int, int]:
    """The widest-needed [lo, hi] with P(X < lo) <= alpha/2 and P(X > hi) <= alpha/2
    for X ~ Binomial(n, p): a correct count lands outside with probability <= alpha."""
    pmf = [math.exp(_log_pmf(n, p, k)) for k in range(n + 1)]
    lo, tail = 0, 0.0
    while lo < n and tail + pmf[lo] <= alpha / 2:
        tail += pmf[lo]
        lo += 1
    hi, tail = n, 0.0
    while hi > 0 and tail + pmf[hi] <= alpha / 2:
        tail += pmf[hi]
        hi -= 1
    return lo, hi


def binomial_tail_outside(n: int, p: float, lo: int, hi: int) -> float:
    """P(X < lo or X > hi) for X ~ Binomial(n, p): the false-fail probability of a bound."""
    return sum(math.exp(_log_pmf(n, p, k)) for k in range(n + 1) if k < lo or k > hi)
