"""Whether training ran with dropout on, judged from weights: the margin of the threshold.

    python -m benchmarks.training_mode                # 1000 seeds of each (about 25 min per core)
    python -m benchmarks.training_mode --quick        # 20 seeds of each
    python -m benchmarks.training_mode --workers 2

The hidden check (grader_tests/dropout/test_dropout_net.py, `dropout_noise`) re-runs the
student's dropout_net cell on the lecture's training inputs with curved targets and computes,
from the re-trained net's weights, the output variance Dropout(0.8) adds, relative to the
targets' variance. This trains the reference cell that way over many seeds, really (the
cell's own code: nn.Sequential, Adam, 1000 epochs), once as written and once with
`net.eval()` before its loop (the classic mistake: dropout never active while training), and
prints both distributions, the threshold's distance from each in standard deviations and the
normal-tail estimate of a false fail (an estimate, not a bound) beside the extremes seen.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
CHECKS = REPO / "grader_tests" / "dropout"
SEED_CALL = re.compile(r"torch\.manual_seed\(\d+\)")
CLASSES = ("dropout on (reference)", "net.eval() before the loop")


def check_module():
    """grader_tests/dropout/test_dropout_net.py (not a package: loaded from its file)."""
    sys.path.insert(0, str(CHECKS))
    spec = importlib.util.spec_from_file_location("_bench_dropout_net", CHECKS / "test_dropout_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells() -> dict[str, str]:
    """The reference dropout_net cell, and the same with net.eval() before its loop."""
    from dropout_kit.harness import samples
    sys.path.insert(0, str(REPO / "tests"))
    import dropout_assignment as dropout
    reference = samples.reference_answers(dropout.source_notebook(REPO))["dropout_net"]
    mistake = reference.replace("\nfor ", "\nnet.eval()\nfor ", 1)
    assert mistake != reference
    return dict(zip(CLASSES, (reference, mistake)))


_module = None


def _start() -> None:
    global _module
    torch.set_num_threads(1)
    _module = check_module()


def noise_of(source: str, seed: int) -> tuple[float, float]:
    """(dropout noise relative to the targets' variance, R²) of the cell trained with `seed`."""
    lecture = sys.modules["lecture"]
    xtr = lecture.split()["xtr"]
    target = _module.retarget(xtr)
    namespace = {"torch": torch, "xtr": xtr, "ytr": target, "x": xtr, "y": target}
    exec(SEED_CALL.sub(f"torch.manual_seed({seed})", source), namespace)  # noqa: S102 - the course's own cell
    layers = _module.linears(namespace["net"].state_dict())
    noise = _module.dropout_noise(layers, xtr) / target.var(unbiased=False).item()
    return noise, _module.r_squared(layers.evaluation(xtr), target)


def margin(values: list[float], threshold: float) -> str:
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    z = abs(threshold - mean) / sd if sd > 0 else math.inf
    return (f"mean {mean:.4f}, sd {sd:.4f}, min {min(values):.4f}, max {max(values):.4f}; threshold "
            f"{z:.1f} sd away (normal-tail estimate {0.5 * math.erfc(z / math.sqrt(2)):.1e})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 seeds of each")
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    seeds = 20 if args.quick else args.seeds
    threshold = check_module().MAX_DROPOUT_NOISE
    started = time.perf_counter()
    results: dict[str, list[tuple[float, float]]] = {}
    with ProcessPoolExecutor(args.workers, initializer=_start) as pool:
        for name, source in cells().items():
            results[name] = list(pool.map(noise_of, [source] * seeds, range(seeds), chunksize=10))
            print(f"[{time.perf_counter() - started:6.0f} s] {name}: {seeds} trainings", flush=True)
    print(f"\nDropout noise of the re-trained net / the targets' variance; threshold "
          f"MAX_DROPOUT_NOISE = {threshold} (above it: trained with dropout off)")
    for name, values in results.items():
        noise = [v for v, _ in values]
        print(f"  {name:<30} {seeds} seeds: {margin(noise, threshold)}")
        print(f"  {'':<30} R² min {min(r for _, r in values):.3f}")
    honest, mistake = ([v for v, _ in results[name]] for name in CLASSES)
    false_fails, misses = sum(v > threshold for v in honest), sum(v <= threshold for v in mistake)
    print(f"\nfalse fails: {false_fails}/{seeds}; mistakes passed: {misses}/{seeds}; "
          f"{time.perf_counter() - started:.0f} s")
    return 1 if false_fails or misses else 0


if __name__ == "__main__":
    sys.exit(main())
