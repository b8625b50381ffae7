"""Ops the fifth held-out probe reached (tests/test_zoo_heldout5.py has the models):
- x ** e for any constant e (optable.emit_pow): integers by squarings and multiplications (exact for a
  negative base), the rest as exp(e * log x) (LRN's ** 0.75), on both routes;
- a real broadcast of an activation (ONNX Expand to a larger shape; torch's expand / expand_as read by an
  op whose other operand does not bring the shape back) materialised as x + zeros, never a result of the
  unexpanded shape;
- instance / group norm on (N, C, L) and (N, C, T, H, W), input or running statistics.
Against torch and NumPy, every ISA, batch 1 and 3."""
import io
import warnings

import numpy as np
import pytest
from util import assert_ran, fn_module, importorskip

torch = importorskip("torch")
nn = torch.nn

import fastnorm  # noqa: E402



def _routes(net, x1, routes=("export", "fx", "onnx")):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for route in routes:
            if route == "onnx":
                importorskip("onnx")
                buf = io.BytesIO()
                torch.onnx.export(net, (x1,), buf, dynamo=False, opset_version=17, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
                yield route, fastnorm.from_onnx(buf.getvalue())
            else:
                yield route, fastnorm.from_torch(net, x1, route=route)


def _check(net, shape, positive=False, routes=("export", "onnx"), bound=1e-6):
    for route, m in _routes(net, torch.randn((1,) + shape), routes):
        for n in (1, 3):
            x = torch.randn((n,) + shape)
            if positive:
                x = x.abs() + 0.05
            with torch.no_grad():
                want = net(x).numpy()
            got = m.predict(x.numpy())
            assert got.shape == want.shape, route
            scale = max(1.0, np.abs(want).max())
            assert np.abs(got - want).max() <= bound * scale, (route, n, np.abs(got - want).max() / scale)


@pytest.mark.parametrize("e", [3.0, 4.0, 7.0, 16.0, -2.0, -3.0])
def test_integer_powers_exact_for_negative_bases(isa, e):
    _check(fn_module(lambda x: x ** e).eval(), (3, 4, 5), positive=e < 0, bound=2e-6)
    assert_ran(isa)


@pytest.mark.parametrize("e", [0.75, 1.5, 2.5, -0.25, 0.1])
def test_fractional_powers(isa, e):
    _check(fn_module(lambda x: x ** e).eval(), (3, 4, 5), positive=True, bound=1e-6)
    assert_ran(isa)


def test_fractional_power_edge_values():
    """exp(e log x): NaN for a negative base, 0 at 0 for e > 0 and inf for e < 0, as torch."""
    for e in (0.75, -0.5 + 0.25):
        net = fn_module(lambda x: x ** e).eval()
        x = torch.tensor([[-2.0, -0.0, 0.0, 1.0, 4.0, float("inf")]])
        with torch.no_grad():
            want = net(x).numpy()
        m = fastnorm.from_torch(net, x)
        got = m.predict(x.numpy())
        assert np.array_equal(np.isnan(got), np.isnan(want)), (e, got, want)
        fin = ~np.isnan(want)
        assert np.allclose(got[fin], want[fin], rtol=1e-6, atol=0), (e, got, want)


@pytest.mark.parametrize("name,fn", [
    ("expand_then_scalar", lambda x: x.mean((2, 3), keepdim=True).expand_as(x) + 0.5),
    ("expand_unsqueezed", lambda x: torch.relu(x).unsqueeze(2).expand(-1, -1, 3, -1, -1) * 2),
    ("expand_both_small", lambda x: x.mean(1, keepdim=True).expand(-1, 4, -1, -1) + x.mean(1, keepdim=True)),
    ("expand_gate", lambda x: x * torch.sigmoid(x.mean((2, 3), keepdim=True)).expand_as(x)),
])
def test_expand_materialises_where_the_reader_would_not_broadcast(isa, name, fn):
    """The export and ONNX routes run each (the fx fallback may refuse what it cannot tell; it never
    answers with the unexpanded shape)."""
    net = fn_module(fn).eval()
    _check(net, (4, 5, 6), routes=("export", "onnx"), bound=1e-6)
    x = torch.randn(2, 4, 5, 6)
    try:
        m = fastnorm.from_torch(net, x, route="fx")
    except fastnorm.UnsupportedError:
        return
    with torch.no_grad():
        want = net(x).numpy()
    got = m.predict(x.numpy())
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-6 * max(1.0, np.abs(want).max())
    assert_ran(isa)


def _norm_nets():
    torch.manual_seed(2)

    def stats(net):
        for mod in net.modules():
            if getattr(mod, "running_var", None) is not None:
                mod.running_var.uniform_(0.5, 2.0)
                mod.running_mean.uniform_(-0.5, 0.5)
            if getattr(mod, "weight", None) is not None and mod.weight.dim() == 1:
                mod.weight.data.uniform_(0.5, 1.5)
        return net.eval()

    return {
        "instance1d": (stats(nn.Sequential(nn.Conv1d(4, 6, 3), nn.InstanceNorm1d(6, affine=True))), (4, 21)),
        "instance1d_running": (stats(nn.Sequential(nn.Conv1d(4, 6, 3), nn.ReLU(),
                                                   nn.InstanceNorm1d(6, track_running_stats=True))), (4, 21)),
        "group1d": (stats(nn.Sequential(nn.Conv1d(4, 6, 3), nn.GroupNorm(3, 6), nn.ReLU())), (4, 21)),
        "instance3d": (stats(nn.Sequential(nn.Conv3d(4, 6, 3), nn.InstanceNorm3d(6, affine=True))), (4, 5, 6, 7)),
        "group3d": (stats(nn.Sequential(nn.Conv3d(4, 6, (1, 3, 3)), nn.GroupNorm(2, 6))), (4, 3, 6, 7)),
        "instance3d_running": (stats(nn.Sequential(nn.Conv3d(4, 6, 1), nn.ReLU(),
                                                   nn.InstanceNorm3d(6, track_running_stats=True))), (4, 3, 5, 4)),
    }


@pytest.mark.parametrize("name", ["instance1d", "instance1d_running", "group1d", "instance3d", "group3d",
                                  "instance3d_running"])
def test_instance_and_group_norm_past_images(isa, name):
    net, shape = _norm_nets()[name]
    # torch.onnx.export refuses an InstanceNorm with running statistics ("training for unknown batch size")
    routes = ("export", "fx") if name.endswith("running") else ("export", "fx", "onnx")
    for route, m in _routes(net, torch.randn((1,) + shape), routes):
        for n in (1, 3):
            x = torch.randn((n,) + shape) * 2 + 0.5
            with torch.no_grad():
                want = net(x).numpy()
            got = m.predict(x.numpy())
            assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), (name, route, n)
    assert_ran(isa)


@pytest.mark.parametrize("base", [2.0, 10.0, 0.5, 1.0, 2.718281828459045])
def test_constant_base_power(isa, base):
    """base ** x (torch.pow(base, x): aten pow.Scalar; ONNX Pow(constant, x)) as exp(x ln base) on the
    export and ONNX routes, against torch; a non-positive or non-scalar base is refused by name."""
    net = fn_module(lambda x: torch.pow(base, torch.tanh(x) * 3))
    _check(net, (3, 5, 4), routes=("export", "onnx"), bound=2e-6)
    assert_ran(isa)


def test_constant_base_power_refusals():
    importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    for base, msg in ((np.float32(-2.0), "constant base -2.0"), (np.ones(3, np.float32), "not a scalar")):
        g = helper.make_graph([helper.make_node("Pow", ["b", "x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(base), "b")])
        data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
        with pytest.raises(fastnorm.UnsupportedError, match=msg):
            fastnorm.from_onnx(data)
