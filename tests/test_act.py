"""relu and the clamp activation kernel, under every ISA."""
import numpy as np
import pytest

import reference as ref
from util import assert_ran, importorskip

import fastnorm.ops as ops
from fastnorm import _C
from fastnorm.threads import set_num_threads

INF = float("inf")
SPECIALS = np.array([np.nan, INF, -INF, -0.0, 0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 6.0, 6.0000005, -1.0],
                    np.float32)


def _same_bits(a, b):
    """Equal values, NaN where NaN, and the same sign on zeros."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.array_equal(a, b, equal_nan=True)
    assert np.array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0])), "signed zeros differ"


def _data(rng, n):
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    x[: min(n, SPECIALS.size)] = SPECIALS[: min(n, SPECIALS.size)]
    return rng.permutation(x) if n else x


@pytest.mark.parametrize("n", list(range(0, 41)) + [63, 64, 65, 127, 1000, 16384, 16385, 70000, 300007])
def test_relu_sizes(isa, rng, n):
    x = _data(rng, n)
    y = ops.relu(x)
    if n:
        assert_ran(isa)
    _same_bits(y, ref.relu(x).astype(np.float32))  # a clamp is exact
    _same_bits(y, np.where(x < 0, np.float32(0), x))  # NaN stays NaN, -0.0 stays -0.0, as torch


@pytest.mark.parametrize("n", [1, 12, 17, 40, 1000])
def test_relu_vs_torch(isa, rng, n):
    torch = importorskip("torch")
    x = _data(rng, n)
    y = ops.relu(x)
    assert_ran(isa)
    _same_bits(y, torch.relu(torch.from_numpy(x)).numpy())


def test_relu_specials_vs_torch(isa):
    torch = importorskip("torch")
    y = ops.relu(SPECIALS)
    assert_ran(isa)
    _same_bits(y, torch.relu(torch.from_numpy(SPECIALS)).numpy())
    assert np.signbit(y[3]) and y[3] == 0  # relu(-0.0) is -0.0 in torch too


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7, 13), (1,), ()], ids=str)
def test_relu_shapes_and_inplace(isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    y = ops.relu(x)
    assert y.shape == x.shape and y is not x
    _same_bits(y, np.where(x < 0, np.float32(0), x))
    x2 = x.copy()
    out = ops.relu(x2, inplace=True)
    assert out is x2
    _same_bits(x2, y)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 33, 100, 70001])
@pytest.mark.parametrize("act", [(1, 0.0, 6.0), (1, -1.5, 2.5), (1, 0.0, INF)], ids=["relu6", "clamp", "relu"])
def test_clamp_kernel(isa, rng, n, act):
    x = _data(rng, n)
    y = np.empty_like(x)
    _C.activation(-1, x, act, y, 2)
    assert_ran(isa)
    want = ref.clamp(x, act[1], act[2]).astype(np.float32)
    _same_bits(y, want)
    # y may alias x
    x2 = x.copy()
    _C.activation(-1, x2, act, x2, 2)
    _same_bits(x2, y)


def test_relu6_vs_torch(isa, rng):
    torch = importorskip("torch")
    x = _data(rng, 301)
    y = np.empty_like(x)
    _C.activation(-1, x, (1, 0.0, 6.0), y, 1)
    assert_ran(isa)
    _same_bits(y, torch.nn.functional.relu6(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("n", [0, 5, 16, 23, 50000])
def test_act_none_is_a_copy(isa, rng, n):
    x = _data(rng, n)
    y = np.full_like(x, 7.0)
    if n:
        _C.activation(-1, x, (0, 0.0, 0.0), y, 2)
        assert_ran(isa)
    _same_bits(y if n else x, x)


@pytest.mark.parametrize("n", [65536, 100003, 1 << 20])
def test_relu_thread_invariant(isa, rng, n):
    x = _data(rng, n)
    try:
        set_num_threads(1)
        y1 = ops.relu(x)
        set_num_threads(2)
        y2 = ops.relu(x)
        assert_ran(isa)
    finally:
        set_num_threads(None)
    _same_bits(y1, y2)


def test_relu_bad_inputs():
    with pytest.raises(TypeError, match="dtype int"):
        ops.relu(np.arange(4, dtype=np.int32))
    with pytest.raises(TypeError, match="NumPy array"):
        ops.relu(object())
    with pytest.raises(ValueError, match="output has 3 elements"):
        _C.activation(-1, np.zeros(4, np.float32), (1, 0.0, INF), np.zeros(3, np.float32), 1)


def test_act_stays_in_bounds():
    from test_norm import run_guarded  # the guard-page harness (child process)
    run_guarded('''
from fastnorm import _C
for isa in available_isas():
    with force_isa(isa):
        for n in list(range(1, 70)) + [16383, 16385, 40001]:
            for act in [(0, 0.0, 0.0), (1, 0.0, float("inf")), (1, 0.0, 6.0)]:
                x = guarded((n,), -1.0)
                y = guarded((n,))
                for nt in (1, 2):
                    _C.activation(-1, x, act, y, nt)
                    assert (y == (-1.0 if act[0] == 0 else 0.0)).all(), (isa, n, act)
                    _C.activation(-1, y, act, y, nt)
print("ok")
''')
