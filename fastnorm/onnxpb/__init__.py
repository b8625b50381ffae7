"""A pure-Python reader of ONNX files: the protobuf wire format decoded straight into light objects.

fastnorm reads .onnx files without importing onnx (whose import, with ml_dtypes, costs over a second).
    m = onnxpb.load_model("net.onnx")          # external data: only from files beside the model
    m = onnxpb.parse_model(data, base_dir=None) # bytes; external data refused unless base_dir is given
    m.graph.node[0].op_type, m.graph.initializer, onnxpb.to_array(t), onnxpb.get_attribute_value(a)
Malformed bytes raise WireError (a fastnorm.FormatError) naming the byte offset and the field path.
Nothing in this package imports onnx or google.protobuf.
"""
import mmap
import os

from fastnorm.errors import FormatError
from fastnorm.onnxpb.build import copy_node, make_attribute, make_node, serialize
from fastnorm.onnxpb.messages import (AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
                                      SparseTensorProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
                                      parse)
from fastnorm.onnxpb.tensor import (detach, dtype_name, get_attribute_value, np_dtype, resolve_external_data,
                                    sparse_to_dense, to_array, to_array_view)
from fastnorm.onnxpb.wire import WireError


def parse_model(data, base_dir=None):
    """bytes -> ModelProto. External tensors are read from files inside `base_dir` when given; without
    it they stay external and to_array refuses them (a blob must not read the process's files)."""
    if not isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
        raise TypeError("parse_model: expected bytes, got %s" % type(data).__name__)
    m = parse(ModelProto, data)
    if base_dir is not None:
        resolve_external_data(m, base_dir)
    return m


def load_model(path, load_external_data=True):
    """Read an .onnx file -> ModelProto; external data only from inside the model's own directory."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return parse_model(data, os.path.dirname(os.path.abspath(path)) if load_external_data else None)
    except FormatError as e:
        if path not in str(e):
            e.args = ("%s: %s" % (path, e.args[0] if e.args else ""),)
        raise


__all__ = ["load_model", "parse_model", "make_node", "copy_node", "make_attribute", "serialize", "to_array", "to_array_view", "detach", "get_attribute_value", "np_dtype", "dtype_name",
           "sparse_to_dense", "WireError", "ModelProto", "GraphProto", "NodeProto", "AttributeProto", "TensorProto",
           "ValueInfoProto", "TypeProto", "TensorShapeProto", "SparseTensorProto", "OperatorSetIdProto"]
