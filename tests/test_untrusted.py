"""Issue 13: a model file is untrusted input. The .fnm reproductions of the issue, each as a file of a
few hundred bytes: geometry that overflows the kernels' size arithmetic fails at load with
FormatError; sizes a machine could hold but the limit forbids fail at load with MemoryError naming the
tensor; whatever loads, predicts."""
import numpy as np
import pytest

import fastnorm
from fastnorm import fileformat, limits
from fastnorm.graph import Graph, Node, TensorSpec, infer_shapes


def value(name, shape):
    return {"name": name, "shape": shape, "dtype": "float32"}


def one_node(op, attrs, weights=(), x_shape=(None, 1, 4, 4), y_shape=None, extra_inputs=None):
    """A .fnm graph dict of one node x -> y (the output shape is what the node computes, or y_shape)."""
    names = ["x"] + ([w for w, _ in weights] if extra_inputs is None else extra_inputs)
    w = {w: np.full(shape, 0.5, np.float32) for w, shape in weights}
    if y_shape is None:           # declare what the node computes, as a consistent (hostile) file would
        g = Graph([TensorSpec("x", x_shape)], [], [Node("n", op, names, ["y"], attrs)], w)
        try:
            y_shape = [None] + list(infer_shapes(g, {"x": (1,) + tuple(x_shape[1:])})["y"][1:])
        except (ValueError, OverflowError, IndexError):
            y_shape = [None, 1, 1, 1]
    graph = {"inputs": [value("x", list(x_shape))], "outputs": [value("y", y_shape)],
             "nodes": [{"name": "n", "op": op, "inputs": names, "outputs": ["y"], "attrs": attrs}]}
    return graph, w


def write(tmp_path, graph, weights, name="m.fnm"):
    path = tmp_path / name
    path.write_bytes(fileformat.dumps(graph, weights))
    return str(path)


CONV_W = [("w", (1, 1, 3, 3))]
CONVT_W = [("w", (1, 1, 3, 3))]

FORMAT_ERRORS = {
    # 1. the 728-byte crash: conv_first's padded image size overflowed (heap-buffer-overflow)
    "conv2d padding 2**61, stride 2**62": (
        one_node("conv2d", {"padding": [2 ** 61] * 4, "stride": [2 ** 62, 2 ** 62]}, CONV_W), "padding"),
    "conv2d padding and stride 2**63-1": (
        one_node("conv2d", {"padding": [2 ** 63 - 1] * 4, "stride": [2 ** 63 - 1] * 2}, CONV_W), "padding"),
    "conv2d stride 2**40": (one_node("conv2d", {"stride": [2 ** 40, 1]}, CONV_W), "stride"),
    # 2. UBSan: signed overflow in conv_transpose2d
    "conv_transpose2d dilation 2**62": (
        one_node("conv_transpose2d", {"dilation": [2 ** 62, 2 ** 62], "padding": [2 ** 62] * 4}, CONVT_W),
        "dilation"),
    "conv_transpose2d padding 2**62": (
        one_node("conv_transpose2d", {"padding": [2 ** 62, 0, 2 ** 62, 0]}, CONVT_W), "padding"),
    # 3. accepted, then OverflowError at plan or predict
    "conv2d padding 2**30": (one_node("conv2d", {"padding": [2 ** 30] * 4}, CONV_W), "zero-padded input"),
    "adaptive pool output 2**31-1": (
        one_node("adaptive_avg_pool2d", {"output_size": [2 ** 31 - 1, 2 ** 31 - 1]}), "output 'y'"),
    "interpolate scale 1e300": (one_node("interpolate", {"scale_factor": [1e300, 1e300]}, y_shape=[None, 1, 1, 1]),
                                "scale_factor"),
    "interpolate scale 2**22": (one_node("interpolate", {"scale_factor": [2.0 ** 22, 2.0 ** 22]}),
                                "more than any 64-bit machine"),
    "conv_transpose2d dilation 2**30, padding crops it back": (
        one_node("conv_transpose2d", {"dilation": [2 ** 30, 2 ** 30], "padding": [2 ** 29] * 4},
                 [("w", (1, 1, 2, 2))]), "before cropping"),
    # a prelu without its slope: IndexError in the plan before
    "prelu without its weight": (one_node("prelu", {}, x_shape=(None, 2, 3, 3)), "prelu"),
    "pad 2**31": (one_node("pad", {"pads": [2 ** 31, 0, 0, 0]}), "pads"),
    "reshape 2**40": (one_node("reshape", {"shape": [-1, 2 ** 40]}, x_shape=(None, 16)), "shape"),
}


@pytest.mark.parametrize("case", sorted(FORMAT_ERRORS))
def test_hostile_geometry_is_a_format_error_at_load(tmp_path, case):
    (graph, weights), phrase = FORMAT_ERRORS[case]
    path = write(tmp_path, graph, weights)
    with pytest.raises(fastnorm.FormatError) as e:
        fastnorm.load(path)
    assert phrase in str(e.value), str(e.value)


def test_the_728_byte_file_is_small(tmp_path):
    (graph, weights), _ = FORMAT_ERRORS["conv2d padding 2**61, stride 2**62"]
    assert len(fileformat.dumps(graph, weights)) < 1000


def test_layer_norm_channels_on_2d_fails_at_load_not_predict(tmp_path):
    graph, weights = one_node("layer_norm_channels", {}, [("g", (8,)), ("b", (8,))], x_shape=(None, 8),
                              y_shape=[None, 8])
    with pytest.raises(fastnorm.UnsupportedError, match="layer_norm_channels"):
        fastnorm.load(write(tmp_path, graph, weights))


@pytest.mark.parametrize("op, attrs, shape, gib", [
    ("pad", {"pads": [0, 2 ** 17, 0, 2 ** 17]}, (1, 1, 2 ** 17 + 4, 2 ** 17 + 4), 64),
    ("interpolate", {"size": [2 ** 16, 2 ** 17]}, (1, 1, 2 ** 16, 2 ** 17), 32),
    ("adaptive_max_pool2d", {"output_size": [3 << 15, 1 << 16]}, (1, 1, 3 << 15, 1 << 16), 24),
])
def test_a_huge_intermediate_is_a_memory_error_naming_it(tmp_path, op, attrs, shape, gib):
    path = write(tmp_path, *one_node(op, attrs, y_shape=[None, 1, shape[2], shape[3]]))
    with pytest.raises(MemoryError) as e:
        fastnorm.load(path)
    msg = str(e.value)
    assert "node 'n' (%s)" % op in msg and "output 'y'" in msg and str(shape) in msg, msg
    assert "%d bytes" % (4 * shape[2] * shape[3]) in msg and "max_tensor_bytes" in msg, msg
    assert "(%.1f GiB)" % (4 * shape[2] * shape[3] / 2 ** 30) in msg, msg
    assert gib * 2 ** 30 <= 4 * shape[2] * shape[3] < (gib + 1) * 2 ** 30


def test_the_limit_is_the_users(tmp_path):
    # 1 x 1 x 1024 x 1024 floats = 4 MiB: refused under a 1 MiB limit, loads and predicts under the default
    path = write(tmp_path, *one_node("interpolate", {"size": [1024, 1024]}, y_shape=[None, 1, 1024, 1024]))
    with pytest.raises(MemoryError, match="4194304 bytes"):
        fastnorm.load(path, max_tensor_bytes=1 << 20)
    m = fastnorm.load(path)
    y = m.predict(np.ones((1, 1, 4, 4), np.float32))
    assert y.shape == (1, 1, 1024, 1024) and np.all(y == 1)
    assert fastnorm.load(path, max_tensor_bytes=4 << 20).predict(np.ones((2, 1, 4, 4), np.float32)).shape[0] == 2


def test_the_padded_input_counts(tmp_path):
    # the output is small (stride 4096) but conv_first's zero-padded copy of the input is 64 MiB
    graph, weights = one_node("conv2d", {"padding": [4096] * 4, "stride": [4096, 4096]}, CONV_W,
                              y_shape=[None, 1, 3, 3])
    path = write(tmp_path, graph, weights)
    with pytest.raises(MemoryError, match="zero-padded input"):
        fastnorm.load(path, max_tensor_bytes=32 << 20)
    y = fastnorm.load(path).predict(np.ones((1, 1, 4, 4), np.float32))
    assert y.shape == (1, 1, 3, 3)
    assert y[0, 0, 1, 1] == np.float32(0.5 * 9) and y[0, 0, 0, 0] == 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_max_tensor_bytes_is_checked(tmp_path, bad):
    path = write(tmp_path, *one_node("relu", {}, y_shape=[None, 1, 4, 4]))
    with pytest.raises(ValueError, match="max_tensor_bytes"):
        fastnorm.load(path, max_tensor_bytes=bad)


def test_a_legal_model_still_loads_and_predicts(tmp_path):
    from fastnorm.models import simple_cnn
    g = simple_cnn(seed=0)
    path = tmp_path / "s.fnm"
    fileformat.save(str(path), g.to_dict(), g.weights)
    m = fastnorm.load(str(path))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert np.all(np.isfinite(m.predict(x)))


def test_check_graph_is_exact_at_the_limit():
    g = Graph([TensorSpec("x", (None, 1, 8, 8))], [TensorSpec("y", (None, 1, 8, 8))],
              [Node("r", "relu", ["x"], ["y"])], {})
    limits.check_graph(g, 256)                    # 8 * 8 * 4 bytes exactly
    with pytest.raises(MemoryError, match="256 bytes"):
        limits.check_graph(g, 255)


def test_values_are_not_sizes(tmp_path):
    # clamp bounds are values the kernel compares with, not sizes: any number loads
    path = write(tmp_path, *one_node("clamp", {"min": -2 ** 40, "max": 2 ** 62}))
    y = fastnorm.load(path).predict(np.full((1, 1, 4, 4), 3.0, np.float32))
    assert np.all(y == 3)
    # a pad value of -inf (how ONNX MaxPool's padding arrives) is a value too (the Graph API: JSON has no inf)
    g = Graph([TensorSpec("x", (None, 1, 2, 2))], [TensorSpec("y", (None, 1, 2, 4))],
              [Node("p", "pad", ["x"], ["y"], {"pads": [1, 1, 0, 0], "value": float("-inf")})], {})
    limits.check_graph(g)
