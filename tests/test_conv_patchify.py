"""Issue 14: image-facing patch embeddings (stride == kernel, no padding: ViT's 16x16/16, ConvMixer's
7x7/7, ConvNeXt's 4x4/4) as a gather of each output pixel's patch into a row and a 1x1 conv of
K = kh x kw x cin channels (fastnorm/plan/lower_conv.py _lower_patchify).

Checked against torch within 1e-4 relative on every ISA, batch 1 and 3, with images the kernel does
not divide (the last rows and columns are dropped, as torch does), from the model's NCHW input and
from an NHWC image (an input with a second reader), with a fused activation, a BN after it and a
residual add (conv_takes_post). The ISA's threshold picks the path; FASTNORM_PATCHIFY=0 turns it off."""
import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from fastnorm.plan import lower_conv
from test_epilogue_act import matches_torch
from test_se_gate import _records
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Patch(nn.Module):
    def __init__(self, cin, cout, k, act=None, bn=False, second_reader=False):
        super().__init__()
        kh, kw = (k, k) if isinstance(k, int) else k
        self.conv = nn.Conv2d(cin, cout, (kh, kw), (kh, kw))
        self.act, self.second_reader = act, second_reader
        self.bn = nn.BatchNorm2d(cout) if bn else None
        if bn:
            with torch.no_grad():
                self.bn.running_mean.uniform_(-0.5, 0.5)
                self.bn.running_var.uniform_(0.5, 2.0)
                self.bn.weight.uniform_(0.5, 1.5)
                self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        y = self.conv(x)
        if self.act is not None:
            y = self.act(y)
        if self.bn is not None:
            y = self.bn(y)
        if self.second_reader:   # the input read twice: its NHWC copy stays, the gather reads that
            y = y + F.avg_pool2d(x, self.conv.kernel_size).mean(1, keepdim=True)
        return y


# name: (module factory, input shape without batch)
CASES = {
    "convmixer_stem": (lambda: Patch(3, 40, 7, act=F.gelu, bn=True), (3, 35, 37)),
    "vit_16": (lambda: Patch(3, 48, 16), (3, 48, 50)),
    "convnext_4": (lambda: Patch(3, 24, 4, act=F.relu), (3, 18, 17)),
    "gray_8": (lambda: Patch(1, 33, 8), (1, 24, 31)),
    "rgba_rect": (lambda: Patch(4, 19, (2, 6)), (4, 13, 25)),
    "one_patch": (lambda: Patch(3, 16, 5), (3, 5, 5)),
    "second_reader": (lambda: Patch(3, 20, 4, act=F.silu, second_reader=True), (3, 16, 20)),
}


@pytest.fixture
def patch_always(monkeypatch):
    """Every case takes the patch path whatever the ISA's threshold."""
    monkeypatch.setattr(lower_conv, "PATCHIFY_MIN_K", {})
    monkeypatch.setattr(lower_conv, "PATCHIFY_MIN_K_DEFAULT", 1)


def _build(name, batch, seed=0):
    torch.manual_seed(seed)
    factory, shape = CASES[name]
    return factory().eval(), torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed + 1))


def _patch_records(recs):
    """The CONV2D records of a gathered patch (1x1 over K channels read from a STRIDED_COPY)."""
    copies = {r["out"] for r in recs if r["type"] == _C.OP_STRIDED_COPY}
    return [r for r in recs if r["type"] == _C.OP_CONV2D and r["in"] in copies and r["conv"][3:5] == (1, 1)]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_patch_conv_matches_torch(isa, name, batch, patch_always):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    (p,) = _patch_records(recs)
    kh, kw = net.conv.kernel_size
    assert p["conv"][:2] == (kh * kw * x.shape[1], net.conv.out_channels)
    assert _C.OP_CONV_FIRST not in [r["type"] for r in recs]
    if name != "second_reader":   # the gather reads the NCHW input: no conversion record
        assert _C.OP_NCHW_TO_NHWC not in [r["type"] for r in recs]
    if name == "convmixer_stem":  # the BN after the GELU rides in the 1x1 conv
        assert p.get("post") is not None and _C.OP_SCALE_SHIFT not in [r["type"] for r in recs]


@pytest.mark.parametrize("name", ["convmixer_stem", "second_reader"])
def test_patch_conv_off_matches_on(isa, name, patch_always, monkeypatch):
    net, x = _build(name, 2)
    on = fastnorm.from_torch(net, x)
    assert _patch_records(_records(on, x.shape))
    monkeypatch.setenv("FASTNORM_PATCHIFY", "0")
    off = fastnorm.from_torch(net, x)
    assert not _patch_records(_records(off, x.shape))
    want = off.predict(x.numpy())
    np.testing.assert_allclose(on.predict(x.numpy()), want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def test_threshold_follows_the_isa(isa):
    """ConvMixer's 7x7x3 (K 147) takes the patch path on every ISA; ConvNeXt's 4x4x3 (K 48) only
    where the ISA's threshold allows (on AVX-512 the first-layer kernel measured faster)."""
    min_k = lower_conv.PATCHIFY_MIN_K.get(isa, lower_conv.PATCHIFY_MIN_K_DEFAULT)
    for name, k in (("convmixer_stem", 147), ("convnext_4", 48)):
        net, x = _build(name, 1)
        m = matches_torch(net, x)
        assert bool(_patch_records(_records(m, x.shape))) == (k >= min_k), (name, isa)


@pytest.mark.parametrize("mod", [lambda: nn.Conv2d(3, 8, 4, 4, padding=1), lambda: nn.Conv2d(3, 8, 4, 2),
                                 lambda: nn.Conv2d(8, 16, 2, 2), lambda: nn.Conv2d(3, 8, 3, 3, dilation=1, groups=1,
                                                                                   bias=False)])
def test_not_a_patch_conv_keeps_its_kernel(isa, mod, patch_always):
    """Padding, stride != kernel, more than 4 input channels keep the conv kernels; a bias-free
    3x3/3 patch conv takes the patch path."""
    torch.manual_seed(0)
    net = mod().eval()
    x = torch.randn(2, net.in_channels, 12, 12)
    m = matches_torch(net, x)
    patch = net.stride == net.kernel_size and net.padding == (0, 0) and net.in_channels <= 4
    assert bool(_patch_records(_records(m, x.shape))) == patch
