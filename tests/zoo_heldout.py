"""Held-out architectures: published CNNs that no kernel, threshold or fusion of fastnorm was tuned on,
in plain PyTorch (no torchvision / timm) at their published widths and depths, random weights. They
were first measured after the issue-14 work (session 16) and are kept apart from tests/zoo.py and
bench/zoo_extended.py so they stay a check, not a target: tests/test_zoo_heldout.py holds fastnorm to
PyTorch on each (from_torch and the ONNX route), bench/adhoc/models_cputime.py times them beside the
peers (python bench/adhoc/models_cputime.py --heldout).

What each adds that the tuned families lack: ShuffleNetV2's channel split and shuffle (5-D reshape and
transpose), ResNeXt's 32-group 3x3 convs and 2-8 MiB 1x1 layers, SqueezeNet's fire modules (no BN,
ceil-mode pools), GoogLeNet's four-branch modules with a 3x3/1 ceil-mode max pool, MnasNet's 5x5
inverted residuals, RegNetX's group-width-16 convs, EfficientNetV2's fused MBConv (a 3x3 expansion),
GhostNet's half-computed features (concatenate, then slice) and hard-sigmoid SE, YOLOv5n's SPPF and
PAN neck (nearest upsampling), ResNet-34, and a BN U-Net with bilinear upsampling at 256x256.

HELDOUT[name] = (constructor, canonical input shape (C, H, W), test input shape (C, H, W)).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cba(cin, cout, k, s=1, g=1, act=nn.ReLU, p=None, bias=False):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2 if p is None else p, groups=g, bias=bias), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# ShuffleNetV2 x1.0
def shuffle(x, g=2):
    n, c, h, w = x.shape
    return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        b = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(cba(cin, cin, 3, stride, g=cin, act=None), cba(cin, b, 1))
        else:
            self.branch1 = None
        c2 = cin if stride > 1 else b
        self.branch2 = nn.Sequential(cba(c2, b, 1), cba(b, b, 3, stride, g=b, act=None), cba(b, b, 1))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return shuffle(out)


class ShuffleNetV2(nn.Module):
    def __init__(self, widths=(24, 116, 232, 464, 1024), reps=(4, 8, 4)):
        super().__init__()
        self.conv1 = cba(3, widths[0], 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        layers, c = [], widths[0]
        for w, r in zip(widths[1:4], reps):
            for i in range(r):
                layers.append(ShuffleUnit(c, w, 2 if i == 0 else 1))
                c = w
        self.stages = nn.Sequential(*layers)
        self.conv5 = cba(c, widths[4], 1)
        self.fc = nn.Linear(widths[4], 1000)

    def forward(self, x):
        x = self.conv5(self.stages(self.pool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


# ResNeXt-50 32x4d
class XBottleneck(nn.Module):
    def __init__(self, cin, planes, stride, groups=32, base=4):
        super().__init__()
        w = int(planes * base / 64) * groups
        self.a = cba(cin, w, 1)
        self.b = cba(w, w, 3, stride, g=groups)
        self.c = cba(w, planes * 4, 1, act=None)
        self.down = cba(cin, planes * 4, 1, stride, act=None) if stride != 1 or cin != planes * 4 else None

    def forward(self, x):
        return F.relu(self.c(self.b(self.a(x))) + (x if self.down is None else self.down(x)))


class ResNeXt50(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(cba(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        layers, c = [], 64
        for planes, n, s in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                layers.append(XBottleneck(c, planes, s if i == 0 else 1))
                c = planes * 4
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


# SqueezeNet 1.1 (no BatchNorm, ceil-mode pooling)
class Fire(nn.Module):
    def __init__(self, cin, s, e1, e3):
        super().__init__()
        self.sq = nn.Conv2d(cin, s, 1)
        self.e1 = nn.Conv2d(s, e1, 1)
        self.e3 = nn.Conv2d(s, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.sq(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self):
        super().__init__()
        mp = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(), mp(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), mp(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), mp(), Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# GoogLeNet (BN variant, torchvision layout: 3x3 instead of 5x5 in the third branch)
class Inc(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.b1 = cba(cin, c1, 1)
        self.b2 = nn.Sequential(cba(cin, c3r, 1), cba(c3r, c3, 3))
        self.b3 = nn.Sequential(cba(cin, c5r, 1), cba(c5r, c5, 3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), cba(cin, pp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        mp = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        self.net = nn.Sequential(
            cba(3, 64, 7, 2), mp(), cba(64, 64, 1), cba(64, 192, 3), mp(),
            Inc(192, 64, 96, 128, 16, 32, 32), Inc(256, 128, 128, 192, 32, 96, 64), mp(),
            Inc(480, 192, 96, 208, 16, 48, 64), Inc(512, 160, 112, 224, 24, 64, 64),
            Inc(512, 128, 128, 256, 24, 64, 64), Inc(512, 112, 144, 288, 32, 64, 64),
            Inc(528, 256, 160, 320, 32, 128, 128), nn.MaxPool2d(2, 2, ceil_mode=True),
            Inc(832, 256, 160, 320, 32, 128, 128), Inc(832, 384, 192, 384, 48, 128, 128))
        self.fc = nn.Linear(1024, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.net(x), 1), 1))


# MnasNet 1.0
class InvRes(nn.Module):
    def __init__(self, cin, cout, k, s, e):
        super().__init__()
        h = cin * e
        self.res = cin == cout and s == 1
        self.layers = nn.Sequential(cba(cin, h, 1), cba(h, h, k, s, g=h), cba(h, cout, 1, act=None))

    def forward(self, x):
        y = self.layers(x)
        return y + x if self.res else y


class MnasNet(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [cba(3, 32, 3, 2), cba(32, 32, 3, 1, g=32), cba(32, 16, 1, act=None)]
        c = 16
        for cout, k, s, e, n in ((24, 3, 2, 3, 3), (40, 5, 2, 3, 3), (80, 5, 2, 6, 3), (96, 3, 1, 6, 2),
                                 (192, 5, 2, 6, 4), (320, 3, 1, 6, 1)):
            for i in range(n):
                layers.append(InvRes(c, cout, k, s if i == 0 else 1, e))
                c = cout
        layers.append(cba(c, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x):
        return self.fc(self.features(x).mean([2, 3]))


# RegNetX-400MF (group width 16, no SE)
class XBlock(nn.Module):
    def __init__(self, cin, cout, stride, g=16):
        super().__init__()
        self.a = cba(cin, cout, 1)
        self.b = cba(cout, cout, 3, stride, g=cout // g)
        self.c = cba(cout, cout, 1, act=None)
        self.proj = cba(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.c(self.b(self.a(x))) + (x if self.proj is None else self.proj(x)))


class RegNetX400MF(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [cba(3, 32, 3, 2)], 32
        for w, d in zip((32, 64, 160, 400), (1, 2, 7, 12)):
            for i in range(d):
                layers.append(XBlock(c, w, 2 if i == 0 else 1))
                c = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# EfficientNetV2-B0-sized (fused MBConv early, MBConv+SE later; SiLU)
class SE(nn.Module):
    def __init__(self, c, s):
        super().__init__()
        self.fc1 = nn.Conv2d(c, s, 1)
        self.fc2 = nn.Conv2d(s, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class FusedMB(nn.Module):
    def __init__(self, cin, cout, s, e):
        super().__init__()
        self.res = cin == cout and s == 1
        if e == 1:
            self.layers = cba(cin, cout, 3, s, act=nn.SiLU)
        else:
            self.layers = nn.Sequential(cba(cin, cin * e, 3, s, act=nn.SiLU), cba(cin * e, cout, 1, act=None))

    def forward(self, x):
        y = self.layers(x)
        return y + x if self.res else y


class MB(nn.Module):
    def __init__(self, cin, cout, s, e):
        super().__init__()
        h = cin * e
        self.res = cin == cout and s == 1
        self.layers = nn.Sequential(cba(cin, h, 1, act=nn.SiLU), cba(h, h, 3, s, g=h, act=nn.SiLU),
                                    SE(h, max(1, cin // 4)), cba(h, cout, 1, act=None))

    def forward(self, x):
        y = self.layers(x)
        return y + x if self.res else y


class EfficientNetV2B0(nn.Module):
    CFG = [(FusedMB, 1, 16, 1, 1), (FusedMB, 4, 32, 2, 2), (FusedMB, 4, 48, 2, 2), (MB, 4, 96, 2, 3),
           (MB, 6, 112, 1, 5), (MB, 6, 192, 2, 8)]

    def __init__(self):
        super().__init__()
        layers, c = [cba(3, 32, 3, 2, act=nn.SiLU)], 32
        for blk, e, cout, s, n in self.CFG:
            for i in range(n):
                layers.append(blk(c, cout, s if i == 0 else 1, e))
                c = cout
        layers.append(cba(c, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# GhostNet 1.0 (ghost modules: 1x1 primary + depthwise cheap op, concat, slice)
class Ghost(nn.Module):
    def __init__(self, cin, cout, relu=True):
        super().__init__()
        self.cout = cout
        init = (cout + 1) // 2
        act = nn.ReLU if relu else None
        self.primary = cba(cin, init, 1, act=act)
        self.cheap = cba(init, init, 3, g=init, act=act)

    def forward(self, x):
        a = self.primary(x)
        return torch.cat([a, self.cheap(a)], 1)[:, :self.cout]


class GhostSE(nn.Module):
    def __init__(self, c):
        super().__init__()
        r = ((c // 4) + 3) // 4 * 4
        self.fc1 = nn.Conv2d(c, r, 1)
        self.fc2 = nn.Conv2d(r, c, 1)

    def forward(self, x):
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class GhostBottleneck(nn.Module):
    def __init__(self, cin, mid, cout, k, s, se):
        super().__init__()
        self.g1 = Ghost(cin, mid)
        self.dw = cba(mid, mid, k, s, g=mid, act=None) if s > 1 else None
        self.se = GhostSE(mid) if se else None
        self.g2 = Ghost(mid, cout, relu=False)
        if cin == cout and s == 1:
            self.short = None
        else:
            self.short = nn.Sequential(cba(cin, cin, k, s, g=cin, act=None), cba(cin, cout, 1, act=None))

    def forward(self, x):
        y = self.g1(x)
        if self.dw is not None:
            y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.g2(y)
        return y + (x if self.short is None else self.short(x))


class GhostNet(nn.Module):
    CFG = [(3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 1, 2), (5, 120, 40, 1, 1),
           (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 1, 1),
           (3, 672, 112, 1, 1), (5, 672, 160, 1, 2), (5, 960, 160, 0, 1), (5, 960, 160, 1, 1),
           (5, 960, 160, 0, 1), (5, 960, 160, 1, 1)]

    def __init__(self):
        super().__init__()
        layers, c = [cba(3, 16, 3, 2)], 16
        for k, mid, cout, se, s in self.CFG:
            layers.append(GhostBottleneck(c, mid, cout, k, s, se))
            c = cout
        layers.append(cba(c, 960, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(960, 1280, 1)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu(self.head(F.adaptive_avg_pool2d(self.features(x), 1)))
        return self.fc(torch.flatten(x, 1))


# YOLOv5n-like backbone+neck (SiLU, SPPF, nearest upsample, concat)
class C3(nn.Module):
    def __init__(self, cin, cout, n=1, short=True):
        super().__init__()
        h = cout // 2
        self.cv1 = cba(cin, h, 1, act=nn.SiLU)
        self.cv2 = cba(cin, h, 1, act=nn.SiLU)
        self.cv3 = cba(2 * h, cout, 1, act=nn.SiLU)
        self.m = nn.ModuleList([nn.Sequential(cba(h, h, 1, act=nn.SiLU), cba(h, h, 3, act=nn.SiLU)) for _ in range(n)])
        self.short = short

    def forward(self, x):
        a = self.cv1(x)
        for m in self.m:
            a = a + m(a) if self.short else m(a)
        return self.cv3(torch.cat([a, self.cv2(x)], 1))


class SPPF(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.cv1 = cba(cin, cin // 2, 1, act=nn.SiLU)
        self.cv2 = cba(cin * 2, cout, 1, act=nn.SiLU)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        a = self.m(x)
        b = self.m(a)
        return self.cv2(torch.cat([x, a, b, self.m(b)], 1))


class YoloV5n(nn.Module):
    """YOLOv5n's layout: a CSP backbone (strides 2..32, widths 16..256) ending in SPPF, a PAN neck
    (nearest 2x upsampling, concatenations, stride-2 convs back down) and three 1x1 heads of 255
    channels, flattened and concatenated as the exported model's single output."""

    def __init__(self):
        super().__init__()
        s = nn.SiLU
        self.b0 = cba(3, 16, 6, 2, act=s, p=2)
        self.b1 = nn.Sequential(cba(16, 32, 3, 2, act=s), C3(32, 32, 1))
        self.b2 = nn.Sequential(cba(32, 64, 3, 2, act=s), C3(64, 64, 2))
        self.b3 = nn.Sequential(cba(64, 128, 3, 2, act=s), C3(128, 128, 3))
        self.b4 = nn.Sequential(cba(128, 256, 3, 2, act=s), C3(256, 256, 1), SPPF(256, 256))
        self.lat5 = cba(256, 128, 1, act=s)
        self.up4 = C3(256, 128, 1, short=False)
        self.lat4 = cba(128, 64, 1, act=s)
        self.out3 = C3(128, 64, 1, short=False)
        self.down3 = cba(64, 64, 3, 2, act=s)
        self.out4 = C3(128, 128, 1, short=False)
        self.down4 = cba(128, 128, 3, 2, act=s)
        self.out5 = C3(256, 256, 1, short=False)
        self.heads = nn.ModuleList([nn.Conv2d(c, 255, 1) for c in (64, 128, 256)])

    def forward(self, x):
        p3 = self.b2(self.b1(self.b0(x)))
        p4 = self.b3(p3)
        x5 = self.lat5(self.b4(p4))
        x4 = self.lat4(self.up4(torch.cat([F.interpolate(x5, scale_factor=2.0, mode="nearest"), p4], 1)))
        o3 = self.out3(torch.cat([F.interpolate(x4, scale_factor=2.0, mode="nearest"), p3], 1))
        o4 = self.out4(torch.cat([self.down3(o3), x4], 1))
        o5 = self.out5(torch.cat([self.down4(o4), x5], 1))
        return torch.cat([h(o).flatten(2) for h, o in zip(self.heads, (o3, o4, o5))], 2)


# ResNet-34
class Basic(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.a = cba(cin, cout, 3, s)
        self.b = cba(cout, cout, 3, act=None)
        self.d = cba(cin, cout, 1, s, act=None) if s != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + (x if self.d is None else self.d(x)))


class ResNet34(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [cba(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)], 64
        for w, n, s in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                layers.append(Basic(c, w, s if i == 0 else 1))
                c = w
        self.f = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.f(x), 1), 1))


# small UNet with BN, bilinear upsampling, 256x256 segmentation
class UNetSmall(nn.Module):
    def __init__(self, c=(16, 32, 64, 128)):
        super().__init__()
        dc = lambda a, b: nn.Sequential(cba(a, b, 3), cba(b, b, 3))  # noqa: E731
        self.d = nn.ModuleList([dc(3, c[0]), dc(c[0], c[1]), dc(c[1], c[2]), dc(c[2], c[3])])
        self.u = nn.ModuleList([dc(c[3] + c[2], c[2]), dc(c[2] + c[1], c[1]), dc(c[1] + c[0], c[0])])
        self.out = nn.Conv2d(c[0], 5, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.d):
            x = d(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for u, s in zip(self.u, skips[-2::-1]):
            x = u(torch.cat([F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False), s], 1))
        return self.out(x)


HELDOUT = {
    "shufflenet_v2": (ShuffleNetV2, (3, 224, 224), (3, 96, 96)),
    "resnext50": (ResNeXt50, (3, 224, 224), (3, 64, 64)),
    "squeezenet11": (SqueezeNet11, (3, 224, 224), (3, 96, 96)),
    "googlenet": (GoogLeNet, (3, 224, 224), (3, 96, 96)),
    "mnasnet": (MnasNet, (3, 224, 224), (3, 96, 96)),
    "regnetx_400mf": (RegNetX400MF, (3, 224, 224), (3, 96, 96)),
    "efficientnetv2_b0": (EfficientNetV2B0, (3, 224, 224), (3, 96, 96)),
    "ghostnet": (GhostNet, (3, 224, 224), (3, 96, 96)),
    "yolov5n": (YoloV5n, (3, 320, 320), (3, 128, 128)),
    "resnet34": (ResNet34, (3, 224, 224), (3, 64, 64)),
    "unet_small": (UNetSmall, (3, 256, 256), (3, 64, 64)),
}
