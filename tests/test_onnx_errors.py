"""Bad ONNX input: truncated files, garbage, unknown ops (all listed at once), foreign domains,
malformed graphs, and onnx not installed. Each gives FormatError / UnsupportedError / ImportError with
a message naming the problem; none crashes."""

import numpy as np
import pytest
from util import importorskip

onnx = importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fastnorm  # noqa: E402


def _model(nodes, inits=None, in_shape=(3, 4, 4), opset=13, domains=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(in_shape))
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "g", [x], [helper.make_empty_tensor_value_info(nodes[-1].output[0])], tensors)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] +
                          [helper.make_opsetid(d, 1) for d in domains])
    return m.SerializeToString()


def _good():
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    return _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                   helper.make_node("Relu", ["c"], ["y"])], {"w": w})


def test_truncated_files_are_format_errors(tmp_path):
    data = _good()
    fastnorm.from_onnx(data)  # the whole file is fine
    for cut in (1, 5, 17, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 3):
        p = tmp_path / ("cut%d.onnx" % cut)
        p.write_bytes(data[:cut])
        with pytest.raises(fastnorm.FormatError):
            fastnorm.load(str(p))
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(fastnorm.FormatError, match="no graph"):
        fastnorm.load(str(p))


@pytest.mark.parametrize("data", [b"\xff" * 64, b"not an onnx model at all", bytes(range(256)) * 4,
                                  b"\x0a\x05hello"])
def test_garbage_is_a_format_error(data):
    with pytest.raises(fastnorm.FormatError):
        fastnorm.from_onnx(data)


def test_every_unsupported_op_is_listed_at_once():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("FooBar", ["a"], ["b"], name="foo"),
             helper.make_node("Erf", ["b"], ["c"], name="erf"),
             helper.make_node("Div", ["c", "a"], ["d"], name="div"),
             helper.make_node("Conv", ["d", "w"], ["y"], name="conv", auto_pad="FOO")]
    data = _model(nodes, {"w": np.ones((2, 3, 1, 1), np.float32)}, opset=11)
    with pytest.raises(fastnorm.UnsupportedError) as e:
        fastnorm.from_onnx(data)
    msg = str(e.value)
    assert "node 'foo' (FooBar, opset 11): op FooBar" in msg
    # ops downstream of an unsupported one are still checked for being known ops; 'erf' and 'div' read
    # results of 'foo', so only their op types could be checked (both are known ops)
    assert "'r'" not in msg


def test_unsupported_attributes_listed_with_node_op_and_opset():
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="Conv_12", auto_pad="FOO"),
             helper.make_node("Relu", ["x"], ["b"], name="ok"),
             helper.make_node("Pad", ["b", "pads"], ["c"], name="Pad_3", mode="wrap"),
             helper.make_node("Gemm", ["x", "x"], ["d"], name="g"),
             helper.make_node("Sum", ["a", "c"], ["y"], name="s")]
    data = _model(nodes, {"w": np.ones((3, 3, 1, 1), np.float32),
                          "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}, opset=11)
    with pytest.raises(fastnorm.UnsupportedError) as e:
        fastnorm.from_onnx(data)
    msg = str(e.value)
    assert "node 'Conv_12' (Conv, opset 11): auto_pad 'FOO'" in msg
    assert "node 'Pad_3' (Pad, opset 11): mode 'wrap'" in msg
    assert "2 unsupported" in msg


def test_foreign_domain_is_unsupported_by_name():
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("FusedConv", ["a"], ["y"], domain="com.microsoft", name="fc")]
    with pytest.raises(fastnorm.UnsupportedError, match=r"node 'fc'.*domain 'com.microsoft'"):
        fastnorm.from_onnx(_model(nodes, domains=("com.microsoft",)))


def test_dangling_input_is_a_format_error():
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add")]
    with pytest.raises(fastnorm.FormatError, match=r"node 'add'.*'nowhere' is not produced"):
        fastnorm.from_onnx(_model(nodes))


def test_weight_shape_mismatch_is_a_format_error():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    with pytest.raises(fastnorm.FormatError, match=r"node 'conv'.*channels"):
        fastnorm.from_onnx(_model(nodes, {"w": np.ones((4, 5, 3, 3), np.float32)}))
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[2, 2])]
    with pytest.raises(fastnorm.FormatError, match=r"kernel_shape"):
        fastnorm.from_onnx(_model(nodes, {"w": np.ones((4, 3, 3, 3), np.float32)}))


def test_string_weight_is_a_format_error():
    t = helper.make_tensor("w", TensorProto.STRING, [1], [b"abc"])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "g", [x],
                          [helper.make_empty_tensor_value_info("y")], [t])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    with pytest.raises(fastnorm.FormatError, match=r"node 'add'.*cannot be cast to float32"):
        fastnorm.from_onnx(data)


def test_corrupt_raw_data_is_a_format_error():
    m = onnx.load_from_string(_good())
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-5]
    with pytest.raises(fastnorm.FormatError, match="initializer 'w'"):
        fastnorm.from_onnx(m)


def test_not_topologically_sorted_is_a_format_error():
    nodes = [helper.make_node("Relu", ["a"], ["y"], name="second"), helper.make_node("Relu", ["x"], ["a"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_empty_tensor_value_info("y")])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    with pytest.raises(fastnorm.FormatError, match="topological"):
        fastnorm.from_onnx(data)


def test_integer_input_and_dynamic_channel_dims_are_unsupported():
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [helper.make_empty_tensor_value_info("y")])
    with pytest.raises(fastnorm.UnsupportedError, match="dtype int64"):
        fastnorm.from_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    for dims in (["N", "C", 4, 4], ["N", 3, 0, "W"], ["N", "L"]):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x],
                              [helper.make_empty_tensor_value_info("y")])
        with pytest.raises(fastnorm.UnsupportedError,
                           match=r"dim 2 is 0 \(an empty tensor\)" if 0 in dims else "dynamic dims after the batch"):
            fastnorm.from_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))


def test_dynamic_spatial_dims_run_at_any_size():
    """Height and width declared dynamic (tests/test_zoo_dense.py runs whole exported nets this way)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [helper.make_empty_tensor_value_info("y")])
    model = fastnorm.from_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))
    assert model.inputs[0].shape == (None, 3, None, None)
    for shape in ((2, 3, 5, 7), (1, 3, 9, 2)):
        a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        assert np.array_equal(model.predict(a), np.maximum(a, 0))


def test_missing_file_and_wrong_type():
    with pytest.raises(FileNotFoundError):
        fastnorm.load("/nonexistent/dir/model.onnx")
    with pytest.raises(TypeError, match="path, bytes or an onnx.ModelProto"):
        fastnorm.from_onnx(12345)


def test_without_onnx_models_load_and_a_fallback_says_what_to_install(tmp_path):
    """onnx is not needed to load a model (fastnorm.onnxpb reads the file); only the rare constant fold
    onnxpb.fold lacks (here Trilu) needs onnx's reference evaluator, and then the message says what to
    install."""
    good = tmp_path / "good.onnx"
    good.write_bytes(_good())
    tri = helper.make_node("Trilu", ["m"], ["t"])
    rare = _model([helper.make_node("Constant", [], ["m"], value=numpy_helper.from_array(np.ones((3, 4, 4), np.float32))),
                   tri, helper.make_node("Add", ["x", "t"], ["y"])])
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import numpy as np, fastnorm\n"
            "m = fastnorm.load(sys.argv[1])\n"
            "print('SHAPE', m.predict(np.zeros((1, 3, 4, 4), np.float32)).shape)\n"
            "try:\n    fastnorm.from_onnx(open(sys.argv[2], 'rb').read())\n"
            "except ImportError as e:\n    print('IMPORTERROR', e)\n")
    (tmp_path / "rare.onnx").write_bytes(rare)
    import os
    from util import run_python  # an empty cwd; the child imports the fastnorm under test (installed or built in place)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__))))
    r = run_python(["-c", code, str(good), str(tmp_path / "rare.onnx")], env=env, timeout=120)
    assert "SHAPE (1, 4, 4, 4)" in r.stdout, r.stdout + r.stderr
    assert "IMPORTERROR" in r.stdout and "pip install fastnorm[onnx]" in r.stdout, r.stdout + r.stderr




def test_spatial_mismatch_on_a_dynamic_batch_is_malformed_not_a_batch_dependence():
    """An Add of maps whose widths differ fits at no batch: the message says the shapes do not
    broadcast, with the batch as N (not the probe number standing in for it), and does not blame the
    batch. A mismatch that only the batch makes (a constant of batch 2) is still the batch's."""
    w = np.zeros((2, 3, 1, 2), np.float32)    # a 1x2 kernel: 4 -> 3 columns
    data = _model([helper.make_node("Conv", ["x", "w"], ["c"]),
                   helper.make_node("Slice", ["x", "s0", "s1", "ax"], ["s"]),
                   helper.make_node("Add", ["c", "s"], ["y"])],
                  {"w": w, "s0": np.array([0]), "s1": np.array([2]), "ax": np.array([1])})
    with pytest.raises(fastnorm.FormatError, match=r"shapes do not fit.*\(N, 2, 4, 3\) and \(N, 2, 4, 4\)") as e:
        fastnorm.from_onnx(data)
    assert "batch" not in str(e.value) and "9973" not in str(e.value)
    # a constant of batch 2 added to activations of a dynamic batch: fits at batch 1 or 2 only
    data = _model([helper.make_node("Add", ["x", "k"], ["y"])], {"k": np.ones((2, 3, 4, 4), np.float32)})
    with pytest.raises(fastnorm.UnsupportedError, match="varies along the batch.*the batch is dynamic here"):
        fastnorm.from_onnx(data)
