"""How fast netprobe's analysis is beside fvcore's FlopCountAnalysis and ptflops, in one process.

netprobe counts from the spec (median of many runs); fvcore and ptflops trace or hook a
real forward pass on this CPU (timed once per model: the big ones take seconds). Then the
whole ``netprobe summary efficientnet_b7`` process against ``python -c "import torch"``, and
against itself with ``--convention fvcore`` (fvcore's number derived, not run: target within noise).
With timm and torchvision installed, a hub model's op-level count (after import) against fvcore on
the same built module and inputs: timm's efficientnet_b7 at 600 px, torchvision's r3d_18 on a
16-frame clip and deeplabv3_mobilenet_v3_large at 520 px (target: at most 1/5 of fvcore's time);
and a custom module's summary (``custom_net:make``, counted op by op on ``meta``) against the same
``import torch`` (target within 1.5x).

    python benchmarks/analysis_speed.py [--repeat 5] [--hub-only]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("regnetx_004", "resnet50", "regnety_320", "efficientnet_b7")  # each at its native resolution
HUB_MODELS = (  # (hub, name, inputs): the hub analysis target (at most 1/5 of fvcore's time) on each
    ("timm", "efficientnet_b7", "3x600x600"),                        # a classifier at 600 px
    ("torchvision", "r3d_18", "3x16x112x112"),                       # video: a 16-frame clip
    ("torchvision", "deeplabv3_mobilenet_v3_large", "3x520x520"),    # segmentation at its weights' size
)


def seconds(fn, repeat: int = 1) -> float:
    """Median wall time of fn over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def netprobe_time(name: str, convention: str = "netprobe") -> tuple[float, int]:
    from netprobe.analysis.summary import summary

    s = summary(name, convention=convention)
    return seconds(lambda: summary(name, convention=convention), repeat=20), s.totals.macs


def peer_times(name: str) -> tuple[float, int, float, int]:
    import torch
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info

    from netprobe import registry
    from netprobe.build import build

    net = registry.spec(name)
    model = build(net).eval()
    x = torch.randn(1, 3, net.resolution, net.resolution)
    out = {}

    def fv():
        f = FlopCountAnalysis(model, x)
        f.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        out["fvcore"] = int(f.total())

    def pt():
        with contextlib.redirect_stdout(io.StringIO()):
            out["ptflops"] = get_model_complexity_info(model, (3, net.resolution, net.resolution), as_strings=False,
                                                       print_per_layer_stat=False, backend="pytorch")[0]

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fv, t_pt = seconds(fv), seconds(pt)
    return t_fv, out["fvcore"], t_pt, out["ptflops"]


def hub_times(hub: str, name: str, size: str) -> tuple[float, int, float, int]:
    """netprobe's op-level count of a hub model (on meta, after the import) and fvcore's on the same module
    and inputs; built with no weights (``netprobe.hub``)."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    from netprobe import hub as hubs
    from netprobe.analysis.summary import summary
    from netprobe.models.inputs import example_inputs, parse

    make = hubs.factory(hub, name)
    model = make().eval().to("meta")
    t_np = seconds(lambda: summary(model, input_size=size), repeat=3)
    macs = summary(model, input_size=size).totals.macs
    real = make().eval()
    args, _ = example_inputs(real, hubs.adapt(hub, name, parse(size)), 1, "cpu")
    out = {}

    def fv():
        f = FlopCountAnalysis(real, args)
        f.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        out["fvcore"] = int(f.total())

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fv = seconds(fv)
    return t_np, macs, t_fv, out["fvcore"]


def process_times(repeat: int) -> tuple[float, float, float, float]:
    """Medians of whole processes, interleaved so that machine noise hits all alike."""
    path = os.pathsep.join(p for p in (str(ROOT), str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "COLUMNS": "160", "PYTHONPATH": path}
    summary_cmd = [sys.executable, "-m", "netprobe", "summary", "efficientnet_b7"]
    torch_cmd = [sys.executable, "-c", "import torch"]
    fvcore_cmd = [*summary_cmd, "--convention", "fvcore"]
    custom_cmd = [sys.executable, "-m", "netprobe", "summary", "custom_net:make", "-r", "224"]
    a, b, c, d = [], [], [], []
    for _ in range(repeat):
        for cmd, sink in ((summary_cmd, a), (torch_cmd, b), (fvcore_cmd, c), (custom_cmd, d)):
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
            sink.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b), statistics.median(c), statistics.median(d)


def hub_rows() -> None:
    """One line per hub model whose library is installed: netprobe's op-level time against fvcore's."""
    for hub, name, size in HUB_MODELS:
        if not importlib.util.find_spec(hub):
            continue
        t_np, m_np, t_fv, m_fv = hub_times(hub, name, size)
        print(f"{hub}:{name} {size} (op-level, meta): netprobe {t_np:.2f} s, fvcore {t_fv:.2f} s, "
              f"netprobe/fvcore {t_np / t_fv:.3f} (target <= 0.2); MACs {m_np / 1e9:.3f}G / {m_fv / 1e9:.3f}G")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="whole-process runs of each command")
    parser.add_argument("--hub-only", action="store_true", help="only the hub models' rows")
    parser.add_argument("--processes-only", action="store_true", help="only the whole-process timings")
    args = parser.parse_args()
    if args.hub_only:
        hub_rows()
        return
    if args.processes_only:
        return print_processes(args.repeat)
    import torch

    from netprobe import registry

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, batch 1; "
          "netprobe: median of 20, fvcore/ptflops: one run each")
    print(f"{'model':<16}{'res':>5}{'netprobe ms':>13}{'fvcore s':>10}{'ptflops s':>11}"
          f"{'fvcore/np':>11}{'ptflops/np':>12}   MACs netprobe / fvcore / ptflops")
    for name in MODELS:
        t_np, m_np = netprobe_time(name)
        t_fv, m_fv, t_pt, m_pt = peer_times(name)
        res = registry.spec(name).resolution
        print(f"{name:<16}{res:>5}{t_np * 1e3:>13.2f}{t_fv:>10.2f}{t_pt:>11.2f}"
              f"{t_fv / t_np:>10.0f}x{t_pt / t_np:>11.0f}x"
              f"   {m_np / 1e9:.3f}G / {m_fv / 1e9:.3f}G / {m_pt / 1e9:.3f}G")
        t_derived, m_derived = netprobe_time(name, "fvcore")
        print(f"{'':<21}--convention fvcore: {t_derived * 1e3:.2f} ms, {t_fv / t_derived:.0f}x faster than fvcore, "
              f"{'equal to' if m_derived == m_fv else 'NOT equal to'} its {m_fv:,}")
    hub_rows()
    print_processes(args.repeat)


def print_processes(repeat: int) -> None:
    t_summary, t_torch, t_fvcore, t_custom = process_times(repeat)
    print(f"process: 'netprobe summary efficientnet_b7' {t_summary:.2f} s, 'python -c \"import torch\"' "
          f"{t_torch:.2f} s (medians of {repeat}); ratio {t_summary / t_torch:.2f} (target <= 1.5)")
    print(f"process: 'netprobe summary efficientnet_b7 --convention fvcore' {t_fvcore:.2f} s; "
          f"ratio to the default convention {t_fvcore / t_summary:.2f} (target: 1 within noise)")
    print(f"process: 'netprobe summary custom_net:make -r 224' (a 415k-parameter module of one's own) "
          f"{t_custom:.2f} s; ratio to 'import torch' {t_custom / t_torch:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
