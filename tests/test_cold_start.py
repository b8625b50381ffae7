"""Issue 14's cold start: loading an .onnx imports neither onnx nor protobuf (fastnorm.onnxpb reads it),
an onnx.ModelProto is still accepted, the Resize probe needs no onnx, and `fastnorm bench --cold` times a
fresh process step by step."""
import os
import subprocess
import sys

import numpy as np
import pytest
from util import importorskip

onnx = importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fastnorm  # noqa: E402
from fastnorm import _cold, onnxpb  # noqa: E402
from fastnorm.frontends.onnx.resize import _onnx_axis_map  # noqa: E402


def _conv_model(opset=13):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Shape", ["r"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
             helper.make_node("Reshape", ["r", "shp"], ["y"])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array(0, np.int64), "i0"), numpy_helper.from_array(np.array([0], np.int64), "ax"),
             numpy_helper.from_array(np.array([-1], np.int64), "m1")]
    g = helper.make_graph(nodes, "g", [x], [helper.make_empty_tensor_value_info("y")], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _want(m, x):
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(m).run(None, {"x": x})[0]


def test_load_and_predict_import_no_onnx(tmp_path):
    """A fresh process: load an .onnx (shape glue folded by onnxpb.fold), predict; onnx, protobuf and
    ml_dtypes never imported, and the result is ONNX's."""
    m = _conv_model()
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    r = _cold.one("fastnorm", str(p), out=str(tmp_path / "y.npy"))
    assert r["heavy_modules"] == [] and not r["onnx_imported"], r
    x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)   # the child's input (seed 0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _want(m, x), rtol=1e-4, atol=1e-5)
    for step in _cold.STEPS:
        assert r[step] >= 0


def test_model_proto_bytes_and_onnxpb_model_give_the_same_model():
    m = _conv_model()
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = _want(m, x)
    data = m.SerializeToString()
    for src in (m, data, bytearray(data), onnxpb.parse_model(data)):
        np.testing.assert_allclose(fastnorm.from_onnx(src).predict(x), want, rtol=1e-4, atol=1e-5)


def test_model_proto_with_external_data_is_refused():
    m = _conv_model()
    t = m.graph.initializer[0]
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "w.bin"
    t.ClearField("raw_data")
    with pytest.raises(fastnorm.FormatError, match="external"):
        fastnorm.from_onnx(m)


def test_fold_fallback_to_the_reference_evaluator_still_works():
    """An op onnxpb.fold does not evaluate (Trilu) on constants: onnx's reference evaluator, lazily."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 4])
    c = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "c")
    nodes = [helper.make_node("Trilu", ["c"], ["t"]), helper.make_node("Add", ["x", "t"], ["y"])]
    g = helper.make_graph(nodes, "g", [x], [helper.make_empty_tensor_value_info("y")], [c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    x = np.zeros((1, 4, 4), np.float32)
    np.testing.assert_array_equal(fastnorm.from_onnx(m).predict(x), _want(m, x))


RESIZE_CASES = [(mode, ctm, nm, n_in, spec)
                for mode in ("nearest", "linear")
                for ctm in ("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners", "half_pixel_symmetric")
                for nm in (("floor", "ceil", "round_prefer_floor", "round_prefer_ceil") if mode == "nearest" else ("",))
                for n_in in (1, 3, 7, 12)
                for spec in (("scale", 2.0), ("scale", 3.0), ("scale", 1.5), ("scale", 0.5), ("size", 5), ("size", 13))
                # downscaling with half_pixel_symmetric is left out: there the reference picks its sample from a
                # source coordinate within one ulp of an integer, which float rounding decides either way;
                # and a scale that leaves no output pixel
                if not (ctm == "half_pixel_symmetric" and (spec[0] == "scale" and spec[1] < 1
                                                           or spec[0] == "size" and spec[1] < n_in))
                and (spec[0] == "size" or int(np.floor(n_in * spec[1])) >= 1)]


@pytest.mark.parametrize("mode,ctm,nm,n_in,spec", RESIZE_CASES)
def test_resize_axis_map_is_onnx_resize(mode, ctm, nm, n_in, spec):
    """The Resize probe (written from the operator's definition) against onnx's reference evaluator
    (RESIZE_CASES says which cases are left out and why)."""
    scale = spec[1] if spec[0] == "scale" else None
    n_out = int(np.floor(n_in * scale)) if scale else spec[1]
    probe = np.random.default_rng(n_in).standard_normal(n_in).astype(np.float32)
    x = probe.reshape(1, 1, n_in, 1)
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    if nm:
        attrs["nearest_mode"] = nm
    ins = ["X", "", "scales"] if scale else ["X", "", "", "sizes"]
    g = helper.make_graph([helper.make_node("Resize", ins, ["Y"], **attrs)], "p",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape)],
                          [helper.make_empty_tensor_value_info("Y")])
    g.initializer.append(numpy_helper.from_array(np.array([1, 1, scale, 1], np.float32), "scales") if scale else
                         numpy_helper.from_array(np.array([1, 1, n_out, 1], np.int64), "sizes"))
    from onnx.reference import ReferenceEvaluator
    want = np.asarray(ReferenceEvaluator(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]))
                      .run(None, {"X": x})[0]).reshape(-1)
    got = _onnx_axis_map(mode, ctm, nm or "floor", n_in, n_out, scale, probe)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bench_cold_cli(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(_conv_model().SerializeToString())
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__))))
    r = subprocess.run([sys.executable, "-m", "fastnorm.cli", "bench", str(p), "--cold", "1"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| fastnorm (.onnx) |" in r.stdout and "| fastnorm (.fnm) |" in r.stdout, r.stdout
    if _cold.ort_available():
        assert "| ONNX Runtime (.onnx) |" in r.stdout and "/ ONNX Runtime cold start:" in r.stdout
    r = subprocess.run([sys.executable, "-m", "fastnorm.cli", "bench", str(p), "--cold", "0"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 2 and "--cold must be >= 1" in r.stderr
