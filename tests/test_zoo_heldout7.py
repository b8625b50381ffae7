"""The seventh held-out set (tests/zoo_heldout7.py, session 29): architectures a helper session probed for
failures, through both routes (fastnorm.from_torch; torch.onnx.export, TorchScript exporter, opset 17 ->
fastnorm.load of the .onnx file, then that model saved as .fnm and loaded again), against PyTorch eval
under every ISA, at small sizes, batch 1 and 3 where the route keeps the batch dynamic. The set stresses
attention glue (GCNet's softmax over HW, BoTNet's relative logits, Swin's windows / roll / mask / bias
table, MaxViT's block and grid partitions, CoAtNet, EdgeNeXt's XCA, a hybrid ViT on
F.scaled_dot_product_attention, DETR's nn.Transformer layers), token-mixing MLPs (MLP-Mixer, ResMLP,
gMLP), weights computed from parameters in forward (NFNet's scaled weight standardization, DiracNet,
VanillaNet's activation series, spectral norm through the hook and through parametrizations, ProGAN's
equalized learning rate, BlurPool's buffer filter), channel-attention variants (ECA, SimAM, FcaNet's DCT
filters, SRM's style pooling), multi-branch and shuffle nets (ParNet, ShuffleNetV1, ACNet,
RepLKNet with a kernel wider than its map, SqueezeNext, Lite-HRNet, BiSeNetV2, STDC, SCNet, Attention
U-Net), the Temporal Shift Module in two implementations, pixel (un)shuffle pairs, cosine / argmax / topk
heads, split glue, a 1x1-pixel input, an odd 37x29 input, and a two-image siamese net.

The probe found no wrong answer in any model that loads. It found two valid ONNX files called malformed,
fixed in session 29 (FOUND): ProGAN's minibatch-stddev layer (a mean over the whole batch to a 0-d
scalar, view(1, 1, 1, 1)) in a fixed-batch export ("cannot reshape ()": fastnorm.shapes.shape_reshape
refused 0-d inputs), and a flatten -> Linear head exported with dynamic H / W, converted at load at 224 x
224 (now an UnsupportedError naming that size; load / from_onnx take input_shapes=). Also fixed in
session 29: ONNX CumSum of a shape-derived constant (EdgeNeXt) folds, ONNX GlobalAveragePool on 3-D
(Swin's AdaptiveAvgPool1d head) runs, and on the torch route torch.roll (index_select by a constant
index), F.scaled_dot_product_attention / nn.MultiheadAttention / nn.Transformer* layers (_safe_softmax
kept whole), a bmm by a constant (BoTNet, DETR), log1p, sign, round, clamp with tensor bounds and
circular padding map (tests/test_torch_route_ops.py).
Still refused (pinned below by the op the UnsupportedError names): ONNX Einsum (BoTNet), a constant @
activation MatMul in ONNX (DETR's object queries), the official TSM shift (zeros_like + slice assignment:
full_like / ScatterND into a constant), TopK, torch.tensor_split in ONNX (SplitToSequence), cumsum of
activations, grid_sample, reductions over the batch on the torch route (ProGAN's minibatch stddev); and a
batch-moving graph (window partition, attention's permute(2, 0, 3, 1, 4), frames folded into the batch)
exported with a dynamic batch. Bound: tests/test_zoo_torch.py's."""
import io
import warnings

import pytest
from heldout_util import check_model, torch_feeds
from onnx_util import export_outputs
from util import assert_model_close, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
import zoo_heldout7 as Z  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

F = torch.nn.functional
nn = torch.nn

# name -> (ONNX export with a dynamic batch, torch route keeps the batch dynamic); input shapes: Z.MODELS.
# torch_dyn None: refused on the torch route (REFUSED)
CASES = {
    "eca_resnet_lite": (True, True),
    "gcnet_resnet_lite": (True, True),
    "fca_srm_simam_resnet_lite": (True, True),
    "antialiased_frelu": (True, True),
    "replknet_lite": (True, True),
    "mlp_mixer_lite": (True, True),
    "resmlp_lite": (True, True),
    "gmlp_lite": (True, True),
    "vanillanet_train": (True, True),
    "parnet_lite": (True, True),
    "nfnet_lite": (True, True),
    "shufflenet_v1_lite": (True, True),
    "bisenetv2_lite": (True, True),     # two outputs
    "scnet_lite": (True, True),         # 37 x 29
    "acnet_lite": (True, True),
    "attention_unet_lite": (True, True),
    "squeezenext_lite": (True, True),
    "diracnet_lite": (True, True),
    "sngan_disc_lite": (True, True),
    "pixelshuffle_pair": (True, True),
    "cosine_head": (True, True),        # two outputs
    "argmax_head": (True, True),        # a float32 and an int64 output
    "split_heavy": (True, True),
    "one_pixel": (True, True),
    "odd_size": (True, True),
    # torch's TorchScript exporter cannot export these with a dynamic batch (Lite-HRNet's adaptive pools
    # after a chunk: "output_size is not constant"; STDC's F.avg_pool2d(f, f.size()[2:])), so that route
    # exports a fixed batch, which fastnorm generalizes (GENERALIZED)
    "litehrnet_lite": (False, True),
    "stdc_lite": (False, True),
    # the batch moves (windows / heads / frames folded into dim 0): both routes fix it at the example's
    # (torch: a torch_static_batch note; ONNX: exported fixed, DYN_REFUSED pins the dynamic export)
    "maxvit_lite": (False, False),
    "coatnet_lite": (False, False),
    "botnet_matmul": (False, False),
    "tsm_mmaction": (False, False),
    "edgenext_lite": (False, False),    # its cumsum of a shape-made mask folds (ONNX CumSum: session 29)
    # torch.roll / F.scaled_dot_product_attention / nn.MultiheadAttention / a bmm by a constant run on the
    # torch route since session 29, the batch fixed at the example's (a window partition or the
    # sequence-first attention moves it); the fixed-batch ONNX route runs them too
    "swin_lite_alt": (False, False),
    "hybrid_vit_cls": (False, False),
    "hybrid_vit_avg": (False, False),
    "swin_lite": (False, False),        # ONNX: the 3-D GlobalAveragePool head runs since session 29
    # ONNX Einsum and a MatMul of a constant by an activation run since session 30 (frontends/onnx/einsum.py,
    # conv.py); their dynamic-batch exports tile or concatenate by the batch (DYN_REFUSED)
    "botnet_lite": (False, False),
    "detr_lite": (False, False),
    # refused on both routes (REFUSED)
    "tsm_lite": (False, None),
    "topk_head": (True, None),
    "progan_disc_lite": (False, None),
    # torch route runs it; ONNX refused (REFUSED)
    "tensor_split": (True, True),
    # torch route only: torch's exporter fails on parametrizations.spectral_norm (aten::vdot, NO_ONNX)
    "sngan_disc_param": (None, True),
}

# (model, route) -> the UnsupportedError it raises
REFUSED = {
    # the official shift: out = torch.zeros_like(x); out[:, :-1, :fold] = ...
    ("tsm_lite", "torch"): r"aten\.full_like\.default",
    ("tsm_lite", "onnx"): r"ScatterND.*constant where an activation is expected",
    ("topk_head", "torch"): r"aten\.topk\.default",
    ("topk_head", "onnx"): "op TopK",
    ("tensor_split", "onnx"): "op SplitToSequence",
    # minibatch stddev: a mean over the batch
    ("progan_disc_lite", "torch"): "a reduction over the batch dim",
}

# (model, route) -> a wrong answer or crash (xfail, strict): none since session 29 (progan_disc_lite's
# ONNX file, a 0-d Reshape input, was called malformed; FOUND)
XFAIL = {}

# torch's exporter itself fails on these (no ONNX to load): aten::vdot of parametrizations.spectral_norm
NO_ONNX = {n for n, (d, _) in CASES.items() if d is None}

# the torch route not run: the same roll / scaled_dot_product_attention as swin_lite / hybrid_vit_cls, and
# tracing it again costs seconds
ONNX_ONLY = {"swin_lite_alt", "hybrid_vit_avg"}

# fixed-batch ONNX exports that fastnorm runs at any batch (batch 3 is then checked too)
GENERALIZED = {"litehrnet_lite", "stdc_lite"}

# the fixed-batch models above, exported with a dynamic batch: the UnsupportedError fastnorm raises
DYN_REFUSED = {
    "maxvit_lite": "moves the batch",
    "coatnet_lite": r"perm \[2, 0, 3, 1, 4\] moves the batch",
    "swin_lite_alt": "moves the batch",
    "hybrid_vit_cls": r"perm \[2, 0, 3, 1, 4\] moves the batch",
    "botnet_matmul": "depends on the batch size",
    "tsm_mmaction": "target shape computed from the batch size",
    "progan_disc_lite": "reduces over the batch",
    "botnet_lite": r"Concat_3' \(Concat, opset \d+\): input 1 depends on the batch size",
    "detr_lite": r"Tile of a constant by \[N, 1, 1, 1\]",
}


def _setup(name):
    net, shape = Z.build(name)
    return net, torch_feeds(net, shape, name)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fixed-batch notes; torch's exporter warnings
        return fn(*args, **kw)


def _check(name, route, model, feeds, dynamic, isas):
    check_model(name, route, model, feeds, dynamic, isas)
    x, refs = feeds[0]
    outs = model.run({model.inputs[0].name: x.numpy()})
    for t, want in zip(model.outputs, refs):   # argmax_head's class map comes out int64, as torch's
        assert outs[t.name].dtype == want.dtype, (name, route, t.name, outs[t.name].dtype, want.dtype)


def _params():
    out = []
    for name in sorted(CASES):
        for route in ("torch", "onnx"):
            if (route == "onnx" and name in NO_ONNX) or (route == "torch" and name in ONNX_ONLY):
                continue
            marks = ()
            if (name, route) in XFAIL:
                exc, why = XFAIL[name, route]
                marks = (pytest.mark.xfail(strict=True, raises=exc, reason=why),)
            out.append(pytest.param(name, route, marks=marks, id="%s-%s" % (name, route)))
    return out


@pytest.mark.parametrize("name,route", _params())
def test_heldout7_model_matches_torch(name, route, tmp_path):
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
    path.write_bytes(_quiet(export_outputs, net, x1, onnx_dyn, len(refs1)))
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


@pytest.mark.parametrize("name", sorted(DYN_REFUSED))
def test_heldout7_dynamic_batch_export_refused(name):
    """A graph that folds the batch into another dim (or reduces over it), exported with a dynamic batch:
    refused by name; the fixed-batch export of the same model runs (above)."""
    net, shape = Z.build(name)
    data = _quiet(export_outputs, net, torch.randn((1,) + tuple(shape)), True, 1)
    with pytest.raises(fastnorm.UnsupportedError, match=DYN_REFUSED[name]):
        _quiet(fastnorm.from_onnx, data)


def test_heldout7_siamese_two_inputs(tmp_path):
    """Two images: the ONNX route (two named inputs, both batches dynamic; an NCHW map and a (B,) cosine
    similarity out) matches torch under every ISA, also through .fnm; from_torch takes one example tensor
    and refuses a tuple with a TypeError."""
    net, shapes = Z.build("siamese_two_inputs")
    gen = torch.Generator().manual_seed(7)
    feeds = []
    for n in (1, 3):
        a, b = (torch.randn((n,) + s, generator=gen) for s in shapes)
        with torch.no_grad():
            feeds.append(((a, b), [t.numpy() for t in net(a, b)]))
    with pytest.raises(TypeError, match="example_input must be a torch.Tensor"):
        fastnorm.from_torch(net, tuple(feeds[0][0]))
    buf = io.BytesIO()
    outs = ["y0", "y1"]
    _quiet(torch.onnx.export, net, feeds[0][0], buf, dynamo=False, opset_version=17, input_names=["a", "b"],
           output_names=outs, dynamic_axes={k: {0: "n"} for k in ["a", "b"] + outs})
    model = _quiet(fastnorm.from_onnx, buf.getvalue())
    fnm = tmp_path / "siamese.fnm"
    model.save(str(fnm))
    for m, isas in ((model, available_isas()), (fastnorm.load(str(fnm)), available_isas()[-1:])):
        assert [t.name for t in m.inputs] == ["a", "b"] and all(t.shape[0] is None for t in m.inputs)
        for isa in isas:
            with force_isa(isa):
                for (a, b), refs in feeds:
                    got = m.run({"a": a.numpy(), "b": b.numpy()})
                    for t, want in zip(m.outputs, refs):
                        assert_model_close(got[t.name], want, "siamese %s, batch %d (%s)" % (t.name, len(a), isa))


# ---------------------------------------------------------------- single constructs
class _Conv(nn.Module):
    """A 3x3 conv, then fn(self, y)."""

    def __init__(self, fn, cin=3, cout=4, **mods):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.fn = fn
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, self.conv(x))


def _linear_head():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 5)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))
    return Net()


def _sdpa(m, y):
    b, c, h, w = y.shape
    q = y.reshape(b, 2, c // 2, h * w).transpose(-1, -2)
    return F.scaled_dot_product_attention(q, q, q).transpose(-1, -2).reshape(b, c, h, w)


# name -> (module constructor, input shape without batch, export kwargs): valid files the probe found
# called malformed, fixed in session 29; each loads and matches torch at the exported size
FOUND = {
    # y + y.mean().view(1, 1, 1, 1) (minibatch stddev's shape) exported at batch 1: a 0-d ReduceMean output
    # reshaped was a FormatError "cannot reshape () to [1, 1, 1, 1]" (fastnorm/shapes.py shape_reshape)
    "scalar_reshape_fixed_batch": (lambda: _Conv(lambda m, y: y + y.mean().view(1, 1, 1, 1)), (3, 5, 5),
                                   {"dynamic_axes": None}),
    # conv -> flatten -> Linear(4 * 8 * 8) exported with dynamic H / W: converted at load at 224 x 224 (the
    # probe), it was a FormatError "A ['N', 200704] and B (5, 256) do not fit"; now an UnsupportedError
    # that says the size was fastnorm's guess, and input_shapes= gives the right one
    "dynamic_hw_linear_head": (_linear_head, (3, 8, 8),
                               {"dynamic_axes": {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}}}),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_heldout7_found(case):
    make, shape, kw = FOUND[case]
    torch.manual_seed(7)
    net = make().eval()
    x = torch.randn((1,) + shape)
    with torch.no_grad():
        want = net(x).numpy()
    buf = io.BytesIO()
    _quiet(torch.onnx.export, net, (x,), buf, dynamo=False, opset_version=17, input_names=["x"],
           output_names=["y"], **kw)
    if case == "dynamic_hw_linear_head":
        with pytest.raises(fastnorm.UnsupportedError, match=r"dynamic and fastnorm converts it at load at "
                           r"224x224, where it does not fit: .*input_shapes=\{'x': \(N, C, H, W\)\}"):
            fastnorm.from_onnx(buf.getvalue())
        model = fastnorm.from_onnx(buf.getvalue(), input_shapes={"x": (1,) + shape})
        assert model.inputs[0].shape == (None, 3, None, None)
    else:
        model = fastnorm.from_onnx(buf.getvalue())
    assert_model_close(model.predict(x.numpy()), want, case)


# name -> (module constructor, {route: UnsupportedError regex}); routes "torch" (from_torch, auto) and
# "onnx" (TorchScript export, dynamic batch)
REFUSED_CONSTRUCTS = {
    # LSQ / QAT fake quantization in eval (torch.round maps on the torch route since session 29)
    "fake_quant_round": (lambda: _Conv(lambda m, y: torch.clamp(torch.round(y / 0.25), -8, 7) * 0.25),
                         {"onnx": "Round.* on activations"}),
    "sign": (lambda: _Conv(lambda m, y: torch.sign(y) * y.abs().sqrt()), {"onnx": "Sign.* on activations"}),
    "cumsum": (lambda: _Conv(lambda m, y: torch.cumsum(y, 3)), {"torch": r"aten\.cumsum", "onnx": "op CumSum"}),
    # a spatial transformer's sampler
    "grid_sample": (lambda: _Conv(lambda m, y: F.grid_sample(
        y, F.affine_grid(torch.tensor([[[0.9, 0.1, 0.0], [-0.1, 0.9, 0.1]]]).expand(y.shape[0], 2, 3), list(y.shape),
                         align_corners=False), align_corners=False)),
        {"torch": r"aten\.grid_sampler_2d"}),
}
# roll, scaled_dot_product_attention, clamp with tensor bounds and log1p were refused on the torch route
# until session 29; tests/test_torch_route_ops.py checks them against torch


@pytest.mark.parametrize("case,route", [(c, r) for c in sorted(REFUSED_CONSTRUCTS) for r in REFUSED_CONSTRUCTS[c][1]])
def test_heldout7_refused_construct(case, route):
    make, routes = REFUSED_CONSTRUCTS[case]
    torch.manual_seed(7)
    net = make().eval()
    x = torch.randn(1, 3, 6, 7)
    with pytest.raises(fastnorm.UnsupportedError, match=routes[route]):
        if route == "torch":
            _quiet(fastnorm.from_torch, net, x)
        else:
            _quiet(fastnorm.from_onnx, _quiet(export_outputs, net, x, True, 1))
