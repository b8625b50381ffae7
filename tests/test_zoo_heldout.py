"""The held-out architectures of tests/zoo_heldout.py (ShuffleNetV2, ResNeXt-50, SqueezeNet 1.1,
GoogLeNet, MnasNet, RegNetX-400MF, EfficientNetV2-B0, GhostNet, YOLOv5n, ResNet-34, a BN U-Net),
which no part of fastnorm was tuned on, through both routes: fastnorm.from_torch and torch.onnx.export
(TorchScript exporter, opset 17, dynamic batch) -> fastnorm.from_onnx, against PyTorch eval at batch 1
and 3 under every ISA, at their small test resolutions. Bound: max abs error <= 1e-4 x max(1, max
|output|) (tests/test_zoo_torch.py's)."""
import functools

import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import calibrate, example_input  # noqa: E402
from zoo_heldout import HELDOUT  # noqa: E402

NAMES = sorted(HELDOUT)


@functools.lru_cache(maxsize=None)
def _case(name):
    """(fastnorm models by route, [(input, torch output) at batch 1 and 3]), built once per session."""
    ctor, _, shape = HELDOUT[name]
    torch.manual_seed(0)
    net = calibrate(ctor(), shape, seed=0)
    models = {"torch": fastnorm.from_torch(net, example_input(shape, 1)),
              "onnx": fastnorm.from_onnx(export(net, (1,) + tuple(shape), 17))}
    feeds = []
    for n in (1, 3):
        x = example_input(shape, n, seed=n)
        with torch.no_grad():
            feeds.append((x.numpy(), net(x).numpy()))
    return models, feeds


@pytest.mark.parametrize("route", ["torch", "onnx"])
@pytest.mark.parametrize("name", NAMES)
def test_heldout_model_matches_torch(name, route, isa):
    models, feeds = _case(name)
    for x, ref in feeds:
        y = models[route].predict(x)
        assert_ran(isa)
        assert y.shape == ref.shape, (name, route, y.shape, ref.shape)
        bound = ATOL_MODEL * max(1.0, float(np.abs(ref).max()))
        err = float(np.abs(y - ref).max())
        assert err <= bound, "%s via %s, batch %d (%s): max abs err %.3g > %.3g" % (
            name, route, len(x), isa, err, bound)


def test_heldout_models_fold_every_batchnorm():
    """Each BatchNorm of the held-out models (all follow a conv) is folded on both routes: none is
    left to run as a separate pass."""
    for name in NAMES:
        models, _ = _case(name)
        for route, model in models.items():
            assert not any(n.op == "batch_norm" for n in model.graph.nodes), (name, route)
