"""A seventh held-out set (session 29): small plain-PyTorch definitions of published CNN-ish architectures none
of fastnorm was tuned on (random init, no torchvision/timm), written by a helper session probing for
failures, chosen for constructs the earlier sets lack:

* channel attention: ECA-Net (a Conv1d over the pooled channel vector by squeeze / transpose / unsqueeze),
  GCNet's global-context block (softmax over HW, matmul, LayerNorm over (C, 1, 1)), FcaNet (adaptive pool
  to 4 x 4, fixed 2-D DCT filters from a buffer, sum over HW), SRM (mean and unbiased std over HW, a (C, 2)
  weighting, BN), SimAM (parameter-free energy), each in a tiny ResNet;
* attention / token mixing: BoTNet (MHSA with 2-D relative position logits: einsum, rel_to_abs by
  new_zeros pad / flatten / reshape / slice, expand; and the same with q @ rel_k.t()), Swin-lite (window
  partition / reverse by view + permute, int() of a shape ratio, torch.roll shifted windows, a mask
  buffer, the relative position bias gathered from a table by an index buffer, patch merging by strided
  slicing, AdaptiveAvgPool1d head; and a variant with a 2-D index and mean pooling), MaxViT-lite (MBConv +
  block and grid attention), CoAtNet-lite (MBConv, then a max-pool-downsampled transformer with 2-D
  relative bias), EdgeNeXt-lite (split depthwise by torch.split of 11 / 11 / 10 channels, cross-covariance
  attention with F.normalize and a learned temperature, a Fourier positional encoding computed from the
  input's shape), a hybrid ViT (cls token expanded and concatenated, learned position embedding, timm's
  Attention on F.scaled_dot_product_attention, layer scale; and mean pooling without the cls token),
  DETR-lite (learned row / column embeddings over arange repeated to the batch, nn.TransformerDecoderLayer
  sequence-first, object queries), MLP-Mixer / ResMLP (Affine layers, token mixing on transposed
  tensors) / gMLP (spatial gating unit as a Conv1d over tokens);
* weights computed from parameters in forward: NFNet-lite (scaled weight standardization by
  F.batch_norm(training=True) over each filter, gamma-scaled activations, alpha / beta residual scales,
  2 * sigmoid SE, skipinit gain), DiracNet (alpha * dirac + beta * normalized W; NCReLU), VanillaNet's
  activation series (a 7 x 7 depthwise F.conv2d on a Parameter after relu, + BN; leaky_relu with a learned
  slope; VanillaNetLite(deploy=True) is the fused form), SN-GAN discriminator (spectral norm through the
  old hook and through parametrizations, eval mode), ProGAN discriminator (equalized learning rate;
  minibatch standard deviation over the whole batch), anti-aliased CNN (BlurPool: reflect pad (1, 2, 1, 2)
  and a buffer filter by F.conv2d, groups = C; FReLU = max(x, BN(dw(x))));
* multi-branch / shuffle / segmentation nets: ParNet (SSE, RepVGG-style branches, fusion by BN + cat +
  channel shuffle + grouped strided conv), ShuffleNetV1 (grouped 1x1 + channel shuffle, avg pool shortcut
  concatenated), IGCV3 (defined; left out of MODELS for time), ACNet (3x3 + 1x3 + 3x1 branches, each with
  a BN, summed), RepLKNet-lite (13 x 13 depthwise beside 3 x 3 on an 8 x 8 map), SqueezeNext (1x3 / 3x1),
  Lite-HRNet (cross-resolution weighting: adaptive pools to the smallest branch, split, nearest back),
  BiSeNetV2 (detail / semantic branches, gather-and-expand, context embedding, bilateral guided
  aggregation, two outputs), STDC (cat of progressively halved convs, attention refinement, F.avg_pool2d by
  the map's own size), SCNet (self-calibrated conv on a 37 x 29 input), Attention U-Net (attention gates);
* glue: the Temporal Shift Module (the official zeros_like + slice-assignment shift, and mmaction2's
  x - x blanks + cat; frames folded into the batch), PixelUnshuffle / PixelShuffle pairs (factors 2 and 3),
  a cosine classifier head (F.normalize of features and of a weight Parameter; two outputs), a topk head,
  an argmax head (an int64 output), split / chunk / narrow / strided-channel / unbind glue,
  torch.tensor_split, a 1x1-pixel input, an odd 37 x 29 input with channels 5 / 7 / 13, and a two-image
  siamese net (two inputs, a (B,) cosine similarity output).

build(name) -> (model in eval mode with realistic randomized normalization statistics, input shape); a
model with two inputs has a tuple of two shapes (MULTI_INPUT).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo_heldout3 import LayerNormCF, cbn
from zoo_heldout5 import ScaledStdConv2d   # timm's, the weight standardized in forward


def channel_shuffle(x, g):
    b, c, h, w = x.shape
    return x.view(b, g, c // g, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def make_resnet_lite(block_fn, widths=(16, 32, 48), nc=10):
    """A tiny ResNet around an attention module: block_fn(c) -> module applied to each block's residual
    (block_fn a list: one per block)."""

    fns = list(block_fn) if isinstance(block_fn, (list, tuple)) else [block_fn] * len(widths)

    class Block(nn.Module):
        def __init__(self, cin, cout, s, block_fn):
            super().__init__()
            self.conv1 = cbn(cin, cout, 3, s)
            self.conv2 = cbn(cout, cout, 3, act=None)
            self.att = block_fn(cout)
            self.down = cbn(cin, cout, 1, s, act=None) if (s != 1 or cin != cout) else None

        def forward(self, x):
            y = self.att(self.conv2(self.conv1(x)))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(cbn(3, widths[0], 3, 2), nn.MaxPool2d(3, 2, 1))
            layers, c = [], widths[0]
            for i, w in enumerate(widths):
                layers.append(Block(c, w, 1 if i == 0 else 2, fns[i]))
                c = w
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(c, nc)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return Net


# ---------------------------------------------------------------- ECA-Net
class ECA(nn.Module):
    """Efficient channel attention: avg pool, Conv1d(1, 1, k) over the channel vector, sigmoid."""

    def __init__(self, c, gamma=2, b=1):
        super().__init__()
        t = int(abs((math.log(c, 2) + b) / gamma))
        k = t if t % 2 else t + 1
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=(k - 1) // 2, bias=False)

    def forward(self, x):
        y = self.avg_pool(x)
        y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        return x * torch.sigmoid(y).expand_as(x)


# ---------------------------------------------------------------- GCNet global context block
class GCBlock(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.conv_mask = nn.Conv2d(c, 1, 1)
        p = max(c // r, 4)
        self.channel_add = nn.Sequential(nn.Conv2d(c, p, 1), nn.LayerNorm([p, 1, 1]), nn.ReLU(inplace=True),
                                         nn.Conv2d(p, c, 1))
        self.channel_mul = nn.Sequential(nn.Conv2d(c, p, 1), nn.LayerNorm([p, 1, 1]), nn.ReLU(inplace=True),
                                         nn.Conv2d(p, c, 1))

    def spatial_pool(self, x):
        b, c, h, w = x.size()
        inp = x.view(b, c, h * w).unsqueeze(1)                      # b, 1, c, hw
        mask = self.conv_mask(x).view(b, 1, h * w)
        mask = F.softmax(mask, dim=2).unsqueeze(-1)                 # b, 1, hw, 1
        return torch.matmul(inp, mask).view(b, c, 1, 1)

    def forward(self, x):
        ctx = self.spatial_pool(x)
        out = x * torch.sigmoid(self.channel_mul(ctx))
        return out + self.channel_add(ctx)


# ---------------------------------------------------------------- BoTNet (MHSA with relative position logits)
def rel_to_abs(x):
    b, h, l, _ = x.shape
    x = torch.cat((x, x.new_zeros((b, h, l, 1))), dim=3)
    flat = x.reshape(b, h, l * 2 * l)
    flat = torch.cat((flat, flat.new_zeros((b, h, l - 1))), dim=2)
    return flat.reshape(b, h, l + 1, 2 * l - 1)[:, :, :l, (l - 1):]


def relative_logits_1d(q, rel_k, einsum=True):
    b, heads, h, w, d = q.shape
    logits = torch.einsum("bhxyd,rd->bhxyr", q, rel_k) if einsum else q @ rel_k.t()
    logits = logits.reshape(b, heads * h, w, 2 * w - 1)
    logits = rel_to_abs(logits).reshape(b, heads, h, w, w)
    return logits.unsqueeze(3).expand(b, heads, h, h, w, w)


class RelPosEmb(nn.Module):
    def __init__(self, fmap, dim_head, einsum=True):
        super().__init__()
        self.fmap, self.einsum = fmap, einsum
        scale = dim_head ** -0.5
        self.rel_height = nn.Parameter(torch.randn(fmap[0] * 2 - 1, dim_head) * scale)
        self.rel_width = nn.Parameter(torch.randn(fmap[1] * 2 - 1, dim_head) * scale)

    def forward(self, q):
        h, w = self.fmap
        b, heads, n, d = q.shape
        q = q.reshape(b, heads, h, w, d)
        lw = relative_logits_1d(q, self.rel_width, self.einsum)                       # b h x i y j
        lw = lw.permute(0, 1, 2, 4, 3, 5).reshape(b, heads, h * w, h * w)
        q = q.permute(0, 1, 3, 2, 4)
        lh = relative_logits_1d(q, self.rel_height, self.einsum)                      # b h x(w) i(w) y(h) j(h)
        lh = lh.permute(0, 1, 4, 2, 5, 3).reshape(b, heads, h * w, h * w)
        return lw + lh


class BoTMHSA(nn.Module):
    def __init__(self, c, fmap, heads=2, einsum=True):
        super().__init__()
        self.heads, self.dh = heads, c // heads
        self.qkv = nn.Conv2d(c, c * 3, 1, bias=False)
        self.pos = RelPosEmb(fmap, self.dh, einsum)
        self.scale = self.dh ** -0.5

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, self.dh, h * w).transpose(-1, -2) for t in (q, k, v))
        q = q * self.scale
        sim = q @ k.transpose(-1, -2) + self.pos(q)
        attn = sim.softmax(dim=-1)
        out = attn @ v                                                   # b heads hw dh
        return out.transpose(-1, -2).reshape(b, c, h, w)


class BoTBlock(nn.Module):
    def __init__(self, cin, c, fmap, s=1, einsum=True):
        super().__init__()
        self.conv1 = cbn(cin, c, 1)
        self.mhsa = BoTMHSA(c, fmap, einsum=einsum)
        self.pool = nn.AvgPool2d(2, 2) if s == 2 else nn.Identity()
        self.bn = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.conv3 = cbn(c, cin, 1, act=None)

    def forward(self, x):
        y = self.conv3(self.bn(self.pool(self.mhsa(self.conv1(x)))))
        sc = F.avg_pool2d(x, 2) if isinstance(self.pool, nn.AvgPool2d) else x
        return F.relu(y + sc)


class BoTNetLite(nn.Module):
    def __init__(self, nc=10, einsum=True):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 4), cbn(16, 32, 3, 2))   # 64 -> 8
        self.bot1 = BoTBlock(32, 16, (8, 8), s=2, einsum=einsum)
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        x = self.bot1(self.stem(x))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- Swin-lite
def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(windows, ws, h, w):
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, heads, official=True):
        super().__init__()
        self.dim, self.ws, self.heads, self.official = dim, ws, heads, official
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(0.2 * torch.randn((2 * ws - 1) * (2 * ws - 1), heads))
        coords = torch.stack(torch.meshgrid([torch.arange(ws), torch.arange(ws)], indexing="ij"))
        cf = torch.flatten(coords, 1)
        rel = (cf[:, :, None] - cf[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += ws - 1
        rel[:, :, 1] += ws - 1
        rel[:, :, 0] *= 2 * ws - 1
        self.register_buffer("relative_position_index", rel.sum(-1))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.official:     # a 1-D index (torch.export: aten.index_select)
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        else:                 # the 2-D index as MaxViT / CoAtNet below (aten.index)
            bias = self.relative_position_bias_table[self.relative_position_index]
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj(x)


class SwinBlock(nn.Module):
    def __init__(self, dim, res, heads, ws=4, shift=0, official=True):
        super().__init__()
        if min(res) <= ws:
            shift, ws = 0, min(res)
        self.res, self.ws, self.shift = res, ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, heads, official)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        if shift > 0:
            h, w = res
            img_mask = torch.zeros((1, h, w, 1))
            cnt = 0
            for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
                    img_mask[:, hs, wsl, :] = cnt
                    cnt += 1
            mw = window_partition(img_mask, ws).view(-1, ws * ws)
            am = mw.unsqueeze(1) - mw.unsqueeze(2)
            am = am.masked_fill(am != 0, float(-100.0)).masked_fill(am == 0, float(0.0))
        else:
            am = None
        self.register_buffer("attn_mask", am)

    def forward(self, x):
        h, w = self.res
        b, l, c = x.shape
        sc = x
        x = self.norm1(x).view(b, h, w, c)
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        xw = window_partition(x, self.ws).view(-1, self.ws * self.ws, c)
        aw = self.attn(xw, mask=self.attn_mask).view(-1, self.ws, self.ws, c)
        x = window_reverse(aw, self.ws, h, w)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = sc + x.view(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, res, dim):
        super().__init__()
        self.res = res
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):
        h, w = self.res
        b, l, c = x.shape
        x = x.view(b, h, w, c)
        x0, x1 = x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :]
        x2, x3 = x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class SwinLite(nn.Module):
    """official: the reference code's 1-D bias index and AdaptiveAvgPool1d head; else a 2-D index and a
    mean over the tokens."""

    def __init__(self, dim=16, nc=10, official=True):
        super().__init__()
        self.official = official
        self.patch = nn.Conv2d(3, dim, 4, 4)
        self.pnorm = nn.LayerNorm(dim)
        self.s1 = nn.Sequential(SwinBlock(dim, (8, 8), 2, 4, 0, official), SwinBlock(dim, (8, 8), 2, 4, 2, official))
        self.merge = PatchMerging((8, 8), dim)
        self.s2 = nn.Sequential(SwinBlock(2 * dim, (4, 4), 4, 4, 0, official),
                                SwinBlock(2 * dim, (4, 4), 4, 4, 2, official))
        self.norm = nn.LayerNorm(2 * dim)
        self.head = nn.Linear(2 * dim, nc)

    def forward(self, x):
        x = self.pnorm(self.patch(x).flatten(2).transpose(1, 2))
        x = self.s2(self.merge(self.s1(x)))
        x = self.norm(x)
        if self.official:
            return self.head(torch.flatten(F.adaptive_avg_pool1d(x.transpose(1, 2), 1), 1))
        return self.head(x.mean(1))


# ---------------------------------------------------------------- MLP-Mixer / ResMLP / gMLP
class MixerBlock(nn.Module):
    def __init__(self, n, dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.tok = nn.Sequential(nn.Linear(n, 2 * n), nn.GELU(), nn.Linear(2 * n, n))
        self.norm2 = nn.LayerNorm(dim)
        self.ch = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.tok(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ch(self.norm2(x))


class MLPMixerLite(nn.Module):
    def __init__(self, dim=24, nc=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.blocks = nn.Sequential(*[MixerBlock(64, dim) for _ in range(2)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, nc)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


class Affine(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.alpha = nn.Parameter(1 + 0.2 * torch.randn(1, 1, dim))
        self.beta = nn.Parameter(0.1 * torch.randn(1, 1, dim))

    def forward(self, x):
        return self.alpha * x + self.beta


class ResMLPBlock(nn.Module):
    def __init__(self, n, dim, init=0.3):
        super().__init__()
        self.norm1, self.norm2 = Affine(dim), Affine(dim)
        self.attn = nn.Linear(n, n)
        self.mlp = nn.Sequential(nn.Linear(dim, 3 * dim), nn.GELU(), nn.Linear(3 * dim, dim))
        self.gamma_1 = nn.Parameter(init * torch.ones(dim))
        self.gamma_2 = nn.Parameter(init * torch.ones(dim))

    def forward(self, x):
        x = x + self.gamma_1 * self.attn(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class ResMLPLite(nn.Module):
    def __init__(self, dim=24, nc=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.blocks = nn.Sequential(*[ResMLPBlock(49, dim) for _ in range(2)])
        self.norm = Affine(dim)
        self.head = nn.Linear(dim, nc)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(x)).mean(dim=1))


class SpatialGatingUnit(nn.Module):
    def __init__(self, dim, n):
        super().__init__()
        self.norm = nn.LayerNorm(dim // 2)
        self.proj = nn.Conv1d(n, n, 1)       # lucidrains' g-mlp: a Conv1d over the tokens as channels

    def forward(self, x):
        u, v = x.chunk(2, dim=-1)
        return u * self.proj(self.norm(v))


class GMLPBlock(nn.Module):
    def __init__(self, dim, n):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, 4 * dim)
        self.sgu = SpatialGatingUnit(4 * dim, n)
        self.proj_out = nn.Linear(2 * dim, dim)

    def forward(self, x):
        return x + self.proj_out(self.sgu(F.gelu(self.proj_in(self.norm(x)))))


class GMLPLite(nn.Module):
    def __init__(self, dim=16, nc=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, 4)
        self.blocks = nn.Sequential(GMLPBlock(dim, 36), GMLPBlock(dim, 36))
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, nc))

    def forward(self, x):
        x = self.blocks(self.stem(x).flatten(2).permute(0, 2, 1))
        return self.head(x.mean(1))


# ---------------------------------------------------------------- VanillaNet (train form and deploy form)
class SeriesAct(nn.ReLU):
    """VanillaNet's activation: relu, then a depthwise (2a+1)x(2a+1) conv by F.conv2d on a Parameter (+ BN
    in the train form, + bias in the deploy form)."""

    def __init__(self, dim, act_num=3, deploy=False):
        super().__init__()
        self.act_num, self.deploy, self.dim = act_num, deploy, dim
        self.weight = nn.Parameter(0.1 * torch.randn(dim, 1, act_num * 2 + 1, act_num * 2 + 1))
        if deploy:
            self.bias = nn.Parameter(0.1 * torch.randn(dim))
        else:
            self.bias = None
            self.bn = nn.BatchNorm2d(dim, eps=1e-6)

    def forward(self, x):
        y = F.conv2d(super().forward(x), self.weight, self.bias, padding=self.act_num, groups=self.dim)
        return y if self.deploy else self.bn(y)


class VanillaBlock(nn.Module):
    def __init__(self, dim, dim_out, stride, deploy, act_learn):
        super().__init__()
        self.deploy, self.act_learn = deploy, act_learn
        if deploy:
            self.conv = nn.Conv2d(dim, dim_out, 1)
        else:
            self.conv1 = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim, eps=1e-6))
            self.conv2 = nn.Sequential(nn.Conv2d(dim, dim_out, 1), nn.BatchNorm2d(dim_out, eps=1e-6))
        self.pool = nn.MaxPool2d(stride) if stride != 1 else nn.Identity()
        self.act = SeriesAct(dim_out, deploy=deploy)

    def forward(self, x):
        if self.deploy:
            x = self.conv(x)
        else:
            x = self.conv2(F.leaky_relu(self.conv1(x), self.act_learn))
        return self.act(self.pool(x))


class VanillaNetLite(nn.Module):
    def __init__(self, deploy=False, dims=(16, 32, 48, 64), strides=(2, 2, 1), nc=10, act_learn=0.3):
        super().__init__()
        self.deploy, self.act_learn = deploy, act_learn
        if deploy:
            self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), SeriesAct(dims[0], deploy=True))
            self.cls = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Dropout(0.1), nn.Conv2d(dims[-1], nc, 1))
        else:
            self.stem1 = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), nn.BatchNorm2d(dims[0], eps=1e-6))
            self.stem2 = nn.Sequential(nn.Conv2d(dims[0], dims[0], 1), nn.BatchNorm2d(dims[0], eps=1e-6),
                                       SeriesAct(dims[0]))
            self.cls1 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Dropout(0.1), nn.Conv2d(dims[-1], nc, 1),
                                      nn.BatchNorm2d(nc, eps=1e-6))
            self.cls2 = nn.Conv2d(nc, nc, 1)
        self.stages = nn.ModuleList(VanillaBlock(dims[i], dims[i + 1], strides[i], deploy, act_learn)
                                    for i in range(len(strides)))

    def forward(self, x):
        if self.deploy:
            x = self.stem(x)
        else:
            x = self.stem2(F.leaky_relu(self.stem1(x), self.act_learn))
        for s in self.stages:
            x = s(x)
        if self.deploy:
            x = self.cls(x)
        else:
            x = self.cls2(F.leaky_relu(self.cls1(x), self.act_learn))
        return x.view(x.size(0), -1)


# ---------------------------------------------------------------- ParNet
class SSE(nn.Module):
    """Skip-squeeze-excitation on the BN'd input."""

    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.se = nn.Conv2d(c, c, 1)

    def forward(self, x):
        x = self.bn(x)
        return x * torch.sigmoid(self.se(F.adaptive_avg_pool2d(x, 1)))


class ParBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = cbn(c, c, 1, act=None)
        self.c3 = cbn(c, c, 3, act=None)
        self.sse = SSE(c)

    def forward(self, x):
        return F.silu(self.c1(x) + self.c3(x) + self.sse(x))


class ParDown(nn.Module):
    def __init__(self, cin, cout, groups=1):
        super().__init__()
        self.pool_branch = nn.Sequential(nn.AvgPool2d(2), cbn(cin, cout, 1, g=groups, act=None))
        self.conv_branch = cbn(cin, cout, 3, 2, g=groups, act=None)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, groups=groups), nn.Sigmoid())

    def forward(self, x):
        return F.silu((self.pool_branch(x) + self.conv_branch(x)) * self.se(x))


class ParFusion(nn.Module):
    def __init__(self, c1, c2, cout):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c1), nn.BatchNorm2d(c2)
        self.down = ParDown(c1 + c2, cout, groups=2)

    def forward(self, a, b):
        x = torch.cat([self.bn1(a), self.bn2(b)], 1)
        return self.down(channel_shuffle(x, 2))


class ParNetLite(nn.Module):
    """Two parallel streams (16 x 16 and 8 x 8) of RepVGG-style + SSE blocks, fused by BN, cat, channel
    shuffle and a grouped strided downsampling block."""

    def __init__(self, nc=10):
        super().__init__()
        self.d1 = ParDown(3, 16)                 # 64 -> 32
        self.d2 = ParDown(16, 24)                # 16
        self.d3 = ParDown(24, 32)                # 8
        self.s1 = ParBlock(24)
        self.s2 = ParBlock(32)
        self.pre = ParDown(24, 24)               # 16 -> 8
        self.fuse = ParFusion(24, 32, 64)        # 8 -> 4
        self.head = nn.Linear(64, nc)

    def forward(self, x):
        x2 = self.d2(self.d1(x))
        x3 = self.d3(x2)
        y = self.fuse(self.pre(self.s1(x2)), F.interpolate(self.s2(x3), size=(8, 8)))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# ---------------------------------------------------------------- NFNet-lite (scaled weight standardization:
# zoo_heldout5.ScaledStdConv2d)
class GammaAct(nn.Module):
    def __init__(self, gamma=1.7139):
        super().__init__()
        self.gamma = gamma

    def forward(self, x):
        return F.relu(x) * self.gamma


class NFSE(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * (2.0 * torch.sigmoid(s))


class NFBlock(nn.Module):
    def __init__(self, cin, cout, s, alpha, beta):
        super().__init__()
        self.alpha, self.beta = alpha, beta
        mid = cout // 2
        self.down = ScaledStdConv2d(cin, cout, 1, s, 0, gamma=1.0) if (s != 1 or cin != cout) else None
        self.conv1 = ScaledStdConv2d(cin, mid, 1, gamma=1.7139)
        self.conv2 = ScaledStdConv2d(mid, mid, 3, s, g=2, gamma=1.7139)
        self.conv3 = ScaledStdConv2d(mid, cout, 1)
        self.act = GammaAct()
        self.se = NFSE(cout)
        self.skipinit_gain = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        out = self.act(x) * self.beta
        sc = x if self.down is None else self.down(out)
        out = self.conv3(self.act(self.conv2(self.act(self.conv1(out)))))
        out = self.se(out) * self.skipinit_gain
        return out * self.alpha + sc


class NFNetLite(nn.Module):
    def __init__(self, nc=10, alpha=0.2):
        super().__init__()
        self.stem = nn.Sequential(ScaledStdConv2d(3, 16, 3, 2), GammaAct(), ScaledStdConv2d(16, 32, 3, 2))
        blocks, c, expected = [], 32, 1.0
        for i, (cout, s) in enumerate(((32, 1), (48, 2), (64, 2))):
            beta = 1.0 / expected
            blocks.append(NFBlock(c, cout, s, alpha, beta))
            expected = 1.0 if s == 2 or c != cout else (expected ** 2 + alpha ** 2) ** 0.5
            c = cout
        self.blocks = nn.Sequential(*blocks)
        self.final = ScaledStdConv2d(c, 96, 1)
        self.fc = nn.Linear(96, nc)

    def forward(self, x):
        x = GammaAct()(self.final(self.blocks(self.stem(x))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- ShuffleNetV1
class ShuffleV1Unit(nn.Module):
    def __init__(self, cin, cout, s, g, first_group=True):
        super().__init__()
        self.s, self.g = s, g
        mid = cout // 4
        out = cout - cin if s == 2 else cout
        g1 = g if first_group else 1
        self.gconv1 = cbn(cin, mid, 1, g=g1)
        self.dw = cbn(mid, mid, 3, s, g=mid, act=None)
        self.gconv2 = cbn(mid, out, 1, g=g, act=None)
        self.shuffle_g = g1

    def forward(self, x):
        y = self.gconv1(x)
        if self.shuffle_g > 1:
            y = channel_shuffle(y, self.shuffle_g)
        y = self.gconv2(self.dw(y))
        if self.s == 2:
            return F.relu(torch.cat([F.avg_pool2d(x, 3, 2, 1), y], 1))
        return F.relu(x + y)


class ShuffleNetV1Lite(nn.Module):
    def __init__(self, g=3, nc=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1))
        self.stages = nn.Sequential(ShuffleV1Unit(24, 60, 2, g, first_group=False), ShuffleV1Unit(60, 60, 1, g),
                                    ShuffleV1Unit(60, 120, 2, g), ShuffleV1Unit(120, 120, 1, g),
                                    ShuffleV1Unit(120, 240, 2, g))
        self.fc = nn.Linear(240, nc)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1))


# ---------------------------------------------------------------- Lite-HRNet (conditional channel weighting)
class CrossResolutionWeighting(nn.Module):
    def __init__(self, channels, r=4):
        super().__init__()
        self.channels = channels
        tot = sum(channels)
        self.conv1 = cbn(tot, tot // r, 1)
        self.conv2 = cbn(tot // r, tot, 1, act=nn.Sigmoid)

    def forward(self, x):
        mini = x[-1].size()[-2:]
        out = [F.adaptive_avg_pool2d(s, mini) for s in x[:-1]] + [x[-1]]
        out = self.conv2(self.conv1(torch.cat(out, dim=1)))
        out = torch.split(out, self.channels, dim=1)
        return [s * F.interpolate(a, size=s.size()[-2:], mode="nearest") for s, a in zip(x, out)]


class SpatialWeighting(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.c1 = nn.Conv2d(c, max(c // r, 2), 1)
        self.c2 = nn.Conv2d(max(c // r, 2), c, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.c2(F.relu(self.c1(F.adaptive_avg_pool2d(x, 1)))))


class ConditionalChannelWeighting(nn.Module):
    def __init__(self, channels):
        super().__init__()
        half = [c // 2 for c in channels]
        self.crw = CrossResolutionWeighting(half)
        self.dw = nn.ModuleList(cbn(c, c, 3, g=c, act=None) for c in half)
        self.sw = nn.ModuleList(SpatialWeighting(c) for c in half)

    def forward(self, x):
        x = [s.chunk(2, dim=1) for s in x]
        x1, x2 = [s[0] for s in x], [s[1] for s in x]
        x2 = self.crw(x2)
        x2 = [sw(dw(s)) for s, dw, sw in zip(x2, self.dw, self.sw)]
        return [channel_shuffle(torch.cat([a, b], 1), 2) for a, b in zip(x1, x2)]


class LiteHRNetLite(nn.Module):
    def __init__(self, nc=6):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 16, 3, g=16, act=None), cbn(16, 16, 1))
        self.trans1 = cbn(16, 32, 3, 2)
        self.trans2 = cbn(32, 64, 3, 2)
        self.ccw2 = ConditionalChannelWeighting([16, 32, 64])
        self.fuse = nn.ModuleList([cbn(32, 16, 1, act=None), cbn(64, 16, 1, act=None)])
        self.head = nn.Conv2d(16, nc, 1)

    def forward(self, x):
        x0 = self.stem(x)                           # 16 x 16
        x1 = self.trans1(x0)                        # 8 x 8
        b2 = self.trans2(x1)                        # 4 x 4
        b0, b1, b2 = self.ccw2([x0, x1, b2])
        y = b0
        for f, b in zip(self.fuse, (b1, b2)):
            y = y + F.interpolate(f(b), size=b0.shape[2:], mode="bilinear", align_corners=False)
        return self.head(F.relu(y))


# ---------------------------------------------------------------- BiSeNetV2
class StemBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = cbn(3, 16, 3, 2)
        self.left = nn.Sequential(cbn(16, 8, 1), cbn(8, 16, 3, 2))
        self.right = nn.MaxPool2d(3, 2, 1, ceil_mode=False)
        self.fuse = cbn(32, 16, 3)

    def forward(self, x):
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], 1))


class CEBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.conv_gap = cbn(c, c, 1)
        self.conv_last = cbn(c, c, 3)

    def forward(self, x):
        feat = self.conv_gap(self.bn(torch.mean(x, dim=(2, 3), keepdim=True)))
        return self.conv_last(feat + x)


class GELayer(nn.Module):
    def __init__(self, cin, cout, e=6, s=1):
        super().__init__()
        mid = cin * e
        self.conv1 = cbn(cin, cin, 3)
        if s == 1:
            self.dw = cbn(cin, mid, 3, g=cin, act=None)
        else:
            self.dw = nn.Sequential(cbn(cin, mid, 3, 2, g=cin, act=None), cbn(mid, mid, 3, g=mid, act=None))
        self.conv2 = cbn(mid, cout, 1, act=None)
        self.sc = None if s == 1 and cin == cout else nn.Sequential(cbn(cin, cin, 3, s, g=cin, act=None),
                                                                    cbn(cin, cout, 1, act=None))

    def forward(self, x):
        y = self.conv2(self.dw(self.conv1(x)))
        return F.relu(y + (x if self.sc is None else self.sc(x)))


class BGALayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.left1 = nn.Sequential(cbn(c, c, 3, g=c, act=None), nn.Conv2d(c, c, 1, bias=False))
        self.left2 = nn.Sequential(cbn(c, c, 3, 2, act=None), nn.AvgPool2d(3, 2, 1, ceil_mode=False))
        self.right1 = cbn(c, c, 3, act=None)
        self.right2 = nn.Sequential(cbn(c, c, 3, g=c, act=None), nn.Conv2d(c, c, 1, bias=False))
        self.up1 = nn.Upsample(scale_factor=4)
        self.up2 = nn.Upsample(scale_factor=4)
        self.conv = cbn(c, c, 3)

    def forward(self, d, s):
        l1, l2 = self.left1(d), self.left2(d)
        r1, r2 = self.right1(s), self.right2(s)
        left = l1 * torch.sigmoid(self.up1(r1))
        right = self.up2(l2 * torch.sigmoid(r2))
        return self.conv(left + right)


class BiSeNetV2Lite(nn.Module):
    def __init__(self, nc=5):
        super().__init__()
        self.detail = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 16, 3, 2), cbn(16, 32, 3, 2), cbn(32, 32, 3))
        self.stem = StemBlock()                       # 1/4
        self.s3 = GELayer(16, 24, s=2)                                        # 1/8
        self.s4 = GELayer(24, 32, s=2)                                        # 1/16
        self.s5 = nn.Sequential(GELayer(32, 32, s=2), GELayer(32, 32), CEBlock(32))   # 1/32
        self.bga = BGALayer(32)
        self.head = nn.Sequential(cbn(32, 32, 3), nn.Dropout(0.1), nn.Conv2d(32, nc, 1))
        self.aux = nn.Sequential(cbn(24, 16, 3), nn.Conv2d(16, nc, 1))

    def forward(self, x):
        d = self.detail(x)
        s3 = self.s3(self.stem(x))
        s = self.s5(self.s4(s3))
        out = F.interpolate(self.head(self.bga(d, s)), scale_factor=8, mode="bilinear", align_corners=False)
        aux = F.interpolate(self.aux(s3), size=x.shape[2:], mode="bilinear", align_corners=True)
        return out, aux


# ---------------------------------------------------------------- STDC
class CatBottleneck(nn.Module):
    def __init__(self, cin, cout, s=1, n=4):
        super().__init__()
        self.s = s
        self.convs = nn.ModuleList([cbn(cin, cout // 2, 1)])
        if s == 2:
            self.avd = cbn(cout // 2, cout // 2, 3, 2, g=cout // 2, act=None)
            self.skip = nn.AvgPool2d(3, 2, 1)
        c = cout // 2
        for i in range(1, n):
            nxt = c // 2 if i < n - 1 else c
            self.convs.append(cbn(c, nxt, 3))
            c = nxt

    def forward(self, x):
        outs = []
        out1 = self.convs[0](x)
        for i, conv in enumerate(self.convs[1:]):
            if i == 0 and self.s == 2:
                out = conv(self.avd(out1))
            elif i == 0:
                out = conv(out1)
            else:
                out = conv(out)
            outs.append(out)
        if self.s == 2:
            out1 = self.skip(out1)
        return torch.cat([out1] + outs, dim=1)


class ARM(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = cbn(cin, cout, 3)
        self.att = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Sigmoid())

    def forward(self, x):
        f = self.conv(x)
        return f * self.att(F.avg_pool2d(f, f.size()[2:]))


class FFM(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = cbn(cin, cout, 1)
        self.c1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.c2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, a, b):
        f = self.conv(torch.cat([a, b], 1))
        att = torch.sigmoid(self.c2(F.relu(self.c1(F.avg_pool2d(f, f.size()[2:])))))
        return f + f * att


class STDCLite(nn.Module):
    def __init__(self, nc=5):
        super().__init__()
        self.x2 = cbn(3, 16, 3, 2)
        self.x4 = cbn(16, 32, 3, 2)
        self.x8 = nn.Sequential(CatBottleneck(32, 64, 2), CatBottleneck(64, 64))
        self.x16 = CatBottleneck(64, 96, 2)
        self.x32 = CatBottleneck(96, 128, 2)
        self.arm16, self.arm32 = ARM(96, 32), ARM(128, 32)
        self.conv_avg = cbn(128, 32, 1)
        self.head16, self.head32 = cbn(32, 32, 3), cbn(32, 32, 3)
        self.ffm = FFM(64 + 32, 64)
        self.out = nn.Sequential(cbn(64, 32, 3), nn.Conv2d(32, nc, 1))

    def forward(self, x):
        f8 = self.x8(self.x4(self.x2(x)))
        f16 = self.x16(f8)
        f32 = self.x32(f16)
        avg = F.interpolate(self.conv_avg(F.avg_pool2d(f32, f32.size()[2:])), f32.size()[2:], mode="nearest")
        up32 = self.head32(F.interpolate(self.arm32(f32) + avg, f16.size()[2:], mode="nearest"))
        up16 = self.head16(F.interpolate(self.arm16(f16) + up32, f8.size()[2:], mode="nearest"))
        y = self.out(self.ffm(f8, up16))
        return F.interpolate(y, x.size()[2:], mode="bilinear", align_corners=True)


# ---------------------------------------------------------------- SCNet (self-calibrated conv)
class SCConv(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.k2 = nn.Sequential(nn.AvgPool2d(r, r), cbn(c, c, 3, act=None))
        self.k3 = cbn(c, c, 3, act=None)
        self.k4 = cbn(c, c, 3, act=None)

    def forward(self, x):
        out = torch.sigmoid(torch.add(x, F.interpolate(self.k2(x), x.size()[2:])))
        return self.k4(torch.mul(self.k3(x), out))


class SCBottleneck(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.conv1_a = cbn(c, h, 1)
        self.k1 = cbn(h, h, 3)
        self.conv1_b = cbn(c, h, 1)
        self.scconv = SCConv(h)
        self.conv3 = cbn(2 * h, c, 1, act=None)

    def forward(self, x):
        a = self.k1(self.conv1_a(x))
        b = F.relu(self.scconv(self.conv1_b(x)))
        return F.relu(self.conv3(torch.cat([a, b], 1)) + x)


class SCNetLite(nn.Module):
    def __init__(self, nc=7):
        super().__init__()
        self.stem = cbn(3, 24, 3)
        self.b1 = SCBottleneck(24)
        self.down = cbn(24, 32, 3, 2)
        self.b2 = SCBottleneck(32)
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        x = self.b2(self.down(self.b1(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ---------------------------------------------------------------- ACNet (asymmetric convolution blocks)
class ACBlock(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        self.square = nn.Sequential(nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout))
        self.hor = nn.Sequential(nn.Conv2d(cin, cout, (1, 3), s, (0, 1), bias=False), nn.BatchNorm2d(cout))
        self.ver = nn.Sequential(nn.Conv2d(cin, cout, (3, 1), s, (1, 0), bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.square(x) + self.hor(x) + self.ver(x))


class ACNetLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.features = nn.Sequential(ACBlock(3, 16), ACBlock(16, 32, 2), ACBlock(32, 48, 2))
        self.fc = nn.Linear(48, nc)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


# ---------------------------------------------------------------- Attention U-Net
class AttentionGate(nn.Module):
    def __init__(self, fg, fl, fint):
        super().__init__()
        self.w_g = cbn(fg, fint, 1, act=None, bias=True)
        self.w_x = cbn(fl, fint, 1, act=None, bias=True)
        self.psi = cbn(fint, 1, 1, act=nn.Sigmoid, bias=True)

    def forward(self, g, x):
        return x * self.psi(F.relu(self.w_g(g) + self.w_x(x)))


class UpConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2)
        self.conv = cbn(cin, cout, 3, bias=True)

    def forward(self, x):
        return self.conv(self.up(x))


class AttUNetLite(nn.Module):
    def __init__(self, ch=(8, 16, 32), nc=2):
        super().__init__()
        self.enc = nn.ModuleList()
        cin = 3
        for c in ch:
            self.enc.append(nn.Sequential(cbn(cin, c, 3, bias=True), cbn(c, c, 3, bias=True)))
            cin = c
        self.ups, self.atts, self.decs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in range(len(ch) - 1, 0, -1):
            self.ups.append(UpConv(ch[i], ch[i - 1]))
            self.atts.append(AttentionGate(ch[i - 1], ch[i - 1], ch[i - 1] // 2))
            self.decs.append(nn.Sequential(cbn(2 * ch[i - 1], ch[i - 1], 3, bias=True),
                                           cbn(ch[i - 1], ch[i - 1], 3, bias=True)))
        self.out = nn.Conv2d(ch[0], nc, 1)

    def forward(self, x):
        skips = []
        for i, e in enumerate(self.enc):
            x = e(x if i == 0 else F.max_pool2d(x, 2, 2))
            skips.append(x)
        for up, att, dec, s in zip(self.ups, self.atts, self.decs, reversed(skips[:-1])):
            d = up(x)
            x = dec(torch.cat((att(d, s), d), dim=1))
        return self.out(x)


# ---------------------------------------------------------------- EdgeNeXt (SDTA: split depthwise + XCA)
class LayerNormCL(nn.LayerNorm):
    pass


class PositionalEncodingFourier(nn.Module):
    def __init__(self, hidden_dim=8, dim=32, temperature=10000):
        super().__init__()
        self.token_projection = nn.Conv2d(hidden_dim * 2, dim, kernel_size=1)
        self.scale = 2 * math.pi
        self.temperature, self.hidden_dim, self.dim = temperature, hidden_dim, dim

    def forward(self, b, h, w):
        mask = torch.zeros(b, h, w).bool().to(self.token_projection.weight.device)
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        eps = 1e-6
        y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
        x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.hidden_dim, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.hidden_dim)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
        return self.token_projection(pos)


class XCA(nn.Module):
    def __init__(self, dim, heads=2):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(0.5 + torch.rand(heads, 1, 1))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0].transpose(-2, -1), qkv[1].transpose(-2, -1), qkv[2].transpose(-2, -1)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        x = (attn @ v).permute(0, 3, 1, 2).reshape(b, n, c)
        return self.proj(x)


class SDTAEncoder(nn.Module):
    def __init__(self, dim, scales=3, pos=True):
        super().__init__()
        width = max(int(math.ceil(dim / scales)), int(math.floor(dim // scales)))
        self.width = width
        self.nums = 1 if scales == 1 else scales - 1
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, groups=width) for _ in range(self.nums))
        self.pos = PositionalEncodingFourier(dim=dim) if pos else None
        self.norm_xca = nn.LayerNorm(dim, eps=1e-6)
        self.gamma_xca = nn.Parameter(0.5 * torch.ones(dim))
        self.xca = XCA(dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(0.5 * torch.ones(dim))

    def forward(self, x):
        inp = x
        spx = torch.split(x, self.width, 1)
        sp = out = None
        for i in range(self.nums):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = self.convs[i](sp)
            out = sp if i == 0 else torch.cat((out, sp), 1)
        x = torch.cat((out, spx[self.nums]), 1)
        b, c, h, w = x.shape
        x = x.reshape(b, c, h * w).permute(0, 2, 1)
        if self.pos is not None:
            x = x + self.pos(b, h, w).reshape(b, -1, x.shape[1]).permute(0, 2, 1)
        x = x + self.gamma_xca * self.xca(self.norm_xca(x))
        x = x.reshape(b, h, w, c)
        x = self.gamma * self.pw2(F.gelu(self.pw1(self.norm(x))))
        return inp + x.permute(0, 3, 1, 2)


class ConvEncoder(nn.Module):
    def __init__(self, dim, k=5):
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(0.5 * torch.ones(dim))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pw2(F.gelu(self.pw1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class EdgeNeXtLite(nn.Module):
    def __init__(self, dims=(16, 32), nc=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNormCF(dims[0]))
        self.s1 = ConvEncoder(dims[0], 3)
        self.down = nn.Sequential(LayerNormCF(dims[0]), nn.Conv2d(dims[0], dims[1], 2, 2))
        self.s2 = SDTAEncoder(dims[1], 3, pos=True)
        self.norm = nn.LayerNorm(dims[1])
        self.head = nn.Linear(dims[1], nc)

    def forward(self, x):
        x = self.s2(self.down(self.s1(self.stem(x))))
        return self.head(self.norm(x.mean([-2, -1])))


# ---------------------------------------------------------------- MaxViT-lite (MBConv + block / grid attention)
class SE(nn.Module):
    def __init__(self, c, r=4, act=nn.SiLU):
        super().__init__()
        self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, max(c // r, 4), 1), act(),
                                nn.Conv2d(max(c // r, 4), c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x)


class MBConv(nn.Module):
    def __init__(self, cin, cout, s=1, e=4):
        super().__init__()
        mid = cin * e
        self.pre = nn.BatchNorm2d(cin)
        self.body = nn.Sequential(cbn(cin, mid, 1, act=nn.GELU), cbn(mid, mid, 3, s, g=mid, act=nn.GELU), SE(mid),
                                  nn.Conv2d(mid, cout, 1))
        self.sc = None if s == 1 and cin == cout else nn.Sequential(nn.AvgPool2d(s, s) if s > 1 else nn.Identity(),
                                                                    nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        return self.body(self.pre(x)) + (x if self.sc is None else self.sc(x))


class MHSA(nn.Module):
    """Attention over the second-to-last axis of (..., n, c), with an optional 2-D relative position bias."""

    def __init__(self, dim, heads, ws=None):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.scale = (dim // heads) ** -0.5
        if ws is not None:
            self.rel_table = nn.Parameter(0.2 * torch.randn((2 * ws - 1) ** 2, heads))
            c = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
            rel = (c[:, :, None] - c[:, None, :]).permute(1, 2, 0) + ws - 1
            self.register_buffer("rel_index", rel[..., 0] * (2 * ws - 1) + rel[..., 1])
        else:
            self.rel_table = None

    def forward(self, x):
        shp = x.shape
        n, c = shp[-2], shp[-1]
        x = x.reshape(-1, n, c)
        q, k, v = self.qkv(x).reshape(x.shape[0], n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if self.rel_table is not None:
            attn = attn + self.rel_table[self.rel_index].permute(2, 0, 1).unsqueeze(0)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(x.shape[0], n, c)
        return self.proj(out).reshape(shp)


class MaxViTBlock(nn.Module):
    def __init__(self, dim, p=4, heads=2):
        super().__init__()
        self.p = p
        self.mb = MBConv(dim, dim)
        self.n1, self.a1 = nn.LayerNorm(dim), MHSA(dim, heads, ws=p)
        self.n2, self.a2 = nn.LayerNorm(dim), MHSA(dim, heads, ws=p)
        self.m1 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.m2 = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = self.mb(x)
        b, c, h, w = x.shape
        p = self.p
        # block attention: (b, h/p, w/p, p*p, c)
        t = x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, h // p, w // p, p * p, c)
        t = t + self.a1(self.n1(t))
        t = t + self.m1(t)
        x = t.view(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)
        # grid attention: (b, h/p, w/p, p*p, c), the tokens p apart... grid size p
        t = x.view(b, c, p, h // p, p, w // p).permute(0, 3, 5, 2, 4, 1).reshape(b, h // p, w // p, p * p, c)
        t = t + self.a2(self.n2(t))
        t = t + self.m2(t)
        return t.view(b, h // p, w // p, p, p, c).permute(0, 5, 3, 1, 4, 2).reshape(b, c, h, w)


class MaxViTLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2, act=nn.GELU), nn.Conv2d(16, 24, 3, 2, 1))   # 32 -> 8
        self.b1 = MaxViTBlock(24)
        self.head = nn.Sequential(nn.LayerNorm(24), nn.Linear(24, nc))

    def forward(self, x):
        x = self.b1(self.stem(x))
        return self.head(x.mean((2, 3)))


# ---------------------------------------------------------------- CoAtNet-lite
class CoAtTransformer(nn.Module):
    def __init__(self, cin, cout, res, heads=2, down=False):
        super().__init__()
        self.down = down
        self.res = res
        if down:
            self.pool1, self.pool2 = nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, 1)
            self.proj = nn.Conv2d(cin, cout, 1, bias=False)
        self.norm = nn.LayerNorm(cin)
        self.attn = MHSA(cin, heads, ws=res)
        self.attn_out = nn.Linear(cin, cout)
        self.norm2 = nn.LayerNorm(cout)
        self.ff = nn.Sequential(nn.Linear(cout, 2 * cout), nn.GELU(), nn.Linear(2 * cout, cout))

    def forward(self, x):
        if self.down:
            sc = self.proj(self.pool1(x))
            x = self.pool2(x)
        else:
            sc = x
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        t = self.attn_out(self.attn(self.norm(t)))
        x = sc + t.transpose(1, 2).reshape(b, -1, h, w)
        t = x.flatten(2).transpose(1, 2)
        t = t + self.ff(self.norm2(t))
        return t.transpose(1, 2).reshape(b, -1, h, w)


class CoAtNetLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.s0 = nn.Sequential(cbn(3, 16, 3, 2, act=nn.GELU), cbn(16, 16, 3, act=nn.GELU))    # 16
        self.s1 = MBConv(16, 24, s=2)                 # 8
        self.s2 = CoAtTransformer(24, 32, 4, down=True)   # 4
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        x = self.s2(self.s1(self.s0(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ---------------------------------------------------------------- IGCV3
class IGCV3Block(nn.Module):
    def __init__(self, cin, cout, s=1, e=6, g=2):
        super().__init__()
        mid = cin * e
        self.g = g
        self.pw1 = cbn(cin, mid, 1, g=g, act=nn.ReLU6)
        self.dw = cbn(mid, mid, 3, s, g=mid, act=nn.ReLU6)
        self.pw2 = cbn(mid, cout, 1, g=g, act=None)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        y = channel_shuffle(self.pw1(x), self.g)
        y = channel_shuffle(self.pw2(self.dw(y)), self.g)
        return x + y if self.res else y


class IGCV3Lite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.stem = cbn(3, 16, 3, 2, act=nn.ReLU6)
        self.blocks = nn.Sequential(IGCV3Block(16, 16, e=1), IGCV3Block(16, 24, 2), IGCV3Block(24, 24),
                                    IGCV3Block(24, 32, 2))
        self.last = cbn(32, 64, 1, act=nn.ReLU6)
        self.fc = nn.Linear(64, nc)

    def forward(self, x):
        return self.fc(self.last(self.blocks(self.stem(x))).mean((2, 3)))


# ---------------------------------------------------------------- SqueezeNext
class SqNxtUnit(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        r = 0.5 if s == 1 and cin <= cout else 1.0
        if s == 2:
            r = 1
        c1 = int(cin * r)
        self.conv1 = cbn(cin, c1, 1, s)
        self.conv2 = cbn(c1, c1 // 2, 1)
        self.conv3 = nn.Sequential(nn.Conv2d(c1 // 2, c1, (1, 3), 1, (0, 1), bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.conv4 = nn.Sequential(nn.Conv2d(c1, c1, (3, 1), 1, (1, 0), bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.conv5 = cbn(c1, cout, 1)
        self.sc = cbn(cin, cout, 1, s) if s != 1 or cin != cout else None

    def forward(self, x):
        y = self.conv5(self.conv4(self.conv3(self.conv2(self.conv1(x)))))
        return F.relu(y + (x if self.sc is None else self.sc(x)))


class SqueezeNextLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 5, 2, p=2), nn.MaxPool2d(3, 2, ceil_mode=True))
        self.units = nn.Sequential(SqNxtUnit(16, 16), SqNxtUnit(16, 32, 2), SqNxtUnit(32, 48, 2))
        self.last = cbn(48, 64, 1)
        self.fc = nn.Linear(64, nc)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.last(self.units(self.stem(x))), 1).flatten(1))


# ---------------------------------------------------------------- DiracNet
def ncrelu(x):
    return torch.cat([x.clamp(min=0), x.clamp(max=0)], dim=1)


class DiracConv2d(nn.Conv2d):
    """The weight alpha * dirac + beta * normalize(W), computed from parameters in forward."""

    def __init__(self, cin, cout, k, padding=0, bias=True):
        super().__init__(cin, cout, k, padding=padding, bias=bias)
        self.alpha = nn.Parameter(torch.tensor([1.5]))
        self.beta = nn.Parameter(torch.tensor([0.3]))
        self.register_buffer("delta", nn.init.dirac_(torch.empty_like(self.weight)))

    def forward(self, x):
        wn = F.normalize(self.weight.view(self.weight.size(0), -1)).view_as(self.weight)
        w = self.alpha * self.delta + self.beta * wn
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class DiracNetLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        c = 8
        self.stem = cbn(3, c, 3, act=None)
        # each block: NCReLU (2c channels), BN, Dirac conv back to c
        self.blocks = nn.ModuleList(nn.Sequential(nn.BatchNorm2d(2 * c), DiracConv2d(2 * c, c, 3, 1))
                                    for _ in range(6))
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, nc)

    def forward(self, x):
        x = self.stem(x)
        for i, blk in enumerate(self.blocks):
            x = blk(ncrelu(x))
            if i == 1 or i == 3:
                x = F.max_pool2d(x, 2)
        x = F.relu(self.bn(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ---------------------------------------------------------------- Temporal Shift Module
def temporal_shift(x, n_segment, fold_div=4):
    nt, c, h, w = x.size()
    n_batch = nt // n_segment
    x = x.view(n_batch, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]                       # shift left
    out[:, 1:, fold: 2 * fold] = x[:, :-1, fold: 2 * fold]     # shift right
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]                  # not shifted
    return out.view(nt, c, h, w)


def temporal_shift_mmaction(x, n_segment, fold_div=4):
    """mmaction2's TSM shift: blank frames made as x - x, cat along time (written for ONNX export)."""
    nt, c, h, w = x.size()
    x = x.view(-1, n_segment, c, h * w)
    fold = c // fold_div
    left, mid, right = x[:, :, :fold, :], x[:, :, fold:2 * fold, :], x[:, :, 2 * fold:, :]
    blank = (left - left)[:, :1, :, :]
    left = torch.cat((left[:, 1:, :, :], blank), 1)
    blank = (mid - mid)[:, :1, :, :]
    mid = torch.cat((blank, mid[:, :-1, :, :]), 1)
    return torch.cat((left, mid, right), 2).view(nt, c, h, w)


class TSMBlock(nn.Module):
    def __init__(self, c, t, mmaction=False):
        super().__init__()
        self.t, self.shift = t, temporal_shift_mmaction if mmaction else temporal_shift
        self.conv1 = cbn(c, c, 3)
        self.conv2 = cbn(c, c, 3, act=None)

    def forward(self, x):
        return F.relu(x + self.conv2(self.conv1(self.shift(x, self.t))))


class TSMLite(nn.Module):
    """Input (B, T * 3, H, W): T frames folded into the channels, unfolded into the batch for the 2-D net."""

    def __init__(self, t=4, nc=6, mmaction=False):
        super().__init__()
        self.t = t
        self.stem = cbn(3, 16, 3, 2)
        self.blocks = nn.Sequential(TSMBlock(16, t, mmaction))
        self.fc = nn.Linear(16, nc)

    def forward(self, x):
        b, tc, h, w = x.shape
        x = x.view(b * self.t, tc // self.t, h, w)
        x = self.blocks(self.stem(x))
        x = self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
        return x.view(b, self.t, -1).mean(dim=1)


# ---------------------------------------------------------------- SN-GAN discriminator (spectral norm in eval)
class SNDiscBlock(nn.Module):
    def __init__(self, cin, cout, down=True, param=False):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm if param else nn.utils.spectral_norm
        self.c1 = sn(nn.Conv2d(cin, cout, 3, 1, 1))
        self.c2 = sn(nn.Conv2d(cout, cout, 3, 1, 1))
        self.sc = sn(nn.Conv2d(cin, cout, 1))
        self.down = down

    def forward(self, x):
        h = self.c2(F.leaky_relu(self.c1(F.leaky_relu(x, 0.2)), 0.2))
        s = self.sc(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class SNGANDiscLite(nn.Module):
    """param: torch.nn.utils.parametrizations.spectral_norm (else the older hook-based nn.utils.spectral_norm)."""

    def __init__(self, param=False):
        super().__init__()
        self.b1 = SNDiscBlock(3, 16, param=param)
        self.b2 = SNDiscBlock(16, 32, param=param)
        self.b3 = SNDiscBlock(32, 32, down=False, param=param)
        sn = nn.utils.parametrizations.spectral_norm if param else nn.utils.spectral_norm
        self.l = sn(nn.Linear(32, 1))

    def forward(self, x):
        h = F.relu(self.b3(self.b2(self.b1(x))))
        return self.l(torch.sum(h, dim=(2, 3)))


# ---------------------------------------------------------------- PixelUnshuffle / PixelShuffle pairs
class PixelShuffleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.un2 = nn.PixelUnshuffle(2)
        self.c1 = cbn(12, 24, 3)
        self.c2 = cbn(24, 27, 3, act=None)
        self.ps3 = nn.PixelShuffle(3)
        self.c3 = cbn(3, 8, 3, 3, p=0)                   # back to the reduced size
        self.c4 = nn.Conv2d(8, 12, 3, padding=1)
        self.ps2 = nn.PixelShuffle(2)

    def forward(self, x):
        y = self.c2(self.c1(self.un2(x)))                # 18 -> 9, 27 ch
        y = self.ps3(y)                                  # 27 x 9 x 9 -> 3 x 27 x 27
        y = F.pixel_unshuffle(y, 3) + self.c2(self.c1(self.un2(x)))   # 27 x 9 x 9
        z = self.ps2(self.c4(self.c3(self.ps3(y))))      # 27 -> 9 -> 18
        return z + x


# ---------------------------------------------------------------- heads: cosine classifier + topk, argmax
class CosineHeadNet(nn.Module):
    def __init__(self, nc=12, s=16.0):
        super().__init__()
        self.body = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 32, 3, 2), cbn(32, 32, 3, 2))
        self.emb = nn.Linear(32, 24)
        self.bn = nn.BatchNorm1d(24)
        self.w = nn.Parameter(torch.randn(nc, 24))
        self.s = s

    def forward(self, x):
        f = self.bn(self.emb(F.adaptive_avg_pool2d(self.body(x), 1).flatten(1)))
        e = F.normalize(f, dim=1)
        logits = self.s * F.linear(e, F.normalize(self.w, dim=1))
        return e, logits


class TopKHeadNet(nn.Module):
    def __init__(self, nc=12):
        super().__init__()
        self.body = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 32, 3, 2))
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        p = self.fc(self.body(x).mean((2, 3))).softmax(-1)
        return torch.topk(p, 3, dim=1).values


class ArgmaxHeadNet(nn.Module):
    def __init__(self, nc=5):
        super().__init__()
        self.body = nn.Sequential(cbn(3, 16, 3), cbn(16, 16, 3), nn.Conv2d(16, nc, 1))

    def forward(self, x):
        y = self.body(x)
        return y.softmax(1), y.argmax(dim=1)


# ---------------------------------------------------------------- split / chunk / tensor_split / unbind glue
class SplitHeavyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = cbn(3, 15, 3)
        self.a = cbn(3, 6, 3)
        self.b = cbn(5, 6, 3, g=1)
        self.c = cbn(7, 6, 1)
        self.d = cbn(18, 10, 3, 2)
        self.e = cbn(4, 4, 3, g=4, act=None)
        self.f = cbn(10, 9, 1)
        self.fc = nn.Linear(9 + 3, 7)

    def forward(self, x):
        y = self.c0(x)
        a, b, c = torch.split(y, [3, 5, 7], dim=1)
        y = torch.cat([self.a(a), self.b(b), self.c(c)], 1)             # 18
        y = self.d(y)                                                   # 10
        p, q, r = y.chunk(3, dim=1)                                     # 4, 4, 2
        r = torch.cat([r.narrow(2, 7, 6), r[:, :, :7]], dim=2)          # rows 7.., then 0..6
        y = torch.cat([self.e(q), p * torch.sigmoid(q), r], 1)         # 10
        y = self.f(y)
        z = y[:, 1::3]                                                   # channels 1, 4, 7
        z0, z1, z2 = z.unbind(1)
        g = torch.stack([z0.amax((1, 2)), z1.mean((1, 2)), z2.amin((1, 2))], dim=1)
        return self.fc(torch.cat([y.mean((2, 3)), g], 1))


class TensorSplitNet(nn.Module):
    """torch.tensor_split into unequal parts (an odd row count) and a channel list split."""

    def __init__(self):
        super().__init__()
        self.c = cbn(3, 6, 3)
        self.d = cbn(6, 6, 3, act=None)

    def forward(self, x):
        y = self.c(x)
        a, b = torch.tensor_split(y, 2, dim=2)            # 13 rows: 7 + 6
        p, q, r = torch.tensor_split(y, (1, 3), dim=1)    # channels 1 + 2 + 3
        return self.d(torch.cat([b, a], 2)) + torch.cat([r, q, p], 1)


# ---------------------------------------------------------------- 1x1-pixel input, odd sizes
class OnePixelNet(nn.Module):
    def __init__(self, nc=6):
        super().__init__()
        self.body = nn.Sequential(cbn(5, 16, 3), nn.MaxPool2d(3, 2, 1), cbn(16, 16, 3, g=16), cbn(16, 24, 1),
                                  nn.AvgPool2d(3, 1, 1, count_include_pad=False), SE(24))
        self.up = nn.ConvTranspose2d(24, 8, 2, 2)
        self.fc = nn.Linear(24 + 8 * 4, nc)

    def forward(self, x):
        y = self.body(x)
        u = self.up(y)
        return self.fc(torch.cat([y.flatten(1), u.flatten(1)], 1))


class OddSizeNet(nn.Module):
    """37 x 29 input, channels 5 / 7 / 13, strided / ceil-mode / dilated / asymmetric-padded layers, bilinear
    and nearest back to the odd input size."""

    def __init__(self, nc=3):
        super().__init__()
        self.c1 = cbn(5, 7, 3, 2)                                    # 19 x 15
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)               # 9 x 7
        self.c2 = cbn(7, 13, 3, d=2)
        self.c3 = nn.Sequential(nn.ZeroPad2d((0, 1, 1, 0)), cbn(13, 13, 2, 2, p=0, g=13))   # 5 x 4
        self.c4 = cbn(13, 7, 1, act=nn.Hardswish)
        self.avg = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.out = nn.Conv2d(7 + 13 + 7, nc, 3, padding=1)

    def forward(self, x):
        a = self.c1(x)
        b = self.c2(self.pool(a))
        c = self.c4(self.c3(b))
        d = F.interpolate(self.avg(a), size=a.shape[2:], mode="nearest")
        y = torch.cat([a + d, F.interpolate(b, size=a.shape[2:], mode="bilinear", align_corners=True),
                       F.interpolate(c, size=a.shape[2:], mode="bilinear", align_corners=False)], 1)
        return F.interpolate(self.out(y), size=x.shape[2:], mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- two images: siamese change detection
class SiameseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 24, 3), cbn(24, 24, 3, 2))
        self.fuse = cbn(24 * 3, 24, 1)
        self.head = nn.Conv2d(24, 2, 3, padding=1)

    def forward(self, a, b):
        fa, fb = self.enc(a), self.enc(b)
        y = self.head(self.fuse(torch.cat([fa, fb, (fa - fb).abs()], 1)))
        sim = F.cosine_similarity(fa.flatten(1), fb.flatten(1), dim=1)
        return F.interpolate(y, scale_factor=4, mode="bilinear", align_corners=False), sim


# ---------------------------------------------------------------- SimAM / FcaNet / SRM attention
class SimAM(nn.Module):
    """Parameter-free energy attention: (x - mu)^2 over its HW sum, divided, + 0.5, sigmoid gate."""

    def __init__(self, c=None, e_lambda=1e-4):
        super().__init__()
        self.e_lambda = e_lambda

    def forward(self, x):
        b, c, h, w = x.size()
        n = w * h - 1
        d = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = d / (4 * (d.sum(dim=[2, 3], keepdim=True) / n + self.e_lambda)) + 0.5
        return x * torch.sigmoid(y)


class MultiSpectralAttention(nn.Module):
    """FcaNet: adaptive pool to the DCT size, multiply by fixed 2-D DCT filters (a buffer), sum over HW, FC."""

    def __init__(self, c, dct=4, r=4, freqs=((0, 0), (0, 1), (1, 0), (1, 1))):
        super().__init__()
        self.dct = dct
        filt = torch.zeros(c, dct, dct)
        part = c // len(freqs)

        def basis(pos, freq, n):
            v = math.cos(math.pi * freq * (pos + 0.5) / n) / math.sqrt(n)
            return v if freq == 0 else v * math.sqrt(2)
        for i, (u, v) in enumerate(freqs):
            for tx in range(dct):
                for ty in range(dct):
                    filt[i * part:(i + 1) * part, tx, ty] = basis(tx, u, dct) * basis(ty, v, dct)
        self.register_buffer("weight", filt)
        self.fc = nn.Sequential(nn.Linear(c, c // r, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(c // r, c, bias=False), nn.Sigmoid())

    def forward(self, x):
        b, c, h, w = x.shape
        xp = x if (h, w) == (self.dct, self.dct) else F.adaptive_avg_pool2d(x, (self.dct, self.dct))
        y = torch.sum(xp * self.weight, dim=[2, 3])
        return x * self.fc(y).view(b, c, 1, 1)


class SRM(nn.Module):
    """Style-based recalibration: mean and unbiased std over HW, a per-channel (C, 2) weighting, BN, sigmoid."""

    def __init__(self, c):
        super().__init__()
        self.cfc = nn.Parameter(torch.randn(c, 2) * 0.5)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        b, c, _, _ = x.size()
        mean = x.view(b, c, -1).mean(dim=2, keepdim=True)
        std = (x.view(b, c, -1).var(dim=2, keepdim=True) + 1e-5).sqrt()
        t = torch.cat((mean, std), dim=2)
        z = torch.sum(t * self.cfc[None, :, :], dim=2)[:, :, None, None]
        return x * torch.sigmoid(self.bn(z))


# ---------------------------------------------------------------- anti-aliased (BlurPool) net with FReLU
class BlurPool(nn.Module):
    """Zhang's BlurPool: reflect pad (1, 2, 1, 2), a fixed 4x4 binomial filter by F.conv2d on a buffer,
    stride 2, groups = channels."""

    def __init__(self, c, stride=2):
        super().__init__()
        a = torch.tensor([1.0, 3.0, 3.0, 1.0])
        f = a[:, None] * a[None, :]
        self.register_buffer("filt", (f / f.sum())[None, None].repeat(c, 1, 1, 1))
        self.pad = nn.ReflectionPad2d([1, 2, 1, 2])
        self.stride = stride

    def forward(self, x):
        return F.conv2d(self.pad(x), self.filt, stride=self.stride, groups=x.shape[1])


class FReLU(nn.Module):
    """Funnel activation: max(x, BN(depthwise 3x3(x)))."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1, groups=c)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.max(x, self.bn(self.conv(x)))


class AntiAliasedNet(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, act=None), FReLU(16), nn.MaxPool2d(2, 1), BlurPool(16))
        self.c1 = nn.Sequential(cbn(16, 24, 3, act=None), FReLU(24), BlurPool(24))
        self.c2 = nn.Sequential(cbn(24, 32, 3), nn.AvgPool2d(2, 1), BlurPool(32))
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.c2(self.c1(self.stem(x))), 1).flatten(1))


# ---------------------------------------------------------------- RepLKNet-lite (13x13 depthwise + 3x3 branch)
class ReparamLargeKernel(nn.Module):
    def __init__(self, c, k=13, small=3):
        super().__init__()
        self.lk = cbn(c, c, k, g=c, act=None)
        self.sk = cbn(c, c, small, g=c, act=None)

    def forward(self, x):
        return self.lk(x) + self.sk(x)


class RepLKBlock(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.pre = nn.BatchNorm2d(c)
        self.pw1 = cbn(c, c, 1)
        self.lk = ReparamLargeKernel(c, k)
        self.pw2 = cbn(c, c, 1, act=None)
        self.ffn = nn.Sequential(nn.BatchNorm2d(c), cbn(c, 2 * c, 1, act=nn.GELU), cbn(2 * c, c, 1, act=None))

    def forward(self, x):
        x = x + self.pw2(F.relu(self.lk(self.pw1(self.pre(x)))))
        return x + self.ffn(x)


class RepLKNetLite(nn.Module):
    def __init__(self, nc=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2), cbn(16, 16, 3, g=16), cbn(16, 16, 1), cbn(16, 16, 3, 2, g=16))
        self.s1 = RepLKBlock(16, 13)                  # 8 x 8 map, 13 x 13 kernel: wider than the map
        self.t1 = nn.Sequential(cbn(16, 32, 1), cbn(32, 32, 3, 2, g=32))
        self.s2 = RepLKBlock(32, 7)                   # 4 x 4 map, 7 x 7 kernel
        self.fc = nn.Linear(32, nc)

    def forward(self, x):
        return self.fc(self.s2(self.t1(self.s1(self.stem(x)))).mean((2, 3)))


# ---------------------------------------------------------------- hybrid ViT (cls token, pos embed, F.sdpa)
class ViTAttention(nn.Module):
    """timm's Attention with fused_attn: qkv linear, reshape / permute(2, 0, 3, 1, 4), unbind,
    F.scaled_dot_product_attention."""

    def __init__(self, dim, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class ViTBlock(nn.Module):
    def __init__(self, dim, heads=2, ls=0.5):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), ViTAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.ls1 = nn.Parameter(ls * torch.ones(dim))
        self.ls2 = nn.Parameter(ls * torch.ones(dim))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.mlp(self.norm2(x))


class HybridViTLite(nn.Module):
    """R26-ViT-style hybrid: a BN conv stem, 1x1 patch projection, a learned cls token expanded to the batch
    and concatenated before the tokens (cls=True) or mean pooling (cls=False), learned position embedding."""

    def __init__(self, dim=32, nc=10, cls=True):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 16, 3, 2), nn.MaxPool2d(3, 2, 1), cbn(16, 24, 3, 2))   # 32 -> 4
        self.proj = nn.Conv2d(24, dim, 1)
        self.cls = cls
        n = 16 + (1 if cls else 0)
        self.cls_token = nn.Parameter(0.5 * torch.randn(1, 1, dim)) if cls else None
        self.pos_embed = nn.Parameter(0.2 * torch.randn(1, n, dim))
        self.blocks = nn.Sequential(ViTBlock(dim))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, nc)

    def forward(self, x):
        x = self.proj(self.stem(x)).flatten(2).transpose(1, 2)
        if self.cls:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.norm(self.blocks(x + self.pos_embed))
        return self.head(x[:, 0] if self.cls else x.mean(1))


# ---------------------------------------------------------------- DETR-lite (nn.Transformer layers, learned queries)
class DETRLite(nn.Module):
    """A conv backbone, DETR's learned row / column position embedding (nn.Embedding over arange, cat,
    repeated to the batch), an nn.TransformerDecoderLayer (sequence first; no encoder), object queries
    (a learned nn.Embedding weight repeated to the batch, target zeros_like), class and box heads."""

    def __init__(self, d=32, nq=6, nc=4):
        super().__init__()
        self.backbone = nn.Sequential(cbn(3, 16, 3, 4), cbn(16, 32, 3, 2))   # 32 -> 4
        self.input_proj = nn.Conv2d(32, d, 1)
        self.row_embed, self.col_embed = nn.Embedding(8, d // 2), nn.Embedding(8, d // 2)
        self.dec = nn.TransformerDecoderLayer(d, 2, 64, dropout=0.0)
        self.query_embed = nn.Embedding(nq, d)
        self.class_embed = nn.Linear(d, nc + 1)
        self.bbox_embed = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 4))

    def forward(self, x):
        f = self.input_proj(self.backbone(x))
        b, c, h, w = f.shape
        i, j = torch.arange(w, device=x.device), torch.arange(h, device=x.device)
        pos = torch.cat([self.col_embed(i).unsqueeze(0).repeat(h, 1, 1),
                         self.row_embed(j).unsqueeze(1).repeat(1, w, 1)], dim=-1)
        pos = pos.permute(2, 0, 1).unsqueeze(0).repeat(b, 1, 1, 1)
        src = f.flatten(2).permute(2, 0, 1)
        pos = pos.flatten(2).permute(2, 0, 1)
        mem = src
        query = self.query_embed.weight.unsqueeze(1).repeat(1, b, 1)
        hs = self.dec(torch.zeros_like(query) + query, mem + pos).transpose(0, 1)
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid()


# ---------------------------------------------------------------- ProGAN discriminator (minibatch stddev)
class EqualizedConv2d(nn.Module):
    """Equalized learning rate: the weight scaled by a He constant in forward."""

    def __init__(self, cin, cout, k, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(0.1 * torch.randn(cout))
        self.scale = (2 / (cin * k * k)) ** 0.5
        self.padding = padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation: one scalar over the whole batch, repeated as a channel."""

    def forward(self, x):
        b, _, h, w = x.shape
        y = x - x.mean(dim=0, keepdim=True)
        y = torch.sqrt(y.pow(2).mean(dim=0) + 1e-8).mean().view(1, 1, 1, 1)
        return torch.cat([x, y.repeat(b, 1, h, w)], 1)


class ProGANDiscLite(nn.Module):
    def __init__(self):
        super().__init__()
        self.from_rgb = EqualizedConv2d(3, 16, 1)
        self.b1 = nn.Sequential(EqualizedConv2d(16, 16, 3, 1), nn.LeakyReLU(0.2), EqualizedConv2d(16, 32, 3, 1),
                                nn.LeakyReLU(0.2), nn.AvgPool2d(2))
        self.mbstd = MinibatchStd()
        self.final = nn.Sequential(EqualizedConv2d(33, 32, 3, 1), nn.LeakyReLU(0.2), EqualizedConv2d(32, 32, 4),
                                   nn.LeakyReLU(0.2))
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        y = self.b1(F.leaky_relu(self.from_rgb(x), 0.2))
        return self.fc(self.final(self.mbstd(y)).flatten(1))


MODELS = {   # name -> (constructor, input shape without batch; a tuple of shapes for two inputs)
    "eca_resnet_lite": (make_resnet_lite(ECA, (16, 32)), (3, 48, 48)),
    "gcnet_resnet_lite": (make_resnet_lite(GCBlock, (16, 32)), (3, 48, 48)),
    # FcaNet's DCT attention (16 x 16 pooled to 4 x 4), SRM's style pooling, SimAM: one per block
    "fca_srm_simam_resnet_lite": (make_resnet_lite([MultiSpectralAttention, SRM, SimAM]), (3, 64, 64)),
    "antialiased_frelu": (AntiAliasedNet, (3, 32, 32)),
    "replknet_lite": (RepLKNetLite, (3, 32, 32)),
    "botnet_lite": (BoTNetLite, (3, 64, 64)),
    "botnet_matmul": (lambda: BoTNetLite(einsum=False), (3, 64, 64)),
    "swin_lite": (SwinLite, (3, 32, 32)),
    "swin_lite_alt": (lambda: SwinLite(official=False), (3, 32, 32)),
    "mlp_mixer_lite": (MLPMixerLite, (3, 32, 32)),
    "resmlp_lite": (ResMLPLite, (3, 28, 28)),
    "gmlp_lite": (GMLPLite, (3, 24, 24)),
    "vanillanet_train": (lambda: VanillaNetLite(deploy=False), (3, 64, 64)),
    "parnet_lite": (ParNetLite, (3, 64, 64)),
    "nfnet_lite": (NFNetLite, (3, 48, 48)),
    "shufflenet_v1_lite": (ShuffleNetV1Lite, (3, 64, 64)),
    "litehrnet_lite": (LiteHRNetLite, (3, 32, 32)),
    "bisenetv2_lite": (BiSeNetV2Lite, (3, 64, 64)),
    "stdc_lite": (STDCLite, (3, 64, 64)),
    "scnet_lite": (SCNetLite, (3, 37, 29)),
    "acnet_lite": (ACNetLite, (3, 40, 40)),
    "attention_unet_lite": (AttUNetLite, (3, 32, 32)),
    "edgenext_lite": (EdgeNeXtLite, (3, 32, 32)),
    "maxvit_lite": (MaxViTLite, (3, 32, 32)),
    "coatnet_lite": (CoAtNetLite, (3, 32, 32)),
    # "igcv3_lite": (IGCV3Lite, (3, 48, 48)): passed both routes in the probe; left out for time (its
    # grouped 1x1 + channel shuffle is ShuffleNetV1's)
    "squeezenext_lite": (SqueezeNextLite, (3, 64, 64)),
    "diracnet_lite": (DiracNetLite, (3, 32, 32)),
    "tsm_lite": (TSMLite, (12, 32, 32)),
    "tsm_mmaction": (lambda: TSMLite(mmaction=True), (12, 32, 32)),
    "sngan_disc_lite": (SNGANDiscLite, (3, 32, 32)),
    "sngan_disc_param": (lambda: SNGANDiscLite(param=True), (3, 32, 32)),
    "pixelshuffle_pair": (PixelShuffleNet, (3, 18, 18)),
    "cosine_head": (CosineHeadNet, (3, 32, 32)),
    "topk_head": (TopKHeadNet, (3, 16, 16)),
    "argmax_head": (ArgmaxHeadNet, (3, 16, 16)),
    "split_heavy": (SplitHeavyNet, (3, 26, 26)),
    "tensor_split": (TensorSplitNet, (3, 13, 10)),
    "one_pixel": (OnePixelNet, (5, 1, 1)),
    "odd_size": (OddSizeNet, (5, 37, 29)),
    "siamese_two_inputs": (SiameseNet, ((3, 32, 32), (3, 32, 32))),
    "hybrid_vit_cls": (HybridViTLite, (3, 32, 32)),
    "hybrid_vit_avg": (lambda: HybridViTLite(cls=False), (3, 32, 32)),
    "detr_lite": (DETRLite, (3, 32, 32)),
    "progan_disc_lite": (ProGANDiscLite, (3, 8, 8)),
}

MULTI_INPUT = {"siamese_two_inputs"}


def randomize(model, shape, seed=0):
    """Random affine params (BN, GN, LayerNorm, LayerNormCF), BN stats calibrated on noise then perturbed
    (with two inputs, both fed the same-shaped noise); NFNet's skipinit gains made non-zero; spectral-norm
    u / v vectors settled by a few train-mode power iterations; returns model.eval()."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, LayerNormCF)) and getattr(m, "weight", None) is not None:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, NFBlock):
                m.skipinit_gain.fill_(0.5 + float(torch.rand(1, generator=g)))
            if isinstance(m, ScaledStdConv2d):
                m.gain.copy_(0.8 + 0.4 * torch.rand(m.gain.shape, generator=g))
        multi = isinstance(shape[0], tuple)
        if bns:
            for m in bns:
                m.weight.copy_(0.7 + 0.6 * torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for _ in range(2):    # train-mode passes: BN running stats; spectral norm's power iterations
            if multi:
                model(*(torch.randn((4,) + tuple(s), generator=g) for s in shape))
            else:
                model(torch.randn((4,) + tuple(shape), generator=g))
        for m in bns:
            m.running_var.mul_(0.8 + 0.45 * torch.rand(m.running_var.shape, generator=g))
            m.running_mean.add_(0.05 * torch.randn(m.running_mean.shape, generator=g) * m.running_var.sqrt())
            m.momentum = 0.1
    model.eval()
    with torch.no_grad():   # settle the hook-style spectral norm's eval weight attribute
        if multi:
            model(*(torch.zeros((1,) + tuple(s)) for s in shape))
        else:
            model(torch.zeros((1,) + tuple(shape)))
    return model


def build(name, seed=0):
    fn, shape = MODELS[name]
    torch.manual_seed(seed)
    return randomize(fn(), shape, seed), shape


# the image CNNs of the set at 224 x 224, for bench/adhoc/models_cputime.py --heldout7 (bench_models.py's
# ZOO rows: constructor, canonical input, calibration input)
_CANONICAL7 = ("eca_resnet_lite", "gcnet_resnet_lite", "fca_srm_simam_resnet_lite", "antialiased_frelu",
               "replknet_lite", "vanillanet_train", "shufflenet_v1_lite",
               "scnet_lite", "acnet_lite", "attention_unet_lite",
               "squeezenext_lite", "diracnet_lite", "sngan_disc_lite")
HELDOUT7 = {name: ((lambda fn=MODELS[name][0], s=MODELS[name][1]: randomize(fn(), s)), (3, 224, 224), MODELS[name][1])
            for name in _CANONICAL7}
