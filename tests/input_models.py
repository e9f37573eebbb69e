"""Small modules that take more than one image: two inputs, token ids, a keyword mask, a clip; and input factories."""

import torch
from torch import nn
from torch.nn import functional as F

from task_patterns import TinyDetector


class TwoInputs(nn.Module):
    """An image and a vector of side information, joined before the head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.side = nn.Linear(12, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, image, side):
        return self.head(self.conv(image).mean((2, 3)) + self.side(side))


class TextNet(nn.Module):
    """Token ids through an embedding, mean-pooled; a transformers-like dict output."""

    def __init__(self, vocab=100):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.fc = nn.Linear(16, 5)

    def forward(self, ids):
        return {"logits": self.fc(self.emb(ids).mean(1)), "hidden": None}


class Masked(nn.Module):
    """A conv whose output a keyword-argument mask multiplies."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x, mask=None):
        y = self.conv(x)
        y = y * mask if mask is not None else y
        return self.fc(y.mean((2, 3)))


class Clip(nn.Module):
    """A video net: a 3-D stem striding H and W only, a layer striding T too, pooled and classified."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 8, (3, 7, 7), (1, 2, 2), (1, 3, 3)), nn.BatchNorm3d(8), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Conv3d(8, 16, 3, 2, 1), nn.BatchNorm3d(16), nn.ReLU())
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.layer1(self.stem(x)).mean((2, 3, 4)))


class ProposalDetector(TinyDetector):
    """A detector whose second stage runs on the proposals that pass a score threshold (data-dependent)."""

    def __init__(self):
        super().__init__()
        self.refine = nn.Linear(5, 4)

    def forward(self, images):
        out = super().forward(images)
        for d in out:
            kept = d["scores"][d["scores"] > 0]  # as NMS does: how many survive depends on the data
            d["refined"] = self.refine(F.pad(kept, (0, 5 - kept.shape[0])))
        return out


class Silent(nn.Module):
    """A module that returns nothing."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        self.fc(x)


def make_pair(batch):
    """An image and a side vector for TwoInputs, at the batch asked for."""
    return torch.randn(batch, 3, 16, 16), torch.randn(batch, 12)


def make_masked(batch_size, side=16):
    """(args, kwargs) for Masked: the mask by keyword."""
    return (torch.randn(batch_size, 3, side, side),), {"mask": torch.ones(batch_size, 1, side, side)}


def make_image(batch):
    """One 3x32x32 image per sample, for a zoo member."""
    return torch.randn(batch, 3, 32, 32)


def make_nothing(batch):
    """A factory that returns no tensor."""
    return "no tensor"
