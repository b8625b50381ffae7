"""What a model may ask of the machine, checked once when the Model is built (load, from_torch, from_onnx).

A model file is untrusted input: a few hundred bytes can declare a padding of 2**62 or an upsampling to
2**31 x 2**31. Before anything is optimised, planned or run, `check_graph` walks the graph with the
shapes of its declared input (batch 1 where dynamic) and checks

- every integer attribute that is a size or an index (strides, dilations, paddings, kernel and
  output sizes, factors, groups, dims: all but clamp bounds and other values) lies within
  +-(2**31 - 1), and every scale factor within (0, 2**31 - 1]: no model needs more,
  and C index arithmetic on values this size cannot overflow 64 bits;
- the size, in bytes, of every tensor a plan will hold: each node's outputs, and the tensors its
  kernel implies without naming them (a conv's zero-padded input, a transposed conv's output before
  its padding is cropped, a pool's padded input). All arithmetic is on Python ints (no overflow).

A size beyond what any 64-bit machine can address (ADDRESS_LIMIT) raises FormatError: the file is
broken or hostile. A size beyond `max_tensor_bytes` (default 4 GiB; fastnorm.load(...,
max_tensor_bytes=) raises it) raises MemoryError naming the tensor and its size.
`check_plan` then builds the plan at batch 1, so that what only the lowering knows (layouts, missing
weights) fails at load, and bounds every arena buffer the plan asks for the same way.
"""
import contextlib
import gc
import math

from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.graph import OPS

DEFAULT_MAX_TENSOR_BYTES = 4 << 30     # 4 GiB: far above any CNN's activation at batch 1
ADDRESS_LIMIT = 1 << 48                # bytes: x86-64 user space (4-level paging); beyond it, no machine
MAX_ATTR_INT = 2 ** 31 - 1
_FLOAT_BYTES = 4
# inputs the kernels read unconditionally (the shape functions let some be omitted)
_REQUIRED_INPUTS = {"prelu": 2, "conv2d": 2, "conv_transpose2d": 2, "linear": 2}
# attributes that hold values computed with, not sizes or indices: any number
_VALUE_ATTRS = {"min", "max", "value", "act", "eps", "negative_slope", "alpha", "beta", "threshold"}


def check_max_tensor_bytes(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("max_tensor_bytes: expected an int >= 1, got %r" % (value,))
    return value


def check_graph(graph, max_tensor_bytes=DEFAULT_MAX_TENSOR_BYTES):
    """Attribute ranges and every tensor's size for the declared input shape (batch 1 where dynamic).

    Raises FormatError for values no model can mean, MemoryError for a tensor larger than
    max_tensor_bytes. Linear in the graph's nodes and attributes."""
    check_max_tensor_bytes(max_tensor_bytes)
    shapes = {}
    for t in graph.inputs:
        shape = tuple(1 if d is None else d for d in t.shape)
        _bound("graph input %r" % t.name, t.name, shape, max_tensor_bytes)
        shapes[t.name] = shape
    for name, w in graph.weights.items():
        shapes[name] = tuple(int(d) for d in w.shape)
    # the bound every size within it passes without further arithmetic (and without the message that
    # names the node being built: per output, that was a fifth of check_graph)
    fits = min(max_tensor_bytes, ADDRESS_LIMIT)
    for node in graph.nodes:
        for key, value in node.attrs.items():
            if not _plain_ints(value):          # else: within the bound, whatever the key
                _check_attr_value(node, key, value, 0)
        need = _REQUIRED_INPUTS.get(node.op, 1)
        if len(node.inputs) < need or not all(node.inputs[:need]):
            raise FormatError("node %r (%s): needs %d inputs, got %r" % (node.name, node.op, need, node.inputs))
        ins = [shapes[v] if v else None for v in node.inputs]
        for where, shape in _implied(node, ins):
            if not 0 < _FLOAT_BYTES * math.prod(shape) <= fits:
                _bound("node %r (%s)" % (node.name, node.op), where, shape, max_tensor_bytes)
        try:
            outs = OPS[node.op].shape(node, ins, graph.weights)
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as e:
            raise FormatError("node %r (%s): %s" % (node.name, node.op, e)) from None
        for v, s in zip(node.outputs, outs):
            s = tuple(int(d) for d in s)
            if not 0 < _FLOAT_BYTES * math.prod(s) <= fits:
                _bound("node %r (%s)" % (node.name, node.op), "output %r" % v, s, max_tensor_bytes)
            shapes[v] = s
    return shapes


def check_plan(model, max_tensor_bytes=DEFAULT_MAX_TENSOR_BYTES):
    """Build the model's plan at batch 1 (kept for predict) and bound every arena buffer it holds."""
    shapes = {t.name: tuple(1 if d is None else d for d in t.shape) for t in model.graph.inputs}
    try:
        plan = model._plan(shapes)
    except (UnsupportedError, FormatError, MemoryError):
        raise
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as e:
        raise FormatError("the plan for input shape %s cannot be built: %s: %s"
                          % (sorted(shapes.items()), type(e).__name__, e)) from None
    for b, floats in enumerate(plan.buf_sizes):
        if floats * _FLOAT_BYTES > max_tensor_bytes:
            raise MemoryError("plan buffer #%d needs %s, more than max_tensor_bytes=%d (raise it with "
                              "fastnorm.load(..., max_tensor_bytes=))"
                              % (b, _fmt_bytes(floats * _FLOAT_BYTES), max_tensor_bytes))
    return plan


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection inside: loading and planning a large graph make hundreds of
    thousands of small objects, none of them garbage, and each full collection walks them all
    (a third of the time of loading a 100,000-node chain). Reference counting still frees as usual."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _plain_ints(value):
    """Whether value is an int or a flat list of ints (no bools), all within +-MAX_ATTR_INT: most attributes
    (strides, paddings, ...), which _check_attr_value accepts whatever their key."""
    if type(value) is int:
        return -MAX_ATTR_INT <= value <= MAX_ATTR_INT
    if type(value) is not list:
        return False
    for v in value:
        if type(v) is not int or not -MAX_ATTR_INT <= v <= MAX_ATTR_INT:
            return False
    return True


def _check_attr_value(node, key, value, depth):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if key not in _VALUE_ATTRS and not -MAX_ATTR_INT <= value <= MAX_ATTR_INT:
            raise FormatError("node %r (%s): attribute %r holds %d, outside +-%d"
                              % (node.name, node.op, key, value, MAX_ATTR_INT))
        return
    if isinstance(value, float):
        if key in _VALUE_ATTRS:
            return                      # a pad value of -inf (ONNX MaxPool's padding) is a value
        if value != value or value in (float("inf"), float("-inf")):
            raise FormatError("node %r (%s): attribute %r holds %r" % (node.name, node.op, key, value))
        if key == "scale_factor" and not 0 < value <= MAX_ATTR_INT:
            raise FormatError("node %r (%s): scale_factor %r outside (0, %d]"
                              % (node.name, node.op, value, MAX_ATTR_INT))
        return
    if isinstance(value, (list, tuple)) and depth < 8:
        for v in value:
            _check_attr_value(node, key, v, depth + 1)
        return
    raise FormatError("node %r (%s): attribute %r has a value of type %s"
                      % (node.name, node.op, key, type(value).__name__))


def _ints(attrs, key, default):
    v = attrs.get(key, default)
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return None  # the op's shape function names the problem
    return list(v)


def _implied(node, ins):
    """Tensors a node's kernel holds or spans beyond its output: [(description, shape)]."""
    x = ins[0] if ins else None
    if x is None or len(x) != 4:
        return []
    n, c, h, w = x
    a = node.attrs
    if node.op == "conv2d":
        p = _ints(a, "padding", [0, 0, 0, 0])
        if p is not None and len(p) == 4:
            return [("zero-padded input", (n, c, h + abs(p[0]) + abs(p[2]), w + abs(p[1]) + abs(p[3])))]
    elif node.op == "conv_transpose2d" and len(ins) > 1 and ins[1] is not None and len(ins[1]) == 4:
        s, d = _ints(a, "stride", [1, 1]), _ints(a, "dilation", [1, 1])
        op = _ints(a, "output_padding", [0, 0])
        if all(v is not None and len(v) == 2 for v in (s, d, op)):
            _, cout_g, kh, kw = ins[1]
            groups = a.get("groups", 1) if isinstance(a.get("groups", 1), int) else 1
            fh = max(h - 1, 0) * abs(s[0]) + abs(d[0]) * max(kh - 1, 0) + abs(op[0]) + 1
            fw = max(w - 1, 0) * abs(s[1]) + abs(d[1]) * max(kw - 1, 0) + abs(op[1]) + 1
            return [("output before cropping its padding", (n, cout_g * abs(groups), fh, fw))]
    elif node.op in ("max_pool2d", "avg_pool2d"):
        p = _ints(a, "padding", [0, 0])
        if p is not None and len(p) == 2:
            return [("padded input", (n, c, h + 2 * abs(p[0]), w + 2 * abs(p[1])))]
    return []


def _bound(who, what, shape, max_tensor_bytes):
    nbytes = _FLOAT_BYTES * math.prod(shape)      # Python ints: exact, no overflow
    # an empty tensor's other dims still bound it: NumPy cannot make (1, 2, 0, 2**62) either (its size
    # check skips the zeros), so a file declaring one is refused here, not at the caller's np.empty
    span = _FLOAT_BYTES * math.prod(d for d in shape if d)
    if nbytes > ADDRESS_LIMIT or span > ADDRESS_LIMIT:
        raise FormatError("%s: %s of shape %s would need %s, more than any 64-bit machine can address"
                          % (who, what, _fmt_shape(shape), _fmt_bytes(nbytes)))
    if nbytes > max_tensor_bytes:
        raise MemoryError("%s: %s of shape %s needs %s, more than max_tensor_bytes=%d (raise it with "
                          "fastnorm.load(..., max_tensor_bytes=))"
                          % (who, what, _fmt_shape(shape), _fmt_bytes(nbytes), max_tensor_bytes))


def _fmt_shape(shape):
    s = str(tuple(shape))
    return s if len(s) <= 120 else s[:120] + "...)"


def _fmt_bytes(n):
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= size:
            return "%d bytes (%.1f %s)" % (n, n / size, unit)
    return "%d bytes" % n
