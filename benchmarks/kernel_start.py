"""A grading kernel ready for its first cell: forked from the template against started afresh.

    python -m benchmarks.kernel_start            # 10 kernels of each kind, alternating
    python -m benchmarks.kernel_start --quick    # 3 of each

Each kernel is started by the course's SandboxKernelManager (namespaces) in a folder of its
own, as SafeExecute starts one, in this one process (so one template serves every forked
kernel, as in a grading process). Printed, median and worst of each kind:
  - ready: from start_kernel to the kernel's first reply (kernel_info);
  - first cell: `import torch, matplotlib.pyplot` run in it (what the notebook's first cell
    and the spare's warm-up import);
  - memory once torch and pyplot are imported: the kernel process's resident set (RSS), its
    proportional share (PSS: pages shared with the template and the other forks count in
    part) and what it alone holds (private, USS), from /proc/<pid>/smaps_rollup;
  - the template's own start (once) and its resident set.
The ratio forked/afresh of the medians closes the run.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from traitlets.config import Config

from dropout_kit.engine import kernel_process, kernel_template
from dropout_kit.engine.kernel_template import ForkedProcess
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

FIRST_CELL = "import torch, matplotlib.pyplot"


def memory_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and private (USS) of process `pid`, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


async def one_kernel(forked: bool) -> dict[str, float]:
    config = Config()
    config.SandboxKernelManager.mode = "namespaces"
    config.SandboxKernelManager.fork_kernels = forked
    manager = SandboxKernelManager(config=config)
    with tempfile.TemporaryDirectory(prefix="kernel-start-") as folder:
        work = Path(folder) / "work"
        work.mkdir()
        started = time.perf_counter()
        await manager.start_kernel(cwd=str(work))
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
            ready = time.perf_counter() - started
            await client.execute_interactive(FIRST_CELL, timeout=120)
            first_cell = time.perf_counter() - started - ready
            process = manager.provisioner.process
            if isinstance(process, ForkedProcess) != forked:
                raise RuntimeError(f"asked for a {'forked' if forked else 'fresh'} kernel, got {type(process).__name__}")
            pid = process.pid if forked else kernel_process.kernel_pid(process.pid)
            return {"ready": ready, "first cell": first_cell, **memory_mb(pid)}
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            await manager.cleanup_resources()


def describe(values: list[float], unit: str) -> str:
    return f"median {statistics.median(values):6.2f} {unit}, worst {max(values):6.2f} {unit}"


async def measure(count: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {"forked": [], "afresh": []}
    template_started = time.perf_counter()
    await one_kernel(forked=True)  # starts the template (timed apart)
    template_seconds = time.perf_counter() - template_started
    [template] = kernel_template._templates.values()
    template_pid = kernel_process.kernel_pid(template._process.pid)  # the Python under bubblewrap
    print(f"template: first forked kernel ready for its first cell {template_seconds:.2f} s after the request "
          f"(the template's start {template.start_seconds:.2f} s); the template's resident set "
          f"{memory_mb(template_pid)['rss']:.0f} MB", flush=True)
    for _ in range(count):
        for kind in runs:
            runs[kind].append(await one_kernel(forked=kind == "forked"))
    return runs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int, help="kernels of each kind (default 10, quick 3)")
    args = parser.parse_args(argv)
    count = args.count or (3 if args.quick else 10)
    runs = asyncio.run(measure(count))
    print(f"\n{count} kernels of each kind, alternating, one process")
    for kind, measured in runs.items():
        print(f"  {kind:7} ready {describe([m['ready'] for m in measured], 's')}; "
              f"first cell {describe([m['first cell'] for m in measured], 's')}")
        print(f"          memory with torch and pyplot imported: RSS {statistics.median(m['rss'] for m in measured):.0f} MB, "
              f"PSS {statistics.median(m['pss'] for m in measured):.0f} MB, "
              f"private {statistics.median(m['uss'] for m in measured):.0f} MB")
    ready = {kind: statistics.median(m["ready"] + m["first cell"] for m in measured) for kind, measured in runs.items()}
    private = {kind: statistics.median(m["uss"] for m in measured) for kind, measured in runs.items()}
    print(f"  ready and torch imported, forked/afresh: {ready['forked']:.2f} s / {ready['afresh']:.2f} s = "
          f"{ready['forked'] / ready['afresh']:.2f}x; private memory {private['forked'] / private['afresh']:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
