"""The .fnm file: round trips, safetensors compatibility both ways, and every way a file can be bad.

A bad file must raise FormatError (naming what is wrong) and nothing else; a bad graph must never
reach the disk.
"""
import copy
import json
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest
from util import importorskip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnorm import fileformat as ff
from fastnorm.errors import FormatError

KNOWN_OPS = {"conv2d": {"stride", "padding", "dilation", "groups"}, "relu": set(), "flatten": {"axis"},
             "linear": set()}


def small_graph():
    return {
        "inputs": [{"name": "input", "shape": [None, 3, 8, 8], "dtype": "float32"}],
        "outputs": [{"name": "logits", "shape": [None, 10], "dtype": "float32"}],
        "nodes": [
            {"name": "conv1", "op": "conv2d", "inputs": ["input", "conv1.weight", "conv1.bias"],
             "outputs": ["conv1_out"], "attrs": {"stride": [1, 1], "padding": [1, 1, 1, 1]}},
            {"name": "relu1", "op": "relu", "inputs": ["conv1_out"], "outputs": ["relu1_out"], "attrs": {}},
            {"name": "flat", "op": "flatten", "inputs": ["relu1_out"], "outputs": ["flat_out"], "attrs": {"axis": 1}},
            {"name": "fc", "op": "linear", "inputs": ["flat_out", "fc.weight", ""], "outputs": ["logits"],
             "attrs": {}},
        ],
    }


def small_weights():
    rng = np.random.default_rng(0)
    return {
        "conv1.weight": rng.standard_normal((16, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.standard_normal(16).astype(np.float32),
        "fc.weight": rng.standard_normal((10, 4)).astype(np.float32),
        "steps": np.array([3, -1, 2 ** 40], dtype=np.int64),
    }


SMALL = ff.dumps(small_graph(), small_weights())


def split(data):
    """(header dict, byte buffer) of a file."""
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def build(header, buffer=b"", pad=True):
    """A file from a header (dict or raw bytes) and a buffer, with no checks at all."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def with_graph(header, graph):
    header["__metadata__"]["graph"] = json.dumps(graph)
    return header


def assert_format_error(data, phrase, known_ops=None):
    with pytest.raises(FormatError) as info:
        ff.loads(data, known_ops=known_ops)
    assert phrase in str(info.value), str(info.value)
    return str(info.value)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------
# Round trips

SHAPES = [(), (1,), (0,), (3, 0, 2), (7,), (2, 3), (2, 3, 4, 5), (1,) * 8, (5, 1, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_shapes(tmp_path, dtype, shape):
    rng = np.random.default_rng(len(shape))
    if dtype == np.float32:
        a = rng.standard_normal(shape).astype(np.float32)
    else:
        a = rng.integers(-2 ** 62, 2 ** 62, size=shape, dtype=np.int64)
    weights = {"a": a, "b": np.arange(3, dtype=np.float32)}
    graph = {"inputs": [{"name": "x", "shape": [None], "dtype": "float32"}],
             "outputs": [{"name": "y", "shape": [None], "dtype": "float32"}],
             "nodes": [{"name": "n", "op": "add", "inputs": ["x", "a"], "outputs": ["y"], "attrs": {}}]}
    path = tmp_path / "m.fnm"
    ff.save(path, graph, weights)
    for g, w in (ff.load(path), ff.loads(path.read_bytes()), ff.loads(memoryview(ff.dumps(graph, weights)))):
        assert g == graph
        assert list(w) == ["a", "b"]
        assert same_bits(w["a"], a) and same_bits(w["b"], weights["b"])


def test_round_trip_nan_payloads_bit_identical(tmp_path):
    bits = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0xFFC0DEAD, 0x7F800000, 0xFF800000,
                     0x80000000, 0x00000001, 0x7F7FFFFF], dtype=np.uint32)
    a = bits.view(np.float32)
    weights = dict(small_weights(), nan=a)
    ff.save(tmp_path / "m.fnm", small_graph(), weights)
    for _, w in (ff.load(tmp_path / "m.fnm"), ff.loads(ff.dumps(small_graph(), weights))):
        assert np.array_equal(w["nan"].view(np.uint32), bits)


def test_loaded_arrays_are_independent_aligned_readonly(tmp_path):
    data = bytearray(SMALL)
    _, w = ff.loads(data)
    before = {k: v.copy() for k, v in w.items()}
    data[-64:] = b"\xff" * 64                    # the caller's buffer changes; our arrays must not
    for k, v in w.items():
        assert same_bits(v, before[k])
        assert v.flags.c_contiguous and v.flags.aligned and not v.flags.writeable
        assert v.dtype.isnative
        with pytest.raises(ValueError):
            v[...] = 0
    (tmp_path / "m.fnm").write_bytes(SMALL)
    _, w2 = ff.load(tmp_path / "m.fnm")
    for v in w2.values():
        assert v.flags.c_contiguous and v.flags.aligned and not v.flags.writeable


def test_writer_accepts_noncontiguous_and_big_endian():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    weights = {"t": base.T, "s": base[:, ::2], "be": base.astype(">f4"), "bi": np.arange(5).astype(">i8")}
    _, w = ff.loads(ff.dumps(small_graph(), dict(small_weights(), **weights)))
    for k, v in weights.items():
        assert np.array_equal(w[k], v) and w[k].dtype.isnative
    assert w["be"].dtype == np.float32 and w["bi"].dtype == np.int64


def test_layout_sorted_padded_deterministic():
    weights = small_weights()
    reordered = dict(reversed(list(weights.items())))
    assert ff.dumps(small_graph(), weights) == ff.dumps(small_graph(), reordered)
    (n,) = struct.unpack("<Q", SMALL[:8])
    assert (8 + n) % 8 == 0
    header, buffer = split(SMALL)
    names = [k for k in header if k != "__metadata__"]
    assert names == sorted(weights)
    assert [header[k]["data_offsets"][0] for k in names] == sorted(header[k]["data_offsets"][0] for k in names)
    meta = header["__metadata__"]
    assert meta["format"] == "fastnorm" and meta["format_version"] == "1"
    assert json.loads(meta["graph"]) == small_graph()
    assert len(buffer) == sum(a.nbytes for a in weights.values())


def test_unreferenced_weights_and_omitted_inputs_are_allowed():
    weights = dict(small_weights(), spare=np.ones(2, np.float32))
    g, w = ff.loads(ff.dumps(small_graph(), weights), known_ops=KNOWN_OPS)
    assert "spare" in w and g["nodes"][3]["inputs"][2] == ""


def test_tuples_in_graph_are_written_as_lists():
    graph = small_graph()
    graph["nodes"][0]["attrs"]["stride"] = (2, 2)
    g, _ = ff.loads(ff.dumps(graph, small_weights()))
    assert g["nodes"][0]["attrs"]["stride"] == [2, 2]


def test_unicode_names_round_trip():
    graph = small_graph()
    graph["nodes"][0]["name"] = "свёртка-1 😀"
    weights = small_weights()
    weights["ünïcode ✓"] = np.ones(1, np.float32)
    g, w = ff.loads(ff.dumps(graph, weights))
    assert g == graph and "ünïcode ✓" in w


# ---------------------------------------------------------------------------------------------
# The writer refuses what the reader would refuse

@pytest.mark.parametrize("weights, exc, phrase", [
    ({"x": np.zeros(2, np.float64)}, TypeError, "float32, int64"),
    ({"x": np.zeros(2, np.int32)}, TypeError, "float32, int64"),
    ({"x": [1.0, 2.0]}, TypeError, "expected a NumPy array"),
    ({"__metadata__": np.zeros(2, np.float32)}, ValueError, "reserved"),
    ({"": np.zeros(2, np.float32)}, ValueError, "empty name"),
    ({1: np.zeros(2, np.float32)}, TypeError, "must be strings"),
    ({"x": np.zeros((1,) * 9, np.float32)}, ValueError, "at most 8"),
    ({"bad\ud800": np.zeros(2, np.float32)}, ValueError, "lone surrogate"),
], ids=["float64", "int32", "list", "metadata-name", "empty-name", "int-name", "9-dims", "surrogate"])
def test_writer_rejects_bad_weights(weights, exc, phrase):
    all_weights = small_weights()
    all_weights.update(weights)
    with pytest.raises(exc, match=phrase):
        ff.dumps(small_graph(), all_weights)


@pytest.mark.parametrize("mutate, exc, phrase", [
    (lambda g: g["nodes"][0]["attrs"].update(eps=float("nan")), ValueError, "not JSON-serialisable"),
    (lambda g: g["nodes"][0]["attrs"].update(obj=object()), TypeError, "not JSON-serialisable"),
    (lambda g: g["nodes"][0]["attrs"].update(n=np.int64(3)), TypeError, "not JSON-serialisable"),
    (lambda g: g["nodes"][0]["attrs"].update(me=g), ValueError, "not JSON-serialisable"),
    (lambda g: g["nodes"][1]["inputs"].append("nowhere"), ValueError, "not a graph input, a weight"),
    (lambda g: g.pop("outputs"), ValueError, "missing 'outputs'"),
    (lambda g: g["nodes"][0]["attrs"].update(d={"a": 1}), ValueError, "not allowed"),
    (lambda g: g["nodes"][0]["attrs"].update(s="x\ud800"), ValueError, "lone surrogate"),
], ids=["nan-attr", "object-attr", "numpy-int-attr", "cycle", "unknown-input", "no-outputs", "dict-attr",
        "surrogate-attr"])
def test_writer_rejects_bad_graph_and_leaves_disk_alone(tmp_path, mutate, exc, phrase):
    path = tmp_path / "m.fnm"
    path.write_bytes(b"previous")
    graph = small_graph()
    mutate(graph)
    with pytest.raises(exc, match=phrase):
        ff.save(path, graph, small_weights())
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["m.fnm"]     # no temporary file left behind


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "m.fnm"
    ff.save(path, small_graph(), {"x": np.ones(1, np.float32), **small_weights()})
    ff.save(str(path), small_graph(), small_weights())
    assert path.read_bytes() == SMALL
    assert os.listdir(tmp_path) == ["m.fnm"]


# ---------------------------------------------------------------------------------------------
# safetensors compatibility, both ways

def test_safetensors_reads_our_file(tmp_path):
    st_numpy = importorskip("safetensors.numpy")
    safetensors = importorskip("safetensors")
    path = tmp_path / "m.fnm"
    weights = dict(small_weights(), empty=np.zeros((0, 3), np.float32), scalar=np.array(7, np.int64),
                   odd=np.arange(3, dtype=np.float32))      # leaves later tensors unaligned in the file
    ff.save(path, small_graph(), weights)
    theirs = st_numpy.load_file(str(path))
    assert sorted(theirs) == sorted(weights)
    for k, v in weights.items():
        assert same_bits(theirs[k], v), k
    with safetensors.safe_open(str(path), "np") as f:
        meta = f.metadata()
        assert meta["format"] == "fastnorm" and meta["format_version"] == "1"
        assert json.loads(meta["graph"]) == small_graph()
        assert same_bits(f.get_tensor("conv1.weight"), weights["conv1.weight"])


def test_we_read_a_safetensors_file(tmp_path):
    st_numpy = importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    weights = dict(small_weights(), scalar=np.array(2.5, np.float32), empty=np.zeros((2, 0), np.int64))
    meta = {"format": "fastnorm", "format_version": "1", "graph": json.dumps(small_graph()), "author": "x"}
    st_numpy.save_file(weights, str(path), metadata=meta)
    for g, w in (ff.load(path, known_ops=KNOWN_OPS), ff.loads(path.read_bytes())):
        assert g == small_graph()
        assert sorted(w) == sorted(weights)
        for k, v in weights.items():
            assert same_bits(w[k], v), k


def test_plain_safetensors_without_our_metadata_is_refused(tmp_path):
    st_numpy = importorskip("safetensors.numpy")
    st_numpy.save_file(small_weights(), str(tmp_path / "a"))
    st_numpy.save_file(small_weights(), str(tmp_path / "b"), metadata={"format": "pt"})
    with pytest.raises(FormatError, match="no __metadata__|no 'format'"):
        ff.load(tmp_path / "a")
    with pytest.raises(FormatError, match="format is 'pt'"):
        ff.load(tmp_path / "b")


# ---------------------------------------------------------------------------------------------
# Corrupt files: each check, its own case

def _h():
    return split(SMALL)


def _tensor(field, value, name="conv1.weight"):
    def mutate():
        h, buf = _h()
        h[name][field] = value
        return build(h, buf)
    return mutate


def _meta(key, value):
    def mutate():
        h, buf = _h()
        if value is _DELETE:
            del h["__metadata__"][key]
        else:
            h["__metadata__"][key] = value
        return build(h, buf)
    return mutate


def _header_text(text):
    return lambda: build(text, _h()[1])


_DELETE = object()
_W = "conv1.weight"


def _offsets_shift(delta_begin, delta_end, name=_W):
    def mutate():
        h, buf = _h()
        b, e = h[name]["data_offsets"]
        h[name]["data_offsets"] = [b + delta_begin, e + delta_end]
        return build(h, buf)
    return mutate


def _no_metadata():
    h, buf = _h()
    del h["__metadata__"]
    return build(h, buf)


def _metadata_as_tensor():
    h, buf = _h()
    h["__metadata__"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    return build(h, buf)


def _rename(new):
    def mutate():
        h, buf = _h()
        text = json.dumps(h).replace('"conv1.bias"', json.dumps(new), 1)
        return build(text.encode(), buf)
    return mutate


def _overlap():
    # conv1.bias (64 bytes) is first in the buffer; make conv1.weight start inside it.
    h, buf = _h()
    b, e = h[_W]["data_offsets"]
    h[_W]["data_offsets"] = [b - 4, e - 4]
    return build(h, buf)


def _gap():
    h, buf = _h()
    for name in h:
        if name != "__metadata__":
            h[name]["data_offsets"] = [o + 4 for o in h[name]["data_offsets"]]
    return build(h, b"\0" * 4 + buf)


def _too_many_tensors():
    h, buf = _h()
    for i in range(5):
        h["z%d" % i] = {"dtype": "F32", "shape": [0], "data_offsets": [len(buf), len(buf)]}
    return build(h, buf)


CORRUPT = [
    ("short-file", lambda: b"\x01\x00\x00", "shorter than the 8-byte"),
    ("empty-file", lambda: b"", "shorter than the 8-byte"),
    ("header-beyond-file", lambda: struct.pack("<Q", 4096) + b'{"a":1}', "larger than the 7 bytes left"),
    ("header-over-bound", lambda: struct.pack("<Q", ff.MAX_HEADER_BYTES + 1) + b"{}", "bound"),
    ("header-2**62", lambda: struct.pack("<Q", 2 ** 62) + b"{}", "bound"),
    ("header-empty", lambda: build(b"", pad=False), "does not start with '{'"),
    ("header-not-utf8", _header_text(b'{"\xff\xfe": 1}'), "not UTF-8"),
    ("header-not-json", _header_text(b'{"__metadata__": '), "not valid JSON"),
    ("header-not-object", _header_text(b"[1, 2, 3]"), "does not start with '{'"),
    ("header-trailing-junk", lambda: build(SMALL[8:8 + struct.unpack("<Q", SMALL[:8])[0]] + b"x", _h()[1]),
     "not valid JSON"),
    ("header-nan-constant", _header_text(b'{"a": NaN}'), "not valid JSON"),
    ("header-deep-nesting", _header_text(b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}"), "nested too deeply"),
    ("header-huge-int", _header_text(b'{"a": ' + b"9" * 5000 + b"}"), "not valid JSON"),
    ("duplicate-tensor", lambda: build(json.dumps(_h()[0])[:-1].encode() + b', "conv1.bias": {}}', _h()[1]),
     "duplicate key 'conv1.bias'"),
    ("duplicate-metadata-key", _rename("__metadata__"), "duplicate key '__metadata__'"),
    ("no-metadata", _no_metadata, "no __metadata__"),
    ("metadata-not-object", _meta("graph", ["x"]), "expected a string, got a list"),
    ("metadata-as-tensor", _metadata_as_tensor, "expected a string"),
    ("metadata-number", _meta("format_version", 1), "expected a string, got an integer"),
    ("metadata-no-format", _meta("format", _DELETE), "no 'format'"),
    ("metadata-no-version", _meta("format_version", _DELETE), "no 'format_version'"),
    ("metadata-no-graph", _meta("graph", _DELETE), "no 'graph'"),
    ("wrong-format-name", _meta("format", "pt"), "format is 'pt', expected 'fastnorm'"),
    ("version-newer", _meta("format_version", "2"), "format_version 2 is newer than this fastnorm supports (1)"),
    ("version-zero", _meta("format_version", "0"), "not a positive integer"),
    ("version-text", _meta("format_version", "1.0"), "not a positive integer"),
    ("version-unicode-digit", _meta("format_version", "\u0661"), "not a positive integer"),
    ("version-huge", _meta("format_version", "9" * 50), "not a positive integer"),
    ("graph-not-json", _meta("graph", "{nodes: []}"), "graph is not valid JSON"),
    ("graph-not-object", _meta("graph", "[]"), "graph is a list, expected an object"),
    ("graph-duplicate-key", _meta("graph", '{"inputs": [], "inputs": []}'), "graph JSON has a duplicate key 'inputs'"),
    ("graph-infinity", _meta("graph", '{"x": Infinity}'), "not valid JSON"),
    ("tensor-not-object", lambda: build(dict(_h()[0], **{"conv1.bias": [1, 2]}), _h()[1]), "expected an object"),
    ("tensor-missing-field", lambda: build({k: ({kk: vv for kk, vv in v.items() if kk != "dtype"} if k == _W else v)
                                            for k, v in _h()[0].items()}, _h()[1]), "missing 'dtype'"),
    ("tensor-extra-field", _tensor("strides", [1]), "unexpected key 'strides'"),
    ("dtype-not-string", _tensor("dtype", 4), "dtype is an integer"),
    ("dtype-unknown", _tensor("dtype", "F16"), "dtype 'F16' not supported"),
    ("dtype-lowercase", _tensor("dtype", "f32"), "not supported"),
    ("shape-not-list", _tensor("shape", 432), "shape is an integer, expected a list"),
    ("shape-negative", _tensor("shape", [-16, 3, 3, 3]), "shape entry -16 is negative"),
    ("shape-float", _tensor("shape", [16.0, 3, 3, 3]), "shape entry 16.0 is not an integer"),
    ("shape-bool", _tensor("shape", [True, 3, 3, 3]), "shape entry true is not an integer"),
    ("shape-null", _tensor("shape", [None, 3, 3, 3]), "shape entry null is not an integer"),
    ("shape-too-many-dims", _tensor("shape", [1] * 9), "9 dimensions, at most 8"),
    ("shape-overflow", _tensor("shape", [2 ** 40, 2 ** 40, 2 ** 40]), "overflows"),
    ("shape-overflow-with-zero", _tensor("shape", [0, 2 ** 62, 2 ** 62]), "overflows"),
    ("shape-dim-over-int64", _tensor("shape", [2 ** 64]), "overflows"),
    ("offsets-not-list", _tensor("data_offsets", 0), "not a list of two integers"),
    ("offsets-three", _tensor("data_offsets", [0, 4, 8]), "not a list of two integers"),
    ("offsets-float", _tensor("data_offsets", [64.0, 1792.0]), "not a list of two integers"),
    ("offsets-negative", _tensor("data_offsets", [-4, 1724]), "negative"),
    ("offsets-begin-after-end", _tensor("data_offsets", [1792, 64]), "begin 1792 > end 64"),
    ("offsets-beyond-file", _offsets_shift(0, 10 ** 12), "beyond the end of the file"),
    ("byte-count-mismatch", _offsets_shift(8, 0),
     "tensor 'conv1.weight': shape [16, 3, 3, 3] needs 1728 bytes, data_offsets give 1720"),
    ("overlap", _overlap, "overlaps"),
    ("gap", _gap, "gap in the byte buffer"),
    ("trailing-bytes", lambda: SMALL + b"\0" * 8, "trailing bytes"),
    ("missing-bytes", lambda: SMALL[:-4], "beyond the end of the file"),
    ("tensor-dunder-name", _rename("__weights__"), "reserved"),
    ("tensor-empty-name", _rename(""), "empty name"),
    ("tensor-lone-surrogate", lambda: build(json.dumps(_h()[0]).replace('"conv1.bias"', '"b\\ud800"').encode(),
                                            _h()[1]), "lone surrogate"),
]


@pytest.mark.parametrize("make, phrase", [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_file(tmp_path, make, phrase):
    data = make()
    assert_format_error(data, phrase)
    path = tmp_path / "bad.fnm"
    path.write_bytes(data)
    with pytest.raises(FormatError, match=None) as info:
        ff.load(path)
    assert phrase in str(info.value)


def test_small_file_is_valid():
    # The corruption cases edit this file; make sure they start from something valid, with the layout assumed.
    h, buf = _h()
    assert h["conv1.bias"]["data_offsets"] == [0, 64] and h[_W]["data_offsets"] == [64, 1792]
    ff.loads(build(h, buf), known_ops=KNOWN_OPS)


def test_too_many_tensors(monkeypatch):
    monkeypatch.setattr(ff, "MAX_TENSORS", 6)
    assert_format_error(_too_many_tensors(), "9 tensors, more than the bound of 6")


def test_writer_refuses_too_many_tensors(monkeypatch):
    monkeypatch.setattr(ff, "MAX_TENSORS", 3)
    with pytest.raises(ValueError, match="4 weights, more than the 3"):
        ff.dumps(small_graph(), small_weights())


def test_messages_do_not_echo_huge_names():
    h, buf = _h()
    text = json.dumps(h).replace('"conv1.bias"', json.dumps("__" + "x" * 100000 + "__")).encode()
    msg = assert_format_error(build(text, buf), "reserved")
    assert len(msg) < 300


# ---------------------------------------------------------------------------------------------
# Truncation, fuzzing, bounds

def test_truncation_at_every_byte(tmp_path):
    path = tmp_path / "t.fnm"
    for k in range(len(SMALL)):
        with pytest.raises(FormatError):
            ff.loads(SMALL[:k])
        path.write_bytes(SMALL[:k])
        with pytest.raises(FormatError):
            ff.load(path)


def _outcome(fn):
    try:
        g, w = fn()
    except FormatError as e:
        return ("error", str(e))
    return ("ok", json.dumps(g, sort_keys=True), {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in w.items()})


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "f.fnm"


edits = st.lists(st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(SMALL) - 1), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, len(SMALL)), st.just(0)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=16), st.just(0)),
    st.tuples(st.just("set"), st.integers(0, len(SMALL) - 1), st.integers(0, 255)),
), min_size=1, max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits)
def test_fuzz_bytes_only_format_error(fuzz_path, edits):
    data = bytearray(SMALL)
    for kind, a, b in edits:
        if kind == "flip" and a < len(data):
            data[a] ^= b
        elif kind == "set" and a < len(data):
            data[a] = b
        elif kind == "truncate":
            del data[a:]
        elif kind == "append":
            data += a
    got = _outcome(lambda: ff.loads(bytes(data), known_ops=KNOWN_OPS))
    fuzz_path.write_bytes(bytes(data))
    assert _outcome(lambda: ff.load(fuzz_path, known_ops=KNOWN_OPS)) == got
    if got[0] == "ok":
        _assert_safetensors_agrees(bytes(data))


def _assert_safetensors_agrees(data):
    """Whatever we accept, the safetensors package reads too, with the same arrays and metadata."""
    st_numpy = importorskip("safetensors.numpy")
    graph, weights = ff.loads(data)
    theirs = st_numpy.load(data)
    assert sorted(theirs) == sorted(weights)
    for k, v in weights.items():
        assert same_bits(theirs[k], v), k


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _replace(obj, path, value):
    if not path:
        return value
    obj = copy.deepcopy(obj)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


_HEADER, _BUFFER = _h()
_GRAPH = small_graph()
_HEADER_PATHS = [p for p in _paths(_HEADER) if p[:2] != ("__metadata__", "graph")]
_GRAPH_PATHS = list(_paths(_GRAPH))


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(_HEADER_PATHS), value=json_values)
def test_fuzz_header_fields_only_format_error(where, value):
    data = build(_replace(_HEADER, where, value), _BUFFER)
    try:
        ff.loads(data, known_ops=KNOWN_OPS)
    except FormatError:
        return
    _assert_safetensors_agrees(data)


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(_GRAPH_PATHS), value=json_values)
def test_fuzz_graph_fields_only_format_error(where, value):
    graph = _replace(_GRAPH, where, value)
    header = copy.deepcopy(_HEADER)
    header["__metadata__"]["graph"] = json.dumps(graph)
    try:
        ff.loads(build(header, _BUFFER))
        read_ok = True
    except FormatError:
        read_ok = False
    # The writer agrees with the reader: it writes exactly the graphs the reader accepts.
    try:
        written = ff.dumps(graph, small_weights())
    except ValueError:
        assert not read_ok
    else:
        assert read_ok
        assert ff.loads(written)[0] == json.loads(json.dumps(graph))
    try:
        ff.loads(build(header, _BUFFER), known_ops=KNOWN_OPS)
    except FormatError:
        pass


def _fails_fast(fn, phrase):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(FormatError, match=phrase):
            fn()
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 1 << 20


def test_header_length_2_62_fails_fast_without_allocating(tmp_path):
    data = struct.pack("<Q", 2 ** 62) + b'{"__metadata__": {}}'
    _fails_fast(lambda: ff.loads(data), "bound")
    (tmp_path / "h.fnm").write_bytes(data)
    _fails_fast(lambda: ff.load(tmp_path / "h.fnm"), "bound")


def test_header_over_bound_in_a_big_file_is_not_read(tmp_path):
    # A sparse file big enough to hold the claimed header: the bound, not the file size, must stop us.
    path = tmp_path / "big.fnm"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", ff.MAX_HEADER_BYTES + 8) + b"{")
        f.truncate(ff.MAX_HEADER_BYTES + 64)
    _fails_fast(lambda: ff.load(path), "larger than the bound")


def test_tensor_claiming_huge_size_is_not_allocated():
    h, buf = _h()
    h[_W]["shape"] = [2 ** 20, 2 ** 20, 16]           # 64 TiB
    h[_W]["data_offsets"] = [64, 64 + 4 * 2 ** 44]
    _fails_fast(lambda: ff.loads(build(h, buf)), "beyond the end of the file")


# ---------------------------------------------------------------------------------------------
# The graph schema

def _graph_file(mutate, weights=None):
    graph = small_graph()
    mutate(graph)
    h, buf = split(ff.dumps(small_graph(), weights or small_weights()))
    return build(with_graph(h, graph), buf), graph


def _node(graph, name):
    return next(n for n in graph["nodes"] if n["name"] == name)


def _swap_first_nodes(g):
    g["nodes"][0], g["nodes"][1] = g["nodes"][1], g["nodes"][0]


GRAPH_BAD = [
    ("missing-input", lambda g: _node(g, "relu1")["inputs"].__setitem__(0, "conv9_out"),
     "node 'relu1': input 'conv9_out' is not a graph input, a weight or an output of an earlier node"),
    ("missing-weight", lambda g: _node(g, "conv1")["inputs"].__setitem__(1, "conv1.w"), "input 'conv1.w' is not"),
    ("use-before-def", _swap_first_nodes, "node 'relu1': input 'conv1_out' is used before node 'conv1' produces it"),
    ("self-loop", lambda g: _node(g, "relu1")["inputs"].__setitem__(0, "relu1_out"), "used before"),
    ("duplicate-output", lambda g: _node(g, "flat")["outputs"].__setitem__(0, "relu1_out"),
     "node 'flat': output 'relu1_out' clashes with the output of node 'relu1'"),
    ("duplicate-output-in-node", lambda g: _node(g, "relu1")["outputs"].append("relu1_out"), "clashes"),
    ("output-is-weight", lambda g: _node(g, "relu1")["outputs"].__setitem__(0, "fc.weight"),
     "output 'fc.weight' clashes with a weight"),
    ("output-is-input", lambda g: _node(g, "relu1")["outputs"].__setitem__(0, "input"),
     "clashes with a graph input"),
    ("input-is-weight", lambda g: g["inputs"].append({"name": "conv1.bias", "shape": [16], "dtype": "float32"}),
     "graph input 'conv1.bias' clashes with a weight"),
    ("input-twice", lambda g: g["inputs"].append(dict(g["inputs"][0])), "clashes with a graph input"),
    ("duplicate-node-name", lambda g: g["nodes"][1].__setitem__("name", "conv1"), "node 'conv1': node name used twice"),
    ("output-not-produced", lambda g: g["outputs"][0].__setitem__("name", "probs"),
     "graph output 'probs' is not produced by any node"),
    ("output-is-graph-input", lambda g: g["outputs"][0].__setitem__("name", "input"), "not produced by any node"),
    ("output-listed-twice", lambda g: g["outputs"].append(dict(g["outputs"][0])), "listed twice"),
    ("no-inputs", lambda g: g.__setitem__("inputs", []), "graph has no inputs"),
    ("no-outputs", lambda g: g.__setitem__("outputs", []), "graph has no outputs"),
    ("no-nodes-key", lambda g: g.pop("nodes"), "graph: missing 'nodes'"),
    ("extra-graph-key", lambda g: g.__setitem__("extra", 1), "graph: unexpected key 'extra'"),
    ("nodes-not-list", lambda g: g.__setitem__("nodes", {}), "graph nodes is an object, expected a list"),
    ("node-not-object", lambda g: g["nodes"].append([]), "node #4 is a list, expected an object"),
    ("node-missing-attrs", lambda g: g["nodes"][1].pop("attrs"), "node #1: missing 'attrs'"),
    ("node-extra-key", lambda g: g["nodes"][1].__setitem__("doc", "x"), "unexpected key 'doc'"),
    ("node-name-empty", lambda g: g["nodes"][1].__setitem__("name", ""), "node #1 name is empty"),
    ("node-name-number", lambda g: g["nodes"][1].__setitem__("name", 3), "node #1 name is an integer"),
    ("node-op-empty", lambda g: g["nodes"][1].__setitem__("op", ""), "node 'relu1' op is empty"),
    ("node-input-number", lambda g: g["nodes"][1]["inputs"].append(7), "input 7 is not a string"),
    ("node-inputs-string", lambda g: g["nodes"][1].__setitem__("inputs", "conv1_out"), "inputs is a string"),
    ("node-no-outputs", lambda g: g["nodes"][3].__setitem__("outputs", []), "node 'fc': has no outputs"),
    ("node-output-empty", lambda g: g["nodes"][1]["outputs"].append(""), "output is empty"),
    ("attrs-list", lambda g: g["nodes"][0].__setitem__("attrs", [1]), "attrs is a list, expected an object"),
    ("attr-dict-value", lambda g: g["nodes"][0]["attrs"].__setitem__("stride", {"h": 1}),
     "node 'conv1' attribute 'stride': an object is not allowed"),
    ("attr-nested-dict", lambda g: g["nodes"][0]["attrs"].__setitem__("stride", [1, [2, {}]]), "not allowed"),
    ("attr-too-deep", lambda g: g["nodes"][0]["attrs"].__setitem__("stride", [[[[[[[[[1]]]]]]]]]),
     "nested more than 8 deep"),
    ("attr-name-empty", lambda g: g["nodes"][0]["attrs"].__setitem__("", 1), "attribute name is empty"),
    ("shape-negative", lambda g: g["inputs"][0].__setitem__("shape", [None, -3, 8, 8]),
     "graph input 'input': shape entry -3 is not a non-negative integer or null"),
    ("shape-float", lambda g: g["inputs"][0].__setitem__("shape", [None, 3.0, 8, 8]), "shape entry 3.0 is not"),
    ("shape-string", lambda g: g["outputs"][0].__setitem__("shape", ["N", 10]),
     "graph output 'logits': shape entry \"N\" is not"),
    ("shape-bool", lambda g: g["outputs"][0].__setitem__("shape", [True, 10]), "shape entry true is not"),
    ("shape-not-list", lambda g: g["outputs"][0].__setitem__("shape", None), "shape is null, expected a list"),
    ("shape-too-many-dims", lambda g: g["inputs"][0].__setitem__("shape", [1] * 9), "9 dimensions"),
    ("shape-huge", lambda g: g["inputs"][0].__setitem__("shape", [2 ** 64]), "not a non-negative integer"),
    ("value-dtype", lambda g: g["inputs"][0].__setitem__("dtype", "float16"), "dtype \"float16\" not supported"),
    ("value-missing-dtype", lambda g: g["inputs"][0].pop("dtype"), "graph input #0: missing 'dtype'"),
    ("value-not-object", lambda g: g["inputs"].__setitem__(0, "input"), "graph input #0 is a string"),
]


@pytest.mark.parametrize("mutate, phrase", [c[1:] for c in GRAPH_BAD], ids=[c[0] for c in GRAPH_BAD])
def test_graph_schema_violation(mutate, phrase):
    data, graph = _graph_file(mutate)
    assert_format_error(data, phrase)
    with pytest.raises(ValueError, match=None) as info:     # and the writer refuses it, same words
        ff.dumps(graph, small_weights())
    assert phrase in str(info.value) and not isinstance(info.value, FormatError)


def test_attr_non_finite_number_from_file():
    h, buf = _h()
    h["__metadata__"]["graph"] = h["__metadata__"]["graph"].replace('"axis":1', '"axis":1e999')
    assert_format_error(build(h, buf), "node 'flat' attribute 'axis': inf is not a finite number")


def test_unknown_op_with_known_ops():
    data, _ = _graph_file(lambda g: g["nodes"][1].__setitem__("op", "gelu"))
    ff.loads(data)                                          # without known_ops the op name is not judged
    assert_format_error(data, "node 'relu1': unknown op 'gelu'", known_ops=KNOWN_OPS)


def test_unknown_attr_with_known_ops():
    data, _ = _graph_file(lambda g: g["nodes"][0]["attrs"].__setitem__("ceil_mode", True))
    assert_format_error(data, "node 'conv1' (op 'conv2d'): unknown attribute 'ceil_mode'", known_ops=KNOWN_OPS)


def test_every_unknown_op_and_attr_listed_at_once():
    def mutate(g):
        g["nodes"][1]["op"] = "gelu"
        g["nodes"][2]["attrs"]["end_axis"] = -1
        g["nodes"][3]["op"] = "matmul"
    data, _ = _graph_file(mutate)
    msg = assert_format_error(data, "unknown op 'gelu'", known_ops=KNOWN_OPS)
    assert "unknown attribute 'end_axis'" in msg and "unknown op 'matmul'" in msg


def test_known_ops_accepts_valid_graph_and_scalar_attrs():
    graph = small_graph()
    graph["nodes"][0]["attrs"].update(dilation=[[1, 1]], groups=1)
    graph["nodes"][2]["attrs"]["axis"] = None
    g, _ = ff.loads(ff.dumps(graph, small_weights()), known_ops=KNOWN_OPS)
    assert g == graph


@pytest.mark.parametrize("depth", [20, 500, 950, 990, 5000])
@pytest.mark.parametrize("where", ["node-name", "attr", "input-shape", "output-name", "tensor-shape"])
def test_deeply_nested_values_are_format_errors(where, depth):
    h, buf = _h()
    graph = small_graph()
    graph["nodes"][1], graph["nodes"][2] = graph["nodes"][2], graph["nodes"][1]   # also a use-before-def
    marker = "__DEEP__"
    if where == "node-name":
        graph["nodes"][2]["name"] = marker
    elif where == "attr":
        graph["nodes"][0]["attrs"]["stride"] = marker
    elif where == "input-shape":
        graph["inputs"][0]["shape"] = [marker]
    elif where == "output-name":
        graph["outputs"][0]["name"] = marker
    text = json.dumps(graph).replace('"%s"' % marker, "[" * depth + "]" * depth)
    h["__metadata__"]["graph"] = text
    if where == "tensor-shape":
        h["__metadata__"]["graph"] = json.dumps(small_graph())
        h[_W]["shape"] = marker
    data = json.dumps(h).replace('"%s"' % marker, "[" * depth + "]" * depth).encode()
    with pytest.raises(FormatError):
        ff.loads(build(data, buf), known_ops=KNOWN_OPS)


@pytest.mark.parametrize("keep, phrase", [(40, "file ended inside the header"), (len(SMALL) - 100, "file ended after")])
def test_file_shrinking_while_read_is_a_format_error(tmp_path, monkeypatch, keep, phrase):
    # fstat says the whole file is there, but the bytes run out: what a concurrent truncation looks like.
    path = tmp_path / "m.fnm"
    path.write_bytes(SMALL[:keep])

    class Stat:
        st_size = len(SMALL)

    with monkeypatch.context() as m:
        m.setattr(ff.os, "fstat", lambda fd: Stat())
        with pytest.raises(FormatError, match=phrase):
            ff.load(path)


def _validated(graph, known_ops, checked_only):
    """_validate_graph's verdict: None or the FormatError's message; checked_only: every node through
    _check_node (the path that names problems), as if _node_ok never vouched for one."""
    old = ff._node_ok
    if checked_only:
        ff._node_ok = lambda *a: False
    try:
        ff._validate_graph(graph, set(small_weights()), known_ops, FormatError)
        return None
    except FormatError as e:
        return str(e)
    finally:
        ff._node_ok = old


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(_GRAPH_PATHS), value=json_values,
       also=st.sampled_from([None, ("nodes", 0, "outputs"), ("nodes", 1, "name"), ("nodes", 0, "attrs")]))
def test_fuzz_node_fast_path_agrees_with_the_checks(where, value, also):
    """_validate_graph's fast path (_node_ok, no messages built) accepts and rejects exactly the graphs
    the named checks (_check_node) do, with the same message."""
    graph = _replace(_GRAPH, where, value)
    if also is not None:                     # a second edit: duplicated outputs, names, non-ASCII text
        try:
            extra = {("nodes", 0, "outputs"): ["dup", "dup"], ("nodes", 1, "name"): _GRAPH["nodes"][0]["name"],
                     ("nodes", 0, "attrs"): {"caf\u00e9": ["\u00e9t\u00e9", 1.5, [None, True]]}}[also]
            graph = _replace(graph, also, extra)
        except (KeyError, IndexError, TypeError):
            pass
    for known in (None, KNOWN_OPS):
        assert _validated(graph, known, False) == _validated(graph, known, True)


@settings(max_examples=400, deadline=None)
@given(info=st.fixed_dictionaries({"dtype": st.one_of(st.sampled_from(["F32", "I64", "F16"]), json_values),
                                   "shape": st.one_of(st.lists(st.integers(-2, 2 ** 62), max_size=9), json_values),
                                   "data_offsets": st.one_of(st.lists(st.integers(-1, 300), min_size=2, max_size=2),
                                                             json_values)}),
       size=st.integers(0, 300))
def test_fuzz_tensor_fast_path_agrees_with_the_checks(info, size):
    """_tensor_ok (no messages built) returns _parse_tensor's result exactly when every check passes."""
    fast = ff._tensor_ok(info, size)
    old = ff._tensor_ok
    ff._tensor_ok = lambda *a: None
    try:
        checked = ff._parse_tensor("t", info, size)
    except FormatError:
        checked = None
    finally:
        ff._tensor_ok = old
    assert fast is None or fast == checked
    if checked is not None and all(type(d) is int for d in info["shape"]) and type(info["dtype"]) is str:
        assert fast == checked
