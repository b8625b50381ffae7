"""Denormals in model runs (fastnorm/denormals.py, src_c/plan/plan.c fn_plan_run_flush).

By default a run flushes: a denormal operand reads as 0 and a denormal result is stored as 0 (x86 MXCSR
FTZ + DAZ, AArch64 FPCR FZ), on every thread the run uses, each thread's own mode restored after.
fastnorm.set_flush_denormals(False) (or FASTNORM_DENORMALS=keep) leaves the threads' modes alone: IEEE
gradual underflow, as torch computes. Checked under every ISA, at one and two threads, through the
plain runner and the batch-split teams: results whose every product is denormal come out 0 when
flushing and as torch's when keeping; denormal inputs read as 0; the calling thread's and the pool
threads' modes are what they were before; models whose SE gates underflow match torch either way;
the functional API keeps IEEE semantics whatever the setting."""
import os

import numpy as np
import pytest

import fastnorm
from fastnorm import _C
from fastnorm.plan import split
from fastnorm.threads import set_num_threads
from util import importorskip, run_python

torch = importorskip("torch")
nn = torch.nn

TINY = float(np.finfo(np.float32).tiny)   # 2**-126: below it, a float32 is denormal
FLUSH_BITS, MODE_BITS = _C.fp_mode()[1:]

needs_flush_mode = pytest.mark.skipif(FLUSH_BITS == 0, reason="this CPU has no flush-to-zero mode fastnorm sets")


@pytest.fixture(autouse=True)
def _default_setting():
    prev = fastnorm.set_flush_denormals(True)
    yield
    fastnorm.set_flush_denormals(prev)
    set_num_threads(None)


@pytest.fixture(autouse=True)
def _ieee_thread():
    """The tests' expectations of "keep" assume this thread computes in IEEE mode (nothing in the
    process, e.g. ONNX Runtime's set_denormal_as_zero, set FTZ on it)."""
    assert _C.fp_mode()[0] & FLUSH_BITS == 0, "the test thread already flushes denormals"


def _conv_net(cin, cout, k, w_scale, bias=False, seed=0):
    torch.manual_seed(seed)
    net = nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias).eval()
    with torch.no_grad():
        net.weight.mul_(w_scale / net.weight.abs().max())
        if bias:
            net.bias.uniform_(-1, 1)
    return net


def _torch(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _predict(m, x, flush, threads):
    set_num_threads(threads)
    fastnorm.set_flush_denormals(flush)
    return m.predict(x)


@needs_flush_mode
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(1, 5, 9, 7), (2, 19, 16, 16), (1, 3, 1, 1)])
def test_denormal_results_flush_to_zero(isa, threads, shape):
    """Every product is about 1e-40 (normal operands, denormal results): flushed, the whole output is 0;
    kept, it is torch's denormals (a relative error of 1e-3 at most beside the 2**-149 quantum)."""
    n, c, h, w = shape
    cout = 37
    net = _conv_net(c, cout, 3, 1e-21)
    x = (np.random.default_rng(c).standard_normal(shape) * 1e-19).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    ref = _torch(net, x)
    assert 0 < np.abs(ref).max() < TINY, "the test's products must be denormal"
    kept = _predict(m, x, False, threads)
    np.testing.assert_allclose(kept, ref, rtol=1e-3, atol=64 * 2.0 ** -149)
    assert np.count_nonzero(kept) > 0.9 * kept.size
    flushed = _predict(m, x, True, threads)
    assert not np.any(flushed), "%d of %d outputs not flushed" % (np.count_nonzero(flushed), flushed.size)


@needs_flush_mode
@pytest.mark.parametrize("threads", [1, 2])
def test_denormal_inputs_read_as_zero(isa, threads):
    """Denormal inputs (about 1e-39) meet weights of about 1e10: every product is normal (about 1e-29),
    so only the operand's flush (DAZ; AArch64's FZ) can zero it. Kept, the output is torch's; flushed,
    the inputs read as 0 and the whole output is 0."""
    net = _conv_net(6, 20, 1, 1e10)
    x = (np.random.default_rng(1).uniform(0.5, 1.0, (2, 6, 8, 8)) * 1e-39).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    ref = _torch(net, x)
    assert np.abs(ref).max() > 1e-31, "the test's products must be normal"
    kept = _predict(m, x, False, threads)
    np.testing.assert_allclose(kept, ref, rtol=1e-5, atol=1e-6 * float(np.abs(ref).max()))
    flushed = _predict(m, x, True, threads)
    assert not np.any(flushed), "%d of %d outputs read a denormal input" % (np.count_nonzero(flushed), flushed.size)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_modes_restored(threads):
    """After a flushing run the calling thread's mode and every pool thread's are what they were."""
    net = _conv_net(8, 32, 3, 1.0)
    x = np.random.default_rng(2).standard_normal((2, 8, 24, 24)).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    _predict(m, x, False, threads)     # the pool exists

    def modes():   # the mode bits only: x86's sticky exception flags may rise during any computation
        return _C.fp_mode()[0] & MODE_BITS, [v & MODE_BITS for v in _C.fp_modes(threads)]
    before = modes()
    _predict(m, x, True, threads)
    m.profile(x, repeat=1)
    assert modes() == before
    assert all(v & FLUSH_BITS == 0 for v in before[1]) and before[0] & FLUSH_BITS == 0


@needs_flush_mode
@pytest.mark.parametrize("k", [1, 3])
def test_flush_changes_only_denormal_results(isa, k):
    """SiLU in the conv's epilogue, pre-activations spread over [-110, 30] (silu below about -87 is
    denormal): flushed, each result is the kept one's bits, or a zero of its sign where the kept one is
    denormal."""
    from test_epilogue_act import ConvAct
    torch.manual_seed(k)
    net = ConvAct(nn.SiLU(), 37, 37, k, residual=True).eval()
    with torch.no_grad():
        net.conv.weight.mul_(1e-3)
        net.conv.bias.mul_(1e-3)
    x = torch.empty((2, 37, 5, 7)).uniform_(-110, 30, generator=torch.Generator().manual_seed(k)).numpy()
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    kept = _predict(m, x, False, 1)
    flushed = _predict(m, x, True, 1)
    den = (kept != 0) & (np.abs(kept) < TINY)
    assert den.sum() > 10, "the test needs denormal results"
    np.testing.assert_array_equal(flushed[~den], kept[~den])
    assert not np.any(flushed[den])
    assert np.array_equal(np.signbit(flushed[den]), np.signbit(kept[den]))


class _SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(24, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU())

    def forward(self, x):
        return self.b(self.a(x))


@needs_flush_mode
def test_batch_split_teams_flush(monkeypatch):
    """The batch-split runner's teams (fn_plan_run_teams) flush as the plain runner does."""
    torch.manual_seed(3)
    net = _SmallNet().eval()
    with torch.no_grad():   # the first conv's products denormal, the second's denormal inputs times normal weights
        net.a[0].weight.mul_(1e-20)
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                mod.bias.zero_()
            if isinstance(mod, nn.BatchNorm2d):
                mod.bias.zero_()
    x = (np.random.default_rng(4).standard_normal((4, 3, 12, 12)) * 1e-19).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
    m.num_threads = 2
    monkeypatch.setenv(split.ENV, "whole")
    m._fast = None
    fastnorm.set_flush_denormals(False)
    kept = m.predict(x)
    assert isinstance(m._fast[2], split.SplitRunner)
    assert np.count_nonzero(kept) > 0
    fastnorm.set_flush_denormals(True)
    assert not np.any(m.predict(x))
    assert _C.fp_mode()[0] & FLUSH_BITS == 0


class _SEBlock(nn.Module):
    """conv -> BN -> SiLU -> SE (gate logits pushed to about -100: sigmoid underflows into the denormals)
    -> 1x1 projection -> BN."""

    def __init__(self, c=24, s=6):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.SiLU())
        self.fc1, self.fc2 = nn.Conv2d(c, s, 1), nn.Conv2d(s, c, 1)
        self.proj = nn.Sequential(nn.Conv2d(c, 16, 1), nn.BatchNorm2d(16))
        with torch.no_grad():
            self.fc2.bias.uniform_(-104, -88)

    def forward(self, x):
        y = self.conv(x)
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        return self.proj(y * g + y * 1e-3)


@pytest.mark.parametrize("flush", [True, False])
def test_underflowing_se_gates_match_torch(isa, flush):
    torch.manual_seed(5)
    net = _SEBlock().eval()
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(6).standard_normal((2, 3, 15, 13)).astype(np.float32)
    m = fastnorm.from_torch(net, torch.from_numpy(x))
    ref = _torch(net, x)
    got = _predict(m, x, flush, 1)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


def test_functional_api_keeps_ieee():
    """fastnorm.ops keeps IEEE semantics, flushing or not: sigmoid's denormal results stay (as the exact
    value rounds; torch's own sigmoid returns 0 there, its exp overflowing first)."""
    z = np.array([-100.0, -95.0, -90.0, 1.0], np.float32)
    fastnorm.set_flush_denormals(True)
    got = fastnorm.ops.sigmoid(z)
    want = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    assert np.count_nonzero(got[:3]) == 3
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2 * 2.0 ** -149)


def test_setting_api():
    assert fastnorm.get_flush_denormals() is True
    assert fastnorm.set_flush_denormals(False) is True
    assert fastnorm.get_flush_denormals() is False
    assert fastnorm.cpu_info()["flush_denormals"] is False
    for bad in (1, "keep", None):
        with pytest.raises(TypeError, match="set_flush_denormals: expected True or False"):
            fastnorm.set_flush_denormals(bad)
    assert fastnorm.get_flush_denormals() is False


@pytest.mark.parametrize("value,flush,warns", [("keep", False, False), ("KEEP", False, False),
                                               ("flush", True, False), ("", True, False),
                                               ("sometimes", True, True)])
def test_environment_setting(value, flush, warns):
    r = run_python(["-W", "always", "-c", "import fastnorm; print(fastnorm.get_flush_denormals())"],
                   env=dict(os.environ, FASTNORM_DENORMALS=value), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(flush)
    assert ("FASTNORM_DENORMALS='sometimes': expected 'flush' or 'keep'" in r.stderr) == warns, r.stderr
