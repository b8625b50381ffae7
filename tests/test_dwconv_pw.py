"""The fused depthwise + 1x1 record (DWCONV_PW): MobileNet's depthwise conv and the projection that
reads it, and optionally the expand conv before it, run a band of rows at a time. Checked against
torch, bit for bit against the records it replaces, at 1 and 2 threads (both of the driver's
schedules), under every ISA. Most tests lift DWPW_MIN_BYTES and DWPW_PLAIN_MIN_BYTES so that their
small images form the record; test_plain_records_split_below_the_bound checks the bound itself."""
import numpy as np
import pytest

import fastnorm
import test_dwconv
import util
from util import importorskip
from fastnorm import threads
from fastnorm._C import OP_CONV2D, OP_DWCONV2D, OP_DWCONV_PW
from fastnorm.plan import lower_conv, rewrites


torch = importorskip("torch")
nn = torch.nn


class Block(nn.Module):
    """expand 1x1-BN-ReLU6, kxk depthwise-BN-ReLU6, project 1x1-BN (+ identity): MobileNetV2's."""

    def __init__(self, cin, cout, hidden, stride=1, k=3, dilation=1, bias=False):
        super().__init__()
        self.identity = stride == 1 and cin == cout
        pad = dilation * (k // 2)
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, k, stride, pad, dilation, groups=hidden, bias=bias),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=bias), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.identity else self.conv(x)


class DwOnly(nn.Module):
    """A depthwise conv whose only reader is a 1x1 conv with a bias and no norm after it."""

    def __init__(self, c, cout):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c)
        self.pw = nn.Conv2d(c, cout, 1)

    def forward(self, x):
        return self.pw(torch.relu(self.dw(x)))


CASES = {
    # name: (module factory, input shape without batch)
    "identity_residual": (lambda: Block(24, 24, 144), (24, 14, 14)),
    "stride2_odd_channels": (lambda: Block(7, 11, 21, stride=2), (7, 15, 13)),
    "k5_dilated": (lambda: Block(8, 16, 40, k=5, dilation=2), (8, 11, 12)),
    "one_pixel": (lambda: Block(16, 16, 96), (16, 1, 1)),
    "bias_no_norm": (lambda: DwOnly(37, 19), (37, 9, 9)),
    # 384 channels at 30 wide: several bands per image, the last one short
    "many_bands": (lambda: Block(64, 64, 384), (64, 30, 30)),
}


def realistic_bn(model, shape):
    return test_dwconv.realistic_bn(torch, model, shape)


def record_types(model, shape):
    return [r["type"] for r in model._plan({model.graph.inputs[0].name: shape}).records]


def predict_threads(model, x, n):
    saved = threads._user_threads
    try:
        threads.set_num_threads(n)
        return model.predict(x)
    finally:
        threads.set_num_threads(saved)


@pytest.mark.parametrize("expand", [False, True], ids=["dw_pw", "expand_dw_pw"])
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("batch", [1, 3, 5])
def test_fused_matches_torch_and_the_unfused_records(isa, monkeypatch, name, batch, expand):
    make, shape = CASES[name]
    torch.manual_seed(0)
    net = realistic_bn(make(), shape)
    x = np.random.default_rng(batch).standard_normal((batch,) + shape).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()

    monkeypatch.setattr(lower_conv, "DWPW_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_EXPAND_MIN_BYTES", 0 if expand else 1 << 60)
    monkeypatch.setenv("FASTNORM_DWPW", "0")
    plain = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    types = record_types(plain, x.shape)
    assert OP_DWCONV_PW not in types and OP_DWCONV2D in types
    base = predict_threads(plain, x, 1)

    monkeypatch.setenv("FASTNORM_DWPW", "1")
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    recs = m._plan({m.graph.inputs[0].name: x.shape}).records
    types = [r["type"] for r in recs]
    assert types.count(OP_DWCONV_PW) == 1 and OP_DWCONV2D not in types
    has_expand = name != "bias_no_norm"
    # the projection is absorbed; the expand conv too when asked for
    assert types.count(OP_CONV2D) == (1 if has_expand and not expand else 0)
    fused = next(r for r in recs if r["type"] == OP_DWCONV_PW)
    assert (fused.get("weights_ex") is not None) == (has_expand and expand)
    # batch 3 at 2 threads runs bands one after the other, batch 5 hands whole bands to threads
    one, two = predict_threads(m, x, 1), predict_threads(m, x, 2)
    util.assert_ran(isa)
    assert one.shape == want.shape
    assert np.abs(one - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())
    assert np.array_equal(one, base), "fusing changed the result"
    assert np.array_equal(one, two), "the thread count changed the result"


def test_profile_names_both_convs(monkeypatch):
    monkeypatch.setattr(lower_conv, "DWPW_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", 0)
    make, shape = CASES["identity_residual"]
    net = realistic_bn(make(), shape)
    m = fastnorm.from_torch(net, torch.zeros((1,) + shape))
    rows = m.profile(np.zeros((2,) + shape, np.float32), repeat=1)
    fused = [(lab, src) for lab, src, _ in rows if "conv2d+conv2d" == lab]
    assert len(fused) == 1
    assert {"conv_3", "conv_6"} <= set(fused[0][1]), fused


def _graph_cases():
    class TwoReaders(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
            self.pw = nn.Conv2d(16, 8, 1)

        def forward(self, x):
            y = self.dw(x)
            return torch.cat([self.pw(y), y], 1)

    class StridedProjection(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
            self.pw = nn.Conv2d(16, 8, 1, stride=2)

        def forward(self, x):
            return self.pw(self.dw(x))

    class ThreeByThreeAfter(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
            self.c = nn.Conv2d(16, 8, 3, padding=1)

        def forward(self, x):
            return self.c(self.dw(x))

    class DepthwiseLast(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)

        def forward(self, x):
            return self.dw(x)

    return {"two_readers": TwoReaders, "strided_projection": StridedProjection,
            "3x3_after": ThreeByThreeAfter, "depthwise_is_the_output": DepthwiseLast}


@pytest.mark.parametrize("name", sorted(_graph_cases()))
def test_not_fused_where_it_would_be_wrong(monkeypatch, name):
    monkeypatch.setattr(lower_conv, "DWPW_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", 0)
    torch.manual_seed(0)
    net = _graph_cases()[name]().eval()
    x = np.random.default_rng(0).standard_normal((2, 16, 10, 10)).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    assert OP_DWCONV_PW not in record_types(m, x.shape)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.predict(x) - want).max() <= util.ATOL_MODEL


def test_expand_read_elsewhere_is_not_absorbed(monkeypatch):
    """An expand conv whose output another node also reads keeps its own record."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.ex = nn.Conv2d(8, 24, 1)
            self.dw = nn.Conv2d(24, 24, 3, 1, 1, groups=24)
            self.pw = nn.Conv2d(24, 24, 1)

        def forward(self, x):
            e = torch.relu(self.ex(x))
            return self.pw(self.dw(e)) + e

    monkeypatch.setattr(lower_conv, "DWPW_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", 0)
    monkeypatch.setattr(rewrites, "DWPW_EXPAND_MIN_BYTES", 0)
    torch.manual_seed(3)
    net = Shared().eval()
    x = np.random.default_rng(5).standard_normal((2, 8, 11, 9)).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    recs = m._plan({m.graph.inputs[0].name: x.shape}).records
    fused = [r for r in recs if r["type"] == OP_DWCONV_PW]
    assert len(fused) == 1 and fused[0].get("weights_ex") is None
    assert fused[0]["in2"] >= 0  # the shortcut from the expand output fused into the projection
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.predict(x) - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())


def test_small_outputs_stay_unfused():
    """Below DWPW_MIN_BYTES the depthwise output stays in L2 between two records anyway."""
    make, shape = CASES["identity_residual"]
    m = fastnorm.from_torch(realistic_bn(make(), shape), torch.zeros((1,) + shape))
    assert 14 * 14 * 144 * 4 < lower_conv.DWPW_MIN_BYTES
    assert OP_DWCONV_PW not in record_types(m, (1,) + shape)
    assert OP_DWCONV_PW in record_types(m, (64,) + shape)


class Separable(nn.Module):
    """Xception's separable conv: ReLU -> depthwise -> BN -> 1x1 -> BN, + a 1x1 shortcut: no expand
    conv feeds the depthwise one."""

    def __init__(self, c, cout):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(c, cout, 1)

    def forward(self, x):
        s = self.skip(x)  # first: the projection's residual is ready when the fused record is made
        return self.bn2(self.pw(self.bn1(self.dw(torch.relu(x))))) + s


PLAIN = {
    # name: (module factory, input shape without batch, split below the bound)
    "separable": (lambda: Separable(37, 40), (37, 13, 11), True),
    "separable_odd_width": (lambda: Separable(45, 45), (45, 9, 17), True),
    "narrow": (lambda: Separable(32, 48), (32, 13, 11), False),    # <= DWPW_PLAIN_NARROW channels
    "projection": (CASES["bias_no_norm"][0], CASES["bias_no_norm"][1], False),  # 37 -> 19
    "with_expand": (CASES["identity_residual"][0], CASES["identity_residual"][1], False),
}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_records_split_below_the_bound(isa, monkeypatch, name, batch):
    """A DWCONV_PW record without an expand conv, wider than DWPW_PLAIN_NARROW, whose 1x1 conv keeps or
    widens the channels, runs as the two unfused records (the same bits) when its depthwise output is
    under rewrites.DWPW_PLAIN_MIN_BYTES, fused from the bound up; narrow pairs, projections and records
    with their expand conv stay fused below it."""
    make, shape, split = PLAIN[name]
    torch.manual_seed(batch)
    net = realistic_bn(make(), shape)
    x = np.random.default_rng(batch).standard_normal((batch,) + shape).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    monkeypatch.setattr(lower_conv, "DWPW_MIN_BYTES", 0)
    expand = name == "with_expand"
    monkeypatch.setattr(rewrites, "DWPW_EXPAND_MIN_BYTES", 0 if expand else 1 << 60)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    plan = m._plan({m.graph.inputs[0].name: x.shape})
    dw_bytes = next(r["n"] * r["oh"] * r["ow"] * r["c"] * 4 for r in plan.records
                    if r["type"] in (OP_DWCONV_PW, OP_DWCONV2D))
    assert dw_bytes < rewrites.DWPW_PLAIN_MIN_BYTES
    got = m.predict(x)
    util.assert_ran(isa)
    assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())
    if not split:
        fused = [r for r in plan.records if r["type"] == OP_DWCONV_PW]
        assert len(fused) == 1 and (fused[0].get("weights_ex") is not None) == expand
        return
    types = [r["type"] for r in plan.records]
    assert OP_DWCONV_PW not in types and OP_DWCONV2D in types
    # the profile names the projection's own step again
    steps = {lab: src for lab, src, _ in m.profile(x, repeat=1)}
    assert not any("+" in lab and "conv2d" in lab for lab in steps), steps
    monkeypatch.setenv("FASTNORM_DWPW", "0")
    unfused = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    assert np.array_equal(got, unfused.predict(x))
    assert [r["type"] for r in unfused._plan({m.graph.inputs[0].name: x.shape}).records] == types
    # at the bound the record stays fused, with the same bits
    monkeypatch.setenv("FASTNORM_DWPW", "1")
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", dw_bytes)
    at = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    assert OP_DWCONV_PW in record_types(at, x.shape)
    assert np.array_equal(got, at.predict(x))
