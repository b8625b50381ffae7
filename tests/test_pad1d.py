"""Padding tensors that are not images: a 3-D (N, C, L) tensor (F.pad before a Conv1d: the causal left
padding of WaveNet and TCNs; reflect / replicate padding of a signal; constant channel padding), a 2-D
(N, L) one and the last two dims of a 5-D one (attention's relative-position padding). Both routes run
it as the image pad on a view (N, M, H, W). Checked against torch (from_torch; torch.onnx.export -> from_onnx) and against ONNX
Runtime on hand-built Pad nodes (every mode, the axes input), under every ISA, batch 1 and 3."""
import io

import numpy as np
import pytest
from util import assert_ran, fn_module, importorskip

torch = importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import fastnorm  # noqa: E402


class _CausalBlock(nn.Module):
    """WaveNet's gated residual unit: left padding (k - 1) * dilation, tanh * sigmoid, 1x1 out, skip."""

    def __init__(self, c=6, k=3, dilation=2, mode="constant"):
        super().__init__()
        self.pad, self.mode = (k - 1) * dilation, mode
        self.f = nn.Conv1d(c, c, k, dilation=dilation)
        self.g = nn.Conv1d(c, c, k, dilation=dilation)
        self.o = nn.Conv1d(c, c, 1)

    def forward(self, x):
        p = F.pad(x, (self.pad, 0), mode=self.mode)
        return x + self.o(torch.tanh(self.f(p)) * torch.sigmoid(self.g(p)))



NETS = {
    "causal_conv": lambda: _CausalBlock(),
    "causal_conv_replicate": lambda: _CausalBlock(mode="replicate"),
    "reflect_both_sides": lambda: fn_module(lambda x: F.pad(x, (3, 2), mode="reflect") * 2),
    "channels_and_length": lambda: fn_module(lambda x: F.pad(x, (1, 2, 2, 1), value=0.5) - 1),
    "flat_2d": lambda: fn_module(lambda x: F.pad(torch.flatten(x, 1), (0, 7)) * 3),
    "five_d_last_two": lambda: fn_module(lambda x: F.pad(x.view(x.shape[0], 2, 3, 17, 1).transpose(3, 4),
                                                         (1, 2, 0, 1), value=0.25) + 1),
}


def _check(model, net, length, what):
    for n in (1, 3):
        x = torch.randn(n, 6, length)
        with torch.no_grad():
            want = net(x).numpy()
        got = model.predict(x.numpy())
        assert got.shape == want.shape, what
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), (what, n)


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("route", ["torch", "onnx"])
def test_pad_3d_matches_torch(isa, name, route):
    torch.manual_seed(len(name))
    net = NETS[name]().eval()
    x = torch.randn(1, 6, 17)
    if route == "torch":
        model = fastnorm.from_torch(net, x)
    else:
        importorskip("onnx")
        buf = io.BytesIO()
        torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
        model = fastnorm.from_onnx(buf.getvalue())
    _check(model, net, 17, "%s via %s" % (name, route))
    assert_ran(isa)
    assert any(nd.op == "pad" for nd in model.source_graph.nodes)


@pytest.mark.parametrize("mode,pads,axes", [
    ("constant", [0, 0, 3, 0, 0, 1], None), ("reflect", [0, 0, 2, 0, 0, 4], None),
    ("edge", [0, 0, 1, 0, 0, 5], None), ("constant", [2, 1, 0, 3], [1, 2]), ("edge", [3, 2], [-1]),
    ("constant", [0, 0, 0, 3, 1, 0, 0, 0, 2, 0], "5d"), ("reflect", [0, 3, 0, 2], "2d")])
def test_onnx_pad_3d_matches_onnxruntime(isa, mode, pads, axes):
    onnx = importorskip("onnx")
    importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    from onnx_util import assert_matches, reference

    inits = [numpy_helper.from_array(np.array(pads, np.int64), "pads"),
             numpy_helper.from_array(np.array([0.25], np.float32), "v")]
    ins = ["x", "pads", "v" if mode == "constant" else ""]
    if axes is not None and not isinstance(axes, str):
        inits.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
        ins.append("axes")
    shape = {"5d": [4, 3, 5, 6], "2d": [11]}.get(axes if isinstance(axes, str) else None, [4, 11])
    if isinstance(axes, str):
        ins, inits = ins[:3], inits[:2]
    node = helper.make_node("Pad", ins, ["y"], mode=mode)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + shape)],
                          [helper.make_empty_tensor_value_info("y")], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    data = m.SerializeToString()
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(len(pads))
    for n in (1, 3):
        x = rng.standard_normal((n,) + tuple(shape)).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x)[0], "%s %r batch %d" % (mode, pads, n))
    assert_ran(isa)
    del onnx
