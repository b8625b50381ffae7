"""Issue 12: the classification families of tests/zoo_export.py (EXPORT_ZOO: BatchNormAct with a functional
forward and torch._assert, TF-same padding, VGG-BN, SE + ECA, RepVGG, BiT's GroupNorm + standardised weights,
ConvNeXt, HRNet's fusion) through the ONNX route as well: torch.onnx.export (TorchScript exporter, opset 17,
dynamic batch) -> fastnorm.from_onnx, against PyTorch eval at batch 1 and 3 under every ISA. The torch
route of the same families: tests/test_torch_export.py; the dense families (UNet, DeepLab, YOLO), both
routes at two sizes: tests/test_zoo_dense.py. Bound: max abs error <= 1e-4 x max(1, max |output|)."""
import functools

import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import example_input  # noqa: E402
from zoo_export import DENSE_ZOO, EXPORT_ZOO, build  # noqa: E402

NAMES = sorted(n for n in EXPORT_ZOO if n not in DENSE_ZOO)
# torch's TorchScript exporter writes adaptive_avg_pool2d((7, 7)) only when 7 divides the feature size
# (a limit of the exporter, not of fastnorm): the VGG head runs at 224x224 there (4x4 -> 7x7 on the torch route)
SHAPE = {"vgg_bn_head": (3, 224, 224)}


@functools.lru_cache(maxsize=None)
def _case(name):
    net, shapes = build(name)
    shape = SHAPE.get(name, shapes[0])
    model = fastnorm.from_onnx(export(net, (1,) + tuple(shape), 17))
    feeds = []
    for n in (1, 3):
        x = example_input(shape, n, seed=n)
        with torch.no_grad():
            feeds.append((x.numpy(), net(x).numpy()))
    return model, feeds


@pytest.mark.parametrize("name", NAMES)
def test_export_zoo_family_through_onnx(name, isa):
    model, feeds = _case(name)
    assert model.inputs[0].shape[0] is None, "the batch was exported dynamic"
    for x, want in feeds:
        got = model.predict(x)
        assert_ran(isa)
        assert got.shape == want.shape, (name, got.shape, want.shape)
        err, bound = float(np.abs(got - want).max()), ATOL_MODEL * max(1.0, float(np.abs(want).max()))
        assert err <= bound, "%s via ONNX, batch %d (%s): max abs err %.3g > %.3g" % (name, len(x), isa, err, bound)
