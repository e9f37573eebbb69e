"""Recurrent layers' cost: LSTM, GRU and RNN layers and cells, on every aten path they take.

Each step of each layer and direction multiplies the layer input and the previous hidden
state by the gate weights: ``gates x hidden x (input + hidden)`` MACs per row of the
sequence (gates: LSTM 4, GRU 3, RNN 1), plus ``proj x hidden`` for an LSTM's projection.
That is one MAC per weight element per row, so the formulas read the weights' shapes,
whatever path the op takes. Bias adds: torch keeps two bias vectors per gate (``b_ih`` and
``b_hh``) and every kernel adds both (the decomposed path as two ``addmm``), so both count:
``2 x gates x hidden`` per row. Activations: the hidden states every layer outputs.

No torch here: arguments are read by position and shape only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Recurrent:
    """One recurrent op's weight products, bias adds and output hidden states."""

    macs: int  # gate (and projection) products, bias adds excluded
    bias: int  # bias adds, two vectors per gate
    acts: int  # hidden-state elements every layer outputs


def _numel(t) -> int:
    return math.prod(t.shape) if t is not None else 0


def _rows(x) -> int:
    """Rows of a sequence, (seq, batch) folded: a packed sequence's data is already 2-D."""
    return _numel(x) // x.shape[-1] if x.dim() else 0


def _stack(rows: int, params, groups: int, has_bias: bool) -> Recurrent:
    """Layers x directions groups of (w_ih, w_hh[, b_ih, b_hh][, w_hr]) weights, run on ``rows`` rows."""
    k = len(params) // groups
    macs = bias = acts = 0
    for g in range(groups):
        group = params[g * k:(g + 1) * k]
        w_ih, w_hh = group[0], group[1]
        biases = group[2:4] if has_bias else ()
        proj = group[4 if has_bias else 2:]  # an LSTM's w_hr, when proj_size is set
        macs += rows * (_numel(w_ih) + _numel(w_hh) + sum(_numel(w) for w in proj))
        bias += rows * sum(_numel(b) for b in biases)
        acts += rows * w_hh.shape[1]  # each step outputs the (projected) hidden state
    return Recurrent(macs, bias, acts)


def _layers(args) -> Recurrent:
    """``aten.lstm``/``gru``/``rnn_tanh``/``rnn_relu``: ``.input`` (input, hx, params, has_biases, num_layers,
    dropout, train, bidirectional, ...) or the packed ``.data`` (data, batch_sizes, hx, params, ...)."""
    packed = isinstance(args[3], (list, tuple))
    at = 1 if packed else 0
    params, has_bias, layers, bidirectional = args[2 + at], args[3 + at], args[4 + at], args[7 + at]
    return _stack(_rows(args[0]), params, layers * (2 if bidirectional else 1), has_bias)


def _cell(args) -> Recurrent:
    """``aten.lstm_cell``/``gru_cell``/``rnn_tanh_cell``/``rnn_relu_cell``: (input, hx, w_ih, w_hh, b_ih, b_hh)."""
    x, w_ih, w_hh = args[0], args[2], args[3]
    biases = [b for b in args[4:6] if b is not None]
    return _stack(_rows(x) if x.dim() > 1 else 1, [w_ih, w_hh, *biases], 1, bool(biases))


def _mkldnn_layer(args) -> Recurrent:
    """``aten.mkldnn_rnn_layer`` (oneDNN, one layer and direction): input, w_ih, w_hh, b_ih, b_hh, ... has_biases (12)."""
    has_bias = args[12]
    return _stack(_rows(args[0]), list(args[1:5] if has_bias else args[1:3]), 1, has_bias)


def _cudnn(args) -> Recurrent:
    """``aten._cudnn_rnn``: input, weights, weight_stride0, weight_buf, hx, cx, mode, hidden, proj, layers, ...,
    bidirectional (13)."""
    weights, proj, layers, bidirectional = args[1], args[8], args[9], args[13]
    groups = layers * (2 if bidirectional else 1)
    return _stack(_rows(args[0]), weights, groups, len(weights) // groups - (1 if proj else 0) > 2)


def _fused_cell(args) -> Recurrent:
    """``aten._thnn_fused_lstm_cell``/``_thnn_fused_gru_cell`` (CUDA): the gates are multiplied before (``mm``),
    so only the two bias adds remain: (input_gates, hidden_gates, cx or hx, b_ih, b_hh)."""
    rows = _rows(args[0])
    return Recurrent(0, sum(rows * _numel(b) for b in args[3:5] if b is not None), 0)


LAYER_OPS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
CELL_OPS = ("lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell")
# aten op -> reader of its arguments.
READERS = {
    **dict.fromkeys(LAYER_OPS, _layers),
    **dict.fromkeys(CELL_OPS, _cell),
    "mkldnn_rnn_layer": _mkldnn_layer,  # what aten.lstm runs on the CPU outside inference mode
    "_cudnn_rnn": _cudnn,  # what every layer op runs on CUDA outside inference mode
    "_thnn_fused_lstm_cell": _fused_cell,  # lstm_cell / gru_cell on CUDA after their two mm
    "_thnn_fused_gru_cell": _fused_cell,
}


def read(name: str, args) -> Recurrent:
    """The cost of one call of a recurrent op of READERS."""
    return READERS[name](args)


def oneDNN_on_cpu(name: str, args, mkldnn_enabled: bool) -> bool:
    """Whether a real CPU run of this op takes torch's oneDNN LSTM kernel (``mkldnn_rnn_layer``)."""
    if name != "lstm":
        return False
    packed = isinstance(args[3], (list, tuple))
    at = 1 if packed else 0
    params, has_bias, layers, bidirectional = args[2 + at], args[3 + at], args[4 + at], args[7 + at]
    per_group = len(params) // (layers * (2 if bidirectional else 1))
    return takes_oneDNN(packed and ragged(args[1]), per_group > (4 if has_bias else 2), str(args[0].dtype),
                        _numel(args[0]), mkldnn_enabled)


def ragged(batch_sizes) -> bool:
    """Whether a packed sequence's batch sizes differ (its sequences have different lengths)."""
    return len(set(batch_sizes.tolist())) > 1


def takes_oneDNN(ragged_: bool, projected: bool, dtype: str, numel: int, mkldnn_enabled: bool) -> bool:
    """Whether an LSTM runs oneDNN's kernel on the CPU, as torch decides: not packed from sequences of
    different lengths (an evenly packed one runs as unpacked), without projections, in fp32 or bf16,
    on a non-empty input."""
    return (mkldnn_enabled and not ragged_ and not projected and numel > 0
            and dtype in ("torch.float32", "torch.bfloat16"))


def ptflops(kind: str, hidden: int, weights, rows: int, directions: int = 1) -> int:
    """ptflops' count for nn.RNN/GRU/LSTM (and cells): per layer, its weights' elements, its biases' and
    a few elementwise terms per hidden unit (RNN 1, GRU 7, LSTM 10), x rows x directions; ``weights``:
    each layer's (w_ih, w_hh, b_ih or None, b_hh or None) of the forward direction."""
    extra = {"RNN": 1, "GRU": 7, "LSTM": 10}[kind] * hidden
    per_row = sum(_numel(w_ih) + _numel(w_hh) + extra + _numel(b_ih) + _numel(b_hh)
                  for w_ih, w_hh, b_ih, b_hh in weights)
    return per_row * rows * directions
