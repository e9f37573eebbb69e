"""Small modules shaped like torchvision's task models (video, segmentation, detection), for stage tests."""

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn(w_in, w_out, stride=1, dims=2):
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    return nn.Sequential(conv(w_in, w_out, 3, stride, 1, bias=False), norm(w_out), nn.ReLU())


class Block(nn.Module):
    """A residual block of two 3x3 (or 3x3x3) convs."""

    def __init__(self, w_in, w_out, stride=1, dims=2):
        super().__init__()
        self.conv1, self.conv2 = conv_bn(w_in, w_out, stride, dims), conv_bn(w_out, w_out, 1, dims)
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.down = conv(w_in, w_out, 1, stride) if stride > 1 or w_in != w_out else nn.Identity()

    def forward(self, x):
        return self.conv2(self.conv1(x)) + self.down(x)


class TinyVideoResNet(nn.Module):
    """torchvision's VideoResNet: a 3-D stem, layer1..layer3, a global pool and fc."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 8, 1, dims=3)
        self.layer1 = nn.Sequential(Block(8, 8, 1, 3), Block(8, 8, 1, 3))
        self.layer2 = nn.Sequential(Block(8, 16, 2, 3), Block(16, 16, 1, 3))
        self.layer3 = nn.Sequential(Block(16, 32, 2, 3))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(self.avgpool(x).flatten(1))


class TinyS3D(nn.Module):
    """torchvision's S3D: one Sequential of 3-D convs and pools, no stage containers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, 8, 2, 3), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                                      conv_bn(8, 16, 1, 3), nn.MaxPool3d(3, 2, 1), conv_bn(16, 32, 1, 3))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Conv3d(32, 10, 1)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x))).flatten(1)


class Features(nn.ModuleDict):
    """IntermediateLayerGetter over a mobile backbone: numbered children, a conv-bn first, then blocks."""

    def __init__(self):
        super().__init__(OrderedDict([("0", conv_bn(3, 8, 2)), ("1", Block(8, 8)), ("2", Block(8, 16, 2)),
                                      ("3", Block(16, 16)), ("4", Block(16, 32, 2))]))

    def forward(self, x):
        for m in self.values():
            x = m(x)
        return OrderedDict(out=x)


class TinySegmenter(nn.Module):
    """torchvision's DeepLabV3 / LRASPP shape: a backbone, a classifier head, output upsampled into a dict."""

    def __init__(self):
        super().__init__()
        self.backbone = Features()
        self.classifier = nn.Sequential(conv_bn(32, 16), nn.Conv2d(16, 5, 1))

    def forward(self, x):
        out = self.classifier(self.backbone(x)["out"])
        return OrderedDict(out=F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False))


class Body(nn.Module):
    """A ResNet trunk as IntermediateLayerGetter keeps it: conv1 .. layer1, layer2, returning both maps."""

    def __init__(self):
        super().__init__()
        self.conv1 = conv_bn(3, 8, 2)
        self.layer1 = nn.Sequential(Block(8, 16, 2), Block(16, 16))
        self.layer2 = nn.Sequential(Block(16, 32, 2), Block(32, 32))

    def forward(self, x):
        c1 = self.layer1(self.conv1(x))
        return OrderedDict([("0", c1), ("1", self.layer2(c1))])


class FPN(nn.Module):
    """Lateral 1x1 convs, top-down sum, 3x3 output convs."""

    def __init__(self):
        super().__init__()
        self.inner = nn.ModuleList([nn.Conv2d(16, 16, 1), nn.Conv2d(32, 16, 1)])
        self.layer = nn.ModuleList([nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)])

    def forward(self, feats):
        c1, c2 = feats.values()
        p2 = self.inner[1](c2)
        p1 = self.inner[0](c1) + F.interpolate(p2, size=c1.shape[-2:])
        return [self.layer[0](p1), self.layer[1](p2)]


class BackboneWithFPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.fpn = Body(), FPN()

    def forward(self, x):
        return self.fpn(self.body(x))


class TinyDetector(nn.Module):
    """torchvision's detectors: a list of images in, backbone.body then backbone.fpn, an rpn and
    roi_heads, a list of dicts out."""

    def __init__(self):
        super().__init__()
        self.backbone = BackboneWithFPN()
        self.rpn = nn.Conv2d(16, 3 * 4, 3, padding=1)
        self.roi_heads = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 5))

    def forward(self, images):
        x = torch.stack(list(images)) if isinstance(images, (list, tuple)) else images
        feats = self.backbone(x)
        boxes = [self.rpn(f) for f in feats]
        pooled = F.adaptive_avg_pool2d(feats[0], 4)
        return [{"boxes": b.flatten(1), "scores": s} for b, s in zip(boxes[0], self.roi_heads(pooled))]
