"""profile against bench, as whole processes: wall time, whole-pass agreement, and stage sums.

Runs ``netprobe bench --models M --batch B --json`` and ``netprobe profile M --batch B --json``
alternately (ABBA) on CPU after one profile run that fills the roofline cache, and prints per
round: the ratio of wall times (target: profile within 3x of bench), profile's whole-pass
median over bench's (target 0.85-1.15), and the sum of stage medians over the whole pass
(target 0.90-1.10). Both commands run at their defaults otherwise (bench's --min-time).

    python benchmarks/profile_speed.py [--model resnet50] [--batch 8] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"wall": 3.0, "whole": (0.85, 1.15), "sum": (0.90, 1.10)}


def timed(args: list[str], env: dict) -> tuple[float, object]:
    """(wall seconds, parsed JSON stdout) of one netprobe process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "netprobe", *args], capture_output=True, text=True, env=env,
                          check=True)
    return time.perf_counter() - start, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    common = ["--batch", str(args.batch)] + (["--threads", str(args.threads)] if args.threads else [])
    bench = ["bench", "--models", args.model, *common, "--json"]
    profile = ["profile", args.model, *common, "--json"]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NETPROBE_CACHE_DIR": cache}
        first, _ = timed(profile, env)  # measures and caches the roofline
        print(f"{args.model} batch {args.batch} on CPU; first profile (measures the roof): {first:.1f} s")
        print(f"{'round':>5}{'bench s':>9}{'profile s':>11}{'wall x':>8}{'bench ms':>10}{'whole ms':>10}"
              f"{'whole/bench':>13}{'sum ms':>9}{'sum/whole':>11}")
        walls, wholes, sums = [], [], []
        for r in range(args.rounds):
            order = [("b", bench), ("p", profile)] if r % 2 == 0 else [("p", profile), ("b", bench)]
            out = {key: timed(cmd, env) for key, cmd in order}
            (b_wall, (row,)), (p_wall, doc) = out["b"], out["p"]
            stage_sum = sum(s["median_ms"] for s in doc["stages"])
            walls.append(p_wall / b_wall)
            wholes.append(doc["median_ms"] / row["median_ms"])
            sums.append(stage_sum / doc["median_ms"])
            print(f"{r + 1:>5}{b_wall:>9.2f}{p_wall:>11.2f}{walls[-1]:>8.2f}{row['median_ms']:>10.2f}"
                  f"{doc['median_ms']:>10.2f}{wholes[-1]:>13.3f}{stage_sum:>9.2f}{sums[-1]:>11.3f}")
    print(f"median: profile wall {statistics.median(walls):.2f}x bench (target <= {TARGETS['wall']}x); "
          f"whole/bench {statistics.median(wholes):.3f} (target {TARGETS['whole']}); "
          f"stage sum/whole {statistics.median(sums):.3f} (target {TARGETS['sum']})")


if __name__ == "__main__":
    main()
