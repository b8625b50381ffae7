"""fastnorm.onnxpb, the pure-Python ONNX reader, against onnx's own protobuf parser.

Models are built with the onnx package (here only), serialised, and read back by both; every field of every
message and every tensor (all dtypes, raw and typed storage) must agree. Malformed bytes of every kind must
raise FormatError (WireError), never anything else.
"""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from util import importorskip

onnx = importorskip("onnx")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from fastnorm import onnxpb  # noqa: E402
from fastnorm.errors import FormatError, UnsupportedError  # noqa: E402
from fastnorm.onnxpb import messages as M  # noqa: E402
from fastnorm.onnxpb import wire  # noqa: E402


# ---------------------------------------------------------------------------------------------- comparing

def _onnx_class(qualname):
    cls = onnx
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls


def _float_bits(v, kind):
    return struct.pack("<f" if kind == M.FLOAT else "<d", v)


def same(ref, got, path="model"):
    """Every field of our message equals onnx's, presence included."""
    for f in type(got)._fields.values():
        rv, gv = getattr(ref, f.name), getattr(got, f.name)
        where = "%s.%s" % (path, f.name)
        if f.repeated:
            assert len(rv) == len(gv), where
            if f.kind == M.MSG:
                for i, (r, g) in enumerate(zip(rv, gv)):
                    same(r, g, "%s[%d]" % (where, i))
            elif f.kind in (M.FLOAT, M.DOUBLE):
                assert [_float_bits(v, f.kind) for v in rv] == [_float_bits(v, f.kind) for v in gv], where
            else:
                assert list(rv) == list(gv), where
            continue
        assert ref.HasField(f.name) == got.HasField(f.name), where
        if f.kind == M.MSG:
            if ref.HasField(f.name):
                same(rv, gv, where)
        elif f.kind in (M.FLOAT, M.DOUBLE):
            assert _float_bits(rv, f.kind) == _float_bits(gv, f.kind), where
        elif f.kind == M.RAW:
            assert bytes(gv) == rv, where
        else:
            assert rv == gv and type(rv) is type(gv), where
    for group in type(got)._oneofs:
        assert ref.WhichOneof(group) == got.WhichOneof(group), path


def test_schema_matches_onnx_descriptors():
    """Every field of every message: the same name, number and label as onnx's compiled onnx.proto."""
    for qualname, cls in M._REGISTRY.items():
        desc = _onnx_class(qualname).DESCRIPTOR
        assert set(f.name for f in desc.fields) == set(cls._fields), qualname
        for f in desc.fields:
            mine = cls._fields[f.name]
            assert mine.number == f.number, (qualname, f.name)
            repeated = f.label == f.LABEL_REPEATED if hasattr(f, "label") else f.is_repeated
            assert mine.repeated == repeated, (qualname, f.name)
            if f.message_type is not None:
                assert mine.kind == M.MSG and mine.cls.__qualname__ == f.message_type.full_name[len("onnx."):]
        oneofs = {o.name: tuple(sorted(x.name for x in o.fields)) for o in desc.oneofs}
        assert oneofs == {k: tuple(sorted(v)) for k, v in cls._oneofs.items()}, qualname


# ---------------------------------------------------------------------------------------------- models

TYPED_DTYPES = [TP.FLOAT, TP.UINT8, TP.INT8, TP.UINT16, TP.INT16, TP.INT32, TP.INT64, TP.BOOL, TP.FLOAT16,
                TP.DOUBLE, TP.UINT32, TP.UINT64, TP.COMPLEX64, TP.COMPLEX128, TP.BFLOAT16]
NP_DTYPES = [np.float32, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64, np.bool_, np.float16,
             np.float64, np.uint32, np.uint64, np.complex64, np.complex128]


def _values(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    if a.size >= 4:                      # the awkward values too
        a.reshape(-1)[:4] = [np.nan, np.inf, -0.0, -np.inf]
    return a


def all_tensors(rng):
    ts = []
    for i, dt in enumerate(NP_DTYPES):
        for shape in [(2, 3), (), (0, 4), (5,)]:
            a = _values(rng, dt, shape)
            ts.append(numpy_helper.from_array(a, "raw_%s_%d" % (np.dtype(dt).name, len(ts))))
    for dt in TYPED_DTYPES:
        for shape in [(3, 2), (), (4,)]:
            n = int(np.prod(shape))
            if dt == TP.BFLOAT16:
                vals = (rng.standard_normal(n) * 10).astype(np.float32).tolist()
            elif dt in (TP.COMPLEX64, TP.COMPLEX128):
                vals = list(rng.standard_normal(n) + 1j * rng.standard_normal(n))
            else:
                npdt = helper.tensor_dtype_to_np_dtype(dt)
                vals = _values(rng, npdt, (n,)).tolist()
            ts.append(helper.make_tensor("typed_%d_%d" % (dt, len(ts)), dt, shape, vals))
    bf = (rng.standard_normal(6).astype(np.float32).view(np.uint32) >> 16).astype("<u2")
    t = TP(name="raw_bf16", data_type=TP.BFLOAT16, dims=[2, 3], raw_data=bf.tobytes())
    ts.append(t)
    ts.append(helper.make_tensor("strs", TP.STRING, [3], [b"a", b"", "\u00e9".encode()]))
    return ts


def rich_model(rng):
    """A model touching every message type and attribute kind of onnx.proto."""
    tensors = all_tensors(rng)
    sub = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "then",
                           [], [helper.make_tensor_value_info("b", TP.FLOAT, [1])])
    sub2 = helper.make_graph([helper.make_node("Neg", ["a"], ["c"], name="neg")], "else",
                            [], [helper.make_tensor_value_info("c", TP.FLOAT, [1])])
    sp = helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.5, -2.0], np.float32), "spv"),
                                   numpy_helper.from_array(np.array([1, 4], np.int64), "spi"), [2, 3])
    tp = helper.make_tensor_type_proto(TP.FLOAT, ["N", 3])
    nodes = [
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=sub, else_branch=sub2),
        helper.make_node("Custom", ["x", "", "w"], ["z", ""], name="every_attr", domain="my.domain",
                         f=-1.25e-7, i=-(2 ** 63), big=2 ** 63 - 1, s=b"\x00\xffbytes", t=tensors[0],
                         floats=[1.0, float("nan"), -0.0], ints=[0, -1, 2 ** 40], strings=[b"x", b""],
                         tensors=tensors[1:4], graphs=[sub, sub2], sp=sp, sps=[sp, sp], doc_string="doc"),
        helper.make_node("Constant", [], ["k"], value=tensors[5]),
    ]
    n = nodes[1]
    n.attribute.append(helper.make_attribute("tp", tp))
    n.attribute.append(helper.make_attribute("tps", [tp, helper.make_sequence_type_proto(tp)]))
    n.metadata_props.add(key="k", value="v")
    dc = n.device_configurations.add(configuration_id="cfg", pipeline_stage=-3)
    ss = dc.sharding_spec.add(tensor_name="x", device=[0, 1, -5])
    ss.index_to_device_group_map.add(key=7, value=[1, 2])
    sd = ss.sharded_dim.add(axis=1)
    sd.simple_sharding.add(dim_value=4, num_shards=2)
    sd.simple_sharding.add(dim_param="B", num_shards=2)
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, ["N", 3, None, 5]),
              helper.make_tensor_value_info("cond", TP.BOOL, [])]
    outputs = [helper.make_tensor_value_info("y", TP.FLOAT, None),
               helper.make_value_info("seq", helper.make_sequence_type_proto(tp)),
               helper.make_value_info("map", helper.make_map_type_proto(TP.INT64, tp)),
               helper.make_value_info("opt", helper.make_optional_type_proto(tp)),
               helper.make_value_info("sp", helper.make_sparse_tensor_type_proto(TP.FLOAT, [2, "M"]))]
    outputs[0].type.tensor_type.shape.dim.add().denotation = "DATA_BATCH"
    outputs[0].type.denotation = "IMAGE"
    outputs[1].metadata_props.add(key="a", value="b")
    g = helper.make_graph(nodes, "main", inputs, outputs, tensors, doc_string="graph doc",
                          value_info=[helper.make_tensor_value_info("z", TP.INT64, [7])],
                          sparse_initializer=[sp])
    qa = g.quantization_annotation.add(tensor_name="z")
    qa.quant_parameter_tensor_names.add(key="SCALE_TENSOR", value="s")
    g.metadata_props.add(key="gk", value="gv")
    opaque = g.value_info.add(name="opaque")
    opaque.type.opaque_type.domain = "d"
    opaque.type.opaque_type.name = "n"
    fn = helper.make_function("my.domain", "Fn", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                              [helper.make_opsetid("", 18)], attributes=["alpha"])
    ref = fn.attribute_proto.add(name="beta", type=onnx.AttributeProto.FLOAT, ref_attr_name="alpha")
    fn.value_info.add(name="b")
    fn.overload = "ov"
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("my.domain", 1)],
                          functions=[fn], producer_name="test", producer_version="1.0", doc_string="model doc",
                          model_version=-7, domain="d")
    m.metadata_props.add(key="author", value="\u00e9")
    ti = m.training_info.add()
    ti.initialization.CopyFrom(sub)
    ti.algorithm.CopyFrom(sub2)
    ti.update_binding.add(key="w", value="w2")
    m.configuration.add(name="mesh", num_devices=4, device=["cpu0", "cpu1"])
    tensors[2].segment.begin = 3
    tensors[2].segment.end = 9
    tensors[3].metadata_props.add(key="q", value="r")
    tensors[3].doc_string = "tdoc"
    del ref
    return m


def test_every_field_equals_onnx():
    m = rich_model(np.random.default_rng(0))
    data = m.SerializeToString()
    same(onnx.load_from_string(data), onnxpb.parse_model(data))


def test_every_tensor_equals_onnx():
    rng = np.random.default_rng(1)
    for t in all_tensors(rng):
        data = t.SerializeToString()
        mine = M.parse(M.TensorProto, data)
        ref = numpy_helper.to_array(TP.FromString(data))
        got = onnxpb.to_array(mine)
        if t.data_type == TP.BFLOAT16:
            ref = ref.astype(np.float32)
        assert got.dtype == ref.dtype, t.name
        assert got.shape == ref.shape, t.name
        if ref.dtype == object:
            assert got.tolist() == ref.tolist()
        else:
            np.testing.assert_array_equal(got, ref, err_msg=t.name)
            assert got.tobytes() == np.ascontiguousarray(ref).tobytes(), t.name
        assert onnxpb.np_dtype(t.data_type) == got.dtype


def test_attribute_values_equal_onnx():
    m = rich_model(np.random.default_rng(2))
    data = m.SerializeToString()
    mine = onnxpb.parse_model(data)
    for rn, gn in zip(onnx.load_from_string(data).graph.node, mine.graph.node):
        for ra, ga in zip(rn.attribute, gn.attribute):
            rv, gv = helper.get_attribute_value(ra), onnxpb.get_attribute_value(ga)
            if isinstance(rv, list):
                assert len(rv) == len(gv)
                for r, g in zip(rv, gv):
                    if hasattr(r, "DESCRIPTOR"):
                        same(r, g)
                    else:
                        assert struct.pack("<d", r) == struct.pack("<d", g) if isinstance(r, float) else r == g
            elif hasattr(rv, "DESCRIPTOR"):
                same(rv, gv)
            else:
                assert rv == gv or (rv != rv and gv != gv)
    sp = onnxpb.sparse_to_dense(mine.graph.sparse_initializer[0])
    np.testing.assert_array_equal(sp, [[0, 1.5, 0], [0, -2.0, 0]])


def test_unsupported_dtype_and_names():
    t = TP(name="f8", data_type=TP.FLOAT8E4M3FN, dims=[1], raw_data=b"\x01")
    with pytest.raises(UnsupportedError, match="float8e4m3fn"):
        onnxpb.to_array(M.parse(M.TensorProto, t.SerializeToString()))
    assert onnxpb.dtype_name(TP.FLOAT) == "float32" and onnxpb.dtype_name(99) == "type 99"
    assert onnxpb.dtype_name(TP.BFLOAT16) == "bfloat16"


def test_repeated_numbers_unpacked_and_merged():
    """Unpacked encodings of repeated scalars, a field repeated in pieces, and an optional message given twice
    (protobuf merges it) all read as onnx reads them."""
    def key(num, wt):
        return bytes([num << 3 | wt])
    body = key(1, 0) + b"\x03" + key(1, 0) + b"\x02"            # dims 3, 2 unpacked
    body += key(2, 0) + b"\x01"                                   # FLOAT
    body += key(4, 5) + struct.pack("<f", 1.5)                    # one float unpacked
    body += key(4, 2) + bytes([20]) + struct.pack("<5f", 1, 2, 3, 4, 5)
    body += key(8, 2) + b"\x01w" + key(8, 2) + b"\x01v"           # name given twice: last wins
    mine = M.parse(M.TensorProto, body)
    ref = TP.FromString(body)
    same(ref, mine)
    np.testing.assert_array_equal(onnxpb.to_array(mine), numpy_helper.to_array(ref))
    seg = key(3, 2) + b"\x02\x08\x05" + key(3, 2) + b"\x02\x10\x09"   # segment twice: begin and end merge
    same(TP.FromString(seg), M.parse(M.TensorProto, seg))
    assert M.parse(M.TensorProto, seg).segment.begin == 5


def test_long_packed_varints_match():
    rng = np.random.default_rng(3)
    vals = np.concatenate([rng.integers(-2 ** 63, 2 ** 63 - 1, 500, dtype=np.int64, endpoint=True),
                           rng.integers(-200, 200, 500), [0, -1, 2 ** 63 - 1, -2 ** 63]]).astype(np.int64)
    t = helper.make_tensor("i", TP.INT64, [len(vals)], vals.tolist())
    mine = M.parse(M.TensorProto, t.SerializeToString())
    np.testing.assert_array_equal(onnxpb.to_array(mine), vals)
    a = helper.make_attribute("ints", vals.tolist())
    assert M.parse(M.AttributeProto, a.SerializeToString()).ints == vals.tolist()
    i32 = rng.integers(-2 ** 31, 2 ** 31 - 1, 300, dtype=np.int64, endpoint=True)
    t = helper.make_tensor("j", TP.INT32, [300], i32.tolist())
    np.testing.assert_array_equal(onnxpb.to_array(M.parse(M.TensorProto, t.SerializeToString())), i32)


@pytest.mark.parametrize("n", [31, 32, 33, 100, 4095, 20000])
def test_long_unpacked_runs_match(n):
    """A long run of unpacked int64s (one key per value: AttributeProto.ints as onnx.helper writes them) is
    read in numpy chunks past the first _RUN_SCALAR values: the same values as onnx, every varint length
    (1-10 bytes, negatives), runs crossing the chunk boundaries, runs broken by another field and resumed,
    and a run cut inside its last varint (WireError, as the scalar reader gives)."""
    rng = np.random.default_rng(n)
    vals = rng.choice(np.array([0, 1, 127, 128, 300, 2 ** 20, 2 ** 35, 2 ** 62, 2 ** 63 - 1, -1, -300,
                                -2 ** 63], np.int64), n)
    a = helper.make_attribute("ints", vals.tolist())
    body = a.SerializeToString()
    assert M.parse(M.AttributeProto, body).ints == vals.tolist()
    # the run broken by the name field in its middle, then resumed: the two pieces merge, in order
    ints = helper.make_attribute("ints", vals.tolist()).SerializeToString()
    name = helper.make_attribute("n", [1]).SerializeToString()[:3]          # key 0x0a, length 1, "n"
    cut = ints.index(b"\x40", len(ints) // 2)
    mixed = ints[:cut] + name + ints[cut:]
    ref = onnx.AttributeProto.FromString(mixed)
    assert M.parse(M.AttributeProto, mixed).ints == list(ref.ints) == vals.tolist()
    # a 32-bit field written unpacked the same way (TensorProto.int32_data) wraps as onnx's does
    t = TP(int32_data=[], data_type=TP.INT32, dims=[n])
    body32 = t.SerializeToString() + b"".join(b"\x28" + _varint(int(v) & (2 ** 64 - 1)) for v in vals)
    assert list(M.parse(M.TensorProto, body32).int32_data) == list(TP.FromString(body32).int32_data)
    with pytest.raises(wire.WireError):
        M.parse(M.AttributeProto, body[:-1] + b"\x80")                    # the last varint never ends


def _varint(u):
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


# ---------------------------------------------------------------------------------------------- external data

def _external_model(tmp_path, rng):
    w = rng.standard_normal((64, 33)).astype(np.float32)
    b = rng.standard_normal(17).astype(np.float32)
    g = helper.make_graph([helper.make_node("Add", ["x", "b"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [17])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [17])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g)
    path = tmp_path / "m.onnx"
    onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    return path, w, b


def test_external_data_inside_model_dir(tmp_path):
    path, w, b = _external_model(tmp_path, np.random.default_rng(4))
    m = onnxpb.load_model(path)
    ref = onnx.load(str(path))
    for rt, gt in zip(ref.graph.initializer, m.graph.initializer):
        np.testing.assert_array_equal(onnxpb.to_array(gt), numpy_helper.to_array(rt))
    np.testing.assert_array_equal(onnxpb.to_array(m.graph.initializer[0]), w)
    # from bytes: refused unless the caller names the directory
    blob = path.read_bytes()
    m2 = onnxpb.parse_model(blob)
    with pytest.raises(FormatError, match="no directory"):
        onnxpb.to_array(m2.graph.initializer[1])
    np.testing.assert_array_equal(onnxpb.to_array(m2.graph.initializer[1], base_dir=str(tmp_path)), b)
    np.testing.assert_array_equal(onnxpb.to_array(onnxpb.parse_model(blob, str(tmp_path)).graph.initializer[1]), b)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "a/../../secret.bin", "", ".", "sub/..",
                                      "link.bin", "a\\..\\secret.bin"])
def test_external_data_cannot_leave_the_directory(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 64)
    d = tmp_path / "model"
    d.mkdir()
    (d / "sub").mkdir()
    os.symlink(tmp_path / "secret.bin", d / "link.bin")
    t = TP(name="b", data_type=TP.FLOAT, dims=[4], data_location=TP.EXTERNAL)
    t.external_data.add(key="location", value=location)
    g = helper.make_graph([], "g", [], [], [t])
    with pytest.raises(FormatError, match="not a file inside"):
        onnxpb.parse_model(helper.make_model(g).SerializeToString(), base_dir=str(d))


def test_external_data_bounds(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 16)
    for offset, length in [("8", "16"), ("17", None), ("-1", "4"), ("x", "4")]:
        t = TP(name="b", data_type=TP.FLOAT, dims=[4], data_location=TP.EXTERNAL)
        t.external_data.add(key="location", value="w.bin")
        t.external_data.add(key="offset", value=offset)
        if length:
            t.external_data.add(key="length", value=length)
        with pytest.raises(FormatError):
            onnxpb.to_array(M.parse(M.TensorProto, t.SerializeToString()), base_dir=str(tmp_path))


# ---------------------------------------------------------------------------------------------- malformed input

def _small_model():
    rng = np.random.default_rng(5)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["y"], ["z"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, ["N", 2, 5, 5])],
                          [helper.make_tensor_value_info("z", TP.FLOAT, None)],
                          [numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w"),
                           helper.make_tensor("s", TP.INT64, [2], [-1, 7])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def touch_everything(m):
    """Read every tensor and attribute the way a frontend would; only FormatError/UnsupportedError may escape."""
    stack = [m.graph]
    while stack:
        g = stack.pop()
        for t in g.initializer:
            onnxpb.to_array(t)
        for sp in g.sparse_initializer:
            onnxpb.sparse_to_dense(sp)
        for vi in list(g.input) + list(g.output):
            [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for n in g.node:
            for a in n.attribute:
                v = onnxpb.get_attribute_value(a)
                if isinstance(v, M.TensorProto):
                    onnxpb.to_array(v)
                if isinstance(v, M.GraphProto):
                    stack.append(v)


def _expect_format_error_or_ok(data):
    try:
        m = onnxpb.parse_model(data)
        touch_everything(m)
    except (FormatError, UnsupportedError):
        pass


def test_every_truncation():
    data = _small_model()
    for k in range(len(data)):
        _expect_format_error_or_ok(data[:k])


def test_malformed_kinds():
    bad = {
        "oversize length": b"\x3a\xff\xff\xff\xff\x0f",               # graph, length 2**32-1
        "length past end": b"\x3a\x05\x0a\x01",
        "truncated varint": b"\x08\x80\x80",
        "11-byte varint": b"\x08" + b"\xff" * 10 + b"\x01",
        "group wire type": b"\x0b\x0c",
        "wire type 7": b"\x0f\x00",
        "field number 0": b"\x00\x01",
        "truncated fixed32": b"\x3a\x03\x15\x00\x00",                  # inside a graph: field 2 as fixed32, 2 bytes
        "bad utf-8 name": b"\x3a\x04\x12\x02\xff\xfe",
        "packed floats not /4": b"\x3a\x09\x2a\x07\x22\x05\x00\x00\x00\x00\x00",
        "packed varint truncated": b"\x3a\x07\x2a\x05\x0a\x03\x01\x02\x83",
    }
    for what, data in bad.items():
        with pytest.raises(wire.WireError) as e:
            onnxpb.parse_model(data)
        assert e.value.pos is not None and e.value.path.startswith("ModelProto"), what
    with pytest.raises(wire.WireError, match=r"ModelProto\.graph.*byte"):
        onnxpb.parse_model(b"\x3a\x04\x12\x02\xff\xfe")


def test_tensor_size_mismatch_is_format_error():
    for t in [TP(name="a", data_type=TP.FLOAT, dims=[3], raw_data=b"\x00" * 8),
              TP(name="b", data_type=TP.FLOAT, dims=[2 ** 40, 2 ** 40], raw_data=b""),
              TP(name="c", data_type=TP.INT64, dims=[3], int64_data=[1, 2]),
              TP(name="d", data_type=TP.FLOAT, dims=[-1], float_data=[1.0]),
              TP(name="e", data_type=TP.FLOAT, dims=[1] * 65, float_data=[1.0])]:
        with pytest.raises(FormatError):
            onnxpb.to_array(M.parse(M.TensorProto, t.SerializeToString()))


def _nested_typeproto(depth):
    inner = b""
    for _ in range(depth):            # TypeProto.sequence_type (4) -> Sequence.elem_type (1) -> TypeProto ...
        seq = b"\x0a" + wire_len(inner) + inner
        inner = b"\x22" + wire_len(seq) + seq
    return inner


def wire_len(b):
    n, out = len(b), bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append(n & 0x7F | 0x80)
        n >>= 7


def test_deep_nesting_refused():
    M.parse(M.TypeProto, _nested_typeproto(40))
    with pytest.raises(wire.WireError, match="nested"):
        M.parse(M.TypeProto, _nested_typeproto(2000))


def test_unknown_fields_skipped_like_onnx():
    data = _small_model()
    extra = b"\xf8\x07\x05" + b"\x81\x08" + b"\x00" * 8 + b"\xfa\x07\x02ab" + b"\xfd\x07\x00\x00\x00\x00"
    extra += b"\x38\x05"    # graph (7) given as a varint: a known field with another wire type is unknown
    same(onnx.load_from_string(data + extra), onnxpb.parse_model(data + extra))


def test_fuzz_mutations_hypothesis():
    """Seeded, bounded: random byte edits of a real model parse or raise FormatError; when both parsers
    accept the bytes, they read the same thing."""
    hypothesis = importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    seed = _small_model()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255), st.sampled_from("sid")),
                    min_size=1, max_size=6))
    def run(edits):
        b = bytearray(seed)
        for pos, val, op in edits:
            pos = min(pos, len(b) - 1) if b else 0
            if op == "s" and b:
                b[pos] = val
            elif op == "i":
                b.insert(pos, val)
            elif b:
                del b[pos]
        data = bytes(b)
        try:
            mine = onnxpb.parse_model(data)
        except FormatError:
            return
        try:
            ref = onnx.load_from_string(data)
        except Exception:  # noqa: BLE001 - onnx's own decode errors
            ref = None
        if ref is not None:
            same(ref, mine)
        try:
            touch_everything(mine)
        except (FormatError, UnsupportedError):
            pass
    assert hypothesis
    run()


def test_no_onnx_import():
    """Parsing, reading tensors and attributes imports neither onnx nor google.protobuf."""
    code = ("import sys; from fastnorm import onnxpb; import numpy as np; "
            "m = onnxpb.parse_model(open(sys.argv[1], 'rb').read()); "
            "[onnxpb.to_array(t) for t in m.graph.initializer]; "
            "[onnxpb.get_attribute_value(a) for n in m.graph.node for a in n.attribute]; "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('onnx', 'google', 'ml_dtypes')]; "
            "assert not bad, bad")
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".onnx", delete=False) as fh:
        fh.write(_small_model())
    try:
        # not the source tree as cwd; the child imports the fastnorm under test (installed or built in place)
        import fastnorm
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__))))
        r = subprocess.run([sys.executable, "-c", code, fh.name], capture_output=True, text=True,
                           cwd=tempfile.gettempdir(), env=env)
    finally:
        os.unlink(fh.name)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------------------------- constant folding

def _i64(*v):
    return np.array(v, np.int64)


FOLD_CASES = [
    # (op, inputs, attrs, opset)
    ("Shape", [np.zeros((2, 3, 5), np.float32)], {}, 13),
    ("Shape", [np.zeros((2, 3, 5, 7), np.float32)], {"start": 1, "end": -1}, 15),
    ("Shape", [np.zeros((2, 3), np.float32)], {"start": -9}, 19),
    ("Size", [np.zeros((2, 3), np.float32)], {}, 13),
    ("Gather", [_i64(4, 5, 6, 7), np.array(-1, np.int64)], {}, 13),
    ("Gather", [np.arange(12, dtype=np.float32).reshape(3, 4), _i64(0, 2, -1)], {"axis": 1}, 13),
    ("Unsqueeze", [np.array(3, np.int64), _i64(0)], {}, 13),
    ("Unsqueeze", [np.zeros((2, 3), np.float32)], {"axes": [0, -1]}, 11),
    ("Unsqueeze", [np.zeros((2, 3), np.float32), _i64(1, 3)], {}, 13),
    ("Squeeze", [np.zeros((1, 3, 1), np.float32)], {}, 13),
    ("Squeeze", [np.zeros((1, 3, 1), np.float32), _i64(-1)], {}, 13),
    ("Concat", [_i64(1), _i64(-1, 7)], {"axis": 0}, 13),
    ("Concat", [np.ones((2, 1), np.float32), np.zeros((2, 3), np.float32)], {"axis": -1}, 13),
    ("Slice", [np.arange(10, dtype=np.int64), _i64(2), _i64(-1)], {}, 13),
    ("Slice", [np.arange(10, dtype=np.int64), _i64(-1), _i64(-2 ** 63), _i64(0), _i64(-3)], {}, 13),
    ("Slice", [np.arange(10, dtype=np.int64), _i64(20), _i64(-20), _i64(0), _i64(-1)], {}, 13),
    ("Slice", [np.arange(24, dtype=np.float32).reshape(4, 6), _i64(1, 0), _i64(2 ** 62, 5), _i64(1, 0),
               _i64(2, 1)], {}, 13),
    ("Slice", [np.arange(10, dtype=np.int64)], {"starts": [1], "ends": [8], "axes": [0]}, 9),
    ("Cast", [np.array([1.7, -2.5, 0.0], np.float32)], {"to": TP.INT64}, 13),
    ("Cast", [_i64(0, 3)], {"to": TP.BOOL}, 13),
    ("Cast", [_i64(1, 3)], {"to": TP.FLOAT16}, 13),
    ("Reshape", [np.arange(24, dtype=np.float32), _i64(2, -1, 3)], {}, 13),
    ("Reshape", [np.arange(24, dtype=np.float32).reshape(2, 12), _i64(0, 3, -1)], {}, 13),
    ("Add", [_i64(1, 2), np.array(5, np.int64)], {}, 13),
    ("Sub", [np.ones((2, 1), np.float32), np.arange(3, dtype=np.float32)], {}, 13),
    ("Mul", [_i64(3, -4), _i64(7, 2)], {}, 13),
    ("Div", [_i64(7, -7, 7, -7, 6), _i64(2, 2, -2, -2, 3)], {}, 13),
    ("Div", [np.array([1.0, -3.0], np.float32), np.array([4.0, 0.5], np.float32)], {}, 13),
    ("Pow", [np.array([2.0, 3.0], np.float32), np.array(2.0, np.float32)], {}, 13),
    ("Mod", [_i64(7, -7), _i64(3, 3)], {}, 13),
    ("Mod", [_i64(7, -7), _i64(3, 3)], {"fmod": 1}, 13),
    ("Max", [_i64(1, 5), _i64(3, 2), _i64(0, 9)], {}, 13),
    ("Min", [_i64(1, 5), _i64(3, 2)], {}, 13),
    ("Neg", [_i64(1, -5)], {}, 13),
    ("Sqrt", [np.array([4.0, 2.0], np.float32)], {}, 13),
    ("Floor", [np.array([-1.5, 2.5], np.float32)], {}, 13),
    ("ConstantOfShape", [_i64(2, 3)], {}, 13),
    ("ConstantOfShape", [_i64(2)], {"value": helper.make_tensor("v", TP.INT64, [1], [7])}, 13),
    ("ConstantOfShape", [_i64(0)], {}, 13),
    ("Range", [np.array(0, np.int64), np.array(10, np.int64), np.array(3, np.int64)], {}, 13),
    ("Range", [np.array(10, np.int64), np.array(0, np.int64), np.array(-4, np.int64)], {}, 13),
    ("Range", [np.array(0.5, np.float32), np.array(2.0, np.float32), np.array(0.25, np.float32)], {}, 13),
    ("Range", [np.array(5, np.int64), np.array(0, np.int64), np.array(1, np.int64)], {}, 13),
    ("Equal", [_i64(1, 2, 3), _i64(1, 0, 3)], {}, 13),
    ("Less", [_i64(1, 2), np.array(2, np.int64)], {}, 13),
    ("Not", [np.array([True, False])], {}, 13),
    ("Where", [np.array([True, False, True]), _i64(1, 2, 3), np.array(-1, np.int64)], {}, 13),
    ("Expand", [np.arange(3, dtype=np.float32).reshape(3, 1), _i64(2, 1, 4)], {}, 13),
    ("Expand", [np.arange(3, dtype=np.int64), _i64(1)], {}, 13),
    ("Tile", [np.arange(6, dtype=np.int64).reshape(2, 3), _i64(2, 1)], {}, 13),
    ("Transpose", [np.arange(6, dtype=np.float32).reshape(1, 2, 3)], {"perm": [2, 0, 1]}, 13),
    ("Transpose", [np.arange(6, dtype=np.float32).reshape(2, 3)], {}, 13),
    ("Flatten", [np.arange(24, dtype=np.float32).reshape(2, 3, 4)], {"axis": 2}, 13),
    ("Identity", [_i64(3)], {}, 13),
    ("ReduceProd", [_i64(2, 3, 4)], {"keepdims": 0}, 13),
    ("ReduceProd", [np.arange(1, 7, dtype=np.int64).reshape(2, 3), _i64(1)], {}, 18),
    ("ReduceSum", [np.arange(6, dtype=np.int64).reshape(2, 3), _i64(0)], {"keepdims": 0}, 13),
    ("ReduceMax", [np.arange(6, dtype=np.float32).reshape(2, 3)], {"axes": [1]}, 13),
]


@pytest.mark.parametrize("case", range(len(FOLD_CASES)))
def test_fold_matches_reference_evaluator(case):
    from onnx.reference import ReferenceEvaluator
    from fastnorm.onnxpb.fold import fold
    op, inputs, attrs, opset = FOLD_CASES[case]
    names = ["i%d" % k for k in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], **attrs)
    g = helper.make_graph([node], "f", [helper.make_tensor_value_info(
        n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in zip(names, inputs)],
        [helper.make_empty_tensor_value_info("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    want = ReferenceEvaluator(m).run(None, dict(zip(names, inputs)))[0]
    # attributes as our reader gives them (through the wire, like the frontend would see them)
    mine = onnxpb.parse_model(m.SerializeToString()).graph.node[0]
    got = fold(op, inputs, {a.name: onnxpb.get_attribute_value(a) for a in mine.attribute}, opset)
    assert got is not NotImplemented
    want = np.asarray(want)
    assert got[0].dtype == want.dtype and got[0].shape == want.shape, (got[0], want)
    np.testing.assert_array_equal(got[0], want)


def test_fold_rejects_and_bounds():
    from fastnorm.onnxpb.fold import FoldError, fold
    assert fold("Conv", [np.zeros(1)], {}, 13) is NotImplemented
    assert fold("Cast", [_i64(1)], {"to": TP.STRING}, 13) is NotImplemented
    bad = [("Gather", [_i64(1, 2), _i64(2)], {}), ("Unsqueeze", [_i64(1), _i64(0, 0)], {}),
           ("Unsqueeze", [_i64(1), np.arange(200000, dtype=np.int64)], {}),
           ("Div", [_i64(1), _i64(0)], {}), ("Reshape", [_i64(1, 2, 3), _i64(4)], {}),
           ("ConstantOfShape", [_i64(2 ** 31, 2 ** 31)], {}), ("Expand", [_i64(1), _i64(2 ** 40)], {}),
           ("Range", [np.array(0, np.int64), np.array(2 ** 62, np.int64), np.array(1, np.int64)], {}),
           ("Range", [np.array(0, np.int64), np.array(2, np.int64), np.array(0, np.int64)], {}),
           ("Slice", [_i64(1, 2), _i64(0), _i64(1), _i64(0), _i64(0)], {}),
           ("Tile", [_i64(1), _i64(2 ** 40)], {}), ("Concat", [_i64(1), np.ones(1, np.float32)], {"axis": 0}),
           ("Squeeze", [np.zeros((2, 3)), _i64(0)], {}), ("Transpose", [np.zeros((2, 3))], {"perm": [0, 0]})]
    for op, inputs, attrs in bad:
        with pytest.raises(FoldError):
            fold(op, inputs, attrs, 13)


# ---------------------------------------------------------------------------------------------- writing back

def test_serialize_round_trips_through_onnx():
    m = rich_model(np.random.default_rng(6))
    data = m.SerializeToString()
    mine = onnxpb.parse_model(data)
    again = onnxpb.serialize(mine)
    same(onnx.load_from_string(data), onnxpb.parse_model(again))
    same(onnx.load_from_string(again), mine)


def test_make_node_matches_onnx_helper():
    w = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    kw = dict(epsilon=1e-5, axis=-1, mode="nearest", perm=[0, 2, 3, 1], scales=[1.0, 2.5], names=["a", "b"])
    ref = helper.make_node("_LayerNormChannels", ["x", "s"], ["y"], name="ln", **kw)
    ours = onnxpb.make_node("_LayerNormChannels", ["x", "s"], ["y"], name="ln", **kw)
    same(ref, ours)
    same(onnx.NodeProto.FromString(onnxpb.serialize(ours)), ours)
    t = M.parse(M.TensorProto, w.SerializeToString())
    same(helper.make_node("Constant", [], ["k"], value=w), onnxpb.make_node("Constant", [], ["k"], value=t))


def test_large_lists_are_linear():
    """Long attribute lists and unpacked tensor data (one key per value): decoded in one pass (a smoke test:
    it finishes in seconds), and folding refuses 10^6-entry shapes without multiplying them out."""
    n = 2 * 10 ** 5
    from fastnorm.onnxpb.build import _varint
    out = bytearray(b"\x0a\x04axes\xa0\x01\x07")              # name "axes", type INTS
    for v in range(-n // 2, n // 2):                              # ints (8), unpacked: onnx's own encoding
        out.append(0x40)
        _varint(out, v)
    mine = M.parse(M.AttributeProto, bytes(out))
    assert onnxpb.get_attribute_value(mine) == list(range(-n // 2, n // 2))
    assert mine.ints[0] == -n // 2 and len(mine.ints) == n
    body = (b"\x25" + struct.pack("<f", 2.5)) * n                 # float_data, unpacked, one key per value
    t = M.parse(M.TensorProto, b"\x0a\x03" + bytes([0xc0, 0x9a, 0x0c]) + b"\x10\x01" + body)  # dims [n] packed
    np.testing.assert_array_equal(onnxpb.to_array(t), np.full(n, 2.5, np.float32))
    from fastnorm.onnxpb.fold import FoldError, fold
    with pytest.raises(FoldError):
        fold("Reshape", [np.zeros(4, np.float32), np.full(10 ** 6, 2 ** 62, np.int64)], {}, 13)
    with pytest.raises(FoldError):
        fold("ConstantOfShape", [np.full(10 ** 6, 2 ** 62, np.int64)], {}, 13)
