"""Issue 12's zoo of split / slice / transpose / reduction architectures, small and in plain PyTorch:
GhostNet (split-free ghost module: cat then slice), CSPNet (channel split), DPN (slices + add/cat),
MixNet (mixed kernels via split), ReXNet (partial-channel residual via slice), Res2Net (split into
scales), SKNet (softmax over branches), ECA (Conv1d over the pooled channels), ShuffleNet (the
view -> transpose -> view channel shuffle, chunk). Each family is a few blocks at 16-64 channels,
with BatchNorm statistics randomised so folding is exercised.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=1, s=1, g=1, act=True, d=1):
    layers = [nn.Conv2d(cin, cout, k, s, d * (k // 2), dilation=d, groups=g, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Ghost(nn.Module):
    """GhostNet's module: a primary 1x1 conv, cheap depthwise 'ghost' features, cat, keep oup channels."""
    def __init__(self, cin, oup, relu=True):
        super().__init__()
        self.oup = oup
        init = math.ceil(oup / 2)
        self.primary = conv_bn(cin, init, 1, act=relu)
        self.cheap = conv_bn(init, init, 3, g=init, act=relu)

    def forward(self, x):
        x1 = self.primary(x)
        x2 = self.cheap(x1)
        return torch.cat([x1, x2], dim=1)[:, :self.oup]


class GhostNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2)
        self.g1, self.g2 = Ghost(16, 24), Ghost(24, 16, relu=False)
        self.g3, self.g4 = Ghost(16, 40), Ghost(40, 16, relu=False)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.g2(self.g1(x))
        x = x + self.g4(self.g3(x))
        return self.head(x)


class CSPStage(nn.Module):
    """CSPNet: half the channels go through the blocks, half bypass them; cat; a 1x1 transition."""
    def __init__(self, c, blocks=2):
        super().__init__()
        h = c // 2
        self.blocks = nn.ModuleList(nn.Sequential(conv_bn(h, h, 1), conv_bn(h, h, 3, act=False))
                                    for _ in range(blocks))
        self.trans = conv_bn(h, h, 1)
        self.out = conv_bn(c, c, 1)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        for blk in self.blocks:
            b = F.relu(b + blk(b))
        return self.out(torch.cat([a, self.trans(b)], dim=1))


class CSPNet(nn.Module):
    def __init__(self, c=32):
        super().__init__()
        self.stem = conv_bn(3, c, 3, 2)
        self.s1 = CSPStage(c)
        self.down = conv_bn(c, 2 * c, 3, 2)
        self.s2 = CSPStage(2 * c)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * c, 10))

    def forward(self, x):
        return self.head(self.s2(self.down(self.s1(self.stem(x)))))


class DualPath(nn.Module):
    """DPN: x = (residual part R, dense part D); the block's output splits into R more (added) and inc more
    (concatenated)."""
    def __init__(self, r, d, inc):
        super().__init__()
        self.r = r
        self.body = nn.Sequential(conv_bn(r + d, 32, 1), conv_bn(32, 32, 3, g=4), conv_bn(32, r + inc, 1, act=False))

    def forward(self, x):
        out = self.body(x)
        res = x[:, :self.r] + out[:, :self.r]
        dense = torch.cat([x[:, self.r:], out[:, self.r:]], dim=1)
        return torch.cat([res, dense], dim=1)


class DPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 24, 3, 2)
        self.b1 = DualPath(16, 8, 8)
        self.b2 = DualPath(16, 16, 8)
        self.head = nn.Sequential(nn.BatchNorm2d(40), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(40, 10))

    def forward(self, x):
        return self.head(self.b2(self.b1(self.stem(x))))


class MixConv(nn.Module):
    """MixNet: channels split into groups, one depthwise kernel size per group, cat."""
    def __init__(self, c, ks=(3, 5, 7)):
        super().__init__()
        self.sizes = [c // len(ks) + (1 if i < c % len(ks) else 0) for i in range(len(ks))]
        self.convs = nn.ModuleList(nn.Conv2d(s, s, k, 1, k // 2, groups=s, bias=False)
                                   for s, k in zip(self.sizes, ks))
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        parts = torch.split(x, self.sizes, dim=1)
        return F.relu(self.bn(torch.cat([conv(parts[i]) for i, conv in enumerate(self.convs)], dim=1)))


class MixNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 20, 3, 2)
        self.expand = conv_bn(20, 40, 1)
        self.mix = MixConv(40)
        self.project = conv_bn(40, 20, 1, act=False)
        self.mix2 = MixConv(20, (3, 5))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(20, 10))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.project(self.mix(self.expand(x)))
        return self.head(self.mix2(x))


class ReXBlock(nn.Module):
    """ReXNet: the residual is added to the first cin channels of a wider output only."""
    def __init__(self, cin, cout):
        super().__init__()
        self.cin = cin
        self.body = nn.Sequential(conv_bn(cin, cin * 3, 1), conv_bn(cin * 3, cin * 3, 3, g=cin * 3),
                                  conv_bn(cin * 3, cout, 1, act=False))

    def forward(self, x):
        out = self.body(x)
        return torch.cat([out[:, 0:self.cin] + x, out[:, self.cin:]], dim=1)


class ReXNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 2)
        self.b1, self.b2 = ReXBlock(16, 27), ReXBlock(27, 38)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(38, 10))

    def forward(self, x):
        return self.head(self.b2(self.b1(self.stem(x))))


class Res2Block(nn.Module):
    """Res2Net: split into `scale` groups; each 3x3 conv takes its group plus the previous output."""
    def __init__(self, c, scale=4):
        super().__init__()
        self.w = c // scale
        self.conv1 = conv_bn(c, c, 1)
        self.convs = nn.ModuleList(conv_bn(self.w, self.w, 3) for _ in range(scale - 1))
        self.conv3 = conv_bn(c, c, 1, act=False)

    def forward(self, x):
        spx = torch.split(self.conv1(x), self.w, 1)
        outs, sp = [], None
        for i, conv in enumerate(self.convs):
            sp = spx[i] if i == 0 else sp + spx[i]
            sp = conv(sp)
            outs.append(sp)
        outs.append(spx[-1])
        return F.relu(self.conv3(torch.cat(outs, 1)) + x)


class Res2Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        self.b1, self.b2 = Res2Block(32), Res2Block(32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.b2(self.b1(self.stem(x))))


class SelectiveKernel(nn.Module):
    """SKNet: two branches (3x3, dilated 3x3), attention = softmax over the branches of a squeezed sum."""
    def __init__(self, c, r=4):
        super().__init__()
        self.paths = nn.ModuleList([conv_bn(c, c, 3), conv_bn(c, c, 3, d=2)])
        self.reduce = conv_bn(c, c // r, 1)
        self.attn = nn.Conv2d(c // r, 2 * c, 1)
        self.c = c

    def forward(self, x):
        paths = [p(x) for p in self.paths]
        x = torch.stack(paths, dim=1)                 # (n, 2, c, h, w)
        s = x.sum(1).mean((2, 3), keepdim=True)       # (n, c, 1, 1)
        a = self.attn(self.reduce(s)).view(x.shape[0], 2, self.c, 1, 1)
        a = torch.softmax(a, dim=1)
        return (x * a).sum(1)


class SKNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        self.sk = SelectiveKernel(32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.sk(self.stem(x)) + 0)


class ECA(nn.Module):
    """ECA attention: a Conv1d over the pooled channel vector."""
    def __init__(self, k=3):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x):
        y = self.pool(x)
        y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        return x * torch.sigmoid(y).expand_as(x)


class ECANet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        self.body = nn.Sequential(conv_bn(32, 32, 3), conv_bn(32, 32, 3, act=False))
        self.eca = ECA(5)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        x = self.stem(x)
        return self.head(F.relu(x + self.eca(self.body(x))))


def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleBlock(nn.Module):
    """ShuffleNetV2's stride-1 unit: chunk, a branch on one half, cat, channel shuffle."""
    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(conv_bn(h, h, 1), conv_bn(h, h, 3, g=h, act=False), conv_bn(h, h, 1))

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((a, self.branch(b)), dim=1), 2)


class ShuffleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        self.b1, self.b2 = ShuffleBlock(32), ShuffleBlock(32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.b2(self.b1(self.stem(x))))


ZOO_SPLIT = {"ghostnet": GhostNet, "cspnet": CSPNet, "dpn": DPN, "mixnet": MixNet, "rexnet": ReXNet,
             "res2net": Res2Net, "sknet": SKNet, "eca": ECANet, "shufflenet": ShuffleNet}


def build(name, seed=0):
    """The family's net in eval mode, random weights and BatchNorm statistics (seeded)."""
    torch.manual_seed(seed)
    net = ZOO_SPLIT[name]()
    g = torch.Generator().manual_seed(seed + 1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return net.eval()


def example_input(batch=2, size=(33, 29), seed=0):
    """An awkward (odd, non-square) input."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *size, generator=g)
