"""The third held-out set (tests/zoo_heldout3.py): architectures a helper session probed for failures
and slow layers (session 23), through both routes (fastnorm.from_torch; torch.onnx.export, TorchScript
exporter, opset 17, dynamic batch -> fastnorm.from_onnx), against PyTorch eval at batch 1 and 3 under
every ISA (a loop over the CPU's ISAs in one test per model, so that each model is built once and
freed after: the set holds ~200 M weights, and cached across a session its plans per ISA took several
GB of a worker), at small resolutions. The models whose graphs fix the batch (an in-place slice write
addressing it, LeViT's BatchNorm1d over batch x tokens, attention's batch-moving permutes) run at their
own resolution and batch 1, exported with a static batch. Bound: tests/test_zoo_torch.py's."""
import io
import warnings

import pytest
from util import assert_model_close, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
import zoo_heldout3 as Z  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

# name -> input (C, H, W) for the dynamic-batch runs
SMALL = {name: (3, 64, 64) for name in (
    "convmixer_256_8", "mixnet_s", "convnextv2_atto", "repvgg_a0_train", "resnest14", "ese_vovnet19b_dw",
    "pplcnet_100", "mobilenetv4_conv_small", "resnet50d", "tresnet_m", "dla34", "cbam_resnet18", "hardnet68",
    "cspdarknet53", "dbb_resnet18", "efficientformer_l1_4d", "rexnet_100_cat")}
SMALL["mobilefacenet"] = (3, 112, 112)   # its 7x7 global depthwise conv needs a 7x7 map
# name -> input (C, H, W), batch fixed at 1
FIXED = {"rexnet_100": (3, 96, 96), "levit_128s": (3, 224, 224), "efficientformer_l1": (3, 224, 224)}


def _export(net, x, dynamic):
    buf = io.BytesIO()
    kw = {"dynamic_axes": {"x": {0: "n"}, "y": {0: "n"}}} if dynamic else {}
    torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"], **kw)
    return buf.getvalue()


def _case(name):
    """(fastnorm models by route, [(input, torch output)])."""
    fixed = name in FIXED
    shape = FIXED[name] if fixed else SMALL[name]
    fn = Z.MODELS[name][0]
    torch.manual_seed(0)
    net = Z.randomize(fn(), (1,) + tuple(shape), 0)
    gen = torch.Generator().manual_seed(len(name))
    x1 = torch.randn((1,) + tuple(shape), generator=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fixed-batch notes; torch's exporter warnings
        models = {"torch": fastnorm.from_torch(net, x1),
                  "onnx": fastnorm.from_onnx(_export(net, x1, not fixed))}
    feeds = []
    for n in ((1,) if fixed else (1, 3)):
        x = torch.randn((n,) + tuple(shape), generator=gen)
        with torch.no_grad():
            feeds.append((x.numpy(), net(x).numpy()))
    return models, feeds


@pytest.mark.parametrize("name", sorted(SMALL) + sorted(FIXED))
def test_heldout3_model_matches_torch(name):
    models, feeds = _case(name)
    isas = available_isas()
    assert isas
    for isa in isas:
        with force_isa(isa):
            for route, model in models.items():
                for x, ref in feeds:
                    y = model.predict(x)
                    assert_ran(isa)
                    assert_model_close(y, ref, "%s via %s, batch %d (%s)" % (name, route, len(x), isa))


def test_heldout3_fusions():
    """The exporter's Mish (x * tanh(softplus(x))) and PReLU reach the plan as what they are: no
    softplus/tanh steps in CSPDarknet-53 on either route, and MobileFaceNet's prelu as prelu."""
    models, _ = _case("cspdarknet53")
    for route, model in models.items():
        ops = {n.op for n in model.graph.nodes}
        assert "softplus" not in ops and "tanh" not in ops, (route, sorted(ops))
    models, _ = _case("mobilefacenet")
    for route, model in models.items():
        assert "prelu" in {n.op for n in model.graph.nodes}, route
