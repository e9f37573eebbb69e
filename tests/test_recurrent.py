"""LSTM, GRU and RNN layers and cells priced exactly, on every aten path, in every convention.

Expected counts are worked out from the formula of docs/conventions.md: per row of the
sequence (steps x batch) and per layer and direction, gates x hidden x (input + hidden)
MACs (+ proj x hidden for a projected LSTM), and 2 x gates x hidden bias adds.
"""

import importlib.util

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import recurrent_models
from netprobe.analysis import ops, rnn
from netprobe.analysis.measure import measure
from netprobe.analysis.peers import verify
from netprobe.analysis.conventions import in_convention
from netprobe.analysis.summary import summary

H, W, C = 8, 6, 3  # the image: H steps, a batch of W columns, C features
GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


def formula(m: nn.RNNBase, rows: int) -> tuple[int, int]:
    """(MACs without bias, bias adds) of a whole nn.LSTM/GRU/RNN over ``rows`` rows."""
    g, h, p = GATES[type(m)], m.hidden_size, getattr(m, "proj_size", 0)
    out, d = p or h, 2 if m.bidirectional else 1
    macs = bias = 0
    for layer in range(m.num_layers):
        w_in = m.input_size if layer == 0 else d * out
        macs += d * rows * (g * h * (w_in + out) + p * h)
        bias += d * rows * 2 * g * h if m.bias else 0
    return macs, bias


def _layers(model: nn.Module):
    return [m for m in model.modules() if type(m) in GATES]


@pytest.mark.parametrize("name", recurrent_models.VERIFIED[:6])
def test_layers_are_exact_against_the_formula(name):
    s = summary(f"recurrent_models:{name}", input_size=f"{C}x{H}x{W}")
    (m,) = _layers(getattr(recurrent_models, name)())
    macs, bias = formula(m, H * W)
    assert s.totals.macs == macs + bias and not s.unsupported
    row = next(layer for layer in s.layers if layer.name == "rnn")
    assert row.op == "rnn" and row.counts.macs == macs + bias
    assert row.counts.acts == H * W * m.num_layers * (2 if m.bidirectional else 1) * (m.proj_size or m.hidden_size
                                                                                       if isinstance(m, nn.LSTM)
                                                                                       else m.hidden_size)
    assert dict(row.facts).get("op.rnn_bias", 0) == bias


@pytest.mark.parametrize("bias", [True, False])
def test_cells_are_exact_against_the_formula(bias):
    s = summary(f"recurrent_models:cells{'' if bias else '_no_bias'}", input_size=f"{C}x{H}x{W}")
    hidden = 6
    per_row = 4 * hidden * (C + hidden) + 3 * hidden * 2 * hidden + hidden * 2 * hidden  # LSTM, GRU, RNN cells
    adds = 2 * (4 + 3 + 1) * hidden if bias else 0
    assert s.totals.macs == H * W * (per_row + adds) and not s.unsupported


@pytest.mark.parametrize("name", ["packed_lstm", "packed_gru"])
def test_packed_sequences_count_the_rows_they_hold(name):
    """Sequences of lengths H, H - 1, ..., H - W + 1: the packed data has their sum of rows."""
    s = summary(f"recurrent_models:{name}", input_size=f"{C}x{H}x{W}")
    (m,) = _layers(getattr(recurrent_models, name)())
    rows = sum(range(H, H - W, -1))
    assert s.totals.macs == sum(formula(m, rows))
    assert list(s.unsupported) == []  # packing and unpacking move data: free


@pytest.mark.parametrize("name, kernel", [("packed_lstm", False), ("evenly_packed_lstm", True)])
def test_a_packed_lstm_takes_onednn_when_its_sequences_are_of_one_length(name, kernel):
    """FlopCounterMode reads the decomposed path of a ragged packed LSTM and nothing of oneDNN's kernel,
    which torch takes for a packed batch of sequences of one length as for an unpacked one."""
    from torch.utils.flop_counter import FlopCounterMode

    model = getattr(recurrent_models, name)()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, C, H, W))
    s = summary(model, input_size=f"{C}x{H}x{W}")
    assert s.totals.macs > 0 and (counter.get_total_flops() == 0) == kernel
    assert counter.get_total_flops() == in_convention(s, "torch").totals.macs


class _Priced(TorchDispatchMode):
    """Prices every op with analysis.ops as it runs, outside inference mode (the paths training takes)."""

    def __init__(self):
        super().__init__()
        self.macs, self.seen = 0, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = ops.op_name(func)
        self.seen.add(name)
        rule = ops.formula(name)
        if rule is not None:
            self.macs += rule(args, kwargs, out).macs
        return out


@pytest.mark.parametrize("make", [lambda: nn.LSTM(C, 8, 2, bidirectional=True), lambda: nn.LSTM(C, 8, proj_size=4),
                                  lambda: nn.GRU(C, 8, 2), lambda: nn.RNN(C, 8, bias=False)],
                         ids=["lstm-oneDNN", "lstm-proj", "gru", "rnn"])
def test_the_cpu_kernels_and_the_decomposed_path_cost_what_the_layer_op_costs(make):
    """With autograd on, torch runs oneDNN's mkldnn_rnn_layer for an LSTM, and mm/addmm per step otherwise."""
    m = make()
    x = torch.randn(H, W, C)
    priced = _Priced()
    with priced:
        m(x)
    assert priced.macs == sum(formula(m, H * W))
    assert not any(ops.has_no_formula(n) for n in priced.seen), priced.seen


@pytest.mark.parametrize("make", [lambda: nn.GRU(C, 8, 2, batch_first=True), lambda: nn.RNN(C, 8, batch_first=True)],
                         ids=["gru", "rnn"])
def test_the_decomposed_path_of_a_batch_first_layer_adds_its_input_bias_as_a_plain_add(make):
    """Outside inference mode torch multiplies a batch-first first layer's input with matmul, then adds b_ih
    with an elementwise add (free, as every add is): that path is short by exactly those adds."""
    m = make()
    priced = _Priced()
    with priced:
        m(torch.randn(W, H, C))
    assert sum(formula(m, H * W)) - priced.macs == H * W * GATES[type(m)] * m.hidden_size


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("make", [lambda: nn.LSTM(C, 8, 2, bidirectional=True), lambda: nn.LSTM(C, 8, proj_size=4),
                                  lambda: nn.GRU(C, 8, 2, bias=False), lambda: nn.LSTMCell(C, 8)],
                         ids=["lstm", "lstm-proj", "gru", "cell"])
def test_the_cudnn_kernels_cost_what_the_layer_op_costs(make):
    m = make().cuda()
    x = torch.randn(H * W, C, device="cuda") if isinstance(m, nn.LSTMCell) else torch.randn(H, W, C, device="cuda")
    priced = _Priced()
    with priced:
        m(x)
    expected = H * W * 4 * 8 * (C + 8 + 2) if isinstance(m, nn.LSTMCell) else sum(formula(m, H * W))
    assert priced.macs == expected
    assert not any(ops.has_no_formula(n) for n in priced.seen), priced.seen


def test_every_path_is_read_by_the_same_formula():
    """The meta op and the oneDNN layers of one LSTM: the same products and bias adds."""
    m = nn.LSTM(C, 8, 2, bidirectional=True).to("meta")
    x = torch.empty(H, W, C, device="meta")
    params = [p for p in m._flat_weights]
    whole = rnn.read("lstm", (x, [], params, True, 2, 0.0, False, True, False))
    assert (whole.macs, whole.bias) == formula(m, H * W)
    assert rnn.oneDNN_on_cpu("lstm", (x, [], params, True, 2, 0.0, False, True, False), True)
    assert not rnn.oneDNN_on_cpu("lstm", (x, [], params, True, 2, 0.0, False, True, False), False)


@pytest.mark.parametrize("name", recurrent_models.VERIFIED)
def test_derived_equals_the_real_tools(name):
    """fvcore (no formula for aten::lstm/gru: 0; cells trace as addmm), ptflops (its own formula) and
    FlopCounterMode (the decomposed mm/addmm; 0 for oneDNN's LSTM kernel), each exact."""
    model = f"recurrent_models:{name}"
    s = summary(model, input_size=f"{C}x{H}x{W}")
    checks = verify(model, s)
    assert [(c.convention, c.error) for c in checks] == [(t, "") for t in ("fvcore", "ptflops", "torch")]
    assert [c.measured for c in checks] == [c.derived for c in checks]
    if "cells" not in name:
        assert checks[1].derived > s.totals.macs  # ptflops adds its gate terms


def test_a_module_counted_by_the_op_pass_prices_its_lstm():
    model = recurrent_models.lstm_bidirectional().to("meta")
    measured = measure(model, (H, W))
    assert sum(layer.counts.macs for layer in measured.layers) == sum(formula(model.rnn, H * W))


HUB = importlib.util.find_spec("timm") is not None


@pytest.mark.hub
@pytest.mark.slow
@pytest.mark.skipif(not HUB, reason="needs timm")
def test_sequencer_counts_its_lstms():
    """timm's sequencer2d_s: bidirectional LSTMs over rows and columns, 3,414,687,744 MACs of its total."""
    s = summary("timm:sequencer2d_s")
    assert s.totals.macs == 8_362_614_760 and not s.unsupported
    assert sum(layer.counts.macs for layer in s.layers if layer.op == "rnn") == 3_414_687_744
