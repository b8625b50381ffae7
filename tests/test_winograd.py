"""Winograd F(4x4, 3x3) and F(2x2, 3x3) convs (src_c/conv/winograd*.c) vs the float64 reference and torch,
under every ISA (the larger-shape, torch and thread cases also for F(2x2, 5x5): tests/test_winograd5.py has
the rest); the plan's use of them (ops 23 and 30) on ResNet blocks; threads; NaN/Inf; bad arguments;
F(2x2, 3x3)'s float32 error beside the direct conv's."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import util
from util import importorskip
from fastnorm import _C
from fastnorm.graph import act_tuple
from fastnorm.ops._common import ACT_NONE
from fastnorm.testing import ISA_NAMES

# Winograd's transforms (B^T entries up to 17/4, A^T up to 8) grow a dot product's rounding, and an
# output's error follows the magnitude of its whole 4x4 tile's input window times all 9 taps (see
# tile_mag), not of its own 3x3 window. Measured worst |err| / tile_mag: 1.9e-6 over 300 random
# cases per ISA (cin, cout 1..64, sizes 1..15, any padding). 10x margin; a wrong tap or tile is O(1).
RTOL_WINOGRAD = 2e-5
ATOL_WINOGRAD = 1e-6
# A ResNet-18's eight 3x3 convs in a chain, float32 Winograd vs float64: the brief's bound,
# relative to the output's magnitude (measured: 6.9e-6 on AVX-512, see test_resnet18_chain_error).
RTOL_CHAIN = 1e-4

RELU = act_tuple(["relu"])


def to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(y):
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def desc_of(cin, cout, pads, k=3):
    return (cin, cout, 1, k, k, 1, 1, 1, 1) + tuple(pads)


def out_hw(h, w, pads, k=3):
    t, l, b, r = pads
    return h + t + b - (k - 1), w + l + r - (k - 1)


# the two 3x3 algorithms: (pack, run, transform side alpha)
ALGS = {"f4": (_C.winograd3x3_pack, _C.winograd3x3_nhwc, 6), "f2": (_C.winograd2x3_pack, _C.winograd2x3_nhwc, 4)}


def winograd(x, wt, b, pads, act=ACT_NONE, res=None, nthreads=1, isa=-1, alg="f4"):
    """x: NCHW float32 -> NCHW output through the C driver (NHWC inside); 3x3 or 5x5 from wt; alg "f4"
    (F(4x4, 3x3), F(2x2, 5x5)) or "f2" (F(2x2, 3x3))."""
    pack, run, _ = ALGS[alg]
    n, cin, h, w = x.shape
    cout, k = wt.shape[0], wt.shape[2]
    desc = desc_of(cin, cout, pads, k)
    packed = pack(isa, desc, wt, b)
    oh, ow = out_hw(h, w, pads, k)
    y = np.empty((n, oh, ow, cout), np.float32)
    run(isa, desc, to_nhwc(x), packed, None if res is None else to_nhwc(res), act, y, nthreads)
    return to_nchw(y)


def reference_conv(x, wt, b, pads, res=None, alg="f4"):
    """(want, mag): the float64 conv (+ res), and the scale of Winograd's rounding (tile_mag)."""
    want = reference.conv2d(x, wt, b, 1, pads, 1, 1)
    if res is not None:
        want = want + res
    return want, tile_mag(x, wt, b, pads, res, ALGS[alg][2])


def tile_mag(x, wt, b, pads, res=None, alpha=6):
    """The scale of Winograd's rounding at each output: every output of an m x m tile (m = alpha - k + 1:
    4 for 3x3 and 2 for 5x5 at alpha 6, 2 for F(2x2, 3x3)'s alpha 4) mixes the tile's whole alpha x alpha
    input window with all k x k taps, so its error follows
        sum_ci max_window |x[ci]| * sum_taps |w[co, ci]|  (+ |b[co]|, + the tile's max |residual|)
    rather than its own k x k window's |x| |w| (a corner output that padding leaves one input pixel
    still carries the rounding of its neighbours' terms). x: NCHW; -> NCHW like the output."""
    n, cin, h, w = x.shape
    t, l, bo, r = pads
    k = wt.shape[2]
    ts = alpha - k + 1  # the output tile's side
    oh, ow = out_hw(h, w, pads, k)
    th, tw = -(-oh // ts), -(-ow // ts)
    xp = np.zeros((n, cin, th * ts + k - 1, tw * ts + k - 1))
    xs = np.abs(x.astype(np.float64))[:, :, :min(h, th * ts + k - 1 - t), :min(w, tw * ts + k - 1 - l)]
    xp[:, :, t:t + xs.shape[2], l:l + xs.shape[3]] = xs
    win = np.lib.stride_tricks.sliding_window_view(xp, (alpha, alpha), axis=(2, 3))[:, :, ::ts, ::ts]
    m = win.max(axis=(4, 5))                                          # (n, cin, th, tw)
    tm = np.einsum("nctu,oc->notu", m, np.abs(wt.astype(np.float64)).sum(axis=(2, 3)))
    if b is not None:
        tm = tm + np.abs(b.astype(np.float64))[None, :, None, None]
    if res is not None:
        rp = np.zeros((n, wt.shape[0], th * ts, tw * ts))
        rp[:, :, :oh, :ow] = np.abs(res)
        tm = tm + rp.reshape(n, -1, th, ts, tw, ts).max(axis=(3, 5))
    return np.repeat(np.repeat(tm, ts, axis=2), ts, axis=3)[:, :, :oh, :ow]


def assert_wino_close(got, want, mag, what="output"):
    """|got - want| <= ATOL + RTOL * mag, mag from tile_mag."""
    got = np.asarray(got, np.float64)
    assert got.shape == want.shape, "%s: shape %s != %s" % (what, got.shape, want.shape)
    err = np.abs(got - want)
    bound = ATOL_WINOGRAD + RTOL_WINOGRAD * mag
    assert (err <= bound).all(), "%s: max abs err %.3g exceeds bound %.3g" % (
        what, err.max(), bound.flat[np.argmax(err - bound)])


def case(rng, n, cin, cout, h, w, bias=True, k=3):
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, wt, b


CHANNELS = [1, 3, 16, 17, 33, 64]
SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 14, 15]
PADS = st.one_of(st.sampled_from([(0, 0, 0, 0), (1, 1, 1, 1)]),
                 st.tuples(*[st.integers(0, 2)] * 4))


@settings(max_examples=int(__import__("os").environ.get("WINO_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cin=st.sampled_from(CHANNELS), cout=st.sampled_from(CHANNELS), h=st.sampled_from(SIZES),
       w=st.sampled_from(SIZES), pads=PADS, n=st.sampled_from([1, 3]), bias=st.booleans(),
       relu=st.booleans(), residual=st.booleans(), seed=st.integers(0, 2**16))
def test_winograd_matches_reference(isa, cin, cout, h, w, pads, n, bias, relu, residual, seed):
    check_reference(isa, seed, n, cin, cout, h, w, pads, bias, RELU if relu else ACT_NONE, residual)


@settings(max_examples=int(__import__("os").environ.get("WINO_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cin=st.sampled_from(CHANNELS), cout=st.sampled_from(CHANNELS), h=st.sampled_from(SIZES),
       w=st.sampled_from(SIZES), pads=PADS, n=st.sampled_from([1, 3]), bias=st.booleans(),
       relu=st.booleans(), residual=st.booleans(), seed=st.integers(0, 2**16))
def test_winograd_f2_matches_reference(isa, cin, cout, h, w, pads, n, bias, relu, residual, seed):
    check_reference(isa, seed, n, cin, cout, h, w, pads, bias, RELU if relu else ACT_NONE, residual, alg="f2")


def check_reference(isa, seed, n, cin, cout, h, w, pads, bias, act, residual, k=3, alg="f4"):
    """One k x k case through the driver against the float64 reference; act: ACT_NONE or a clamp
    tuple (relu, relu6). A shape without an output pixel returns unchecked."""
    oh, ow = out_hw(h, w, pads, k)
    if oh < 1 or ow < 1:
        return
    rng = np.random.default_rng(seed)
    x, wt, b = case(rng, n, cin, cout, h, w, bias, k)
    res = rng.standard_normal((n, cout, oh, ow)).astype(np.float32) if residual else None
    got = winograd(x, wt, b, pads, act, res, alg=alg)
    util.assert_ran(isa)
    assert got.dtype == np.float32
    want, mag = reference_conv(x, wt, b, pads, res, alg)
    if act[0] == 1:  # clamp(lo, hi)
        want = np.clip(want, act[1], act[2])
    assert_wino_close(got, want, mag)


@pytest.mark.parametrize("k,n,cin,cout,h,w,pads,alg", [
    (3, 1, 64, 64, 56, 56, (1, 1, 1, 1), "f4"),   # ResNet stage 1 shape: many tiles, several blocks
    (3, 2, 33, 70, 15, 13, (0, 2, 1, 0), "f4"),   # odd channels, asymmetric padding, partial tiles
    (3, 1, 256, 40, 6, 6, (1, 1, 1, 1), "f4"),    # deep K, cout panel tails
    (5, 1, 48, 64, 35, 35, (2, 2, 2, 2), "f4"),   # Inception-v3's 5x5 branch (F(2x2, 5x5))
    (5, 3, 33, 70, 13, 12, (0, 3, 1, 4), "f4"),
    (5, 1, 200, 40, 6, 6, (2, 2, 2, 2), "f4"),
    (3, 1, 32, 64, 73, 73, (0, 0, 0, 0), "f2"),   # Inception-v3's stem at 299 (F(2x2, 3x3))
    (3, 2, 33, 70, 15, 13, (0, 2, 1, 0), "f2"),
    (3, 1, 150, 40, 6, 7, (1, 1, 1, 1), "f2"),    # two K blocks and a partial one
])
def test_winograd_larger_shapes(isa, k, n, cin, cout, h, w, pads, alg):
    rng = np.random.default_rng(cin + cout)
    x, wt, b = case(rng, n, cin, cout, h, w, k=k)
    got = winograd(x, wt, b, pads, nthreads=2, alg=alg)
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, pads, alg=alg)
    assert_wino_close(got, want, mag)


@pytest.mark.parametrize("k,cin,cout,h,pads,alg", [
    (3, 16, 16, 8, (1, 1, 1, 1), "f4"), (3, 17, 33, 9, (0, 0, 0, 0), "f4"), (3, 64, 64, 14, (2, 1, 0, 1), "f4"),
    (5, 16, 16, 8, (2, 2, 2, 2), "f4"), (5, 17, 33, 9, (0, 0, 0, 0), "f4"), (5, 48, 64, 14, (4, 1, 0, 3), "f4"),
    (3, 16, 16, 8, (1, 1, 1, 1), "f2"), (3, 17, 33, 9, (0, 0, 0, 0), "f2"), (3, 40, 64, 14, (2, 1, 0, 1), "f2")])
def test_winograd_matches_torch(isa, k, cin, cout, h, pads, alg):
    torch = importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(h)
    x, wt, b = case(rng, 3, cin, cout, h, h + 1, k=k)
    res = None
    got = winograd(x, wt, b, pads, RELU, res, alg=alg)
    util.assert_ran(isa)
    t, l, bo, r = pads
    with torch.no_grad():
        ref = torch.relu(F.conv2d(F.pad(torch.from_numpy(x), (l, r, t, bo)), torch.from_numpy(wt),
                                  torch.from_numpy(b))).numpy()
    _, mag = reference_conv(x, wt, b, pads, alg=alg)
    assert_wino_close(got, ref.astype(np.float64), mag, "vs torch")


@pytest.mark.parametrize("k,cin,cout,h,alg", [(3, 64, 64, 28, "f4"), (3, 32, 96, 8, "f4"), (3, 200, 64, 9, "f4"),
                                               (5, 48, 64, 17, "f4"), (5, 32, 96, 8, "f4"),
                                               (3, 32, 96, 8, "f2"), (3, 24, 40, 30, "f2")])
def test_threads_bit_identical(isa, k, cin, cout, h, alg):
    rng = np.random.default_rng(7)
    x, wt, b = case(rng, 2, cin, cout, h, h, k=k)
    res = rng.standard_normal((2, cout, h, h)).astype(np.float32)
    ys = [winograd(x, wt, b, (k // 2,) * 4, RELU, res, nthreads=t, alg=alg) for t in (1, 2, 3)]
    util.assert_ran(isa)
    for y in ys[1:]:
        assert np.array_equal(y, ys[0])


@pytest.mark.parametrize("alg", ["f4", "f2"])
def test_residual_may_be_the_output(isa, alg):
    pack, run, _ = ALGS[alg]
    rng = np.random.default_rng(3)
    x, wt, b = case(rng, 1, 16, 16, 9, 9)
    desc = desc_of(16, 16, (1, 1, 1, 1))
    packed = pack(-1, desc, wt, b)
    res = rng.standard_normal((1, 9, 9, 16)).astype(np.float32)
    y = res.copy()
    run(-1, desc, to_nhwc(x), packed, y, ACT_NONE, y, 1)  # in place: y += conv
    util.assert_ran(isa)
    want, mag = reference_conv(x, wt, b, (1, 1, 1, 1), to_nchw(res), alg)
    assert_wino_close(to_nchw(y), want, mag)


def test_nan_inf_poison_their_tiles(isa):
    """A NaN or Inf input pixel makes NaN (or Inf) every output whose 3x3 window holds it, as torch;
    beyond that, Winograd spreads NaN over every output of each 4x4 tile whose 6x6 input window holds
    the pixel (documented in fn_winograd.h). Tiles whose windows miss it are exact as usual."""
    rng = np.random.default_rng(5)
    x, wt, b = case(rng, 1, 16, 16, 16, 16)
    pads = (1, 1, 1, 1)
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb[0, 3, 9, 6] = bad                    # input pixel (9, 6)
        got = winograd(xb, wt, b, pads)
        util.assert_ran(isa)
        near = np.zeros((16, 16), bool)         # outputs whose 3x3 window holds (9, 6): rows 8..10
        near[8:11, 5:8] = True
        assert (~np.isfinite(got[0][:, near])).all()
        # tiles (ty, tx) whose 6x6 window (rows 4ty-1 .. 4ty+4) holds the pixel: ty = 2, tx = 1..2
        tile = np.zeros((16, 16), bool)
        tile[8:12, 4:12] = True
        want, mag = reference_conv(x, wt, b, pads)
        ok = ~tile
        assert_wino_close(got[..., ok], want[..., ok], mag[..., ok], "tiles away from %r" % bad)


def test_f2_nan_inf_poison_their_tiles(isa):
    """F(2x2, 3x3): a NaN / Inf input pixel poisons the 2x2 tiles whose 4x4 window holds it, as
    test_nan_inf_poison_their_tiles; outputs of other tiles are exact as usual."""
    rng = np.random.default_rng(5)
    x, wt, b = case(rng, 1, 16, 16, 16, 16)
    pads = (1, 1, 1, 1)
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb[0, 3, 9, 6] = bad
        got = winograd(xb, wt, b, pads, alg="f2")
        util.assert_ran(isa)
        near = np.zeros((16, 16), bool)
        near[8:11, 5:8] = True
        assert (~np.isfinite(got[0][:, near])).all()
        # tiles (ty, tx) whose 4x4 window (rows 2ty-1 .. 2ty+2) holds (9, 6): ty = 4, 5; tx = 3, 4
        tile = np.zeros((16, 16), bool)
        tile[8:12, 6:10] = True
        tile |= near
        want, mag = reference_conv(x, wt, b, pads, alg="f2")
        ok = ~tile
        assert_wino_close(got[..., ok], want[..., ok], mag[..., ok], "tiles away from %r" % bad)


@pytest.mark.parametrize("cin", [8, 32, 47])
def test_f2_error_is_the_direct_convs(isa, cin):
    """F(2x2, 3x3), which the plan takes below WINOGRAD2_MAX_CIN input channels, keeps a 3x3 conv's
    float32 error at the direct conv's (rms over float64, post-ReLU input, kaiming weights); F(4x4, 3x3)
    measured 3-4.5x the direct conv's there (the reason for the switch). Bound: 1.5x the direct conv's."""
    rng = np.random.default_rng(cin)
    x = np.maximum(rng.standard_normal((2, cin, 20, 20)), 0).astype(np.float32)
    wt = (rng.standard_normal((32, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
    want = reference.conv2d(x.astype(np.float64), wt.astype(np.float64), None, 1, (1, 1, 1, 1), 1, 1)
    desc = desc_of(cin, 32, (1, 1, 1, 1))
    y = np.empty((2, 20, 20, 32), np.float32)
    _C.conv2d_nhwc(-1, desc, to_nhwc(x), _C.conv2d_pack(-1, desc, wt, None), None, ACT_NONE, y, 1)
    util.assert_ran(isa)

    def rms(got):
        return np.sqrt(np.mean((got - want) ** 2)) / np.abs(want).max()
    direct, f2, f4 = rms(to_nchw(y)), rms(winograd(x, wt, None, (1, 1, 1, 1), alg="f2")), rms(winograd(x, wt, None, (1, 1, 1, 1)))
    print("cin %d: rms err / max |y|: direct %.2e, F(2x2,3x3) %.2e, F(4x4,3x3) %.2e" % (cin, direct, f2, f4))
    assert f2 <= 1.5 * direct, (f2, direct)


def test_resnet18_chain_error():
    """Eight 3x3 convs as in ResNet-18's four stages (64, 128, 256, 512 channels; kaiming-normal
    weights; ReLU between, so inputs are post-ReLU activations), float32 Winograd vs float64."""
    rng = np.random.default_rng(18)
    x = np.maximum(rng.standard_normal((1, 64, 16, 16)), 0).astype(np.float32)
    got, want = x, x.astype(np.float64)
    for c, size in ((64, 16), (64, 16), (128, 8), (128, 8), (256, 8), (256, 8), (512, 4), (512, 4)):
        if got.shape[1] != c or got.shape[2] != size:    # stage change: subsample, widen by tiling
            f = got.shape[2] // size
            got = np.ascontiguousarray(np.tile(got[:, :, ::f, ::f], (1, c // got.shape[1], 1, 1)))
            want = np.tile(want[:, :, ::f, ::f], (1, c // want.shape[1], 1, 1))
        wt = (rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))).astype(np.float32)
        got = winograd(got, wt, None, (1, 1, 1, 1), RELU)
        want = np.maximum(reference.conv2d(want, wt, None, 1, (1, 1, 1, 1), 1, 1), 0)
    rel = np.abs(got - want).max() / np.abs(want).max()
    print("resnet18 chain: max |err| / max |y| = %.2e" % rel)
    assert rel < RTOL_CHAIN, rel


# A wide layer's rms error over float64, relative to max |output| (post-ReLU input, kaiming weights,
# 512 -> 64 at 8x8): the 36 GEMMs sum K in blocks (winograd_gemm_simd.h), measured 2.2-2.5e-7 on
# scalar, AVX2 and AVX-512 (session 17); one running float32 sum over all 512 channels, as before,
# 5.6-6.5e-7.
RMS_WIDE = 3.5e-7


def test_wide_k_error(isa):
    rng = np.random.default_rng(512)
    errs = []
    for seed in range(3):
        x = np.maximum(rng.standard_normal((2, 512, 8, 8)) + 0.5, 0).astype(np.float32)
        wt = (rng.standard_normal((64, 512, 3, 3)) * np.sqrt(2.0 / (9 * 512))).astype(np.float32)
        got = winograd(x, wt, None, (1, 1, 1, 1))
        util.assert_ran(isa)
        want = reference.conv2d(x.astype(np.float64), wt.astype(np.float64), None, 1, (1, 1, 1, 1), 1, 1)
        errs.append(np.sqrt(np.mean((got - want) ** 2)) / np.abs(want).max())
    print("512 -> 64 at 8x8: rms err / max |y| = %s" % " ".join("%.2e" % e for e in errs))
    assert max(errs) < RMS_WIDE, errs


def test_bad_arguments():
    wt = np.zeros((8, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match="stride 1"):
        _C.winograd3x3_pack(-1, (4, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), wt, None)
    with pytest.raises(ValueError, match="stride 1"):
        _C.winograd3x3_pack(-1, (4, 8, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), wt, None)
    with pytest.raises(ValueError, match="expected shape"):
        _C.winograd3x3_pack(-1, desc_of(4, 8, (1, 1, 1, 1)), np.zeros((8, 5, 3, 3), np.float32), None)
    with pytest.raises(ValueError, match="bias"):
        _C.winograd3x3_pack(-1, desc_of(4, 8, (1, 1, 1, 1)), wt, np.zeros(3, np.float32))
    desc = desc_of(4, 8, (1, 1, 1, 1))
    packed = _C.winograd3x3_pack(-1, desc, wt, None)
    x = np.zeros((1, 5, 5, 4), np.float32)
    with pytest.raises(ValueError, match="output"):
        _C.winograd3x3_nhwc(-1, desc, x, packed, None, ACT_NONE, np.zeros((1, 4, 4, 8), np.float32), 1)
    with pytest.raises(ValueError, match="channels"):
        _C.winograd3x3_nhwc(-1, desc, np.zeros((1, 5, 5, 3), np.float32), packed, None, ACT_NONE,
                            np.zeros((1, 5, 5, 8), np.float32), 1)
    with pytest.raises(ValueError, match="packed weights"):
        _C.winograd3x3_nhwc(-1, desc, x, packed[:-1], None, ACT_NONE, np.zeros((1, 5, 5, 8), np.float32), 1)
    with pytest.raises(ValueError, match="residual"):
        _C.winograd3x3_nhwc(-1, desc, x, packed, np.zeros((1, 5, 5, 7), np.float32), ACT_NONE,
                            np.zeros((1, 5, 5, 8), np.float32), 1)


def test_f2_bad_arguments():
    wt = np.zeros((8, 4, 5, 5), np.float32)
    with pytest.raises(ValueError, match="winograd2x3: expected a 3x3"):
        _C.winograd2x3_pack(-1, desc_of(4, 8, (2, 2, 2, 2), 5), wt, None)
    with pytest.raises(ValueError, match="stride 1"):
        _C.winograd2x3_pack(-1, (4, 8, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1), np.zeros((8, 4, 3, 3), np.float32), None)
    desc = desc_of(4, 8, (1, 1, 1, 1))
    wt = np.zeros((8, 4, 3, 3), np.float32)
    x = np.zeros((1, 5, 5, 4), np.float32)
    with pytest.raises(ValueError, match="packed weights"):    # F(4x4, 3x3)'s packing is not F(2x2, 3x3)'s
        _C.winograd2x3_nhwc(-1, desc, x, _C.winograd3x3_pack(-1, desc, wt, None), None, ACT_NONE,
                            np.zeros((1, 5, 5, 8), np.float32), 1)
    with pytest.raises(ValueError, match="output"):
        _C.winograd2x3_nhwc(-1, desc, x, _C.winograd2x3_pack(-1, desc, wt, None), None, ACT_NONE,
                            np.zeros((1, 4, 4, 8), np.float32), 1)


def test_packed_for_one_isa_rejected_by_another():
    isas = [i for i in range(len(ISA_NAMES)) if ISA_NAMES[i] in util_isas()]
    if len(isas) < 2:
        from fastnorm.testing import unavailable_reason
        pytest.skip("one ISA available: %s" % unavailable_reason("avx2"))
    desc = desc_of(16, 16, (1, 1, 1, 1))
    wt = np.zeros((16, 16, 3, 3), np.float32)
    sizes = {i: _C.winograd3x3_pack(i, desc, wt, None).size for i in isas}
    a, b = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
    if sizes[a] == sizes[b]:
        pytest.skip("same packed size on every ISA")
    with pytest.raises(ValueError, match="packed weights"):
        _C.winograd3x3_nhwc(b, desc, np.zeros((1, 5, 5, 16), np.float32),
                            _C.winograd3x3_pack(a, desc, wt, None), None, ACT_NONE,
                            np.zeros((1, 5, 5, 16), np.float32), 1)


def util_isas():
    from fastnorm.testing import available_isas
    return available_isas()


# ------------------------------------------------------------------------------------------ plan
def _resnet(torch):
    import torch.nn as nn
    from models import BasicBlock, realistic_bn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32),
                                      nn.ReLU())
            self.layer1 = nn.Sequential(BasicBlock(32, 32), BasicBlock(32, 32))
            self.layer2 = nn.Sequential(BasicBlock(32, 64, stride=2), BasicBlock(64, 64))

        def forward(self, x):
            return self.layer2(self.layer1(self.stem(x)))

    torch.manual_seed(0)
    return realistic_bn(Net())


def _winograd_records(model, shape, ops=None):
    """Records of the 3x3 Winograd kinds (both, or those of `ops`) in the model's plan at `shape`."""
    ops = ops or (_C.OP_WINOGRAD3X3, _C.OP_WINOGRAD2X3)
    plan = model._plan({model.graph.inputs[0].name: tuple(shape)})
    return sum(r["type"] in ops for r in plan.records)


def test_plan_resnet_blocks_match_torch(isa, monkeypatch):
    torch = importorskip("torch")
    import fastnorm
    net = _resnet(torch)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    y = m.predict(x)
    util.assert_ran(isa)
    # every 3x3 stride-1 conv with >= 16 channels: stem (cin 3) and the stride-2 conv stay direct;
    # those with fewer than WINOGRAD2_MAX_CIN input channels among the graph's first
    # WINOGRAD2_FIRST_CONVS convs (layer1's first three, after the stem) take F(2x2, 3x3)
    assert _winograd_records(m, x.shape) == 7
    assert _winograd_records(m, x.shape, (_C.OP_WINOGRAD2X3,)) == 3
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(y - ref).max() <= util.ATOL_MODEL * scale, np.abs(y - ref).max()
    monkeypatch.setenv("FASTNORM_WINOGRAD", "0")
    m0 = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    y0 = m0.predict(x)
    assert _winograd_records(m0, x.shape) == 0
    assert np.abs(y0 - ref).max() <= util.ATOL_MODEL * scale
    assert np.abs(y - y0).max() <= util.ATOL_MODEL * scale


def test_plan_threads_identical(isa, monkeypatch):
    torch = importorskip("torch")
    import fastnorm
    from fastnorm.threads import set_num_threads
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    net = _resnet(torch)
    m = fastnorm.from_torch(net, torch.randn(1, 3, 32, 32))
    x = np.random.default_rng(2).standard_normal((3, 3, 32, 32)).astype(np.float32)
    try:
        set_num_threads(1)
        y1 = m.predict(x)
        set_num_threads(2)
        y2 = m.predict(x)
    finally:
        set_num_threads(None)
    util.assert_ran(isa)
    assert np.array_equal(y1, y2)


def test_plan_keeps_small_convs_direct(monkeypatch):
    """Below the measured thresholds (channels < 16, fewer than 8 tiles) the plan stays direct."""
    torch = importorskip("torch")
    import fastnorm
    import torch.nn as nn
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 64, 3, padding=1),
                        nn.Conv2d(64, 64, 3, padding=1)).eval()
    big = fastnorm.from_torch(net, torch.randn(1, 8, 16, 16))
    assert _winograd_records(big, (1, 8, 16, 16)) == 1       # only the 64 -> 64 conv
    small = fastnorm.from_torch(net, torch.randn(1, 8, 4, 4))
    assert _winograd_records(small, (1, 8, 4, 4)) == 0       # one 4x4 tile


def test_plan_f2_for_early_small_convs(isa, monkeypatch):
    """F(2x2, 3x3) for 3x3 convs with fewer than WINOGRAD2_MAX_CIN input channels among the graph's first
    WINOGRAD2_FIRST_CONVS convs (where an error passes through the most layers), F(4x4, 3x3) for the
    rest; both match torch."""
    torch = importorskip("torch")
    import fastnorm
    import torch.nn as nn
    from fastnorm.plan import lower_conv as L
    monkeypatch.setenv("FASTNORM_WINOGRAD", "1")
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 32, 3, padding=1), nn.ReLU()]                 # conv 0: the image-facing conv
    chans = [32, 64, 32, 32, 32, 32]                                     # convs 1..6
    for cin, cout in zip(chans, chans[1:] + [32]):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
    net = nn.Sequential(*layers).eval()
    m = fastnorm.from_torch(net, torch.randn(1, 3, 20, 20))
    shape = (2, 3, 20, 20)
    recs = [r for r in m._plan({m.graph.inputs[0].name: shape}).records
            if r["type"] in (_C.OP_WINOGRAD2X3, _C.OP_WINOGRAD3X3)]
    kinds = [("f2" if r["type"] == _C.OP_WINOGRAD2X3 else "f4", r["c"]) for r in recs]
    assert L.WINOGRAD2_MAX_CIN == 48 and L.WINOGRAD2_FIRST_CONVS == 4
    # convs 1 (cin 32), 2 (cin 64: F(4x4)), 3 (cin 32); from conv 4 on F(4x4) whatever the channels
    assert kinds == [("f2", 32), ("f4", 64), ("f2", 32), ("f4", 32), ("f4", 32), ("f4", 32)], kinds
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    y = m.predict(x)
    util.assert_ran(isa)
    assert np.abs(y - ref).max() <= util.ATOL_MODEL * max(1.0, np.abs(ref).max())
