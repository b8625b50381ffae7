"""The first-layer conv (1..4 input channels; src_c/conv/conv_first*.c) vs the float64 reference and
torch, under every ISA, and its plan lowering (the model's NCHW input read directly)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
import util
from util import importorskip
from fastnorm import _C

INF = float("inf")
ACTS = {"none": (0, 0.0, 0.0), "relu": (1, 0.0, INF), "relu6": (1, 0.0, 6.0)}


def desc_of(cin, cout, kh, kw, sh=1, sw=1, pads=(0, 0, 0, 0)):
    return (cin, cout, 1, kh, kw, sh, sw, 1, 1, *pads)


def run(desc, x, wt, b, act="none", nhwc=False, nthreads=1):
    """fastnorm's NHWC output for NCHW x (passed as NHWC when nhwc)."""
    cin, cout, _, kh, kw, sh, sw, _, _, pt, pl, pb, pr = desc
    n, _, h, w = x.shape
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    packed = _C.conv_first_pack(-1, desc, wt, b)
    y = np.full((n, oh, ow, cout), np.nan, np.float32)
    xi = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if nhwc else x
    _C.conv_first(-1, desc, nhwc, xi, packed, ACTS[act], y, nthreads)
    return y


def expected(desc, x, wt, b, act="none"):
    """(float64 NHWC reference, the same sum over |terms| for the error bound)."""
    _, _, _, _, _, sh, sw, _, _, pt, pl, pb, pr = desc
    pads = (pt, pl, pb, pr)
    ref = reference.conv2d(x, wt, b, (sh, sw), pads)
    mag = reference.conv2d(np.abs(x), np.abs(wt), None if b is None else np.abs(b), (sh, sw), pads)
    kind, lo, hi = ACTS[act]
    if kind:
        ref = reference.clamp(ref, lo, hi)
    return ref.transpose(0, 2, 3, 1), mag.transpose(0, 2, 3, 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cin=st.integers(1, 4), cout=st.sampled_from([1, 7, 15, 16, 17, 33, 48, 64, 65, 96]),
       kh=st.integers(1, 7), kw=st.integers(1, 7), sh=st.integers(1, 3), sw=st.integers(1, 3),
       pads=st.tuples(*[st.integers(0, 3)] * 4), h=st.sampled_from([1, 7, 15, 16, 17, 33]),
       w=st.sampled_from([1, 7, 15, 16, 17, 33]), n=st.integers(1, 2), bias=st.booleans(),
       nhwc=st.booleans(), act=st.sampled_from(sorted(ACTS)), seed=st.integers(0, 2**16))
def test_matches_reference(isa, cin, cout, kh, kw, sh, sw, pads, h, w, n, bias, nhwc, act, seed):
    if h + pads[0] + pads[2] < kh or w + pads[1] + pads[3] < kw:
        return  # no output pixel: the shape function rejects it before the kernel is reached
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    desc = desc_of(cin, cout, kh, kw, sh, sw, pads)
    got = run(desc, x, wt, b, act, nhwc)
    util.assert_ran(isa)
    want, mag = expected(desc, x, wt, b, act)
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("cout", [5, 8])
def test_narrow_stem_packs_eight_wide_panels(isa, rng, cout):
    """At most 8 output channels: 8-wide panels on every ISA, AVX-512 too (it takes AVX2's table, whose
    8 lanes are all real channels: conv_first.c first_kernels), and the reference's answer."""
    desc = desc_of(3, cout, 3, 3, 1, 1, (1, 1, 1, 1))
    x = rng.standard_normal((2, 3, 11, 19)).astype(np.float32)
    wt = rng.standard_normal((cout, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    packed = _C.conv_first_pack(-1, desc, wt, b)
    assert packed.size == 16 + 8 * (1 + 27)
    got = run(desc, x, wt, b, "relu")
    util.assert_ran(isa)
    want, mag = expected(desc, x, wt, b, "relu")
    util.assert_close_dot(got, want, mag)


@pytest.mark.parametrize("case", [
    (3, 64, 7, 2, 3, 224),    # ResNet stem
    (3, 64, 3, 1, 1, 128),    # the norm CNNs
    (3, 16, 3, 1, 1, 32),     # SimpleCNN
    (3, 32, 3, 2, 1, 64),     # MobileNet stem (smaller image)
    (3, 64, 4, 2, 1, 64),     # DCGAN discriminator
])
def test_matches_torch(isa, case):
    torch = importorskip("torch")
    cin, cout, k, s, p, hw = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, cin, hw, hw)).astype(np.float32)
    wt = (rng.standard_normal((cout, cin, k, k)) / k).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    desc = desc_of(cin, cout, k, k, s, s, (p,) * 4)
    got = run(desc, x, wt, b, "relu")
    util.assert_ran(isa)
    want = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt),
                                                 torch.from_numpy(b), s, p)).numpy()
    _, mag = expected(desc, x, wt, b)
    util.assert_close_dot(got, want.transpose(0, 2, 3, 1), mag)


def test_threads_give_identical_results(isa):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    wt = rng.standard_normal((64, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    desc = desc_of(3, 64, 3, 3, 1, 1, (1, 1, 1, 1))
    one = run(desc, x, wt, b, "relu", nthreads=1)
    two = run(desc, x, wt, b, "relu", nthreads=2)
    util.assert_ran(isa)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("cin,cout,k,s,pad,h,w", [
    (3, 32, 3, 2, 1, 61, 67),    # RegNet / EfficientNet stems (3x3/2), odd sizes
    (3, 16, 3, 2, 1, 224, 224),  # MobileNetV3's, at its size
    (3, 64, 7, 2, 3, 45, 38),    # ResNet's 7x7/2
    (1, 24, 5, 1, 2, 19, 40),    # stride 1, one channel
    (4, 17, 3, 3, 0, 30, 31),    # stride 3, no padding: every tile of a row inside
])
def test_direct_reads_match_the_padded_copy(isa, cin, cout, k, s, pad, h, w):
    """From NCHW the driver reads x itself where a tile's taps are inside the image and a padded band
    elsewhere; from NHWC it fills the whole padded copy first. Bit for bit the same outputs, on 1-3
    threads."""
    rng = np.random.default_rng(h * w + k)
    x = rng.standard_normal((2, cin, h, w)).astype(np.float32)
    wt = rng.standard_normal((cout, cin, k, k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    desc = desc_of(cin, cout, k, k, s, s, (pad,) * 4)
    padded = run(desc, x, wt, b, "relu", nhwc=True)
    util.assert_ran(isa)
    for nt in (1, 2, 3):
        assert np.array_equal(run(desc, x, wt, b, "relu", nthreads=nt), padded), nt
    want, mag = expected(desc, x, wt, b, "relu")
    util.assert_close_dot(padded, want, mag)


def test_nan_and_inf_propagate_as_torch(isa):
    torch = importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    x[0, 0, 3, 4] = np.nan
    x[0, 1, 10, 10] = INF
    x[0, 2, 12, 1] = -INF
    wt = rng.standard_normal((17, 3, 3, 3)).astype(np.float32)
    desc = desc_of(3, 17, 3, 3, 1, 1, (1, 1, 1, 1))
    for act in ("none", "relu", "relu6"):
        got = run(desc, x, wt, None, act)
        util.assert_ran(isa)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wt), None, 1, 1)
        if act != "none":
            want = torch.clamp(want, 0, 6 if act == "relu6" else None)
        want = want.numpy().transpose(0, 2, 3, 1)
        assert np.array_equal(np.isnan(got), np.isnan(want)), act
        assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(got[np.isinf(got)],
                                                                                 want[np.isinf(want)])


def test_bad_arguments():
    wt = np.zeros((8, 3, 3, 3), np.float32)
    desc = desc_of(3, 8, 3, 3)
    with pytest.raises(ValueError, match="input channels"):
        _C.conv_first_pack(-1, desc_of(5, 8, 3, 3), np.zeros((8, 5, 3, 3), np.float32), None)
    with pytest.raises(ValueError, match="groups 1, dilation 1"):
        _C.conv_first_pack(-1, (3, 9, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0), np.zeros((9, 1, 3, 3), np.float32), None)
    with pytest.raises(ValueError, match="weight: expected shape"):
        _C.conv_first_pack(-1, desc, np.zeros((8, 3, 3, 2), np.float32), None)
    with pytest.raises(ValueError, match="bias: expected 8"):
        _C.conv_first_pack(-1, desc, wt, np.zeros(7, np.float32))
    packed = _C.conv_first_pack(-1, desc, wt, None)
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="output: expected shape"):
        _C.conv_first(-1, desc, False, x, packed, ACTS["none"], np.zeros((1, 6, 6, 7), np.float32), 1)
    with pytest.raises(ValueError, match="input: expected 3 channels"):
        _C.conv_first(-1, desc, False, np.zeros((1, 2, 8, 8), np.float32), packed, ACTS["none"],
                      np.zeros((1, 6, 6, 8), np.float32), 1)
    with pytest.raises(ValueError, match="packed weights"):
        _C.conv_first(-1, desc, False, x, packed[:-1].copy(), ACTS["none"], np.zeros((1, 6, 6, 8), np.float32), 1)


# ------------------------------------------------------------------------------------ plan
def _stem_net(torch, residual_input=False):
    nn = torch.nn

    class Stem(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 32, 7, 2, 3, bias=False)
            self.bn = nn.BatchNorm2d(32)
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.conv2 = nn.Conv2d(32, 16, 3, padding=1)
            self.side = nn.Conv2d(3, 16, 1, 4)  # a second reader of the input

        def forward(self, x):
            y = self.conv2(self.pool(torch.relu(self.bn(self.conv(x)))))
            return y + self.side(x) if residual_input else y

    net = Stem()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2)
    return net.eval()


@pytest.mark.parametrize("second_reader", [False, True])
def test_plan_reads_the_nchw_input_directly(isa, second_reader):
    torch = importorskip("torch")
    import fastnorm
    from fastnorm._C import OP_CONV_FIRST, OP_NCHW_TO_NHWC
    torch.manual_seed(0)
    net = _stem_net(torch, second_reader)
    x = torch.randn(2, 3, 40, 40)
    model = fastnorm.from_torch(net, x[:1])
    got = model.predict(x.numpy())
    util.assert_ran(isa)
    with torch.no_grad():
        want = net(x).numpy()
    assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())
    plan = model._plan({model.inputs[0].name: tuple(x.shape)})
    types = [r["type"] for r in plan.records]
    assert types.count(OP_CONV_FIRST) == (2 if second_reader else 1)
    assert OP_NCHW_TO_NHWC not in types  # both readers take the NCHW input as it is


def test_plan_takes_an_nhwc_input_too(isa):
    """A stem after an elementwise op reads that op's NHWC output (the kernel's nhwc_in path)."""
    torch = importorskip("torch")
    import fastnorm
    from fastnorm._C import OP_CONV_FIRST
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Hardtanh(-1.5, 1.5), torch.nn.Conv2d(3, 24, 5, 2, 2),
                              torch.nn.ReLU()).eval()
    x = torch.randn(3, 3, 21, 19)
    model = fastnorm.from_torch(net, x[:1])
    got = model.predict(x.numpy())
    util.assert_ran(isa)
    with torch.no_grad():
        want = net(x).numpy()
    assert np.abs(got - want).max() <= util.ATOL_MODEL * max(1.0, np.abs(want).max())
    plan = model._plan({model.inputs[0].name: tuple(x.shape)})
    rec = [r for r in plan.records if r["type"] == OP_CONV_FIRST]
    assert len(rec) == 1 and rec[0]["kind"] == 1  # reads NHWC
