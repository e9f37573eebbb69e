"""Outputs of any structure: their tensors, the main one, and a training loss."""

from collections import OrderedDict, namedtuple
from dataclasses import dataclass

import pytest
import torch

from netprobe.errors import NetprobeError
from netprobe.outputs import describe, loss, main_tensor, shapes, tensors

A, B, C = torch.zeros(2, 3), torch.zeros(2, 5, 4, 4), torch.zeros(7)
Pair = namedtuple("Pair", "first second")


@dataclass
class Result:
    hidden: torch.Tensor
    extra: object = None


class ModelOutput(OrderedDict):
    """transformers' ModelOutput: an ordered dict whose None entries are left out."""


@pytest.mark.parametrize("output, found, main", [
    (A, [A], A),
    ((A, B), [A, B], A),
    ([None, B, A], [B, A], B),
    (Pair(B, A), [B, A], B),
    ({"aux": A, "out": B}, [A, B], B),                     # torchvision segmentation: 'out'
    (ModelOutput(hidden=A, logits=B), [A, B], B),          # transformers: 'logits'
    ({"x": C, "y": A}, [C, A], C),                         # any other dict: its first tensor
    (Result(B, extra=(A, {"c": C})), [B, A, C], B),
    ([{"boxes": A, "labels": C}], [A, C], A),              # torchvision detection (eval)
    (None, [], None),
    ((1, "text"), [], None),
])
def test_tensors_and_main(output, found, main):
    got = tensors(output)
    assert len(got) == len(found) and all(g is f for g, f in zip(got, found))
    assert main_tensor(output) is main


def test_shapes_drop_the_batch():
    assert shapes((A, B, C), batch=2) == [(3,), (5, 4, 4), (7,)]
    assert shapes(A) == [(2, 3)]


def test_describe():
    assert describe({"out": B, "aux": None}) == "dict(out: 2x5x4x4, aux: None)"
    assert describe(Pair(A, [C])) == "Pair(2x3, list(7))"
    assert describe(Result(torch.tensor(1.0))) == "Result(scalar, None)"


def test_loss_from_any_structure():
    w = torch.ones(3, requires_grad=True)
    ids = torch.zeros(2, dtype=torch.long)
    for wrap in (lambda t: t, lambda t: (ids, t), lambda t: {"labels": ids, "logits": t}, Result,
                 lambda t: [None, Pair(ids, t)]):
        value = loss(wrap(torch.zeros(2, 3) * w))
        assert value.dim() == 0 and value.requires_grad
        value.backward()
        assert w.grad is not None
        w.grad = None


def test_loss_prefers_the_loss_entry():
    w = torch.ones(1, requires_grad=True)
    own = (w * 3).sum()
    assert loss(ModelOutput(logits=w * 2, loss=own)) is own


@pytest.mark.parametrize("output", [None, torch.zeros(3), (torch.zeros(2, dtype=torch.long),), {"a": 1}])
def test_loss_needs_a_tensor_that_requires_grad(output):
    with pytest.raises(NetprobeError, match="train mode needs a tensor output"):
        loss(output)
