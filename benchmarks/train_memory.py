"""Predicted against measured peak memory of a training step on this CPU, for ten zoo members at two batches.

The prediction is ``analysis.train_memory`` (nothing runs). Three measurements, each member in
a process of its own, after one step of the same member at a small size (so that the one-time
cost of loading the backward kernels and the thread pools, paid by the first training step of
any process, is not counted as the model's):

- ``default``: what ``bench --mode train`` reports as ``peak_mem_bytes``: the process's peak
  RSS growth over a few real steps (SGD, momentum 0.9), VmHWM reset through
  /proc/self/clear_refs, plus the weights (``timing.memory.PeakMemory``), glibc as it comes;
- ``fixed-mmap``: the same with ``MALLOC_MMAP_THRESHOLD_=65536``, which turns off glibc's growing
  mmap threshold so that freed tensors go back to the system and the resident set follows the
  live tensors;
- ``allocated``: what ``bench --mode train`` reports as ``alloc_peak_bytes``: the peak of the
  bytes torch's allocator holds over one more step, from the profiler's allocation events
  (``timing.memory.allocated_peak``), the CPU counterpart of ``torch.cuda.max_memory_allocated``.

    python benchmarks/train_memory.py [--resolution 128] [--batches 4,8] [--steps 3] [--members a,b]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

MEMBERS = ["resnet18", "resnet50", "efficientnet_b0", "efficientnet_b2", "regnetx_004", "regnety_008",
           "densenet121", "mobilenetv1_100", "mobilenetv2_100", "rexnet_1.0x"]
MIB = 2**20
FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": "65536"}  # glibc: mmap every block over 64 KiB, no dynamic threshold


def measure(name: str, resolution: int, batches: list[int], steps: int) -> list[list[int | None]]:
    """(peak RSS, allocated peak) in bytes of ``steps`` training steps at each batch, as bench --mode train
    measures them."""
    import torch

    from netprobe import registry
    from netprobe.build import build
    from netprobe.timing.memory import PeakMemory
    from netprobe.timing.modes import sgd, train_step
    from netprobe.timing.train_row import allocated

    warm = build(registry.spec(name)).train()
    train_step(warm, torch.randn(2, 3, 64, 64), "cpu", "fp32", sgd(warm))()
    del warm
    out = []
    for batch in batches:
        gc.collect()
        model = build(registry.spec(name)).train()
        peak = PeakMemory("cpu", model)
        peak.start()
        x = torch.randn(batch, 3, resolution, resolution)
        optimizer = sgd(model)
        step = train_step(model, x, "cpu", "fp32", optimizer)
        for _ in range(steps):
            step()
        rss = peak.peak_bytes()
        out.append([rss, allocated(model, step, ((x,), {}), optimizer)])  # as bench's alloc_peak_bytes
        del model, x, step, optimizer
    return out


def _child(name: str, args, env: dict) -> list[int | None]:
    out = subprocess.run([sys.executable, __file__, "--one", name, "--resolution", str(args.resolution),
                          "--batches", args.batches, "--steps", str(args.steps)],
                         capture_output=True, text=True, check=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batches", default="4,8")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--members", default=",".join(MEMBERS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: measure one member, print the bytes
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.one:
        print(json.dumps(measure(args.one, args.resolution, batches, args.steps)))
        return

    import torch

    from netprobe.analysis.train_memory import train_memory

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, load average "
          f"{_load()}; resolution {args.resolution}, {args.steps} steps of SGD (momentum 0.9), fp32")
    print(f"{'member':<17}{'batch':>6}{'predicted MiB':>15}{'default MiB':>13}{'ratio':>7}{'fixed-mmap MiB':>16}"
          f"{'ratio':>7}{'allocated MiB':>15}{'ratio':>7}  peak at")
    ratios: dict[str, list[float]] = {"default": [], "fixed-mmap": [], "allocated": []}
    for name in args.members.split(","):
        default, fixed = _child(name, args, {}), _child(name, args, FIXED_MMAP)
        for batch, (d, a), (f, _) in zip(batches, default, fixed):
            p = train_memory(name, batch, resolution=args.resolution)
            row = {"default": d, "fixed-mmap": f, "allocated": a}
            cells = ""
            for key, measured in row.items():
                ratios[key].append(p.train_memory_bytes / measured)
                cells += f"{measured / MIB:>{13 if key == 'default' else 16 if key == 'fixed-mmap' else 15}.1f}"
                cells += f"{p.train_memory_bytes / measured:>7.3f}"
            print(f"{name:<17}{batch:>6}{p.train_memory_bytes / MIB:>15.1f}{cells}  {p.peak_at}", flush=True)
    for key, r in ratios.items():
        print(f"predicted/measured, {key}: min {min(r):.3f}, max {max(r):.3f}")
    print(f"load average now {_load()}; finished {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
