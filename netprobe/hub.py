"""Hub models built with no network, and the example inputs each torchvision task takes.

``torchvision:NAME`` is built with ``weights=None`` and, where its builder takes it,
``weights_backbone=None`` (detection and segmentation builders default to ImageNet
backbone weights, a download); ``timm:NAME`` with ``pretrained=False``. The weights'
metadata (read, never fetched) gives the input size where it names one.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

from netprobe.errors import NetprobeError
from netprobe.inputs import Input

HUBS = ("timm", "torchvision")
# Builder arguments that would fetch weights, and the value that fetches none.
NO_WEIGHTS = {"weights": None, "weights_backbone": None}
# torchvision task by the builder's module: torchvision.models.<task>.<file>
TASKS = {"segmentation": "segmentation", "detection": "detection", "video": "video",
         "optical_flow": "optical_flow", "quantization": "classification"}
DEFAULT_CROP = 224          # a classifier whose weights name no crop
CLIP_FRAMES = 16            # torchvision's video reference recipes train on 16-frame clips
DETECTION_SIZE = 800        # GeneralizedRCNNTransform's default min_size
FLOW_SIZE = (368, 496)      # RAFT's FlyingChairs training crop (the weights name no size)


@dataclass(frozen=True)
class HubInputs:
    """What a hub model takes by default, and a note saying where the size came from when the weights do not say."""

    inputs: tuple[Input, ...]
    task: str
    note: str = ""


def factory(hub: str, name: str) -> Callable:
    """A callable that builds ``hub:name`` with no weights (nothing is downloaded)."""
    if hub not in HUBS:
        raise NetprobeError(f"unknown hub '{hub}'; use one of {', '.join(HUBS)}")
    if not name:
        raise NetprobeError(f"'{hub}:' needs a model name, e.g. {hub}:resnet50")
    try:
        lib = importlib.import_module(hub)
    except ImportError:
        raise NetprobeError(f"{hub} is not installed; pip install 'netprobe[hub]' (timm and torchvision) or "
                            f"pip install {hub}, or use a registered name (see 'netprobe list')") from None
    if hub == "timm":
        _known(hub, name, name.partition(".")[0], lib.list_models())  # a pretrained tag names the same network
        return lambda: lib.create_model(name, pretrained=False)
    import torchvision.models

    _known(hub, name, name, torchvision.models.list_models())
    builder = torchvision.models.get_model_builder(name)
    kwargs = no_weight_kwargs(builder)
    return lambda: builder(**kwargs)


def no_weight_kwargs(builder: Callable) -> dict:
    """The arguments among ``NO_WEIGHTS`` that the builder's signature takes."""
    params = inspect.signature(builder).parameters
    return {k: v for k, v in NO_WEIGHTS.items() if k in params}


def _known(hub: str, name: str, arch: str, available: list[str]) -> None:
    if arch not in available:
        close = difflib.get_close_matches(name, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NetprobeError(f"{hub} has no model '{name}'{hint}")


def task(name: str) -> str:
    """The torchvision task of a builder: classification, segmentation, detection, video or optical_flow."""
    import torchvision.models

    parts = torchvision.models.get_model_builder(name).__module__.split(".")
    return TASKS.get(parts[2], "classification") if len(parts) > 3 else "classification"


def default_inputs(hub: str, name: str, model=None) -> HubInputs:
    """The inputs ``hub:name`` takes by default: from timm's config or torchvision's weights' metadata."""
    if hub == "timm":
        size = tuple((getattr(model, "pretrained_cfg", None) or {}).get("input_size") or ())
        if size:
            return HubInputs((Input(size),), "classification")
        return HubInputs((Input((3, DEFAULT_CROP, DEFAULT_CROP)),), "classification",
                         f"{name} names no input size; used 3x{DEFAULT_CROP}x{DEFAULT_CROP}")
    kind = task(name)
    weights = _default_weights(name)
    if kind == "detection":
        side = _detection_side(model)
        return HubInputs((Input((3, side, side), listed=True),), kind,
                         f"{name}: a list of 3x{side}x{side} images (its transform resizes every image to "
                         f"{side} px; the weights name no size)")
    if kind == "optical_flow":
        h, w = FLOW_SIZE
        return HubInputs((Input((3, h, w)), Input((3, h, w))), kind,
                         f"{name}: two 3x{h}x{w} images (RAFT's training crop; the weights name no size)")
    if kind == "segmentation":
        side = _first(getattr(weights.transforms(), "resize_size", None)) if weights else None
        return _square(name, kind, side, lambda s: (3, s, s))
    if kind == "video":
        crop = _first(getattr(weights.transforms(), "crop_size", None)) if weights else None
        frames = max(CLIP_FRAMES, weights.meta.get("min_temporal_size", 1) if weights else 1)
        found = _square(name, kind, crop, lambda s: (3, frames, s, s))
        return HubInputs(found.inputs, kind, "; ".join(filter(None, [
            found.note, f"{name}: {frames}-frame clips (torchvision's reference clip length; the weights name none)"])))
    if isinstance(getattr(model, "image_size", None), int):  # ViT: fixed by its position embedding
        return HubInputs((Input((3, model.image_size, model.image_size)),), kind)
    crop = _first(getattr(weights.transforms(), "crop_size", None)) if weights else None
    return _square(name, kind, crop, lambda s: (3, s, s))


def adapt(hub: str, name: str, inputs: tuple[Input, ...]) -> tuple[Input, ...]:
    """A user's shapes in the form the task takes: a detector's images as a list, one image twice for optical flow."""
    if hub != "torchvision":
        return inputs
    kind = task(name)
    if kind == "detection":
        return tuple(Input(i.shape, i.dtype, listed=True) for i in inputs)
    if kind == "optical_flow" and len(inputs) == 1:
        return inputs * 2
    return inputs


def _square(name: str, kind: str, side: int | None, shape) -> HubInputs:
    if side:
        return HubInputs((Input(shape(side)),), kind)
    return HubInputs((Input(shape(DEFAULT_CROP)),), kind,
                     f"{name}: its weights name no input size; used {DEFAULT_CROP} px")


def _first(size) -> int | None:
    if isinstance(size, int):
        return size
    return size[0] if size else None


def _default_weights(name: str):
    import torchvision.models

    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):  # a builder with no weights enum
        return None


def _detection_side(model) -> int:
    transform = getattr(model, "transform", None)
    size = getattr(transform, "min_size", None)
    return _first(size) or DETECTION_SIZE
