"""Tile / Tensor.repeat on both routes: an activation repeated along non-batch axes (a grey image made
RGB, a signal repeated along its length) runs as one cat per repeated axis; a constant of batch 1 tiled
to the batch size whose readers broadcast (PointNet's T-net identity, eye(k).view(1, -1).repeat(B, 1))
is the constant itself and keeps the batch dynamic; a repeat of the batch itself fixes the batch (the
static-batch route) or is refused by name. Checked against torch and ONNX Runtime, every ISA, batch 1 / 3."""
import io
import warnings

import numpy as np
import pytest
from util import assert_ran, fn_module, importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402


class _GreyToRGB(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, padding=1)

    def forward(self, x):
        return self.conv(x.repeat(1, 3, 1, 1))


class _TNetIdentity(nn.Module):
    """PointNet's T-net tail: fc -> + identity tiled to the batch -> (B, k, k) -> bmm with the points."""

    def __init__(self, k=3):
        super().__init__()
        self.k = k
        self.feat = nn.Conv1d(k, 16, 1)
        self.fc = nn.Linear(16, k * k)

    def forward(self, x):
        b = x.shape[0]
        f = torch.max(torch.relu(self.feat(x)), 2)[0]
        iden = torch.eye(self.k, dtype=x.dtype).view(1, self.k * self.k).repeat(b, 1)
        t = (self.fc(f) + iden).view(-1, self.k, self.k)
        return torch.bmm(x.transpose(2, 1), t).transpose(2, 1)



NETS = {
    "grey_to_rgb": (_GreyToRGB, (1, 9, 7)),
    "tnet_identity": (_TNetIdentity, (3, 20)),
    "repeat_hw": (lambda: fn_module(lambda x: x.repeat(1, 1, 2, 3) * 0.5), (2, 3, 4)),
    "repeat_3d": (lambda: fn_module(lambda x: torch.relu(x).repeat(1, 2, 3)), (3, 5)),
}


def _export(net, x):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("route", ["torch", "onnx"])
def test_repeat_matches_torch_with_a_dynamic_batch(isa, name, route):
    ctor, shape = NETS[name]
    torch.manual_seed(1)
    net = ctor().eval()
    x1 = torch.randn((1,) + shape)
    if route == "torch":
        model = fastnorm.from_torch(net, x1)
    else:
        importorskip("onnx")
        model = fastnorm.from_onnx(_export(net, x1))
    assert model.inputs[0].shape[0] is None
    for n in (1, 3):
        x = torch.randn((n,) + shape)
        with torch.no_grad():
            want = net(x).numpy()
        got = model.predict(x.numpy())
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), (name, route, n)
    assert_ran(isa)


def test_repeat_of_the_batch_fixes_it():
    """x.repeat(2, 1, 1, 1) doubles the batch: the torch route traces it at the example's batch and
    says so; that batch runs right."""
    from fastnorm.errors import FastnormWarning
    net = fn_module(lambda x: x.repeat(2, 1, 1, 1) + 1).eval()
    x = torch.randn(2, 3, 4, 4)
    with pytest.warns(FastnormWarning, match="torch_static_batch"):
        model = fastnorm.from_torch(net, x)
    assert model.inputs[0].shape == (2, 3, 4, 4)
    assert np.array_equal(model.predict(x.numpy()), net(x).numpy())


@pytest.mark.parametrize("reps", [[1, 2, 1, 1], [1, 1, 3, 2], [1, 1, 1, 1]])
def test_onnx_tile_matches_onnxruntime(isa, reps):
    importorskip("onnx")
    importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    from onnx_util import assert_matches, reference

    node = helper.make_node("Tile", ["x", "r"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 5])],
                          [helper.make_empty_tensor_value_info("y")],
                          [numpy_helper.from_array(np.array(reps, np.int64), "r")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    data = m.SerializeToString()
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(sum(reps))
    for n in (1, 3):
        x = rng.standard_normal((n, 3, 4, 5)).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x)[0], "reps %r batch %d" % (reps, n))
    assert_ran(isa)
