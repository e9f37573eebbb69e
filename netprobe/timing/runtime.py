"""The torch runtime a timing runs under, set once for bench and profile alike and restored after.

The rule (bench's): torch's thread count as asked (else as it was); cuDNN autotuning on for
a CUDA device (it tunes per shape, hence the warm-up per batch) and left as it was on the
CPU; the CUDA device made current. TF32 is left as the caller set it and recorded in the
context (``timing.context``), never changed silently.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def configured(device: str, threads: int | None = None):
    """Threads, cuDNN autotuning and the CUDA device set for timing; yields the thread count as run."""
    import torch

    cuda = device.startswith("cuda")
    threads_before, cudnn_before = torch.get_num_threads(), torch.backends.cudnn.benchmark
    try:
        torch.set_num_threads(threads or threads_before)
        if cuda:
            torch.backends.cudnn.benchmark = True
        with torch.cuda.device(device) if cuda else contextlib.nullcontext():
            yield torch.get_num_threads()
    finally:
        torch.set_num_threads(threads_before)
        torch.backends.cudnn.benchmark = cudnn_before
