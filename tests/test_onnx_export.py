"""Models exported by torch.onnx.export (TorchScript exporter) at several opsets, run by fastnorm and by
onnxruntime on the same file, at batch 1 and 4, under every ISA."""
import numpy as np
import pytest
from util import importorskip

torch = importorskip("torch")
importorskip("onnx")
importorskip("onnxruntime")

import torch.nn as nn  # noqa: E402

import fastnorm  # noqa: E402
from models import SimpleCNN, TinyResNet, realistic_bn  # noqa: E402
from onnx_util import assert_matches, export, reference  # noqa: E402


class ActZoo(nn.Module):
    """One of each activation between convs (so a wrong one shows)."""

    def __init__(self, opset):
        super().__init__()
        acts = [nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(0.7), nn.SELU(), nn.Sigmoid(), nn.Tanh(), nn.ReLU6(),
                nn.Hardtanh(-0.5, 0.7), nn.Softplus(), nn.PReLU(6), nn.PReLU(), nn.Mish()]
        if opset >= 9:
            acts += [nn.Hardsigmoid()]
        if opset >= 14:
            acts += [nn.Hardswish()]
        self.body = nn.Sequential(*[m for a in acts for m in (nn.Conv2d(6, 6, 3, padding=1), a)])

    def forward(self, x):
        return self.body(x)


class Heads(nn.Module):
    """Pooling variants, concat, residual adds, SE-style gating, flatten/linear/softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.c3 = nn.Conv2d(16, 8, 1)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        a = torch.relu(self.bn(self.c1(x)))                      # 8 x 16 x 16
        b = self.c2(a)
        y = self.c3(torch.cat([a, b], 1)) + a
        g = torch.sigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        y = y * g
        y = nn.functional.max_pool2d(y, 2, 2, ceil_mode=True) + nn.functional.avg_pool2d(y, 3, 2, 1)
        y = y - 0.25
        y = y / 2.0
        return torch.log_softmax(self.fc(y.view(y.size(0), -1)), 1)


class UpNet(nn.Module):
    """Decoder-style glue: upsampling (nearest / bilinear), pixel shuffle, padding, global pooling."""

    def __init__(self, align):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.ps = nn.PixelShuffle(2)
        self.c2 = nn.Conv2d(2, 4, 3)
        self.align = align

    def forward(self, x):
        y = self.c1(x)
        y = nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        y = nn.functional.interpolate(y, scale_factor=2, mode="bilinear", align_corners=self.align)
        y = self.ps(y)
        y = nn.functional.pad(y, (1, 1, 2, 0), mode="reflect")
        y = nn.functional.pad(y, (1, 0, 0, 1))
        y = self.c2(y)
        return y + nn.functional.adaptive_avg_pool2d(y, 1)


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.inn = nn.InstanceNorm2d(8, affine=True)
        self.ln = nn.LayerNorm([8, 6, 6])
        self.fc = nn.Linear(8 * 6 * 6, 16)
        self.ln2 = nn.LayerNorm(16)

    def forward(self, x):
        y = self.ln(self.inn(self.gn(self.c(x))))
        return self.ln2(self.fc(torch.flatten(y, 1)))


def _init(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5) + 0.05)
    return m.eval()


MODELS = {
    "simplecnn": (lambda op: realistic_bn(SimpleCNN()), (3, 32, 32), (9, 11, 13, 17, 18)),
    "tinyresnet": (lambda op: realistic_bn(TinyResNet()), (3, 32, 32), (9, 13, 17)),
    "actzoo": (lambda op: _init(ActZoo(op)), (6, 7, 7), (9, 11, 13, 17, 18)),
    "heads": (lambda op: realistic_bn(_init(Heads()), 1), (3, 32, 32), (9, 11, 13, 17, 18)),
    "upnet": (lambda op: _init(UpNet(False)), (3, 5, 6), (11, 13, 17, 18)),
    "upnet_align": (lambda op: _init(UpNet(True)), (3, 5, 6), (11, 13, 18)),
    "norms": (lambda op: _init(Norms()), (3, 6, 6), (17, 18)),
}
CASES = [(name, op) for name, (_, _, ops) in MODELS.items() for op in ops]
_FILES = {}


def _file(name, opset, dynamic=True):
    key = (name, opset, dynamic)
    if key not in _FILES:
        make, shape, _ = MODELS[name]
        torch.manual_seed(0)
        _FILES[key] = export(make(opset), (1,) + shape, opset, dynamic)
    return _FILES[key]


@pytest.mark.parametrize("name,opset", CASES, ids=["%s-op%d" % c for c in CASES])
def test_exported_model_matches_onnxruntime(name, opset, isa):
    data = _file(name, opset)
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(opset)
    for n in (1, 4):
        x = rng.standard_normal((n,) + MODELS[name][1]).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x)[0], "%s opset %d batch %d" % (name, opset, n))


@pytest.mark.parametrize("name", ["simplecnn", "heads", "upnet"])
def test_fixed_batch_export_runs_at_any_batch(name, isa):
    """Exported without dynamic axes (batch fixed at 1, shape glue folded to constants by torch)."""
    data = _file(name, 13, dynamic=False)
    model = fastnorm.from_onnx(data)
    assert model.inputs[0].shape[0] is None
    assert any(code == "fixed_batch_generalized" for code, _, _ in model.source_graph.notes)
    x = np.random.default_rng(0).standard_normal((4,) + MODELS[name][1]).astype(np.float32)
    assert_matches(model.predict(x), reference(data, x, fixed_batch=1)[0])


def test_load_path_and_bytes_and_proto(tmp_path):
    import onnx
    data = _file("simplecnn", 13)
    p = tmp_path / "m.onnx"
    p.write_bytes(data)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    want = reference(data, x)[0]
    for src in (fastnorm.load(str(p)), fastnorm.load(p), fastnorm.from_onnx(str(p)), fastnorm.from_onnx(data),
                fastnorm.from_onnx(onnx.load_from_string(data))):
        assert_matches(src.predict(x), want)


def test_glue_folds_to_one_flatten():
    model = fastnorm.from_onnx(_file("simplecnn", 13))
    assert not [n for n in model.graph.nodes if n.op == "batch_norm"]
    # the view(x.size(0), -1) glue became one flatten
    assert [n.op for n in model.source_graph.nodes].count("flatten") == 1


def test_saved_fnm_roundtrip(tmp_path):
    data = _file("heads", 13)
    model = fastnorm.from_onnx(data)
    model.save(str(tmp_path / "m.fnm"))
    again = fastnorm.load(str(tmp_path / "m.fnm"))
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


class Decoder(nn.Module):
    """ConvTranspose2d with stride, padding, output_padding, groups and dilation."""

    def __init__(self):
        super().__init__()
        self.t1 = nn.ConvTranspose2d(6, 8, 4, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.t2 = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.t3 = nn.ConvTranspose2d(4, 3, 3, stride=1, padding=2, dilation=2, bias=False)

    def forward(self, x):
        return torch.tanh(self.t3(torch.relu(self.t2(torch.relu(self.bn(self.t1(x)))))))


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_exported_conv_transpose_matches_onnxruntime(opset, isa):
    """ConvTranspose -> the IR's conv_transpose2d (convt branch): passes once that branch is merged."""
    torch.manual_seed(0)
    data = export(_init(Decoder()), (1, 6, 5, 4), opset)
    model = fastnorm.from_onnx(data)
    rng = np.random.default_rng(opset)
    for n in (1, 4):
        x = rng.standard_normal((n, 6, 5, 4)).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x)[0], "decoder opset %d batch %d" % (opset, n))
