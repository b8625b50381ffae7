"""layer_norm, layer_norm_channels, group_norm, instance_norm and batch_norm(training=True): the
statistics-then-normalise kernels, under every ISA, vs the float64 NumPy reference and vs torch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference as ref
from util import assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.testing import available_isas, force_isa
from fastnorm.threads import set_num_threads

INF = float("inf")
ACT_NONE = (0, 0.0, 0.0)
ACT_RELU = (1, 0.0, INF)
ACT_RELU6 = (1, 0.0, 6.0)

# Tolerances. The kernels normalise as (x - mean_f) * a_f + b_f (fn_norm.h): the subtraction is exact
# near the mean, a_f and b_f are rounded once from double statistics, so the error is a few float32
# ulp of the terms |xhat * w| + |b| (xhat the normalised value). RTOL covers ~40 ulp: generous for
# the kernel, tight enough to catch a wrong mean, variance or eps (those are off by > 1e-3).
RTOL = 5e-6
ATOL = 1e-6
# torch in float32 folds to x * (rstd*w) + (b - mean*rstd*w): its own error is ulp(|x * rstd * w|),
# which for x = 1e4 + noise is the whole answer (and x near 1e30 overflows its x*x). Those cases are
# compared with torch computing in float64 on the same float32 input: PyTorch's exact answer.


def _torch():
    return importorskip("torch")


def _bound(want_hat, w, b, extra=0.0):
    """|xhat*w| + |b| per element, want_hat the reference normalised value, w/b broadcastable."""
    t = np.abs(want_hat) * (1.0 if w is None else np.abs(w)) + (0.0 if b is None else np.abs(b))
    return ATOL + RTOL * t + extra


def check(got, want, bound, what="output"):
    got = np.asarray(got)
    want = np.asarray(want, np.float64)
    assert got.dtype == np.float32 and got.shape == want.shape, (what, got.dtype, got.shape, want.shape)
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert (nan_g == nan_w).all(), "%s: NaN positions differ (%d vs %d)" % (what, nan_g.sum(), nan_w.sum())
    fin = ~nan_w
    err = np.abs(got[fin].astype(np.float64) - want[fin])
    bnd = np.broadcast_to(bound, want.shape)[fin]
    bad = err > bnd
    assert not bad.any(), "%s: %d of %d off, max err %.3g (bound there %.3g)" % (
        what, bad.sum(), err.size, err.max(), bnd[np.argmax(err - bnd)])


def _pc(v, ndim):  # per-channel vector broadcast over (N, C, *)
    return None if v is None else np.asarray(v, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def _affine(rng, c, weight=True, bias=True, shape=None):
    shape = (c,) if shape is None else shape
    w = (rng.standard_normal(shape) + 0.5).astype(np.float32) if weight else None
    b = rng.standard_normal(shape).astype(np.float32) if bias else None
    return w, b


def _t(a):
    torch = _torch()
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def _stats(op, x):
    """(mean, rstd) of each element's statistic, broadcast to x (float64, eps of the op)."""
    xd = x.astype(np.float64)
    n, c = x.shape[:2]
    if op.startswith("group_norm") or op == "instance_norm":
        g = c if op == "instance_norm" else int(op[len("group_norm("):-1])
        v = xd.reshape(n, g, -1)
        m, var = v.mean(axis=2, keepdims=True), v.var(axis=2, keepdims=True)
        return (np.broadcast_to(m, v.shape).reshape(x.shape), np.broadcast_to(1 / np.sqrt(var + 1e-5), v.shape)
                .reshape(x.shape))
    axes = (1,) if op == "layer_norm_channels" else (0,) + tuple(range(2, x.ndim))
    eps = 1e-6 if op == "layer_norm_channels" else 1e-5
    m, var = xd.mean(axis=axes, keepdims=True), xd.var(axis=axes, keepdims=True)
    return np.broadcast_to(m, x.shape), np.broadcast_to(1 / np.sqrt(var + eps), x.shape)


# ----------------------------------------------------------------------------------------- oracles
# Each: (ours(x, w, b), reference(x, w, b), torch(x, w, b) or None, per-channel affine?)

def _gn(g):
    def tf(x, w, b):
        return _torch().nn.functional.group_norm(x, g, w, b, 1e-5)
    return (lambda x, w, b: ops.group_norm(x, g, w, b), lambda x, w, b: ref.group_norm(x, g, w, b), tf)


def _in():
    def tf(x, w, b):
        return _torch().instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False)  # no 1-element check
    return (lambda x, w, b: ops.instance_norm(x, weight=w, bias=b), lambda x, w, b: ref.instance_norm(x, w, b), tf)


def _lnc():
    def tf(x, w, b):
        return _torch().nn.functional.layer_norm(x.movedim(1, -1), (x.shape[1],), w, b, 1e-6).movedim(-1, 1)
    return (lambda x, w, b: ops.layer_norm_channels(x, w, b), lambda x, w, b: ref.layer_norm_channels(x, w, b), tf)


def _bnt():
    def tf(x, w, b):
        return _torch().nn.functional.batch_norm(x, None, None, w, b, training=True, eps=1e-5)
    return (lambda x, w, b: ops.batch_norm(x, None, None, w, b, training=True),
            lambda x, w, b: ref.batch_norm_train_stats(x, w, b, 1e-5), tf)


OPS = {"group_norm(2)": _gn(2), "group_norm(1)": _gn(1), "instance_norm": _in(),
       "layer_norm_channels": _lnc(), "batch_norm_train": _bnt()}


def _groups_ok(op, c):
    return not (op == "group_norm(2)" and c % 2)


def _run(op, x, w, b, isa=None, torch_dtype="float32", extra=0.0):
    ours, refn, tf = OPS[op]
    y = ours(x, w, b)
    if isa:
        assert_ran(isa)
    want = refn(x, w, b)
    hat = refn(x, None, None)
    bound = _bound(hat, _pc(w, x.ndim), _pc(b, x.ndim))
    check(y, want, bound, "%s vs reference" % op)
    torch = _torch()
    if torch_dtype == "float64":
        t = tf(_t(x).double(), None if w is None else _t(w).double(), None if b is None else _t(b).double())
        check(y, t.numpy(), bound, "%s vs torch float64" % op)
    else:
        t = tf(_t(x), _t(w), _t(b)).numpy()
        # torch float32's own error: a few ulp of (|x| + |mean|) * rstd * |w| (it folds, or rounds
        # x - mean in float): large where rstd is (C = 2 channels that happen to be close)
        mean, rstd = _stats(op, x)
        extra = extra + 8 * 2.0 ** -24 * (np.abs(x) + np.abs(mean)) * rstd * (1.0 if w is None else np.abs(_pc(w, x.ndim)))
        check(y, t, bound * 4 + extra, "%s vs torch" % op)
    return y


SHAPES = [(1, 1, 2), (2, 4, 1, 1), (1, 7, 3), (3, 16, 4, 4), (2, 17, 5, 3), (1, 33, 7, 7), (2, 8, 15, 16),
          (1, 6, 1, 17), (4, 3, 33, 1), (2, 64, 9, 9), (1, 2, 130, 130), (2, 12, 2, 3, 4)]


# every (op, shape) that is a valid call: group_norm(2) needs an even C, batch statistics need more
# than one value per channel
VALID = [(op, shape) for op in OPS for shape in SHAPES
         if _groups_ok(op, shape[1]) and not (op == "batch_norm_train" and np.prod(shape) // shape[1] <= 1)]


@pytest.mark.parametrize("op,shape", VALID, ids=str)
@pytest.mark.parametrize("affine", ["both", "none", "weight", "bias"])
def test_ops_vs_reference_and_torch(isa, rng, op, shape, affine):
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    w, b = _affine(rng, shape[1], affine in ("both", "weight"), affine in ("both", "bias"))
    # one value per statistic (instance norm of 1x1 images): variance 0, the output is the bias
    # exactly, where torch's float32 rounding of x - mean, times 1/sqrt(eps), is noise
    one = op in ("instance_norm",) and np.prod(shape[2:]) == 1
    _run(op, x, w, b, isa, torch_dtype="float64" if one else "float32")


# -------------------------------------------------------------------------------------- layer_norm

@pytest.mark.parametrize("shape,ns", [((5, 1), (1,)), ((3, 7), (7,)), ((2, 5, 16), (16,)), ((4, 17), (17,)),
                                      ((2, 3, 33), (3, 33)), ((3, 4, 5, 6), (4, 5, 6)), ((2, 64, 9, 9), (9, 9)),
                                      ((1, 256, 14, 14), (256, 14, 14)), ((7,), (7,)), ((6, 2, 40000), (40000,))],
                         ids=str)
@pytest.mark.parametrize("affine", ["both", "none", "weight", "bias"])
def test_layer_norm(isa, rng, shape, ns, affine):
    torch = _torch()
    x = (rng.standard_normal(shape) * 2 - 1).astype(np.float32)
    w, b = _affine(rng, None, affine in ("both", "weight"), affine in ("both", "bias"), shape=ns)
    y = ops.layer_norm(x, ns, w, b)
    assert_ran(isa)
    hat = ref.layer_norm(x, ns)
    bound = _bound(hat, None if w is None else w.astype(np.float64), None if b is None else b.astype(np.float64))
    check(y, ref.layer_norm(x, ns, w, b), bound, "layer_norm vs reference")
    t = torch.nn.functional.layer_norm(_t(x), ns, _t(w), _t(b)).numpy()
    check(y, t, 4 * bound, "layer_norm vs torch")
    if len(ns) == 1:  # int normalized_shape as torch accepts it
        assert np.array_equal(ops.layer_norm(x, ns[0], w, b), y)


# ------------------------------------------------------------------------- torch modules (eval mode)

@pytest.mark.parametrize("affine", [True, False])
def test_modules(isa, rng, affine):
    torch = _torch()
    x = rng.standard_normal((3, 12, 7, 9)).astype(np.float32)
    tx = torch.from_numpy(x)
    hat_bound = 4 * (ATOL + RTOL * 8)
    with torch.no_grad():
        for g in (1, 3, 12):
            m = torch.nn.GroupNorm(g, 12, affine=affine).eval()
            if affine:
                m.weight.normal_(), m.bias.normal_()
            w, b = (m.weight.numpy(), m.bias.numpy()) if affine else (None, None)
            y = ops.group_norm(x, g, w, b, eps=m.eps)
            assert_ran(isa)
            check(y, m(tx).numpy(), hat_bound * (1 + (np.abs(w).max() + np.abs(b).max() if affine else 0)),
                  "GroupNorm(%d)" % g)
        m = torch.nn.InstanceNorm2d(12, affine=affine).eval()
        if affine:
            m.weight.normal_(), m.bias.normal_()
        w, b = (m.weight.numpy(), m.bias.numpy()) if affine else (None, None)
        check(ops.instance_norm(x, weight=w, bias=b, eps=m.eps), m(tx).numpy(),
              hat_bound * (1 + (np.abs(w).max() + np.abs(b).max() if affine else 0)), "InstanceNorm2d")
        # track_running_stats=True in eval: normalised with the running statistics
        m = torch.nn.InstanceNorm2d(12, affine=affine, track_running_stats=True).eval()
        m.running_mean.normal_(), m.running_var.uniform_(0.5, 2.0)
        if affine:
            m.weight.normal_(), m.bias.normal_()
        w, b = (m.weight.numpy(), m.bias.numpy()) if affine else (None, None)
        y = ops.instance_norm(x, m.running_mean.numpy(), m.running_var.numpy(), w, b, use_input_stats=False,
                              eps=m.eps)
        check(y, m(tx).numpy(), 1e-5 * (1 + np.abs(m(tx).numpy())), "InstanceNorm2d(track_running_stats)")
        ln = torch.nn.LayerNorm((7, 9), elementwise_affine=affine).eval()
        if affine:
            ln.weight.normal_(), ln.bias.normal_()
        w, b = (ln.weight.numpy(), ln.bias.numpy()) if affine else (None, None)
        check(ops.layer_norm(x, (7, 9), w, b, eps=ln.eps), ln(tx).numpy(),
              hat_bound * (1 + (np.abs(w).max() + np.abs(b).max() if affine else 0)), "LayerNorm")


# ------------------------------------------------------------------------------- numerical edge cases

@pytest.mark.parametrize("op", list(OPS))
def test_large_offset_small_noise(isa, rng, op):
    """x = 1e4 + noise: torch float32 folds to x*a + b and loses ~ulp(1e4 * rstd); the exact-subtract
    form keeps float32 accuracy of the result. Compared with torch in float64 on the same input."""
    for noise in (1.0, 0.01):
        x = (1e4 + noise * rng.standard_normal((2, 6, 8, 8))).astype(np.float32)
        w, b = _affine(rng, 6)
        _run(op, x, w, b, isa, torch_dtype="float64")


@pytest.mark.parametrize("op", list(OPS))
def test_huge_values(isa, rng, op):
    """Values near 1e30: x*x overflows float32 (torch float32 gives 0 or NaN here); the shifted double
    sums do not. Compared with torch in float64."""
    x = (1e30 * (1 + 0.1 * rng.standard_normal((2, 6, 5, 5)))).astype(np.float32)
    w, b = _affine(rng, 6)
    _run(op, x, w, b, isa, torch_dtype="float64")
    x = (3e37 * rng.standard_normal((2, 6, 5, 5))).astype(np.float32)  # around 0, huge spread
    _run(op, x, w, b, isa, torch_dtype="float64")


@pytest.mark.parametrize("op", list(OPS))
def test_constant_slab_gives_bias(isa, rng, op):
    """variance 0: the output is exactly the bias (x - mean is exactly 0)."""
    x = np.full((3, 6, 4, 4), 7.25, np.float32)
    if op == "batch_norm_train":  # its statistic spans the batch: constant per channel
        x[:, 1], x[:, 2] = -1e4, 3e30
    else:
        x[1] = -1e4
        x[2] = 3e30
    w, b = _affine(rng, 6)
    y = OPS[op][0](x, w, b)
    assert_ran(isa)
    assert np.array_equal(y, np.broadcast_to(b.reshape(1, 6, 1, 1), x.shape))
    y = OPS[op][0](x, None, None)
    assert (y == 0).all()


def test_instance_norm_1x1_and_group_norm_extremes(isa, rng):
    torch = _torch()
    x = rng.standard_normal((3, 5, 1, 1)).astype(np.float32)
    w, b = _affine(rng, 5)
    assert np.array_equal(ops.instance_norm(x, weight=w, bias=b), np.broadcast_to(b.reshape(1, 5, 1, 1), x.shape))
    assert_ran(isa)
    assert np.array_equal(ops.group_norm(x, 5, w, b), np.broadcast_to(b.reshape(1, 5, 1, 1), x.shape))
    x = rng.standard_normal((2, 12, 5, 5)).astype(np.float32)
    w, b = _affine(rng, 12)
    for g in (1, 12):  # num_groups = 1 (LayerNorm over C,H,W) and = C (instance norm)
        y = ops.group_norm(x, g, w, b)
        t = torch.nn.functional.group_norm(_t(x), g, _t(w), _t(b)).numpy()
        check(y, t, 4 * _bound(ref.group_norm(x, g), _pc(w, 4), _pc(b, 4)), "group_norm(%d)" % g)
    check(ops.group_norm(x, 12, w, b), ops.instance_norm(x, weight=w, bias=b), 0.0, "GN(C) == IN")
    check(ops.group_norm(x, 1), ops.layer_norm(x, (12, 5, 5)), 2 * (ATOL + RTOL * 5), "GN(1) == LN(C,H,W)")


@pytest.mark.parametrize("op", list(OPS))
def test_nan_inf(isa, rng, op):
    """A NaN or infinity in a statistic's slab makes that slab NaN (its mean or variance is), as torch;
    other slabs are untouched."""
    torch = _torch()
    x = rng.standard_normal((3, 6, 4, 5)).astype(np.float32)
    x[0, 1, 2, 3] = np.nan
    x[1, 4, 0, 0] = INF
    x[2, 2, 1, 1] = -INF
    y = OPS[op][0](x, None, None)
    assert_ran(isa)
    t = OPS[op][2](_t(x).double(), None, None).numpy()
    assert (np.isnan(y) == np.isnan(t)).all(), op
    fin = ~np.isnan(t)
    assert not fin.any() or np.abs(y[fin] - t[fin]).max() < 1e-5


def test_layer_norm_nan_inf_and_eps(isa, rng):
    torch = _torch()
    x = rng.standard_normal((4, 9)).astype(np.float32)
    x[1, 3] = np.nan
    x[2, 0] = INF
    for eps in (0.0, 1e-5, 0.5):
        y = ops.layer_norm(x, (9,), eps=eps)
        t = torch.nn.functional.layer_norm(_t(x).double(), (9,), eps=eps).numpy()
        assert (np.isnan(y) == np.isnan(t)).all()
        fin = ~np.isnan(t)
        assert np.abs(y[fin] - t[fin]).max() < 1e-5
    c = np.ones((2, 9), np.float32)  # eps = 0 and variance 0: 0 * inf = NaN, as torch
    assert np.isnan(ops.layer_norm(c, 9, eps=0.0)).all()


# ------------------------------------------------------------------------------- fused activation

@pytest.mark.parametrize("act", [ACT_RELU, ACT_RELU6], ids=["relu", "relu6"])
def test_fused_activation(isa, rng, act):
    x = (rng.standard_normal((2, 12, 5, 7)) * 3).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    w, b = _affine(rng, 12)
    n, c, hw = 2, 12, 35

    def clamp(v):
        return np.where(np.isnan(v), v, np.minimum(np.maximum(v, act[1]), act[2]))

    cases = [(lambda a, y: _C.group_norm_nchw(-1, x.reshape(n, c, hw), 3, w, b, 1e-5, a, y.reshape(n, c, hw), 1)),
             (lambda a, y: _C.instance_norm_nchw(-1, x.reshape(n, c, hw), w, b, 1e-5, a, y.reshape(n, c, hw), 1)),
             (lambda a, y: _C.layer_norm_channels_nchw(-1, x.reshape(n, c, hw), w, b, 1e-5, a, y.reshape(n, c, hw),
                                                       1)),
             (lambda a, y: _C.layer_norm_rows(-1, x.reshape(-1, 7), w[:7], b[:7], 1e-5, a, y.reshape(-1, 7), 1)),
             (lambda a, y: _C.batch_norm_stats(-1, x.reshape(n, c, hw), w, b, 1e-5, a, y.reshape(n, c, hw), 1))]
    for f in cases:
        y0, y1 = np.empty_like(x), np.empty_like(x)
        f(ACT_NONE, y0)
        f(act, y1)
        assert_ran(isa)
        assert np.array_equal(y1, clamp(y0), equal_nan=True)


def test_in_place(isa, rng):
    """Every driver may write its output over its input (the statistics come first)."""
    x = rng.standard_normal((3, 24, 30, 31)).astype(np.float32)
    w, b = _affine(rng, 24)
    n, c, hw = 3, 24, 930
    xh = np.ascontiguousarray(x.reshape(n, c, hw).transpose(0, 2, 1))
    calls = [lambda v, y: _C.group_norm_nchw(-1, v, 4, w, b, 1e-5, ACT_RELU, y, 2),
             lambda v, y: _C.layer_norm_channels_nchw(-1, v, w, b, 1e-5, ACT_NONE, y, 2),
             lambda v, y: _C.batch_norm_stats(-1, v, w, b, 1e-5, ACT_NONE, y, 2),
             lambda v, y: _C.layer_norm_rows(-1, v.reshape(-1, hw), None, None, 1e-5, ACT_NONE, y.reshape(-1, hw), 2)]
    for f in calls:
        v = x.reshape(n, c, hw).copy()
        y = np.empty_like(v)
        f(v, y)
        f(v, v)
        assert_ran(isa)
        assert np.array_equal(v, y)
    for kind in (_C.group_norm_nhwc, lambda *a: _C.instance_norm_nhwc(a[0], a[1], *a[3:])):
        for nt in (1, 2):
            v = xh.copy()
            y = np.empty_like(v)
            kind(-1, v, 4, w, b, 1e-5, ACT_NONE, y, nt)
            kind(-1, v, 4, w, b, 1e-5, ACT_NONE, v, nt)
            assert np.array_equal(v, y)


# ---------------------------------------------------------------------------------- thread count

@pytest.mark.parametrize("shape", [(3, 16, 50, 50), (1, 64, 30, 30), (64, 32, 4, 4), (2, 8, 200, 100), (9000, 13)],
                         ids=str)
def test_thread_invariant(isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    w, b = _affine(rng, c)
    calls = [lambda: ops.layer_norm_channels(x, w, b), lambda: ops.batch_norm(x, None, None, w, b, training=True),
             lambda: ops.layer_norm(x, x.shape[-1])]
    if x.ndim > 2:
        calls += [lambda: ops.group_norm(x, 4, w, b), lambda: ops.group_norm(x, 1), lambda: ops.instance_norm(x)]
    for f in calls:
        try:
            set_num_threads(1)
            y1 = f()
            set_num_threads(2)
            y2 = f()
            assert_ran(isa)
        finally:
            set_num_threads(None)
        assert np.array_equal(y1, y2)


def test_batch_independent(isa, rng):
    """Per-sample statistics do not depend on the batch size or on other samples."""
    x = rng.standard_normal((5, 8, 9, 11)).astype(np.float32)
    w, b = _affine(rng, 8)
    for f in (lambda v: ops.group_norm(v, 2, w, b), lambda v: ops.instance_norm(v, weight=w, bias=b),
              lambda v: ops.layer_norm_channels(v, w, b), lambda v: ops.layer_norm(v, (8, 9, 11))):
        full = f(x)
        for i in range(5):
            assert np.array_equal(f(x[i:i + 1])[0], full[i])


# ------------------------------------------------------------------------------------ bad arguments

def test_bad_arguments(rng):
    x = rng.standard_normal((2, 6, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="num_groups"):
        ops.group_norm(x, 4)
    with pytest.raises(ValueError, match="num_groups"):
        ops.group_norm(x, 0)
    with pytest.raises(TypeError, match="num_groups"):
        ops.group_norm(x, 2.0)
    with pytest.raises(ValueError, match="weight: expected 6 values"):
        ops.group_norm(x, 2, np.ones(5, np.float32))
    with pytest.raises(ValueError, match="bias: expected 6 values"):
        ops.instance_norm(x, bias=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="required when use_input_stats=False"):
        ops.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match="input: expected"):
        ops.instance_norm(x[:, :, 0, 0])
    with pytest.raises(ValueError, match="input: expected"):
        ops.group_norm(np.ones(3, np.float32), 1)
    with pytest.raises(ValueError, match="normalized_shape"):
        ops.layer_norm(x, (4, 3))
    with pytest.raises(ValueError, match="normalized_shape"):
        ops.layer_norm(x, (1, 2, 6, 3, 3))
    with pytest.raises(TypeError, match="normalized_shape"):
        ops.layer_norm(x, 3.0)
    with pytest.raises(ValueError, match="weight: expected shape"):
        ops.layer_norm(x, (3, 3), np.ones(9, np.float32))
    with pytest.raises(ValueError, match="bias: expected 6"):
        ops.layer_norm_channels(x, None, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="eps"):
        ops.layer_norm(x, 3, eps=-1.0)
    with pytest.raises(TypeError, match="dtype int"):
        ops.group_norm(x.astype(np.int32), 2)
    with pytest.raises(ValueError, match="output shape"):
        _C.group_norm_nchw(-1, x.reshape(2, 6, 9), 2, None, None, 1e-5, ACT_NONE, np.empty((2, 6, 8), np.float32), 1)
    with pytest.raises(ValueError, match="must divide"):
        _C.group_norm_nhwc(-1, x.reshape(2, 9, 6), 4, None, None, 1e-5, ACT_NONE, np.empty((2, 9, 6), np.float32), 1)


def test_dtypes_layouts_empty(rng):
    x = rng.standard_normal((2, 6, 4, 5))
    y = ops.group_norm(x, 3)  # float64 in: converted
    assert y.dtype == np.float32
    x32 = x.astype(np.float32)
    assert np.array_equal(ops.group_norm(x32.transpose(0, 1, 3, 2), 3), ops.group_norm(
        np.ascontiguousarray(x32.transpose(0, 1, 3, 2)), 3))
    for f in (lambda v: ops.group_norm(v, 3), ops.instance_norm, ops.layer_norm_channels,
              lambda v: ops.layer_norm(v, (4, 5))):
        assert f(np.empty((0, 6, 4, 5), np.float32)).shape == (0, 6, 4, 5)
    # batch_norm training on (N, C): the column path
    x2 = rng.standard_normal((70, 37)).astype(np.float32)
    check(ops.batch_norm(x2, None, None, training=True), ref.batch_norm_train_stats(x2),
          _bound(ref.batch_norm_train_stats(x2), None, None))


# ------------------------------------------------------------------------------- hypothesis sweeps

SIZES = st.sampled_from([1, 2, 3, 7, 15, 16, 17, 33])


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 3), c=SIZES, h=SIZES, w=st.sampled_from([1, 5, 16, 17]), gdiv=st.integers(0, 3),
       affine=st.booleans(), eps=st.sampled_from([1e-5, 1e-3]), seed=st.integers(0, 2 ** 31 - 1))
def test_sweep_group_instance(n, c, h, w, gdiv, affine, eps, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c, h, w)) * 2 + rng.standard_normal()).astype(np.float32)
    divisors = [d for d in range(1, c + 1) if c % d == 0]
    g = divisors[gdiv % len(divisors)]
    wt, bs = _affine(rng, c, affine, affine)
    want = ref.group_norm(x, g, wt, bs, eps)
    bound = _bound(ref.group_norm(x, g, eps=eps), _pc(wt, 4), _pc(bs, 4))
    for isa in available_isas():
        with force_isa(isa):
            check(ops.group_norm(x, g, wt, bs, eps), want, bound, "group_norm %s" % isa)
            assert_ran(isa)
            check(ops.instance_norm(x, weight=wt, bias=bs, eps=eps), ref.instance_norm(x, wt, bs, eps),
                  _bound(ref.instance_norm(x, eps=eps), _pc(wt, 4), _pc(bs, 4)), "instance_norm %s" % isa)


@settings(deadline=None, max_examples=40)
@given(lead=st.lists(st.integers(1, 5), min_size=0, max_size=2), ns=st.lists(SIZES, min_size=1, max_size=3),
       affine=st.booleans(), seed=st.integers(0, 2 ** 31 - 1))
def test_sweep_layer_norm(lead, ns, affine, seed):
    rng = np.random.default_rng(seed)
    ns = tuple(ns)
    x = (rng.standard_normal(tuple(lead) + ns) * 3).astype(np.float32)
    wt, bs = _affine(rng, None, affine, affine, shape=ns)
    want = ref.layer_norm(x, ns, wt, bs)
    bound = _bound(ref.layer_norm(x, ns), None if wt is None else wt.astype(np.float64),
                   None if bs is None else bs.astype(np.float64))
    for isa in available_isas():
        with force_isa(isa):
            check(ops.layer_norm(x, ns, wt, bs), want, bound, "layer_norm %s" % isa)
            assert_ran(isa)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 3), c=SIZES, spatial=st.lists(SIZES, min_size=0, max_size=2), affine=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
def test_sweep_layer_norm_channels_and_batch_stats(n, c, spatial, affine, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c) + tuple(spatial)) + 3).astype(np.float32)
    wt, bs = _affine(rng, c, affine, affine)
    for isa in available_isas():
        with force_isa(isa):
            check(ops.layer_norm_channels(x, wt, bs), ref.layer_norm_channels(x, wt, bs),
                  _bound(ref.layer_norm_channels(x), _pc(wt, x.ndim), _pc(bs, x.ndim)), "lnc %s" % isa)
            assert_ran(isa)
            if x.size // c > 1:
                check(ops.batch_norm(x, None, None, wt, bs, training=True), ref.batch_norm_train_stats(x, wt, bs),
                      _bound(ref.batch_norm_train_stats(x), _pc(wt, x.ndim), _pc(bs, x.ndim)), "bn %s" % isa)
