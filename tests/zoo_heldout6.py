"""A sixth held-out set (session 28): small plain-PyTorch definitions of published CNN architectures none of
fastnorm was tuned on (random init, no torchvision/timm), written by a helper session probing for
failures, chosen for glue the earlier sets lack: DarkNet-19 / YOLOv2 (reorg passthrough: space-to-depth by
view / permute / reshape), YOLOX-nano (Focus: strided slicing x[..., ::2, ::2] concatenated; depthwise
CSP; decoupled head, sigmoid on obj / cls, flatten + cat + permute), NAFNet-lite (SimpleGate by chunk,
hand-written LayerNorm2d by mean / pow over dim 1, simplified channel attention, learned beta / gamma
residual scales, PixelShuffle up and 2x2 strided conv down), U^2-Net-lite (RSU blocks, dilated convs,
ceil-mode max pool, F.interpolate(size=skip's size, bilinear), six side outputs), DDRNet-lite (bilateral
branches fused by strided conv and bilinear upsample, DAPPM with strided avg pools of kernel 5/9/17),
ResNet-lite with triplet attention (Z-pool: max and mean over dim 1 after permutes), a non-local block
(matmul + softmax over HW, max-pool subsampled phi / g), octave convolution (avg pool + nearest upsample
between high / low branches), CoordConv (linspace / arange coordinate channels expanded to the batch),
Inception-ResNet-v2-lite (1x7 / 7x1 convs, residuals scaled by 0.17 / 0.1 / 0.2, 3x3/2 valid pools),
ESPNetv2-lite (EESP: grouped 1x1, dilated depthwise branches, hierarchical feature fusion, channel
shuffle, strided EESP beside an avg pool, input reinforcement, PReLU), PeleeNet-lite (stem block, two-way
dense layers), RCAN-lite (residual channel attention, fixed MeanShift 1x1 convs, PixelShuffle), DnCNN
(residual denoiser), an AdaIN style net (the style statistics computed in forward from a fixed style
buffer through the same encoder; torch.var unbiased), MobileNeXt-lite (sandglass blocks), SSDLite
(per-level permute(0, 2, 3, 1).reshape(B, -1, k), cat on dim 1, softmax over classes), RetinaNet / FPN-lite
(nearest upsample to a size + add, P6 / P7 strided convs, GroupNorm head, three outputs), PIDNet-lite (P / I /
D branches, pixel-attention-guided fusion by a channel sum of products, boundary-attention-guided fusion
sigma(d) * p + (1 - sigma(d)) * i, two outputs), an EfficientDet BiFPN-lite (fast normalized fusion: relu'd
learned weights over their sum, indexed as scalars; ZeroPad + 3x3/2 max pool), CGNet-lite (context guided
blocks: dilated depthwise surround, global context by view (b, c) + linears, input injection), a GroupNorm net
with odd group counts and DropPath / Dropout2d in eval, and two activation mixes (Hardtanh, ReLU6,
Softplus, Mish, ELU, SELU, CELU, LogSigmoid; then Hardshrink, Softshrink, Tanhshrink, Threshold, RReLU in
eval). Past them: Involution (F.unfold) and CondConv (a per-sample conv by groups=B on a computed weight),
whose refusal the test file pins.

build(name) -> (model in eval mode with realistic randomized normalization statistics, input shape).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo_heldout3 import LayerNormCF, calibrate_bns, cbn


def cbl(cin, cout, k=3, s=1, slope=0.1):
    """Conv + BN + LeakyReLU (darknet's)."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(slope, inplace=True))


# ---------------------------------------------------------------- DarkNet-19 / YOLOv2 with reorg
def reorg(x, s=2):
    """YOLOv2's passthrough (space-to-depth) by view / permute, the order of ultralytics' yolov2 port."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // s, s, w // s, s).permute(0, 3, 5, 1, 2, 4).contiguous()
    return x.view(b, s * s * c, h // s, w // s)


class YOLOv2Lite(nn.Module):
    def __init__(self, na=5, nc=4):
        super().__init__()
        self.stage1 = nn.Sequential(cbl(3, 8), nn.MaxPool2d(2, 2), cbl(8, 16), nn.MaxPool2d(2, 2),
                                    cbl(16, 32), cbl(32, 16, 1), cbl(16, 32), nn.MaxPool2d(2, 2),
                                    cbl(32, 64), cbl(64, 32, 1), cbl(32, 64))
        self.stage2 = nn.Sequential(nn.MaxPool2d(2, 2), cbl(64, 128), cbl(128, 64, 1), cbl(64, 128),
                                    cbl(128, 128), cbl(128, 128))
        self.pass_conv = cbl(64, 16, 1)
        self.head = cbl(16 * 4 + 128, 128)
        self.pred = nn.Conv2d(128, na * (5 + nc), 1)
        self.na, self.no = na, 5 + nc

    def forward(self, x):
        c4 = self.stage1(x)
        c5 = self.stage2(c4)
        y = self.pred(self.head(torch.cat([reorg(self.pass_conv(c4)), c5], 1)))
        b, _, h, w = y.shape
        y = y.view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2)
        xy = torch.sigmoid(y[..., 0:2])
        wh = torch.exp(y[..., 2:4].clamp(max=4))
        obj = torch.sigmoid(y[..., 4:5])
        cls = torch.softmax(y[..., 5:], dim=-1)
        return torch.cat([xy, wh, obj, cls], -1)


# ---------------------------------------------------------------- YOLOX-nano (Focus, depthwise CSP, decoupled head)
class Focus(nn.Module):
    def __init__(self, cin, cout, k=3):
        super().__init__()
        self.conv = cbn(cin * 4, cout, k, act=nn.SiLU)

    def forward(self, x):
        tl = x[..., ::2, ::2]
        tr = x[..., ::2, 1::2]
        bl = x[..., 1::2, ::2]
        br = x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


def dwconv(cin, cout, k=3, s=1):
    return nn.Sequential(cbn(cin, cin, k, s, g=cin, act=nn.SiLU), cbn(cin, cout, 1, act=nn.SiLU))


class CSPLayerDW(nn.Module):
    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        h = cout // 2
        self.conv1 = cbn(cin, h, 1, act=nn.SiLU)
        self.conv2 = cbn(cin, h, 1, act=nn.SiLU)
        self.m = nn.ModuleList(nn.Sequential(cbn(h, h, 1, act=nn.SiLU), dwconv(h, h)) for _ in range(n))
        self.shortcut = shortcut
        self.conv3 = cbn(2 * h, cout, 1, act=nn.SiLU)

    def forward(self, x):
        a = self.conv1(x)
        for m in self.m:
            a = m(a) + a if self.shortcut else m(a)
        return self.conv3(torch.cat([a, self.conv2(x)], 1))


class SPPBottleneck(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = cbn(c, c // 2, 1, act=nn.SiLU)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))
        self.conv2 = cbn(c // 2 * 4, c, 1, act=nn.SiLU)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [p(x) for p in self.pools], 1))


class YOLOXNanoLite(nn.Module):
    def __init__(self, nc=3):
        super().__init__()
        self.stem = Focus(3, 16)
        self.dark2 = nn.Sequential(dwconv(16, 32, 3, 2), CSPLayerDW(32, 32))
        self.dark3 = nn.Sequential(dwconv(32, 48, 3, 2), CSPLayerDW(48, 48))
        self.dark4 = nn.Sequential(dwconv(48, 64, 3, 2), SPPBottleneck(64), CSPLayerDW(64, 64, shortcut=False))
        self.lat = cbn(64, 48, 1, act=nn.SiLU)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.c3_p3 = CSPLayerDW(96, 48, shortcut=False)
        self.stems = nn.ModuleList([cbn(48, 32, 1, act=nn.SiLU), cbn(64, 32, 1, act=nn.SiLU)])
        self.cls_convs = nn.ModuleList(nn.Sequential(dwconv(32, 32), dwconv(32, 32)) for _ in range(2))
        self.reg_convs = nn.ModuleList(nn.Sequential(dwconv(32, 32), dwconv(32, 32)) for _ in range(2))
        self.cls_preds = nn.ModuleList(nn.Conv2d(32, nc, 1) for _ in range(2))
        self.reg_preds = nn.ModuleList(nn.Conv2d(32, 4, 1) for _ in range(2))
        self.obj_preds = nn.ModuleList(nn.Conv2d(32, 1, 1) for _ in range(2))

    def forward(self, x):
        c3 = self.dark3(self.dark2(self.stem(x)))
        c4 = self.dark4(c3)
        p3 = self.c3_p3(torch.cat([self.up(self.lat(c4)), c3], 1))
        outs = []
        for i, f in enumerate((p3, c4)):
            f = self.stems[i](f)
            cf, rf = self.cls_convs[i](f), self.reg_convs[i](f)
            out = torch.cat([self.reg_preds[i](rf), self.obj_preds[i](rf).sigmoid(), self.cls_preds[i](cf).sigmoid()], 1)
            outs.append(out.flatten(start_dim=2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


# ---------------------------------------------------------------- NAFNet-lite
# NAFNet's channel LayerNorm (its custom autograd Function's forward) is ConvNeXt's, written out
LayerNorm2d = LayerNormCF


class SimpleGate(nn.Module):
    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class NAFBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        dw = 2 * c
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.conv2(self.conv1(self.norm1(inp)))
        x = self.sg(x)
        x = x * self.sca(x)
        y = inp + self.conv3(x) * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNetLite(nn.Module):
    def __init__(self, width=8, enc=(1, 1), mid=1, dec=(1, 1)):
        super().__init__()
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc:
            self.encoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle = nn.Sequential(*[NAFBlock(c) for _ in range(mid)])
        for n in dec:
            self.ups.append(nn.Sequential(nn.Conv2d(c, c * 2, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))

    def forward(self, inp):
        x = self.intro(inp)
        skips = []
        for e, d in zip(self.encoders, self.downs):
            x = e(x)
            skips.append(x)
            x = d(x)
        x = self.middle(x)
        for dec, up, s in zip(self.decoders, self.ups, skips[::-1]):
            x = dec(up(x) + s)
        return self.ending(x) + inp


# ---------------------------------------------------------------- U^2-Net-lite
class REBNCONV(nn.Module):
    def __init__(self, cin, cout, d=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=d, dilation=d)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _upsample_like(src, tar):
    return F.interpolate(src, size=tar.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """RSU-L: an encoder of `height` levels (ceil-mode 2x2 pools), a dilated bottom, a decoder upsampling
    to each skip's size."""

    def __init__(self, height, cin, mid, cout):
        super().__init__()
        self.height = height
        self.rebnconvin = REBNCONV(cin, cout)
        self.enc = nn.ModuleList([REBNCONV(cout, mid)] + [REBNCONV(mid, mid) for _ in range(height - 2)])
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.bottom = REBNCONV(mid, mid, d=2)
        self.dec = nn.ModuleList([REBNCONV(2 * mid, mid) for _ in range(height - 2)] + [REBNCONV(2 * mid, cout)])

    def forward(self, x):
        hxin = self.rebnconvin(x)
        hx, feats = hxin, []
        for i, e in enumerate(self.enc):
            hx = e(hx if i == 0 else self.pool(hx))
            feats.append(hx)
        hx = self.bottom(hx)
        for i, d in enumerate(self.dec):
            skip = feats[-1 - i]
            if i > 0:
                hx = _upsample_like(hx, skip)
            hx = d(torch.cat((hx, skip), 1))
        return hx + hxin


class RSU4F(nn.Module):
    """RSU-4F: dilations 1, 2, 4, 8 instead of pooling."""

    def __init__(self, cin, mid, cout):
        super().__init__()
        self.rebnconvin = REBNCONV(cin, cout)
        self.c1, self.c2, self.c3, self.c4 = REBNCONV(cout, mid), REBNCONV(mid, mid, 2), REBNCONV(mid, mid, 4), \
            REBNCONV(mid, mid, 8)
        self.c3d, self.c2d, self.c1d = REBNCONV(2 * mid, mid, 4), REBNCONV(2 * mid, mid, 2), REBNCONV(2 * mid, cout)

    def forward(self, x):
        hxin = self.rebnconvin(x)
        hx1 = self.c1(hxin)
        hx2 = self.c2(hx1)
        hx3 = self.c3(hx2)
        hx4 = self.c4(hx3)
        hx3d = self.c3d(torch.cat((hx4, hx3), 1))
        hx2d = self.c2d(torch.cat((hx3d, hx2), 1))
        return self.c1d(torch.cat((hx2d, hx1), 1)) + hxin


class U2NetLite(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = RSU(5, 3, 8, 16)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.stage2 = RSU(4, 16, 8, 16)
        self.stage3 = RSU(3, 16, 8, 16)
        self.stage4 = RSU4F(16, 8, 16)
        self.stage3d = RSU(3, 32, 8, 16)
        self.stage2d = RSU(4, 32, 8, 16)
        self.stage1d = RSU(5, 32, 8, 16)
        self.sides = nn.ModuleList(nn.Conv2d(16, 1, 3, padding=1) for _ in range(4))
        self.outconv = nn.Conv2d(4, 1, 1)

    def forward(self, x):
        hx1 = self.stage1(x)
        hx2 = self.stage2(self.pool(hx1))
        hx3 = self.stage3(self.pool(hx2))
        hx4 = self.stage4(self.pool(hx3))
        hx3d = self.stage3d(torch.cat((_upsample_like(hx4, hx3), hx3), 1))
        hx2d = self.stage2d(torch.cat((_upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.stage1d(torch.cat((_upsample_like(hx2d, hx1), hx1), 1))
        ds = [self.sides[0](hx1d)] + [_upsample_like(s(h), hx1d) for s, h in zip(self.sides[1:], (hx2d, hx3d, hx4))]
        d0 = self.outconv(torch.cat(ds, 1))
        return tuple(torch.sigmoid(d) for d in [d0] + ds)


# ---------------------------------------------------------------- DDRNet-lite (bilateral, DAPPM)
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, s=1, no_relu=False):
        super().__init__()
        self.c1 = cbn(cin, cout, 3, s)
        self.c2 = cbn(cout, cout, 3, act=None)
        self.down = cbn(cin, cout, 1, s, act=None) if (s != 1 or cin != cout) else None
        self.no_relu = no_relu

    def forward(self, x):
        out = self.c2(self.c1(x)) + (x if self.down is None else self.down(x))
        return out if self.no_relu else F.relu(out)


class DAPPM(nn.Module):
    def __init__(self, cin, mid, cout):
        super().__init__()
        def bnrc(k, c_in, c_out, pool=None):
            layers = ([pool] if pool is not None else []) + [nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)]
            return nn.Sequential(*layers)
        self.scale0 = bnrc(1, cin, mid)
        self.scale1 = bnrc(1, cin, mid, nn.AvgPool2d(5, 2, 2))
        self.scale2 = bnrc(1, cin, mid, nn.AvgPool2d(9, 4, 4))
        self.scale3 = bnrc(1, cin, mid, nn.AvgPool2d(17, 8, 8))
        self.scale4 = bnrc(1, cin, mid, nn.AdaptiveAvgPool2d((1, 1)))
        self.process = nn.ModuleList(bnrc(3, mid, mid) for _ in range(4))
        self.compression = bnrc(1, mid * 5, cout)
        self.shortcut = bnrc(1, cin, cout)

    def forward(self, x):
        h, w = x.shape[-2:]
        xs = [self.scale0(x)]
        for scale, proc in zip((self.scale1, self.scale2, self.scale3, self.scale4), self.process):
            xs.append(proc(F.interpolate(scale(x), size=[h, w], mode="bilinear") + xs[-1]))
        return self.compression(torch.cat(xs, 1)) + self.shortcut(x)


class DDRNetLite(nn.Module):
    def __init__(self, c=16, nc=5):
        super().__init__()
        self.conv1 = nn.Sequential(cbn(3, c, 3, 2), cbn(c, c, 3, 2))
        self.layer1 = BasicBlock(c, c)
        self.layer2 = BasicBlock(c, 2 * c, 2)
        self.layer3 = BasicBlock(2 * c, 4 * c, 2)
        self.layer3_ = BasicBlock(2 * c, 2 * c)
        self.layer4 = BasicBlock(4 * c, 8 * c, 2)
        self.layer4_ = BasicBlock(2 * c, 2 * c)
        self.compression3 = cbn(4 * c, 2 * c, 1, act=None)
        self.compression4 = cbn(8 * c, 2 * c, 1, act=None)
        self.down3 = cbn(2 * c, 4 * c, 3, 2, act=None)
        self.down4 = nn.Sequential(cbn(2 * c, 4 * c, 3, 2), cbn(4 * c, 8 * c, 3, 2, act=None))
        self.layer5_ = BasicBlock(2 * c, 4 * c, no_relu=True)
        self.layer5 = BasicBlock(8 * c, 16 * c, 2, no_relu=True)
        self.spp = DAPPM(16 * c, c, 4 * c)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU(), nn.Conv2d(4 * c, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, nc, 1))

    def forward(self, x):
        h, w = x.shape[-2] // 8, x.shape[-1] // 8
        x = self.layer2(F.relu(self.layer1(self.conv1(x))))
        xl = self.layer3(F.relu(x))
        xh = self.layer3_(F.relu(x))
        xl = xl + self.down3(F.relu(xh))
        xh = xh + F.interpolate(self.compression3(F.relu(xl)), size=[h, w], mode="bilinear")
        xl = self.layer4(F.relu(xl))
        xh = self.layer4_(F.relu(xh))
        xl = xl + self.down4(F.relu(xh))
        xh = xh + F.interpolate(self.compression4(F.relu(xl)), size=[h, w], mode="bilinear")
        xh = self.layer5_(F.relu(xh))
        xl = F.interpolate(self.spp(self.layer5(F.relu(xl))), size=[h, w], mode="bilinear")
        return self.head(xl + xh)


# ---------------------------------------------------------------- ResNet-lite with triplet attention
class ZPool(nn.Module):
    def forward(self, x):
        return torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)


class AttentionGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.compress = ZPool()
        self.conv = cbn(2, 1, 7, act=None)

    def forward(self, x):
        return x * torch.sigmoid(self.conv(self.compress(x)))


class TripletAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.cw, self.hc, self.hw = AttentionGate(), AttentionGate(), AttentionGate()

    def forward(self, x):
        o11 = self.cw(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3).contiguous()
        o21 = self.hc(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1).contiguous()
        return 1 / 3 * (self.hw(x) + o11 + o21)


class TripletBlock(BasicBlock):
    def __init__(self, cin, cout, s=1):
        super().__init__(cin, cout, s)
        self.ta = TripletAttention()

    def forward(self, x):
        return F.relu(self.ta(self.c2(self.c1(x))) + (x if self.down is None else self.down(x)))


class TripletResNetLite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(TripletBlock(16, 16), TripletBlock(16, 32, 2), TripletBlock(32, 48, 2))
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


# ---------------------------------------------------------------- non-local block (embedded Gaussian)
class NonLocal2d(nn.Module):
    def __init__(self, c, sub_sample=True):
        super().__init__()
        self.inter = c // 2
        self.g = nn.Conv2d(c, self.inter, 1)
        self.theta = nn.Conv2d(c, self.inter, 1)
        self.phi = nn.Conv2d(c, self.inter, 1)
        self.W = nn.Sequential(nn.Conv2d(self.inter, c, 1), nn.BatchNorm2d(c))
        if sub_sample:
            self.g = nn.Sequential(self.g, nn.MaxPool2d(2))
            self.phi = nn.Sequential(self.phi, nn.MaxPool2d(2))

    def forward(self, x):
        b = x.size(0)
        g_x = self.g(x).view(b, self.inter, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(b, self.inter, -1).permute(0, 2, 1)
        phi_x = self.phi(x).view(b, self.inter, -1)
        f = F.softmax(torch.matmul(theta_x, phi_x), dim=-1)
        y = torch.matmul(f, g_x).permute(0, 2, 1).contiguous()
        y = y.view(b, self.inter, *x.size()[2:])
        return self.W(y) + x


class NonLocalResNetLite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2)
        self.l1 = BasicBlock(16, 32, 2)
        self.nl1 = NonLocal2d(32)
        self.l2 = BasicBlock(32, 48, 2)
        self.nl2 = NonLocal2d(48, sub_sample=False)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = self.nl2(self.l2(self.nl1(self.l1(self.stem(x)))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- octave convolution
class OctConv(nn.Module):
    """Chen et al. 2019: (high, low) -> (high, low); high->low by 2x2 avg pool then conv, low->high by conv
    then nearest 2x upsample; alpha_in = 0 at the first layer, alpha_out = 0 at the last."""

    def __init__(self, cin, cout, k=3, a_in=0.5, a_out=0.5, stride=1):
        super().__init__()
        lin, lout = int(a_in * cin), int(a_out * cout)
        hin, hout = cin - lin, cout - lout
        p = k // 2
        self.stride = stride
        self.h2h = nn.Conv2d(hin, hout, k, 1, p, bias=False) if hout else None
        self.h2l = nn.Conv2d(hin, lout, k, 1, p, bias=False) if lout else None
        self.l2h = nn.Conv2d(lin, hout, k, 1, p, bias=False) if lin and hout else None
        self.l2l = nn.Conv2d(lin, lout, k, 1, p, bias=False) if lin and lout else None
        self.bn_h = nn.BatchNorm2d(hout) if hout else None
        self.bn_l = nn.BatchNorm2d(lout) if lout else None
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        xh, xl = x if isinstance(x, tuple) else (x, None)
        if self.stride == 2:
            xh = self.pool(xh)
            xl = self.pool(xl) if xl is not None else None
        yh = yl = None
        if self.h2h is not None:
            yh = self.h2h(xh)
            if self.l2h is not None:
                yh = yh + F.interpolate(self.l2h(xl), scale_factor=2, mode="nearest")
            yh = F.relu(self.bn_h(yh))
        if self.h2l is not None:
            yl = self.h2l(self.pool(xh))
            if self.l2l is not None:
                yl = yl + self.l2l(xl)
            yl = F.relu(self.bn_l(yl))
        return yh if yl is None else (yh, yl)


class OctResNetLite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2)
        self.o1 = OctConv(16, 32, a_in=0.0)
        self.o2 = OctConv(32, 32)
        self.o3 = OctConv(32, 64, stride=2)
        self.o4 = OctConv(64, 48, a_out=0.0)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        h, l = self.o1(self.stem(x))
        h2, l2 = self.o2((h, l))
        h, l = h + h2, l + l2
        y = self.o4(self.o3((h, l)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# ---------------------------------------------------------------- CoordConv
class AddCoords(nn.Module):
    def __init__(self, with_r=True):
        super().__init__()
        self.with_r = with_r

    def forward(self, x):
        b, _, h, w = x.shape
        xx = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        yy = (torch.arange(h, dtype=x.dtype, device=x.device) / (h - 1) * 2 - 1).view(1, 1, h, 1).expand(b, 1, h, w)
        out = [x, xx, yy]
        if self.with_r:
            out.append(torch.sqrt(xx * xx + yy * yy))
        return torch.cat(out, 1)


class CoordConv(nn.Module):
    def __init__(self, cin, cout, k=3, s=1):
        super().__init__()
        self.add = AddCoords()
        self.conv = cbn(cin + 3, cout, k, s)

    def forward(self, x):
        return self.conv(self.add(x))


class CoordConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = CoordConv(3, 16, 3, 2)
        self.c2 = CoordConv(16, 32, 3, 2)
        self.c3 = CoordConv(32, 32)
        self.out = nn.Conv2d(32, 2, 1)

    def forward(self, x):
        return self.out(self.c3(self.c2(self.c1(x))))


# ---------------------------------------------------------------- Inception-ResNet-v2-lite
def bc(cin, cout, k, s=1, p=0):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout, eps=0.001), nn.ReLU())


class Block35(nn.Module):
    def __init__(self, c, scale=0.17):
        super().__init__()
        self.scale = scale
        self.b0 = bc(c, 8, 1)
        self.b1 = nn.Sequential(bc(c, 8, 1), bc(8, 8, 3, p=1))
        self.b2 = nn.Sequential(bc(c, 8, 1), bc(8, 12, 3, p=1), bc(12, 16, 3, p=1))
        self.conv = nn.Conv2d(32, c, 1)

    def forward(self, x):
        out = self.conv(torch.cat((self.b0(x), self.b1(x), self.b2(x)), 1))
        return F.relu(out * self.scale + x)


class Block17(nn.Module):
    def __init__(self, c, scale=0.10):
        super().__init__()
        self.scale = scale
        self.b0 = bc(c, 24, 1)
        self.b1 = nn.Sequential(bc(c, 16, 1), bc(16, 20, (1, 7), p=(0, 3)), bc(20, 24, (7, 1), p=(3, 0)))
        self.conv = nn.Conv2d(48, c, 1)

    def forward(self, x):
        return F.relu(self.conv(torch.cat((self.b0(x), self.b1(x)), 1)) * self.scale + x)


class Block8(nn.Module):
    def __init__(self, c, scale=0.20, no_relu=False):
        super().__init__()
        self.scale, self.no_relu = scale, no_relu
        self.b0 = bc(c, 24, 1)
        self.b1 = nn.Sequential(bc(c, 24, 1), bc(24, 28, (1, 3), p=(0, 1)), bc(28, 32, (3, 1), p=(1, 0)))
        self.conv = nn.Conv2d(56, c, 1)

    def forward(self, x):
        out = self.scale * self.conv(torch.cat((self.b0(x), self.b1(x)), 1)) + x
        return out if self.no_relu else F.relu(out)


class InceptionResNetV2Lite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(bc(3, 16, 3, 2), bc(16, 16, 3), bc(16, 32, 3, p=1), nn.MaxPool2d(3, 2),
                                  bc(32, 40, 1), bc(40, 48, 3))
        self.repeat = nn.Sequential(Block35(48), Block35(48))
        self.red_a = nn.ModuleList([bc(48, 48, 3, 2), nn.Sequential(bc(48, 32, 1), bc(32, 32, 3, p=1), bc(32, 48, 3, 2)),
                                    nn.MaxPool2d(3, 2)])
        self.repeat1 = nn.Sequential(Block17(144), Block17(144))
        self.red_b = nn.ModuleList([nn.Sequential(bc(144, 32, 1), bc(32, 48, 3, 2)),
                                    nn.Sequential(bc(144, 32, 1), bc(32, 40, 3, 2)),
                                    nn.Sequential(bc(144, 32, 1), bc(32, 36, 3, p=1), bc(36, 40, 3, 2)),
                                    nn.MaxPool2d(3, 2)])
        self.repeat2 = nn.Sequential(Block8(272), Block8(272, scale=1.0, no_relu=True))
        self.conv7b = bc(272, 96, 1)
        self.fc = nn.Linear(96, classes)

    def forward(self, x):
        x = self.repeat(self.stem(x))
        x = self.repeat1(torch.cat([m(x) for m in self.red_a], 1))
        x = self.repeat2(torch.cat([m(x) for m in self.red_b], 1))
        x = F.avg_pool2d(self.conv7b(x), kernel_size=x.shape[-1], count_include_pad=False)
        return self.fc(x.view(x.size(0), -1))


# ---------------------------------------------------------------- ESPNetv2-lite (EESP)
def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(b, -1, h, w)


class EESP(nn.Module):
    def __init__(self, cin, cout, stride=1, k=4, r_lim=7):
        super().__init__()
        self.stride = stride
        n = cout // k
        n1 = cout - (k - 1) * n
        assert n == n1
        self.proj = nn.Sequential(nn.Conv2d(cin, n, 1, groups=k, bias=False), nn.BatchNorm2d(n), nn.PReLU(n))
        ks = sorted(min(3 + 2 * i, r_lim) for i in range(k))
        self.dilations = [(kk - 1) // 2 for kk in ks]
        self.spp_dw = nn.ModuleList(nn.Conv2d(n, n, 3, stride, d, dilation=d, groups=n, bias=False) for d in self.dilations)
        self.conv_1x1_exp = nn.Sequential(nn.Conv2d(cout, cout, 1, groups=k, bias=False), nn.BatchNorm2d(cout))
        self.br_after_cat = nn.Sequential(nn.BatchNorm2d(cout), nn.PReLU(cout))
        self.module_act = nn.PReLU(cout)
        self.k = k

    def forward(self, x):
        out1 = self.proj(x)
        outs = [self.spp_dw[0](out1)]
        for i in range(1, self.k):
            outs.append(self.spp_dw[i](out1) + outs[i - 1])   # hierarchical feature fusion
        expanded = self.conv_1x1_exp(self.br_after_cat(torch.cat(outs, 1)))
        if self.stride == 2:
            return expanded
        if expanded.size() == x.size():
            expanded = expanded + x
        return self.module_act(expanded)


class DownSampler(nn.Module):
    def __init__(self, cin, cout, k=4, reinf=True):
        super().__init__()
        self.eesp = EESP(cin, cout - cin, stride=2, k=k)
        self.avg = nn.AvgPool2d(3, 2, 1)
        self.inp_reinf = nn.Sequential(cbn(3, 3, 3, act=lambda: nn.PReLU(3)), cbn(3, cout, 1, act=None)) if reinf else None
        self.act = nn.PReLU(cout)

    def forward(self, x, x2=None):
        out = torch.cat([self.avg(x), self.eesp(x)], 1)
        if x2 is not None:
            w1 = out.size(2)
            while True:
                x2 = F.avg_pool2d(x2, 3, padding=1, stride=2)
                if x2.size(2) == w1:
                    break
            out = out + self.inp_reinf(x2)
        return self.act(out)


class ESPNetV2Lite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.level1 = cbn(3, 16, 3, 2, act=lambda: nn.PReLU(16))
        self.level2_0 = DownSampler(16, 32)
        self.level3_0 = DownSampler(32, 64)
        self.level3 = nn.Sequential(EESP(64, 64), EESP(64, 64))
        self.level4_0 = DownSampler(64, 128)
        self.level4 = EESP(128, 128)
        self.level5 = nn.Sequential(cbn(128, 128, 3, g=128, act=lambda: nn.PReLU(128)),
                                    cbn(128, 96, 1, g=4, act=lambda: nn.PReLU(96)))
        self.fc = nn.Linear(96, classes)

    def forward(self, inp):
        out_l1 = self.level1(inp)
        out_l2 = self.level2_0(out_l1, inp)
        out_l3 = self.level3(self.level3_0(out_l2, inp))
        out_l4 = self.level4(self.level4_0(out_l3, inp))
        out = self.level5(channel_shuffle(out_l4, 4))
        return self.fc(F.dropout(F.adaptive_avg_pool2d(out, 1).view(out.size(0), -1), p=0.2, training=self.training))


# ---------------------------------------------------------------- PeleeNet-lite
class StemBlock(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.stem1 = cbn(3, c, 3, 2)
        self.stem2a = cbn(c, c // 2, 1, p=0)
        self.stem2b = cbn(c // 2, c, 3, 2)
        self.stem2p = nn.MaxPool2d(2, 2)
        self.stem3 = cbn(2 * c, c, 1, p=0)

    def forward(self, x):
        out = self.stem1(x)
        return self.stem3(torch.cat((self.stem2b(self.stem2a(out)), self.stem2p(out)), 1))


class TwoWayDense(nn.Module):
    def __init__(self, cin, growth, bottleneck):
        super().__init__()
        g = growth // 2
        self.b1 = nn.Sequential(cbn(cin, bottleneck, 1), cbn(bottleneck, g, 3))
        self.b2 = nn.Sequential(cbn(cin, bottleneck, 1), cbn(bottleneck, g, 3), cbn(g, g, 3))

    def forward(self, x):
        return torch.cat([x, self.b1(x), self.b2(x)], 1)


class PeleeNetLite(nn.Module):
    def __init__(self, classes=10, growth=8):
        super().__init__()
        layers = [StemBlock(16)]
        c = 16
        for i, (n, bw) in enumerate(((2, 1), (2, 2), (2, 4))):
            for _ in range(n):
                layers.append(TwoWayDense(c, growth, growth * bw // 2 * 2))
                c += growth
            layers.append(cbn(c, c, 1, p=0))
            if i < 2:
                layers.append(nn.AvgPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.features(x)
        return self.fc(F.avg_pool2d(x, kernel_size=x.size()[2:]).flatten(1))


# ---------------------------------------------------------------- RCAN-lite
class MeanShift(nn.Conv2d):
    def __init__(self, sign=-1, rgb_range=1.0):
        super().__init__(3, 3, 1)
        mean, std = torch.tensor((0.4488, 0.4371, 0.4040)), torch.tensor((1.0, 1.0, 1.0)) * 0.9
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * mean / std
        for p in self.parameters():
            p.requires_grad = False


class CALayer(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.du = nn.Sequential(nn.Conv2d(c, c // r, 1), nn.ReLU(inplace=True), nn.Conv2d(c // r, c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.du(self.avg(x))


class RCAB(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(True), nn.Conv2d(c, c, 3, padding=1), CALayer(c))

    def forward(self, x):
        return self.body(x) + x


class ResidualGroup(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(c) for _ in range(n)], nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return self.body(x) + x


class RCANLite(nn.Module):
    def __init__(self, c=16, groups=2, n=2, scale=2):
        super().__init__()
        self.sub_mean, self.add_mean = MeanShift(-1), MeanShift(1)
        self.head = nn.Conv2d(3, c, 3, padding=1)
        self.body = nn.Sequential(*[ResidualGroup(c, n) for _ in range(groups)], nn.Conv2d(c, c, 3, padding=1))
        self.tail = nn.Sequential(nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(scale), nn.Conv2d(c, 3, 3, padding=1))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        res = self.body(x) + x
        return self.add_mean(self.tail(res))


# ---------------------------------------------------------------- DnCNN
class DnCNN(nn.Module):
    def __init__(self, depth=8, c=24, ch=1):
        super().__init__()
        layers = [nn.Conv2d(ch, c, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c, eps=0.0001, momentum=0.95),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(c, ch, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)

    def forward(self, x):
        return x - self.dncnn(x)


# ---------------------------------------------------------------- AdaIN style transfer (fixed style)
def calc_mean_std(feat, eps=1e-5):
    n, c = feat.size()[:2]
    var = feat.view(n, c, -1).var(dim=2) + eps
    return feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


class AdaINNet(nn.Module):
    def __init__(self, alpha=0.8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReflectionPad2d(1), nn.Conv2d(3, 16, 3), nn.ReLU(),
                                 nn.ReflectionPad2d(1), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True),
                                 nn.ReflectionPad2d(1), nn.Conv2d(16, 32, 3), nn.ReLU())
        self.dec = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(32, 16, 3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
                                 nn.ReflectionPad2d(1), nn.Conv2d(16, 16, 3), nn.ReLU(),
                                 nn.ReflectionPad2d(1), nn.Conv2d(16, 3, 3))
        self.register_buffer("style", torch.rand(1, 3, 24, 24))
        self.alpha = alpha

    def forward(self, content):
        cf = self.enc(content)
        sf = self.enc(self.style)
        s_mean, s_std = calc_mean_std(sf)
        c_mean, c_std = calc_mean_std(cf)
        t = (cf - c_mean.expand(cf.size())) / c_std.expand(cf.size()) * s_std + s_mean
        t = self.alpha * t + (1 - self.alpha) * cf
        return self.dec(t)


# ---------------------------------------------------------------- MobileNeXt-lite (sandglass)
class SandGlass(nn.Module):
    def __init__(self, cin, cout, s, t):
        super().__init__()
        hid = cin // t
        self.identity = s == 1 and cin == cout
        self.conv = nn.Sequential(cbn(cin, cin, 3, g=cin, act=nn.ReLU6), cbn(cin, hid, 1, act=None),
                                  cbn(hid, cout, 1, act=nn.ReLU6), cbn(cout, cout, 3, s, g=cout, act=None))

    def forward(self, x):
        out = self.conv(x)
        return out + x if self.identity else out


class MobileNeXtLite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        cfg = [(2, 48, 1, 2), (6, 48, 1, 1), (6, 64, 1, 2), (6, 64, 1, 1), (6, 96, 1, 2), (6, 96, 1, 1)]
        layers = [cbn(3, 32, 3, 2, act=nn.ReLU6), SandGlass(32, 48, 1, 2)]
        c = 48
        for t, cout, _, s in cfg[1:]:
            layers.append(SandGlass(c, cout, s, t))
            c = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(c, classes))

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


# ---------------------------------------------------------------- SSDLite head on a tiny MobileNetV2-ish backbone
def sep(cin, cout, s=1):
    return nn.Sequential(cbn(cin, cin, 3, s, g=cin, act=nn.ReLU6), nn.Conv2d(cin, cout, 1))


class SSDLite(nn.Module):
    def __init__(self, nc=5, anchors=(4, 6, 6, 4)):
        super().__init__()
        self.b1 = nn.Sequential(cbn(3, 16, 3, 2, act=nn.ReLU6), cbn(16, 16, 3, g=16, act=nn.ReLU6), cbn(16, 24, 1, act=None),
                                cbn(24, 48, 1, act=nn.ReLU6), cbn(48, 48, 3, 2, g=48, act=nn.ReLU6), cbn(48, 32, 1, act=None))
        self.b2 = nn.Sequential(cbn(32, 64, 1, act=nn.ReLU6), cbn(64, 64, 3, 2, g=64, act=nn.ReLU6), cbn(64, 48, 1, act=None))
        self.extras = nn.ModuleList([nn.Sequential(cbn(48, 24, 1, act=nn.ReLU6), cbn(24, 24, 3, 2, g=24, act=nn.ReLU6),
                                                   cbn(24, 48, 1, act=nn.ReLU6)),
                                     nn.Sequential(cbn(48, 16, 1, act=nn.ReLU6), cbn(16, 16, 3, 2, g=16, act=nn.ReLU6),
                                                   cbn(16, 32, 1, act=nn.ReLU6))])
        chans = (32, 48, 48, 32)
        self.loc = nn.ModuleList(sep(c, a * 4) for c, a in zip(chans, anchors))
        self.conf = nn.ModuleList(sep(c, a * nc) for c, a in zip(chans, anchors))
        self.nc = nc

    def forward(self, x):
        f1 = self.b1(x)
        f2 = self.b2(f1)
        feats = [f1, f2]
        for e in self.extras:
            feats.append(e(feats[-1]))
        b = x.size(0)
        locs = torch.cat([l(f).permute(0, 2, 3, 1).reshape(b, -1, 4) for l, f in zip(self.loc, feats)], 1)
        confs = torch.cat([c(f).permute(0, 2, 3, 1).reshape(b, -1, self.nc) for c, f in zip(self.conf, feats)], 1)
        return locs, F.softmax(confs, dim=-1)


# ---------------------------------------------------------------- RetinaNet / FPN-lite
class RetinaNetLite(nn.Module):
    def __init__(self, c=24, nc=3, na=3):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2), nn.MaxPool2d(3, 2, 1))
        self.c3 = BasicBlock(16, 24, 2)
        self.c4 = BasicBlock(24, 32, 2)
        self.c5 = BasicBlock(32, 48, 2)
        self.lat = nn.ModuleList(nn.Conv2d(ci, c, 1) for ci in (24, 32, 48))
        self.out = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(3))
        self.p6 = nn.Conv2d(48, c, 3, 2, 1)
        self.p7 = nn.Conv2d(c, c, 3, 2, 1)
        def head(cout):
            layers = []
            for _ in range(2):
                layers += [nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(4, c), nn.ReLU()]
            return nn.Sequential(*layers, nn.Conv2d(c, cout, 3, padding=1))
        self.cls_head, self.box_head = head(na * nc), head(na * 4)
        self.nc = nc

    def forward(self, x):
        c3 = self.c3(self.stem(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        l3, l4, l5 = (m(c) for m, c in zip(self.lat, (c3, c4, c5)))
        l4 = l4 + F.interpolate(l5, size=l4.shape[-2:], mode="nearest")
        l3 = l3 + F.interpolate(l4, size=l3.shape[-2:], mode="nearest")
        p3, p4, p5 = (m(l) for m, l in zip(self.out, (l3, l4, l5)))
        p6 = self.p6(c5)
        p7 = self.p7(F.relu(p6))
        b = x.shape[0]
        cls = torch.cat([self.cls_head(p).permute(0, 2, 3, 1).reshape(b, -1, self.nc) for p in (p3, p4, p5, p6, p7)], 1)
        box = torch.cat([self.box_head(p).permute(0, 2, 3, 1).reshape(b, -1, 4) for p in (p3, p4, p5, p6, p7)], 1)
        return cls.sigmoid(), box, p7


# ---------------------------------------------------------------- GroupNorm (odd groups) + DropPath / Dropout2d in eval
def drop_path(x, drop_prob=0.0, training=False):
    """timm's drop_path."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * x.new_empty(shape).bernoulli_(keep).div_(keep)


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return drop_path(x, self.p, self.training)


class GNBlock(nn.Module):
    def __init__(self, c, groups, dp):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn1 = nn.GroupNorm(groups, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(groups, c, eps=1e-3)
        self.drop = nn.Dropout2d(0.1)
        self.dp = DropPath(dp)

    def forward(self, x):
        y = self.gn2(self.conv2(self.drop(F.silu(self.gn1(self.conv1(x))))))
        return F.gelu(x + self.dp(y))


class GNOddNet(nn.Module):
    def __init__(self, classes=7):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 21, 3, 2, 1), nn.GroupNorm(7, 21), nn.ReLU())
        self.b1 = GNBlock(21, 3, 0.1)
        self.down = nn.Sequential(nn.Conv2d(21, 35, 3, 2, 1), nn.GroupNorm(5, 35), nn.ReLU())
        self.b2 = GNBlock(35, 5, 0.2)
        self.b3 = GNBlock(35, 7, 0.3)
        self.head = nn.Sequential(nn.GroupNorm(1, 35), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
                                  nn.Linear(35, classes))

    def forward(self, x):
        return self.head(self.b3(self.b2(self.down(self.b1(self.stem(x))))))


# ---------------------------------------------------------------- activation mixes
class ActMix2(nn.Module):
    def __init__(self, classes=6):
        super().__init__()
        acts = [nn.Hardtanh(-0.5, 1.5), nn.ReLU6(), nn.Softplus(), nn.Mish(), nn.ELU(0.7), nn.SELU(), nn.CELU(1.3),
                nn.LogSigmoid()]
        layers, c = [], 3
        for i, a in enumerate(acts):
            cout = 12 + 4 * (i % 3)
            layers += [nn.Conv2d(c, cout, 3, 2 if i in (1, 4) else 1, 1), nn.BatchNorm2d(cout), a]
            c = cout
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return F.hardtanh(self.fc(self.body(x).mean((2, 3))), -3.0, 3.0)


class ActMixExotic(nn.Module):
    def __init__(self, classes=6):
        super().__init__()
        acts = [nn.Hardshrink(0.3), nn.Softshrink(0.2), nn.Tanhshrink(), nn.RReLU(0.1, 0.3), nn.Softsign()]
        layers, c = [], 3
        for i, a in enumerate(acts):
            layers += [nn.Conv2d(c, 16, 3, 2 if i in (1, 4) else 1, 1), nn.BatchNorm2d(16), a]
            c = 16
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))


# ---------------------------------------------------------------- Involution and CondConv (dynamic weights)
class Involution(nn.Module):
    def __init__(self, c, k=3, s=1, g_ch=4, r=2):
        super().__init__()
        self.k, self.s, self.c = k, s, c
        self.groups = c // g_ch
        self.conv1 = cbn(c, c // r, 1)
        self.conv2 = nn.Conv2d(c // r, k * k * self.groups, 1)
        self.avgpool = nn.AvgPool2d(s, s) if s > 1 else nn.Identity()
        self.unfold = nn.Unfold(k, 1, (k - 1) // 2, s)

    def forward(self, x):
        weight = self.conv2(self.conv1(self.avgpool(x)))
        b, c, h, w = weight.shape
        weight = weight.view(b, self.groups, self.k * self.k, h, w).unsqueeze(2)
        out = self.unfold(x).view(b, self.groups, self.c // self.groups, self.k * self.k, h, w)
        return (weight * out).sum(dim=3).view(b, self.c, h, w)


class InvolutionNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2)
        self.inv = Involution(16)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.bn(self.inv(x))) + x
        return self.fc(x.mean((2, 3)))


class CondConv2d(nn.Module):
    def __init__(self, cin, cout, k=3, experts=4):
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.route = nn.Linear(cin, experts)
        self.weight = nn.Parameter(torch.randn(experts, cout * cin * k * k) / math.sqrt(cin * k * k))

    def forward(self, x):
        b, c, h, w = x.shape
        r = torch.sigmoid(self.route(x.mean((2, 3))))
        w_ = torch.matmul(r, self.weight).view(-1, self.cin, self.k, self.k)
        out = F.conv2d(x.reshape(1, -1, h, w), w_, padding=self.k // 2, groups=b)
        return out.view(-1, self.cout, h, w)


class CondConvNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2)
        self.cc = CondConv2d(16, 24)
        self.bn = nn.BatchNorm2d(24)
        self.fc = nn.Linear(24, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.cc(self.stem(x))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- PIDNet-lite (P / I / D branches, Pag and Bag fusion)
class PagFM(nn.Module):
    """Pixel-attention-guided fusion: sigma(sum_c(f_x(x) * f_y(y_up))) weighs x against y_up."""

    def __init__(self, c, mid):
        super().__init__()
        self.f_x = cbn(c, mid, 1, act=None)
        self.f_y = cbn(c, mid, 1, act=None)

    def forward(self, x, y):
        size = x.size()
        y_q = F.interpolate(self.f_y(y), size=[size[2], size[3]], mode="bilinear", align_corners=False)
        x_k = self.f_x(x)
        sim = torch.sigmoid(torch.sum(x_k * y_q, dim=1).unsqueeze(1))
        y = F.interpolate(y, size=[size[2], size[3]], mode="bilinear", align_corners=False)
        return (1 - sim) * x + sim * y


class Bag(nn.Module):
    def __init__(self, c, cout):
        super().__init__()
        self.conv = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, cout, 3, padding=1, bias=False))

    def forward(self, p, i, d):
        edge_att = torch.sigmoid(d)
        return self.conv(edge_att * p + (1 - edge_att) * i)


class PIDNetLite(nn.Module):
    def __init__(self, c=16, nc=4):
        super().__init__()
        self.conv1 = nn.Sequential(cbn(3, c, 3, 2), cbn(c, c, 3, 2))
        self.layer1 = BasicBlock(c, c)
        self.layer2 = BasicBlock(c, 2 * c, 2)
        self.layer3 = BasicBlock(2 * c, 4 * c, 2)
        self.layer4 = BasicBlock(4 * c, 8 * c, 2)
        self.layer3_p = BasicBlock(2 * c, 2 * c)
        self.layer3_d = BasicBlock(2 * c, c)
        self.layer4_p = BasicBlock(2 * c, 2 * c)
        self.layer4_d = BasicBlock(c, c)
        self.compression3 = cbn(4 * c, 2 * c, 1, act=None)
        self.compression4 = cbn(8 * c, 2 * c, 1, act=None)
        self.pag3, self.pag4 = PagFM(2 * c, c), PagFM(2 * c, c)
        self.diff3 = cbn(4 * c, c, 3, act=None)
        self.diff4 = cbn(8 * c, c, 3, act=None)
        self.spp = DAPPM(8 * c, c, 2 * c)
        self.dfm = Bag(2 * c, 2 * c)
        self.layer5_d = BasicBlock(c, 2 * c, no_relu=True)
        self.head = nn.Sequential(nn.BatchNorm2d(2 * c), nn.ReLU(), nn.Conv2d(2 * c, nc, 1))

    def forward(self, x):
        h, w = x.shape[-2] // 8, x.shape[-1] // 8
        x = self.layer2(self.layer1(self.conv1(x)))
        x_p, x_d = self.layer3_p(x), self.layer3_d(x)
        x = F.relu(self.layer3(x))
        x_p = self.pag3(x_p, self.compression3(x))
        x_d = x_d + F.interpolate(self.diff3(x), size=[h, w], mode="bilinear", align_corners=False)
        x = F.relu(self.layer4(x))
        x_p = self.layer4_p(F.relu(x_p))
        x_d = self.layer4_d(F.relu(x_d))
        x_p = self.pag4(x_p, self.compression4(x))
        x_d = x_d + F.interpolate(self.diff4(x), size=[h, w], mode="bilinear", align_corners=False)
        x_d = self.layer5_d(F.relu(x_d))
        x = F.interpolate(self.spp(x), size=[h, w], mode="bilinear", align_corners=False)
        return self.head(self.dfm(x_p, x, x_d)), x_d


# ---------------------------------------------------------------- EfficientDet BiFPN-lite (fast normalized fusion)
class SepConvBN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.pw = nn.Conv2d(c, c, 1)
        self.bn = nn.BatchNorm2d(c, momentum=0.01, eps=1e-3)

    def forward(self, x):
        return self.bn(self.pw(self.dw(x)))


class BiFPNLayer(nn.Module):
    """Three levels: top-down then bottom-up, each node a fast normalized fusion (relu'd learned weights over
    their sum + eps), swish, separable conv; downsampling by a 3x3/2 'same' max pool (ZeroPad + MaxPool)."""

    def __init__(self, c, eps=1e-4):
        super().__init__()
        self.eps = eps
        self.w_td = nn.ParameterList([nn.Parameter(torch.ones(2)) for _ in range(2)])
        self.w_bu = nn.ParameterList([nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2))])
        self.conv_td = nn.ModuleList(SepConvBN(c) for _ in range(2))
        self.conv_bu = nn.ModuleList(SepConvBN(c) for _ in range(2))
        self.down = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(3, 2))

    def _fuse(self, w, xs):
        w = F.relu(w)
        w = w / (torch.sum(w, dim=0) + self.eps)
        return sum(w[i] * x for i, x in enumerate(xs))

    def forward(self, p3, p4, p5):
        p4_td = self.conv_td[0](F.silu(self._fuse(self.w_td[0], [p4, F.interpolate(p5, scale_factor=2, mode="nearest")])))
        p3_out = self.conv_td[1](F.silu(self._fuse(self.w_td[1], [p3, F.interpolate(p4_td, scale_factor=2, mode="nearest")])))
        p4_out = self.conv_bu[0](F.silu(self._fuse(self.w_bu[0], [p4, p4_td, self.down(p3_out)])))
        p5_out = self.conv_bu[1](F.silu(self._fuse(self.w_bu[1], [p5, self.down(p4_out)])))
        return p3_out, p4_out, p5_out


class BiFPNLite(nn.Module):
    def __init__(self, c=24, nc=3):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2, act=nn.SiLU), cbn(16, 24, 3, 2, act=nn.SiLU))
        self.c3 = cbn(24, 32, 3, 2, act=nn.SiLU)
        self.c4 = cbn(32, 48, 3, 2, act=nn.SiLU)
        self.c5 = cbn(48, 64, 3, 2, act=nn.SiLU)
        self.lat = nn.ModuleList(cbn(ci, c, 1, act=None) for ci in (32, 48, 64))
        self.bifpn = nn.Sequential(BiFPNLayer(c), BiFPNLayer(c))
        self.cls = nn.Conv2d(c, nc * 3, 3, padding=1)
        self.nc = nc

    def forward(self, x):
        c3 = self.c3(self.stem(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        ps = tuple(m(f) for m, f in zip(self.lat, (c3, c4, c5)))
        for layer in self.bifpn:
            ps = layer(*ps)
        b = x.shape[0]
        return torch.cat([self.cls(p).permute(0, 2, 3, 1).reshape(b, -1, self.nc) for p in ps], 1).sigmoid()


# ---------------------------------------------------------------- CGNet-lite (context guided blocks)
class FGlo(nn.Module):
    """CGNet's global context: avg pool, view (b, c), two linears, view back (b, c, 1, 1), multiply."""

    def __init__(self, c, r=4):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(c, c // r), nn.ReLU(inplace=True), nn.Linear(c // r, c), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = F.adaptive_avg_pool2d(x, 1).view(b, c)
        return x * self.fc(y).view(b, c, 1, 1)


class CGBlock(nn.Module):
    def __init__(self, cin, cout, d=2, down=False):
        super().__init__()
        n = cout // 2 if not down else cout
        self.conv1x1 = cbn(cin, n, 3 if down else 1, 2 if down else 1, act=lambda: nn.PReLU(n))
        self.f_loc = nn.Conv2d(n, n, 3, padding=1, groups=n, bias=False)
        self.f_sur = nn.Conv2d(n, n, 3, padding=d, dilation=d, groups=n, bias=False)
        self.bn_act = nn.Sequential(nn.BatchNorm2d(2 * n), nn.PReLU(2 * n))
        self.reduce = nn.Conv2d(2 * n, cout, 1, bias=False) if down else None
        self.f_glo = FGlo(cout)
        self.down = down

    def forward(self, x):
        out = self.conv1x1(x)
        joi = self.bn_act(torch.cat([self.f_loc(out), self.f_sur(out)], 1))
        if self.reduce is not None:
            joi = self.reduce(joi)
        out = self.f_glo(joi)
        return out if self.down else x + out


class CGNetLite(nn.Module):
    def __init__(self, nc=5):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2, act=lambda: nn.PReLU(16)), cbn(16, 16, 3, act=lambda: nn.PReLU(16)))
        self.inject = nn.AvgPool2d(3, 2, 1)
        self.b1 = nn.Sequential(nn.BatchNorm2d(19), nn.PReLU(19))
        self.l2_0 = CGBlock(19, 32, 2, down=True)
        self.l2 = CGBlock(32, 32, 2)
        self.l3_0 = CGBlock(32 + 32 + 3, 48, 4, down=True)
        self.l3 = CGBlock(48, 48, 4)
        self.cls = nn.Conv2d(48 + 48, nc, 1)

    def forward(self, x):
        i1 = self.inject(x)
        i2 = self.inject(i1)
        o0 = self.b1(torch.cat([self.stem(x), i1], 1))
        o1_0 = self.l2_0(o0)
        o1 = self.l2(o1_0)
        o2_0 = self.l3_0(torch.cat([o1, o1_0, i2], 1))
        o2 = self.l3(o2_0)
        out = self.cls(torch.cat([o2_0, o2], 1))
        return F.interpolate(out, size=x.size()[2:], mode="bilinear", align_corners=False)


MODELS = {   # name -> (constructor, input shape without batch)
    "yolov2_reorg": (YOLOv2Lite, (3, 64, 64)),
    "yolox_nano_lite": (YOLOXNanoLite, (3, 64, 64)),
    "nafnet_lite": (NAFNetLite, (3, 32, 32)),
    "u2net_lite": (U2NetLite, (3, 60, 60)),
    "ddrnet_lite": (DDRNetLite, (3, 64, 64)),
    "triplet_resnet_lite": (TripletResNetLite, (3, 48, 64)),
    "nonlocal_resnet_lite": (NonLocalResNetLite, (3, 48, 48)),
    "octave_resnet_lite": (OctResNetLite, (3, 48, 48)),
    "coordconv_net": (CoordConvNet, (3, 40, 48)),
    "inception_resnet_v2_lite": (InceptionResNetV2Lite, (3, 75, 75)),
    "espnetv2_lite": (ESPNetV2Lite, (3, 64, 64)),
    "peleenet_lite": (PeleeNetLite, (3, 64, 64)),
    "rcan_lite": (RCANLite, (3, 24, 24)),
    "dncnn": (DnCNN, (1, 40, 40)),
    "adain_style": (AdaINNet, (3, 32, 32)),
    "mobilenext_lite": (MobileNeXtLite, (3, 64, 64)),
    "ssdlite": (SSDLite, (3, 64, 64)),
    "retinanet_fpn_lite": (RetinaNetLite, (3, 96, 80)),
    "gn_odd_droppath": (GNOddNet, (3, 32, 32)),
    "act_mix2": (ActMix2, (3, 32, 32)),
    "act_mix_exotic": (ActMixExotic, (3, 32, 32)),
    "pidnet_lite": (PIDNetLite, (3, 64, 64)),
    "bifpn_lite": (BiFPNLite, (3, 64, 64)),
    "cgnet_lite": (CGNetLite, (3, 64, 64)),
    "involution_net": (InvolutionNet, (3, 32, 32)),
    "condconv_net": (CondConvNet, (3, 32, 32)),
}


def randomize(model, shape, seed=0):
    """Random affine params (BN, GN, NAFNet's LayerNorm2d), PReLU slopes, NAFNet's beta / gamma (zero at
    init in the reference, which would make its blocks identities), BN stats calibrated on noise then
    perturbed; returns model.eval()."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm, LayerNorm2d)) and \
                    getattr(m, "weight", None) is not None:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + 0.4 * torch.rand(m.weight.shape, generator=g))
            if isinstance(m, BiFPNLayer):
                for w in list(m.w_td) + list(m.w_bu):
                    w.copy_(0.2 + torch.rand(w.shape, generator=g))
            if isinstance(m, NAFBlock):
                m.beta.copy_(0.3 + 0.5 * torch.rand(m.beta.shape, generator=g))
                m.gamma.copy_(0.3 + 0.5 * torch.rand(m.gamma.shape, generator=g))
        calibrate_bns(model, bns, (1,) + tuple(shape), g)
    return model.eval()


def build(name, seed=0):
    fn, shape = MODELS[name]
    torch.manual_seed(seed)
    return randomize(fn(), shape, seed), shape
