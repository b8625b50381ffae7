"""Issue 12, beyond classification: the dense-prediction families of tests/zoo_export.py (DENSE_ZOO: a UNet,
a DeepLab-style net with dilated convs, ASPP and bilinear upsampling to the input size, a YOLOv8-style
backbone + neck with C2f / C3 splits, SPPF and three outputs) at two input sizes, through both routes:

- torch: fastnorm.from_torch on the unchanged model, one model per input size (the trace specialises);
- onnx: ONE torch.onnx.export with dynamic batch, height and width, ONE fastnorm.from_onnx, predicting at
  both sizes (the file is converted again per input size: fastnorm.per_shape). The export traces Python
  control flow at its example's size: the UNet pads its upsampled map to the skip's size only at odd sizes,
  so the file is exported at the odd size (the pads are shape arithmetic, zero at even sizes).

Both against PyTorch eval at batch 2, under every ISA. Bound: max abs error <= 1e-4 x max(1, max |output|)
per output (tests/test_zoo_torch.py says why it scales).
"""
import functools
import io
import warnings

import numpy as np
import pytest
from util import ATOL_MODEL, assert_ran, importorskip

torch = importorskip("torch")
importorskip("onnx")

import fastnorm  # noqa: E402
from fastnorm.errors import UnsupportedError  # noqa: E402
from zoo import example_input  # noqa: E402
from zoo_export import DENSE_ZOO, EXPORT_ZOO, build  # noqa: E402

BATCH = 2


def _outputs(y):
    return [t.numpy() for t in (y if isinstance(y, tuple) else (y,))]


def onnx_dynamic_hw(net, x):
    """torch.onnx.export (TorchScript exporter, opset 17) with the batch, height and width dynamic."""
    with torch.no_grad():
        n_out = len(_outputs(net(x)))
    outs = ["output"] if n_out == 1 else ["output%d" % i for i in range(n_out)]
    axes = {"input": {0: "n", 2: "h", 3: "w"}}
    axes.update({o: {0: "n", 2: "oh", 3: "ow"} for o in outs})
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, f, opset_version=17, dynamo=False, input_names=["input"], output_names=outs,
                          dynamic_axes=axes)
    return f.getvalue()


@functools.lru_cache(maxsize=None)
def _net(name):
    net, shapes = build(name)
    feeds = []
    for i, shape in enumerate(shapes):
        x = example_input(shape, BATCH, seed=i + 1)
        with torch.no_grad():
            feeds.append((x, _outputs(net(x))))
    return net, shapes, feeds


@functools.lru_cache(maxsize=None)
def _model(name, route, size):
    net, shapes, _ = _net(name)
    if route == "onnx":   # one model for every size, exported at the last: the UNet's odd-size pad branch
        return fastnorm.from_onnx(onnx_dynamic_hw(net, example_input(shapes[-1], 1)))
    return fastnorm.from_torch(net, example_input(shapes[size], 1))


def _check(got, want, what):
    assert len(got) == len(want), what
    for i, (y, ref) in enumerate(zip(got, want)):
        assert y.shape == ref.shape, "%s output %d: %s != %s" % (what, i, y.shape, ref.shape)
        err, bound = float(np.abs(y - ref).max()), ATOL_MODEL * max(1.0, float(np.abs(ref).max()))
        assert err <= bound, "%s output %d: max abs err %.3g > %.3g" % (what, i, err, bound)


# the UNet and DeepLab through from_torch: tests/test_torch_export.py (EXPORT_ZOO, batches 1 and 3)
CASES = [(name, route) for name in sorted(DENSE_ZOO) for route in ("torch", "onnx")
         if route == "onnx" or name not in EXPORT_ZOO]


@pytest.mark.parametrize("size", [0, 1])
@pytest.mark.parametrize("name, route", CASES)
def test_dense_family_matches_torch_at_two_sizes(name, route, size, isa):
    model = _model(name, route, 0 if route == "onnx" else size)
    x, want = _net(name)[2][size]
    res = model.run({model.inputs[0].name: x.numpy()})
    assert_ran(isa)
    _check([res[t.name] for t in model.outputs], want, "%s via %s at %s (%s)" % (name, route, tuple(x.shape), isa))


def test_onnx_dynamic_hw_is_one_model_with_open_dims():
    model = _model("unet", "onnx", 0)
    assert model.inputs[0].shape == (None, 3, None, None)
    assert "dynamic_spatial" in {f.code for f in model.doctor()}
    net, shapes, feeds = _net("unet")
    for x, want in feeds:    # predict (the fast path), size after size, and back
        _check([model.predict(x.numpy())], want, "unet predict at %s" % (tuple(x.shape),))
    _check([model.predict(feeds[0][0].numpy())], feeds[0][1], "unet back at the first size")
    with pytest.raises(ValueError, match="expected shape"):
        model.predict(np.zeros((1, 4, 32, 32), np.float32))   # the channels stay fixed
    with pytest.raises(UnsupportedError, match="dynamic spatial"):
        model.save("never_written.fnm")


def test_onnx_dynamic_hw_plans_each_size_once():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    model = fastnorm.from_onnx(onnx_dynamic_hw(net, torch.randn(1, 3, 8, 8)))
    for h, w in ((8, 8), (5, 11), (8, 8), (5, 11), (17, 3)):
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            _check([model.predict(x.numpy())], [net(x).numpy()], "conv at %dx%d" % (h, w))
    assert len(model._variants) == 3   # 8x8, 5x11, 17x3: each converted once (none is the load-time probe)
