"""``materialize()``: a source as a module ready for one use.

Modes: ``count`` builds on the device given (``meta``: nothing allocated; a factory that cannot
build there is built on the CPU and moved, with a note); ``time`` builds on the device in
``eval()``; ``train`` too, with a caller's module copied first so a training step leaves it as
it was. A caller's module is otherwise used as is, never rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass

from netprobe import loaders
from netprobe.errors import NetprobeError, first_line

MODES = ("count", "time", "train")


@dataclass(frozen=True)
class Ready:
    """A module ready for its use, and how it had to be built (notes for the user)."""

    module: object
    notes: tuple[str, ...] = ()


def materialize(source: loaders.Source, device: str = "meta", mode: str = "count",
                channels_last: bool = False) -> Ready:
    """The module of ``source`` on ``device`` for ``mode`` (see MODES)."""
    if mode not in MODES:
        raise NetprobeError(f"unknown mode '{mode}'; use {', '.join(MODES)}")
    if mode == "count":
        return _for_counting(source, device)
    import torch

    model = _built(source, device, copy=mode == "train")
    model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Ready(model)


def _built(source: loaders.Source, device: str, copy: bool = False):
    """The spec built, the factory called, or a caller's module (copied first on request), on ``device``."""
    if source.net is not None:
        from netprobe.build import build

        return build(source.net, device)
    if source.instance:
        import copy as copying

        model = loaders.instantiate(source, device)
        return (copying.deepcopy(model) if copy else model).to(device)
    return loaders.instantiate(source, device)


def _for_counting(source: loaders.Source, device: str) -> Ready:
    """On ``meta`` a factory that cannot build there (``.tolist()``, ``.item()`` in its constructor) is
    built on the CPU and moved to ``meta``, and a note says so."""
    if source.net is not None:
        return Ready(_built(source, device))
    if device != "meta":  # a caller's module as it is, wherever it lives
        return Ready(loaders.instantiate(source, device))
    notes = ()
    try:
        model = loaders.instantiate(source, "meta")
    except NetprobeError as e:
        try:
            model = loaders.instantiate(source, "cpu")
        except NetprobeError:
            raise e from None
        notes = (f"{source.name} cannot be built on the meta device ({first_line(e.__cause__ or e, 80)}); "
                 "built on cpu instead",)
    if not source.instance and any(not p.is_meta for p in model.parameters()):
        try:
            model = model.to("meta")
        except Exception:  # noqa: BLE001 - a module that cannot move is counted where it is
            pass
    return Ready(model, notes)


def can_retry_on_cpu(source: loaders.Source, model) -> bool:
    """Whether a forward that failed on ``meta`` may be run again on a CPU build (a caller's module is never rebuilt)."""
    return not source.instance and any(p.is_meta for p in model.parameters())


def cpu_note(source: loaders.Source, meta_error: BaseException) -> str:
    return (f"{source.name} cannot run on the meta device ({first_line(meta_error, 80)}); "
            "counted with a forward pass on cpu")
