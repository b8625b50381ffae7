"""Comparisons, selection and index reductions on activations (session 26): the kernels (fn_binary's
EQ..GE / KEEP / DROP kinds, fn_reduce's MIN / PROD / ARGMAX / ARGMIN[_LAST]) against NumPy under every
ISA, and the graphs that use them through both import routes: ONNX Equal / Less / Greater /
LessOrEqual / GreaterOrEqual / Not / And / Or / Xor / Where / ArgMax / ArgMin / ReduceMin / ReduceProd /
Cast against ONNX Runtime, torch's comparisons, where, masked_fill, argmax, amin, prod and bool / int
outputs against torch. Bool and integer values run as float32 and leave the model in their own dtype;
integer arithmetic whose float answer differs (Div, ...) is refused by name."""
import io
import warnings

import numpy as np
import pytest

from util import assert_ran, importorskip

import fastnorm
from fastnorm import _C
from fastnorm.errors import UnsupportedError
from fastnorm.testing import available_isas, force_isa

ACT_NONE = (0, 0.0, 0.0)

_NP_CMP = {"BIN_EQ": np.equal, "BIN_NE": np.not_equal, "BIN_LT": np.less, "BIN_GT": np.greater,
           "BIN_LE": np.less_equal, "BIN_GE": np.greater_equal,
           "BIN_KEEP": lambda a, b: np.where(b != 0, a, 0), "BIN_RKEEP": lambda a, b: np.where(a != 0, b, 0),
           "BIN_DROP": lambda a, b: np.where(b != 0, 0, a), "BIN_RDROP": lambda a, b: np.where(a != 0, 0, b)}


def _edgy(rng, n):
    """Values with ties, zeros of both signs, NaN and infinities among normal ones."""
    x = rng.integers(-3, 4, n).astype(np.float32) * 0.5
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-40], np.float32)
    pick = rng.random(n) < 0.2
    x[pick] = specials[rng.integers(0, len(specials), int(pick.sum()))]
    return x


@pytest.mark.parametrize("kind", sorted(_NP_CMP))
@pytest.mark.parametrize("n", [1, 7, 16, 17, 33, 100, 40000])
def test_compare_select_kernels(isa, rng, kind, n):
    """Every element, full vectors and tails, both operands streamed, either one broadcast (the driver
    swaps a broadcast first operand: LT <-> GT, KEEP <-> RKEEP, ...); 1.0 / 0.0 exactly, NaN compares
    false (NE true), the selections give the operand bit for bit or +0.0."""
    a, b = _edgy(rng, n), _edgy(rng, n)
    op = getattr(_C, kind)
    f = _NP_CMP[kind]
    with np.errstate(invalid="ignore"):
        cases = [((n,), (1,), (1,), a, b, f(a, b)),
                 ((n,), (1,), (0,), a, b[:1], f(a, b[:1])),
                 ((n,), (0,), (1,), a[:1], b, f(a[:1], b))]
        for shape, sa, sb, x, z, want in cases:
            for threads in (1, 2):
                y = np.empty(n, np.float32)
                _C.binary(-1, op, 1.0, shape, sa, sb, x, z, ACT_NONE, y, threads)
                assert_ran(isa)
                want32 = np.asarray(want, np.float32)
                assert np.array_equal(y, want32, equal_nan=True), (kind, sa, sb, threads)
                if kind.endswith("KEEP") or kind.endswith("DROP"):   # the operand's bits, not a rounding of them
                    nz = want32 != 0
                    assert np.array_equal(y.view(np.uint32)[nz], want32.view(np.uint32)[nz]), kind


_ARG_KINDS = ["REDUCE_ARGMAX", "REDUCE_ARGMIN", "REDUCE_ARGMAX_LAST", "REDUCE_ARGMIN_LAST"]


def _np_arg(kind, x):
    """NumPy's argmax / argmin over axis 1 (the first of ties; NaN counts as the extreme) and their
    last-of-ties forms."""
    f = np.argmax if "MAX" in kind else np.argmin
    if kind.endswith("_LAST"):
        return x.shape[1] - 1 - f(x[:, ::-1], axis=1)
    return f(x, axis=1)


@pytest.mark.parametrize("kind", _ARG_KINDS + ["REDUCE_MIN", "REDUCE_PROD"])
@pytest.mark.parametrize("dims", [(1, 1, 1), (3, 1, 9), (2, 21, 1), (2, 7, 13), (1, 3, 2500), (4, 2, 16),
                                  (3, 300, 5)], ids=str)
def test_reduce_kinds_match_numpy(isa, rng, kind, dims):
    """(outer, len, inner) -> (outer, inner) over len; the arg kinds on tied values and with NaN
    (kept out of MIN / PROD, whose NaN order is the x86 max's); inner above the driver's chunk."""
    if kind in _ARG_KINDS:
        x = rng.integers(-2, 3, dims).astype(np.float32)
        if dims[1] > 2:
            x.reshape(-1)[::37] = np.nan
    elif kind == "REDUCE_PROD":
        x = (1 + 0.05 * rng.standard_normal(dims)).astype(np.float32)
    else:
        x = rng.standard_normal(dims).astype(np.float32)
    got = []
    for threads in (1, 2):
        y = np.empty((dims[0], dims[2]), np.float32)
        _C.reduce(-1, getattr(_C, kind), x, y, threads)
        got.append(y)
    assert np.array_equal(got[0], got[1])
    y = got[0]
    if kind in _ARG_KINDS:
        assert np.array_equal(y, _np_arg(kind, x).astype(np.float32)), kind
    elif kind == "REDUCE_MIN":
        assert np.array_equal(y, x.min(1))
    else:
        want = np.prod(x.astype(np.float64), axis=1)
        assert np.allclose(y, want, rtol=2e-6 * dims[1], atol=0)


# ------------------------------------------------------------------------------ ONNX graphs


def _onnx():
    return importorskip("onnx")


def _ort_run(data, x):
    ort = importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    return s.run(None, {"X": x})


def _graph(nodes, outputs, inits=(), opset=17, shape=("N", 5, 6, 7)):
    onnx = _onnx()
    h = onnx.helper
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, list(shape))],
                     [h.make_tensor_value_info(name, dt, None) for name, dt in outputs],
                     initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _const(name, a):
    return _onnx().numpy_helper.from_array(np.asarray(a), name)


def _cases():
    """name -> (nodes, outputs as (name, dtype), initializers, opset)."""
    onnx = _onnx()
    T = onnx.TensorProto
    mk = onnx.helper.make_node
    out = {}
    relu = mk("Relu", ["X"], ["R"])
    for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
        out[op] = ([relu, mk(op, ["X", "R"], ["Y"]), mk(op, ["X", "k"], ["Z"]), mk(op, ["k", "R"], ["W"])],
                   [("Y", T.BOOL), ("Z", T.BOOL), ("W", T.BOOL)],
                   [_const("k", np.array([[[0.5]], [[-1.0]], [[0.0]], [[2.0]], [[0.25]]], np.float32))], 17)
    out["logic"] = ([mk("Greater", ["X", "lo"], ["a"]), mk("Less", ["X", "hi"], ["b"]), mk("And", ["a", "b"], ["Y"]),
                     mk("Or", ["a", "b"], ["o"]), mk("Not", ["o"], ["Z"]), mk("Xor", ["a", "b"], ["W"])],
                    [("Y", T.BOOL), ("Z", T.BOOL), ("W", T.BOOL)],
                    [_const("lo", np.float32(-0.5)), _const("hi", np.float32(0.5))], 17)
    out["where"] = ([mk("Greater", ["X", "zero"], ["c"]), mk("Where", ["c", "X", "m1"], ["Y"]),
                     mk("ReduceMax", ["X"], ["mx"], axes=[1], keepdims=1), mk("Greater", ["mx", "zero"], ["c2"]),
                     relu, mk("Where", ["c2", "R", "X"], ["Z"]), mk("Where", ["c", "m1", "X"], ["W"])],
                    [("Y", T.FLOAT), ("Z", T.FLOAT), ("W", T.FLOAT)],
                    [_const("zero", np.float32(0)), _const("m1", np.float32(-np.inf))], 17)
    out["argmax"] = ([relu, mk("ArgMax", ["R"], ["Y"], axis=1, keepdims=0),
                      mk("ArgMax", ["R"], ["Z"], axis=1, keepdims=1, select_last_index=1),
                      mk("ArgMin", ["X"], ["W"], axis=-1, keepdims=0),
                      mk("ArgMin", ["R"], ["V"], axis=2, keepdims=1, select_last_index=1)],
                     [("Y", T.INT64), ("Z", T.INT64), ("W", T.INT64), ("V", T.INT64)], [], 13)
    out["reduce_min_prod"] = ([mk("ReduceMin", ["X"], ["Y"], axes=[1], keepdims=0),
                               mk("ReduceMin", ["X"], ["Z"], axes=[2, 3], keepdims=1),
                               mk("ReduceProd", ["X"], ["W"], axes=[1], keepdims=1)],
                              [("Y", T.FLOAT), ("Z", T.FLOAT), ("W", T.FLOAT)], [], 17)
    out["reduce_min_18"] = ([mk("ReduceMin", ["X", "ax"], ["Y"], keepdims=0)], [("Y", T.FLOAT)],
                            [_const("ax", np.array([-1], np.int64))], 18)
    out["casts"] = ([mk("ArgMax", ["X"], ["i"], axis=1, keepdims=1), mk("Cast", ["i"], ["f"], to=T.FLOAT),
                     mk("Mul", ["X", "f"], ["Y"]), mk("Cast", ["i"], ["Z"], to=T.INT32),
                     mk("Cast", ["X"], ["b"], to=T.BOOL), mk("Cast", ["b"], ["W"], to=T.INT64),
                     mk("Equal", ["i", "two"], ["e"]), mk("Cast", ["e"], ["ef"], to=T.FLOAT),
                     mk("Add", ["ef", "X"], ["V"])],
                    [("Y", T.FLOAT), ("Z", T.INT32), ("W", T.INT64), ("V", T.FLOAT)],
                    [_const("two", np.array(2, np.int64))], 17)
    return out


_CASE_NAMES = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "logic", "where", "argmax",
               "reduce_min_prod", "reduce_min_18", "casts"]


@pytest.mark.parametrize("name", _CASE_NAMES)
def test_onnx_logic_matches_onnxruntime(name, rng):
    nodes, outputs, inits, opset = _cases()[name]
    data = _graph(nodes, outputs, inits, opset)
    m = fastnorm.from_onnx(data)
    assert [np.dtype(t.dtype) for t in m.outputs] == [
        np.dtype({1: np.float32, 9: np.bool_, 7: np.int64, 6: np.int32}[dt]) for _, dt in outputs]
    for n in (1, 3):
        # rounded values: ties for the arg reductions and equal pairs for the comparisons
        x = (np.round(rng.standard_normal((n, 5, 6, 7)) * 2) / 2).astype(np.float32)
        want = _ort_run(data, x)
        for isa in available_isas():
            with force_isa(isa):
                got = m.run({"X": x})
                assert_ran(isa)
            for (oname, _), w in zip(outputs, want):
                g = got[oname]
                assert g.dtype == w.dtype and g.shape == w.shape, (name, oname, g.dtype, w.dtype, g.shape, w.shape)
                if g.dtype == np.float32:
                    assert np.allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True), (name, oname, isa)
                else:
                    assert np.array_equal(g, w), (name, oname, isa, n)


def test_onnx_logic_survives_fnm(tmp_path, rng):
    """A model with int64 / int32 / bool outputs saved and loaded: the same dtypes and values."""
    nodes, outputs, inits, opset = _cases()["casts"]
    m = fastnorm.from_onnx(_graph(nodes, outputs, inits, opset))
    nodes2, outputs2, inits2, _ = _cases()["logic"]
    m2 = fastnorm.from_onnx(_graph(nodes2, outputs2, inits2, 17))
    x = rng.standard_normal((2, 5, 6, 7)).astype(np.float32)
    for model in (m, m2):
        p = str(tmp_path / "m.fnm")
        model.save(p)
        back = fastnorm.load(p)
        assert [t.dtype for t in back.outputs] == [t.dtype for t in model.outputs]
        a, b = model.run({"X": x}), back.run({"X": x})
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_onnx_argmax_predict_fast_path(rng):
    """predict (one output) returns int64 on its first call and on the cached fast path."""
    onnx = _onnx()
    mk = onnx.helper.make_node
    data = _graph([mk("ArgMax", ["X"], ["Y"], axis=1, keepdims=0)], [("Y", onnx.TensorProto.INT64)])
    m = fastnorm.from_onnx(data)
    x = rng.standard_normal((2, 5, 6, 7)).astype(np.float32)
    for _ in range(3):
        y = m.predict(x)
        assert y.dtype == np.int64 and np.array_equal(y, np.argmax(x, 1))


@pytest.mark.parametrize("case", ["div", "cast_float_to_int", "sqrt_of_bool", "where_float_cond"])
def test_onnx_integer_arithmetic_refused(case):
    """Ops whose integer meaning differs from float32's are refused with the op and dtype named."""
    onnx = _onnx()
    T = onnx.TensorProto
    mk = onnx.helper.make_node
    if case == "div":
        nodes = [mk("ArgMax", ["X"], ["i"], axis=1), mk("Div", ["i", "two"], ["Y"])]
        outs, inits, match = [("Y", T.INT64)], [_const("two", np.array(2, np.int64))], "Div of an int64 value"
    elif case == "cast_float_to_int":
        nodes, outs, inits, match = [mk("Cast", ["X"], ["Y"], to=T.INT64)], [("Y", T.INT64)], [], "truncation"
    elif case == "sqrt_of_bool":
        nodes = [mk("Greater", ["X", "z"], ["b"]), mk("Sqrt", ["b"], ["Y"])]
        outs, inits, match = [("Y", T.BOOL)], [_const("z", np.float32(0))], "Sqrt of a bool value"
    else:
        nodes = [mk("Where", ["X", "X", "X"], ["Y"])]
        outs, inits, match = [("Y", T.FLOAT)], [], "non-bool condition"
    with pytest.raises(UnsupportedError, match=match):
        fastnorm.from_onnx(_graph(nodes, outs, inits))


# ------------------------------------------------------------------------------ torch


def _torch_models():
    torch = importorskip("torch")
    nn = torch.nn
    F = torch.nn.functional

    class Seg(nn.Module):
        """Logits -> class map (argmax over channels), the usual last step of a segmentation export."""
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 7, 3, padding=1)

        def forward(self, x):
            return self.c(x).argmax(1)

    class Nms(nn.Module):
        """CenterNet's heatmap peak filter: keep = (maxpool(h) == h), h * keep; masked_fill and where."""
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            h = torch.sigmoid(self.c(x))
            keep = (F.max_pool2d(h, 3, 1, 1) == h).float()
            y = h * keep + torch.where(h > 0.5, h, -2 * h)
            y = y.masked_fill(h < 0.2, -1.0) + (h <= 0.3).float() + (h >= 0.7).to(h.dtype)
            return y - torch.amin(h, 1, keepdim=True) + torch.prod(h, dim=1, keepdim=True) + (h != 0.5).float()

    class Multi(nn.Module):
        """bool and int outputs: argmin over H, a logical and, a class-id test, logical_not / or / xor."""
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 6, 3, padding=1)

        def forward(self, x):
            y = self.c(x)
            a, b = y > 0, y < 1
            return (torch.argmin(y, dim=2, keepdim=True), a & b, y.argmax(1) == 2,
                    torch.logical_not(a) | torch.logical_xor(a, b))

    return {"seg": Seg, "nms": Nms, "multi": Multi}


@pytest.mark.parametrize("name", ["seg", "nms", "multi"])
def test_torch_logic_matches_torch(name):
    torch = importorskip("torch")
    torch.manual_seed(3)
    net = _torch_models()[name]().eval()
    x1 = torch.randn(1, 3, 9, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"torch": fastnorm.from_torch(net, x1)}
        buf = io.BytesIO()
        torch.onnx.export(net, (x1,), buf, dynamo=False, opset_version=17, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}})
        models["onnx"] = fastnorm.from_onnx(buf.getvalue())
    for n in (1, 3):
        x = torch.randn(n, 3, 9, 7)
        with torch.no_grad():
            ref = net(x)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for isa in available_isas():
            with force_isa(isa):
                for route, m in models.items():
                    outs = m.run({m.inputs[0].name: x.numpy()})
                    assert_ran(isa)
                    for r, t in zip(ref, m.outputs):
                        g, w = outs[t.name], r.numpy()
                        assert g.dtype == w.dtype and g.shape == w.shape, (name, route, t.name, g.dtype, w.dtype)
                        if g.dtype == np.float32:
                            assert np.allclose(g, w, rtol=1e-5, atol=1e-5), (name, route, isa)
                        else:
                            assert np.array_equal(g, w), (name, route, isa, t.name)


def test_torch_float_to_int_cast_refused():
    torch = importorskip("torch")

    class M(torch.nn.Module):
        def forward(self, x):
            return (x * 10).long()

    with pytest.raises(UnsupportedError, match="cast to torch.int64 of a float32"):
        fastnorm.from_torch(M().eval(), torch.randn(1, 3, 4, 4))
