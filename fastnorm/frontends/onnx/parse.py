"""Protobuf -> the converter's input: read a path, bytes or ModelProto (with external weight data).
"""
import os

from fastnorm.errors import FormatError


def read_model(onnx, model_or_path):
    m, where = _read(onnx, model_or_path)
    _check_untrusted(onnx, m, where)
    return m, where


def _check_untrusted(onnx, m, where):
    """What the file itself could make the converter do wrong: a tensor still naming external data
    (read from a path, only the model's own directory was searched, and onnx would read the rest, and
    any from bytes or a ModelProto, relative to the process's working directory) and names that are
    not UTF-8 (protobuf hands those over as bytes). One walk over the graphs, subgraphs included."""
    ext = onnx.TensorProto.EXTERNAL
    graphs = [m.graph]
    while graphs:
        g = graphs.pop()
        tensors = list(g.initializer) + [t for sp in g.sparse_initializer for t in (sp.values, sp.indices)]
        names = [v.name for v in list(g.input) + list(g.output) + list(g.value_info)]
        for n in g.node:
            names += [n.name, n.op_type] + list(n.input) + list(n.output)
            for a in n.attribute:
                tensors += [a.t] + list(a.tensors) + [t for sp in [a.sparse_tensor] + list(a.sparse_tensors)
                                                      for t in (sp.values, sp.indices)]
                graphs += [a.g] + list(a.graphs)
        for t in tensors:
            if t.data_location == ext or len(t.external_data):
                raise FormatError("%s: tensor %r keeps its data in an external file; fastnorm reads external "
                                  "data only for a model loaded from a path, from the model's own folder"
                                  % (where, t.name))
            names.append(t.name)
        bad = next((x for x in names if not isinstance(x, str)), None)
        if bad is not None:
            raise FormatError("%s: the name %r is not UTF-8 text" % (where, bad[:80]))


def _read(onnx, model_or_path):
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
