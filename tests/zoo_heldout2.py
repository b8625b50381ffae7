"""A second set of held-out architectures (session 22), first run after the work they check: a
DeepLabV3 at output stride 8 (dilated 3x3 convs, ASPP at dilations 6/12/18, image pooling, bilinear x8
upsampling), an Xception at about half width (separable convs with BN after each half, strided 1x1
shortcuts beside 3x3/2 max pools), VGG16-BN, Wide-ResNet-50-2, SE-ResNeXt-26 32x4d, an HRNet with three
branches fused by strided convs and nearest / bilinear upsampling, MobileNetV2 x1.4 and EfficientNet-B2
(B0's table at width 1.1, depth 1.2, 260x260). Plain PyTorch, random weights, BatchNorm statistics
calibrated as tests/zoo.py does.

tests/test_zoo_heldout.py holds fastnorm to PyTorch on each but VGG16-BN and Wide-ResNet-50-2 (138 M and
69 M weights; their families run there as tests/zoo_export.py's VGG-BN and tests/zoo.py's ResNet-50);
bench/adhoc/models_cputime.py --heldout2 times all eight beside the peers.

HELDOUT2[name] = (constructor, canonical input shape (C, H, W), test input shape (C, H, W)).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import zoo
from zoo import InvertedResidual, _conv_bn_act, _make_divisible


def _zoo_extended():
    """bench/zoo_extended.py's EfficientNet-B0 table and MBConv block (EfficientNet-B2 scales them)."""
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from zoo_extended import EfficientNetB0, MBConv
    return EfficientNetB0, MBConv


def cbr(cin, cout, k, s=1, d=1, g=1, act=True):
    """conv (no bias) + BN (+ ReLU), 'same' padding for odd k with dilation d."""
    layers = [nn.Conv2d(cin, cout, k, s, d * (k - 1) // 2, dilation=d, groups=g, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- DeepLabV3 (OS 8, ASPP)
class DilatedBasic(nn.Module):
    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__()
        self.c1 = cbr(cin, cout, 3, stride, dilation)
        self.c2 = cbr(cout, cout, 3, 1, dilation, act=False)
        self.down = cbr(cin, cout, 1, stride, act=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.c2(self.c1(x)) + (x if self.down is None else self.down(x)))


class ASPPPooling(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        size = x.shape[-2:]
        y = F.relu(self.bn(self.conv(F.adaptive_avg_pool2d(x, 1))))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, cin, c=128, rates=(6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList([cbr(cin, c, 1)] + [cbr(cin, c, 3, d=r) for r in rates]
                                      + [ASPPPooling(cin, c)])
        self.project = nn.Sequential(cbr(c * (len(rates) + 2), c, 1), nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([b(x) for b in self.branches], 1))


class DeepLabV3(nn.Module):
    """ResNet-18 layout at half width (32..256), output stride 8: layer3 dilation 2, layer4 dilation 4
    (no stride), ASPP (1x1, 3x3 d6/12/18, image pooling), 3x3 head, classifier, bilinear x8 upsample."""

    def __init__(self, widths=(32, 64, 128, 256), num_classes=21, aspp=128):
        super().__init__()
        w = widths
        self.stem = nn.Sequential(cbr(3, w[0], 7, 2), nn.MaxPool2d(3, 2, 1))
        self.layer1 = nn.Sequential(DilatedBasic(w[0], w[0]), DilatedBasic(w[0], w[0]))
        self.layer2 = nn.Sequential(DilatedBasic(w[0], w[1], 2), DilatedBasic(w[1], w[1]))
        self.layer3 = nn.Sequential(DilatedBasic(w[1], w[2], 1, 2), DilatedBasic(w[2], w[2], 1, 2))
        self.layer4 = nn.Sequential(DilatedBasic(w[2], w[3], 1, 4), DilatedBasic(w[3], w[3], 1, 4))
        self.aspp = ASPP(w[3], aspp)
        self.head = cbr(aspp, aspp, 3)
        self.cls = nn.Conv2d(aspp, num_classes, 1)

    def forward(self, x):
        size = x.shape[-2:]
        y = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        y = self.cls(self.head(self.aspp(y)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------ Xception-lite
class SepConv(nn.Module):
    """depthwise 3x3 + BN, pointwise 1x1 + BN (Xception's separable conv, BN after each half)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.bn_dw = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn_pw = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn_pw(self.pw(self.bn_dw(self.dw(x))))


class XEntry(nn.Module):
    """[ReLU] sep ReLU sep, maxpool 3x3/2 p1, + (1x1 stride-2 conv + BN) shortcut."""

    def __init__(self, cin, cout, first_relu=True):
        super().__init__()
        self.first_relu = first_relu
        self.s1 = SepConv(cin, cout)
        self.s2 = SepConv(cout, cout)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(x) if self.first_relu else x
        y = self.pool(self.s2(F.relu(self.s1(y))))
        return y + self.skip(x)


class XMiddle(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.s = nn.ModuleList([SepConv(c, c) for _ in range(3)])

    def forward(self, x):
        y = x
        for s in self.s:
            y = s(F.relu(y))
        return x + y


class XceptionLite(nn.Module):
    """Xception at about half width: stem 16/32, entry 64/128/256, 4 middle blocks at 256, exit block
    256->512 + sepconv 768 + ReLU, global pool, fc."""

    def __init__(self, num_classes=1000, middle=4):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 16, 3, 2), cbr(16, 32, 3))
        self.entry = nn.Sequential(XEntry(32, 64, first_relu=False), XEntry(64, 128), XEntry(128, 256))
        self.middle = nn.Sequential(*[XMiddle(256) for _ in range(middle)])
        self.exit = XEntry(256, 512)
        self.exit_conv = SepConv(512, 768)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x):
        y = self.exit(self.middle(self.entry(self.stem(x))))
        y = F.relu(self.exit_conv(y))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# ------------------------------------------------------------------------------------------ VGG16-BN
def vgg16_bn():
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    return zoo.VGG11BN(hidden=4096, cfg=cfg)


# --------------------------------------------------------------------------------- Wide-ResNet-50-2
class WideBottleneck(nn.Module):
    def __init__(self, cin, planes, stride, width_mult=2, groups=1, base=64, se=False):
        super().__init__()
        w = int(planes * width_mult * base / 64) * groups
        cout = planes * 4
        self.a = cbr(cin, w, 1)
        self.b = cbr(w, w, 3, stride, g=groups)
        self.c = cbr(w, cout, 1, act=False)
        self.se = SE(cout, cout // 16) if se else None
        self.down = cbr(cin, cout, 1, stride, act=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.c(self.b(self.a(x)))
        if self.se is not None:
            y = self.se(y)
        return F.relu(y + (x if self.down is None else self.down(x)))


class SE(nn.Module):
    """Squeeze-excitation as in SE-ResNeXt: global pool, 1x1 (bias) ReLU, 1x1 (bias) sigmoid, scale."""

    def __init__(self, c, s):
        super().__init__()
        self.fc1 = nn.Conv2d(c, s, 1)
        self.fc2 = nn.Conv2d(s, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class BottleneckNet(nn.Module):
    def __init__(self, layers, num_classes=1000, **block):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        blocks, c = [], 64
        for i, n in enumerate(layers):
            planes = 64 << i
            for j in range(n):
                blocks.append(WideBottleneck(c, planes, 2 if (j == 0 and i > 0) else 1, **block))
                c = planes * 4
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def wide_resnet50_2():
    return BottleneckNet([3, 4, 6, 3], width_mult=2)


def seresnext26_32x4d():
    return BottleneckNet([2, 2, 2, 2], width_mult=1, groups=32, base=4, se=True)


# ----------------------------------------------------------------------------------------- HRNet-lite
class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = cbr(c, c, 3)
        self.c2 = cbr(c, c, 3, act=False)

    def forward(self, x):
        return F.relu(x + self.c2(self.c1(x)))


class Fuse(nn.Module):
    """HRNet exchange: output j = ReLU(sum over i of branch i brought to j's resolution and width):
    i > j (lower res): 1x1 conv + BN + upsample (x2^(i-j)); i < j: chain of 3x3 stride-2 conv + BN
    (ReLU between, not after the last); i == j: identity."""

    def __init__(self, chans, up_mode="nearest"):
        super().__init__()
        self.up_mode = up_mode
        n = len(chans)
        self.ops = nn.ModuleList()
        for j in range(n):
            row = nn.ModuleList()
            for i in range(n):
                if i == j:
                    row.append(nn.Identity())
                elif i > j:
                    row.append(cbr(chans[i], chans[j], 1, act=False))
                else:
                    steps = []
                    for k in range(j - i):
                        last = k == j - i - 1
                        steps.append(cbr(chans[i], chans[j] if last else chans[i], 3, 2, act=not last))
                    row.append(nn.Sequential(*steps))
            self.ops.append(row)

    def forward(self, xs):
        outs = []
        for j, row in enumerate(self.ops):
            acc = None
            for i, op in enumerate(row):
                y = op(xs[i])
                if i > j:
                    kw = {} if self.up_mode == "nearest" else {"align_corners": False}
                    y = F.interpolate(y, scale_factor=float(2 ** (i - j)), mode=self.up_mode, **kw)
                acc = y if acc is None else acc + y
            outs.append(F.relu(acc))
        return outs


class HRStage(nn.Module):
    def __init__(self, chans, blocks=2, up_mode="nearest"):
        super().__init__()
        self.branches = nn.ModuleList([nn.Sequential(*[Basic(c) for _ in range(blocks)]) for c in chans])
        self.fuse = Fuse(chans, up_mode)

    def forward(self, xs):
        return self.fuse([b(x) for b, x in zip(self.branches, xs)])


class HRNetLite(nn.Module):
    """Stem to stride 4 (two 3x3/2), stage 1 (2 basic blocks at 32), transition to 2 branches (32 @ /4,
    64 @ /8), stage 2 (nearest-upsample fuse), transition to 3 branches (+128 @ /16), two stage-3
    modules (bilinear-upsample fuse in the second), head: all branches bilinear-upsampled to /4,
    concat, 1x1 + BN + ReLU, 1x1 to 17 heatmaps (output 1x17x64x64 for 256x256)."""

    def __init__(self, c=(32, 64, 128), out=17):
        super().__init__()
        self.stem = nn.Sequential(cbr(3, 64, 3, 2), cbr(64, 64, 3, 2))
        self.stage1 = nn.Sequential(cbr(64, c[0], 1), Basic(c[0]), Basic(c[0]))
        self.t1 = cbr(c[0], c[1], 3, 2)
        self.stage2 = HRStage(c[:2])
        self.t2 = cbr(c[1], c[2], 3, 2)
        self.stage3a = HRStage(c, up_mode="nearest")
        self.stage3b = HRStage(c, up_mode="bilinear")
        self.head = nn.Sequential(cbr(sum(c), 64, 1), nn.Conv2d(64, out, 1))

    def forward(self, x):
        x0 = self.stage1(self.stem(x))
        xs = self.stage2([x0, self.t1(x0)])
        xs = self.stage3b(self.stage3a(xs + [self.t2(xs[1])]))
        size = xs[0].shape[-2:]
        ups = [xs[0]] + [F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in xs[1:]]
        return self.head(torch.cat(ups, 1))


# --------------------------------------------------------------------------------- MobileNetV2 x1.4
class MobileNetV2W(nn.Module):
    def __init__(self, width=1.4, num_classes=1000):
        super().__init__()
        cin = _make_divisible(32 * width)
        feats = [_conv_bn_act(3, cin, 3, 2)]
        for t, c, n, s in zoo.MobileNetV2.SETTINGS:
            cout = _make_divisible(c * width)
            for i in range(n):
                feats.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        last = _make_divisible(1280 * max(1.0, width))
        feats.append(_conv_bn_act(cin, last, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------------------------- EfficientNet-B2
class EfficientNetB2(nn.Module):
    """B0's table (bench/zoo_extended.py) scaled as torchvision's efficientnet_b2: width 1.1 (channels
    rounded to multiples of 8), depth 1.2 (ceil), head 1408."""

    def __init__(self, width=1.1, depth=1.2, num_classes=1000):
        super().__init__()
        EfficientNetB0, MBConv = _zoo_extended()
        ch = lambda c: _make_divisible(c * width)  # noqa: E731
        stem = ch(32)
        layers = [_conv_bn_act(3, stem, 3, 2, act=nn.SiLU)]
        cin = stem
        for e, k, s, _, cout, n in EfficientNetB0.SETTINGS:
            cout = ch(cout)
            for i in range(int(math.ceil(n * depth))):
                layers.append(MBConv(cin, cout, k, s if i == 0 else 1, e))
                cin = cout
        head = 4 * ch(320)
        layers.append(_conv_bn_act(cin, head, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(head, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


HELDOUT2 = {
    "deeplabv3_os8": (DeepLabV3, (3, 256, 256), (3, 64, 64)),
    "xception_lite": (XceptionLite, (3, 224, 224), (3, 64, 64)),
    "vgg16_bn": (vgg16_bn, (3, 224, 224), (3, 32, 32)),
    "wide_resnet50_2": (wide_resnet50_2, (3, 224, 224), (3, 64, 64)),
    "seresnext26_32x4d": (seresnext26_32x4d, (3, 224, 224), (3, 64, 64)),
    "hrnet_lite": (HRNetLite, (3, 256, 256), (3, 64, 64)),
    "mobilenet_v2_1.4": (MobileNetV2W, (3, 224, 224), (3, 96, 96)),
    "efficientnet_b2": (EfficientNetB2, (3, 260, 260), (3, 96, 96)),
}
# too heavy for every test run (weights), their families tested elsewhere (module doc)
NOT_IN_TESTS = ("vgg16_bn", "wide_resnet50_2")
