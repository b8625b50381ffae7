"""Shape and data-movement glue."""
import math

from fastnorm.ops._common import as_float32

__all__ = ["flatten"]


def flatten(input, start_dim=0, end_dim=-1):
    """torch.flatten: merge dims start_dim..end_dim (a copy, never a view of the caller's array)."""
    x = as_float32(input, "input")
    nd = max(x.ndim, 1)
    s, e = start_dim, end_dim
    if not (-nd <= s < nd and -nd <= e < nd):
        raise ValueError("flatten: dims (%d, %d) out of range for a %dD input" % (start_dim, end_dim, x.ndim))
    s, e = s % nd, e % nd
    if s > e:
        raise ValueError("flatten: start_dim %d comes after end_dim %d" % (start_dim, end_dim))
    if x.ndim == 0:
        return x.reshape(1).copy()
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]).copy()
