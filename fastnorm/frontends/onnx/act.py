"""Handlers: activations and softmax.

An activation the op table (fastnorm.optable) lists with its ONNX name maps through `_from_table` (its
onnx_attrs rename and default the attributes); the handlers here are for the ones that need more.
"""
import math

import numpy as np

from fastnorm.frontends.onnx._base import BATCH, BatchDep, Malformed, Unsupported, axis_attr, has_batch, op_identity
from fastnorm.optable import OPS, emit_pow


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


def op_selu(c, node, attrs):
    name, _ = c.act(node)
    alpha, gamma = float(attrs.get("alpha", _SELU_ALPHA)), float(attrs.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) < 1e-6 and abs(gamma - _SELU_GAMMA) < 1e-6:
        c.set_act(node.output[0], c.emit(node, "selu", [name], {}, node.output[0]))
        return
    # selu = gamma * elu(x, alpha)
    e = c.emit(node, "elu", [name], {"alpha": alpha})
    g = c.weight(node, "gamma", np.array([gamma]))
    c.set_act(node.output[0], c.emit(node, "mul", [e, g], {}, node.output[0]))


def op_hardsigmoid(c, node, attrs):
    name, _ = c.act(node)
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    if abs(alpha - 1.0 / 6.0) < 1e-7 and beta == 0.5:
        c.set_act(node.output[0], c.emit(node, "hardsigmoid", [name], {}, node.output[0]))
        return
    # max(0, min(1, alpha * x + beta)) as mul, add, clamp (the same float32 roundings as ONNX's)
    m = c.emit(node, "mul", [name, c.weight(node, "alpha", np.array([alpha]))])
    a = c.emit(node, "add", [m, c.weight(node, "beta", np.array([beta]))])
    c.set_act(node.output[0], c.emit(node, "clamp", [a], {"min": 0.0, "max": 1.0}, node.output[0]))


def op_softplus(c, node, attrs):
    name, _ = c.act(node)
    # torch's threshold 20: log1p(exp(x)) == x in float32 there
    c.set_act(node.output[0], c.emit(node, "softplus", [name], {"beta": 1.0, "threshold": 20.0}, node.output[0]))


def op_gelu(c, node, attrs):
    name, _ = c.act(node)
    approx = attrs.get("approximate", b"none")
    approx = approx.decode() if isinstance(approx, bytes) else str(approx)
    if approx not in ("none", "tanh"):
        raise Unsupported("approximate %r" % approx)
    c.set_act(node.output[0], c.emit(node, "gelu", [name], {"approximate": approx}, node.output[0]))


def op_clip(c, node, attrs):
    name, _ = c.act(node)
    if c.opset < 11:
        lo = attrs.get("min", None)
        hi = attrs.get("max", None)
    else:
        lo, hi = c.cval(node, 1, "min"), c.cval(node, 2, "max")
        for v in (lo, hi):
            if v is not None and np.asarray(v).size != 1:
                raise Malformed("min/max must be scalars")
        lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
        hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
    lo = None if lo is None or lo <= -3.4e38 else float(lo)
    hi = None if hi is None or hi >= 3.4e38 else float(hi)
    if lo is None and hi is None:
        return op_identity(c, node, attrs)
    if lo == 0.0 and hi is None:
        c.set_act(node.output[0], c.emit(node, "relu", [name], {}, node.output[0]))
        return
    c.set_act(node.output[0], c.emit(node, "clamp", [name], {"min": lo, "max": hi}, node.output[0]))


def op_prelu(c, node, attrs):
    name, shape = c.act(node)
    slope = c.fweight(node, 1, "slope", required=True)
    r = len(shape)
    if slope.ndim > r:
        raise Malformed("slope %r has more dims than the input %r" % (slope.shape, shape))
    full = (1,) * (r - slope.ndim) + slope.shape
    for d, s in zip(shape, full):
        if s != 1 and not (d is not BATCH and d == s):
            if d is BATCH:
                raise BatchDep("slope %r varies along the batch" % (slope.shape,))
            raise Malformed("slope %r does not broadcast to the input %r" % (slope.shape, shape))
    if slope.size == 1:
        w = c.weight(node, "slope", slope.reshape(1))
        c.set_act(node.output[0], c.emit(node, "prelu", [name, w], {}, node.output[0]))
        return
    if r >= 2 and all(s == 1 for i, s in enumerate(full) if i != 1):
        w = c.weight(node, "slope", slope.reshape(-1))
        c.set_act(node.output[0], c.emit(node, "prelu", [name, w], {}, node.output[0]))
        return
    # general broadcast: relu(x) + slope * min(x, 0)
    pos = c.emit(node, "relu", [name])
    neg = c.emit(node, "clamp", [name], {"min": None, "max": 0.0})
    sl = c.emit(node, "mul", [neg, c.weight(node, "slope", slope.reshape(full))])
    c.set_act(node.output[0], c.emit(node, "add", [pos, sl], {}, node.output[0]))


def op_softmax(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    op = "softmax" if node.op_type == "Softmax" else "log_softmax"
    if c.opset >= 13:
        axis = axis_attr(attrs, r, -1)
        if axis == 0 and has_batch(shape):
            raise BatchDep("softmax over the batch (axis 0)")
    else:
        # opset < 13: the input is seen as 2D [prod(dims before axis), prod(dims from axis)]
        axis = int(attrs.get("axis", 1))
        if not -r <= axis <= r:
            raise Malformed("axis %d out of range for %dD" % (axis, r))
        axis %= max(r, 1)
        if axis == 0 and has_batch(shape):
            raise BatchDep("softmax over every dim including the batch (axis 0)")
        if not all(d == 1 for d in shape[axis + 1:]):
            # softmax over the trailing dims flattened into one: reshape, softmax, reshape back
            lead = [-1 if d is BATCH else int(d) for d in shape[:axis]]
            flat = c.emit(node, "reshape", [name], {"shape": lead + [int(math.prod(shape[axis:]))]})
            y = c.emit(node, op, [flat], {"dim": axis})
            back = [-1 if d is BATCH else int(d) for d in shape]
            return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
    c.set_act(node.output[0], c.emit(node, op, [name], {"dim": axis}, node.output[0]))


def _from_table(row):
    """ONNX node -> one node of the table row's op, attributes renamed by row.onnx_attrs."""
    def handler(c, node, attrs):
        name, _ = c.act(node)
        ir_attrs = {ir: float(attrs.get(key, default)) for key, ir, default in row.onnx_attrs}
        c.set_act(node.output[0], c.emit(node, row.name, [name], ir_attrs, node.output[0]))
    return handler


def op_pow(c, node, attrs):
    """x ** e for a constant scalar e (optable.emit_pow: PixelNorm's x ** 2, rsqrt, LRN's ** 0.75); b ** x
    for a constant positive scalar base b, as exp(x * ln b) (2 ** x, 10 ** x)."""
    if node.input and node.input[0] in c.const and len(node.input) > 1 and c.is_act(node.input[1]):
        return _pow_const_base(c, node)
    name, _ = c.act(node)
    e = c.cval(node, 1, "exponent")
    if e is None or np.asarray(e).size != 1:
        raise Unsupported("op Pow on activations with an exponent that is not a constant scalar")
    e = float(np.asarray(e).reshape(-1)[0])
    if e == 1.0:
        return op_identity(c, node, attrs)
    if not np.isfinite(e):
        raise Unsupported("op Pow on activations with exponent %r" % e)
    y = emit_pow(lambda op, ins, a: c.emit(node, op, ins, a), name, e,
                 lambda suffix, arr: c.weight(node, suffix, arr))
    c.rename(y, node.output[0])


def _pow_const_base(c, node):
    b = np.asarray(c.const[node.input[0]], np.float64)
    if b.size != 1:
        raise Unsupported("op Pow with a constant base that is not a scalar (shape %s)" % (b.shape,))
    b = float(b.reshape(-1)[0])
    if not (b > 0 and np.isfinite(b)):
        raise Unsupported("op Pow with constant base %r (a positive base runs, as exp(x ln base))" % b)
    name, _ = c.act(node, 1)
    lnb = c.weight(node, "log_base", np.array([np.log(b)], np.float32))
    y = c.emit(node, "exp", [c.emit(node, "mul", [name, lnb], {})], {})
    c.rename(y, node.output[0])


# ONNX op type -> handler(converter, node, attrs): the table's activations, then the ones with code of their own
HANDLERS = {t: _from_table(row) for row in OPS.values() if row.category == "activation" for t in row.onnx}
HANDLERS.update({
    "Selu": op_selu,
    "HardSigmoid": op_hardsigmoid,
    "Softplus": op_softplus,
    "Gelu": op_gelu,
    "Clip": op_clip,
    "PRelu": op_prelu,
    "Softmax": op_softmax,
    "LogSoftmax": op_softmax,
    "Pow": op_pow,
})
