"""Issue 14's extended model table: published architectures fastnorm was not tuned on, in plain PyTorch
(no torchvision / timm), at their published widths and depths, random weights. The blocks come from
tests/zoo.py and tests/zoo_export.py where they already exist (MobileNetV3's block and SE, DenseNet's
dense block and transition, ConvNeXt's block and channel LayerNorm); what is new here is each
network's table and the blocks no test model had (MBConv with SiLU, RegNet's Y block, Inception's).

EXTENDED[name] = (constructor, canonical input shape (C, H, W), calibration input shape), the layout of
tests/zoo.py's ZOO, so bench_models.py builds both alike.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo import DenseNetMini, MobileNetV3Small, SqueezeExcitation, _conv_bn_act
from zoo_export import ConvNeXtBlock, LayerNorm2d


# ----------------------------------------------------------------------------------- EfficientNet-B0
class SiLUSqueezeExcitation(SqueezeExcitation):
    """EfficientNet's SE: tests/zoo.py's block with SiLU inside and a sigmoid gate."""

    def __init__(self, c, squeeze):
        super().__init__(c, squeeze)
        self.relu = nn.SiLU()
        self.scale_act = nn.Sigmoid()


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [_conv_bn_act(cin, hidden, 1, act=nn.SiLU)]
        layers += [_conv_bn_act(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
                   SiLUSqueezeExcitation(hidden, max(1, cin // 4)),
                   _conv_bn_act(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res else y


class EfficientNetB0(nn.Module):
    # expand, kernel, stride, input channels, output channels, layers (torchvision's table)
    SETTINGS = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [_conv_bn_act(3, 32, 3, 2, act=nn.SiLU)]
        for e, k, s, cin, cout, n in self.SETTINGS:
            for i in range(n):
                layers.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        layers.append(_conv_bn_act(320, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# -------------------------------------------------------------------------------- MobileNetV3-Large
class MobileNetV3Large(MobileNetV3Small):
    """tests/zoo.py's MobileNetV3-Small with the Large table and head."""
    # input channels, kernel, expanded, output, squeeze-excite, hardswish, stride (torchvision's table)
    SETTINGS = [(16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2),
                (24, 3, 72, 24, False, False, 1), (24, 5, 72, 40, True, False, 2),
                (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
                (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1),
                (80, 3, 184, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
                (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
                (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1),
                (160, 5, 960, 160, True, True, 1)]
    HEAD = (160, 960, 1280)


# ------------------------------------------------------------------------------------- RegNetY-200MF
class YBlock(nn.Module):
    """RegNet's Y block: 1x1, grouped 3x3 (group width g, the stride), SE on the block input's width / 4,
    1x1, projection shortcut when the shape changes, ReLU after the add."""

    def __init__(self, cin, cout, stride, g=8):
        super().__init__()
        self.a = _conv_bn_act(cin, cout, 1, act=nn.ReLU)
        self.b = _conv_bn_act(cout, cout, 3, stride, groups=cout // g, act=nn.ReLU)
        self.se = SqueezeExcitation(cout, int(round(0.25 * cin)))
        self.se.scale_act = nn.Sigmoid()
        self.c = _conv_bn_act(cout, cout, 1, act=None)
        self.proj = _conv_bn_act(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.c(self.se(self.b(self.a(x))))
        return F.relu(y + (self.proj(x) if self.proj is not None else x))


class RegNetY200MF(nn.Module):
    WIDTHS, DEPTHS = (24, 56, 152, 368), (1, 1, 4, 7)

    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [_conv_bn_act(3, 32, 3, 2, act=nn.ReLU)], 32
        for w, d in zip(self.WIDTHS, self.DEPTHS):
            for i in range(d):
                layers.append(YBlock(c, w, 2 if i == 0 else 1))
                c = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# --------------------------------------------------------------------------------------- ConvNeXt-atto
class ConvNeXtAtto(nn.Module):
    """timm's convnext_atto widths and depths: patchify stem, four stages, LN + 2x2 downsampling."""
    DIMS, DEPTHS = (40, 80, 160, 320), (2, 2, 6, 2)

    def __init__(self, num_classes=1000):
        super().__init__()
        d = self.DIMS
        layers = [nn.Conv2d(3, d[0], 4, 4), LayerNorm2d(d[0], eps=1e-6)]
        for i, (c, n) in enumerate(zip(d, self.DEPTHS)):
            if i:
                layers += [LayerNorm2d(d[i - 1], eps=1e-6), nn.Conv2d(d[i - 1], c, 2, 2)]
            layers += [ConvNeXtBlock(c) for _ in range(n)]
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(d[-1], eps=1e-6)
        self.head = nn.Linear(d[-1], num_classes)

    def forward(self, x):
        return self.head(self.norm(self.features(x).mean([-2, -1])))


# -------------------------------------------------------------------------------------- Inception-v3
def _basic(cin, cout, k, stride=1, padding=0):
    """Inception's BasicConv2d: conv (no bias), BN eps 1e-3, ReLU; k and padding may be (h, w)."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, bias=False), nn.BatchNorm2d(cout, eps=1e-3),
                         nn.ReLU(inplace=True))


class _Branches(nn.Module):
    """Branches run on one input, outputs concatenated in order; "pool" is a 3x3 average pool
    (stride 1, pad 1) and "max" a 3x3 stride-2 max pool."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


def _avg_then(conv):
    return nn.Sequential(nn.AvgPool2d(3, 1, 1), conv)


def inception_a(cin, pool):
    return _Branches(_basic(cin, 64, 1),
                     nn.Sequential(_basic(cin, 48, 1), _basic(48, 64, 5, padding=2)),
                     nn.Sequential(_basic(cin, 64, 1), _basic(64, 96, 3, padding=1), _basic(96, 96, 3, padding=1)),
                     _avg_then(_basic(cin, pool, 1)))


def inception_b(cin):
    return _Branches(_basic(cin, 384, 3, 2),
                     nn.Sequential(_basic(cin, 64, 1), _basic(64, 96, 3, padding=1), _basic(96, 96, 3, 2)),
                     nn.MaxPool2d(3, 2))


def inception_c(cin, c7):
    def seven(a, b, vertical):
        return _basic(a, b, (7, 1) if vertical else (1, 7), padding=(3, 0) if vertical else (0, 3))
    return _Branches(_basic(cin, 192, 1),
                     nn.Sequential(_basic(cin, c7, 1), seven(c7, c7, False), seven(c7, 192, True)),
                     nn.Sequential(_basic(cin, c7, 1), seven(c7, c7, True), seven(c7, c7, False),
                                   seven(c7, c7, True), seven(c7, 192, False)),
                     _avg_then(_basic(cin, 192, 1)))


def inception_d(cin):
    return _Branches(nn.Sequential(_basic(cin, 192, 1), _basic(192, 320, 3, 2)),
                     nn.Sequential(_basic(cin, 192, 1), _basic(192, 192, (1, 7), padding=(0, 3)),
                                   _basic(192, 192, (7, 1), padding=(3, 0)), _basic(192, 192, 3, 2)),
                     nn.MaxPool2d(3, 2))


class _Split(nn.Module):
    """Inception E's 1x3 / 3x1 pair on one input, concatenated."""

    def __init__(self, pre, c):
        super().__init__()
        self.pre = pre
        self.h = _basic(c, 384, (1, 3), padding=(0, 1))
        self.v = _basic(c, 384, (3, 1), padding=(1, 0))

    def forward(self, x):
        x = self.pre(x)
        return torch.cat([self.h(x), self.v(x)], 1)


def inception_e(cin):
    return _Branches(_basic(cin, 320, 1),
                     _Split(_basic(cin, 384, 1), 384),
                     _Split(nn.Sequential(_basic(cin, 448, 1), _basic(448, 384, 3, padding=1)), 384),
                     _avg_then(_basic(cin, 192, 1)))


class InceptionV3(nn.Module):
    """torchvision's Inception3 layout (no auxiliary head, no input transform), 299x299 input."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            _basic(3, 32, 3, 2), _basic(32, 32, 3), _basic(32, 64, 3, padding=1), nn.MaxPool2d(3, 2),
            _basic(64, 80, 1), _basic(80, 192, 3), nn.MaxPool2d(3, 2),
            inception_a(192, 32), inception_a(256, 64), inception_a(288, 64), inception_b(288),
            inception_c(768, 128), inception_c(768, 160), inception_c(768, 160), inception_c(768, 192),
            inception_d(768), inception_e(1280), inception_e(2048))
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


EXTENDED = {
    "efficientnet_b0": (EfficientNetB0, (3, 224, 224), (3, 96, 96)),
    "mobilenet_v3_large": (MobileNetV3Large, (3, 224, 224), (3, 96, 96)),
    "regnety_200mf": (RegNetY200MF, (3, 224, 224), (3, 96, 96)),
    "convnext_atto": (ConvNeXtAtto, (3, 224, 224), (3, 96, 96)),
    "densenet121": (lambda: DenseNetMini(blocks=(6, 12, 24, 16)), (3, 224, 224), (3, 64, 64)),
    "inception_v3": (InceptionV3, (3, 299, 299), (3, 139, 139)),
}
