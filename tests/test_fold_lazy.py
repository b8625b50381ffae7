"""The Model's BatchNorm folds are lazy (fastnorm.passes.folded.FoldedWeight): the folded weights give the
eager fold's bits whenever read, the packers read them without the model keeping them, and the fold
report's rounding errors are the eager fold's whichever way they are found."""
import threading

import numpy as np
import pytest

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.passes import fold_batchnorm
from fastnorm.passes.fold_bn import finish_fold_report
from fastnorm.passes.folded import FoldedWeight, FoldScratch, with_dense
import reference as R
from test_passes import _bn
from util import assert_ran


def _conv(name, src, out, w, rng, cin, cout, k, stride=1, groups=1, bias=True):
    w[name + ".w"] = rng.normal(0, (2.0 / (cin // groups * k * k)) ** 0.5,
                                (cout, cin // groups, k, k)).astype(np.float32)
    if bias:
        w[name + ".b"] = rng.normal(0, 0.1, cout).astype(np.float32)
    p = k // 2
    return Node(name, "conv2d", [src, name + ".w", name + ".b" if bias else ""], [out],
                {"stride": [stride, stride], "padding": [p, p, p, p], "dilation": [1, 1], "groups": groups})


def cnn_bn_graph(rng, c=19, hw=(11, 9)):
    """conv -> BN -> relu blocks the planner sends to each kernel family: the first conv (3 input
    channels), a 3x3 (Winograd-sized), a depthwise, a 1x1, a strided 3x3, a grouped conv, then global
    pool -> linear -> BatchNorm1d. Channel counts are not multiples of 16."""
    w, nodes = {}, []
    specs = [("c0", 3, c, 3, 1, 1), ("c1", c, c, 3, 1, 1), ("dw", c, c, 3, 1, c), ("pw", c, 2 * c + 3, 1, 1, 1),
             ("c2", 2 * c + 3, 24, 3, 2, 1), ("g", 24, 24, 3, 1, 4)]
    x = "x"
    for i, (name, cin, cout, k, stride, groups) in enumerate(specs):
        nodes.append(_conv(name, x, name + ".o", w, rng, cin, cout, k, stride, groups, bias=i % 2 == 0))
        nodes.append(Node(name + ".bn", "batch_norm", [name + ".o"] + _bn(rng, name + ".bn", cout, w),
                          [name + ".n"], {"eps": 1e-5}))
        nodes.append(Node(name + ".r", "relu", [name + ".n"], [name + ".a"]))
        x = name + ".a"
    nodes.append(Node("gap", "adaptive_avg_pool2d", [x], ["p"], {"output_size": [1, 1]}))
    nodes.append(Node("fl", "flatten", ["p"], ["f"], {"start_dim": 1}))
    w["fc.w"] = rng.normal(0, 0.2, (13, 24)).astype(np.float32)
    w["fc.b"] = rng.normal(0, 0.1, 13).astype(np.float32)
    nodes.append(Node("fc", "linear", ["f", "fc.w", "fc.b"], ["l"]))
    nodes.append(Node("fc.bn", "batch_norm", ["l"] + _bn(rng, "fc.bn", 13, w), ["y"], {"eps": 1e-3}))
    return Graph([TensorSpec("x", (None, 3) + hw)], [TensorSpec("y", (None, 13))], nodes, w)


def numpy_eval(g, x):
    """The graph in plain NumPy (reference.py), BatchNorms unfolded."""
    vals = {g.inputs[0].name: x}
    for n in g.nodes:
        ins = [g.weights.get(v, vals.get(v)) if v else None for v in n.inputs]
        a = n.attrs
        if n.op == "conv2d":
            y = R.conv2d(ins[0], ins[1], ins[2], a["stride"][0], a["padding"][0], 1, a["groups"])
        elif n.op == "batch_norm":
            y = R.batch_norm(ins[0], *ins[1:], eps=a["eps"])
        elif n.op == "relu":
            y = R.relu(ins[0])
        elif n.op == "adaptive_avg_pool2d":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif n.op == "flatten":
            y = R.flatten(ins[0], a["start_dim"])
        else:
            assert n.op == "linear", n.op
            y = R.linear(ins[0], ins[1], ins[2])
        vals[n.outputs[0]] = y
    return vals[g.outputs[0].name]


def _folded(model):
    return [v for v in model.graph.weights.values() if isinstance(v, FoldedWeight)]


def _reports(graph):
    return {r["bn"]: (r["into"], r["max_abs_error"]) for r in graph.fold_report}


def _same_report(got, want):
    assert got.keys() == want.keys()
    for k, (into, err) in want.items():
        assert got[k][0] == into
        if err is None:
            assert got[k][1] is None
        else:
            assert got[k][1] is not None and abs(got[k][1] - err) <= 1e-12 * err, (k, got[k][1], err)


@pytest.mark.parametrize("shape", [(5, 3, 3, 3), (17, 9, 1, 1), (1, 7), (33, 1, 5, 5), (3, 70001)])
def test_folded_weight_is_the_eager_fold(shape, isa):
    """Its values, however read, are float32(w * s) with the product in float64 (the eager fold's bits);
    its row errors are the same whether its own pass finds them (rows wider than the pass's chunk
    included) or the first fold of its values records them."""
    from fastnorm import _C
    rng = np.random.default_rng(sum(shape))
    w = (rng.normal(0, 1, shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)).astype(np.float32)
    s = rng.uniform(0.01, 30, shape[0])
    rows = np.ascontiguousarray(w.reshape(shape[0], -1))
    want, want_err = _C.fold_scale_rows(rows, s)
    assert_ran(isa)

    a = FoldedWeight(w, s, FoldScratch())
    assert a.shape == w.shape and a.dtype == np.float32 and a.ndim == w.ndim and a.size == w.size
    assert a.nbytes == w.nbytes and len(a) == shape[0] and a._values is None     # none of that computes
    errs = a.row_errors()                       # its own chunked pass: nothing the weight's size kept
    assert a._values is None
    np.testing.assert_array_equal(errs, want_err)

    b = FoldedWeight(w, s, FoldScratch())
    seen = with_dense(b, lambda v: (v.shape, v.dtype, v.flags.c_contiguous, v.copy()))
    assert seen[:3] == (w.shape, np.float32, True) and b._values is None
    assert np.array_equal(seen[3].reshape(rows.shape).view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(b.row_errors(), want_err)   # recorded by that fold

    c = np.asarray(FoldedWeight(w, s, FoldScratch()))
    assert c.shape == w.shape and not c.flags.writeable
    assert np.array_equal(c.reshape(rows.shape).view(np.uint32), want.view(np.uint32))


def test_folded_weight_reads_like_an_array():
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    s = np.array([1.0, 2.0, 0.5])
    want = (w.astype(np.float64) * s[:, None]).astype(np.float32)
    f = FoldedWeight(w, s, FoldScratch())
    assert "not computed" in repr(f)
    np.testing.assert_array_equal(f[1], want[1])
    np.testing.assert_array_equal(f.reshape(-1), want.reshape(-1))
    np.testing.assert_array_equal(f * 2, want * 2)
    np.testing.assert_array_equal(2 * f, want * 2)
    np.testing.assert_array_equal(f + np.ones(4, np.float32), want + 1)
    np.testing.assert_array_equal(-f, -want)
    assert np.asarray(f, np.float64).dtype == np.float64 and f.T.shape == (4, 3)
    assert f.astype(np.float64).dtype == np.float64
    assert np.array_equal(np.asarray(f), want) and "computed" in repr(f)
    with pytest.raises(AttributeError):
        f.no_such_attribute
    with pytest.raises(ValueError, match="one float64 scale per row"):
        FoldedWeight(w, np.ones(4), FoldScratch())
    with pytest.raises(ValueError, match="float32"):
        FoldedWeight(w.astype(np.float64), s, FoldScratch())


def test_lazy_fold_pass_matches_eager():
    """fold_batchnorm(_lazy=True): the same graph as the eager pass, FoldedWeights in place of the folded
    conv / linear weights, and once finished the same report."""
    rng = np.random.default_rng(3)
    g = cnn_bn_graph(rng)
    eager = fold_batchnorm(g)
    lazy = fold_batchnorm(g, _lazy=True)
    assert [(n.name, n.op, n.inputs) for n in lazy.nodes] == [(n.name, n.op, n.inputs) for n in eager.nodes]
    folded = [k for k, v in lazy.weights.items() if isinstance(v, FoldedWeight)]
    assert len(folded) == 7       # six convs and the linear
    assert all(lazy.fold_report[i]["max_abs_error"] is None for i, *_ in lazy.fold_pending)
    finish_fold_report(lazy)
    finish_fold_report(lazy)      # idempotent
    _same_report(_reports(lazy), _reports(eager))
    for k in eager.weights:
        assert np.array_equal(np.asarray(lazy.weights[k]).view(np.uint32), eager.weights[k].view(np.uint32)), k


@pytest.mark.parametrize("batch", [1, 3])
def test_model_packs_folds_without_keeping_them(isa, batch):
    """A Model of a conv-BN network: its packers read every fold from the shared scratch (no FoldedWeight
    computed whole, the scratch freed after the first plan), and it gives the same bits as the model of
    the eagerly folded graph, the same fold report, and NumPy's answer; so again for a second input
    shape, which packs nothing new but plans again."""
    rng = np.random.default_rng(7)
    g = cnn_bn_graph(rng)
    m = fastnorm.Model(g)
    ref = fastnorm.Model(fold_batchnorm(g))
    x = rng.normal(0, 1, (batch, 3, 11, 9)).astype(np.float32)
    y = m.predict(x)
    assert_ran(isa)
    folded = _folded(m)
    assert len(folded) == 7
    assert all(f._values is None for f in folded)
    assert all(f._scratch._buf is None for f in folded)
    assert np.array_equal(y.view(np.uint32), ref.predict(x).view(np.uint32))
    want = numpy_eval(g, x)
    assert np.abs(y - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    _same_report(_reports(m.graph), _reports(fold_batchnorm(g)))
    assert any(f.code == "fold_summary" for f in m.doctor())
    x2 = rng.normal(0, 1, (batch + 1, 3, 11, 9)).astype(np.float32)
    assert np.array_equal(m.predict(x2).view(np.uint32), ref.predict(x2).view(np.uint32))
    assert all(f._values is None for f in folded)


def test_prepacked_file_reports_fold_errors_without_folding(tmp_path):
    """A prepacked file of a conv-BN graph: its packers do not run, so the report's errors come from the
    FoldedWeights' own pass, equal to the eager fold's, and nothing is folded whole."""
    rng = np.random.default_rng(11)
    g = cnn_bn_graph(rng)
    p = tmp_path / "m.fnm"
    fastnorm.Model(g).save(str(p), prepacked=True)
    m = fastnorm.load(str(p))
    x = rng.normal(0, 1, (2, 3, 11, 9)).astype(np.float32)
    assert np.array_equal(m.predict(x).view(np.uint32), fastnorm.Model(fold_batchnorm(g)).predict(x).view(np.uint32))
    assert all(f._values is None for f in _folded(m))
    _same_report(_reports(m.graph), _reports(fold_batchnorm(g)))


def test_plans_made_at_once_in_threads_share_the_scratch():
    """Several threads each making a plan (different batch sizes) of one model at the same time: the
    shared fold scratch serialises its users, and every answer is right."""
    rng = np.random.default_rng(13)
    g = cnn_bn_graph(rng, c=21, hw=(9, 9))
    ref = fastnorm.Model(fold_batchnorm(g))
    xs = [rng.normal(0, 1, (b, 3, 9, 9)).astype(np.float32) for b in (1, 2, 3, 4)]
    for _ in range(3):
        m = fastnorm.Model(g, optimize=True)
        for f in _folded(m):          # as if new: the packers must fold again, from every thread
            f._scratch.release()
        m._weights = type(m._weights)()
        m._plans.clear()
        m._splits.clear()
        m._fast = None
        got = [None] * len(xs)
        errors = []

        def run(i):
            try:
                got[i] = m.predict(xs[i])
            except Exception as e:     # noqa: BLE001 - reported below
                errors.append(e)
        ts = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors
        for x, y in zip(xs, got):
            assert np.array_equal(y.view(np.uint32), ref.predict(x).view(np.uint32))
