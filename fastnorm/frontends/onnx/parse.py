"""Protobuf -> the converter's input: read a path, bytes or ModelProto (with external weight data).
"""
import os

from fastnorm.errors import FormatError


def read_model(onnx, model_or_path, external_data_dir=None):
    """(ModelProto, where). External data is read from the model's own folder (a path) or from
    external_data_dir (bytes or a ModelProto, which is copied first); else it is refused."""
    m, where = _read(onnx, model_or_path)
    if external_data_dir is not None and not isinstance(model_or_path, (str, os.PathLike)):
        if isinstance(model_or_path, onnx.ModelProto):
            m = onnx.ModelProto()
            m.CopyFrom(model_or_path)
        _load_external(m, external_data_dir, where)
    _check_untrusted(onnx, m, where)
    return m, where


def _load_external(m, folder, where):
    """Read the initializers' external data from files inside folder: a location that is absolute, has a
    `..` part, or resolves (symlinks followed) outside folder is refused."""
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data
    if not os.path.isdir(folder):
        raise FormatError("%s: the external data folder %r is not a directory" % (where, str(folder)))
    root = os.path.realpath(folder)
    ext = [t for t in m.graph.initializer if uses_external_data(t)]
    for t in ext:
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        parts = loc.replace("\\", "/").split("/")
        real = os.path.realpath(os.path.join(root, loc))
        if not loc or os.path.isabs(loc) or ".." in parts or os.path.commonpath([root, real]) != root:
            raise FormatError("%s: tensor %r names external data at %r, outside the folder %r; only files "
                              "inside it are read" % (where, t.name, loc, str(folder)))
    if ext:
        try:
            load_external_data_for_model(m, root)
        except Exception as e:  # noqa: BLE001
            raise FormatError("%s: external weight data cannot be read: %s" % (where, e)) from None


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
                                  "data only for a model loaded from a path, from the model's own folder, or "
                                  "from the folder from_onnx(..., external_data_dir=) names" % (where, t.name))
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
        _load_external(m, os.path.dirname(os.path.abspath(where)), where)
        return m, where
    raise TypeError("from_onnx: expected a path, bytes or an onnx.ModelProto, got %s" % type(model_or_path).__name__)
