"""Issue 12: the constructs of the public image-model zoos that torch.fx cannot trace, in plain PyTorch,
small enough to run fast under every ISA. Each family is written the way the published code writes it
(functional forwards, size-dependent Python, subclasses of torch layers), not rewritten for a tracer.

EXPORT_ZOO[name] = (constructor, [input shapes (C, H, W)]): segmentation nets run at two input sizes.
`build(name)` returns the model in eval mode with realistic statistics (tests/zoo.py's calibrate).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo import VGG11BN, calibrate


# ------------------------------------------------------------------------------------------ timm-style layers
class BatchNormAct2d(nn.BatchNorm2d):
    """timm's norm layer: a BatchNorm2d subclass whose forward calls F.batch_norm, then the activation."""

    def __init__(self, num_features, act=nn.ReLU, eps=1e-5):
        super().__init__(num_features, eps=eps)
        self.act = act()

    def forward(self, x):
        torch._assert(x.ndim == 4, "expected a 4D input (got %dD)" % x.ndim)
        if self.training:   # calibration (tests/zoo.py): nn.BatchNorm2d's running-average bookkeeping
            return self.act(super().forward(x))
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return self.act(x)


def _same_pad(size, k, s, d):
    return max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)


class Conv2dSame(nn.Conv2d):
    """TensorFlow "SAME" padding computed from the input size in forward (EfficientNet-TF ports)."""

    def forward(self, x):
        ih, iw = x.size()[-2:]
        ph = _same_pad(ih, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = _same_pad(iw, self.kernel_size[1], self.stride[1], self.dilation[1])
        if ph > 0 or pw > 0:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)


class MaxPool2dSame(nn.MaxPool2d):
    """TF "SAME" max pooling: pad with -inf from the input size, then pool without padding."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        k, s = self.kernel_size, self.stride
        ph, pw = _same_pad(ih, k, s, 1), _same_pad(iw, k, s, 1)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-float("inf"))
        return F.max_pool2d(x, k, s, 0, 1, self.ceil_mode)


class StdConv2d(nn.Conv2d):
    """BiT's weight-standardised conv: the weight is normalised per output channel in every forward."""

    def __init__(self, *args, eps=1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0,
                         eps=self.eps).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class LayerNorm2d(nn.LayerNorm):
    """ConvNeXt's LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def conv_bn_act(cin, cout, k=3, s=1, act=nn.ReLU, groups=1, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, dilation * (k // 2), dilation=dilation, groups=groups,
                                   bias=False), BatchNormAct2d(cout, act))


# ------------------------------------------------------------------------------------------ families
class BNActNet(nn.Module):
    """ResNet-ish stem and blocks built on BatchNormAct2d, F.max_pool2d in forward."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn_act(3, 16, 3, 2)
        self.b1 = conv_bn_act(16, 16)
        self.b2 = nn.Sequential(nn.Conv2d(16, 24, 3, 1, 1, bias=False), BatchNormAct2d(24, nn.SiLU))
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        x = x + self.b1(x)
        x = self.b2(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class TFSameNet(nn.Module):
    """EfficientNet-TF style: Conv2dSame with stride 2 on odd sizes, depthwise, MaxPool2dSame, hardswish."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = Conv2dSame(3, 16, 3, 2, bias=False)
        self.bn1 = BatchNormAct2d(16, nn.SiLU, eps=1e-3)
        self.dw = Conv2dSame(16, 16, 5, 2, groups=16, bias=False)
        self.bn2 = BatchNormAct2d(16, nn.Hardswish, eps=1e-3)
        self.pool = MaxPool2dSame(3, 2)
        self.pw = nn.Conv2d(16, 32, 1)
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.bn2(self.dw(self.bn1(self.stem(x))))
        x = F.relu(self.pw(self.pool(x)))
        return self.fc(x.mean((2, 3)))


class VGGBN(VGG11BN):
    """VGG-BN as torchvision writes it (features, AdaptiveAvgPool2d(7), flatten, the dropout head), small."""

    def __init__(self, num_classes=10, cfg=(16, "M", 32, "M", 32, 32, "M")):
        super().__init__(num_classes, hidden=64, cfg=cfg)


class SqueezeExcite(nn.Module):
    """timm's SE: mean over H, W with keepdim, two 1x1 convs, a gate."""

    def __init__(self, c, rd=4, gate=torch.sigmoid):
        super().__init__()
        self.fc1 = nn.Conv2d(c, rd, 1)
        self.fc2 = nn.Conv2d(rd, c, 1)
        self.gate = gate

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = self.fc2(F.relu(self.fc1(s)))
        return x * self.gate(s)


class EcaModule(nn.Module):
    """ECA: a 1-D conv across the pooled channel vector."""

    def __init__(self, k=3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x):
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.conv(y).view(x.shape[0], -1, 1, 1).sigmoid()
        return x * y.expand_as(x)


class SENet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn_act(3, 16, 3, 2)
        self.se = SqueezeExcite(16, gate=F.hardsigmoid)
        self.conv = conv_bn_act(16, 24, 3, 2, nn.Hardswish)
        self.eca = EcaModule(3)
        self.se2 = SqueezeExcite(24)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.conv(self.se(self.stem(x)))
        x = self.se2(self.eca(x))
        return self.fc(x.mean((2, 3)))


class RepVGGBlock(nn.Module):
    """RepVGG (training-time form): 3x3 conv-BN + 1x1 conv-BN + identity BN, summed, then ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dense = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))
        self.one = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.identity = nn.BatchNorm2d(cout) if cin == cout and stride == 1 else None

    def forward(self, x):
        y = self.dense(x) + self.one(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return F.relu(y)


class RepVGG(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stages = nn.Sequential(RepVGGBlock(3, 16, 2), RepVGGBlock(16, 16), RepVGGBlock(16, 32, 2),
                                    RepVGGBlock(32, 32))
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.stages(x), 1).flatten(1))


class BiTBlock(nn.Module):
    """BiT ResNetV2 pre-activation bottleneck: GroupNorm + ReLU before each StdConv2d."""

    def __init__(self, cin, cout, mid, stride=1):
        super().__init__()
        self.norm1 = nn.GroupNorm(4, cin)
        self.conv1 = StdConv2d(cin, mid, 1, bias=False)
        self.norm2 = nn.GroupNorm(4, mid)
        self.conv2 = StdConv2d(mid, mid, 3, stride, 1, bias=False)
        self.norm3 = nn.GroupNorm(4, mid)
        self.conv3 = StdConv2d(mid, cout, 1, bias=False)
        self.down = StdConv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        xp = F.relu(self.norm1(x))
        sc = self.down(xp) if self.down is not None else x
        x = self.conv1(xp)
        x = self.conv2(F.relu(self.norm2(x)))
        x = self.conv3(F.relu(self.norm3(x)))
        return x + sc


class BiT(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = StdConv2d(3, 16, 7, 2, 3, bias=False)
        self.pad = nn.ConstantPad2d(1, 0.0)
        self.pool = nn.MaxPool2d(3, 2)
        self.blocks = nn.Sequential(BiTBlock(16, 32, 8), BiTBlock(32, 32, 8), BiTBlock(32, 64, 16, 2))
        self.norm = nn.GroupNorm(8, 64)
        self.head = nn.Conv2d(64, num_classes, 1)

    def forward(self, x):
        x = self.blocks(self.pool(self.pad(self.stem(x))))
        x = F.relu(self.norm(x))
        return self.head(x.mean((2, 3), keepdim=True)).flatten(1)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, channels-last LayerNorm + MLP (Linear, GELU, Linear), layer scale, residual."""

    def __init__(self, c, ls=1e-1):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(ls * torch.ones(c))

    def forward(self, x):
        s = x
        x = self.dw(x).permute(0, 2, 3, 1)
        x = self.fc2(F.gelu(self.fc1(self.norm(x))))
        x = (x * self.gamma).permute(0, 3, 1, 2)
        return s + x


class ConvNeXt(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 4, 4), LayerNorm2d(16, eps=1e-6))
        self.stage1 = ConvNeXtBlock(16)
        self.down = nn.Sequential(LayerNorm2d(16, eps=1e-6), nn.Conv2d(16, 32, 2, 2))
        self.stage2 = ConvNeXtBlock(32)
        self.norm = nn.LayerNorm(32, eps=1e-6)
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.stage2(self.down(self.stage1(self.stem(x))))
        return self.head(self.norm(x.mean([-2, -1])))


class HRFusion(nn.Module):
    """HRNet: a high- and a low-resolution branch exchange features (strided conv down, 1x1 + nearest
    upsampling up) and are summed."""

    def __init__(self, ch=16, cl=32):
        super().__init__()
        self.high = conv_bn_act(ch, ch)
        self.low = conv_bn_act(cl, cl)
        self.up = nn.Sequential(nn.Conv2d(cl, ch, 1, bias=False), nn.BatchNorm2d(ch))
        self.down = nn.Sequential(nn.Conv2d(ch, cl, 3, 2, 1, bias=False), nn.BatchNorm2d(cl))

    def forward(self, xs):
        h, lo = self.high(xs[0]), self.low(xs[1])
        y_h = F.relu(h + F.interpolate(self.up(lo), scale_factor=2, mode="nearest"))
        y_l = F.relu(lo + self.down(h))
        return [y_h, y_l]


class HRNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn_act(3, 16, 3, 2)
        self.trans = conv_bn_act(16, 32, 3, 2)
        self.fuse1 = HRFusion()
        self.fuse2 = HRFusion()
        self.head = nn.Linear(48, num_classes)

    def forward(self, x):
        x = self.stem(x)
        xs = self.fuse2(self.fuse1([x, self.trans(x)]))
        up = F.interpolate(xs[1], size=xs[0].shape[-2:], mode="bilinear", align_corners=False)
        y = torch.cat([xs[0], up], 1)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


class UNet(nn.Module):
    """Two-level UNet: encoder with max pooling, decoder upsampling to the skip's size (bilinear, and a
    transposed conv), concatenation with the skip, per-pixel logits."""

    def __init__(self, classes=3):
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn_act(3, 8), conv_bn_act(8, 8))
        self.enc2 = nn.Sequential(conv_bn_act(8, 16), conv_bn_act(16, 16))
        self.mid = nn.Sequential(conv_bn_act(16, 32), conv_bn_act(32, 32))
        self.up2 = nn.ConvTranspose2d(32, 16, 2, 2)
        self.dec2 = conv_bn_act(32, 16)
        self.dec1 = conv_bn_act(24, 8)
        self.out = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.up2(m)
        if d2.shape[-2:] != e2.shape[-2:]:   # odd sizes: pad to the skip, as the reference UNet does
            dy, dx = e2.shape[-2] - d2.shape[-2], e2.shape[-1] - d2.shape[-1]
            d2 = F.pad(d2, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        d2 = self.dec2(torch.cat([e2, d2], dim=1))
        d1 = F.interpolate(d2, size=e1.shape[2:], mode="bilinear", align_corners=True)
        return self.out(self.dec1(torch.cat([e1, d1], dim=1)))


class ASPP(nn.Module):
    """DeepLab-v3 ASPP: 1x1, dilated 3x3 (rates 2, 3), image pooling broadcast back; concat; project."""

    def __init__(self, cin, c=16, rates=(2, 3)):
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_act(cin, c, 1)] +
                                      [conv_bn_act(cin, c, 3, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        self.project = conv_bn_act(c * (len(rates) + 2), c, 1)

    def forward(self, x):
        size = x.shape[-2:]
        ys = [b(x) for b in self.branches]
        ys.append(F.interpolate(self.pool(x), size=size, mode="bilinear", align_corners=False))
        return self.project(torch.cat(ys, dim=1))


class DeepLab(nn.Module):
    """Output stride 8: two strided stages, then dilated convs keep the resolution; ASPP; logits
    bilinearly upsampled to the input's size."""

    def __init__(self, classes=3):
        super().__init__()
        self.backbone = nn.Sequential(conv_bn_act(3, 16, 3, 2), conv_bn_act(16, 24, 3, 2), conv_bn_act(24, 24, 3, 2),
                                      conv_bn_act(24, 32, 3, dilation=2), conv_bn_act(32, 32, 3, dilation=4))
        self.aspp = ASPP(32)
        self.cls = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        y = self.cls(self.aspp(self.backbone(x)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


# ------------------------------------------------------------------------------------------ detection
class ConvBNSiLU(nn.Sequential):
    """YOLOv5/v8's Conv: conv (no bias) + BatchNorm + SiLU."""

    def __init__(self, cin, cout, k=1, s=1):
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class YoloBottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1, self.cv2, self.add = ConvBNSiLU(c, c, 3), ConvBNSiLU(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """YOLOv8's C2f: a 1x1 conv, chunk in two halves, bottlenecks chained on the second, concat of all."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = ConvBNSiLU(cin, 2 * self.c)
        self.cv2 = ConvBNSiLU((2 + n) * self.c, cout)
        self.m = nn.ModuleList(YoloBottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class C3(nn.Module):
    """YOLOv5's CSP block: two 1x1 branches, bottlenecks on one, concat, 1x1 (split as a channel slice)."""

    def __init__(self, cin, cout):
        super().__init__()
        c = cout // 2
        self.cv1 = ConvBNSiLU(cin, 2 * c)
        self.m = YoloBottleneck(c, shortcut=False)
        self.cv3 = ConvBNSiLU(2 * c, cout)
        self.c = c

    def forward(self, x):
        y = self.cv1(x)
        return self.cv3(torch.cat([self.m(y[:, :self.c]), y[:, self.c:]], 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 stride-1 max pools, concat, 1x1."""

    def __init__(self, cin, cout, k=5):
        super().__init__()
        c = cin // 2
        self.cv1, self.cv2 = ConvBNSiLU(cin, c), ConvBNSiLU(4 * c, cout)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class YOLO(nn.Module):
    """A YOLOv8-style backbone (stride 32, C2f / C3 stages, SPPF) and PAN neck (nearest upsample x2, concat
    of scales, strided convs back down), with a 1x1 head per scale: three outputs (strides 8, 16, 32)."""

    def __init__(self, outs=7):
        super().__init__()
        self.stem = nn.Sequential(ConvBNSiLU(3, 8, 3, 2), ConvBNSiLU(8, 16, 3, 2), C2f(16, 16))
        self.p3 = nn.Sequential(ConvBNSiLU(16, 24, 3, 2), C2f(24, 24, n=2))
        self.p4 = nn.Sequential(ConvBNSiLU(24, 32, 3, 2), C3(32, 32))
        self.p5 = nn.Sequential(ConvBNSiLU(32, 48, 3, 2), C2f(48, 48), SPPF(48, 48))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n4, self.n3 = C2f(48 + 32, 32, shortcut=False), C2f(32 + 24, 24, shortcut=False)
        self.d3, self.d4 = ConvBNSiLU(24, 24, 3, 2), ConvBNSiLU(32, 32, 3, 2)
        self.o4, self.o5 = C2f(24 + 32, 32, shortcut=False), C2f(32 + 48, 48, shortcut=False)
        self.heads = nn.ModuleList(nn.Conv2d(c, outs, 1) for c in (24, 32, 48))

    def forward(self, x):
        p3 = self.p3(self.stem(x))
        p4 = self.p4(p3)
        p5 = self.p5(p4)
        n4 = self.n4(torch.cat([self.up(p5), p4], 1))
        o3 = self.n3(torch.cat([self.up(n4), p3], 1))
        o4 = self.o4(torch.cat([self.d3(o3), n4], 1))
        o5 = self.o5(torch.cat([self.d4(o4), p5], 1))
        return tuple(h(o) for h, o in zip(self.heads, (o3, o4, o5)))


# dense prediction at two input sizes, through both routes (tests/test_zoo_dense.py)
DENSE_ZOO = {
    "unet": (None, [(3, 32, 32), (3, 27, 38)]),
    "deeplab": (None, [(3, 48, 48), (3, 41, 57)]),
    "yolo": (YOLO, [(3, 64, 64), (3, 96, 64)]),
}

EXPORT_ZOO = {
    "bnact": (BNActNet, [(3, 32, 32)]),
    "tf_same": (TFSameNet, [(3, 32, 29)]),
    "vgg_bn_head": (VGGBN, [(3, 32, 32)]),
    "se_eca": (SENet, [(3, 32, 32)]),
    "repvgg": (RepVGG, [(3, 32, 32)]),
    "bit": (BiT, [(3, 32, 32)]),
    "convnext": (ConvNeXt, [(3, 32, 32)]),
    "hrnet": (HRNet, [(3, 32, 32)]),
    "unet": (UNet, [(3, 32, 32), (3, 27, 38)]),
    "deeplab": (DeepLab, [(3, 48, 48), (3, 41, 57)]),
}


DENSE_ZOO["unet"], DENSE_ZOO["deeplab"] = EXPORT_ZOO["unet"], EXPORT_ZOO["deeplab"]


def build(name, seed=0):
    """(model in eval mode with realistic statistics, its input shapes (C, H, W))."""
    ctor, shapes = EXPORT_ZOO[name] if name in EXPORT_ZOO else DENSE_ZOO[name]
    torch.manual_seed(seed)
    return calibrate(ctor(), shapes[0], seed), shapes
