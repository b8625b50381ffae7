"""Experiment, not part of fastnorm: run the existing ONNX frontend on onnxpb through an onnx-shaped shim.

    PYTHONPATH=tools python -m pytest -p onnxpb_frontend_shim tests/test_onnx_node.py tests/test_onnx_legacy.py ...

It proves the seam described in the onnxpb report: the frontend reads onnxpb objects unchanged when
onnx.load / numpy_helper.to_array / helper.get_attribute_value / helper.make_node / the constant folder are
swapped for onnxpb's. Delete it once fastnorm/frontends/onnx uses onnxpb directly.
"""
import types
import numpy as np
import pytest
from fastnorm import onnxpb
from fastnorm.onnxpb.fold import fold
from fastnorm.frontends.onnx import _base as B, converter as F, resize as R, symbolic as S

calls = {"fold": 0, "fallback": 0}


def _load(p, load_external_data=False):
    return onnxpb.load_model(p)


class _MP(onnxpb.ModelProto):
    pass


class _Helper:
    get_attribute_value = staticmethod(onnxpb.get_attribute_value)
    tensor_dtype_to_np_dtype = staticmethod(onnxpb.np_dtype)
    make_node = staticmethod(onnxpb.make_node)

    def __getattr__(self, name):      # the Resize probe still builds a real onnx graph: import onnx only then
        import onnx.helper
        return getattr(onnx.helper, name)


class _NumpyHelper:
    to_array = staticmethod(onnxpb.to_array)

    def __getattr__(self, name):
        import onnx.numpy_helper
        return getattr(onnx.numpy_helper, name)


shim = types.SimpleNamespace(
    helper=_Helper(),
    numpy_helper=_NumpyHelper(),
    TensorProto=onnxpb.TensorProto, ModelProto=_MP, load=_load,
    defs=types.SimpleNamespace(onnx_opset_version=lambda: 28),
    checker=types.SimpleNamespace(check_model=lambda m, full_check=False: None), __version__="onnxpb")


def _parse(onnx, model_or_path):
    import os
    if isinstance(model_or_path, (bytes, bytearray, memoryview)):
        return onnxpb.parse_model(model_or_path), "<bytes>"
    if isinstance(model_or_path, (str, os.PathLike)):
        return onnxpb.load_model(model_or_path), str(model_or_path)
    import onnx
    if isinstance(model_or_path, onnx.ModelProto):
        return onnxpb.parse_model(model_or_path.SerializeToString()), "<ModelProto>"
    raise TypeError("from_onnx: expected a path, bytes or an onnx.ModelProto, got %s" % type(model_or_path).__name__)


orig_fold = F._Converter._fold


def _fold(self, node):
    if node.op_type == "Constant":
        return S.op_constant(self, node, self.attrs(node))
    r = fold(node.op_type, [self.const[v] if v else None for v in node.input], self.attrs(node), self.opset)
    if r is not NotImplemented:
        calls["fold"] += 1
        for v, a in zip([v for v in node.output if v], r):
            self.const[v] = a
        return
    calls["fallback"] += 1
    import onnx
    from onnx.reference import ReferenceEvaluator
    proto = onnx.NodeProto.FromString(onnxpb.serialize(node.proto))
    h = onnx.helper
    ins = [h.make_tensor_value_info(v, h.np_dtype_to_tensor_dtype(self.const[v].dtype), self.const[v].shape)
           for v in dict.fromkeys(x for x in node.input if x)]
    outs = [h.make_empty_tensor_value_info(v) for v in node.output if v]
    m = h.make_model(h.make_graph([proto], "fold", ins, outs), opset_imports=[h.make_opsetid("", self.opset)])
    try:
        res = ReferenceEvaluator(m).run(None, {v: self.const[v] for v in node.input if v})
    except Exception as e:
        raise B.Malformed("constant folding failed: %s" % e)
    for v, r in zip([v for v in node.output if v], res):
        self.const[v] = np.asarray(r)


@pytest.fixture(autouse=True)
def _onnxpb_shim(monkeypatch):
    monkeypatch.setattr(F, "import_onnx", lambda: shim)
    monkeypatch.setattr(F, "read_model", _parse)
    monkeypatch.setattr(F._Converter, "_fold", _fold)
    yield


def pytest_sessionfinish(session, exitstatus):
    print("\nonnxpb shim: folded %(fold)d nodes with onnxpb.fold, %(fallback)d through ReferenceEvaluator" % calls)


_orig_probe = R._onnx_axis_map


def _probe(onnx_, *a, **k):
    import onnx
    import onnx.numpy_helper  # noqa: F401
    return _orig_probe(onnx, *a, **k)


@pytest.fixture(autouse=True)
def _onnxpb_probe(monkeypatch):
    monkeypatch.setattr(R, "_onnx_axis_map", _probe)
    yield
