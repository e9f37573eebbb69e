"""Small modules that together call every family of functional op, importable as ``op_families:NAME``.

Each takes a (1, C, H, W) image so the op-level counter can run it as it runs any model;
``FAMILIES`` lists them for the test that holds every op to one of the three lists.
"""

import torch
from torch import nn
from torch.nn import functional as F


class Activations(nn.Module):
    """Every F.* activation and gate."""

    def forward(self, x):
        for f in (F.relu, F.relu6, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish, F.hardswish, F.hardsigmoid,
                  F.hardtanh, F.leaky_relu, F.softplus, F.softsign, F.tanhshrink, F.logsigmoid, F.hardshrink,
                  F.softshrink, torch.sigmoid, torch.tanh, lambda t: F.threshold(t, 0.1, 0.0),
                  lambda t: F.rrelu(t, training=False), lambda t: F.softmax(t, -1), lambda t: F.log_softmax(t, 1),
                  lambda t: F.softmin(t, -1), lambda t: F.gumbel_softmax(t, tau=1.0), lambda t: torch.cat([F.glu(t)] * 2, -1)):
            x = f(x)
        return F.prelu(x, torch.ones(1, device=x.device))


class Norms(nn.Module):
    """Batch, layer, group, instance, RMS, local response norms and vector norms."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.weight = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = self.bn(x)
        x = F.layer_norm(x, x.shape[-1:], self.weight)
        x = F.group_norm(x, 1) + F.instance_norm(x) + F.rms_norm(x, x.shape[-1:], self.weight)
        x = F.local_response_norm(x, 2) + F.normalize(x, dim=1) + F.batch_norm(x, None, None, training=True)
        scale = torch.linalg.vector_norm(x, dim=1, keepdim=True) + x.norm(dim=1, keepdim=True)
        return x / (scale + torch.norm(x) + x.std() + x.var(1, keepdim=True) + torch.renorm(x, 2, 1, 1.0))


class Pooling(nn.Module):
    """Max, average, adaptive, fractional, power and unpooling."""

    def forward(self, x):
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        x = F.max_unpool2d(y, idx, 2) + F.avg_pool2d(x, 3, 1, 1) + F.lp_pool2d(x, 2, 1)
        x = x + F.avg_pool2d(F.max_pool2d(x, 1), 1) + F.adaptive_avg_pool2d(x, 4).mean() + F.adaptive_max_pool2d(x, 4).amax()
        x1 = F.max_pool1d(x.flatten(2), 2) + F.avg_pool1d(x.flatten(2), 2) + F.adaptive_avg_pool1d(x.flatten(2), 32)
        x3 = F.max_pool3d(x[:, None], 1) + F.avg_pool3d(x[:, None], 1) + F.adaptive_max_pool3d(x[:, None], 2).amax()
        return x1.sum() + x3.mean() + x.amax() + F.pixel_unshuffle(F.pixel_shuffle(x.repeat(1, 4, 1, 1), 2), 2).sum()


class Resampling(nn.Module):
    """interpolate in every mode, grid_sample, affine_grid, pad and unfold/fold."""

    def forward(self, x):
        for mode in ("nearest", "nearest-exact", "bilinear", "bicubic", "area"):
            x = F.interpolate(x, scale_factor=2, mode=mode)[:, :, ::2, ::2]
        x = x + F.interpolate(x, scale_factor=2, mode="bilinear", antialias=True)[:, :, ::2, ::2]
        x3 = F.interpolate(x[:, None], scale_factor=1, mode="trilinear") + F.interpolate(x.flatten(2), 4, mode="linear").sum()
        grid = F.affine_grid(torch.eye(2, 3, device=x.device)[None], list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False) + F.pad(x, (1, 1, 1, 1), mode="reflect")[:, :, 1:-1, 1:-1]
        x = x + F.pad(x, (1, 1, 1, 1), mode="replicate")[:, :, 1:-1, 1:-1] + F.pad(x, (0, 0, 0, 0))
        x = x + F.fold(F.unfold(x, 2, stride=2), x.shape[-2:], 2, stride=2)
        return x + x3.sum() + torch.roll(x, 1, 2) + torch.flip(x, (3,)) + torch.rot90(x, 1, (2, 3))


class Attention(nn.Module):
    """scaled_dot_product_attention (masked, causal), MultiheadAttention, matmul and einsum forms."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        t = x.flatten(1).view(1, -1, 8)  # (1, tokens, 8)
        q = t.view(1, -1, 2, 4).transpose(1, 2)
        mask = torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool, device=x.device).tril()
        a = F.scaled_dot_product_attention(q, q, q, attn_mask=mask) + F.scaled_dot_product_attention(q, q, q, is_causal=True)
        b = (torch.einsum("bhnd,bhmd->bhnm", q, q).softmax(-1) @ q).sum() + (torch.bmm(t, t.transpose(1, 2)) @ t).sum()
        c = self.mha(t, t, t, need_weights=False)[0] + torch.baddbmm(t, t, t.transpose(1, 2) @ t)
        return a.sum() + b.sum() + c.sum() + torch.mm(t[0], t[0].T).sum() + torch.addmm(t[0, 0], t[0], t[0].T[:, :8]).sum()


class Embedding(nn.Module):
    """Embedding, embedding_bag, one_hot and index arithmetic."""

    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(16, 4)
        self.bag = nn.EmbeddingBag(16, 4)

    def forward(self, x):
        ids = torch.arange(8, device=x.device).remainder(16)
        e = self.table(ids) + self.bag(ids.view(2, 4)).repeat(4, 1) + F.one_hot(ids, 16)[:, :4]
        return x.mean() + e.sum()


class Recurrent(nn.Module):
    """LSTM, GRU and RNN layers and cells over the image's rows."""

    def __init__(self, c=3, w=8):
        super().__init__()
        self.lstm = nn.LSTM(c * w, 8, 2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(16, 8)
        self.rnn = nn.RNN(8, 4, nonlinearity="relu", bias=False)
        self.cells = nn.ModuleList([nn.LSTMCell(4, 4), nn.GRUCell(4, 4), nn.RNNCell(4, 4)])

    def forward(self, x):
        rows = x.permute(0, 2, 1, 3).flatten(2)  # (1, H, C*W): a sequence of rows
        y, _ = self.lstm(rows)
        y, _ = self.gru(y.transpose(0, 1))
        y, _ = self.rnn(y)
        h = y[-1]
        h1, _ = self.cells[0](h)
        return self.cells[2](self.cells[1](h1, h), h).sum()


class Geometry(nn.Module):
    """cdist, pairwise and cosine distances, fft and linear algebra: arithmetic with no formula."""

    def forward(self, x):
        t = x.flatten(2)[0]  # (C, HW)
        d = torch.cdist(t, t).sum() + F.pairwise_distance(t, t).sum() + F.cosine_similarity(t, t).sum()
        f = torch.fft.rfft2(x).abs().sum() + torch.fft.fft(t).real.sum()
        return d + f + torch.linalg.solve(t @ t.T + torch.eye(3, device=x.device), t).sum()


class Reductions(nn.Module):
    """sum, mean, prod, max/min, logsumexp, cumsum/cumprod, sort/topk, argmax and friends."""

    def forward(self, x):
        t = x.flatten(1)
        r = t.sum() + t.mean(1).sum() + t.prod() + t.max() + t.min(1).values.sum() + t.logsumexp(1).sum()
        r = r + t.cumsum(1).sum() + t.cumprod(1).sum() + t.sort(1).values.sum() + t.topk(2).values.sum()
        r = r + t.argmax() + t.argmin(1).sum() + t.median() + t.amin(1).sum() + t.all() + t.any()
        r = r + torch.cummax(t, 1).values.sum() + t.aminmax()[0] + t.kthvalue(2).values.sum() + t.count_nonzero()
        return r + torch.clamp(t, 0, 1).sum() + t.abs().pow(2).sqrt().exp().log1p().sum()


class Indexing(nn.Module):
    """gather/scatter, index_select, masked ops, where, nonzero-free selection and slicing."""

    def forward(self, x):
        t = x.flatten(1)
        idx = torch.arange(t.shape[1], device=x.device).flip(0)[None].expand_as(t)
        g = t.gather(1, idx) + t.scatter(1, idx, t) + t.scatter_add(1, idx, t) + t.index_select(1, idx[0])
        g = g + torch.zeros_like(t).scatter_reduce(1, idx, t, "amax") + t.masked_fill(t > 0, 0.0)
        g = g + torch.where(t > 0, t, -t) + t.index_add(1, idx[0], t) + t.masked_scatter(t > 0, t)
        g[:, 0] = 1.0
        g = g + torch.take_along_dim(t, idx, 1) + t[:, idx[0]] + t.new_zeros(t.shape).index_put((idx[:, 0] * 0,), t)
        return g.sum() + torch.stack([t, t]).sum() + torch.cat(t.chunk(2, 1), 1).sum() + t.tril().triu().sum()


class Creation(nn.Module):
    """Tensors made in the forward: arange, full, linspace, eye, random, like-constructors, copies, casts."""

    def forward(self, x):
        t = torch.arange(4.0, device=x.device) + torch.linspace(0, 1, 4, device=x.device) + torch.full((4,), 2.0,
                                                                                                    device=x.device)
        r = torch.rand_like(x) + torch.randn_like(x) + torch.empty_like(x).uniform_() + torch.zeros_like(x).normal_()
        m = torch.eye(4, device=x.device) + torch.ones(4, 4, device=x.device).bernoulli_(0.5) + torch.randn(4, device=x.device)
        c = x.to(torch.float64).float().clone().contiguous(memory_format=torch.channels_last) + x.detach()
        return t.sum() + r.sum() + m.sum() + c.sum() + F.dropout(x, 0.5, training=True).sum() + torch.randperm(4, device=x.device).sum()


class Comparison(nn.Module):
    """Comparisons, logic, rounding and sign."""

    def forward(self, x):
        b = (x > 0) & (x < 1) | (x == 0) ^ (x != 1) | ~(x >= 2) | (x <= 3) | x.isnan() | x.isinf() | x.isfinite()
        r = x.round() + x.floor() + x.ceil() + x.trunc() + x.sign() + x.frac() + torch.eq(x, x) + x.isclose(x)
        return (b.float() + r + torch.maximum(x, x) + torch.minimum(x, x) + x.lerp(x, 0.5) + x.addcmul(x, x)).sum()


FAMILIES = (Activations, Norms, Pooling, Resampling, Attention, Embedding, Recurrent, Geometry, Reductions,
            Indexing, Creation, Comparison)
