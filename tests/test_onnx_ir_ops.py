"""The IR ops the ONNX frontend added: reshape (row-major; shape[0] == -1 keeps the batch) and
transpose (NCHW <-> NHWC, free in the plan), alone and between image ops, under every ISA."""
import numpy as np
import pytest

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec, infer_shapes
from fastnorm.model import Model

RNG = np.random.default_rng(5)


def _conv_w(cout, cin):
    return (RNG.standard_normal((cout, cin, 1, 1)) * 0.5).astype(np.float32)


def _run(graph, x):
    return Model(graph).predict(x)


def test_reshape_splits_and_keeps_the_batch(isa):
    w = _conv_w(6, 4)
    g = Graph([TensorSpec("x", (None, 4, 3, 5))], [TensorSpec("y", (None, 2, 3, 15))],
              [Node("c", "conv2d", ["x", "w", ""], ["c"]),
               Node("r", "reshape", ["c"], ["y"], {"shape": [-1, 2, 3, 15]})], {"w": w})
    for n in (1, 3):
        x = RNG.standard_normal((n, 4, 3, 5)).astype(np.float32)
        want = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x).reshape(n, 2, 3, 15)
        np.testing.assert_allclose(_run(g, x), want, rtol=1e-5, atol=1e-5)


def test_reshape_then_image_op(isa):
    """(N, 12) -> (N, 3, 2, 2) feeding a conv: the plan converts the plain value to NHWC."""
    w = _conv_w(2, 3)
    g = Graph([TensorSpec("x", (None, 12))], [TensorSpec("y", (None, 2, 2, 2))],
              [Node("r", "reshape", ["x"], ["r"], {"shape": [-1, 3, 2, 2]}),
               Node("c", "conv2d", ["r", "w", ""], ["y"])], {"w": w})
    x = RNG.standard_normal((4, 12)).astype(np.float32)
    want = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x.reshape(4, 3, 2, 2))
    np.testing.assert_allclose(_run(g, x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("first", [[0, 2, 3, 1], [0, 3, 1, 2]])
def test_transpose_both_ways(first, isa):
    second = [0, 3, 1, 2] if first == [0, 2, 3, 1] else [0, 2, 3, 1]
    shape = (2, 3, 4, 5)
    mid = tuple(shape[p] for p in first)
    w = _conv_w(mid[1], mid[1])
    g = Graph([TensorSpec("x", (None,) + shape[1:])], [TensorSpec("y", (None,) + shape[1:])],
              [Node("t1", "transpose", ["x"], ["t"], {"perm": first}),
               Node("c", "conv2d", ["t", "w", ""], ["c"]),
               Node("t2", "transpose", ["c"], ["y"], {"perm": second})], {"w": w})
    x = RNG.standard_normal(shape).astype(np.float32)
    t = x.transpose(first)
    want = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], t).transpose(second)
    np.testing.assert_allclose(_run(g, x), want, rtol=1e-5, atol=1e-5)


def test_transpose_as_output_and_shapes():
    g = Graph([TensorSpec("x", (None, 3, 4, 5))], [TensorSpec("y", (None, 4, 5, 3))],
              [Node("t", "transpose", ["x"], ["y"], {"perm": [0, 2, 3, 1]})], {})
    assert infer_shapes(g, {"x": (2, 3, 4, 5)})["y"] == (2, 4, 5, 3)
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(_run(g, x), x.transpose(0, 2, 3, 1))


def test_bad_attributes_are_value_errors():
    for attrs, op in (({"shape": [-1, 7]}, "reshape"), ({"shape": [2, -1, 3]}, "reshape"),
                      ({"perm": [0, 1, 1, 2]}, "transpose")):
        g = Graph([TensorSpec("x", (None, 3, 4, 5))], [TensorSpec("y", (None,))],
                  [Node("n", op, ["x"], ["y"], attrs)], {})
        with pytest.raises(ValueError, match="node 'n'"):
            infer_shapes(g, {"x": (2, 3, 4, 5)})


def test_fnm_roundtrip_keeps_the_new_ops(tmp_path):
    g = Graph([TensorSpec("x", (None, 3, 4, 5))], [TensorSpec("y", (None, 5, 12))],
              [Node("t", "transpose", ["x"], ["t"], {"perm": [0, 2, 3, 1]}),
               Node("r", "reshape", ["t"], ["y"], {"shape": [-1, 5, 12]})], {})
    m = Model(g)
    m.save(str(tmp_path / "m.fnm"))
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(fastnorm.load(str(tmp_path / "m.fnm")).predict(x),
                                  x.transpose(0, 2, 3, 1).reshape(2, 5, 12))
