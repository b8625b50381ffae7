"""TensorProto -> NumPy, attribute values, ONNX dtypes, external data confined to one directory.

Same results as onnx.numpy_helper.to_array / onnx.helper.get_attribute_value for the dtypes fastnorm reads,
with one difference: bfloat16 comes back widened to float32 (exactly: bfloat16 is float32's top half), so
that neither onnx nor ml_dtypes has to be imported. float8 / 4-bit / 2-bit / 6-bit types raise
UnsupportedError. Every size is checked against the data actually present: a mismatch is a FormatError.
"""
import mmap
import os
import sys

import numpy as np

from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.onnxpb.messages import ATTRIBUTE_TYPES, DATA_TYPES, TensorProto

T = TensorProto
_DTYPE = {T.FLOAT: np.float32, T.UINT8: np.uint8, T.INT8: np.int8, T.UINT16: np.uint16, T.INT16: np.int16,
          T.INT32: np.int32, T.INT64: np.int64, T.BOOL: np.bool_, T.FLOAT16: np.float16, T.DOUBLE: np.float64,
          T.UINT32: np.uint32, T.UINT64: np.uint64, T.COMPLEX64: np.complex64, T.COMPLEX128: np.complex128,
          T.STRING: np.object_, T.BFLOAT16: np.float32}
_NAME = {v: k for k, v in DATA_TYPES.items()}
# which typed field holds each dtype when raw_data is absent (onnx.proto's comments on TensorProto)
_FIELD = {T.FLOAT: "float_data", T.COMPLEX64: "float_data", T.DOUBLE: "double_data", T.COMPLEX128: "double_data",
          T.INT64: "int64_data", T.UINT32: "uint64_data", T.UINT64: "uint64_data",
          T.INT32: "int32_data", T.INT16: "int32_data", T.INT8: "int32_data", T.UINT16: "int32_data",
          T.UINT8: "int32_data", T.BOOL: "int32_data", T.FLOAT16: "int32_data", T.BFLOAT16: "int32_data"}
MAX_DIMS = 64
MAX_SPARSE_DENSE = 1 << 28      # elements a sparse tensor may expand to (a few bytes must not ask for terabytes)


def np_dtype(data_type):
    """ONNX TensorProto.DataType -> NumPy dtype of to_array's result (BFLOAT16 -> float32, see above)."""
    try:
        return np.dtype(_DTYPE[data_type])
    except KeyError:
        raise UnsupportedError("tensor dtype %s is not supported" % dtype_name(data_type)) from None


def dtype_name(data_type):
    """A readable name for an ONNX dtype code: 'float32', 'bfloat16', 'float8e4m3fn', or 'type 99'."""
    if data_type == T.BFLOAT16:
        return "bfloat16"
    if data_type in _DTYPE and data_type != T.STRING:
        return np.dtype(_DTYPE[data_type]).name
    n = _NAME.get(data_type)
    return n.lower() if n else "type %d" % data_type


def _shape(t):
    dims = list(t.dims)
    if len(dims) > MAX_DIMS:
        raise FormatError("tensor %r has %d dims (at most %d)" % (t.name, len(dims), MAX_DIMS))
    n = 1
    for d in dims:
        if d < 0:
            raise FormatError("tensor %r has a negative dim in %s" % (t.name, dims))
        n *= d
    return tuple(dims), n


def _from_bytes(buf, dtype, count, what, aligned=True):
    itemsize = np.dtype(dtype).itemsize
    if len(buf) != count * itemsize:
        raise FormatError("%s: raw_data holds %d bytes, the dims need %d x %d" % (what, len(buf), count, itemsize))
    a = np.frombuffer(buf, dtype, count=count)
    if sys.byteorder != "little" and itemsize > 1:
        a = a.byteswap()
    elif aligned and not a.flags.aligned:
        a = a.copy()
    return a


def to_array(t, base_dir=None):
    """TensorProto -> np.ndarray (possibly a read-only view of the parsed bytes, like onnx's; never of a
    mapped file, which is copied out: nothing outlives the parse that a file truncated later could pull
    from under it).

    External data is read only when `base_dir` is given (or the tensor was resolved at parse time), and only
    from a file inside that directory."""
    a = _to_array(t, base_dir)
    return a.copy() if _maps_a_file(a) else a


def to_array_view(t, base_dir=None):
    """to_array without its copies: the result may be an unaligned view, or one of a mapped file. For
    many tensors at once (a graph's initializers): views first, then detach() them all."""
    return _to_array(t, base_dir, aligned=False)


def detach(arrays):
    """Arrays of to_array_view made what to_array returns: each view of a mapped file or unaligned one
    copied, all those copies into one buffer (_cold_arena), each on a 64-byte line. One allocation of
    the total rather than one per tensor: one mapping, faulted in at once, instead of an allocation and
    its page faults per tensor. The others are returned as they are."""
    move = [i for i, a in enumerate(arrays) if a.dtype != object and (not a.flags.aligned or _maps_a_file(a))]
    out = list(arrays)
    if not move:
        return out
    span = [-(-arrays[i].nbytes // 64) * 64 for i in move]     # each copy starts on a 64-byte line
    arena = _cold_arena(sum(span) + 64)
    off = -arena.ctypes.data % 64
    for i, n in zip(move, span):
        a = arrays[i]
        d = arena[off:off + a.nbytes].view(a.dtype).reshape(a.shape)
        d[...] = a
        out[i] = d
        off += n
    return out


class _Anonymous(mmap.mmap):
    """An anonymous mapping (detach's arena): not a file, so _maps_a_file leaves views of it alone."""


COLD_ARENA_BYTES = 4 << 20


def _cold_arena(nbytes):
    """Writable memory for detach's copies. From COLD_ARENA_BYTES up, an anonymous mapping of 4 KiB pages
    faulted in at once (MAP_POPULATE), not NumPy's allocation, which NumPy advises huge pages for. Raw
    weights are cold (the packer reads them once); huge pages are for what every predict reads (packed
    weights, the plan's arena). On a VM whose balloon reports freed memory to the host, a fresh process's
    huge pages were cheap only up to some count: with the arena taking ~45 for Inception-v3's 95 MB, the
    plan's packing at load ran 190-370 ms instead of ~75 in a third of fresh processes (perf: the kernel
    zeroing new 2 MiB pages), and in most of bench/bench_cold.py's; with 4 KiB pages here, 70-80 ms in
    every one, the arena itself ~15 ms slower to fill."""
    if nbytes >= COLD_ARENA_BYTES and hasattr(mmap, "MAP_ANONYMOUS"):
        try:
            return np.frombuffer(_Anonymous(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                                            | getattr(mmap, "MAP_POPULATE", 0)), np.uint8)
        except (OSError, ValueError):
            pass
    return np.empty(nbytes, np.uint8)


def _maps_a_file(a):
    """Whether array a is a view of an mmap.mmap (onnxpb.parse of a mapped file)."""
    b = a.base
    while isinstance(b, np.ndarray):
        b = b.base
    if isinstance(b, memoryview):
        b = b.obj
    return isinstance(b, mmap.mmap) and not isinstance(b, _Anonymous)


class _What:
    """'tensor NAME (DTYPE, dims [...])' for an error message, formatted only when one is raised (per
    tensor it cost more than reading a small tensor)."""
    __slots__ = ("name", "dt", "shape")

    def __init__(self, name, dt, shape):
        self.name, self.dt, self.shape = name, dt, shape

    def __str__(self):
        return "tensor %r (%s, dims %s)" % (self.name, dtype_name(self.dt), list(self.shape))


def _to_array(t, base_dir, aligned=True):
    if t.HasField("segment"):
        raise UnsupportedError("tensor %r is segmented" % t.name)
    shape, count = _shape(t)
    dt = t.data_type
    what = _What(t.name, dt, shape)
    if dt not in _DTYPE:
        raise UnsupportedError("%s: dtype not supported" % what)
    if t.data_location == T.EXTERNAL:
        if base_dir is None:
            raise FormatError("%s: data is stored in an external file and no directory was given for it" % what)
        raw = read_external(t, base_dir)
        has_raw = True
    else:
        raw = t.raw_data
        has_raw = t.HasField("raw_data")
    if dt == T.STRING:
        if has_raw and len(raw):
            raise FormatError("%s: a string tensor cannot use raw_data" % what)
        vals = list(t.string_data)
        if len(vals) != count:
            raise FormatError("%s: %d strings for %d elements" % (what, len(vals), count))
        try:
            vals = [v.decode("utf-8") for v in vals]
        except UnicodeDecodeError:
            raise FormatError("%s: a string is not valid UTF-8" % what) from None
        a = np.empty(count, object)
        a[:] = vals
        return a.reshape(shape)
    if has_raw:
        if dt == T.BFLOAT16:
            a = (_from_bytes(raw, "<u2", count, what).astype(np.uint32) << 16).view(np.float32)
        elif dt == T.BOOL:
            a = _from_bytes(raw, np.uint8, count, what) != 0
        else:
            a = _from_bytes(raw, np.dtype(_DTYPE[dt]).newbyteorder("<"), count, what,
                            aligned).astype(_DTYPE[dt], copy=False)
        return a.reshape(shape)
    field = _FIELD[dt]
    src = getattr(t, field).array()
    per = 2 if dt in (T.COMPLEX64, T.COMPLEX128) else 1
    if len(src) != count * per:
        raise FormatError("%s: %s holds %d values for %d elements" % (what, field, len(src), count))
    if dt in (T.COMPLEX64, T.COMPLEX128):
        a = src[0::2] + 1j * src[1::2]
        a = a.astype(_DTYPE[dt])
    elif dt == T.FLOAT16:
        a = src.astype(np.uint16).view(np.float16)
    elif dt == T.BFLOAT16:
        a = (src.astype(np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif dt == T.BOOL:
        a = src != 0
    else:
        a = src.astype(_DTYPE[dt])
    return a.reshape(shape)


def _inside(base_dir, location):
    if not location or os.path.isabs(location) or "\\" in location or "\0" in location:
        return None
    parts = location.split("/")
    if any(p in ("..", "") for p in parts[:-1]) or parts[-1] in ("..", "."):
        return None
    root = os.path.realpath(base_dir)
    full = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([root, full]) != root or full == root:
        return None
    return full


def read_external(t, base_dir):
    """The bytes of a tensor whose data lives in an external file; the file must be inside base_dir
    (no absolute path, no '..', no symlink leading out)."""
    info = {e.key: e.value for e in t.external_data}
    loc = info.get("location", "")
    path = _inside(base_dir, loc)
    if path is None:
        raise FormatError("tensor %r: external data location %r is not a file inside %r" % (t.name, loc, base_dir))
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise FormatError("tensor %r: external data offset/length are not integers" % t.name) from None
    if offset < 0 or (length is not None and length < 0):
        raise FormatError("tensor %r: negative external data offset/length" % t.name)
    try:
        size = os.path.getsize(path)
        if offset > size or (length is not None and offset + length > size):
            raise FormatError("tensor %r: external data [%d, +%s) lies past the end of %r (%d bytes)"
                              % (t.name, offset, length, loc, size))
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(size - offset if length is None else length)
    except OSError as e:
        raise FormatError("tensor %r: external data %r cannot be read: %s" % (t.name, loc, e)) from None


def resolve_external_data(model, base_dir):
    """Read every external tensor of the model (graph and subgraphs, initializers and attribute tensors) into
    raw_data, as onnx.load does; files only from inside base_dir."""
    for t in all_tensors(model.graph):
        if t.data_location == T.EXTERNAL:
            object.__setattr__(t, "raw_data", memoryview(read_external(t, base_dir)))
            t._has.add("raw_data")
            object.__setattr__(t, "data_location", T.DEFAULT)
            t._has.discard("data_location")
            del t.external_data[:]


def all_tensors(graph):
    """Every tensor of a graph and its subgraphs (initializers, sparse ones, attribute tensors)."""
    stack = [graph]
    while stack:
        g = stack.pop()
        yield from g.initializer
        for sp in g.sparse_initializer:
            yield sp.values
            yield sp.indices
        for n in g.node:
            for a in n.attribute:
                if a.HasField("t"):
                    yield a.t
                yield from a.tensors
                if a.HasField("sparse_tensor"):
                    yield a.sparse_tensor.values
                    yield a.sparse_tensor.indices
                for sp in a.sparse_tensors:
                    yield sp.values
                    yield sp.indices
                if a.HasField("g"):
                    stack.append(a.g)
                stack.extend(a.graphs)


_ATTR_FIELD = {ATTRIBUTE_TYPES["FLOAT"]: "f", ATTRIBUTE_TYPES["INT"]: "i", ATTRIBUTE_TYPES["STRING"]: "s",
               ATTRIBUTE_TYPES["TENSOR"]: "t", ATTRIBUTE_TYPES["GRAPH"]: "g",
               ATTRIBUTE_TYPES["SPARSE_TENSOR"]: "sparse_tensor", ATTRIBUTE_TYPES["TYPE_PROTO"]: "tp"}
_ATTR_LIST = {ATTRIBUTE_TYPES["FLOATS"]: "floats", ATTRIBUTE_TYPES["INTS"]: "ints",
              ATTRIBUTE_TYPES["STRINGS"]: "strings", ATTRIBUTE_TYPES["TENSORS"]: "tensors",
              ATTRIBUTE_TYPES["GRAPHS"]: "graphs", ATTRIBUTE_TYPES["SPARSE_TENSORS"]: "sparse_tensors",
              ATTRIBUTE_TYPES["TYPE_PROTOS"]: "type_protos"}


def get_attribute_value(a):
    """The value an AttributeProto carries, chosen by its `type` (as onnx.helper.get_attribute_value):
    float, int, bytes, TensorProto, GraphProto, ... or a list of them."""
    if a.ref_attr_name:
        raise FormatError("attribute %r refers to a function attribute (%r) outside a function"
                          % (a.name, a.ref_attr_name))
    f = _ATTR_FIELD.get(a.type)
    if f is not None:
        return getattr(a, f)
    f = _ATTR_LIST.get(a.type)
    if f is not None:
        return list(getattr(a, f))
    raise FormatError("attribute %r has no valid type (type %d)" % (a.name, a.type))


def sparse_to_dense(sp, base_dir=None):
    """SparseTensorProto -> dense np.ndarray; indices checked against the dims."""
    vals = to_array(sp.values, base_dir)
    idx = to_array(sp.indices, base_dir)
    dims = list(sp.dims)
    if len(dims) > MAX_DIMS or any(d < 0 for d in dims):
        raise FormatError("sparse tensor %r: bad dims %s" % (sp.values.name, dims[:8]))
    count = 1
    for d in dims:
        count *= d
    if count > MAX_SPARSE_DENSE:
        raise FormatError("sparse tensor %r: dims %s expand to %d elements (at most %d)"
                          % (sp.values.name, dims, count, MAX_SPARSE_DENSE))
    if idx.dtype != np.int64 or vals.ndim != 1:
        raise FormatError("sparse tensor %r: indices must be int64 and values 1-D" % sp.values.name)
    dense = np.zeros(count, vals.dtype)
    if idx.ndim == 1:
        flat = idx
    elif idx.ndim == 2 and idx.shape[1] == len(dims):
        if np.any(idx < 0) or np.any(idx >= np.array(dims, np.int64)):
            raise FormatError("sparse tensor %r: an index lies outside dims %s" % (sp.values.name, dims))
        flat = np.ravel_multi_index(tuple(idx.T), dims) if len(idx) else np.zeros(0, np.int64)
    else:
        raise FormatError("sparse tensor %r: indices of shape %s for %d dims" % (sp.values.name, idx.shape, len(dims)))
    if len(flat) != len(vals) or np.any(flat < 0) or np.any(flat >= count):
        raise FormatError("sparse tensor %r: %d indices for %d values, or an index outside %d elements"
                          % (sp.values.name, len(flat), len(vals), count))
    dense[flat] = vals
    return dense.reshape(dims)
