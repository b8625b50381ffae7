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
