"""An .onnx path is decoded from a read-only mapping of the file (fastnorm.frontends.onnx.parse, issue 14's
cold start): the same messages, tensors and converted graph as from its bytes, and no array handed out
(onnxpb.to_array) or kept by the model is a view of the mapping."""
import mmap

import numpy as np
import pytest
from util import importorskip

onnx = importorskip("onnx")

import fastnorm  # noqa: E402
from fastnorm import onnxpb  # noqa: E402
from fastnorm.frontends.onnx import onnx_to_graph, parse  # noqa: E402
from fastnorm.onnxpb import messages as M  # noqa: E402
from fastnorm.onnxpb import tensor as tensor_mod  # noqa: E402
from fastnorm.onnxpb.tensor import _maps_a_file  # noqa: E402
from test_onnxpb import all_tensors, rich_model, same  # noqa: E402


def _views_a_mapping(a):
    return _maps_a_file(a)


@pytest.fixture
def mapped(monkeypatch):
    monkeypatch.setattr(parse, "MAP_MIN_BYTES", 0)


def test_mapped_parse_equals_bytes_parse(tmp_path, mapped):
    m = rich_model(np.random.default_rng(0))
    data = m.SerializeToString()
    p = tmp_path / "rich.onnx"
    p.write_bytes(data)
    with open(p, "rb") as fh:
        mm = parse._mapped(fh)
    assert isinstance(mm, mmap.mmap)
    got = onnxpb.parse_model(mm)
    same(onnx.load_from_string(data), got)
    ref = onnxpb.parse_model(data)
    for a, b in zip(ref.graph.initializer, got.graph.initializer):
        if a.data_type == onnxpb.TensorProto.STRING:
            continue
        x, y = onnxpb.to_array(a), onnxpb.to_array(b)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), a.name
        assert not _views_a_mapping(y), a.name                  # copied out of the mapping


def test_every_tensor_from_a_mapping_is_copied_out(tmp_path):
    rng = np.random.default_rng(1)
    for i, t in enumerate(all_tensors(rng)):
        p = tmp_path / ("t%d.pb" % i)
        p.write_bytes(t.SerializeToString())
        with open(p, "rb") as fh:
            if fh.seek(0, 2) == 0:
                continue                                     # an empty file cannot be mapped
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        mine = M.parse(M.TensorProto, mm)
        got = onnxpb.to_array(mine)
        want = onnxpb.to_array(M.parse(M.TensorProto, t.SerializeToString()))
        assert got.dtype == want.dtype and got.shape == want.shape, t.name
        if got.dtype != object:
            assert got.tobytes() == want.tobytes(), t.name
            assert not _views_a_mapping(got), t.name


def test_mapped_conversion_equals_bytes_conversion(tmp_path, mapped):
    torch = importorskip("torch")
    import zoo
    from onnx_util import export
    model, shape = zoo.build("mobilenet_v3_small")
    data = export(model, (1,) + tuple(shape), 17)
    p = tmp_path / "m.onnx"
    p.write_bytes(data)
    g1, g2 = onnx_to_graph(data), onnx_to_graph(str(p))
    assert g1.to_dict() == g2.to_dict() and list(g1.weights) == list(g2.weights)
    for k in g1.weights:
        assert g1.weights[k].tobytes() == g2.weights[k].tobytes(), k
        assert not _views_a_mapping(g2.weights[k]), k
    x = torch.randn(2, *shape).numpy()
    m = fastnorm.load(p)
    for w in list(m.source_graph.weights.values()) + list(m.graph.weights.values()):
        assert not _views_a_mapping(w)
    np.testing.assert_array_equal(m.predict(x), fastnorm.from_onnx(data).predict(x))


@pytest.mark.parametrize("arena", ["numpy", "anonymous"])
@pytest.mark.parametrize("mapped_file", [True, False])
def test_views_detached_at_once_equal_to_array(tmp_path, mapped_file, arena, monkeypatch):
    """onnxpb.to_array_view then detach (the converter's way with a graph's initializers): the arrays
    to_array gives, bit for bit, none a view of the mapping or unaligned, the copies in one buffer,
    writable like any array of the model's; that buffer an anonymous mapping of 4 KiB pages from
    COLD_ARENA_BYTES up (not taken for a file's mapping), else NumPy's."""
    monkeypatch.setattr(tensor_mod, "COLD_ARENA_BYTES", 0 if arena == "anonymous" else 1 << 62)
    data = rich_model(np.random.default_rng(0)).SerializeToString()
    if mapped_file:
        p = tmp_path / "rich.onnx"
        p.write_bytes(data)
        with open(p, "rb") as fh:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    ts = [t for t in onnxpb.parse_model(data).graph.initializer if t.data_type != onnxpb.TensorProto.STRING]
    views = [onnxpb.to_array_view(t) for t in ts]
    assert any(not v.flags.aligned for v in views) and (any(_views_a_mapping(v) for v in views) or not mapped_file)
    got = onnxpb.detach(views)
    bases = set()
    for t, v, a in zip(ts, views, got):
        want = onnxpb.to_array(t)
        assert a.dtype == want.dtype and a.shape == want.shape and a.tobytes() == want.tobytes(), t.name
        assert a.flags.aligned and a.flags.c_contiguous and not _views_a_mapping(a), t.name
        if a is not v:
            bases.add(id(a.base))                # NumPy points a view of a view at the owner
            assert a.flags.writeable and (a.ctypes.data % 64 == 0 or a.nbytes == 0), t.name
            root = a.base
            while isinstance(root, np.ndarray):
                root = root.base
            root = root.obj if isinstance(root, memoryview) else root
            assert isinstance(root, tensor_mod._Anonymous) == (arena == "anonymous"), (t.name, type(root))
    assert len(bases) == 1


def test_cold_arena_falls_back_to_numpy(monkeypatch):
    """A mapping the OS refuses: detach's arena is NumPy's, the copies the same."""
    class Refused(mmap.mmap):
        def __new__(cls, *a, **k):
            raise OSError(12, "Cannot allocate memory")
    monkeypatch.setattr(tensor_mod, "COLD_ARENA_BYTES", 0)
    monkeypatch.setattr(tensor_mod, "_Anonymous", Refused)
    src = np.frombuffer(memoryview(np.arange(1001, dtype=np.float32).tobytes())[1:-3], np.float32)  # unaligned
    assert not src.flags.aligned
    (got,) = onnxpb.detach([src])
    assert got.flags.aligned and got.tobytes() == src.tobytes() and isinstance(got.base, np.ndarray)
