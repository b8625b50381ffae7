"""The plan's arena from HUGE_ARENA_BYTES on (fastnorm.plan.core._empty_on_line, issue 14's cold start): a
2 MiB-aligned anonymous mapping advised MADV_HUGEPAGE where Linux has it, else numpy's memory; either
way n writable float32 on a 64-byte line, and a model predicts the same through either."""
import mmap

import numpy as np
import pytest

from fastnorm.model import Model
from fastnorm.plan import core
from test_prepacked import X, _net


@pytest.mark.parametrize("n", [1, 17, 1000, (1 << 18) - 3, 1 << 18, (1 << 19) + 5, 3 << 20])
def test_arena_is_writable_on_a_line(monkeypatch, n):
    for threshold in (0, 1 << 62):
        monkeypatch.setattr(core, "HUGE_ARENA_BYTES", threshold)
        a = core._empty_on_line(n)
        assert a.shape == (n,) and a.dtype == np.float32 and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % 64 == 0
        a[...] = 1.5
        assert float(a[-1]) == 1.5
        if threshold == 0 and hasattr(mmap, "MADV_HUGEPAGE"):
            assert a.ctypes.data % (1 << 21) == 0


def test_predicts_the_same_with_a_huge_arena(isa, monkeypatch):
    want = Model(_net()).predict(X)
    monkeypatch.setattr(core, "HUGE_ARENA_BYTES", 0)
    m = Model(_net())
    for _ in range(2):                 # the arena is reused by the second predict
        np.testing.assert_array_equal(m.predict(X), want)
    np.testing.assert_array_equal(m.run({m.inputs[0].name: X})[m.outputs[0].name], want)
