"""Issue 14: each plan record prefetches the next record's weights into L2 as it runs
(src_c/plan/plan.c fn_plan_link_prefetch; the conv drivers in src_c/conv/conv2d.c spread the requests
over their tiles). A prefetch is a hint: outputs are bit for bit those of a plan without it, under every
ISA, whatever the amount (FASTNORM_PREFETCH_KB) and the thread count. The links are checked too: each
record points at the first later record with weights, capped at the amount asked."""
import numpy as np
import pytest

import fastnorm
import fastnorm.testing
from fastnorm.plan import core
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Block(nn.Module):
    """expand 1x1 (dense path: cin <= 160) -> depthwise -> SE gate -> 1x1 projection (gated path),
    then a wide 1x1 (cin > 160: the indirect path) and a linear head: every conv driver that prefetches."""

    def __init__(self, c=40, e=200, hw=7):
        super().__init__()
        self.expand = nn.Conv2d(c, e, 1)
        self.dw = nn.Conv2d(e, e, 5, 1, 2, groups=e)
        self.fc1 = nn.Conv2d(e, 24, 1)
        self.fc2 = nn.Conv2d(24, e, 1)
        self.proj = nn.Conv2d(e, c, 1)
        self.wide = nn.Conv2d(c, 368, 1)
        self.wide2 = nn.Conv2d(368, 176, 1)
        self.bn = nn.BatchNorm2d(176)
        self.head = nn.Linear(176, 10)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        y = F.hardswish(self.expand(x))
        y = F.hardswish(self.dw(y))
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        y = self.proj(y * s) + x
        y = F.relu(self.bn(self.wide2(F.relu(self.wide(y)))))
        return self.head(y.mean((2, 3)))


def _model(monkeypatch, kb, net, x):
    if kb is None:
        monkeypatch.delenv("FASTNORM_PREFETCH_KB", raising=False)
    else:
        monkeypatch.setenv("FASTNORM_PREFETCH_KB", str(kb))
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    m.predict(x)  # the plan is built here, under the setting
    return m


def _plan(m, x):
    return m._plan({m.graph.inputs[0].name: x.shape})


@pytest.mark.parametrize("batch,hw", [(1, 7), (3, 14), (2, 1)])
def test_prefetch_changes_no_bit(isa, monkeypatch, batch, hw):
    torch.manual_seed(batch * 10 + hw)
    net = Block(hw=hw).eval()
    x = np.random.default_rng(hw).standard_normal((batch, 40, hw, hw)).astype(np.float32)
    off = _model(monkeypatch, 0, net, x)
    assert _plan(off, x).cplan.prefetch_links() == []
    want = off.predict(x)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(want, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    for kb in (None, 1, 64, 4096):
        m = _model(monkeypatch, kb, net, x)
        links = _plan(m, x).cplan.prefetch_links()
        if kb is None and isa in core.NO_PREFETCH_ISAS:
            assert links == [], "%s prefetches by default (NO_PREFETCH_ISAS)" % isa
        else:
            assert links, "FASTNORM_PREFETCH_KB=%s linked no record" % kb
        for threads in (1, 2):
            fastnorm.set_num_threads(threads)
            try:
                got = m.predict(x)
            finally:
                fastnorm.set_num_threads(None)
            assert np.array_equal(got, want), "prefetch %s KiB, %d threads: outputs differ" % (kb, threads)


def test_links_point_at_the_next_weights(monkeypatch):
    net = Block().eval()
    x = np.random.default_rng(0).standard_normal((1, 40, 7, 7)).astype(np.float32)
    for kb in (1, 100000):
        m = _model(monkeypatch, kb, net, x)
        plan = _plan(m, x)
        links = plan.cplan.prefetch_links()
        weighted = [i for i, r in enumerate(plan.records)
                    if r.get("weights_ex") is not None or r.get("weights") is not None]
        assert len(weighted) >= 5
        # a record is linked to the first of the next 3 records whose weights outweigh its input (a
        # large image's input stays in L2; a depthwise conv's weights are skipped)
        def heavy(j):
            r = plan.records[j]
            ex = r.get("weights_ex") is not None
            w = r["weights_ex"] if ex else r["weights"]
            cin = (r["conv_ex"] if ex else r["conv"])[0] if ("conv_ex" if ex else "conv") in r else 0
            return len(w) >= r.get("n", 0) * r.get("h", 0) * r.get("w", 0) * cin
        want = {}
        for i in range(len(plan.records)):
            j = next((j for j in weighted if i < j <= i + 3 and heavy(j)), None)
            if j is not None:
                want[i] = j
        assert {i: j for i, j, _ in links} == want
        assert len(want) >= 3 and len(set(want.values())) < len(weighted)
        assert any(j > i + 1 for i, j in want.items())  # past a light record (the depthwise conv)
        for i, j, floats in links:
            r = plan.records[j]
            w = r["weights_ex"] if r.get("weights_ex") is not None else r["weights"]
            assert floats == min(len(w), (kb << 10) // 4), (i, j, floats, len(w))


@pytest.mark.parametrize("bad", ["abc", "1.5", "-1"])
def test_bad_setting_is_named(monkeypatch, bad):
    monkeypatch.setenv("FASTNORM_PREFETCH_KB", bad)
    with pytest.raises(ValueError, match="FASTNORM_PREFETCH_KB"):
        core.prefetch_bytes()


def test_default_amount(monkeypatch):
    monkeypatch.delenv("FASTNORM_PREFETCH_KB", raising=False)
    l2 = core.l2_bytes()
    assert l2 >= 0
    quarter = l2 // 4 if l2 else 256 << 10
    assert core.prefetch_bytes() == quarter
    for name in fastnorm.testing.ISA_NAMES:
        want = 0 if name in core.NO_PREFETCH_ISAS else quarter
        assert core.prefetch_bytes(name) == want, name
        assert core.prefetch_bytes(fastnorm.testing.ISA_NAMES.index(name)) == want, name
    monkeypatch.setenv("FASTNORM_PREFETCH_KB", "64")   # the setting wins on every ISA
    assert {core.prefetch_bytes(n) for n in fastnorm.testing.ISA_NAMES} == {64 << 10}
