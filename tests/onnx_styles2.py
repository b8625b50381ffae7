"""Second round of hand-built ONNX graphs in styles fastnorm's importer had not been tested on (see
tests/onnx_styles.py for the first): files written by onnxruntime's offline optimizer (basic: plain
ONNX; extended / all: com.microsoft fused ops), onnx.version_converter outputs of one small CNN at every
opset 9..23, quantized models (QDQ static, QOperator, dynamic, weight-only DequantizeLinear), training-mode
BatchNormalization / Dropout, control flow (If with a constant condition, Loop, Scan), the ops exported
vision graphs carry (LayerNormalization / GroupNormalization variants, Gelu, Mish, Celu, Selu, Softsign,
SpaceToDepth, Tile, Range, CumSum, Shape start/end, Split num_outputs, Resize-18 attributes, ConvTranspose
geometry, MaxPool dilations / ceil_mode, float16 / bfloat16 casts ...) and graph oddities (unused
initializers, dead nodes out of order, an output listed twice, zero-size slices, names defined twice, no
nodes, odd opset_import lists).

Each builder returns (model bytes, {input name: array}); CASES maps its name to it. Random weights are
seeded by the case's name. REFERENCE (in tests/test_onnx_styles2.py) says which cases are checked against
something other than onnxruntime on the same bytes."""
import os
import tempfile
import types as _types

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnx_styles import F32, I64, G, _out, _to_nchw, _to_nhwc  # noqa: F401

F16 = TensorProto.FLOAT16
BF16 = TensorProto.BFLOAT16
BOOL = TensorProto.BOOL


def _x(g, *shape, scale=1.0):
    return g.x(*shape, scale=scale)


def _simple(name, opset, body, in_shape=(3, 6, 7), cout=6, k=3, batch=2, scale=1.0, **model_kw):
    """x -> Conv(3 -> cout, k, same pads) -> body(g, y) -> output(s). body returns a value name or a list
    of (value name, elem type) pairs already passed through _out."""
    g = G(name, opset)
    y = g.conv("x", in_shape[0], cout, k, pads=[k // 2] * 4)
    r = body(g, y)
    outputs = r if isinstance(r, list) else [_out(g, r)]
    return (g.model([("x", ["N"] + list(in_shape))], outputs, **model_kw),
            {"x": _x(g, batch, *in_shape, scale=scale)})


# ============================================================== (a) onnxruntime's offline optimizer
def _ort_cnn():
    """A small CNN with the patterns onnxruntime's optimizer fuses: Conv + BN + Relu, depthwise Conv + BN
    + Clip, erf-GELU, SiLU, QuickGELU (x * sigmoid(1.702 x)), Gemm + Relu, MatMul + Add."""
    g = G("ort_cnn", 17)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1]), 8)])
    y = g.clip(g.bn(g.conv(y, 8, 8, 3, pads=[1, 1, 1, 1], group=8), 8))
    z = g.conv(y, 8, 8, 1)
    e = g.n("Erf", [g.n("Div", [z, g.w(np.float32(np.sqrt(2)))])])
    z = g.n("Mul", [g.n("Mul", [z, g.w(np.float32(0.5))]), g.n("Add", [e, g.w(np.float32(1.0))])])
    z = g.n("Add", [z, y])
    z = g.n("Mul", [z, g.n("Sigmoid", [z])])
    z = g.n("Mul", [z, g.n("Sigmoid", [g.n("Mul", [z, g.w(np.float32(1.702))])])])
    z = g.n("Flatten", [g.n("GlobalAveragePool", [z])], axis=1)
    z = g.n("Relu", [g.n("Gemm", [z, g.w(g.rng.standard_normal((8, 6))), g.w(g.rng.standard_normal(6))])])
    z = g.n("Add", [g.n("MatMul", [z, g.w(g.rng.standard_normal((6, 5)))]), g.w(g.rng.standard_normal(5))])
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, z)]), {"x": g.x(2, 3, 8, 8)}


def _ort_vit():
    """A conv stem, then a transformer block on the (N, 16, 8) tokens: decomposed LayerNorm (Pow 2), q k^T
    scaled and softmaxed, erf-GELU MLP with biases, residual adds."""
    g = G("ort_vit", 17)
    y = g.conv("x", 3, 8, 2, strides=[2, 2])
    y = g.n("Transpose", [g.n("Reshape", [y, g.i64([0, 8, 16])])], perm=[0, 2, 1])

    def ln(t):
        m = g.n("ReduceMean", [t], axes=[-1])
        d = g.n("Sub", [t, m])
        v = g.n("ReduceMean", [g.n("Pow", [d, g.w(np.float32(2))])], axes=[-1])
        r = g.n("Sqrt", [g.n("Add", [v, g.w(np.float32(1e-5))])])
        return g.n("Add", [g.n("Mul", [g.n("Div", [d, r]), g.w(g.rng.uniform(0.5, 1.5, 8))]),
                           g.w(g.rng.standard_normal(8))])

    def lin(t, i, o):
        return g.n("Add", [g.n("MatMul", [t, g.w(g.rng.standard_normal((i, o)) / np.sqrt(i))]),
                           g.w(g.rng.standard_normal(o))])
    h = ln(y)
    q, k = lin(h, 8, 8), lin(h, 8, 8)
    a = g.n("Softmax", [g.n("Mul", [g.n("MatMul", [q, g.n("Transpose", [k], perm=[0, 2, 1])]),
                                    g.w(np.float32(0.35))])], axis=-1)
    y = g.n("Add", [y, g.n("MatMul", [a, h])])
    f = lin(ln(y), 8, 16)
    e = g.n("Erf", [g.n("Div", [f, g.w(np.float32(np.sqrt(2)))])])
    f = g.n("Mul", [g.n("Mul", [f, g.n("Add", [e, g.w(np.float32(1.0))])]), g.w(np.float32(0.5))])
    y = g.n("Add", [y, lin(f, 16, 8)])
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def _ort_optimized(build, level):
    import onnxruntime as ort
    data, feeds = build()
    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        so.optimized_model_filepath = os.path.join(d, "opt.onnx")
        ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        with open(so.optimized_model_filepath, "rb") as f:
            return f.read(), feeds


def ortopt_basic_cnn():
    return _ort_optimized(_ort_cnn, "ORT_ENABLE_BASIC")


def ortopt_basic_vit():
    return _ort_optimized(_ort_vit, "ORT_ENABLE_BASIC")


def ortopt_extended_cnn():
    return _ort_optimized(_ort_cnn, "ORT_ENABLE_EXTENDED")


def ortopt_extended_vit():
    return _ort_optimized(_ort_vit, "ORT_ENABLE_EXTENDED")


def ortopt_all_cnn():
    return _ort_optimized(_ort_cnn, "ORT_ENABLE_ALL")


def ms_fused_ops_handwritten():
    """com.microsoft ops as other tools write them by hand: NhwcConv, QuickGelu, FusedConv(Relu),
    BiasGelu, FastGelu; every one must be named with its domain."""
    g = G("ms_fused_ops_handwritten", 13)
    w = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4)
    b = g.w(g.rng.standard_normal(4))
    g.nodes.append(helper.make_node("FusedConv", ["x", w, b], ["fc"], domain="com.microsoft", name="fc",
                                    activation="Relu", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    t = _to_nhwc(g, "fc")
    w2 = g.w(g.rng.standard_normal((4, 4, 1, 1)) / 2)
    g.nodes.append(helper.make_node("NhwcConv", [t, w2], ["nc"], domain="com.microsoft", name="nc",
                                    kernel_shape=[1, 1]))
    y = _to_nchw(g, "nc")
    g.nodes.append(helper.make_node("QuickGelu", [y], ["qg"], domain="com.microsoft", name="qg", alpha=1.702))
    g.nodes.append(helper.make_node("BiasGelu", ["qg", g.w(g.rng.standard_normal((4, 1, 1)))], ["bg"],
                                    domain="com.microsoft", name="bg"))
    g.nodes.append(helper.make_node("FastGelu", ["bg"], ["fg"], domain="com.microsoft", name="fg"))
    m = helper.make_model(helper.make_graph(g.nodes, g.name, [helper.make_tensor_value_info("x", F32, ["N", 3, 5, 6])],
                                            [helper.make_tensor_value_info("fg", F32, None)], g.inits),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6)}


# ============================================================== (b) onnx.version_converter
def _vc_cnn9():
    """An opset 9 CNN with every attribute-to-input migration the converter does later: Pad (attr pads),
    Clip (attr min / max), Split (attr split), Upsample (scales input -> Resize), Slice (attrs),
    Dropout (ratio attr), ReduceMean / Squeeze / Unsqueeze (attr axes), Softmax (axis 1 of 2D)."""
    g = G("vc_cnn9", 9)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1]), 8)])
    y = g.n("Pad", [y], pads=[0, 0, 1, 0, 0, 0, 0, 1], mode="constant", value=0.0)
    y = g.n("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.clip(y, 0.0, 6.0)
    a, b = g.n("Split", [y], nout=2, axis=1, split=[3, 5])
    a = g.n("Upsample", [a, g.w(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    a = g.n("MaxPool", [a], kernel_shape=[2, 2], strides=[2, 2])
    y = g.n("Concat", [b, a], axis=1)
    y = g.n("Slice", [y], starts=[1], ends=[7], axes=[1])
    y = g.n("Dropout", [y], ratio=0.1)
    s = g.n("Squeeze", [g.n("ReduceMean", [y], axes=[2, 3], keepdims=1)], axes=[2, 3])
    y = g.n("Mul", [y, g.n("Unsqueeze", [g.n("Sigmoid", [s])], axes=[2, 3])])
    y = g.n("Flatten", [y], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((5, 96)) / 10), g.w(g.rng.standard_normal(5))], transB=1)
    y = g.n("Softmax", [y], axis=1)
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def _converted(build, target):
    from onnx import version_converter
    data, feeds = build()
    return version_converter.convert_version(onnx.load_from_string(data), target).SerializeToString(), feeds


def _vc_case(target):
    def build():
        return _converted(_vc_cnn9, target)
    build.__name__ = "vc_cnn9_to_opset%d" % target
    return build


for _t in range(9, 24):
    globals()["vc_cnn9_to_opset%d" % _t] = _vc_case(_t)


def _vc_cnn18():
    """An opset 18 net with the inputs opset 18 introduced (Pad reflect, Split num_outputs, Resize-18,
    ReduceMean / ReduceMax axes inputs, Clip inputs)."""
    g = G("vc_cnn18", 18)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1]), 8)])
    y = g.n("Pad", [y, g.i64([0, 0, 1, 0, 0, 0, 0, 1])], mode="reflect")
    a, b = g.n("Split", [y], nout=2, axis=1, num_outputs=2)
    a = g.n("MaxPool", [g.n("Resize", [a, "", g.w(np.array([1, 1, 2, 2], np.float32))], mode="linear")],
            kernel_shape=[2, 2], strides=[2, 2])
    y = g.n("Concat", [b, a], axis=1)
    s = g.n("Squeeze", [g.n("ReduceMean", [y, g.i64([2, 3])], keepdims=1), g.i64([2, 3])])
    y = g.n("Mul", [y, g.n("Unsqueeze", [g.n("HardSigmoid", [s]), g.i64([2, 3])])])
    y = g.n("Clip", [g.n("ReduceMax", [y, g.i64([1])], keepdims=1), g.w(np.float32(0.0)), g.w(np.float32(1.5))])
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def vc_cnn18_to_opset21():
    return _converted(_vc_cnn18, 21)


def _vc_softmax4d(batch):
    """Softmax / LogSoftmax over axis 1 / 2 of a 4D map at opset 11 (the flattening semantics): the converter
    rewrites them for opset 13 as Flatten(axis) -> (Log)Softmax -> Reshape(Shape(x))."""
    def build():
        g = G("vc_softmax4d", 11)
        y = g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])
        y = g.n("Add", [g.n("Softmax", [y], axis=1), g.n("LogSoftmax", [y], axis=2)])
        return g.model([("x", [batch, 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}
    return build


def vc_softmax4d_op11_to_op13_dynamic_batch():
    return _converted(_vc_softmax4d("N"), 13)


def vc_softmax4d_op11_to_op13_fixed_batch():
    return _converted(_vc_softmax4d(2), 13)


def vc_groupnorm18_to_op21():
    """The converter leaves GroupNormalization-18's per-group scale / bias as they are when it restamps the
    node as opset 21 (whose scale / bias are per channel): an invalid file (onnxruntime fails on it too)."""
    def build():
        g = G("vc_groupnorm18", 18)
        y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
        y = g.n("GroupNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, 4)), g.w(g.rng.standard_normal(4))],
                num_groups=4, epsilon=1e-3)
        return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}
    return _converted(build, 21)


# ============================================================== (c) quantized models
def _q_float_model():
    g = G("q_float", 13)
    y = g.n("Relu", [g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])])
    y = g.n("Relu", [g.conv(y, 8, 8, 3, pads=[1, 1, 1, 1])])
    y = g.n("Flatten", [g.n("GlobalAveragePool", [y])], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((5, 8)) / 3), g.w(g.rng.standard_normal(5))], transB=1)
    return g.model([("x", ["N", 3, 6, 6])], [_out(g, y)], value_info=False), {"x": g.x(2, 3, 6, 6)}


def _quantized(kind, **kw):
    from onnxruntime import quantization as q
    data, feeds = _q_float_model()
    rng = np.random.default_rng(3)

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": rng.standard_normal((1, 3, 6, 6)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "f.onnx"), os.path.join(d, "q.onnx")
        with open(src, "wb") as f:
            f.write(data)
        if kind == "dynamic":
            q.quantize_dynamic(src, dst, **kw)
        else:
            q.quantize_static(src, dst, Reader(), **kw)
        with open(dst, "rb") as f:
            return f.read(), feeds


def quant_static_qdq_per_tensor():
    from onnxruntime.quantization import QuantFormat
    return _quantized("static", quant_format=QuantFormat.QDQ)


def quant_static_qdq_per_channel():
    from onnxruntime.quantization import QuantFormat
    return _quantized("static", quant_format=QuantFormat.QDQ, per_channel=True)


def quant_static_qoperator():
    from onnxruntime.quantization import QuantFormat
    return _quantized("static", quant_format=QuantFormat.QOperator)


def quant_dynamic():
    return _quantized("dynamic")


def _dq_weight(g, w, axis, block=None, dtype=np.int8, zp=True):
    """A weight stored as integers with a DequantizeLinear in front (weight-only QDQ): per tensor (axis
    None), per channel (axis), or blocked along `axis` (opset 21 block_size)."""
    if block is not None:
        shp = list(w.shape)
        shp[axis] = -(-shp[axis] // block)
        scale = np.empty(shp, np.float32)
        for idx in np.ndindex(*shp):
            sl = list(idx)
            sl[axis] = slice(idx[axis] * block, (idx[axis] + 1) * block)
            scale[idx] = max(float(np.abs(w[tuple(sl)]).max()) / 100, 1e-3)

        def expand(a):
            return np.repeat(a, block, axis=axis)[tuple(slice(0, n) for n in w.shape)]
    elif axis is None:
        scale = np.float32(np.abs(w).max() / 100)

        def expand(a):
            return a
    else:
        scale = (np.abs(np.moveaxis(w, axis, 0)).reshape(w.shape[axis], -1).max(1) / 100).astype(np.float32)

        def expand(a):
            return np.asarray(a).reshape([-1 if i == axis else 1 for i in range(w.ndim)])
    info = np.iinfo(dtype)
    zpv = np.full(np.shape(scale), (3 if info.min == 0 else -2) if zp else 0, dtype)
    qv = np.clip(np.round(w / expand(scale)) + expand(zpv), info.min, info.max).astype(dtype)
    ins = [g.w(qv, dtype=dtype), g.w(scale)] + ([g.w(zpv, dtype=dtype)] if zp else [])
    kw = {}
    if axis is not None:
        kw["axis"] = axis
    if block is not None:
        kw["block_size"] = block
    return g.n("DequantizeLinear", ins, **kw)


def _dq_case(name, opset, axis, block=None, dtype=np.int8, zp=True):
    g = G(name, opset)
    w = g.rng.standard_normal((6, 4, 3, 3)).astype(np.float32) / 4
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Conv", [y, _dq_weight(g, w, axis, block, dtype, zp)], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def qdq_weight_only_per_tensor_uint8():
    return _dq_case("qdq_weight_only_per_tensor_uint8", 13, None, dtype=np.uint8)


def qdq_weight_only_per_channel_int8():
    return _dq_case("qdq_weight_only_per_channel_int8", 13, 0)


def qdq_weight_only_per_channel_no_zero_point():
    return _dq_case("qdq_weight_only_per_channel_no_zp", 13, 0, zp=False)


def qdq_weight_only_blocked_opset21():
    """DequantizeLinear-21 with block_size 2 along the input channels: one scale per 2 input channels."""
    return _dq_case("qdq_weight_only_blocked_opset21", 21, 1, block=2)


def qdq_activation_roundtrip():
    """QuantizeLinear -> DequantizeLinear on an activation (fake quantization between two convs)."""
    g = G("qdq_activation_roundtrip", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    q = g.n("QuantizeLinear", [y, g.w(np.float32(0.05)), g.w(np.uint8(128), dtype=np.uint8)])
    y = g.n("DequantizeLinear", [q, g.w(np.float32(0.05)), g.w(np.uint8(128), dtype=np.uint8)])
    y = g.conv(y, 4, 4, 1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


# ============================================================== (d) external data
def external_data_model():
    """A ModelProto (not bytes) with weights big enough to go to the external file (size_threshold 0 is
    used by the tests anyway)."""
    g = G("external_data_model", 13)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 16, 3, pads=[1, 1, 1, 1]), 16)])
    y = g.conv(y, 16, 8, 3, pads=[1, 1, 1, 1])
    y = g.n("Flatten", [g.n("GlobalAveragePool", [y])], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((8, 5))), g.w(g.rng.standard_normal(5))])
    return onnx.load_from_string(g.model([("x", ["N", 3, 6, 6])], [_out(g, y)])), {"x": g.x(2, 3, 6, 6)}


# ============================================================== (e) training-mode nodes
def bn15_training_mode1_after_conv():
    """Conv -> BatchNormalization(training_mode=1) -> Relu at opset 15: Y uses the batch's statistics (the
    conv must not absorb it as if it were eval-mode BN)."""
    def body(g, y):
        y = g.n("BatchNormalization", [y] + g.bn_params(6), training_mode=1, epsilon=1e-3)
        return g.n("Relu", [y])
    return _simple("bn15_training_mode1_after_conv", 15, body, batch=3)


def bn15_training_mode1_running_outputs():
    """training_mode=1 with running_mean / running_var as graph outputs: must be refused."""
    g = G("bn15_training_mode1_running_outputs", 15)
    y = g.conv("x", 3, 4, 3)
    y, rm, rv = g.n("BatchNormalization", [y] + g.bn_params(4), nout=3, training_mode=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y), _out(g, rm, "rm"), _out(g, rv, "rv")]), {"x": g.x(2, 3, 5, 6)}


def bn14_training_mode1_2d():
    """training_mode=1 on the (N, C) features after a global pool: batch statistics over N."""
    def body(g, y):
        r = g.n("Flatten", [g.n("GlobalAveragePool", [y])])
        return g.n("Relu", [g.n("BatchNormalization", [r] + g.bn_params(6), training_mode=1)])
    return _simple("bn14_training_mode1_2d", 14, body, batch=4)


def dropout13_training_true_ratio():
    def body(g, y):
        return g.n("Dropout", [y, g.w(np.float32(0.3)), g.w(np.array(True), dtype=np.bool_)])
    return _simple("dropout13_training_true_ratio", 13, body)


def dropout13_training_true_default_ratio():
    def body(g, y):
        return g.n("Dropout", [y, "", g.w(np.array(True), dtype=np.bool_)])
    return _simple("dropout13_training_true_default_ratio", 13, body)


def dropout13_training_true_ratio0():
    """training_mode true with ratio 0: the spec's output is x itself (and the mask all true)."""
    def body(g, y):
        return g.n("Dropout", [y, g.w(np.float32(0.0)), g.w(np.array(True), dtype=np.bool_)])
    return _simple("dropout13_training_true_ratio0", 13, body)


def dropout13_mask_output_used():
    def body(g, y):
        d, m = g.n("Dropout", [y, g.w(np.float32(0.2))], nout=2)
        return g.n("Where", [m, d, g.w(np.float32(-1.0))])
    return _simple("dropout13_mask_output_used", 13, body)


# ============================================================== (f) control flow
def _branch(name, nodes, out, inits=()):
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, F32, None)], list(inits))


def if_const_true_activation_branches():
    """If(cond = constant True) whose branches compute from an outer-scope activation (exporters leave
    these after tracing an `if` on a constant)."""
    def body(g, y):
        then_g = _branch("then", [helper.make_node("Relu", [y], ["t_out"])], "t_out")
        else_g = _branch("else", [helper.make_node("Sigmoid", [y], ["e_out"])], "e_out")
        return g.n("If", [g.w(np.array(True), dtype=np.bool_)], then_branch=then_g, else_branch=else_g)
    return _simple("if_const_true_activation_branches", 13, body)


def if_const_shape_branches():
    """If(constant) whose branches only produce constants (a reshape target), then a Reshape."""
    def body(g, y):
        then_g = _branch("then", [helper.make_node("Constant", [], ["t_out"], value=numpy_helper.from_array(
            np.array([0, 6, 42], np.int64)))], "t_out")
        then_g.output[0].type.tensor_type.elem_type = I64
        else_g = _branch("else", [helper.make_node("Constant", [], ["e_out"], value=numpy_helper.from_array(
            np.array([0, -1], np.int64)))], "e_out")
        else_g.output[0].type.tensor_type.elem_type = I64
        shp = g.n("If", [g.n("Greater", [g.w(np.float32(2)), g.w(np.float32(1))])], then_branch=then_g,
                  else_branch=else_g)
        return g.n("Reshape", [y, shp])
    return _simple("if_const_shape_branches", 13, body)


def loop_on_activation():
    def body(g, y):
        bg = helper.make_graph(
            [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
             helper.make_node("Mul", ["v_in", "half"], ["m"]),
             helper.make_node("Add", ["m", "half"], ["v_out"])], "body",
            [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", BOOL, []),
             helper.make_tensor_value_info("v_in", F32, None)],
            [helper.make_tensor_value_info("cond_out", BOOL, []), helper.make_tensor_value_info("v_out", F32, None)],
            [numpy_helper.from_array(np.float32(0.5), "half")])
        return g.n("Loop", [g.w(np.array(3, np.int64), dtype=np.int64), g.w(np.array(True), dtype=np.bool_), y],
                   body=bg)
    return _simple("loop_on_activation", 13, body)


def scan_on_activation():
    def body(g, y):
        t = g.n("Reshape", [y, g.i64([0, 6, 42])])
        vi = helper.make_tensor_value_info
        bg = helper.make_graph(
            [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["y_t"])],
            "body", [vi("s_in", F32, [None, 6]), vi("x_t", F32, [None, 6])],
            [vi("s_out", F32, [None, 6]), vi("y_t", F32, [None, 6])])
        init = g.n("ReduceSum", [g.n("Slice", [t, g.i64([0]), g.i64([1]), g.i64([2])]), g.i64([2])], keepdims=0)
        _, ys = g.n("Scan", [init, t], nout=2, body=bg, num_scan_inputs=1, scan_input_axes=[2], scan_output_axes=[2])
        return ys
    return _simple("scan_on_activation", 13, body)


# ============================================================== (g) ops of exported vision graphs
def _ln(name, opset, axis, in_shape=(3, 6, 7), cout=6, bias=True, eps=1e-5):
    def body(g, y):
        shp = (cout,) + tuple(in_shape[1:])
        nshape = ([None] + list(shp))[axis % 4:]
        sc = g.w(g.rng.uniform(0.5, 1.5, nshape))
        ins = [y, sc] + ([g.w(g.rng.standard_normal(nshape))] if bias else [])
        return g.n("LayerNormalization", ins, axis=axis, epsilon=eps)
    return _simple(name, opset, body, in_shape=in_shape, cout=cout)


def layernorm17_axis1_chw():
    return _ln("layernorm17_axis1_chw", 17, 1)


def layernorm17_axis_neg2_hw():
    return _ln("layernorm17_axis_neg2_hw", 17, -2)


def layernorm17_axis_neg1_w_no_bias():
    return _ln("layernorm17_axis_neg1_w_no_bias", 17, -1, bias=False, eps=1e-3)


def layernorm17_scale_broadcast_c11():
    """axis 1 with Scale / B of shape (C, 1, 1) broadcast over H, W (allowed: unidirectional broadcast)."""
    def body(g, y):
        return g.n("LayerNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, (6, 1, 1))),
                                          g.w(g.rng.standard_normal((6, 1, 1)))], axis=1)
    return _simple("layernorm17_scale_broadcast_c11", 17, body)


def layernorm17_tokens_3d():
    """(N, L, C) tokens from a patch-embedding conv, LayerNormalization over C."""
    def body(g, y):
        t = g.n("Transpose", [g.n("Reshape", [y, g.i64([0, 6, 42])])], perm=[0, 2, 1])
        return g.n("LayerNormalization", [t, g.w(g.rng.uniform(0.5, 1.5, 6)), g.w(g.rng.standard_normal(6))],
                   axis=-1, epsilon=1e-6)
    return _simple("layernorm17_tokens_3d", 17, body)


def _gn(name, opset, groups, ch=8, per="auto"):
    def body(g, y):
        n = groups if (per == "group") else ch
        return g.n("GroupNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, n)), g.w(g.rng.standard_normal(n))],
                   num_groups=groups, epsilon=1e-4)
    return _simple(name, opset, body, cout=ch)


def groupnorm18_per_group_scale():
    return _gn("groupnorm18_per_group_scale", 18, 4, per="group")


def groupnorm18_one_group():
    return _gn("groupnorm18_one_group", 18, 1, per="group")


def groupnorm21_per_channel_scale():
    return _gn("groupnorm21_per_channel_scale", 21, 4, per="channel")


def groupnorm21_groups_eq_channels():
    return _gn("groupnorm21_groups_eq_channels", 21, 8, per="channel")


def groupnorm18_groups_eq_channels():
    return _gn("groupnorm18_groups_eq_channels", 18, 8, per="group")


def gelu20_none_and_tanh():
    def body(g, y):
        return g.n("Add", [g.n("Gelu", [y]), g.n("Gelu", [y], approximate="tanh")])
    return _simple("gelu20_none_and_tanh", 20, body, scale=2.0)


def gelu_erf_mul_form():
    """x * 0.5 * (1 + Erf(x * 0.70710677)): the Erf argument by a Mul with 1/sqrt 2, the 0.5 last."""
    def body(g, y):
        e = g.n("Erf", [g.n("Mul", [y, g.w(np.float32(1 / np.sqrt(2)))])])
        return g.n("Mul", [g.n("Mul", [y, g.n("Add", [g.w(np.float32(1.0)), e])]), g.w(np.float32(0.5))])
    return _simple("gelu_erf_mul_form", 13, body, scale=2.0)


def act_zoo_opset18():
    """Mish, HardSwish, Celu(2), Elu(0.5), Selu(custom), Softplus, Softsign side by side."""
    def body(g, y):
        parts = [g.n("Mish", [y]), g.n("HardSwish", [y]), g.n("Celu", [y], alpha=2.0), g.n("Elu", [y], alpha=0.5),
                 g.n("Selu", [y], alpha=1.5, gamma=1.2), g.n("Selu", [y]), g.n("Softplus", [y]),
                 g.n("Softsign", [y])]
        return g.n("Concat", parts, axis=1)
    return _simple("act_zoo_opset18", 18, body, scale=3.0)


def softplus_large_inputs():
    """Softplus on values up to ~60: log(1 + e^x) is x there."""
    def body(g, y):
        return g.n("Softplus", [g.n("Mul", [y, g.w(np.float32(15.0))])])
    return _simple("softplus_large_inputs", 13, body, scale=2.0)


def thresholded_relu():
    def body(g, y):
        return g.n("ThresholdedRelu", [y], alpha=0.5)
    return _simple("thresholded_relu", 13, body)


def shrink_op():
    def body(g, y):
        return g.n("Shrink", [y], lambd=0.5, bias=0.1)
    return _simple("shrink_op", 13, body)


def space_to_depth_then_conv():
    """SpaceToDepth (the YOLOv2 reorg / focus stem) then a conv, and DepthToSpace CRD back."""
    def body(g, y):
        s = g.n("SpaceToDepth", [y], blocksize=2)
        s = g.conv(s, 24, 8, 1)
        return g.n("DepthToSpace", [s], blocksize=2, mode="CRD")
    return _simple("space_to_depth_then_conv", 13, body, in_shape=(3, 6, 8))


def tile_spatial_and_channels():
    def body(g, y):
        return g.n("Tile", [y, g.i64([1, 2, 1, 3])])
    return _simple("tile_spatial_and_channels", 13, body, cout=4, in_shape=(3, 4, 5))


def expand_lower_rank_target():
    """Expand of an (N, C, 1, W) map to the target (H, 1): numpy broadcasting from the right (rank grows
    nowhere, but the target is shorter)."""
    def body(g, y):
        r = g.n("ReduceMean", [y], axes=[2], keepdims=1)
        return g.n("Expand", [r, g.i64([5, 1])])
    return _simple("expand_lower_rank_target", 13, body, in_shape=(3, 5, 6))


def expand_same_rank_hw():
    def body(g, y):
        r = g.n("GlobalAveragePool", [y])
        return g.n("Add", [g.n("Expand", [r, g.i64([1, 1, 6, 7])]), g.w(g.rng.standard_normal((1, 1, 6, 7)))])
    return _simple("expand_same_rank_hw", 13, body)


def where_const_bool_mask():
    """A constant bool mask (1, 1, H, W) selecting between a map and a constant (masked_fill)."""
    def body(g, y):
        mask = np.zeros((1, 1, 6, 7), bool)
        mask[..., 2:4, 1:5] = True
        return g.n("Where", [g.w(mask, dtype=np.bool_), g.w(np.float32(-3.0)), y])
    return _simple("where_const_bool_mask", 13, body)


def where_leaky_from_greater():
    def body(g, y):
        return g.n("Where", [g.n("Greater", [y, g.w(np.float32(0))]), y, g.n("Mul", [y, g.w(np.float32(0.1))])])
    return _simple("where_leaky_from_greater", 13, body)


def where_bool_and_or_not():
    """Boolean masks combined with And / Or / Not / Xor, then Where, and the mask itself as an output."""
    def body(g, y):
        a = g.n("Greater", [y, g.w(np.float32(0.2))])
        b = g.n("Less", [y, g.w(np.float32(-0.3))])
        c = g.n("Or", [g.n("And", [a, g.n("Not", [b])]), g.n("Xor", [a, b])])
        w = g.n("Where", [c, y, g.w(np.float32(0.0))])
        return [_out(g, w), _out(g, c, "mask", BOOL)]
    return _simple("where_bool_and_or_not", 13, body)


def range_position_channels():
    """Range(0, W) from Shape, cast to float and added along W (a coordinate / position term)."""
    def body(g, y):
        w = g.n("Squeeze", [g.n("Slice", [g.n("Shape", [y]), g.i64([3]), g.i64([4])]), g.i64([0])])
        r = g.n("Range", [g.w(np.array(0, np.int64), dtype=np.int64), w, g.w(np.array(1, np.int64), dtype=np.int64)])
        r = g.n("Div", [g.n("Cast", [r], to=F32), g.w(np.float32(7.0))])
        return g.n("Add", [y, r])
    return _simple("range_position_channels", 13, body)


def cumsum_on_activation():
    def body(g, y):
        return g.n("CumSum", [y, g.w(np.array(3, np.int64), dtype=np.int64)])
    return _simple("cumsum_on_activation", 14, body)


def cumsum_on_constant():
    """CumSum over a constant (an anchor / position table): folded at load."""
    def body(g, y):
        c = g.n("CumSum", [g.w(np.ones((1, 1, 6, 7), np.float32)), g.w(np.array(3, np.int64), dtype=np.int64)],
                exclusive=1, reverse=1)
        return g.n("Mul", [y, c])
    return _simple("cumsum_on_constant", 14, body)


def argmin_select_last_ties_keep0():
    def body(g, y):
        r = g.n("Relu", [g.n("Sub", [y, g.w(np.float32(1.0))])])
        a = g.n("ArgMin", [r], axis=1, keepdims=0, select_last_index=1)
        b = g.n("ArgMax", [r], axis=-1, keepdims=0, select_last_index=1)
        return [_out(g, a, "amin", I64), _out(g, b, "amax", I64)]
    return _simple("argmin_select_last_ties_keep0", 12, body)


def _reduce(name, opset, op, axes, keepdims=1, noop=None, as_input=None):
    def body(g, y):
        kw = {"keepdims": keepdims}
        if noop is not None:
            kw["noop_with_empty_axes"] = noop
        inp = as_input if as_input is not None else opset >= (13 if op == "ReduceSum" else 18)
        if axes is None:
            return g.n(op, [y], **kw)
        if inp:
            return g.n(op, [y, g.i64(axes)], **kw)
        return g.n(op, [y], axes=axes, **kw)
    return _simple(name, opset, body)


def reduce_l2_attr_opset13():
    return _reduce("reduce_l2_attr_opset13", 13, "ReduceL2", [1], keepdims=1)


def reduce_l2_input_opset18_keep0():
    return _reduce("reduce_l2_input_opset18_keep0", 18, "ReduceL2", [2, 3], keepdims=0)


def reduce_sumsquare_attr_opset13():
    return _reduce("reduce_sumsquare_attr_opset13", 13, "ReduceSumSquare", [-1], keepdims=0)


def reduce_sumsquare_input_opset18_noop():
    """No axes input with noop_with_empty_axes=1: the identity."""
    return _reduce("reduce_sumsquare_input_opset18_noop", 18, "ReduceSumSquare", None, noop=1)


def reduce_l2_opset18_no_axes_noop0():
    """No axes, noop 0: every axis, the batch included."""
    return _reduce("reduce_l2_opset18_no_axes_noop0", 18, "ReduceL2", None, noop=0)


def reduce_logsumexp_attr_opset13():
    return _reduce("reduce_logsumexp_attr_opset13", 13, "ReduceLogSumExp", [1], keepdims=1)


def reduce_l1_opset18():
    return _reduce("reduce_l1_opset18", 18, "ReduceL1", [1], keepdims=1)


def reduce_mean_channels_opset18():
    return _reduce("reduce_mean_channels_opset18", 18, "ReduceMean", [1], keepdims=1)


def reduce_max_hw_opset18_keep0():
    return _reduce("reduce_max_hw_opset18_keep0", 18, "ReduceMax", [-1, -2], keepdims=0)


def reduce_min_opset18_noop_empty_axes_input():
    """ReduceMin-18 with an empty axes tensor and noop_with_empty_axes=1: the identity."""
    def body(g, y):
        return g.n("ReduceMin", [y, g.w(np.zeros(0, np.int64), dtype=np.int64)], keepdims=1, noop_with_empty_axes=1)
    return _simple("reduce_min_opset18_noop_empty_axes_input", 18, body)


def reduce_prod_channels_opset18():
    def body(g, y):
        return g.n("ReduceProd", [g.n("Sigmoid", [y]), g.i64([1])], keepdims=1)
    return _simple("reduce_prod_channels_opset18", 18, body)


def _pad19(name, mode):
    def body(g, y):
        return g.conv(g.n("Pad", [y, g.i64([0, 0, 2, 1, 0, 0, 1, 2])], mode=mode), 6, 4, 3)
    return _simple(name, 19, body)


def pad19_reflect():
    return _pad19("pad19_reflect", "reflect")


def pad19_edge():
    return _pad19("pad19_edge", "edge")


def pad19_wrap():
    return _pad19("pad19_wrap", "wrap")


def pad_reflect_negative_pads():
    """Pad-13 reflect with a negative pad on one side (a crop) and a positive one on the other: a valid file
    (onnxruntime runs it)."""
    def body(g, y):
        return g.n("Pad", [y, g.i64([0, 0, -1, 1, 0, 0, 1, -1])], mode="reflect")
    return _simple("pad_reflect_negative_pads", 13, body)


def pad18_constant_value_axes_channels():
    """Pad-18 with axes [1] (channels) and a constant value: channel padding."""
    def body(g, y):
        return g.n("Pad", [y, g.i64([1, 2]), g.w(np.float32(0.5)), g.i64([1])])
    return _simple("pad18_constant_value_axes_channels", 18, body)


def _convt(name, opset=13, in_hw=(5, 6), **attrs):
    def body(g, y):
        k = attrs.pop("k", 3)
        grp = attrs.get("group", 1)
        wt = g.w(g.rng.standard_normal((6, 4 // grp if grp > 1 else 4, k, k)) / 5)
        return g.n("ConvTranspose", [y, wt, g.w(g.rng.standard_normal(4 if grp == 1 else 4))],
                   kernel_shape=[k, k], **attrs)
    return _simple(name, opset, body, in_shape=(3,) + tuple(in_hw))


def convt_output_shape_with_pads():
    """output_shape given together with explicit pads: the spec says pads are then ignored."""
    return _convt("convt_output_shape_with_pads", strides=[2, 2], pads=[1, 1, 1, 1], output_shape=[12, 13])


def convt_output_shape_odd_total_notset():
    """output_shape making an odd total padding (NOTSET auto_pad): which side gets the extra pad."""
    return _convt("convt_output_shape_odd_total_notset", strides=[2, 2], output_shape=[10, 12])


def convt_output_shape_and_output_padding():
    """output_shape with output_padding: the total padding counts the output_padding."""
    return _convt("convt_output_shape_and_output_padding", strides=[2, 2], output_shape=[11, 13],
                  output_padding=[1, 1])


def convt_same_lower_stride2():
    return _convt("convt_same_lower_stride2", strides=[2, 2], auto_pad="SAME_LOWER")


def convt_same_upper_stride3_k4():
    return _convt("convt_same_upper_stride3_k4", strides=[3, 3], auto_pad="SAME_UPPER", k=4)


def convt_valid_dilated_output_padding():
    return _convt("convt_valid_dilated_output_padding", strides=[3, 2], dilations=[2, 2], output_padding=[2, 1],
                  auto_pad="VALID")


def convt_asym_pads():
    return _convt("convt_asym_pads", strides=[2, 2], pads=[0, 1, 2, 0])


def _maxpool(name, opset=12, in_hw=(9, 10), **attrs):
    def body(g, y):
        return g.n("MaxPool", [y], **attrs)
    return _simple(name, opset, body, in_shape=(3,) + tuple(in_hw))


def maxpool_dilated_ceil_pads():
    return _maxpool("maxpool_dilated_ceil_pads", kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2],
                    pads=[1, 1, 1, 1], ceil_mode=1)


def maxpool_ceil_last_window_in_pad():
    """ceil_mode where the last window would start in the right padding (ONNX drops it)."""
    return _maxpool("maxpool_ceil_last_window_in_pad", kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                    ceil_mode=1, in_hw=(8, 9))


def maxpool_storage_order1_values():
    """storage_order=1 only changes the Indices output; the values are the same."""
    return _maxpool("maxpool_storage_order1_values", kernel_shape=[3, 3], strides=[2, 2], storage_order=1)


def maxpool_indices_output_used():
    def body(g, y):
        v, i = g.n("MaxPool", [y], nout=2, kernel_shape=[2, 2], strides=[2, 2], storage_order=1)
        return [_out(g, v), _out(g, i, "idx", I64)]
    return _simple("maxpool_indices_output_used", 12, body, in_shape=(3, 6, 8))


def maxpool_asym_pads_dilated():
    return _maxpool("maxpool_asym_pads_dilated", kernel_shape=[2, 3], strides=[1, 2], dilations=[3, 1],
                    pads=[1, 0, 0, 2])


def lppool_p2():
    def body(g, y):
        return g.n("LpPool", [y], kernel_shape=[2, 2], strides=[2, 2], p=2)
    return _simple("lppool_p2", 18, body)


def global_lppool():
    def body(g, y):
        return g.n("GlobalLpPool", [y], p=2)
    return _simple("global_lppool", 13, body)


def maxroipool_refused():
    def body(g, y):
        rois = np.array([[0, 0, 0, 4, 4], [1, 1, 1, 5, 5]], np.float32)
        return g.n("MaxRoiPool", [y, g.w(rois)], pooled_shape=[2, 2])
    return _simple("maxroipool_refused", 13, body)


def roialign_refused():
    def body(g, y):
        rois = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
        return g.n("RoiAlign", [y, g.w(rois), g.w(np.array([0, 1], np.int64), dtype=np.int64)],
                   output_height=2, output_width=2)
    return _simple("roialign_refused", 16, body)


def trilu_on_activation():
    def body(g, y):
        return g.n("Trilu", [y, g.w(np.array(1, np.int64), dtype=np.int64)], upper=0)
    return _simple("trilu_on_activation", 14, body)


def trilu_constant_mask_mul():
    """Trilu of a constant (a causal mask) folded at load and multiplied in."""
    def body(g, y):
        return g.n("Mul", [y, g.n("Trilu", [g.w(np.ones((6, 7), np.float32))], upper=1)])
    return _simple("trilu_constant_mask_mul", 14, body)


def shape15_start_end_reshape():
    """Shape(start=2) gives (H, W) for a Reshape target [N, 2, 3, H, W]-style split; Shape(end=-2) gives
    (N, C) for a Resize's sizes."""
    def body(g, y):
        hw = g.n("Shape", [y], start=2)
        t = g.n("Concat", [g.i64([0, 2, 3]), hw], axis=0)
        r = g.n("Reshape", [y, t])
        r = g.n("Reshape", [g.n("Transpose", [r], perm=[0, 2, 1, 3, 4]), g.i64([0, 6, 6, 7])])
        nc = g.n("Shape", [r], end=-2)
        sizes = g.n("Concat", [nc, g.i64([12, 14])], axis=0)
        return g.n("Resize", [r, "", "", sizes], mode="nearest")
    return _simple("shape15_start_end_reshape", 15, body)


def shape15_negative_start():
    def body(g, y):
        w = g.n("Shape", [y], start=-1)
        t = g.n("Concat", [g.i64([0, -1]), w], axis=0)
        return g.n("Reshape", [y, t])
    return _simple("shape15_negative_start", 15, body)


def split18_num_outputs_uneven():
    def body(g, y):
        a, b, c = g.n("Split", [y], nout=3, axis=3, num_outputs=3)
        return g.n("Concat", [c, a, b], axis=3)
    return _simple("split18_num_outputs_uneven", 18, body, in_shape=(3, 5, 8))


def split18_num_outputs_uneven_channels():
    def body(g, y):
        a, b, c = g.n("Split", [y], nout=3, axis=1, num_outputs=3)
        return g.n("Concat", [g.n("Relu", [c]), a, g.n("Sigmoid", [b])], axis=1)
    return _simple("split18_num_outputs_uneven_channels", 18, body, cout=7)


def _resize18(name, opset=18, hw=(5, 6), **attrs):
    def body(g, y):
        scales = attrs.pop("scales", None)
        sizes = attrs.pop("sizes", None)
        ins = [y, ""]
        ins.append(g.w(np.array(scales, np.float32)) if scales is not None else "")
        if sizes is not None:
            ins.append(g.i64(sizes))
        return g.n("Resize", ins, **attrs)
    return _simple(name, opset, body, in_shape=(3,) + tuple(hw))


def resize18_axes_scales_reversed():
    return _resize18("resize18_axes_scales_reversed", scales=[3.0, 2.0], axes=[3, 2], mode="linear")


def resize18_axes_sizes():
    return _resize18("resize18_axes_sizes", sizes=[9, 13], axes=[2, 3], mode="nearest",
                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def resize18_antialias_upsample():
    return _resize18("resize18_antialias_upsample", scales=[1, 1, 2, 2], mode="linear", antialias=1)


def resize18_antialias_downsample():
    return _resize18("resize18_antialias_downsample", hw=(8, 10), scales=[1, 1, 0.5, 0.5], mode="linear",
                     antialias=1)


def resize18_keep_aspect_not_larger():
    return _resize18("resize18_keep_aspect_not_larger", sizes=[12, 9], axes=[2, 3], mode="linear",
                     keep_aspect_ratio_policy="not_larger")


def resize19_half_pixel_symmetric():
    return _resize18("resize19_half_pixel_symmetric", opset=19, scales=[1, 1, 1.5, 2.5], mode="linear",
                     coordinate_transformation_mode="half_pixel_symmetric")


def resize18_cubic_refused():
    return _resize18("resize18_cubic_refused", scales=[1, 1, 2, 2], mode="cubic")


def center_crop_pad():
    def body(g, y):
        return g.n("CenterCropPad", [y, g.i64([4, 9])], axes=[2, 3])
    return _simple("center_crop_pad", 18, body)


def col2im_refused():
    def body(g, y):
        t = g.n("Reshape", [y, g.i64([0, 6, 42])])   # 3 channels x (1 x 2) blocks, 6 x 7 block positions
        return g.n("Col2Im", [t, g.i64([6, 8]), g.i64([1, 2])])
    return _simple("col2im_refused", 18, body)


def cast_float16_roundtrip():
    """Cast to float16 and back (mixed-precision exports): onnxruntime rounds to float16 in between."""
    def body(g, y):
        return g.n("Cast", [g.n("Cast", [g.n("Mul", [y, g.w(np.float32(1000.0))])], to=F16)], to=F32)
    return _simple("cast_float16_roundtrip", 13, body)


def cast_bfloat16_roundtrip():
    def body(g, y):
        return g.n("Cast", [g.n("Cast", [y], to=BF16)], to=F32)
    return _simple("cast_bfloat16_roundtrip", 13, body)


def float16_island_keep_io():
    """onnxconverter-common's keep_io_types style: float32 in, Cast to float16, a float16 Conv with float16
    weights, Relu, Cast back to float32."""
    g = G("float16_island_keep_io", 13)
    y = g.n("Cast", ["x"], to=F16)
    w = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, dtype=np.float16)
    b = g.w(g.rng.standard_normal(4) * 0.1, dtype=np.float16)
    y = g.n("Relu", [g.n("Conv", [y, w, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    y = g.n("Cast", [y], to=F32)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def float16_io_model():
    """A whole-float16 model: float16 input, weights and output."""
    g = G("float16_io_model", 13)
    w = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, dtype=np.float16)
    y = g.n("Relu", [g.n("Conv", ["x", w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    nodes = g.nodes + [helper.make_node("Identity", [y], ["y"])]
    graph = helper.make_graph(nodes, g.name, [helper.make_tensor_value_info("x", F16, ["N", 3, 5, 6])],
                              [helper.make_tensor_value_info("y", F16, None)], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6).astype(np.float16)}


def double_input_cast():
    g = G("double_input_cast", 13)
    y = g.conv(g.n("Cast", ["x"], to=F32), 3, 4, 3, pads=[1, 1, 1, 1])
    graph = helper.make_graph(g.nodes + [helper.make_node("Identity", [y], ["y"])], g.name,
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 3, 5, 6])],
                              [helper.make_tensor_value_info("y", F32, None)], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6).astype(np.float64)}


def uint8_image_input_cast():
    """An image fed as uint8 (tf2onnx / TF-Lite style preprocessing in the graph): Cast, scale, conv."""
    g = G("uint8_image_input_cast", 13)
    y = g.n("Mul", [g.n("Cast", ["x"], to=F32), g.w(np.float32(1 / 255))])
    y = g.conv(y, 3, 4, 3, pads=[1, 1, 1, 1])
    graph = helper.make_graph(g.nodes + [helper.make_node("Identity", [y], ["y"])], g.name,
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 3, 5, 6])],
                              [helper.make_tensor_value_info("y", F32, None)], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.rng.integers(0, 256, (2, 3, 5, 6)).astype(np.uint8)}


def cast_activation_to_int8():
    def body(g, y):
        return g.n("Cast", [g.n("Cast", [g.n("Mul", [y, g.w(np.float32(20))])], to=TensorProto.INT8)], to=F32)
    return _simple("cast_activation_to_int8", 13, body)


def cast_activation_to_int64_floor():
    """A float activation truncated by Cast to int64 and back (a quantization step): refused or exact."""
    def body(g, y):
        return g.n("Cast", [g.n("Cast", [g.n("Mul", [y, g.w(np.float32(4))])], to=I64)], to=F32)
    return _simple("cast_activation_to_int64_floor", 13, body)


def bool_cast_mask_multiply():
    """Greater -> Cast(float) -> Mul: a boolean mask used arithmetically."""
    def body(g, y):
        return g.n("Mul", [y, g.n("Cast", [g.n("Greater", [y, g.w(np.float32(0.1))])], to=F32)])
    return _simple("bool_cast_mask_multiply", 13, body)


def einsum_matmul_tokens():
    """Einsum 'bij,jk->bik' (a token projection) - the first round refused Einsum over channels."""
    def body(g, y):
        t = g.n("Transpose", [g.n("Reshape", [y, g.i64([0, 6, 42])])], perm=[0, 2, 1])
        return g.n("Einsum", [t, g.w(g.rng.standard_normal((6, 5)))], equation="bij,jk->bik")
    return _simple("einsum_matmul_tokens", 12, body)


def reduce_l2_input_opset18_noop_empty_axes():
    """ReduceL2-18 with an empty axes tensor and noop_with_empty_axes=1: each element reduced over no axes,
    sqrt(x^2) = |x| (onnxruntime and onnx.reference agree)."""
    def body(g, y):
        return g.n("ReduceL2", [y, g.w(np.zeros(0, np.int64), dtype=np.int64)], keepdims=1, noop_with_empty_axes=1)
    return _simple("reduce_l2_input_opset18_noop_empty_axes", 18, body)


def depthwise_multiplier2():
    """Depthwise conv with a channel multiplier (group = C_in, C_out = 2 C_in: tf2onnx's
    DepthwiseConv2D(depth_multiplier=2))."""
    return _simple("depthwise_multiplier2", 13, lambda g, y: g.conv(y, 6, 12, 3, group=6, pads=[1, 1, 1, 1]))


def matmul_over_width_4d():
    return _simple("matmul_over_width_4d", 13, lambda g, y: g.n("MatMul", [y, g.w(g.rng.standard_normal((7, 5)))]))


def transpose_swap_hw_then_conv():
    return _simple("transpose_swap_hw_then_conv", 13,
                   lambda g, y: g.conv(g.n("Transpose", [y], perm=[0, 1, 3, 2]), 6, 4, 3))


def transpose_0213_output():
    return _simple("transpose_0213_output", 13, lambda g, y: g.n("Transpose", [y], perm=[0, 2, 1, 3]))


def pow_negative_exponents():
    def body(g, y):
        y = g.n("Add", [g.n("Sigmoid", [y]), g.w(np.float32(0.2))])
        return g.n("Add", [g.n("Pow", [y, g.w(np.float32(-1))]), g.n("Pow", [y, g.w(np.float32(-2))])])
    return _simple("pow_negative_exponents", 13, body)


def f_normalize_reduce_l2_div():
    """F.normalize as torch exports it: x / ReduceL2(x, axes=[1], keepdims=1)."""
    return _simple("f_normalize_reduce_l2_div", 13,
                   lambda g, y: g.n("Div", [y, g.n("ReduceL2", [y], axes=[1], keepdims=1)]))


def constant_of_shape_from_shape():
    """ConstantOfShape(Shape(x)[1:]) (a per-sample constant map) added to the activation."""
    def body(g, y):
        c = g.n("ConstantOfShape", [g.n("Slice", [g.n("Shape", [y]), g.i64([1]), g.i64([4])])],
                value=helper.make_tensor("v", F32, [1], [0.5]))
        return g.n("Add", [y, c])
    return _simple("constant_of_shape_from_shape", 13, body)


def resize13_nearest_down_default_attrs():
    return _simple("resize13_nearest_down_default_attrs", 13, lambda g, y: g.n(
        "Resize", [y, "", g.w(np.array([1, 1, 0.5, 0.5], np.float32))], mode="nearest"), in_shape=(3, 9, 10))


def resize13_linear_down_fractional():
    return _simple("resize13_linear_down_fractional", 13, lambda g, y: g.n(
        "Resize", [y, "", g.w(np.array([1, 1, 0.6, 0.75], np.float32))], mode="linear"), in_shape=(3, 10, 12))


def avgpool_ceil_exclude_pad():
    return _simple("avgpool_ceil_exclude_pad", 13, lambda g, y: g.n(
        "AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
        count_include_pad=0), in_shape=(3, 8, 9))


def gemm_alpha_without_c():
    return _simple("gemm_alpha_without_c", 13, lambda g, y: g.n(
        "Gemm", [g.n("Flatten", [y]), g.w(g.rng.standard_normal((6 * 6 * 7, 4)) / 10)], alpha=0.5))


def where_cond_broadcast_over_channels():
    def body(g, y):
        c = g.n("Greater", [g.n("ReduceMax", [y], axes=[1], keepdims=1), g.w(np.float32(0.5))])
        return g.n("Where", [c, y, g.w(np.float32(0.0))])
    return _simple("where_cond_broadcast_over_channels", 13, body)


def argmax_cast_int32_and_float():
    def body(g, y):
        a = g.n("ArgMax", [y], axis=1, keepdims=1)
        return [_out(g, g.n("Cast", [a], to=TensorProto.INT32), "a32", TensorProto.INT32),
                _out(g, g.n("Add", [g.n("Cast", [a], to=F32), y]))]
    return _simple("argmax_cast_int32_and_float", 13, body)


def lp_normalization():
    return _simple("lp_normalization", 13, lambda g, y: g.n("LpNormalization", [y], axis=1, p=2))


def mean_variance_normalization():
    return _simple("mean_variance_normalization", 13, lambda g, y: g.n("MeanVarianceNormalization", [y]))


def hardmax_channels():
    return _simple("hardmax_channels", 13, lambda g, y: g.n("Hardmax", [y], axis=1))


def gather_elements():
    return _simple("gather_elements", 13, lambda g, y: g.n(
        "GatherElements", [y, g.w(np.zeros((1, 6, 6, 7), np.int64), dtype=np.int64)], axis=1))


def gather_2d_indices():
    return _simple("gather_2d_indices", 13, lambda g, y: g.n(
        "Gather", [y, g.w(np.array([[0, 1], [2, 3]], np.int64), dtype=np.int64)], axis=1))


def resize18_antialias_nearest_down():
    """antialias=1 with mode nearest: the spec ignores it, onnxruntime refuses the node; fastnorm runs a
    plain nearest resize (checked against onnxruntime on the file without the attribute)."""
    return _simple("resize18_antialias_nearest_down", 18, lambda g, y: g.n(
        "Resize", [y, "", g.w(np.array([1, 1, 0.5, 0.5], np.float32))], mode="nearest", antialias=1),
        in_shape=(3, 8, 10))


def model_local_function():
    """A node calling a model-local function (FunctionProto in a custom domain, as onnxscript writes)."""
    g = G("model_local_function", 13)
    w = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, name="W")
    fn = helper.make_function("custom.fns", "ConvRelu", ["a", "wt"], ["b"],
                              [helper.make_node("Conv", ["a", "wt"], ["c"], pads=[1, 1, 1, 1]),
                               helper.make_node("Relu", ["c"], ["b"])], [helper.make_opsetid("", 13)])
    graph = helper.make_graph([helper.make_node("ConvRelu", ["x", w], ["y"], domain="custom.fns", name="cr")], g.name,
                              [helper.make_tensor_value_info("x", F32, ["N", 3, 5, 6])],
                              [helper.make_tensor_value_info("y", F32, None)], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("custom.fns", 1)],
                          functions=[fn])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6)}


def node_domain_ai_onnx_explicit():
    """Nodes whose domain is spelled 'ai.onnx' (the default domain's other name)."""
    g = G("node_domain_ai_onnx_explicit", 13)
    y = g.n("Relu", [g.conv("x", 3, 4, 3)])
    for n in g.nodes:
        n.domain = "ai.onnx"
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


# ============================================================== (h) graph oddities
def unused_initializers_and_inputs_listed():
    """Initializers nobody reads (an old head), some of them listed as graph inputs too (IR 3 style)."""
    g = G("unused_initializers", 11)
    y = g.n("Relu", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    g.w(g.rng.standard_normal((1000, 4)), name="old_fc.weight")
    g.w(g.rng.standard_normal(1000), name="old_fc.bias")
    g.inits.append(numpy_helper.from_array(np.array([1, 2, 3], np.int64), "unused_int"))
    return (g.model([("x", ["N", 3, 5, 6])], [_out(g, y)], ir_version=3, inits_as_inputs=True),
            {"x": g.x(2, 3, 5, 6)})


def _dead(name, dangling):
    g = G(name, 13)
    y = g.n("Relu", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    g.nodes.append(helper.make_node("Sigmoid", ["dead_a"], ["dead_b"], name="dead_late"))
    g.nodes.append(helper.make_node("Tanh", [y], ["dead_a"], name="dead_early"))
    if dangling:
        g.nodes.append(helper.make_node("Add", ["dead_b", "nowhere"], ["dead_c"], name="dead_dangling"))
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def dead_nodes_out_of_order():
    """A dead branch (not reaching any output) whose nodes are out of topological order."""
    return _dead("dead_nodes_out_of_order", False)


def dead_node_dangling_input():
    """A dead node reading a value nobody produces (onnxruntime refuses the file; only live nodes matter
    to fastnorm)."""
    return _dead("dead_node_dangling_input", True)


def initializer_shadows_input_fed():
    """A graph input with an initializer of the same name (IR >= 4: a default the caller may override).
    Fed explicitly here."""
    g = G("initializer_shadows_input", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Mul", [y, "gain"])
    g.inits.append(numpy_helper.from_array(np.array([2.0], np.float32), "gain"))
    graph = helper.make_graph(g.nodes + [helper.make_node("Identity", [y], ["y"])], g.name,
                              [helper.make_tensor_value_info("x", F32, ["N", 3, 5, 6]),
                               helper.make_tensor_value_info("gain", F32, [1])],
                              [helper.make_tensor_value_info("y", F32, None)], g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6), "gain": np.array([3.0], np.float32)}


def initializer_shadows_input_default():
    """The same file, the overridable input not fed: the initializer's value is used."""
    data, feeds = initializer_shadows_input_fed()
    return data, {"x": feeds["x"]}


def output_is_initializer():
    g = G("output_is_initializer", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    c = g.w(np.arange(4, dtype=np.float32), name="const_out")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y), (c, F32)]), {"x": g.x(2, 3, 5, 6)}


def output_is_graph_input():
    g = G("output_is_graph_input", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y), ("x", F32)]), {"x": g.x(2, 3, 5, 6)}


def same_output_listed_twice():
    g = G("same_output_listed_twice", 13)
    y = g.n("Relu", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    o = _out(g, y)
    return g.model([("x", ["N", 3, 5, 6])], [o, o]), {"x": g.x(2, 3, 5, 6)}


def zero_size_channel_slice_concat():
    """A Slice that selects no channels, concatenated with the rest (exporters' empty slices)."""
    def body(g, y):
        e = g.n("Slice", [y, g.i64([4]), g.i64([4]), g.i64([1])])
        return g.n("Concat", [y, e], axis=1)
    return _simple("zero_size_channel_slice_concat", 13, body)


def zero_size_initializer_concat_shape():
    """A Concat of a shape with an empty int64 initializer (a Reshape target): no element added."""
    def body(g, y):
        t = g.n("Concat", [g.i64([0, -1]), g.w(np.zeros(0, np.int64), dtype=np.int64)], axis=0)
        return g.n("Reshape", [y, t])
    return _simple("zero_size_initializer_concat_shape", 13, body)


def zero_size_input_dim():
    g = G("zero_size_input_dim", 13)
    y = g.n("Relu", ["x"])
    return g.model([("x", ["N", 3, 0, 4])], [_out(g, y)]), {"x": np.zeros((2, 3, 0, 4), np.float32)}


def no_nodes_output_is_input():
    graph = helper.make_graph([], "no_nodes", [helper.make_tensor_value_info("x", F32, ["N", 3, 4, 5])],
                              [helper.make_tensor_value_info("x", F32, ["N", 3, 4, 5])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString(), {"x": np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)}


def zero_size_h_slice_output():
    """A Slice selecting no rows (starts 3, ends 1 on H): an empty (N, C, 0, W) output, as onnxruntime
    returns it."""
    return _simple("zero_size_h_slice_output", 13,
                   lambda g, y: g.n("Slice", [y, g.i64([3]), g.i64([1]), g.i64([2])]))


def zero_size_h_slice_concat():
    """An empty row slice concatenated back along H (nothing added)."""
    return _simple("zero_size_h_slice_concat", 13, lambda g, y: g.n(
        "Concat", [y, g.n("Slice", [y, g.i64([2]), g.i64([2]), g.i64([2])])], axis=2))


def zero_size_channel_split():
    """Split with a zero-size part on the channels (split [0, C])."""
    def body(g, y):
        a, b = g.n("Split", [y, g.i64([0, 6])], nout=2, axis=1)
        return g.n("Concat", [a, g.n("Relu", [b])], axis=1)
    return _simple("zero_size_channel_split", 13, body)


def _plain(name, nodes, inits, outs, ins=(("x", ["N", 3, 5, 6]),)):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, F32, s) for n, s in ins],
                              [helper.make_tensor_value_info(o, F32, None) for o in outs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    x = np.random.default_rng(len(name)).standard_normal((2, 3, 5, 6)).astype(np.float32)
    return m.SerializeToString(), {"x": x}


def _w4(seed=0):
    w = np.random.default_rng(seed).standard_normal((4, 3, 3, 3)) / 4
    return numpy_helper.from_array(w.astype(np.float32), "W")


def duplicate_initializer_names():
    """Two initializers named 'W' (the second all zeros): an invalid file (names are unique); onnxruntime
    runs it with the first."""
    return _plain("duplicate_initializer_names", [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])],
                  [_w4(), numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "W")], ["y"])


def two_nodes_write_one_value():
    """Relu and Sigmoid both write 'r' (SSA broken); onnxruntime refuses the file."""
    return _plain("two_nodes_write_one_value", [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
                                                helper.make_node("Relu", ["c"], ["r"]),
                                                helper.make_node("Sigmoid", ["c"], ["r"])], [_w4()], ["r"])


def node_overwrites_graph_input():
    """A node writes the graph input's name 'x' (SSA broken); onnxruntime refuses the file."""
    return _plain("node_overwrites_graph_input", [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
                                                  helper.make_node("Relu", ["c"], ["x"]),
                                                  helper.make_node("Add", ["x", "c"], ["y"])], [_w4()], ["y"])


def graph_input_listed_twice():
    return _plain("graph_input_listed_twice", [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])],
                  [_w4()], ["y"], ins=(("x", ["N", 3, 5, 6]), ("x", ["N", 3, 5, 6])))


def aliased_outputs_identity_chain():
    """Outputs that are Identity aliases of each other and of an intermediate: o2 = Id(o1), o1 = Id(c), c."""
    return _plain("aliased_outputs_identity_chain", [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
                                                     helper.make_node("Identity", ["c"], ["o1"]),
                                                     helper.make_node("Identity", ["o1"], ["o2"])], [_w4()],
                  ["o2", "o1", "c"])


def input_aliased_twice_as_outputs():
    return _plain("input_aliased_twice_as_outputs", [helper.make_node("Identity", ["x"], ["o1"]),
                                                     helper.make_node("Identity", ["x"], ["o2"])], [], ["o1", "o2"])


def unused_graph_input():
    """A second graph input nothing reads (fed anyway, as onnxruntime requires)."""
    data, feeds = _plain("unused_graph_input", [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1])],
                         [_w4()], ["y"], ins=(("x", ["N", 3, 5, 6]), ("z", ["N", 2])))
    feeds["z"] = np.ones((2, 2), np.float32)
    return data, feeds


def _opset_model(name, imports, softmax_axis=1):
    """Conv then Softmax(axis=1) on a 4D map: opset 11 and 13 give different answers, so the opset the
    importer picks shows."""
    g = G(name, 13)
    y = g.n("Softmax", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])], axis=softmax_axis)
    m = helper.make_model(helper.make_graph(g.nodes + [helper.make_node("Identity", [y], ["y"])], name,
                                            [helper.make_tensor_value_info("x", F32, ["N", 3, 5, 6])],
                                            [helper.make_tensor_value_info("y", F32, None)], g.inits),
                          opset_imports=imports)
    m.ir_version = 8
    return m.SerializeToString(), {"x": g.x(2, 3, 5, 6)}


def opset_import_default_twice_different():
    return _opset_model("opset_twice_diff", [helper.make_opsetid("", 11), helper.make_opsetid("ai.onnx", 13)])


def opset_import_default_twice_same():
    return _opset_model("opset_twice_same", [helper.make_opsetid("", 13), helper.make_opsetid("", 13)])


def opset_import_no_default_domain():
    return _opset_model("opset_no_default", [helper.make_opsetid("com.microsoft", 1)])


def opset_import_empty():
    return _opset_model("opset_empty", [])


def opset_import_newer_than_onnx():
    return _opset_model("opset_newer", [helper.make_opsetid("", 30)])


_BUILDERS = [v for k, v in list(globals().items()) if isinstance(v, _types.FunctionType) and not k.startswith("_")
             and v.__module__ == __name__ and v.__code__.co_argcount == 0 and k not in ("external_data_model",)]
CASES = {f.__name__: f for f in _BUILDERS}
