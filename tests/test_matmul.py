"""matmul: the product of two activations (attention's q @ k^T and attn @ v; ONNX MatMul and torch's
matmul / bmm when neither operand is a parameter). One MATMUL record packs each product's B as a 1x1
conv's weights and runs A's rows through the conv driver (src_c/plan/rec_conv.c), so every ISA's GEMM
micro-kernel is checked here: against float64 NumPy on awkward shapes, broadcast leading dims, one and
two threads, and against torch through both torch routes."""
import numpy as np
import pytest

import fastnorm
from fastnorm.threads import set_num_threads
from util import assert_ran, importorskip

onnx = importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _matmul_model(sa, sb, opset=17):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, sa)
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, sb)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "mm", [a, b], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def _run(model, a, b):
    out = model.run({"a": a, "b": b})
    return out["y"] if isinstance(out, dict) else out


SHAPES = [
    ((2, 3, 5, 7), (2, 3, 7, 4)),      # 4-D attention heads
    ((4, 9, 33), (4, 33, 17)),          # odd sizes, not multiples of any vector width
    ((1, 49, 64), (1, 64, 49)),         # q @ k^T of a 7x7 map
    ((2, 50, 50), (2, 50, 80)),         # attn @ v
    ((3, 1, 1), (3, 1, 1)),             # 1x1 matrices
    ((1, 2, 5, 6), (6, 3)),             # B shared by every product (stride 0)
    ((5, 6), (2, 2, 6, 7)),             # A shared
    ((1, 1, 13, 200), (2, 3, 200, 37)), # long K (over the dense path's 160 channels), A broadcast
    ((2, 130, 16), (2, 16, 3)),         # many rows, narrow output
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("sa,sb", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_of_two_activations_matches_numpy(sa, sb, threads, isa):
    rng = np.random.default_rng(len(sa) * 100 + sa[-1] + sb[-1])
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    model = fastnorm.from_onnx(_matmul_model(sa, sb))
    set_num_threads(threads)
    try:
        got = _run(model, a, b)
    finally:
        set_num_threads(None)
    assert_ran(isa)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == want.shape
    k = sa[-1]
    assert np.abs(got - want).max() <= 1e-6 * k * max(1.0, np.abs(want).max())


def test_matmul_refusals_name_the_problem():
    with pytest.raises(fastnorm.UnsupportedError, match="broadcasts part of the leading dims"):
        model = fastnorm.from_onnx(_matmul_model((2, 1, 4, 5), (1, 3, 5, 6)))
        _run(model, np.ones((2, 1, 4, 5), np.float32), np.ones((1, 3, 5, 6), np.float32))
    with pytest.raises(fastnorm.UnsupportedError, match="1D operand"):
        fastnorm.from_onnx(_matmul_model((4, 5), (5,)))
    with pytest.raises((ValueError, fastnorm.FormatError), match="inner dims 5 and 6 differ"):
        fastnorm.from_onnx(_matmul_model((4, 5), (6, 3)))


def _attention(torch, dim=32, heads=2):
    class Attention(torch.nn.Module):
        """A conv feature map's tokens through multi-head self-attention, with a BatchNorm before."""

        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(dim)
            self.qkv = torch.nn.Linear(dim, 3 * dim)
            self.proj = torch.nn.Linear(dim, dim)

        def forward(self, x):
            bsz, c, h, w = x.shape
            t = self.bn(x).reshape(bsz, c, h * w).transpose(1, 2)            # (B, N, C)
            q, k, v = (u.reshape(bsz, h * w, heads, c // heads).transpose(1, 2)       # (B, heads, N, d)
                       for u in self.qkv(t).chunk(3, dim=-1))
            a = (torch.matmul(q, k.transpose(-2, -1)) * (c // heads) ** -0.5).softmax(-1)
            y = torch.matmul(a, v).transpose(1, 2).reshape(bsz, h * w, c)
            return self.proj(y)

    torch.manual_seed(dim + heads)
    m = Attention().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2.0)
    return m


@pytest.mark.parametrize("shape", [(1, 32, 7, 7), (2, 32, 5, 3), (1, 32, 1, 1)], ids=str)
def test_attention_block_matches_torch_both_routes(shape, isa):
    torch = importorskip("torch")
    m = _attention(torch)
    x = torch.from_numpy(np.random.default_rng(shape[2]).normal(0, 1, shape).astype(np.float32))
    with torch.no_grad():
        want = m(x).numpy()
    import io
    buf = io.BytesIO()
    torch.onnx.export(m, (x,), buf, dynamo=False, opset_version=17, input_names=["x"])
    for model in (fastnorm.from_torch(m, x), fastnorm.from_onnx(buf.getvalue())):
        got = model.predict(x.numpy())
        assert_ran(isa)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_matmul_through_the_fx_route_and_a_saved_file(tmp_path, isa):
    torch = importorskip("torch")

    class Gram(torch.nn.Module):
        def forward(self, t):                       # (B, N, C) tokens: their Gram matrix, then a bmm
            g = torch.bmm(t, t.transpose(1, 2)).softmax(-1)
            return g @ t

    m = Gram().eval()
    x = torch.randn(2, 9, 6)
    with torch.no_grad():
        want = m(x).numpy()
    model = fastnorm.from_torch(m, x, route="fx")
    assert "matmul" in [n.op for n in model.graph.nodes]
    path = tmp_path / "gram.fnm"
    model.save(path)
    for mdl in (model, fastnorm.load(path)):
        got = mdl.predict(x.numpy())
        assert_ran(isa)
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("batch", [1, 3])
def test_timm_style_attention_fixes_the_batch_and_matches_torch(batch, isa):
    """timm's Attention permutes (B, N, 3, heads, d) to (3, B, heads, N, d) and unbinds dim 0: the
    batch moves, so the torch.export route traces again with the batch fixed (a note says so) instead
    of refusing the model."""
    torch = importorskip("torch")

    class Attention(torch.nn.Module):
        def __init__(self, dim=24, heads=3):
            super().__init__()
            self.heads = heads
            self.qkv = torch.nn.Linear(dim, 3 * dim)
            self.proj = torch.nn.Linear(dim, dim)

        def forward(self, x):
            bsz, n, c = x.shape
            qkv = self.qkv(x).reshape(bsz, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            a = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(dim=-1)
            return self.proj((a @ v).transpose(1, 2).reshape(bsz, n, c))

    torch.manual_seed(batch)
    m = Attention().eval()
    x = torch.randn(batch, 17, 24)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastnorm.FastnormWarning)
        model = fastnorm.from_torch(m, x, route="export")
    assert any("batch" in " ".join(n) for n in model.source_graph.notes)
    got = model.predict(x.numpy())
    assert_ran(isa)
    with torch.no_grad():
        want = m(x).numpy()
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
