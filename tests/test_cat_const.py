"""A constant concatenated beside activations (session 29): CoordConv's coordinate channels, learned
maps and positional planes. ONNX: a Concat input that is a constant of batch 1 where the batch is fixed,
or a constant Expand-ed to the batch size (Expand(c, [Shape(x)[0], ...]), the TorchScript exporter's
expand(b, 1, h, w) pattern with its Where(Equal(shape, -1), ones, shape)) where it is dynamic; such a
"batch constant" may be folded elementwise (xx * xx + yy * yy, sqrt) and read by Concat and the binary
ops, which broadcast it; any other reader of it is refused rather than seeing batch 1. torch: the same
through torch.export (a constant cat input expanded to the batch). Checked against onnxruntime / torch
at batch 1 and 3 under every ISA, along the channel, height and width axes and on 3-D tensors."""
import warnings

import numpy as np
import pytest
from onnx_util import export_outputs
from util import assert_model_close, importorskip

import fastnorm
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.testing import available_isas, force_isa

torch = importorskip("torch")
onnx = importorskip("onnx")
ort = importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

nn = torch.nn


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _ort(data, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})


def _check_all_isas(model, feeds):
    for isa in available_isas():
        with force_isa(isa):
            for x, wants in feeds:
                outs = model.run({model.inputs[0].name: x})
                for t, want in zip(model.outputs, wants):
                    assert_model_close(outs[t.name], want, "%s (%s, batch %d)" % (t.name, isa, len(x)))


# ---------------------------------------------------------------- torch models (both routes + dynamo)
class AddCoords(nn.Module):
    """Coordinate planes in [-1, 1] (and their radius) concatenated on dim 1, first or last."""

    def __init__(self, first=False, radius=True):
        super().__init__()
        self.first, self.radius = first, radius

    def forward(self, x):
        b, _, h, w = x.shape
        xx = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
        yy = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
        parts = [xx, yy] + ([torch.sqrt(xx * xx + yy * yy)] if self.radius else [])
        return torch.cat(parts + [x] if self.first else [x] + parts, 1)


class CoordNet(nn.Module):
    def __init__(self, first, radius, cin=3):
        super().__init__()
        k = 3 if radius else 2
        self.add1 = AddCoords(first, radius)
        self.c1 = nn.Sequential(nn.Conv2d(cin + k, 13, 3, 2, 1), nn.BatchNorm2d(13), nn.ReLU())
        self.add2 = AddCoords(not first, radius)
        self.c2 = nn.Conv2d(13 + k, 6, 3, 1, 1)

    def forward(self, x):
        return self.c2(self.add2(self.c1(self.add1(x))))


class PlaneNet(nn.Module):
    """A fixed positional plane (a buffer) expanded to the batch and joined along `dim` (1: channels,
    2: height, 3: width) of a 4-D map, or along dim 1 / 2 of a (n, c, l) sequence."""

    def __init__(self, dim, seq=False):
        super().__init__()
        self.dim, self.seq = dim, seq
        g = torch.Generator().manual_seed(dim + 10 * seq)
        if seq:
            self.conv = nn.Conv1d(3, 5, 3, padding=1)
            shape = [1, 5, 11]
        else:
            self.conv = nn.Conv2d(3, 5, 3, padding=1)
            shape = [1, 5, 9, 7]
        shape[dim] = 2
        self.register_buffer("plane", torch.randn(shape, generator=g))

    def forward(self, x):
        y = torch.relu(self.conv(x))
        p = self.plane.expand(y.shape[0], *self.plane.shape[1:])
        return torch.cat([y, p], self.dim) * 0.5


TORCH_CASES = {
    "coord_last_radius": (lambda: CoordNet(False, True), (3, 17, 23)),
    "coord_first": (lambda: CoordNet(True, False), (3, 12, 9)),
    "coord_1x1_image": (lambda: CoordNet(False, True), (3, 1, 1)),
    "plane_channels": (lambda: PlaneNet(1), (3, 9, 7)),
    "plane_height": (lambda: PlaneNet(2), (3, 9, 7)),
    "plane_width": (lambda: PlaneNet(3), (3, 9, 7)),
    "plane_seq_channels": (lambda: PlaneNet(1, True), (3, 11)),
    "plane_seq_length": (lambda: PlaneNet(2, True), (3, 11)),
}


def _torch_feeds(net, shape, seed):
    g = torch.Generator().manual_seed(seed)
    feeds = []
    for n in (1, 3):
        x = torch.randn((n,) + tuple(shape), generator=g)
        with torch.no_grad():
            feeds.append((x.numpy(), [net(x).numpy()]))
    return feeds


# torch.linspace(-1, 1, 1) is [-1]; both ONNX exporters write it as a range times 2 / (steps - 1), NaN
# at one step (onnxruntime answers NaN too): the 1x1 image runs on the torch route only
ROUTES = [(n, r) for n in sorted(TORCH_CASES) for r in ("torch", "onnx", "dynamo")
          if not (n == "coord_1x1_image" and r != "torch")]


@pytest.mark.parametrize("name,route", ROUTES)
def test_constant_cat_models(name, route):
    make, shape = TORCH_CASES[name]
    torch.manual_seed(len(name))
    net = make().eval()
    if hasattr(net, "c1"):
        with torch.no_grad():
            bn = net.c1[1]
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    feeds = _torch_feeds(net, shape, len(name) + 1)
    x1 = torch.from_numpy(feeds[0][0])
    if route == "torch":
        model = _quiet(fastnorm.from_torch, net, x1)
    else:
        data = _quiet(export_outputs, net, x1, True, 1, dynamo=(route == "dynamo"))
        model = _quiet(fastnorm.from_onnx, data)
    assert model.inputs[0].shape[0] is None, (name, route, model.inputs[0].shape)
    _check_all_isas(model, feeds)


def test_constant_cat_fnm_round_trip(tmp_path):
    net = CoordNet(False, True).eval()
    feeds = _torch_feeds(net, (3, 10, 14), 5)
    model = _quiet(fastnorm.from_onnx, _quiet(export_outputs, net, torch.from_numpy(feeds[0][0]), True, 1))
    p = tmp_path / "coord.fnm"
    model.save(str(p))
    _check_all_isas(fastnorm.load(str(p)), feeds)
    _check_all_isas(fastnorm.load(p.read_bytes()), feeds)   # a model's bytes load too


# ---------------------------------------------------------------- hand-built ONNX graphs
def _graph(nodes, inits, xshape, yshape, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)
    g = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(a, n) for n, a in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _batch_expand(src, out, rest):
    """out = Expand(src, [Shape(x)[0]] + rest) as the TorchScript exporter writes expand(b, ...)."""
    return [
        helper.make_node("Shape", ["x"], [out + "_s"]),
        helper.make_node("Gather", [out + "_s", "zero"], [out + "_b"], axis=0),
        helper.make_node("Unsqueeze", [out + "_b", "axes0"], [out + "_bu"]),
        helper.make_node("Concat", [out + "_bu", out + "_rest"], [out + "_t"], axis=0),
        helper.make_node("Expand", [src, out + "_t"], [out]),
    ], {out + "_rest": np.asarray(rest, np.int64)}


_COMMON = {"zero": np.asarray(0, np.int64), "axes0": np.asarray([0], np.int64)}


def _feeds(data, shape):
    rng = np.random.default_rng(3)
    return [(x, _ort(data, x)) for x in (rng.standard_normal((n,) + shape).astype(np.float32) for n in (1, 3))]


@pytest.mark.parametrize("axis", [1, 2, 3, -1])
@pytest.mark.parametrize("position", [0, 1])
def test_onnx_batch_expanded_constant_concat(axis, position):
    """Expand(c, [N, ...]) -> Mul / Sqrt folds -> Concat beside x, any axis but the batch's, the
    constant first or last; then a conv reads the cat (an image cat) or not (axis 2 / 3)."""
    rng = np.random.default_rng(axis % 4 + 7 * position)
    shape = [4, 6, 5]
    cshape = list(shape)
    cshape[axis % 4 - 1] = 2
    c = rng.standard_normal([1] + cshape).astype(np.float32)
    nodes, inits = _batch_expand("c", "ce", cshape)
    inits.update(_COMMON, c=c)
    nodes += [helper.make_node("Mul", ["ce", "ce"], ["sq"]), helper.make_node("Sqrt", ["sq"], ["r"])]
    cat_in = ["x", "r"] if position else ["r", "x"]
    nodes.append(helper.make_node("Concat", cat_in, ["cat"], axis=axis))
    out_shape = list(shape)
    out_shape[axis % 4 - 1] += 2
    w = rng.standard_normal((3, out_shape[0], 3, 3)).astype(np.float32) * 0.3
    inits["w"] = w
    nodes.append(helper.make_node("Conv", ["cat", "w"], ["y"], pads=[1, 1, 1, 1]))
    data = _graph(nodes, inits, ["N"] + shape, ["N", 3] + out_shape[1:])
    model = fastnorm.from_onnx(data)
    assert model.inputs[0].shape[0] is None
    _check_all_isas(model, _feeds(data, tuple(shape)))


def test_onnx_batch_constant_binary_reader():
    """A batch constant read by Add / Mul beside an activation broadcasts over the batch."""
    rng = np.random.default_rng(1)
    c = rng.standard_normal((1, 4, 3, 5)).astype(np.float32)
    nodes, inits = _batch_expand("c", "ce", [4, 3, 5])
    inits.update(_COMMON, c=c)
    nodes += [helper.make_node("Add", ["x", "ce"], ["a"]), helper.make_node("Mul", ["ce", "a"], ["y"])]
    data = _graph(nodes, inits, ["N", 4, 3, 5], ["N", 4, 3, 5])
    _check_all_isas(fastnorm.from_onnx(data), _feeds(data, (4, 3, 5)))


@pytest.mark.parametrize("reader", ["Flatten", "ReduceSum", "Transpose"])
def test_onnx_batch_constant_other_readers_refused(reader):
    """A reader that would see the batch constant's batch as 1 (it moves or reduces dim 0's data) is
    refused with the reason, never run wrong."""
    c = np.ones((1, 2, 3, 3), np.float32)
    nodes, inits = _batch_expand("c", "ce", [2, 3, 3])
    inits.update(_COMMON, c=c)
    attrs = {"Flatten": {"axis": 0}, "ReduceSum": {"keepdims": 1}, "Transpose": {"perm": [1, 0, 2, 3]}}[reader]
    nodes.append(helper.make_node(reader, ["ce"], ["t"], **attrs))
    nodes.append(helper.make_node("Mul", ["x", "t"], ["y"]))
    data = _graph(nodes, inits, ["N", 2, 3, 3], None)
    with pytest.raises(fastnorm.UnsupportedError, match="constant expanded to the batch size"):
        fastnorm.from_onnx(data)


def test_onnx_plain_constant_concat_fixed_batch():
    """A constant of the model's fixed batch joins as one weight (the same for each sample); one that
    differs across the batch is refused; batch 1 beside a dynamic batch is refused (only an Expand to
    the batch size joins any batch)."""
    rng = np.random.default_rng(2)
    c = np.repeat(rng.standard_normal((1, 2, 4, 4)).astype(np.float32), 2, axis=0)
    nodes = [helper.make_node("Concat", ["x", "c"], ["cat"], axis=1), helper.make_node("Relu", ["cat"], ["y"])]
    data = _graph(nodes, {"c": c}, [2, 3, 4, 4], [2, 5, 4, 4])
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    _check_all_isas(fastnorm.from_onnx(data), [(x, _ort(data, x))])
    c2 = c.copy()
    c2[1] += 1
    with pytest.raises(fastnorm.UnsupportedError, match="differs across the batch"):
        fastnorm.from_onnx(_graph(nodes, {"c": c2}, [2, 3, 4, 4], [2, 5, 4, 4]))
    with pytest.raises(fastnorm.UnsupportedError, match="constant input 1 has batch 1"):
        fastnorm.from_onnx(_graph(nodes, {"c": c[:1]}, ["N", 3, 4, 4], ["N", 5, 4, 4]))


def test_onnx_constant_concat_shape_mismatch_is_malformed():
    c = np.ones((1, 2, 3, 4), np.float32)
    nodes = [helper.make_node("Concat", ["x", "c"], ["y"], axis=1)]
    with pytest.raises(fastnorm.FormatError, match=r"constant input 1 of shape \[1, 2, 3, 4\] cannot join"):
        fastnorm.from_onnx(_graph(nodes, {"c": c}, [1, 3, 4, 4], None))


# ---------------------------------------------------------------- the IR
def test_graph_cat_weight_inputs():
    """A cat node may take weights (a batch-1 constant, broadcast over the batch) beside one activation
    or more; a cat of weights only is refused by Graph.check."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((1, 2, 3, 5)).astype(np.float32)
    g = Graph([TensorSpec("x", (None, 3, 3, 5))], [TensorSpec("y", (None, 7, 3, 5))],
              [Node("cat", "cat", ["w", "x", "w"], ["y"], {"dim": 1})], {"w": w})
    model = fastnorm.Model(g)
    x = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    want = np.concatenate([np.repeat(w, 3, 0), x, np.repeat(w, 3, 0)], 1)
    for isa in available_isas():
        with force_isa(isa):
            np.testing.assert_array_equal(model.predict(x), want)
    bad = Graph([TensorSpec("x", (None, 3, 3, 5))], [TensorSpec("y", (None, 4, 3, 5))],
                [Node("cat", "cat", ["w", "w"], ["y"], {"dim": 1})], {"w": w})
    with pytest.raises(ValueError, match="every cat input is a weight"):
        bad.check()
