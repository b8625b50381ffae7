"""silu, hardswish and gelu (both forms) applied in registers by the conv kernels as they store (the
SIMD igemm tile, src_c/conv/igemm_simd.h, all four; the depthwise row kernels, src_c/conv/dwconv_simd.h,
silu and hardswish, gelu after each row; the first-layer tile, src_c/conv/conv_first_simd.h; kernels.h
fn_act_in_kernel, fn_igemm_act_in_kernel), and the fast paths of silu and gelu (src_c/simd/vmath.h
fn_silu, fn_gelu). Under every ISA, on awkward shapes (channels not a multiple of 16, 1x1 images, odd
sizes, batch 1 and > 1, linear rows not a multiple of the tile, pre-activations past the fast paths'
fallbacks): the fused output is bit for bit the conv without the act followed by the act family's kernel
(fastnorm.ops) of the ISA whose table ran the conv (AVX2's for at most 8 output channels on AVX-512:
src_c/conv/conv2d.c conv_kernels; its silu may differ from AVX-512's in the last bit), and matches torch
within 1e-4 relative. The models run with denormals kept (IEEE, as
fastnorm.ops computes): with the default flush, the same bits but the denormal results, which are 0
(tests/test_denormals.py, test_flush_changes_only_denormal_results)."""
import numpy as np
import pytest

import fastnorm
import reference as ref
from fastnorm import _C
from fastnorm._C import OP_ACTK, OP_DWCONV_PW
from fastnorm.plan import rewrites
from fastnorm.testing import force_isa
from test_act_ops import _bound, check
from test_epilogue_act import ConvAct
from util import importorskip

torch = importorskip("torch")
nn = torch.nn


@pytest.fixture(autouse=True)
def _ieee_denormals():
    prev = fastnorm.set_flush_denormals(False)
    yield
    fastnorm.set_flush_denormals(prev)

ACTS = {"silu": (nn.SiLU, fastnorm.ops.silu), "hardswish": (nn.Hardswish, fastnorm.ops.hardswish),
        "gelu": (nn.GELU, fastnorm.ops.gelu),
        "gelu_tanh": (lambda: nn.GELU(approximate="tanh"), lambda x: fastnorm.ops.gelu(x, approximate="tanh"))}


class LinearAct(nn.Module):
    def __init__(self, act, fin, fout):
        super().__init__()
        self.fc = nn.Linear(fin, fout)
        self.act = act

    def forward(self, x):
        return self.act(self.fc(x))


# name: (factory(act module), input shape, input scale)
CASES = {
    "1x1_cout40_batch2": (lambda a: ConvAct(a, 24, 40, 1), (2, 24, 9, 7), 1.0),
    "1x1_cout7_1x1image": (lambda a: ConvAct(a, 5, 7, 1), (3, 5, 1, 1), 1.0),
    "1x1_cout70_big_values": (lambda a: ConvAct(a, 19, 70, 1), (1, 19, 5, 3), 60.0),
    "1x1_cout100": (lambda a: ConvAct(a, 33, 100, 1), (1, 33, 4, 13), 1.0),
    "3x3_stride2_cout37": (lambda a: ConvAct(a, 12, 37, 3, stride=2), (2, 12, 11, 13), 1.0),
    "grouped": (lambda a: ConvAct(a, 32, 32, 3, groups=4), (1, 32, 10, 10), 1.0),
    "residual_1x1": (lambda a: ConvAct(a, 17, 17, 1, residual=True), (1, 17, 6, 5), 30.0),
    "linear_batch3": (lambda a: LinearAct(a, 40, 70), (3, 40), 1.0),
    "linear_batch1": (lambda a: LinearAct(a, 21, 9), (1, 21), 1.0),
    # the ConvNeXt MLP's shapes, channels-last rows: 3x7x5 = 105 rows (not a multiple of 12 or 6),
    # K and N not multiples of 16, a 4D input of batch 2, and pre-activations past gelu's -12.5
    "linear_rows105_k40_n70": (lambda a: LinearAct(a, 40, 70), (3, 7, 5, 40), 1.0),
    "linear_4d_batch2_k19_n161": (lambda a: LinearAct(a, 19, 161), (2, 3, 5, 19), 1.0),
    "linear_k160_n40_big_values": (lambda a: LinearAct(a, 160, 40), (1, 13, 40, 160), 12.0),
    # small inputs on AVX-512: panel-major order and the tiles that prefetch the next panel
    # (conv2d.c panel_major, igemm_simd.h fn_f32_igemm_pf): 49 and 98 rows, 7 panels, the last narrow
    "1x1_k176_n200_7x7": (lambda a: ConvAct(a, 176, 200, 1), (1, 176, 7, 7), 1.0),
    "residual_1x1_c192_7x7_batch2": (lambda a: ConvAct(a, 192, 192, 1, residual=True), (2, 192, 7, 7), 1.0),
    "3x3_stride2_k40_n100_10x10": (lambda a: ConvAct(a, 40, 100, 3, stride=2), (1, 40, 19, 19), 1.0),
    "dw5x5_c48": (lambda a: ConvAct(a, 48, 48, 5, groups=48), (1, 48, 12, 9), 1.0),
    "dw3x3_c17_batch2": (lambda a: ConvAct(a, 17, 17, 3, groups=17), (2, 17, 7, 5), 1.0),
    "dw3x3_stride2_c33": (lambda a: ConvAct(a, 33, 33, 3, groups=33, stride=2), (1, 33, 9, 8), 1.0),
    "dw3x3_c80_big_values": (lambda a: ConvAct(a, 80, 80, 3, groups=80), (1, 80, 6, 7), 40.0),
    "dw3x3_1x1image": (lambda a: ConvAct(a, 20, 20, 3, groups=20), (2, 20, 1, 1), 1.0),
    "dw5x5_stride2_c40": (lambda a: ConvAct(a, 40, 40, 5, groups=40, stride=2), (1, 40, 11, 10), 1.0),
    "dw7x7_c24": (lambda a: ConvAct(a, 24, 24, 7, groups=24), (1, 24, 9, 9), 1.0),
    "dw3x3_dilation2_c19": (lambda a: ConvAct(a, 19, 19, 3, groups=19, dilation=2), (1, 19, 8, 9), 1.0),
    "dw3x3_residual_c16": (lambda a: ConvAct(a, 16, 16, 3, groups=16, residual=True), (1, 16, 5, 6), 1.0),
    # rows of 8+ outputs: the band kernel's tiles of 8 (clipped at the padding), the rest slides
    "dw3x3_c20_wide_batch2": (lambda a: ConvAct(a, 20, 20, 3, groups=20), (2, 20, 3, 19), 1.0),
    "dw5x5_stride2_c24_wide": (lambda a: ConvAct(a, 24, 24, 5, groups=24, stride=2), (1, 24, 5, 35), 1.0),
    "dw3x3_residual_c40_wide": (lambda a: ConvAct(a, 40, 40, 3, groups=40, residual=True), (1, 40, 4, 17), 1.0),
    # the first-layer kernel (CONV_FIRST: 1..4 input channels): panels of 16 / 32 / 48 / 64 outputs
    "first_cin3_stride2_cout32": (lambda a: ConvAct(a, 3, 32, 3, stride=2), (2, 3, 15, 17), 1.0),
    "first_cin3_cout21_1x1image": (lambda a: ConvAct(a, 3, 21, 3), (1, 3, 1, 1), 1.0),
    "first_cin1_cout40_big_values": (lambda a: ConvAct(a, 1, 40, 3, stride=2), (1, 1, 13, 9), 60.0),
    "first_cin4_1x1_cout7": (lambda a: ConvAct(a, 4, 7, 1), (3, 4, 5, 3), 1.0),
    "first_cin3_5x5_cout70": (lambda a: ConvAct(a, 3, 70, 5, stride=2), (1, 3, 11, 12), 1.0),
}


# at most 8 output channels: AVX-512 runs the conv, its act included, on AVX2's table on every CPU
NARROW = {"1x1_cout7_1x1image", "first_cin4_1x1_cout7"}


def _table(model, shape, isa):
    """The kernel table the model's one conv ran on, its act included, under `isa`: a GEMM conv as
    _C.conv2d_tile says (AVX-512 hands convs of <= 8 channels to AVX2's table, and on a half-rate CPU
    those whose last 32-wide panel leaves lanes empty: src_c/kernels.h fn_conv_table); the first-layer
    conv by conv_first.c's rule (<= 8 channels, and 17-24 at half rate); the depthwise kernel its own."""
    recs = [r for r in model._plan({model.graph.inputs[0].name: tuple(shape)}).records if "conv" in r]
    assert len(recs) == 1, [_C.RECORDS.get(r["type"]) for r in recs]
    r = recs[0]
    if r["type"] == _C.OP_CONV2D:
        return _C.conv2d_tile(_C.ISA_NAMES.index(isa), r["conv"])[2]
    cout = r["conv"][1]
    if r["type"] == _C.OP_CONV_FIRST and isa == "avx512" and (
            cout <= 8 or (_C.avx512_half_rate() and 17 <= cout <= 24)):
        return "avx2"
    return isa


def _nets(case, act, seed=0):
    """(net with the act, the same net with nn.Identity in its place, input)"""
    torch.manual_seed(seed)
    factory, shape, scale = CASES[case]
    net = factory(ACTS[act][0]()).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    bare = factory(nn.Identity()).eval()
    bare.load_state_dict(net.state_dict())
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1)) * scale
    return net, bare, x


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_in_register_act_is_the_act_kernel(isa, case, act):
    net, bare, x = _nets(case, act)
    m = fastnorm.from_torch(net, x)
    got = m.predict(x.numpy())
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    types = [r["type"] for r in m._plan({m.graph.inputs[0].name: tuple(x.shape)}).records]
    assert OP_ACTK not in types, "the %s was not taken by the conv kernel" % act
    bare_out = fastnorm.from_torch(bare, x).predict(x.numpy())
    table = _table(m, x.shape, isa)
    if isa == "avx512" and case in NARROW:
        assert table == "avx2", (case, table)
    with force_isa(table):
        unfused = ACTS[act][1](bare_out)
    np.testing.assert_array_equal(got, unfused)


class DwPw(nn.Module):
    """depthwise (act) -> 1x1 (act): one DWCONV_PW record (with rewrites.DWPW_PLAIN_MIN_BYTES lifted)."""

    def __init__(self, act):
        super().__init__()
        self.dw = nn.Conv2d(72, 72, 3, 1, 1, groups=72)
        self.pw = nn.Conv2d(72, 37, 1)
        self.a1, self.a2 = act(), act()

    def forward(self, x):
        return self.a2(self.pw(self.a1(self.dw(x))))


@pytest.mark.parametrize("act", sorted(ACTS))
def test_dwpw_band_matches_separate_records(isa, act, monkeypatch):
    torch.manual_seed(5)
    net = DwPw(ACTS[act][0]).eval()
    x = torch.randn((1, 72, 61, 59), generator=torch.Generator().manual_seed(6)) * 3
    monkeypatch.setattr(rewrites, "DWPW_PLAIN_MIN_BYTES", 0)  # no expand conv: fused only past the bound
    fused = fastnorm.from_torch(net, x)
    assert OP_DWCONV_PW in [r["type"] for r in fused._plan({fused.graph.inputs[0].name: tuple(x.shape)}).records]
    got = fused.predict(x.numpy())
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    monkeypatch.setenv("FASTNORM_DWPW", "0")
    np.testing.assert_array_equal(got, fastnorm.from_torch(net, x).predict(x.numpy()))


@pytest.mark.parametrize("n", [1, 5, 16, 17, 33, 1000])
def test_silu_fast_path_and_fallback(isa, n):
    """fn_silu: a vector with a lane below -87 takes the careful path (denormal results rounded
    once), the others the fast one; both within test_act_ops' bound, 3 ulps of |f| + |x f'(x)|."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 20).astype(np.float32)
    x[::7] = -100.0  # every vector (16 lanes or 8) but the last few gets a lane past the threshold
    x[-1] = 3.5 if n % 7 != 1 else x[-1]
    y = fastnorm.ops.silu(x)
    xd = x.astype(np.float64)
    sig = 1.0 / (1.0 + np.exp(-xd))
    want = xd * sig
    bound = 3 * 2.0 ** -23 * (np.abs(want) + np.abs(xd * (sig + xd * sig * (1 - sig)))) + 2.0 ** -148
    assert (np.abs(y - want) <= bound).all(), (x[np.abs(y - want) > bound], y[np.abs(y - want) > bound])
    assert (y[::7] < 0).all() and (y[::7] > -1e-41).all()  # -100 e^-100, a denormal


def _gelu_tanh(x):
    return fastnorm.ops.gelu(x, approximate="tanh")


# name: (fastnorm function, float64 reference, the fast path's lower bound: lanes below take the careful path)
FAST = {"silu": (fastnorm.ops.silu, ref.silu, -87.0), "gelu": (fastnorm.ops.gelu, ref.gelu, -12.5),
        "gelu_tanh": (_gelu_tanh, lambda x: ref.gelu(x, "tanh"), -10.0)}


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("n", [1, 5, 16, 17, 33, 1000])
def test_fast_path_and_fallback_lanes(isa, name, n):
    """Vectors with lanes past the fast path's threshold (denormal results, -inf) mixed with ordinary
    ones: every result within test_act_ops' bound (3 ulps of |f| + |x f'(x)|), and each lane's result
    independent of its neighbours (the act fused into a conv tile groups lanes by row, the separate
    pass by position in the array): the same bits at every shift of the array."""
    fn, rf, lo = FAST[name]
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 6).astype(np.float32)
    x[::7] = rng.uniform(lo - 30, lo, x[::7].size).astype(np.float32)  # most vectors get a careful lane
    x[3::11] = -np.inf
    x[5::13] = lo + 0.25  # just inside the fast path
    y = fn(x)
    fin = np.isfinite(x)
    want, bound = _bound(x[fin], rf)
    check(y[fin], x[fin], want, bound, name)
    assert (y[~fin] == 0).all() and np.signbit(y[~fin]).all()   # the limit at -inf: -0.0
    for s in range(1, min(n, 17)):
        np.testing.assert_array_equal(fn(x[s:]), y[s:])


@pytest.mark.parametrize("c", [37, 45])
@pytest.mark.parametrize("k", [1, 3])
def test_silu_tile_tail_lanes_with_nan_and_inf(isa, k, c):
    """The igemm tile decides silu's fallback once per tile (the minimum of its vectors): tiles where
    a few lanes are below -87 (denormal results) next to rows of NaN (a NaN input pixel), +-inf and
    lanes just inside the fast path give the act kernel's bits in every lane (the act kernel of the
    table the conv ran on: 37 channels take AVX2's on a half-rate AVX-512 CPU, 45 keep AVX-512's). A
    residual conv with tiny weights puts the chosen values straight into the pre-activations; 1x1 (the
    dense kernel) and 3x3 (the indirect one), 37 and 45 channels (a masked last panel), 70 pixels (a
    short last tile)."""
    net = ConvAct(nn.SiLU(), c, c, k, residual=True).eval()
    bare = ConvAct(nn.Identity(), c, c, k, residual=True).eval()
    with torch.no_grad():
        net.conv.weight.mul_(1e-3)
        net.conv.bias.mul_(1e-3)
    bare.load_state_dict(net.state_dict())
    xl = torch.randn((2, 5, 7, c), generator=torch.Generator().manual_seed(k))  # (N, H, W, C)
    flat = xl.view(-1, c)          # (pixel, channel); the 3x3 windows of the NaN / inf pixels miss the others
    flat[5, 4] = float("nan")      # a NaN row in the tile of the low lanes below
    flat[1, 3] = -95.0             # silu: a denormal
    flat[1, 20] = -88.0
    flat[2, 36] = -86.5            # just inside the fast path
    flat[13, 0] = -float("inf")
    flat[14, 20] = -95.0
    flat[30, 9] = float("inf")
    flat[33, 33] = -90.0           # in the masked last panel
    flat[69, 36] = -100.0          # the short last tile
    flat[50:62, :] *= 40.0         # a whole tile of large values, some past -87
    x = xl.permute(0, 3, 1, 2).contiguous()
    m = fastnorm.from_torch(net, x)
    got = m.predict(x.numpy())
    with force_isa(_table(m, x.shape, isa)):
        unfused = fastnorm.ops.silu(fastnorm.from_torch(bare, x).predict(x.numpy()))
    np.testing.assert_array_equal(got, unfused)
    g = got.transpose(0, 2, 3, 1).reshape(-1, c)
    assert g[1, 3] < 0 and g[1, 3] > -1e-38 and g[14, 20] < 0 and g[69, 36] < 0  # denormal results
    with torch.no_grad():
        want = net(x).numpy()
    fin = np.isfinite(want) & np.isfinite(got)  # a conv algorithm may spread an inf input further than torch's
    assert fin.sum() > got.size // 2
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-30)


@pytest.mark.parametrize("cout", [21, 32, 40])
def test_first_layer_silu_tail_lanes_with_nan_and_inf(isa, cout):
    """The first-layer tile (conv_first_simd.h) decides silu's fallback once per tile and applies silu
    in a second pass over the stored tile: a 1x1 conv of one input channel with unit weights and no
    bias puts each pixel's value in every output channel, so tiles with lanes below -87 (denormal
    results), NaN, +-inf and values just inside the fast path give the act kernel's bits (the table the
    conv ran on) in every lane; 21 and 40 channels leave a masked last vector, 21 runs on AVX2's table
    on a half-rate AVX-512 CPU."""
    net = ConvAct(nn.SiLU(), 1, cout, 1).eval()
    bare = ConvAct(nn.Identity(), 1, cout, 1).eval()
    with torch.no_grad():
        net.conv.weight.fill_(1.0)
        net.conv.bias.zero_()
    bare.load_state_dict(net.state_dict())
    x = torch.randn((2, 1, 9, 13), generator=torch.Generator().manual_seed(cout)) * 3
    flat = x.view(-1)
    flat[3] = -95.0
    flat[4] = -88.0
    flat[5] = -86.5
    flat[20] = float("nan")
    flat[40] = -float("inf")
    flat[41] = float("inf")
    flat[100] = -100.0
    flat[-1] = -90.0               # the short last tile
    m = fastnorm.from_torch(net, x)
    assert [r["type"] for r in m._plan({m.graph.inputs[0].name: tuple(x.shape)}).records
            if "conv" in r] == [_C.OP_CONV_FIRST]
    got = m.predict(x.numpy())
    with force_isa(_table(m, x.shape, isa)):
        unfused = fastnorm.ops.silu(fastnorm.from_torch(bare, x).predict(x.numpy()))
    np.testing.assert_array_equal(got, unfused)
    g = got.reshape(2, cout, -1).transpose(0, 2, 1).reshape(-1, cout)
    assert (g[3] < 0).all() and (g[3] > -1e-38).all() and (g[-1] < 0).all()   # denormal results
    assert np.isnan(g[20]).all() and (g[41] == np.inf).all() and (g[40] == 0).all()
    with torch.no_grad():
        want = net(x).numpy()
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-30)

