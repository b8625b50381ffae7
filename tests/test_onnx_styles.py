"""ONNX files written the way other converters write them (tf2onnx / keras2onnx NHWC graphs with SAME
auto_pad, explicit Pad, unfused BN, Clip as Relu6, opset < 13 Softmax; ONNX Model Zoo opset 6-9 files with
IR 3 and initializers listed as inputs; paddle2onnx / mxnet Shape-driven reshapes, ConvTranspose, Pad modes,
ArgMax; symbolic / unset batch and H / W), hand-built in tests/onnx_styles.py, against onnxruntime
(CPUExecutionProvider) under every ISA. Refusals are pinned by message. Bound: tests/util.py assert_model_close (max abs err <= 1e-4 * max(1, max |ref|)); integer outputs
exact."""
import os
import warnings

import numpy as np
import pytest
from util import assert_model_close, importorskip

ort = importorskip("onnxruntime")
onnx = importorskip("onnx")

import fastnorm  # noqa: E402
import onnx_styles as S  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

ort.set_default_logger_severity(3)

# case -> the UnsupportedError message (regex) fastnorm refuses it with
REFUSED = {
    "topk_output": r"\(TopK, opset 11\): op TopK",
    "maxpool_indices_output": r"\(MaxPool, opset 11\): the Indices output",
    "resize11_cubic_half_pixel": r"\(Resize, opset 11\): mode 'cubic'",
    "resize11_tf_crop_and_resize": r"coordinate_transformation_mode 'tf_crop_and_resize'",
    "resize11_nearest_tf_half_pixel_for_nn": r"coordinate_transformation_mode 'tf_half_pixel_for_nn'",
    # sizes with a literal batch while the declared batch is symbolic
    "resize11_nearest_sizes": r"sizes\[0\]=2 fixes the batch",
    "resize11_linear_align_corners_sizes": r"sizes\[0\]=2 fixes the batch",
    "resize11_linear_pytorch_half_pixel_sizes": r"sizes\[0\]=2 fixes the batch",
    "resize11_sizes_fixed_batch": r"sizes\[0\]=2 fixes the batch",
    "reduce_opset18_noop_empty_axes": r"\(ReduceSum, opset 18\): reduces over the batch",
    "softmax_axis0_opset11_2d": r"\(Softmax, opset 11\): softmax over every dim including the batch",
    "gemm_transA": r"\(Transpose, opset 13\): perm \[1, 0\] moves the batch",
    "matmul_vector_b": r"\(MatMul, opset 13\): a 1D constant B \(only 2D weights\)",
}

# The probe's two wrong answers, fixed in session 28 (both cases now in OK): a file declaring batch 1
# with Squeeze() and no axes on a (1, C, 1, 1) pool gave (1, C), onnxruntime (C,) (frontends/onnx/shape.py
# now keeps the declared batch); (x * x) * (1 + Erf(x / sqrt 2)) raised IndexError out of from_onnx (the
# erf-GELU idiom matcher, frontends/onnx/idioms.py). Linear Resize on asymmetric coordinates (opset 9-10
# 'linear' Upsample / Resize, Keras UpSampling2D bilinear, TF1 resize_bilinear) was refused; it runs, as
# does Pow with a constant positive base (exp(x ln b)) and a Resize of an NHWC tensor (scales [1, s, s, 1]:
# between two transposes), and an NHWC input whose height and width are dynamic (tf2onnx's detectors).

# documented deviations, checked for values (after reshaping to onnxruntime's shape) but not for shape
DEVIATIONS = {
    # dynamic batch, Squeeze() without axes: onnxruntime drops the batch at batch 1; fastnorm keeps dim 0
    # as the batch (doctor note squeeze_batch)
    "squeeze_no_axes_dynamic_batch",
}


def _ort(data):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def _ort_run(data, feeds):
    sess = _ort(data)
    return [o.name for o in sess.get_outputs()], sess.run(None, feeds)


def _refeval_run(data, feeds):
    from onnx.reference import ReferenceEvaluator
    m = onnx.load_from_string(data)
    return [o.name for o in m.graph.output], ReferenceEvaluator(m).run(None, feeds)


def _opset6_as_7(data, feeds):
    """The opset 6 model (is_test attributes) restamped as opset 7 without them, on onnxruntime."""
    m = onnx.load_from_string(data)
    for n in m.graph.node:
        keep = [a for a in n.attribute if a.name != "is_test"]
        del n.attribute[:]
        n.attribute.extend(keep)
    m.opset_import[0].version = 7
    return _ort_run(m.SerializeToString(), feeds)


def _lrn_spec(data, feeds):
    """LRN with an even size per the ONNX spec (floor((size-1)/2) channels before, ceil(...) after): both
    onnxruntime (refuses even sizes) and onnx.reference (a different window) fail as a reference here."""
    m = onnx.load_from_string(data)
    lrn = [n for n in m.graph.node if n.op_type == "LRN"][0]
    a = {x.name: onnx.helper.get_attribute_value(x) for x in lrn.attribute}
    trunc = onnx.load_from_string(data)
    idx = [i for i, n in enumerate(trunc.graph.node) if n.op_type == "LRN"][0]
    del trunc.graph.node[idx:]
    trunc.graph.output[0].name = lrn.input[0]
    x = _ort_run(trunc.SerializeToString(), feeds)[1][0].astype(np.float64)
    size, C = a["size"], x.shape[1]
    sq = np.zeros_like(x)
    for c in range(C):
        lo, hi = max(0, c - (size - 1) // 2), min(C - 1, c + -(-(size - 1) // 2))
        sq[:, c] = (x[:, lo:hi + 1] ** 2).sum(1)
    y = x / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / size * sq) ** a.get("beta", 0.75)
    return [m.graph.output[0].name], [y.astype(np.float32)]


def _bilinear_as_linear(data, feeds):
    """Upsample mode 'bilinear' (older converters' name for opset 7's 'linear', which onnxruntime refuses)
    against the same model with mode 'linear' on onnxruntime."""
    m = onnx.load_from_string(data)
    for n in m.graph.node:
        for a in n.attribute:
            if n.op_type == "Upsample" and a.name == "mode" and a.s == b"bilinear":
                a.s = b"linear"
    return _ort_run(m.SerializeToString(), feeds)


REFERENCE = {
    "upsample7_bilinear_attr": _bilinear_as_linear,
    # onnxruntime gives MaxPool SAME_UPPER with dilations a VALID-sized output (6, 7) for an (8, 9) input at
    # stride 1; the spec (and onnx.reference, and fastnorm) give ceil(in / stride) = (8, 9)
    "maxpool_dilated_same": _refeval_run,
    # onnxruntime: "Dilation not supported for AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER"
    "conv_dilated_same_upper": _refeval_run,
    "zoo_opset7_bn_is_test_opset6": _opset6_as_7,
    "lrn_even_size": _lrn_spec,
    # onnxruntime refuses the file: "two nodes with same node name (dup)"; fastnorm loads it
    "unnamed_and_duplicate_node_names": _refeval_run,
}

OK = sorted(set(S.CASES) - set(REFUSED) - DEVIATIONS)


def _load(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fastnorm.from_onnx(data)


def _compare(name, model, data, isas):
    feeds0 = S.CASES[name]()[1]
    feeds = [feeds0] + (S.EXTRA_FEEDS[name]() if name in S.EXTRA_FEEDS else [])
    ref = REFERENCE.get(name, _ort_run)
    wants = [ref(data, f) for f in feeds]
    for isa in isas:
        with force_isa(isa):
            for f, (onames, want) in zip(feeds, wants):
                shape = next(iter(f.values())).shape
                got = model.run(f)
                assert sorted(got) == sorted(onames), (name, sorted(got), onames)
                for on, w in zip(onames, want):
                    g = np.asarray(got[on])
                    what = "%s output %r, input %s (%s)" % (name, on, shape, isa)
                    if name in DEVIATIONS:
                        g = g.reshape(w.shape)
                    if w.dtype.kind in "iub":
                        assert g.shape == w.shape and (g == w).all(), what
                    else:
                        assert_model_close(g.astype(np.float32), w, what)
                if len(onames) == 1 and len(f) == 1:
                    g = model.predict(next(iter(f.values())))
                    w = want[0]
                    if name in DEVIATIONS:
                        g = g.reshape(w.shape)
                    if w.dtype.kind in "iub":
                        assert (g == w).all(), name + " predict"
                    else:
                        assert_model_close(g, w, "%s predict, input %s (%s)" % (name, shape, isa))


@pytest.mark.parametrize("name", OK)
def test_style_matches_onnxruntime(name):
    data, _ = S.CASES[name]()
    _compare(name, _load(data), data, available_isas())


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_style_refused_by_name(name):
    data, _ = S.CASES[name]()
    with pytest.raises(fastnorm.UnsupportedError, match=REFUSED[name]):
        _load(data)


@pytest.mark.parametrize("name", sorted(DEVIATIONS))
def test_style_documented_deviation(name):
    data, _ = S.CASES[name]()
    _compare(name, _load(data), data, available_isas())


@pytest.mark.parametrize("name", ["tf_nhwc_same_upper", "zoo_opset7_legacy", "dyn_hw"])
def test_style_load_from_path(name, tmp_path):
    """fastnorm.load on a .onnx file gives the same answers as from_onnx(bytes)."""
    data, _ = S.CASES[name]()
    p = os.path.join(str(tmp_path), name + ".onnx")
    with open(p, "wb") as f:
        f.write(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnorm.load(p)
    _compare(name, model, data, available_isas()[-1:])


def test_style_cases_all_classified():
    """Every builder is in exactly one bucket (ok, refused, deviation)."""
    buckets = [set(OK), set(REFUSED), DEVIATIONS]
    for name in S.CASES:
        assert sum(name in b for b in buckets) == 1, name
    assert set(REFUSED) | DEVIATIONS <= set(S.CASES)


@pytest.mark.parametrize("by", ["scales", "sizes"])
@pytest.mark.parametrize("mode,ctm,nm", [("nearest", "asymmetric", "floor"), ("linear", "half_pixel", None),
                                         ("linear", "asymmetric", None), ("linear", "align_corners", None),
                                         ("nearest", "half_pixel", "round_prefer_ceil")])
def test_nhwc_resize_family(by, mode, ctm, nm):
    """Resize of an NHWC tensor (dims 1 and 2 scaled, dim 3 kept: tf2onnx / Keras) runs as NCHW between two
    transposes: by scales (up, down, unequal) and by sizes, against onnxruntime under every ISA."""
    from onnx import TensorProto, helper, numpy_helper
    for h, w, c, (sh, sw) in ((5, 6, 3, (2.0, 2.0)), (8, 7, 5, (0.5, 2.0)), (4, 4, 16, (3.0, 1.0))):
        oh, ow = int(h * sh), int(w * sw)
        if by == "scales":
            ins, init = ["x", "", "s"], numpy_helper.from_array(np.array([1, sh, sw, 1], np.float32), "s")
        else:
            ins, init = ["x", "", "", "s"], numpy_helper.from_array(np.array([1, oh, ow, c], np.int64), "s")
        kw = {"nearest_mode": nm} if nm else {}
        g = helper.make_graph([helper.make_node("Resize", ins, ["y"], mode=mode, coordinate_transformation_mode=ctm,
                                                **kw)],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, h, w, c])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [init])
        data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
        x = np.random.default_rng(h * w).standard_normal((1, h, w, c)).astype(np.float32)
        want = _ort_run(data, {"x": x})[1][0]
        model = _load(data)
        for isa in available_isas():
            with force_isa(isa):
                got = model.predict(x)
                assert got.shape == want.shape == (1, oh, ow, c)
                assert_model_close(got, want, "%s %s %s %dx%dx%d (%s)" % (by, mode, ctm, h, w, c, isa))
