"""What one timed iteration runs: inference, or a training step as timm's ``benchmark.py --bench train``."""

from __future__ import annotations

import contextlib

from netprobe import outputs
from netprobe.errors import NetprobeError
from netprobe.timing.context import torch_dtype

MODES = ("infer", "train")
SGD_LR = 1e-4  # timm's benchmark.py: SGD, lr 1e-4, momentum 0.9
SGD_MOMENTUM = 0.9
# Passes over the conv/linear layers per iteration: training adds the input gradient and the
# weight gradient, each as many MACs as the forward pass and moving tensors of the same sizes
# (output gradient and weights in, input gradient out; input and output gradient in, weight
# gradient out). The first layer needs no input gradient, so train figures are a bound from above.
PASSES = {"infer": 1, "train": 3}


def parse_modes(mode) -> tuple[str, ...]:
    """``infer``, ``train``, ``"infer,train"`` or a list of them, repeats dropped."""
    items = mode.split(",") if isinstance(mode, str) else list(mode) if isinstance(mode, (list, tuple)) else [mode]
    out = [str(m).strip().lower() for m in items]
    bad = [m for m in out if m not in MODES]
    if bad or not out:
        raise NetprobeError(f"mode '{bad[0] if bad else mode}' is not valid; use infer, train or infer,train")
    return tuple(dict.fromkeys(out))


def autocast(device: str, dtype: str):
    """Autocast to fp16/bf16 on the device's type; nothing for fp32."""
    import torch

    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=torch_dtype(dtype))


def loss_of(out):
    """timm's loss (cross-entropy against fixed labels) for (N, classes) logits as the main output; a mean
    of any other main output; for a structured output with no such tensor, ``outputs.loss`` (its sum)."""
    import torch

    main = outputs.main_tensor(out)
    if main is None or not (main.is_floating_point() and main.requires_grad):
        return outputs.loss(out)  # NetprobeError when no tensor can be backpropagated (None, ints only)
    if main.dim() == 2:
        labels = torch.zeros(main.shape[0], dtype=torch.long, device=main.device)
        return torch.nn.functional.cross_entropy(main.float(), labels)
    return main.float().mean()


def train_step(model, inputs, device: str, dtype: str, optimizer=None, between=None):
    """A callable for one training iteration on ``inputs`` (the (args, kwargs) of ``models.inputs.example_inputs``,
    or one tensor): forward and loss under autocast, backward, then the SGD step.

    Without an optimizer it is forward and backward only (what ``profile --mode train`` times); ``between``
    is called where the loss is computed and the backward not yet begun (profile marks it there).
    """

    args, kwargs = inputs if isinstance(inputs, tuple) else ((inputs,), {})
    check_trainable(model)

    def step():
        model.zero_grad(set_to_none=True)
        try:
            with autocast(device, dtype):
                loss = loss_of(model(*args, **kwargs))
        except ValueError as e:
            raise train_error(e) or e
        if between is not None:
            between()
        loss.backward()
        if optimizer is not None:
            optimizer.step()

    return step


ONE_VALUE_PER_CHANNEL = "Expected more than 1 value per channel when training"  # torch's BatchNorm at batch 1


def train_error(e: BaseException) -> NetprobeError | None:
    """What a training-mode failure means in the user's terms, where it means something they can change."""
    if isinstance(e, ValueError) and ONE_VALUE_PER_CHANNEL in str(e):
        return NetprobeError("a training step at batch 1 cannot normalize: the model's BatchNorm needs more than "
                             "one value per channel; use --batch 2 or more, or --mode infer")
    return None


def check_trainable(model) -> None:
    """A training step needs a parameter to train: NetprobeError for a model with none, or all frozen."""
    params = list(model.parameters())
    if not any(p.requires_grad for p in params):
        what = "all of its parameters are frozen" if params else "it has no parameters"
        raise NetprobeError(f"no trainable parameters ({what}), so there is no training step to time; "
                            "use --mode infer")


def sgd(model):
    """timm's benchmark optimizer for the model's parameters."""
    import torch

    check_trainable(model)
    return torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM)
