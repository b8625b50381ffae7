"""The CNN families fastnorm must load and match (issues 4 and 5), defined in plain PyTorch.

There is no CPU torchvision here, so the architectures are written out from their papers and the
torchvision definitions they are usually exported from (same layer order, strides, paddings, eps and
activation placement), which is what matters for an inference runtime. `build(name)` returns a model
in eval mode with realistic BatchNorm statistics (see `calibrate`) and a seeded init.

ZOO[name] = (constructor, canonical input shape (C, H, W), test input shape (C, H, W)). The test shape
is smaller where the canonical one would make the every-ISA sweep slow; every architecture here is
resolution-agnostic (adaptive pooling before the classifier), so the smaller input exercises the same
layers. VGG-11-BN's classifier is narrowed from 4096 to 512 hidden units by default: the two 4096-wide
linears hold 120 M of its 129 M parameters (500 MB) and add nothing a 512-wide one doesn't test.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models import SimpleCNN  # the founding articles' model, N x 3 x 32 x 32 -> 10 logits


def _make_divisible(v, divisor=8):
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


# ------------------------------------------------------------------------------------------ ResNet
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: the stride sits on the 3x3 conv."""
    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        cout = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, stages = 64, []
        for i, n in enumerate(layers):
            planes = 64 << i
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18():
    return ResNet(BasicBlock, [2, 2, 2, 2])


def resnet50():
    return ResNet(Bottleneck, [3, 4, 6, 3])


# ------------------------------------------------------------------------------------- MobileNetV2
def _conv_bn_act(cin, cout, k, stride=1, groups=1, act=nn.ReLU6, eps=1e-5):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=eps)]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.Hardswish) else act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers.append(_conv_bn_act(cin, hidden, 1))
        layers += [_conv_bn_act(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        cin = 32
        feats = [_conv_bn_act(3, cin, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(_conv_bn_act(cin, 1280, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -------------------------------------------------------------------------------- MobileNetV3-Small
class SqueezeExcitation(nn.Module):
    def __init__(self, c, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.relu = nn.ReLU()
        self.scale_act = nn.Hardsigmoid()

    def forward(self, x):
        s = self.scale_act(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return s * x


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, hs, stride):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        self.use_res = stride == 1 and cin == cout
        layers = []
        if exp != cin:
            layers.append(_conv_bn_act(cin, exp, 1, act=act, eps=1e-3))
        layers.append(_conv_bn_act(exp, exp, k, stride, groups=exp, act=act, eps=1e-3))
        if se:
            layers.append(SqueezeExcitation(exp, _make_divisible(exp // 4)))
        layers.append(_conv_bn_act(exp, cout, 1, act=None, eps=1e-3))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res else y


class MobileNetV3Small(nn.Module):
    # input channels, kernel, expanded, output, squeeze-excite, hardswish, stride (torchvision's table)
    SETTINGS = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2), (24, 3, 88, 24, False, False, 1),
                (24, 5, 96, 40, True, True, 2), (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
                (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1), (48, 5, 288, 96, True, True, 2),
                (96, 5, 576, 96, True, True, 1), (96, 5, 576, 96, True, True, 1)]

    HEAD = (96, 576, 1024)  # last block's output, the 1x1 conv after it, the classifier's hidden width

    def __init__(self, num_classes=1000):
        super().__init__()
        last, conv, hidden = self.HEAD
        layers = [_conv_bn_act(3, 16, 3, 2, act=nn.Hardswish, eps=1e-3)]
        layers += [V3Block(*s) for s in self.SETTINGS]
        layers.append(_conv_bn_act(last, conv, 1, act=nn.Hardswish, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(conv, hidden), nn.Hardswish(inplace=True), nn.Dropout(0.2),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -------------------------------------------------------------------------------------- VGG-11-BN
class VGG11BN(nn.Module):
    CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]

    def __init__(self, num_classes=1000, hidden=512, cfg=None):
        super().__init__()
        layers, cin = [], 3
        for v in cfg or self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(cin * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ----------------------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    """Pre-activation: BN-ReLU-conv1x1-BN-ReLU-conv3x3 on the concatenation of all earlier features."""

    def __init__(self, cin, growth, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, feats):
        x = torch.cat(feats, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.Module):
    def __init__(self, n, cin, growth):
        super().__init__()
        self.layers = nn.ModuleList([DenseLayer(cin + i * growth, growth) for i in range(n)])

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class Transition(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False),
                         nn.AvgPool2d(2, 2))


class DenseNetMini(nn.Module):
    """DenseNet-121's structure with two dense blocks of 4 layers (growth 32): stem, BN after concat,
    transitions with BN before the conv, final BN-ReLU, global pool, classifier."""

    def __init__(self, num_classes=1000, growth=32, blocks=(4, 4)):
        super().__init__()
        c = 2 * growth
        layers = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, 2, 1)]
        for i, n in enumerate(blocks):
            layers.append(DenseBlock(n, c, growth))
            c += n * growth
            if i != len(blocks) - 1:
                layers.append(Transition(c, c // 2))
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -------------------------------------------------------------------------------------------- DCGAN
class DCGANGenerator(nn.Module):
    """nz x 1 x 1 noise -> 3 x 64 x 64 image (Radford et al.); output_padding=True swaps the last two
    layers for k3 s2 p1 output_padding 1 (the 28x28-GAN style) to exercise output_padding."""

    def __init__(self, nz=100, ngf=64, output_padding=False):
        super().__init__()

        def up(cin, cout, k=4, s=2, p=1, op=0):
            return [nn.ConvTranspose2d(cin, cout, k, s, p, output_padding=op, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(True)]
        layers = up(nz, ngf * 8, 4, 1, 0) + up(ngf * 8, ngf * 4) + up(ngf * 4, ngf * 2)
        if output_padding:
            layers += up(ngf * 2, ngf, 3, 2, 1, 1)
            layers += [nn.ConvTranspose2d(ngf, 3, 3, 2, 1, output_padding=1, bias=True), nn.Tanh()]
        else:
            layers += up(ngf * 2, ngf)
            layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    def __init__(self, ndf=64):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).flatten(1)


# ------------------------------------------------------------------------- GroupNorm / InstanceNorm
class GNBlock(nn.Module):
    def __init__(self, c, groups=8):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn1 = nn.GroupNorm(groups, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(groups, c)

    def forward(self, x):
        y = F.relu(self.gn1(self.conv1(x)))
        return F.relu(x + self.gn2(self.conv2(y)))


class GroupNormCNN(nn.Module):
    """A ResNet-style classifier with GroupNorm(8) instead of BatchNorm (as in detection backbones)."""

    def __init__(self, num_classes=100):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.GroupNorm(8, 32), nn.ReLU())
        self.b1 = GNBlock(32)
        self.down = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1, bias=False), nn.GroupNorm(8, 64), nn.ReLU())
        self.b2 = GNBlock(64)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.b2(self.down(self.b1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class INResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True),
                                  nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3),
                                  nn.InstanceNorm2d(c, affine=True))

    def forward(self, x):
        return x + self.body(x)


class InstanceNormNet(nn.Module):
    """Image-to-image (fast style transfer / CycleGAN generator layout): reflection padding,
    InstanceNorm, strided downsampling, residual blocks, nearest upsample + conv, tanh."""

    def __init__(self, c=32, nres=2):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, c, 7), nn.InstanceNorm2d(c, affine=True), nn.ReLU(True),
                  nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c, affine=True), nn.ReLU(True),
                  nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.InstanceNorm2d(4 * c, affine=True), nn.ReLU(True)]
        layers += [INResBlock(4 * c) for _ in range(nres)]
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * c, 2 * c, 3, padding=1),
                   nn.InstanceNorm2d(2 * c, affine=True), nn.ReLU(True),
                   nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * c, c, 3, padding=1),
                   nn.InstanceNorm2d(c, affine=True), nn.ReLU(True),
                   nn.ReflectionPad2d(3), nn.Conv2d(c, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


# ---------------------------------------------------------- issue 5's normalization-variant rows
class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW tensor, written as ConvNeXt does (permute, LN, permute)."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=eps)

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


NORMS = {
    "batchnorm": lambda c: nn.BatchNorm2d(c),
    "groupnorm": lambda c: nn.GroupNorm(8, c),
    "instancenorm": lambda c: nn.InstanceNorm2d(c, affine=True),
    "layernorm": LayerNorm2d,
}


class NormVariantCNN(nn.Module):
    """SimpleCNN's layout four times wider at 128x128: conv(3->64)-norm-ReLU-pool, conv(64->128)-norm-
    ReLU-pool, adaptive avg pool to 8x8, fc1 (8192->128)-ReLU, fc2 (->10)."""

    def __init__(self, norm="batchnorm"):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.n1 = NORMS[norm](64)
        self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
        self.n2 = NORMS[norm](128)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.n1(self.conv1(x))))
        x = self.pool(F.relu(self.n2(self.conv2(x))))
        x = F.adaptive_avg_pool2d(x, (8, 8))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


# ------------------------------------------------------------------------------------------ registry
ZOO = {
    # name: (constructor, canonical input (C, H, W), test input (C, H, W))
    "simplecnn": (SimpleCNN, (3, 32, 32), (3, 32, 32)),
    "resnet18": (resnet18, (3, 224, 224), (3, 96, 96)),
    "resnet50": (resnet50, (3, 224, 224), (3, 64, 64)),
    "mobilenet_v2": (MobileNetV2, (3, 224, 224), (3, 96, 96)),
    "mobilenet_v3_small": (MobileNetV3Small, (3, 224, 224), (3, 96, 96)),
    "vgg11_bn": (VGG11BN, (3, 224, 224), (3, 64, 64)),
    "densenet_mini": (DenseNetMini, (3, 224, 224), (3, 64, 64)),
    "dcgan_generator": (DCGANGenerator, (100, 1, 1), (100, 1, 1)),
    "dcgan_generator_op": (lambda: DCGANGenerator(ngf=32, output_padding=True), (100, 1, 1), (100, 1, 1)),
    "dcgan_discriminator": (DCGANDiscriminator, (3, 64, 64), (3, 64, 64)),
    "groupnorm_cnn": (GroupNormCNN, (3, 128, 128), (3, 64, 64)),
    "instancenorm_net": (InstanceNormNet, (3, 256, 256), (3, 64, 64)),
    "normcnn_batchnorm": (lambda: NormVariantCNN("batchnorm"), (3, 128, 128), (3, 64, 64)),
    "normcnn_groupnorm": (lambda: NormVariantCNN("groupnorm"), (3, 128, 128), (3, 64, 64)),
    "normcnn_instancenorm": (lambda: NormVariantCNN("instancenorm"), (3, 128, 128), (3, 64, 64)),
    "normcnn_layernorm": (lambda: NormVariantCNN("layernorm"), (3, 128, 128), (3, 64, 64)),
}


def calibrate(model, input_shape, seed=0, batches=3, batch=8):
    """Give the model statistics like a trained network's: gamma/beta (and LN/GN/IN affine params)
    spread away from 1/0, then a few training-mode batches so every BatchNorm's running mean/var are
    the statistics of the activations it really sees (momentum=None: a cumulative average)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
                              nn.modules.instancenorm._InstanceNorm)) and getattr(m, "weight", None) is not None:
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = None
        model.train()
        for _ in range(batches):
            model(example_input(input_shape, batch, g))
    return model.eval()


def example_input(input_shape, batch=1, generator=None, seed=None):
    """Inputs like a normalised image (or, for a generator's 1x1 noise, standard normal)."""
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    x = torch.randn((batch,) + tuple(input_shape), generator=generator)
    return x if input_shape[1:] == (1, 1) else 1.2 * x + 0.1


def build(name, seed=0, shape="test"):
    """(model in eval mode with realistic statistics, input shape (C, H, W)) for ZOO[name]."""
    ctor, canonical, test = ZOO[name]
    torch.manual_seed(seed)
    model = ctor()
    in_shape = test if shape == "test" else canonical
    return calibrate(model, in_shape, seed), in_shape
