"""ONNX constructs the seventh held-out probe (session 29) found refused or called malformed: CumSum on
constants (folded: exclusive / reverse, every axis, against onnx's reference evaluator), GlobalAverage /
GlobalMaxPool of 3-D and 5-D tensors (against onnxruntime under every ISA), and load's input_shapes=
for a model with a dynamic height and width that fits one size only."""
import numpy as np
import pytest
from util import assert_model_close, importorskip

import fastnorm
from fastnorm.onnxpb.fold import fold
from fastnorm.testing import available_isas, force_isa

onnx = importorskip("onnx")
ort = importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(nodes, inits, xshape, yshape, opset=17):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)],
                          [numpy_helper.from_array(a, n) for n, a in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _ort(data, x):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_cumsum_fold_matches_reference(exclusive, reverse, axis, dtype):
    from onnx.reference import ReferenceEvaluator
    x = np.random.default_rng(axis + 3).integers(-5, 6, (3, 4, 5)).astype(dtype)
    ax = np.asarray(axis, np.int64)
    node = helper.make_node("CumSum", ["a", "ax"], ["c"], exclusive=exclusive, reverse=reverse)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", helper.np_dtype_to_tensor_dtype(x.dtype),
                                                                      x.shape),
                                        helper.make_tensor_value_info("ax", TensorProto.INT64, [])],
                          [helper.make_tensor_value_info("c", helper.np_dtype_to_tensor_dtype(x.dtype), None)])
    want = ReferenceEvaluator(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])).run(
        None, {"a": x, "ax": ax})[0]
    (got,) = fold("CumSum", [x, ax], {"exclusive": exclusive, "reverse": reverse}, 14)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_cumsum_of_a_shape_made_mask_folds():
    """EdgeNeXt's Fourier positions: cumsum of ones over H and W, made from the input's shape, scaled and
    added to the activations (the fold feeds a binary op's constant operand)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "i2", "i4"], ["hw"]),
             helper.make_node("Concat", ["one1", "hw"], ["shp"], axis=0),
             helper.make_node("ConstantOfShape", ["shp"], ["ones"], value=numpy_helper.from_array(np.ones(1, np.float32))),
             helper.make_node("CumSum", ["ones", "ax1"], ["ypos"]),
             helper.make_node("CumSum", ["ones", "ax2"], ["xpos"], exclusive=1, reverse=1),
             helper.make_node("Add", ["ypos", "xpos"], ["pos"]),
             helper.make_node("Unsqueeze", ["pos", "ax0"], ["pos4"]),
             helper.make_node("Mul", ["pos4", "scale"], ["p"]),
             helper.make_node("Add", ["x", "p"], ["y"])]
    inits = {"i2": np.array([2], np.int64), "i4": np.array([4], np.int64), "one1": np.array([1], np.int64),
             "ax0": np.array([0], np.int64), "ax1": np.array(1, np.int64), "ax2": np.array(2, np.int64),
             "scale": np.array([0.1], np.float32)}
    data = _model(nodes, inits, [1, 3, 7, 5], [1, 3, 7, 5])
    x = np.random.default_rng(1).standard_normal((1, 3, 7, 5)).astype(np.float32)
    model = fastnorm.from_onnx(data)
    for isa in available_isas():
        with force_isa(isa):
            assert_model_close(model.predict(x), _ort(data, x), "cumsum positions (%s)" % isa)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(5, 1), (7, 13), (3, 2, 3, 4)])
def test_global_pool_of_other_ranks(op, shape):
    """(N, C, L) (AdaptiveAvgPool1d(1) in a Swin head) and (N, C, T, H, W): pooled over every dim past C."""
    c = shape[0]
    nodes = [helper.make_node(op, ["x"], ["p"]), helper.make_node("Mul", ["p", "k"], ["y"])]
    k = np.linspace(0.5, 1.5, c).astype(np.float32).reshape((1, c) + (1,) * (len(shape) - 1))
    data = _model(nodes, {"k": k}, ["N"] + list(shape), None)
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(len(shape))
    for n in (1, 3):
        x = rng.standard_normal((n,) + shape).astype(np.float32)
        want = _ort(data, x)
        for isa in available_isas():
            with force_isa(isa):
                got = model.predict(x)
                assert got.shape == want.shape
                assert_model_close(got, want, "%s %s (%s)" % (op, shape, isa))


def test_input_shapes_argument_checked(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    data = _model(nodes, {}, ["N", 3, "H", "W"], None)
    with pytest.raises(TypeError, match="input_shapes must be"):
        fastnorm.from_onnx(data, input_shapes={"x": (1, 3, 0, 4)})
    with pytest.raises(TypeError, match="input_shapes must be"):
        fastnorm.from_onnx(data, input_shapes=[(1, 3, 4, 4)])
    m = fastnorm.from_onnx(data, input_shapes={"x": (1, 3, 5, 6)})
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 4)).astype(np.float32)
    np.testing.assert_array_equal(m.predict(x), np.maximum(x, 0))   # other sizes still convert
    p = tmp_path / "m.fnm"
    fastnorm.from_onnx(_model(nodes, {}, ["N", 3, 4, 4], None)).save(str(p))
    with pytest.raises(TypeError, match="input_shapes applies to ONNX models"):
        fastnorm.load(str(p), input_shapes={"x": (1, 3, 4, 4)})
    with pytest.raises(TypeError, match="takes a path"):
        fastnorm.load(3.5)
