"""SimpleCNN end to end: fastnorm beside PyTorch, ONNX Runtime and NumPy on the same input, 1 thread.

    python -m pytest bench/bench_simplecnn.py --benchmark-only --benchmark-json=out.json
    python bench/report.py out.json
"""
import io

import numpy as np
import pytest

import fastnorm

torch = pytest.importorskip("torch")
from models import SimpleCNN, realistic_bn  # noqa: E402
from numpy_cnn import NumpySimpleCNN  # noqa: E402

THREADS = 1


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    torch.set_num_threads(THREADS)
    return realistic_bn(SimpleCNN())


@pytest.fixture(scope="module")
def ort_session(net):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    f = io.BytesIO()
    torch.onnx.export(net, torch.randn(1, 3, 32, 32), f, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      opset_version=17)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(f.getvalue(), so, providers=["CPUExecutionProvider"])


def _input(batch):
    return np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(np.float32)


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("runtime", ["fastnorm", "torch", "onnxruntime", "numpy"])
def test_simplecnn(benchmark, net, request, runtime, batch):
    benchmark.group = "simplecnn-batch%d-threads%d" % (batch, THREADS)
    x = _input(batch)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    if runtime == "fastnorm":
        fastnorm.set_num_threads(THREADS)
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
    try:
        y = benchmark(run)
    finally:
        fastnorm.set_num_threads(None)
    assert np.abs(y - want).max() < 1e-3  # every peer computes the same function
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["runtime"] = runtime
