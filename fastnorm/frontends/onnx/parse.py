"""Protobuf -> the converter's input: read a path, bytes or ModelProto (with external weight data).

The wire format is decoded by fastnorm.onnxpb (no `import onnx`: it costs over a second). An
onnx.ModelProto the caller built is accepted duck-typed (serialised, then decoded like bytes), so that
this module never imports onnx either.
"""
import os

from fastnorm import onnxpb
from fastnorm.errors import FormatError
from fastnorm.onnxpb.tensor import all_tensors


def read_model(model_or_path, external_data_dir=None):
    """(model, where). External data is read from the model's own folder (a path) or, for bytes or a
    ModelProto, from external_data_dir when the caller gives one (files inside it only); else refused."""
    m, where = _read(model_or_path)
    if external_data_dir is not None and not isinstance(model_or_path, (str, os.PathLike)):
        if not os.path.isdir(external_data_dir):
            raise FormatError("%s: the external data folder %r is not a directory"
                              % (where, str(external_data_dir)))
        try:
            onnxpb.resolve_external_data(m, os.path.abspath(external_data_dir))
        except FormatError as e:
            raise FormatError("%s: external weight data cannot be read: %s" % (where, e)) from None
    _check_untrusted(m, where)
    return m, where


def _check_untrusted(m, where):
    """A tensor still naming external data: read from a path, every one was read from the model's own
    directory (or refused); from bytes or a ModelProto none is read at all. Names that are not UTF-8
    are refused by onnxpb while decoding. One walk over the graphs, subgraphs included."""
    ext = onnxpb.TensorProto.EXTERNAL
    for t in all_tensors(m.graph):
        if t.data_location == ext or len(t.external_data):
            raise FormatError("%s: tensor %r keeps its data in an external file; fastnorm reads external "
                              "data only for a model loaded from a path, from the model's own folder, or from "
                              "the folder from_onnx(..., external_data_dir=) names" % (where, t.name))


def _is_onnx_model_proto(x):
    """An onnx.ModelProto (protobuf's generated class), recognised without importing onnx."""
    t = type(x)
    return (t.__name__ == "ModelProto" and t.__module__.split(".")[0] == "onnx"
            and callable(getattr(x, "SerializeToString", None)))


def _decode(data, where, base_dir=None):
    try:
        return onnxpb.parse_model(data, base_dir)
    except onnxpb.WireError as e:
        raise FormatError("%s: not an ONNX model (protobuf decode failed: %s)" % (where, e)) from None


MAP_MIN_BYTES = 1 << 16       # smaller files are read (a mapping costs more than it saves)


def _mapped(fh):
    """A read-only mapping of the file (POSIX, at least MAP_MIN_BYTES), or None: the model is decoded
    straight from the page cache instead of a copy of the whole file (issue 14's cold start: a fresh
    process pays a page fault per 4 KiB of a new buffer). Only for the parse: onnxpb.to_array copies
    every array out of the mapping, so nothing of it outlives the conversion."""
    if os.name != "posix":
        return None
    import mmap
    try:
        if os.fstat(fh.fileno()).st_size < MAP_MIN_BYTES:
            return None
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def _read(model_or_path):
    if isinstance(model_or_path, onnxpb.ModelProto):
        return model_or_path, "<ModelProto>"
    if _is_onnx_model_proto(model_or_path):
        where = "<ModelProto>"
        try:
            data = model_or_path.SerializeToString()
        except Exception as e:  # noqa: BLE001 - protobuf refuses messages over 2 GiB, unset required fields
            raise FormatError("%s: cannot be serialised (%s: %s)" % (where, type(e).__name__, e)) from None
        return _decode(data, where), where
    if isinstance(model_or_path, (bytes, bytearray, memoryview)):
        return _decode(bytes(model_or_path), "<bytes>"), "<bytes>"
    if isinstance(model_or_path, (str, os.PathLike)):
        where = str(model_or_path)
        if not os.path.exists(where):
            raise FileNotFoundError(where)
        try:
            with open(where, "rb") as fh:
                data = _mapped(fh) or fh.read()
        except OSError as e:
            raise FormatError("%s: not an ONNX model (%s)" % (where, e)) from None
        m = _decode(data, where)
        try:
            onnxpb.resolve_external_data(m, os.path.dirname(os.path.abspath(where)))
        except FormatError as e:
            raise FormatError("%s: external weight data cannot be read: %s" % (where, e)) from None
        return m, where
    raise TypeError("from_onnx: expected a path, bytes or an onnx.ModelProto, got %s" % type(model_or_path).__name__)
