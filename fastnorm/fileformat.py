"""The native model file (.fnm): a safetensors file whose __metadata__ carries the graph as JSON.

Layout (the safetensors format): an 8-byte little-endian u64 N, N bytes of UTF-8 JSON header (padded
with spaces so the byte buffer starts 8-aligned), then the byte buffer. The header maps each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the buffer) and
"__metadata__" to {str: str}; ours holds "format": "fastnorm", "format_version": "1" and
"graph": the graph as a JSON string. Any safetensors reader opens the file. A file saved with
prepacked weights also has "prepacked" (fastnorm.prepack: the packed arrays' key and list) and the arrays
as tensors named "__prepacked__.<i>"; readers that don't know it see unused weights.

Files are untrusted: every field is checked before it is used, sizes are bounded before anything is
allocated, and bad content raises FormatError naming what is wrong, never another exception.
Pure Python + NumPy, no pickle. load() maps a file of MAP_MIN_BYTES or more (POSIX) and returns views
of the mapping (see load); save() replaces a file atomically, so a model loaded from it is unaffected.
"""
import json
import os
import struct

import numpy as np

from fastnorm.errors import FormatError

FORMAT_NAME = "fastnorm"
FORMAT_VERSION = 1

# Bounds on what a file may ask of us. The header bound is the safetensors package's own
# (100_000_000, a little under 100 MiB), so every file we accept or write opens there too. Parsing a
# header that size can take several times its size in Python objects: the price of reading JSON at
# all (lower MAX_HEADER_BYTES to tighten it).
MAX_HEADER_BYTES = 100_000_000
MAX_TENSORS = 100_000
MAX_NDIM = 8
MAX_ATTR_DEPTH = 8           # nesting of lists inside one attribute value
_MAX_SIZE = 2 ** 63 - 1      # bytes in one tensor, and any one dimension (NumPy's intp on 64-bit)

# safetensors dtype name -> little-endian NumPy dtype
_DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
_VALUE_DTYPES = ("float32", "int64", "int32", "bool")   # dtypes of graph inputs / outputs
_GRAPH_KEYS = ("inputs", "outputs", "nodes")
_VALUE_KEYS = ("name", "shape", "dtype")
_NODE_KEYS = ("name", "op", "inputs", "outputs", "attrs")
_TENSOR_KEYS = ("dtype", "shape", "data_offsets")
_PREPACKED = "prepacked"                      # the __metadata__ key of fastnorm.prepack's section


# ---------------------------------------------------------------------------------------------
# Writing

def dumps(graph, weights, prepacked=None):
    """The .fnm bytes for `graph` and `weights` ({name: float32 or int64 array}); prepacked: None or
    (metadata JSON string, {tensor name: float32 array}) from fastnorm.prepack.collect."""
    return b"".join(_chunks(graph, weights, prepacked))


def save(path, graph, weights, prepacked=None):
    """Write the .fnm file atomically: a temporary file in the same folder, then os.replace."""
    chunks = _chunks(graph, weights, prepacked)    # validates everything before the file is touched
    path = os.fspath(path)
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, ".%s.%d.%s.tmp" % (base, os.getpid(), os.urandom(4).hex()))
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make the rename itself durable where the OS lets us (POSIX); best effort."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _chunks(graph, weights, prepacked=None):
    """Validate, then return the file as a list of bytes-like pieces (the arrays are not copied)."""
    if not isinstance(weights, dict):
        raise TypeError("weights: expected a dict {name: array}, got %s" % type(weights).__name__)
    if prepacked is not None:
        meta_text, packed = prepacked
        if any(k in weights for k in packed):
            raise ValueError("prepacked tensor names clash with weights")
        weights = {**weights, **packed}
    if len(weights) > MAX_TENSORS:
        raise ValueError("%d weights, more than the %d a reader accepts" % (len(weights), MAX_TENSORS))
    tensors = []
    for name in sorted(weights, key=lambda k: (not isinstance(k, str), str(k))):
        if not isinstance(name, str):
            raise TypeError("weights: names must be strings, got %r" % (name,))
        _check_tensor_name(name, ValueError)
        arr = weights[name]
        if not isinstance(arr, np.ndarray):
            raise TypeError("weight %s: expected a NumPy array, got %s" % (_q(name), type(arr).__name__))
        code = _dtype_code(arr.dtype)
        if code is None:
            raise TypeError("weight %s: dtype %s not supported (float32, int64)" % (_q(name), arr.dtype))
        if arr.ndim > MAX_NDIM:
            raise ValueError("weight %s: %d dimensions, at most %d supported" % (_q(name), arr.ndim, MAX_NDIM))
        data = np.asarray(arr, dtype=_DTYPES[code], order="C").reshape(-1).view(np.uint8)
        tensors.append((name, code, [int(d) for d in arr.shape], data))

    # What goes to disk is what the loader will check: serialise, parse back, validate.
    try:
        graph_json = json.dumps(graph, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError as e:                        # a value JSON has no type for (e.g. np.int64)
        raise TypeError("graph is not JSON-serialisable: %s" % e) from None
    except (ValueError, RecursionError) as e:     # NaN / infinity, or a cycle
        raise ValueError("graph is not JSON-serialisable: %s" % e) from None
    parsed = _parse_json(graph_json, "graph", ValueError)
    _validate_graph(parsed, {name for name, _, _, _ in tensors}, None, ValueError)

    header = {"__metadata__": {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
                               "graph": graph_json}}
    if prepacked is not None:
        header["__metadata__"][_PREPACKED] = prepacked[0]
    offset = 0
    for name, code, shape, data in tensors:
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    try:
        text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("a name or graph string is not valid Unicode text: %s" % e) from None
    text += b" " * (-len(text) % 8)          # the buffer starts 8-aligned in the file
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError("header would be %d bytes, more than the %d a reader accepts"
                         % (len(text), MAX_HEADER_BYTES))
    datas = [data for _, _, _, data in tensors]
    if prepacked is not None:                 # each prepacked tensor's panels on a 64-byte line of the file
        pos = 8 + len(text)
        for i, (name, _, _, data) in enumerate(tensors):
            if name in prepacked[1] and data.nbytes % 4 == 0:
                datas[i] = _place_packed(data.view(_DTYPES["F32"]), pos).view(np.uint8)
            pos += data.nbytes
    return [struct.pack("<Q", len(text)), text] + datas


def _dtype_code(dtype):
    if dtype.kind == "f" and dtype.itemsize == 4:
        return "F32"
    if dtype.kind == "i" and dtype.itemsize == 8:
        return "I64"
    return None


# ---------------------------------------------------------------------------------------------
# Reading

def loads(data, known_ops=None, prepacked=None):
    """(graph, weights) from .fnm bytes. Raises FormatError for anything wrong with the content.

    known_ops: {op name: set of allowed attribute names}; when given, every node's op and attributes
    must be in it. The arrays returned are fresh, aligned, native-endian and read-only.
    prepacked: None, or a function (section metadata) -> bool saying whether this process can use a
    prepacked section (fastnorm.prepack); then the result is (graph, weights, section or None) with
    section = (metadata, [(node, variant, tensor name)], {tensor name: array}). A prepacked section is
    checked (FormatError) whatever `prepacked` is, and its tensors are never among the weights.
    """
    view = memoryview(data).cast("B")
    size = len(view)
    n = _header_length(bytes(view[:8]), size)
    graph, entries, start, packed = _parse_header(bytes(view[8:8 + n]), size, known_ops, "bytes")
    weights, arrays = {}, {}
    use_packed = _use_packed(packed, prepacked)
    for name, dtype, shape, begin, end in entries:
        if packed is not None and name in packed[2]:
            if not use_packed:
                continue
        flat = np.frombuffer(view, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=start + begin)
        if packed is not None and name in packed[2]:
            copy = _aligned_for(view[start + begin:start + begin + 4].tobytes(), flat.size, dtype)
            copy[...] = flat
            flat = copy
        else:
            flat = flat.copy()
        _store(weights, arrays, packed, name, flat, shape)
    return _result(graph, weights, arrays, packed, prepacked)


def _use_packed(packed, prepacked):
    """Whether the file's prepacked section (if any) is read: asked once, not once per tensor."""
    return packed is not None and prepacked is not None and bool(prepacked(packed[0]))


def _aligned_for(first4, n, dtype):
    """An empty float32 array of n for a prepacked tensor whose bytes begin with first4, placed so that
    the panels after its header (fastnorm.prepack.header_offset), or else the array, start on a
    64-byte line, as a fresh packing's do: only speed depends on it."""
    lead = _header_lead(first4, n, dtype)
    raw = np.empty(n + 16, dtype=dtype)
    skip = (-(raw.ctypes.data + 4 * lead) // 4) % 16
    return raw[skip:skip + n]


def _header_lead(first4, n, dtype):
    """The header offset (1..16 floats) a prepacked tensor of n floats starting with first4 declares,
    else 0."""
    if len(first4) == 4 and n > 16:
        off = float(np.frombuffer(first4, dtype=dtype)[0])
        if off.is_integer() and 1 <= off <= 16:
            return int(off)
    return 0


def _place_packed(arr, pos):
    """A prepacked tensor (a header of 16 floats whose first is off, the panels at arr[off:]) to be
    written at file offset pos: the same panels behind the offset that starts them on a 64-byte line
    of the file, so that a mapped file's view of it is as aligned as a fresh packing (load uses it
    without a copy). Any other array is returned as it is."""
    old = _header_lead(arr[:1].tobytes(), arr.size, arr.dtype)
    if not old:
        return arr
    new = 1 + ((64 - (pos + 4) % 64) % 64) // 4     # src_c/conv/conv2d.c pack_offset at address pos
    if new == old:
        return arr
    out = np.zeros_like(arr)
    out[0] = new
    out[new:new + arr.size - 16] = arr[old:old + arr.size - 16]
    return out


def _store(weights, arrays, packed, name, flat, shape):
    if packed is not None and name in packed[2]:
        if not flat.dtype.isnative:
            flat = flat.astype(flat.dtype.newbyteorder("="))
        arrays[name] = flat                   # 1-D float32 (the plan records point into it, read-only)
    else:
        weights[name] = _finish(flat, shape)


def _result(graph, weights, arrays, packed, prepacked):
    weights = dict(sorted(weights.items()))
    if prepacked is None:
        return graph, weights
    section = None if packed is None or not arrays else (packed[0], packed[1], arrays)
    return graph, weights, section


def load(path, known_ops=None, prepacked=None):
    """(graph, weights) from a .fnm file; see loads.

    Where the OS maps files (POSIX) and the file is at least MAP_MIN_BYTES, the tensors are read-only
    views of a read-only mapping of it: nothing is copied at load, and the pages of a tensor nobody
    reads (a prepacked file's raw conv weights, once the packed ones are used) are never read at all
    (issue 14's cold start). fastnorm's own save replaces a file atomically, so saving over a loaded
    model is safe; truncating or rewriting the file in place while a model loaded from it lives is not
    (as with any memory-mapped reader). Otherwise each tensor is read into its own array."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = _header_length(f.read(8), size)
        graph, entries, start, packed = _parse_header(_read_exactly(f, n), size, known_ops, path)
        mapped = _map(f, size) if size >= MAP_MIN_BYTES and entries else None
        weights, arrays = {}, {}
        use_packed = _use_packed(packed, prepacked)
        for name, dtype, shape, begin, end in entries:
            is_packed = packed is not None and name in packed[2]
            if is_packed and not use_packed:
                continue                      # another ISA's or version's: not even read
            if mapped is not None:
                flat = _mapped_tensor(mapped, dtype, start + begin, end - begin, is_packed)
                if flat is not None:
                    _store(weights, arrays, packed, name, flat, shape)
                    continue
            f.seek(start + begin)
            if is_packed:
                flat = _aligned_for(f.read(4), (end - begin) // dtype.itemsize, dtype)
                f.seek(start + begin)
            else:
                flat = np.empty((end - begin) // dtype.itemsize, dtype=dtype)   # sizes checked against the file
            got = _read_into(f, flat.view(np.uint8))
            if got != end - begin:
                raise FormatError("tensor %s: file ended after %d of its %d bytes (it shrank while being read?)"
                                  % (_q(name), got, end - begin))
            _store(weights, arrays, packed, name, flat, shape)
    return _result(graph, weights, arrays, packed, prepacked)


MAP_MIN_BYTES = 1 << 16       # smaller files are read (a mapping costs more than it saves)


def _map(f, size):
    """A read-only mapping of the whole file, or None (no mmap on this OS, or the file shrank)."""
    if os.name != "posix":    # elsewhere a mapped file cannot be replaced (save over a loaded model)
        return None
    import mmap
    try:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    if len(m) < size:         # it shrank since fstat: reading says where it ends
        m.close()
        return None
    return m


def _mapped_tensor(mapped, dtype, pos, nbytes, is_packed):
    """A read-only view of nbytes at file offset pos, or None where a copy must be made instead: a
    misaligned element, a byte order not the machine's, or a prepacked tensor whose panels (after its
    header) would not start on a 64-byte line (Model.save places them so; see _place_packed)."""
    if not dtype.isnative or nbytes == 0:
        return None
    flat = np.frombuffer(mapped, dtype=dtype, count=nbytes // dtype.itemsize, offset=pos)
    if not flat.flags.aligned:
        return None
    if is_packed:
        lead = _header_lead(flat[:1].tobytes(), flat.size, dtype)
        if (flat.ctypes.data + 4 * lead) % 64:
            return None
    return flat


def _finish(flat, shape):
    if not flat.dtype.isnative:
        flat = flat.astype(flat.dtype.newbyteorder("="))
    arr = flat.reshape(shape)
    arr.flags.writeable = False
    return arr


def _read_exactly(f, n):
    buf = bytearray(n)                           # n is bounded and within the file by now
    got = _read_into(f, memoryview(buf))
    if got != n:
        raise FormatError("file ended inside the header (%d of %d bytes)" % (got, n))
    return bytes(buf)


def _read_into(f, view):
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])
        if not k:
            break
        got += k
    return got


def _header_length(first8, size):
    if size < 8 or len(first8) < 8:
        raise FormatError("file is %d bytes, shorter than the 8-byte header length" % min(size, len(first8)))
    (n,) = struct.unpack("<Q", first8)
    if n > MAX_HEADER_BYTES:
        raise FormatError("header length %d is larger than the bound of %d bytes" % (n, MAX_HEADER_BYTES))
    if n > size - 8:
        raise FormatError("header length %d is larger than the %d bytes left in the file (truncated?)"
                          % (n, size - 8))
    return n


def _parse_header(raw, size, known_ops, where="file"):
    """Check the header; return (graph, [(name, dtype, shape, begin, end)] in file order, buffer start,
    the prepacked section (metadata, entries, {its tensor names}) or None)."""
    try:
        return _parse_header_unguarded(raw, size, known_ops, where)
    except RecursionError:
        # The checks bound their own depth; this is the backstop for any deep value they print or compare.
        raise FormatError("header has values nested too deeply") from None


def _parse_header_unguarded(raw, size, known_ops, where):
    if not raw.startswith(b"{"):
        raise FormatError("header does not start with '{' (not a safetensors file?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError("header is not UTF-8: %s" % e) from None
    header = _parse_json(text, "header", FormatError)
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    if len(header) - 1 > MAX_TENSORS:
        raise FormatError("header lists %d tensors, more than the bound of %d" % (len(header) - 1, MAX_TENSORS))

    graph = _parse_metadata(header.get("__metadata__"))
    packed_text = header["__metadata__"].get(_PREPACKED)
    start = 8 + len(raw)
    buffer_size = size - start
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        _check_tensor_name(name, FormatError)
        entries.append((name,) + _parse_tensor(name, info, buffer_size))

    # The byte ranges must tile the buffer exactly: sorted by offset, each starts where the last ended.
    entries.sort(key=lambda e: (e[3], e[4]))
    pos, prev = 0, None
    for name, _, _, begin, end in entries:
        if begin > pos:
            raise FormatError("gap in the byte buffer: bytes %d..%d belong to no tensor (before tensor %s)"
                              % (pos, begin, _q(name)))
        if begin < pos:
            raise FormatError("tensor %s overlaps tensor %s: it starts at %d, before %d" % (_q(name), _q(prev), begin, pos))
        pos, prev = end, name
    if pos != buffer_size:
        raise FormatError("byte buffer is %d bytes but the tensors cover %d (trailing bytes)" % (buffer_size, pos))

    packed = None
    if packed_text is not None:
        from fastnorm import prepack      # only for files that have the section
        meta, listed = prepack.parse(packed_text, {e[0]: (e[1], e[2]) for e in entries}, str(where))
        packed = (meta, listed, {t for _, _, t in listed})
    # the prepacked tensors are not weights the graph may name
    _validate_graph(graph, {e[0] for e in entries if packed is None or e[0] not in packed[2]}, known_ops,
                    FormatError)
    return graph, entries, start, packed


def _parse_metadata(meta):
    if meta is None:
        raise FormatError("header has no __metadata__ (not a fastnorm file)")
    if not isinstance(meta, dict):
        raise FormatError("__metadata__ is not an object of strings")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise FormatError("__metadata__ %s: expected a string, got %s" % (_q(k), _json_type(v)))
        _check_text(k, "__metadata__ key", FormatError)
        _check_text(v, "__metadata__ %s" % _q(k), FormatError)
    if "format" not in meta:
        raise FormatError("__metadata__ has no 'format' (not a fastnorm file)")
    if meta["format"] != FORMAT_NAME:
        raise FormatError("format is %s, expected %r (not a fastnorm file)" % (_q(meta["format"]), FORMAT_NAME))
    for key in ("format_version", "graph"):
        if key not in meta:
            raise FormatError("__metadata__ has no %r" % key)
    version = meta["format_version"]
    if not (version.isascii() and version.isdigit() and len(version) <= 9 and int(version) >= 1):
        raise FormatError("format_version %s is not a positive integer" % _q(version))
    if int(version) > FORMAT_VERSION:
        raise FormatError("format_version %d is newer than this fastnorm supports (%d); upgrade fastnorm"
                          % (int(version), FORMAT_VERSION))
    return _parse_json(meta["graph"], "graph", FormatError)


def _parse_tensor(name, info, buffer_size):
    """(dtype, shape, begin, end) of one tensor entry, every field checked."""
    ok = _tensor_ok(info, buffer_size)
    if ok is not None:
        return ok
    what = "tensor %s" % _q(name)
    _check_keys(info, _TENSOR_KEYS, what, FormatError)
    code = info["dtype"]
    if not isinstance(code, str):
        raise FormatError("%s: dtype is %s, expected a string" % (what, _json_type(code)))
    if code not in _DTYPES:
        raise FormatError("%s: dtype %s not supported (%s)" % (what, _q(code), ", ".join(_DTYPES)))
    dtype = _DTYPES[code]
    shape = info["shape"]
    if not isinstance(shape, list):
        raise FormatError("%s: shape is %s, expected a list" % (what, _json_type(shape)))
    if len(shape) > MAX_NDIM:
        raise FormatError("%s: shape has %d dimensions, at most %d supported" % (what, len(shape), MAX_NDIM))
    nbytes = dtype.itemsize
    for d in shape:
        if not _is_int(d):
            raise FormatError("%s: shape entry %s is not an integer" % (what, _short(d)))
        if d < 0:
            raise FormatError("%s: shape entry %d is negative" % (what, d))
        if d > _MAX_SIZE or max(d, 1) * nbytes > _MAX_SIZE:
            raise FormatError("%s: shape %s overflows the element count" % (what, _short(shape)))
        nbytes *= max(d, 1)
    if 0 in shape:
        nbytes = 0
    offsets = info["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise FormatError("%s: data_offsets %s is not a list of two integers" % (what, _short(offsets)))
    begin, end = offsets
    if begin < 0 or end < 0:
        raise FormatError("%s: data_offsets %s are negative" % (what, _short(offsets)))
    if begin > end:
        raise FormatError("%s: data_offsets begin %d > end %d" % (what, begin, end))
    if end > buffer_size:
        raise FormatError("%s: data_offsets end %d is beyond the end of the file (byte buffer is %d bytes)"
                          % (what, end, buffer_size))
    if end - begin != nbytes:
        raise FormatError("%s: shape %s needs %d bytes, data_offsets give %d" % (what, shape, nbytes, end - begin))
    return dtype, tuple(shape), begin, end


def _tensor_ok(info, buffer_size):
    """_parse_tensor's result for an entry that passes all its checks, computed without building their
    messages (half of the time of 244 entries, EfficientNet-B0); None when some check may fail, and
    _parse_tensor runs them all to name it."""
    if type(info) is not dict or len(info) != len(_TENSOR_KEYS):
        return None
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    dtype = _DTYPES.get(code) if type(code) is str else None
    if dtype is None or type(shape) is not list or len(shape) > MAX_NDIM or type(offsets) is not list \
            or len(offsets) != 2:
        return None
    nbytes = dtype.itemsize
    for d in shape:
        if type(d) is not int or d < 0:
            return None
        nbytes *= d or 1
    if nbytes > _MAX_SIZE:          # every partial product is at most the whole: the checks' overflow test
        return None
    if 0 in shape:
        nbytes = 0
    begin, end = offsets
    if type(begin) is not int or type(end) is not int or not 0 <= begin <= end <= buffer_size \
            or end - begin != nbytes:
        return None
    return dtype, tuple(shape), begin, end


# ---------------------------------------------------------------------------------------------
# The graph

def _validate_graph(graph, weight_names, known_ops, err):
    """Check the graph schema and its names; `err` is FormatError on load, ValueError on save."""
    _check_keys(graph, _GRAPH_KEYS, "graph", err)
    defined = {name: "a weight" for name in weight_names}

    inputs = _check_list(graph["inputs"], "graph inputs", err)
    if not inputs:
        raise err("graph has no inputs")
    for i, value in enumerate(inputs):
        name = _check_value_info(value, "graph input #%d" % i, err)
        if name in defined:
            raise err("graph input %s clashes with %s of the same name" % (_q(name), defined[name]))
        defined[name] = "a graph input"

    nodes = _check_list(graph["nodes"], "graph nodes", err)
    node_names, produced, unknown = set(), set(), []
    producer = None
    for i, node in enumerate(nodes):
        if _node_ok(node, defined, node_names):
            # every check below passes: the same bookkeeping without building a message per name (the
            # checks' what-strings were a third of _validate_graph, ~0.4 ms of an EfficientNet-B0 load)
            name = node["name"]
            node_names.add(name)
            for out in node["outputs"]:
                defined[out] = _OUTPUT_OF, name
                produced.add(out)
            op, attrs = node["op"], node["attrs"]
        else:
            if producer is None:
                producer = _producers(nodes)
            name, op, attrs = _check_node(node, i, defined, node_names, produced, producer, err)
        if known_ops is not None:
            if op not in known_ops:
                unknown.append("node %s: unknown op %s" % (_q(name), _q(op)))
            else:
                allowed = known_ops[op]
                for key in attrs:
                    if key not in allowed:
                        unknown.append("node %s (op %s): unknown attribute %s" % (_q(name), _q(op), _q(key)))
    if unknown:
        shown = "; ".join(unknown[:20]) + ("; and %d more" % (len(unknown) - 20) if len(unknown) > 20 else "")
        raise err("graph uses ops or attributes this fastnorm does not know: " + shown)

    outputs = _check_list(graph["outputs"], "graph outputs", err)
    if not outputs:
        raise err("graph has no outputs")
    seen = set()
    for i, value in enumerate(outputs):
        name = _check_value_info(value, "graph output #%d" % i, err)
        if name in seen:
            raise err("graph output %s is listed twice" % _q(name))
        seen.add(name)
        if name not in produced:
            raise err("graph output %s is not produced by any node" % _q(name))


_OUTPUT_OF = object()      # defined[value] = (_OUTPUT_OF, node name): formatted only for a message


def _defined_as(d):
    return "the output of node %s" % _q(d[1]) if type(d) is tuple else d


def _producers(nodes):
    """Who produces what, leniently, only to say "used before it is produced" rather than "unknown"."""
    producer = {}
    for i, node in enumerate(nodes):
        if isinstance(node, dict) and isinstance(node.get("outputs"), list):
            name = node.get("name")
            for out in node["outputs"]:
                if isinstance(out, str):
                    producer.setdefault(out, name if isinstance(name, str) else "#%d" % i)
    return producer


def _name_ok(s):
    return type(s) is str and s != "" and (s.isascii() or _text_ok(s))


def _text_ok(s):
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _attr_ok(value, depth):
    """True where _check_attr passes for certain (exact JSON types); False: let _check_attr decide."""
    t = type(value)
    if value is None or t is bool or t is int:
        return True
    if t is str:
        return value.isascii() or _text_ok(value)
    if t is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if t is list:
        if depth >= MAX_ATTR_DEPTH:
            return False
        for v in value:
            if not _attr_ok(v, depth + 1):
                return False
        return True
    return False


def _node_ok(node, defined, node_names):
    """True when `node` passes every check of _check_node (without touching anything); False when
    some check may fail: _check_node then runs them and names the problem."""
    if type(node) is not dict or len(node) != len(_NODE_KEYS):
        return False
    try:
        name, op, inputs, outputs, attrs = (node["name"], node["op"], node["inputs"], node["outputs"],
                                            node["attrs"])
    except KeyError:
        return False
    if not _name_ok(name) or name in node_names or not _name_ok(op):
        return False
    if type(inputs) is not list or type(outputs) is not list or not outputs or type(attrs) is not dict:
        return False
    for inp in inputs:
        if type(inp) is not str or (inp and inp not in defined):
            return False
    for out in outputs:
        if not _name_ok(out) or out in defined:
            return False
    if len(outputs) > 1 and len(set(outputs)) != len(outputs):
        return False
    for key, value in attrs.items():
        if not _name_ok(key) or not _attr_ok(value, 0):
            return False
    return True


def _check_node(node, i, defined, node_names, produced, producer, err):
    """Every check of one node, naming what is wrong; records its name and outputs. -> (name, op, attrs)"""
    _check_keys(node, _NODE_KEYS, "node #%d" % i, err)
    name = _check_name(node["name"], "node #%d name" % i, err)
    where = "node %s" % _q(name)
    if name in node_names:
        raise err("%s: node name used twice" % where)
    node_names.add(name)
    op = _check_name(node["op"], "%s op" % where, err)
    for inp in _check_list(node["inputs"], "%s inputs" % where, err):
        if not isinstance(inp, str):
            raise err("%s: input %s is not a string" % (where, _short(inp)))
        if inp == "":
            continue                          # an omitted optional input
        if inp not in defined:
            if inp in producer:
                raise err("%s: input %s is used before node %s produces it"
                          % (where, _q(inp), _q(producer[inp])))
            raise err("%s: input %s is not a graph input, a weight or an output of an earlier node"
                      % (where, _q(inp)))
    outputs = _check_list(node["outputs"], "%s outputs" % where, err)
    if not outputs:
        raise err("%s: has no outputs" % where)
    for out in outputs:
        out = _check_name(out, "%s output" % where, err)
        if out in defined:
            raise err("%s: output %s clashes with %s of the same name" % (where, _q(out), _defined_as(defined[out])))
        defined[out] = _OUTPUT_OF, name
        produced.add(out)
    attrs = node["attrs"]
    if not isinstance(attrs, dict):
        raise err("%s: attrs is %s, expected an object" % (where, _json_type(attrs)))
    for key, value in attrs.items():
        _check_name(key, "%s attribute name" % where, err)
        _check_attr(value, "%s attribute %s" % (where, _q(key)), 0, err)
    return name, op, attrs


def _check_value_info(value, what, err):
    _check_keys(value, _VALUE_KEYS, what, err)
    name = _check_name(value["name"], "%s name" % what, err)
    what = "%s %s" % (what.split(" #")[0], _q(name))
    shape = value["shape"]
    if not isinstance(shape, list):
        raise err("%s: shape is %s, expected a list" % (what, _json_type(shape)))
    if len(shape) > MAX_NDIM:
        raise err("%s: shape has %d dimensions, at most %d supported" % (what, len(shape), MAX_NDIM))
    for d in shape:
        if d is not None and not (_is_int(d) and 0 <= d <= _MAX_SIZE):
            raise err("%s: shape entry %s is not a non-negative integer or null" % (what, _short(d)))
    if value["dtype"] not in _VALUE_DTYPES:
        raise err("%s: dtype %s not supported (%s)" % (what, _short(value["dtype"]), ", ".join(_VALUE_DTYPES)))
    return name


def _check_attr(value, what, depth, err):
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str):
            _check_text(value, what, err)
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise err("%s: %r is not a finite number" % (what, value))
        return
    if isinstance(value, list):
        if depth >= MAX_ATTR_DEPTH:
            raise err("%s: lists nested more than %d deep" % (what, MAX_ATTR_DEPTH))
        for v in value:
            _check_attr(v, what, depth + 1, err)
        return
    raise err("%s: %s is not allowed (JSON scalars and lists only)" % (what, _json_type(value)))


# ---------------------------------------------------------------------------------------------
# Small checks

class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return obj


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def _parse_json(text, what, err):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as e:
        raise err("%s JSON has a duplicate key %s" % (what, _q(str(e.args[0])))) from None
    except RecursionError:
        raise err("%s JSON is nested too deeply" % what) from None
    except ValueError as e:                       # JSONDecodeError, and int() digit limits
        raise err("%s is not valid JSON: %s" % (what, _short(str(e), 200))) from None


def _check_keys(obj, keys, what, err):
    if not isinstance(obj, dict):
        raise err("%s is %s, expected an object" % (what, _json_type(obj)))
    for k in keys:
        if k not in obj:
            raise err("%s: missing %r" % (what, k))
    if len(obj) != len(keys):
        extra = [k for k in obj if k not in keys]
        raise err("%s: unexpected key %s" % (what, _q(str(extra[0]))))


def _check_list(obj, what, err):
    if not isinstance(obj, list):
        raise err("%s is %s, expected a list" % (what, _json_type(obj)))
    return obj


def _check_name(name, what, err):
    if not isinstance(name, str):
        raise err("%s is %s, expected a string" % (what, _json_type(name)))
    if not name:
        raise err("%s is empty" % what)
    _check_text(name, what, err)
    return name


def _check_tensor_name(name, err):
    if not name:
        raise err("a tensor has an empty name")
    if name.startswith("__") and name.endswith("__"):
        raise err("tensor name %s is reserved (like __metadata__)" % _q(name))
    _check_text(name, "tensor name", err)


def _check_text(s, what, err):
    # JSON escapes can smuggle lone surrogates into a str; they are not text and cannot be re-saved.
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise err("%s %s is not valid Unicode (lone surrogate)" % (what, _q(s))) from None


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _json_type(x):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(x), type(x).__name__)


def _q(s, limit=80):
    """A name for a message: quoted, escaped, and cut short if a hostile file made it huge."""
    s = str(s)
    return repr(s if len(s) <= limit else s[:limit] + "...")


def _short(x, limit=80):
    try:
        s = json.dumps(x, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        s = type(x).__name__
    return s if len(s) <= limit else s[:limit] + "..."

