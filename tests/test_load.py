"""fastnorm.load on files that are well-formed containers but describe an impossible or hostile
model: every case is a FormatError naming the problem, never a crash at load or at predict."""
import numpy as np
import pytest
from util import importorskip

import fastnorm
from fastnorm import fileformat
from fastnorm.models import simple_cnn


def write(tmp_path, mutate):
    g = simple_cnn(seed=0)
    graph, weights = g.to_dict(), dict(g.weights)
    mutate(graph, weights)
    path = tmp_path / "m.fnm"
    fileformat.save(str(path), graph, weights)
    return str(path)


def node(graph, name):
    return next(n for n in graph["nodes"] if n["name"] == name)


CASES = {
    "stride 0": (lambda g, w: node(g, "conv1")["attrs"].update(stride=[0, 1]), "stride"),
    "negative padding": (lambda g, w: node(g, "conv1")["attrs"].update(padding=[-1, 1, 1, 1]), "padding"),
    "groups not dividing": (lambda g, w: node(g, "conv2")["attrs"].update(groups=5), "groups"),
    "stride as text": (lambda g, w: node(g, "conv1")["attrs"].update(stride="1"), "stride"),
    "weight of wrong rank": (lambda g, w: w.update({"conv1.weight": np.zeros((16, 27), np.float32)}),
                             "conv1"),
    "bias of wrong length": (lambda g, w: w.update({"fc2.bias": np.zeros(11, np.float32)}), "bias"),
    "fc input mismatch": (lambda g, w: w.update({"fc1.weight": np.zeros((128, 2000), np.float32)}), "fc1"),
    "bn stats wrong length": (lambda g, w: w.update({"bn1.running_var": np.ones(15, np.float32)}), "bn1"),
    "pool padding too big": (lambda g, w: node(g, "pool1")["attrs"].update(padding=[2, 2]), "padding"),
    "pool larger than input": (lambda g, w: node(g, "pool2")["attrs"].update(kernel=[99, 99]), "pool2"),
    "output shape lies": (lambda g, w: g["outputs"][0].update(shape=[None, 11]), "output"),
    "unknown op": (lambda g, w: node(g, "relu1").update(op="swish_v9"), "swish_v9"),
    "unknown attribute": (lambda g, w: node(g, "relu1")["attrs"].update(alpha=1.0), "alpha"),
    "bad fused act": (lambda g, w: node(g, "fc1")["attrs"].update(act=["swish"]), "act"),
    "weight where activation expected": (lambda g, w: node(g, "relu1").update(inputs=["bn1.weight"]),
                                         "relu1"),
    "activation where weight expected": (lambda g, w: node(g, "conv2")["inputs"].__setitem__(1, "p1"),
                                         "conv2"),
    "input dtype": (lambda g, w: g["inputs"][0].update(dtype="int64"), "dtype"),
    "eps negative": (lambda g, w: node(g, "bn1")["attrs"].update(eps=-1.0), "eps"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inconsistent_model_is_a_format_error(tmp_path, case):
    mutate, phrase = CASES[case]
    try:
        path = write(tmp_path, mutate)
    except fastnorm.FormatError as e:
        # the writer refused it already: just as good, as long as it says why
        assert phrase in str(e)
        return
    with pytest.raises(fastnorm.FormatError) as e:
        fastnorm.load(path)
    assert phrase in str(e.value), str(e.value)


def test_valid_file_still_loads_and_runs(tmp_path):
    path = write(tmp_path, lambda g, w: None)
    m = fastnorm.load(path)
    assert m.predict(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 10)


def test_truncated_model_file(tmp_path):
    path = write(tmp_path, lambda g, w: None)
    data = open(path, "rb").read()
    for cut in (0, 7, 8, 100, len(data) // 2, len(data) - 1):
        p = tmp_path / ("cut%d.fnm" % cut)
        p.write_bytes(data[:cut])
        with pytest.raises(fastnorm.FormatError):
            fastnorm.load(str(p))


def test_onnx_garbage_is_a_format_error(tmp_path):
    importorskip("onnx")
    p = tmp_path / "x.onnx"
    p.write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(fastnorm.FormatError, match="ONNX"):
        fastnorm.load(str(p))
