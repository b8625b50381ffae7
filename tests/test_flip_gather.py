"""Backwards slices and constant gathers: torch.flip and ONNX Slice with negative steps (a slice of step
-k: one strided copy read backwards), x[:, [2, 1, 0]] (aten index) and ONNX Gather with constant
indices (their runs of +-1 steps as slices, then one concat: shapes.gather_runs). Checked against torch
and NumPy on every ISA at batch 1 and 3; the batch dim and mask indices are refused by name."""
import numpy as np
import pytest

import fastnorm
from fastnorm.shapes import gather_runs
from onnx_util import export
from util import importorskip

torch = importorskip("torch")
nn = torch.nn


from test_var_std_erf import Stat as Net  # noqa: E402  (conv, then the op under test)


CASES = {
    "flip_w": lambda y: torch.flip(y, [3]),
    "flip_hw_add": lambda y: y.flip(2, 3) + y,
    "flip_c": lambda y: torch.flip(y, [1]),
    "flip_negative_dims": lambda y: torch.flip(y, [-1, -3]),
    "flip_of_a_window": lambda y: torch.flip(y[:, 1:6], [1]) * 2,
    "bgr": lambda y: y[:, [2, 1, 0, 5]],
    "runs_both_ways": lambda y: y[:, [7, 6, 5, 0, 1, 2, 4]] * 2,
    "columns": lambda y: y[:, :, :, [0, 2, 4, 6]],
    "negative_index": lambda y: y[:, [-1, 0]],
    "one_index": lambda y: y[:, [3]],
    "repeats": lambda y: y[:, [1, 1, 2, 2]],
    "select": lambda y: y[:, 3] * 2,
}


def _case(name, batch):
    torch.manual_seed(len(name))
    net = Net(CASES[name]).eval()
    x = torch.randn(batch, 8, 7, 9, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        want = net(x).numpy()
    return net, x, want


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_route(isa, name, batch):
    net, x, want = _case(name, batch)
    np.testing.assert_allclose(fastnorm.from_torch(net, x).predict(x.numpy()), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_route(isa, name):
    importorskip("onnx")
    net, x, want = _case(name, 3)
    m = fastnorm.from_onnx(export(net, (1, 8, 7, 9), 17))
    np.testing.assert_allclose(m.predict(x.numpy()), want, rtol=1e-5, atol=1e-5)


# (axis, start, end, step) of one ONNX Slice on a (N, 6, 7, 9) input, against NumPy's slicing
SLICES = [(3, -1, -2 ** 63, -1), (2, 5, 1, -2), (1, 4, -10, -3), (3, 100, 2, -1), (2, -3, 0, -1), (1, 0, 6, -1)]


@pytest.mark.parametrize("axis,start,end,step", SLICES)
def test_onnx_negative_step_slice_matches_numpy(isa, axis, start, end, step):
    importorskip("onnx")
    from onnx import TensorProto, helper
    consts = [helper.make_tensor(n, TensorProto.INT64, [1], [v])
              for n, v in (("s", start), ("e", end), ("a", axis), ("t", step))]
    node = helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])
    x = np.random.default_rng(axis).standard_normal((3, 6, 7, 9)).astype(np.float32)
    sl = [slice(None)] * 4
    sl[axis] = slice(start, end, step)
    want = x[tuple(sl)]
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 7, 9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], consts)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m = fastnorm.from_onnx(model.SerializeToString())
    np.testing.assert_array_equal(m.predict(x), want)


def test_gather_runs():
    assert gather_runs([2, 1, 0], 3) == [(2, None, -1)]
    assert gather_runs([0, 1, 2, 5, 4, 7], 8) == [(0, 3, 1), (5, 3, -1), (7, 8, 1)]
    assert gather_runs([1, 1], 4) == [(1, 2, 1), (1, 2, 1)]
    assert gather_runs([-1], 4) == [(3, 4, 1)]
    with pytest.raises(ValueError, match="out of range"):
        gather_runs([4], 4)


class BatchIndex(nn.Module):
    def forward(self, x):
        return x[[1, 0]]


class MaskIndex(nn.Module):
    def forward(self, x):
        return x[:, torch.tensor([True, False, True, False])]


class FlipBatch(nn.Module):
    def forward(self, x):
        return torch.flip(x, [0])


@pytest.mark.parametrize("cls,why", [(BatchIndex, "indexing the batch dim"),
                                     (MaskIndex, "not a 1-D integer list"), (FlipBatch, "flip of the batch dim")])
def test_batch_and_mask_indices_are_refused(cls, why):
    with pytest.raises(fastnorm.UnsupportedError, match=why):
        m = fastnorm.from_torch(cls().eval(), torch.randn(2, 4, 3, 3))
        m.predict(np.zeros((2, 4, 3, 3), np.float32))
