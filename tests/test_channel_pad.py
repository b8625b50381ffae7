"""Constant padding of the channels: the "option A" shortcut of CIFAR ResNets (He et al.'s ResNet-20/32/
56: the identity subsampled and zero-padded with planes // 4 channels on each side,
F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))), on both routes (torch.export's constant_pad_nd, ONNX
Pad with pads on axis 1) and every ISA; the pad node's "cpads" (channels before, after) runs as a
PAD2D record over NHWC's pixels, then one for H/W if any. Pure copies: exact against NumPy's pad."""
import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
onnx = importorskip("onnx")
nn, F = torch.nn, torch.nn.functional

import fastnorm  # noqa: E402
from fastnorm.errors import UnsupportedError  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import calibrate, example_input  # noqa: E402


class _Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(planes)
        self.c2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(planes)
        self.pad = (planes - cin) // 2 if stride != 1 or cin != planes else 0
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.b1(self.c1(x)))
        out = self.b2(self.c2(out))
        sc = x
        if self.pad or self.stride != 1:
            sc = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)
        return F.relu(out + sc)


class CifarResNet(nn.Module):
    """ResNet-14 for CIFAR (option A shortcuts): 16, 32, 64 channels, two blocks a stage."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, cin = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks += [_Block(cin, planes, stride), _Block(planes, planes, 1)]
            cin = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


SHAPE = (3, 32, 32)
_MODELS = {}


def _models():
    if not _MODELS:
        torch.manual_seed(0)
        net = calibrate(CifarResNet(), SHAPE, seed=0)
        _MODELS["net"] = net
        _MODELS["torch"] = fastnorm.from_torch(net, example_input(SHAPE, 1))
        _MODELS["onnx17"] = fastnorm.from_onnx(export(net, (1,) + SHAPE, 17))
        _MODELS["onnx13"] = fastnorm.from_onnx(export(net, (1,) + SHAPE, 13))
    return _MODELS


@pytest.mark.parametrize("route", ["torch", "onnx17", "onnx13"])
def test_cifar_resnet_option_a_matches_torch(route, isa):
    m = _models()
    for batch in (1, 3):
        x = example_input(SHAPE, batch, seed=batch)
        with torch.no_grad():
            ref = m["net"](x).numpy()
        got = m[route].predict(x.numpy())
        assert_ran(isa)
        err = float(np.abs(got - ref).max())
        assert err <= ATOL_MODEL * max(1.0, float(np.abs(ref).max())), (route, batch, isa, err)


def _pad_model(pads, value, mode="constant", shape=(2, 5, 4, 3)):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape[1:]])]
    inits = [numpy_helper.from_array(np.array(pads, np.int64), "pads"),
             numpy_helper.from_array(np.array([value], np.float32), "v")]
    node = helper.make_node("Pad", ["x", "pads", "v"], ["y"], mode=mode)
    g = helper.make_graph([node], "pad", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.mark.parametrize("pads", [
    [0, 3, 0, 0, 0, 2, 0, 0],       # channels only
    [0, 0, 0, 0, 0, 7, 0, 0],       # after only
    [0, 1, 2, 0, 0, 4, 1, 3],       # channels and H/W
    [0, 2, 0, 1, 0, 0, 3, 0],
])
def test_onnx_pad_of_channels_is_exact(pads, isa):
    x = np.random.default_rng(len(pads) + sum(pads)).standard_normal((2, 5, 4, 3)).astype(np.float32)
    got = fastnorm.from_onnx(_pad_model(pads, 1.5)).predict(x)
    assert_ran(isa)
    want = np.pad(x, [(pads[i], pads[i + 4]) for i in range(4)], constant_values=1.5)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("pads,mode,what", [
    ([0, 1, 0, 0, 0, 1, 0, 0], "reflect", "channels"),
    ([0, -1, 0, 0, 0, 0, 0, 0], "constant", "channels"),
    ([1, 0, 0, 0, 0, 0, 0, 0], "constant", "only the last two dims"),
])
def test_onnx_pad_refusals(pads, mode, what):
    with pytest.raises(UnsupportedError, match=what):
        fastnorm.from_onnx(_pad_model(pads, 0.0, mode))
