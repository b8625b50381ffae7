"""SimpleCNN end to end: fastnorm beside PyTorch, ONNX Runtime and NumPy on the same input, 1 thread.

    python -m pytest bench/bench_simplecnn.py --benchmark-only --benchmark-json=out.json
    python bench/report.py out.json

Every runtime's output is checked against the torch model in float64 before it is timed (tolerance
bench/_check.py's PEER: the runtimes fold BatchNorm and sum in their own order).
"""
import copy
import io

import numpy as np
import pytest

import fastnorm

from _check import PEER, check
import _peers
from _peers import need, pinned

torch = need("torch", module_level=True)
from models import SimpleCNN, realistic_bn  # noqa: E402
from numpy_cnn import NumpySimpleCNN  # noqa: E402

THREADS = 1


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return realistic_bn(SimpleCNN())


@pytest.fixture(scope="module")
def ort_session(net):
    need("onnxruntime")
    need("onnx")
    f = io.BytesIO()
    torch.onnx.export(net, torch.randn(1, 3, 32, 32), f, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      opset_version=17)
    return _peers.ort_session(f.getvalue(), THREADS)


def _input(batch):
    return np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("runtime", ["fastnorm", "torch", "onnxruntime", "numpy"])
def test_simplecnn(benchmark, net, request, runtime, batch):
    benchmark.group = "simplecnn-batch%d-threads%d" % (batch, THREADS)
    x = _input(batch)
    with torch.no_grad():
        want = copy.deepcopy(net).double()(torch.from_numpy(x).double()).numpy()
    if runtime == "fastnorm":
        model = fastnorm.from_torch(net, torch.from_numpy(x[:1]))
        run = lambda: model.predict(x)  # noqa: E731
    elif runtime == "torch":
        xt = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return net(xt).numpy()
    elif runtime == "onnxruntime":
        sess = request.getfixturevalue("ort_session")
        run = lambda: sess.run(None, {"input": x})[0]  # noqa: E731
    else:
        model = NumpySimpleCNN(net)
        run = lambda: model(x)  # noqa: E731
    with pinned(THREADS):
        check("%s simplecnn b%d" % (runtime, batch), run(), want, PEER)
        benchmark(run)
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["runtime"] = runtime
