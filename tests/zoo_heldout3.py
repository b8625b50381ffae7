"""A third held-out set (session 23): plain-PyTorch definitions of published BatchNorm CNN architectures
none of fastnorm was tuned on (random init, no torchvision/timm), written by a helper session probing
for failures: ConvMixer, MixNet-S, ConvNeXt-V2 (GRN), RepVGG-A0 / MobileOne-S0 / DBB-ResNet-18 in their
train-time multi-branch forms, ResNeSt-14, eSE-VoVNet-19, ReXNet (timm's in-place slice add and a concat
form), PP-LCNet, MobileNetV4-conv-small, ResNet-50-D, TResNet-M, DLA-34, LeViT-128S and EfficientFormer-L1
(attention: matmul of two activations), CBAM, coordinate attention, ENet, Fast-SCNN, HarDNet-68,
CSPDarknet-53 (Mish), MobileFaceNet (PReLU). tests/test_zoo_heldout3.py runs those that load.

build(name) -> (model in eval mode with realistic, randomized BatchNorm statistics, input shape).
The BN statistics are calibrated on noise (train-mode forward, cumulative average) so activations stay
O(1) through deep nets, then perturbed, and the affine params randomized, so BN folding is exercised.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def cbn(cin, cout, k=3, s=1, g=1, act=nn.ReLU, p=None, bias=False, d=1):
    pad = (k // 2) * d if p is None else p
    layers = [nn.Conv2d(cin, cout, k, s, pad, dilation=d, groups=g, bias=bias), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def make_div(v, d=8, min_value=None):
    min_value = min_value or d
    new_v = max(min_value, int(v + d / 2) // d * d)
    if new_v < 0.9 * v:
        new_v += d
    return new_v


# ---------------------------------------------------------------- ConvMixer-256/8 (k=9, p=7)
class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def convmixer(dim=256, depth=8, kernel_size=9, patch_size=7, n_classes=1000):
    return nn.Sequential(
        nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size), nn.GELU(), nn.BatchNorm2d(dim),
        *[nn.Sequential(
            Residual(nn.Sequential(nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"),
                                   nn.GELU(), nn.BatchNorm2d(dim))),
            nn.Conv2d(dim, dim, kernel_size=1), nn.GELU(), nn.BatchNorm2d(dim)) for _ in range(depth)],
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(dim, n_classes))


# ---------------------------------------------------------------- MixNet-S
class MixedConv(nn.Module):
    """Split channels into len(ks) groups, each its own (depthwise or 1x1) conv, concat."""

    def __init__(self, cin, cout, ks, stride=1, dw=True):
        super().__init__()
        n = len(ks)
        def split(c):
            s = [c // n] * n
            s[0] += c - sum(s)
            return s
        self.in_s, out_s = split(cin), split(cout)
        self.convs = nn.ModuleList(
            nn.Conv2d(i, o, k, stride, k // 2, groups=i if dw else 1, bias=False)
            for i, o, k in zip(self.in_s, out_s, ks))

    def forward(self, x):
        if len(self.convs) == 1:
            return self.convs[0](x)
        xs = torch.split(x, self.in_s, 1)
        return torch.cat([c(xi) for c, xi in zip(self.convs, xs)], 1)


class SE(nn.Module):
    def __init__(self, c, rd, act=nn.ReLU, gate=nn.Sigmoid, bn=False):
        super().__init__()
        self.fc1 = nn.Conv2d(c, rd, 1, bias=not bn)
        self.bn = nn.BatchNorm2d(rd) if bn else nn.Identity()
        self.act = act()
        self.fc2 = nn.Conv2d(rd, c, 1)
        self.gate = gate()

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.bn(self.fc1(s)))))


class MixBlock(nn.Module):
    def __init__(self, cin, cout, ks, s, e, se, act, a=1, p=1, ds=False):
        super().__init__()
        mid = cin * e
        self.has_res = s == 1 and cin == cout
        layers = []
        if not ds:
            layers += [MixedConv(cin, mid, [1] * a, dw=False), nn.BatchNorm2d(mid), act()]
        layers += [MixedConv(mid, mid, ks, s), nn.BatchNorm2d(mid), act()]
        if se:
            layers.append(SE(mid, max(1, int(cin * se)), act=act))
        layers += [MixedConv(mid, cout, [1] * p, dw=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        y = self.body(x)
        return y + x if self.has_res else y


def mixnet_s():
    R, S = nn.ReLU, nn.SiLU
    # (repeats, kernels, a, p, stride, expansion, cout, se, act)
    cfg = [(1, [3], 1, 1, 1, 1, 16, 0, R, True),
           (1, [3], 2, 2, 2, 6, 24, 0, R, False), (1, [3], 2, 2, 1, 3, 24, 0, R, False),
           (1, [3, 5, 7], 1, 1, 2, 6, 40, 0.5, S, False), (3, [3, 5], 2, 2, 1, 6, 40, 0.5, S, False),
           (1, [3, 5, 7], 1, 2, 2, 6, 80, 0.25, S, False), (2, [3, 5], 1, 2, 1, 6, 80, 0.25, S, False),
           (1, [3, 5, 7], 2, 2, 1, 6, 120, 0.5, S, False), (2, [3, 5, 7, 9], 2, 2, 1, 3, 120, 0.5, S, False),
           (1, [3, 5, 7, 9, 11], 1, 1, 2, 6, 200, 0.5, S, False), (2, [3, 5, 7, 9], 1, 2, 1, 6, 200, 0.5, S, False)]
    layers = [cbn(3, 16, 3, 2)]
    c = 16
    for r, ks, a, p, s, e, co, se, act, ds in cfg:
        for i in range(r):
            layers.append(MixBlock(c, co, ks, s if i == 0 else 1, e, se, act, a, p, ds))
            c = co
    layers += [cbn(c, 1536, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1536, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- ConvNeXt-V2-atto (GRN)
class LayerNormCF(nn.Module):
    """ConvNeXt's channels-first LayerNorm, written out as in the reference code."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GRN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class CNV2Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtV2(nn.Module):
    def __init__(self, depths=(2, 2, 6, 2), dims=(40, 80, 160, 320)):
        super().__init__()
        self.ds = nn.ModuleList([nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNormCF(dims[0]))])
        for i in range(3):
            self.ds.append(nn.Sequential(LayerNormCF(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, 2)))
        self.stages = nn.ModuleList(nn.Sequential(*[CNV2Block(dims[i]) for _ in range(depths[i])]) for i in range(4))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], 1000)

    def forward(self, x):
        for d, s in zip(self.ds, self.stages):
            x = s(d(x))
        return self.head(self.norm(x.mean([-2, -1])))


# ---------------------------------------------------------------- RepVGG-A0 (train-time branches)
class RepVGGBlock(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.dense = cbn(cin, cout, 3, s, act=None)
        self.one = cbn(cin, cout, 1, s, act=None, p=0)
        self.idn = nn.BatchNorm2d(cin) if cin == cout and s == 1 else None

    def forward(self, x):
        y = self.dense(x) + self.one(x)
        if self.idn is not None:
            y = y + self.idn(x)
        return F.relu(y)


def repvgg_a0():
    widths = [48, 48, 96, 192, 1280]
    depths = [1, 2, 4, 14, 1]
    layers, c = [], 3
    for w, d in zip(widths, depths):
        for i in range(d):
            layers.append(RepVGGBlock(c, w, 2 if i == 0 else 1))
            c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- MobileOne-S0 (train-time, k=4 branches)
class MobileOneBlock(nn.Module):
    def __init__(self, cin, cout, k, s, g, nb=4):
        super().__init__()
        self.convs = nn.ModuleList(cbn(cin, cout, k, s, g, act=None) for _ in range(nb))
        self.scale = cbn(cin, cout, 1, s, g, act=None, p=0) if k > 1 else None
        self.skip = nn.BatchNorm2d(cin) if cin == cout and s == 1 else None

    def forward(self, x):
        y = self.scale(x) if self.scale is not None else 0
        if self.skip is not None:
            y = y + self.skip(x)
        for c in self.convs:
            y = y + c(x)
        return F.relu(y)


def mobileone_s0():
    layers = [MobileOneBlock(3, 48, 3, 2, 1, nb=1)]
    c = 48
    for w, d in [(48, 2), (128, 8), (256, 10), (1024, 1)]:
        for i in range(d):
            s = 2 if i == 0 else 1
            layers.append(MobileOneBlock(c, c, 3, s, c))
            layers.append(MobileOneBlock(c, w, 1, 1, 1))
            c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- ResNeSt-14 (2s1x64d)
class SplitAttn(nn.Module):
    def __init__(self, cin, cout, s=1, radix=2, card=1, rd_ratio=0.25):
        super().__init__()
        self.radix, self.card = radix, card
        mid = cout * radix
        attn = max(cin * radix // 4, 32)   # reduction 4, min 32 (as in the reference)
        self.conv = nn.Conv2d(cin, mid, 3, s, 1, groups=card * radix, bias=False)
        self.bn0 = nn.BatchNorm2d(mid)
        self.fc1 = nn.Conv2d(cout, attn, 1, groups=card)
        self.bn1 = nn.BatchNorm2d(attn)
        self.fc2 = nn.Conv2d(attn, mid, 1, groups=card)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv(x)))
        B, RC, H, W = x.shape
        xs = x.reshape(B, self.radix, RC // self.radix, H, W)
        gap = xs.sum(1).mean((2, 3), keepdim=True)
        a = self.fc2(F.relu(self.bn1(self.fc1(gap))))
        a = a.view(B, self.card, self.radix, -1).transpose(1, 2)
        a = F.softmax(a, dim=1).reshape(B, -1, 1, 1)
        out = xs * a.reshape(B, self.radix, RC // self.radix, 1, 1)
        return out.sum(1)


class ResNeStBottleneck(nn.Module):
    def __init__(self, cin, planes, s, down):
        super().__init__()
        w = planes
        self.conv1 = cbn(cin, w, 1)
        self.conv2 = SplitAttn(w, w, 1)
        self.avd = nn.AvgPool2d(3, s, 1) if s > 1 else nn.Identity()
        self.conv3 = cbn(w, planes * 4, 1, act=None)
        self.down = nn.Sequential(
            nn.AvgPool2d(s, s, ceil_mode=True, count_include_pad=False) if s > 1 else nn.Identity(),
            cbn(cin, planes * 4, 1, act=None)) if down else None

    def forward(self, x):
        y = self.conv3(self.avd(self.conv2(self.conv1(x))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


def resnest14():
    layers = [cbn(3, 32, 3, 2), cbn(32, 32, 3), cbn(32, 64, 3), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i, planes in enumerate([64, 128, 256, 512]):
        layers.append(ResNeStBottleneck(c, planes, 1 if i == 0 else 2, True))
        c = planes * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- eSE-VoVNet-19b-dw (OSA)
class OSA(nn.Module):
    def __init__(self, cin, mid, cout, n=3, residual=True):
        super().__init__()
        self.reduce = cbn(cin, mid, 1) if cin != mid else None
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(mid, mid, 3, 1, 1, groups=mid, bias=False), cbn(mid, mid, 1)) for _ in range(n))
        self.concat = cbn(cin + n * mid, cout, 1)
        self.ese = nn.Conv2d(cout, cout, 1)
        self.residual = residual and cin == cout

    def forward(self, x):
        outs = [x]
        y = self.reduce(x) if self.reduce is not None else x
        for l in self.layers:
            y = l(y)
            outs.append(y)
        y = self.concat(torch.cat(outs, 1))
        y = y * F.hardsigmoid(self.ese(y.mean((2, 3), keepdim=True)))
        return y + x if self.residual else y


def vovnet19_dw():
    layers = [cbn(3, 64, 3, 2), nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1, groups=64, bias=False), cbn(64, 64, 1)),
              nn.Sequential(nn.Conv2d(64, 64, 3, 2, 1, groups=64, bias=False), cbn(64, 64, 1))]
    c = 64
    for i, (mid, out) in enumerate([(128, 256), (160, 512), (192, 768), (224, 1024)]):
        if i > 0:
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        layers.append(OSA(c, mid, out))
        c = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- ReXNet-1.0
class RexBlock(nn.Module):
    def __init__(self, cin, cout, s, e, se_ratio, inplace_shortcut=True):
        super().__init__()
        self.cin = cin
        self.use_sc = s == 1 and cin <= cout
        mid = cin * e if e != 1 else cin
        self.exp = cbn(cin, mid, 1, act=nn.SiLU) if e != 1 else nn.Identity()
        self.dw = cbn(mid, mid, 3, s, mid, act=None)
        self.se = SE(mid, make_div(mid * se_ratio, 1), bn=True) if se_ratio > 0 else nn.Identity()
        self.pwl = cbn(mid, cout, 1, act=None)
        self.inplace_shortcut = inplace_shortcut

    def forward(self, x):
        y = self.pwl(F.relu6(self.se(self.dw(self.exp(x)))))
        if self.use_sc:
            if self.inplace_shortcut:      # timm's form
                y[:, 0:self.cin] += x
            else:
                y = torch.cat([y[:, :self.cin] + x, y[:, self.cin:]], 1)
        return y


def rexnet_100(inplace_shortcut=True):
    layers_n = [1, 2, 2, 3, 3, 5]
    strides = sum([[s] + [1] * (n - 1) for s, n in zip([1, 2, 2, 2, 1, 2], layers_n)], [])
    exps = [1] * layers_n[0] + [6] * sum(layers_n[1:])
    depth = sum(layers_n) * 3
    base, outs = 16.0, []
    for _ in range(depth // 3):
        outs.append(int(round(base)))
        base += 180 / (depth // 3)
    ses = [0.0] * (layers_n[0] + layers_n[1]) + [1 / 12] * sum(layers_n[2:])
    layers = [cbn(3, 32, 3, 2, act=nn.SiLU)]
    c = 32
    for co, s, e, se in zip(outs, strides, exps, ses):
        layers.append(RexBlock(c, co, s, e, se, inplace_shortcut))
        c = co
    layers += [cbn(c, 1280, 1, act=nn.SiLU), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- PP-LCNet-1.0
class LCBlock(nn.Module):
    def __init__(self, cin, cout, k, s, se):
        super().__init__()
        self.dw = cbn(cin, cin, k, s, cin, act=nn.Hardswish)
        self.se = SE(cin, cin // 4, gate=nn.Hardsigmoid) if se else nn.Identity()
        self.pw = cbn(cin, cout, 1, act=nn.Hardswish)

    def forward(self, x):
        return self.pw(self.se(self.dw(x)))


def pplcnet_100():
    cfg = [[3, 16, 32, 1, False],
           [3, 32, 64, 2, False], [3, 64, 64, 1, False],
           [3, 64, 128, 2, False], [3, 128, 128, 1, False],
           [3, 128, 256, 2, False]] + [[5, 256, 256, 1, False]] * 5 + [[5, 256, 512, 2, True], [5, 512, 512, 1, True]]
    layers = [cbn(3, 16, 3, 2, act=nn.Hardswish)] + [LCBlock(ci, co, k, s, se) for k, ci, co, s, se in cfg]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(512, 1280, 1, bias=False), nn.Hardswish(), nn.Flatten(),
               nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- MobileNetV4-conv-small
class UIB(nn.Module):
    def __init__(self, cin, cout, start_k, mid_k, s, e):
        super().__init__()
        mid = make_div(cin * e, 8)
        self.start = cbn(cin, cin, start_k, s if not mid_k else 1, cin, act=None) if start_k else nn.Identity()
        self.expand = cbn(cin, mid, 1)
        self.mid = cbn(mid, mid, mid_k, s if not start_k else s, mid) if mid_k else nn.Identity()
        self.proj = cbn(mid, cout, 1, act=None)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        y = self.proj(self.mid(self.expand(self.start(x))))
        return y + x if self.res else y


def mobilenetv4_conv_small():
    layers = [cbn(3, 32, 3, 2), cbn(32, 32, 3, 2), cbn(32, 32, 1), cbn(32, 96, 3, 2), cbn(96, 64, 1)]
    cfg = [(64, 96, 5, 5, 2, 3.0), (96, 96, 0, 3, 1, 2.0), (96, 96, 0, 3, 1, 2.0), (96, 96, 0, 3, 1, 2.0),
           (96, 96, 0, 3, 1, 2.0), (96, 96, 3, 0, 1, 4.0),
           (96, 128, 3, 3, 2, 6.0), (128, 128, 5, 5, 1, 4.0), (128, 128, 0, 5, 1, 4.0), (128, 128, 0, 5, 1, 3.0),
           (128, 128, 0, 3, 1, 4.0), (128, 128, 0, 3, 1, 4.0)]
    layers += [UIB(*c) for c in cfg]
    layers += [cbn(128, 960, 1), nn.AdaptiveAvgPool2d(1), nn.Conv2d(960, 1280, 1, bias=False),
               nn.BatchNorm2d(1280), nn.ReLU(), nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- ResNet-50-D
class BottleneckD(nn.Module):
    def __init__(self, cin, planes, s):
        super().__init__()
        self.body = nn.Sequential(cbn(cin, planes, 1), cbn(planes, planes, 3, s), cbn(planes, planes * 4, 1, act=None))
        self.down = None
        if s != 1 or cin != planes * 4:
            self.down = nn.Sequential(
                nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) if s > 1 else nn.Identity(),
                cbn(cin, planes * 4, 1, act=None))

    def forward(self, x):
        return F.relu(self.body(x) + (self.down(x) if self.down is not None else x))


def resnet50d():
    layers = [cbn(3, 32, 3, 2), cbn(32, 32, 3), cbn(32, 64, 3), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i, (planes, n) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for j in range(n):
            layers.append(BottleneckD(c, planes, 2 if (j == 0 and i > 0) else 1))
            c = planes * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- LeViT-128S
class LinNorm(nn.Module):
    """Linear + BatchNorm1d over the flattened tokens (LeViT's Linear_BN)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.c = nn.Linear(cin, cout, bias=False)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x):
        x = self.c(x)
        return self.bn(x.flatten(0, 1)).reshape_as(x)


class LeViTAttn(nn.Module):
    def __init__(self, dim, key_dim, heads, attn_ratio, res, out_dim=None, stride=1):
        super().__init__()
        self.h, self.kd, self.d = heads, key_dim, int(attn_ratio * key_dim)
        self.stride, self.res = stride, res
        self.res_out = (res - 1) // stride + 1
        self.scale = key_dim ** -0.5
        out_dim = out_dim or dim
        if stride == 1:
            self.qkv = LinNorm(dim, heads * (2 * key_dim + self.d))
        else:
            self.kv = LinNorm(dim, heads * (key_dim + self.d))
            self.q = LinNorm(dim, heads * key_dim)
        self.proj = LinNorm(self.d * heads, out_dim)
        self.bias = nn.Parameter(torch.randn(heads, self.res_out ** 2, res * res) * 0.1)

    def forward(self, x):
        B, N, C = x.shape
        if self.stride == 1:
            q, k, v = self.qkv(x).view(B, N, self.h, -1).split([self.kd, self.kd, self.d], dim=3)
            q = q.permute(0, 2, 1, 3)
        else:
            k, v = self.kv(x).view(B, N, self.h, -1).split([self.kd, self.d], dim=3)
            xs = x.view(B, self.res, self.res, C)[:, ::self.stride, ::self.stride].reshape(B, -1, C)
            q = self.q(xs).view(B, self.res_out ** 2, self.h, self.kd).permute(0, 2, 1, 3)
        k, v = k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        a = (q @ k.transpose(-2, -1)) * self.scale + self.bias
        a = a.softmax(dim=-1)
        x = (a @ v).transpose(1, 2).reshape(B, -1, self.h * self.d)
        return self.proj(F.hardswish(x))


class LeViTMlp(nn.Module):
    def __init__(self, dim, hidden, out=None):
        super().__init__()
        self.l1, self.l2 = LinNorm(dim, hidden), LinNorm(hidden, out or dim)

    def forward(self, x):
        return self.l2(F.hardswish(self.l1(x)))


class Res(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return x + self.m(x)


class LeViT(nn.Module):
    def __init__(self, dims=(128, 256, 384), heads=(4, 6, 8), depths=(2, 3, 4), kd=16, img=224):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2, act=nn.Hardswish), cbn(16, 32, 3, 2, act=nn.Hardswish),
                                  cbn(32, 64, 3, 2, act=nn.Hardswish), cbn(64, dims[0], 3, 2, act=None))
        res = img // 16
        blocks = []
        for i, (d, h, n) in enumerate(zip(dims, heads, depths)):
            if i > 0:
                blocks.append(LeViTAttn(dims[i - 1], kd, dims[i - 1] // 16, 4, res, out_dim=d, stride=2))
                res = (res - 1) // 2 + 1
                blocks.append(Res(LeViTMlp(d, d * 2)))
            for _ in range(n):
                blocks.append(Res(LeViTAttn(d, kd, h, 2, res)))
                blocks.append(Res(LeViTMlp(d, d * 2)))
        self.blocks = nn.Sequential(*blocks)
        self.head_bn = nn.BatchNorm1d(dims[-1])
        self.head = nn.Linear(dims[-1], 1000)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.blocks(x).mean(1)
        return self.head(self.head_bn(x))


# ---------------------------------------------------------------- EfficientFormer-L1 (4D stages only + 1 3D block)
class Meta4D(nn.Module):
    def __init__(self, dim, mlp=4):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.fc1 = cbn(dim, dim * mlp, 1, act=nn.GELU, bias=True)
        self.fc2 = cbn(dim * mlp, dim, 1, act=None, bias=True)
        self.ls1 = nn.Parameter(torch.full((dim, 1, 1), 0.5))
        self.ls2 = nn.Parameter(torch.full((dim, 1, 1), 0.5))

    def forward(self, x):
        x = x + self.ls1 * (self.pool(x) - x)
        return x + self.ls2 * self.fc2(self.fc1(x))


class Meta3D(nn.Module):
    def __init__(self, dim, res, kd=32, heads=8, ar=4, mlp=4):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.h, self.kd, self.d = heads, kd, ar * kd
        self.qkv = nn.Linear(dim, heads * (2 * kd + self.d))
        self.proj = nn.Linear(heads * self.d, dim)
        self.bias = nn.Parameter(torch.randn(heads, res * res, res * res) * 0.1)
        self.fc1, self.fc2 = nn.Linear(dim, dim * mlp), nn.Linear(dim * mlp, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(self.n1(x)).reshape(B, N, self.h, -1).permute(0, 2, 1, 3).split([self.kd, self.kd, self.d], 3)
        a = ((q @ k.transpose(-2, -1)) * self.kd ** -0.5 + self.bias).softmax(-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(B, N, -1))
        return x + self.fc2(F.gelu(self.fc1(self.n2(x))))


class EfficientFormerL1(nn.Module):
    def __init__(self, dims=(48, 96, 224, 448), depths=(3, 2, 6, 4)):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, dims[0] // 2, 3, 2, bias=True), cbn(dims[0] // 2, dims[0], 3, 2, bias=True))
        stages = []
        for i, (d, n) in enumerate(zip(dims, depths)):
            if i > 0:
                stages.append(cbn(dims[i - 1], d, 3, 2, act=None, bias=True))
            nn4d = n - 1 if i == 3 else n
            stages += [Meta4D(d) for _ in range(nn4d)]
        self.stages = nn.Sequential(*stages)
        self.last = Meta3D(dims[-1], 7)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], 1000)

    def forward(self, x):
        x = self.stages(self.stem(x)).flatten(2).transpose(1, 2)
        x = self.norm(self.last(x))
        return self.head(x.mean(1))


# ---------------------------------------------------------------- TResNet-M-ish stem (space-to-depth + anti-alias)
class SpaceToDepth(nn.Module):
    def forward(self, x):
        N, C, H, W = x.size()
        x = x.view(N, C, H // 4, 4, W // 4, 4).permute(0, 3, 5, 1, 2, 4).contiguous()
        return x.view(N, C * 16, H // 4, W // 4)


class BlurPool(nn.Module):
    def __init__(self, c):
        super().__init__()
        f = torch.tensor([1.0, 2.0, 1.0])
        f = (f[:, None] * f[None, :]) / 16
        self.register_buffer("filt", f[None, None].repeat(c, 1, 1, 1))
        self.c = c

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), "reflect"), self.filt, stride=2, groups=self.c)


class TBasic(nn.Module):
    def __init__(self, cin, planes, s, se):
        super().__init__()
        la = lambda: nn.LeakyReLU(1e-2)
        if s == 2:
            self.c1 = nn.Sequential(cbn(cin, planes, 3, 1, act=la), BlurPool(planes))
        else:
            self.c1 = cbn(cin, planes, 3, 1, act=la)
        self.c2 = cbn(planes, planes, 3, act=None)
        self.se = SE(planes, max(planes // 4, 64)) if se else nn.Identity()
        self.down = None
        if s != 1 or cin != planes:
            self.down = nn.Sequential(nn.AvgPool2d(s, s, ceil_mode=True, count_include_pad=False) if s > 1 else nn.Identity(),
                                      cbn(cin, planes, 1, act=None))

    def forward(self, x):
        y = self.se(self.c2(self.c1(x)))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class TBottle(nn.Module):
    def __init__(self, cin, planes, s, se):
        super().__init__()
        la = lambda: nn.LeakyReLU(1e-2)
        self.c1 = cbn(cin, planes, 1, act=la)
        self.c2 = nn.Sequential(cbn(planes, planes, 3, 1, act=la), BlurPool(planes)) if s == 2 else cbn(planes, planes, 3, act=la)
        self.se = SE(planes, max(planes * 4 // 8, 64)) if se else nn.Identity()
        self.c3 = cbn(planes, planes * 4, 1, act=None)
        self.down = None
        if s != 1 or cin != planes * 4:
            self.down = nn.Sequential(nn.AvgPool2d(s, s, ceil_mode=True, count_include_pad=False) if s > 1 else nn.Identity(),
                                      cbn(cin, planes * 4, 1, act=None))

    def forward(self, x):
        y = self.c3(self.se(self.c2(self.c1(x))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


def tresnet_m():
    layers = [SpaceToDepth(), cbn(48, 64, 3, act=lambda: nn.LeakyReLU(1e-2))]
    c = 64
    for i, (planes, n, blk, se) in enumerate([(64, 3, TBasic, True), (128, 4, TBasic, True),
                                              (256, 11, TBottle, True), (512, 3, TBottle, False)]):
        for j in range(n):
            layers.append(blk(c, planes, 2 if (j == 0 and i > 0) else 1, se))
            c = planes * (4 if blk is TBottle else 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- DLA-34 (iterative/hierarchical aggregation)
class DLABasic(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        self.c1 = cbn(cin, cout, 3, s)
        self.c2 = cbn(cout, cout, 3, act=None)

    def forward(self, x, residual=None):
        residual = x if residual is None else residual
        return F.relu(self.c2(self.c1(x)) + residual)


class DLARoot(nn.Module):
    def __init__(self, cin, cout, residual):
        super().__init__()
        self.conv = cbn(cin, cout, 1, act=None)
        self.residual = residual

    def forward(self, *xs):
        y = self.conv(torch.cat(xs, 1))
        if self.residual:
            y = y + xs[0]
        return F.relu(y)


class DLATree(nn.Module):
    def __init__(self, levels, cin, cout, s=1, level_root=False, root_dim=0, root_residual=False):
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * cout
        if level_root:
            root_dim += cin
        if levels == 1:
            self.t1, self.t2 = DLABasic(cin, cout, s), DLABasic(cout, cout, 1)
            self.root = DLARoot(root_dim, cout, root_residual)
        else:
            self.t1 = DLATree(levels - 1, cin, cout, s, root_dim=0, root_residual=root_residual)
            self.t2 = DLATree(levels - 1, cout, cout, root_dim=root_dim + cout, root_residual=root_residual)
            self.root = None
        self.level_root, self.levels = level_root, levels
        self.down = nn.MaxPool2d(s, s) if s > 1 else None
        self.project = cbn(cin, cout, 1, act=None) if cin != cout else None

    def forward(self, x, residual=None, children=None):
        children = [] if children is None else children
        bottom = self.down(x) if self.down is not None else x
        residual = self.project(bottom) if self.project is not None else bottom
        if self.level_root:
            children.append(bottom)
        x1 = self.t1(x, residual)
        if self.levels == 1:
            x2 = self.t2(x1)
            return self.root(x2, x1, *children)
        children.append(x1)
        return self.t2(x1, children=children)


class DLA34(nn.Module):
    def __init__(self, levels=(1, 1, 1, 2, 2, 1), ch=(16, 32, 64, 128, 256, 512)):
        super().__init__()
        self.base = cbn(3, ch[0], 7)
        self.l0 = cbn(ch[0], ch[0], 3)
        self.l1 = cbn(ch[0], ch[1], 3, 2)
        self.l2 = DLATree(levels[2], ch[1], ch[2], 2, level_root=False)
        self.l3 = DLATree(levels[3], ch[2], ch[3], 2, level_root=True)
        self.l4 = DLATree(levels[4], ch[3], ch[4], 2, level_root=True)
        self.l5 = DLATree(levels[5], ch[4], ch[5], 2, level_root=True)
        self.head = nn.Linear(ch[5], 1000)

    def forward(self, x):
        x = self.l5(self.l4(self.l3(self.l2(self.l1(self.l0(self.base(x)))))))
        return self.head(x.mean((2, 3)))



# ================================================================ second batch
# ---------------------------------------------------------------- CBAM-ResNet-18
class CBAM(nn.Module):
    def __init__(self, c, r=16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(c, c // r, 1, bias=False), nn.ReLU(), nn.Conv2d(c // r, c, 1, bias=False))
        self.spatial = cbn(2, 1, 7, act=None)

    def forward(self, x):
        ca = torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1)))
        x = x * ca
        s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(s))


class BasicCBAM(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.body = nn.Sequential(cbn(cin, cout, 3, s), cbn(cout, cout, 3, act=None), CBAM(cout))
        self.down = cbn(cin, cout, 1, s, act=None) if s != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.body(x) + (self.down(x) if self.down is not None else x))


def cbam_resnet18():
    layers = [cbn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i, w in enumerate([64, 128, 256, 512]):
        for j in range(2):
            layers.append(BasicCBAM(c, w, 2 if (j == 0 and i > 0) else 1))
            c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- MobileNetV2 + Coordinate Attention
class CoordAtt(nn.Module):
    def __init__(self, c, r=32):
        super().__init__()
        mip = max(8, c // r)
        self.conv1 = cbn(c, mip, 1, act=nn.Hardswish)
        self.conv_h = nn.Conv2d(mip, c, 1)
        self.conv_w = nn.Conv2d(mip, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        x_h = F.adaptive_avg_pool2d(x, (None, 1))
        x_w = F.adaptive_avg_pool2d(x, (1, None)).permute(0, 1, 3, 2)
        y = self.conv1(torch.cat([x_h, x_w], 2))
        y_h, y_w = torch.split(y, [h, w], 2)
        return x * torch.sigmoid(self.conv_h(y_h)) * torch.sigmoid(self.conv_w(y_w.permute(0, 1, 3, 2)))


class IRCA(nn.Module):
    def __init__(self, cin, cout, s, e):
        super().__init__()
        mid = cin * e
        layers = [cbn(cin, mid, 1, act=nn.ReLU6)] if e != 1 else []
        layers += [cbn(mid, mid, 3, s, mid, act=nn.ReLU6), CoordAtt(mid), cbn(mid, cout, 1, act=None)]
        self.body = nn.Sequential(*layers)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.res else self.body(x)


def ca_mobilenetv2():
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    layers, c = [cbn(3, 32, 3, 2, act=nn.ReLU6)], 32
    for t, co, n, s in cfg:
        for i in range(n):
            layers.append(IRCA(c, co, s if i == 0 else 1, t))
            c = co
    return nn.Sequential(*layers, cbn(c, 1280, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(1280, 1000))


# ---------------------------------------------------------------- ENet (max-pool indices + max-unpool)
class ENetInitial(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 13, 3, 2, 1, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.PReLU(16)

    def forward(self, x):
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class ENetBottleneck(nn.Module):
    def __init__(self, c, kind="regular", dilation=1, asym=False, cout=None, p=0.1):
        super().__init__()
        self.kind = kind
        cout = cout or c
        internal = c // 4
        if kind == "down":
            self.pool = nn.MaxPool2d(2, 2, return_indices=True)
            self.c1 = nn.Sequential(nn.Conv2d(c, internal, 2, 2, bias=False), nn.BatchNorm2d(internal), nn.PReLU(internal))
            self.pad = cout - c
        elif kind == "up":
            self.main = nn.Sequential(nn.Conv2d(c, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.unpool = nn.MaxUnpool2d(2)
            self.c1 = nn.Sequential(nn.Conv2d(c, internal, 1, bias=False), nn.BatchNorm2d(internal), nn.PReLU(internal))
        else:
            self.c1 = nn.Sequential(nn.Conv2d(c, internal, 1, bias=False), nn.BatchNorm2d(internal), nn.PReLU(internal))
        if kind == "up":
            c2 = nn.ConvTranspose2d(internal, internal, 3, 2, 1, output_padding=1, bias=False)
        elif asym:
            c2 = nn.Sequential(nn.Conv2d(internal, internal, (5, 1), padding=(2, 0), bias=False),
                               nn.Conv2d(internal, internal, (1, 5), padding=(0, 2), bias=False))
        else:
            c2 = nn.Conv2d(internal, internal, 3, padding=dilation, dilation=dilation, bias=False)
        self.c2 = nn.Sequential(c2, nn.BatchNorm2d(internal), nn.PReLU(internal))
        self.c3 = nn.Sequential(nn.Conv2d(internal, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.PReLU(cout))
        self.drop = nn.Dropout2d(p)
        self.out = nn.PReLU(cout)

    def forward(self, x, indices=None):
        ext = self.drop(self.c3(self.c2(self.c1(x))))
        if self.kind == "down":
            main, idx = self.pool(x)
            main = F.pad(main, (0, 0, 0, 0, 0, self.pad))
            return self.out(main + ext), idx
        if self.kind == "up":
            main = self.unpool(self.main(x), indices)
            return self.out(main + ext)
        return self.out(x + ext)


class ENet(nn.Module):
    def __init__(self, classes=19):
        super().__init__()
        B = ENetBottleneck
        self.init = ENetInitial()
        self.d1 = B(16, "down", cout=64, p=0.01)
        self.s1 = nn.Sequential(*[B(64, p=0.01) for _ in range(4)])
        self.d2 = B(64, "down", cout=128)
        cfg = [dict(), dict(dilation=2), dict(asym=True), dict(dilation=4), dict(), dict(dilation=8),
               dict(asym=True), dict(dilation=16)]
        self.s2 = nn.Sequential(*[B(128, **k) for k in cfg])
        self.s3 = nn.Sequential(*[B(128, **k) for k in cfg[1:]])
        self.u4 = B(128, "up", cout=64)
        self.s4 = nn.Sequential(B(64), B(64))
        self.u5 = B(64, "up", cout=16)
        self.s5 = B(16)
        self.full = nn.ConvTranspose2d(16, classes, 3, 2, 1, output_padding=1)

    def forward(self, x):
        x = self.init(x)
        x, i1 = self.d1(x)
        x = self.s1(x)
        x, i2 = self.d2(x)
        x = self.s3(self.s2(x))
        x = self.s4(self.u4(x, i2))
        x = self.s5(self.u5(x, i1))
        return self.full(x)


# ---------------------------------------------------------------- Fast-SCNN (PPM: adaptive pool 1,2,3,6 + bilinear)
class DSConv(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        self.b = nn.Sequential(cbn(cin, cin, 3, s, cin), cbn(cin, cout, 1))

    def forward(self, x):
        return self.b(x)


class LinBottle(nn.Module):
    def __init__(self, cin, cout, t=6, s=1):
        super().__init__()
        self.b = nn.Sequential(cbn(cin, cin * t, 1), cbn(cin * t, cin * t, 3, s, cin * t), cbn(cin * t, cout, 1, act=None))
        self.res = s == 1 and cin == cout

    def forward(self, x):
        return x + self.b(x) if self.res else self.b(x)


class PPM(nn.Module):
    def __init__(self, c, cout):
        super().__init__()
        self.convs = nn.ModuleList(cbn(c, c // 4, 1) for _ in range(4))
        self.out = cbn(c * 2, cout, 1)

    def forward(self, x):
        size = x.shape[2:]
        feats = [x] + [F.interpolate(conv(F.adaptive_avg_pool2d(x, s)), size, mode="bilinear", align_corners=True)
                       for s, conv in zip((1, 2, 3, 6), self.convs)]
        return self.out(torch.cat(feats, 1))


class FastSCNN(nn.Module):
    def __init__(self, classes=19):
        super().__init__()
        self.ltd = nn.Sequential(cbn(3, 32, 3, 2, p=0), DSConv(32, 48, 2), DSConv(48, 64, 2))
        gfe = []
        for cin, cout, n, s in [(64, 64, 3, 2), (64, 96, 3, 2), (96, 128, 3, 1)]:
            for i in range(n):
                gfe.append(LinBottle(cin if i == 0 else cout, cout, 6, s if i == 0 else 1))
        self.gfe = nn.Sequential(*gfe, PPM(128, 128))
        self.ffm_dw = cbn(128, 128, 3, 1, 128)
        self.ffm_low = cbn(128, 128, 1, act=None, bias=True)
        self.ffm_high = cbn(64, 128, 1, act=None, bias=True)
        self.cls = nn.Sequential(DSConv(128, 128), DSConv(128, 128), nn.Conv2d(128, classes, 1))

    def forward(self, x):
        size = x.shape[2:]
        hi = self.ltd(x)
        lo = self.gfe(hi)
        lo = F.interpolate(lo, scale_factor=4, mode="bilinear", align_corners=True)
        lo = self.ffm_low(self.ffm_dw(lo))
        y = F.relu(self.ffm_high(hi) + lo)
        return F.interpolate(self.cls(y), size, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------- HarDNet-68
def hard_links(layer, k, m, growth):
    if layer == 0:
        return 0, []
    out_ch = growth
    links = []
    for i in range(10):
        dv = 2 ** i
        if layer % dv == 0:
            links.append(layer - dv)
            if i > 0:
                out_ch *= m
    out_ch = int(int(out_ch + 1) / 2) * 2
    in_ch = 0
    for i in links:
        ch, _ = hard_links(i, k, m, growth)
        in_ch += ch if i > 0 else k
    return out_ch, links


class HarDBlock(nn.Module):
    def __init__(self, cin, growth, m, n):
        super().__init__()
        self.links, layers, self.out_ch = [], [], 0
        chs = [cin]
        for i in range(n):
            out, link = hard_links(i + 1, cin, m, growth)
            self.links.append(link)
            layers.append(cbn(sum(chs[j] for j in link), out, 3))
            chs.append(out)
            if i % 2 == 0 or i == n - 1:
                self.out_ch += out
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        layers = [x]
        for link, l in zip(self.links, self.layers):
            t = [layers[i] for i in link]
            layers.append(l(torch.cat(t, 1) if len(t) > 1 else t[0]))
        n = len(layers)
        return torch.cat([layers[i] for i in range(n) if i == n - 1 or i % 2 == 1], 1)


def hardnet68():
    first, ch_list, gr, n_layers, downs = [32, 64], [128, 256, 320, 640, 1024], [14, 16, 20, 40, 160], \
        [8, 16, 16, 16, 4], [1, 0, 1, 1, 0]
    m = 1.7
    layers = [cbn(3, 32, 3, 2), cbn(32, 64, 3), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i in range(5):
        blk = HarDBlock(c, gr[i], m, n_layers[i])
        layers += [blk, cbn(blk.out_ch, ch_list[i], 1)]
        c = ch_list[i]
        if downs[i]:
            layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- CSPDarknet-53 (Mish)
class DarkRes(nn.Module):
    def __init__(self, c, mid):
        super().__init__()
        self.b = nn.Sequential(cbn(c, mid, 1, act=nn.Mish), cbn(mid, c, 3, act=nn.Mish))

    def forward(self, x):
        return x + self.b(x)


class CSPStage(nn.Module):
    def __init__(self, cin, cout, n, first=False):
        super().__init__()
        self.down = cbn(cin, cout, 3, 2, act=nn.Mish)
        h = cout if first else cout // 2
        self.split0 = cbn(cout, h, 1, act=nn.Mish)
        self.split1 = cbn(cout, h, 1, act=nn.Mish)
        self.blocks = nn.Sequential(*[DarkRes(h, cout // 2 if first else h) for _ in range(n)], cbn(h, h, 1, act=nn.Mish))
        self.concat = cbn(2 * h, cout, 1, act=nn.Mish)

    def forward(self, x):
        x = self.down(x)
        return self.concat(torch.cat([self.blocks(self.split1(x)), self.split0(x)], 1))


def cspdarknet53():
    layers = [cbn(3, 32, 3, act=nn.Mish)]
    c = 32
    for i, (co, n) in enumerate([(64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)]):
        layers.append(CSPStage(c, co, n, first=i == 0))
        c = co
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- DBB-ResNet-18 (Diverse Branch Block, train form)
class DBB(nn.Module):
    def __init__(self, cin, cout, k, s, act=True):
        super().__init__()
        self.origin = cbn(cin, cout, k, s, act=None)
        self.one = cbn(cin, cout, 1, s, act=None, p=0)
        self.avg = nn.Sequential(cbn(cin, cout, 1, act=None, p=0), nn.AvgPool2d(k, s, k // 2), nn.BatchNorm2d(cout))
        self.kxk = nn.Sequential(cbn(cin, cin, 1, act=None, p=0), cbn(cin, cout, k, s, act=None))
        self.act = act

    def forward(self, x):
        y = self.origin(x) + self.one(x) + self.avg(x) + self.kxk(x)
        return F.relu(y) if self.act else y


class BasicDBB(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.c1, self.c2 = DBB(cin, cout, 3, s), DBB(cout, cout, 3, 1, act=False)
        self.down = cbn(cin, cout, 1, s, act=None) if s != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.c2(self.c1(x)) + (self.down(x) if self.down is not None else x))


def dbb_resnet18():
    layers = [DBB(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i, w in enumerate([64, 128, 256, 512]):
        for j in range(2):
            layers.append(BasicDBB(c, w, 2 if (j == 0 and i > 0) else 1))
            c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000))


# ---------------------------------------------------------------- EfficientFormer-L1, 4D (pool-mixer) part only
class EfficientFormerL1_4D(EfficientFormerL1):
    def __init__(self):
        super().__init__()
        self.last = Meta4D(448)

    def forward(self, x):
        x = self.last(self.stages(self.stem(x))).flatten(2).transpose(1, 2)
        return self.head(self.norm(x).mean(1))


# ---------------------------------------------------------------- MobileFaceNet (PReLU, GDConv, BN1d embedding)
class MFBottle(nn.Module):
    def __init__(self, cin, cout, s, t):
        super().__init__()
        mid = cin * t
        self.b = nn.Sequential(cbn(cin, mid, 1, act=lambda: nn.PReLU(mid)), cbn(mid, mid, 3, s, mid, act=lambda: nn.PReLU(mid)),
                               cbn(mid, cout, 1, act=None))
        self.res = s == 1 and cin == cout

    def forward(self, x):
        return x + self.b(x) if self.res else self.b(x)


def mobilefacenet():
    layers = [cbn(3, 64, 3, 2, act=lambda: nn.PReLU(64)), cbn(64, 64, 3, 1, 64, act=lambda: nn.PReLU(64))]
    c = 64
    for t, co, n, s in [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]:
        for i in range(n):
            layers.append(MFBottle(c, co, s if i == 0 else 1, t))
            c = co
    layers += [cbn(128, 512, 1, act=lambda: nn.PReLU(512)), cbn(512, 512, 7, 1, 512, act=None, p=0),
               nn.Flatten(), nn.Linear(512, 128, bias=False), nn.BatchNorm1d(128)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- registry
MODELS = {
    "convmixer_256_8": (convmixer, (1, 3, 224, 224)),
    "mixnet_s": (mixnet_s, (1, 3, 224, 224)),
    "convnextv2_atto": (ConvNeXtV2, (1, 3, 224, 224)),
    "repvgg_a0_train": (repvgg_a0, (1, 3, 224, 224)),
    "mobileone_s0_train": (mobileone_s0, (1, 3, 224, 224)),
    "resnest14": (resnest14, (1, 3, 224, 224)),
    "ese_vovnet19b_dw": (vovnet19_dw, (1, 3, 224, 224)),
    "rexnet_100": (rexnet_100, (1, 3, 224, 224)),
    "rexnet_100_cat": (lambda: rexnet_100(False), (1, 3, 224, 224)),
    "pplcnet_100": (pplcnet_100, (1, 3, 224, 224)),
    "mobilenetv4_conv_small": (mobilenetv4_conv_small, (1, 3, 224, 224)),
    "resnet50d": (resnet50d, (1, 3, 224, 224)),
    "tresnet_m": (tresnet_m, (1, 3, 224, 224)),
    "dla34": (DLA34, (1, 3, 224, 224)),
    "levit_128s": (LeViT, (1, 3, 224, 224)),
    "efficientformer_l1": (EfficientFormerL1, (1, 3, 224, 224)),
    "cbam_resnet18": (cbam_resnet18, (1, 3, 224, 224)),
    "ca_mobilenetv2": (ca_mobilenetv2, (1, 3, 224, 224)),
    "enet": (ENet, (1, 3, 256, 512)),
    "fast_scnn": (FastSCNN, (1, 3, 384, 768)),
    "fast_scnn_256x512": (FastSCNN, (1, 3, 256, 512)),
    "hardnet68": (hardnet68, (1, 3, 224, 224)),
    "cspdarknet53": (cspdarknet53, (1, 3, 256, 256)),
    "dbb_resnet18": (dbb_resnet18, (1, 3, 224, 224)),
    "efficientformer_l1_4d": (EfficientFormerL1_4D, (1, 3, 224, 224)),
    "mobilefacenet": (mobilefacenet, (1, 3, 112, 112)),
}


def randomize(model, shape, seed=0):
    """Random affine params, BN stats calibrated on noise then perturbed; returns model.eval()."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, LayerNormCF)):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, GRN):
                m.gamma.copy_(0.3 * torch.randn(m.gamma.shape, generator=g))
                m.beta.copy_(0.1 * torch.randn(m.beta.shape, generator=g))
        calibrate_bns(model, bns, shape, g)
    return model.eval()


def calibrate_bns(model, bns, shape, g):
    """Random BN affine params; running statistics from two train-mode passes over noise (a cumulative
    average), then perturbed so that folding them is exercised (under torch.no_grad())."""
    for m in bns:
        m.weight.copy_(0.7 + 0.6 * torch.rand(m.weight.shape, generator=g))
        m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        m.reset_running_stats()
        m.momentum = None
    if bns:
        model.train()
        for i in range(2):
            model(torch.randn((4,) + tuple(shape[1:]), generator=g))
    for m in bns:
        m.running_var.mul_(0.8 + 0.45 * torch.rand(m.running_var.shape, generator=g))
        m.running_mean.add_(0.05 * torch.randn(m.running_mean.shape, generator=g) * m.running_var.sqrt())
        m.momentum = 0.1


def build(name, seed=0):
    fn, shape = MODELS[name]
    torch.manual_seed(seed)
    model = fn()
    return randomize(model, shape, seed), shape


# bench_models.ZOO's form, (constructor, full input (C, H, W), test input (C, H, W)), for the models that
# load with a dynamic batch: `python bench/adhoc/models_cputime.py --heldout3` times them (the in-place
# ReXNet, whose ONNX export fixes the batch, and the models torch's ONNX exporter refuses are left out)
_TEST_SHAPE = {"mobilefacenet": (3, 112, 112), "levit_128s": (3, 224, 224), "efficientformer_l1": (3, 224, 224)}
HELDOUT3 = {name: (fn, tuple(shape[1:]), _TEST_SHAPE.get(name, (3, 64, 64))) for name, (fn, shape) in MODELS.items()
            if name not in ("rexnet_100", "enet", "fast_scnn", "fast_scnn_256x512", "ca_mobilenetv2")}
