"""Every model of tests/zoo.py exported to ONNX (torch.onnx.export, TorchScript exporter) and run by
fastnorm and by onnxruntime on the same file, at batch 1 and 4: every opset listed on the best ISA,
and the opset-17 files under every ISA (test_zoo_model_from_onnx_under_every_isa)."""
import numpy as np
import pytest
from util import importorskip

torch = importorskip("torch")
importorskip("onnx")
importorskip("onnxruntime")

import fastnorm  # noqa: E402
import zoo  # noqa: E402
from onnx_util import assert_matches, export, reference  # noqa: E402

CONV_TRANSPOSE = ["dcgan_generator", "dcgan_generator_op"]   # ConvTranspose -> the IR's conv_transpose2d
# torch exports adaptive_avg_pool2d((7, 7)) only when 7 divides the feature size: VGG runs at 224x224
SHAPE = {"vgg11_bn": "canonical"}
OPSETS = {name: (17,) for name in zoo.ZOO}
# the older glue forms (Shape/Gather/Unsqueeze/Concat at opset 11, HardSigmoid+Mul for Hardswish)
OPSETS.update({"simplecnn": (9, 11, 17), "resnet18": (11, 17), "mobilenet_v2": (11, 17),
               "mobilenet_v3_small": (11, 17), "groupnorm_cnn": (11, 17), "densenet_mini": (11, 17)})
CASES = [(n, op) for n in zoo.ZOO if n not in CONV_TRANSPOSE for op in OPSETS[n]]
_CACHE = {}


def _case(name, opset):
    """(model bytes, input shape, {batch: (x, onnxruntime's output)}), built once per module."""
    if (name, opset) not in _CACHE:
        model, shape = zoo.build(name, shape=SHAPE.get(name, "test"))
        data = export(model, (1,) + tuple(shape), opset)
        runs = {}
        for n in (1, 4):
            x = zoo.example_input(shape, n, seed=n).numpy()
            runs[n] = (x, reference(data, x)[0])
        _CACHE[(name, opset)] = (data, shape, runs)
    return _CACHE[(name, opset)]


def _check(name, opset):
    data, shape, runs = _case(name, opset)
    model = fastnorm.from_onnx(data)
    assert model.inputs[0].shape[0] is None
    for n, (x, want) in runs.items():
        assert_matches(model.predict(x), want, "%s opset %d batch %d" % (name, opset, n))


@pytest.mark.parametrize("name,opset", CASES, ids=["%s-op%d" % c for c in CASES])
def test_zoo_model_matches_onnxruntime(name, opset):
    _check(name, opset)


@pytest.mark.parametrize("name", CONV_TRANSPOSE)
def test_zoo_conv_transpose_model_matches_onnxruntime(name):
    """DCGAN generators: ConvTranspose -> conv_transpose2d."""
    _check(name, 17)


ISA_CASES = sorted(zoo.ZOO)


@pytest.mark.parametrize("name", ISA_CASES)
def test_zoo_model_from_onnx_under_every_isa(name, isa):
    """The same opset-17 files under each kernel table (the test above runs the best ISA)."""
    from util import assert_ran
    data, shape, runs = _case(name, 17)
    model = fastnorm.from_onnx(data)
    for n, (x, want) in runs.items():
        assert_matches(model.predict(x), want, "%s opset 17 batch %d (%s)" % (name, n, isa))
        assert_ran(isa)
