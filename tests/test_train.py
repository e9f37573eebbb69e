"""Training counts: exact against FlopCounterMode on forward + sum().backward() in train mode."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netprobe import registry
from netprobe.analysis.counters import OP_CONV, OP_CONV_BIAS
from netprobe.analysis.train import BIASES, WGRAD_GROUPS, gradient_facts, train_counts
from netprobe.build import build

NAMES = registry.names()
# One member of every registered family: the first registered.
FIRSTS = list({registry.entry(n).family: n for n in reversed(NAMES)}.values())
RESOLUTION = 64  # small: a real forward and backward per family on the CPU
BATCH = 2  # train-mode BatchNorm refuses one value per channel (an SE's on a 1x1 map)


def flop_counter(model: nn.Module, x: torch.Tensor) -> int:
    """FlopCounterMode on forward + out.sum().backward() in train mode; attention through the math
    kernel, as ``--verify`` counts it (on the CPU the flash kernel torch picks has no formula)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    counter = FlopCounterMode(display=False)
    with sdpa_kernel([SDPBackend.MATH]), counter:
        out = model(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
    return int(counter.get_total_flops())


@pytest.mark.parametrize("name", FIRSTS)
def test_a_member_of_every_family_is_flop_counter_mode_exactly(name):
    model = build(registry.spec(name))
    real = flop_counter(model, torch.randn(BATCH, 3, RESOLUTION, RESOLUTION))
    analytic = train_counts(name, "torch", resolution=RESOLUTION, batch=BATCH)
    measured = train_counts(model, "torch", resolution=RESOLUTION, batch=BATCH)
    assert analytic.total == measured.total == real, name
    assert analytic.forward == measured.forward  # the spec and the op-level pass agree phase by phase
    assert sum(b for _, _, b in analytic.stages) == analytic.backward > analytic.forward


@pytest.mark.parametrize("name", NAMES)
def test_every_members_backward_is_two_forwards_less_the_input_gradient_of_its_first_layer(name):
    """netprobe's convention: backward = 2 x products + bias adds (their gradients), less the first layer's
    input gradient (the network input needs none); torch-free and instant for the whole registry."""
    t = train_counts(name)
    first = next(layer for layer in t.layers if layer.op in ("conv", "linear"))
    products = {f: n for f, n in first.forward_facts if f in (OP_CONV, "op.linear")}
    biases = sum(n for layer in t.layers for f, n in layer.forward_facts if f in BIASES and f.startswith("op."))
    assert t.backward == 2 * t.forward - biases - sum(products.values()), name
    assert t.total == t.forward + t.backward
    assert t.to_dict()["train_total"] == t.total


def test_a_frozen_weight_has_no_gradient_and_a_grouped_one_costs_flop_counter_mode_its_groups():
    facts = {OP_CONV: 100, OP_CONV_BIAS: 10}
    assert gradient_facts(facts, 1, True, True) == {OP_CONV: 200, OP_CONV_BIAS: 10}
    assert gradient_facts(facts, 1, False, False) == {OP_CONV: 100}  # frozen: the input gradient only
    assert gradient_facts(facts, 0, False, False) == {}  # frozen and first: nothing
    assert gradient_facts(facts, 0, True, False, groups=4) == {OP_CONV: 100, WGRAD_GROUPS: 300}


class Attention(nn.Module):
    """A patch embedding, then self-attention through F.scaled_dot_product_attention, then a head."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 8, stride=8)
        self.qkv, self.proj, self.heads = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), heads
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))
        return self.head(x.mean(1))


class MHA(nn.Module):
    """nn.MultiheadAttention (not fused in train mode) over conv tokens."""

    def __init__(self, dim=16):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, stride=4)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        return self.head(self.attn(x, x, x)[0].mean(1))


class Tied(nn.Module):
    """One conv called twice and a head whose weight is a view of another linear's (tied)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.shared = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(8, 8, bias=False)
        self.out.weight = self.fc.weight

    def forward(self, x):
        x = self.shared(torch.relu(self.shared(self.stem(x))))
        return self.out(self.fc(x.mean((2, 3))))


def _frozen_front() -> nn.Module:
    """The first two convs and their norm frozen: nothing upstream of the third conv needs a gradient."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                          nn.Conv2d(8, 16, 3, bias=True), nn.ReLU(), nn.Conv2d(16, 16, 3, groups=4), nn.Flatten(),
                          nn.LazyLinear(3))
    model(torch.randn(2, 3, 16, 16))
    for m in list(model)[:4]:
        for p in m.parameters():
            p.requires_grad_(False)
    return model


def _frozen_middle() -> nn.Module:
    """A frozen conv between trainable ones: its weight has no gradient, its input still does."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3),
                          nn.Flatten(), nn.Linear(4 * 10 * 10, 3))
    model[2].requires_grad_(False)
    return model


@pytest.mark.parametrize("make, size", [(Attention, (3, 32, 32)), (MHA, (3, 16, 16)), (Tied, (3, 8, 8)),
                                        (_frozen_front, (3, 16, 16)), (_frozen_middle, (3, 16, 16))])
def test_any_module_with_attention_frozen_or_tied_layers_is_flop_counter_mode_exactly(make, size):
    model = make()
    real = flop_counter(model, torch.randn(BATCH, *size))
    t = train_counts(model, "torch", input_size=size, batch=BATCH)
    assert t.total == real
    if make in (_frozen_front, _frozen_middle):
        model.requires_grad_(True)
        full = train_counts(model, "torch", input_size=size, batch=BATCH)
        assert t.backward < full.backward and t.forward == full.forward  # frozen parameters reduce the count


class Recurrent(nn.Module):
    """A recurrent layer over a (batch, seq, features) input, optionally packed (``uniform``: every
    sequence full length; ``ragged``: the last one shorter), with a linear head on its output
    (non-contiguous when batch-first)."""

    def __init__(self, make, packed: str = "", **kwargs):
        super().__init__()
        self.rnn, self.packed = make(8, 16, batch_first=True, **kwargs), packed
        width = kwargs.get("proj_size") or 16
        self.head = nn.Linear(width * (2 if kwargs.get("bidirectional") else 1), 3)

    def forward(self, x):
        if self.packed:  # each image a full sequence and, ragged, a shorter copy: the same cost per image
            n, steps = x.shape[:2]
            lengths = [steps] * n + ([steps - 2] * n if self.packed == "ragged" else [])
            seqs = torch.cat([x] * (len(lengths) // n))
            packed = nn.utils.rnn.pack_padded_sequence(seqs, torch.tensor(lengths), batch_first=True)
            out = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True)[0][:n]
        else:
            out = self.rnn(x)[0]
        return self.head(out)


RECURRENT = [(nn.LSTM, {}), (nn.LSTM, {"bidirectional": True, "num_layers": 2}), (nn.LSTM, {"bias": False}),
             (nn.LSTM, {"proj_size": 4}), (nn.LSTM, {"packed": "uniform"}), (nn.LSTM, {"packed": "ragged"}), (nn.GRU, {}),
             (nn.GRU, {"bidirectional": True, "num_layers": 2}), (nn.RNN, {"bias": False}),
             (nn.RNN, {"nonlinearity": "relu", "packed": "ragged"})]


@pytest.mark.parametrize("make, kwargs", RECURRENT, ids=lambda v: getattr(v, "__name__", str(v)))
def test_recurrent_layers_train_like_a_real_cpu_step_and_forward_as_they_infer(make, kwargs):
    """oneDNN's LSTM kernel (what an unpacked, unprojected fp32 LSTM runs on the CPU) is invisible to
    FlopCounterMode forward and back; every other path decomposes to products it counts."""
    from netprobe.analysis.conventions import in_convention
    from netprobe.analysis.summary import summary

    model = Recurrent(make, **kwargs)
    real = flop_counter(model, torch.randn(BATCH, 5, 8))
    size = "float32:5x8"
    assert train_counts(model, "torch", input_size=size, batch=BATCH).total == real
    infer = summary(model, input_size=size, batch=BATCH)
    for name in ("netprobe", "fvcore", "ptflops", "torch"):
        t = train_counts(model, name, input_size=size, batch=BATCH)
        assert t.forward == in_convention(infer, name).totals.macs, name  # the step's forward is the forward
        assert t.backward > t.forward or (name == "torch" and real == 0 and t.backward == 0), name


@pytest.mark.parametrize("make, size", [("TwoInputs", "3x16x16,12"), ("TextNet", "int64:7"), ("Clip", "3x4x16x16")])
def test_several_inputs_token_ids_and_clips_train_like_a_real_step(make, size):
    import input_models
    from netprobe.analysis.train_memory import train_memory
    from netprobe.inputs import parse_input_size

    model = getattr(input_models, make)()
    shapes = parse_input_size(size)
    xs = [torch.randint(0, 100, (BATCH, *i.shape)) if i.dtype == "int64" else torch.randn(BATCH, *i.shape)
          for i in shapes]
    model.train()
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = model(*xs)
        (out["logits"] if isinstance(out, dict) else out).sum().backward()
    assert train_counts(model, "torch", input_size=size, batch=BATCH).total == counter.get_total_flops()
    memory = train_memory(model, BATCH, input_size=size)
    assert memory.input_bytes == sum(x.numel() * x.element_size() for x in xs)  # every input, ids at 8 bytes


def test_every_convention_counts_the_step_and_only_netprobes_counts_bias_gradients():
    counts = {c: train_counts("regnety_002", c) for c in ("netprobe", "fvcore", "ptflops", "torch")}
    assert all(t.backward > t.forward > 0 for t in counts.values())
    mine, torch_ = counts["netprobe"], counts["torch"]
    bias = sum(n for layer in mine.layers for f, n in layer.forward_facts if f in BIASES and f.startswith("op."))
    assert torch_.forward == 2 * (mine.forward - bias)  # 2 FLOPs per MAC, no bias adds
    assert torch_.backward > 2 * (mine.backward - bias)  # and grouped weight gradients priced as ungrouped
