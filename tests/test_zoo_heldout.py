"""The held-out architectures of tests/zoo_heldout.py (ShuffleNetV2, ResNeXt-50, SqueezeNet 1.1,
GoogLeNet, MnasNet, RegNetX-400MF, EfficientNetV2-B0, GhostNet, YOLOv5n, ResNet-34, a BN U-Net) and of
tests/zoo_heldout2.py (DeepLabV3 at output stride 8, an Xception, SE-ResNeXt-26, an HRNet, MobileNetV2
x1.4, EfficientNet-B2; at 64x64 DeepLab's ASPP runs on an 8x8 map, where every off-centre tap of its
dilation-12 and -18 convs lies in the padding: the taps the conv driver leaves out), and the extended
models at other widths, depths and sizes of tests/zoo_scaled.py (EfficientNet-B1 / B3-sized, B0,
MobileNetV3-Large and -Small, a RegNetY-400MF-sized one, ConvNeXt femto- and pico-sized, at small odd
sizes such as 97 x 83 and 100 x 76: their 24 / 40 / 56-channel convs take AVX2's table on a half-rate
AVX-512 CPU, their 136 / 232 / 104 / 440 keep a partial last AVX-512 panel),
which no part of fastnorm was tuned on, through both routes: fastnorm.from_torch and torch.onnx.export
(TorchScript exporter, opset 17, dynamic batch) -> fastnorm.from_onnx, against PyTorch eval at batch 1
and 3 under every ISA, at their small test resolutions. Bound: max abs error <= 1e-4 x max(1, max
|output|) (tests/test_zoo_torch.py's)."""
import functools

import pytest
from util import assert_model_close, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import calibrate, example_input  # noqa: E402
from zoo_heldout import HELDOUT  # noqa: E402
from zoo_heldout2 import HELDOUT2, NOT_IN_TESTS  # noqa: E402
from zoo_scaled import NOT_IN_TESTS as SCALED_NOT_IN_TESTS  # noqa: E402
from zoo_scaled import SCALED  # noqa: E402

# the second set (tests/zoo_heldout2.py, session 22) too, but for its two heaviest (its module doc), and
# the scaled variants (tests/zoo_scaled.py, session 33) but for the two only timed
MODELS = dict(HELDOUT, **{k: v for k, v in HELDOUT2.items() if k not in NOT_IN_TESTS},
              **{k: v for k, v in SCALED.items() if k not in SCALED_NOT_IN_TESTS})
NAMES = sorted(MODELS)


@functools.lru_cache(maxsize=None)
def _case(name):
    """(fastnorm models by route, [(input, torch output) at batch 1 and 3]), built once per session."""
    ctor, _, shape = MODELS[name]
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
        assert_model_close(y, ref, "%s via %s, batch %d (%s)" % (name, route, len(x), isa))


def test_heldout_models_fold_every_batchnorm():
    """Each BatchNorm of the held-out models (all follow a conv) is folded on both routes: none is
    left to run as a separate pass."""
    for name in NAMES:
        models, _ = _case(name)
        for route, model in models.items():
            assert not any(n.op == "batch_norm" for n in model.graph.nodes), (name, route)


def test_deeplab_dilated_convs_stay_on_the_graph():
    """DeepLab's dilated convs reach the plan as dilated conv2d nodes (not rewritten away), on both
    routes."""
    models, _ = _case("deeplabv3_os8")
    for route, model in models.items():
        dil = sorted({tuple(n.attrs.get("dilation", [1, 1]))[0] for n in model.graph.nodes if n.op == "conv2d"})
        assert dil == [1, 2, 4, 6, 12, 18], (route, dil)
