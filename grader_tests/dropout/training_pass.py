"""Whether a network drops its hidden units as Dropout(P) does in training mode, judged from
its outputs alone: training-mode passes of the student's own net, with its own weights, on
inputs drawn in the lecture's x range with the checks' seed, compared with what the checker
computes from those weights. No hook, no weights and no inputs of the checks' that a net could
recognise are in the net while it runs.

For Linear(1→h) → ReLU → Dropout(P) → Linear(h→1) (dropout before the ReLU gives the same),
a row x's training-mode output is b2 + Σ_j a_j·m_j/(1−P), with a_j = W2_j·ReLU(W1_j·x + b1_j)
computed here and m_j independent Bernoulli(1−P). So its distance from the evaluation-mode
output, d = Σ_j X_j with X_j = a_j·(m_j/(1−P) − 1), has, exactly,
    E d = 0,  E d² = c·S,  E d⁴ = k·Σa⁴ + 3c²·(S² − Σa⁴),
with c = P/(1−P), k = P⁴/(1−P)³ + P, S = Σ_j a_j². Over N = rows × passes draws, three
statistics, each accepted within a bound a correct net leaves with probability ≤ FALSE_FAIL/3:
  * the variance ratio V = mean of d²/(c·S) is at least 1 − ε: for independent non-negative
    Y, P(ΣY ≤ E ΣY − t) ≤ exp(−t² / (2·Σ E Y²)), and E Y² = E d⁴/(c·S)² exactly;
  * V is at most t_hi: X_j lies in an interval of width |a_j|/(1−P), so by Hoeffding's lemma
    d/√(c·S) is sub-Gaussian with variance proxy ν = 1/(4·P·(1−P)), E exp(λu²) ≤ (1−2λν)^−½,
    and P(V ≥ t) ≤ exp(−N/2·(t/ν − 1 − ln(t/ν)));
  * |Σ d| is at most s: Hoeffding over every unit of every draw.
Another rate (0.5: V = 0.25; 0.9: V = 2.25), no scaling of the kept values (V = 0.04), one mask
for all units or dropout after the output layer (V = (output − b2)²/S or output²/S: tiny for a
net fitted to y ≈ 0) and no dropout (V = 0) fall outside. Rows where the net's hidden units
reach the output too weakly for float32 rounding to be negligible beside √(c·S) carry no
information and are left out.
"""
from __future__ import annotations

import math

import torch

from networks import Linears

# Inputs per pass and passes: about 2000 draws.
ROWS = 400
PASSES = 5
# A row counts where √(c·S) is this many times the rounding of a float32 output (below).
INFORMATIVE = 1000.0
# Rounding of a float32 output of the net, relative to Σ|a_j|/(1−P), and absolute.
RELATIVE_ROUNDING, ABSOLUTE_ROUNDING = 1e-5, 1e-6


def inputs() -> torch.Tensor:
    """ROWS points drawn uniformly in the lecture's x range [0, 1) (from torch's generator:
    draw them seeded)."""
    return torch.rand(ROWS, 1)


def upper_ratio(n: int, p: float, level: float) -> float:
    """t_hi: the largest mean of n squared sub-Gaussian variables of proxy ν = 1/(4p(1−p))
    (relative to their variance) exceeded with probability ≤ level."""
    nu = 1 / (4 * p * (1 - p))
    wanted = 2 * math.log(1 / level) / n  # t/ν − 1 − ln(t/ν) must reach this
    lo, hi = 1.0, 100.0
    for _ in range(100):
        q = (lo + hi) / 2
        if q - 1 - math.log(q) < wanted:
            lo = q
        else:
            hi = q
    return nu * hi


class TrainingPass:
    """What training-mode passes of a net showed, against Dropout(p) on its hidden units."""

    def __init__(self, layers: Linears, x: torch.Tensor, outputs: list[torch.Tensor], p: float, level: float):
        self.p, self.level = p, level
        c = p / (1 - p)
        a = torch.relu(layers.hidden(x).double()) * layers.w2.double()  # (rows, h): a_j per row
        b2 = float(layers.b2) if layers.b2 is not None else 0.0
        self.evaluation = a.sum(1) + b2
        s = (a ** 2).sum(1)
        rounding = RELATIVE_ROUNDING * a.abs().sum(1) / (1 - p) + ABSOLUTE_ROUNDING
        keep = (c * s).sqrt() >= INFORMATIVE * rounding
        self.rows = int(keep.sum())
        self.outputs = torch.stack([out.double().reshape(-1) for out in outputs])  # (passes, rows)
        d = (self.outputs - self.evaluation)[:, keep]
        s, a = s[keep], a[keep]
        self.n = d.numel()
        self.variance_ratio = float((d ** 2 / (c * s)).mean()) if self.n else math.nan
        fourth = a.pow(4).sum(1)
        k = p ** 4 / (1 - p) ** 3 + p
        second_moments = (k * fourth + 3 * c ** 2 * (s ** 2 - fourth)) / (c * s) ** 2  # E Y² per row
        total_second = float(second_moments.sum()) * len(outputs)
        self.lowest = 1 - math.sqrt(2 * total_second * math.log(3 / level)) / self.n if self.n else math.nan
        self.highest = upper_ratio(self.n, p, level / 3) if self.n else math.nan
        self.sum = float(d.sum())
        width = float(s.sum()) * len(outputs) / (1 - p) ** 2  # Σ of the squared widths
        self.largest_sum = math.sqrt(width * math.log(6 / level) / 2)

    @property
    def still(self) -> bool:
        """The outputs are the evaluation-mode outputs: nothing was dropped."""
        return bool(torch.allclose(self.outputs, self.evaluation.expand_as(self.outputs), rtol=1e-4, atol=1e-6))

    @property
    def rate_seen(self) -> float:
        """The dropout rate a correct dropout layer would need for the variance seen."""
        ratio = self.variance_ratio * self.p / (1 - self.p)
        return ratio / (1 + ratio)

    def only(self, *candidates: torch.Tensor) -> bool:
        """Whether every output is, row by row, one of `candidates`."""
        close = [torch.isclose(self.outputs, c.double().reshape(-1).expand_as(self.outputs), rtol=1e-4, atol=1e-6)
                 for c in candidates]
        return bool(torch.stack(close).any(0).all())

    @property
    def passes(self) -> bool:
        return (self.n > 0 and self.lowest <= self.variance_ratio <= self.highest
                and abs(self.sum) <= self.largest_sum)
