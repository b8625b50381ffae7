"""Hand-built ONNX graphs in the styles of converters other than torch.onnx.export (tf2onnx / keras2onnx,
the ONNX Model Zoo's legacy opset 7-9 files, paddle2onnx / mxnet) and with dynamic shapes. Each builder
returns (model bytes, {input name: array}); EXTRA_FEEDS[name] gives further input dicts (other batch sizes /
spatial sizes) for the models whose inputs are dynamic. Random weights seeded by the case's name; BN stats
sane (var > 0). Used by tests/test_onnx_styles.py with onnxruntime as the reference."""
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
I64 = TensorProto.INT64
IR_FOR_OPSET = {6: 3, 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9,
                20: 9, 21: 10}


class G:
    """A tiny graph builder: g.w(array) -> initializer name; g.n(op, inputs, **attrs) -> output name(s)."""

    def __init__(self, name, opset):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.nodes, self.inits, self.k = [], [], 0

    def uid(self, base):
        self.k += 1
        return "%s_%d" % (base, self.k)

    def w(self, a, name=None, dtype=np.float32):
        name = name or self.uid("w")
        self.inits.append(numpy_helper.from_array(np.asarray(a, dtype=dtype), name))
        return name

    def i64(self, vals):
        return self.w(np.asarray(vals, np.int64), dtype=np.int64)

    def n(self, op, inputs, nout=1, **attrs):
        outs = [self.uid(op.lower()) for _ in range(nout)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.uid("n_" + op), **attrs))
        return outs[0] if nout == 1 else outs

    # ----- layers with random weights
    def conv(self, x, cin, cout, k, group=1, bias=True, **attrs):
        kh, kw = (k, k) if isinstance(k, int) else k
        fan = cin // group * kh * kw
        wt = self.w(self.rng.standard_normal((cout, cin // group, kh, kw)) / np.sqrt(fan))
        ins = [x, wt] + ([self.w(self.rng.standard_normal(cout) * 0.1)] if bias else [])
        return self.n("Conv", ins, kernel_shape=[kh, kw], group=group, **attrs)

    def bn_params(self, c):
        return [self.w(self.rng.uniform(0.5, 1.5, c)), self.w(self.rng.standard_normal(c) * 0.2),
                self.w(self.rng.standard_normal(c) * 0.2), self.w(self.rng.uniform(0.5, 2.0, c))]

    def bn(self, x, c, **attrs):
        return self.n("BatchNormalization", [x] + self.bn_params(c), **attrs)

    def clip(self, x, lo=0.0, hi=6.0):
        """Relu6 the way the opset writes it: attributes before 11, inputs from 11 (None: left out)."""
        if self.opset < 11:
            kw = {}
            if lo is not None:
                kw["min"] = lo
            if hi is not None:
                kw["max"] = hi
            return self.n("Clip", [x], **kw)
        ins = [x, "" if lo is None else self.w(np.float32(lo)), "" if hi is None else self.w(np.float32(hi))]
        while ins[-1] == "":
            ins.pop()
        return self.n("Clip", ins)

    def model(self, inputs, outputs, ir_version=None, inits_as_inputs=False, value_info=False):
        """inputs: [(name, shape with str / None for dynamic dims)]; outputs: [(value name, elem type)]."""
        ins = [helper.make_tensor_value_info(nm, F32, shp) for nm, shp in inputs]
        if inits_as_inputs:
            ins += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in self.inits]
        outs = [helper.make_tensor_value_info(nm, et, None) for nm, et in outputs]
        graph = helper.make_graph(self.nodes, self.name, ins, outs, initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="onnx_styles")
        m.ir_version = ir_version or IR_FOR_OPSET.get(self.opset, 8)
        if value_info:
            m = onnx.shape_inference.infer_shapes(m)
        else:
            del m.graph.value_info[:]
        return m.SerializeToString()

    def x(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)


def _out(g, y, name="y", et=F32):
    g.nodes.append(helper.make_node("Identity", [y], [name], name=g.uid("n_out")))
    return (name, et)


def _to_nchw(g, x):
    return g.n("Transpose", [x], perm=[0, 3, 1, 2])


def _to_nhwc(g, x):
    return g.n("Transpose", [x], perm=[0, 2, 3, 1])


# ============================================================== tf2onnx / keras2onnx style
def tf_nhwc_same_upper():
    opset = 13
    """NHWC input, Transpose in, Conv SAME_UPPER s1 + unfused BN + Relu6 (Clip), Conv SAME_UPPER s2 on an even
    size, Transpose back."""
    g = G("tf_nhwc_same_upper", opset)
    x = _to_nchw(g, "input_1")
    y = g.conv(x, 3, 8, 3, auto_pad="SAME_UPPER")
    y = g.clip(g.bn(y, 8, epsilon=1e-3))
    y = g.conv(y, 8, 12, 3, strides=[2, 2], auto_pad="SAME_UPPER")
    y = g.n("Relu", [y])
    y = _to_nhwc(g, y)
    return g.model([("input_1", ["N", 16, 16, 3])], [_out(g, y)]), {"input_1": g.x(2, 16, 16, 3)}


def _same_case(name, mode, hw, k, s, opset=11):
    g = G(name, opset)
    x = _to_nchw(g, "x")
    y = g.conv(x, 3, 6, k, strides=[s, s], auto_pad=mode)
    y = g.n("Relu", [y])
    y = g.conv(y, 6, 5, k, strides=[s, s], auto_pad=mode)
    y = _to_nhwc(g, y)
    h, w = hw
    return g.model([("x", ["N", h, w, 3])], [_out(g, y)]), {"x": g.x(2, h, w, 3)}


def tf_same_upper_s2_odd():
    return _same_case("tf_same_upper_s2_odd", "SAME_UPPER", (15, 13), 3, 2)


def tf_same_upper_k2_s2_odd():
    return _same_case("tf_same_upper_k2_s2_odd", "SAME_UPPER", (15, 14), 2, 2)


def tf_same_lower_s2_odd():
    return _same_case("tf_same_lower_s2_odd", "SAME_LOWER", (15, 13), 4, 2)


def tf_same_lower_s1_even_k():
    return _same_case("tf_same_lower_s1_even_k", "SAME_LOWER", (10, 9), 4, 1)


def tf_valid_s2():
    return _same_case("tf_valid_s2", "VALID", (15, 16), 3, 2)


def tf_maxpool_same_upper():
    g = G("tf_maxpool_same_upper", 11)
    x = _to_nchw(g, "x")
    y = g.conv(x, 3, 6, 3, auto_pad="SAME_UPPER")
    y = g.n("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    y = g.n("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 15, 15, 3])], [_out(g, y)]), {"x": g.x(2, 15, 15, 3)}


def tf_pad_input_opset11():
    """Explicit Pad (pads as an input) before a VALID stride-2 Conv (asymmetric, as tf2onnx writes
    'SAME' it can't express) and before a MaxPool."""
    g = G("tf_pad_input_opset11", 11)
    x = _to_nchw(g, "x")
    p = g.n("Pad", [x, g.i64([0, 0, 0, 0, 0, 0, 1, 1]), g.w(np.float32(0))], mode="constant")
    y = g.conv(p, 3, 8, 3, strides=[2, 2], auto_pad="VALID")
    y = g.n("Relu", [y])
    p = g.n("Pad", [y, g.i64([0, 0, 1, 1, 0, 0, 1, 1])], mode="constant")
    y = g.n("MaxPool", [p], kernel_shape=[3, 3], strides=[2, 2])
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 16, 16, 3])], [_out(g, y)]), {"x": g.x(2, 16, 16, 3)}


def tf_pad_nhwc_input():
    """Pad in NHWC (pads on axes 1, 2) before the transpose."""
    g = G("tf_pad_nhwc_input", 13)
    p = g.n("Pad", ["x", g.i64([0, 1, 2, 0, 0, 2, 1, 0])], mode="constant")
    y = g.conv(_to_nchw(g, p), 3, 4, 3, strides=[2, 2])
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 12, 12, 3])], [_out(g, y)]), {"x": g.x(2, 12, 12, 3)}


def tf_pad_attr_opset10():
    g = G("tf_pad_attr_opset10", 10)
    x = _to_nchw(g, "x")
    p = g.n("Pad", [x], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="constant", value=0.0)
    y = g.conv(p, 3, 8, 3, strides=[2, 2])
    y = g.clip(y)
    p = g.n("Pad", [y], pads=[0, 0, 0, 0, 0, 0, 1, 1], mode="constant", value=-1e9)
    y = g.n("MaxPool", [p], kernel_shape=[2, 2], strides=[2, 2])
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 15, 15, 3])], [_out(g, y)]), {"x": g.x(2, 15, 15, 3)}


def tf_bn_nhwc_transposes():
    """Every op wrapped in its own Transpose pair (tf2onnx without the transpose optimizer), BN unfused."""
    g = G("tf_bn_nhwc_transposes", 13)
    y = "x"
    cin = 3
    for cout in (8, 8):
        y = _to_nhwc(g, g.conv(_to_nchw(g, y), cin, cout, 3, pads=[1, 1, 1, 1]))
        y = _to_nhwc(g, g.bn(_to_nchw(g, y), cout, epsilon=1e-3))
        y = g.n("Relu", [y])
        cin = cout
    return g.model([("x", ["N", 10, 10, 3])], [_out(g, y)]), {"x": g.x(2, 10, 10, 3)}


def tf_decomposed_bn():
    """BN as Mul + Add with (C,1,1) and (1,C,1,1) constants in NCHW, then (C,) broadcast over NHWC."""
    g = G("tf_decomposed_bn", 13)
    x = _to_nchw(g, "x")
    y = g.conv(x, 3, 8, 3, pads=[1, 1, 1, 1], bias=False)
    y = g.n("Mul", [y, g.w(g.rng.uniform(0.5, 1.5, (8, 1, 1)))])
    y = g.n("Add", [y, g.w(g.rng.standard_normal((1, 8, 1, 1)))])
    y = g.n("Relu", [y])
    y = _to_nhwc(g, y)
    y = g.n("Mul", [y, g.w(g.rng.uniform(0.5, 1.5, 8))])
    y = g.n("Add", [g.w(g.rng.standard_normal(8)), y])
    y = g.clip(y)
    return g.model([("x", ["N", 9, 9, 3])], [_out(g, y)]), {"x": g.x(2, 9, 9, 3)}


def _clip_case(name, opset, lo, hi):
    g = G(name, opset)
    y = g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])
    y = g.clip(g.n("Mul", [y, g.w(np.float32(4.0))]), lo, hi)
    y = g.conv(y, 6, 4, 1)
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def clip_attr_opset10():
    return _clip_case("clip_attr_opset10", 10, 0.0, 6.0)


def clip_attr_min_only_opset6():
    return _clip_case("clip_attr_min_only_opset6", 7, 0.0, None)


def clip_inputs_opset11():
    return _clip_case("clip_inputs_opset11", 11, 0.0, 6.0)


def clip_inputs_no_max_opset13():
    return _clip_case("clip_inputs_no_max_opset13", 13, -1.0, None)


def clip_inputs_no_min_opset13():
    return _clip_case("clip_inputs_no_min_opset13", 13, None, 2.0)


def tf_depthwise_same():
    """MobileNet block: depthwise Conv group=C with SAME_UPPER stride 2, pointwise, Relu6."""
    g = G("tf_depthwise_same", 13)
    x = _to_nchw(g, "x")
    y = g.clip(g.bn(g.conv(x, 3, 8, 3, strides=[2, 2], auto_pad="SAME_UPPER", bias=False), 8))
    y = g.clip(g.bn(g.conv(y, 8, 8, 3, group=8, strides=[2, 2], auto_pad="SAME_UPPER", bias=False), 8))
    y = g.clip(g.bn(g.conv(y, 8, 16, 1, bias=False), 16))
    y = g.conv(y, 16, 16, 3, group=16, auto_pad="SAME_UPPER")
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 17, 17, 3])], [_out(g, y)]), {"x": g.x(2, 17, 17, 3)}


def _gemm_case(name, transB, alpha, beta, flatten, c_shape):
    g = G(name, 13)
    y = g.conv("x", 3, 4, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    y = g.n("Relu", [y])
    K = 4 * 4 * 4
    if flatten:
        y = g.n("Flatten", [y], axis=1)
    else:
        y = g.n("Reshape", [y, g.i64([-1, K])])
    wt = g.rng.standard_normal((10, K) if transB else (K, 10)) / np.sqrt(K)
    y = g.n("Gemm", [y, g.w(wt), g.w(g.rng.standard_normal(c_shape))], transB=transB, alpha=alpha, beta=beta)
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def gemm_reshape_transB0_alpha_beta():
    return _gemm_case("gemm_reshape_transB0_alpha_beta", 0, 0.5, 2.0, False, (10,))


def gemm_flatten_transB1_alpha_beta():
    return _gemm_case("gemm_flatten_transB1_alpha_beta", 1, 1.5, 0.25, True, (1, 10))


def gemm_scalar_c():
    return _gemm_case("gemm_scalar_c", 1, 1.0, 3.0, True, ())


def matmul_add():
    g = G("matmul_add", 13)
    x = _to_nchw(g, "x")
    y = g.n("Relu", [g.conv(x, 3, 4, 3, pads=[1, 1, 1, 1])])
    y = _to_nhwc(g, y)
    y = g.n("Reshape", [y, g.i64([-1, 6 * 6 * 4])])
    y = g.n("MatMul", [y, g.w(g.rng.standard_normal((144, 16)) / 12)])
    y = g.n("Add", [y, g.w(g.rng.standard_normal(16))])
    y = g.n("Relu", [y])
    y = g.n("MatMul", [y, g.w(g.rng.standard_normal((16, 5)) / 4)])
    y = g.n("Add", [g.w(g.rng.standard_normal(5)), y])
    y = g.n("Softmax", [y], axis=-1)
    return g.model([("x", ["N", 6, 6, 3])], [_out(g, y)]), {"x": g.x(2, 6, 6, 3)}


def _squeeze_case(name, opset):
    """keras GlobalAveragePooling2D: ReduceMean keepdims=1 -> Squeeze([2, 3]) -> Gemm -> Unsqueeze back."""
    g = G(name, opset)
    y = g.n("Relu", [g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])])
    y = g.n("GlobalAveragePool", [y])
    if opset < 13:
        y = g.n("Squeeze", [y], axes=[2, 3])
    else:
        y = g.n("Squeeze", [y, g.i64([2, 3])])
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((6, 8))), g.w(g.rng.standard_normal(6))], transB=1)
    if opset < 13:
        y = g.n("Unsqueeze", [y], axes=[2, 3])
    else:
        y = g.n("Unsqueeze", [y, g.i64([-1, 2])])
    return g.model([("x", ["N", 3, 7, 7])], [_out(g, y)]), {"x": g.x(2, 3, 7, 7)}


def squeeze_unsqueeze_attr_opset11():
    return _squeeze_case("squeeze_unsqueeze_attr_opset11", 11)


def squeeze_unsqueeze_input_opset13():
    return _squeeze_case("squeeze_unsqueeze_input_opset13", 13)


def _reducemean_case(name, opset, keepdims):
    g = G(name, opset)
    x = _to_nchw(g, "x")
    y = _to_nhwc(g, g.n("Relu", [g.conv(x, 3, 8, 3, pads=[1, 1, 1, 1])]))
    if opset < 18:
        y = g.n("ReduceMean", [y], axes=[1, 2], keepdims=keepdims)
    else:
        y = g.n("ReduceMean", [y, g.i64([1, 2])], keepdims=keepdims)
    if not keepdims:
        y = g.n("MatMul", [y, g.w(g.rng.standard_normal((8, 5)))])
    return g.model([("x", ["N", 7, 9, 3])], [_out(g, y)]), {"x": g.x(2, 7, 9, 3)}


def reducemean_nhwc_keep0_opset13():
    return _reducemean_case("reducemean_nhwc_keep0_opset13", 13, 0)


def reducemean_nhwc_keep1_opset13():
    return _reducemean_case("reducemean_nhwc_keep1_opset13", 13, 1)


def reducemean_nhwc_keep0_opset18():
    return _reducemean_case("reducemean_nhwc_keep0_opset18", 18, 0)


def _softmax4d_case(name, opset, axis):
    """Softmax on a 4-D tensor: opset < 13 flattens from `axis` (one softmax over C*H*W), 13+ is per axis."""
    g = G(name, opset)
    y = g.conv("x", 3, 5, 3, pads=[1, 1, 1, 1])
    y = g.n("Softmax", [y], axis=axis)
    return g.model([("x", ["N", 3, 4, 6])], [_out(g, y)]), {"x": g.x(2, 3, 4, 6)}


def softmax4d_axis1_opset11():
    return _softmax4d_case("softmax4d_axis1_opset11", 11, 1)


def softmax4d_axis1_opset13():
    return _softmax4d_case("softmax4d_axis1_opset13", 13, 1)


def softmax4d_axis2_opset11():
    return _softmax4d_case("softmax4d_axis2_opset11", 11, 2)


def softmax4d_axisneg1_opset11():
    return _softmax4d_case("softmax4d_axisneg1_opset11", 11, -1)


def logsoftmax4d_axis1_opset11():
    g = G("logsoftmax4d_axis1_opset11", 11)
    y = g.conv("x", 3, 5, 3, pads=[1, 1, 1, 1])
    y = g.n("LogSoftmax", [y], axis=1)
    return g.model([("x", ["N", 3, 4, 6])], [_out(g, y)]), {"x": g.x(2, 3, 4, 6)}


def softmax_nhwc_axisneg1_opset11():
    g = G("softmax_nhwc_axisneg1_opset11", 11)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 5, 1))
    y = g.n("Softmax", [y], axis=-1)
    return g.model([("x", ["N", 4, 6, 3])], [_out(g, y)]), {"x": g.x(2, 4, 6, 3)}


def keras_activations():
    """Sigmoid, HardSigmoid(0.2, 0.5) (keras' constants), HardSwish decomposed x * Relu6(x + 3) / 6,
    swish as x * Sigmoid(x)."""
    g = G("keras_activations", 13)
    x = _to_nchw(g, "x")
    y = g.conv(x, 3, 8, 3, pads=[1, 1, 1, 1])
    a = g.n("Sigmoid", [y])
    b = g.n("HardSigmoid", [y], alpha=0.2, beta=0.5)
    c = g.n("Div", [g.n("Mul", [y, g.clip(g.n("Add", [y, g.w(np.float32(3))]))]), g.w(np.float32(6))])
    d = g.n("Mul", [y, g.n("Sigmoid", [y])])
    y = g.n("Concat", [a, b, c, d], axis=1)
    y = g.conv(y, 32, 4, 1)
    y = g.n("Mul", [g.n("Mul", [y, g.w(np.float32(1 / 6))]), g.clip(g.n("Add", [y, g.w(np.float32(3))]))])
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 6, 6, 3])], [_out(g, y)]), {"x": g.x(2, 6, 6, 3, scale=2.0)}


def hardsigmoid_hardswish_ops():
    g = G("hardsigmoid_hardswish_ops", 14)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    y = g.n("Add", [g.n("HardSigmoid", [y], alpha=0.2, beta=0.5), g.n("HardSwish", [y])])
    return g.model([("x", ["N", 3, 6, 6])], [_out(g, y)]), {"x": g.x(2, 3, 6, 6, scale=3.0)}


def concat_axis3_nhwc():
    g = G("concat_axis3_nhwc", 13)
    a = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 4, 1))
    b = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 5, 3, pads=[1, 1, 1, 1]))
    y = g.n("Concat", [a, "x", b], axis=3)
    y = g.n("Relu", [y])
    y = _to_nhwc(g, g.conv(_to_nchw(g, y), 12, 6, 1))
    y = g.n("Concat", [y, y], axis=-1)
    return g.model([("x", ["N", 5, 7, 3])], [_out(g, y)]), {"x": g.x(2, 5, 7, 3)}


# ----- Resize / Upsample
def _resize_base(name, opset):
    g = G(name, opset)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    return g, y


def upsample_opset7_attr_nearest():
    g, y = _resize_base("upsample_opset7_attr_nearest", 7)
    y = g.n("Upsample", [y], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def upsample_opset9_input_nearest():
    g, y = _resize_base("upsample_opset9_input_nearest", 9)
    y = g.n("Upsample", [y, g.w(np.array([1, 1, 2, 3], np.float32))], mode="nearest")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def upsample_opset9_linear():
    g, y = _resize_base("upsample_opset9_linear", 9)
    y = g.n("Upsample", [y, g.w(np.array([1, 1, 2, 2], np.float32))], mode="linear")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def resize_opset10_nearest():
    g, y = _resize_base("resize_opset10_nearest", 10)
    y = g.n("Resize", [y, g.w(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def resize_opset10_linear():
    g, y = _resize_base("resize_opset10_linear", 10)
    y = g.n("Resize", [y, g.w(np.array([1, 1, 2, 2], np.float32))], mode="linear")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def _resize11(name, mode, ctm, scales=(1, 1, 2, 2), sizes=None, nearest_mode=None, roi=None, opset=11,
              hw=(5, 6), **extra):
    g, y = _resize_base(name, opset)
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm, **extra)
    if nearest_mode:
        attrs["nearest_mode"] = nearest_mode
    roi_name = g.w(np.array(roi if roi is not None else [], np.float32))
    if sizes is not None:
        ins = [y, roi_name, g.w(np.array([], np.float32)), g.i64(sizes)]
    else:
        ins = [y, roi_name, g.w(np.array(scales, np.float32))]
    y = g.n("Resize", ins, **attrs)
    h, w = hw
    return g.model([("x", ["N", 3, h, w])], [_out(g, y)]), {"x": g.x(2, 3, h, w)}


def resize11_nearest_asymmetric_floor():
    return _resize11("resize11_nearest_asymmetric_floor", "nearest", "asymmetric", nearest_mode="floor")


def resize11_nearest_halfpixel_round_prefer_floor():
    return _resize11("resize11_nearest_halfpixel_rpf", "nearest", "half_pixel", scales=(1, 1, 1.5, 2.5),
                     nearest_mode="round_prefer_floor")


def resize11_nearest_tf_half_pixel_for_nn():
    return _resize11("resize11_nearest_tf_half_pixel_for_nn", "nearest", "tf_half_pixel_for_nn",
                     scales=(1, 1, 2, 3), nearest_mode="round_prefer_ceil")


def resize11_nearest_sizes():
    return _resize11("resize11_nearest_sizes", "nearest", "asymmetric", sizes=(2, 4, 11, 9), nearest_mode="floor")


def resize11_linear_align_corners():
    return _resize11("resize11_linear_align_corners", "linear", "align_corners")


def resize11_linear_align_corners_sizes():
    return _resize11("resize11_linear_align_corners_sizes", "linear", "align_corners", sizes=(2, 4, 9, 13))


def resize11_linear_asymmetric():
    return _resize11("resize11_linear_asymmetric", "linear", "asymmetric", scales=(1, 1, 2, 1.5))


def resize11_linear_half_pixel():
    return _resize11("resize11_linear_half_pixel", "linear", "half_pixel", scales=(1, 1, 2.0, 0.5))


def resize11_linear_pytorch_half_pixel_sizes():
    return _resize11("resize11_linear_pytorch_half_pixel_sizes", "linear", "pytorch_half_pixel",
                     sizes=(2, 4, 1, 12))


def resize11_cubic_half_pixel():
    return _resize11("resize11_cubic_half_pixel", "cubic", "half_pixel", cubic_coeff_a=-0.5)


def resize11_tf_crop_and_resize():
    return _resize11("resize11_tf_crop_and_resize", "linear", "tf_crop_and_resize", sizes=(2, 4, 6, 6),
                     roi=[0, 0, 0.1, 0.2, 1, 1, 0.9, 0.8], extrapolation_value=0.0)


def resize13_linear_half_pixel_nhwc():
    """tf2onnx at opset 13 on NHWC: Resize on the (N, H, W, C) tensor, scales (1, 2, 2, 1)."""
    g = G("resize13_linear_half_pixel_nhwc", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 4, 3, pads=[1, 1, 1, 1]))
    y = g.n("Resize", [y, "", g.w(np.array([1, 2, 2, 1], np.float32))], mode="linear",
            coordinate_transformation_mode="half_pixel")
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


# ============================================================== ONNX Model Zoo / legacy style
def zoo_opset7_legacy():
    """opset 7, IR 3, initializers listed as graph inputs: BN spatial=1, Dropout ratio, LRN, AveragePool
    count_include_pad (opset 7 has none: default exclude), Sum of 3, Max, GlobalAveragePool, Flatten+Gemm."""
    g = G("zoo_opset7_legacy", 7)
    y = g.conv("data", 3, 8, 3, pads=[1, 1, 1, 1])
    y = g.bn(y, 8, spatial=1, epsilon=1e-5)
    y = g.n("Relu", [y])
    y = g.n("LRN", [y], size=3, alpha=1e-4, beta=0.75, bias=1.0)
    y = g.n("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    a = g.conv(y, 8, 8, 1)
    b = g.conv(y, 8, 8, 3, pads=[1, 1, 1, 1])
    c = g.n("AveragePool", [y], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    y = g.n("Sum", [a, b, c])
    y = g.n("Max", [y, a, g.n("Neg", [b])])
    y = g.n("Dropout", [y], ratio=0.5)
    y = g.n("GlobalAveragePool", [y])
    y = g.n("Flatten", [y], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((10, 8))), g.w(g.rng.standard_normal(10))], transB=1)
    y = g.n("Softmax", [y])
    return (g.model([("data", [1, 3, 12, 12])], [_out(g, y, "prob")], ir_version=3, inits_as_inputs=True),
            {"data": g.x(1, 3, 12, 12)})


def zoo_opset8_avgpool_count_include_pad():
    g = G("zoo_opset8_avgpool_cip", 8)
    y = g.conv("data", 3, 4, 3)
    a = g.n("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    b = g.n("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    y = g.n("Max", [a, b, g.n("Tanh", [a])])
    y = g.n("GlobalMaxPool", [y])
    return (g.model([("data", [1, 3, 11, 11])], [_out(g, y)], ir_version=3, inits_as_inputs=True),
            {"data": g.x(1, 3, 11, 11)})


def zoo_opset9_instnorm_prelu():
    """InstanceNormalization, PRelu slope (C,1,1), LeakyRelu, Tanh, Identity chains, value_info present."""
    g = G("zoo_opset9_instnorm_prelu", 9)
    y = g.conv("input", 3, 6, 3, pads=[1, 1, 1, 1])
    y = g.n("InstanceNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, 6)), g.w(g.rng.standard_normal(6))],
            epsilon=1e-5)
    y = g.n("PRelu", [y, g.w(g.rng.uniform(0.05, 0.3, (6, 1, 1)))])
    y = g.n("Identity", [g.n("Identity", [y])])
    y = g.conv(y, 6, 6, 3, pads=[1, 1, 1, 1])
    y = g.n("LeakyRelu", [y], alpha=0.1)
    y = g.n("Upsample", [y, g.w(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    y = g.n("Tanh", [g.conv(y, 6, 3, 3, pads=[1, 1, 1, 1])])
    return (g.model([("input", [1, 3, 8, 8])], [_out(g, y, "output")], ir_version=4, value_info=True),
            {"input": g.x(1, 3, 8, 8)})


def zoo_opset9_bn_no_value_info_dynamic():
    g = G("zoo_opset9_bn_dynamic", 9)
    y = g.bn(g.conv("data", 3, 8, 3, strides=[2, 2], pads=[1, 1, 1, 1]), 8)
    y = g.n("Relu", [y])
    y = g.n("Dropout", [y], ratio=0.3)
    y = g.n("Sum", [y, g.bn(g.conv(y, 8, 8, 3, pads=[1, 1, 1, 1]), 8), y])
    y = g.n("PRelu", [y, g.w(g.rng.uniform(0.05, 0.3, (8, 1, 1)))])
    y = g.n("GlobalAveragePool", [y])
    y = g.n("Reshape", [y, g.i64([0, -1])])
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((5, 8))), g.w(g.rng.standard_normal(5))], transB=1)
    return (g.model([("data", ["N", 3, 10, 10])], [_out(g, y)], ir_version=4, inits_as_inputs=True),
            {"data": g.x(3, 3, 10, 10)})


def zoo_opset9_dropout_two_outputs():
    """Dropout with its mask output declared (unused), as some old zoo models have."""
    g = G("zoo_opset9_dropout_mask", 9)
    y = g.n("Relu", [g.conv("data", 3, 4, 3)])
    y, _mask = g.n("Dropout", [y], nout=2, ratio=0.2)
    y = g.n("LeakyRelu", [y])
    return g.model([("data", [1, 3, 7, 7])], [_out(g, y)]), {"data": g.x(1, 3, 7, 7)}


def zoo_ir3_value_info_opset8():
    """IR 3 with value_info, Max of 4, Min, Mean, Identity."""
    g = G("zoo_ir3_value_info_opset8", 8)
    y = g.conv("data", 3, 4, 3, pads=[1, 1, 1, 1])
    z = g.conv("data", 3, 4, 1)
    y = g.n("Max", [y, z, g.n("Neg", [y]), g.n("Identity", [z])])
    y = g.n("Min", [y, g.n("Abs", [z])])
    y = g.n("Mean", [y, z, g.n("Tanh", [y])])
    return (g.model([("data", [1, 3, 6, 6])], [_out(g, y)], ir_version=3, inits_as_inputs=True, value_info=True),
            {"data": g.x(1, 3, 6, 6)})


def zoo_opset7_bn_is_test_opset6():
    """opset 6: BatchNormalization(is_test=1, spatial=1), Dropout(is_test=1). (onnxruntime runs opset 7+;
    the test falls back to onnx.reference.)"""
    g = G("zoo_opset6_is_test", 6)
    y = g.conv("data", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("BatchNormalization", [y] + g.bn_params(4), is_test=1, spatial=1, epsilon=1e-5)
    y = g.n("Relu", [y])
    y = g.n("Dropout", [y], is_test=1, ratio=0.5)
    return (g.model([("data", [1, 3, 6, 6])], [_out(g, y)], ir_version=3, inits_as_inputs=True),
            {"data": g.x(1, 3, 6, 6)})


# ============================================================== paddle2onnx / mxnet style
def _bn_eps(name, eps):
    g = G(name, 11)
    y = g.bn(g.conv("image", 3, 8, 3, pads=[1, 1, 1, 1], bias=False), 8, epsilon=eps, momentum=0.9)
    y = g.n("Relu", [y])
    # near-zero variance makes the epsilon matter
    p = g.bn_params(8)
    g.inits[-1] = numpy_helper.from_array(g.rng.uniform(1e-4, 5e-3, 8).astype(np.float32), p[3])
    y = g.n("BatchNormalization", [y] + p, epsilon=eps)
    y = g.n("Flatten", [y], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((8 * 6 * 6, 4)) / 17), g.w(np.zeros(4))])
    return g.model([("image", ["N", 3, 6, 6])], [_out(g, y)]), {"image": g.x(2, 3, 6, 6)}


def paddle_bn_eps_1e5():
    return _bn_eps("paddle_bn_eps_1e5", 1e-5)


def paddle_bn_eps_1e3():
    return _bn_eps("paddle_bn_eps_1e3", 1e-3)


def paddle_normalize_input_cast():
    """(Cast(x) - mean) / std with (1,3,1,1) constants, then a conv."""
    g = G("paddle_normalize_input_cast", 11)
    x = g.n("Cast", ["image"], to=F32)
    x = g.n("Sub", [x, g.w(np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1) * 255)])
    x = g.n("Div", [x, g.w(np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) * 255)])
    y = g.n("Relu", [g.bn(g.conv(x, 3, 6, 3, strides=[2, 2], pads=[1, 1, 1, 1]), 6)])
    return g.model([("image", ["N", 3, 9, 9])], [_out(g, y)]), {"image": g.rng.uniform(0, 255, (2, 3, 9, 9)).astype(np.float32)}


def paddle_shape_reshape():
    """Shape -> Gather(0) -> Unsqueeze -> Concat([n, -1]) -> Reshape (a batch-preserving flatten)."""
    g = G("paddle_shape_reshape", 11)
    y = g.n("Relu", [g.conv("image", 3, 4, 3, strides=[2, 2], pads=[1, 1, 1, 1])])
    s = g.n("Shape", [y])
    n = g.n("Gather", [s, g.w(np.array(0, np.int64), dtype=np.int64)], axis=0)
    n = g.n("Unsqueeze", [n], axes=[0])
    shp = g.n("Concat", [n, g.i64([-1])], axis=0)
    y = g.n("Reshape", [y, shp])
    y = g.n("MatMul", [y, g.w(g.rng.standard_normal((4 * 4 * 4, 3)) / 8)])
    return g.model([("image", ["N", 3, 8, 8])], [_out(g, y)]), {"image": g.x(3, 3, 8, 8)}


def paddle_shape_reshape_hw():
    """Shape-driven reshape that splits channels into groups: (n, 2, c/2, h, w) via Shape/Gather/Div."""
    g = G("paddle_shape_reshape_hw", 13)
    y = g.conv("image", 3, 8, 3, pads=[1, 1, 1, 1])
    s = g.n("Shape", [y])
    parts = []
    for i in (0, 2, 3):
        parts.append(g.n("Unsqueeze", [g.n("Gather", [s, g.w(np.array(i, np.int64), dtype=np.int64)], axis=0),
                                       g.i64([0])]))
    shp = g.n("Concat", [parts[0], g.i64([2, 4]), parts[1], parts[2]], axis=0)
    y = g.n("Reshape", [y, shp])
    y = g.n("Transpose", [y], perm=[0, 2, 1, 3, 4])
    shp2 = g.n("Concat", [parts[0], g.i64([-1]), parts[1], parts[2]], axis=0)
    y = g.n("Reshape", [y, shp2])
    y = g.conv(y, 8, 4, 1)
    return g.model([("image", ["N", 3, 5, 6])], [_out(g, y)]), {"image": g.x(2, 3, 5, 6)}


def convtranspose_output_padding():
    g = G("convtranspose_output_padding", 11)
    y = g.n("Relu", [g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])])
    wt = g.w(g.rng.standard_normal((6, 4, 3, 3)) / 5)
    y = g.n("ConvTranspose", [y, wt, g.w(g.rng.standard_normal(4))], kernel_shape=[3, 3], strides=[2, 2],
            pads=[1, 1, 1, 1], output_padding=[1, 1])
    return g.model([("x", ["N", 3, 5, 7])], [_out(g, y)]), {"x": g.x(2, 3, 5, 7)}


def convtranspose_output_shape():
    g = G("convtranspose_output_shape", 11)
    y = g.n("Relu", [g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])])
    wt = g.w(g.rng.standard_normal((6, 4, 4, 4)) / 5)
    y = g.n("ConvTranspose", [y, wt], kernel_shape=[4, 4], strides=[2, 2], output_shape=[11, 14])
    return g.model([("x", ["N", 3, 5, 7])], [_out(g, y)]), {"x": g.x(2, 3, 5, 7)}


def convtranspose_group_same_upper():
    g = G("convtranspose_group_same_upper", 11)
    y = g.n("Relu", [g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])])
    wt = g.w(g.rng.standard_normal((6, 2, 3, 3)) / 5)
    y = g.n("ConvTranspose", [y, wt], kernel_shape=[3, 3], strides=[2, 2], group=3, auto_pad="SAME_UPPER")
    return g.model([("x", ["N", 3, 5, 7])], [_out(g, y)]), {"x": g.x(2, 3, 5, 7)}


def convtranspose_dilated():
    g = G("convtranspose_dilated", 11)
    wt = g.w(g.rng.standard_normal((3, 4, 3, 3)) / 5)
    y = g.n("ConvTranspose", ["x", wt], kernel_shape=[3, 3], strides=[2, 3], dilations=[2, 1], pads=[0, 1, 1, 0])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def _pad_mode(name, mode, opset):
    g = G(name, opset)
    y = g.conv("x", 3, 4, 1)
    if opset < 11:
        y = g.n("Pad", [y], pads=[0, 0, 2, 1, 0, 0, 1, 2], mode=mode)
    else:
        y = g.n("Pad", [y, g.i64([0, 0, 2, 1, 0, 0, 1, 2])], mode=mode)
    y = g.conv(y, 4, 4, 3)
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def pad_reflect_opset11():
    return _pad_mode("pad_reflect_opset11", "reflect", 11)


def pad_edge_opset11():
    return _pad_mode("pad_edge_opset11", "edge", 11)


def pad_reflect_opset2_attr():
    return _pad_mode("pad_reflect_opset10_attr", "reflect", 10)


def pad_edge_opset18_axes():
    g = G("pad_edge_opset18_axes", 18)
    y = g.conv("x", 3, 4, 1)
    y = g.n("Pad", [y, g.i64([1, 2, 3, 0]), "", g.i64([2, -1])], mode="edge")
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def pad_negative():
    g = G("pad_negative", 13)
    y = g.conv("x", 3, 4, 1)
    y = g.n("Pad", [y, g.i64([0, 0, -1, 2, 0, 0, 1, -2])])
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def reduce_sum_max_keepdims():
    g = G("reduce_sum_max_keepdims", 13)
    y = g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])
    a = g.n("ReduceSum", [y, g.i64([1])], keepdims=1)
    b = g.n("ReduceMax", [y], axes=[1], keepdims=1)
    c = g.n("ReduceSum", [y, g.i64([2, 3])], keepdims=0)
    d = g.n("ReduceMax", [y], axes=[-1, -2], keepdims=0)
    y = g.n("Add", [g.n("Mul", [y, a]), b])
    e = g.n("Add", [c, d])
    return (g.model([("x", ["N", 3, 5, 6])], [_out(g, y), _out(g, e, "y2")]), {"x": g.x(2, 3, 5, 6)})


def reduce_opset18_noop_empty_axes():
    """ReduceSum at 18 with no axes input (reduce all, keepdims 0) and ReduceMax with noop_with_empty_axes."""
    g = G("reduce_opset18_noop_empty_axes", 18)
    y = g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])
    a = g.n("ReduceMax", [y, g.i64([])], keepdims=1, noop_with_empty_axes=1)
    b = g.n("ReduceSum", [y], keepdims=1)
    y = g.n("Add", [a, b])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def argmax_output():
    g = G("argmax_output", 11)
    y = g.conv("x", 3, 7, 3, pads=[1, 1, 1, 1])
    a = g.n("ArgMax", [y], axis=1, keepdims=0)
    g2 = g.n("GlobalAveragePool", [y])
    b = g.n("ArgMax", [g.n("Flatten", [g2], axis=1)], axis=-1, keepdims=1)
    return (g.model([("x", ["N", 3, 5, 6])], [_out(g, a, "seg", I64), _out(g, b, "cls", I64)]),
            {"x": g.x(2, 3, 5, 6)})


def topk_output():
    g = G("topk_output", 11)
    y = g.n("Flatten", [g.n("GlobalAveragePool", [g.conv("x", 3, 9, 3)])], axis=1)
    v, i = g.n("TopK", [y, g.i64([3])], nout=2, axis=-1, largest=1, sorted=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, v), _out(g, i, "idx", I64)]), {"x": g.x(2, 3, 5, 6)}


def _split_case(name, opset, sizes, mode):
    g = G(name, opset)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    n = len(sizes)
    if mode == "attr":
        parts = g.n("Split", [y], nout=n, axis=1, split=list(sizes))
    elif mode == "input":
        parts = g.n("Split", [y, g.i64(sizes)], nout=n, axis=1)
    elif mode == "num_outputs":
        parts = g.n("Split", [y], nout=n, axis=1, num_outputs=n)
    else:
        parts = g.n("Split", [y], nout=n, axis=1)
    parts = [g.n("Relu", [parts[0]])] + [g.n("Sigmoid", [p]) for p in parts[1:]]
    y = g.n("Concat", parts[::-1], axis=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def split_attr_opset11():
    return _split_case("split_attr_opset11", 11, (3, 5), "attr")


def split_input_opset13():
    return _split_case("split_input_opset13", 13, (2, 4, 2), "input")


def split_equal_opset11():
    return _split_case("split_equal_opset11", 11, (4, 4), "equal")


def split_num_outputs_opset18():
    return _split_case("split_num_outputs_opset18", 18, (3, 3, 2), "num_outputs")


def slice_steps():
    g = G("slice_steps", 13)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    a = g.n("Slice", [y, g.i64([0, 1]), g.i64([8, 9]), g.i64([1, 2]), g.i64([2, 2])])  # every other row, ch 0..7
    b = g.n("Slice", [y, g.i64([-1, 100]), g.i64([-100, 0]), g.i64([3, 1]), g.i64([-1, -2])])  # reversed
    y = g.n("Add", [g.n("Slice", [b, g.i64([0]), g.i64([4]), g.i64([2])]), a])
    return g.model([("x", ["N", 3, 9, 10])], [_out(g, y)]), {"x": g.x(2, 3, 9, 10)}


def slice_opset9_attr():
    g = G("slice_opset9_attr", 9)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    y = g.n("Slice", [y], starts=[2, 1], ends=[6, 1000], axes=[1, 3])
    return g.model([("x", ["N", 3, 9, 10])], [_out(g, y)]), {"x": g.x(2, 3, 9, 10)}


def elementwise_mix():
    """Where, Expand, Tile, Pow, Sqrt, Reciprocal, Exp, Log, Abs, Neg, Min, Mean."""
    g = G("elementwise_mix", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    pos = g.n("Abs", [y])
    a = g.n("Sqrt", [g.n("Add", [pos, g.w(np.float32(1e-3))])])
    b = g.n("Reciprocal", [g.n("Add", [pos, g.w(np.float32(1.0))])])
    c = g.n("Log", [g.n("Add", [g.n("Exp", [g.n("Neg", [pos])]), g.w(np.float32(0.5))])])
    d = g.n("Pow", [g.n("Add", [pos, g.w(np.float32(0.1))]), g.w(np.float32(1.5))])
    e = g.n("Pow", [y, g.w(np.float32(2.0))])
    cond = g.n("Greater", [y, g.w(np.float32(0.0))])
    w = g.n("Where", [cond, a, b])
    m = g.n("Min", [c, d, e])
    mean = g.n("Mean", [w, m, g.w(g.rng.standard_normal((4, 1, 1)))])
    gate = g.n("Expand", [g.w(g.rng.standard_normal((1, 4, 1, 1))), g.i64([1, 4, 7, 1])])
    y = g.n("Mul", [mean, gate])
    y = g.n("Tile", [y, g.i64([1, 2, 1, 2])])
    return g.model([("x", ["N", 3, 7, 5])], [_out(g, y)]), {"x": g.x(2, 3, 7, 5)}


def expand_activation():
    """Expand of a computed (N, C, 1, 1) tensor to (N, C, H, W) with a Shape-derived target."""
    g = G("expand_activation", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    p = g.n("ReduceMean", [y], axes=[2, 3], keepdims=1)
    e = g.n("Expand", [p, g.n("Shape", [y])])
    y = g.n("Sub", [y, e])
    return g.model([("x", ["N", 3, 7, 5])], [_out(g, y)]), {"x": g.x(2, 3, 7, 5)}


def gelu_erf():
    g = G("gelu_erf", 13)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    e = g.n("Erf", [g.n("Div", [y, g.w(np.float32(np.sqrt(2)))])])
    y = g.n("Mul", [g.n("Mul", [y, g.n("Add", [e, g.w(np.float32(1.0))])]), g.w(np.float32(0.5))])
    y = g.conv(y, 8, 4, 1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def gelu_erf_flat_gemm():
    """GELU after a Gemm on (N, K) as mxnet/paddle MLP heads write it."""
    g = G("gelu_erf_flat_gemm", 13)
    y = g.n("Flatten", [g.conv("x", 3, 4, 3, strides=[2, 2])], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((16, 8)) / 4), g.w(g.rng.standard_normal(8))])
    e = g.n("Erf", [g.n("Mul", [y, g.w(np.float32(1 / np.sqrt(2)))])])
    y = g.n("Mul", [g.n("Mul", [g.w(np.float32(0.5)), y]), g.n("Add", [g.w(np.float32(1.0)), e])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def einsum_channel_mix():
    g = G("einsum_channel_mix", 12)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Einsum", [y, g.w(g.rng.standard_normal((4, 6)))], equation="nchw,cd->ndhw")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


# ============================================================== dynamic shapes
def _dyn_net(name, in_shape, opset=13):
    g = G(name, opset)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 8, 3, strides=[2, 2], pads=[1, 1, 1, 1]), 8)])
    y = g.conv(y, 8, 8, 3, group=8, pads=[1, 1, 1, 1])
    y = g.n("GlobalAveragePool", [y])
    y = g.n("Flatten", [y], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((5, 8))), g.w(g.rng.standard_normal(5))], transB=1)
    return g.model([("x", in_shape)], [_out(g, y)]), g


def dyn_batch_N():
    data, g = _dyn_net("dyn_batch_N", ["N", 3, 8, 8])
    return data, {"x": g.x(1, 3, 8, 8)}


def dyn_batch_size():
    data, g = _dyn_net("dyn_batch_size", ["batch_size", 3, 8, 8])
    return data, {"x": g.x(1, 3, 8, 8)}


def dyn_batch_unset():
    data, g = _dyn_net("dyn_batch_unset", [None, 3, 8, 8])
    return data, {"x": g.x(1, 3, 8, 8)}


def dyn_hw():
    data, g = _dyn_net("dyn_hw", ["N", 3, "height", "width"])
    return data, {"x": g.x(1, 3, 8, 8)}


def dyn_hw_unset():
    data, g = _dyn_net("dyn_hw_unset", [None, 3, None, None])
    return data, {"x": g.x(1, 3, 9, 7)}


def dyn_fixed_batch1():
    data, g = _dyn_net("dyn_fixed_batch1", [1, 3, 8, 8])
    return data, {"x": g.x(1, 3, 8, 8)}


def dyn_hw_nhwc_same_upper_resize():
    """tf2onnx detector-ish: NHWC dynamic H/W, SAME_UPPER s2 conv, Resize back up by scales 2 (nearest)."""
    g = G("dyn_hw_nhwc_same_upper_resize", 13)
    x = _to_nchw(g, "x")
    y = g.n("Relu", [g.conv(x, 3, 6, 3, strides=[2, 2], auto_pad="SAME_UPPER")])
    y = g.n("Resize", [y, "", g.w(np.array([1, 1, 2, 2], np.float32))], mode="nearest",
            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", "height", "width", 3])], [_out(g, y)]), {"x": g.x(1, 8, 8, 3)}


def dyn_hw_shape_reshape():
    """Dynamic H/W with a Shape-driven flatten of the spatial dims (N, C, H*W) then softmax over it."""
    g = G("dyn_hw_shape_reshape", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    s = g.n("Shape", [y])
    nc = g.n("Slice", [s, g.i64([0]), g.i64([2])])
    y = g.n("Reshape", [y, g.n("Concat", [nc, g.i64([-1])], axis=0)])
    y = g.n("Softmax", [y], axis=-1)
    return g.model([("x", ["N", 3, "height", "width"])], [_out(g, y)]), {"x": g.x(1, 3, 6, 5)}


def _rng(name):
    return np.random.default_rng(zlib.crc32(name.encode()) + 1)


def _feeds(name, key, *shapes):
    r = _rng(name)
    return [{key: r.standard_normal(s).astype(np.float32)} for s in shapes]


EXTRA_FEEDS = {
    "dyn_batch_N": lambda: _feeds("dyn_batch_N", "x", (3, 3, 8, 8)),
    "dyn_batch_size": lambda: _feeds("dyn_batch_size", "x", (3, 3, 8, 8)),
    "dyn_batch_unset": lambda: _feeds("dyn_batch_unset", "x", (3, 3, 8, 8)),
    "dyn_hw": lambda: _feeds("dyn_hw", "x", (2, 3, 9, 11), (1, 3, 16, 5), (3, 3, 8, 8)),
    "dyn_hw_unset": lambda: _feeds("dyn_hw_unset", "x", (2, 3, 12, 12), (1, 3, 5, 6)),
    "dyn_hw_nhwc_same_upper_resize": lambda: _feeds("dyn_hw_nhwc", "x", (2, 9, 7, 3), (1, 16, 10, 3)),
    "dyn_hw_shape_reshape": lambda: _feeds("dyn_hw_shape_reshape", "x", (2, 3, 4, 9)),
    "tf_nhwc_same_upper": lambda: _feeds("tf_nhwc_same_upper", "input_1", (1, 16, 16, 3), (3, 16, 16, 3)),
}



# ============================================================== second round: edge semantics converters rely on
def pad_value_before_conv():
    """Pad with a nonzero constant before a conv (may not be folded into the conv's zero padding)."""
    g = G("pad_value_before_conv", 11)
    p = g.n("Pad", ["x", g.i64([0, 0, 1, 1, 0, 0, 1, 1]), g.w(np.float32(1.5))], mode="constant")
    y = g.conv(p, 3, 4, 3)
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def pad_zero_before_maxpool_negative():
    """tf2onnx SAME MaxPool as Pad(0) + MaxPool on values that may be negative: the zeros take part."""
    g = G("pad_zero_before_maxpool_negative", 11)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    p = g.n("Pad", [y, g.i64([0, 0, 1, 1, 0, 0, 1, 1])], mode="constant")
    y = g.n("MaxPool", [p], kernel_shape=[3, 3], strides=[2, 2])
    return g.model([("x", ["N", 3, 7, 7])], [_out(g, y)]), {"x": g.x(2, 3, 7, 7)}


def pad_zero_before_avgpool_exclude():
    """Pad(0) + AveragePool(count_include_pad=0): the explicit zeros are real values, counted."""
    g = G("pad_zero_before_avgpool_exclude", 11)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    p = g.n("Pad", [y, g.i64([0, 0, 1, 1, 0, 0, 1, 1])], mode="constant")
    y = g.n("AveragePool", [p], kernel_shape=[3, 3], strides=[2, 2], count_include_pad=0)
    return g.model([("x", ["N", 3, 7, 7])], [_out(g, y)]), {"x": g.x(2, 3, 7, 7)}


def pad_reflect_before_conv_pads():
    g = G("pad_reflect_before_conv_pads", 11)
    p = g.n("Pad", ["x", g.i64([0, 0, 1, 2, 0, 0, 1, 2])], mode="reflect")
    y = g.conv(p, 3, 4, 3, pads=[1, 0, 1, 0])
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def avgpool_ceil_count_include_pad():
    g = G("avgpool_ceil_count_include_pad", 11)
    y = g.conv("x", 3, 4, 1)
    a = g.n("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
            count_include_pad=1)
    b = g.n("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    y = g.n("Add", [a, b])
    return g.model([("x", ["N", 3, 8, 8])], [_out(g, y)]), {"x": g.x(2, 3, 8, 8)}


def maxpool_dilated_same():
    g = G("maxpool_dilated_same", 12)
    y = g.conv("x", 3, 4, 1)
    y = g.n("MaxPool", [y], kernel_shape=[3, 3], strides=[1, 1], dilations=[2, 2], auto_pad="SAME_UPPER")
    return g.model([("x", ["N", 3, 8, 9])], [_out(g, y)]), {"x": g.x(2, 3, 8, 9)}


def conv_dilated_same_upper():
    """tf2onnx atrous conv: SAME with dilations (pads cover the dilated kernel)."""
    g = G("conv_dilated_same_upper", 11)
    y = g.conv("x", 3, 4, 3, dilations=[2, 2], auto_pad="SAME_UPPER")
    y = g.conv(y, 4, 4, 2, dilations=[3, 2], auto_pad="SAME_LOWER")
    return g.model([("x", ["N", 3, 9, 10])], [_out(g, y)]), {"x": g.x(2, 3, 9, 10)}


def conv_same_stride_gt_kernel():
    g = G("conv_same_stride_gt_kernel", 11)
    y = g.conv("x", 3, 4, 1, strides=[3, 3], auto_pad="SAME_UPPER")
    y = g.conv(y, 4, 4, 2, strides=[3, 2], auto_pad="SAME_LOWER")
    return g.model([("x", ["N", 3, 17, 13])], [_out(g, y)]), {"x": g.x(2, 3, 17, 13)}


def bn_spatial0_opset7():
    """BatchNormalization-7 spatial=0: per-activation statistics shaped (C, H, W)."""
    g = G("bn_spatial0_opset7", 7)
    y = g.conv("x", 3, 2, 3)
    c, h, w = 2, 3, 4
    p = [g.w(g.rng.uniform(0.5, 1.5, (c, h, w))), g.w(g.rng.standard_normal((c, h, w))),
         g.w(g.rng.standard_normal((c, h, w))), g.w(g.rng.uniform(0.5, 2, (c, h, w)))]
    y = g.n("BatchNormalization", [y] + p, spatial=0)
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def bn_on_2d_after_gemm():
    """keras Dense + BatchNormalization on (N, K)."""
    g = G("bn_on_2d_after_gemm", 13)
    y = g.n("Flatten", [g.conv("x", 3, 4, 3, strides=[2, 2])], axis=1)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((16, 8)) / 4), g.w(g.rng.standard_normal(8))])
    y = g.n("Relu", [g.bn(y, 8)])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def gemm_transA():
    g = G("gemm_transA", 13)
    y = g.n("Flatten", [g.conv("x", 3, 4, 3, strides=[2, 2])], axis=1)
    y = g.n("Transpose", [y], perm=[1, 0])
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((16, 8)) / 4)], transA=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def matmul_4d_nhwc_dense():
    """keras Dense applied to a 4-D NHWC feature map: MatMul (N,H,W,C) x (C,K) + Add (K,)."""
    g = G("matmul_4d_nhwc_dense", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 6, 3, pads=[1, 1, 1, 1]))
    y = g.n("Add", [g.n("MatMul", [y, g.w(g.rng.standard_normal((6, 5)))]), g.w(g.rng.standard_normal(5))])
    y = g.n("Sigmoid", [y])
    return g.model([("x", ["N", 4, 5, 3])], [_out(g, y)]), {"x": g.x(2, 4, 5, 3)}


def lrn_even_size():
    """LRN with an even size: ONNX windows are floor((size-1)/2) before, ceil((size-1)/2) after."""
    g = G("lrn_even_size", 7)
    y = g.conv("x", 3, 8, 1)
    y = g.n("LRN", [y], size=4, alpha=0.5, beta=0.75, bias=2.0)
    return g.model([("x", [1, 3, 4, 5])], [_out(g, y)]), {"x": g.x(1, 3, 4, 5, scale=3)}


def lrn_size5_big_alpha():
    g = G("lrn_size5_big_alpha", 7)
    y = g.conv("x", 3, 8, 1)
    y = g.n("LRN", [y], size=5, alpha=0.9, beta=0.6, bias=1.0)
    return g.model([("x", [1, 3, 4, 5])], [_out(g, y)]), {"x": g.x(1, 3, 4, 5, scale=3)}


def prelu_slope_c_vector():
    """PRelu slope shaped (C,) with W == C: numpy broadcasting puts it along W, not C."""
    g = G("prelu_slope_c_vector", 9)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("PRelu", [y, g.w(np.array([0.1, 0.2, 0.3, 0.4], np.float32))])
    return g.model([("x", ["N", 3, 5, 4])], [_out(g, y)]), {"x": g.x(2, 3, 5, 4)}


def prelu_slope_scalar_and_1c11():
    g = G("prelu_slope_scalar_and_1c11", 9)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("PRelu", [y, g.w(np.array([0.25], np.float32))])
    y = g.conv(y, 4, 4, 1)
    y = g.n("PRelu", [y, g.w(g.rng.uniform(0, .5, (1, 4, 1, 1)))])
    return g.model([("x", ["N", 3, 5, 4])], [_out(g, y)]), {"x": g.x(2, 3, 5, 4)}


def prelu_nhwc_slope_c():
    """tf2onnx keras PReLU on NHWC: slope (1, 1, C) broadcast along the last axis."""
    g = G("prelu_nhwc_slope_c", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 4, 3, pads=[1, 1, 1, 1]))
    y = g.n("PRelu", [y, g.w(g.rng.uniform(0, .5, (1, 1, 4)))])
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


def squeeze_no_axes_batch1():
    """Squeeze with no axes on (1, C, 1, 1) at a fixed batch 1: the batch goes too -> (C,)."""
    g = G("squeeze_no_axes_batch1", 11)
    y = g.n("GlobalAveragePool", [g.conv("x", 3, 4, 3)])
    y = g.n("Squeeze", [y])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def squeeze_no_axes_dynamic_batch():
    """Squeeze with no axes on (N, C, 1, 1), N dynamic: onnxruntime's output rank depends on N."""
    g = G("squeeze_no_axes_dynamic_batch", 11)
    y = g.n("GlobalAveragePool", [g.conv("x", 3, 4, 3)])
    y = g.n("Squeeze", [y])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def transpose_no_perm():
    g = G("transpose_no_perm", 11)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Transpose", [g.n("Transpose", [y])], perm=[3, 2, 0, 1])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def resize11_linear_half_pixel_fractional_scales():
    """Scales whose in*scale is not an integer: the coordinate mapping uses the given scale, not out/in."""
    return _resize11("resize11_linear_half_pixel_frac", "linear", "half_pixel", scales=(1, 1, 1.7, 2.3))


def resize11_nearest_asym_fractional_scales():
    return _resize11("resize11_nearest_asym_frac", "nearest", "asymmetric", scales=(1, 1, 1.7, 0.6),
                     nearest_mode="floor")


def resize11_nearest_default_attrs_downsample():
    """Resize-11 defaults: half_pixel + round_prefer_floor, downsample 0.5."""
    g, y = _resize_base("resize11_nearest_default_attrs_down", 11)
    y = g.n("Resize", [y, g.w(np.array([], np.float32)), g.w(np.array([1, 1, 0.5, 0.5], np.float32))],
            mode="nearest")
    return g.model([("x", ["N", 3, 8, 10])], [_out(g, y)]), {"x": g.x(2, 3, 8, 10)}


def resize10_nearest_fractional():
    g, y = _resize_base("resize10_nearest_fractional", 10)
    y = g.n("Resize", [y, g.w(np.array([1, 1, 1.5, 2.5], np.float32))], mode="nearest")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def upsample9_nearest_fractional():
    g, y = _resize_base("upsample9_nearest_fractional", 9)
    y = g.n("Upsample", [y, g.w(np.array([1, 1, 1.5, 2.5], np.float32))], mode="nearest")
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def resize11_sizes_fixed_batch():
    return _resize11("resize11_sizes_fixed_batch", "linear", "align_corners", sizes=(2, 4, 9, 13))


def resize_sizes_from_shape_dynamic_hw():
    """tf2onnx's resize to 2x of a dynamic input: sizes = Concat(Shape[:2], Cast(Shape[2:] * 2))."""
    g = G("resize_sizes_from_shape_dynamic_hw", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    s = g.n("Shape", [y])
    hw = g.n("Slice", [s, g.i64([2]), g.i64([4])])
    hw = g.n("Cast", [g.n("Mul", [g.n("Cast", [hw], to=F32), g.w(np.array([2.0, 2.0], np.float32))])], to=I64)
    sizes = g.n("Concat", [g.n("Slice", [s, g.i64([0]), g.i64([2])]), hw], axis=0)
    y = g.n("Resize", [y, "", "", sizes], mode="linear", coordinate_transformation_mode="half_pixel")
    return g.model([("x", ["N", 3, "height", "width"])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def argmax_ties_select_last():
    """ArgMax over ReLU outputs (many ties at 0), select_last_index 0 and 1."""
    g = G("argmax_ties_select_last", 12)
    y = g.n("Relu", [g.n("Sub", [g.conv("x", 3, 6, 1), g.w(np.float32(1.0))])])
    a = g.n("ArgMax", [y], axis=1, keepdims=1, select_last_index=0)
    b = g.n("ArgMax", [y], axis=1, keepdims=1, select_last_index=1)
    return (g.model([("x", ["N", 3, 5, 6])], [_out(g, a, "first", I64), _out(g, b, "last", I64)]),
            {"x": g.x(2, 3, 5, 6)})


def argmin_nhwc_last_axis():
    g = G("argmin_nhwc_last_axis", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 6, 1))
    a = g.n("ArgMin", [y], axis=-1, keepdims=0)
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, a, "y", I64)]), {"x": g.x(2, 5, 6, 3)}


def depth_to_space_dcr_crd():
    """DepthToSpace: DCR (tf2onnx, the default) and CRD (pixel shuffle)."""
    g = G("depth_to_space_dcr_crd", 13)
    y = g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    a = g.n("DepthToSpace", [y], blocksize=2)
    b = g.n("DepthToSpace", [y], blocksize=2, mode="CRD")
    y = g.n("Concat", [a, b], axis=1)
    y = g.n("SpaceToDepth", [y], blocksize=2)
    return g.model([("x", ["N", 3, 4, 5])], [_out(g, y)]), {"x": g.x(2, 3, 4, 5)}


def gather_channels_bgr():
    """Channel reorder at the input (BGR -> RGB) by Gather axis=1 and by Slice with step -1."""
    g = G("gather_channels_bgr", 13)
    a = g.n("Gather", ["x", g.i64([2, 1, 0])], axis=1)
    b = g.n("Slice", ["x", g.i64([-1]), g.i64([-(2 ** 62)]), g.i64([1]), g.i64([-1])])
    y = g.conv(g.n("Sub", [a, b]), 3, 4, 3)
    z = g.n("Gather", [y, g.w(np.array(1, np.int64), dtype=np.int64)], axis=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y), _out(g, z, "z")]), {"x": g.x(2, 3, 5, 6)}


def sub_div_const_first():
    """Non-commutative ops with the constant first: (c - x), (c / x), Pow(c, x)."""
    g = G("sub_div_const_first", 13)
    y = g.n("Sigmoid", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    a = g.n("Sub", [g.w(g.rng.standard_normal((4, 1, 1))), y])
    b = g.n("Div", [g.w(np.float32(2.0)), g.n("Add", [y, g.w(np.float32(0.5))])])
    c = g.n("Pow", [g.w(np.float32(2.0)), y])
    y = g.n("Sum", [a, b, c])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def softmax_axis0_opset11_2d():
    """Softmax-11 axis=0 on (N, K): one softmax over the whole batch."""
    g = G("softmax_axis0_opset11_2d", 11)
    y = g.n("Flatten", [g.conv("x", 3, 2, 3, strides=[2, 2])], axis=1)
    y = g.n("Softmax", [y], axis=0)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def softmax_default_axis_opset11_4d():
    """Softmax-11 with the default axis (1) on an NHWC 4-D tensor: flattens (H, W, C)."""
    g = G("softmax_default_axis_opset11_4d", 11)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 4, 1))
    y = g.n("Softmax", [y])
    return g.model([("x", ["N", 3, 4, 3])], [_out(g, y)]), {"x": g.x(2, 3, 4, 3)}


def flatten_axis2_gemm():
    g = G("flatten_axis2_gemm", 11)
    y = g.conv("x", 3, 4, 3)
    y = g.n("Flatten", [y], axis=2)
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def reshape_zero_copy_dims():
    g = G("reshape_zero_copy_dims", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Reshape", [y, g.i64([0, 0, -1])])
    y = g.n("Softmax", [y], axis=-1)
    y = g.n("Reshape", [y, g.i64([0, 2, 2, 5, 6])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def tile_batch():
    """Tile with repeats on the batch axis (changes the batch)."""
    g = G("tile_batch", 13)
    y = g.conv("x", 3, 4, 3)
    y = g.n("Tile", [y, g.i64([2, 1, 1, 1])])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def pow_exponents():
    g = G("pow_exponents", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    a = g.n("Pow", [y, g.w(np.float32(3.0))])
    b = g.n("Pow", [g.n("Abs", [y]), g.w(np.float32(0.5))])
    c = g.n("Pow", [g.n("Add", [g.n("Abs", [y]), g.w(np.float32(1))]), g.w(np.float32(-1.0))])
    d = g.n("Pow", [y, g.w(np.array(2, np.int64), dtype=np.int64)])
    y = g.n("Sum", [a, b, c, d])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def clip_scalar_shaped_1():
    """Clip min/max initializers shaped (1,) instead of scalars (some converters)."""
    g = G("clip_scalar_shaped_1", 11)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Clip", [y, g.w(np.array([0.0], np.float32)), g.w(np.array([0.5], np.float32))])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def clip_min_gt_max():
    """Clip with min > max: onnxruntime gives max everywhere."""
    g = G("clip_min_gt_max", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Clip", [y, g.w(np.float32(1.0)), g.w(np.float32(-1.0))])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def instnorm_nhwc_transposes():
    g = G("instnorm_nhwc_transposes", 13)
    y = g.conv(_to_nchw(g, "x"), 3, 4, 3, pads=[1, 1, 1, 1])
    y = _to_nhwc(g, g.n("InstanceNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, 4)), g.w(np.zeros(4))],
                        epsilon=1e-3))
    y = g.n("Mul", [y, g.w(g.rng.uniform(0.5, 1.5, (1, 1, 1, 4)))])
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


def output_is_intermediate_and_input():
    """Two outputs: an intermediate also consumed later, and the graph input passed through Identity."""
    g = G("output_is_intermediate", 13)
    a = g.n("Relu", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    b = g.conv(a, 4, 4, 1)
    return (g.model([("x", ["N", 3, 5, 6])], [_out(g, a, "a"), _out(g, b, "b"), _out(g, "x", "xcopy")]),
            {"x": g.x(2, 3, 5, 6)})


def concat_const_coord_channels():
    """CoordConv: a constant (1, 2, H, W) map Expanded to the batch and concatenated on channels."""
    g = G("concat_const_coord_channels", 13)
    coords = np.stack(np.meshgrid(np.linspace(-1, 1, 6), np.linspace(-1, 1, 5)))[None].astype(np.float32)
    s = g.n("Shape", ["x"])
    n = g.n("Slice", [s, g.i64([0]), g.i64([1])])
    shp = g.n("Concat", [n, g.i64([2, 5, 6])], axis=0)
    c = g.n("Expand", [g.w(coords), shp])
    y = g.conv(g.n("Concat", ["x", c], axis=1), 5, 4, 3, pads=[1, 1, 1, 1])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def reduce_ops_nhwc_keepdims():
    g = G("reduce_ops_nhwc_keepdims", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 6, 3, pads=[1, 1, 1, 1]))
    a = g.n("ReduceMax", [y], axes=[1, 2], keepdims=1)
    b = g.n("ReduceSum", [y, g.i64([-1])], keepdims=1)
    c = g.n("ReduceL2", [y], axes=[3], keepdims=1)
    y = g.n("Div", [g.n("Add", [g.n("Sub", [y, a]), b]), g.n("Add", [c, g.w(np.float32(1e-3))])])
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


def reducemax_noop_empty_axes():
    g = G("reducemax_noop_empty_axes", 18)
    y = g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1])
    y = g.n("ReduceMax", [y, g.i64([])], keepdims=1, noop_with_empty_axes=1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def global_pool_1d():
    g = G("global_pool_1d", 11)
    y = g.n("Conv", ["x", g.w(g.rng.standard_normal((4, 3, 3)) / 3)], kernel_shape=[3], auto_pad="SAME_UPPER")
    a = g.n("GlobalAveragePool", [y])
    b = g.n("GlobalMaxPool", [y])
    y = g.n("Add", [y, g.n("Sub", [a, b])])
    return g.model([("x", ["N", 3, 10])], [_out(g, y)]), {"x": g.x(2, 3, 10)}


def split_negative_axis_unused_output():
    g = G("split_negative_axis_unused", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 6, 1))
    a, b, c = g.n("Split", [y, g.i64([1, 2, 3])], nout=3, axis=-1)
    y = g.n("Mul", [a, c])
    return g.model([("x", ["N", 4, 5, 3])], [_out(g, y)]), {"x": g.x(2, 4, 5, 3)}


def where_broadcast_input_cond():
    g = G("where_broadcast_input_cond", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    m = g.n("ReduceMean", [y], axes=[1], keepdims=1)
    cond = g.n("Less", [y, m])
    y = g.n("Where", [cond, g.w(g.rng.standard_normal((4, 1, 1))), y])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def hardsigmoid_defaults_and_nhwc():
    g = G("hardsigmoid_defaults_and_nhwc", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 6, 1))
    y = g.n("Add", [g.n("HardSigmoid", [y]), g.n("LeakyRelu", [y])])
    return g.model([("x", ["N", 4, 5, 3])], [_out(g, y)]), {"x": g.x(2, 4, 5, 3, scale=4)}


def maxpool_indices_output():
    g = G("maxpool_indices_output", 11)
    y = g.conv("x", 3, 4, 1)
    v, i = g.n("MaxPool", [y], nout=2, kernel_shape=[2, 2], strides=[2, 2])
    return g.model([("x", ["N", 3, 4, 6])], [_out(g, v), _out(g, i, "idx", I64)]), {"x": g.x(2, 3, 4, 6)}


def unsqueeze_negative_axes_attr():
    g = G("unsqueeze_negative_axes_attr", 11)
    y = g.n("Flatten", [g.n("GlobalAveragePool", [g.conv("x", 3, 4, 3)])], axis=1)
    y = g.n("Unsqueeze", [y], axes=[-1, -2])
    y = g.n("Mul", [g.conv("x", 3, 4, 3), y])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def cast_shape_to_float_scale():
    """A value computed from Shape cast to float and used arithmetically (normalize by H*W)."""
    g = G("cast_shape_to_float_scale", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    s = g.n("Shape", [y])
    hw = g.n("ReduceProd", [g.n("Slice", [s, g.i64([2]), g.i64([4])])], keepdims=0)
    y = g.n("Div", [g.n("ReduceSum", [y, g.i64([2, 3])], keepdims=1), g.n("Cast", [hw], to=F32)])
    return g.model([("x", ["N", 3, "h", "w"])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


EXTRA_FEEDS.update({
    "squeeze_no_axes_dynamic_batch": lambda: _feeds("squeeze_no_axes_dynamic_batch", "x", (1, 3, 5, 6)),
    "resize_sizes_from_shape_dynamic_hw": lambda: _feeds("resize_sizes_dyn", "x", (2, 3, 7, 4)),
    "cast_shape_to_float_scale": lambda: _feeds("cast_shape_to_float_scale", "x", (1, 3, 7, 4)),
    "softmax_axis0_opset11_2d": lambda: _feeds("softmax_axis0_opset11_2d", "x", (1, 3, 5, 6), (3, 3, 5, 6)),
    "concat_const_coord_channels": lambda: _feeds("concat_const_coord_channels", "x", (1, 3, 5, 6)),
})




# ============================================================== third round: how files are written
def resize11_sizes_fixed_batch2():
    g, y = _resize_base("resize11_sizes_fixed_batch2", 11)
    y = g.n("Resize", [y, g.w(np.array([], np.float32)), g.w(np.array([], np.float32)), g.i64([2, 4, 9, 13])],
            mode="linear", coordinate_transformation_mode="align_corners")
    return g.model([("x", [2, 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def sub_div_const_first_no_pow():
    g = G("sub_div_const_first_no_pow", 13)
    y = g.n("Sigmoid", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    a = g.n("Sub", [g.w(g.rng.standard_normal((4, 1, 1))), y])
    b = g.n("Div", [g.w(np.float32(2.0)), g.n("Add", [y, g.w(np.float32(0.5))])])
    y = g.n("Sum", [a, b])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def pow_const_base():
    g = G("pow_const_base", 13)
    y = g.n("Sigmoid", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    y = g.n("Pow", [g.w(np.float32(2.0)), y])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def concat_const_fixed_batch1():
    g = G("concat_const_fixed_batch1", 13)
    coords = np.stack(np.meshgrid(np.linspace(-1, 1, 6), np.linspace(-1, 1, 5)))[None].astype(np.float32)
    y = g.conv(g.n("Concat", ["x", g.w(coords)], axis=1), 5, 4, 3, pads=[1, 1, 1, 1])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def conv_no_kernel_shape_attr():
    """Conv without kernel_shape (inferred from the weight), tf2onnx / older converters."""
    g = G("conv_no_kernel_shape_attr", 11)
    wt = g.w(g.rng.standard_normal((4, 3, 3, 2)) / 4)
    y = g.n("Conv", ["x", wt, g.w(np.zeros(4))], pads=[1, 0, 1, 1], strides=[1, 2])
    return g.model([("x", ["N", 3, 6, 7])], [_out(g, y)]), {"x": g.x(2, 3, 6, 7)}


def conv_weight_hwio_transposed_const():
    """Weights stored HWIO with a constant Transpose to OIHW left in the graph (tf2onnx without folding),
    and an Identity on the bias (zoo models)."""
    g = G("conv_weight_hwio_transposed_const", 13)
    hwio = g.w(g.rng.standard_normal((3, 3, 3, 5)) / 4)
    wt = g.n("Transpose", [hwio], perm=[3, 2, 0, 1])
    b = g.n("Identity", [g.w(g.rng.standard_normal(5))])
    y = g.n("Conv", [_to_nchw(g, "x"), wt, b], kernel_shape=[3, 3], auto_pad="SAME_UPPER")
    y = _to_nhwc(g, y)
    return g.model([("x", ["N", 6, 7, 3])], [_out(g, y)]), {"x": g.x(2, 6, 7, 3)}


def fp16_weights_cast():
    """Mixed-precision export keeping float32 I/O: float16 initializers Cast to float."""
    g = G("fp16_weights_cast", 13)
    wt = g.n("Cast", [g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, dtype=np.float16)], to=F32)
    b = g.n("Cast", [g.w(g.rng.standard_normal(4), dtype=np.float16)], to=F32)
    y = g.n("Conv", ["x", wt, b], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    s = g.n("Cast", [g.w(g.rng.uniform(0.5, 1.5, (1, 4, 1, 1)), dtype=np.float16)], to=F32)
    y = g.n("Mul", [y, s])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def constant_nodes_weights():
    """Weights and shapes from Constant nodes (value tensor, value_ints, value_float), Identity on them."""
    g = G("constant_nodes_weights", 13)
    wv = numpy_helper.from_array((g.rng.standard_normal((4, 3, 3, 3)) / 4).astype(np.float32), "cw")
    wt = g.n("Constant", [], value=wv)
    wt = g.n("Identity", [wt])
    y = g.n("Conv", ["x", wt], kernel_shape=[3, 3])
    y = g.n("Mul", [y, g.n("Constant", [], value_float=0.5)])
    y = g.n("Reshape", [y, g.n("Constant", [], value_ints=[0, -1])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def tf_names_with_colons_and_slashes():
    """tf2onnx naming: 'input_1:0', 'StatefulPartitionedCall/model/conv2d/BiasAdd:0', and '::' in names."""
    g = G("tf_names", 13)
    g.nodes.append(helper.make_node("Transpose", ["input_1:0"], ["model/conv2d/Conv2D__6:0"], perm=[0, 3, 1, 2],
                                    name="model/conv2d/Conv2D__6"))
    w = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, name="model/conv2d/Conv2D/ReadVariableOp:0")
    g.nodes.append(helper.make_node("Conv", ["model/conv2d/Conv2D__6:0", w], ["a::out"], kernel_shape=[3, 3],
                                    pads=[1, 1, 1, 1], name="a"))
    g.nodes.append(helper.make_node("Relu", ["a::out"], ["a::out_2"], name="a::2"))
    g.nodes.append(helper.make_node("Add", ["a::out_2", "a::out"], ["a"], name="a_add"))
    g.nodes.append(helper.make_node("Transpose", ["a"], ["Identity:0"], perm=[0, 2, 3, 1], name="a::3"))
    return (g.model([("input_1:0", ["unk__12", 5, 6, 3])], [("Identity:0", F32)]),
            {"input_1:0": g.x(2, 5, 6, 3)})


def unnamed_and_duplicate_node_names():
    """Nodes without names and nodes sharing one name; numeric tensor names (caffe2-era zoo)."""
    g = G("unnamed_nodes", 9)
    w1 = g.w(g.rng.standard_normal((4, 3, 3, 3)) / 4, name="1")
    w2 = g.w(g.rng.standard_normal((4, 4, 1, 1)) / 2, name="2")
    g.nodes += [helper.make_node("Conv", ["0", w1], ["3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                helper.make_node("Relu", ["3"], ["4"]),
                helper.make_node("Conv", ["4", w2], ["5"], kernel_shape=[1, 1], name="dup"),
                helper.make_node("Sigmoid", ["5"], ["6"], name="dup"),
                helper.make_node("Mul", ["6", "3"], ["7"], name="")]
    return g.model([("0", [1, 3, 5, 6])], [("7", F32)], ir_version=3, inits_as_inputs=True), {"0": g.x(1, 3, 5, 6)}


def two_image_inputs():
    g = G("two_image_inputs", 13)
    a = g.conv("rgb", 3, 4, 3, pads=[1, 1, 1, 1])
    b = g.conv("depth", 1, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Relu", [g.n("Add", [a, b])])
    return (g.model([("rgb", ["N", 3, 5, 6]), ("depth", ["N", 1, 5, 6])], [_out(g, y)]),
            {"rgb": g.x(2, 3, 5, 6), "depth": g.x(2, 1, 5, 6)})


def dropout12_ratio_training_inputs():
    g = G("dropout12_inputs", 13)
    y = g.conv("x", 3, 4, 3)
    y = g.n("Dropout", [y, g.w(np.float32(0.3)), g.w(np.array(False), dtype=np.bool_)])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def bn15_training_mode0_extra_outputs():
    g = G("bn15_extra_outputs", 15)
    y = g.conv("x", 3, 4, 3)
    y = g.n("BatchNormalization", [y] + g.bn_params(4), nout=1, training_mode=0, epsilon=1e-3)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def softmax11_axis1_3d():
    g = G("softmax11_axis1_3d", 11)
    y = g.n("Conv", ["x", g.w(g.rng.standard_normal((4, 3, 3)) / 3)], kernel_shape=[3], pads=[1, 1])
    y = g.n("Softmax", [y], axis=1)
    return g.model([("x", ["N", 3, 7])], [_out(g, y)]), {"x": g.x(2, 3, 7)}


def matmul_vector_b():
    g = G("matmul_vector_b", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 4, 1))
    y = g.n("MatMul", [y, g.w(g.rng.standard_normal(4))])
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


def upsample7_bilinear_attr():
    g, y = _resize_base("upsample7_bilinear_attr", 7)
    y = g.n("Upsample", [y], mode="bilinear", scales=[1.0, 1.0, 2.0, 2.0])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)]), {"x": g.x(1, 3, 5, 6)}


def mean_sum_single_input():
    g = G("mean_sum_single_input", 8)
    y = g.conv("x", 3, 4, 3)
    y = g.n("Sum", [g.n("Mean", [y])])
    y = g.n("Max", [y])
    return g.model([("x", [1, 3, 5, 6])], [_out(g, y)], ir_version=3, inits_as_inputs=True), {"x": g.x(1, 3, 5, 6)}




# ============================================================== fourth round: dynamic H / W
def dyn_hw_same_upper_s2_resize_frac():
    """NCHW with dynamic H / W: SAME_UPPER stride 2 (even and odd sizes), MaxPool SAME, Resize by 1.5."""
    g = G("dyn_hw_same_upper_s2_resize_frac", 13)
    y = g.n("Relu", [g.conv("x", 3, 6, 3, strides=[2, 2], auto_pad="SAME_UPPER")])
    y = g.n("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")
    y = g.n("Resize", [y, "", g.w(np.array([1, 1, 1.5, 2], np.float32))], mode="linear",
            coordinate_transformation_mode="half_pixel")
    return g.model([("x", ["batch", 3, "height", "width"])], [_out(g, y)]), {"x": g.x(1, 3, 8, 8)}


def dyn_hw_global_pool_gemm_softmax11():
    g = G("dyn_hw_global_pool_gemm_softmax11", 11)
    y = g.n("Relu", [g.bn(g.conv("x", 3, 6, 3, pads=[1, 1, 1, 1]), 6)])
    y = g.n("ReduceMean", [y], axes=[2, 3], keepdims=0)
    y = g.n("Gemm", [y, g.w(g.rng.standard_normal((6, 4))), g.w(g.rng.standard_normal(4))])
    y = g.n("Softmax", [y], axis=1)
    return g.model([("x", ["N", 3, "H", "W"])], [_out(g, y)]), {"x": g.x(1, 3, 8, 8)}


def dyn_hw_upsample_skip_concat():
    """U-Net style: downsample, nearest x2 back up, Concat with the skip (needs even sizes)."""
    g = G("dyn_hw_upsample_skip_concat", 11)
    a = g.n("Relu", [g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])])
    b = g.n("MaxPool", [a], kernel_shape=[2, 2], strides=[2, 2])
    b = g.n("Relu", [g.conv(b, 4, 4, 3, pads=[1, 1, 1, 1])])
    b = g.n("Resize", [b, g.w(np.array([], np.float32)), g.w(np.array([1, 1, 2, 2], np.float32))], mode="nearest",
            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    y = g.conv(g.n("Concat", [a, b], axis=1), 8, 2, 1)
    return g.model([("x", ["N", 3, "height", "width"])], [_out(g, y)]), {"x": g.x(1, 3, 8, 8)}


EXTRA_FEEDS.update({
    "dyn_hw_same_upper_s2_resize_frac": lambda: _feeds("dyn_hw_s2", "x", (2, 3, 9, 7), (1, 3, 15, 16), (3, 3, 8, 8)),
    "dyn_hw_global_pool_gemm_softmax11": lambda: _feeds("dyn_hw_gp", "x", (2, 3, 5, 9), (1, 3, 12, 3)),
    "dyn_hw_upsample_skip_concat": lambda: _feeds("dyn_hw_unet", "x", (2, 3, 6, 10), (1, 3, 12, 4)),
})




# ============================================================== fifth round: idioms the ONNX frontend rewrites
def gelu_like_x_squared_erf():
    """(x * x) * (1 + Erf(x / sqrt 2)): shaped like the erf-GELU idiom's (x * 0.5) * (1 + erf) branch, but the
    'half' Mul multiplies x by itself."""
    g = G("gelu_like_x_squared_erf", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    e = g.n("Erf", [g.n("Div", [y, g.w(np.float32(np.sqrt(2)))])])
    sq = g.n("Mul", [y, y])
    y = g.n("Mul", [sq, g.n("Add", [e, g.w(np.float32(1.0))])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def quick_gelu_sigmoid_1702():
    """x * Sigmoid(1.702 x): not SiLU."""
    g = G("quick_gelu_sigmoid_1702", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    y = g.n("Mul", [y, g.n("Sigmoid", [g.n("Mul", [y, g.w(np.float32(1.702))])])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6, scale=2)}


def gelu_tanh_decomposed():
    g = G("gelu_tanh_decomposed", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    inner = g.n("Mul", [g.n("Add", [y, g.n("Mul", [g.n("Pow", [y, g.w(np.float32(3))]), g.w(np.float32(0.044715))])]),
                        g.w(np.float32(np.sqrt(2 / np.pi)))])
    y = g.n("Mul", [g.n("Mul", [y, g.w(np.float32(0.5))]), g.n("Add", [g.n("Tanh", [inner]), g.w(np.float32(1))])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6, scale=2)}


def layernorm_channels_decomposed_nhwc():
    """keras LayerNormalization on NHWC through tf2onnx (decomposed: ReduceMean, Sub, Mul, ReduceMean,
    Add eps, Sqrt, Reciprocal, Mul gamma, Mul, Add beta)."""
    g = G("layernorm_channels_decomposed_nhwc", 13)
    y = _to_nhwc(g, g.conv(_to_nchw(g, "x"), 3, 8, 3, pads=[1, 1, 1, 1]))
    m = g.n("ReduceMean", [y], axes=[-1], keepdims=1)
    d = g.n("Sub", [y, m])
    v = g.n("ReduceMean", [g.n("Mul", [d, d])], axes=[-1], keepdims=1)
    r = g.n("Reciprocal", [g.n("Sqrt", [g.n("Add", [v, g.w(np.float32(1e-3))])])])
    s = g.n("Mul", [r, g.w(g.rng.uniform(0.5, 1.5, 8))])
    y = g.n("Add", [g.n("Mul", [d, s]), g.w(g.rng.standard_normal(8))])
    return g.model([("x", ["N", 5, 6, 3])], [_out(g, y)]), {"x": g.x(2, 5, 6, 3)}


def layernorm17_channels_transposes():
    """LayerNormalization-17 between Transpose(0,2,3,1) / Transpose(0,3,1,2) (ConvNeXt as tf2onnx writes it),
    the Mean output declared but unused."""
    g = G("layernorm17_channels_transposes", 17)
    y = _to_nhwc(g, g.conv("x", 3, 8, 3, pads=[1, 1, 1, 1]))
    y, _mean = g.n("LayerNormalization", [y, g.w(g.rng.uniform(0.5, 1.5, 8)), g.w(g.rng.standard_normal(8))],
                   nout=2, axis=-1, epsilon=1e-6)
    y = g.conv(_to_nchw(g, y), 8, 4, 1)
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6)}


def hardswish_minmax_decomposed():
    """HardSwish with Relu6 as Min(Max(x + 3, 0), 6) and as HardSigmoid(1/6, 0.5) * x."""
    g = G("hardswish_minmax_decomposed", 13)
    y = g.conv("x", 3, 4, 3, pads=[1, 1, 1, 1])
    r6 = g.n("Min", [g.n("Max", [g.n("Add", [y, g.w(np.float32(3))]), g.w(np.float32(0))]), g.w(np.float32(6))])
    a = g.n("Div", [g.n("Mul", [y, r6]), g.w(np.float32(6))])
    b = g.n("Mul", [g.n("HardSigmoid", [y], alpha=1 / 6, beta=0.5), y])
    y = g.n("Sub", [a, b])
    y = g.n("Add", [y, g.n("Mul", [g.n("Sigmoid", [y]), y])])
    return g.model([("x", ["N", 3, 5, 6])], [_out(g, y)]), {"x": g.x(2, 3, 5, 6, scale=3)}


import types as _types  # noqa: E402
_BUILDERS = [v for k, v in list(globals().items()) if isinstance(v, _types.FunctionType) and not k.startswith("_")
             and v.__module__ == __name__ and v.__code__.co_argcount == 0]
CASES = {f.__name__: f for f in _BUILDERS}
