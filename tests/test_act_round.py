"""Rounding to float16 / bfloat16 (ONNX Cast of a float activation to those types, then used as float):
the act kinds ROUND_F16 and ROUND_BF16 (src_c/simd/vmath.h fn_round_f16 / fn_round_bf16) under every
ISA, bit for bit against NumPy's float16 conversion and a float64 nearest-even reference for bfloat16,
on every binade of float32 (random mantissas), the exact ties either side of an even and an odd last
kept bit, the overflow thresholds, subnormals, zeros, infinities and NaN; and the ONNX route against
onnxruntime."""
import numpy as np
import pytest
from util import assert_ran, importorskip

from fastnorm import _C
from fastnorm.ops import _act

P = _act.params()


def _samples():
    rng = np.random.default_rng(29)
    # every float32 binade, random mantissas, both signs
    exps = np.repeat(np.arange(0, 255, dtype=np.uint32), 2000)
    bits = (exps << 23) | rng.integers(0, 1 << 23, exps.size, dtype=np.uint32)
    bits |= rng.integers(0, 2, bits.size, dtype=np.uint32) << 31
    x = [bits.view(np.float32)]
    # exact ties and their neighbours for both targets: mantissa ...k 1000... (k even and odd), +-1 ulp
    for drop in (13, 16):                         # float16 keeps 10 mantissa bits, bfloat16 7
        base = (rng.integers(1, 254, 20000, dtype=np.uint32) << 23) | (
            rng.integers(0, 1 << (23 - drop), 20000, dtype=np.uint32) << drop)
        tie = base | np.uint32(1 << (drop - 1))
        x += [v.view(np.float32) for v in (tie, tie - np.uint32(1), tie + np.uint32(1))]
    # float16's subnormal ties (k + 1/2) 2^-24 and its overflow edge
    k = np.arange(0, 2048, dtype=np.float64)
    x.append(((k + 0.5) * 2.0 ** -24).astype(np.float32))
    x.append(np.array([65504, 65519.996, 65520, 65535, 65536, 1e5, 3.4028235e38, 6.1035156e-05, 6.0975552e-05,
                       5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-45, 0.0, -0.0, np.inf, -np.inf, np.nan,
                       -np.nan], np.float32))
    x = np.concatenate(x).astype(np.float32)
    return np.concatenate([x, -x])


def _ref_bf16(x):
    """float32 -> nearest bfloat16 (ties to the even last kept bit) -> float32, by distances in float64."""
    b = x.view(np.uint32)
    lo = (b & np.uint32(0xFFFF0000)).view(np.float32)           # toward zero
    hi_bits = (b & np.uint32(0xFFFF0000)) + np.uint32(0x10000)   # one bfloat16 step away from zero
    hi = hi_bits.view(np.float32)
    # the step's size in float64 (past the largest finite bfloat16 the next "value" is 2^128, not inf)
    e = ((b >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int64)
    step = np.ldexp(1.0, np.maximum(e, 1) - 127 - 7)
    with np.errstate(invalid="ignore", over="ignore"):
        d_lo = np.abs(x.astype(np.float64) - lo.astype(np.float64))
        d_hi = np.abs(np.abs(lo.astype(np.float64)) + step - np.abs(x.astype(np.float64)))
        odd_lo = ((b >> np.uint32(16)) & np.uint32(1)).astype(bool)
        take_hi = (d_hi < d_lo) | ((d_hi == d_lo) & odd_lo)
    out = np.where(take_hi, hi, lo)
    # (the step past the largest finite bfloat16 is inf: its bits are inf's)
    return np.where(np.isnan(x) | np.isinf(x), x, out).astype(np.float32)


def _same(got, want):
    """bit for bit, any NaN matching any NaN"""
    nan = np.isnan(want)
    assert (np.isnan(got) == nan).all(), np.flatnonzero(np.isnan(got) != nan)[:5]
    bad = np.flatnonzero(got.view(np.uint32)[~nan] != want.view(np.uint32)[~nan])
    assert bad.size == 0, [(float(a), float(b), float(c)) for a, b, c in
                           zip(_samples()[~nan][bad[:5]], got[~nan][bad[:5]], want[~nan][bad[:5]])]


@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_round_kinds_bit_exact(kind, isa):
    x = _samples()
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).astype(np.float32) if kind == "f16" else _ref_bf16(x)
    y = np.empty_like(x)
    _C.act_apply(-1, _C.ACTK_ROUND_F16 if kind == "f16" else _C.ACTK_ROUND_BF16, x, P, y, 1)
    assert_ran(isa)
    _same(y, want)
    # odd lengths: the vector tail path
    for n in (1, 7, 15, 17, 33):
        t = np.empty(n, np.float32)
        _C.act_apply(-1, _C.ACTK_ROUND_F16 if kind == "f16" else _C.ACTK_ROUND_BF16, x[-n:].copy(), P, t, 1)
        _same(t, want[-n:])


@pytest.mark.parametrize("to", ["FLOAT16", "BFLOAT16"])
def test_onnx_cast_roundtrip_matches_onnxruntime(to, isa):
    """Conv -> Cast(to) -> Cast(float) -> Relu, against onnxruntime."""
    ort = importorskip("onnxruntime")
    onnx = importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    import fastnorm
    rng = np.random.default_rng(7)
    w = (rng.standard_normal((5, 3, 3, 3)) * 3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Cast", ["c"], ["h"], to=getattr(TensorProto, to)),
             helper.make_node("Cast", ["h"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Relu", ["f"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 9, 11])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 9, 11])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    data = m.SerializeToString()
    model = fastnorm.from_onnx(data)
    x = (rng.standard_normal((2, 3, 9, 11)) * 100).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = model.predict(x)
    assert_ran(isa)
    # the conv's own rounding (summation order) may move a value across a rounding boundary: then the
    # two differ by one float16 / bfloat16 step; everything else is equal
    step = np.abs(want) * (2.0 ** -10 if to == "FLOAT16" else 2.0 ** -7) + 1e-6
    assert (np.abs(got - want) <= step).all()
    assert np.mean(got == want) > 0.97
    # the output holds the narrow type's values
    narrow = got.astype(np.float16).astype(np.float32) if to == "FLOAT16" else _ref_bf16(got)
    np.testing.assert_array_equal(got, narrow)
