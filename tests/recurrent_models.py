"""Recurrent modules over an image, importable as ``recurrent_models:NAME``: a (1, C, H, W) input read
as a sequence of H steps, a batch of W columns and C features (or rows of C x W features)."""

import torch
from torch import nn


class Columns(nn.Module):
    """An nn.LSTM/GRU/RNN over the image's rows: H steps, batch W, C features."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        seq = x[0].permute(1, 2, 0)  # (H, W, C)
        if self.rnn.batch_first:
            seq = seq.transpose(0, 1)
        return self.rnn(seq)[0].sum()


class Packed(Columns):
    """The same over a packed batch of sequences of decreasing lengths (H, H - 1, ...)."""

    def forward(self, x):
        seq = x[0].permute(1, 2, 0)  # (H, W, C)
        lengths = torch.arange(seq.shape[0], seq.shape[0] - seq.shape[1], -1)
        packed = nn.utils.rnn.pack_padded_sequence(seq, lengths)
        return self.rnn(packed)[0].data.sum()


class EvenlyPacked(Columns):
    """The same over a packed batch of W sequences of one length H (torch runs it as unpacked)."""

    def forward(self, x):
        seq = x[0].permute(1, 2, 0)  # (H, W, C)
        packed = nn.utils.rnn.pack_padded_sequence(seq, torch.full((seq.shape[1],), seq.shape[0]))
        return self.rnn(packed)[0].data.sum()


class Cells(nn.Module):
    """An LSTMCell, a GRUCell and an RNNCell stepped over the H rows, batch W."""

    def __init__(self, c: int = 3, hidden: int = 6, bias: bool = True):
        super().__init__()
        self.lstm = nn.LSTMCell(c, hidden, bias)
        self.gru = nn.GRUCell(hidden, hidden, bias)
        self.rnn = nn.RNNCell(hidden, hidden, bias, nonlinearity="relu")

    def forward(self, x):
        seq = x[0].permute(1, 2, 0)  # (H, W, C)
        h = c = g = r = None
        for step in seq:
            h, c = self.lstm(step, None if h is None else (h, c))
            g = self.gru(h, g)
            r = self.rnn(g, r)
        return r.sum()


def lstm_bidirectional():
    return Columns(nn.LSTM(3, 8, 2, bidirectional=True))


def lstm_projected():
    return Columns(nn.LSTM(3, 8, 3, proj_size=4, batch_first=True))


def lstm_no_bias():
    return Columns(nn.LSTM(3, 8, bias=False))


def gru_bidirectional():
    return Columns(nn.GRU(3, 8, 2, bidirectional=True, batch_first=True))


def rnn_relu():
    return Columns(nn.RNN(3, 8, 2, nonlinearity="relu", bias=False))


def rnn_tanh_bidirectional():
    return Columns(nn.RNN(3, 5, 3, bidirectional=True))


def cells():
    return Cells()


def cells_no_bias():
    return Cells(bias=False)


def packed_lstm():
    return Packed(nn.LSTM(3, 8, 2, bidirectional=True))


def evenly_packed_lstm():
    return EvenlyPacked(nn.LSTM(3, 8, 2, bidirectional=True))


def packed_gru():
    return Packed(nn.GRU(3, 8, 2))


VERIFIED = ("lstm_bidirectional", "lstm_projected", "lstm_no_bias", "gru_bidirectional", "rnn_relu",
            "rnn_tanh_bidirectional", "cells", "cells_no_bias")
