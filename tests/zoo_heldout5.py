"""A fifth held-out set (session 27): plain-PyTorch definitions of published CNN architectures none of
fastnorm was tuned on (random init, no torchvision/timm), written by a helper session probing for
failures, chosen for constructs the earlier sets lack: ESPCN (pixel shuffle, tanh), an ESRGAN RRDB net
(dense LeakyReLU blocks, residual scaling 0.2, nearest upsample), the CycleGAN ResNet generator (reflection
pad, InstanceNorm without affine, ConvTranspose with output_padding), the pix2pix UNet generator (in-place
LeakyReLU on the skip input, ConvTranspose, BN, tanh), WaveNet (dilated causal Conv1d by left padding,
tanh * sigmoid gates, skip sums) and a TCN (weight-normalized Conv1d, Chomp1d), a Conformer block
(LayerNorm over (B, T, D), pointwise Conv1d, GLU, depthwise Conv1d, BatchNorm1d, Swish, half-step FFNs),
PointNet (T-nets bmm'ing a learned 3x3 / kxk transform, Conv1d 1x1 + BatchNorm1d, global max over points),
M5 (audio: strided Conv1d, MaxPool1d, avg_pool1d head, log_softmax), R(2+1)D (Conv3d, BatchNorm3d,
MaxPool3d), NASNet-A mobile cells (separable convs, AvgPool count_include_pad=False, factorized reduction
with a pad-then-slice shift), BiT ResNetV2 (weight standardization in forward, GroupNorm, pre-activation),
an NFNet-lite (timm's ScaledStdConv2d by F.batch_norm on the weight, scaled GELU, SE with gain 2, skipinit),
AlexNet with LocalResponseNorm, MobileNetV1, EfficientNet-Lite0 (ReLU6, no SE), YOLOv4-tiny (LeakyReLU,
Mish, channel route x[:, c//2:], yolov3-tiny's ZeroPad2d((0,1,0,1)) + MaxPool(2, 1)), BiSeNetV2 (detail and
semantic branches, context embedding, bilateral guided aggregation, bilinear upsample with and without
align_corners), a fast-neural-style transformer (reflection pad, affine InstanceNorm, nearest upsample),
BoTNet-lite (MHSA with timm's relative position logits: pad / flatten / reshape / expand), GCNet (global
context block: softmax over HW, matmul, LayerNorm([C, 1, 1])) and a net of mixed activations (PReLU,
ELU, SELU, CELU, Softplus(beta), Hardsigmoid, GELU(tanh), LogSigmoid, Softsign; Softplus keeps its default
threshold: torch's TorchScript ONNX exporter writes Softplus(beta, threshold) as Mul -> Softplus -> Div and
drops the threshold, which ONNX Runtime computes the same way, 2e-3 from torch past it).

build(name) -> (model in eval mode with realistic randomized normalization statistics, input shape).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo_heldout3 import calibrate_bns, cbn


# ---------------------------------------------------------------- ESPCN (super-resolution x3)
class ESPCN(nn.Module):
    def __init__(self, scale=3, c=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, c * scale * scale, 3, padding=1)
        self.ps = nn.PixelShuffle(scale)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return torch.sigmoid(self.ps(self.conv3(x)))


# ---------------------------------------------------------------- ESRGAN RRDBNet (x4, small)
class RDB5C(nn.Module):
    def __init__(self, nf=16, gc=8):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, 1, 1) for i in range(5))
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x):
        feats = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(self.lrelu(y))
        return y * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf, gc):
        super().__init__()
        self.rdb = nn.Sequential(RDB5C(nf, gc), RDB5C(nf, gc), RDB5C(nf, gc))

    def forward(self, x):
        return self.rdb(x) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, nf=16, nb=2, gc=8):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.hrconv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x):
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.body(fea))
        fea = self.lrelu(self.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))
        fea = self.lrelu(self.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.hrconv(fea)))


# ---------------------------------------------------------------- CycleGAN ResnetGenerator
class ResnetBlockCG(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.Dropout(0.5),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf=16, n_blocks=3):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=True), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1, bias=True), nn.InstanceNorm2d(ngf * m * 2),
                       nn.ReLU(True)]
        layers += [ResnetBlockCG(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1, bias=True),
                       nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


# ---------------------------------------------------------------- pix2pix UnetGenerator
class UnetSkipBlock(nn.Module):
    """junyanz/pytorch-CycleGAN-and-pix2pix: its downrelu is LeakyReLU(0.2, inplace=True) applied to the
    block's input, which the skip concat then reads: torch.cat([x, model(x)]) sees x already activated."""

    def __init__(self, outer, inner, input_nc=None, sub=None, outermost=False, innermost=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer)
        if outermost:
            upconv = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            model = [downconv, sub, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
            model = [downrelu, downconv, downnorm, sub, uprelu, upconv, upnorm]
            if dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


def pix2pix_unet(num_downs=6, ngf=16):
    b = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        b = UnetSkipBlock(ngf * 8, ngf * 8, sub=b, dropout=True)
    b = UnetSkipBlock(ngf * 4, ngf * 8, sub=b)
    b = UnetSkipBlock(ngf * 2, ngf * 4, sub=b)
    b = UnetSkipBlock(ngf, ngf * 2, sub=b)
    return UnetSkipBlock(3, ngf, input_nc=3, sub=b, outermost=True)


# ---------------------------------------------------------------- WaveNet (1-D, causal by left pad)
class CausalConv1d(nn.Module):
    def __init__(self, cin, cout, k, d=1):
        super().__init__()
        self.pad = (k - 1) * d
        self.conv = nn.Conv1d(cin, cout, k, dilation=d)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))


class WaveNetLayer(nn.Module):
    def __init__(self, rc, dc, sc, d):
        super().__init__()
        self.filter = CausalConv1d(rc, dc, 2, d)
        self.gate = CausalConv1d(rc, dc, 2, d)
        self.res = nn.Conv1d(dc, rc, 1)
        self.skip = nn.Conv1d(dc, sc, 1)

    def forward(self, x):
        z = torch.tanh(self.filter(x)) * torch.sigmoid(self.gate(x))
        return x + self.res(z), self.skip(z)


class WaveNet(nn.Module):
    def __init__(self, rc=16, dc=16, sc=32, classes=32, blocks=2, layers=6):
        super().__init__()
        self.start = CausalConv1d(1, rc, 2)
        self.layers = nn.ModuleList(WaveNetLayer(rc, dc, sc, 2 ** i) for _ in range(blocks) for i in range(layers))
        self.end1 = nn.Conv1d(sc, sc, 1)
        self.end2 = nn.Conv1d(sc, classes, 1)

    def forward(self, x):
        x = self.start(x)
        skip = 0
        for layer in self.layers:
            x, s = layer(x)
            skip = skip + s
        return F.log_softmax(self.end2(F.relu(self.end1(F.relu(skip)))), dim=1)


# ---------------------------------------------------------------- TCN (Bai et al. 2018)
class Chomp1d(nn.Module):
    def __init__(self, chomp):
        super().__init__()
        self.chomp = chomp

    def forward(self, x):
        return x[:, :, :-self.chomp].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, cin, cout, k, d):
        super().__init__()
        wn = torch.nn.utils.parametrizations.weight_norm
        p = (k - 1) * d
        self.net = nn.Sequential(wn(nn.Conv1d(cin, cout, k, padding=p, dilation=d)), Chomp1d(p), nn.ReLU(),
                                 nn.Dropout(0.2),
                                 wn(nn.Conv1d(cout, cout, k, padding=p, dilation=d)), Chomp1d(p), nn.ReLU(),
                                 nn.Dropout(0.2))
        self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        out = self.net(x)
        return F.relu(out + (x if self.down is None else self.down(x)))


class TCN(nn.Module):
    def __init__(self, cin=4, channels=(16, 16, 24, 24), k=3, classes=10):
        super().__init__()
        blocks, c = [], cin
        for i, co in enumerate(channels):
            blocks.append(TemporalBlock(c, co, k, 2 ** i))
            c = co
        self.tcn = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.tcn(x)[:, :, -1])


# ---------------------------------------------------------------- Conformer block (no MHSA), (B, T, D)
class ConformerConv(nn.Module):
    def __init__(self, d, k=31):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.pw1 = nn.Conv1d(d, 2 * d, 1)
        self.glu = nn.GLU(dim=1)
        self.dw = nn.Conv1d(d, d, k, padding=k // 2, groups=d)
        self.bn = nn.BatchNorm1d(d)
        self.act = nn.SiLU()
        self.pw2 = nn.Conv1d(d, d, 1)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        y = self.ln(x).transpose(1, 2)
        y = self.glu(self.pw1(y))
        y = self.act(self.bn(self.dw(y)))
        return self.drop(self.pw2(y)).transpose(1, 2)


class FFN(nn.Module):
    def __init__(self, d, e=4):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d * e), nn.SiLU(), nn.Dropout(0.1),
                                 nn.Linear(d * e, d), nn.Dropout(0.1))

    def forward(self, x):
        return self.net(x)


class ConformerLite(nn.Module):
    def __init__(self, d=64, blocks=2):
        super().__init__()
        self.ff1 = nn.ModuleList(FFN(d) for _ in range(blocks))
        self.conv = nn.ModuleList(ConformerConv(d) for _ in range(blocks))
        self.ff2 = nn.ModuleList(FFN(d) for _ in range(blocks))
        self.ln = nn.ModuleList(nn.LayerNorm(d) for _ in range(blocks))

    def forward(self, x):
        for ff1, conv, ff2, ln in zip(self.ff1, self.conv, self.ff2, self.ln):
            x = x + 0.5 * ff1(x)
            x = x + conv(x)
            x = ln(x + 0.5 * ff2(x))
        return x


# ---------------------------------------------------------------- PointNet classifier (3, N)
class STNkd(nn.Module):
    def __init__(self, k=3, w=(32, 64, 128), fc=(64, 32)):
        super().__init__()
        self.k = k
        self.conv1 = nn.Conv1d(k, w[0], 1)
        self.conv2 = nn.Conv1d(w[0], w[1], 1)
        self.conv3 = nn.Conv1d(w[1], w[2], 1)
        self.fc1 = nn.Linear(w[2], fc[0])
        self.fc2 = nn.Linear(fc[0], fc[1])
        self.fc3 = nn.Linear(fc[1], k * k)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(w[0]), nn.BatchNorm1d(w[1]), nn.BatchNorm1d(w[2])
        self.bn4, self.bn5 = nn.BatchNorm1d(fc[0]), nn.BatchNorm1d(fc[1])
        self.w2 = w[2]

    def forward(self, x):
        b = x.size()[0]
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.max(x, 2, keepdim=True)[0]
        x = x.view(-1, self.w2)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.fc2(x)))
        x = self.fc3(x)
        iden = torch.eye(self.k, dtype=x.dtype).view(1, self.k * self.k).repeat(b, 1)
        x = x + iden
        return x.view(-1, self.k, self.k)


class PointNetCls(nn.Module):
    def __init__(self, classes=10, fk=16):
        super().__init__()
        self.stn = STNkd(3)
        self.conv1 = nn.Conv1d(3, fk, 1)
        self.fstn = STNkd(fk)
        self.conv2 = nn.Conv1d(fk, 64, 1)
        self.conv3 = nn.Conv1d(64, 256, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(fk), nn.BatchNorm1d(64), nn.BatchNorm1d(256)
        self.fc1, self.fc2, self.fc3 = nn.Linear(256, 128), nn.Linear(128, 64), nn.Linear(64, classes)
        self.bn4, self.bn5 = nn.BatchNorm1d(128), nn.BatchNorm1d(64)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        trans = self.stn(x)
        x = torch.bmm(x.transpose(2, 1), trans).transpose(2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        trans_feat = self.fstn(x)
        x = torch.bmm(x.transpose(2, 1), trans_feat).transpose(2, 1)
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        x = torch.max(x, 2, keepdim=True)[0].view(-1, 256)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.drop(self.fc2(x))))
        return F.log_softmax(self.fc3(x), dim=1)


# ---------------------------------------------------------------- M5 (audio, raw waveform)
class M5(nn.Module):
    def __init__(self, n_in=1, n_out=12, stride=4, ch=32):
        super().__init__()
        self.conv1 = nn.Conv1d(n_in, ch, 80, stride=stride)
        self.bn1 = nn.BatchNorm1d(ch)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(ch, ch, 3)
        self.bn2 = nn.BatchNorm1d(ch)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(ch, 2 * ch, 3)
        self.bn3 = nn.BatchNorm1d(2 * ch)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * ch, 2 * ch, 3)
        self.bn4 = nn.BatchNorm1d(2 * ch)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * ch, n_out)

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1])
        x = self.fc1(x.permute(0, 2, 1))
        return F.log_softmax(x, dim=2)


# ---------------------------------------------------------------- R(2+1)D (video: Conv3d)
class Conv2Plus1D(nn.Sequential):
    def __init__(self, cin, cout, mid, s=1):
        super().__init__(nn.Conv3d(cin, mid, (1, 3, 3), (1, s, s), (0, 1, 1), bias=False), nn.BatchNorm3d(mid),
                         nn.ReLU(True), nn.Conv3d(mid, cout, (3, 1, 1), (s, 1, 1), (1, 0, 0), bias=False))


class R21DBlock(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        mid = (cin * cout * 27) // (cin * 9 + 3 * cout)
        self.conv1 = nn.Sequential(Conv2Plus1D(cin, cout, mid, s), nn.BatchNorm3d(cout), nn.ReLU(True))
        self.conv2 = nn.Sequential(Conv2Plus1D(cout, cout, mid), nn.BatchNorm3d(cout))
        self.down = (nn.Sequential(nn.Conv3d(cin, cout, 1, s, bias=False), nn.BatchNorm3d(cout))
                     if s != 1 or cin != cout else None)

    def forward(self, x):
        r = x if self.down is None else self.down(x)
        return F.relu(self.conv2(self.conv1(x)) + r)


class R2Plus1D(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 24, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(24),
                                  nn.ReLU(True), nn.Conv3d(24, 32, (3, 1, 1), 1, (1, 0, 0), bias=False),
                                  nn.BatchNorm3d(32), nn.ReLU(True))
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.layer1 = R21DBlock(32, 32)
        self.layer2 = R21DBlock(32, 64, 2)
        self.avg = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.pool(self.stem(x))))
        return self.fc(self.avg(x).flatten(1))


# ---------------------------------------------------------------- NASNet-A mobile (lite)
class SepConv(nn.Sequential):
    def __init__(self, cin, cout, k, s=1):
        super().__init__(nn.Conv2d(cin, cin, k, s, k // 2, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class BranchSep(nn.Module):
    def __init__(self, cin, cout, k, s=1):
        super().__init__()
        self.relu = nn.ReLU()
        self.sep1 = SepConv(cin, cin, k, s)
        self.bn1 = nn.BatchNorm2d(cin, eps=0.001, momentum=0.1)
        self.relu1 = nn.ReLU()
        self.sep2 = SepConv(cin, cout, k, 1)
        self.bn2 = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)

    def forward(self, x):
        x = self.bn1(self.sep1(self.relu(x)))
        return self.bn2(self.sep2(self.relu1(x)))


def relu_conv_bn(cin, cout):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout, eps=0.001))


class FactorizedReduce(nn.Module):
    """NASNet's path for a previous input at twice the resolution: two 1x1 convs on stride-2 samples, the
    second shifted by one pixel (ZeroPad2d((0, 1, 0, 1)) then [:, :, 1:, 1:])."""

    def __init__(self, cin, cout):
        super().__init__()
        self.relu = nn.ReLU()
        self.path1 = nn.Sequential(nn.AvgPool2d(1, 2, count_include_pad=False), nn.Conv2d(cin, cout // 2, 1, bias=False))
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.path2 = nn.Sequential(nn.AvgPool2d(1, 2, count_include_pad=False), nn.Conv2d(cin, cout // 2, 1, bias=False))
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        x = self.relu(x)
        x1 = self.path1(x)
        x2 = self.path2(self.pad(x)[:, :, 1:, 1:])
        return self.bn(torch.cat([x1, x2], 1))


class NormalCell(nn.Module):
    def __init__(self, cprev, cin, c, reduce_prev=False):
        super().__init__()
        self.prev = FactorizedReduce(cprev, c) if reduce_prev else relu_conv_bn(cprev, c)
        self.conv_1x1 = relu_conv_bn(cin, c)
        self.c0l, self.c0r = BranchSep(c, c, 5), BranchSep(c, c, 3)
        self.c1l, self.c1r = BranchSep(c, c, 5), BranchSep(c, c, 3)
        self.avg = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.c4l = BranchSep(c, c, 3)

    def forward(self, x, x_prev):
        x_left = self.prev(x_prev)
        x_right = self.conv_1x1(x)
        c0 = self.c0l(x_right) + self.c0r(x_left)
        c1 = self.c1l(x_left) + self.c1r(x_left)
        c2 = self.avg(x_right) + x_left
        c3 = self.avg(x_left) + self.avg(x_left)
        c4 = self.c4l(x_right) + x_right
        return torch.cat([x_left, c0, c1, c2, c3, c4], 1)


class ReductionCell(nn.Module):
    def __init__(self, cprev, cin, c):
        super().__init__()
        self.prev = relu_conv_bn(cprev, c)
        self.conv_1x1 = relu_conv_bn(cin, c)
        self.c0l, self.c0r = BranchSep(c, c, 5, 2), BranchSep(c, c, 7, 2)
        self.maxp = nn.MaxPool2d(3, 2, 1)
        self.c1r = BranchSep(c, c, 7, 2)
        self.avgp = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.c2r = BranchSep(c, c, 5, 2)
        self.avg1 = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.c4l = BranchSep(c, c, 3)

    def forward(self, x, x_prev):
        x_left = self.prev(x_prev)
        x_right = self.conv_1x1(x)
        c0 = self.c0l(x_right) + self.c0r(x_left)
        c1 = self.maxp(x_right) + self.c1r(x_left)
        c2 = self.avgp(x_right) + self.c2r(x_left)
        c3 = self.avg1(c0) + c1
        c4 = self.c4l(c0) + self.maxp(x_right)
        return torch.cat([c1, c2, c3, c4], 1)


class NASNetALite(nn.Module):
    def __init__(self, c=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16, eps=0.001))
        self.red0 = ReductionCell(16, 16, c)            # 32 -> 16, 4c channels
        self.cell0 = NormalCell(16, 4 * c, c, reduce_prev=True)   # prev at 32x32
        self.cell1 = NormalCell(4 * c, 6 * c, c)
        self.red1 = ReductionCell(6 * c, 6 * c, 2 * c)  # 16 -> 8, 8c channels
        self.cell2 = NormalCell(6 * c, 8 * c, 2 * c, reduce_prev=True)
        self.cell3 = NormalCell(8 * c, 12 * c, 2 * c)
        self.fc = nn.Linear(12 * c, classes)

    def forward(self, x):
        s = self.stem(x)
        r0 = self.red0(s, s)
        c0 = self.cell0(r0, s)
        c1 = self.cell1(c0, r0)
        r1 = self.red1(c1, c1)
        c2 = self.cell2(r1, c1)
        c3 = self.cell3(c2, r1)
        return self.fc(F.adaptive_avg_pool2d(F.relu(c3), 1).flatten(1))


# ---------------------------------------------------------------- BiT ResNetV2 (StdConv + GroupNorm)
class StdConv2d(nn.Conv2d):
    def forward(self, x):
        w = self.weight
        v, m = torch.var_mean(w, dim=[1, 2, 3], keepdim=True, unbiased=False)
        w = (w - m) / torch.sqrt(v + 1e-10)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class PreActBottleneck(nn.Module):
    def __init__(self, cin, cout, cmid, s=1, g=8):
        super().__init__()
        self.gn1 = nn.GroupNorm(g, cin)
        self.conv1 = StdConv2d(cin, cmid, 1, bias=False)
        self.gn2 = nn.GroupNorm(g, cmid)
        self.conv2 = StdConv2d(cmid, cmid, 3, s, 1, bias=False)
        self.gn3 = nn.GroupNorm(g, cmid)
        self.conv3 = StdConv2d(cmid, cout, 1, bias=False)
        self.down = StdConv2d(cin, cout, 1, s, bias=False) if s != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.gn1(x))
        residual = x if self.down is None else self.down(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.gn2(out)))
        out = self.conv3(F.relu(self.gn3(out)))
        return out + residual


class BiTResNetV2(nn.Module):
    def __init__(self, wf=1, classes=10):
        super().__init__()
        w = 16 * wf
        self.root = nn.Sequential(StdConv2d(3, 4 * w, 7, 2, 3, bias=False), nn.ConstantPad2d(1, 0),
                                  nn.MaxPool2d(3, 2, 0))
        blocks, cin = [], 4 * w
        for i, (n, s) in enumerate(((2, 1), (2, 2), (2, 2))):
            cout, cmid = 16 * w * 2 ** i, 4 * w * 2 ** i
            for j in range(n):
                blocks.append(PreActBottleneck(cin, cout, cmid, s if j == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.GroupNorm(8, cin), nn.ReLU(True), nn.AdaptiveAvgPool2d(1),
                                  nn.Conv2d(cin, classes, 1))

    def forward(self, x):
        return self.head(self.body(self.root(x)))[..., 0, 0]


# ---------------------------------------------------------------- NFNet-lite (NF-ResNet style, timm forms)
class ScaledStdConv2d(nn.Conv2d):
    """timm's: the weight standardized by F.batch_norm(training=True) over (1, out, fan_in), times gain * fan_in^-0.5."""

    def __init__(self, cin, cout, k, s=1, p=None, g=1, gamma=1.0, eps=1e-6):
        super().__init__(cin, cout, k, s, k // 2 if p is None else p, groups=g, bias=True)
        self.gain = nn.Parameter(torch.full((cout, 1, 1, 1), 1.0))
        self.scale = gamma * self.weight[0].numel() ** -0.5
        self.eps = eps

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                         weight=(self.gain * self.scale).view(-1), training=True, momentum=0.,
                         eps=self.eps).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class GammaAct(nn.Module):
    def __init__(self, gamma=1.7015043497085571):
        super().__init__()
        self.gamma = gamma

    def forward(self, x):
        return F.gelu(x) * self.gamma


class NFSE(nn.Module):
    def __init__(self, c, rd):
        super().__init__()
        self.fc1 = nn.Conv2d(c, rd, 1)
        self.fc2 = nn.Conv2d(rd, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s)))) * 2.0


class NFBlock(nn.Module):
    def __init__(self, cin, cout, s, beta, alpha=0.2, gw=8):
        super().__init__()
        mid = cout // 2
        self.beta, self.alpha = beta, alpha
        self.act = GammaAct()
        self.down = None
        if s != 1 or cin != cout:
            self.down = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) if s > 1
                                      else nn.Identity(), ScaledStdConv2d(cin, cout, 1))
        self.conv1 = ScaledStdConv2d(cin, mid, 1)
        self.conv2 = ScaledStdConv2d(mid, mid, 3, s, g=mid // gw)
        self.conv2b = ScaledStdConv2d(mid, mid, 3, g=mid // gw)
        self.conv3 = ScaledStdConv2d(mid, cout, 1)
        self.se = NFSE(cout, cout // 4)
        self.skipinit_gain = nn.Parameter(torch.tensor(0.))

    def forward(self, x):
        out = self.act(x) * self.beta
        shortcut = x if self.down is None else self.down(out)
        out = self.conv1(out)
        out = self.conv2(self.act(out))
        out = self.conv2b(self.act(out))
        out = self.conv3(self.act(out))
        out = self.se(out)
        return out * self.skipinit_gain * self.alpha + shortcut


class NFNetLite(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(ScaledStdConv2d(3, 16, 3, 2), GammaAct(), ScaledStdConv2d(16, 32, 3),
                                  GammaAct(), ScaledStdConv2d(32, 64, 3, 2))
        blocks, cin, expected = [], 64, 1.0
        for i, (cout, s) in enumerate(((64, 1), (128, 2), (128, 1), (256, 2))):
            blocks.append(NFBlock(cin, cout, s, 1.0 / expected))
            expected = (expected ** 2 + 0.2 ** 2) ** 0.5 if s == 1 and cin == cout else 1.0
            cin = cout
        self.body = nn.Sequential(*blocks)
        self.final = ScaledStdConv2d(cin, 512, 1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = GammaAct()(self.final(self.body(self.stem(x))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------- AlexNet with LocalResponseNorm
class AlexNetLRN(nn.Module):
    """Krizhevsky 2012's LRN placement (after relu1/relu2); alpha raised from 1e-4 so the normalisation
    changes the activations by more than the comparison bound (the input of 127 leaves a 3x3 map)."""

    def __init__(self, classes=10, alpha=1.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 11, 4, 2), nn.ReLU(True), nn.LocalResponseNorm(5, alpha, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(True), nn.LocalResponseNorm(5, alpha, 0.75, 2.0),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(True), nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
        # torchvision's AdaptiveAvgPool2d((6, 6)) after LRN does not export (TorchScript exporter: LRN's output
        # shape is unknown, "adaptive_avg_pool2d, input size not accessible"): a global pool instead
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(64, 128), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(128, 128), nn.ReLU(True), nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---------------------------------------------------------------- MobileNetV1 (0.5)
def mobilenet_v1(width=0.5, classes=10):
    def c(v):
        return int(v * width)
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers, cin = [cbn(3, c(32), 3, 2)], c(32)
    for cout, s in cfg:
        layers += [cbn(cin, cin, 3, s, g=cin), cbn(cin, c(cout), 1)]
        cin = c(cout)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.001), nn.Linear(cin, classes))


# ---------------------------------------------------------------- EfficientNet-Lite0
class LiteMBConv(nn.Module):
    def __init__(self, cin, cout, k, s, e):
        super().__init__()
        mid = cin * e
        layers = [cbn(cin, mid, 1, act=nn.ReLU6)] if e != 1 else []
        layers += [cbn(mid, mid, k, s, g=mid, act=nn.ReLU6), cbn(mid, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.res else self.block(x)


def efficientnet_lite0(classes=10):
    cfg = [(1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80), (6, 5, 1, 3, 112),
           (6, 5, 2, 4, 192), (6, 3, 1, 1, 320)]
    layers, cin = [cbn(3, 32, 3, 2, act=nn.ReLU6)], 32
    for e, k, s, n, cout in cfg:
        for i in range(n):
            layers.append(LiteMBConv(cin, cout, k, s if i == 0 else 1, e))
            cin = cout
    layers += [cbn(cin, 1280, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
               nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- YOLOv4-tiny
def dconv(cin, cout, k=3, s=1, act=None):
    return cbn(cin, cout, k, s, act=act or (lambda: nn.LeakyReLU(0.1, inplace=True)))


class CSPTinyBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.conv1 = dconv(c, c, 3)
        self.conv2 = dconv(c // 2, c // 2, 3)
        self.conv3 = dconv(c // 2, c // 2, 3)
        self.conv4 = dconv(c, c, 1)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        x = self.conv1(x)
        route = x
        x = x[:, self.c // 2:]           # darknet's route groups=2 group_id=1
        x = self.conv2(x)
        route1 = x
        x = self.conv3(x)
        x = self.conv4(torch.cat([x, route1], 1))
        feat = x
        return self.pool(torch.cat([route, x], 1)), feat


class YOLOv4Tiny(nn.Module):
    def __init__(self, nc=4, na=3):
        super().__init__()
        no = na * (5 + nc)
        self.conv1 = dconv(3, 16, 3, 2)
        self.conv2 = dconv(16, 32, 3, 2)
        self.b1, self.b2, self.b3 = CSPTinyBlock(32), CSPTinyBlock(64), CSPTinyBlock(128)
        self.conv3 = dconv(256, 256, 3)
        # yolov3-tiny's stride-1 max pool: ZeroPad2d((0, 1, 0, 1)) then MaxPool2d(2, 1)
        self.pad_pool = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, 1))
        self.head_conv = dconv(256, 128, 1, act=nn.Mish)
        self.yolo1 = nn.Sequential(dconv(128, 256, 3, act=nn.Mish), nn.Conv2d(256, no, 1))
        self.up_conv = dconv(128, 64, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.yolo2 = nn.Sequential(dconv(192, 128, 3), nn.Conv2d(128, no, 1))
        self.na, self.nc = na, nc

    def _decode(self, p):
        b, _, h, w = p.shape
        p = p.view(b, self.na, 5 + self.nc, h, w).permute(0, 1, 3, 4, 2)
        return torch.sigmoid(p).reshape(b, -1, 5 + self.nc)

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        x, _ = self.b1(x)
        x, _ = self.b2(x)
        x, feat1 = self.b3(x)
        x = self.pad_pool(self.conv3(x))
        p5 = self.head_conv(x)
        out1 = self.yolo1(p5)
        p4 = torch.cat([self.up(self.up_conv(p5)), feat1], 1)
        out2 = self.yolo2(p4)
        return torch.cat([self._decode(out1), self._decode(out2)], 1)


# ---------------------------------------------------------------- BiSeNetV2 (CoinCheung's structure)
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
    def __init__(self, c=128):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.conv_gap = cbn(c, c, 1)
        self.conv_last = cbn(c, c, 3)

    def forward(self, x):
        feat = self.conv_gap(self.bn(torch.mean(x, dim=(2, 3), keepdim=True)))
        return self.conv_last(feat + x)


class GELayerS1(nn.Module):
    def __init__(self, cin, cout, e=6):
        super().__init__()
        mid = cin * e
        self.conv1 = cbn(cin, cin, 3)
        self.dwconv = nn.Sequential(nn.Conv2d(cin, mid, 3, 1, 1, groups=cin, bias=False), nn.BatchNorm2d(mid),
                                    nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.conv2(self.dwconv(self.conv1(x))) + x)


class GELayerS2(nn.Module):
    def __init__(self, cin, cout, e=6):
        super().__init__()
        mid = cin * e
        self.conv1 = cbn(cin, cin, 3)
        self.dwconv1 = nn.Sequential(nn.Conv2d(cin, mid, 3, 2, 1, groups=cin, bias=False), nn.BatchNorm2d(mid))
        self.dwconv2 = nn.Sequential(nn.Conv2d(mid, mid, 3, 1, 1, groups=mid, bias=False), nn.BatchNorm2d(mid),
                                     nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                                      nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        feat = self.conv2(self.dwconv2(self.dwconv1(self.conv1(x))))
        return F.relu(feat + self.shortcut(x))


class BGALayer(nn.Module):
    def __init__(self, c=128):
        super().__init__()
        self.left1 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                                   nn.Conv2d(c, c, 1, bias=False))
        self.left2 = nn.Sequential(nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c),
                                   nn.AvgPool2d(3, 2, 1, ceil_mode=False))
        self.right1 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.right2 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                                    nn.Conv2d(c, c, 1, bias=False))
        self.up1 = nn.Upsample(scale_factor=4)
        self.up2 = nn.Upsample(scale_factor=4)
        self.conv = cbn(c, c, 3)

    def forward(self, x_d, x_s):
        left1, left2 = self.left1(x_d), self.left2(x_d)
        right1, right2 = self.up1(self.right1(x_s)), self.right2(x_s)
        left = left1 * torch.sigmoid(right1)
        right = self.up2(left2 * torch.sigmoid(right2))
        return self.conv(left + right)


class SegmentHead(nn.Module):
    def __init__(self, cin, mid, classes, up, align):
        super().__init__()
        self.conv = cbn(cin, mid, 3)
        self.drop = nn.Dropout(0.1)
        self.up = nn.Upsample(scale_factor=up, mode="bilinear", align_corners=align)
        self.conv_out = nn.Conv2d(mid, classes, 1)

    def forward(self, x):
        return self.conv_out(self.up(self.drop(self.conv(x))))


class BiSeNetV2(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.detail = nn.Sequential(cbn(3, 64, 3, 2), cbn(64, 64, 3), cbn(64, 64, 3, 2), cbn(64, 64, 3),
                                    cbn(64, 64, 3), cbn(64, 128, 3, 2), cbn(128, 128, 3), cbn(128, 128, 3))
        self.stem = StemBlock()
        self.s3 = nn.Sequential(GELayerS2(16, 32), GELayerS1(32, 32))
        self.s4 = nn.Sequential(GELayerS2(32, 64), GELayerS1(64, 64))
        self.s5 = nn.Sequential(GELayerS2(64, 128), GELayerS1(128, 128), GELayerS1(128, 128), GELayerS1(128, 128))
        self.ce = CEBlock(128)
        self.bga = BGALayer(128)
        self.head = SegmentHead(128, 256, classes, 8, False)
        self.aux = SegmentHead(32, 32, classes, 8, True)

    def forward(self, x):
        feat_d = self.detail(x)
        f2 = self.stem(x)
        f3 = self.s3(f2)
        f4 = self.s4(f3)
        f5 = self.ce(self.s5(f4))
        return self.head(self.bga(feat_d, f5)), self.aux(f3)


# ---------------------------------------------------------------- fast neural style (Johnson et al.)
class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv = nn.Conv2d(cin, cout, k, s)

    def forward(self, x):
        return self.conv(self.pad(x))


class StyleRes(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return self.in2(self.conv2(F.relu(self.in1(self.conv1(x))))) + x


class UpsampleConv(nn.Module):
    def __init__(self, cin, cout, k, up):
        super().__init__()
        self.up = up
        self.conv = ConvLayer(cin, cout, k, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, mode="nearest", scale_factor=self.up))


class TransformerNet(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, c, 9, 1), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = ConvLayer(c, 2 * c, 3, 2), nn.InstanceNorm2d(2 * c, affine=True)
        self.conv3, self.in3 = ConvLayer(2 * c, 4 * c, 3, 2), nn.InstanceNorm2d(4 * c, affine=True)
        self.res = nn.Sequential(*[StyleRes(4 * c) for _ in range(3)])
        self.deconv1, self.in4 = UpsampleConv(4 * c, 2 * c, 3, 2), nn.InstanceNorm2d(2 * c, affine=True)
        self.deconv2, self.in5 = UpsampleConv(2 * c, c, 3, 2), nn.InstanceNorm2d(c, affine=True)
        self.deconv3 = ConvLayer(c, 3, 9, 1)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        y = self.res(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


# ---------------------------------------------------------------- BoTNet-lite (timm's relative position MHSA)
def rel_logits_1d(q, rel_k, permute_mask):
    B, H, W, dim = q.shape
    rel_size = rel_k.shape[0]
    win_size = (rel_size + 1) // 2
    x = q @ rel_k.transpose(-1, -2)
    x = x.reshape(-1, W, rel_size)
    x_pad = F.pad(x, [0, 1]).flatten(1)
    x_pad = F.pad(x_pad, [0, rel_size - W])
    x_pad = x_pad.reshape(-1, W + 1, rel_size)
    x = x_pad[:, :W, win_size - 1:]
    x = x.reshape(B, H, 1, W, win_size).expand(-1, -1, win_size, -1, -1)
    return x.permute(permute_mask)


class RelPosEmb(nn.Module):
    def __init__(self, feat_size, dim_head):
        super().__init__()
        self.height, self.width = feat_size
        self.height_rel = nn.Parameter(torch.randn(self.height * 2 - 1, dim_head) * dim_head ** -0.5)
        self.width_rel = nn.Parameter(torch.randn(self.width * 2 - 1, dim_head) * dim_head ** -0.5)

    def forward(self, q):
        B, HW, _ = q.shape
        q = q.reshape(B, self.height, self.width, -1)
        rel_logits_w = rel_logits_1d(q, self.width_rel, permute_mask=(0, 1, 3, 2, 4))
        q = q.transpose(1, 2)
        rel_logits_h = rel_logits_1d(q, self.height_rel, permute_mask=(0, 3, 1, 4, 2))
        rel_logits = rel_logits_h + rel_logits_w
        return rel_logits.reshape(B, HW, HW)


class BottleneckAttn(nn.Module):
    def __init__(self, dim, feat_size, heads=4, dim_head=16):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.dim_out = heads * dim_head
        self.qkv = nn.Conv2d(dim, self.dim_out * 3, 1, bias=False)
        self.pos_embed = RelPosEmb(feat_size, dim_head)
        self.scale = dim_head ** -0.5

    def forward(self, x):
        B, C, H, W = x.shape
        x = self.qkv(x)
        q, k, v = torch.split(x, [self.dim_out, self.dim_out, self.dim_out], dim=1)
        q = q.reshape(B * self.heads, self.dim_head, -1).transpose(-1, -2)
        k = k.reshape(B * self.heads, self.dim_head, -1)
        v = v.reshape(B * self.heads, self.dim_head, -1).transpose(-1, -2)
        attn = (q @ k) * self.scale
        attn = attn + self.pos_embed(q)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(-1, -2).reshape(B, self.dim_out, H, W)
        return out


class BotBottleneck(nn.Module):
    def __init__(self, cin, cout, s, attn_size=None):
        super().__init__()
        mid = cout // 4
        self.conv1 = cbn(cin, mid, 1)
        if attn_size is None:
            self.conv2 = cbn(mid, mid, 3, s)
        else:
            self.conv2 = nn.Sequential(BottleneckAttn(mid, attn_size, dim_head=mid // 4),
                                       nn.AvgPool2d(2, 2) if s == 2 else nn.Identity(), nn.BatchNorm2d(mid),
                                       nn.ReLU())
        self.conv3 = cbn(mid, cout, 1, act=None)
        self.down = cbn(cin, cout, 1, s, act=None) if s != 1 or cin != cout else None

    def forward(self, x):
        r = x if self.down is None else self.down(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + r)


class BoTNetLite(nn.Module):
    def __init__(self, classes=10, img=64):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 32, 3, 2), cbn(32, 64, 3, 2))
        f = img // 8
        self.blocks = nn.Sequential(BotBottleneck(64, 128, 1), BotBottleneck(128, 256, 2),
                                    BotBottleneck(256, 256, 1, attn_size=(f, f)),
                                    BotBottleneck(256, 256, 1, attn_size=(f, f)))
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


# ---------------------------------------------------------------- GCNet (ResNet-18-ish + global context)
class ContextBlock(nn.Module):
    def __init__(self, c, ratio=0.25):
        super().__init__()
        r = int(c * ratio)
        self.conv_mask = nn.Conv2d(c, 1, 1)
        self.channel_add = nn.Sequential(nn.Conv2d(c, r, 1), nn.LayerNorm([r, 1, 1]), nn.ReLU(inplace=True),
                                         nn.Conv2d(r, c, 1))

    def forward(self, x):
        b, c, h, w = x.size()
        input_x = x.view(b, c, h * w).unsqueeze(1)
        mask = self.conv_mask(x).view(b, 1, h * w)
        mask = F.softmax(mask, dim=2).unsqueeze(-1)
        context = torch.matmul(input_x, mask).view(b, c, 1, 1)
        return x + self.channel_add(context)


class GCBasic(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.conv1 = cbn(cin, cout, 3, s)
        self.conv2 = cbn(cout, cout, 3, act=None)
        self.gc = ContextBlock(cout)
        self.down = cbn(cin, cout, 1, s, act=None) if s != 1 or cin != cout else None

    def forward(self, x):
        r = x if self.down is None else self.down(x)
        return F.relu(self.gc(self.conv2(self.conv1(x))) + r)


class GCResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(cbn(3, 32, 7, 2), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(GCBasic(32, 32, 1), GCBasic(32, 64, 2), GCBasic(64, 128, 2), GCBasic(128, 256, 2))
        self.fc = nn.Linear(256, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1))


# ---------------------------------------------------------------- mixed activations
class ActMix(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        acts = [nn.PReLU(16), nn.ELU(0.7), nn.SELU(), nn.CELU(0.5), nn.Softplus(beta=2.0),
                nn.Hardsigmoid(), nn.GELU(approximate="tanh"), nn.LogSigmoid(), nn.Softsign(), nn.PReLU()]
        layers, c = [], 3
        for i, a in enumerate(acts):
            co = 16 if i == 0 else 24
            layers += [nn.Conv2d(c, co, 3, 2 if i in (1, 4, 7) else 1, 1, bias=False), nn.BatchNorm2d(co), a]
            c = co
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))


MODELS = {   # name -> (constructor, input shape without batch)
    "espcn_x3": (ESPCN, (1, 32, 32)),
    "esrgan_rrdb_lite": (RRDBNet, (3, 24, 24)),
    "cyclegan_resnet_gen": (ResnetGenerator, (3, 64, 64)),
    "pix2pix_unet": (pix2pix_unet, (3, 64, 64)),
    "wavenet": (WaveNet, (1, 512)),
    "tcn": (TCN, (4, 256)),
    "conformer_conv_lite": (ConformerLite, (128, 64)),
    "pointnet_cls": (PointNetCls, (3, 256)),
    "m5_audio": (M5, (1, 2048)),
    "r2plus1d_lite": (R2Plus1D, (3, 8, 32, 32)),
    "nasnet_a_lite": (NASNetALite, (3, 64, 64)),
    "bit_resnetv2_lite": (BiTResNetV2, (3, 64, 64)),
    "nfnet_lite": (NFNetLite, (3, 64, 64)),
    "alexnet_lrn": (AlexNetLRN, (3, 127, 127)),
    "mobilenet_v1_050": (mobilenet_v1, (3, 64, 64)),
    "efficientnet_lite0": (efficientnet_lite0, (3, 64, 64)),
    "yolov4_tiny": (YOLOv4Tiny, (3, 64, 64)),
    "bisenetv2": (BiSeNetV2, (3, 64, 64)),
    "fast_neural_style": (TransformerNet, (3, 64, 64)),
    "botnet_lite": (BoTNetLite, (3, 64, 64)),
    "gcnet_r18_lite": (GCResNet, (3, 64, 64)),
    "act_mix": (ActMix, (3, 32, 32)),
}


def randomize(model, shape, seed=0):
    """Random affine params (BN, LN, GN, affine IN), PReLU slopes, NF gains / skipinit gains, BN stats
    calibrated on noise then perturbed; returns model.eval()."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)) and \
                    getattr(m, "weight", None) is not None:
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + 0.4 * torch.rand(m.weight.shape, generator=g))
        for name, p in model.named_parameters():
            if name.endswith("skipinit_gain"):
                p.fill_(0.5 + 0.5 * float(torch.rand((), generator=g)))
            elif name.endswith(".gain"):
                p.copy_(0.8 + 0.4 * torch.rand(p.shape, generator=g))
        calibrate_bns(model, bns, (1,) + tuple(shape), g)
    return model.eval()


def build(name, seed=0):
    fn, shape = MODELS[name]
    torch.manual_seed(seed)
    return randomize(fn(), shape, seed), shape


# the image and video CNNs of the set at their usual input sizes, for bench/adhoc/models_cputime.py
# --heldout5 (bench_models.py's ZOO rows: constructor, canonical input, calibration input; BiSeNetV2, with
# its auxiliary heads, has several outputs)
_CANONICAL5 = {"mobilenet_v1_050": (3, 224, 224), "efficientnet_lite0": (3, 224, 224),
               "nfnet_lite": (3, 224, 224), "bit_resnetv2_lite": (3, 224, 224), "nasnet_a_lite": (3, 224, 224),
               "yolov4_tiny": (3, 320, 320), "gcnet_r18_lite": (3, 224, 224),
               "cyclegan_resnet_gen": (3, 256, 256), "fast_neural_style": (3, 256, 256),
               "r2plus1d_lite": (3, 8, 112, 112)}
HELDOUT5 = {name: ((lambda fn=MODELS[name][0], s=MODELS[name][1]: randomize(fn(), s)), shape, MODELS[name][1])
            for name, shape in _CANONICAL5.items()}
