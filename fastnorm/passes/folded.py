"""FoldedWeight: a conv2d / linear weight with a BatchNorm's per-output-channel scale folded in, whose
float32 values are made when something reads them rather than when the BN folds.

A model built from a file with its BatchNorms unfolded (fastnorm.from_torch(...).save()) used to write
every folded weight at load, then write it again packed: ResNet-50 wrote ~100 MB of folded weights it
read once, and a fresh process pays for every page it writes first (issue 14's cold start). Now the
packers read the folded values from one scratch buffer the model's folds share, refilled per layer, and
the folded weights exist whole only if something else asks for them: that file's load in a fresh
process 182 -> 93 ms median (AVX-512, 6 alternations with the eager fold; bench/RESULTS.md, session 22).

A FoldedWeight reads like a read-only float32 ndarray of its shape: shape, dtype, ndim, size, nbytes
without computing anything; np.asarray(w), indexing and any other ndarray attribute compute the folded
values once and keep them. Every way gives the same bits: float32(w * s) with the product in float64
(_C.fold_scale_rows), as the eager fold did.
"""
import _thread

import numpy as np

from fastnorm import _C

# The error pass folds this many floats at a time into a buffer it reuses: an L2's share, not the
# weight's size (ResNet-50's largest folded weight is 2.4 M floats).
_ERROR_CHUNK_FLOATS = 1 << 16


class FoldScratch:
    """The buffer the FoldedWeights of one fold share while packers read them (see module doc). It
    holds the largest weight's floats once used; release() lets it go (each Plan does once its
    packers ran: a later plan for another shape or ISA makes it again)."""

    def __init__(self):
        self._lock = _thread.allocate_lock()
        self._buf = None
        self._need = 0

    def reserve(self, n):
        """A later use will need n floats: the first allocation takes the largest at once."""
        self._need = max(self._need, int(n))

    def use(self, n, fn):
        """fn(a float32 buffer of at least n floats), under this scratch's lock (the buffer is refilled by
        the next use: fn must not keep it)."""
        with self._lock:
            buf = self._buf
            if buf is None or buf.size < n:
                buf = self._buf = np.empty(max(n, self._need), np.float32)   # its own: released whole
            return fn(buf)

    def release(self):
        with self._lock:
            self._buf = None


class FoldedWeight:
    """float32(raw * scale) over raw's first axis (the output channels of a conv2d or linear weight),
    computed on demand (module doc). raw: a float32 array (not copied: it must not change); scale: the
    float64 per-row scale."""

    __slots__ = ("raw", "scale", "shape", "_rows", "_scratch", "_values", "_errors")
    dtype = np.dtype(np.float32)

    def __init__(self, raw, scale, scratch):
        if raw.dtype != np.float32 or raw.ndim < 1 or scale.shape != (raw.shape[0],):
            raise ValueError("FoldedWeight: expected a float32 weight and one float64 scale per row, got %s %r "
                             "and %r" % (raw.dtype, raw.shape, scale.shape))
        self.raw = np.ascontiguousarray(raw)
        self.scale = np.ascontiguousarray(scale, np.float64)
        self.shape = tuple(raw.shape)
        self._rows = (self.shape[0], raw.size // self.shape[0] if self.shape[0] else 0)
        self._scratch = scratch
        self._values = None
        self._errors = None
        scratch.reserve(raw.size)

    # -------------------------------------------------------------------- array-like, no compute
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return self.raw.size

    @property
    def nbytes(self):
        return self.raw.size * 4

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return "FoldedWeight(shape=%r, dtype=float32, %s)" % (
            self.shape, "computed" if self._values is not None else "not computed yet")

    # -------------------------------------------------------------------- the values
    def row_errors(self):
        """Per row, the float64 sum of |float32(w * s) - w * s| (the fold report's weight rounding). The
        first fold of the values (a packer's, or values()) records them on the way; before that, a pass
        folds in chunks into a small reused buffer: nothing the weight's size is written."""
        if self._errors is not None:
            return self._errors
        rows, cols = self._rows
        w2 = self.raw.reshape(rows, cols)
        err = np.empty(rows, np.float64)
        step = max(1, _ERROR_CHUNK_FLOATS // cols) if cols else rows
        if not rows or not cols:
            err[:] = 0.0
            return err

        def run(buf):
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                _, e = _C.fold_scale_rows(w2[r0:r1], self.scale[r0:r1],
                                          out=buf[:(r1 - r0) * cols].reshape(r1 - r0, cols))
                err[r0:r1] = e
            return err
        self._errors = self._scratch.use(min(rows, step) * cols, run)
        return self._errors

    def _fold(self, out):
        """out = the folded values (rows x cols), recording the row errors the first time."""
        _, err = _C.fold_scale_rows(self.raw.reshape(self._rows), self.scale, with_error=self._errors is None,
                                    out=out)
        if err is not None:
            self._errors = err

    def values(self):
        """The folded float32 array (computed on the first call, then kept; read-only)."""
        v = self._values
        if v is None:
            v = _C.packed_empty(self.raw.size).reshape(self._rows)
            self._fold(v)
            v = v.reshape(self.shape)
            v.flags.writeable = False
            self._values = v
        return v

    def with_values(self, fn):
        """fn(a C-contiguous float32 array of the folded values): from values() when they were computed,
        else folded into the shared scratch for the call (fn must copy what it keeps: a packer)."""
        if self._values is not None or not self.raw.size:
            return fn(self.values())

        def run(buf):
            v = buf[:self.raw.size].reshape(self._rows)
            self._fold(v)
            return fn(v.reshape(self.shape))
        return self._scratch.use(self.raw.size, run)

    def __array__(self, dtype=None, copy=None):
        v = self.values()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def __getitem__(self, key):
        return self.values()[key]

    # arithmetic as on the computed values (an ndarray on the other side already works: __array__)
    def __neg__(self):
        return -self.values()

    def __abs__(self):
        return abs(self.values())

    def __getattr__(self, name):
        # any other ndarray attribute (reshape, astype, T, flags, ...) on the computed values
        if name.startswith("__") or name in FoldedWeight.__slots__:
            raise AttributeError(name)
        return getattr(self.values(), name)


def with_dense(w, fn):
    """fn(w as a C-contiguous float32 array) for a caller that copies what it keeps (a packer): a
    FoldedWeight not yet computed lends its values from the shared scratch for the call."""
    if isinstance(w, FoldedWeight):
        return w.with_values(fn)
    return fn(np.ascontiguousarray(w, np.float32))


def release_scratch(graph):
    """Free the scratch buffers graph's FoldedWeights share (they make it again when next packed)."""
    seen = set()
    for v in graph.weights.values():
        if isinstance(v, FoldedWeight) and id(v._scratch) not in seen:
            seen.add(id(v._scratch))
            v._scratch.release()


def _binary(name):
    def op(self, other):
        return getattr(self.values(), name)(other)
    op.__name__ = name
    return op


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
              "__pow__", "__matmul__", "__rmatmul__", "__lt__", "__le__", "__gt__", "__ge__"):
    setattr(FoldedWeight, _name, _binary(_name))
del _name
