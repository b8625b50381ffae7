"""Graph passes alone: BN folding and activation fusion keep the numbers, and fold only what they may."""
import numpy as np
import pytest

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.passes import fold_batchnorm, fuse_activations
import reference as R


def _bn(rng, prefix, c, w):
    w[prefix + ".m"] = rng.normal(0, 1, c).astype(np.float32)
    w[prefix + ".v"] = rng.uniform(0.1, 4, c).astype(np.float32)
    w[prefix + ".g"] = rng.normal(1, 0.5, c).astype(np.float32)
    w[prefix + ".b"] = rng.normal(0, 0.5, c).astype(np.float32)
    return [prefix + s for s in (".m", ".v", ".g", ".b")]


def conv_bn_graph(rng, bias=True, relu_between=False, bn_first=False):
    w = {"cw": rng.normal(0, 0.3, (5, 3, 3, 3)).astype(np.float32)}
    if bias:
        w["cb"] = rng.normal(0, 0.3, 5).astype(np.float32)
    nodes = []
    src = "x"
    if bn_first:
        nodes.append(Node("bn0", "batch_norm", ["x"] + _bn(rng, "bn0", 3, w), ["x0"], {"eps": 1e-3}))
        src = "x0"
    nodes.append(Node("conv", "conv2d", [src, "cw", "cb" if bias else ""], ["c"],
                      {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1}))
    x = "c"
    if relu_between:
        nodes.append(Node("r", "relu", ["c"], ["cr"]))
        x = "cr"
    nodes.append(Node("bn", "batch_norm", [x] + _bn(rng, "bn", 5, w), ["y"], {"eps": 1e-5}))
    return Graph([TensorSpec("x", (None, 3, 6, 7))], [TensorSpec("y", (None, 5, 6, 7))], nodes, w)


def numpy_eval(g, x):
    vals = {"x": x}
    for n in g.nodes:
        ins = [g.weights.get(v, vals.get(v)) if v else None for v in n.inputs]
        if n.op == "conv2d":
            vals[n.outputs[0]] = R.conv2d(ins[0], ins[1], ins[2], 1, 1)
        elif n.op == "batch_norm":
            vals[n.outputs[0]] = R.batch_norm(ins[0], *ins[1:], eps=n.attrs["eps"])
        elif n.op == "relu":
            vals[n.outputs[0]] = R.relu(ins[0])
    return vals[g.outputs[0].name]


@pytest.mark.parametrize("bias", [True, False])
def test_fold_conv_bn_is_equivalent(bias):
    rng = np.random.default_rng(0)
    g = conv_bn_graph(rng, bias=bias)
    f = fold_batchnorm(g)
    assert [n.op for n in f.nodes] == ["conv2d"] and f.nodes[0].attrs["folded"] == ["bn"]
    x = rng.normal(0, 1, (2, 3, 6, 7)).astype(np.float32)
    want = numpy_eval(g, x)
    assert np.abs(numpy_eval(f, x) - want).max() < 1e-5
    assert np.abs(fastnorm.Model(g).predict(x) - want).max() < 1e-4
    assert len(g.nodes) == 2, "the pass must not change its input graph"


def test_bn_after_relu_or_at_input_is_not_folded():
    rng = np.random.default_rng(1)
    g = conv_bn_graph(rng, relu_between=True, bn_first=True)
    f = fold_batchnorm(g)
    assert [n.op for n in f.nodes] == ["batch_norm", "conv2d", "relu", "batch_norm"]
    x = rng.normal(0, 1, (3, 3, 6, 7)).astype(np.float32)
    assert np.abs(fastnorm.Model(g).predict(x) - numpy_eval(g, x)).max() < 1e-4


def test_fold_linear_bn():
    rng = np.random.default_rng(2)
    w = {"lw": rng.normal(0, 0.3, (6, 4)).astype(np.float32), "lb": rng.normal(0, 1, 6).astype(np.float32)}
    nodes = [Node("fc", "linear", ["x", "lw", "lb"], ["h"]),
             Node("bn", "batch_norm", ["h"] + _bn(rng, "bn", 6, w), ["y"], {"eps": 1e-5})]
    g = Graph([TensorSpec("x", (None, 4))], [TensorSpec("y", (None, 6))], nodes, w)
    f = fold_batchnorm(g)
    assert [n.op for n in f.nodes] == ["linear"]
    x = rng.normal(0, 1, (5, 4)).astype(np.float32)
    want = R.batch_norm(R.linear(x, w["lw"], w["lb"]), *[w["bn" + s] for s in (".m", ".v", ".g", ".b")])
    assert np.abs(fastnorm.Model(g).predict(x) - want).max() < 1e-5
    assert np.abs(fastnorm.Model(g, optimize=False).predict(x) - want).max() < 1e-5


def test_fuse_relu_into_conv_and_keep_output_relu():
    rng = np.random.default_rng(3)
    g = conv_bn_graph(rng, relu_between=True)
    f = fuse_activations(g)
    assert [n.op for n in f.nodes] == ["conv2d", "batch_norm"]
    assert f.nodes[0].attrs["act"] == ["relu"]
    x = rng.normal(0, 1, (1, 3, 6, 7)).astype(np.float32)
    assert np.abs(fastnorm.Model(f, optimize=False).predict(x) - numpy_eval(g, x)).max() < 1e-4


def _fold_reference(w, s):
    """The fold in NumPy float64: w * s per output channel (dim 0) rounded once, and each channel's
    summed rounding error."""
    w64 = w.astype(np.float64) * s.reshape((-1,) + (1,) * (w.ndim - 1))
    with np.errstate(over="ignore"):      # a huge scale: inf, as the C fold gives
        w32 = w64.astype(np.float32)
    with np.errstate(invalid="ignore"):
        err = np.abs(w32.astype(np.float64) - w64).reshape(w.shape[0], w[0].size if len(w) else 0).sum(axis=1)
    return w32, err


@pytest.mark.parametrize("shape", [(1, 1), (7, 1), (1, 13), (5, 3, 3, 3), (17, 9, 1, 1), (33, 1, 5, 5),
                                   (0, 4), (3, 0)])
def test_fold_scale_rows_matches_float64_numpy(shape, isa):
    """fastnorm._C.fold_scale_rows (the BN fold's one pass in C) gives NumPy's float64 form's bits on
    every ISA's table, awkward sizes included, with subnormal, huge, infinite and NaN scales."""
    from fastnorm import _C
    from util import assert_ran
    rng = np.random.default_rng(sum(shape) + 3)
    w = (rng.normal(0, 1, shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)).astype(np.float32)
    s = rng.uniform(0.01, 30, shape[0])
    specials = [1e-42, 3e38, np.inf, np.nan, -2.5, 0.0]
    s[: min(len(specials), shape[0])] = specials[: shape[0]]
    rows = w.reshape(shape[0], w.size // shape[0] if shape[0] else shape[1])
    got, err = _C.fold_scale_rows(np.ascontiguousarray(rows), s)
    assert_ran(isa)
    want, want_err = _fold_reference(w, s)
    assert got.dtype == np.float32 and got.shape == rows.shape
    assert np.array_equal(got.view(np.uint32), want.reshape(rows.shape).view(np.uint32))
    np.testing.assert_allclose(err, want_err, rtol=1e-12, atol=0, equal_nan=True)
    none, no_err = _C.fold_scale_rows(np.ascontiguousarray(rows), s, with_error=False)
    assert no_err is None and np.array_equal(none.view(np.uint32), got.view(np.uint32))
    into = np.full(rows.shape, 7.0, np.float32)
    same, _ = _C.fold_scale_rows(np.ascontiguousarray(rows), s, out=into)
    assert same is into and np.array_equal(into.view(np.uint32), got.view(np.uint32))
    for bad in (np.empty(rows.shape, np.float64), np.empty((rows.shape[0], rows.shape[1] + 1), np.float32)):
        with pytest.raises(ValueError, match="out must be"):
            _C.fold_scale_rows(np.ascontiguousarray(rows), s, out=bad)
    if rows.size:
        with pytest.raises(ValueError, match="apart from w"):
            _C.fold_scale_rows(rows, s, out=rows)
    with pytest.raises(ValueError, match="scales for"):
        _C.fold_scale_rows(np.ascontiguousarray(rows), np.ones(shape[0] + 1))


@pytest.mark.parametrize("op", ["conv2d", "linear"])
def test_fold_weights_and_error_report(op, isa):
    """The folded weights are float64 w * gamma / sqrt(var + eps) rounded once, and the report's
    max_abs_error is the largest channel's summed weight and bias rounding."""
    rng = np.random.default_rng(5)
    c = 19
    w = {"w": rng.normal(0, 0.3, (c, 6, 3, 3) if op == "conv2d" else (c, 6)).astype(np.float32),
         "b": rng.normal(0, 1, c).astype(np.float32)}
    bn = _bn(rng, "bn", c, w)
    attrs = {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1} if op == "conv2d" else {}
    nodes = [Node("p", op, ["x", "w", "b"], ["h"], attrs),
             Node("bn", "batch_norm", ["h"] + bn, ["y"], {"eps": 1e-3})]
    shape = (None, 6, 5, 4) if op == "conv2d" else (None, 6)
    out = (None, c, 5, 4) if op == "conv2d" else (None, c)
    g = Graph([TensorSpec("x", shape)], [TensorSpec("y", out)], nodes, w)
    f = fold_batchnorm(g)
    node = f.nodes[0]
    s = w["bn.g"].astype(np.float64) / np.sqrt(w["bn.v"].astype(np.float64) + 1e-3)
    want_w, want_err = _fold_reference(w["w"], s)
    assert np.array_equal(f.weights[node.inputs[1]].view(np.uint32), want_w.view(np.uint32))
    b64 = (w["b"].astype(np.float64) - w["bn.m"]) * s + w["bn.b"]
    b32 = f.weights[node.inputs[2]]
    assert np.array_equal(b32, b64.astype(np.float32))
    err = f.fold_report[0]["max_abs_error"]
    want = np.max(want_err + np.abs(b32.astype(np.float64) - b64))
    assert 0 < err and abs(err - want) <= 1e-12 * want
