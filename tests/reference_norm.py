"""NumPy reference for the norm family (see reference.py): float64, from the published definitions
(torch.nn.functional docs): y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, Var biased."""
import numpy as np


def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # two-pass, biased
    return (x - mean) / np.sqrt(var + eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    y = _normalize(x, tuple(range(x.ndim - len(ns), x.ndim)), eps)
    if weight is not None:
        y = y * np.asarray(weight, np.float64)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y


def _per_channel(y, v):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (y.ndim - 2))


def layer_norm_channels(x, weight=None, bias=None, eps=1e-6):
    # x: (N, C, *): statistics over C per (sample, position)
    x = np.asarray(x, np.float64)
    y = _normalize(x, (1,), eps)
    if weight is not None:
        y = y * _per_channel(y, weight)
    if bias is not None:
        y = y + _per_channel(y, bias)
    return y


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    # x: (N, C, *): statistics per (sample, group) over the group's channels and all positions
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    y = _normalize(g, (2,), eps).reshape(x.shape)
    if weight is not None:
        y = y * _per_channel(y, weight)
    if bias is not None:
        y = y + _per_channel(y, bias)
    return y


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    return group_norm(x, x.shape[1], weight, bias, eps)
