"""Activations: torch.nn.functional's names, arguments and defaults, NumPy float32 in and out.

Elementwise kinds run src_c/act's kernels (fn_act_apply: one vector-math implementation per ISA);
prelu is per channel on dim 1; softmax / log_softmax reduce over any axis (contiguous last axis or
strided). `inplace=True` writes into the input when it is a writable float32 array, as torch; on any
other input (read-only, memory-mapped read-only, broadcast, another dtype) it returns a new array and
leaves the input alone. Edge values (+-inf, NaN): README, "Edge values".
"""
import inspect
import numbers
import warnings

import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_RELU, as_float32
from fastnorm.optable import SELU_ALPHA, SELU_SCALE, activations  # noqa: F401 (SELU_*: the plan reads them here)
from fastnorm.threads import get_num_threads

__all__ = ["relu", "relu6", "hardtanh", "clamp", "leaky_relu", "prelu", "elu", "selu", "celu",
           "sigmoid", "tanh", "silu", "gelu", "hardsigmoid", "hardswish", "mish", "softplus",
           "softmax", "log_softmax"]



def kind_id(kind):
    """The fn_actk_kind number of an ActKernel kind name (fastnorm.optable): FN_ACTK_KINDS in
    src_c/act/fn_act.h, exported by the bindings as _C.ACTK_<NAME>; no number is written here."""
    return getattr(_C, "ACTK_" + kind)


def params(lo=0.0, hi=0.0, slope=0.0, alpha=1.0, scale=1.0, input_scale=1.0, beta=1.0, threshold=20.0):
    """The fn_act_params tuple _C.act_apply takes."""
    return (float(lo), float(hi), float(slope), float(alpha), float(scale), float(input_scale),
            float(beta), float(threshold))


def _number(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError("%s: expected a real number, got %r" % (name, v))
    return float(v)


def _bool(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s: expected a bool, got %r" % (name, v))
    return bool(v)


def _finish(input, y, inplace):
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable:
        input[...] = y
        return input
    return y


def _apply(input, kind, p, inplace=False):
    inplace = _bool(inplace, "inplace")
    x = as_float32(input, "input")
    y = np.empty_like(x)
    _C.act_apply(-1, kind, x.reshape(-1), p, y.reshape(-1), get_num_threads())
    return _finish(input, y, inplace)


def relu(input, inplace=False):
    inplace = _bool(inplace, "inplace")
    x = as_float32(input, "input")
    y = np.empty_like(x)
    _C.activation(-1, x.reshape(-1), ACT_RELU, y.reshape(-1), get_num_threads())
    return _finish(input, y, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    lo, hi = _number(min_val, "min_val"), _number(max_val, "max_val")
    if lo > hi:
        raise ValueError("hardtanh: min_val cannot be greater than max_val, got min_val=%r max_val=%r"
                         % (min_val, max_val))
    return _apply(input, _C.ACTK_CLAMP, params(lo=lo, hi=hi), inplace)


def relu6(input, inplace=False):
    return _apply(input, _C.ACTK_CLAMP, params(lo=0.0, hi=6.0), inplace)


def clamp(input, min=None, max=None):
    """torch.clamp: min(max(x, min), max); min > max gives max everywhere, as torch."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    lo = -np.inf if min is None else _number(min, "min")
    hi = np.inf if max is None else _number(max, "max")
    return _apply(input, _C.ACTK_CLAMP, params(lo=lo, hi=hi))


def celu(input, alpha=1.0, inplace=False):
    a = _number(alpha, "alpha")
    if a == 0:
        raise ValueError("celu: alpha cannot be 0, got %r" % (alpha,))
    return _apply(input, _C.ACTK_ELU, params(alpha=a, input_scale=1.0 / a), inplace)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError("gelu: approximate must be 'none' or 'tanh', got %r" % (approximate,))
    return _apply(input, _C.ACTK_GELU if approximate == "none" else _C.ACTK_GELU_TANH, params())


def prelu(input, weight):
    """x > 0 ? x : weight[c] * x, c the index on dim 1 (weight of 1 value: shared; inputs of fewer
    than 2 dims have no channel dim and take a 1-value weight), as torch."""
    x = as_float32(input, "input")
    w = as_float32(weight, "weight").reshape(-1)
    if x.ndim >= 2:
        c = x.shape[1]
        if w.shape[0] not in (1, c):
            raise ValueError("prelu: weight has %d values, expected 1 or %d (input.shape[1])" % (w.shape[0], c))
        x3 = x.reshape(x.shape[0], c, -1)
    else:
        if w.shape[0] != 1:
            raise ValueError("prelu: a %dD input has no channel dim: weight must have 1 value, got %d"
                             % (x.ndim, w.shape[0]))
        x3 = x.reshape(1, 1, -1)
    y = np.empty_like(x)
    _C.act_prelu(-1, x3, w, y.reshape(x3.shape), get_num_threads())
    return y


def _softmax_dim(x, dim, name):
    if dim is None:  # torch's implicit choice (deprecated there, with a warning)
        warnings.warn("%s: implicit dimension choice is deprecated; pass dim" % name, UserWarning,
                      stacklevel=3)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError("%s: dim must be an int, got %r" % (name, dim))
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError("%s: dim %d out of range for a %dD input (expected -%d..%d)"
                         % (name, dim, x.ndim, nd, nd - 1))
    return int(dim) % nd


def _softmax(input, dim, dtype, log, name):
    if dtype is not None and np.dtype(dtype) != np.float32:
        raise TypeError("%s: dtype must be None or float32, got %r" % (name, dtype))
    x = as_float32(input, "input")
    d = _softmax_dim(x, dim, name)
    shape = x.shape if x.ndim else (1,)
    outer = int(np.prod(shape[:d], dtype=np.int64))
    inner = int(np.prod(shape[d + 1:], dtype=np.int64))
    y = np.empty_like(x)
    _C.act_softmax(-1, x.reshape(outer, shape[d], inner), y.reshape(outer, shape[d], inner), log,
                   get_num_threads())
    return y


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax(input, dim, dtype, False, "softmax")


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax(input, dim, dtype, True, "log_softmax")


def _generated(row):
    """fastnorm.ops.<row.name>(input, *row.act.args, [inplace]) for a table row: torch.nn.functional's
    signature, each argument checked as a number, run by fn_act with the row's kind and params."""
    k = row.act
    sig = [inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    sig += [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for a, d in k.args]
    if k.inplace:
        sig.append(inspect.Parameter("inplace", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False))
    signature = inspect.Signature(sig)

    def fn(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        kind, p = k.lower({name: _number(a[name], name) for name, _ in k.args})
        return _apply(a["input"], kind_id(kind), params(**p), a.get("inplace", False))

    fn.__name__ = fn.__qualname__ = row.name
    fn.__module__ = __name__
    fn.__signature__ = signature
    if any(t.startswith(("F.", "nn.", "torch.", "Tensor.")) for t in row.torch):
        fn.__doc__ = "torch.nn.functional.%s on float32 NumPy arrays (generated from fastnorm.optable)." % row.name
    else:   # no torch counterpart (round_f16: x.half().float())
        fn.__doc__ = "%s: %s (float32 NumPy arrays; generated from fastnorm.optable)." % (row.name, row.doc)
    return fn


for _row in activations():
    if _row.generate:
        globals()[_row.name] = _generated(_row)
        if _row.name not in __all__:
            __all__.append(_row.name)
del _row
