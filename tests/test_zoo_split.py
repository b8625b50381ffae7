"""Issue 12's zoo ops: slice / split (channel windows read in place), sub / div / maximum / minimum with
broadcasting, reductions over any axes, transposes up to 6-D, the channel-shuffle idiom, Conv1d; the
kernels against NumPy and the split-heavy families of tests/zoo_split.py against torch eval through both
routes (fx and ONNX), under every ISA.

Model bound: max abs error <= 1e-4 x max(1, max |output|) (tests/test_zoo_torch.py says why it scales).
"""
import functools
import io
import warnings

import numpy as np
import pytest
from util import ATOL_MODEL, assert_close, assert_ran, importorskip

import fastnorm
from fastnorm import _C
from fastnorm.testing import ISA_NAMES

torch = importorskip("torch")
nn = torch.nn

from zoo_split import ZOO_SPLIT, build, example_input  # noqa: E402


def _onnx_bytes(net, x):
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, f, opset_version=17, dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "n"}, "output": {0: "n"}})
    return f.getvalue()


def _load(net, x, route):
    """The model through one route: torch.export or torch.fx (from_torch's route=), or an ONNX export."""
    if route == "onnx":
        return fastnorm.from_onnx(_onnx_bytes(net, x))
    model = fastnorm.from_torch(net, x, route=route)
    assert "torch_fx_fallback" not in {f.code for f in model.doctor()}
    return model


@functools.lru_cache(maxsize=None)
def _case(name, route):
    net = build(name)
    x = example_input(batch=2)
    with torch.no_grad():
        ref = net(x).numpy()
    return _load(net, x[:1], route), x.numpy(), ref


def _check(y, ref, what):
    assert y.shape == ref.shape, what
    err, bound = float(np.abs(y - ref).max()), ATOL_MODEL * max(1.0, float(np.abs(ref).max()))
    assert err <= bound, "%s: max abs err %.3g > %.3g" % (what, err, bound)


ROUTES = ["export", "fx", "onnx"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", sorted(ZOO_SPLIT))
def test_zoo_split_family_matches_torch(name, route, isa):
    model, x, ref = _case(name, route)
    y = model.predict(x)
    assert_ran(isa)
    _check(y, ref, "%s via %s (%s)" % (name, route, isa))


# ------------------------------------------------------------------------------ zero-copy channel splits
class _SplitToConvs(nn.Module):
    """CSP-style: chunk the channels, each half read by a 1x1 conv (and a 3x3 conv of 6 -> 7 channels)."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 3, padding=1)
        self.a, self.b = nn.Conv2d(12, 8, 1), nn.Conv2d(6, 7, 3, padding=1)

    def forward(self, x):
        x = self.stem(x)
        a, b = x.chunk(2, dim=1)
        return torch.cat([self.a(a), self.b(b[:, 3:9])], 1)


@pytest.mark.parametrize("route", ROUTES)
def test_channel_split_read_in_place_adds_no_copy(route, isa):
    net = _SplitToConvs().eval()
    x = torch.randn(2, 3, 11, 13)
    with torch.no_grad():
        ref = net(x).numpy()
    model = _load(net, x, route)
    _check(model.predict(x.numpy()), ref, route)
    assert_ran(isa)
    steps = model.profile(x.numpy(), repeat=1)
    labels = [label for label, _, _ in steps]
    # every split / slice is a window of the stem's buffer, read by the convs with a pixel stride
    assert not any(lb in ("split", "slice", "strided_copy") for lb in labels), labels
    plan = model._plan({model.graph.inputs[0].name: tuple(x.shape)})
    windowed = [r for r in plan.records if r["type"] == _C.OP_CONV2D and r.get("ldx")]
    assert len(windowed) == 2 and sorted(r["xoff"] for r in windowed) == [0, 15], windowed
    assert not any(r["type"] == _C.OP_STRIDED_COPY for r in plan.records)


def _unjustified_copies(model, x):
    """STRIDED_COPY records a channel slice / split made although every reader of the piece reads channel
    windows in place: a generic-path conv (as its input, not its fused residual), a channel cat, a
    broadcasting binary op."""
    from fastnorm.plan.lower_conv import _special_path
    plan = model._plan({model.graph.inputs[0].name: tuple(x.shape)})
    g, users = model.graph, model.graph.consumers()
    by_name = {n.name: n for n in g.nodes}
    bad = []
    for i, r in enumerate(plan.records):
        node = by_name.get(plan.node_of_record[i])
        if r["type"] != _C.OP_STRIDED_COPY or node is None or node.op not in ("slice", "split"):
            continue
        for v in node.outputs:
            readers = users.get(v, [])
            if readers and all(
                    (u.op == "conv2d" and u.inputs[0] == v and v not in u.inputs[1:]
                     and not _special_path(plan, u, g)) or (u.op == "cat" and u.attrs.get("dim") == 1)
                    or u.op in ("add", "mul", "sub", "div", "maximum", "minimum") for u in readers):
                bad.append((node.name, v, [u.op for u in readers]))
    # the channel-piece copies (a dilated conv's phase gathers are copies of another kind)
    return bad, sum(r["type"] == _C.OP_STRIDED_COPY and getattr(by_name.get(plan.node_of_record[i]), "op", None)
                    in ("slice", "split") for i, r in enumerate(plan.records))


# families whose every channel piece is read by window readers: no copy at all (the others copy a piece
# once for a depthwise conv (MixNet) or a conv's fused residual (CSPNet's b + blk(b)))
NO_COPY = ("dpn", "eca", "ghostnet", "res2net", "rexnet", "shufflenet", "sknet")


@pytest.mark.parametrize("name", sorted(ZOO_SPLIT))
def test_split_families_copy_a_channel_piece_only_for_readers_that_need_it(name):
    x = example_input(batch=1)
    model = _load(build(name), x, "export")
    bad, copies = _unjustified_copies(model, x)
    assert not bad, bad
    if name in NO_COPY:
        assert copies == 0
        labels = [label for label, _, _ in model.profile(x.numpy(), repeat=1)]
        assert not any(lb in ("slice", "split") for lb in labels), labels


def test_a_window_read_by_a_non_conv_is_copied_once(isa):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 10, 1)

        def forward(self, x):
            y = self.stem(x)[:, 2:7]
            return torch.sigmoid(y) + y

    net, x = M().eval(), torch.randn(1, 3, 5, 4)
    model = fastnorm.from_torch(net, x)
    _check(model.predict(x.numpy()), net(x).detach().numpy(), "window -> activation")
    plan = model._plan({model.graph.inputs[0].name: tuple(x.shape)})
    assert sum(r["type"] == _C.OP_STRIDED_COPY for r in plan.records) == 1


# ------------------------------------------------------------------------------ kernels vs NumPy
def _isa_id(isa):
    return ISA_NAMES.index(isa)


@pytest.mark.parametrize("shape,perm", [((5, 3), (1, 0)), ((2, 3, 17), (2, 0, 1)), ((2, 5, 7, 3), (0, 3, 1, 2)),
                                         ((3, 1, 4, 2, 5), (0, 2, 1, 3, 4)), ((2, 3, 1, 4, 2, 3), (5, 0, 3, 2, 4, 1)),
                                         ((1, 33, 1), (2, 1, 0))])
def test_strided_copy_is_any_permute(shape, perm, isa, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    want = np.ascontiguousarray(x.transpose(perm))
    y = np.empty(want.size, np.float32)
    strides = tuple(x.strides[p] // 4 for p in perm)
    _C.strided_copy(_isa_id(isa), want.shape, strides, 0, x.reshape(-1), y, 1)
    assert np.array_equal(y.reshape(want.shape), want)


@pytest.mark.parametrize("sl", [(slice(None), slice(3, 20)), (slice(1, 2), slice(None), slice(0, 9, 4)),
                                (slice(None), slice(None), slice(None), slice(5, 6)),
                                (slice(None), slice(1, 35, 3), slice(2, 7))])
def test_strided_copy_is_any_slice(sl, isa, rng):
    x = rng.standard_normal((2, 37, 9, 6)).astype(np.float32)
    v = x[sl]
    off = (v.__array_interface__["data"][0] - x.__array_interface__["data"][0]) // 4
    y = np.empty(v.size, np.float32)
    _C.strided_copy(_isa_id(isa), v.shape, tuple(s // 4 for s in v.strides), off, x.reshape(-1), y, 1)
    assert np.array_equal(y.reshape(v.shape), v)


@pytest.mark.parametrize("kind", ["REDUCE_SUM", "REDUCE_MEAN", "REDUCE_MAX"])
@pytest.mark.parametrize("dims", [(1, 1, 1), (3, 1, 1), (2, 17, 1), (3, 1, 35), (2, 33, 7), (1, 300, 17),
                                  (4, 5, 16), (1, 2, 40000)])
def test_reduce_kernel_matches_numpy(kind, dims, isa, rng):
    x = rng.standard_normal(dims).astype(np.float32)
    y = np.empty((dims[0], dims[2]), np.float32)
    _C.reduce(_isa_id(isa), getattr(_C, kind), x, y, 2)
    want = {"REDUCE_SUM": x.astype(np.float64).sum(1), "REDUCE_MEAN": x.astype(np.float64).mean(1),
            "REDUCE_MAX": x.max(1)}[kind]
    # a sum of n terms of |x| ~ 1 rounds to ~ sqrt(n) ulp of the partial sums
    assert_close(y, want.astype(np.float32), rtol=1e-5, atol=1e-5 * np.sqrt(dims[1]))


_NP_BIN = {"BIN_SUB": np.subtract, "BIN_RSUB": lambda a, b: b - a, "BIN_DIV": np.divide,
           "BIN_RDIV": lambda a, b: b / a, "BIN_MAX": np.maximum, "BIN_MIN": np.minimum}


@pytest.mark.parametrize("op", sorted(_NP_BIN))
@pytest.mark.parametrize("sa_kind", ["same", "row", "col", "scalar"])
def test_binary_kernels_broadcast(op, sa_kind, isa, rng):
    a = rng.standard_normal((3, 5, 37)).astype(np.float32)
    bshape = {"same": (3, 5, 37), "row": (37,), "col": (5, 1), "scalar": (1,)}[sa_kind]
    b = (rng.standard_normal(bshape) + 3.0).astype(np.float32)  # away from 0 for the divisions
    full = np.broadcast_to(b, a.shape)
    sb = tuple(0 if full.strides[d] == 0 else full.strides[d] // 4 for d in range(3))
    y = np.empty(a.size, np.float32)
    _C.binary(_isa_id(isa), getattr(_C, op), 1.0, a.shape, tuple(s // 4 for s in a.strides), sb,
              a.reshape(-1), b.reshape(-1), (0, 0.0, 0.0), y, 1)
    assert_close(y.reshape(a.shape), _NP_BIN[op](a, full).astype(np.float32), rtol=2e-7, atol=0)
    # and with the operands swapped (the driver streams the contiguous one)
    y2 = np.empty(a.size, np.float32)
    _C.binary(_isa_id(isa), getattr(_C, op), 1.0, a.shape, sb, tuple(s // 4 for s in a.strides),
              b.reshape(-1), a.reshape(-1), (0, 0.0, 0.0), y2, 1)
    assert_close(y2.reshape(a.shape), _NP_BIN[op](full, a).astype(np.float32), rtol=2e-7, atol=0)


# ------------------------------------------------------------------------------ ops through both routes
class _Fn(nn.Module):
    def __init__(self, fn, c=12):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.stem(x))


def _uneven(parts):
    return torch.cat([parts[2] * 3, parts[1] * 2, parts[0]], 1)


OPS = {
    "sub_div_max_min": lambda y: torch.maximum(y[:, :6], y[:, 6:]) - torch.minimum(y, y.mean((2, 3), keepdim=True))[:, 3:9]
    / (torch.sigmoid(y[:, :6]) + 0.5),
    "scalar_first": lambda y: (1.0 - y) / (torch.sigmoid(y) + 2.0) - 2.0 / (y * y + 1.0),
    "reduce_axes": lambda y: y - y.sum(1, keepdim=True) + y.amax((1, 3), keepdim=True) * y.mean(2, keepdim=True),
    "reduce_flat": lambda y: torch.cat([y.sum((2, 3)), y.amax(2).flatten(1), y.mean((1, 2))], 1),
    "spatial_slices": lambda y: y[:, :, 1:-1:2, ::3] * 2 + y[:, 2:5].sum(1, keepdim=True)[:, :, 0:7:2, 0:11:3],
    "split_uneven": lambda y: _uneven(torch.split(y, [5, 3, 4], 1)),
    "narrow_chunk": lambda y: torch.cat(torch.narrow(y, 1, 2, 9).chunk(3, 1)[::-1], 1),
    "permute_5d": lambda y: y.reshape(y.shape[0], 3, 4, y.shape[2], y.shape[3]).permute(0, 2, 1, 4, 3).reshape(
        y.shape[0], 12, y.shape[3], y.shape[2]),
    "permute_hw": lambda y: y.permute(0, 1, 3, 2) * 2,
    "softmax_dim2": lambda y: torch.softmax(y, 2) + torch.softmax(y.reshape(y.shape[0], 3, 4, -1), 1).reshape(y.shape),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_zoo_op_matches_torch(name, route, isa):
    net = _Fn(OPS[name]).eval()
    x = torch.randn(2, 3, 9, 11)
    with torch.no_grad():
        ref = net(x).numpy()
    try:
        model = _load(net, x[:1], route)
    except fastnorm.UnsupportedError as e:
        if route == "fx" and "expand" in str(e):
            pytest.skip("fx: expand read by a cat (torch.export and the ONNX route fold it)")
        raise
    y = model.predict(x.numpy())
    assert_ran(isa)
    _check(y, ref, "%s via %s" % (name, route))


def test_channel_shuffle_idiom_is_one_record():
    net = build("shufflenet")
    x = example_input(batch=1)
    for model in (fastnorm.from_torch(net, x), fastnorm.from_onnx(_onnx_bytes(net, x))):
        plan = model._plan({model.graph.inputs[0].name: tuple(x.shape)})
        assert sum(r["type"] == _C.OP_CHANNEL_SHUFFLE for r in plan.records) == 2
        assert not any(r["type"] == _C.OP_STRIDED_COPY and len(r["strided"][0]) == 5 for r in plan.records)


def test_conv1d_and_pool1d_via_unit_height(isa):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv1d(4, 6, 5, stride=2, padding=2, dilation=1)
            self.p, self.a = nn.MaxPool1d(3, 2, 1), nn.AvgPool1d(2)

        def forward(self, x):
            return self.a(self.p(torch.relu(self.c(x))))

    net, x = M().eval(), torch.randn(2, 4, 23)
    with torch.no_grad():
        ref = net(x).numpy()
    model = fastnorm.from_torch(net, x[:1])
    _check(model.predict(x.numpy()), ref, "conv1d + pools (fx)")
    assert_ran(isa)


@pytest.mark.parametrize("how", ["input_size", "twice"])
def test_onnx_resize_sizes_from_shapes_at_a_dynamic_batch(how, isa):
    """Resize whose sizes are Concat(Shape(x)[:2], computed H, W): folded with the symbolic batch."""
    F = torch.nn.functional

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 8, 3, 2, 1)

        def forward(self, x):
            y = self.c(x)
            if how == "input_size":
                return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)
            return F.interpolate(y, size=(y.shape[2] * 2, y.shape[3] * 2), mode="nearest")

    net, x = M().eval(), torch.randn(3, 3, 15, 22)
    model = fastnorm.from_onnx(_onnx_bytes(net, x[:1]))
    with torch.no_grad():
        _check(model.predict(x.numpy()), net(x).numpy(), how)
    assert_ran(isa)


def test_convs_write_their_blocks_of_a_concat(isa):
    """A conv whose output only a channel concat reads writes its block of the concat's buffer in place."""
    class M(nn.Module):
        def __init__(self, with_copy):
            super().__init__()
            self.stem, self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 5, 1), nn.Conv2d(8, 6, 3, padding=1)
            self.with_copy = with_copy

        def forward(self, x):
            y = torch.relu(self.stem(x))
            parts = [self.a(y), y, self.b(y)] if self.with_copy else [self.a(y), self.b(y)]
            return torch.cat(parts, 1) * 2

    x = torch.randn(2, 3, 7, 9)
    for with_copy, ldy, offs in ((True, 19, [0, 13]), (False, 11, [0, 5])):
        net = M(with_copy).eval()
        model = fastnorm.from_torch(net, x[:1])
        with torch.no_grad():
            _check(model.predict(x.numpy()), net(x).numpy(), "cat blocks written in place")
        assert_ran(isa)
        plan = model._plan({model.graph.inputs[0].name: tuple(x.shape)})
        convs = [r for r in plan.records if r["type"] == _C.OP_CONV2D and r.get("ldy")]
        assert sorted(r["yoff"] for r in convs) == offs and {r["ldy"] for r in convs} == {ldy}
        cats = [r for r in plan.records if r["type"] == _C.OP_CAT]
        if with_copy:
            assert len(cats) == 1 and list(cats[0]["cat"][0]).count(-1) == 2
        else:
            assert not cats  # nothing left to copy
