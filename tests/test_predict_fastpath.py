"""Model.predict's fast path (the previous call's plan reused without re-validating) must never
serve a call it doesn't fit: other shapes, dtypes, layouts, ISAs and thread counts all still give
the right answer, and bad input still gets its error."""
import numpy as np
import pytest

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.testing import available_isas, force_isa
from reference import conv2d as ref_conv2d


def _model():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    g = Graph([TensorSpec("x", (None, 3, None, None))], [TensorSpec("y", (None, 5, None, None))],
              [Node("c", "conv2d", ["x", "w", "b"], ["y"], {"padding": [1, 1, 1, 1]})], {"w": w, "b": b})
    return fastnorm.Model(g), w, b


def _want(x, w, b):
    return ref_conv2d(x.astype(np.float64), w, b, padding=(1, 1))


def test_fast_path_follows_shape_dtype_layout_and_isa_changes():
    m, w, b = _model()
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s).astype(np.float32) for s in [(1, 3, 6, 6), (1, 3, 6, 6), (2, 3, 6, 6),
                                                            (2, 3, 5, 7), (1, 3, 6, 6)]]
    xs.append(xs[0].astype(np.float64))                       # dtype change
    xs.append(np.asfortranarray(xs[2]))                       # layout change, same shape
    ro = xs[0].copy()
    ro.flags.writeable = False
    xs.append(ro)                                             # read-only input
    for x in xs:
        for isa in available_isas():
            with force_isa(isa):
                y = m.predict(x)
            assert y.dtype == np.float32 and y.shape == (x.shape[0], 5) + x.shape[2:]
            np.testing.assert_allclose(y, _want(x, w, b), rtol=1e-5, atol=1e-5)
            assert fastnorm.testing.last_isa() == isa


def test_fast_path_outputs_are_fresh_arrays():
    m, _, _ = _model()
    x = np.ones((1, 3, 4, 4), np.float32)
    a = m.predict(x)
    b = m.predict(x)
    assert a is not b and not np.shares_memory(a, b)
    a[...] = 7
    assert not (m.predict(x) == 7).all()


def test_fast_path_still_rejects_bad_input():
    m, _, _ = _model()
    m.predict(np.ones((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="channels|shape"):
        m.predict(np.ones((1, 4, 4, 4), np.float32))
    with pytest.raises(TypeError, match="float32"):
        m.predict(np.ones((1, 3, 4, 4), np.int32))
    with pytest.raises(TypeError):
        m.predict([[1.0]])


def test_fast_path_thread_counts():
    m, w, b = _model()
    x = np.random.default_rng(2).standard_normal((3, 3, 33, 17)).astype(np.float32)
    try:
        outs = []
        for n in (1, 2, 1):
            fastnorm.set_num_threads(n)
            outs.append(m.predict(x))
    finally:
        fastnorm.set_num_threads(None)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
