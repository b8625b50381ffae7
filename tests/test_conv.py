"""conv2d / linear (the indirect-GEMM kernels and the conv driver) vs the float64 reference and torch."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import reference_act
import util
from util import importorskip
from fastnorm import _C, ops, threads
from fastnorm.ops._common import ACT_NONE
from fastnorm.testing import ISA_NAMES
from fastnorm.threads import set_num_threads

INF = float("inf")


def tile(isa):
    """(MR, NR) of this ISA's micro-kernel."""
    return _C.gemm_tile(ISA_NAMES.index(isa))


def pads_for(padding, k, dilation):
    """torch's padding argument -> (top, left, bottom, right), written out here independently."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dilation[0] * (k[0] - 1), dilation[1] * (k[1] - 1)
        return th // 2, tw // 2, th - th // 2, tw - tw // 2
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return ph, pw, ph, pw


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_case(rng, n, cin, h, w, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    kh, kw = pair(k)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, wt, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def reference_conv(x, wt, b, stride, padding, dilation, groups):
    """(want, magnitude): the float64 result, and the same conv over |x|, |w|, |b| for the bound."""
    pads = pads_for(padding, wt.shape[2:], pair(dilation))
    want = reference.conv2d(x, wt, b, stride, pads, dilation, groups)
    mag = reference.conv2d(np.abs(x), np.abs(wt), None if b is None else np.abs(b), stride, pads,
                           dilation, groups)
    return want, mag


def check_conv(isa, x, wt, b, params):
    got = ops.conv2d(x, wt, b, **params)
    util.assert_ran(isa)
    assert got.dtype == np.float32
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, want, mag)
    return got, mag


# (n, cin, h, w, cout, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    (1, 3, 1, 1, 5, 1, 1, 0, 1, 1),                 # 1x1 image, 1x1 kernel
    (2, 13, 1, 1, 17, 3, 1, 1, 1, 1),               # 1x1 image, 3x3 kernel all but the centre padding
    (1, 13, 9, 9, 1, 3, 1, 1, 1, 1),                # cout 1
    (7, 13, 5, 6, 5, 3, 1, "same", 1, 1),           # batch 7, cout 5
    (1, 13, 8, 8, 33, 3, 2, 1, 1, 1),               # stride 2, cout 33
    (2, 16, 10, 10, 32, 5, 1, 2, 1, 1),             # 5x5
    (1, 3, 15, 15, 16, 7, 2, 3, 1, 1),              # 7x7 stride 2 (a stem)
    (2, 13, 9, 11, 17, (3, 1), 1, (1, 0), 1, 1),    # non-square kernel, pair padding
    (1, 6, 7, 9, 9, (1, 5), 1, "same", 1, 1),       # 1x5 'same'
    (2, 5, 8, 7, 7, (2, 3), 1, "valid", 1, 1),      # even kernel, 'valid'
    (1, 8, 12, 12, 24, 3, 1, 2, 2, 1),              # dilation 2
    (2, 8, 11, 11, 12, 3, 1, "same", 2, 1),         # dilation 2 'same'
    (1, 8, 9, 9, 18, 3, (2, 1), 1, (1, 2), 1),      # per-axis stride and dilation
    (2, 12, 7, 7, 18, 3, 1, 1, 1, 2),               # groups 2
    (1, 12, 9, 9, 36, 3, 2, 1, 1, 3),               # groups 3, strided
    (2, 13, 8, 8, 13, 3, 1, 1, 1, 13),              # depthwise
    (1, 16, 9, 9, 32, 3, 2, 1, 1, 16),              # depthwise, multiplier 2, strided
    (1, 32, 6, 6, 32, 3, 1, "same", 2, 32),         # depthwise, dilated
    (64, 16, 16, 16, 32, 3, 1, 1, 1, 1),            # SimpleCNN conv2 (batch 64)
    (1, 64, 20, 20, 64, 3, 1, 1, 1, 1),             # a ResNet-style block conv
    (1, 300, 5, 5, 70, 3, 1, 1, 1, 1),              # long K (2700), cout = 2*32 + 6
    (1, 400, 6, 6, 200, 3, 1, 1, 1, 2),             # weights past the L2 budget: blocks of panels, x2 groups
    # few input channels run as kernel-row taps (conv2d.c, use_row_taps): windows over every edge
    (3, 3, 2, 3, 70, 7, 2, 3, 1, 1),                # image narrower than the 7x7 window, batch 3
    (1, 8, 13, 29, 33, 5, 3, (2, 1), (2, 1), 1),    # cin 8, dilation along y only
    (2, 1, 9, 10, 5, (2, 5), 1, "same", 1, 1),      # cin 1, even kernel height
    (1, 48, 11, 13, 64, 5, 1, 2, 1, 1),             # Inception-v3's 5x5 48->64, pad 2
    (2, 96, 9, 11, 40, 3, 2, 1, 1, 1),              # cin 96 (the limit), strided, padded
    (1, 97, 7, 7, 16, 3, 1, 1, 1, 1),               # cin 97: just past the limit, the tap path
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d_matches_reference(isa, rng, case):
    n, cin, h, w, cout, k, s, p, d, g = case
    x, wt, b, params = conv_case(rng, n, cin, h, w, cout, k, s, p, d, g)
    check_conv(isa, x, wt, b, params)


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d_matches_torch(isa, rng, case):
    torch = importorskip("torch")
    n, cin, h, w, cout, k, s, p, d, g = case
    x, wt, b, params = conv_case(rng, n, cin, h, w, cout, k, s, p, d, g)
    got, mag = check_conv(isa, x, wt, b, params)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b),
                                      **params).numpy()
    # both sides are float32 sums, each within the bound of the exact value
    util.assert_close_dot(got, want.astype(np.float64), 2 * mag)


@pytest.mark.parametrize("dn", [-1, 0, 1, 17])
def test_conv2d_cout_around_tile_width(isa, rng, dn):
    """cout == NR, NR +- 1 and 2*NR + 1 (a partial last panel): masked stores, no stray writes."""
    nr = tile(isa)[1]
    x, wt, b, params = conv_case(rng, 2, 7, 5, 5, nr + dn if dn < 17 else 2 * nr + 1, 3, padding=1)
    check_conv(isa, x, wt, b, params)


@pytest.mark.parametrize("dm", [-1, 0, 1, 7])
@pytest.mark.parametrize("batch", [1, 3])
def test_conv2d_rows_around_tile_height(isa, rng, dm, batch):
    """M = n*oh*ow just below, at, and above a multiple of MR (partial row tiles)."""
    mr = tile(isa)[0]
    m = max(1, mr + dm)
    x, wt, b, params = conv_case(rng, batch, 5, 1, m, 19, (1, 3), padding=(0, 1))
    check_conv(isa, x, wt, b, params)


@pytest.mark.parametrize("n,cin,hw,cout,k", [(1, 176, 7, 200, 1), (2, 320, 7, 1280, 1), (1, 40, 10, 100, 3),
                                              (1, 300, 8, 70, 3), (1, 700, 4, 90, 1), (1, 64, 3, 50, 1)])
def test_conv2d_small_input_many_panels(isa, rng, n, cin, hw, cout, k):
    """A small input: AVX-512 and AVX2 walk it panel by panel, and every full tile prefetches its
    share of the next panel into L2 (conv2d.c panel_major, igemm_simd.h fn_f32_igemm_pf): 9-128
    rows, panels past the first, a narrow last panel, 3x3 taps, one or two full tiles over a long
    panel (the share capped at a line a k-step), no full tile at all."""
    x, wt, b, params = conv_case(rng, n, cin, hw, hw, cout, k, padding=k // 2)
    res = rng.standard_normal((n, cout, hw, hw)).astype(np.float32)
    got = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF))
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, reference.relu(want + res), mag + np.abs(res))


def test_conv2d_every_short_tile(isa, rng):
    """Each last-tile height 1..MR (the kernels specialise short tiles) and a second full tile."""
    mr = tile(isa)[0]
    for m in range(1, 2 * mr + 2):
        x, wt, b, params = conv_case(rng, 1, 3, 1, m, 37, 1)
        check_conv(isa, x, wt, b, params)


def test_conv2d_unbatched_and_no_bias(isa, rng):
    x, wt, _, params = conv_case(rng, 1, 4, 6, 6, 9, 3, padding=1, bias=False)
    got = ops.conv2d(x[0], wt, None, **params)
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, None, **params)
    util.assert_close_dot(got, want[0], mag[0])


@pytest.mark.parametrize("shape,out_f", [((1, 13), 5), ((7, 64), 33), ((3, 4, 17), 1), ((6, 30), 16),
                                         ((2, 30), 31), ((9, 30), 32), ((1, 3, 30), 65), ((13,), 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(isa, rng, shape, out_f, bias):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((out_f, shape[-1])).astype(np.float32)
    b = rng.standard_normal(out_f).astype(np.float32) if bias else None
    got = ops.linear(x, w, b)
    util.assert_ran(isa)
    want = reference.linear(x, w, b)
    mag = reference.linear(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    util.assert_close_dot(got, want, mag)
    torch = importorskip("torch")
    tw = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                    None if b is None else torch.from_numpy(b)).numpy()
    util.assert_close_dot(got, tw.astype(np.float64), 2 * mag)


# ---- the fused epilogue and threading, straight through the binding -------------------------------

def nhwc_conv(isa, x, wt, b, params, res=None, act=ACT_NONE, nthreads=1):
    """_C.conv2d_nhwc on NCHW arrays (transposed here), result back in NCHW."""
    n, cin, h, w = x.shape
    cout, _, kh, kw = wt.shape
    s, d = pair(params["stride"]), pair(params["dilation"])
    pads = pads_for(params["padding"], (kh, kw), d)
    desc = (cin, cout, params["groups"], kh, kw, s[0], s[1], d[0], d[1]) + pads
    packed = _C.conv2d_pack(-1, desc, wt, b)
    oh = _C.conv_out_extent(h, kh, s[0], d[0], pads[0], pads[2])
    ow = _C.conv_out_extent(w, kw, s[1], d[1], pads[1], pads[3])
    # y is the front of a larger buffer: a write past the last row or column would hit the guard
    buf = np.full(n * oh * ow * cout + 80, -12345.0, np.float32)
    y = buf[:n * oh * ow * cout].reshape(n, oh, ow, cout)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    rn = None if res is None else np.ascontiguousarray(res.transpose(0, 2, 3, 1))
    _C.conv2d_nhwc(-1, desc, xn, packed, rn, act, y, nthreads)
    util.assert_ran(isa)
    assert (buf[y.size:] == -12345.0).all(), "the kernel wrote past the end of y"
    return y.transpose(0, 3, 1, 2)


@pytest.mark.parametrize("act", [(1, 0.0, INF), (1, 0.0, 6.0), (1, -0.5, 0.5), ACT_NONE],
                         ids=["relu", "relu6", "clamp", "none"])
@pytest.mark.parametrize("with_res", [True, False])
@pytest.mark.parametrize("cout,groups", [(5, 1), (33, 1), (34, 2)])
def test_fused_residual_and_clamp(isa, rng, act, with_res, cout, groups):
    x, wt, b, params = conv_case(rng, 2, 10, 7, 7, cout, 3, padding=1, groups=groups)
    x *= 0.3  # so a clamp at 6 cuts some outputs and not others
    res = rng.standard_normal((2, cout, 7, 7)).astype(np.float32) if with_res else None
    x[1, 4, 3, 3] = np.nan  # taints the 3x3 output neighbourhood of pixel (3, 3) in image 1
    x[1, 9, 3, 3] = np.nan  # and, with groups, the same patch through the last group
    got = nhwc_conv(isa, x, wt, b, params, res, act)
    want, mag = reference_conv(x, wt, b, **params)
    if with_res:
        want = want + res
        mag = mag + np.abs(res)
    if act[0] == 1:
        want = reference.clamp(want, act[1], act[2])
    nan = np.isnan(want)
    assert nan.sum() == cout * 9, "the NaN input should reach exactly a 3x3 patch of every channel"
    assert (np.isnan(got) == nan).all(), "NaN positions differ"
    # clamping can only shrink the error, so the unclamped magnitude still bounds it
    util.assert_close_dot(got[~nan], want[~nan], mag[~nan])


@pytest.mark.parametrize("cin,h,w,cout,k", [(8, 6, 6, 37, 3), (16, 7, 9, 24, 1)])  # 1x1: the dense-rows path
def test_fused_residual_in_place(isa, rng, cin, h, w, cout, k):
    """res may be y itself (a plan reusing the skip connection's buffer): y = relu(conv(x) + y)."""
    p = k // 2
    x, wt, b, params = conv_case(rng, 2, cin, h, w, cout, k, padding=p)
    desc = (cin, cout, 1, k, k, 1, 1, 1, 1, p, p, p, p)
    if k == 1:
        assert _C.conv2d_dense_fits(desc)
    packed = _C.conv2d_pack(-1, desc, wt, b)
    res = rng.standard_normal((2, h, w, cout)).astype(np.float32)
    y = res.copy()
    _C.conv2d_nhwc(-1, desc, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), packed, y, (1, 0.0, INF), y, 2)
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, **params)
    want = reference.relu(want + res.transpose(0, 3, 1, 2))
    util.assert_close_dot(y.transpose(0, 3, 1, 2), want, mag + np.abs(res.transpose(0, 3, 1, 2)))


@pytest.mark.parametrize("cin,cout,groups,k", [(2048, 40, 1, 1), (7, 33, 1, 3), (24, 70, 2, 5), (3, 16, 1, 7),
                                                (1024, 3, 1, 1), (16, 96, 4, 3)])
def test_packed_panel_layout(isa, rng, cin, cout, groups, k):
    """The generic GEMM packing, element by element against its layout written in numpy: per group and
    NR-wide panel of output channels, [NR bias][taps][cin/groups inputs][NR outputs], zeros past the
    group's channels; then the row of zeros padding taps read. (Group widths the small-group kernel
    takes are packed by that kernel's own layout: none of these shapes.)"""
    kc, cg = cin // groups, cout // groups
    wt = rng.standard_normal((cout, kc, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    desc = (cin, cout, groups, k, k, 1, 1, 1, 1, 0, 0, 0, 0)
    mr, nr, _ = _C.conv2d_tile(-1, desc)  # (1024 -> 3 on AVX-512: AVX2's 16-wide panels)
    packed = _C.conv2d_pack(-1, desc, wt, b)
    off = int(packed[0])
    assert 1 <= off <= 16
    npan = -(-cg // nr)
    body = packed[off:off + groups * npan * nr * (1 + k * k * kc)].reshape(groups, npan, 1 + k * k * kc, nr)
    want = np.zeros((groups, npan * nr, 1 + k * k * kc), np.float32)
    for g in range(groups):
        want[g, :cg, 0] = b[g * cg:(g + 1) * cg]
        want[g, :cg, 1:] = wt[g * cg:(g + 1) * cg].transpose(0, 2, 3, 1).reshape(cg, k * k * kc)  # (tap, ci)
    want = want.reshape(groups, npan, nr, 1 + k * k * kc).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(body, want)
    assert not packed[off + body.size:].any(), "the padding row and the tail must be zeros"


@pytest.mark.parametrize("cout,groups", [(1, 1), (3, 1), (8, 1), (9, 1), (16, 1), (16, 2), (24, 3), (40, 4),
                                          (18, 2)])
def test_narrow_convs_take_the_avx2_table_on_avx512(isa, rng, cout, groups):
    """At most 8 output channels a group: AVX-512 packs and runs the conv on AVX2's table (8-lane
    vectors all real channels, where a 16-lane one would be half zeros; conv2d.c conv_kernels); other
    ISAs, and wider groups, on their own. Against the reference either way, with a residual and a
    clamp through the epilogue, batch 2, a 3x3 and a 1x1 (the dense-rows kernel)."""
    for k in (3, 1):
        cin = 4 * groups
        desc = (cin, cout, groups, k, k, 1, 1, 1, 1, k // 2, k // 2, k // 2, k // 2)
        want_isa = "avx2" if isa == "avx512" and cout // groups <= 8 else isa
        assert _C.conv2d_tile(-1, desc) == tile(want_isa) + (want_isa,)
        x, wt, b, params = conv_case(rng, 2, cin, 9, 7, cout, k, padding=k // 2, groups=groups)
        res = rng.standard_normal((2, cout, 9, 7)).astype(np.float32)
        got = nhwc_conv(isa, x, wt, b, params, res, (1, -0.5, 1.5))
        want, mag = reference_conv(x, wt, b, **params)
        util.assert_close_dot(got, reference.clamp(want + res, -0.5, 1.5), mag + np.abs(res))
        packed = _C.conv2d_pack(-1, desc, wt, b)
        nr = tile(want_isa)[1]
        assert packed.size == 16 + groups * -(-(cout // groups) // nr) * nr * (1 + k * k * 4) + 4 * k


@pytest.mark.parametrize("cin", [1, 13, 64])
@pytest.mark.parametrize("dn", [-15, -1, 0, 1, 17])
@pytest.mark.parametrize("bias", [True, False])
def test_pack_kn_same_as_pack_of_the_transpose(isa, rng, cin, dn, bias):
    """conv2d_pack_kn(wt: (cin, cout)) packs a linear weight stored transposed (ONNX MatMul's B) into
    the same panels conv2d_pack gives for wt.T, output channels around the tile width; the panels
    start at an offset each buffer chose, so the bodies are compared."""
    _, nr = _C.gemm_tile(-1)
    cout = max(1, nr + dn)
    wt = rng.standard_normal((cin, cout)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    desc = (cin, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    want = _C.conv2d_pack(-1, desc, np.ascontiguousarray(wt.T).reshape(cout, cin, 1, 1), b)
    got = _C.conv2d_pack_kn(-1, desc, wt, b)
    assert got.shape == want.shape
    ow, og = int(want[0]), int(got[0])
    body = want.size - 16
    np.testing.assert_array_equal(got[og:og + body], want[ow:ow + body])
    x = rng.standard_normal((3, 1, 1, cin)).astype(np.float32)
    y = np.empty((3, 1, 1, cout), np.float32)
    _C.conv2d_nhwc(-1, desc, x, got, None, ACT_NONE, y, 1)
    util.assert_ran(isa)
    ref = x.reshape(3, cin).astype(np.float64) @ wt + (0 if b is None else b)
    np.testing.assert_allclose(y.reshape(3, cout), ref, rtol=1e-5, atol=1e-5)


def test_pack_kn_rejects_what_it_cannot_pack(rng):
    wt = rng.standard_normal((8, 6)).astype(np.float32)
    with pytest.raises(ValueError, match="1x1"):
        _C.conv2d_pack_kn(-1, (8, 6, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0), wt, None)
    with pytest.raises(ValueError, match="1x1"):
        _C.conv2d_pack_kn(-1, (8, 6, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), wt, None)
    with pytest.raises(ValueError, match="expected shape"):
        _C.conv2d_pack_kn(-1, (6, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), wt, None)
    with pytest.raises(ValueError, match="bias"):
        _C.conv2d_pack_kn(-1, (8, 6, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), wt, np.zeros(5, np.float32))


def test_packed_weights_moved_to_another_alignment(isa, rng):
    """Packed panels start at a 64-byte line found when packing; the offset is stored in the buffer,
    so a copy at another alignment (np.copy, a file) gives the same bits, and junk is refused."""
    x, wt, b, _ = conv_case(rng, 1, 16, 7, 7, 40, 3)
    desc = (16, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    packed = _C.conv2d_pack(-1, desc, wt, b)
    want = np.empty((1, 7, 7, 40), np.float32)
    _C.conv2d_nhwc(-1, desc, xn, packed, None, ACT_NONE, want, 1)
    buf = np.empty(packed.size + 16, np.float32)
    for shift in range(16):
        moved = buf[shift:shift + packed.size]
        moved[:] = packed
        got = np.empty_like(want)
        _C.conv2d_nhwc(-1, desc, xn, moved, None, ACT_NONE, got, 2)
        util.assert_ran(isa)
        assert np.array_equal(got, want), "shift %d" % shift
    with pytest.raises(ValueError):
        _C.conv2d_nhwc(-1, desc, xn, np.zeros_like(packed), None, ACT_NONE, got, 1)


@pytest.mark.parametrize("case", [(1, 16, 23, 23, 40, 3, 1, 1, 1, 1), (3, 24, 9, 9, 70, 3, 2, 1, 1, 1),
                                  (2, 12, 9, 9, 24, 3, 1, 1, 1, 4), (1, 32, 14, 14, 32, 3, 1, 1, 1, 32),
                                  (1, 200, 12, 12, 300, 3, 1, 1, 1, 1), (2, 400, 5, 5, 200, 3, 1, 1, 1, 2),
                                  (1, 176, 7, 7, 200, 1, 1, 0, 1, 1), (2, 192, 7, 7, 1000, 1, 1, 0, 1, 1)])
def test_threads_bit_identical(isa, rng, case):
    n, cin, h, w, cout, k, s, p, d, g = case
    x, wt, b, params = conv_case(rng, n, cin, h, w, cout, k, s, p, d, g)
    out_shape = reference_conv(x, wt, b, **params)[0].shape
    res = rng.standard_normal(out_shape).astype(np.float32)
    one = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=1)
    for nt in (2, 3):
        many = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=nt)
        assert np.array_equal(one, many), "nthreads=%d differs from nthreads=1" % nt


def test_threads_bit_identical_through_ops(isa, rng):
    x, wt, b, params = conv_case(rng, 1, 32, 17, 17, 48, 3, padding=1)
    saved = threads._user_threads
    try:
        set_num_threads(1)
        one = ops.conv2d(x, wt, b, **params)
        set_num_threads(2)
        two = ops.conv2d(x, wt, b, **params)
        util.assert_ran(isa)
    finally:
        set_num_threads(saved)
    assert np.array_equal(one, two)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_conv2d_sweep(isa, data):
    groups = data.draw(st.sampled_from([1, 1, 1, 2, 3]), "groups")
    cin = groups * data.draw(st.integers(1, 6), "cin/groups")
    cout = groups * data.draw(st.integers(1, 12), "cout/groups")
    depthwise = data.draw(st.booleans(), "depthwise")
    if depthwise:
        groups, cout = cin, cin * data.draw(st.integers(1, 2), "multiplier")
    kh, kw = data.draw(st.integers(1, 4), "kh"), data.draw(st.integers(1, 4), "kw")
    sh, sw = data.draw(st.integers(1, 3), "sh"), data.draw(st.integers(1, 3), "sw")
    dh, dw = data.draw(st.integers(1, 2), "dh"), data.draw(st.integers(1, 2), "dw")
    ph, pw = data.draw(st.integers(0, 2), "ph"), data.draw(st.integers(0, 2), "pw")
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9), "h")
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9), "w")
    n = data.draw(st.integers(1, 3), "n")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), "seed")
    rng = np.random.default_rng(seed)
    x, wt, b, params = conv_case(rng, n, cin, h, w, cout, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups,
                                 bias=data.draw(st.booleans(), "bias"))
    check_conv(isa, x, wt, b, params)


# ---- the caller's mistakes --------------------------------------------------------------------------

def test_bad_arguments(rng):
    x = rng.standard_normal((1, 6, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="groups"):
        ops.conv2d(x, rng.standard_normal((6, 2, 3, 3)).astype(np.float32), groups=4)  # 4 !| 6
    with pytest.raises(ValueError, match="divisible by groups"):
        ops.conv2d(x, rng.standard_normal((5, 3, 3, 3)).astype(np.float32), groups=2)  # 2 !| 5
    with pytest.raises(ValueError, match="weight: expected 4D"):
        ops.conv2d(x, w[0])
    with pytest.raises(ValueError, match="input: expected 3 channels"):
        ops.conv2d(x, w)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        ops.conv2d(x[:, :3, :2, :2], w)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        ops.conv2d(x[:, :3], w, padding=1, dilation=5)
    with pytest.raises(ValueError, match="groups"):
        ops.conv2d(x, w, groups=0)
    with pytest.raises(ValueError, match="bias"):
        ops.conv2d(x[:, :3], w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="'same'"):
        ops.conv2d(x[:, :3], w, padding="same", stride=2)
    with pytest.raises(ValueError, match="weight: expected 2D"):
        ops.linear(x[0, 0], w)
    with pytest.raises(ValueError, match="in_features=3"):
        ops.linear(x[0, 0], w[:, :, 0, 0])


def test_binding_rejects_bad_shapes(rng):
    desc = (4, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    packed = _C.conv2d_pack(-1, desc, w, None)
    x = rng.standard_normal((1, 5, 5, 4)).astype(np.float32)
    y = np.empty((1, 5, 5, 8), np.float32)
    with pytest.raises(ValueError, match="channels"):
        _C.conv2d_nhwc(-1, desc, x[..., :3].copy(), packed, None, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="output"):
        _C.conv2d_nhwc(-1, desc, x, packed, None, ACT_NONE, y[:, :4].copy(), 1)
    with pytest.raises(ValueError, match="residual"):
        _C.conv2d_nhwc(-1, desc, x, packed, y[:, :4].copy(), ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="packed"):
        _C.conv2d_nhwc(-1, desc, x, packed[:-1].copy(), None, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="groups"):
        _C.conv2d_pack(-1, (4, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), w, None)


@pytest.mark.parametrize("cin,stride,cout", [(1024, 1, 70), (512, 2, 96), (2048, 1, 40), (1024, 2, 33)])
@pytest.mark.parametrize("batch", [1, 2])
def test_pointwise_rows_on_4k_strides(isa, rng, cin, stride, cout, batch):
    """1x1 convs whose input rows lie a multiple of 4 KiB apart (cin * stride * 4 bytes): where the
    packed weights hold two panels or more per L2 block, the driver copies each tile's rows to
    padded scratch first (use_row_copy); the answer is the reference's and does not depend on the
    thread count. 5x7 images: tiles that wrap rows, a short last tile."""
    x, wt, b, params = conv_case(rng, batch, cin, 5, 7, cout, 1, stride)
    out_shape = reference_conv(x, wt, b, **params)[0].shape
    res = rng.standard_normal(out_shape).astype(np.float32)
    got = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=1)
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, reference.relu(want + res), mag + np.abs(res))
    two = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=2)
    assert np.array_equal(got, two)



@pytest.mark.parametrize("cin,hw,cout,stride", [(1024, 7, 520, 1), (2048, 7, 136, 1), (1024, 14, 300, 1),
                                                (1024, 14, 290, 2), (768, 9, 400, 1), (1152, 5, 333, 1)])
def test_pointwise_large_weights_small_input(isa, rng, cin, hw, cout, stride):
    """1x1 convs whose weights (over 1 MiB) cannot stay in L2 but whose input can: the driver walks
    them panel by panel, every full tile prefetching a share of the next panel, and reads rows 4 KiB
    apart in place (conv2d.c panel_major). The answer is the reference's, the same bits on 1-3
    threads, and the same bits as each sample's rows computed inside a batch of 6, whose input is too
    large for that order (blocks of panels, row copies where rows are 4 KiB apart)."""
    x, wt, b, params = conv_case(rng, 1, cin, hw, hw, cout, 1, stride)
    out_shape = reference_conv(x, wt, b, **params)[0].shape
    res = rng.standard_normal(out_shape).astype(np.float32)
    got = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=1)
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, reference.relu(want + res), mag + np.abs(res))
    for nt in (2, 3):
        assert np.array_equal(got, nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=nt))
    others, _, _, _ = conv_case(rng, 5, cin, hw, hw, cout, 1, stride)
    xb = np.concatenate([others[:3], x, others[3:]])
    resb = np.concatenate([np.zeros((3,) + out_shape[1:], np.float32), res, np.zeros((2,) + out_shape[1:], np.float32)])
    batched = nhwc_conv(isa, xb, wt, b, params, resb, (1, 0.0, INF), nthreads=1)
    assert np.array_equal(got[0], batched[3])


@pytest.mark.parametrize("c,groups,stride,hw", [(64, 4, 2, 15), (64, 4, 1, 9), (96, 3, 1, 8), (160, 10, 2, 9),
                                                (128, 4, 1, 6), (72, 6, 2, 11), (40, 2, 1, 13)])
def test_grouped_conv_tiles_walk_every_group(isa, rng, c, groups, stride, hw):
    """Grouped 3x3 convs whose group width (16, 32, 12, 20) the small-group kernel does not take on
    every ISA: the generic GEMM walks each m tile through all groups before the next tile (conv2d.c
    gmt). Batch 3, a residual and ReLU: the reference's answer, the same bits on 1-3 threads and as
    each sample computed alone."""
    x, wt, b, params = conv_case(rng, 3, c, hw, hw, c, 3, stride, padding=1, groups=groups)
    out_shape = reference_conv(x, wt, b, **params)[0].shape
    res = rng.standard_normal(out_shape).astype(np.float32)
    got = nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=1)
    want, mag = reference_conv(x, wt, b, **params)
    util.assert_close_dot(got, reference.relu(want + res), mag + np.abs(res))
    for nt in (2, 3):
        assert np.array_equal(got, nhwc_conv(isa, x, wt, b, params, res, (1, 0.0, INF), nthreads=nt))
    one = nhwc_conv(isa, x[1:2], wt, b, params, res[1:2], (1, 0.0, INF), nthreads=1)
    assert np.array_equal(got[1:2], one)

# ---- 1x1 convs on the dense-rows kernel (conv2d.c use_dense, igemm_simd.h fn_f32_igemm_dense) ------

SILU = (_C.ACT_ACTK0 + _C.ACTK_SILU, 0.0, 0.0)  # applied in the kernel's registers on SIMD ISAs
MISH = (_C.ACT_ACTK0 + _C.ACTK_MISH, 0.0, 0.0)  # applied by the driver after each call


def _conv1x1_nhwc(x, packed, desc, res, act, nthreads):
    """_C.conv2d_nhwc on an NHWC x, into the front of a guarded buffer."""
    n, h, w, _ = x.shape
    s, cout, pads = desc[5], desc[1], desc[9:]
    oh = _C.conv_out_extent(h, 1, s, 1, pads[0], pads[2])
    ow = _C.conv_out_extent(w, 1, desc[6], 1, pads[1], pads[3])
    buf = np.full(n * oh * ow * cout + 80, -12345.0, np.float32)
    y = buf[:n * oh * ow * cout].reshape(n, oh, ow, cout)
    _C.conv2d_nhwc(-1, desc, x, packed, res, act, y, nthreads)
    assert (buf[y.size:] == -12345.0).all(), "the kernel wrote past the end of y"
    return y


# (n, cin, h, w, cout, stride): K = 1..64 incl. odd, cout around 8 / 16 (the one-vector tall tile and
# partial panels), 1x1 images, batch 2, row counts that leave every tail of the 6- and 12-row tiles;
# many row chunks, outputs of several MiB (strided too), and cout past one L2 block of panels (two
# blocks, the last narrower); few row chunks, where each panel of a block's first pass prefetches the
# next
DENSE_CASES = [
    (1, 16, 23, 29, 64, 1), (1, 16, 91, 91, 64, 1), (2, 8, 97, 89, 128, 2), (1, 160, 7, 9, 840, 1),
    (2, 150, 7, 9, 900, 2),
    (1, 1, 5, 7, 8, 1), (2, 3, 1, 1, 5, 1), (1, 7, 9, 11, 24, 1), (2, 16, 7, 9, 16, 1),
    (1, 16, 13, 13, 64, 1), (1, 17, 6, 5, 72, 1), (2, 24, 5, 11, 56, 1), (1, 32, 11, 7, 24, 1),
    (3, 33, 4, 5, 40, 1), (1, 40, 9, 9, 1, 1), (2, 48, 6, 7, 31, 1), (1, 64, 7, 7, 24, 1),
    (1, 24, 9, 13, 24, 2), (2, 32, 11, 10, 8, 2), (1, 5, 1, 1, 9, 2), (2, 13, 7, 1, 17, 3),
    # few row chunks (the 7x7 stages): the first pass over a block asks the next panel (dense_run)
    (1, 64, 7, 7, 336, 1), (2, 96, 7, 7, 200, 1), (1, 160, 7, 7, 960, 1),
    # past 160 input channels: fewer tiles a chunk (3 at 192, 2 at 256, 1 from 320)
    (1, 192, 13, 11, 96, 1), (2, 256, 7, 7, 300, 2), (1, 448, 9, 7, 72, 1), (2, 1088, 5, 3, 40, 1),
    (1, 161, 3, 5, 33, 1),
    # rows a multiple of 4 KiB apart (1024 channels; 512 at stride 2): a compact copy of the pixels read,
    # then a stride-1 dense conv on it (conv2d.c aliased_rows)
    (1, 1024, 7, 7, 72, 1), (2, 1024, 5, 6, 40, 1), (2, 512, 7, 9, 100, 2), (1, 2048, 3, 3, 33, 1),
]


@pytest.mark.parametrize("case", DENSE_CASES, ids=[str(c) for c in DENSE_CASES])
@pytest.mark.parametrize("act", [(1, 0.0, INF), ACT_NONE, SILU, MISH], ids=["relu", "none", "silu", "mish"])
def test_conv1x1_dense_rows(isa, rng, case, act):
    """The dense path against the reference (residual + act epilogue), and bit for bit against the
    indirect path on the same data: a conv padded only at the bottom and right goes the indirect way
    (use_dense takes no padding), and its top-left oh x ow block is the unpadded conv's. Thread counts
    1, 2 and 3 agree."""
    n, cin, h, w, cout, s = case
    x, wt, b, params = conv_case(rng, n, cin, h, w, cout, 1, s)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    dense = (cin, cout, 1, 1, 1, s, s, 1, 1, 0, 0, 0, 0)
    padded = dense[:9] + (0, 0, 1, 1)
    assert _C.conv2d_dense_fits(dense) and not _C.conv2d_dense_fits(padded)
    packed = _C.conv2d_pack(-1, dense, wt, b)
    oh, ow = (h - 1) // s + 1, (w - 1) // s + 1
    res_big = rng.standard_normal((n, h // s + 1, w // s + 1, cout)).astype(np.float32)
    res = np.ascontiguousarray(res_big[:, :oh, :ow])
    got = _conv1x1_nhwc(xn, packed, dense, res, act, 1)
    util.assert_ran(isa)
    ind = _conv1x1_nhwc(xn, packed, padded, res_big, act, 1)
    assert np.array_equal(got, ind[:, :oh, :ow], equal_nan=True), "dense and indirect paths differ"
    for nt in (2, 3):
        assert np.array_equal(got, _conv1x1_nhwc(xn, packed, dense, res, act, nt), equal_nan=True)
    want, mag = reference_conv(x, wt, b, **params)
    want = want.transpose(0, 2, 3, 1) + res
    mag = mag.transpose(0, 2, 3, 1) + np.abs(res)
    if act[0] == 1:
        util.assert_close_dot(got, reference.relu(want), mag)
    elif act == ACT_NONE:
        util.assert_close_dot(got, want, mag)
    else:  # silu / mish of the float64 sum: within the act's own bound of the conv's
        f = reference_act.silu if act == SILU else reference_act.mish
        pre = _conv1x1_nhwc(xn, packed, dense, res, ACT_NONE, 1)
        util.assert_close_dot(pre, want, mag)
        np.testing.assert_allclose(got, f(pre.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_packed_buffers_share_chunks_without_overlap(rng):
    """Packers carve their buffers from shared chunks (huge pages for a fresh process's page faults):
    no two overlap, packing more leaves earlier ones as they were, a large one gets its own, and a
    chunk is freed with the last buffer carved from it."""
    import gc
    import weakref
    big = (1024, 480, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)      # just under a quarter of a chunk
    wbig = rng.standard_normal((480, 1024, 1, 1)).astype(np.float32)
    q = prev = _C.conv2d_pack(-1, big, wbig, None)
    for _ in range(6):                                      # until a chunk this test started
        q = _C.conv2d_pack(-1, big, wbig, None)
        if q.base is not prev.base:
            break
        prev = q
    assert q.base is not None and q.base is not prev.base
    chunk = weakref.ref(q.base)
    packs, kept = [q], [q.copy()]
    for cin, cout in [(3, 5), (64, 200), (13, 16), (2048, 1100), (1, 1), (40, 160)]:
        w = rng.standard_normal((cout, cin, 1, 1)).astype(np.float32)
        p = _C.conv2d_pack(-1, (cin, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), w, None)
        packs.append(p)
        kept.append(p.copy())
    spans = sorted((p.__array_interface__["data"][0], p.nbytes) for p in packs)
    assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:])), "packed buffers overlap"
    assert all(p.__array_interface__["data"][0] % 64 == 0 for p in packs if p.base is not None)
    for p, k in zip(packs, kept):
        np.testing.assert_array_equal(p, k)
    assert packs[4].base is None                            # 2048 x 1100: an allocation of its own
    assert all(p.base is chunk() for i, p in enumerate(packs) if i != 4)
    del packs, p, q, prev
    gc.collect()
    assert chunk() is None, "a chunk outlived every buffer carved from it"
