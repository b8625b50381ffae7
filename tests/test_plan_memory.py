"""The memory planner (fastnorm/plan/core.py, Plan._plan_memory): buffers alive at the same time never share arena
memory, every record's buffers are alive while it runs, and memory is reused (the arena is smaller than
the sum of its buffers). Random small graphs (hypothesis, derandomised) and the zoo models."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from util import importorskip

import fastnorm
from fastnorm.plan import ALIGN
from fastnorm.plan.rewrites import buffers_of as _buffers_of

torch = importorskip("torch")
nn = torch.nn
import zoo  # noqa: E402  (tests/zoo.py: needs torch)


def check_layout(plan):
    """The invariants; returns (arena floats, sum of the arena buffers' floats)."""
    layout = plan.arena_layout()
    by_buf = {b: (off, size, first, last) for b, off, size, first, last in layout}
    # every record's buffers are either external or placed, and alive at that record
    for i, rec in enumerate(plan.records):
        for b in _buffers_of(rec):
            if plan.buf_external[b] is None:
                off, size, first, last = by_buf[b]
                assert first <= i <= last, "buffer %d used by record %d outside its lifetime %d..%d" % (
                    b, i, first, last)
    for b, off, size, first, last in layout:
        assert off % ALIGN == 0 and off >= 0 and off + size <= plan.arena_floats
        assert size >= plan.buf_sizes[b]
    # buffers alive at the same time never overlap in the arena
    for i, (b1, o1, s1, f1, l1) in enumerate(layout):
        for b2, o2, s2, f2, l2 in layout[i + 1:]:
            if f1 <= l2 and f2 <= l1:  # lifetimes intersect
                assert o1 + s1 <= o2 or o2 + s2 <= o1, (
                    "buffers %d [%d, %d) and %d [%d, %d) overlap while both alive (records %d..%d, %d..%d)"
                    % (b1, o1, o1 + s1, b2, o2, o2 + s2, f1, l1, f2, l2))
    total = sum(size for _, _, size, _, _ in layout)
    assert plan.arena_floats <= total
    # shared memory and a smaller arena go together: the arena is the sum exactly when nothing is shared
    shared = any(not (o1 + s1 <= o2 or o2 + s2 <= o1)
                 for i, (_, o1, s1, _, _) in enumerate(layout) for _, o2, s2, _, _ in layout[i + 1:])
    assert shared == (plan.arena_floats < total)
    return plan.arena_floats, total


def _plan_of(model, shape):
    model.predict(np.zeros(shape, np.float32))  # builds (and caches) the plan for this shape
    name = model.graph.inputs[0].name
    (plan,) = [p for (shapes, isa), p in model._plans.items() if dict(shapes)[name] == tuple(shape)]
    return plan


class Res(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


LAYERS = ["conv", "dwconv", "bn_relu", "relu6", "maxpool", "res", "conv1x1"]


def _layer(kind, c):
    if kind == "conv":
        return nn.Conv2d(c, c, 3, padding=1)
    if kind == "conv1x1":
        return nn.Conv2d(c, c, 1)
    if kind == "dwconv":
        return nn.Conv2d(c, c, 3, padding=1, groups=c)
    if kind == "bn_relu":
        return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
    if kind == "relu6":
        return nn.ReLU6()
    if kind == "maxpool":
        return nn.MaxPool2d(3, 1, 1)
    return Res(nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()))


@settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(kinds=st.lists(st.sampled_from(LAYERS), min_size=1, max_size=7), c=st.sampled_from([4, 8, 16]),
       hw=st.sampled_from([5, 8, 12]), batch=st.sampled_from([1, 2]), seed=st.integers(0, 2 ** 16))
def test_random_graphs(kinds, c, hw, batch, seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), *[_layer(k, c) for k in kinds]).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    model = fastnorm.from_torch(net, torch.zeros(1, 3, hw, hw))
    plan = _plan_of(model, (batch, 3, hw, hw))
    check_layout(plan)
    # the plan still computes the network (a wrong layout would corrupt a live buffer)
    x = np.random.default_rng(seed).standard_normal((batch, 3, hw, hw)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(model.predict(x) - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_a_chain_reuses_memory():
    torch.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(4) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.Tanh())]).eval()
    model = fastnorm.from_torch(net, torch.zeros(1, 8, 10, 10))
    plan = _plan_of(model, (1, 8, 10, 10))
    arena, total = check_layout(plan)
    assert len(plan.arena_layout()) >= 3
    assert arena < total, "a chain of 8 ops kept every intermediate buffer (%d floats)" % arena


@pytest.mark.parametrize("in_place", ["1", "0"], ids=["residual_in_place", "no_residual_in_place"])
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "densenet_mini", "dcgan_generator"])
def test_zoo_models(name, in_place, monkeypatch):
    monkeypatch.setenv("FASTNORM_RESIDUAL_IN_PLACE", in_place)  # read when a plan is built
    net, in_shape = zoo.build(name)
    model = fastnorm.from_torch(net, torch.zeros((1,) + tuple(in_shape)))
    arena, total = check_layout(_plan_of(model, (1,) + tuple(in_shape)))
    assert arena < total, "%s: no memory reused (%d floats)" % (name, arena)
    print("\n%s: arena %d floats, sum of buffers %d (%.0f%%)" % (name, arena, total, 100.0 * arena / total))
