"""The ONNX that torch.onnx.export writes by default since torch 2.9: the dynamo exporter (torch.export ->
onnxscript, opset 18+). Its graphs differ from the TorchScript exporter's: flattens and channel
shuffles are Reshape to a constant target whose first entry is -1 (Reshape(x, [-1, 2048]) on a
dynamic batch) rather than Flatten or a Shape -> Gather -> Concat target. A -1 first, with the other
entries holding exactly one sample's elements, is the batch for every batch size and stays the first
axis; any other -1 on a dynamic batch still moves it and is refused by name.

Hand-built graphs against onnxruntime, then the held-out architectures (tests/zoo_heldout.py) and the
issue-14 families exported by the dynamo exporter, against PyTorch eval at batch 1 and 3 under every
ISA (bound: 1e-4 x max(1, max |output|), tests/test_zoo_torch.py's)."""
import functools
import io
import warnings

import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

onnx = importorskip("onnx")
importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fastnorm  # noqa: E402
from onnx_util import assert_matches, reference  # noqa: E402

RNG = np.random.default_rng(7)


def _model(nodes, inits, in_shape, opset=18):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(in_shape))
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    g = helper.make_graph(nodes, "g", [x], [helper.make_empty_tensor_value_info("y")], tensors)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _check(data, in_shape):
    model = fastnorm.from_onnx(data)
    for n in (1, 3):
        x = RNG.standard_normal((n,) + tuple(in_shape)).astype(np.float32)
        assert_matches(model.predict(x), reference(data, x)[0], "batch %d" % n)
    return model


def test_reshape_minus_one_first_keeps_the_batch(isa):
    """conv -> Reshape(-1, C*H*W) -> Gemm: the classifier head's flatten as the dynamo exporter writes it."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1)]
    inits = {"w": RNG.standard_normal((6, 3, 3, 3)).astype(np.float32) * 0.3,
             "b": RNG.standard_normal(6).astype(np.float32), "shape": np.array([-1, 6 * 5 * 4], np.int64),
             "fc": RNG.standard_normal((9, 120)).astype(np.float32) * 0.1, "fcb": np.zeros(9, np.float32)}
    model = _check(_model(nodes, inits, (3, 5, 4)), (3, 5, 4))
    assert [n.op for n in model.source_graph.nodes] == ["conv2d", "relu", "flatten", "linear"]


@pytest.mark.parametrize("c,groups", [(116, 2), (48, 3), (8, 4)])
def test_channel_shuffle_with_minus_one_targets(isa, c, groups):
    """ShuffleNet's shuffle: Reshape(-1, g, C/g, H, W) -> Transpose(0, 2, 1, 3, 4) -> Reshape(-1, C, H, W)."""
    nodes = [helper.make_node("Reshape", ["x", "s5"], ["a"]),
             helper.make_node("Transpose", ["a"], ["t"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "s4"], ["y"])]
    inits = {"s5": np.array([-1, groups, c // groups, 3, 5], np.int64), "s4": np.array([-1, c, 3, 5], np.int64)}
    _check(_model(nodes, inits, (c, 3, 5)), (c, 3, 5))


def test_reshape_minus_one_first_to_three_dims(isa):
    """A detection head's (N, 255, H, W) -> (N, 255, H*W) as Reshape(-1, 255, H*W)."""
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"])]
    _check(_model(nodes, {"s": np.array([-1, 7, 12], np.int64)}, (7, 3, 4)), (7, 3, 4))


@pytest.mark.parametrize("target", [[-1, 30], [2, -1], [-1, 2, 60]])
def test_reshape_that_moves_the_batch_is_refused_by_name(target):
    """A -1 first whose other entries are not one sample's elements (30 or 120 of 60), or a -1 that
    is not first, makes the batch axis depend on the batch size: refused, with the node named."""
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")]
    data = _model(nodes, {"s": np.array(target, np.int64)}, (3, 4, 5))
    with pytest.raises(fastnorm.UnsupportedError, match=r"node 'rs' \(Reshape.*moves the batch"):
        fastnorm.from_onnx(data)


# ---- whole models through the dynamo exporter ---------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _exported(name):
    """(fastnorm model from the dynamo exporter's ONNX, [(input, torch output) at batch 1 and 3])."""
    torch = importorskip("torch")
    importorskip("onnxscript")
    from zoo import calibrate, example_input
    from zoo_heldout import HELDOUT
    ctor, _, shape = dict(_extra_zoo(), **HELDOUT)[name]
    torch.manual_seed(0)
    net = calibrate(ctor(), shape, seed=0)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(net, (example_input(shape, 2),), dynamo=True, verbose=False,
                                    dynamic_shapes=({0: torch.export.Dim("N")},))
    program.save(f)
    feeds = []
    for n in (1, 3):
        x = example_input(shape, n, seed=n)
        with torch.no_grad():
            feeds.append((x.numpy(), net(x).numpy()))
    return fastnorm.from_onnx(f.getvalue()), feeds


def _extra_zoo():
    """tests/zoo.py's ResNet-18, MobileNetV2 and MobileNetV3-Small and DenseNet beside the held-out set."""
    from zoo import ZOO
    return {k: ZOO[k] for k in ("resnet18", "mobilenet_v2", "mobilenet_v3_small", "densenet_mini")}


def _names():
    from zoo_heldout import HELDOUT
    return sorted(HELDOUT) + sorted(_extra_zoo())


@pytest.mark.parametrize("name", _names())
def test_dynamo_exported_model_matches_torch(name, isa):
    model, feeds = _exported(name)
    for x, ref in feeds:
        y = model.predict(x)
        assert_ran(isa)
        assert y.shape == ref.shape
        bound = ATOL_MODEL * max(1.0, float(np.abs(ref).max()))
        err = float(np.abs(y - ref).max())
        assert err <= bound, "%s, batch %d (%s): max abs err %.3g > %.3g" % (name, len(x), isa, err, bound)
