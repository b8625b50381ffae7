"""DCGAN generator layers, fastnorm vs torch, timed by the calling thread's CPU time.

On a shared host, wall-clock medians (pytest-benchmark) include time the process spent waiting for
a core; with one thread on each side, the thread's CPU time is the work itself. Single-threaded only.

    OMP_NUM_THREADS=1 python bench/adhoc/convt_cputime.py
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))


def median_cpu_ms(f, reps=60):
    for _ in range(3):
        f()
    ts = []
    for _ in range(reps):
        t = time.thread_time()
        f()
        ts.append(time.thread_time() - t)
    return float(np.median(ts)) * 1e3


def main():
    import torch
    import fastnorm
    import bench_conv as B
    from fastnorm import _C
    torch.set_num_threads(1)
    fastnorm.set_num_threads(1)
    print("fastnorm ISA %s; medians of the calling thread's CPU time, 1 thread" % fastnorm.cpu_info()["isa"])
    print("| layer | fastnorm ms (NCHW model) | GFLOP/s | in-plan NHWC ms | GFLOP/s | torch ms | GFLOP/s "
          "| fastnorm / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for name in B.DCGAN:
        x, wt, b, s, p = B.make_convt(name)
        n, cin, h, _ = x.shape
        oh = (h - 1) * s - 2 * p + wt.shape[2]
        model = B.convt_model(x, wt, b, s, p)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)

        def run_torch():
            with torch.inference_mode():
                torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p)
        k, cout = wt.shape[2], wt.shape[1]
        desc = (cin, cout, 1, k, k, s, s, 1, 1, p, p, p, p)
        packed = _C.conv_transpose2d_pack(-1, desc, wt, b)
        xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        yn = np.empty((n, oh, oh, cout), np.float32)
        f = median_cpu_ms(lambda: model.predict(x))
        r = median_cpu_ms(lambda: _C.conv_transpose2d_nhwc(-1, desc, xn, packed, (0, 0.0, 0.0), yn, 1))
        t = median_cpu_ms(run_torch)
        fl = B.convt_flops(name) / 1e6
        print("| %s | %.3f | %.1f | %.3f | %.1f | %.3f | %.1f | %.2f |"
              % (name, f, fl / f, r, fl / r, t, fl / t, f / t))
    net = B.dcgan_net(torch)
    z = torch.randn(1, 100, 1, 1, generator=torch.Generator().manual_seed(0))
    model = fastnorm.from_torch(net, z)
    zn = z.numpy()

    def run_net():
        with torch.inference_mode():
            net(z)
    f, t = median_cpu_ms(lambda: model.predict(zn)), median_cpu_ms(run_net)
    fl = sum(B.convt_flops(name) for name in B.DCGAN) / 1e6
    print("| whole generator, batch 1 | %.3f | %.1f | | | %.3f | %.1f | %.2f |" % (f, fl / f, t, fl / t, f / t))


if __name__ == "__main__":
    main()
