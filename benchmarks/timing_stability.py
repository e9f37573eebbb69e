"""Run-to-run stability: netprobe's median against torch.utils.benchmark.Timer's, over separate processes.

Each measurement is a fresh process (its own allocator, thread pool and page cache luck). The
two tools run in pairs, interleaved, the order alternating (ABBA: netprobe first in even pairs,
Timer first in odd ones), so that neither always runs just after the other or at the same point
of a drift in the machine's load. Each Timer process gets the wall time of the latest netprobe
process per configuration (build, counting, warm-up and sampling included): it builds the
model and spends the rest in ``blocked_autorange``, so both tools take the same wall time. The
pairs run on the machine as it is ("quiet"), then again beside busy processes this script
starts (one per usable CPU) and stops. Printed: each process's median and wall time, the
coefficient of variation (stdev / mean) of each tool's medians across processes, and their
ratio (netprobe / Timer; target <= 1).

    python benchmarks/timing_stability.py [--models regnetx_002,resnet18] [--batch 1] [--resolution 96]
                                          [--processes 4] [--min-time 0.5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from netprobe.timing.trust import LOAD_SLACK  # noqa: E402 - torch-free; the quiet phase is judged as a row is


def child(tool: str, models: list[str], batch: int, res: int, threads: int, min_time: float, walls: dict) -> dict:
    """In a fresh process: {model: (median ms, wall s, netprobe's ``stable`` and ``unstable_reason`` or None)} for
    one tool."""
    import torch
    from torch.utils.benchmark import Timer

    from netprobe.build import build
    from netprobe.registry import spec
    from netprobe.timing.bench import bench

    out = {}
    for name in models:
        if tool == "netprobe":
            start = time.perf_counter()
            (row,) = bench(name, batch=batch, resolution=res, threads=threads, min_time=min_time)
            out[name] = (row["median_ms"], time.perf_counter() - start, row["stable"], row["unstable_reason"])
        else:
            torch.set_num_threads(threads)
            start = time.perf_counter()  # the build counts in the wall, as netprobe's does
            model, x = build(spec(name)).eval(), torch.randn(batch, 3, res, res)
            timer = Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads)
            left = max(walls[name] - (time.perf_counter() - start), min_time)
            with torch.inference_mode():
                median = timer.blocked_autorange(min_run_time=left).median * 1e3
            out[name] = (median, time.perf_counter() - start, None, None)
    return out


def spawn(tool: str, args, walls: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", tool, "--models", args.models, "--batch", str(args.batch),
           "--resolution", str(args.resolution), "--threads", str(args.threads), "--min-time", str(args.min_time),
           "--walls", json.dumps(walls or {})]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cv(xs: list[float]) -> float:
    return statistics.stdev(xs) / statistics.mean(xs)


def phase(label: str, args, models: list[str]) -> list[tuple[str, str, float, float]]:
    """``args.processes`` netprobe/Timer pairs; (label, model, netprobe CV, Timer CV) per model."""
    ours: list[dict] = []  # per netprobe process: {model: (median, wall, stable, reason)}
    theirs: list[dict] = []
    load = os.getloadavg()[0]
    start = time.perf_counter()
    walls: dict = {}
    for pair in range(args.processes):
        if pair % 2 == 0:  # ABBA: netprobe first, then a Timer given its walls; next pair the other way round
            ours.append(spawn("netprobe", args))
            walls = {m: wall for m, (_, wall, _, _) in ours[-1].items()}
            theirs.append(spawn("timer", args, walls))
        else:
            theirs.append(spawn("timer", args, walls))
            ours.append(spawn("netprobe", args))
    print(f"{label}: load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} usable "
          f"CPUs, {args.processes} process pairs (ABBA), {time.perf_counter() - start:.0f} s")
    for m in models:
        print(f"  {m:<14} netprobe medians {' '.join(f'{p[m][0]:.2f}' for p in ours)} ms, "
              f"walls {' '.join(f'{p[m][1]:.1f}' for p in ours)} s, stable: {' '.join(str(p[m][2]).lower() for p in ours)}")
        reasons = Counter(re.sub(r"\d+(\.\d+)?", "N", part) for p in ours if p[m][3] for part in p[m][3].split("; "))
        if reasons:
            print(f"  {'':<14} why not stable: {'; '.join(f'{n}x {why}' for why, n in reasons.most_common())}")
        print(f"  {'':<14} Timer    medians {' '.join(f'{p[m][0]:.2f}' for p in theirs)} ms, "
              f"walls {' '.join(f'{p[m][1]:.1f}' for p in theirs)} s")
    busiest, cpus = max(load, os.getloadavg()[0]), len(os.sched_getaffinity(0))
    if label.startswith("quiet") and busiest > cpus + LOAD_SLACK:
        print(f"  note: load average {busiest:.1f} on {cpus} CPUs: this phase was not quiet, its CVs do not rank "
              "the tools")
    return [(label, m, cv([p[m][0] for p in ours]), cv([p[m][0] for p in theirs])) for m in models]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="regnetx_002,resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--resolution", type=int, default=96)
    ap.add_argument("--processes", type=int, default=4, help="process pairs per condition")
    ap.add_argument("--min-time", type=float, default=0.5, help="netprobe's --min-time, seconds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", choices=("netprobe", "timer"), help=argparse.SUPPRESS)
    ap.add_argument("--walls", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    models = args.models.split(",")
    if args.child:
        print(json.dumps(child(args.child, models, args.batch, args.resolution, args.threads, args.min_time,
                               json.loads(args.walls))))
        return
    print(f"{args.models} batch {args.batch} at {args.resolution} px, {args.threads} thread(s), "
          f"netprobe --min-time {args.min_time:g}; Timer given the latest netprobe process's wall time per configuration")
    results = phase("quiet (the machine as it is)", args, models)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    try:
        results += phase(f"loaded ({len(busy)} busy processes started by this script)", args, models)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(f"{'condition':<10}{'model':<14}{'netprobe CV':>13}{'Timer CV':>10}{'ratio':>8}")
    for label, m, a, b in results:
        print(f"{label.split()[0]:<10}{m:<14}{100 * a:>12.1f}%{100 * b:>9.1f}%{a / b:>8.2f}")


if __name__ == "__main__":
    main()
