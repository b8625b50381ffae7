"""The fourth held-out set (tests/zoo_heldout4.py, session 26): architectures a helper session probed for
failures, through both routes (fastnorm.from_torch; torch.onnx.export, TorchScript exporter, opset 17 ->
fastnorm.from_onnx), against PyTorch eval under every ISA, at small resolutions, batch 1 and 3 where the
route keeps the batch dynamic. What the probe found and this set now holds fastnorm to: BatchNorm1d over
a flattened NHWC image (RepViT's BN + Linear head), an ONNX Gather on a leading axis that is not the
batch (attention's kv[0] / kv[1] after a batch-moving permute, SegFormer and MobileViT with a static
batch), torch.export's whole-batch slice_scatter of an in-place write into a view (GhostNetV2,
FasterNet's slice assignment), ONNX comparisons on activations and integer outputs (CenterNet's
max-pool NMS, a UNet's argmax class map). Bound: tests/test_zoo_torch.py's; CenterNet's NMS output
is compared tie-aware (a keep decision flips where two heat values are within rounding)."""
import io
import warnings

import numpy as np
import pytest
from onnx_util import export_outputs
from util import assert_model_close, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
import zoo_heldout4 as Z  # noqa: E402
from fastnorm.testing import available_isas, force_isa  # noqa: E402

# name -> (input (C, H, W), ONNX export with a dynamic batch, torch route keeps the batch dynamic)
CASES = {
    "yolov8n": ((3, 128, 128), True, True),
    "yolov8n_split": ((3, 96, 128), True, True),
    "segformer_b0": ((3, 64, 64), False, False),          # attention's batch-moving permutes
    "poolformer_s12": ((3, 64, 64), True, True),
    "fasternet_t0": ((3, 64, 64), True, True),
    "fasternet_t0_slicing": ((3, 64, 64), False, True),   # the exporter's slice-write index math
    "ghostnetv2_100": ((3, 64, 64), True, True),
    "mobilevit_xs": ((3, 64, 64), False, False),          # unfold merges the batch into channels
    "res2net50_26w4s": ((3, 64, 64), True, True),
    "sk_resnet18": ((3, 64, 64), True, True),
    "pspnet_r18": ((3, 96, 96), True, True),              # a 12x12 map: every bin divides it
    "dpn_lite": ((3, 64, 64), True, True),
    "efficientvit_b0": ((3, 64, 64), True, True),         # 4-D matmuls: view(B * h) -> bmm -> view
    "repvit_m0_9_train": ((3, 64, 64), True, True),
    "inceptionnext_atto": ((3, 64, 64), True, True),
    "centernet_r18": ((3, 64, 64), True, True),
    "unet_argmax": ((3, 64, 64), True, True),
    "lraspp_mobilenetv3": ((3, 64, 64), True, True),
}
# torch.onnx.export refuses an adaptive pool whose bins do not divide the map: the torch route alone
TORCH_ONLY = {"pspnet_r18_200": (3, 100, 100)}


def _export(net, x, dynamic, nout):
    return export_outputs(net, x, dynamic, nout)


def _second_max3x3(h):
    """Per element, the largest of its 3x3 neighbours excluding itself (-inf padding)."""
    n, c, hh, ww = h.shape
    p = np.full((n, c, hh + 2, ww + 2), -np.inf, np.float32)
    p[:, :, 1:-1, 1:-1] = h
    out = np.full(h.shape, -np.inf, np.float32)
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) != (1, 1):
                out = np.maximum(out, p[:, :, dy:dy + hh, dx:dx + ww])
    return out


def _check_nms(got, want, heat, what):
    """heat * (maxpool3x3(heat) == heat): equal except where a keep decision flips at a near tie."""
    flip = (got != 0) != (want != 0)
    near = np.abs(heat - _second_max3x3(heat)) <= 1e-5
    assert not (flip & ~near).any(), "%s: a keep decision differs away from any tie" % what
    assert flip.mean() < 0.01, "%s: %d keep decisions differ" % (what, int(flip.sum()))
    same = ~flip
    assert_model_close(np.where(same, got, 0), np.where(same, want, 0), what)


def _case(name):
    torch_only = name in TORCH_ONLY
    shape, onnx_dyn, torch_dyn = (TORCH_ONLY[name], False, True) if torch_only else CASES[name]
    fn = Z.MODELS[name][0]
    torch.manual_seed(0)
    net = Z.randomize(fn(), (1,) + tuple(shape), 0)
    gen = torch.Generator().manual_seed(len(name))
    x1 = torch.randn((1,) + tuple(shape), generator=gen)
    with torch.no_grad():
        nout = len(net(x1)) if isinstance(net(x1), tuple) else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fixed-batch notes; torch's exporter warnings
        models = {"torch": (fastnorm.from_torch(net, x1), torch_dyn)}
        if not torch_only:
            models["onnx"] = (fastnorm.from_onnx(_export(net, x1, onnx_dyn, nout)), onnx_dyn)
    return net, models, shape, gen


@pytest.mark.parametrize("name", sorted(CASES) + sorted(TORCH_ONLY))
def test_heldout4_model_matches_torch(name):
    net, models, shape, gen = _case(name)
    feeds = []
    for n in (1, 3):
        x = torch.randn((n,) + tuple(shape), generator=gen)
        with torch.no_grad():
            ref = net(x)
            heat = net.hm(net.deconv(net.backbone(x))).sigmoid().numpy() if name == "centernet_r18" else None
        feeds.append((x.numpy(), [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))], heat))
    isas = available_isas()
    assert isas
    for isa in isas:
        with force_isa(isa):
            for route, (model, dynamic) in models.items():
                assert (model.inputs[0].shape[0] is None) == dynamic, (name, route, model.inputs[0].shape)
                for x, refs, heat in feeds:
                    if len(x) > 1 and not dynamic:
                        continue
                    outs = model.run({model.inputs[0].name: x})
                    assert_ran(isa)
                    for i, (t, want) in enumerate(zip(model.outputs, refs)):
                        got = outs[t.name]
                        what = "%s output %d via %s, batch %d (%s)" % (name, i, route, len(x), isa)
                        assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
                        if heat is not None and i == 0:
                            _check_nms(got, want, heat, what)
                        elif got.dtype.kind in "biu":
                            # an argmax class map: equal but where torch's own top two logits are
                            # within rounding of each other
                            assert (got != want).mean() < 1e-3, what
                        else:
                            assert_model_close(got, want, what)


def test_heldout4_argmax_is_an_int64_class_map():
    """The UNet's class map leaves both routes as int64 (N, H, W) with values in [0, classes)."""
    net, models, shape, gen = _case("unet_argmax")
    x = torch.randn((2,) + tuple(shape), generator=gen).numpy()
    for route, (model, _) in models.items():
        y = model.run({model.inputs[0].name: x})[model.outputs[0].name]
        assert y.dtype == np.int64 and y.shape == (2,) + tuple(shape[1:]), (route, y.dtype, y.shape)
        assert 0 <= y.min() and y.max() < 5, route


@pytest.mark.parametrize("hw", [(1, 1), (2, 3)])
def test_batchnorm1d_over_a_flattened_image(hw):
    """conv -> flatten -> BatchNorm1d(C * H * W) -> Linear: the BN's channel k = (c, h, w) reads the
    NHWC image's (h, w, c) element (RepViT's head after a global pool is the 1 x 1 case)."""
    h, w = hw

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)
            self.bn = torch.nn.BatchNorm1d(5 * h * w)
            self.fc = torch.nn.Linear(5 * h * w, 4)

        def forward(self, x):
            return self.fc(self.bn(torch.flatten(self.conv(x), 1)))

    torch.manual_seed(1)
    net = Head().eval()
    with torch.no_grad():
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 2)
        net.bn.weight.normal_()
        net.bn.bias.normal_()
    x = torch.randn(3, 3, h, w)
    with torch.no_grad():
        want = net(x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = [fastnorm.from_torch(net, x[:1]), fastnorm.from_onnx(_export(net, x[:1], True, 1))]
    for isa in available_isas():
        with force_isa(isa):
            for m in ms:
                assert_model_close(m.predict(x.numpy()), want, "bn1d head %s (%s)" % (hw, isa))


@pytest.mark.parametrize("case", [(3, 32, 32), (6, 25, 25), (7, 8, 8), ((2, 5), 9, 13)], ids=str)
def test_dynamo_adaptive_pool_gathernd(case):
    """torch's dynamo exporter (torch.onnx.export's default) writes an adaptive average pool whose bins
    do not divide the map (PSPNet's 3 and 6 bins, VGG's 7x7 head on an 8x8 map) as Transpose ->
    GatherND -> masks -> sums -> Div: each step maps (GatherND with constant indices over leading dims
    as slices + concat), and the result matches torch."""
    out, h, w = case

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.pool = torch.nn.AdaptiveAvgPool2d(out)

        def forward(self, x):
            return self.pool(torch.relu(self.conv(x)))

    torch.manual_seed(2)
    net = Net().eval()
    x = torch.randn(2, 3, h, w)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=True, verbose=False)
    onnx = importorskip("onnx")
    assert "GatherND" in {n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node}
    m = fastnorm.from_onnx(buf.getvalue())
    with torch.no_grad():
        want = net(x).numpy()
    for isa in available_isas():
        with force_isa(isa):
            assert_model_close(m.predict(x.numpy()), want, "adaptive pool %s on %dx%d (%s)" % (out, h, w, isa))


def test_gathernd_constant_indices_vs_onnxruntime(rng):
    """GatherND of an activation with constant indices over its two leading (non-batch) dims, against
    ONNX Runtime; an index out of range is a FormatError naming GatherND."""
    onnx = importorskip("onnx")
    ort = importorskip("onnxruntime")
    h = onnx.helper
    idx = rng.integers(-5, 5, (3, 4, 2)).astype(np.int64)
    idx[..., 1] = rng.integers(-6, 6, (3, 4))

    def model(ix):
        nodes = [h.make_node("Transpose", ["X"], ["t"], perm=[2, 3, 0, 1]),
                 h.make_node("GatherND", ["t", "ix"], ["Y"])]
        g = h.make_graph(nodes, "g", [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [2, 3, 5, 6])],
                         [h.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
                         initializer=[onnx.numpy_helper.from_array(ix, "ix")])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
        m.ir_version = 8
        return m.SerializeToString()

    data = model(idx)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"X": x})[0]
    got = fastnorm.from_onnx(data).predict(x)
    assert got.shape == want.shape and np.array_equal(got, want)
    bad = idx.copy()
    bad[0, 0, 0] = 5
    with pytest.raises(fastnorm.FormatError, match="GatherND index out of range"):
        fastnorm.from_onnx(model(bad))


def test_torch_route_batched_matmul_keeps_the_batch():
    """torch.export writes a 4-D matmul as view(B * h, m, k) -> bmm -> view(B, h, m, n) (EfficientViT's
    ReLU linear attention): the torch route maps it to one matmul of the 4-D values and keeps the batch
    dynamic; a merged value used any other way still falls back to a fixed batch."""
    F = torch.nn.functional

    class LinAttn(torch.nn.Module):
        def forward(self, qkv):
            b, _, h, w = qkv.shape
            qkv = torch.reshape(qkv, (b, -1, 12, h * w))
            q, k, v = F.relu(qkv[:, :, 0:4]), F.relu(qkv[:, :, 4:8]), qkv[:, :, 8:]
            v = F.pad(v, (0, 0, 0, 1), mode="constant", value=1)
            out = torch.matmul(torch.matmul(v, k.transpose(-1, -2)), q)
            out = out[:, :, :-1] / (out[:, :, -1:] + 1e-15)
            return torch.reshape(out, (b, -1, h, w))

    class Merged(torch.nn.Module):
        def forward(self, x):   # the merged view read by something other than bmm
            b, c, h, w = x.shape
            return torch.relu(x.reshape(b * c, h, w)).reshape(b, c, h, w) * 2

    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = fastnorm.from_torch(LinAttn().eval(), torch.randn(1, 24, 3, 3))
    assert m.inputs[0].shape[0] is None, [str(w.message)[:120] for w in caught]
    for n in (1, 3):
        x = torch.randn(n, 24, 3, 3)
        with torch.no_grad():
            want = LinAttn()(x).numpy()
        for isa in available_isas():
            with force_isa(isa):
                assert_model_close(m.predict(x.numpy()), want, "linear attention batch %d (%s)" % (n, isa))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m2 = fastnorm.from_torch(Merged().eval(), torch.randn(2, 4, 3, 3))
    x = torch.randn(2, 4, 3, 3)
    assert_model_close(m2.predict(x.numpy()), Merged()(x).numpy(), "merged view")
