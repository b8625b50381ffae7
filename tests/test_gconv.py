"""Grouped convs with cin == cout and a small group width (RegNet's, g = 8): the small-group kernel
(src_c/conv/gconv_simd.h) where the width divides the ISA's vector, the generic GEMM otherwise; both
against the float64 reference and torch, on awkward shapes, with the fused residual / clamp, NaN,
threads, and through a model."""
import numpy as np
import pytest

import reference
import util
from test_conv import INF, check_conv, conv_case, nhwc_conv, reference_conv
from util import importorskip
from fastnorm import _C
from fastnorm.testing import ISA_NAMES

VW = {"scalar": 1, "avx2": 8, "avx512": 16, "neon": 4}  # floats a vector: the widths the kernel takes


def takes_small_group_kernel(isa, c, g):
    return isa != "scalar" and c // g > 1 and g <= VW[isa] and VW[isa] % g == 0


# (n, c, h, w, group width, kernel, stride, padding, dilation)
CASES = [
    (1, 24, 13, 11, 8, 3, 2, 1, 1),        # RegNet's first stage: c = 16 + 8 (a half last vector)
    (2, 56, 9, 7, 8, 3, 1, 1, 1),          # c = 56: 3 whole vectors + half (AVX-512), batch 2
    (1, 152, 6, 6, 8, 3, 1, 1, 1),
    (3, 40, 1, 1, 8, 3, 1, 1, 1),          # 1x1 image: every tap but the centre on padding
    (1, 16, 5, 7, 16, 3, 1, 1, 1),         # width 16: one group a zmm (broadcasts)
    (2, 48, 4, 3, 16, 3, 2, 1, 1),
    (1, 12, 7, 9, 4, 3, 1, 1, 1),          # width 4
    (2, 6, 8, 11, 2, 5, 2, 2, 1),          # width 2, 5x5 stride 2
    (1, 10, 9, 9, 2, (1, 3), 1, (0, 1), 1),  # width 2, 1x3
    (1, 24, 7, 7, 8, 3, 1, 2, 2),          # dilation 2
    (2, 32, 5, 5, 8, 1, 1, 0, 1),          # 1x1 kernel
    (1, 16, 6, 5, 8, 3, 1, 0, 1),          # no padding
    (1, 24, 6, 6, 3, 3, 1, 1, 1),          # width 3: the generic GEMM on every ISA
    (2, 48, 6, 6, 24, 3, 2, 1, 1),         # width 24: more than a zmm
    (1, 8, 5, 5, 1, 3, 1, 1, 1),           # width 1 (depthwise as a grouped conv)
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_grouped_matches_reference(isa, rng, case):
    n, c, h, w, g, k, s, p, d = case
    x, wt, b, params = conv_case(rng, n, c, h, w, c, k, s, p, d, c // g)
    check_conv(isa, x, wt, b, params)


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_grouped_matches_torch(isa, rng, case):
    n, c, h, w, g, k, s, p, d = case
    x, wt, b, params = conv_case(rng, n, c, h, w, c, k, s, p, d, c // g)
    torch = importorskip("torch")
    got, mag = check_conv(isa, x, wt, b, params)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b),
                                      **params).numpy()
    util.assert_close_dot(got, want.astype(np.float64), 2 * mag)


@pytest.mark.parametrize("c,g", [(24, 8), (16, 16), (12, 4), (24, 3), (40, 8), (8, 1)])
def test_packed_layout_says_which_kernel(isa, rng, c, g):
    """The small-group layout ([vw bias][taps][g][vw] per vector of channels, then a zero row) is
    taken exactly where the kernel applies: its size tells the two apart."""
    _, wt, b, _ = conv_case(rng, 1, c, 3, 3, c, 3, groups=c // g)
    packed = _C.conv2d_pack(-1, (c, c, c // g, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), wt, b)
    util.assert_ran(isa)
    # group width 8 on a half-rate AVX-512 CPU (Zen 4): one group a ymm (conv2d.c gconv_for)
    vw = 8 if isa == "avx512" and g == 8 and _C.avx512_half_rate() else VW[isa]
    nblk = -(-c // vw)
    small = 16 + nblk * vw * (1 + 9 * g) + nblk * vw
    if takes_small_group_kernel(isa, c, g):
        assert packed.size == small
        return
    # the generic GEMM: on AVX-512, AVX2's (a group of at most 8 channels: conv2d.c conv_kernels)
    _, nr, tisa = _C.conv2d_tile(-1, (c, c, c // g, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1))
    assert tisa == ("avx2" if isa == "avx512" and g <= 8 else isa)
    generic = 16 + (c // g) * -(-g // nr) * nr * (1 + 9 * g) + 3 * g
    assert packed.size == generic


@pytest.mark.parametrize("act", [(1, 0.0, INF), (1, -0.5, 0.5), (0, 0.0, 0.0)], ids=["relu", "clamp", "none"])
@pytest.mark.parametrize("with_res", [True, False])
@pytest.mark.parametrize("c,g", [(24, 8), (40, 8), (32, 16), (12, 4)])
def test_grouped_residual_clamp_nan(isa, rng, act, with_res, c, g):
    x, wt, b, params = conv_case(rng, 2, c, 7, 6, c, 3, padding=1, groups=c // g)
    x *= 0.3
    res = rng.standard_normal((2, c, 7, 6)).astype(np.float32) if with_res else None
    x[1, c - 1, 3, 3] = np.nan  # the last group's input: a 3x3 patch of that group's outputs only
    got = nhwc_conv(isa, x, wt, b, params, res, act)
    want, mag = reference_conv(x, wt, b, **params)
    if with_res:
        want, mag = want + res, mag + np.abs(res)
    if act[0] == 1:
        want = reference.clamp(want, act[1], act[2])
    nan = np.isnan(want)
    assert nan.sum() == g * 9, "the NaN should reach a 3x3 patch of its own group's channels"
    assert (np.isnan(got) == nan).all(), "NaN positions differ"
    util.assert_close_dot(got[~nan], want[~nan], mag[~nan])


@pytest.mark.parametrize("case", [(1, 56, 14, 14, 8), (3, 24, 5, 9, 8), (2, 48, 7, 7, 16)])
def test_grouped_threads_bit_identical(isa, rng, case):
    n, c, h, w, g = case
    x, wt, b, params = conv_case(rng, n, c, h, w, c, 3, 1, 1, 1, c // g)
    res = rng.standard_normal((n, c, h, w)).astype(np.float32)
    one = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=1)
    for nt in (2, 3):
        assert np.array_equal(one, nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=nt))


@pytest.mark.parametrize("c", [16, 24, 40, 56, 152])
@pytest.mark.parametrize("stride", [1, 2])
def test_width_8_every_channel_count(isa, rng, c, stride):
    """Group width 8 (AVX-512: the pair kernel of gconv_avx512.c, two groups a zmm and a half-empty
    last block when c % 16 == 8; AVX2: one group a vector) with a residual and a clamp, on pixel
    counts that leave a short last tile, against the float64 reference."""
    x, wt, b, params = conv_case(rng, 2, c, 9, 7, c, 3, stride, 1, 1, c // 8)
    res_shape = reference_conv(x, wt, b, **params)[0].shape
    res = rng.standard_normal(res_shape).astype(np.float32)
    got = nhwc_conv(isa, x, wt, b, params, res, (1, -1.0, 1.5), nthreads=2)
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, reference.clamp(want + res, -1.0, 1.5), mag + np.abs(res))


@pytest.mark.parametrize("batch", [1, 2])
def test_regnet_style_block_through_a_model(isa, batch):
    """1x1 -> BN -> ReLU -> grouped 3x3 (width 8, stride 2 and 1) -> BN -> ReLU -> 1x1 + skip, from torch."""
    torch = importorskip("torch")
    import fastnorm
    from torch import nn

    class Block(nn.Module):
        def __init__(self, c, stride):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
            self.b = nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c // 8, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU())
            self.c = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
            self.skip = nn.Conv2d(c, c, 1, stride) if stride > 1 else nn.Identity()

        def forward(self, x):
            return torch.relu(self.c(self.b(self.a(x))) + self.skip(x))

    m = nn.Sequential(Block(24, 2), Block(24, 1), nn.Conv2d(24, 56, 1), Block(56, 1)).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
        x = torch.randn(batch, 24, 15, 13)
        want = m(x).numpy()
    got = fastnorm.from_torch(m, x).predict(x.numpy())
    util.assert_ran(isa)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("stride", [1, 2])
def test_two_block_broadcast_path_is_the_one_block_bits(isa, rng, stride):
    """One group a vector (width = the ISA's vector: AVX2's 8, NEON's 4) runs two channel blocks at a
    time (gconv_simd.h gconv_bcast2) and an odd last block alone: a group's outputs are the same bits
    on either path. Groups 0-2 of a 3-group conv (blocks 0 and 1 together, block 2 alone) against
    groups 1-2 as a conv of their own (blocks 1 and 2 together); with a residual and a clamp."""
    g = VW[isa] if isa in ("avx2", "neon") else 8
    x, wt, b, params = conv_case(rng, 2, 3 * g, 11, 9, 3 * g, 3, stride, 1, 1, 3)
    res = rng.standard_normal(reference_conv(x, wt, b, **params)[0].shape).astype(np.float32)
    act = (1, -1.0, 1.5)
    whole = nhwc_conv(isa, x, wt, b, params, res, act)
    tail = nhwc_conv(isa, np.ascontiguousarray(x[:, g:]), np.ascontiguousarray(wt[g:]), b[g:],
                     dict(params, groups=2), np.ascontiguousarray(res[:, g:]), act)
    assert np.array_equal(whole[:, g:], tail)
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(whole, reference.clamp(want + res, -1.0, 1.5), mag + np.abs(res))
