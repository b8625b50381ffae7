"""Every entry point takes any float32 array a caller may hold -- read-only, non-contiguous, Fortran-ordered,
big-endian, unaligned, memory-mapped, a broadcast view -- gives the answer it gives for a writable
contiguous copy, and never writes into it (the input's bytes are compared before and after).

In-place options (inplace=True) on an input fastnorm may not write (read-only, or not float32) return a new
array and leave the input alone (ops/_act.py)."""
import numpy as np
import pytest
from util import importorskip

import fastnorm
import fastnorm.ops as ops
from fastnorm import optable

KINDS = ["readonly", "noncontiguous", "fortran", "bigendian", "unaligned", "memmap", "broadcast"]


def make(kind, a, tmp_path):
    """An array equal to `a` (float32) held the way `kind` says."""
    if kind == "readonly":
        v = a.copy()
        v.flags.writeable = False
    elif kind == "noncontiguous":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1] + 1,), np.float32) if a.ndim else np.zeros(3, np.float32)
        v = big[..., 1::2] if a.ndim else big[1:2].reshape(())
        v[...] = a
        assert a.ndim == 0 or a.shape[-1] < 2 or not v.flags.c_contiguous
    elif kind == "fortran":
        v = np.asfortranarray(a)
    elif kind == "bigendian":
        v = a.astype(">f4")
    elif kind == "unaligned":
        raw = np.zeros(a.nbytes + 1, np.uint8)
        v = raw[1:].view(np.float32).reshape(a.shape)
        v[...] = a
        assert not v.flags.aligned
    elif kind == "memmap":
        path = tmp_path / ("m%d.f32" % len(list(tmp_path.iterdir())))
        a.tofile(path)
        v = np.memmap(path, dtype=np.float32, mode="r", shape=a.shape)  # read-only mapping
    elif kind == "broadcast":  # zero strides, read-only: the values of `a` along the first axis
        v = np.broadcast_to(a[:1], a.shape) if a.ndim and a.shape[0] > 1 else np.broadcast_to(a, a.shape)
    assert np.array_equal(np.asarray(v, np.float32), a if kind != "broadcast" else np.asarray(v)), kind
    return v


def _plain(v):
    """The writable, C-contiguous, native float32 copy of v: what the answer must equal."""
    return np.array(v, dtype=np.float32, order="C")


def _snapshot(arrays):
    return [np.asarray(v).tobytes(order="A") + repr((np.asarray(v).strides, v.dtype.str)).encode() for v in arrays]


def _same(got, want, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want):
            _same(g, w, what)
        return
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), what
        for k in want:
            _same(got[k], want[k], what + " " + k)
        return
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape, got.dtype)
    assert np.array_equal(got, want, equal_nan=True), "%s: answer differs from the contiguous one" % what


def _pos(shape, rng):
    return (rng.random(shape) + 0.5).astype(np.float32)


def _rand(shape, rng):
    return rng.standard_normal(shape).astype(np.float32)


X = (2, 4, 6, 5)
# name -> (function of the arrays, [array factories]); every function of fastnorm.ops.__all__
OPS = {
    "relu": (ops.relu, [X]), "relu6": (ops.relu6, [X]), "hardtanh": (ops.hardtanh, [X]),
    "clamp": (lambda x: ops.clamp(x, -0.5, 0.5), [X]), "leaky_relu": (ops.leaky_relu, [X]),
    "prelu": (ops.prelu, [X, (4,)]), "elu": (ops.elu, [X]), "selu": (ops.selu, [X]), "celu": (ops.celu, [X]),
    "sigmoid": (ops.sigmoid, [X]), "tanh": (ops.tanh, [X]), "silu": (ops.silu, [X]), "gelu": (ops.gelu, [X]),
    "hardsigmoid": (ops.hardsigmoid, [X]), "hardswish": (ops.hardswish, [X]), "mish": (ops.mish, [X]),
    "softplus": (ops.softplus, [X]),
    "softmax": (lambda x: (ops.softmax(x, dim=1), ops.softmax(x, dim=-1)), [X]),
    "log_softmax": (lambda x: (ops.log_softmax(x, dim=1), ops.log_softmax(x, dim=-1)), [X]),
    "conv2d": (lambda x, w, b: ops.conv2d(x, w, b, padding=1), [X, (3, 4, 3, 3), (3,)]),
    "conv2d_depthwise": (lambda x, w, b: ops.conv2d(x, w, b, padding=1, groups=4), [X, (4, 1, 3, 3), (4,)]),
    "conv2d_1x1": (lambda x, w, b: ops.conv2d(x, w, b), [X, (8, 4, 1, 1), (8,)]),
    "conv_transpose2d": (lambda x, w, b: ops.conv_transpose2d(x, w, b, stride=2), [X, (4, 3, 3, 3), (3,)]),
    "linear": (ops.linear, [(3, 7), (5, 7), (5,)]),
    "flatten": (lambda x: ops.flatten(x, 1), [X]),
    "add": (ops.add, [X, X]), "mul": (ops.mul, [X, X]),
    "cat": (lambda x, y: ops.cat([x, y], 1), [X, X]),
    "pad": (lambda x: (ops.pad(x, (1, 2, 0, 1)), ops.pad(x, (1, 1, 2, 1), mode="reflect")), [X]),
    "interpolate": (lambda x: (ops.interpolate(x, scale_factor=2), ops.interpolate(x, scale_factor=2, mode="bilinear")),
                    [X]),
    "pixel_shuffle": (lambda x: ops.pixel_shuffle(x, 2), [X]),
    "pixel_unshuffle": (lambda x: ops.pixel_unshuffle(x[..., :4], 2), [(2, 4, 6, 4)]),
    "channel_shuffle": (lambda x: ops.channel_shuffle(x, 2), [X]),
    "batch_norm": (lambda x, m, v, w, b: ops.batch_norm(x, m, v, w, b), [X, (4,), ("pos", 4), (4,), (4,)]),
    "layer_norm": (lambda x, w, b: ops.layer_norm(x, (5,), w, b), [X, (5,), (5,)]),
    "layer_norm_channels": (ops.layer_norm_channels, [X, (4,), (4,)]),
    "group_norm": (lambda x, w, b: ops.group_norm(x, 2, w, b), [X, (4,), (4,)]),
    "instance_norm": (lambda x, w, b: ops.instance_norm(x, weight=w, bias=b), [X, (4,), (4,)]),
    "max_pool2d": (lambda x: ops.max_pool2d(x, 2), [X]),
    "avg_pool2d": (lambda x: ops.avg_pool2d(x, 3, 2, 1), [X]),
    "adaptive_avg_pool2d": (lambda x: ops.adaptive_avg_pool2d(x, (2, 3)), [X]),
    "adaptive_max_pool2d": (lambda x: ops.adaptive_max_pool2d(x, 2), [X]),
    "as_float32": (lambda x: ops.as_float32(x, "x").copy(), [X]),
}
# every activation row of the op table (fastnorm/optable.py) with its defaults: a new row needs no line here
OPS.update({r.name: (getattr(ops, r.name), [X]) for r in optable.activations() if r.name not in OPS})


def test_every_op_is_covered():
    covered = {name.split("_depthwise")[0].split("_1x1")[0] for name in OPS}
    assert set(ops.__all__) <= covered, sorted(set(ops.__all__) - covered)


def _inputs(specs, rng):
    out = []
    for s in specs:
        out.append(_pos(s[1:], rng) if s[0] == "pos" else _rand(s, rng))
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(OPS))
def test_op(name, kind, tmp_path):
    fn, specs = OPS[name]
    base = _inputs(specs, np.random.default_rng(7))
    held = [make(kind, a, tmp_path) for a in base]
    want = fn(*[_plain(v) for v in held])
    before = _snapshot(held)
    got = fn(*held)
    assert _snapshot(held) == before, "%s wrote into its %s input" % (name, kind)
    _same(got, want, "%s(%s)" % (name, kind))


INPLACE = ["relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "silu", "hardsigmoid", "hardswish",
           "mish"]
INPLACE += [r.name for r in optable.activations() if r.act.inplace and r.name not in INPLACE]


@pytest.mark.parametrize("name", INPLACE)
@pytest.mark.parametrize("kind", ["readonly", "memmap", "broadcast", "bigendian"])
def test_inplace_on_an_input_it_may_not_write(name, kind, tmp_path):
    x = make(kind, _rand(X, np.random.default_rng(3)), tmp_path)
    before = _snapshot([x])
    fn = getattr(ops, name)
    y = fn(x, inplace=True)
    assert y is not x and _snapshot([x]) == before
    _same(y, fn(_plain(x)), name)


# ------------------------------------------------------------------------------------------ Model
@pytest.fixture(scope="module")
def model():
    torch = importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.SiLU(),
                                      nn.Conv2d(8, 8, 1))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))

        def forward(self, x):
            y = self.stem(x)
            return self.head(y + self.body(y))

    torch.manual_seed(11)
    net = Net().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return fastnorm.from_torch(net, torch.zeros(1, 3, 16, 12))


ENTRY = {
    "run": lambda m, x: m.run({m.graph.inputs[0].name: x}),
    "predict": lambda m, x: m.predict(x),
    "predict_twice": lambda m, x: (m.predict(x), m.predict(x)),  # the second call takes the fast path
    "profile": lambda m, x: tuple(sorted(r[0] for r in m.profile(x, repeat=1))),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("entry", list(ENTRY))
def test_model_entry_points(model, entry, kind, tmp_path):
    x = make(kind, _rand((2, 3, 16, 12), np.random.default_rng(5)), tmp_path)
    want = ENTRY[entry](model, _plain(x))
    before = _snapshot([x])
    got = ENTRY[entry](model, x)
    assert _snapshot([x]) == before, "%s wrote into its %s input" % (entry, kind)
    if entry == "profile":
        assert got == want
    else:
        _same(got, want, "%s(%s)" % (entry, kind))


def test_issue_read_only_run_and_predict(model):
    """The issue's case: a read-only array (ONNX test data are read-only views of protobuf bytes)."""
    x = np.random.default_rng(0).random((2, 3, 16, 12)).astype(np.float32)
    want = model.predict(x.copy())
    x.flags.writeable = False
    name = model.graph.inputs[0].name
    assert np.array_equal(model.run({name: x})[model.graph.outputs[0].name], want)
    assert np.array_equal(model.predict(x), want)
    ro = np.frombuffer(x.tobytes(), np.float32).reshape(x.shape)  # read-only by construction
    assert np.array_equal(model.predict(ro), want)
