"""The model doctor: every finding from a crafted graph or a traced model, the fold report, warnings."""
import warnings

import numpy as np
import pytest
from util import importorskip

import fastnorm
from fastnorm.doctor import FOLD_ERROR_WARN, Finding, diagnose
from fastnorm.errors import FastnormWarning
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.models import simple_cnn
from fastnorm.passes import fold_batchnorm, optimize

CONV = {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1}


def bn_weights(w, prefix, c, rng=None, mean=None, var=None, gamma=None, beta=None):
    """Trained-looking statistics unless given."""
    rng = rng or np.random.default_rng(len(w))
    w[prefix + ".m"] = np.asarray(rng.normal(0, 0.5, c) if mean is None else mean, np.float32)
    w[prefix + ".v"] = np.asarray(rng.uniform(0.2, 3, c) if var is None else var, np.float32)
    w[prefix + ".g"] = np.asarray(rng.normal(1, 0.2, c) if gamma is None else gamma, np.float32)
    w[prefix + ".b"] = np.asarray(rng.normal(0, 0.2, c) if beta is None else beta, np.float32)
    return [prefix + s for s in (".m", ".v", ".g", ".b")]


def conv_bn(n_bn=1, batch=None, eps=1e-5, **stats):
    """input -> (conv -> BN -> relu) x n_bn, 4 channels, 6x6."""
    rng = np.random.default_rng(0)
    w, nodes, x = {}, [], "x"
    for i in range(n_bn):
        w["cw%d" % i] = rng.normal(0, 0.3, (4, 3 if i == 0 else 4, 3, 3)).astype(np.float32)
        w["cb%d" % i] = rng.normal(0, 0.3, 4).astype(np.float32)
        nodes += [Node("conv%d" % i, "conv2d", [x, "cw%d" % i, "cb%d" % i], ["c%d" % i], dict(CONV)),
                  Node("bn%d" % i, "batch_norm", ["c%d" % i] + bn_weights(w, "bn%d" % i, 4, rng, **stats),
                       ["b%d" % i], {"eps": eps}),
                  Node("relu%d" % i, "relu", ["b%d" % i], ["r%d" % i])]
        x = "r%d" % i
    nodes[-1].outputs = ["y"]
    return Graph([TensorSpec("x", (batch, 3, 6, 6))], [TensorSpec("y", (batch, 4, 6, 6))], nodes, w)


def codes(findings, severity=None):
    return [f.code for f in findings if severity is None or f.severity == severity]


def build(graph, **kw):
    """Model(graph) and the FastnormWarnings its construction emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastnorm.Model(graph, **kw)
    return model, [w for w in caught if issubclass(w.category, FastnormWarning)]


# ------------------------------------------------------------------------------------ statistics
def test_trained_conv_bn_has_no_warnings():
    model, caught = build(conv_bn(2))
    assert caught == []
    assert codes(model.doctor()) == ["fold_summary"]
    f = model.doctor()[0]
    assert isinstance(f, Finding) and f.severity == "info" and f.fix


def test_default_stats_warn_once_naming_every_bn():
    g = conv_bn(3, mean=np.zeros(4), var=np.ones(4))
    model, caught = build(g)
    assert codes(model.doctor(), "warning") == ["bn_default_stats"] * 3
    assert len(caught) == 1, [str(w.message) for w in caught]
    msg = str(caught[0].message)
    assert "never trained or stats not loaded" in msg and "load the trained state_dict" in msg
    assert "bn0" in msg and "bn1" in msg and "bn2" in msg
    assert caught[0].filename == __file__, "the warning should point at the caller, not into fastnorm"


def test_default_stats_need_both_mean_zero_and_var_one():
    assert "bn_default_stats" not in codes(diagnose(conv_bn(1, mean=np.zeros(4))))
    assert "bn_default_stats" not in codes(diagnose(conv_bn(1, var=np.ones(4))))


@pytest.mark.parametrize("which", ["mean", "var"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_running_stats_are_errors(which, bad):
    vals = np.array([0.1, bad, 0.3, 0.4]) if which == "mean" else np.array([1.0, 2.0, bad if bad != -np.inf else np.inf, 1.0])
    model, caught = build(conv_bn(1, **{which: vals}))
    found = [f for f in model.doctor() if f.code == "bn_nonfinite_stats"]
    assert len(found) == 1 and found[0].severity == "error" and found[0].node == "bn0"
    assert ("running_" + which) in found[0].message and "1 NaN/Inf of 4" in found[0].message
    assert model.doctor()[0].severity == "error", "errors come first"
    assert any("bn_nonfinite_stats" in str(w.message) for w in caught)


def test_negative_variance():
    # var + eps <= 0: that channel's output is NaN
    f = [f for f in diagnose(conv_bn(1, var=[1.0, -0.5, 2.0, 1.0])) if f.code == "bn_negative_var"]
    assert len(f) == 1 and f[0].severity == "error"
    assert "1 negative" in f[0].message and "var + eps <= 0 in 1 channel" in f[0].message
    # negative but var + eps > 0: still corrupt statistics
    f = [f for f in diagnose(conv_bn(1, eps=1e-3, var=[1.0, -1e-5, 2.0, 1.0])) if f.code == "bn_negative_var"]
    assert len(f) == 1 and f[0].severity == "error" and "var + eps" not in f[0].message


def test_nonfinite_gamma_is_an_error():
    f = [f for f in diagnose(conv_bn(1, gamma=[1.0, np.nan, np.inf, 1.0])) if f.code == "bn_nonfinite_affine"]
    assert len(f) == 1 and f[0].severity == "error" and "gamma" in f[0].message and "2 NaN/Inf" in f[0].message


# ------------------------------------------------------------------------------------ inputs, notes
def test_fixed_batch_of_one():
    f = [f for f in diagnose(conv_bn(1, batch=1)) if f.code == "fixed_batch"]
    assert len(f) == 1 and f[0].severity == "warning" and f[0].node == "x"
    assert "dynamic_axes={'x': {0: 'batch'}}" in f[0].fix
    assert "fixed_batch" not in codes(diagnose(conv_bn(1)))


def test_frontend_notes_are_reported_once():
    g = conv_bn(1, batch=1)
    g.notes = [("fixed_batch", "x", "the ONNX input x has batch 1"),
               ("odd_thing", "conv0", "something a frontend noticed")]
    found = diagnose(g)
    assert codes(found).count("fixed_batch") == 1
    odd = [f for f in found if f.code == "odd_thing"]
    assert len(odd) == 1 and odd[0].node == "conv0" and odd[0].message == "something a frontend noticed"
    assert odd[0].severity == "warning" and odd[0].fix


# ------------------------------------------------------------------------------------ folding
def _graph(nodes, w, inputs, outputs):
    return Graph([TensorSpec(n, s) for n, s in inputs], [TensorSpec(n, s) for n, s in outputs], nodes, w)


def not_folded(graph):
    return {f.node: f for f in diagnose(graph) if f.code == "bn_not_folded"}


def test_bn_after_cat_is_kept_with_its_reason():
    rng = np.random.default_rng(1)
    w = {"cw": rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)}
    nodes = [Node("conv", "conv2d", ["x", "cw", ""], ["c"], dict(CONV)),
             Node("cat", "cat", ["c", "x"], ["k"], {"dim": 1}),
             Node("bn", "batch_norm", ["k"] + bn_weights(w, "bn", 7, rng), ["y"], {"eps": 1e-5})]
    g = _graph(nodes, w, [("x", (None, 3, 5, 5))], [("y", (None, 7, 5, 5))])
    f = not_folded(g)["bn"]
    assert f.severity == "info" and "follows cat 'cat'" in f.message
    assert "fused scale/shift" in f.fix and "each branch" in f.fix
    report = fold_batchnorm(g).fold_report
    assert report == [{"bn": "bn", "into": None, "code": "not_conv", "reason": "follows cat 'cat', not a conv/linear",
                       "max_abs_error": None}]


def test_bn_whose_conv_output_is_read_twice():
    rng = np.random.default_rng(2)
    w = {"cw": rng.normal(0, 0.3, (3, 3, 3, 3)).astype(np.float32)}
    nodes = [Node("conv", "conv2d", ["x", "cw", ""], ["c"], dict(CONV)),
             Node("bn", "batch_norm", ["c"] + bn_weights(w, "bn", 3, rng), ["b"], {"eps": 1e-5}),
             Node("add", "add", ["b", "c"], ["y"])]
    g = _graph(nodes, w, [("x", (None, 3, 5, 5))], [("y", (None, 3, 5, 5))])
    f = not_folded(g)["bn"]
    assert "also read by 'add'" in f.message and "other reader" in f.fix


def test_bn_after_linear_with_3d_input():
    rng = np.random.default_rng(3)
    w = {"lw": rng.normal(0, 0.3, (5, 5)).astype(np.float32)}
    nodes = [Node("fc", "linear", ["x", "lw", ""], ["h"]),
             Node("bn", "batch_norm", ["h"] + bn_weights(w, "bn", 4, rng), ["y"], {"eps": 1e-5})]
    g = _graph(nodes, w, [("x", (None, 4, 5))], [("y", (None, 4, 5))])
    f = not_folded(g)["bn"]
    assert "3D input" in f.message and "flatten" in f.fix


def test_bn_after_relu_and_at_the_input():
    rng = np.random.default_rng(4)
    w = {"cw": rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)}
    nodes = [Node("bn0", "batch_norm", ["x"] + bn_weights(w, "bn0", 3, rng), ["x0"], {"eps": 1e-5}),
             Node("conv", "conv2d", ["x0", "cw", ""], ["c"], dict(CONV)),
             Node("relu", "relu", ["c"], ["r"]),
             Node("bn1", "batch_norm", ["r"] + bn_weights(w, "bn1", 4, rng), ["y"], {"eps": 1e-5})]
    g = _graph(nodes, w, [("x", (None, 3, 5, 5))], [("y", (None, 4, 5, 5))])
    found = not_folded(g)
    assert "graph input 'x'" in found["bn0"].message and "pre-activation" in found["bn0"].message
    assert "follows relu 'relu'" in found["bn1"].message and "before the activation" in found["bn1"].fix


def test_fold_report_lists_every_bn_in_order():
    g = simple_cnn()
    report = optimize(g).fold_report
    assert [(r["bn"], r["into"], r["reason"]) for r in report] == [("bn1", "conv1", None), ("bn2", "conv2", None)]


def _conv64(x, w, b):
    """conv2d (stride 1, padding 1) in float64."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + wd], w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def test_fold_error_is_reported_small_and_bounds_the_real_change():
    g = conv_bn(1)
    f = fold_batchnorm(g)
    (r,) = f.fold_report
    assert r["into"] == "conv0" and 0 < r["max_abs_error"] < 1e-5
    # the exact fold in float64, against the float32 weights the pass stored, on inputs in [-1, 1]
    w = {k: v.astype(np.float64) for k, v in g.weights.items()}
    s = w["bn0.g"] / np.sqrt(w["bn0.v"] + 1e-5)
    w64, b64 = w["cw0"] * s.reshape(-1, 1, 1, 1), (w["cb0"] - w["bn0.m"]) * s + w["bn0.b"]
    conv = f.nodes[0]
    w32, b32 = (f.weights[v].astype(np.float64) for v in conv.inputs[1:3])
    x = np.sign(np.random.default_rng(0).uniform(-1, 1, (4, 3, 6, 6)))   # |x| = 1: near the worst case
    change = np.abs(_conv64(x, w32, b32) - _conv64(x, w64, b64)).max()
    assert 0 < change <= r["max_abs_error"] * (1 + 1e-9)
    model = fastnorm.Model(g)
    assert "largest fold error" in model.summary()
    assert [x.code for x in model.doctor()] == ["fold_summary"]
    assert "%.2g" % r["max_abs_error"] in model.doctor()[0].message


def test_large_fold_error_is_a_warning():
    # near-zero variance, tiny eps: s = gamma / sqrt(var + eps) ~ 1e5 amplifies the float32 rounding
    g = conv_bn(1, eps=1e-10, var=np.zeros(4), gamma=np.full(4, 1.0))
    model, caught = build(g)
    f = [f for f in model.doctor() if f.code == "fold_error"]
    assert len(f) == 1 and f[0].severity == "warning"
    assert model.graph.fold_report[0]["max_abs_error"] > FOLD_ERROR_WARN
    assert "optimize=False" in f[0].fix and any("fold_error" in str(w.message) for w in caught)


def test_unoptimised_model_reports_no_folding():
    model, caught = build(conv_bn(1), optimize=False)
    assert caught == [] and model.doctor() == []
    assert "bn0 -> standalone scale/shift (optimize=False)" in model.summary()


def test_summary_batchnorm_section():
    s = fastnorm.Model(simple_cnn()).summary()
    assert "bn1 -> folded into conv1 (conv2d), error " in s
    assert "bn2 -> folded into conv2 (conv2d), error " in s
    assert "BatchNorm: 2 folded into the layer before; 0 standalone" in s


# ------------------------------------------------------------------------------------ from torch
torch = importorskip("torch")
nn = torch.nn
from models import TinyResNet, realistic_bn  # noqa: E402  (needs torch)


def from_torch(net, shape=(1, 3, 16, 16)):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastnorm.from_torch(net, torch.randn(*shape))
    return model, [w for w in caught if issubclass(w.category, FastnormWarning)]


class PreAct(nn.Module):
    """Two pre-activation blocks (BN -> ReLU -> conv, twice, plus the identity), then BN after a cat."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.ModuleList()
        for _ in range(2):
            self.blocks.append(nn.ModuleDict({
                "bn1": nn.BatchNorm2d(8), "conv1": nn.Conv2d(8, 8, 3, padding=1, bias=False),
                "bn2": nn.BatchNorm2d(8), "conv2": nn.Conv2d(8, 8, 3, padding=1, bias=False)}))
        self.side = nn.Conv2d(8, 8, 1)
        self.bn_cat = nn.BatchNorm2d(16)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            y = b["conv1"](torch.relu(b["bn1"](x)))
            x = x + b["conv2"](torch.relu(b["bn2"](y)))
        return self.bn_cat(torch.cat([x, self.side(x)], 1))


def test_training_mode_batch_norm_warns_with_the_fix():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False), nn.ReLU()).eval()
    model, caught = from_torch(net)
    f = [f for f in model.doctor() if f.code == "bn_batch_stats"]
    assert len(f) == 1 and f[0].severity == "warning" and "model.eval()" in f[0].fix
    assert len(caught) == 1 and "model.eval()" in str(caught[0].message)
    assert "bn_not_folded" not in codes(model.doctor()), "reported once, as bn_batch_stats"
    assert "standalone scale/shift+relu (uses batch statistics" in model.summary()


def test_untrained_torch_model_warns_default_stats():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    model, caught = from_torch(net)
    assert codes(model.doctor(), "warning") == ["bn_default_stats"]
    assert len(caught) == 1 and "never trained or stats not loaded" in str(caught[0].message)


def test_preactivation_and_cat_batch_norms_are_explained():
    model, caught = from_torch(realistic_bn(PreAct(), seed=1))
    assert caught == []
    found = {f.node: f for f in model.doctor() if f.code == "bn_not_folded"}
    # blocks.0.bn1 reads the stem conv's output (also the identity); blocks.1.bn1 reads the add
    first, second = found["blocks_0_bn1"], found["blocks_1_bn1"]
    assert "also read by" in first.message and "pre-activation" in first.message
    assert "follows add" in second.message and "pre-activation" in second.message
    assert "with the relu fused" in second.fix
    assert "follows cat" in found["bn_cat"].message
    assert not any(k.endswith("bn2") for k in found), "bn2 follows conv1 in each block and folds"
    s = model.summary()
    assert "blocks_1_bn2 -> folded into blocks_1_conv1 (conv2d)" in s
    assert "blocks_1_bn1 -> standalone scale/shift+relu (follows add" in s


def test_clean_resnet_gives_no_warnings():
    model, caught = from_torch(realistic_bn(TinyResNet()), (1, 3, 32, 32))
    assert caught == []
    assert codes(model.doctor()) == ["fold_summary"]
    assert all(r["into"] for r in model.graph.fold_report)
    assert max(r["max_abs_error"] for r in model.graph.fold_report) < 1e-5
