"""Pickling a Model: the .fnm bytes and settings travel, plans and arenas don't; every start method."""
import copy
import io
import multiprocessing
import pickle
import pickletools
import warnings

import numpy as np
import pytest

import fastnorm
from fastnorm.errors import FastnormWarning
from fastnorm.models import simple_cnn


def _model(num_threads=None):
    return fastnorm.Model(simple_cnn(seed=3), num_threads=num_threads)


def _x(n=5, seed=7):
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32)).astype(np.float32)


def test_round_trip_predicts_identically_and_keeps_settings():
    m = _model(num_threads=1)
    x = _x()
    y = m.predict(x)                      # a plan and an arena exist now; they must not travel
    data = pickle.dumps(m)
    back = pickle.loads(data)
    assert isinstance(back, fastnorm.Model)
    assert back.num_threads == 1
    assert back.optimized is True
    name = back.graph.inputs[0].name
    assert not [k for k in back._plans if dict(k[0])[name] == x.shape], "plans are rebuilt lazily, not pickled"
    assert np.array_equal(back.predict(x), y)
    assert np.array_equal(pickle.loads(pickle.dumps(_model())).predict(x), y)
    assert pickle.loads(pickle.dumps(_model())).num_threads is None


def test_pickle_carries_the_fnm_bytes_and_no_code():
    m = _model()
    data = pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)
    fnm = fastnorm.fileformat.dumps(m.source_graph.to_dict(), m.source_graph.weights)
    assert fnm in data
    assert len(data) < len(fnm) + 300, "only the file and a few settings: %d vs %d bytes" % (len(data), len(fnm))
    globals_used = [arg for op, arg, _ in pickletools.genops(io.BytesIO(data)) if op.name == "STACK_GLOBAL"
                    or op.name == "GLOBAL"]
    strings = [arg for op, arg, _ in pickletools.genops(io.BytesIO(data)) if isinstance(arg, str)]
    assert "rebuild_model" in strings and "fastnorm.model" in strings
    assert len(globals_used) == 1, "one callable (the rebuild function) and plain data"


def test_unoptimised_model_round_trips():
    m = fastnorm.Model(simple_cnn(seed=3), optimize=False)
    back = pickle.loads(pickle.dumps(m))
    assert back.optimized is False
    assert len(back.graph.nodes) == len(m.graph.nodes)
    assert np.array_equal(back.predict(_x()), m.predict(_x()))


def test_deepcopy_and_copy():
    m = _model(num_threads=2)
    x = _x(2)
    y = m.predict(x)
    for c in (copy.deepcopy(m), copy.copy(m)):
        assert c is not m and c.num_threads == 2
        assert np.array_equal(c.predict(x), y)
        c.num_threads = 1                 # independent settings
        assert m.num_threads == 2


def test_unpickling_does_not_repeat_the_doctors_warnings():
    from fastnorm.graph import Graph, Node, TensorSpec
    rng = np.random.default_rng(0)
    # BN with a negative running variance: the doctor warns at construction
    g = Graph([TensorSpec("x", (None, 2, 4, 4))], [TensorSpec("y", (None, 2, 4, 4))],
              [Node("bn", "batch_norm", ["x", "m", "v", "w", "b"], ["y"], {"eps": 0.0})],
              {"m": np.zeros(2, np.float32), "v": -np.ones(2, np.float32),
               "w": rng.standard_normal(2).astype(np.float32), "b": np.zeros(2, np.float32)})
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        m = fastnorm.Model(g)
    assert [w for w in first if issubclass(w.category, FastnormWarning)]
    data = pickle.dumps(m)
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        pickle.loads(data)
    assert not [w for w in again if issubclass(w.category, FastnormWarning)]
    # the model still knows its findings
    assert [f.code for f in pickle.loads(data).doctor()] == [f.code for f in m.doctor()]


def test_bad_format_version_is_a_clear_error():
    from fastnorm.model import rebuild_model
    with pytest.raises(ValueError, match="format"):
        rebuild_model(99, b"", True, None)


def _predict_in_child(model, x):
    return model.num_threads, model.predict(x)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_every_start_method_predicts_identically(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip("%s is not available here" % method)
    m = _model(num_threads=1)
    x = _x(3)
    want = m.predict(x)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(1) as pool:
        nthreads, got = pool.apply(_predict_in_child, (m, x))
    assert nthreads == 1
    assert got.dtype == np.float32
    assert np.array_equal(got, want)
