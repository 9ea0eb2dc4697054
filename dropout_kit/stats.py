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


def _checked(n: int, p: float, alpha: float | None = None) -> None:
    """Counts and probabilities as the bounds need them: a NaN would make every comparison
    below false and a bound silently wide."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a count, not {n!r}")
    if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
        raise ValueError(f"p must be a probability, not {p!r}")
    if alpha is not None and not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), not {alpha!r}")


def _log_pmf(n: int, p: float, k: int) -> float:
    if p == 0.0:
        return 0.0 if k == 0 else -math.inf
    if p == 1.0:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def _support(n: int, p: float) -> range:
    """The counts within t = 50 standard deviations + 100 of the mean. Bernstein's
    inequality, P(|X - np| >= t) <= 2 exp(-t² / (2 sd² + 2t/3)), leaves less than 1e-60
    of Binomial(n, p) outside for any n and p, far below the 1e-6 of any bound here: sums
    over this range are exact for our purposes and cost O(sqrt(n)) instead of O(n)."""
    sd = math.sqrt(n * p * (1 - p))
    width = int(50 * sd) + 100
    mean = round(n * p)
    return range(max(0, mean - width), min(n, mean + width) + 1)


@lru_cache(maxsize=None)
def binomial_bounds(n: int, p: float, alpha: float = FALSE_FAIL) -> tuple[int, int]:
    """The narrowest [lo, hi] with P(X < lo) <= alpha/2 and P(X > hi) <= alpha/2 for
    X ~ Binomial(n, p), tails summed exactly: a correct count lands outside with
    probability <= alpha."""
    _checked(n, p, alpha)
    support = _support(n, p)
    lo, tail = support.start, 0.0
    while lo < n and tail + (mass := math.exp(_log_pmf(n, p, lo))) <= alpha / 2:
        tail += mass
        lo += 1
    hi, tail = support.stop - 1, 0.0
    while hi > 0 and tail + (mass := math.exp(_log_pmf(n, p, hi))) <= alpha / 2:
        tail += mass
        hi -= 1
    return lo, hi


def binomial_tail_outside(n: int, p: float, lo: int, hi: int) -> float:
    """P(X < lo or X > hi) for X ~ Binomial(n, p): the false-fail probability of a bound."""
    _checked(n, p)
    return sum(math.exp(_log_pmf(n, p, k)) for k in _support(n, p) if k < lo or k > hi)


def binomial_prob_inside(n: int, p: float, lo: int, hi: int) -> float:
    """P(lo <= X <= hi) for X ~ Binomial(n, p): the miss probability of a bound against a
    mistake whose count is Binomial(n, p) with the wrong p."""
    _checked(n, p)
    support = _support(n, p)
    return sum(math.exp(_log_pmf(n, p, k))
               for k in range(max(lo, support.start), min(hi, support.stop - 1) + 1))


def binomial_all_equal(n: int, p: float, calls: int) -> float:
    """P(X_1 = … = X_calls) for independent X_i ~ Binomial(n, p)."""
    _checked(n, p)
    return sum(math.exp(calls * _log_pmf(n, p, k)) for k in range(n + 1))
