"""An in-place write into a channel slice (`y[:, a:b] += x`: timm's ReXNet) reaches fastnorm as
aten.slice_scatter (torch.export) or as ScatterND at constant indices (the TorchScript ONNX exporter).
Both become the data around the slice and the written values, one concat; checked against torch on
every ISA. Any other ScatterND is refused by name."""
import io
import warnings

import numpy as np
import pytest

import fastnorm
from util import assert_ran, importorskip

torch = importorskip("torch")
onnx = importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _net(cin, cout, a, b):
    class SliceAdd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(cin, cout, 1)
            self.bn = torch.nn.BatchNorm2d(cout)

        def forward(self, x):
            y = self.bn(self.conv(x))
            y[:, a:b] += x[:, : b - a]
            return torch.relu(y)

    torch.manual_seed(cin * 100 + a)
    m = SliceAdd().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.running_var.uniform_(0.5, 2)
    return m


@pytest.mark.parametrize("cin,cout,a,b", [(16, 24, 0, 16), (8, 21, 5, 13), (6, 10, 4, 10), (7, 7, 0, 7)],
                         ids=lambda v: str(v))
def test_slice_write_matches_torch_both_routes(cin, cout, a, b, isa):
    m = _net(cin, cout, a, b)
    for batch in (1, 2):
        x = torch.randn(batch, cin, 5, 6)
        with torch.no_grad():
            want = m(x).numpy()
        buf = io.BytesIO()
        torch.onnx.export(m, (x,), buf, dynamo=False, opset_version=17, input_names=["x"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastnorm.FastnormWarning)
            models = [fastnorm.from_torch(m, x, route="export"), fastnorm.from_onnx(buf.getvalue())]
        for model in models:
            got = model.predict(x.numpy())
            assert_ran(isa)
            assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def _scatter_model(indices, upd_shape, reduction=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 4])
    u = helper.make_tensor_value_info("u", TensorProto.FLOAT, list(upd_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    idx = helper.make_tensor("idx", TensorProto.INT64, indices.shape, indices.reshape(-1).tolist())
    kw = {"reduction": reduction} if reduction else {}
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Relu", ["u"], ["ru"]),
             helper.make_node("ScatterND", ["r", "idx", "ru"], ["y"], **kw)]
    g = helper.make_graph(nodes, "s", [x, u], [y], [idx])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


def test_scatternd_of_a_range_runs_and_others_are_refused():
    idx = np.array([[[0, 2], [0, 3], [0, 4]]], np.int64)              # data[0, 2:5, :]
    model = fastnorm.from_onnx(_scatter_model(idx, (1, 3, 4)))
    x = np.random.default_rng(0).normal(size=(1, 6, 4)).astype(np.float32)
    u = np.random.default_rng(1).normal(size=(1, 3, 4)).astype(np.float32)
    out = model.run({"x": x, "u": u})
    got = out["y"] if isinstance(out, dict) else out
    want = np.maximum(x, 0)
    want[0, 2:5] = np.maximum(u[0], 0)
    assert np.array_equal(got, want)
    gap = np.array([[[0, 1], [0, 3], [0, 4]]], np.int64)              # rows 1, 3, 4: not one range
    with pytest.raises(fastnorm.UnsupportedError, match="one contiguous range"):
        fastnorm.from_onnx(_scatter_model(gap, (1, 3, 4)))
    with pytest.raises(fastnorm.UnsupportedError, match="reduction"):
        fastnorm.from_onnx(_scatter_model(idx, (1, 3, 4), reduction="add"))
    with pytest.raises((fastnorm.FormatError, fastnorm.UnsupportedError), match="do not fit"):
        fastnorm.from_onnx(_scatter_model(idx, (1, 3, 5)))
