"""The sixth held-out set (tests/zoo_heldout6.py, session 28): architectures a helper session probed for
failures, through both routes (fastnorm.from_torch; torch.onnx.export, TorchScript exporter, opset 17 ->
fastnorm.load of the .onnx file, then that model saved as .fnm and loaded again), against PyTorch eval
under every ISA, at small sizes, batch 1 and 3 where the route keeps the batch dynamic, and once through
torch's dynamo exporter. The set stresses glue: YOLOv2's reorg (space-to-depth by view / permute),
YOLOX's Focus (strided slicing), NAFNet's SimpleGate and hand-written LayerNorm2d, U^2-Net's RSU blocks
(ceil-mode pools, bilinear interpolate to a skip's size, seven outputs), DDRNet's bilateral fusion and
DAPPM, triplet attention's permuted Z-pools, a non-local block, octave convolution, Inception-ResNet-v2's
scaled residuals, ESPNetv2's EESP, PeleeNet, RCAN, DnCNN, AdaIN with the style statistics computed in
forward from a fixed buffer, MobileNeXt, SSDLite's and RetinaNet's per-level permute / reshape / cat heads,
odd GroupNorm groups with DropPath in eval, and activation mixes.

Refused (pinned below by the op the UnsupportedError names): RReLU on the torch route (Hardshrink /
Softshrink / Tanhshrink too until session 29), Involution (nn.Unfold) and CondConv (a conv on a computed weight). CoordConv's
coordinate channels (a constant expanded to the batch, concatenated to activations) were refused until
session 29 (tests/test_cat_const.py). The probe found no wrong answer and no crash in
fastnorm in these architectures; among ~200 single constructs it tried, one answered wrong: ONNX Resize
by a float32 scale whose product with the input size falls just short of an integer (F.interpolate(
scale_factor=0.7) on a 10-pixel axis: 6 pixels, torch 7; FIXED and test_interpolate_scale_family).
Bound: tests/test_zoo_torch.py's."""
import warnings

import numpy as np
import pytest
from heldout_util import check_model, torch_feeds
from onnx_util import export_outputs
from util import assert_model_close, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
import zoo_heldout6 as Z  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

F = torch.nn.functional

# name -> (ONNX export with a dynamic batch, torch route keeps the batch dynamic); input shapes: Z.MODELS
CASES = {
    "yolov2_reorg": (True, True),
    "yolox_nano_lite": (True, True),
    "nafnet_lite": (True, True),
    "u2net_lite": (True, True),
    "ddrnet_lite": (True, True),
    "triplet_resnet_lite": (True, True),
    "nonlocal_resnet_lite": (True, True),
    "octave_resnet_lite": (True, True),
    "inception_resnet_v2_lite": (True, True),
    "espnetv2_lite": (True, True),
    # F.avg_pool2d(x, kernel_size=x.size()[2:]): the TorchScript exporter cannot make a kernel size out of
    # a traced shape once the batch is dynamic (SymbolicValueError), so that route exports a fixed batch,
    # which fastnorm generalizes (every op is batch-independent: note fixed_batch_generalized)
    "peleenet_lite": (False, True),
    "rcan_lite": (True, True),
    "dncnn": (True, True),
    "adain_style": (True, True),
    "mobilenext_lite": (True, True),
    "ssdlite": (True, True),
    "retinanet_fpn_lite": (True, True),
    "gn_odd_droppath": (True, True),
    "act_mix2": (True, True),
    "pidnet_lite": (True, True),           # two outputs
    "bifpn_lite": (True, True),
    "cgnet_lite": (True, True),
    # refused on the torch route (REFUSED); the ONNX route runs it
    "act_mix_exotic": (True, None),
    # refused on every route (REFUSED)
    # CoordConv: coordinate channels (linspace / arange expanded to the batch) concatenated to activations
    "coordconv_net": (True, True),
    "involution_net": (True, None),
    "condconv_net": (False, None),    # groups=B: only a fixed-batch export exists
}

# (model, route) -> the UnsupportedError it raises (route "dynamo": torch's dynamo exporter)
REFUSED = {
    # torch.export keeps rrelu_with_noise (Hardshrink / Softshrink decompose to sign, which maps since
    # session 29); fx names the modules
    ("act_mix_exotic", "torch"): r"(?s)aten\.rrelu_with_noise_functional.*module Hardshrink",
    # nn.Unfold: an index with a 2-D constant index list
    ("involution_net", "torch"): "Unfold",
    ("involution_net", "onnx"): "Gather indices that are not a scalar or a 1-D integer list",
    ("involution_net", "dynamo"): "Gather indices that are not a scalar or a 1-D integer list",
    # CondConv: F.conv2d on a weight computed from the input (routing matmul), groups = batch
    ("condconv_net", "torch"): "a computed weight",
    ("condconv_net", "onnx"): "weight W computed at run time",
}

# torch's dynamo exporter itself fails on these (no ONNX to load): RReLU (aten.rrelu_with_noise_functional
# has no ONNX function); CondConv's conv on a computed weight
NO_DYNAMO = {"act_mix_exotic", "condconv_net"}

# fixed-batch ONNX exports that fastnorm runs at any batch (batch 3 is then checked too)
GENERALIZED = {"peleenet_lite"}


_export = export_outputs


def _setup(name):
    net, shape = Z.build(name)
    return net, torch_feeds(net, shape, name)


_check = check_model


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fixed-batch notes; torch's exporter warnings
        return fn(*args, **kw)


@pytest.mark.parametrize("route", ["torch", "onnx"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_heldout6_model_matches_torch(name, route, tmp_path):
    onnx_dyn, torch_dyn = CASES[name]
    net, feeds = _setup(name)
    x1, refs1 = feeds[0]
    if route == "torch":
        if (name, route) in REFUSED:
            with pytest.raises(fastnorm.UnsupportedError, match=REFUSED[name, route]):
                _quiet(fastnorm.from_torch, net, x1)
            return
        model = _quiet(fastnorm.from_torch, net, x1)
        _check(name, route, model, feeds, torch_dyn, available_isas())
        return
    path = tmp_path / (name + ".onnx")
    path.write_bytes(_quiet(_export, net, x1, onnx_dyn, len(refs1)))
    if (name, route) in REFUSED:
        with pytest.raises(fastnorm.UnsupportedError, match=REFUSED[name, route]):
            _quiet(fastnorm.load, str(path))
        return
    model = _quiet(fastnorm.load, str(path))
    dynamic = onnx_dyn or name in GENERALIZED
    _check(name, "onnx", model, feeds, dynamic, available_isas())
    # the same model through its own file format
    fnm = tmp_path / (name + ".fnm")
    model.save(str(fnm))
    _check(name, "onnx -> .fnm", _quiet(fastnorm.load, str(fnm)), feeds, dynamic, available_isas()[-1:])


@pytest.mark.parametrize("name", sorted(set(CASES) - NO_DYNAMO))
def test_heldout6_dynamo_export(name):
    """torch.onnx.export's default (dynamo) exporter, a dynamic batch, under the widest ISA."""
    net, feeds = _setup(name)
    x1, refs1 = feeds[0]
    data = _quiet(_export, net, x1, True, len(refs1), dynamo=True)
    if (name, "dynamo") in REFUSED:
        with pytest.raises(fastnorm.UnsupportedError, match=REFUSED[name, "dynamo"]):
            _quiet(fastnorm.from_onnx, data)
        return
    _check(name, "dynamo", _quiet(fastnorm.from_onnx, data), feeds, None, available_isas()[-1:])


# ---------------------------------------------------------------- constructs found answering wrong / crashing
class _Scale(torch.nn.Module):
    """conv 1x1, then F.interpolate(scale_factor=s): torch's output size is floor(in * s) with s a float64
    (10 * 0.7 = 7.000000000000001, 5 * 1.4 = 7.0, 3 * (5 / 3) = 5.0)."""

    def __init__(self, s, mode):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.s, self.mode = s, mode

    def forward(self, x):
        return F.interpolate(self.conv(x), scale_factor=self.s, mode=self.mode)


# name -> (module constructor, input shape without batch, route): the constructs the session-28 probe found
# answering wrong, fixed since.
FIXED = {
    # ONNX Resize by scales: both exporters write scale_factor as a float32 scale (0.7 -> 0.69999999,
    # 1.4 -> 1.39999998, 5/3 -> 1.66666663). The output size was floor(in * scale) in float64: 10 *
    # 0.69999999 = 6.9999999 -> 6, a 6 x 13 map where torch (float64 scale) and ONNX Runtime's run (the
    # product in float32 rounds to 7.0) have 7 x 14. Now the float32 product (resize.onnx_out_size), the
    # scale kept for the coordinates.
    "resize_scale_0_7_bilinear_ts": (lambda: _Scale(0.7, "bilinear"), (3, 10, 20), "onnx"),
    "resize_scale_1_4_bilinear_ts": (lambda: _Scale(1.4, "bilinear"), (3, 5, 10), "onnx"),
    "resize_scale_5_3_nearest_ts": (lambda: _Scale(5 / 3, "nearest"), (3, 3, 6), "onnx"),
    "resize_scale_0_7_nearest_dynamo": (lambda: _Scale(0.7, "nearest"), (3, 10, 20), "dynamo"),
}


def _run_route(net, x, route):
    if route == "torch":
        return _quiet(fastnorm.from_torch, net, x[:1])
    return _quiet(fastnorm.from_onnx, _quiet(_export, net, x[:1], True, 1, dynamo=(route == "dynamo")))


@pytest.mark.parametrize("case", sorted(FIXED))
def test_heldout6_fixed(case):
    make, shape, route = FIXED[case]
    torch.manual_seed(6)
    net = make().eval()
    x = torch.randn((2,) + tuple(shape))
    with torch.no_grad():
        want = net(x).numpy()
    model = _run_route(net, x, route)
    for isa in available_isas():
        with force_isa(isa):
            assert_model_close(model.predict(x.numpy()), want, "%s via %s (%s)" % (case, route, isa))


# scale factors whose float32 value times some axis length falls just short of (or on) an integer
AWKWARD_SCALES = [0.7, 1.4, 5 / 3, 1 / 3, 2 / 3, 0.3, 0.9, 1.1, 1.3, 2.2, 2.5, 3.3, 0.45]


class _Scales(torch.nn.Module):
    """conv 1x1, then F.interpolate by each scale factor: one output per scale (one export for them all)."""

    def __init__(self, scales, mode):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.scales, self.mode = list(scales), mode

    def forward(self, x):
        y = self.conv(x)
        return tuple(F.interpolate(y, scale_factor=s, mode=self.mode) for s in self.scales)


@pytest.mark.parametrize("route", ["onnx", "dynamo", "torch"])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_scale_family(route, mode):
    """F.interpolate(scale_factor=s) over every awkward scale above on maps of h x (h + 5), h from 1 to
    23: each output's shape and values are torch's on each route. Where the float32 scale's float64
    product falls below an integer (some of these scales do on some lengths), only the float32 product
    gives torch's size; where torch's index arithmetic (o * float32(1 / s)) and ONNX's (o / s) part,
    the kernel takes a neighbouring scale that maps as ONNX does (resize._kernel_scales)."""
    rng = np.random.default_rng(3)
    short = 0
    for h in (1, 2, 3, 5, 7, 9, 10, 11, 13, 16, 20, 23):
        scales = []
        for s in AWKWARD_SCALES:
            oh, ow = int(np.floor(h * s)), int(np.floor((h + 5) * s))
            # an axis scaled to its own length (or, nearest, to twice it): torch's kernels copy (double)
            # it whatever the scale, where ONNX Resize maps by the scale (2 pixels at 1.4, nearest: torch
            # [0, 1], ONNX Runtime [0, 0]; 2 at 2.2: torch [0, 0, 1, 1], ONNX Runtime [0, 0, 0, 1]): the
            # file then means something else than the module, and fastnorm refuses it by name
            same = {h, h + 5} | ({2 * h, 2 * h + 10} if mode == "nearest" else set())
            if min(oh, ow) < 1 or (route != "torch" and {oh, ow} & same):
                continue
            scales.append(s)
            short += int(np.floor(h * float(np.float32(s)))) != int(np.floor(h * s))
        net = _Scales(scales, mode).eval()
        x = torch.from_numpy(rng.standard_normal((2, 3, h, h + 5)).astype(np.float32))
        with torch.no_grad():
            want = [t.numpy() for t in net(x)]
        if route == "torch":
            model = _quiet(fastnorm.from_torch, net, x[:1])
        else:
            model = _quiet(fastnorm.from_onnx, _quiet(_export, net, x[:1], True, len(scales),
                                                      dynamo=(route == "dynamo")))
        outs = model.run({model.inputs[0].name: x.numpy()})
        for s, t, w in zip(scales, model.outputs, want):
            got = outs[t.name]
            assert got.shape == w.shape, (s, h, route, mode, got.shape, w.shape)
            assert_model_close(got, w, "scale %r, %dx%d, %s via %s" % (s, h, h + 5, mode, route))
    assert short > 0   # the family holds the cases that the float64 product gets wrong


def test_onnx_out_size_matches_onnxruntime():
    """resize.onnx_out_size against ONNX Runtime's run of Resize by scales (its output shape), on the
    awkward scales and lengths 1..40."""
    ort = importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from fastnorm.frontends.onnx.resize import onnx_out_size
    for s in AWKWARD_SCALES:
        s32 = np.float32(s)
        g = helper.make_graph(
            [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, None, 1])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0, 1.0, float(s32), 1.0])])
        sess = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
                                    .SerializeToString(), providers=["CPUExecutionProvider"])
        for n in range(1, 41):
            want = sess.run(None, {"x": np.zeros((1, 1, n, 1), np.float32)})[0].shape[2]
            assert onnx_out_size(n, s32) == want, (s, n)


# ---------------------------------------------------------------- the exporter, not fastnorm
class _AvgDivisor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x):
        return F.avg_pool2d(self.conv(x), 3, 2, 1, divisor_override=4)


def test_avg_pool_divisor_override():
    """F.avg_pool2d(divisor_override=4): the torch route matches torch. Both of torch's ONNX exporters
    write a plain AveragePool and drop the divisor (ONNX Runtime answers the same as fastnorm there, 0.8
    from torch), so the ONNX route is held to the file's meaning, not to torch."""
    torch.manual_seed(7)
    net = _AvgDivisor().eval()
    x = torch.randn(3, 3, 10, 12)
    with torch.no_grad():
        want = net(x).numpy()
        plain = F.avg_pool2d(net.conv(x), 3, 2, 1).numpy()
    model = _quiet(fastnorm.from_torch, net, x[:1])
    onnx_model = _quiet(fastnorm.from_onnx, _quiet(_export, net, x[:1], True, 1))
    for isa in available_isas():
        with force_isa(isa):
            assert_model_close(model.predict(x.numpy()), want, "divisor_override via torch (%s)" % isa)
            assert_model_close(onnx_model.predict(x.numpy()), plain, "AveragePool as exported (%s)" % isa)
