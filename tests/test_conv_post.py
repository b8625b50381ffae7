"""Issue 14: an eval BatchNorm after a conv's activation, and an add after both, in the conv's epilogue
(rewrites.conv_takes_post, conv_takes_residual_add's late residual; src_c/fastnorm.h fn_post).

ConvMixer's blocks are conv -> GELU -> BN (the BN cannot fold into the weights: the GELU sits between)
and x + BN(GELU(dwconv(x))). The SCALE_SHIFT and BINARY records go; the conv applies the scale, shift
and residual to each stored tile after its activation. Checked against torch within 1e-4 relative
under every ISA, at batch 1 and 3, at one and two threads; bit for bit against the unfused records;
and the shapes that must not fuse (a BN with two readers, a conv whose output has another reader, a BN
followed by its own ReLU, the kernels without the epilogue) keep their records and their answers."""
import numpy as np
import pytest

import fastnorm
from fastnorm._C import OP_BINARY, OP_CONV2D, OP_DWCONV2D, OP_SCALE_SHIFT, OP_STRIDED_COPY
from fastnorm.threads import set_num_threads
from test_epilogue_act import matches_torch
from test_se_gate import _records
from util import importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _bn(c, dims=2):
    bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(c)
    with torch.no_grad():   # trained-looking statistics: scale and shift far from 1 and 0
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(-1.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn


class ConvActBN(nn.Module):
    """conv -> act -> BN [-> + x]: the ConvMixer block's two halves, any conv shape."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, act=F.gelu, residual=False, padding=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2 if padding is None else padding, groups=groups)
        self.bn = _bn(cout)
        self.act, self.residual = act, residual

    def forward(self, x):
        y = self.bn(self.act(self.conv(x)))
        return y + x if self.residual else y


class ConvMixerMini(nn.Module):
    """Patch embedding, two ConvMixer blocks (9x9 depthwise), pool, head: the model the fusion is for."""

    def __init__(self, dim=40, k=9, depth=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 4, 4), nn.GELU(), _bn(dim))
        self.blocks = nn.ModuleList(nn.ModuleList([ConvActBN(dim, dim, k, groups=dim, residual=True),
                                                   ConvActBN(dim, dim, 1)]) for _ in range(depth))
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.stem(x)
        for dw, pw in self.blocks:
            x = pw(dw(x))
        return self.head(x.mean((2, 3)))


class ReluAdd(nn.Module):
    """x + relu(conv(x)): an add after the activation with no BN (the late residual alone)."""

    def __init__(self, c, k=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(c, c, k, 1, k // 2, groups=groups)

    def forward(self, x):
        return x + F.relu(self.conv(x))


class LinearGeluBN(nn.Module):
    """linear -> GELU -> BatchNorm1d (an MLP head's order): a linear's rows take the post too."""

    def __init__(self, cin, cout):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.bn = _bn(cout, dims=1)

    def forward(self, x):
        return self.bn(F.gelu(self.fc(x)))


class BNTwoReaders(ConvActBN):
    """The BN's output read twice: the conv writes it (post) for both readers."""

    def forward(self, x):
        y = self.bn(self.act(self.conv(x)))
        return y.mean((2, 3), keepdim=True) + y * 2.0


# name: (factory, input shape without batch, record type that takes the post, late residual)
CASES = {
    "pw_gelu": (lambda: ConvActBN(24, 40), (24, 9, 11), OP_CONV2D, False),
    "pw_relu_odd": (lambda: ConvActBN(13, 37, act=F.relu), (13, 5, 7), OP_CONV2D, False),
    "pw_silu_residual": (lambda: ConvActBN(33, 33, act=F.silu, residual=True), (33, 6, 5), OP_CONV2D, True),
    "pw_one_pixel": (lambda: ConvActBN(48, 72, residual=False), (48, 1, 1), OP_CONV2D, False),
    "pw_large": (lambda: ConvActBN(64, 64, residual=True), (64, 40, 40), OP_CONV2D, True),
    "strided_1x1": (lambda: ConvActBN(16, 24, stride=2), (16, 9, 9), OP_CONV2D, False),
    "grouped": (lambda: ConvActBN(32, 32, k=3, groups=4, act=F.relu, residual=True), (32, 7, 6), OP_CONV2D, True),
    "conv3x3_strided": (lambda: ConvActBN(16, 20, k=3, stride=2, act=F.hardswish), (16, 11, 9), OP_CONV2D, False),
    "dw9_residual": (lambda: ConvActBN(40, 40, k=9, groups=40, residual=True), (40, 17, 19), OP_DWCONV2D, True),
    "dw9_small_image": (lambda: ConvActBN(19, 19, k=9, groups=19, residual=True), (19, 3, 5), OP_DWCONV2D, True),
    "dw3_relu6": (lambda: ConvActBN(24, 24, k=3, groups=24, act=F.relu6), (24, 12, 12), OP_DWCONV2D, False),
    "dw5_stride2": (lambda: ConvActBN(17, 17, k=5, stride=2, groups=17), (17, 13, 13), OP_DWCONV2D, False),
    "relu_add_pw": (lambda: ReluAdd(24), (24, 6, 6), OP_CONV2D, True),
    "relu_add_dw": (lambda: ReluAdd(40, k=3, groups=40), (40, 9, 9), OP_DWCONV2D, True),
    "linear_gelu_bn1d": (lambda: LinearGeluBN(40, 70), (40,), OP_CONV2D, False),
    "bn_two_readers": (lambda: BNTwoReaders(24, 24), (24, 6, 6), OP_CONV2D, False),
}


def _build(name, batch, seed=0):
    torch.manual_seed(seed)
    factory, shape = CASES[name][:2]
    return factory().eval(), torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed + 1))


def _post_records(recs):
    return [r for r in recs if r.get("post") is not None or r.get("res_late")]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_post_matches_torch(isa, name, batch):
    net, x = _build(name, batch)
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    kind, late = CASES[name][2:]
    types = [r["type"] for r in recs]
    assert OP_SCALE_SHIFT not in types, types
    if late:
        assert OP_BINARY not in types, types
    (p,) = _post_records(recs)
    assert p["type"] == kind
    assert bool(p.get("res_late")) == late and (p.get("in2", -1) >= 0) == late
    has_bn = name not in ("relu_add_pw", "relu_add_dw")
    assert (p.get("post") is not None) == has_bn
    if has_bn:
        assert len(p["post"]) == 2 * p["conv"][1]


@pytest.mark.parametrize("threads", [1, 2])
def test_convmixer_mini_matches_torch(isa, threads):
    torch.manual_seed(3)
    net = ConvMixerMini().eval()
    x = torch.randn(2, 3, 36, 44, generator=torch.Generator().manual_seed(4))
    set_num_threads(threads)
    try:
        m = matches_torch(net, x)
    finally:
        set_num_threads(None)
    recs = _records(m, x.shape)
    # every block BN rides in its conv, every residual add in its depthwise conv; the stem's BN too
    # where the ISA runs the patch conv as a gather and a 1x1 conv (test_conv_patchify), else it
    # follows the first-layer kernel, which has no post, and stays
    patch = OP_STRIDED_COPY in [r["type"] for r in recs]
    assert [r["type"] for r in recs].count(OP_SCALE_SHIFT) == (0 if patch else 1)
    assert OP_BINARY not in [r["type"] for r in recs]
    assert len(_post_records(recs)) == 4 + patch


def test_convmixer_mini_onnx_route(isa, tmp_path):
    importorskip("onnx")
    torch.manual_seed(5)
    net = ConvMixerMini(dim=24, depth=1).eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    path = str(tmp_path / "cm.onnx")
    torch.onnx.export(net, (x,), path, dynamo=False, input_names=["x"])
    m = fastnorm.load(path)
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(m.predict(x.numpy()), ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    recs = _records(m, x.shape)
    assert len(_post_records(recs)) == 2 + (OP_STRIDED_COPY in [r["type"] for r in recs])


@pytest.mark.parametrize("name", ["pw_silu_residual", "dw9_residual", "grouped", "linear_gelu_bn1d", "relu_add_dw"])
def test_post_is_bitwise_the_unfused_records(isa, name, monkeypatch):
    """The post runs the FMA then the add, as the SCALE_SHIFT and BINARY records do: the same bits.
    FASTNORM_CONV_POST=0 (read when a plan is built) keeps those records."""
    net, x = _build(name, 2)
    fused = fastnorm.from_torch(net, x)
    assert _post_records(_records(fused, x.shape))
    got = fused.predict(x.numpy())
    monkeypatch.setenv("FASTNORM_CONV_POST", "0")
    m = fastnorm.from_torch(net, x)
    assert not _post_records(_records(m, x.shape))
    np.testing.assert_array_equal(got, m.predict(x.numpy()))


class ConvTwoReaders(ConvActBN):
    def forward(self, x):
        a = self.act(self.conv(x))
        return self.bn(a) + a


class BNRelu(ConvActBN):
    def forward(self, x):
        return F.relu(self.bn(self.act(self.conv(x))))


class WinogradAct(ConvActBN):
    def __init__(self):
        super().__init__(32, 32, k=3, act=F.gelu, residual=True)


@pytest.mark.parametrize("cls", [ConvTwoReaders, BNRelu, WinogradAct])
def test_post_stays_records_where_it_cannot_fuse(isa, cls):
    torch.manual_seed(0)
    net = cls(24, 24) if cls is not WinogradAct else cls()
    net = net.eval()
    x = torch.randn(2, net.conv.in_channels, 12, 12, generator=torch.Generator().manual_seed(2))
    m = matches_torch(net, x)
    recs = _records(m, x.shape)
    assert OP_SCALE_SHIFT in [r["type"] for r in recs]
    assert not any(r.get("post") is not None for r in recs)


def test_late_residual_is_never_written_in_place(isa):
    """The tile is stored before the residual is added: a late residual's buffer cannot be the
    output (rewrites.residual_in_place leaves these records alone; the record check refuses it)."""
    from fastnorm import _C
    net, x = _build("dw9_residual", 1)
    m = fastnorm.from_torch(net, x)
    plan = m._plan({m.graph.inputs[0].name: tuple(x.shape)})
    (p,) = _post_records(plan.records)
    assert p["in2"] != p["out"]
    with pytest.raises(ValueError, match="late residual"):
        _C.CPlan(plan.isa, [dict(p, out=p["in2"])], len(plan.buf_sizes))
    with pytest.raises(ValueError, match="post-activation scale"):
        _C.CPlan(plan.isa, [dict(p, post=p["post"][:-1])], len(plan.buf_sizes))
    with pytest.raises(ValueError, match="post-activation epilogue"):
        _C.CPlan(plan.isa, [dict(p, type=_C.OP_WINOGRAD3X3)], len(plan.buf_sizes))
