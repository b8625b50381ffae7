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


def test_load_makes_the_first_arena(isa, monkeypatch):
    """Model construction makes the batch-1 plan's arena ahead of the first predict (Plan.ready_arena),
    which then runs in it; an arena over READY_ARENA_MAX_BYTES is left to the first predict."""
    x1 = np.ascontiguousarray(X[:1])                         # batch 1: the plan the load made
    want = Model(_net()).predict(x1)
    m = Model(_net())
    (plan,) = m._plans.values()
    assert len(plan._arenas) == 1
    arena, scratch = plan._arenas[0]
    assert arena.shape == (plan.arena_floats,) and arena.ctypes.data % 64 == 0
    assert scratch.shape[0] >= plan.cplan.scratch_bytes(m._num_threads or 1)
    np.testing.assert_array_equal(m.predict(x1), want)
    assert len(plan._arenas) == 1 and plan._arenas[0][0] is arena      # the first predict took it back
    monkeypatch.setattr(core, "READY_ARENA_MAX_BYTES", plan.arena_floats * 4 - 1)
    lazy = Model(_net())
    (lazy_plan,) = lazy._plans.values()
    assert lazy_plan._arenas == []
    np.testing.assert_array_equal(lazy.predict(x1), want)
    assert len(lazy_plan._arenas) == 1
