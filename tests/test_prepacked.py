"""Prepacked weights in a .fnm file (fastnorm.prepack, issue 14's cold start): a round trip under every ISA
gives the same outputs without packing; another ISA's, layout version's or graph's section falls back to
packing; a malformed or corrupted section raises FormatError."""
import json
import os
import struct

import numpy as np
import pytest

import fastnorm
from fastnorm import _C, fileformat, prepack
from fastnorm.graph import Graph, Node, TensorSpec
from fastnorm.model import Model
from fastnorm.testing import force_isa


def _net(seed=0):
    """Every stored packing: first-layer conv (not stored), Winograd-sized 3x3 convs (16 -> 24 with BN:
    F(2x2, 3x3); 48 -> 32: F(4x4, 3x3)), a 1x1, a depthwise 3x3, a grouped conv, a transposed conv, a flatten into two linears (the (h, w, c) one)."""
    rng = np.random.default_rng(seed)
    w = {}

    def t(name, shape, scale=0.3):
        w[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
        return name

    def bn(p, c):       # running mean, running var, gamma, beta
        stats = (rng.normal(0, 0.3, c), rng.uniform(0.5, 2.0, c), rng.normal(1, 0.1, c), rng.normal(0, 0.1, c))
        w.update({"%s.%d" % (p, i): v.astype(np.float32) for i, v in enumerate(stats)})
        return ["%s.%d" % (p, i) for i in range(4)]

    c3 = {"stride": [1, 1], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1}
    nodes = [
        Node("c0", "conv2d", ["x", t("c0.w", (16, 3, 3, 3)), t("c0.b", (16,))], ["a0"], dict(c3)),
        Node("r0", "relu", ["a0"], ["b0"]),
        Node("c1", "conv2d", ["b0", t("c1.w", (24, 16, 3, 3), 0.1)], ["a1"], dict(c3)),
        Node("bn1", "batch_norm", ["a1"] + bn("bn1", 24), ["b1"], {"eps": 1e-5}),
        Node("r1", "relu", ["b1"], ["d1"]),
        Node("c2", "conv2d", ["d1", t("c2.w", (48, 24, 1, 1), 0.2)], ["a2"],
             {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1}),
        Node("c2b", "conv2d", ["a2", t("c2b.w", (32, 48, 3, 3), 0.05)], ["a2b"], dict(c3)),
        Node("dw", "conv2d", ["a2b", t("dw.w", (32, 1, 3, 3)), t("dw.b", (32,))], ["a3"],
             {"stride": [2, 2], "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 32}),
        Node("gc", "conv2d", ["a3", t("gc.w", (32, 8, 3, 3), 0.1)], ["a4"], dict(c3, groups=4)),
        Node("ct", "conv_transpose2d", ["a4", t("ct.w", (32, 8, 2, 2), 0.1), t("ct.b", (8,))], ["a5"],
             {"stride": [2, 2], "padding": [0, 0, 0, 0], "output_padding": [0, 0], "dilation": [1, 1],
              "groups": 1}),
        Node("pool", "max_pool2d", ["a5"], ["a6"],
             {"kernel": [4, 4], "stride": [4, 4], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": False}),
        Node("fl", "flatten", ["a6"], ["f"], {"start_dim": 1, "end_dim": -1}),
        Node("fc1", "linear", ["f", t("fc1.w", (20, 8 * 4 * 4), 0.1), t("fc1.b", (20,))], ["h"]),
        Node("fc2", "linear", ["h", t("fc2.w", (5, 20)), t("fc2.b", (5,))], ["y"]),
    ]
    return Graph([TensorSpec("x", (None, 3, 16, 16))], [TensorSpec("y", (None, 5))], nodes, w)


X = np.random.default_rng(7).standard_normal((2, 3, 16, 16)).astype(np.float32)


def _no_packing(monkeypatch):
    """Any packing call fails the test: a model that loads under this was built from the file alone."""
    def boom(*a, **k):
        raise AssertionError("packed at load although the file is prepacked")
    for name in ("conv2d_pack", "winograd3x3_pack", "winograd2x3_pack", "conv_transpose2d_pack", "dwconv2d_pack"):
        monkeypatch.setattr(_C, name, boom)


def test_round_trip_under_every_isa(isa, tmp_path, monkeypatch):
    m = Model(_net())
    want1, want2 = m.predict(X[:1]), m.predict(X)
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    graph, weights, packed = fileformat.load(p, prepacked=lambda meta: True)
    assert packed is not None and packed[0]["isa"] == isa
    variants = {v if isinstance(v, str) else v[0] for _, v, _ in packed[1]}
    want = {"conv", "dwconv", "conv_transpose", "linear", "linear_hwc"}
    if os.environ.get("FASTNORM_WINOGRAD", "1") != "0":
        want |= {"winograd3x3", "winograd2x3"}
    assert want <= variants, variants
    assert not any(k.startswith(prepack.PREFIX) for k in weights)
    with monkeypatch.context() as mp:
        _no_packing(mp)
        m2 = fastnorm.load(p)
        got1 = m2.predict(X[:1])
    np.testing.assert_array_equal(got1, want1)
    np.testing.assert_array_equal(m2.predict(X), want2)      # another batch: its own plan, same weights
    # the plain file of the same model loads to the same outputs
    m.save(tmp_path / "plain.fnm")
    np.testing.assert_array_equal(fastnorm.load(tmp_path / "plain.fnm").predict(X), want2)


def _other_isa(isa):
    from fastnorm.testing import available_isas
    others = [i for i in available_isas() if i != isa]
    if not others:
        pytest.skip("one ISA only on this CPU")
    return others[0]


def test_another_isas_file_falls_back_to_packing(isa, tmp_path, monkeypatch):
    other = _other_isa(isa)
    m = Model(_net())
    with force_isa(other):
        Model(_net()).save(tmp_path / "o.fnm", prepacked=True)
    calls = []
    real = _C.conv2d_pack
    monkeypatch.setattr(_C, "conv2d_pack", lambda *a: calls.append(1) or real(*a))
    m2 = fastnorm.load(tmp_path / "o.fnm")          # under `isa`: the other ISA's arrays are not even read
    assert calls
    np.testing.assert_array_equal(m2.predict(X), m.predict(X))
    _, _, packed = fileformat.load(tmp_path / "o.fnm", prepacked=lambda meta: meta["isa"] == isa)
    assert packed is None


def _rewrite_meta(path, edit):
    """Rewrite the prepacked metadata of a .fnm file (same tensors) through edit(meta dict)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"]["prepacked"])
    out = edit(meta)
    header["__metadata__"]["prepacked"] = out if isinstance(out, str) else json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])


@pytest.mark.parametrize("what", ["version", "probe", "isa_name"])
def test_another_version_or_layout_falls_back(tmp_path, monkeypatch, what):
    m = Model(_net())
    want = m.predict(X)
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)

    def edit(meta):
        if what == "version":
            meta["version"] += 1
        elif what == "probe":
            meta["probe"] = "0" * 8
        else:
            meta["isa"] = "sse9"
    _rewrite_meta(p, edit)
    calls = []
    real = _C.conv2d_pack
    monkeypatch.setattr(_C, "conv2d_pack", lambda *a: calls.append(1) or real(*a))
    np.testing.assert_array_equal(fastnorm.load(p).predict(X), want)
    assert calls, "a section from another layout was used"


def test_layout_version_bump_falls_back(tmp_path, monkeypatch):
    m = Model(_net())
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    monkeypatch.setattr(prepack, "LAYOUT_VERSION", prepack.LAYOUT_VERSION + 1)
    _, _, packed = fileformat.load(p, prepacked=fastnorm.api._usable_here)
    assert packed is None
    np.testing.assert_array_equal(fastnorm.load(p).predict(X), m.predict(X))


def test_another_graph_falls_back(tmp_path):
    """optimize=False plans another graph: the section's graph checksum does not match it."""
    m = Model(_net())
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    m2 = fastnorm.load(p, optimize=False)
    want = Model(_net(), optimize=False).predict(X)
    np.testing.assert_array_equal(m2.predict(X), want)


def test_probe_is_stable_and_differs_per_isa():
    from fastnorm.testing import available_isas
    probes = {}
    for name in available_isas():
        i = _C.ISA_NAMES.index(name)
        probes[name] = prepack.layout_probe(i)
        prepack._probe.cache_clear()
        junk = [np.empty(1000 + 17 * k, np.float32) for k in range(30)]     # other addresses
        assert prepack.layout_probe(i) == probes[name]
        del junk
    assert len(set(probes.values())) == len(probes) or len(probes) == 1


def test_loads_from_bytes_is_the_same(tmp_path):
    m = Model(_net())
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    data = p.read_bytes()
    g1, w1, pk1 = fileformat.loads(data, prepacked=lambda meta: True)
    g2, w2, pk2 = fileformat.load(p, prepacked=lambda meta: True)
    assert g1 == g2 and w1.keys() == w2.keys() and pk1[1] == pk2[1]
    for k in pk1[2]:
        np.testing.assert_array_equal(pk1[2][k], pk2[2][k])
    g3, w3 = fileformat.loads(data)        # the two-value form: no prepacked tensors among the weights
    assert w3.keys() == w1.keys()


# ------------------------------------------------------------------------------------------ corrupted


def _saved(tmp_path):
    m = Model(_net())
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    return m, p


def _rebuild(tmp_path, edit_tensors=None, edit_meta=None):
    """The prepacked file rebuilt with fileformat.dumps after editing its section's tensors / metadata."""
    m = Model(_net())
    meta_text, tensors = prepack.collect(m)
    meta = json.loads(meta_text)
    if edit_tensors:
        edit_tensors(tensors, meta)
    if edit_meta:
        r = edit_meta(meta)
        meta_text = r if isinstance(r, str) else json.dumps(meta)
    else:
        meta_text = json.dumps(meta)
    p = tmp_path / "bad.fnm"
    p.write_bytes(fileformat.dumps(m.source_graph.to_dict(), m.source_graph.weights, (meta_text, tensors)))
    return p


def _first(meta, variant):
    return next(e for e in meta["entries"] if e[1] == variant)


CORRUPT = {
    "not json": dict(edit_meta=lambda m: "{not json"),
    "not an object": dict(edit_meta=lambda m: "[1, 2]"),
    "missing key": dict(edit_meta=lambda m: m.pop("probe") and None),
    "entries not a list": dict(edit_meta=lambda m: m.update(entries={})),
    "bad entry": dict(edit_meta=lambda m: m["entries"].append(["c1", "conv"])),
    "unknown variant": dict(edit_meta=lambda m: m["entries"][0].__setitem__(1, "gemm9")),
    "bad linear_hwc": dict(edit_meta=lambda m: m["entries"][0].__setitem__(1, ["linear_hwc", 0, 1, 1])),
    "missing tensor": dict(edit_meta=lambda m: m["entries"][0].__setitem__(2, prepack.PREFIX + "999")),
    "graph weight as tensor": dict(edit_meta=lambda m: m["entries"][0].__setitem__(2, "c1.w")),
    "tensor listed twice": dict(edit_meta=lambda m: m["entries"][1].__setitem__(2, m["entries"][0][2])),
    "key listed twice": dict(edit_meta=lambda m: m["entries"][1].__setitem__(
        0, m["entries"][0][0]) or m["entries"][1].__setitem__(1, m["entries"][0][1])),
    "unlisted tensor": dict(edit_meta=lambda m: m["entries"].pop()),
    "2-D tensor": dict(edit_tensors=lambda t, m: t.update({k: v.reshape(1, -1) for k, v in list(t.items())[:1]})),
    "too short": dict(edit_tensors=lambda t, m: t.update({_first(m, "conv")[2]: t[_first(m, "conv")[2]][:-16]})),
    "too long": dict(edit_tensors=lambda t, m: t.update(
        {_first(m, "linear")[2]: np.concatenate([t[_first(m, "linear")[2]], np.zeros(64, np.float32)])})),
    "depthwise too short": dict(edit_tensors=lambda t, m: t.update(
        {_first(m, "dwconv")[2]: t[_first(m, "dwconv")[2]][:-1]})),
    "conv_transpose too short": dict(edit_tensors=lambda t, m: t.update(
        {_first(m, "conv_transpose")[2]: t[_first(m, "conv_transpose")[2]][:-8]})),
    "bad header": dict(edit_tensors=lambda t, m: t[_first(m, "conv")[2]].__setitem__(0, 99.0)),
    "nan header": dict(edit_tensors=lambda t, m: t[_first(m, "dwconv")[2]].__setitem__(0, np.nan)),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupted_section_raises_format_error(tmp_path, case):
    spec = CORRUPT[case]

    def edit_tensors(t, m):
        for k in t:
            t[k] = np.array(t[k])        # writeable copies
        spec["edit_tensors"](t, m)
    p = _rebuild(tmp_path, edit_tensors if "edit_tensors" in spec else None, spec.get("edit_meta"))
    with pytest.raises(fastnorm.FormatError):
        fastnorm.load(p)
    with pytest.raises(fastnorm.FormatError):      # from bytes, as tools/fuzz_fnm.py reads them
        g, w, packed = fileformat.loads(p.read_bytes(), prepacked=fastnorm.api._usable_here)
        fastnorm.api._fnm_model(g, w, "<bytes>", True, fastnorm.limits.DEFAULT_MAX_TENSOR_BYTES, packed)


def test_truncated_prepacked_file_raises_format_error(tmp_path):
    _, p = _saved(tmp_path)
    data = p.read_bytes()
    for cut in (len(data) - 4, len(data) - 1000):
        p.write_bytes(data[:cut])
        with pytest.raises(fastnorm.FormatError):
            fastnorm.load(p)


def test_save_refuses_a_clash(tmp_path):
    g = _net()
    g.weights[prepack.PREFIX + "0"] = np.zeros(3, np.float32)
    m = Model(g)
    with pytest.raises(ValueError, match="clash"):
        m.save(tmp_path / "c.fnm", prepacked=True)


def test_cli_convert_prepacked(tmp_path):
    """`fastnorm convert in out.fnm --prepacked` writes the section (and its reload check passes)."""
    import subprocess
    import sys
    import tempfile
    Model(_net()).save(tmp_path / "in.fnm")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    r = subprocess.run([sys.executable, "-m", "fastnorm.cli", "convert", str(tmp_path / "in.fnm"),
                        str(tmp_path / "out.fnm"), "--prepacked"], capture_output=True, text=True, env=env,
                       cwd=tempfile.gettempdir(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "identical predictions" in r.stdout
    _, _, packed = fileformat.load(tmp_path / "out.fnm", prepacked=lambda meta: True)
    assert packed is not None and packed[1]


def test_a_prepacked_file_is_still_a_safetensors_file(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = Model(_net())
    m.save(tmp_path / "m.fnm", prepacked=True)
    tensors = st.load_file(str(tmp_path / "m.fnm"))
    assert set(m.source_graph.weights) < set(tensors)
    assert any(k.startswith(prepack.PREFIX) for k in tensors)
    np.testing.assert_array_equal(tensors["c1.w"], m.source_graph.weights["c1.w"])
