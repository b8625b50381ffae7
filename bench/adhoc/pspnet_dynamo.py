"""PSPNet-R18 (tests/zoo_heldout4.py, 256x256) exported by torch's default (dynamo) ONNX exporter, which
writes its pyramid pooling (bins 1, 2, 3, 6 on a 32x32 map) as Transpose -> GatherND -> masks -> sums:
fastnorm and ONNX Runtime on the same .onnx, one thread, batch 1, each output checked against torch
first, then timed in turns by process time; medians.

    python bench/adhoc/pspnet_dynamo.py [--rounds 20]
"""
import argparse
import io
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    import onnxruntime as ort
    import torch
    import fastnorm
    import zoo_heldout4 as Z
    torch.set_num_threads(1)
    fastnorm.set_num_threads(1)
    net, shape = Z.build("pspnet_r18")
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=True, verbose=False)
        m = fastnorm.from_onnx(buf.getvalue())
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    s = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: x.numpy()}
    with torch.no_grad():
        ref = net(x).numpy()
    scale = max(1.0, float(np.abs(ref).max()))
    runs = {"fastnorm": lambda: m.predict(x.numpy()), "onnxruntime": lambda: s.run(None, feed)[0]}
    for name, fn in runs.items():
        err = float(np.abs(fn() - ref).max())
        assert err <= 1e-4 * scale, "%s: max |out - torch| = %.3g" % (name, err)
    times = {k: [] for k in runs}
    for _ in range(a.rounds):
        for name, fn in runs.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    print("PSPNet-R18 256x256 (dynamo export), fastnorm ISA %s, 1 thread: fastnorm %.1f ms, ONNX Runtime %.1f ms, "
          "ratio %.2f" % (fastnorm.cpu_info()["isa"], med["fastnorm"], med["onnxruntime"],
                          med["fastnorm"] / med["onnxruntime"]))


if __name__ == "__main__":
    main()
