"""GroupNorm / InstanceNorm (+ activation) followed by max_pool2d run as one record that never
writes the normalised tensor (plan.py _pool_after, norm_drivers.c gn_nhwc with a pool): same answer
as PyTorch for every pooling geometry, every ISA, batch 1 and > 1, and any thread count."""
import numpy as np
import pytest
from util import importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402
from util import ATOL_MODEL, assert_ran  # noqa: E402

POOLS = [  # (kernel, stride, padding, dilation, ceil_mode)
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (2, 1, 0, 1, False),
    (3, 3, 0, 2, False), ((2, 3), (1, 2), (1, 1), 1, True), (1, 1, 0, 1, False),
]


def _net(norm, act, pool, c=12):
    k, s, p, d, cm = pool
    layers = [nn.Conv2d(3, c, 3, padding=1),
              nn.GroupNorm(3, c) if norm == "group" else nn.InstanceNorm2d(c, affine=True)]
    if act is not None:
        layers.append(act)
    layers.append(nn.MaxPool2d(k, s, p, d, ceil_mode=cm))
    net = nn.Sequential(*layers, nn.Conv2d(c, 5, 1)).eval()
    with torch.no_grad():
        net[1].weight.uniform_(-1.5, 1.5)  # negative scales: the pooled max is of the normalised values
        net[1].bias.uniform_(-1, 1)
    return net


def _pool_out(hw, pool):
    """max_pool2d's output (H, W) for input (H, W), torch's formula (ceil mode drops a last window
    that starts in the right padding)"""
    out = []
    for i, size in enumerate(hw):
        k, s, p, d = (v if isinstance(v, int) else v[i] for v in pool[:4])
        span = size + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if pool[4] else span // s) + 1
        if pool[4] and (o - 1) * s >= size + p:
            o -= 1
        out.append(o)
    return out


@pytest.mark.parametrize("pool", POOLS, ids=[str(p) for p in POOLS])
@pytest.mark.parametrize("norm", ["group", "instance"])
def test_norm_then_maxpool_matches_torch(isa, norm, pool):
    torch.manual_seed(0)
    for act in (nn.ReLU(), None, nn.Hardtanh(-0.5, 0.5)):
        net = _net(norm, act, pool)
        for shape in ((1, 3, 9, 11), (3, 3, 16, 16), (2, 3, 1, 7)):
            x = torch.randn(shape) * 2 + 0.5
            if min(_pool_out(shape[2:], pool)) < 1:  # the window does not fit: torch must say so
                with pytest.raises(RuntimeError, match="too small"), torch.no_grad():
                    net(x)
                continue
            with torch.no_grad():
                ref = net(x).numpy()
            m = fastnorm.from_torch(net, x[:1])
            y = m.predict(x.numpy())
            assert_ran(isa)
            assert np.abs(y - ref).max() <= ATOL_MODEL * max(1.0, np.abs(ref).max()), (norm, pool, act, shape)


def test_the_pool_is_fused_and_profiled_as_one_step():
    torch.manual_seed(4)
    net = _net("instance", nn.ReLU(), (2, 2, 0, 1, False))
    m = fastnorm.from_torch(net, torch.randn(1, 3, 8, 8))
    prof = m.profile(np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32), repeat=2)
    labels = [p[0] for p in prof]
    assert "instance_norm+max_pool2d" in labels and "max_pool2d" not in labels


def test_fused_norm_pool_thread_counts_agree():
    torch.manual_seed(3)
    net = _net("group", nn.ReLU(), (3, 2, 1, 1, True), c=48)
    x = np.random.default_rng(1).standard_normal((2, 3, 67, 45)).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    outs = []
    try:
        for n in (1, 2, 3):
            m.num_threads = n
            outs.append(m.predict(x))
    finally:
        m.num_threads = None
    assert all(np.array_equal(outs[0], o) for o in outs[1:])


def test_norm_output_read_elsewhere_is_not_fused():
    torch.manual_seed(5)
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.gn = nn.GroupNorm(2, 8)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            y = self.gn(self.conv(x))
            return self.pool(y) + self.pool(y * 2)

    net = Two().eval()
    x = torch.randn(2, 3, 8, 8)
    m = fastnorm.from_torch(net, x[:1])
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(m.predict(x.numpy()) - ref).max() <= ATOL_MODEL
    labels = [p[0] for p in m.profile(x.numpy(), repeat=1)]
    assert "group_norm" in labels and "group_norm+max_pool2d" not in labels
