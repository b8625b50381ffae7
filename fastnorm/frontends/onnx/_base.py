"""The ONNX frontend's common base: error types, the symbolic batch value, small helpers.

Every other module of the package imports this one; it imports none of them.
"""
import numpy as np

from fastnorm import onnxpb
from fastnorm.errors import FormatError

_PIP_HINT = "fastnorm's ONNX import needs the onnx package: pip install fastnorm[onnx]"
# The newest default-domain opset the frontend was written against (onnx 1.23's); a newer one may change
# an op's meaning, so it is refused. Files are read with fastnorm.onnxpb: `onnx` is imported only by the
# rare fallbacks that need its reference evaluator (import_onnx), never on the path of a usual model.
NEWEST_OPSET = 28


def import_onnx():
    """The onnx package, for the fallbacks that need it (constant folding of an op onnxpb.fold lacks)."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as e:
        raise ImportError(_PIP_HINT) from e
    return onnx


class Sym:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


BATCH = Sym("N")        # the symbolic batch size
UNKNOWN = Sym("?")      # a shape entry computed from the batch in a way we do not follow
P_BATCH = 9973                # stands in for the batch in the IR's shape functions (a prime no layer has)


class Unsupported(Exception):
    pass


class Malformed(Exception):
    pass


class BatchDep(Exception):
    pass


class Restart(Exception):
    pass


def is_sym(a):
    return isinstance(a, np.ndarray) and a.dtype == object


def has_batch(shape):
    return any(d is BATCH for d in shape)


def onnx_dtype_name(t):
    return onnxpb.dtype_name(t)


def attr_value(a):
    """An AttributeProto's value (onnxpb.get_attribute_value), or None when its type is undefined or it
    refers to a function attribute (the caller reports it)."""
    try:
        return onnxpb.get_attribute_value(a)
    except FormatError:
        return None


class OnnxNode:
    """An ONNX node with the name fastnorm reports it by (NodeProto takes no extra attributes)."""

    def __init__(self, proto, index, name=None):
        self.proto = proto
        self.input, self.output = list(proto.input), list(proto.output)
        self.op_type, self.domain, self.attribute = proto.op_type, proto.domain, proto.attribute
        self._fn_name = name or proto.name or "%s_%d" % (proto.op_type, index)
        # {a name the enclosing If branches define: the value it is in the converter} for a node of an
        # inlined branch (frontends/onnx/control.py; the branch's locals, some renamed); empty at the top
        self.scope = {}


def default_opset(model):
    v = None
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            v = int(o.version)
    if v is None:
        v = 1 if not model.opset_import else None
    if v is None:
        raise FormatError("the model imports no default-domain opset (opset_import: %s)"
                          % ", ".join("%s %d" % (o.domain, o.version) for o in model.opset_import))
    return v


def sym_vector(vals):
    a = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals):
        a[i] = v
    return a


def sym_result(c, v, arr):
    """Store a symbolic vector; a vector with no symbolic entry becomes a plain int64 constant."""
    arr = np.asarray(arr, dtype=object)
    if not any(e is BATCH or e is UNKNOWN for e in arr.reshape(-1)):
        c.const[v] = arr.astype(np.int64)
    else:
        c.const[v] = arr


# No tensor fastnorm runs has more dims than NumPy allows (64). A list of axes, dims, pads, starts or a
# permutation is at most twice that long; a longer one (a hostile file's 10**6 axes) is malformed, found
# before any per-entry work (inserting axes one by one, a product of 10**5 dims as one Python int).
MAX_RANK = 64
MAX_DIMS_LIST = 2 * MAX_RANK
# attributes that hold such lists
DIMS_ATTRS = frozenset({"axes", "perm", "kernel_shape", "strides", "dilations", "pads", "paddings",
                        "output_padding", "output_shape", "shape", "starts", "ends", "scales", "sizes"})


def dims_list(values, what):
    """values (a list or array of ints: axes, dims, pads...) as Python ints, or Malformed past
    MAX_DIMS_LIST entries."""
    a = np.asarray(values).reshape(-1)
    if a.size > MAX_DIMS_LIST:
        raise Malformed("%s has %d entries; a tensor has at most %d dims" % (what, a.size, MAX_RANK))
    return [int(x) for x in a]


def ints_of(c, node, i, what, default=None):
    a = c.cval(node, i, what)
    if a is None:
        return default
    return dims_list(a, what)


def axes_arg(c, node, attrs, idx, since):
    if c.opset >= since:
        return ints_of(c, node, idx, "axes")
    return None if attrs.get("axes") is None else dims_list(attrs["axes"], "axes")


def insert_axes(shape, axes):
    """shape with a 1 inserted at each of axes (ONNX Unsqueeze: axes of the result, negative from the
    end, each once), in one pass."""
    r = len(shape) + len(axes)
    if r > MAX_RANK:
        raise Malformed("unsqueeze to %d dims (at most %d)" % (r, MAX_RANK))
    if any(not -r <= a < r for a in axes):
        raise Malformed("axes %r out of range for a %dD result" % (list(axes), r))
    at = {a % r for a in axes}
    if len(at) != len(axes):
        raise Malformed("axes %r name an axis twice" % (list(axes),))
    rest = iter(shape)
    return [1 if i in at else next(rest) for i in range(r)]


def op_identity(c, node, attrs):
    name, shape = c.act(node)
    c.ir[node.output[0]] = name
    c.shape[node.output[0]] = shape


def axis_attr(attrs, r, default):
    """The node's `axis` attribute (default when absent) as an index into r dims; Malformed outside
    [-r, r)."""
    axis = int(attrs.get("axis", default))
    if not -r <= axis < r:
        raise Malformed("axis %d out of range for %dD" % (axis, r))
    return axis % r


def attr_str(v, default):
    if v is None:
        return default
    return v.decode() if isinstance(v, bytes) else str(v)


def fmt_shape(shape):
    return [("N" if d is BATCH else d) for d in shape]


def emit_permute(c, node, name, shape, perm):
    """(IR value, shape) of activation `name` permuted by perm: no node for the identity, a reshape when
    only dims of size 1 move, else a transpose (up to 6-D); BatchDep when the batch would move."""
    perm = [int(p) for p in perm]
    if perm == list(range(len(perm))):
        return name, shape
    big = [p for p in perm if shape[p] is BATCH or shape[p] != 1]
    if big == sorted(big):
        return emit_reshape(c, node, name, shape, [shape[p] for p in perm])
    if shape and shape[0] is BATCH and perm[0] != 0:
        raise BatchDep("perm %r moves the batch" % perm)
    if len(perm) > 6:
        raise Unsupported("perm %r on %r (transposes up to 6-D)" % (perm, fmt_shape(shape)))
    out = c.emit(node, "transpose", [name], {"perm": perm})
    return out, c.shape_of_ir(out)


def emit_reshape(c, node, name, shape, dst):
    """(IR value, shape) of activation `name` reshaped (row-major) to dst, the batch staying dim 0; no
    node when dst is its shape."""
    dst = tuple(dst)
    if dst == tuple(shape):
        return name, shape
    if BATCH in dst[1:] or (has_batch(shape) and (not dst or dst[0] is not BATCH)):
        raise BatchDep("reshape %r -> %r moves the batch" % (fmt_shape(shape), fmt_shape(dst)))
    if not dst:
        raise Unsupported("reshape %r to a scalar" % (fmt_shape(shape),))
    out = c.emit(node, "reshape", [name], {"shape": [-1 if d is BATCH else int(d) for d in dst]})
    return out, c.shape_of_ir(out)
