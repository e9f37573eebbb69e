"""Where a benchmark runs: the device and dtype it names, and the context every row carries."""

from __future__ import annotations

import platform
import re
from datetime import datetime, timezone

from netprobe import dtypes
from netprobe.errors import NetprobeError
from netprobe.version import __version__



def device_syntax(device: str) -> tuple[str, int | None]:
    """(``cpu`` or ``cuda``, index or None) of a device as typed; checked without torch, so a typo fails at once."""
    name = str(device).strip().lower()
    if name == "cpu":
        return "cpu", None
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if not m:
        raise NetprobeError(f"unknown device '{device}'; use cpu, cuda or cuda:N")
    return "cuda", int(m.group(1)) if m.group(1) is not None else None


def parse_device(device: str) -> str:
    """``cpu`` or ``cuda:N``; an unknown device, or CUDA where there is none, is an error."""
    kind, index = device_syntax(device)
    if kind == "cpu":
        return "cpu"
    import torch  # only CUDA's presence needs it

    if not torch.cuda.is_available():
        raise NetprobeError(f"device '{device}': CUDA is not available here (torch {torch.__version__}); use cpu")
    count = torch.cuda.device_count()
    index = torch.cuda.current_device() if index is None else index
    if index >= count:
        raise NetprobeError(f"device '{device}': this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return f"cuda:{index}"


def parse_dtype(dtype: str, device: str) -> str:
    """``fp32``, ``fp16`` or ``bf16``; fp16 on CPU is refused (autocast has no CPU fp16 path worth timing)."""
    key = dtypes.parse_dtype(dtype)
    if key == "fp16" and device == "cpu":
        raise NetprobeError("dtype fp16 is not supported on cpu; use bf16 (or fp32) on cpu, or fp16 on cuda")
    return key


def torch_dtype(dtype: str):
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 BF16, AMX; on Arm the "bf16" feature
BF16_NOTE = ("note: this CPU has no native bf16 (no avx512_bf16 or amx_bf16 flag): autocast emulates it, "
             "so bf16 runs many times slower than fp32 here")  # bench's and profile's line under the table


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes bf16 natively (else autocast emulates it, many times slower than fp32); None
    where the CPU's flags cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return any(flag in line.split(":", 1)[1].split() for flag in BF16_FLAGS)
    except OSError:
        pass
    return None


def _gpu_clock_mhz(index: int):
    import torch

    try:  # needs pynvml; clocks are context, never a reason to fail
        return torch.cuda.clock_rate(index)
    except Exception:  # noqa: BLE001
        return None


def machine_context(device: str) -> dict:
    """Device name and software versions of a run (fields that do not apply are None)."""
    import torch

    cuda = device.startswith("cuda")
    index = int(device.partition(":")[2] or 0) if cuda else None
    return {
        "device_name": torch.cuda.get_device_name(index) if cuda else cpu_name(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda if cuda else None,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "cudnn_benchmark": torch.backends.cudnn.benchmark if cuda else None,
        "tf32": torch.backends.cudnn.allow_tf32 if cuda else None,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32 if cuda else None,
        "gpu_clock_mhz": _gpu_clock_mhz(index) if cuda else None,
        "netprobe_version": __version__,
    }


def timestamp() -> str:
    """Now, in UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
