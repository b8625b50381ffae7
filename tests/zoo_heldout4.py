"""A fourth held-out set (session 26): plain-PyTorch definitions of published CNN architectures none of
fastnorm was tuned on (random init, no torchvision/timm), written by a helper session probing for
failures: YOLOv8n with its DFL detect head and anchor decode, SegFormer-B0 (efficient self-attention with
a spatial-reduction conv, Mix-FFN, all-MLP decoder), PoolFormer-S12 (GroupNorm(1, C), pooling minus
input), FasterNet-T0 (partial conv by split + concat, and the reference's in-place slice form),
GhostNetV2 (DFC attention: pooled depthwise band convs, nearest upsample to a size that is not a
multiple), MobileViT-XS (unfold / fold by reshape + transpose around transformer layers), Res2Net-50
26w4s, SK-ResNet-18 (selective kernel: stacked 5-D branches, softmax over the branch axis), PSPNet-R18
(dilated, output stride 8, pyramid pooling with bins that do not divide the map), DPN-68 (dual path:
residual slice added, dense slice concatenated), EfficientViT-B0 (ReLU linear attention: matmuls, F.pad
value 1, division by the last row), RepViT-M0.9 in its train-time form, InceptionNeXt-atto (inception
depthwise band kernels), CenterNet-R18 (deconvs, heatmap NMS by max-pool equality: three outputs), a
UNet ending in argmax (an integer output) plus softmax, and LR-ASPP MobileNetV3-Large.

build(name) -> (model in eval mode with realistic, randomized normalization statistics, input shape).
The BN statistics are calibrated on noise (train-mode forward, cumulative average) so activations stay
O(1) through deep nets, then perturbed, and the affine params (BN, LN, GN) and layer scales randomized,
so folding is exercised.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo_heldout3 import calibrate_bns, cbn, make_div


class LayerScale(nn.Module):
    """Per-channel scale (NCHW: gamma[:, None, None]); randomize() sets it O(0.1-1)."""

    def __init__(self, dim, init=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma.unsqueeze(-1).unsqueeze(-1)


# ---------------------------------------------------------------- YOLOv8n (320x320)
def yconv(cin, cout, k=1, s=1, g=1):
    return cbn(cin, cout, k, s, g, act=nn.SiLU)


class YBottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, e=1.0):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = yconv(c1, c_, 3)
        self.cv2 = yconv(c_, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=False, e=0.5, use_split=False):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = yconv(c1, 2 * self.c, 1)
        self.cv2 = yconv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(YBottleneck(self.c, self.c, shortcut) for _ in range(n))
        self.use_split = use_split

    def forward(self, x):
        if self.use_split:   # ultralytics' forward_split
            y = list(self.cv1(x).split((self.c, self.c), 1))
        else:
            y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = yconv(c1, c_, 1)
        self.cv2 = yconv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class DFL(nn.Module):
    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(feats, strides, offset=0.5):
    anchor_points, stride_tensor = [], []
    for i, stride in enumerate(strides):
        _, _, h, w = feats[i].shape
        sx = torch.arange(end=w, dtype=feats[i].dtype) + offset
        sy = torch.arange(end=h, dtype=feats[i].dtype) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_tensor.append(torch.full((h * w, 1), stride, dtype=feats[i].dtype))
    return torch.cat(anchor_points), torch.cat(stride_tensor)


def dist2bbox(distance, anchor_points, dim=-1):
    lt, rb = distance.chunk(2, dim)
    x1y1 = anchor_points - lt
    x2y2 = anchor_points + rb
    return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)


class Detect(nn.Module):
    def __init__(self, nc=80, ch=(64, 128, 256), strides=(8.0, 16.0, 32.0)):
        super().__init__()
        self.nc, self.reg_max = nc, 16
        self.no = nc + 4 * self.reg_max
        self.strides = strides
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(yconv(x, c2, 3), yconv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
                                 for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(yconv(x, c3, 3), yconv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(self.reg_max)

    def forward(self, x):
        x = [torch.cat((a(xi), b(xi)), 1) for xi, a, b in zip(x, self.cv2, self.cv3)]
        shape = x[0].shape
        x_cat = torch.cat([xi.view(shape[0], self.no, -1) for xi in x], 2)
        anchors, strides = (t.transpose(0, 1) for t in make_anchors(x, self.strides, 0.5))
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        dbox = dist2bbox(self.dfl(box), anchors.unsqueeze(0), dim=1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class YOLOv8n(nn.Module):
    def __init__(self, nc=80, use_split=False):
        super().__init__()
        w = [16, 32, 64, 128, 256]
        self.b0 = yconv(3, w[0], 3, 2)
        self.b1 = yconv(w[0], w[1], 3, 2)
        self.b2 = C2f(w[1], w[1], 1, True, use_split=use_split)
        self.b3 = yconv(w[1], w[2], 3, 2)
        self.b4 = C2f(w[2], w[2], 2, True, use_split=use_split)
        self.b5 = yconv(w[2], w[3], 3, 2)
        self.b6 = C2f(w[3], w[3], 2, True, use_split=use_split)
        self.b7 = yconv(w[3], w[4], 3, 2)
        self.b8 = C2f(w[4], w[4], 1, True, use_split=use_split)
        self.b9 = SPPF(w[4], w[4], 5)
        self.h12 = C2f(w[4] + w[3], w[3], 1, use_split=use_split)
        self.h15 = C2f(w[3] + w[2], w[2], 1, use_split=use_split)
        self.h16 = yconv(w[2], w[2], 3, 2)
        self.h18 = C2f(w[2] + w[3], w[3], 1, use_split=use_split)
        self.h19 = yconv(w[3], w[3], 3, 2)
        self.h21 = C2f(w[3] + w[4], w[4], 1, use_split=use_split)
        self.detect = Detect(nc, (w[2], w[3], w[4]))
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat([self.up(p5), p4], 1))
        o3 = self.h15(torch.cat([self.up(h12), p3], 1))
        o4 = self.h18(torch.cat([self.h16(o3), h12], 1))
        o5 = self.h21(torch.cat([self.h19(o4), p5], 1))
        return self.detect([o3, o4, o5])


# ---------------------------------------------------------------- SegFormer-B0 (256x256)
class OverlapPatchEmbed(nn.Module):
    def __init__(self, k, s, cin, dim):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, k, s, k // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.proj(x)
        _, _, H, W = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)), H, W


class EfficientAttn(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.heads, self.scale, self.sr_ratio = heads, (dim // heads) ** -0.5, sr
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        if sr > 1:
            self.sr = nn.Conv2d(dim, dim, sr, sr)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.heads, C // self.heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x_ = x.permute(0, 2, 1).reshape(B, C, H, W)
            x_ = self.norm(self.sr(x_).reshape(B, C, -1).permute(0, 2, 1))
        else:
            x_ = x
        kv = self.kv(x_).reshape(B, -1, 2, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class MixFFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, H, W):
        x = self.fc1(x)
        B, N, C = x.shape
        x = self.dwconv(x.transpose(1, 2).view(B, C, H, W)).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x))


class SegBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, sr):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = EfficientAttn(dim, heads, sr)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MixFFN(dim, dim * mlp_ratio)

    def forward(self, x, H, W):
        x = x + self.attn(self.norm1(x), H, W)
        return x + self.mlp(self.norm2(x), H, W)


class SegFormerB0(nn.Module):
    def __init__(self, num_classes=150, dims=(32, 64, 160, 256), heads=(1, 2, 5, 8), depths=(2, 2, 2, 2),
                 srs=(8, 4, 2, 1), decoder_dim=256):
        super().__init__()
        self.embeds = nn.ModuleList(OverlapPatchEmbed(7 if i == 0 else 3, 4 if i == 0 else 2,
                                                      3 if i == 0 else dims[i - 1], dims[i]) for i in range(4))
        self.blocks = nn.ModuleList(nn.ModuleList(SegBlock(dims[i], heads[i], 4, srs[i]) for _ in range(depths[i]))
                                    for i in range(4))
        self.norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-6) for d in dims)
        self.linear_c = nn.ModuleList(nn.Linear(d, decoder_dim) for d in dims)
        self.linear_fuse = cbn(4 * decoder_dim, decoder_dim, 1)
        self.linear_pred = nn.Conv2d(decoder_dim, num_classes, 1)

    def forward(self, x):
        B = x.shape[0]
        feats = []
        for emb, blks, norm in zip(self.embeds, self.blocks, self.norms):
            x, H, W = emb(x)
            for b in blks:
                x = b(x, H, W)
            x = norm(x).reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            feats.append(x)
        h, w = feats[0].shape[2:]
        outs = []
        for f, lin in zip(feats[::-1], self.linear_c[::-1]):
            n, _, fh, fw = f.shape
            y = lin(f.flatten(2).transpose(1, 2)).permute(0, 2, 1).reshape(n, -1, fh, fw)
            if (fh, fw) != (h, w):
                y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
            outs.append(y)
        return self.linear_pred(self.linear_fuse(torch.cat(outs, 1)))


# ---------------------------------------------------------------- PoolFormer-S12
class Pooling(nn.Module):
    def __init__(self, pool_size=3):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, 1, pool_size // 2, count_include_pad=False)

    def forward(self, x):
        return self.pool(x) - x


class PoolBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.token_mixer = Pooling()
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, dim * mlp_ratio, 1), nn.GELU(), nn.Conv2d(dim * mlp_ratio, dim, 1))
        self.layer_scale_1 = nn.Parameter(1e-5 * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(1e-5 * torch.ones(dim))

    def forward(self, x):
        x = x + self.layer_scale_1.unsqueeze(-1).unsqueeze(-1) * self.token_mixer(self.norm1(x))
        return x + self.layer_scale_2.unsqueeze(-1).unsqueeze(-1) * self.mlp(self.norm2(x))


class PoolFormerS12(nn.Module):
    def __init__(self, layers=(2, 2, 6, 2), dims=(64, 128, 320, 512)):
        super().__init__()
        net = [nn.Conv2d(3, dims[0], 7, 4, 2)]
        for i in range(4):
            if i > 0:
                net.append(nn.Conv2d(dims[i - 1], dims[i], 3, 2, 1))
            net += [PoolBlock(dims[i]) for _ in range(layers[i])]
        self.network = nn.Sequential(*net)
        self.norm = nn.GroupNorm(1, dims[-1])
        self.head = nn.Linear(dims[-1], 1000)

    def forward(self, x):
        return self.head(self.norm(self.network(x)).mean([-2, -1]))


# ---------------------------------------------------------------- FasterNet-T0
class PartialConv3(nn.Module):
    def __init__(self, dim, n_div=4, forward="split_cat"):
        super().__init__()
        self.dim_conv3 = dim // n_div
        self.dim_untouched = dim - self.dim_conv3
        self.partial_conv3 = nn.Conv2d(self.dim_conv3, self.dim_conv3, 3, 1, 1, bias=False)
        self.mode = forward

    def forward(self, x):
        if self.mode == "slicing":   # the reference's inference form: in-place write into a clone
            x = x.clone()
            x[:, :self.dim_conv3, :, :] = self.partial_conv3(x[:, :self.dim_conv3, :, :])
            return x
        x1, x2 = torch.split(x, [self.dim_conv3, self.dim_untouched], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), 1)


class FasterBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=2.0, act=nn.GELU, mode="split_cat"):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.spatial_mixing = PartialConv3(dim, 4, mode)
        self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act(),
                                 nn.Conv2d(hidden, dim, 1, bias=False))

    def forward(self, x):
        return x + self.mlp(self.spatial_mixing(x))


class FasterNetT0(nn.Module):
    def __init__(self, dim=40, depths=(1, 2, 8, 2), mode="split_cat"):
        super().__init__()
        layers = [nn.Conv2d(3, dim, 4, 4, bias=False), nn.BatchNorm2d(dim)]
        for i, d in enumerate(depths):
            if i > 0:
                layers += [nn.Conv2d(dim, dim * 2, 2, 2, bias=False), nn.BatchNorm2d(dim * 2)]
                dim *= 2
            layers += [FasterBlock(dim, mode=mode) for _ in range(d)]
        self.features = nn.Sequential(*layers)
        self.avgpool_pre_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, 1280, 1, bias=False), nn.GELU())
        self.head = nn.Linear(1280, 1000)

    def forward(self, x):
        return self.head(torch.flatten(self.avgpool_pre_head(self.features(x)), 1))


# ---------------------------------------------------------------- GhostNetV2-1.0
def hard_sigmoid(x):
    return F.relu6(x + 3.0) / 6.0


class GhostSE(nn.Module):
    def __init__(self, c, se_ratio=0.25):
        super().__init__()
        rd = make_div(c * se_ratio, 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(c, rd, 1)
        self.act1 = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(rd, c, 1)

    def forward(self, x):
        s = self.conv_expand(self.act1(self.conv_reduce(self.avg_pool(x))))
        return x * hard_sigmoid(s)


class GhostModuleV2(nn.Module):
    def __init__(self, inp, oup, kernel_size=1, ratio=2, dw_size=3, stride=1, relu=True, mode="original"):
        super().__init__()
        self.mode, self.oup = mode, oup
        init = math.ceil(oup / ratio)
        new = init * (ratio - 1)
        act = (lambda: nn.ReLU(inplace=True)) if relu else nn.Identity
        self.primary_conv = nn.Sequential(nn.Conv2d(inp, init, kernel_size, stride, kernel_size // 2, bias=False),
                                          nn.BatchNorm2d(init), act())
        self.cheap_operation = nn.Sequential(nn.Conv2d(init, new, dw_size, 1, dw_size // 2, groups=init, bias=False),
                                             nn.BatchNorm2d(new), act())
        if mode == "attn":
            self.short_conv = nn.Sequential(
                nn.Conv2d(inp, oup, kernel_size, stride, kernel_size // 2, bias=False), nn.BatchNorm2d(oup),
                nn.Conv2d(oup, oup, (1, 5), 1, (0, 2), groups=oup, bias=False), nn.BatchNorm2d(oup),
                nn.Conv2d(oup, oup, (5, 1), 1, (2, 0), groups=oup, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x):
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        out = torch.cat([x1, x2], dim=1)
        if self.mode == "original":
            return out[:, :self.oup, :, :]
        res = self.short_conv(F.avg_pool2d(x, kernel_size=2, stride=2))
        return out[:, :self.oup, :, :] * F.interpolate(torch.sigmoid(res), size=(out.shape[-2], out.shape[-1]),
                                                        mode="nearest")


class GhostBottleneckV2(nn.Module):
    def __init__(self, cin, mid, cout, k, s, se_ratio, layer_id):
        super().__init__()
        self.stride = s
        self.ghost1 = GhostModuleV2(cin, mid, relu=True, mode="original" if layer_id <= 1 else "attn")
        if s > 1:
            self.conv_dw = nn.Conv2d(mid, mid, k, s, (k - 1) // 2, groups=mid, bias=False)
            self.bn_dw = nn.BatchNorm2d(mid)
        self.se = GhostSE(mid, se_ratio) if se_ratio else None
        self.ghost2 = GhostModuleV2(mid, cout, relu=False, mode="original")
        if cin == cout and s == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cin, k, s, (k - 1) // 2, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        residual = x
        x = self.ghost1(x)
        if self.stride > 1:
            x = self.bn_dw(self.conv_dw(x))
        if self.se is not None:
            x = self.se(x)
        x = self.ghost2(x)
        x += self.shortcut(residual)
        return x


def ghostnetv2_100():
    cfgs = [[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]], [[3, 72, 24, 0, 1]], [[5, 72, 40, 0.25, 2]],
            [[5, 120, 40, 0.25, 1]], [[3, 240, 80, 0, 2]],
            [[3, 200, 80, 0, 1], [3, 184, 80, 0, 1], [3, 184, 80, 0, 1], [3, 480, 112, 0.25, 1],
             [3, 672, 112, 0.25, 1]],
            [[5, 672, 160, 0.25, 2]],
            [[5, 960, 160, 0, 1], [5, 960, 160, 0.25, 1], [5, 960, 160, 0, 1], [5, 960, 160, 0.25, 1]]]
    layers = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)]
    c, layer_id = 16, 0
    for cfg in cfgs:
        stage = []
        for k, e, co, se, s in cfg:
            oc, hid = make_div(co, 4), make_div(e, 4)
            stage.append(GhostBottleneckV2(c, hid, oc, k, s, se, layer_id))
            c = oc
            layer_id += 1
        layers.append(nn.Sequential(*stage))
    layers += [cbn(c, 960, 1), nn.AdaptiveAvgPool2d(1), nn.Conv2d(960, 1280, 1), nn.ReLU(inplace=True),
               nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- MobileViT-XS (256x256)
class MV2(nn.Module):
    def __init__(self, cin, cout, s, e=4):
        super().__init__()
        mid = int(round(cin * e))
        self.use_res = s == 1 and cin == cout
        self.block = nn.Sequential(cbn(cin, mid, 1, act=nn.SiLU), cbn(mid, mid, 3, s, mid, act=nn.SiLU),
                                   cbn(mid, cout, 1, act=None))

    def forward(self, x):
        return x + self.block(x) if self.use_res else self.block(x)


class MHSA(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv_proj(x).reshape(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        return self.out_proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class TransformerLayer(nn.Module):
    def __init__(self, dim, ffn, heads=4):
        super().__init__()
        self.pre_norm_mha = nn.LayerNorm(dim)
        self.mha = MHSA(dim, heads)
        self.pre_norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.SiLU(), nn.Linear(ffn, dim))

    def forward(self, x):
        x = x + self.mha(self.pre_norm_mha(x))
        return x + self.ffn(self.pre_norm_ffn(x))


class MobileViTBlock(nn.Module):
    def __init__(self, cin, dim, ffn, n, patch=2, heads=4):
        super().__init__()
        self.ph = self.pw = patch
        self.local_rep = nn.Sequential(cbn(cin, cin, 3, act=nn.SiLU), nn.Conv2d(cin, dim, 1, bias=False))
        self.global_rep = nn.Sequential(*[TransformerLayer(dim, ffn, heads) for _ in range(n)], nn.LayerNorm(dim))
        self.conv_proj = cbn(dim, cin, 1, act=nn.SiLU)
        self.fusion = cbn(2 * cin, cin, 3, act=nn.SiLU)

    def unfolding(self, fm):
        ph, pw = self.ph, self.pw
        B, C, H, W = fm.shape
        nh, nw = H // ph, W // pw
        x = fm.reshape(B * C * nh, ph, nw, pw).transpose(1, 2)
        x = x.reshape(B, C, nh * nw, ph * pw).transpose(1, 3)
        return x.reshape(B * ph * pw, nh * nw, -1), (B, nh, nw)

    def folding(self, x, info):
        B, nh, nw = info
        ph, pw = self.ph, self.pw
        x = x.contiguous().view(B, ph * pw, nh * nw, -1)
        C = x.shape[-1]
        x = x.transpose(1, 3)
        x = x.reshape(B * C * nh, nw, ph, pw).transpose(1, 2)
        return x.reshape(B, C, nh * ph, nw * pw)

    def forward(self, x):
        res = x
        fm = self.local_rep(x)
        patches, info = self.unfolding(fm)
        fm = self.conv_proj(self.folding(self.global_rep(patches), info))
        return self.fusion(torch.cat((res, fm), 1))


def mobilevit_xs():
    return nn.Sequential(
        cbn(3, 16, 3, 2, act=nn.SiLU),
        MV2(16, 32, 1),
        MV2(32, 48, 2), MV2(48, 48, 1), MV2(48, 48, 1),
        MV2(48, 64, 2), MobileViTBlock(64, 96, 192, 2),
        MV2(64, 80, 2), MobileViTBlock(80, 120, 240, 4),
        MV2(80, 96, 2), MobileViTBlock(96, 144, 288, 3),
        cbn(96, 384, 1, act=nn.SiLU), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(384, 1000))


# ---------------------------------------------------------------- Res2Net-50 26w4s
class Bottle2neck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=26, scale=4, stype="normal"):
        super().__init__()
        width = int(math.floor(planes * (base_width / 64.0)))
        self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.nums = scale - 1
        if stype == "stage":
            self.pool = nn.AvgPool2d(3, stride, 1)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, stride, 1, bias=False) for _ in range(self.nums))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(self.nums))
        self.conv3 = nn.Conv2d(width * scale, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample, self.stype, self.scale, self.width = downsample, stype, scale, width

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        spx = torch.split(out, self.width, 1)
        for i in range(self.nums):
            sp = spx[i] if i == 0 or self.stype == "stage" else sp + spx[i]
            sp = self.relu(self.bns[i](self.convs[i](sp)))
            out = sp if i == 0 else torch.cat((out, sp), 1)
        if self.stype == "normal":
            out = torch.cat((out, spx[self.nums]), 1)
        else:
            out = torch.cat((out, self.pool(spx[self.nums])), 1)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        return self.relu(out + residual)


def res2net50_26w4s():
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for planes, n, s in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        ds = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, s, bias=False), nn.BatchNorm2d(planes * 4))
        layers.append(Bottle2neck(inplanes, planes, s, ds, stype="stage"))
        inplanes = planes * 4
        layers += [Bottle2neck(inplanes, planes) for _ in range(1, n)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- SK-ResNet-18 (timm: split input, 3x3 + dilated 3x3)
class SKAttn(nn.Module):
    def __init__(self, c, num_paths=2, attn_c=32):
        super().__init__()
        self.num_paths = num_paths
        self.fc_reduce = nn.Conv2d(c, attn_c, 1, bias=False)
        self.bn = nn.BatchNorm2d(attn_c)
        self.act = nn.ReLU(inplace=True)
        self.fc_select = nn.Conv2d(attn_c, c * num_paths, 1, bias=False)

    def forward(self, x):
        x = x.sum(1).mean((2, 3), keepdim=True)
        x = self.fc_select(self.act(self.bn(self.fc_reduce(x))))
        B, C, H, W = x.shape
        x = x.view(B, self.num_paths, C // self.num_paths, H, W)
        return torch.softmax(x, dim=1)


class SelectiveKernel(nn.Module):
    def __init__(self, cin, cout, stride=1, rd_ratio=1 / 8, rd_divisor=16, split_input=True):
        super().__init__()
        self.num_paths, self.split_input, self.cin = 2, split_input, cin
        pin = cin // 2 if split_input else cin
        self.paths = nn.ModuleList(cbn(pin, cout, 3, stride, d=d) for d in (1, 2))
        self.attn = SKAttn(cout, 2, make_div(cout * rd_ratio, rd_divisor))

    def forward(self, x):
        if self.split_input:
            xs = torch.split(x, self.cin // self.num_paths, 1)
            paths = [op(xs[i]) for i, op in enumerate(self.paths)]
        else:
            paths = [op(x) for op in self.paths]
        x = torch.stack(paths, dim=1)
        x = x * self.attn(x)
        return torch.sum(x, dim=1)


class SKBasic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = SelectiveKernel(cin, cout, stride)
        self.conv2 = cbn(cout, cout, 3, act=None)
        self.downsample = cbn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        sc = x if self.downsample is None else self.downsample(x)
        return self.act(self.conv2(self.conv1(x)) + sc)


def sk_resnet18():
    layers = [cbn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for w, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [SKBasic(c, w, s), SKBasic(w, w, 1)]
        c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- PSPNet-R18 (dilated ResNet-18-V1c, OS 8)
class BasicBlockD(nn.Module):
    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__()
        self.conv1 = cbn(cin, cout, 3, stride, d=dilation)
        self.conv2 = cbn(cout, cout, 3, d=dilation, act=None)
        self.downsample = cbn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None

    def forward(self, x):
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv2(self.conv1(x)) + sc)


def resnet18_layers(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1), deep_stem=False):
    if deep_stem:
        stem = [cbn(3, 32, 3, 2), cbn(32, 32, 3), cbn(32, 64, 3), nn.MaxPool2d(3, 2, 1)]
    else:
        stem = [cbn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    stages, c = [], 64
    for w, s, d in zip((64, 128, 256, 512), strides, dilations):
        stages.append(nn.Sequential(BasicBlockD(c, w, s, d), BasicBlockD(w, w, 1, d)))
        c = w
    return nn.Sequential(*stem), stages


class PSPNetR18(nn.Module):
    def __init__(self, num_classes=19, channels=128, bins=(1, 2, 3, 6)):
        super().__init__()
        stem, stages = resnet18_layers((1, 2, 1, 1), (1, 1, 2, 4), deep_stem=True)
        self.backbone = nn.Sequential(stem, *stages)
        self.ppm = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), cbn(512, channels, 1)) for b in bins)
        self.bottleneck = cbn(512 + len(bins) * channels, channels, 3)
        self.cls = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x):
        size = x.shape[2:]
        f = self.backbone(x)
        outs = [f] + [F.interpolate(p(f), size=f.shape[2:], mode="bilinear", align_corners=True) for p in self.ppm]
        y = self.cls(self.bottleneck(torch.cat(outs, 1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------- DPN-68 (dual path; the "lite" DPN)
class BnActConv(nn.Module):
    def __init__(self, cin, cout, k, s=1, g=1):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin, eps=0.001)
        self.act = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False)

    def forward(self, x):
        return self.conv(self.act(self.bn(x)))


class CatBnAct(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=0.001)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        if isinstance(x, tuple):
            x = torch.cat(x, dim=1)
        return self.act(self.bn(x))


class DualPathBlock(nn.Module):
    def __init__(self, cin, n1a, n3b, n1c, inc, groups, block_type="normal"):
        super().__init__()
        self.n1c = n1c
        self.c1x1_w = None
        if block_type in ("proj", "down"):
            self.c1x1_w = BnActConv(cin, n1c + 2 * inc, 1, 2 if block_type == "down" else 1)
        self.c1x1_a = BnActConv(cin, n1a, 1)
        self.c3x3_b = BnActConv(n1a, n3b, 3, 2 if block_type == "down" else 1, groups)
        self.c1x1_c = BnActConv(n3b, n1c + inc, 1)

    def forward(self, x):
        x_in = torch.cat(x, dim=1) if isinstance(x, tuple) else x
        if self.c1x1_w is None:
            x_s1, x_s2 = x
        else:
            x_s = self.c1x1_w(x_in)
            x_s1, x_s2 = x_s[:, :self.n1c, :, :], x_s[:, self.n1c:, :, :]
        x_in = self.c1x1_c(self.c3x3_b(self.c1x1_a(x_in)))
        out1, out2 = x_in[:, :self.n1c, :, :], x_in[:, self.n1c:, :, :]
        return x_s1 + out1, torch.cat([x_s2, out2], dim=1)


def dpn68(k_r=128, groups=32, k_sec=(3, 4, 12, 3), inc_sec=(16, 32, 32, 64), init=10):
    blocks = [nn.Conv2d(3, init, 3, 2, 1, bias=False), nn.BatchNorm2d(init, eps=0.001), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    in_chs = init
    for i, (bw, inc, n) in enumerate(zip((64, 128, 256, 512), inc_sec, k_sec)):
        r = (k_r * bw) // 64
        blocks.append(DualPathBlock(in_chs, r, r, bw, inc, groups, "proj" if i == 0 else "down"))
        in_chs = bw + 3 * inc
        for _ in range(1, n):
            blocks.append(DualPathBlock(in_chs, r, r, bw, inc, groups))
            in_chs += inc
    blocks += [CatBnAct(in_chs), nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_chs, 1000, 1), nn.Flatten()]
    return nn.Sequential(*blocks)


# ---------------------------------------------------------------- EfficientViT-B0 (MIT Han lab)
def evconv(cin, cout, k=1, s=1, g=1, bias=False, norm=True, act=nn.Hardswish):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=bias)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class Res(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def ev_mbconv(cin, cout, s, e, fewer_norm):
    mid = round(cin * e)
    b, n = (True, False) if fewer_norm else (False, True)
    return nn.Sequential(evconv(cin, mid, 1, bias=b, norm=n), evconv(mid, mid, 3, s, mid, bias=b, norm=n),
                         evconv(mid, cout, 1, act=None))


class LiteMLA(nn.Module):
    def __init__(self, cin, cout, dim=16, scales=(5,), eps=1e-15):
        super().__init__()
        heads = cin // dim
        td = heads * dim
        self.dim, self.eps = dim, eps
        self.qkv = nn.Conv2d(cin, 3 * td, 1, bias=False)
        self.aggreg = nn.ModuleList(nn.Sequential(
            nn.Conv2d(3 * td, 3 * td, s, padding=s // 2, groups=3 * td, bias=False),
            nn.Conv2d(3 * td, 3 * td, 1, groups=3 * heads, bias=False)) for s in scales)
        self.proj = evconv(td * (1 + len(scales)), cout, 1, act=None)

    def relu_linear_att(self, qkv):
        B, _, H, W = list(qkv.size())
        qkv = torch.reshape(qkv, (B, -1, 3 * self.dim, H * W))
        q, k, v = qkv[:, :, 0:self.dim], qkv[:, :, self.dim:2 * self.dim], qkv[:, :, 2 * self.dim:]
        q, k = F.relu(q), F.relu(k)
        trans_k = k.transpose(-1, -2)
        v = F.pad(v, (0, 0, 0, 1), mode="constant", value=1)
        out = torch.matmul(torch.matmul(v, trans_k), q)
        out = out[:, :, :-1] / (out[:, :, -1:] + self.eps)
        return torch.reshape(out, (B, -1, H, W))

    def forward(self, x):
        qkv = self.qkv(x)
        qkv = torch.cat([qkv] + [op(qkv) for op in self.aggreg], dim=1)
        return self.proj(self.relu_linear_att(qkv))


def efficientvit_b0(widths=(8, 16, 32, 64, 128), depths=(1, 2, 2, 2, 2), dim=16, e=4):
    layers = [evconv(3, widths[0], 3, 2)]
    for _ in range(depths[0]):   # DSConv, residual
        layers.append(Res(nn.Sequential(evconv(widths[0], widths[0], 3, 1, widths[0]),
                                        evconv(widths[0], widths[0], 1, act=None))))
    c = widths[0]
    for w, d in zip(widths[1:3], depths[1:3]):
        for i in range(d):
            b = ev_mbconv(c, w, 2 if i == 0 else 1, e, False)
            layers.append(Res(b) if i > 0 and c == w else b)
            c = w
    for w, d in zip(widths[3:], depths[3:]):
        layers.append(ev_mbconv(c, w, 2, e, True))
        c = w
        for _ in range(d):
            layers += [Res(LiteMLA(w, w, dim)), Res(ev_mbconv(w, w, 1, e, True))]
    layers += [evconv(c, 1024, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(1024, 1280, bias=False), nn.LayerNorm(1280), nn.Hardswish(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- RepViT-M0.9 (train-time form)
class RepVGGDW(nn.Module):
    def __init__(self, ed):
        super().__init__()
        self.conv = cbn(ed, ed, 3, 1, ed, act=None)
        self.conv1 = cbn(ed, ed, 1, 1, ed, act=None, p=0)

    def forward(self, x):
        return self.conv(x) + self.conv1(x) + x


class RepViTSE(nn.Module):
    def __init__(self, c, ratio=0.25):
        super().__init__()
        rd = make_div(c * ratio, 8)
        self.fc1, self.act, self.fc2 = nn.Conv2d(c, rd, 1), nn.ReLU(), nn.Conv2d(rd, c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class RepViTBlock(nn.Module):
    def __init__(self, inp, hidden, oup, k, s, use_se):
        super().__init__()
        if s == 2:
            self.token_mixer = nn.Sequential(cbn(inp, inp, k, s, inp, act=None),
                                             RepViTSE(inp) if use_se else nn.Identity(), cbn(inp, oup, 1, act=None))
            self.channel_mixer = Res(nn.Sequential(cbn(oup, 2 * oup, 1, act=nn.GELU), cbn(2 * oup, oup, 1, act=None)))
        else:
            self.token_mixer = nn.Sequential(RepVGGDW(inp), RepViTSE(inp) if use_se else nn.Identity())
            self.channel_mixer = Res(nn.Sequential(cbn(inp, hidden, 1, act=nn.GELU), cbn(hidden, oup, 1, act=None)))

    def forward(self, x):
        return self.channel_mixer(self.token_mixer(x))


class RepViTM09(nn.Module):
    def __init__(self):
        super().__init__()
        cfgs = [[3, 2, 48, 1, 1], [3, 2, 48, 0, 1], [3, 2, 48, 0, 1],
                [3, 2, 96, 0, 2], [3, 2, 96, 1, 1], [3, 2, 96, 0, 1], [3, 2, 96, 0, 1],
                [3, 2, 192, 0, 2]] + [[3, 2, 192, (i + 1) % 2, 1] for i in range(14)] + [
                [3, 2, 384, 0, 2], [3, 2, 384, 1, 1], [3, 2, 384, 0, 1]]
        c = 48
        layers = [cbn(3, c // 2, 3, 2, act=nn.GELU), cbn(c // 2, c, 3, 2, act=None)]
        for k, t, co, se, s in cfgs:
            oc, hid = make_div(co, 8), make_div(c * t, 8)
            layers.append(RepViTBlock(c, hid, oc, k, s, se))
            c = oc
        self.features = nn.Sequential(*layers)
        self.head_bn = nn.BatchNorm1d(c)
        self.head = nn.Linear(c, 1000)

    def forward(self, x):
        return self.head(self.head_bn(self.features(x).mean((2, 3))))


# ---------------------------------------------------------------- InceptionNeXt-atto
class InceptionDWConv2d(nn.Module):
    def __init__(self, c, square=3, band=9, branch_ratio=0.25):
        super().__init__()
        gc = int(c * branch_ratio)
        self.dwconv_hw = nn.Conv2d(gc, gc, square, padding=square // 2, groups=gc)
        self.dwconv_w = nn.Conv2d(gc, gc, (1, band), padding=(0, band // 2), groups=gc)
        self.dwconv_h = nn.Conv2d(gc, gc, (band, 1), padding=(band // 2, 0), groups=gc)
        self.split_indexes = (c - 3 * gc, gc, gc, gc)

    def forward(self, x):
        x_id, x_hw, x_w, x_h = torch.split(x, self.split_indexes, dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)


class MetaNeXtBlock(nn.Module):
    def __init__(self, dim, mlp_ratio=4):
        super().__init__()
        self.token_mixer = InceptionDWConv2d(dim)
        self.norm = nn.BatchNorm2d(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, dim * mlp_ratio, 1), nn.GELU(), nn.Conv2d(dim * mlp_ratio, dim, 1))
        self.ls = LayerScale(dim, 1e-6)

    def forward(self, x):
        return self.ls(self.mlp(self.norm(self.token_mixer(x)))) + x


class InceptionNeXtAtto(nn.Module):
    def __init__(self, depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), ratios=(4, 4, 4, 3)):
        super().__init__()
        layers = [nn.Conv2d(3, dims[0], 4, 4), nn.BatchNorm2d(dims[0])]
        for i in range(4):
            if i > 0:
                layers += [nn.BatchNorm2d(dims[i - 1]), nn.Conv2d(dims[i - 1], dims[i], 2, 2)]
            layers += [MetaNeXtBlock(dims[i], ratios[i]) for _ in range(depths[i])]
        self.stages = nn.Sequential(*layers)
        d = dims[-1]
        self.head = nn.Sequential(nn.Linear(d, 3 * d), nn.GELU(), nn.LayerNorm(3 * d), nn.Linear(3 * d, 1000))

    def forward(self, x):
        return self.head(self.stages(x).mean((2, 3)))


# ---------------------------------------------------------------- CenterNet-R18 (256x256; three outputs)
class CenterNetR18(nn.Module):
    def __init__(self, num_classes=80, head_conv=64):
        super().__init__()
        stem, stages = resnet18_layers()
        self.backbone = nn.Sequential(stem, *stages)
        deconv, c = [], 512
        for _ in range(3):
            deconv += [nn.ConvTranspose2d(c, 256, 4, 2, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
            c = 256
        self.deconv = nn.Sequential(*deconv)
        self.hm, self.wh, self.reg = (nn.Sequential(nn.Conv2d(256, head_conv, 3, padding=1), nn.ReLU(inplace=True),
                                                    nn.Conv2d(head_conv, n, 1)) for n in (num_classes, 2, 2))

    def forward(self, x):
        f = self.deconv(self.backbone(x))
        heat = self.hm(f).sigmoid()
        hmax = F.max_pool2d(heat, 3, 1, 1)
        keep = (hmax == heat).float()
        return heat * keep, self.wh(f), self.reg(f)


# ---------------------------------------------------------------- UNet ending in argmax (+ softmax)
class UNetArgmax(nn.Module):
    def __init__(self, n_classes=5, widths=(16, 32, 64, 128)):
        super().__init__()
        def dc(a, b):
            return nn.Sequential(cbn(a, b, 3), cbn(b, b, 3))
        self.enc = nn.ModuleList()
        c = 3
        for w in widths:
            self.enc.append(dc(c, w))
            c = w
        self.mid = dc(c, 2 * c)
        c = 2 * c
        self.ups, self.dec = nn.ModuleList(), nn.ModuleList()
        for w in widths[::-1]:
            self.ups.append(nn.ConvTranspose2d(c, w, 2, 2))
            self.dec.append(dc(2 * w, w))
            c = w
        self.out = nn.Conv2d(c, n_classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, s in zip(self.ups, self.dec, skips[::-1]):
            x = dec(torch.cat([up(x), s], 1))
        logits = self.out(x)
        return torch.argmax(logits, 1), torch.softmax(logits, 1)


# ---------------------------------------------------------------- LR-ASPP MobileNetV3-Large (256x256)
class V3SE(nn.Module):
    def __init__(self, c, rd):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(c, rd, 1), nn.Conv2d(rd, c, 1)
        self.act, self.scale_activation = nn.ReLU(), nn.Hardsigmoid()

    def forward(self, x):
        return x * self.scale_activation(self.fc2(self.act(self.fc1(self.avgpool(x)))))


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride, dilation):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(cbn(cin, exp, 1, act=act))
        s = 1 if dilation > 1 else stride
        layers.append(cbn(exp, exp, k, s, exp, act=act, d=dilation))
        if se:
            layers.append(V3SE(exp, make_div(exp // 4, 8)))
        layers.append(cbn(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_res else self.block(x)


class LRASPPMobileNetV3(nn.Module):
    def __init__(self, num_classes=21, inter=128):
        super().__init__()
        RE, HS = nn.ReLU, nn.Hardswish
        cfg = [(16, 3, 16, 16, False, RE, 1, 1), (16, 3, 64, 24, False, RE, 2, 1), (24, 3, 72, 24, False, RE, 1, 1),
               (24, 5, 72, 40, True, RE, 2, 1), (40, 5, 120, 40, True, RE, 1, 1), (40, 5, 120, 40, True, RE, 1, 1),
               (40, 3, 240, 80, False, HS, 2, 1), (80, 3, 200, 80, False, HS, 1, 1), (80, 3, 184, 80, False, HS, 1, 1),
               (80, 3, 184, 80, False, HS, 1, 1), (80, 3, 480, 112, True, HS, 1, 1),
               (112, 3, 672, 112, True, HS, 1, 1), (112, 5, 672, 160, True, HS, 2, 2),
               (160, 5, 960, 160, True, HS, 1, 2), (160, 5, 960, 160, True, HS, 1, 2)]
        feats = [cbn(3, 16, 3, 2, act=HS)] + [V3Block(*c) for c in cfg] + [cbn(160, 960, 1, act=HS)]
        self.low = nn.Sequential(*feats[:5])     # features[0..4]: the 40-channel, stride-8 map
        self.high = nn.Sequential(*feats[5:])
        self.cbr = cbn(960, inter, 1)
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(960, inter, 1, bias=False), nn.Sigmoid())
        self.low_classifier = nn.Conv2d(40, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter, num_classes, 1)

    def forward(self, x):
        size = x.shape[-2:]
        low = self.low(x)
        high = self.high(low)
        y = self.cbr(high) * self.scale(high)
        y = F.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.low_classifier(low) + self.high_classifier(y)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- registry
MODELS = {
    "yolov8n": (YOLOv8n, (1, 3, 320, 320)),
    "yolov8n_split": (lambda: YOLOv8n(use_split=True), (1, 3, 320, 320)),
    "segformer_b0": (SegFormerB0, (1, 3, 256, 256)),
    "poolformer_s12": (PoolFormerS12, (1, 3, 224, 224)),
    "fasternet_t0": (FasterNetT0, (1, 3, 224, 224)),
    "fasternet_t0_slicing": (lambda: FasterNetT0(mode="slicing"), (1, 3, 224, 224)),
    "ghostnetv2_100": (ghostnetv2_100, (1, 3, 224, 224)),
    "mobilevit_xs": (mobilevit_xs, (1, 3, 256, 256)),
    "res2net50_26w4s": (res2net50_26w4s, (1, 3, 224, 224)),
    "sk_resnet18": (sk_resnet18, (1, 3, 224, 224)),
    "pspnet_r18": (PSPNetR18, (1, 3, 256, 256)),
    "pspnet_r18_200": (PSPNetR18, (1, 3, 200, 200)),
    "dpn_lite": (dpn68, (1, 3, 224, 224)),
    "efficientvit_b0": (efficientvit_b0, (1, 3, 224, 224)),
    "repvit_m0_9_train": (RepViTM09, (1, 3, 224, 224)),
    "inceptionnext_atto": (InceptionNeXtAtto, (1, 3, 224, 224)),
    "centernet_r18": (CenterNetR18, (1, 3, 256, 256)),
    "unet_argmax": (UNetArgmax, (1, 3, 128, 128)),
    "lraspp_mobilenetv3": (LRASPPMobileNetV3, (1, 3, 256, 256)),
}


def randomize(model, shape, seed=0):
    """Random affine params (BN, LN, GN), layer scales O(0.1-1), BN stats calibrated on noise then
    perturbed; returns model.eval()."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm)) and m.weight is not None:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        for name, p in model.named_parameters():
            if name.endswith("gamma") or "layer_scale" in name:
                p.copy_(0.1 + 0.4 * torch.rand(p.shape, generator=g))
        calibrate_bns(model, bns, shape, g)
    return model.eval()


def build(name, seed=0):
    fn, shape = MODELS[name]
    torch.manual_seed(seed)
    model = fn()
    return randomize(model, shape, seed), shape


# bench/bench_models.py's entries (constructor, canonical input (C, H, W), test input): the single-output
# models whose TorchScript ONNX export keeps a dynamic batch; `python bench/adhoc/models_cputime.py
# --heldout4` times them (SegFormer and MobileViT fix the batch in export, PSPNet's bins do not divide
# its map at 256, CenterNet and the UNet have several outputs; GhostNetV2 under the bench's calibration
# (tests/zoo.calibrate) at 224 is ill-conditioned: its last stage's DFC branch reaches 7e4 before the
# sigmoid gate, torch's own float32 output is 3e-3..9e-3 from float64's at a max of 12, and fastnorm's
# (BatchNorm folded) 4-6x that, over bench_models' check; tests/test_zoo_heldout4.py checks it at 64x64)
HELDOUT4 = {name: (fn, tuple(shape[1:]), (3, 64, 64)) for name, (fn, shape) in MODELS.items()
            if name in ("yolov8n", "poolformer_s12", "fasternet_t0", "res2net50_26w4s",
                        "sk_resnet18", "dpn_lite", "efficientvit_b0", "repvit_m0_9_train", "inceptionnext_atto",
                        "lraspp_mobilenetv3")}
