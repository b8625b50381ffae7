"""The fifth held-out set (tests/zoo_heldout5.py, session 27): architectures a helper session probed for
failures, through both routes (fastnorm.from_torch; torch.onnx.export, TorchScript exporter, opset 17 ->
fastnorm.from_onnx), against PyTorch eval under every ISA, at small sizes, batch 1 and 3 where the route
keeps the batch dynamic, and once through torch's dynamo exporter. The set reaches past images: 1-D
audio / sequence nets (WaveNet's causal left pad, a weight-normalized TCN, a Conformer's GLU and depthwise
Conv1d on (B, T, D), M5), PointNet (bmm of a learned transform, max over points), GAN / super-resolution /
style generators (reflection pad, InstanceNorm, ConvTranspose with output_padding, pixel shuffle, pix2pix's
in-place LeakyReLU read by its skip concat), and CNNs with unusual glue (NASNet-A cells, weight-
standardized BiT and NFNet convs, LocalResponseNorm, R(2+1)D video, BiSeNetV2, BoTNet's relative-position logits, GCNet).
Below them: the constructs the probe found answering wrong (F.interpolate(antialias=True) and
torch.add(alpha=) through the torch.fx fallback, expand_as read by a scalar op, recompute_scale_factor on
the fx route, 1-D InstanceNorm / GroupNorm on the torch route). R(2+1)D (Conv3d) runs since commit 1815a05.
Bound: tests/test_zoo_torch.py's."""
import warnings

import pytest
from heldout_util import check_model, torch_feeds
from onnx_util import export_outputs
from util import assert_model_close, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
import zoo_heldout5 as Z  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

F = torch.nn.functional

# name -> (ONNX export with a dynamic batch, torch route keeps the batch dynamic); input shapes: Z.MODELS
CASES = {
    "espcn_x3": (True, True),
    "esrgan_rrdb_lite": (True, True),
    "cyclegan_resnet_gen": (True, True),
    "pix2pix_unet": (True, True),
    "wavenet": (True, True),               # F.pad(x, (d, 0)) on (N, C, L) before each dilated Conv1d
    "tcn": (True, True),
    "conformer_conv_lite": (True, True),
    "pointnet_cls": (True, True),          # eye(3).view(1, 9).repeat(B, 1): a Tile by the batch size
    "m5_audio": (True, True),
    "r2plus1d_lite": (True, True),         # Conv3d / BatchNorm3d / MaxPool3d / AdaptiveAvgPool3d(1)
    "nasnet_a_lite": (True, True),
    "bit_resnetv2_lite": (True, True),
    "nfnet_lite": (True, True),
    "alexnet_lrn": (True, True),
    "mobilenet_v1_050": (True, True),
    "efficientnet_lite0": (True, True),
    "yolov4_tiny": (True, True),
    "bisenetv2": (True, True),
    "fast_neural_style": (True, True),
    "botnet_lite": (False, None),          # reshape(B * heads, ...): the ONNX export fixes the batch
    "gcnet_r18_lite": (True, True),
    "act_mix": (True, True),
}


_export = export_outputs


def _setup(name):
    net, shape = Z.build(name)
    return net, torch_feeds(net, shape, name)


_check = check_model


# (model, route) -> the UnsupportedError it raises: none since session 30 (torch's TorchScript exporter
# writes LocalResponseNorm behind an If on the input's rank, refused until the ONNX frontend inlined an If
# whose condition is known at load time: frontends/onnx/control.py)
REFUSED = {}


@pytest.mark.parametrize("route", ["torch", "onnx"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_heldout5_model_matches_torch(name, route):
    onnx_dyn, torch_dyn = CASES[name]
    net, feeds = _setup(name)
    x1, refs1 = feeds[0]
    if (name, route) in REFUSED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = _export(net, x1, onnx_dyn, len(refs1))
        with pytest.raises(fastnorm.UnsupportedError, match=REFUSED[name, route]):
            fastnorm.from_onnx(data)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fixed-batch notes; torch's exporter warnings
        if route == "torch":
            model, dynamic = fastnorm.from_torch(net, x1), torch_dyn
        else:
            model, dynamic = fastnorm.from_onnx(_export(net, x1, onnx_dyn, len(refs1))), onnx_dyn
    isas = available_isas()
    assert isas
    _check(name, route, model, feeds, dynamic, isas)


@pytest.mark.parametrize("name", sorted(CASES))
def test_heldout5_dynamo_export(name):
    """torch.onnx.export's default (dynamo) exporter, a dynamic batch, under the widest ISA."""
    net, feeds = _setup(name)
    x1, refs1 = feeds[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _export(net, x1, True, len(refs1), dynamo=True)
    model = fastnorm.from_onnx(data)
    _check(name, "dynamo", model, feeds, None, available_isas()[-1:])


# ---------------------------------------------------------------- constructs the probe found answering wrong
class _Net(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self, self.conv(x))


WRONG = {
    # torch.export refuses aten._upsample_bilinear2d_aa; the torch.fx fallback dropped antialias=True
    "interpolate_antialias": lambda s, y: F.interpolate(y, size=(4, 5), mode="bilinear", antialias=True),
    # torch.export refuses alpha on a computed operand; the fx fallback dropped alpha
    "add_alpha": lambda s, y: torch.add(y, torch.relu(y), alpha=0.5),
    # expand_as read by a scalar op: the output kept the (N, C, 1, 1) shape on both torch routes
    "expand_as_then_scalar": lambda s, y: y.mean((2, 3), keepdim=True).expand_as(y) + 0,
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_torch_route_answers_or_refuses(case):
    """from_torch either matches torch or raises UnsupportedError; never a silent wrong answer."""
    torch.manual_seed(3)
    net = _Net(WRONG[case]).eval()
    x = torch.randn(2, 3, 9, 11)
    with torch.no_grad():
        want = net(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = fastnorm.from_torch(net, x)
        except fastnorm.UnsupportedError:
            return
    assert_model_close(m.predict(x.numpy()), want, case)


@pytest.mark.parametrize("route", ["auto", "fx"])
def test_fx_interpolate_recompute_scale_factor(route):
    """nn.Upsample / F.interpolate(scale_factor=1.5, recompute_scale_factor=True): the sampling uses
    out / in, not 1.5 (the fx route read the scale factor as given: 0.8 off)."""
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1),
                              torch.nn.Upsample(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)).eval()
    x = torch.randn(2, 3, 9, 11)
    with torch.no_grad():
        want = net(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = fastnorm.from_torch(net, x, route=route)
        except fastnorm.UnsupportedError:
            return
    assert_model_close(m.predict(x.numpy()), want, "recompute_scale_factor via %s" % route)


@pytest.mark.parametrize("norm", ["instance", "group"])
def test_1d_instance_and_group_norm(norm):
    """InstanceNorm1d / GroupNorm on (N, C, L) (the ONNX routes run them; the torch route refused with
    'instance_norm on a 3D tensor', naming neither route nor the module)."""
    torch.manual_seed(5)
    layer = torch.nn.InstanceNorm1d(8, affine=True) if norm == "instance" else torch.nn.GroupNorm(2, 8)
    net = torch.nn.Sequential(torch.nn.Conv1d(3, 8, 3, padding=1), layer).eval()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
    x = torch.randn(3, 3, 40)
    with torch.no_grad():
        want = net(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"torch": fastnorm.from_torch(net, x[:1]), "onnx": fastnorm.from_onnx(_export(net, x[:1], True, 1))}
    for isa in available_isas():
        with force_isa(isa):
            for route, m in models.items():
                assert_model_close(m.predict(x.numpy()), want, "%s norm 1-D via %s (%s)" % (norm, route, isa))
