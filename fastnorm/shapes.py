"""Shape rules: for each op, (node, input shapes, weights) -> output shapes, checking the node's attributes.

The op table (fastnorm.optable) names one rule per op; graph.infer_shapes and every frontend apply them.
Errors are ValueError naming the node.
"""
import math

ACT_ATTR = "act"   # fused activation: ["relu"] or ["clamp", lo, hi] (None for an open end)


def _conv_out(n, k, s, d, p0, p1):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def _ints(node, name, value, count, minimum):
    """An attribute that must be `count` ints >= minimum; ValueError naming the node otherwise."""
    if type(value) is list and len(value) == count:
        # the common case first, without all() and a generator: each load applies a conv's shape rule
        # twice (limits.check_graph, the plan's infer_shapes), ~1 ms of an EfficientNet-B0 load in all
        for v in value:
            if type(v) is not int or v < minimum:
                break
        else:
            return list(value)
    if (not isinstance(value, (list, tuple)) or len(value) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)):
        raise ValueError("node %r: attribute %r must be %d ints >= %d, got %r"
                         % (node.name, name, count, minimum, value))
    return list(value)


def _arity(node, shapes, lo, hi, ranks):
    if not (lo <= len(shapes) <= hi) or len(node.outputs) != 1:
        raise ValueError("node %r (%s): expected %d..%d inputs and 1 output, got %d and %d"
                         % (node.name, node.op, lo, hi, len(shapes), len(node.outputs)))
    for i, (s, r) in enumerate(zip(shapes, ranks)):
        if s is None:
            if i < lo:
                raise ValueError("node %r: input %d is required" % (node.name, i))
            continue
        if r is not None and len(s) not in (r if isinstance(r, tuple) else (r,)):
            raise ValueError("node %r: input %d must be %sD, got shape %r" % (node.name, i, r, s))


# Activations without parameters that the conv driver and the depthwise conv apply to each output
# tile as it is stored (fn_act kind FN_ACT_ACTK0 + the act family's kind, src_c/fastnorm.h): graph op
# (and gelu's approximate) -> the act family's kind name. fastnorm.passes.fuse puts them into the
# "act" attribute of a conv2d / linear as [op] (["gelu", "tanh"] for the tanh GELU).
EPILOGUE_ACTS = {"sigmoid": "SIGMOID", "tanh": "TANH", "silu": "SILU", "gelu": "GELU", "gelu_tanh": "GELU_TANH",
                 "hardsigmoid": "HARDSIGMOID", "hardswish": "HARDSWISH", "mish": "MISH"}


def _check_act(node):
    act = node.attrs.get(ACT_ATTR)
    if act is None:
        return
    ok = isinstance(act, list) and (act == ["relu"] or (
        len(act) == 3 and act[0] == "clamp"
        and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in act[1:])))
    # the epilogues past the clamp: only the conv2d / linear kernels apply them (passes.fuse.FUSES_EPILOGUE)
    ok = ok or (node.op in ("conv2d", "linear") and isinstance(act, list) and (act == ["gelu", "tanh"] or (
        len(act) == 1 and act[0] in EPILOGUE_ACTS and act[0] != "gelu_tanh")))
    if not ok:
        raise ValueError("node %r: attribute 'act' must be ['relu'] or ['clamp', lo, hi]%s, got %r"
                         % (node.name, " or one of %s" % sorted(EPILOGUE_ACTS) if node.op in ("conv2d", "linear")
                            else "", act))


def shape_conv2d(node, shapes, weights):
    full_shapes = shapes
    residual = node.attrs.get("residual", False)
    if not isinstance(residual, bool):
        raise ValueError("node %r: residual must be a boolean, got %r" % (node.name, residual))
    if residual:
        # inputs: x, weight, bias (may be ""), residual (added before the activation)
        if len(shapes) != 4 or shapes[3] is None:
            raise ValueError("node %r: a residual conv2d needs 4 inputs (x, weight, bias or '', residual)"
                             % node.name)
        shapes = shapes[:3]
        _arity(node, shapes, 2, 3, (4, 4, 1))
        if len(full_shapes[3]) != 4:
            raise ValueError("node %r: input 3 must be 4D, got shape %r" % (node.name, full_shapes[3]))
    else:
        _arity(node, shapes, 2, 3, (4, 4, 1))
    _check_act(node)
    n, c, h, w = shapes[0]
    cout, cg, kh, kw = shapes[1]
    a = node.attrs
    sh, sw = _ints(node, "stride", a.get("stride", [1, 1]), 2, 1)
    dh, dw = _ints(node, "dilation", a.get("dilation", [1, 1]), 2, 1)
    pt, pl, pb, pr = _ints(node, "padding", a.get("padding", [0, 0, 0, 0]), 4, 0)
    (groups,) = _ints(node, "groups", [a.get("groups", 1)], 1, 1)
    if c != cg * groups or cout % groups or kh < 1 or kw < 1:
        raise ValueError("node %r: input has %d channels; weight %r with groups=%d does not fit"
                         % (node.name, c, shapes[1], groups))
    if len(shapes) > 2 and shapes[2] is not None and shapes[2][0] != cout:
        raise ValueError("node %r: bias has %d values, expected %d" % (node.name, shapes[2][0], cout))
    oh, ow = _conv_out(h, kh, sh, dh, pt, pb), _conv_out(w, kw, sw, dw, pl, pr)
    if oh < 1 or ow < 1:
        raise ValueError("node %r: input %dx%d too small for the kernel" % (node.name, h, w))
    if residual and tuple(full_shapes[3]) != (n, cout, oh, ow):
        raise ValueError("node %r: residual shape %r != output shape %r"
                         % (node.name, full_shapes[3], (n, cout, oh, ow)))
    return [(n, cout, oh, ow)]


def shape_conv3d(node, shapes, weights):
    """x (N, C, T, H, W), weight (O, C/groups, kT, kH, kW), optional bias (O,); stride and dilation 3
    ints (T, H, W), padding 6 (front, top, left, back, bottom, right); output (N, O, OT, OH, OW)."""
    _arity(node, shapes, 2, 3, (5, 5, 1))
    _check_act(node)
    n, c, t, h, w = shapes[0]
    cout, cg, kt, kh, kw = shapes[1]
    a = node.attrs
    st, sh, sw = _ints(node, "stride", a.get("stride", [1, 1, 1]), 3, 1)
    dt, dh, dw = _ints(node, "dilation", a.get("dilation", [1, 1, 1]), 3, 1)
    pf, pt, pl, pk, pb, pr = _ints(node, "padding", a.get("padding", [0] * 6), 6, 0)
    (groups,) = _ints(node, "groups", [a.get("groups", 1)], 1, 1)
    if c != cg * groups or cout % groups or min(kt, kh, kw) < 1:
        raise ValueError("node %r: input has %d channels; weight %r with groups=%d does not fit"
                         % (node.name, c, shapes[1], groups))
    if len(shapes) > 2 and shapes[2] is not None and shapes[2][0] != cout:
        raise ValueError("node %r: bias has %d values, expected %d" % (node.name, shapes[2][0], cout))
    ot, oh, ow = (_conv_out(t, kt, st, dt, pf, pk), _conv_out(h, kh, sh, dh, pt, pb),
                  _conv_out(w, kw, sw, dw, pl, pr))
    if min(ot, oh, ow) < 1:
        raise ValueError("node %r: input %dx%dx%d too small for the kernel" % (node.name, t, h, w))
    return [(n, cout, ot, oh, ow)]


def shape_conv_transpose2d(node, shapes, weights):
    """x (N, Cin, H, W), weight (Cin, Cout/groups, kH, kW), optional bias (Cout,); padding is
    [top, left, bottom, right] (asymmetric for ONNX); output (H - 1)*s - pt - pb + d*(k - 1) + op + 1."""
    _arity(node, shapes, 2, 3, (4, 4, 1))
    _check_act(node)
    n, c, h, w = shapes[0]
    cin, cout_g, kh, kw = shapes[1]
    a = node.attrs
    sh, sw = _ints(node, "stride", a.get("stride", [1, 1]), 2, 1)
    dh, dw = _ints(node, "dilation", a.get("dilation", [1, 1]), 2, 1)
    pt, pl, pb, pr = _ints(node, "padding", a.get("padding", [0, 0, 0, 0]), 4, 0)
    oph, opw = _ints(node, "output_padding", a.get("output_padding", [0, 0]), 2, 0)
    (groups,) = _ints(node, "groups", [a.get("groups", 1)], 1, 1)
    if c != cin or cin % groups or cout_g < 1 or kh < 1 or kw < 1:
        raise ValueError("node %r: input has %d channels; weight %r (in_channels, out_channels/groups, "
                         "kH, kW) with groups=%d does not fit" % (node.name, c, shapes[1], groups))
    # torch requires output_padding < max(stride, dilation); ONNX does not (its negative end pads
    # become output_padding here), and the kernel computes any output size: only >= 0 is checked.
    cout = cout_g * groups
    if len(shapes) > 2 and shapes[2] is not None and shapes[2][0] != cout:
        raise ValueError("node %r: bias has %d values, expected %d" % (node.name, shapes[2][0], cout))
    oh = (h - 1) * sh - pt - pb + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - pl - pr + dw * (kw - 1) + opw + 1
    if h < 1 or w < 1 or oh < 1 or ow < 1:
        raise ValueError("node %r: input %dx%d with padding %r gives an empty output (%dx%d)"
                         % (node.name, h, w, [pt, pl, pb, pr], oh, ow))
    return [(n, cout, oh, ow)]


def shape_linear(node, shapes, weights):
    _arity(node, shapes, 2, 3, (None, 2, 1))
    _check_act(node)
    x, w = shapes[0], shapes[1]
    if len(x) < 1 or x[-1] != w[1]:
        raise ValueError("node %r: input shape %r does not fit weight %r" % (node.name, x, w))
    if len(shapes) > 2 and shapes[2] is not None and shapes[2][0] != w[0]:
        raise ValueError("node %r: bias has %d values, expected %d" % (node.name, shapes[2][0], w[0]))
    return [tuple(x[:-1]) + (w[0],)]


def shape_batch_norm(node, shapes, weights):
    batch_stats = node.attrs.get("batch_stats", False)
    if not isinstance(batch_stats, bool):
        raise ValueError("node %r: batch_stats must be a boolean, got %r" % (node.name, batch_stats))
    # with batch statistics the running mean/var inputs are "" (unused)
    _arity(node, shapes, 1 if batch_stats else 3, 5, (None, 1, 1, 1, 1))
    _check_act(node)
    x = shapes[0]
    if len(x) < 2:
        raise ValueError("node %r: batch_norm input must be (N, C, *), got %r" % (node.name, x))
    for i, s in enumerate(shapes[1:], 1):
        if s is not None and s[0] != x[1]:
            raise ValueError("node %r: input %d has %d values, expected %d channels" % (node.name, i, s[0], x[1]))
    eps = node.attrs.get("eps", 1e-5)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0:
        raise ValueError("node %r: eps must be a number >= 0, got %r" % (node.name, eps))
    return [x]


def shape_act(node, shapes, weights):
    _arity(node, shapes, 1, 1, (None,))
    for k in ("min", "max"):
        v = node.attrs.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            raise ValueError("node %r: attribute %r must be a number or null, got %r" % (node.name, k, v))
    return [shapes[0]]


def pool_out_extent(n, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(n + 2 * p - span) // s) + 1
        if (out - 1) * s >= n + p:  # torch: the last window must start inside the input or left pad
            out -= 1
    else:
        out = (n + 2 * p - span) // s + 1
    return out


def _pool_window(node, shapes, flags):
    """Checks shared by the pooling ops; returns the output shape."""
    _arity(node, shapes, 1, 1, (4,))
    n, c, h, w = shapes[0]
    a = node.attrs
    kh, kw = _ints(node, "kernel", a.get("kernel"), 2, 1)
    sh, sw = _ints(node, "stride", a.get("stride", [kh, kw]), 2, 1)
    ph, pw = _ints(node, "padding", a.get("padding", [0, 0]), 2, 0)
    dh, dw = _ints(node, "dilation", a.get("dilation", [1, 1]), 2, 1)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("node %r: padding %r exceeds half the kernel %r" % (node.name, [ph, pw], [kh, kw]))
    for k in flags:
        if not isinstance(a.get(k, False), bool):
            raise ValueError("node %r: %s must be a boolean, got %r" % (node.name, k, a.get(k)))
    cm = a.get("ceil_mode", False)
    oh, ow = pool_out_extent(h, kh, sh, ph, dh, cm), pool_out_extent(w, kw, sw, pw, dw, cm)
    if oh < 1 or ow < 1:
        raise ValueError("node %r: input %dx%d too small for the pooling window" % (node.name, h, w))
    return [(n, c, oh, ow)]


def shape_max_pool2d(node, shapes, weights):
    return _pool_window(node, shapes, ("ceil_mode",))


def shape_max_pool2d_indices(node, shapes, weights):
    """The pooled values and their indices: two outputs of the pooled shape."""
    if len(node.outputs) != 2:
        raise ValueError("node %r: max_pool2d_indices has two outputs (values, indices), got %d"
                         % (node.name, len(node.outputs)))
    (out,) = _pool_window(type(node)(node.name, node.op, node.inputs, node.outputs[:1], node.attrs), shapes,
                          ("ceil_mode",))
    return [out, out]


def shape_max_unpool2d(node, shapes, weights):
    """x and its indices (one shape) -> (n, c) + output_size."""
    _arity(node, shapes, 2, 2, (4, 4))
    if tuple(shapes[0]) != tuple(shapes[1]):
        raise ValueError("node %r: max_unpool2d values %r and indices %r differ in shape"
                         % (node.name, shapes[0], shapes[1]))
    n, c, h, w = shapes[0]
    oh, ow = _ints(node, "output_size", node.attrs.get("output_size"), 2, 1)
    return [(n, c, oh, ow)]


def shape_flatten(node, shapes, weights):
    _arity(node, shapes, 1, 1, (None,))
    x = shapes[0]
    nd = max(len(x), 1)
    s, e = node.attrs.get("start_dim", 1), node.attrs.get("end_dim", -1)
    for v in (s, e):
        if not isinstance(v, int) or isinstance(v, bool) or not -nd <= v < nd:
            raise ValueError("node %r: flatten dim %r out of range for shape %r" % (node.name, v, x))
    s, e = s % nd, e % nd
    if s > e:
        raise ValueError("node %r: start_dim after end_dim" % node.name)
    return [tuple(x[:s]) + (math.prod(x[s:e + 1]),) + tuple(x[e + 1:])]


def shape_reshape(node, shapes, weights):
    """A row-major reshape (torch.reshape); shape[0] == -1 keeps the input's dim 0 (the batch)."""
    _arity(node, shapes, 1, 1, (None,))
    x = shapes[0]
    want = node.attrs.get("shape")
    if (not isinstance(want, list) or not want
            or not all(isinstance(v, int) and not isinstance(v, bool) and (v >= 1 or (i == 0 and v == -1))
                       for i, v in enumerate(want))):
        raise ValueError("node %r: shape must be ints >= 1 (the first may be -1: keep the batch), got %r"
                         % (node.name, want))
    if len(x) < 1 and want[0] == -1:    # a 0-d value (a mean over everything) has no batch to keep
        raise ValueError("node %r: cannot reshape %r to %r" % (node.name, x, want))
    out = tuple(([x[0]] if want[0] == -1 else [want[0]]) + list(want[1:]))
    if math.prod(out) != math.prod(x):
        raise ValueError("node %r: cannot reshape %r to %r" % (node.name, x, want))
    return [out]


def shape_transpose(node, shapes, weights):
    """A permute of any rank up to 6: perm is a permutation of range(rank)."""
    _arity(node, shapes, 1, 1, (None,))
    perm = node.attrs.get("perm")
    nd = len(shapes[0])
    if (not isinstance(perm, (list, tuple)) or sorted(perm) != list(range(nd)) or not 1 <= nd <= 6
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in perm)):
        raise ValueError("node %r: perm must be a permutation of range(%d) (rank <= 6), got %r"
                         % (node.name, nd, perm))
    return [tuple(shapes[0][p] for p in perm)]


def _number(node, name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or (
            minimum is not None and value < minimum):
        raise ValueError("node %r: attribute %r must be a number%s, got %r"
                         % (node.name, name, "" if minimum is None else " >= %g" % minimum, value))
    return value


def shape_elementwise(numbers=(), ranks=(None,), weights=0):
    """Shape function of an op whose output has its input's shape; `numbers` are its numeric attrs."""
    def shape(node, shapes, w):
        _arity(node, shapes, 1, 1 + weights, ranks + (1,) * weights)
        for k in numbers:
            if k in node.attrs:
                _number(node, k, node.attrs[k])
        _check_act(node)
        return [shapes[0]]
    return shape


def broadcast_shapes(node, a, b):
    if a == b:                # most binary ops of a network (a residual add): nothing to broadcast
        return tuple(a)
    out = []
    for i in range(max(len(a), len(b))):
        da = a[len(a) - 1 - i] if i < len(a) else 1
        db = b[len(b) - 1 - i] if i < len(b) else 1
        if da != db and 1 not in (da, db):
            raise ValueError("node %r: shapes %r and %r do not broadcast" % (node.name, a, b))
        out.append(max(da, db) if 0 not in (da, db) else 0)
    return tuple(reversed(out))


def shape_binary(node, shapes, weights):
    _arity(node, shapes, 2, 2, (None, None))
    _check_act(node)
    return [broadcast_shapes(node, shapes[0], shapes[1])]


def shape_where(node, shapes, weights):
    """where(cond, a, b): the three broadcast together."""
    _arity(node, shapes, 3, 3, (None, None, None))
    return [broadcast_shapes(node, broadcast_shapes(node, shapes[0], shapes[1]), shapes[2])]


def shape_matmul(node, shapes, weights):
    """A product of two activations, (*, m, k) @ (*, k, n) -> (*, m, n), the leading dims broadcast."""
    _arity(node, shapes, 2, 2, (None, None))
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        raise ValueError("node %r: matmul needs inputs of 2 or more dims, got %r and %r" % (node.name, a, b))
    if a[-1] != b[-2]:
        raise ValueError("node %r: matmul of %r and %r: inner dims %d and %d differ" % (node.name, a, b, a[-1], b[-2]))
    return [broadcast_shapes(node, a[:-2], b[:-2]) + (a[-2], b[-1])]


def shape_cat(node, shapes, weights):
    if len(shapes) < 1 or len(node.outputs) != 1 or any(s is None for s in shapes):
        raise ValueError("node %r: cat needs one or more inputs and one output" % node.name)
    nd = len(shapes[0])
    dim = node.attrs.get("dim", 0)
    if not isinstance(dim, int) or isinstance(dim, bool) or not -nd <= dim < nd:
        raise ValueError("node %r: cat dim %r out of range for %dD inputs" % (node.name, dim, nd))
    dim %= nd
    if dim != 0 and weights and any(v in weights for v in node.inputs):
        # a constant input (CoordConv's coordinate channels) of batch 1 is broadcast over the batch
        acts = [s for v, s in zip(node.inputs, shapes) if v not in weights]
        if not acts:
            raise ValueError("node %r: every cat input is a weight" % node.name)
        b = acts[0][0]
        shapes = [(b,) + tuple(s[1:]) if v in weights and len(s) == nd and s[0] == 1 else s
                  for v, s in zip(node.inputs, shapes)]
    first = shapes[0]
    for s in shapes[1:]:
        if type(s) is tuple and type(first) is tuple and len(s) == nd and s[:dim] == first[:dim] \
                and s[dim + 1:] == first[dim + 1:]:
            continue    # tuples compared whole: DenseNet's 30-input cats, twice per load
        if len(s) != nd or any(x != y for i, (x, y) in enumerate(zip(s, shapes[0])) if i != dim):
            raise ValueError("node %r: cat inputs %r and %r differ outside dim %d" % (node.name, shapes[0], s, dim))
    out = list(shapes[0])
    out[dim] = sum(s[dim] for s in shapes)
    return [tuple(out)]


def shape_norm(kind):
    def shape(node, shapes, weights):
        if kind == "instance_norm":
            _arity(node, shapes, 1, 5, (None, 1, 1, 1, 1))
        else:
            _arity(node, shapes, 1, 3, (None, 1, 1))
        _check_act(node)
        x = shapes[0]
        if len(x) < 2:
            raise ValueError("node %r: %s input must be (N, C, *), got %r" % (node.name, kind, x))
        _number(node, "eps", node.attrs.get("eps", 1e-5), 0)
        c = x[1]
        if kind == "group_norm":
            (g,) = _ints(node, "num_groups", [node.attrs.get("num_groups")], 1, 1)
            if c % g:
                raise ValueError("node %r: num_groups=%d does not divide %d channels" % (node.name, g, c))
        if kind == "layer_norm":
            (k,) = _ints(node, "normalized_ndim", [node.attrs.get("normalized_ndim", 1)], 1, 1)
            if k > len(x) - 1:
                raise ValueError("node %r: normalized_ndim %d too large for %r" % (node.name, k, x))
            per = 1
            for d in x[len(x) - k:]:
                per *= d
            for i, s in enumerate(shapes[1:], 1):
                if s is not None and s[0] != per:
                    raise ValueError("node %r: input %d has %d values, expected %d" % (node.name, i, s[0], per))
        else:
            for i, s in enumerate(shapes[1:], 1):
                if s is not None and s[0] != c:
                    raise ValueError("node %r: input %d has %d values, expected %d channels" % (node.name, i, s[0], c))
        return [x]
    return shape


def shape_softmax(node, shapes, weights):
    _arity(node, shapes, 1, 1, (None,))
    nd = len(shapes[0])
    dim = node.attrs.get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or not -max(nd, 1) <= dim < max(nd, 1):
        raise ValueError("node %r: dim %r out of range for shape %r" % (node.name, dim, shapes[0]))
    return [shapes[0]]


def shape_avg_pool2d(node, shapes, weights):
    if node.attrs.get("divisor_override") is not None:
        _ints(node, "divisor_override", [node.attrs["divisor_override"]], 1, 1)
    return _pool_window(node, shapes, ("ceil_mode", "count_include_pad"))


def shape_adaptive_pool(node, shapes, weights):
    _arity(node, shapes, 1, 1, (4,))
    n, c, h, w = shapes[0]
    oh, ow = _ints(node, "output_size", node.attrs.get("output_size"), 2, 1)
    return [(n, c, oh, ow)]


def shape_pad(node, shapes, weights):
    _arity(node, shapes, 1, 1, (4,))
    n, c, h, w = shapes[0]
    pads = node.attrs.get("pads")
    if (not isinstance(pads, list) or len(pads) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pads)):
        raise ValueError("node %r: pads must be 4 ints (left, right, top, bottom), got %r" % (node.name, pads))
    mode = node.attrs.get("mode", "constant")
    if mode not in ("constant", "reflect", "replicate"):
        raise ValueError("node %r: pad mode %r" % (node.name, mode))
    _number(node, "value", node.attrs.get("value", 0.0))
    cpads = node.attrs.get("cpads", [0, 0])
    if (not isinstance(cpads, list) or len(cpads) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in cpads)):
        raise ValueError("node %r: cpads must be 2 ints >= 0 (channels before, after), got %r"
                         % (node.name, cpads))
    if any(cpads) and mode != "constant":
        raise ValueError("node %r: channel padding %r needs mode 'constant', got %r" % (node.name, cpads, mode))
    c += cpads[0] + cpads[1]
    l, r, t, b = pads
    if mode != "constant" and min(pads) < 0:
        raise ValueError("node %r: negative pads need mode 'constant'" % node.name)
    if mode == "reflect" and (max(l, r) >= w or max(t, b) >= h):
        raise ValueError("node %r: reflect padding %r must be smaller than the input %dx%d" % (node.name, pads, h, w))
    oh, ow = h + t + b, w + l + r
    if oh < 1 or ow < 1:
        raise ValueError("node %r: padding %r leaves no output" % (node.name, pads))
    return [(n, c, oh, ow)]


def shape_interpolate(node, shapes, weights):
    _arity(node, shapes, 1, 1, (4,))
    n, c, h, w = shapes[0]
    a = node.attrs
    if a.get("mode", "nearest") not in ("nearest", "nearest-exact", "bilinear"):
        raise ValueError("node %r: interpolate mode %r" % (node.name, a.get("mode")))
    # size gives the output's extent; scale_factor, the coordinate mapping and, without a size, the
    # extent (torch's floor(n * scale)). Both: ONNX Resize by scales, whose extent is the float32 product
    sf = a.get("scale_factor")
    if sf is not None:
        if not isinstance(sf, list) or len(sf) != 2:
            raise ValueError("node %r: interpolate needs size or a pair scale_factor, got %r" % (node.name, sf))
        fh, fw = (_number(node, "scale_factor", v, 0) for v in sf)
    if a.get("size") is not None:
        oh, ow = _ints(node, "size", a["size"], 2, 1)
    else:
        if sf is None:
            raise ValueError("node %r: interpolate needs size or a pair scale_factor, got %r" % (node.name, sf))
        oh, ow = int(math.floor(h * fh)), int(math.floor(w * fw))
        if oh < 1 or ow < 1:
            raise ValueError("node %r: scale_factor %r leaves no output" % (node.name, sf))
    return [(n, c, oh, ow)]


def shape_shuffle(kind):
    def shape(node, shapes, weights):
        _arity(node, shapes, 1, 1, (4,))
        n, c, h, w = shapes[0]
        key = "groups" if kind == "channel_shuffle" else "factor"
        (r,) = _ints(node, key, [node.attrs.get(key)], 1, 1)
        if kind == "pixel_shuffle":
            if c % (r * r):
                raise ValueError("node %r: %d channels not divisible by factor^2=%d" % (node.name, c, r * r))
            return [(n, c // (r * r), h * r, w * r)]
        if kind == "pixel_unshuffle":
            if h % r or w % r:
                raise ValueError("node %r: %dx%d not divisible by factor %d" % (node.name, h, w, r))
            return [(n, c * r * r, h // r, w // r)]
        if c % r:
            raise ValueError("node %r: %d channels not divisible by groups %d" % (node.name, c, r))
        return [shapes[0]]
    return shape


# ---------------------------------------------------------------- slicing and reductions (issue 12)
def _int_attr(node, name, lo=None):
    v = node.attrs.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or (lo is not None and v < lo):
        raise ValueError("node %r: attribute %r must be an int%s, got %r"
                         % (node.name, name, "" if lo is None else " >= %d" % lo, v))
    return v


def _dim(node, x, name="dim"):
    d = _int_attr(node, name)
    if not -len(x) <= d < len(x):
        raise ValueError("node %r: %s %d out of range for shape %r" % (node.name, name, d, x))
    return d % len(x)


def slice_range(node, x):
    """(dim, start, stop, step) of a slice node over shape x, clamped as Python slices are. A negative
    step walks back from start (flip: start None, end None, step -1)."""
    d = _dim(node, x)
    step = node.attrs.get("step", 1)
    if not isinstance(step, int) or isinstance(step, bool) or step == 0:
        raise ValueError("node %r: slice step must be a nonzero int, got %r" % (node.name, step))
    start, end = node.attrs.get("start", 0), node.attrs.get("end")
    for k, v in (("start", start), ("end", end)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise ValueError("node %r: slice %s must be an int or None, got %r" % (node.name, k, v))
    start, stop, step = slice(start, end, step).indices(x[d])
    return d, start, max(stop, start) if step > 0 else min(stop, start), step


def gather_runs(indices, n):
    """Constant indices into a dim of extent n (negative from the end) as slices: [(start, end, step)]
    in order, each a maximal run stepping by +1 or -1 (end None: past index 0), for a gather written as
    slices and one concat (x[:, [2, 1, 0]], ONNX Gather). ValueError for an index out of range."""
    vals = []
    for v in indices:
        v = int(v)
        if not -n <= v < n:
            raise ValueError("index %d out of range for a dim of %d" % (v, n))
        vals.append(v % n)
    runs = []   # [start, step, length]
    for v in vals:
        if runs:
            s0, st, ln = runs[-1]
            if ln == 1 and abs(v - s0) == 1:
                runs[-1] = [s0, v - s0, 2]
                continue
            if ln > 1 and v == s0 + st * ln:
                runs[-1][2] += 1
                continue
        runs.append([v, 1, 1])
    out = []
    for s0, st, ln in runs:
        end = s0 + st * ln
        out.append((s0, end if end >= 0 else None, st))
    return out


def shape_slice(node, shapes, weights):
    """x[..., start:end:step, ...] along attribute dim (Python's clamping of start/end)."""
    _arity(node, shapes, 1, 1, (None,))
    x = shapes[0]
    d, start, stop, step = slice_range(node, x)
    out = list(x)
    out[d] = len(range(start, stop, step))
    return [tuple(out)]


def shape_split(node, shapes, weights):
    """Consecutive pieces of attribute dim with the extents `sizes` (summing to the dim); one output each."""
    if len(shapes) != 1 or shapes[0] is None:
        raise ValueError("node %r: split takes one input" % node.name)
    x = shapes[0]
    d = _dim(node, x)
    sizes = node.attrs.get("sizes")
    if (not isinstance(sizes, (list, tuple)) or len(sizes) != len(node.outputs) or sum(sizes) != x[d]
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes)):
        raise ValueError("node %r: split sizes %r must be %d ints >= 0 summing to %d"
                         % (node.name, sizes, len(node.outputs), x[d]))
    return [tuple(x[:d]) + (v,) + tuple(x[d + 1:]) for v in sizes]


def reduce_axes(node, x):
    """The sorted, distinct, non-negative axes of a reduction over shape x."""
    axes = node.attrs.get("axes")
    if (not isinstance(axes, (list, tuple)) or not axes
            or not all(isinstance(a, int) and not isinstance(a, bool) and -len(x) <= a < len(x) for a in axes)):
        raise ValueError("node %r: axes must be one or more ints in [-%d, %d), got %r"
                         % (node.name, len(x), len(x), axes))
    return sorted({a % len(x) for a in axes})


def shape_reduce(node, shapes, weights):
    """sum / mean / max over `axes`; keepdim keeps them as extent 1."""
    _arity(node, shapes, 1, 1, (None,))
    x = shapes[0]
    axes = reduce_axes(node, x)
    if any(x[a] == 0 for a in axes):
        raise ValueError("node %r: reduction over an empty axis of %r" % (node.name, x))
    keep = node.attrs.get("keepdim", False)
    if not isinstance(keep, bool):
        raise ValueError("node %r: keepdim must be a boolean, got %r" % (node.name, keep))
    return [tuple(1 if i in axes else v for i, v in enumerate(x) if keep or i not in axes)]


def shape_argreduce(node, shapes, weights):
    """argmax / argmin over one axis (`axes`: [dim]); keepdim keeps it as extent 1."""
    x = shapes[0] if shapes else None
    axes = node.attrs.get("axes")
    if x is not None and (not isinstance(axes, (list, tuple)) or len(axes) != 1):
        raise ValueError("node %r: %s takes one axis, got %r" % (node.name, node.op, axes))
    if not isinstance(node.attrs.get("select_last", False), bool):
        raise ValueError("node %r: select_last must be a boolean, got %r" % (node.name, node.attrs["select_last"]))
    return shape_reduce(node, shapes, weights)
