"""Models that misbehave in the ways users' models do, for the fault tests (``fault_models:NAME``)."""

import torch
from torch import nn


def leaf() -> nn.Module:
    """A model with no submodules at all: one convolution."""
    return nn.Conv2d(3, 8, 3, padding=1)


def no_params() -> nn.Module:
    """Pooling and an activation: nothing to train."""
    return nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def frozen() -> nn.Module:
    """Every parameter frozen."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    model.requires_grad_(False)
    return model


def batchnorm_head() -> nn.Module:
    """BatchNorm over a (N, C) output: in train mode it needs more than one value per channel."""
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.BatchNorm1d(8))


class Fails(nn.Module):
    """Counts fine on meta, fails for real: the error a model raises while it is timed."""

    def __init__(self, error: type[BaseException] = RuntimeError):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.error = error

    def forward(self, x):
        y = self.conv(x)
        if not y.is_meta:
            raise self.error("the model broke" if self.error is RuntimeError else "CUDA out of memory (simulated)")
        return y


def fails() -> nn.Module:
    return Fails()


def out_of_memory() -> nn.Module:
    return Fails(torch.OutOfMemoryError)


class Chatty(nn.Module):
    """Prints as it is built and on every forward pass, as research code does."""

    def __init__(self):
        super().__init__()
        print("building Chatty")
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        print("forward", tuple(x.shape))
        return self.conv(x).mean((2, 3))


def chatty() -> nn.Module:
    return Chatty()


class DataDependent(nn.Module):
    """A forward that reads a value (``.item()``), so it cannot run on meta: counting needs a CPU pass."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        return y * 2 if y.sum().item() > 0 else y


def data_dependent() -> nn.Module:
    return DataDependent()

