"""passes.optimize infers the shapes once (or takes limits.check_graph's) and hands them to every pass
(issue 14's cold start): the optimised graph, its weights and its fold report are exactly those of the
passes run one after another, each inferring its own shapes; and Graph.copy is the to_dict / from_dict
round trip it replaced."""
import numpy as np
import pytest

import fastnorm
from fastnorm import limits
from fastnorm.graph import Graph, Node, batch1_shapes, infer_shapes
from fastnorm.models import simple_cnn
from fastnorm.passes import (canonicalize, fold_affine, fold_batchnorm, fold_linear_scale, fuse_activations,
                             fuse_linear_bias, fuse_residual_add, optimize, remove_dead_nodes)
from test_prepacked import _net
from util import importorskip


def _old_pipeline(graph):
    """optimize() as it was: every pass infers its own shapes."""
    folded = fold_batchnorm(graph)
    out = fuse_activations(fuse_residual_add(fold_linear_scale(folded)))
    out.fold_report = folded.fold_report
    return out


def _bits(w):
    """The bytes of a weight in C order (an ONNX MatMul's B is kept transposed: F-ordered)."""
    return np.ascontiguousarray(w).view(np.uint8)


def _same(a, b):
    assert a.to_dict() == b.to_dict()
    assert list(a.weights) == list(b.weights)
    for k in a.weights:
        assert a.weights[k].dtype == b.weights[k].dtype and a.weights[k].shape == b.weights[k].shape, k
        assert np.array_equal(_bits(a.weights[k]), _bits(b.weights[k])), k
    ra, rb = a.fold_report, b.fold_report
    assert [{k: v for k, v in r.items() if k != "max_abs_error"} for r in ra] == \
           [{k: v for k, v in r.items() if k != "max_abs_error"} for r in rb]
    assert np.array_equal(np.array([r["max_abs_error"] for r in ra], float),
                          np.array([r["max_abs_error"] for r in rb], float), equal_nan=True)


def _old_canonicalize(graph):
    """canonicalize() as it was: every pass copies its input."""
    g = remove_dead_nodes(fold_affine(remove_dead_nodes(fuse_linear_bias(graph))))
    used = {v for n in g.nodes for v in n.inputs}
    g.weights = {k: v for k, v in g.weights.items() if k in used}
    return g


def _torch_graphs():
    """{name: (the ONNX frontend's graph before canonicalize, the canonical graph)} of zoo models."""
    torch = importorskip("torch")
    importorskip("onnx")
    import zoo
    from onnx_util import export
    from zoo_export import ConvNeXtBlock
    from fastnorm.frontends.onnx import onnx_to_graph
    torch.manual_seed(0)
    nets = {name: zoo.build(name) for name in ("resnet18", "mobilenet_v3_small", "densenet_mini", "dcgan_generator",
                                               "normcnn_groupnorm", "normcnn_layernorm")}
    block = torch.nn.Sequential(torch.nn.Conv2d(3, 24, 3, padding=1), ConvNeXtBlock(24)).eval()
    nets["convnext_block"] = (block, (3, 20, 20))
    out = {}
    for name, (model, shape) in nets.items():
        raw = onnx_to_graph(export(model, (1,) + tuple(shape), 17))
        out["onnx " + name] = (raw, canonicalize(raw))
        if name in ("resnet18", "densenet_mini"):   # BN unfolded (the ONNX exporter folds it): fold_bn's cases
            out["torch " + name] = (None, fastnorm.from_torch(model, torch.randn(1, *shape), route="fx").source_graph)
    return out


@pytest.fixture(scope="module")
def raw_and_canonical():
    g = {"simple_cnn": (None, simple_cnn(seed=0)), "prepacked_net": (None, _net())}
    g.update(_torch_graphs())
    return g


@pytest.fixture(scope="module")
def graphs(raw_and_canonical):
    return {k: v[1] for k, v in raw_and_canonical.items()}


def test_canonicalize_equals_the_pass_by_pass_pipeline(raw_and_canonical):
    for name, (raw, canonical) in raw_and_canonical.items():
        if raw is None:
            continue
        before = raw.to_dict()
        want = _old_canonicalize(raw)
        assert canonical.to_dict() == want.to_dict(), name
        assert list(canonical.weights) == list(want.weights), name
        for k in want.weights:
            assert np.array_equal(_bits(canonical.weights[k]), _bits(want.weights[k])), (name, k)
        assert raw.to_dict() == before, name            # the input graph is left as it was


def test_optimize_equals_the_pass_by_pass_pipeline(graphs):
    assert sum(any(r["into"] for r in optimize(g).fold_report) for g in graphs.values()) >= 3   # BNs fold
    for name, g in graphs.items():
        before = g.to_dict()
        want = _old_pipeline(g)
        _same(optimize(g), want)
        _same(optimize(g, batch1_shapes(g)), want)
        _same(optimize(g, limits.check_graph(g)), want)      # what Model passes
        assert fastnorm.Model(g).graph.to_dict() == want.to_dict(), name
        assert g.to_dict() == before, name                 # the source graph is left as it was


def test_check_graph_shapes_are_infer_shapes_at_batch_1(graphs):
    for name, g in graphs.items():
        assert limits.check_graph(g) == batch1_shapes(g), name
        assert batch1_shapes(g) == infer_shapes(g, {t.name: tuple(1 if d is None else d for d in t.shape)
                                                    for t in g.inputs}), name


def test_graph_copy_equals_the_dict_round_trip(graphs):
    for g in graphs.values():
        c = g.copy()
        old = Graph(g.inputs, g.outputs, [Node.from_dict(n.to_dict()) for n in g.nodes], dict(g.weights))
        assert c.to_dict() == old.to_dict() == g.to_dict()
        assert c.weights == g.weights or all(c.weights[k] is g.weights[k] for k in g.weights)
        for n, m in zip(c.nodes, g.nodes):     # nothing shared that a pass could edit
            assert n is not m and n.attrs is not m.attrs and n.inputs is not m.inputs and n.outputs is not m.outputs
            for k, v in n.attrs.items():
                if isinstance(v, (list, dict)):
                    assert v is not m.attrs[k]


def test_copy_of_nested_attrs_is_deep():
    g = simple_cnn(seed=0)
    n = g.nodes[0]
    n.attrs["nested"] = [[1, 2], {"a": [3]}]
    c = g.copy()
    c.nodes[0].attrs["nested"][0].append(9)
    c.nodes[0].attrs["nested"][1]["a"].append(9)
    assert n.attrs["nested"] == [[1, 2], {"a": [3]}]
