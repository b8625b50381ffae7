"""Each Winograd family's share of a whole model's float32 error: max |fastnorm - float64 torch| over
max(1, max |output|), with every Winograd on, then with the 2-D 3x3 ones, the F(2x2,5x5) or the 1-D
kernels off in turn, F(4x4,3x3) for every 3x3 conv (none on F(2x2,3x3)), and with none; torch's own
float32 error beside it.

    python bench/adhoc/winograd_error.py inception_v3 [--canonical] [--seeds 3]

Models: bench_models.ZOO's names (tests/zoo.py, bench/zoo_extended.py, tests/zoo_heldout.py), at their
test input size unless --canonical; batch 2, inputs of tests/zoo.py example_input (seeds 1..N).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import torch  # noqa: E402

import fastnorm  # noqa: E402
from bench_models import ZOO  # noqa: E402
from fastnorm.plan import lower_conv as L  # noqa: E402
from onnx_util import export  # noqa: E402
from zoo import calibrate, example_input  # noqa: E402

OFF_ = 10 ** 9
# label -> {lower_conv constant: value}: a family off (its threshold out of reach), or F(4x4, 3x3)
# for every 3x3 conv (no F(2x2, 3x3) below WINOGRAD2_MAX_CIN input channels)
OFF = {"no 2-D": {"WINOGRAD_MIN_CHANNELS": OFF_}, "no 5x5": {"WINOGRAD5_MIN_CIN": OFF_},
       "no 1-D": {"WINOGRAD1D_MIN_CHANNELS": OFF_}, "no F(2x2,3x3)": {"WINOGRAD2_MAX_CIN": 0},
       "none": {"WINOGRAD_MIN_CHANNELS": OFF_, "WINOGRAD5_MIN_CIN": OFF_, "WINOGRAD1D_MIN_CHANNELS": OFF_}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--canonical", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    print("fastnorm ISA %s" % fastnorm.cpu_info()["isa"])
    for name in a.models:
        ctor, canon, test = ZOO[name]
        shape = canon if a.canonical else test
        torch.manual_seed(0)
        net = calibrate(ctor(), test, seed=0)
        data = export(net, (1,) + tuple(shape), 17)
        for seed in range(1, a.seeds + 1):
            x = example_input(shape, 2, seed=seed)
            with torch.no_grad():
                ref = net(x).numpy()
                ref64 = net.double()(x.double()).numpy()
                net.float()
            scale = max(1.0, float(np.abs(ref64).max()))
            cells = ["torch float32 %.2e" % (np.abs(ref - ref64).max() / scale)]
            for label, knobs in [("all", {})] + list(OFF.items()):
                saved = {k: getattr(L, k) for k in knobs}
                try:
                    for k, v in knobs.items():
                        setattr(L, k, v)
                    y = fastnorm.from_onnx(data).predict(x.numpy())
                finally:
                    for k, v in saved.items():
                        setattr(L, k, v)
                cells.append("%s %.2e" % (label, np.abs(y - ref64).max() / scale))
            print("%s %s seed %d: %s" % (name, "x".join(map(str, shape)), seed, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
