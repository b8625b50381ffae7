"""Hand-built ONNX graphs for the forms exporters used to emit (or torch cannot emit): is_test BatchNorm,
spatial=0, broadcast/axis attributes, initializers listed as graph inputs, Upsample at opsets 7 and 9,
a fixed batch of 1 with Reshape(1, -1) glue, batch-dependent graphs. Reference: onnxruntime on the
same model (onnx's ReferenceEvaluator where onnxruntime has no kernel for the opset)."""
import numpy as np
import pytest
from util import importorskip

onnx = importorskip("onnx")
importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fastnorm  # noqa: E402
from onnx_util import assert_matches, reference  # noqa: E402

RNG = np.random.default_rng(42)


def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def make(nodes, inits, in_shape, out_name="y", opset=13, ir_version=None, inits_as_inputs=False,
         batch="N"):
    """A one-input model; `inits` {name: array}; the input's dim 0 is `batch` (a name or an int)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch] + list(in_shape))
    inputs = [x]
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    if inits_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in tensors]
    g = helper.make_graph(nodes, "g", inputs, [helper.make_empty_tensor_value_info(out_name)], tensors)
    kw = {"opset_imports": [helper.make_opsetid("", opset)]}
    m = helper.make_model(g, **kw)
    m.ir_version = ir_version or (3 if opset < 8 else 7)
    return m.SerializeToString()


def check(data, in_shape, batches=(1, 4), fixed_batch=None):
    model = fastnorm.from_onnx(data)
    for n in batches:
        x = RNG.standard_normal((n,) + tuple(in_shape)).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x, fixed_batch=fixed_batch)[0], "batch %d" % n)
    return model


def _bn_inits(c, prefix="bn"):
    return {prefix + ".s": 1 + _w(c), prefix + ".b": _w(c), prefix + ".m": _w(c),
            prefix + ".v": (0.5 + RNG.random(c)).astype(np.float32)}


@pytest.mark.parametrize("opset", [6, 7, 9, 14, 15])
def test_conv_batchnorm_folds_at_every_opset(opset, isa):
    attrs = {"epsilon": 1e-3}
    if opset < 7:
        attrs["is_test"] = 1
    if opset < 9:
        attrs["spatial"] = 1
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["c", "bn.s", "bn.b", "bn.m", "bn.v"], ["y"], name="bn",
                              **attrs)]
    data = make(nodes, {"w": _w(5, 3, 3, 3), **_bn_inits(5)}, (3, 6, 7), opset=opset,
                inits_as_inputs=opset < 9)
    model = check(data, (3, 6, 7))
    conv = [n for n in model.graph.nodes if n.op == "conv2d"]
    assert len(model.graph.nodes) == 1 and conv[0].attrs.get("folded") == ["bn"]


def test_batchnorm_spatial0_per_activation(isa):
    c, h, w = 3, 4, 5
    inits = {"bn.s": 1 + _w(c, h, w), "bn.b": _w(c, h, w), "bn.m": _w(c, h, w),
             "bn.v": (0.5 + RNG.random((c, h, w))).astype(np.float32)}
    nodes = [helper.make_node("BatchNormalization", ["x", "bn.s", "bn.b", "bn.m", "bn.v"], ["y"],
                              spatial=0, epsilon=1e-4)]
    check(make(nodes, inits, (c, h, w), opset=7), (c, h, w))


def test_batchnorm_training_mode_uses_batch_stats_and_notes_it():
    nodes = [helper.make_node("BatchNormalization", ["x", "bn.s", "bn.b", "bn.m", "bn.v"], ["y"],
                              training_mode=1, name="bn")]
    data = make(nodes, _bn_inits(3), (3, 4, 4), opset=15)
    model = fastnorm.from_onnx(data)
    assert any(code == "bn_batch_stats" and node == "bn" for code, node, _ in model.source_graph.notes)
    x = RNG.standard_normal((4, 3, 4, 4)).astype(np.float32)
    mean, var = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    s, b = (_bn_inits(3)["bn.s"] * 0 + numpy_helper.to_array(
        onnx.load_from_string(data).graph.initializer[i]) for i in (0, 1))
    want = (x - mean) / np.sqrt(var + 1e-5) * s.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)
    assert_matches(model.predict(x), want)


def test_legacy_broadcast_axis_attrs(isa):
    """opset 6: Add/Mul/Sub/Div with broadcast=1, axis=1 and a per-channel constant."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Add", ["c", "b"], ["a"], broadcast=1, axis=1),
             helper.make_node("Mul", ["a", "s"], ["m"], broadcast=1, axis=1),
             helper.make_node("Sub", ["m", "t"], ["d"], broadcast=1, axis=1),
             helper.make_node("Div", ["d", "u"], ["y"], broadcast=1, axis=1)]
    inits = {"w": _w(4, 3, 3, 3), "b": _w(4), "s": 1 + _w(4), "t": _w(4), "u": 2 + _w(4)}
    data = make(nodes, inits, (3, 6, 6), opset=6, inits_as_inputs=True)
    model = fastnorm.from_onnx(data)
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = inits
    import torch
    c = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w["w"])).numpy()
    ch = lambda v: v.reshape(1, 4, 1, 1)  # noqa: E731
    want = ((c + ch(w["b"])) * ch(w["s"]) - ch(w["t"])) / ch(w["u"])
    assert_matches(model.predict(x), want)


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_nearest(opset, isa):
    if opset == 7:
        nodes = [helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0], mode="nearest")]
        inits = {}
    else:
        nodes = [helper.make_node("Upsample", ["x", "sc"], ["y"], mode="nearest")]
        inits = {"sc": np.array([1, 1, 2, 3], np.float32)}
    model = check(make(nodes, inits, (3, 4, 5), opset=opset), (3, 4, 5))
    assert [n.op for n in model.graph.nodes] == ["interpolate"]


@pytest.mark.parametrize("scales", [(2, 2), (2, 3), (1.5, 2.5), (1.25, 2.0), (1.7, 1)])
def test_upsample_linear_asymmetric(scales, isa):
    """Opset 9 'linear' Upsample: asymmetric coordinates (source o / scale, no half-pixel offset), against
    onnxruntime."""
    nodes = [helper.make_node("Upsample", ["x", "sc"], ["y"], mode="linear", name="up")]
    data = make(nodes, {"sc": np.array([1, 1, *scales], np.float32)}, (3, 8, 9), opset=9)
    model = check(data, (3, 8, 9))
    assert [n.op for n in model.graph.nodes] == ["interpolate"]
    assert model.graph.nodes[0].attrs.get("asymmetric") is True


def test_fixed_batch_one_reshape_glue_runs_at_any_batch(isa):
    nodes = [helper.make_node("Conv", ["x", "w", "cb"], ["c"], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1, alpha=0.5, beta=2.0)]
    inits = {"w": _w(4, 3, 3, 3), "cb": _w(4), "shape": np.array([1, -1], np.int64),
             "fc": _w(7, 4 * 3 * 3), "fcb": _w(7)}
    data = make(nodes, inits, (3, 7, 7), opset=11, batch=1)
    model = check(data, (3, 7, 7), batches=(1, 4), fixed_batch=1)
    codes = {code for code, _, _ in model.source_graph.notes}
    assert {"batch1_reshape", "fixed_batch_generalized"} <= codes
    assert [n.op for n in model.source_graph.nodes] == ["conv2d", "relu", "flatten", "linear"]


def test_symbolic_batch_shape_glue_folds_to_flatten(isa):
    """x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze -> Concat([n, -1]) -> Reshape."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["y"])]
    inits = {"zero": np.array(0, np.int64), "ax0": np.array([0], np.int64), "minus1": np.array([-1], np.int64),
             "w": _w(2 * 3 * 4, 5), "b": _w(5)}
    model = check(make(nodes, inits, (2, 3, 4), opset=13), (2, 3, 4))
    assert [n.op for n in model.source_graph.nodes] == ["flatten", "linear"]


def test_batch_dependent_graph_keeps_a_fixed_batch():
    nodes = [helper.make_node("Softmax", ["x"], ["y"], axis=0)]
    model = check(make(nodes, {}, (4,), opset=13, batch=3), (4,), batches=(3,))
    assert model.inputs[0].shape == (3, 4)
    assert any(code == "fixed_batch" for code, _, _ in model.source_graph.notes)
    with pytest.raises(fastnorm.UnsupportedError, match=r"batch"):
        fastnorm.from_onnx(make(nodes, {}, (4,), opset=13, batch="N"))


@pytest.mark.parametrize("opset", [6, 11, 13])
def test_clip_forms(opset, isa):
    if opset < 11:
        nodes = [helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.25)]
        inits = {}
    else:
        nodes = [helper.make_node("Clip", ["x", "lo", ""], ["c"]),
                 helper.make_node("Clip", ["c", "", "hi"], ["y"])]
        inits = {"lo": np.array(-0.5, np.float32), "hi": np.array(0.25, np.float32)}
    model = fastnorm.from_onnx(make(nodes, inits, (3, 4, 5), opset=opset))
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x), np.clip(x, -0.5, 0.25))


@pytest.mark.parametrize("opset", [9, 11])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [1, 2, 3])
def test_legacy_softmax_flattens_at_axis(opset, op, axis, isa):
    """opset < 13: softmax over the dims from `axis` on, flattened into one."""
    check(make([helper.make_node(op, ["x"], ["y"], axis=axis)], {}, (3, 4, 5), opset=opset), (3, 4, 5))


def test_legacy_softmax_axis0_with_a_dynamic_batch_is_unsupported():
    bad = make([helper.make_node("Softmax", ["x"], ["y"], axis=0, name="sm")], {}, (3, 4), opset=11)
    with pytest.raises(fastnorm.UnsupportedError, match=r"node 'sm' \(Softmax, opset 11\).*batch"):
        fastnorm.from_onnx(bad)


@pytest.mark.parametrize("opset", [6, 7, 12, 13])
def test_dropout_is_identity_in_inference(opset, isa):
    kw = {"is_test": 1} if opset < 7 else {}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Dropout", ["c"], ["y"], **kw)]
    w = _w(2, 3, 1, 1)
    model = fastnorm.from_onnx(make(nodes, {"w": w}, (3, 4, 4), opset=opset, inits_as_inputs=opset < 9))
    x = RNG.standard_normal((3, 3, 4, 4)).astype(np.float32)
    assert_matches(model.predict(x), np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x))  # no runtime has Dropout-6
    assert [n.op for n in model.graph.nodes] == ["conv2d"]


def test_depth_to_space_dcr_and_space_to_depth(isa):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("DepthToSpace", ["c"], ["d"], blocksize=2, mode="DCR"),
             helper.make_node("SpaceToDepth", ["d"], ["y"], blocksize=2)]
    check(make(nodes, {"w": _w(8, 3, 1, 1)}, (3, 4, 5), opset=13), (3, 4, 5))


def test_maxpool_asymmetric_pads_and_same_conv(isa):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], auto_pad="SAME_LOWER", strides=[2, 2]),
             helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[3, 3], pads=[0, 1, 2, 1]),
             helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], pads=[1, 0, 0, 1],
                              count_include_pad=1)]
    check(make(nodes, {"w": _w(4, 3, 3, 3)}, (3, 9, 8), opset=13), (3, 9, 8))


def test_nhwc_input_transposes_cost_nothing(isa):
    """tf2onnx style: an NHWC graph input, Transpose(0,3,1,2) into the convs, Transpose(0,2,3,1) out."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "b"], ["a"]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 3, 1])]
    data = make(nodes, {"w": _w(5, 3, 3, 3), "b": _w(1, 5, 1, 1)}, (6, 7, 3), opset=13)
    model = check(data, (6, 7, 3))
    # the per-channel Add became the conv's bias, and the ReLU fused into it
    assert [n.op for n in model.graph.nodes] == ["transpose", "conv2d", "transpose"]


def test_groupnorm_affine_folds_into_the_norm(isa):
    import torch
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.GroupNorm(4, 8), torch.nn.SiLU()).eval()
    with torch.no_grad():
        m[1].weight.uniform_(0.5, 1.5)
        m[1].bias.uniform_(-0.5, 0.5)
    from onnx_util import export
    data = export(m, (1, 3, 9, 9), 13)
    model = check(data, (3, 9, 9))
    # Reshape-InstanceNorm-Reshape-Mul-Add is one group_norm; Sigmoid-Mul is one silu
    assert [n.op for n in model.source_graph.nodes] == ["conv2d", "group_norm", "silu"]


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_mish_from_softplus_tanh_mul_is_one_op(opset, isa):
    """torch exports F.mish below opset 18 as x * tanh(softplus(x)): one mish, fused into the conv."""
    import torch
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Mish(),
                            torch.nn.Conv2d(8, 5, 1), torch.nn.Mish()).eval()
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    from onnx_util import export
    model = check(export(m, (1, 3, 9, 9), opset), (3, 9, 9))
    ops = [n.op for n in model.source_graph.nodes]   # the exporter may fold the BN itself
    assert ops.count("mish") == 2 and not {"softplus", "tanh", "mul"} & set(ops)
    assert [n.op for n in model.graph.nodes] == ["conv2d", "conv2d"]


def test_mish_idiom_needs_the_same_input_and_single_readers(isa):
    """x * tanh(softplus(z)) with z != x, and a tanh read twice, are left as they are (and still right)."""
    nodes = [helper.make_node("Softplus", ["x"], ["sp"]),
             helper.make_node("Tanh", ["sp"], ["t"]),
             helper.make_node("Neg", ["x"], ["z"]),
             helper.make_node("Mul", ["z", "t"], ["y0"]),          # another operand: no mish
             helper.make_node("Softplus", ["x"], ["sp2"]),
             helper.make_node("Tanh", ["sp2"], ["t2"]),
             helper.make_node("Mul", ["x", "t2"], ["y1"]),
             helper.make_node("Add", ["y0", "t2"], ["y2"]),        # t2 read twice: no mish
             helper.make_node("Add", ["y1", "y2"], ["y"])]
    data = make(nodes, {}, (4, 5, 6), opset=13)
    model = check(data, (4, 5, 6))
    assert "mish" not in [n.op for n in model.source_graph.nodes]


@pytest.mark.parametrize("opset", [9, 10, 11, 13, 18])
def test_torch_nearest_upsample_every_resize_version(opset, isa):
    import torch
    from onnx_util import export
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.Upsample(scale_factor=2), torch.nn.ReLU())
    model = check(export(m, (1, 3, 5, 6), opset), (3, 5, 6))
    assert "interpolate" in [n.op for n in model.graph.nodes]


def test_opset_newer_than_installed_onnx_is_refused_clearly():
    newest = onnx.defs.onnx_opset_version()
    data = make([helper.make_node("Relu", ["x"], ["y"])], {}, (3,), opset=newest + 1)
    with pytest.raises(fastnorm.UnsupportedError, match="opset %d is newer" % (newest + 1)):
        fastnorm.from_onnx(data)


def test_every_note_is_a_triple():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="flat")]
    data = make(nodes, {"shape": np.array([1, -1], np.int64)}, (3, 4), opset=13, batch=1)
    notes = fastnorm.from_onnx(data).source_graph.notes
    assert notes and all(isinstance(n, tuple) and len(n) == 3 and all(isinstance(p, str) for p in n)
                         for n in notes)


@pytest.mark.parametrize("opset", [18, 21])
def test_group_normalization_scale_per_group_vs_per_channel(opset, isa):
    """opset 18: scale/bias per group; opset 21: per channel. Both map onto group_norm exactly."""
    c, g = 6, 3
    n = g if opset < 21 else c
    nodes = [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=g, epsilon=1e-4)]
    data = make(nodes, {"s": 1 + _w(n), "b": _w(n)}, (c, 4, 5), opset=opset)
    model = fastnorm.from_onnx(data)
    x = RNG.standard_normal((2, c, 4, 5)).astype(np.float32)
    xs = x.reshape(2, g, -1).astype(np.float64)
    norm = ((xs - xs.mean(-1, keepdims=True)) / np.sqrt(xs.var(-1, keepdims=True) + 1e-4)).reshape(x.shape)
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(data).graph.initializer}
    s, b = init["s"], init["b"]
    if opset < 21:
        s, b = np.repeat(s, c // g), np.repeat(b, c // g)
    assert_matches(model.predict(x), norm * s.reshape(1, c, 1, 1) + b.reshape(1, c, 1, 1))
