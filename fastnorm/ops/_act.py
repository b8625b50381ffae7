"""Activations."""
import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_RELU, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["relu"]


def relu(input, inplace=False):
    x = as_float32(input, "input")
    y = np.empty_like(x)
    _C.activation(-1, x.reshape(-1), ACT_RELU, y.reshape(-1), get_num_threads())
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable:
        input[...] = y
        return input
    return y
