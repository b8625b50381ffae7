"""Data movement: cat, pad, pixel_shuffle / pixel_unshuffle, channel_shuffle, and their NCHW / NHWC
drivers, under every ISA. Pure copies: results must equal the reference exactly."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref

from util import assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import force_isa
from fastnorm.threads import set_num_threads

from conftest import ISAS

INF = float("inf")


def _torch():
    return importorskip("torch")


def _rand(rng, shape, specials=False):
    x = rng.standard_normal(shape).astype(np.float32)
    if specials and x.size:
        f = x.reshape(-1)
        f[::7] = np.nan
        f[1::11] = INF
        f[2::13] = -INF
    return x


def assert_equal(got, want, what="output"):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.float32, "%s: dtype %s" % (what, got.dtype)
    assert got.shape == want.shape, "%s: shape %s != %s" % (what, got.shape, want.shape)
    assert np.array_equal(got, want.astype(np.float32), equal_nan=True), "%s: values differ" % what


# ------------------------------------------------------------------------------------------- cat

CAT_CASES = [
    ([(7, 13, 5, 5), (7, 3, 5, 5)], 1), ([(1, 16, 1, 1), (1, 17, 1, 1), (1, 1, 1, 1)], 1),
    ([(2, 33, 7, 9), (2, 13, 7, 9)], 1), ([(1, 3, 15, 17), (1, 3, 15, 17)], -3),
    ([(7, 13, 3, 3), (1, 13, 3, 3)], 0), ([(2, 5, 4, 6), (2, 5, 3, 6)], 2), ([(2, 5, 4, 6), (2, 5, 4, 1)], -1),
    ([(3, 7), (3, 1), (3, 16)], 1), ([(17,), (0,), (16,)], 0), ([(2, 3, 4), (0,)], 1),
    ([(2, 0, 4), (2, 3, 4)], 1),
]


@pytest.mark.parametrize("case", CAT_CASES, ids=str)
def test_cat_vs_reference_and_torch(isa, rng, case):
    shapes, dim = case
    xs = [_rand(rng, s, specials=True) for s in shapes]
    y = ops.cat(xs, dim)
    assert_ran(isa)
    assert_equal(y, ref.cat(xs, dim))
    torch = _torch()
    assert_equal(y, torch.cat([torch.from_numpy(x) for x in xs], dim).numpy(), "vs torch")


def test_cat_default_dim_and_tuple(rng):
    xs = (_rand(rng, (2, 3)), _rand(rng, (4, 3)))
    assert_equal(ops.cat(xs), np.concatenate(xs, 0))


@pytest.mark.parametrize("geom", [(1, 7, 7, (16, 16)), (7, 5, 5, (13, 3, 17)), (2, 56, 56, (64, 64)),
                                  (1, 1, 1, (1, 33))], ids=str)
def test_cat_nhwc_driver(isa, rng, geom):
    """The executor's NHWC channel concat: outer = N*H*W rows, one block of C_i per input."""
    n, h, w, cs = geom
    xs = [_rand(rng, (n, h, w, c)) for c in cs]
    y = np.empty((n, h, w, sum(cs)), np.float32)
    _C.cat(-1, [x.reshape(-1) for x in xs], n * h * w, y.reshape(-1), 2)
    assert_ran(isa)
    assert_equal(y, np.concatenate(xs, axis=3))


@pytest.mark.parametrize("shapes,dim", [([(8, 64, 20, 20), (8, 32, 20, 20)], 1), ([(1, 64, 56, 56), (1, 64, 56, 56)], 1),
                                        ([(9000, 17), (9000, 16)], 1)], ids=str)
def test_cat_thread_invariant(isa, rng, shapes, dim):
    xs = [_rand(rng, s) for s in shapes]
    try:
        out = []
        for nt in (1, 2):
            set_num_threads(nt)
            out.append(ops.cat(xs, dim))
            assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(out[0], out[1])
    assert_equal(out[1], np.concatenate(xs, dim))


def test_cat_bad_arguments(rng):
    x = _rand(rng, (2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"tensors\[1\]: sizes must match except in dim 1"):
        ops.cat([x, x[:, :, :3]], 1)
    with pytest.raises(ValueError, match=r"tensors\[1\]: expected 4D"):
        ops.cat([x, x[0]], 0)
    with pytest.raises(ValueError, match="non-empty"):
        ops.cat([], 0)
    with pytest.raises(ValueError, match="dim: expected a value in"):
        ops.cat([x, x], 4)
    with pytest.raises(TypeError, match="tensors"):
        ops.cat(x, 0)
    with pytest.raises(TypeError, match=r"tensors\[1\]"):
        ops.cat([x, x.astype(np.int64)], 0)


# ------------------------------------------------------------------------------------------- pad

PAD_SHAPES = [(1, 1, 1, 1), (7, 3, 5, 7), (1, 16, 15, 17), (2, 13, 2, 33), (1, 17, 16, 16), (7, 1, 3, 1)]
PADS = [(1, 1, 1, 1), (0, 2, 3, 0), (2, 0), (-1, 1, 1, -1), (0, 0, 0, 0), (1, -2, -1, 2), (5, 6, 0, 1)]


@pytest.mark.parametrize("shape", PAD_SHAPES, ids=str)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_vs_reference_and_torch(isa, rng, shape, mode):
    torch = _torch()
    x = _rand(rng, shape, specials=True)
    h, w = shape[-2:]
    tried = 0
    for p in PADS:
        if mode != "constant" and len(p) == 2:
            xi = x[0]  # reflect/replicate with 2 values: a 3D input, padded along the last dim
        else:
            xi = x
        ph, pw = (p[2:] if len(p) == 4 else (0, 0)), p[:2]
        if mode == "reflect" and any(abs(v) >= w for v in pw) or mode == "reflect" and len(p) == 4 and any(
                abs(v) >= h for v in ph):
            continue
        if xi.shape[-1] + min(pw[0], 0) + min(pw[1], 0) < 0 or (len(p) == 4 and h + min(ph[0], 0) + min(ph[1], 0) < 0):
            with pytest.raises(ValueError, match="crops more"):
                ops.pad(xi, p, mode=mode)
            continue
        value = 2.5 if mode == "constant" else None
        y = ops.pad(xi, p, mode=mode, value=value)
        assert_ran(isa)
        assert_equal(y, ref.pad(xi, p, mode, value or 0.0), "pad %s %s" % (mode, p))
        assert_equal(y, torch.nn.functional.pad(torch.from_numpy(xi), p, mode=mode, value=value).numpy(),
                     "pad %s %s vs torch" % (mode, p))
        tried += 1
    assert tried


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
@pytest.mark.parametrize("geom", [(1, 5, 7, 16), (7, 3, 3, 13), (2, 1, 1, 33), (1, 4, 9, 3)], ids=str)
def test_pad_nhwc_driver(isa, rng, mode, geom):
    """planes = N, e = C: the executor's NHWC pad (whole pixels copied) equals the NCHW answer."""
    n, h, w, c = geom
    x = _rand(rng, (n, h, w, c))
    m = {"constant": _C.PAD_CONSTANT, "reflect": _C.PAD_REFLECT, "replicate": _C.PAD_REPLICATE}[mode]
    for l, r, t, b in [(1, 1, 1, 1), (0, 0, 0, 0), (-1, 0, 0, 0) if w > 1 else (0, 0, 0, 0), (0, 1, 0, 0)]:
        if mode == "reflect" and (max(l, r) >= w or max(t, b) >= h):
            continue
        y = np.empty((n, h + t + b, w + l + r, c), np.float32)
        _C.pad2d(-1, m, x, (l, r, t, b), 0.0 if mode != "constant" else -3.0, y, 2)
        assert_ran(isa)
        want = ref.pad(x.transpose(0, 3, 1, 2), (l, r, t, b), mode, -3.0).transpose(0, 2, 3, 1)
        assert_equal(y, want, "nhwc pad %s" % ((l, r, t, b),))


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 3), c=st.sampled_from([1, 3, 13, 16, 17]), h=st.integers(1, 9), w=st.integers(1, 33),
       p=st.tuples(*[st.integers(-3, 5)] * 4), mode=st.sampled_from(["constant", "reflect", "replicate"]),
       isa=st.sampled_from(ISAS))
def test_pad_hypothesis(n, c, h, w, p, mode, isa):
    x = np.random.default_rng(n * 1000 + c + h + w).standard_normal((n, c, h, w)).astype(np.float32)
    l, r, t, b = p
    bad_reflect = mode == "reflect" and (max(abs(l), abs(r)) >= w or max(abs(t), abs(b)) >= h)
    if w + min(l, 0) + min(r, 0) < 0 or h + min(t, 0) + min(b, 0) < 0 or bad_reflect:
        with pytest.raises(ValueError, match="pad"):
            ops.pad(x, p, mode=mode)
        return
    with force_isa(isa):
        y = ops.pad(x, p, mode=mode, value=1.0 if mode == "constant" else None)
        if y.size:  # an empty result never reaches the kernels
            assert_ran(isa)
    assert_equal(y, ref.pad(x, p, mode, 1.0))


def test_pad_thread_invariant(isa, rng):
    x = _rand(rng, (1, 64, 112, 112))
    try:
        out = []
        for nt in (1, 2):
            set_num_threads(nt)
            out.append([ops.pad(x, (1, 1, 1, 1), mode=m) for m in ("constant", "reflect", "replicate")])
            assert_ran(isa)
    finally:
        set_num_threads(None)
    for a, b in zip(*out):
        assert np.array_equal(a, b)
    assert_equal(out[1][1], ref.pad(x, (1, 1, 1, 1), "reflect"))


def test_pad_nhwc_thread_invariant(isa, rng):
    x = _rand(rng, (1, 112, 112, 64))
    outs = []
    for nt in (1, 2):
        y = np.empty((1, 114, 114, 64), np.float32)
        _C.pad2d(-1, _C.PAD_REFLECT, x, (1, 1, 1, 1), 0.0, y, nt)
        assert_ran(isa)
        outs.append(y)
    assert np.array_equal(outs[0], outs[1])
    xs = [_rand(rng, (4, 40, 40, 64)), _rand(rng, (4, 40, 40, 32))]
    ys = []
    for nt in (1, 2):
        y = np.empty((4, 40, 40, 96), np.float32)
        _C.cat(-1, [v.reshape(-1) for v in xs], 4 * 40 * 40, y.reshape(-1), nt)
        ys.append(y)
    assert np.array_equal(ys[0], ys[1]) and np.array_equal(ys[1], np.concatenate(xs, 3))


def test_pad_bad_arguments(rng):
    x = _rand(rng, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="reflect left padding 4 must be smaller than the input extent 4"):
        ops.pad(x, (4, 0, 0, 0), mode="reflect")
    with pytest.raises(ValueError, match="reflect top padding 3 must be smaller"):
        ops.pad(x, (0, 0, 3, 0), mode="reflect")
    with pytest.raises(ValueError, match="needs a 2D or 3D input"):
        ops.pad(x, (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="crops more"):
        ops.pad(x, (-3, -2))
    with pytest.raises(ValueError, match="mode"):
        ops.pad(x, (1, 1), mode="circular")
    with pytest.raises(ValueError, match="2 or 4 values"):
        ops.pad(x, (1, 1, 1))
    with pytest.raises(TypeError, match="pad"):
        ops.pad(x, (1.5, 1))
    with pytest.raises(ValueError, match="pad: arguments the kernel cannot handle"):  # the C driver checks too
        _C.pad2d(-1, _C.PAD_REFLECT, x.reshape(2, 3, 4, 1), (4, 0, 0, 0), 0.0, np.empty((2, 3, 8, 1), np.float32), 1)
    with pytest.raises(ValueError, match="pad: output shape"):
        _C.pad2d(-1, _C.PAD_CONSTANT, x.reshape(2, 3, 4, 1), (1, 0, 0, 0), 0.0, np.empty((2, 3, 4, 1), np.float32), 1)
    with pytest.raises(ValueError, match="fill value"):
        ops.pad(x, (1, 1, 1, 1), mode="reflect", value=2.0)


# ------------------------------------------------------------------------------------- shuffles

@pytest.mark.parametrize("shape,r", [((1, 4, 1, 1), 2), ((7, 12, 3, 5), 2), ((2, 18, 7, 4), 3), ((1, 13, 4, 4), 1),
                                     ((2, 32, 17, 15), 4), ((8, 3, 3), 1), ((2, 2, 8, 3, 3), 2)], ids=str)
def test_pixel_shuffle_unshuffle(isa, rng, shape, r):
    torch = _torch()
    x = _rand(rng, shape, specials=True)
    y = ops.pixel_shuffle(x, r)
    assert_equal(y, ref.pixel_shuffle(x, r))
    assert_equal(y, torch.nn.functional.pixel_shuffle(torch.from_numpy(x), r).numpy(), "vs torch")
    back = ops.pixel_unshuffle(y, r)
    assert_equal(back, x, "round trip")
    assert_equal(back, ref.pixel_unshuffle(y, r))
    assert_equal(back, torch.nn.functional.pixel_unshuffle(torch.from_numpy(y), r).numpy(), "unshuffle vs torch")


@pytest.mark.parametrize("shape,g", [((1, 4, 1, 1), 2), ((7, 12, 3, 5), 3), ((2, 33, 7, 4), 11), ((1, 16, 4, 4), 16),
                                     ((2, 17, 5, 5), 1), ((6, 3, 3), 3), ((2, 6, 3, 3, 2), 2)], ids=str)
def test_channel_shuffle(isa, rng, shape, g):
    torch = _torch()
    x = _rand(rng, shape, specials=True)
    y = ops.channel_shuffle(x, g)
    assert_ran(isa)
    assert_equal(y, ref.channel_shuffle(x, g))
    assert_equal(y, torch.nn.functional.channel_shuffle(torch.from_numpy(x), g).numpy(), "vs torch")
    assert_equal(y, torch.nn.ChannelShuffle(g)(torch.from_numpy(x)).numpy(), "vs nn.ChannelShuffle")
    if len(shape) == 4:  # the NHWC driver: a permutation within each pixel
        n, c, h, w = shape
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c)
        yh = np.empty_like(xh)
        _C.channel_shuffle_nhwc(xh, g, yh, 2)
        assert_equal(yh.reshape(n, h, w, c).transpose(0, 3, 1, 2), y, "nhwc driver")


def test_shuffles_thread_invariant(isa, rng):
    x = _rand(rng, (2, 64, 64, 64))  # above the drivers' one-thread limit (256K floats)
    try:
        out = []
        for nt in (1, 2):
            set_num_threads(nt)
            out.append((ops.pixel_shuffle(x, 2), ops.pixel_unshuffle(x, 2), ops.channel_shuffle(x, 4)))
    finally:
        set_num_threads(None)
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_shuffle_bad_arguments(rng):
    x = _rand(rng, (2, 6, 3, 3))
    with pytest.raises(ValueError, match="divisible by upscale_factor"):
        ops.pixel_shuffle(x, 2)
    with pytest.raises(ValueError, match="divisible by downscale_factor"):
        ops.pixel_unshuffle(x, 2)
    with pytest.raises(ValueError, match="groups=4"):
        ops.channel_shuffle(x, 4)
    with pytest.raises(ValueError, match="more than 2 dims"):
        ops.channel_shuffle(x[0, :, 0], 2)
    with pytest.raises(ValueError, match="upscale_factor"):
        ops.pixel_shuffle(x, 0)
    with pytest.raises(TypeError, match="groups"):
        ops.channel_shuffle(x, 2.0)
    with pytest.raises(ValueError, match="at least 3 dims"):
        ops.pixel_shuffle(x[0, 0], 1)
