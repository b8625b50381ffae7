"""Local response normalization (AlexNet, CaffeNet, GoogLeNet v1): ONNX LRN and torch's
LocalResponseNorm run as square -> a 1x1 conv with a band weight (the window sum times alpha / size,
plus bias) -> x * exp(-beta * log(.)). ONNX centres the window at c - floor((size - 1) / 2), torch at
c - size // 2: they differ for an even size, and each route follows its own. Checked against ONNX
Runtime, torch and a NumPy float64 reference, every ISA, batch 1 and 3, odd and even sizes, channel
counts below and above the window."""
import warnings

import numpy as np
import pytest
from util import assert_ran, importorskip

import fastnorm


def _lrn_ref(x, size, alpha, beta, bias, front):
    x = x.astype(np.float64)
    c = x.shape[1]
    sq = x * x
    s = np.zeros_like(x)
    for o in range(c):
        lo, hi = max(0, o - front), min(c - 1, o - front + size - 1)
        s[:, o] = sq[:, lo:hi + 1].sum(1)
    return x / (bias + alpha / size * s) ** beta


CASES = [(5, 1e-4, 0.75, 1.0, 16), (5, 2e-4, 0.75, 2.0, 3), (4, 1e-3, 0.5, 1.0, 7), (3, 0.5, 0.9, 0.5, 20),
         (1, 1.0, 1.0, 1.0, 4), (2, 0.1, 0.75, 1.0, 5)]


@pytest.mark.parametrize("size,alpha,beta,bias,channels", CASES)
def test_onnx_lrn_matches_onnxruntime_and_numpy(isa, size, alpha, beta, bias, channels):
    importorskip("onnx")
    importorskip("onnxruntime")
    from onnx import TensorProto, helper
    from onnx_util import assert_matches, reference

    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=alpha, beta=beta, bias=bias)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", channels, 5, 6])],
                          [helper.make_empty_tensor_value_info("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    data = m.SerializeToString()
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(size * 100 + channels)
    for n in (1, 3):
        x = (rng.standard_normal((n, channels, 5, 6)) * 3).astype(np.float32)
        got = model.predict(x)
        if size % 2:   # ONNX Runtime runs odd sizes only
            assert_matches(got, reference(data, x)[0], "LRN size %d batch %d" % (size, n))
        want = _lrn_ref(x, size, alpha, beta, bias, (size - 1) // 2)
        assert np.abs(got - want).max() <= 2e-6 * max(1.0, np.abs(want).max())
    assert_ran(isa)


@pytest.mark.parametrize("size,alpha,beta,bias,channels", CASES)
def test_torch_local_response_norm(isa, size, alpha, beta, bias, channels):
    """from_torch (torch.export decomposes the module into a 5-D pad and a 3-D average pool, which do not
    map: the torch.fx route takes the module whole). torch.onnx.export writes the same decomposition
    behind an If, which the ONNX route refuses by name."""
    torch = importorskip("torch")
    nn = torch.nn
    torch.manual_seed(size)
    net = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
                        nn.LocalResponseNorm(size, alpha, beta, bias), nn.MaxPool2d(2)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnorm.from_torch(net, torch.randn(1, 3, 8, 8))
    for n in (1, 3):
        x = torch.randn(n, 3, 8, 8) * 2
        with torch.no_grad():
            want = net(x).numpy()
        got = model.predict(x.numpy())
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), n
    assert_ran(isa)


def test_lrn_refuses_what_it_cannot_run():
    importorskip("onnx")
    from onnx import TensorProto, helper
    from fastnorm.errors import UnsupportedError

    for shape, attrs, match in [(["N", 4, 9], {"size": 3}, "LRN of a 3D input"),
                                (["N", 4, 5, 5], {"size": 3, "bias": 0.0}, "only bias > 0")]:
        node = helper.make_node("LRN", ["x"], ["y"], **attrs)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_empty_tensor_value_info("y")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        with pytest.raises(UnsupportedError, match=match):
            fastnorm.from_onnx(m.SerializeToString())
