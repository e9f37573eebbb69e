"""The machine's own roofline: peak FLOP/s from a large matmul, bandwidth from a large copy, cached on disk.

Both are measured once per host, device, dtype, thread count and torch version (and TF32
setting on CUDA), and kept with that context in ``roofline.json`` under the cache directory:
``$NETPROBE_CACHE_DIR``, else ``$XDG_CACHE_HOME/netprobe``, else ``~/.cache/netprobe``.
A peak is the best of repeated runs: noise on a shared machine only ever slows a run down.

A roof is never silently stale: each records the load average and usable CPUs it was measured
under; one measured under load (``trust.judge``) is used but not cached; ``lookup`` says where
the roof came from. A cache entry that is not a complete, positive roof is no cache at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from time import perf_counter

from netprobe.timing import trust

CACHE_ENV = "NETPROBE_CACHE_DIR"
CACHE_FILE = "roofline.json"
MEASURE_S = 0.3  # seconds of repeats per size: the best of them is the peak
MIN_REPEATS = 3
# Sizes tried; the best rate is the peak. On CPU 1024 is within a few % of the best size, and
# 512 is short enough (a millisecond or two) to run between the time slices of a loaded machine.
MATMUL_N = {"cpu": (512, 1024), "cuda": (8192,)}
COPY_MIN_BYTES = {"cpu": 256 << 20, "cuda": 1 << 30}  # source size; on CPU at least twice the last-level cache
COPY_MAX_BYTES = 1 << 30
CPU_COPY_CHUNK = 16 << 20  # bytes per timed copy on CPU (see _peak_copy)


@dataclass(frozen=True)
class Roof:
    """Peak compute and memory bandwidth of one device at one dtype, with where they were measured."""

    peak_gflops: float  # 2 FLOPs per multiply-accumulate of the matmul
    bandwidth_gbs: float  # bytes read plus bytes written by the copy, 1e9 per GB
    device: str
    device_name: str
    dtype: str
    threads: int
    tf32: bool | None
    torch_version: str
    host: str
    matmul_n: int
    copy_bytes: int
    measured_at: str
    load_avg: float | None  # 1-minute load average when it was measured (None: the system has none)
    cpus: int  # usable CPUs then
    stable: bool  # measured on a quiet enough machine to be cached (see trust.judge)

    @property
    def ridge(self) -> float:
        """Intensity (FLOP/byte) where the memory roof meets the compute roof."""
        return self.peak_gflops / self.bandwidth_gbs

    def attainable_gflops(self, intensity: float) -> float:
        return min(self.peak_gflops, intensity * self.bandwidth_gbs)

    def bound(self, intensity: float) -> str:
        return "memory" if intensity < self.ridge else "compute"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "netprobe"


def roof(device: str, dtype: str, refresh: bool = False) -> Roof:
    """The roof of ``device`` at ``dtype`` and torch's current thread count, measured only if not cached."""
    return lookup(device, dtype, refresh)[0]


def lookup(device: str, dtype: str, refresh: bool = False) -> tuple[Roof, str]:
    """(roof, where it came from: "cached", "measured", or "measured under load, not cached")."""
    key = _key(device, dtype)
    cached = _read_cache()
    if key in cached and not refresh:
        return cached[key], "cached"
    measured = measure(device, dtype)
    if not measured.stable:
        return measured, "measured under load, not cached"
    _write_cache({**{k: asdict(v) for k, v in _read_cache().items()}, key: asdict(measured)})
    return measured, "measured"


def measure(device: str, dtype: str) -> Roof:
    """Peak matmul FLOP/s and copy bandwidth, measured now, with the load they were measured under."""
    import torch

    from netprobe.timing.context import machine_context, timestamp, torch_dtype

    cuda = device.startswith("cuda")
    tf32 = torch.backends.cudnn.allow_tf32 if cuda and dtype == "fp32" else None
    matmul_before = torch.backends.cuda.matmul.allow_tf32
    clock = trust.CpuClock()
    try:
        if tf32 is not None:  # fp32 convolutions may run on TF32 tensor cores: the matmul gets the same
            torch.backends.cuda.matmul.allow_tf32 = tf32
        flops, n = _peak_matmul(device, torch_dtype(dtype))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul_before
    bandwidth, size = _peak_copy(device, torch_dtype(dtype))
    threads, cpus, load = torch.get_num_threads(), trust.cpus(), trust.load_avg()
    share = None if cuda else trust.cpu_share(*clock.read(), threads)
    verdict = trust.judge(median_ms=None, iqr_ms=None, threads=threads, cpus=cpus, load_avg=load, cpu_share=share)
    return Roof(flops / 1e9, bandwidth / 1e9, device, machine_context(device)["device_name"], dtype,
                threads, tf32, torch.__version__, platform.node(), n, size, timestamp(), load, cpus, verdict.stable)


def _key(device: str, dtype: str) -> str:
    import torch

    tf32 = torch.backends.cudnn.allow_tf32 if device.startswith("cuda") and dtype == "fp32" else None
    from netprobe.timing.context import machine_context

    parts = (platform.node(), machine_context(device)["device_name"], device, dtype,
             f"{torch.get_num_threads()} threads", f"tf32={tf32}", torch.__version__)
    return " | ".join(str(p) for p in parts)


def _best_seconds(call, cuda: bool) -> float:
    """The fastest of calls repeated for MEASURE_S (at least MIN_REPEATS); the first, a warm-up, not counted."""
    import torch

    call()
    times: list[float] = []
    start = perf_counter()
    while perf_counter() - start < MEASURE_S or len(times) < MIN_REPEATS:
        if cuda:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            call()
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end) / 1e3)
        else:
            t0 = perf_counter()
            call()
            times.append(perf_counter() - t0)
    return min(times)


def _peak_matmul(device: str, dtype) -> tuple[float, int]:
    """(FLOP/s, n) of the fastest n x n matmul among MATMUL_N."""
    import torch

    rates = []
    for n in MATMUL_N["cuda" if device.startswith("cuda") else "cpu"]:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        rates.append((2 * n**3 / _best_seconds(lambda: torch.mm(a, b), device.startswith("cuda")), n))
    return max(rates)


def _peak_copy(device: str, dtype) -> tuple[float, int]:
    """(bytes/s, source bytes) of copying one large tensor into another: read once, written once.

    On CPU each timed copy is one chunk, the chunks taken in turn through the whole buffer, so
    that a chunk was last touched a buffer ago (out of cache) yet one copy fits in a time slice.
    """
    import itertools

    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    size = COPY_MIN_BYTES[kind] if kind == "cuda" else max(COPY_MIN_BYTES[kind], 2 * _last_level_cache())
    chunk = min(size, COPY_MAX_BYTES) if kind == "cuda" else CPU_COPY_CHUNK
    size = min(-(-size // chunk) * chunk, max(COPY_MAX_BYTES, chunk))
    elem = torch.empty((), dtype=dtype).element_size()
    src = torch.ones(size // elem, dtype=dtype, device=device)
    dst = torch.zeros_like(src)  # touched now, so that no timed copy pays for page faults
    pairs = itertools.cycle(list(zip(src.split(chunk // elem), dst.split(chunk // elem))))

    def copy_next():
        s, d = next(pairs)
        d.copy_(s)

    seconds = _best_seconds(copy_next, kind == "cuda")
    return 2 * chunk / seconds, size


def _last_level_cache() -> int:
    """Bytes of the largest CPU cache Linux reports (0 where it does not)."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip().upper()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            sizes.append(int(text.rstrip("KMG")) * scale)
        except ValueError:
            pass
    return max(sizes, default=0)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v) -> bool:
    return _number(v) and v > 0


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# what each field of a cached roof must be; anything else makes the entry unusable
_FIELD_OK = {
    "peak_gflops": _positive,
    "bandwidth_gbs": _positive,
    "threads": _count,
    "matmul_n": _count,
    "copy_bytes": _count,
    "cpus": _count,
    "tf32": lambda v: v is None or isinstance(v, bool),
    "stable": lambda v: v is True,  # a roof measured under load is never cached, so never read back
    "load_avg": lambda v: v is None or (_number(v) and v >= 0),
}


def _usable(entry) -> bool:
    """Whether a cache entry is a complete roof: every field, of its type, peaks positive."""
    names = {f.name for f in fields(Roof)}
    return (isinstance(entry, dict) and set(entry) == names
            and all(_FIELD_OK.get(k, lambda v: isinstance(v, str))(v) for k, v in entry.items()))


def _read_cache() -> dict[str, Roof]:
    """The usable entries of the cache file; none if it is missing, not JSON, or not an object."""
    try:
        data = json.loads((cache_dir() / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}  # no cache yet, or an unreadable one: measure again
    if not isinstance(data, dict):
        return {}
    return {k: Roof(**v) for k, v in data.items() if _usable(v)}


def _write_cache(data: dict) -> None:
    """Replace the cache file whole, so a reader never sees half of it; a failed write leaves nothing behind."""
    path = cache_dir() / CACHE_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a cache that cannot be written costs a measurement next time, nothing more
