"""max_pool2d(return_indices=True) and max_unpool2d (SegNet, ENet) on the torch.export route: the pool
writes, per output, the flat position of its max in its (sample, channel) plane (src_c/pool/pool2d.c
fn_maxpool2d_argmax_nhwc: torch's scan order and tie rules), which only max_unpool2d reads, scattering
each value back into zeros. Checked against torch on every ISA at batch 1 and 3: overlapping windows
(a position two windows share: the later input wins, as torch), padding, ceil_mode, odd
sizes, an output_size past the default, ties and NaN; and the models that hand the indices to anything
else are refused by name."""
import numpy as np
import pytest

import fastnorm
from fastnorm.threads import set_num_threads
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class PoolUnpool(nn.Module):
    """conv -> max_pool (indices) -> conv -> max_unpool (-> conv): one encoder/decoder stage."""

    def __init__(self, c=12, k=2, s=None, p=0, d=1, ceil=False, size=None):
        super().__init__()
        self.a = nn.Conv2d(3, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 1)
        self.out = nn.Conv2d(c, 4, 3, padding=1)
        self.k, self.s, self.p, self.d, self.ceil, self.size = k, s or k, p, d, ceil, size

    def forward(self, x):
        y = F.relu(self.a(x))
        v, i = F.max_pool2d(y, self.k, self.s, self.p, self.d, ceil_mode=self.ceil, return_indices=True)
        v = self.b(v)
        size = self.size(y) if self.size else y.shape[2:]
        return self.out(F.max_unpool2d(v, i, self.k, self.s, self.p, output_size=size))


class SegNetMini(nn.Module):
    """Two encoder stages (conv-BN-ReLU, pool with indices) and their decoders (unpool, conv-BN-ReLU)."""

    def __init__(self):
        super().__init__()

        def cbr(i, o):
            bn = nn.BatchNorm2d(o)
            with torch.no_grad():
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), bn, nn.ReLU())
        self.e1, self.e2, self.d2, self.d1 = cbr(3, 16), cbr(16, 24), cbr(24, 16), nn.Conv2d(16, 5, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)

    def forward(self, x):
        y1 = self.e1(x)
        y, i1 = self.pool(y1)
        y2 = self.e2(y)
        y, i2 = self.pool(y2)
        y = self.d2(self.unpool(y, i2, output_size=y2.shape[2:]))
        return self.d1(self.unpool(y, i1, output_size=y1.shape[2:]))


CASES = {
    "segnet": (SegNetMini, (3, 20, 26)),
    "k2_odd_size": (lambda: PoolUnpool(), (3, 11, 9)),
    "k3_s2_overlap_pad": (lambda: PoolUnpool(k=3, s=2, p=1), (3, 13, 10)),
    "ceil_mode": (lambda: PoolUnpool(k=2, ceil=True), (3, 9, 7)),
    "larger_output": (lambda: PoolUnpool(k=2, size=lambda y: (y.shape[2] + 1, y.shape[3] + 1)), (3, 8, 10)),
    "one_pixel": (lambda: PoolUnpool(c=20, k=2), (3, 2, 2)),
}


def _case(name, batch):
    torch.manual_seed(len(name))
    factory, shape = CASES[name]
    net = factory().eval()
    x = torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(batch))
    return net, x


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_pool_unpool_matches_torch(isa, name, batch):
    net, x = _case(name, batch)
    with torch.no_grad():
        want = net(x).numpy()
    m = fastnorm.from_torch(net, x)
    assert {"max_pool2d_indices", "max_unpool2d"} <= {n.op for n in m.graph.nodes}
    got = m.predict(x.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("threads", [1, 2])
def test_ties_and_nan_follow_torch(isa, threads):
    """Equal values keep the first tap's position; a NaN wins its window; a large image (threaded)."""
    class Bare(nn.Module):
        def forward(self, x):
            v, i = F.max_pool2d(x, 3, 2, 1, return_indices=True)
            return F.max_unpool2d(v * 2.0, i, 3, 2, 1, output_size=x.shape[2:])
    x = torch.randn(2, 40, 64, 72)
    x[:, :, 10:20, 10:20] = 0.5             # ties
    x[0, 3, 5, 7] = float("nan")
    x[1, 0, 30, 31] = float("nan")
    x[1, 0, 31, 31] = float("nan")          # two NaNs in one window: the later one's position
    with torch.no_grad():
        want = Bare()(x).numpy()
    set_num_threads(threads)
    try:
        got = fastnorm.from_torch(Bare(), x).predict(x.numpy())
    finally:
        set_num_threads(None)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))


class IndicesOut(nn.Module):
    def forward(self, x):
        v, i = F.max_pool2d(x, 2, return_indices=True)
        return v, i


class IndicesMath(nn.Module):
    def forward(self, x):
        v, i = F.max_pool2d(x, 2, return_indices=True)
        return v + i.float()


@pytest.mark.parametrize("cls", [IndicesOut, IndicesMath])
def test_indices_read_elsewhere_are_refused(cls):
    with pytest.raises(fastnorm.UnsupportedError, match="max_pool2d indices read by"):
        m = fastnorm.from_torch(cls(), torch.randn(1, 4, 6, 6))
        m.predict(np.zeros((1, 4, 6, 6), np.float32))


def test_saved_model_round_trips(tmp_path):
    net, x = _case("segnet", 2)
    m = fastnorm.from_torch(net, x)
    path = str(tmp_path / "segnet.fnm")
    m.save(path)
    np.testing.assert_array_equal(fastnorm.load(path).predict(x.numpy()), m.predict(x.numpy()))
