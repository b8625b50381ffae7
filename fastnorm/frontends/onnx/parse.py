"""Protobuf -> the converter's input: read a path, bytes or ModelProto (with external weight data).
"""
import os

from fastnorm.errors import FormatError


def read_model(onnx, model_or_path):
    from google.protobuf.message import DecodeError
    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path, "<ModelProto>"
    if isinstance(model_or_path, (bytes, bytearray, memoryview)):
        data, where = bytes(model_or_path), "<bytes>"
        try:
            m = onnx.ModelProto()
            m.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            raise FormatError("%s: not an ONNX model (protobuf decode failed: %s)" % (where, e)) from None
        return m, where
    if isinstance(model_or_path, (str, os.PathLike)):
        where = str(model_or_path)
        if not os.path.exists(where):
            raise FileNotFoundError(where)
        try:
            m = onnx.load(where, load_external_data=False)
        except (DecodeError, ValueError, RuntimeError, OSError) as e:
            raise FormatError("%s: not an ONNX model (protobuf decode failed: %s)" % (where, e)) from None
        except Exception as e:  # noqa: BLE001 - protobuf raises various types on garbage
            raise FormatError("%s: not an ONNX model (%s: %s)" % (where, type(e).__name__, e)) from None
        try:
            from onnx.external_data_helper import load_external_data_for_model, uses_external_data
            if any(uses_external_data(t) for t in m.graph.initializer):
                load_external_data_for_model(m, os.path.dirname(os.path.abspath(where)))
        except Exception as e:  # noqa: BLE001
            raise FormatError("%s: external weight data cannot be read: %s" % (where, e)) from None
        return m, where
    raise TypeError("from_onnx: expected a path, bytes or an onnx.ModelProto, got %s" % type(model_or_path).__name__)
