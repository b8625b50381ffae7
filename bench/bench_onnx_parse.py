"""Reading an .onnx file: fastnorm.onnxpb (pure Python) against onnx.load, and what `import onnx` costs.

    python bench/bench_onnx_parse.py            # ResNet-50 (tests/zoo.py, plain torch), exported once
    python bench/bench_onnx_parse.py --repeat 20

Prints, for a fresh interpreter with numpy already imported: the import time of onnx and of
fastnorm.onnxpb (median of 5 processes); then, in this process, the median wall time (the four called in turns, round by round) of
  onnx.load(path)                                  (protobuf C++ parse into Python objects)
  onnx.load + numpy_helper.to_array on every initializer
  onnxpb.load_model(path)
  onnxpb.load_model + onnxpb.to_array on every initializer
after checking that both readers give the same graph, field by field, and the same arrays, bit for bit.
"""
import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
from _timing import interleaved, summary  # noqa: E402


def cpu_name():
    from fastnorm._cold import cpu_name as name
    return name()


def import_time(module, runs=5):
    code = ("import numpy, time; t = time.perf_counter(); import %s; "
            "print(time.perf_counter() - t)" % module)
    ts = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=os.path.join(HERE, ".."))
        ts.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(ts)


def importtime_top(module, n=4):
    """`python -X importtime -c 'import numpy; import module'` -> (module's cumulative us, [(self us, name)] of
    the modules under it that cost the most themselves)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import numpy; import %s" % module],
                       capture_output=True, text=True, cwd=os.path.join(HERE, ".."))
    rows, total, after_numpy = [], 0, False
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, raw = line[len("import time:"):].split("|")
        name = raw.strip()
        if name == "numpy":
            after_numpy = True
        elif after_numpy:
            rows.append((int(self_us), name))
            if name == module:
                total = int(cum_us)
    return total, sorted(rows, reverse=True)[:n]


def export_resnet50(path):
    import torch
    import zoo
    torch.manual_seed(0)
    m = zoo.resnet50().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = io.BytesIO()
        torch.onnx.export(m, torch.randn(1, 3, 224, 224), f, dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    with open(path, "wb") as fh:
        fh.write(f.getvalue())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    print("CPU: %s; Python %s" % (cpu_name(), sys.version.split()[0]))
    t_onnx = import_time("onnx")
    t_pb = import_time("fastnorm.onnxpb")
    print("import after numpy, fresh process, median of 5: onnx %.0f ms, fastnorm.onnxpb %.0f ms"
          % (t_onnx * 1e3, t_pb * 1e3))
    total, top = importtime_top("onnx")
    print("  -X importtime: onnx %.0f ms cumulative; costliest modules by their own time: %s"
          % (total / 1e3, ", ".join("%s %.0f ms" % (name, us / 1e3) for us, name in top)))

    import numpy as np
    import onnx
    from onnx import numpy_helper

    from fastnorm import onnxpb
    from test_onnxpb import same

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "resnet50.onnx")
        export_resnet50(path)
        size = os.path.getsize(path)
        ref, mine = onnx.load(path), onnxpb.load_model(path)
        same(ref, mine)
        for rt, gt in zip(ref.graph.initializer, mine.graph.initializer):
            a, b = numpy_helper.to_array(rt), onnxpb.to_array(gt)
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), rt.name
        print("ResNet-50: %.1f MB, %d nodes, %d initializers; both readers agree on every field and array"
              % (size / 1e6, len(mine.graph.node), len(mine.graph.initializer)))

        def onnx_arrays():
            m = onnx.load(path)
            return [numpy_helper.to_array(t) for t in m.graph.initializer]

        def pb_arrays():
            m = onnxpb.load_model(path)
            return [onnxpb.to_array(t) for t in m.graph.initializer]

        # the four readers in turns, round by round (bench/_timing.py): a drift in the host's speed
        # hits them alike
        fns = {"onnx.load": lambda: onnx.load(path),
               "onnx.load + to_array (all initializers)": onnx_arrays,
               "onnxpb.load_model": lambda: onnxpb.load_model(path),
               "onnxpb.load_model + to_array (all initializers)": pb_arrays}
        stats = summary(interleaved(fns, seconds=0, min_rounds=args.repeat))
        print("median of %d rounds (the readers in turns), file in page cache:" % args.repeat)
        for name, (t, _, _) in stats.items():
            print("  %-50s %8.1f ms" % (name, t * 1e3))
        del np


if __name__ == "__main__":
    main()
