"""The `fastnorm` command: demo, info, bench."""
import argparse
import os
import sys
import tempfile
import time

import numpy as np


def _median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def cmd_demo(args):
    """The main job end to end on the embedded SimpleCNN, no torch needed."""
    import fastnorm
    from fastnorm.models import simple_cnn

    info = fastnorm.cpu_info()
    print("fastnorm %s on %s (best %s), %d thread(s)" % (fastnorm.__version__, info["isa"],
                                                        info["best_isa"], fastnorm.get_num_threads()))
    graph = simple_cnn(seed=args.seed)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "simple_cnn.fnm")
        fastnorm.Model(graph).save(path)
        print("saved and reloaded %s (%d bytes)" % (os.path.basename(path), os.path.getsize(path)))
        model = fastnorm.load(path)
    print(model.summary())
    unfolded = fastnorm.Model(graph, optimize=False)
    rng = np.random.default_rng(args.seed)
    for batch in (1, args.batch):
        x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        y = model.predict(x)
        diff = float(np.abs(y - unfolded.predict(x)).max())
        ms = _median_ms(lambda: model.predict(x), args.repeat)
        print("batch %3d: logits %s, median %.3f ms (%.0f images/s); folded vs unfolded max diff %.2e"
              % (batch, y.shape, ms, batch / ms * 1e3, diff))
        if not np.isfinite(y).all() or diff > 1e-4:
            print("error: the folded model disagrees with the unfolded one", file=sys.stderr)
            return 1
    return 0


def cmd_info(args):
    import fastnorm
    model = fastnorm.load(args.file)
    for t in model.inputs:
        print("input  %s %s %s" % (t.name, list(t.shape), t.dtype))
    for t in model.outputs:
        print("output %s %s %s" % (t.name, list(t.shape), t.dtype))
    print(model.summary())
    return 0


def cmd_bench(args):
    import fastnorm
    model = fastnorm.load(args.file)
    if args.threads:
        fastnorm.set_num_threads(args.threads)
    spec = model.inputs[0]
    x = np.random.default_rng(0).standard_normal(
        tuple(args.batch if d is None else d for d in spec.shape)).astype(np.float32)
    ms = _median_ms(lambda: model.predict(x), args.repeat)
    print("%s: batch %d, %d thread(s), ISA %s: median %.3f ms, %.1f images/s"
          % (args.file, args.batch, fastnorm.get_num_threads(), fastnorm.cpu_info()["isa"], ms,
             args.batch / ms * 1e3))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="fastnorm", description="CPU runtime for BatchNorm CNNs")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the embedded SimpleCNN end to end (no torch needed)")
    d.add_argument("--batch", type=int, default=64)
    d.add_argument("--repeat", type=int, default=20)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=cmd_demo)
    i = sub.add_parser("info", help="inputs, outputs and the optimised graph of a model file")
    i.add_argument("file")
    i.set_defaults(fn=cmd_info)
    b = sub.add_parser("bench", help="median latency of a model file")
    b.add_argument("file")
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--repeat", type=int, default=50)
    b.set_defaults(fn=cmd_bench)
    args = p.parse_args(argv)
    from fastnorm.errors import FormatError, UnsupportedError
    try:
        return args.fn(args)
    except (FormatError, UnsupportedError, OSError) as e:
        where = getattr(args, "file", None)
        msg = str(e) if not where or where in str(e) else "%s: %s" % (where, e)
        print("fastnorm %s: %s" % (args.cmd, msg), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
