"""Model-level check of another architecture's build against this machine's outputs (issue 16).

    python tests/arm_models.py make DIR    on x86-64, with torch: every model of NAMES (tests/zoo.py)
                                           through from_torch -> DIR/<name>.fnm, a seeded input and the
                                           x86 outputs (scalar and the widest ISA) -> DIR/<name>.npz
    python tests/arm_models.py check DIR   on the build under test (an aarch64 one under qemu-aarch64):
                                           load each .fnm, predict under every ISA the build has, and
                                           compare: its scalar output with x86's scalar one, its wide
                                           (NEON) output with x86's widest

Bound: max abs difference <= 1e-5 x max(1, max |x86 output|): the ISAs round differently (FMA,
summation order), never by more than float32 noise of the output's scale. The references are made
at test time on x86, never stored. `check` needs numpy only (no torch), and prints one line per
model and ISA and a closing "N passed, N failed".
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# Each family of kernels in at least one model: conv micro-kernel + packing and Winograd (resnet18),
# depthwise + first-layer conv + hardswish/SE (mobilenets), conv_transpose (dcgan), group / layer /
# instance norm statistics, pooling and linear everywhere.
NAMES = ["simplecnn", "resnet18", "mobilenet_v2", "mobilenet_v3_small", "dcgan_generator",
         "groupnorm_cnn", "instancenorm_net", "normcnn_layernorm", "densenet_mini"]
BOUND = 1e-5


def make(out):
    sys.path.insert(0, HERE)
    import fastnorm
    from fastnorm.testing import available_isas, force_isa
    from zoo import build, example_input

    os.makedirs(out, exist_ok=True)
    for i, name in enumerate(NAMES):
        net, shape = build(name)
        model = fastnorm.from_torch(net, example_input(shape, 1))
        x = example_input(shape, 2, seed=100 + i).numpy()
        model.save(os.path.join(out, name + ".fnm"))
        ys = {}
        for key, isa in (("scalar", "scalar"), ("wide", available_isas()[-1])):
            with force_isa(isa):
                ys["y_" + key] = model.predict(x)
        np.savez(os.path.join(out, name + ".npz"), x=x, **ys)
        print("made %s on x86 (scalar and %s)" % (name, available_isas()[-1]))


def check(ref_dir):
    import fastnorm
    from fastnorm.testing import available_isas, force_isa, last_isa

    info = fastnorm.cpu_info()
    print("checking %s build (ISAs %s) against %s" % (info["arch"], ", ".join(available_isas()), ref_dir))
    passed = failed = 0
    for name in NAMES:
        model = fastnorm.load(os.path.join(ref_dir, name + ".fnm"))
        ref = np.load(os.path.join(ref_dir, name + ".npz"))
        x = ref["x"]
        for isa in available_isas():
            want = ref["y_scalar" if isa == "scalar" else "y_wide"]
            bound = BOUND * max(1.0, float(np.abs(want).max()))
            with force_isa(isa):
                got = model.predict(x)
                ran = last_isa()
            err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
            ok = err <= bound and ran == isa and np.isfinite(got).all()
            passed, failed = passed + ok, failed + (not ok)
            print("%-4s %-20s %-7s max abs diff %.3g (bound %.3g)%s"
                  % ("ok" if ok else "FAIL", name, isa, err, bound, "" if ran == isa else ", ran " + str(ran)))
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        raise SystemExit(__doc__)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(0 if check(sys.argv[2]) else 1)
