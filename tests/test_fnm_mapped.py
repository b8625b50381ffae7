"""A .fnm file loaded through a read-only mapping (fileformat.load, issue 14's cold start): the same
graph, weights and outputs as reading it; the tensors are views of the mapping (nothing copied, and a
prepacked file's raw conv weights never read unless something asks for them); a prepacked tensor's
panels lie on a 64-byte line of the file (fileformat._place_packed), so its view is used as it is."""
import mmap as _mmap_module

import numpy as np
import pytest

import fastnorm
from fastnorm import fileformat, prepack
from fastnorm.model import Model

from test_prepacked import X, _net, _no_packing


def _mapped_base(a):
    """The mmap object a view was made from, or None for an array that owns (or copies) its memory."""
    b = a
    while isinstance(b, np.ndarray):
        b = b.base
    b = b.obj if isinstance(b, memoryview) else b
    return b if isinstance(b, _mmap_module.mmap) else None


@pytest.fixture
def mapped(monkeypatch):
    """Every file is mapped, however small (the test files are a few KiB)."""
    monkeypatch.setattr(fileformat, "MAP_MIN_BYTES", 0)


def _saved(tmp_path, prepacked):
    m = Model(_net())
    p = tmp_path / ("packed.fnm" if prepacked else "plain.fnm")
    m.save(p, prepacked=prepacked)
    return m, p


def test_mapped_load_equals_read_load(tmp_path, monkeypatch):
    _, p = _saved(tmp_path, True)
    monkeypatch.setattr(fileformat, "MAP_MIN_BYTES", 1 << 62)      # read
    g1, w1, pk1 = fileformat.load(p, prepacked=lambda meta: True)
    monkeypatch.setattr(fileformat, "MAP_MIN_BYTES", 0)            # mapped
    g2, w2, pk2 = fileformat.load(p, prepacked=lambda meta: True)
    assert g1 == g2 and list(w1) == list(w2) and pk1[1] == pk2[1]
    for k in w1:
        assert w1[k].dtype == w2[k].dtype and w1[k].shape == w2[k].shape
        assert np.array_equal(w1[k].view(np.uint8), w2[k].view(np.uint8)), k
        assert _mapped_base(w1[k]) is None and _mapped_base(w2[k]) is not None, k
        v = w2[k]
        assert v.flags.c_contiguous and v.flags.aligned and not v.flags.writeable and v.dtype.isnative
        with pytest.raises(ValueError):
            v[...] = 0
    for k in pk1[2]:
        np.testing.assert_array_equal(pk1[2][k], pk2[2][k])


def test_prepacked_panels_start_on_a_line_of_the_file(tmp_path, mapped):
    _, p = _saved(tmp_path, True)
    _, _, pk = fileformat.load(p, prepacked=lambda meta: True)
    assert pk[2]
    for name, arr in pk[2].items():
        off = prepack.header_offset(arr)
        assert off is not None, name
        assert _mapped_base(arr) is not None, name                  # used in place: no copy
        assert (arr.ctypes.data + 4 * off) % 64 == 0, name


def test_placing_keeps_the_packing(tmp_path):
    """_place_packed moves the panels behind another header offset and changes nothing else: the
    payload (prepack._payload) of every tensor is the one the model packed."""
    m = Model(_net())
    meta_text, tensors = prepack.collect(m)
    for pos in range(0, 128, 4):
        for arr in tensors.values():
            placed = fileformat._place_packed(arr, pos)
            off = prepack.header_offset(placed)
            assert (pos + 4 * off) % 64 == 0
            assert placed.shape == arr.shape and placed.dtype == arr.dtype
            np.testing.assert_array_equal(prepack._payload(placed), prepack._payload(arr))
    plain = np.arange(40, dtype=np.float32) + 100                    # no header: left as it is
    assert fileformat._place_packed(plain, 4) is plain


def test_prepacked_mapped_model_packs_nothing_and_predicts_the_same(isa, tmp_path, mapped, monkeypatch):
    m = Model(_net())
    want1, want2 = m.predict(X[:1]), m.predict(X)
    p = tmp_path / "m.fnm"
    m.save(p, prepacked=True)
    _no_packing(monkeypatch)
    loaded = fastnorm.load(p)
    np.testing.assert_array_equal(loaded.predict(X[:1]), want1)
    np.testing.assert_array_equal(loaded.predict(X), want2)
    # the raw weights are views of the file: loading read none of them (the OS reads a page only when
    # something touches it, and nothing at load or predict touches a prepacked conv's raw weights)
    conv_w = [n.inputs[1] for n in loaded.source_graph.nodes if n.op in ("conv2d", "conv_transpose2d", "linear")]
    assert conv_w and all(_mapped_base(loaded.source_graph.weights[k]) is not None for k in conv_w)


def test_plain_mapped_model_predicts_the_same(tmp_path, mapped):
    m, p = _saved(tmp_path, False)
    loaded = fastnorm.load(p)
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))


def test_saving_over_a_mapped_model_is_safe(tmp_path, mapped):
    """save replaces the file (a new inode): a model loaded from the old one keeps its weights."""
    m, p = _saved(tmp_path, True)
    loaded = fastnorm.load(p)
    want = loaded.predict(X)
    Model(_net(seed=1)).save(p, prepacked=True)
    np.testing.assert_array_equal(loaded.predict(X), want)
    np.testing.assert_array_equal(Model(loaded.source_graph).predict(X), want)


def test_truncated_mapped_file_raises_format_error(tmp_path, mapped):
    _, p = _saved(tmp_path, True)
    data = p.read_bytes()
    for cut in (len(data) - 4, len(data) - 1000):
        p.write_bytes(data[:cut])
        with pytest.raises(fastnorm.FormatError):
            fastnorm.load(p)

