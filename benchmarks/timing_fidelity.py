"""Timing fidelity: netprobe's median latency against torch.utils.benchmark.Timer, in one process.

Same model object, same input shape, same threads, both under inference_mode; the two
measurements alternate (ABBA order) over several rounds so that drift in the machine's
load falls on both. Each round's ratio compares two measurements made one after the other;
the judged figure is the median of those per-round ratios, which a slow drift of the
machine's speed over the run does not move (the ratio of the two tools' overall medians,
printed beside it, takes each tool's median over different moments). Target: within
0.97-1.03.

    python benchmarks/timing_fidelity.py [--models resnet18,regnetx_004,efficientnet_b0]
                                         [--batch 8] [--rounds 10] [--min-time 1.5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.benchmark import Timer  # noqa: E402

from netprobe import registry  # noqa: E402
from netprobe.build import build  # noqa: E402
from netprobe.timing.bench import bench  # noqa: E402

TARGET = (0.97, 1.03)


def netprobe_ms(model, batch: int, res: int, threads: int, min_time: float) -> float:
    (row,) = bench(model, batch=batch, resolution=res, threads=threads, min_time=min_time)
    assert row["status"] == "ok", row["error"]
    return row["median_ms"]


def timer_ms(model, batch: int, res: int, threads: int, min_time: float) -> float:
    x = torch.randn(batch, 3, res, res)
    timer = Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads)
    with torch.inference_mode():  # grad mode is thread-local and Timer runs stmt in this thread
        return timer.blocked_autorange(min_run_time=min_time).median * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,regnetx_004,efficientnet_b0")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=1.5, help="seconds per measurement")
    ap.add_argument("--threads", type=int, default=None, help="default: torch's current count")
    args = ap.parse_args()

    threads = args.threads or torch.get_num_threads()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {threads} threads, batch {args.batch}, {args.rounds} rounds (ABBA), "
          f"{args.min_time:g} s per measurement")
    print(f"{'model':<16}{'res':>5}{'netprobe ms':>13}{'Timer ms':>11}{'of medians':>12}{'paired':>8}   per-round ratios")
    ratios = []
    for name in registry.resolve(args.models):
        net = registry.spec(name)
        model = build(net).eval()
        res = net.resolution
        ours, theirs = [], []
        for r in range(args.rounds):
            order = ((netprobe_ms, ours), (timer_ms, theirs))
            for measure, out in (order if r % 2 == 0 else order[::-1]):
                out.append(measure(model, args.batch, res, threads, args.min_time))
        a, b = statistics.median(ours), statistics.median(theirs)
        rounds = [x / y for x, y in zip(ours, theirs)]
        ratios.append(statistics.median(rounds))
        per_round = " ".join(f"{q:.3f}" for q in rounds)
        print(f"{name:<16}{res:>5}{a:>13.2f}{b:>11.2f}{a / b:>12.3f}{ratios[-1]:>8.3f}   {per_round}")
    inside = all(TARGET[0] <= q <= TARGET[1] for q in ratios)
    print(f"median per-round ratio (netprobe / Timer): {min(ratios):.3f} to {max(ratios):.3f}; "
          f"target {TARGET[0]}-{TARGET[1]}: {'met' if inside else 'NOT met'}")


if __name__ == "__main__":
    main()
