"""batch_norm (eval and batch statistics) and the scale/shift(+act) kernels behind it, under every ISA."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_close_dot, assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import available_isas, force_isa, unavailable_reason
from fastnorm.threads import set_num_threads

INF = float("inf")
ACT_RELU = (1, 0.0, INF)
ACT_RELU6 = (1, 0.0, 6.0)

# (N, C, *spatial): 1x1 images, C = 1/13/16/17/33, batch 1 and 7, inner sizes below/at/above the
# 8- and 16-float vectors (inner 1 takes the (rows, C) path, the rest the per-plane path).
SHAPES = [
    (1, 1), (7, 13), (7, 3), (1, 16), (7, 17), (3, 33), (5, 64), (2, 70),
    (1, 13, 1), (7, 1, 7), (2, 16, 8), (1, 17, 16), (7, 33, 17), (2, 3, 100),
    (1, 1, 1, 1), (7, 13, 1, 1), (1, 16, 2, 2), (7, 17, 3, 3), (1, 33, 4, 4), (2, 13, 5, 13),
    (1, 64, 7, 7), (7, 3, 9, 9), (1, 8, 130, 130),
    # short planes (inner < vector width) with many channels: the grouped-rows path plus its tail
    (2, 40, 3, 5), (3, 37, 1, 7), (1, 100, 2, 2), (2, 24, 3, 3), (1, 48, 2, 1),
]


def _params(rng, c, weight=True, bias=True):
    mean = rng.standard_normal(c).astype(np.float32)
    var = (rng.random(c) * 2 + 0.05).astype(np.float32)
    w = rng.standard_normal(c).astype(np.float32) if weight else None
    b = rng.standard_normal(c).astype(np.float32) if bias else None
    return mean, var, w, b


def _bshape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def _magnitude(x, mean, var, w, b, eps):
    """|x*s| + |mean*s| + |b|: the kernel folds BN to x*s + (b - mean*s), so its error is a few ulp of
    these terms, not of the (possibly much smaller) result. torch folds the same way."""
    sh = _bshape(x)
    s = (1.0 if w is None else np.asarray(w, np.float64)) / np.sqrt(np.asarray(var, np.float64) + eps)
    s = np.broadcast_to(s, (x.shape[1],)).reshape(sh)
    bb = 0.0 if b is None else np.abs(np.asarray(b, np.float64)).reshape(sh)
    return (np.abs(x.astype(np.float64) * s) + np.abs(np.asarray(mean, np.float64).reshape(sh) * s) + bb)


def _check(got, want, mag, what="batch_norm"):
    """Finite elements within the folded-BN bound; NaN and +-inf exactly where the reference has them."""
    got = np.asarray(got)
    want = np.asarray(want, np.float64)
    assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
    assert (np.isnan(got) == np.isnan(want)).all(), "%s: NaN positions differ" % what
    inf = np.isinf(want)
    assert (got[inf] == want[inf]).all(), "%s: infinities differ" % what
    fin = np.isfinite(want)
    assert np.isfinite(got[fin]).all(), "%s: non-finite where the reference is finite" % what
    assert_close_dot(got[fin], want[fin], mag[fin], what=what)


def _torch():
    return importorskip("torch")


# --------------------------------------------------------------------------------------- eval mode

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_eval_vs_reference(isa, rng, shape, affine):
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    mean, var, w, b = _params(rng, c, affine, affine)
    y = ops.batch_norm(x, mean, var, w, b, eps=1e-5)
    assert_ran(isa)
    _check(y, ref.batch_norm(x, mean, var, w, b, 1e-5), _magnitude(x, mean, var, w, b, 1e-5))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.1])
def test_batch_norm_eval_vs_torch(isa, rng, shape, eps):
    torch = _torch()
    x = rng.standard_normal(shape).astype(np.float32)
    mean, var, w, b = _params(rng, shape[1])
    y = ops.batch_norm(x, mean, var, w, b, eps=eps)
    assert_ran(isa)
    t = torch.nn.functional.batch_norm(torch.from_numpy(x), torch.from_numpy(mean), torch.from_numpy(var),
                                       torch.from_numpy(w), torch.from_numpy(b), training=False, eps=eps)
    _check(y, t.numpy(), _magnitude(x, mean, var, w, b, eps), "vs torch")


@pytest.mark.parametrize("weight,bias", [(True, False), (False, True)], ids=["weight-only", "bias-only"])
def test_batch_norm_eval_weight_or_bias_only(isa, rng, weight, bias):
    torch = _torch()
    x = rng.standard_normal((3, 17, 5, 5)).astype(np.float32)
    mean, var, w, b = _params(rng, 17, weight, bias)
    y = ops.batch_norm(x, mean, var, w, b)
    assert_ran(isa)
    mag = _magnitude(x, mean, var, w, b, 1e-5)
    _check(y, ref.batch_norm(x, mean, var, w, b), mag)
    t = torch.nn.functional.batch_norm(torch.from_numpy(x), torch.from_numpy(mean), torch.from_numpy(var),
                                       None if w is None else torch.from_numpy(w),
                                       None if b is None else torch.from_numpy(b))
    _check(y, t.numpy(), mag, "vs torch")


# ---------------------------------------------------------------------------------- batch statistics

@pytest.mark.parametrize("shape", [(7, 13), (2, 1), (7, 17, 3), (2, 16, 4, 4), (1, 33, 5, 5), (7, 3, 1, 1)],
                         ids=str)
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_training(isa, rng, shape, affine):
    torch = _torch()
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    c = shape[1]
    _, _, w, b = _params(rng, c, affine, affine)
    y = ops.batch_norm(x, None, None, w, b, training=True, eps=1e-5)
    assert_ran(isa)
    axes = (0,) + tuple(range(2, x.ndim))
    xd = x.astype(np.float64)
    mag = _magnitude(x, xd.mean(axis=axes), xd.var(axis=axes), w, b, 1e-5)
    _check(y, ref.batch_norm_train_stats(x, w, b, 1e-5), mag)
    t = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None,
                                       None if w is None else torch.from_numpy(w),
                                       None if b is None else torch.from_numpy(b), training=True, eps=1e-5)
    _check(y, t.numpy(), mag, "vs torch")
    if not affine:  # the module form the docstring promises
        bn = torch.nn.BatchNorm2d(c, affine=False, track_running_stats=False) if x.ndim == 4 else \
            torch.nn.BatchNorm1d(c, affine=False, track_running_stats=False)
        _check(y, bn(torch.from_numpy(x)).detach().numpy(), mag, "vs BatchNorm(track_running_stats=False)")


def test_batch_norm_training_one_value_per_channel_raises():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ops.batch_norm(np.ones((1, 4), np.float32), None, None, training=True)


# ------------------------------------------------------------------------------------ numerical cases

def test_batch_norm_zero_running_var(isa, rng):
    torch = _torch()
    x = rng.standard_normal((2, 5, 3, 3)).astype(np.float32)
    mean, var, w, b = _params(rng, 5)
    var[2] = 0.0  # eps alone keeps the scale finite: 1/sqrt(eps)
    y = ops.batch_norm(x, mean, var, w, b, eps=1e-5)
    assert_ran(isa)
    mag = _magnitude(x, mean, var, w, b, 1e-5)
    _check(y, ref.batch_norm(x, mean, var, w, b, 1e-5), mag)
    t = torch.nn.functional.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var, w, b)), eps=1e-5)
    _check(y, t.numpy(), mag, "vs torch")


def test_batch_norm_large_offset_small_noise(isa, rng):
    """x = 1e4 + noise: the folded shift -mean*scale is ~1e6 and its rounding dominates the error, in
    torch as here. Check the error bound, and that we are never meaningfully worse than torch."""
    torch = _torch()
    x = (1e4 + 0.01 * rng.standard_normal((4, 6, 8, 8))).astype(np.float32)
    xd = x.astype(np.float64)
    mean = xd.mean(axis=(0, 2, 3)).astype(np.float32)
    var = xd.var(axis=(0, 2, 3)).astype(np.float32)
    y = ops.batch_norm(x, mean, var, eps=1e-5)
    assert_ran(isa)
    want = ref.batch_norm(x, mean, var, eps=1e-5)
    _check(y, want, _magnitude(x, mean, var, None, None, 1e-5))
    t = torch.nn.functional.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var)), eps=1e-5).numpy()
    ours, theirs = np.abs(y - want).max(), np.abs(t - want).max()
    assert ours <= 2 * theirs + 1e-6, "max err %.3g vs torch %.3g" % (ours, theirs)
    # training mode on the same data: statistics from the batch itself
    yt = ops.batch_norm(x, None, None, training=True)
    _check(yt, ref.batch_norm_train_stats(x), _magnitude(x, xd.mean(axis=(0, 2, 3)), xd.var(axis=(0, 2, 3)),
                                                          None, None, 1e-5))


def test_batch_norm_huge_values(isa, rng):
    torch = _torch()
    x = (rng.standard_normal((3, 17, 4, 5)) * 1e30).astype(np.float32)
    mean = (rng.standard_normal(17) * 1e30).astype(np.float32)
    var = np.full(17, 1e30, np.float32)  # scale 1e-15: results ~1e15, no overflow anywhere
    w = rng.standard_normal(17).astype(np.float32)
    y = ops.batch_norm(x, mean, var, w, None)
    assert_ran(isa)
    mag = _magnitude(x, mean, var, w, None, 1e-5)
    _check(y, ref.batch_norm(x, mean, var, w, None), mag)
    t = torch.nn.functional.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var, w)))
    _check(y, t.numpy(), mag, "vs torch")
    # scale 1, values near 1e30 pass through unchanged in magnitude
    ones, zeros = np.ones(17, np.float32), np.zeros(17, np.float32)
    y1 = ops.batch_norm(x, zeros, ones - 1e-5, eps=1e-5)
    _check(y1, ref.batch_norm(x, zeros, ones - 1e-5, eps=1e-5), _magnitude(x, zeros, ones - 1e-5, None, None, 1e-5))


@pytest.mark.parametrize("shape", [(7, 13), (7, 17, 5), (2, 13, 3, 3), (1, 3, 1, 1)], ids=str)
def test_batch_norm_nan_inf(isa, rng, shape):
    torch = _torch()
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::7] = np.nan
    flat[3::11] = INF
    flat[5::13] = -INF
    mean, var, w, b = _params(rng, shape[1])
    w = np.abs(w) + 0.1  # non-zero scale: inf * 0 would be NaN
    y = ops.batch_norm(x, mean, var, w, b)
    assert_ran(isa)
    mag = _magnitude(x, mean, var, w, b, 1e-5)
    _check(y, ref.batch_norm(x, mean, var, w, b), mag)
    t = torch.nn.functional.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var, w, b)))
    _check(y, t.numpy(), mag, "vs torch")


# ------------------------------------------------------------------------ scale_shift with activation

@pytest.mark.parametrize("geom", [(7, 13, 1), (1, 3, 1), (5, 40, 1), (2, 17, 4), (3, 13, 49), (1, 16, 16),
                                  (2, 5, 20000)], ids=str)
@pytest.mark.parametrize("act", [ACT_RELU, ACT_RELU6], ids=["relu", "relu6"])
def test_scale_shift_act(isa, rng, geom, act):
    outer, c, inner = geom
    x = (rng.standard_normal(geom) * 4).astype(np.float32)
    x.reshape(-1)[::17] = np.nan
    x.reshape(-1)[1::19] = INF
    x.reshape(-1)[2::23] = -INF
    scale = rng.standard_normal(c).astype(np.float32) * 2
    scale[scale == 0] = 1.0
    shift = rng.standard_normal(c).astype(np.float32)
    y = np.empty_like(x)
    _C.scale_shift(-1, x, scale, shift, act, y, 2)
    assert_ran(isa)
    lin = x.astype(np.float64) * scale[None, :, None] + shift[None, :, None]
    want = ref.clamp(lin, act[1], act[2])
    mag = np.abs(x.astype(np.float64) * scale[None, :, None]) + np.abs(shift[None, :, None])
    _check(y, want, mag, "scale_shift+clamp")
    assert ((y[~np.isnan(y)] >= 0) & (y[~np.isnan(y)] <= act[2])).all()
    # in place (y aliases x) gives the same bits
    x2 = x.copy()
    _C.scale_shift(-1, x2, scale, shift, act, x2, 2)
    assert np.array_equal(x2, y, equal_nan=True)


def test_scale_shift_act_matches_torch_relu(isa, rng):
    torch = _torch()
    x = rng.standard_normal((7, 13, 3, 3)).astype(np.float32)
    mean, var, w, b = _params(rng, 13)
    scale, shift = _C.bnorm_prepare(mean, var, w, b, 1e-5)
    for act, tf in [(ACT_RELU, torch.relu), (ACT_RELU6, torch.nn.functional.relu6)]:
        y = np.empty_like(x)
        _C.scale_shift(-1, x.reshape(7, 13, 9), scale, shift, act, y.reshape(7, 13, 9), 1)
        assert_ran(isa)
        t = tf(torch.nn.functional.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var, w, b)))).numpy()
        _check(y, t, _magnitude(x, mean, var, w, b, 1e-5), "bn+act vs torch")


# -------------------------------------------------------------------------------------- thread count

@pytest.mark.parametrize("shape", [(3, 17, 50, 50), (70001, 3), (9000, 13), (1, 2, 300, 301), (64, 200, 2, 2),
                                   (4, 33, 100), (7, 13)], ids=str)
def test_batch_norm_thread_invariant(isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    mean, var, w, b = _params(rng, shape[1])
    try:
        set_num_threads(1)
        y1 = ops.batch_norm(x, mean, var, w, b)
        set_num_threads(2)
        y2 = ops.batch_norm(x, mean, var, w, b)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    assert np.array_equal(y1, y2)
    _check(y2, ref.batch_norm(x, mean, var, w, b), _magnitude(x, mean, var, w, b, 1e-5))


def test_scale_shift_thread_invariant_with_act(isa, rng):
    x = rng.standard_normal((5, 37, 1000)).astype(np.float32)
    scale, shift = rng.standard_normal(37).astype(np.float32), rng.standard_normal(37).astype(np.float32)
    ys = []
    for nt in (1, 2, 3):
        y = np.empty_like(x)
        _C.scale_shift(-1, x, scale, shift, ACT_RELU6, y, nt)
        ys.append(y)
    assert_ran(isa)
    assert np.array_equal(ys[0], ys[1]) and np.array_equal(ys[0], ys[2])


# ----------------------------------------------------------------------------------------- bad inputs

def test_batch_norm_bad_inputs(rng):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    m, v = np.zeros(4, np.float32), np.ones(4, np.float32)
    with pytest.raises(ValueError, match="running_mean: expected 4 values"):
        ops.batch_norm(x, np.zeros(5, np.float32), v)
    with pytest.raises(ValueError, match="running_var: expected 4 values"):
        ops.batch_norm(x, m, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="weight: expected 4 values"):
        ops.batch_norm(x, m, v, weight=np.ones(2, np.float32))
    with pytest.raises(TypeError, match="dtype int"):
        ops.batch_norm(x.astype(np.int32), m, v)
    with pytest.raises(TypeError, match="running_mean"):
        ops.batch_norm(x, np.zeros(4, np.int64), v)
    with pytest.raises(ValueError, match=r"expected \(N, C\)"):
        ops.batch_norm(np.ones(4, np.float32), m, v)
    with pytest.raises(ValueError, match="required when training=False"):
        ops.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="eps"):
        ops.batch_norm(x, m, v, eps=-1.0)


def test_batch_norm_dtypes_and_layout(rng):
    x = rng.standard_normal((3, 5, 4, 6))
    m, v = rng.standard_normal(5), rng.random(5) + 0.5
    y = ops.batch_norm(x, m, v)  # float64 in: converted to float32
    assert y.dtype == np.float32
    x32, m32, v32 = x.astype(np.float32), m.astype(np.float32), v.astype(np.float32)
    _check(y, ref.batch_norm(x32, m32, v32), _magnitude(x32, m32, v32, None, None, 1e-5))
    # non-contiguous input
    xt = x32.transpose(0, 1, 3, 2)
    _check(ops.batch_norm(xt, m32, v32), ref.batch_norm(xt, m32, v32), _magnitude(xt, m32, v32, None, None, 1e-5))
    # empty batch
    assert ops.batch_norm(np.empty((0, 5, 2, 2), np.float32), m32, v32).shape == (0, 5, 2, 2)


def test_scale_shift_binding_rejects_bad_shapes():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="expected 3 scales"):
        _C.scale_shift(-1, x, np.zeros(2, np.float32), np.zeros(3, np.float32), ACT_RELU, np.empty_like(x), 1)
    with pytest.raises(ValueError, match="output shape"):
        _C.scale_shift(-1, x, np.zeros(3, np.float32), np.zeros(3, np.float32), ACT_RELU,
                       np.empty((2, 3, 5), np.float32), 1)


# ------------------------------------------------------------------------------------ hypothesis sweep

@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 4), c=st.integers(1, 40), spatial=st.lists(st.integers(1, 19), min_size=0, max_size=2),
       affine=st.booleans(), eps=st.sampled_from([1e-5, 1e-3]), seed=st.integers(0, 2 ** 31 - 1))
def test_batch_norm_sweep(n, c, spatial, affine, eps, seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) + tuple(spatial)
    x = rng.standard_normal(shape).astype(np.float32)
    mean, var, w, b = _params(rng, c, affine, affine)
    want = ref.batch_norm(x, mean, var, w, b, eps)
    mag = _magnitude(x, mean, var, w, b, eps)
    outs = {}
    for isa in available_isas():
        with force_isa(isa):
            y = ops.batch_norm(x, mean, var, w, b, eps=eps)
            assert_ran(isa)
        _check(y, want, mag, "batch_norm %s %s" % (isa, shape))
        outs[isa] = y
    # the wide kernels use one FMA per element whatever the vector width: AVX2 and AVX-512 agree exactly
    # (where both run; test_batch_norm_wide_isas_agree skips, naming the ISA, where they do not)
    if "avx2" in outs and "avx512" in outs:
        assert np.array_equal(outs["avx2"], outs["avx512"])


@pytest.mark.parametrize("shape", [(7, 17, 3, 3), (2, 13, 5, 13), (3, 33)], ids=str)
def test_batch_norm_wide_isas_agree(rng, shape):
    for name in ("avx2", "avx512"):
        if unavailable_reason(name):
            pytest.skip(unavailable_reason(name))
    x = rng.standard_normal(shape).astype(np.float32)
    mean, var, w, b = _params(rng, shape[1], True, True)
    outs = []
    for isa in ("avx2", "avx512"):
        with force_isa(isa):
            outs.append(ops.batch_norm(x, mean, var, w, b))
            assert_ran(isa)
    assert np.array_equal(outs[0], outs[1])


# ------------------------------------------------------------------------- never past the end

GUARD = '''
import ctypes, mmap, sys
import numpy as np

def guarded(shape, fill=None):
    """A float32 array ending exactly where a PROT_NONE page begins: a read or write past its end
    faults (masked-off lanes of maskload/maskstore and k-masked ops do not)."""
    n = int(np.prod(shape))
    page = mmap.PAGESIZE
    npages = (n * 4 + page - 1) // page + 1
    mm = mmap.mmap(-1, npages * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(base + (npages - 1) * page, page, 0) == 0
    a = np.frombuffer(mm, np.float32, n, (npages - 1) * page - n * 4).reshape(shape)
    if fill is not None:
        a[...] = fill
    return a
'''


def run_guarded(body):
    """Run `body` (after GUARD) in a child process: a stray access kills the child, not pytest."""
    import os
    import sys
    from util import run_python
    code = GUARD + ("\nfrom fastnorm.testing import available_isas, force_isa\nimport fastnorm._C\n"
                    "assert fastnorm._C.__file__ == %r, fastnorm._C.__file__\n" % _C.__file__) + body
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = run_python(["-c", code], env=env)
    assert r.returncode == 0, "child died (rc %d): %s" % (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip().endswith("ok"), r.stdout[-2000:]


def test_scale_shift_stays_in_bounds():
    run_guarded('''
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for outer, c, inner in [(1, 1, 1), (3, 13, 1), (5, 3, 1), (2, 17, 1), (1, 40, 1), (4, 70, 1),
                                (1, 1, 5), (1, 1, 17), (2, 17, 3), (1, 37, 4), (3, 16, 15), (1, 5, 49),
                                (1, 2, 20003), (2, 9, 7)]:
            for act in [(0, 0.0, 0.0), (1, 0.0, 6.0)]:
                x = guarded((outer, c, inner), 1.5)
                s, b = guarded((c,), 2.0), guarded((c,), -1.0)
                y = guarded((outer, c, inner))
                for nt in (1, 2):
                    _C.scale_shift(-1, x, s, b, act, y, nt)
                    assert (y == 2.0).all(), (isa, outer, c, inner)
                    _C.scale_shift(-1, y, s, b, act, y, nt)  # in place
                    y[...] = 2.0
print("ok")
''')
