"""Hand-written blocks whose own output is not their last layer's, importable as ``block_models:NAME``."""

from torch import nn


class SEBlock(nn.Module):
    """conv3x3 then squeeze-and-excitation: the block ends in the SE multiply, after its 1x1 gate."""

    def __init__(self, w: int):
        super().__init__()
        self.conv, self.bn, self.act = nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()
        self.pool, self.fc1, self.fc2, self.gate = nn.AdaptiveAvgPool2d(1), nn.Conv2d(w, 8, 1), nn.Conv2d(8, w, 1), \
            nn.Sigmoid()

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        return x * self.gate(self.fc2(self.fc1(self.pool(x))))


class AttentionBlock(nn.Module):
    """Self-attention over the positions of a map: tokens in, a residual map out (its last layer is token-shaped)."""

    def __init__(self, w: int):
        super().__init__()
        self.norm, self.qkv, self.proj = nn.LayerNorm(w), nn.Linear(w, 3 * w), nn.Linear(w, w)

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.norm(x.flatten(2).transpose(1, 2))
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        a = (q @ k.transpose(1, 2) / c ** 0.5).softmax(-1) @ v
        return x + self.proj(a).transpose(1, 2).reshape(n, c, h, w)


class Net(nn.Module):
    """stem (stride 1), layer1 of SE blocks at 32 channels, layer2 of attention blocks at 128 channels /4, head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 1, 1)
        self.layer1 = nn.Sequential(SEBlock(32), SEBlock(32))
        self.down = nn.Conv2d(32, 128, 4, 4)
        self.layer2 = nn.Sequential(AttentionBlock(128), AttentionBlock(128))
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(128, 10)

    def forward(self, x):
        x = self.layer2(self.down(self.layer1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))
