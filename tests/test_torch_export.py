"""Issue 12: the torch.export route of fastnorm.from_torch.

End to end: each family of tests/zoo_export.py (what the public zoos write and torch.fx cannot trace)
loads through from_torch(route="export") with a dynamic batch and matches PyTorch eval at batch 1 and 3,
under every ISA; the segmentation nets at two input sizes. Bound: the issue's, max abs error <=
1e-4 x max(1, max |output|) (util.ATOL_MODEL; see test_zoo_torch for why it scales with the output).

Graph level: the ATen ops whose graph ops another branch adds (slice, split, sub, div, maximum, minimum,
reduce_*) map onto the right nodes and attributes; those graphs are not run here.
"""
import functools
import warnings

import numpy as np
import pytest
from util import importorskip

torch = importorskip("torch")
nn, F = torch.nn, torch.nn.functional

import fastnorm  # noqa: E402
from fastnorm.errors import FastnormWarning, UnsupportedError  # noqa: E402
from fastnorm.frontends.torch_export import export_to_graph  # noqa: E402
from util import ATOL_MODEL, assert_ran  # noqa: E402
from zoo import example_input  # noqa: E402
from zoo_export import EXPORT_ZOO, build  # noqa: E402

CASES = [(name, i) for name in sorted(EXPORT_ZOO) for i in range(len(EXPORT_ZOO[name][1]))]
BATCHES = (1, 3)


@functools.lru_cache(maxsize=None)
def _case(name, size):
    """(fastnorm model through torch.export, {batch: (input, torch output)}), built once per session."""
    net, shapes = build(name)
    shape = shapes[size]
    feeds = {}
    for batch in BATCHES:
        x = example_input(shape, batch, seed=batch)
        with torch.no_grad():
            feeds[batch] = (x.numpy(), net(x).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error", FastnormWarning)   # a clean model gives the doctor nothing to warn
        model = fastnorm.from_torch(net, example_input(shape, 1), route="export")
    return model, feeds


def _bound(ref):
    return ATOL_MODEL * max(1.0, float(np.abs(ref).max()))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name, size", CASES)
def test_family_matches_torch(name, size, batch, isa):
    model, feeds = _case(name, size)
    assert model.inputs[0].shape[0] is None, "the batch is dynamic"
    x, ref = feeds[batch]
    y = model.predict(x)
    assert_ran(isa)
    assert y.shape == ref.shape
    err = float(np.abs(y - ref).max())
    assert err <= _bound(ref), "%s %s batch %d (%s): max abs err %.3g > %.3g" % (
        name, x.shape[2:], batch, isa, err, _bound(ref))


@pytest.mark.parametrize("name", ["bnact", "tf_same", "bit"])
def test_fx_cannot_trace_them_and_auto_takes_export(name):
    net, shapes = build(name)
    x = example_input(shapes[0], 1)
    with pytest.raises(Exception):
        fastnorm.from_torch(net, x, route="fx")
    model = fastnorm.from_torch(net, x)
    assert "torch_fx_fallback" not in {f.code for f in model.doctor()}
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(model.predict(x.numpy()) - ref).max() <= _bound(ref)


def test_assertions_and_shape_arithmetic_vanish():
    model, _ = _case("bnact", 0)
    ops = {n.op for n in model.source_graph.nodes}
    assert ops <= {"conv2d", "batch_norm", "relu", "silu", "max_pool2d", "add", "adaptive_avg_pool2d", "flatten",
                   "linear"}, ops
    # every BatchNormAct folds into its conv, as a plain BatchNorm2d does
    assert not any(n.op == "batch_norm" for n in model.graph.nodes)


def test_tf_same_padding_specialises_and_folds_into_the_conv():
    model, _ = _case("tf_same", 0)
    convs = [n for n in model.source_graph.nodes if n.op == "conv2d"]
    # 32x29 input, k3 s2: pad 1 in all in H ((16-1)*2+3-32), 2 in W; TF puts the odd one bottom/right
    assert convs[0].attrs["padding"] == [0, 1, 1, 1], convs[0].attrs
    pads = [n for n in model.source_graph.nodes if n.op == "pad"]
    assert len(pads) == 1 and pads[0].attrs["value"] == -float("inf"), "only the max-pool's -inf pad stays"


def test_weight_standardisation_is_folded_at_load():
    net, _ = build("bit")
    model, _ = _case("bit", 0)
    conv = net.stem
    w = conv.weight.detach().reshape(conv.out_channels, -1)
    std = ((w - w.mean(1, keepdim=True)) / torch.sqrt(w.var(1, unbiased=False, keepdim=True) + conv.eps))
    src = model.source_graph
    first = next(n for n in src.nodes if n.op == "conv2d")
    got = src.weights[first.inputs[1]].reshape(conv.out_channels, -1)
    assert np.abs(got - std.numpy()).max() <= 1e-5
    assert {n.op for n in src.nodes} <= {"conv2d", "group_norm", "relu", "pad", "max_pool2d", "add",
                                         "adaptive_avg_pool2d", "flatten"}


def test_conv1d_runs_as_conv2d_with_unit_height():
    model, _ = _case("se_eca", 0)
    convs = [n for n in model.source_graph.nodes if n.op == "conv2d" and
             model.source_graph.weights[n.inputs[1]].shape[2] == 1 and
             model.source_graph.weights[n.inputs[1]].shape[3] == 3]
    assert len(convs) == 1 and convs[0].attrs["padding"] == [0, 1, 0, 1]


def test_node_names_follow_the_module_path():
    model, _ = _case("repvgg", 0)
    names = {n.name for n in model.source_graph.nodes}
    assert {"stages_0_dense_0", "stages_0_dense_1", "stages_1_identity"} <= names, sorted(names)


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


# one op (or idiom) at a time, end to end at batch 3 after an export at batch 1
OPS = {
    "max_avg_pool1d": ((4, 9), lambda x: F.max_pool1d(x, 3, 2, 1) + F.avg_pool1d(x, 3, 2, 1)),
    "adaptive_avg_pool1d": ((4, 9), lambda x: F.adaptive_avg_pool1d(x, 4)),
    "pixel_shuffle": ((4, 6, 6), lambda x: F.pixel_shuffle(torch.cat([x] * 4, 1), 2)),
    "pixel_unshuffle": ((4, 6, 6), lambda x: F.pixel_unshuffle(x, 2)),
    "channel_shuffle": ((4, 6, 6), lambda x: F.channel_shuffle(x, 2)),
    "reflect_replicate_pad": ((4, 6, 6), lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect")
                              + F.pad(x, (1, 2, 2, 1), mode="replicate")),
    "nearest_exact": ((4, 6, 6), lambda x: F.interpolate(x, size=(9, 11), mode="nearest-exact")),
    "bilinear_scale": ((4, 6, 6), lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear")),
    "activations": ((4, 6, 6), lambda x: F.gelu(x, approximate="tanh") + F.mish(x) + F.softplus(x, 2.0)
                    + F.celu(x, 0.5) + F.selu(x) + F.elu(x, 0.3) + F.leaky_relu(x, 0.1) + F.hardswish(x)
                    + F.hardsigmoid(x) + torch.tanh(x) + F.relu6(x) + x.clamp(-0.5, 0.5)),
    "softmax": ((4, 6, 6), lambda x: F.softmax(x, 1) + F.log_softmax(x, -1)),
    "layer_norm_chw": ((4, 6, 6), lambda x: F.layer_norm(x, x.shape[1:])),
    "instance_norm": ((4, 6, 6), lambda x: F.instance_norm(x)),
    "adaptive_max_pool": ((4, 6, 6), lambda x: F.adaptive_max_pool2d(x, 2)),
    "avg_pool_ceil": ((4, 6, 6), lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    "scalar_arithmetic": ((4, 6, 6), lambda x: (1 - x / 3 - 2) * -x),
    "expand_cat": ((4, 6, 6), lambda x: torch.cat([x, x.mean((2, 3), keepdim=True).expand(-1, -1, 6, 6)], 1)),
    "conv_transpose1d": ((4, 9), nn.ConvTranspose1d(4, 3, 3, 2, 1, 1)),
    "conv1d_strided_dilated_grouped": ((4, 9), nn.Conv1d(4, 6, 3, 2, 2, 2, groups=2)),
    "prelu": ((4, 6, 6), nn.PReLU(4)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_torch(name):
    shape, fn = OPS[name]
    net = (fn if isinstance(fn, nn.Module) else _Lambda(fn)).eval()
    model = fastnorm.from_torch(net, torch.randn((1,) + shape), route="export")
    assert model.inputs[0].shape[0] is None
    x = torch.randn((3,) + shape)
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(model.predict(x.numpy()) - ref).max() <= _bound(ref)


# ------------------------------------------------------------------------------------------ routes and errors
class _BatchInFeatures(nn.Module):
    """Folds the batch into the channels: no dynamic batch can say this."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 4, 3)

    def forward(self, x):
        return self.conv(x.reshape(1, -1, x.shape[2], x.shape[3]))


def test_static_batch_fallback_warns_and_runs_that_batch():
    net = _BatchInFeatures().eval()
    x = torch.randn(2, 3, 8, 8)
    with pytest.warns(FastnormWarning, match="torch_static_batch"):
        model = fastnorm.from_torch(net, x, route="export")
    assert model.inputs[0].shape == (2, 3, 8, 8)
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(model.predict(x.numpy()) - ref).max() <= _bound(ref)
    with pytest.raises(ValueError, match="expected shape"):
        model.predict(np.zeros((3, 3, 8, 8), np.float32))


class _Unrunnable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.lrn = nn.LPPool2d(3, 2)

    def forward(self, x):
        y = self.lrn(self.conv(x))
        return torch.sin(y) + torch.atan(torch.abs(y))


def test_both_routes_failing_names_both_and_every_op():
    with pytest.raises(UnsupportedError) as e:
        fastnorm.from_torch(_Unrunnable().eval(), torch.randn(1, 3, 8, 8))
    msg = str(e.value)
    assert "[torch.export]" in msg and "[torch.fx]" in msg, msg
    for op in ("aten.sin", "aten.atan", "LPPool2d"):
        assert op in msg, (op, msg)
    assert "aten.abs" not in msg, msg   # an activation of the op table


def test_route_argument():
    with pytest.raises(ValueError, match="route"):
        fastnorm.from_torch(nn.Conv2d(3, 3, 1).eval(), torch.randn(1, 3, 4, 4), route="onnx")
    with pytest.raises(UnsupportedError, match="aten.sin"):
        fastnorm.from_torch(_Unrunnable().eval(), torch.randn(1, 3, 8, 8), route="export")


def test_fx_fallback_is_noted(monkeypatch):
    import fastnorm.frontends.torch_export as te

    def refuse(module, example_input):
        raise te.ExportFailed("torch.export failed: RuntimeError: refused for the test")
    monkeypatch.setattr(te, "export_to_graph", refuse)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    model = fastnorm.from_torch(net, torch.randn(1, 3, 8, 8))
    notes = [f for f in model.doctor() if f.code == "torch_fx_fallback"]
    assert len(notes) == 1 and notes[0].severity == "info" and "refused for the test" in notes[0].message
    with pytest.raises(UnsupportedError, match="refused for the test"):
        fastnorm.from_torch(net, torch.randn(1, 3, 8, 8), route="export")


# ------------------------------------------------------------------------------------------ graph level
def _nodes(module, shape=(2, 8, 6, 6)):
    g = export_to_graph(module.eval(), torch.randn(*shape))
    return g, [n for n in g.nodes]


@pytest.mark.parametrize("fn, sizes", [
    (lambda x: torch.cat(list(x.split([3, 5], 1))[::-1], 1), [3, 5]),
    (lambda x: torch.cat(list(x.split(3, 1))[::-1], 1), [3, 3, 2]),
    (lambda x: torch.cat(list(x.chunk(2, 1))[::-1], 1), [4, 4]),
])
def test_split_maps_to_split(fn, sizes):
    g, nodes = _nodes(_Lambda(fn))
    split = [n for n in nodes if n.op == "split"]
    assert len(split) == 1 and split[0].attrs == {"dim": 1, "sizes": sizes}
    assert len(split[0].outputs) == len(sizes)
    cat = [n for n in nodes if n.op == "cat"]
    assert cat[0].inputs == list(reversed(split[0].outputs))
    assert g.outputs[0].shape == (None, 8, 6, 6)


@pytest.mark.parametrize("fn, attrs", [
    (lambda x: x[:, 2:7], {"dim": 1, "start": 2, "end": 7, "step": 1}),
    (lambda x: x[:, :, 1::2], {"dim": 2, "start": 1, "end": 6, "step": 2}),
    (lambda x: x.narrow(3, 1, 4), {"dim": 3, "start": 1, "end": 5, "step": 1}),
    (lambda x: x[:, -3:], {"dim": 1, "start": 5, "end": 8, "step": 1}),
])
def test_slice_and_narrow_map_to_slice(fn, attrs):
    _, nodes = _nodes(_Lambda(fn))
    assert [(n.op, n.attrs) for n in nodes] == [("slice", attrs)]


def test_full_slices_vanish():
    with pytest.raises(UnsupportedError, match="computes nothing"):
        export_to_graph(_Lambda(lambda x: x[:, :, :]).eval(), torch.randn(2, 8, 6, 6))


def test_select_is_a_slice_and_a_reshape():
    g, nodes = _nodes(_Lambda(lambda x: x[:, 2]))
    assert [n.op for n in nodes] == ["slice", "reshape"]
    assert nodes[0].attrs == {"dim": 1, "start": 2, "end": 3, "step": 1}
    assert nodes[1].attrs == {"shape": [-1, 6, 6]} and g.outputs[0].shape == (None, 6, 6)


@pytest.mark.parametrize("fn, op", [
    (lambda x: x - x.flip(1), "sub"), (lambda x: x / (x.abs() + 1).sin(), None),
    (lambda x: torch.maximum(x, x * 2), "maximum"), (lambda x: torch.minimum(x, x * 2), "minimum"),
    (lambda x: x[:, :4] / x[:, 4:], "div"),
])
def test_binary_activation_ops(fn, op):
    if op is None:
        with pytest.raises(UnsupportedError, match="aten.sin"):
            _nodes(_Lambda(fn))
        return
    try:
        _, nodes = _nodes(_Lambda(fn))
    except UnsupportedError as e:   # x.flip is not mapped: the sub is still checked through the message
        assert "aten.flip" in str(e) and "sub" not in str(e)
        return
    n = [m for m in nodes if m.op == op]
    assert len(n) == 1 and n[0].attrs == {} and len(n[0].inputs) == 2
    assert not any(v in n[0].inputs for v in ())


def test_constant_operands_become_add_mul_or_clamp():
    g, nodes = _nodes(_Lambda(lambda x: torch.maximum((x - 1.5) / 4.0, torch.tensor(0.25)).clamp(max=3) - x))
    ops = [n.op for n in nodes]
    assert ops == ["add", "mul", "clamp", "clamp", "sub"], ops
    assert float(g.weights[nodes[0].inputs[1]][0]) == -1.5
    assert float(g.weights[nodes[1].inputs[1]][0]) == 0.25
    assert nodes[2].attrs == {"min": 0.25, "max": None}
    r = _nodes(_Lambda(lambda x: 2.0 - x))[1]
    assert [n.op for n in r] == ["mul", "add"]


@pytest.mark.parametrize("fn, op, attrs", [
    (lambda x: x.sum(1), "reduce_sum", {"axes": [1], "keepdim": False}),
    (lambda x: x.sum((1, 3), keepdim=True), "reduce_sum", {"axes": [1, 3], "keepdim": True}),
    (lambda x: x.amax(-1), "reduce_max", {"axes": [3], "keepdim": False}),
    (lambda x: x.max(1, keepdim=True)[0], "reduce_max", {"axes": [1], "keepdim": True}),
    (lambda x: x.mean(1, keepdim=True), "reduce_mean", {"axes": [1], "keepdim": True}),
    (lambda x: x.mean((1, 2, 3)), "reduce_mean", {"axes": [1, 2, 3], "keepdim": False}),
])
def test_reductions(fn, op, attrs):
    _, nodes = _nodes(_Lambda(fn))
    assert [(n.op, n.attrs) for n in nodes] == [(op, attrs)]


def test_spatial_mean_stays_a_pool():
    _, nodes = _nodes(_Lambda(lambda x: x.mean((-1, -2))))
    assert [n.op for n in nodes] == ["adaptive_avg_pool2d", "flatten"]


def test_reductions_over_the_batch_are_refused():
    with pytest.raises(UnsupportedError, match="batch"):
        export_to_graph(_Lambda(lambda x: x.sum(0, keepdim=True)).eval(), torch.randn(2, 8, 6, 6))


def _shuffle(x):
    n, c, h, w = x.shape
    return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def test_channel_shuffle_idiom_is_one_node():
    _, nodes = _nodes(_Lambda(_shuffle))
    assert [(n.op, n.attrs) for n in nodes] == [("channel_shuffle", {"groups": 2})]
    net = _Lambda(lambda x: _shuffle(x) * torch.arange(8.0).view(1, 8, 1, 1)).eval()
    model = fastnorm.from_torch(net, torch.randn(1, 8, 5, 5), route="export")
    x = torch.randn(3, 8, 5, 5)
    assert np.abs(model.predict(x.numpy()) - net(x).numpy()).max() <= 1e-6 * 8


def test_other_permutes_map_to_transpose():
    _, nodes = _nodes(_Lambda(lambda x: x.view(x.shape[0], 2, 4, 6, 6).permute(0, 2, 1, 4, 3).flatten(1, 2)))
    assert [n.op for n in nodes] == ["reshape", "transpose", "reshape"]
    assert nodes[1].attrs == {"perm": [0, 2, 1, 4, 3]}
    assert nodes[0].attrs == {"shape": [-1, 2, 4, 6, 6]} and nodes[2].attrs == {"shape": [-1, 8, 6, 6]}


@pytest.mark.parametrize("batch", [1, 2])
def test_flatten_of_the_batch_into_rows_for_batchnorm1d(batch, isa):
    """LeViT's Linear_BN: bn(y.flatten(0, 1)).reshape_as(y) folds the batch into the rows of a 2-D
    BatchNorm1d input; the reshape must not become a flatten after the batch (which made 240
    "channels" of 24)."""
    class LinearBN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(16, 24)
            self.bn = torch.nn.BatchNorm1d(24)

        def forward(self, x):          # (B, N, C) tokens
            y = self.fc(x)
            return self.bn(y.flatten(0, 1)).reshape_as(y)

    torch.manual_seed(batch)
    m = LinearBN().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(batch, 10, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastnormWarning)   # the batch is fixed: it is folded into rows
        model = fastnorm.from_torch(m, x, route="export")
    got = model.predict(x.numpy())
    assert_ran(isa)
    with torch.no_grad():
        want = m(x).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
