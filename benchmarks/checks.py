"""How well the hidden checks grade: false fails, misses and time, over many seeds.

    python -m benchmarks.checks            # the full run (about an hour on 2 cores)
    python -m benchmarks.checks --quick    # a smoke run (a few minutes)

The notebooks of the corpus (tests/corpus.py) are run in this process, the way the
grading kernel runs them: code cells executed in order in one namespace, with the
working directory holding the notebook, and each autograder cell's checks run at its
place against a LocalKernel (the checks talk to this process's namespace instead of a
kernel, through the same requests and serialization; cell sources from the notebook, as
nbgrader's side gives them). This is much faster than nbgrader and
gives the same verdicts (tests/test_corpus.py grades the same corpus with nbgrader).

Printed:
  (a) correct submissions: runs over random seeds of the student's code (the seed in
      the dropout_net cell) and of the checks; every run must get full marks. The
      training-dependent figures are reported with their margins: the R² of the
      re-trained net against its threshold, and the student's own mse_eval against
      mse_nodrop (reported only: it is why that claim is judged on the lecture's networks).
  (b) wrong submissions: each graded over many seeds of the student's code and of the
      checks; every run must give the entry's exact expected scores (caught in its part,
      nothing lost elsewhere).
  (c) time of all hidden checks per submission (median, worst case).
  (d) the false-fail and miss probabilities derived for the statistical checks.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers name the course's assignment

sys.path.insert(0, str(REPO / "grader_tests" / "dropout"))

import dropout_assignment as dropout  # noqa: E402
import lecture  # noqa: E402

from dropout_kit import checking, grading  # noqa: E402
from dropout_kit.cells import code_sources_before, grade_id  # noqa: E402
from dropout_kit.checks.remote import LocalKernel, Notebook  # noqa: E402
from dropout_kit.checks.runner import ModuleResult, run_checks  # noqa: E402
from dropout_kit.harness import samples  # noqa: E402
from dropout_kit.stats import (  # noqa: E402
    FALSE_FAIL,
    binomial_all_equal,
    binomial_bounds,
    binomial_prob_inside,
    binomial_tail_outside,
)
from tests import corpus  # noqa: E402

SEED_CALL = re.compile(r"torch\.manual_seed\(\d+\)")


@dataclass
class Graded:
    scores: dict[str, float]
    results: dict[str, ModuleResult]
    check_seconds: float
    measured: dict[str, float] = field(default_factory=dict)
    module_seconds: dict[str, float] = field(default_factory=dict)

    def failures(self) -> list[str]:
        return [f"{r.test_id}:{c.name}: {c.message}" for r in self.results.values()
                for c in r.checks if not c.passed] + \
               [f"{r.test_id}: {r.error}" for r in self.results.values() if r.error]


class InProcessGrader:
    """Runs assembled notebooks in this process; the cells before dropout_net (data, split,
    the given no-dropout training, my_dropout) are run once per distinct prefix and their
    namespace and torch random state reused."""

    def __init__(self, workdir: Path):
        import matplotlib
        from IPython.core.inputtransformer2 import TransformerManager
        matplotlib.use("Agg")
        self.transform = TransformerManager().transform_cell
        self.workdir = workdir
        self.release = dropout.release_notebook(REPO)
        self.reference = samples.reference_answers(dropout.source_notebook(REPO))
        self.max_points = {grade_id(c): float(c.metadata["nbgrader"]["points"])
                           for c in nbformat.read(dropout.source_notebook(REPO), as_version=4).cells
                           if grade_id(c) in dropout.AUTO_CELLS}
        self._prefixes: dict[tuple, tuple[dict, torch.Tensor]] = {}
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)

    def _exec(self, source: str, ns: dict) -> None:
        import matplotlib.pyplot as plt
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(self.transform(source), "<cell>", "exec"), ns)
            except Exception:
                pass  # like nbgrader: the notebook goes on after an error
            finally:
                plt.close("all")

    def _prefix(self, cells) -> tuple[dict, torch.Tensor]:
        key = tuple(c.source for c in cells)
        if key not in self._prefixes:
            ns = {"__name__": "__main__"}
            for cell in cells:
                if cell.cell_type == "code" and not grade_id(cell) in dropout.AUTO_CELLS:
                    self._exec(cell.source, ns)
            self._prefixes[key] = (ns, torch.get_rng_state())
        ns, rng = self._prefixes[key]
        torch.set_rng_state(rng)
        return dict(ns)

    def grade(self, answers: dict[str, str], check_seed: int) -> Graded:
        notebook = samples.assemble(self.release, answers)
        nbformat.write(notebook, self.workdir / dropout.NOTEBOOK)
        cells = notebook.cells
        split_at = next(i for i, c in enumerate(cells) if grade_id(c) == "dropout_net")
        ns = self._prefix(cells[:split_at])
        os.environ[checking.CHECK_SEED_ENV] = str(check_seed)
        checking.MEASURED.clear()
        results, seconds = {}, {}
        for i, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            if grade_id(cell) in dropout.AUTO_CELLS:
                started = time.perf_counter()
                kernel = LocalKernel(ns, grading.notebook_sources(self.workdir),
                                     functools.partial(code_sources_before, cells))
                results[grade_id(cell)] = run_checks(grade_id(cell), Notebook(kernel), REPO / "grader_tests" / "dropout")
                seconds[grade_id(cell)] = time.perf_counter() - started
            elif i >= split_at:
                self._exec(cell.source, ns)
        scores = {t: round(min(r.score, r.max_points), 6) for t, r in results.items()}
        measured = dict(checking.MEASURED)
        if all(isinstance(ns.get(name), float) for name in ("mse_eval", "mse_nodrop")):
            measured["live_mse_eval"], measured["live_mse_nodrop"] = ns["mse_eval"], ns["mse_nodrop"]
        return Graded(scores, results, sum(seconds.values()), measured, seconds)


def with_student_seed(answers: dict[str, str], seed: int) -> dict[str, str]:
    """The dropout_net cell with its torch.manual_seed(...) set to `seed` (if it has one)."""
    return {**answers, "dropout_net": SEED_CALL.sub(f"torch.manual_seed({seed})", answers["dropout_net"])}


# -- the runs ------------------------------------------------------------------------------
@dataclass
class Tally:
    runs: int = 0
    bad: list[str] = field(default_factory=list)
    check_seconds: list[float] = field(default_factory=list)
    r2: list[float] = field(default_factory=list)
    mse_ratio: list[float] = field(default_factory=list)  # mse_nodrop / mse_eval (live)

    def add(self, graded: Graded, ok: bool, label: str) -> None:
        self.runs += 1
        self.check_seconds.append(graded.check_seconds)
        if "r2" in graded.measured:
            self.r2.append(graded.measured["r2"])
        if "live_mse_eval" in graded.measured:
            self.mse_ratio.append(graded.measured["live_mse_nodrop"] / graded.measured["live_mse_eval"])
        if not ok:
            self.bad.append(label)


def graded_runs(grader, rng, entry, runs: int, expected: dict[str, float], alarm: str, log) -> Tally:
    """`entry` graded `runs` times, each with new seeds for the student's code and the checks."""
    tally = Tally()
    for _ in range(runs):
        student_seed, check_seed = rng.randrange(2**31), rng.randrange(2**31)
        answers = with_student_seed(corpus.answers(entry, grader.reference), student_seed)
        graded = grader.grade(answers, check_seed)
        ok = graded.scores == expected
        label = (f"{entry.name} student_seed={student_seed} check_seed={check_seed}: "
                 f"got {graded.scores}, expected {expected}; {graded.failures()}")
        tally.add(graded, ok, label)
        if not ok:
            log(f"  {alarm} {label}")
    return tally


def correct_runs(grader, rng, reference_seeds: int, variant_seeds: int, log) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    plan = [(corpus.CORRECT[0], reference_seeds)] + [(e, variant_seeds) for e in corpus.CORRECT[1:]]
    for entry, runs in plan:
        tally = tallies[entry.name] = graded_runs(grader, rng, entry, runs, grader.max_points, "FALSE FAIL", log)
        log(f"  {entry.name}: {tally.runs} runs, {len(tally.bad)} not full marks")
    return tallies


def wrong_runs(grader, rng, runs: int, log) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for entry in corpus.WRONG:
        expected = entry.expected(grader.max_points)
        tally = tallies[entry.name] = graded_runs(grader, rng, entry, runs, expected, "WRONG SCORE", log)
        log(f"  {entry.name}: caught as expected in {tally.runs - len(tally.bad)}/{tally.runs}")
    return tallies


# -- the derived probabilities ---------------------------------------------------------------
def statistical_table() -> list[tuple[str, str, str]]:
    """(check, false-fail probability of a correct submission, how derived)."""
    rows = []
    tail = sum(binomial_tail_outside(10_000, p, *binomial_bounds(10_000, p, FALSE_FAIL / 3))
               for p in (0.5, 0.8, 0.9))
    rows.append(("mask: zero counts, n=10 000 at p=0.5/0.8/0.9", f"{tail:.2e}",
                 "exact binomial tails, 1e-6/3 per p"))
    rows.append(("mask: counts vary over 20 calls", f"{binomial_all_equal(100, 0.8, 20):.2e}",
                 "sum_k P(K=k)^20, K~Bin(100,0.8)"))
    rows.append(("mask: no all-0/all-kept line in 64x64", f"{128 * 2 * 0.5 ** 64:.2e}",
                 "128 lines x 2 x 0.5^64"))
    rows.append(("mask: two masks differ (4096 at p=0.5)", "2^-4096", "P(equal) = 0.5^4096"))
    lo, hi = binomial_bounds(100_000, 0.1, FALSE_FAIL)
    rows.append(("scale: mean kept at p=0.9, n=100 000", f"{binomial_tail_outside(100_000, 0.1, lo, hi):.2e}",
                 "exact binomial tails on the survivor count"))
    rows.append(("net: variance ratio (two sides) and mean of training-mode outputs", "<= 1e-06",
                 "three bounds at 1e-6/3 derived from the weights (grader_tests/dropout/training_pass.py)"))
    rows.append(("all other checks but the R² of the re-run", "0",
                 "exact values, eval mode (the R²: see its margin in (a))"))
    return rows


def miss_table() -> list[tuple[str, str]]:
    """Miss probabilities of the mistakes that a statistical bound catches."""
    rows = []
    lo, hi = binomial_bounds(10_000, 0.8, FALSE_FAIL / 3)
    rows.append(("my_dropout keeps with probability p (drops 0.2 at p=0.8)",
                 f"{binomial_prob_inside(10_000, 0.2, lo, hi):.1e}"))
    # The variance ratio of a net with Dropout(q) on its hidden units (kept values scaled by
    # 1/(1-q)) is q(1-P)/((1-q)P); the accepted range for 2000 draws is about [0.79, 1.85].
    for q in (0.5, 0.7, 0.85, 0.9):
        ratio = q * (1 - 0.8) / ((1 - q) * 0.8)
        rows.append((f"net with Dropout({q}) (variance ratio {ratio:.2f}; accepted about 0.79-1.85)",
                     "outside the range: caught" if not 0.79 <= ratio <= 1.85 else "inside the range: not caught"))
    return rows


# -- report --------------------------------------------------------------------------------
def margin(values: list[float], threshold: float, name: str) -> str:
    """Distance of the threshold below the mean in standard deviations, and the tail a
    normal distribution would put below it: an estimate, not a bound."""
    if len(values) < 2:
        return f"{name}: too few runs for a margin"
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    z = (mean - threshold) / sd if sd > 0 else math.inf
    tail = 0.5 * math.erfc(z / math.sqrt(2))
    return (f"{name}: mean {mean:.4f}, sd {sd:.4f}; threshold {z:.1f} sd below the mean "
            f"(normal-tail estimate of a false fail: {tail:.1e})")


def spread(values: list[float], fmt: str = ".4f") -> str:
    if not values:
        return "-"
    return f"min {min(values):{fmt}}  median {statistics.median(values):{fmt}}  max {max(values):{fmt}}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few seeds")
    parser.add_argument("--seed", type=int, default=20261127, help="seed of the seed choices")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1, as the batch grader runs each kernel)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    reference_seeds, variant_seeds, wrong_seeds = (3, 1, 1) if args.quick else (300, 20, 20)
    rng = random.Random(args.seed)
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:7.0f} s] {line}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        grader = InProcessGrader(Path(tmp))
        log(f"(a) correct submissions: reference x {reference_seeds} seeds, "
            f"{len(corpus.CORRECT) - 1} variants x {variant_seeds}")
        correct = correct_runs(grader, rng, reference_seeds, variant_seeds, log)
        log(f"(b) wrong submissions: {len(corpus.WRONG)} entries x {wrong_seeds} seeds")
        wrong = wrong_runs(grader, rng, wrong_seeds, log)
    print(report(correct, wrong, grader.max_points, time.perf_counter() - started))
    print(f"torch threads: {torch.get_num_threads()}")
    failures = sum(len(t.bad) for t in correct.values()) + sum(len(t.bad) for t in wrong.values())
    return 1 if failures else 0


def min_r2() -> float:
    """The R² threshold of the hidden check (grader_tests is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_bench_dropout_net", REPO / "grader_tests" / "dropout" / "test_dropout_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MIN_R2


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(correct: dict[str, Tally], wrong: dict[str, Tally], max_points, seconds: float) -> str:
    out = []
    runs = sum(t.runs for t in correct.values())
    bad = sum(len(t.bad) for t in correct.values())
    out.append(f"\n(a) correct submissions: {runs} runs, {bad} with any point lost")
    out.append(table(["entry", "runs", "not full", "R² of re-run (min / max)", "checks s (median / max)"],
                     [[n, t.runs, len(t.bad), f"{min(t.r2):.3f} / {max(t.r2):.3f}" if t.r2 else "-",
                       f"{statistics.median(t.check_seconds):.1f} / {max(t.check_seconds):.1f}"]
                      for n, t in correct.items()]))
    r2 = [v for t in correct.values() for v in t.r2]
    ratio = [v for t in correct.values() for v in t.mse_ratio]
    threshold = min_r2()
    out.append(f"\nR² of the re-trained net, {len(r2)} runs (threshold {threshold}): {spread(r2)}")
    out.append("    " + margin(r2, threshold, "R²"))
    out.append(f"mse_nodrop / mse_eval on the student's own numbers, {len(ratio)} runs: {spread(ratio, '.1f')}"
               "\n    (not judged: too close to 1 for a 1e-6 guarantee, so the claim is judged on the "
               "lecture's trained networks)")
    out.append("    " + margin([math.log(v) for v in ratio], 0.0, "log(mse_nodrop / mse_eval)"))
    out.append(f"\n(b) wrong submissions: {len(wrong)} entries")
    out.append(table(["entry", "part", "caught exactly", "expected scores", "checks s (max)"],
                     [[e.name, e.part, f"{wrong[e.name].runs - len(wrong[e.name].bad)}/{wrong[e.name].runs}",
                       ", ".join(f"{k.removeprefix('test_')}={v:g}" for k, v in e.scores.items()),
                       f"{max(wrong[e.name].check_seconds):.1f}"]
                      for e in corpus.WRONG if e.name in wrong]))
    times = [s for t in [*correct.values(), *wrong.values()] for s in t.check_seconds]
    out.append(f"\n(c) time of all hidden checks per submission over {len(times)} runs: "
               f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s")
    reference_times = correct[corpus.CORRECT[0].name].check_seconds
    out.append(f"    reference solution: median {statistics.median(reference_times):.2f} s, "
               f"worst {max(reference_times):.2f} s")
    out.append(f"\nlecture's networks (seed 1), test MSE in evaluation mode: dropout "
               f"{lecture.eval_mse(lecture.stored_network(dropout=True)):.2e}, no dropout "
               f"{lecture.eval_mse(lecture.stored_network(dropout=False)):.2e}")
    out.append("\n(d) false-fail probability of each statistical check (correct submission)")
    out.append(table(["check", "P(false fail)", "how"], [list(r) for r in statistical_table()]))
    out.append("\n    miss probability of the mistakes a statistical bound catches")
    out.append(table(["mistake", "P(missed)"], [list(r) for r in miss_table()]))
    out.append(f"\nbenchmark wall time {seconds / 60:.1f} min; load average now "
               f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
