"""Issue 13: arrays fastnorm cannot honour get a TypeError naming the problem, at every entry point
(every fastnorm.ops function, each array argument in turn, and Model.predict / run / profile): a masked
array (its mask was silently ignored), an object array, np.matrix and other ndarray subclasses. Memory
maps keep working (tests/test_input_arrays.py), and an unaligned array is copied like a non-contiguous
one, never refused as "not C-contiguous"."""
import numpy as np
import pytest
from test_input_arrays import OPS, _inputs, model  # noqa: F401  (model: the module's fixture)

import fastnorm


class Tagged(np.ndarray):
    """A subclass carrying metadata (as units or coordinates would) fastnorm would drop."""


def masked(a):
    return np.ma.masked_array(a, mask=np.zeros(a.shape, bool) | (np.arange(a.size).reshape(a.shape) % 3 == 0))


BAD = {
    "masked": (masked, "masked array"),
    "object": (lambda a: a.astype(object), "dtype object"),
    "subclass": (lambda a: a.view(Tagged), "subclass"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_and_argument(name, kind):
    fn, specs = OPS[name]
    make, phrase = BAD[kind]
    base = _inputs(specs, np.random.default_rng(3))
    for i in range(len(base)):
        args = list(base)
        args[i] = make(args[i])
        with pytest.raises(TypeError, match=phrase):
            fn(*args)


def test_matrix_is_refused():
    with pytest.raises(TypeError, match="matrix"):
        fastnorm.ops.linear(np.asmatrix(np.ones((3, 7), np.float32)), np.ones((5, 7), np.float32))


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("entry", ["predict", "predict_after_fast_path", "run", "profile"])
def test_model_entry_points(model, entry, kind):  # noqa: F811
    make, phrase = BAD[kind]
    x = np.random.default_rng(5).random((2, 3, 16, 12)).astype(np.float32)
    if entry == "predict_after_fast_path":
        model.predict(x)            # the next call with this shape and dtype tries the fast path first
    call = {"predict": model.predict, "predict_after_fast_path": model.predict,
            "run": lambda v: model.run({model.graph.inputs[0].name: v}),
            "profile": lambda v: model.profile(v, repeat=1)}[entry]
    with pytest.raises(TypeError, match=phrase) as e:
        call(make(x))
    assert model.graph.inputs[0].name in str(e.value)


def test_unaligned_input_is_copied_not_refused(model):  # noqa: F811
    # the issue: an unaligned float32 input raised a misleading "must be C-contiguous" error
    x = np.random.default_rng(6).random((2, 3, 16, 12)).astype(np.float32)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    u = raw[1:].view(np.float32).reshape(x.shape)
    u[...] = x
    assert not u.flags.aligned and u.flags.c_contiguous
    np.testing.assert_array_equal(model.predict(u), model.predict(x))
    np.testing.assert_array_equal(fastnorm.ops.relu(u), fastnorm.ops.relu(x))
