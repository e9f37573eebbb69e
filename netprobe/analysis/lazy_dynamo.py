"""Counting on ``meta`` without importing ``torch._dynamo``: the seconds that import costs, saved.

Many of torch's Python decompositions (batch norm's on ``meta``, every elementwise ref) are
wrapped in ``torch._disable_dynamo``, which imports ``torch._dynamo`` (about 4 s) on its first
call only to mark the function as never compiled. A count never compiles, so while it runs
that mark can be the function itself; afterwards every mark made is taken back, so a later
``torch.compile`` in the same process sees the functions as torch left them.
"""

from __future__ import annotations

import contextlib
import sys
import types

import torch

DYNAMO = "torch._dynamo"
MARK = "__dynamo_disable"  # where torch._compile caches the disabled function


@contextlib.contextmanager
def without_dynamo():
    """Within: ``torch._disable_dynamo`` functions run as they are; ``torch._dynamo`` is not imported."""
    if DYNAMO in sys.modules:  # already paid for: nothing to save
        yield
        return
    marked = []

    def disable(fn=None, recursive=True, wrapping=True):
        if fn is None:
            return lambda f: disable(f, recursive, wrapping)
        marked.append(fn)
        return fn

    stand_in = types.ModuleType(DYNAMO, "stands in for torch._dynamo during a count (netprobe.analysis.lazy_dynamo)")
    stand_in.disable = disable
    sys.modules[DYNAMO] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(DYNAMO) is stand_in:
            del sys.modules[DYNAMO]
        if torch.__dict__.get("_dynamo") is stand_in:
            del torch._dynamo
        for fn in marked:
            with contextlib.suppress(AttributeError):
                delattr(fn, MARK)
