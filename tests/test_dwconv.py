"""Depthwise conv2d (groups == in == out channels): the NHWC kernel behind ops.conv2d and the plan's
DWCONV2D record, vs the float64 reference and torch, under every ISA."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnorm
import reference
import util
from util import importorskip
from fastnorm import _C, ops, threads
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.ops._common import ACT_NONE
from fastnorm._C import OP_CONV2D, OP_DWCONV2D

INF = float("inf")
RELU6 = (1, 0.0, 6.0)
CHANNELS = [1, 7, 15, 16, 17, 33, 96, 144]  # around both vector widths (8, 16) and MobileNet's


def case(rng, n, c, h, w, kh, kw, bias=True):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((c, 1, kh, kw)).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32) if bias else None
    return x, wt, b


def ref(x, wt, b, stride, pads, dilation):
    """(want, magnitude) in NCHW, pads = (top, left, bottom, right): the float64 result and the same
    conv over |x|, |w|, |b|, which bounds the float32 rounding (util.assert_close_dot)."""
    c = x.shape[1]
    want = reference.conv2d(x, wt, b, stride, pads, dilation, c)
    mag = reference.conv2d(np.abs(x), np.abs(wt), None if b is None else np.abs(b), stride, pads,
                           dilation, c)
    return want, mag


def desc_of(c, wt, stride, pads, dilation):
    return (c, c, c, wt.shape[2], wt.shape[3], stride[0], stride[1], dilation[0], dilation[1]) + tuple(pads)


def run_nhwc(isa, x, wt, b, stride, pads, dilation, res=None, act=ACT_NONE, nthreads=1, in_place=False):
    """_C.dwconv2d_nhwc on NCHW arrays (transposed here), the result back in NCHW. y is the front of
    a larger buffer whose tail must stay untouched; in_place passes res as y itself."""
    n, c, h, w = x.shape
    d = desc_of(c, wt, stride, pads, dilation)
    packed = _C.dwconv2d_pack(wt, b)
    oh = _C.conv_out_extent(h, wt.shape[2], stride[0], dilation[0], pads[0], pads[2])
    ow = _C.conv_out_extent(w, wt.shape[3], stride[1], dilation[1], pads[1], pads[3])
    buf = np.full(n * oh * ow * c + 80, -12345.0, np.float32)
    y = buf[:n * oh * ow * c].reshape(n, oh, ow, c)
    rn = None if res is None else np.ascontiguousarray(res.transpose(0, 2, 3, 1))
    if in_place:
        y[...] = rn
        rn = y
    _C.dwconv2d_nhwc(-1, d, np.ascontiguousarray(x.transpose(0, 2, 3, 1)), packed, rn, act, y, nthreads)
    util.assert_ran(isa)
    assert (buf[y.size:] == -12345.0).all(), "the kernel wrote past the end of y"
    return y.transpose(0, 3, 1, 2)


# (n, c, h, w, kernel, stride, pads (t, l, b, r), dilation)
CASES = [
    (1, 1, 1, 1, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),        # 1x1 image, every tap but the centre padding
    (3, 7, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),        # 1x1 kernel, 1x1 image
    (1, 16, 9, 9, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),       # one full vector
    (2, 17, 8, 11, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),      # a masked tail, stride 2
    (1, 33, 12, 13, (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),     # 5x5
    (1, 33, 13, 12, (5, 5), (2, 2), (2, 2, 2, 2), (1, 1)),     # 5x5 stride 2
    (1, 15, 10, 10, (7, 7), (1, 1), (3, 3, 3, 3), (1, 1)),     # 7x7 (the general tile)
    (2, 144, 6, 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),      # MobileNet channels, small image
    (1, 96, 9, 9, (3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),       # TF 'same' for stride 2: pad bottom/right
    (1, 7, 9, 10, (3, 3), (1, 1), (2, 0, 1, 3), (1, 1)),       # asymmetric, wider than the kernel
    (1, 16, 9, 9, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),       # dilation 2
    (1, 17, 10, 9, (3, 5), (1, 2), (1, 2, 1, 2), (2, 1)),      # per-axis kernel, stride, dilation
    (1, 16, 4, 4, (3, 3), (3, 3), (3, 3, 3, 3), (1, 1)),       # pad >= kernel: rows/columns of pure padding
    (1, 8, 2, 40, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),       # long row, one kernel row clipped each side
    (1, 16, 5, 5, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1)),       # one output, no padding
]
IDS = [str(i) for i in range(len(CASES))]


@pytest.mark.parametrize("cs", CASES, ids=IDS)
def test_matches_reference_and_torch(isa, rng, cs):
    n, c, h, w, k, s, pads, d = cs
    x, wt, b = case(rng, n, c, h, w, *k)
    got = run_nhwc(isa, x, wt, b, s, pads, d)
    want, mag = ref(x, wt, b, s, pads, d)
    util.assert_close_dot(got, want, mag)
    torch = importorskip("torch")
    F = torch.nn.functional
    tx = F.pad(torch.from_numpy(x), (pads[1], pads[3], pads[0], pads[2]))
    tw = F.conv2d(tx, torch.from_numpy(wt), torch.from_numpy(b), s, 0, d, c).numpy()
    util.assert_close_dot(got, tw.astype(np.float64), 2 * mag)  # both within the bound of the exact value


@pytest.mark.parametrize("cs", [c for c in CASES if c[6][:2] == c[6][2:]], ids=str)
def test_ops_conv2d_takes_the_depthwise_path(isa, rng, cs):
    """ops.conv2d (symmetric padding, as torch's argument) runs the new kernel; same bits as the binding."""
    n, c, h, w, k, s, pads, d = cs
    x, wt, b = case(rng, n, c, h, w, *k)
    got = ops.conv2d(x, wt, b, s, pads[:2], d, c)
    util.assert_ran(isa)
    assert np.array_equal(got, run_nhwc(isa, x, wt, b, s, pads, d))
    got1 = ops.conv2d(x[0], wt, None, s, pads[:2], d, c)  # unbatched, no bias
    want, mag = ref(x[:1], wt, None, s, pads, d)
    util.assert_close_dot(got1, want[0], mag[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sweep(isa, data):
    c = data.draw(st.sampled_from(CHANNELS), "c")
    kh, kw = data.draw(st.integers(1, 7), "kh"), data.draw(st.integers(1, 7), "kw")
    sh, sw = data.draw(st.integers(1, 3), "sh"), data.draw(st.integers(1, 3), "sw")
    dh, dw = data.draw(st.integers(1, 2), "dh"), data.draw(st.integers(1, 2), "dw")
    pads = tuple(data.draw(st.integers(0, 3), p) for p in ("top", "left", "bottom", "right"))
    lo_h = max(1, dh * (kh - 1) + 1 - pads[0] - pads[2])  # at least one output
    lo_w = max(1, dw * (kw - 1) + 1 - pads[1] - pads[3])
    h = data.draw(st.integers(lo_h, lo_h + 10), "h")
    w = data.draw(st.integers(lo_w, lo_w + 10), "w")
    n = data.draw(st.sampled_from([1, 3]), "n")
    act = data.draw(st.sampled_from([ACT_NONE, RELU6, (1, -0.5, 0.5)]), "act")
    with_res = data.draw(st.booleans(), "residual")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), "seed"))
    x, wt, b = case(rng, n, c, h, w, kh, kw, bias=data.draw(st.booleans(), "bias"))
    want, mag = ref(x, wt, b, (sh, sw), pads, (dh, dw))
    res = rng.standard_normal(want.shape).astype(np.float32) if with_res else None
    got = run_nhwc(isa, x, wt, b, (sh, sw), pads, (dh, dw), res, act)
    if with_res:
        want, mag = want + res, mag + np.abs(res)
    if act[0] == 1:
        want = reference.clamp(want, act[1], act[2])  # clamping only shrinks the error
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("k,s", [((3, 3), 1), ((3, 3), 2), ((5, 5), 1), ((5, 5), 2), ((7, 7), 1)])
@pytest.mark.parametrize("c", [16, 17])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the reference's inf - inf
def test_nan_and_inf_propagate(isa, rng, k, s, c):
    """A NaN or an Inf input reaches exactly the outputs whose window holds it, in its channel, as the
    reference and torch; Inf meeting -Inf in one window gives NaN."""
    x, wt, b = case(rng, 2, c, 11, 12, *k)
    x[0, 3, 5, 6] = np.nan
    x[1, c - 1, 0, 0] = INF           # a corner, next to padding
    x[1, 2, 6, 6] = INF
    x[1, 2, 6, 8] = -INF              # shares windows with the +Inf: NaN there
    pads = (k[0] // 2,) * 4
    got = run_nhwc(isa, x, wt, b, (s, s), pads, (1, 1), act=RELU6)
    want = reference.clamp(ref(x, wt, b, (s, s), pads, (1, 1))[0], 0.0, 6.0)
    assert np.isnan(want).any() and np.isinf(ref(x, wt, b, (s, s), pads, (1, 1))[0]).any()
    assert (np.isnan(got) == np.isnan(want)).all(), "NaN positions differ"
    fin = ~np.isnan(want)
    util.assert_close(got[fin], want[fin].astype(np.float32), rtol=1e-4, atol=1e-4)
    raw = run_nhwc(isa, x, wt, b, (s, s), pads, (1, 1))  # no clamp: the infinities themselves
    want_raw = ref(x, wt, b, (s, s), pads, (1, 1))[0]
    assert (np.isnan(raw) == np.isnan(want_raw)).all()
    assert (np.isposinf(raw) == np.isposinf(want_raw)).all() and (np.isneginf(raw) == np.isneginf(want_raw)).all()
    torch = importorskip("torch")
    tw = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b), s,
                                    k[0] // 2, 1, c).numpy()
    assert (np.isnan(raw) == np.isnan(tw)).all() and (np.isinf(raw) == np.isinf(tw)).all()


@pytest.mark.parametrize("act", [RELU6, ACT_NONE], ids=["relu6", "none"])
def test_residual_in_place(isa, rng, act):
    """res may be y itself (a plan reusing the skip connection's buffer): y = act(conv(x) + y)."""
    x, wt, b = case(rng, 2, 33, 9, 9, 3, 3)
    want, mag = ref(x, wt, b, (1, 1), (1, 1, 1, 1), (1, 1))
    res = rng.standard_normal(want.shape).astype(np.float32)
    got = run_nhwc(isa, x, wt, b, (1, 1), (1, 1, 1, 1), (1, 1), res, act, nthreads=2, in_place=True)
    want = want + res
    if act[0] == 1:
        want = reference.clamp(want, 0.0, 6.0)
    util.assert_close_dot(got, want, mag + np.abs(res))


@pytest.mark.parametrize("nthreads", [1, 2])
def test_batch_rows_bottom_up_same_bits(isa, rng, nthreads):
    """The driver runs the (sample, output row) rows from the last to the first (dwconv.c): each
    sample of a batch, in place over its residual, is still that sample alone, bit for bit."""
    x, wt, b = case(rng, 3, 40, 13, 12, 3, 3)
    s, pads = (2, 2), (1, 1, 1, 1)
    res = rng.standard_normal(ref(x, wt, b, s, pads, (1, 1))[0].shape).astype(np.float32)
    got = run_nhwc(isa, x, wt, b, s, pads, (1, 1), res, RELU6, nthreads=nthreads, in_place=True)
    for i in range(3):
        one = run_nhwc(isa, x[i:i + 1], wt, b, s, pads, (1, 1), res[i:i + 1], RELU6)
        assert np.array_equal(got[i:i + 1], one)


@pytest.mark.parametrize("c", [64, 72, 128])
def test_wide_pass_past_l2(isa, rng, c):
    """A sample past FN_DWCONV_WIDE_MIN_BYTES (2 MiB): AVX-512's 3x3 stride-2 slide takes four vectors
    of channels a pass (dwconv_simd.h, fn_dwconv_geom.wide), then two, then one. numpy's buffers may
    start off a 64-byte line: 64 channels then take a masked head and no wide pass; 128 still do.
    Against the float64 reference, with a residual in place and a clamp, at 2 threads; the same bits
    as AVX2 (no wide pass) when this is AVX-512."""
    from fastnorm.testing import force_isa, unavailable_reason
    h, w = 91, {64: 93, 72: 87, 128: 47}[c]
    x, wt, b = case(rng, 2, c, h, w, 3, 3)
    assert h * w * c * 4 >= 2 << 20
    s, pads = (2, 2), (1, 1, 1, 1)
    want, mag = ref(x, wt, b, s, pads, (1, 1))
    res = rng.standard_normal(want.shape).astype(np.float32)
    got = run_nhwc(isa, x, wt, b, s, pads, (1, 1), res, RELU6, nthreads=2, in_place=True)
    util.assert_close_dot(got, reference.clamp(want + res, 0.0, 6.0), mag + np.abs(res))
    if isa == "avx512" and not unavailable_reason("avx2"):
        with force_isa("avx2"):
            assert np.array_equal(got, run_nhwc("avx2", x, wt, b, s, pads, (1, 1), res, RELU6))


@pytest.mark.parametrize("cs", [(1, 144, 30, 30, (3, 3), (1, 1)), (3, 33, 17, 19, (5, 5), (2, 2)),
                                (2, 96, 23, 23, (3, 3), (2, 2)), (1, 17, 15, 15, (7, 7), (1, 1)),
                                (16, 16, 8, 8, (3, 3), (1, 1))])
def test_threads_bit_identical(isa, rng, cs):
    n, c, h, w, k, s = cs
    x, wt, b = case(rng, n, c, h, w, *k)
    pads = (k[0] // 2,) * 4
    want = ref(x, wt, b, s, pads, (1, 1))[0]
    res = rng.standard_normal(want.shape).astype(np.float32)
    one = run_nhwc(isa, x, wt, b, s, pads, (1, 1), res, RELU6, nthreads=1)
    for nt in (2, 3):
        assert np.array_equal(one, run_nhwc(isa, x, wt, b, s, pads, (1, 1), res, RELU6, nthreads=nt))
    saved = threads._user_threads
    try:
        threads.set_num_threads(1)
        a = ops.conv2d(x, wt, b, s, k[0] // 2, 1, c)
        threads.set_num_threads(2)
        bb = ops.conv2d(x, wt, b, s, k[0] // 2, 1, c)
        util.assert_ran(isa)
    finally:
        threads.set_num_threads(saved)
    assert np.array_equal(a, bb)


# Rows of at least 8 outputs, a 3x3 / 5x5 / 7x7 kernel (any height), stride 1, dilation 1: the band
# kernel (src_c/conv/dwconv_simd.h) computes tiles of 8 outputs from the left, clipping the columns
# of those that meet padding, and the slide kernel the outputs left over. (Stride-2 rows slide
# whole; they stay here as wide rows of the slide kernel.)
# (n, c, h, w, kernel, stride, pads (t, l, b, r))
BAND_CASES = [
    (2, 7, 3, 8, (3, 3), (1, 1), (1, 1, 1, 1)),      # one tile, padding on both sides of it
    (1, 17, 2, 10, (3, 3), (1, 1), (0, 0, 0, 0)),    # one tile, no padding; two kernel rows of three
    (1, 33, 4, 23, (5, 5), (1, 1), (2, 2, 2, 2)),    # two tiles, seven outputs slide
    (2, 1, 5, 17, (3, 3), (2, 2), (1, 1, 1, 1)),     # one channel, stride 2, odd width
    (1, 96, 3, 33, (3, 3), (2, 2), (0, 0, 1, 1)),    # TF 'same' for stride 2
    (1, 20, 2, 40, (5, 5), (2, 2), (2, 2, 2, 2)),    # 5x5 stride 2, two tiles + four
    (1, 15, 9, 16, (7, 7), (1, 1), (3, 3, 3, 3)),    # 7x7, both tiles clipped
    (1, 16, 1, 16, (3, 3), (1, 1), (1, 1, 1, 1)),    # a 1-row image: one kernel row inside
    (1, 9, 7, 20, (3, 3), (1, 1), (2, 2, 2, 2)),     # padding 2 on a 3x3: outputs of pure padding
    (1, 24, 5, 12, (3, 5), (1, 1), (1, 2, 1, 2)),    # 3x5 kernel
    (1, 8, 6, 14, (5, 3), (2, 1), (2, 1, 2, 1)),     # 5x3 kernel: more kernel rows than columns
    (1, 8, 3, 10, (3, 3), (1, 1), (0, 3, 0, 3)),     # left padding 3 > kernel reach
    (1, 16, 4, 12, (5, 5), (1, 1), (2, 0, 2, 1)),    # asymmetric
    (1, 40, 2, 64, (3, 3), (1, 1), (1, 1, 1, 1)),    # eight full tiles, nothing slides
]


@pytest.mark.parametrize("cs", BAND_CASES, ids=[str(i) for i in range(len(BAND_CASES))])
@pytest.mark.parametrize("act", [ACT_NONE, RELU6], ids=["none", "relu6"])
@pytest.mark.parametrize("res", ["none", "res", "in_place"])
def test_band_rows(isa, rng, cs, act, res):
    n, c, h, w, k, s, pads = cs
    ow = _C.conv_out_extent(w, k[1], s[1], 1, pads[1], pads[3])
    assert ow >= 8, "a case narrower than a band tile does not test the band kernel"  # (at stride 1)
    x, wt, b = case(rng, n, c, h, w, *k)
    want, mag = ref(x, wt, b, s, pads, (1, 1))
    r = rng.standard_normal(want.shape).astype(np.float32) if res != "none" else None
    got = run_nhwc(isa, x, wt, b, s, pads, (1, 1), r, act, in_place=res == "in_place")
    if r is not None:
        want, mag = want + r, mag + np.abs(r)
    if act[0] == 1:
        want = reference.clamp(want, act[1], act[2])
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("cs", CASES, ids=IDS)
def test_wide_isas_agree_bit_for_bit(rng, cs):
    """AVX2 and AVX-512 add the same taps in the same order with the same fused multiply-adds
    (fn_dwconv.h), so they agree exactly; the portable kernel rounds products separately."""
    from fastnorm.testing import force_isa, unavailable_reason
    if unavailable_reason("avx512"):
        pytest.skip(unavailable_reason("avx512"))
    n, c, h, w, k, s, pads, d = cs
    x, wt, b = case(rng, n, c, h, w, *k)
    want = ref(x, wt, b, s, pads, d)[0]
    res = rng.standard_normal(want.shape).astype(np.float32)
    outs = []
    for isa in ("avx2", "avx512"):
        with force_isa(isa):
            outs.append(run_nhwc(isa, x, wt, b, s, pads, d, res, RELU6))
    assert np.array_equal(outs[0], outs[1])


def test_packed_weights_moved_to_another_alignment(isa, rng):
    """The packed taps start on a 64-byte line found when packing; the offset is stored in the buffer,
    so a copy at another alignment gives the same bits, and junk is refused."""
    x, wt, b = case(rng, 1, 40, 7, 7, 3, 3)
    d = desc_of(40, wt, (1, 1), (1, 1, 1, 1), (1, 1))
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    packed = _C.dwconv2d_pack(wt, b)
    want = np.empty((1, 7, 7, 40), np.float32)
    _C.dwconv2d_nhwc(-1, d, xn, packed, None, ACT_NONE, want, 1)
    buf = np.empty(packed.size + 16, np.float32)
    for shift in range(16):
        moved = buf[shift:shift + packed.size]
        moved[:] = packed
        got = np.empty_like(want)
        _C.dwconv2d_nhwc(-1, d, xn, moved, None, ACT_NONE, got, 2)
        util.assert_ran(isa)
        assert np.array_equal(got, want), "shift %d" % shift
    with pytest.raises(ValueError):
        _C.dwconv2d_nhwc(-1, d, xn, np.zeros_like(packed), None, ACT_NONE, got, 1)


@pytest.mark.parametrize("c", [16, 64, 96, 144])
def test_any_buffer_alignment_same_bits(isa, rng, c):
    """x, res and y starting anywhere within a 64-byte line (the kernel peels a masked head when all
    three share a misalignment) give the same bits as on line boundaries."""
    x, wt, b = case(rng, 2, c, 7, 9, 3, 3)
    d = desc_of(c, wt, (1, 1), (1, 1, 1, 1), (1, 1))
    packed = _C.dwconv2d_pack(wt, b)
    shape_x, shape_y = (2, 7, 9, c), (2, 7, 9, c)
    res = rng.standard_normal(shape_y).astype(np.float32)

    def at(shape, shift):  # an array starting `shift` floats past a 64-byte line
        buf = np.empty(int(np.prod(shape)) + 32, np.float32)
        skip = (-buf.ctypes.data % 64) // 4 + shift
        return buf[skip:skip + int(np.prod(shape))].reshape(shape)

    outs = []
    for shift in range(16):
        xs, rs, ys = at(shape_x, shift), at(shape_y, shift), at(shape_y, shift)
        xs[...] = x.transpose(0, 2, 3, 1)
        rs[...] = res
        _C.dwconv2d_nhwc(-1, d, xs, packed, rs, RELU6, ys, 1)
        util.assert_ran(isa)
        outs.append(ys.copy())
    for shift in range(1, 16):
        assert np.array_equal(outs[shift], outs[0]), "shift %d" % shift
    want, mag = ref(x, wt, b, (1, 1), (1, 1, 1, 1), (1, 1))
    want = reference.clamp(want + res.transpose(0, 3, 1, 2), 0.0, 6.0)
    util.assert_close_dot(outs[0].transpose(0, 3, 1, 2), want, mag + np.abs(res.transpose(0, 3, 1, 2)))


def test_binding_rejects_bad_arguments(rng):
    x, wt, b = case(rng, 1, 8, 5, 5, 3, 3)
    d = desc_of(8, wt, (1, 1), (1, 1, 1, 1), (1, 1))
    packed = _C.dwconv2d_pack(wt, b)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = np.empty((1, 5, 5, 8), np.float32)
    with pytest.raises(ValueError, match="groups == in_channels == out_channels"):
        _C.dwconv2d_nhwc(-1, (8, 16, 8) + d[3:], xn, packed, None, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="channels"):
        _C.dwconv2d_nhwc(-1, d, xn[..., :7].copy(), packed, None, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="output"):
        _C.dwconv2d_nhwc(-1, d, xn, packed, None, ACT_NONE, y[:, :4].copy(), 1)
    with pytest.raises(ValueError, match="residual"):
        _C.dwconv2d_nhwc(-1, d, xn, packed, y[:, :4].copy(), ACT_NONE, y, 1)
    with pytest.raises(ValueError, match="packed"):
        _C.dwconv2d_nhwc(-1, d, xn, packed[:-1].copy(), None, ACT_NONE, y, 1)
    with pytest.raises(ValueError, match=r"\(c, 1, kh, kw\)"):
        _C.dwconv2d_pack(np.zeros((8, 2, 3, 3), np.float32), None)
    with pytest.raises(ValueError, match="bias"):
        _C.dwconv2d_pack(wt, np.zeros(7, np.float32))


def test_multiplier_two_stays_on_the_grouped_gemm(isa, rng):
    """cout = 2 * groups is not depthwise with multiplier 1: the generic path, still correct."""
    x = rng.standard_normal((1, 8, 7, 7)).astype(np.float32)
    wt = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    got = ops.conv2d(x, wt, None, 1, 1, 1, 8)
    util.assert_ran(isa)
    want = reference.conv2d(x, wt, None, 1, 1, 1, 8)
    mag = reference.conv2d(np.abs(x), np.abs(wt), None, 1, 1, 1, 8)
    util.assert_close_dot(got, want, mag)


# ---- through the graph and the plan --------------------------------------------------------------

def record_types(model, shape):
    return [r["type"] for r in model._plan({model.graph.inputs[0].name: shape}).records]


@pytest.mark.parametrize("pads", [(0, 1, 2, 0), (2, 0, 0, 1), (1, 1, 1, 1), (3, 2, 0, 2)])
def test_graph_node_with_asymmetric_padding(isa, rng, pads):
    """A conv2d node with a 4-value padding (as ONNX / TF 'same' give) and a fused clamp lowers to one
    DWCONV2D record."""
    c, k = 17, (3, 5)
    x, wt, b = case(rng, 2, c, 9, 10, *k)
    node = Node("dw", "conv2d", ["x", "w", "b"], ["y"],
                {"stride": [2, 1], "padding": list(pads), "dilation": [1, 1], "groups": c,
                 "act": ["clamp", 0.0, 6.0]})
    want, mag = ref(x, wt, b, (2, 1), pads, (1, 1))
    g = Graph([TensorSpec("x", (None, c, 9, 10))], [TensorSpec("y", (None,) + want.shape[1:])], [node],
              {"w": wt, "b": b})
    m = fastnorm.Model(g)
    got = m.predict(x)
    util.assert_ran(isa)
    assert OP_DWCONV2D in record_types(m, x.shape) and OP_CONV2D not in record_types(m, x.shape)
    util.assert_close_dot(got, reference.clamp(want, 0.0, 6.0), mag)


def blocks():
    """{name: (module factory, input shape without batch)}; the torch classes need torch."""
    torch = importorskip("torch")
    nn = torch.nn

    class InvertedResidual(nn.Module):
        """MobileNetV2's block: 1x1 expand-BN-ReLU6, kxk depthwise-BN-ReLU6, 1x1 project-BN, + the
        identity when the shape allows."""

        def __init__(self, cin, cout, stride=1, expand=6, k=3):
            super().__init__()
            hidden = cin * expand
            self.identity = stride == 1 and cin == cout
            self.conv = nn.Sequential(
                nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                nn.Conv2d(hidden, hidden, k, stride, k // 2, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return x + self.conv(x) if self.identity else self.conv(x)

    class DwResidual(nn.Module):
        """relu6(BN(depthwise(x)) + x): the residual add and the clamp fuse into the depthwise conv."""

        def __init__(self, c):
            super().__init__()
            self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=True)
            self.bn = nn.BatchNorm2d(c)

        def forward(self, x):
            return torch.nn.functional.relu6(self.bn(self.dw(x)) + x)

    return {
        "v2_block_24_identity": (lambda: InvertedResidual(24, 24), (24, 14, 14)),
        "v2_block_16_24_s2": (lambda: InvertedResidual(16, 24, stride=2), (16, 15, 15)),
        "v3_style_5x5_s2": (lambda: InvertedResidual(8, 16, stride=2, expand=4, k=5), (8, 13, 13)),
        "dw_residual_relu6": (lambda: DwResidual(33), (33, 9, 9)),
    }


def realistic_bn(torch, model, shape, seed=0):
    """Running statistics of the data (a few training batches), gamma/beta spread away from 1/0."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = None
                mod.weight.copy_(1 + 0.3 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
        for _ in range(4):
            model(1.5 * torch.randn((16,) + shape, generator=g) + 0.3)
    return model.eval()


BLOCKS = ["dw_residual_relu6", "v2_block_16_24_s2", "v2_block_24_identity", "v3_style_5x5_s2"]


@pytest.mark.parametrize("name", BLOCKS)
@pytest.mark.parametrize("batch", [1, 4])
def test_mobilenet_blocks_match_torch(isa, name, batch):
    torch = importorskip("torch")
    make, shape = blocks()[name]
    torch.manual_seed(0)
    net = realistic_bn(torch, make(), shape)
    m = fastnorm.from_torch(net, torch.randn((1,) + shape))
    x = np.random.default_rng(batch).standard_normal((batch,) + shape).astype(np.float32)
    got = m.predict(x)
    util.assert_ran(isa)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= util.ATOL_MODEL, np.abs(got - want).max()
    recs = m._plan({m.graph.inputs[0].name: x.shape}).records
    dw = [r for r in recs if r["type"] == OP_DWCONV2D]
    assert len(dw) == 1, "the depthwise conv should lower to one DWCONV2D record"
    assert dw[0]["act"][0] == 1 and dw[0]["act"][1:] == (0.0, 6.0), "ReLU6 should fuse as clamp(0, 6)"
    if name == "dw_residual_relu6":
        assert dw[0]["in2"] >= 0, "the residual add should fuse into the depthwise conv"
    saved = threads._user_threads
    try:
        threads.set_num_threads(1)
        one = m.predict(x)
        threads.set_num_threads(2)
        two = m.predict(x)
    finally:
        threads.set_num_threads(saved)
    assert np.array_equal(one, two)
