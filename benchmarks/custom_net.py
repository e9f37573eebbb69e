"""A small custom network (415k parameters) for analysis_speed.py: what a user's own module costs to count."""

from torch import nn


def make() -> nn.Module:
    """Four conv-BN-ReLU stages (32, 64, 128, 256 channels, stride 2 each) and a linear head."""
    layers, w_in = [], 3
    for w_out in (32, 64, 128, 256):
        layers += [nn.Conv2d(w_in, w_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU()]
        w_in = w_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w_in, 100))
