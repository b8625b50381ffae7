"""The `fastnorm` command: demo, info, convert, bench, predict."""
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


def _load(args, quiet=False):
    """fastnorm.load(args.file); the doctor's warnings go to stderr in one line each (or nowhere)."""
    import warnings

    import fastnorm
    from fastnorm.errors import FastnormWarning, FormatError, UnsupportedError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FastnormWarning)
        try:
            model = fastnorm.load(args.file)
        except (FormatError, UnsupportedError, OSError, ImportError, ValueError):
            raise
        except Exception as e:  # a frontend's parser failing on a bad file is still a bad file
            raise FormatError("%s: cannot be loaded: %s: %s" % (args.file, type(e).__name__, e)) from None
    for w in caught:
        if issubclass(w.category, FastnormWarning):
            if not quiet:
                print("fastnorm %s: %s" % (args.cmd, w.message), file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def _counts(nodes):
    counts = {}
    for n in nodes:
        counts[n.op] = counts.get(n.op, 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def cmd_info(args):
    from fastnorm.graph import count_macs, infer_shapes
    model = _load(args, quiet=True)
    for t in model.inputs:
        print("input  %s %s %s" % (t.name, list(t.shape), t.dtype))
    for t in model.outputs:
        print("output %s %s %s" % (t.name, list(t.shape), t.dtype))
    src, opt = model.source_graph, model.graph
    print("ops    %d in the file: %s" % (len(src.nodes), _counts(src.nodes)))
    print("       %d after optimisation: %s" % (len(opt.nodes), _counts(opt.nodes)))
    shapes = infer_shapes(opt, {t.name: tuple(1 if d is None else d for d in t.shape) for t in opt.inputs})
    print("MACs   {:,} per image".format(count_macs(opt, shapes)))
    print("params {:,} in the file, {:,} after folding".format(
        sum(int(w.size) for w in src.weights.values()), sum(int(w.size) for w in opt.weights.values())))
    for line in model.batchnorm_report():
        print(line)
    if args.graph:
        print(model.summary())
    findings = model.doctor()
    tally = ", ".join("%d %s" % (sum(f.severity == s for f in findings), w)
                      for s, w in (("error", "errors"), ("warning", "warnings"), ("info", "info")))
    print("doctor: %d finding(s) (%s)" % (len(findings), tally))
    for f in findings:
        print("  " + str(f).replace("\n", "\n  "))
    return 0


def cmd_convert(args):
    import fastnorm
    if args.output.lower().endswith(".onnx"):
        print("fastnorm convert: %s: fastnorm writes .fnm files only" % args.output, file=sys.stderr)
        return 2
    model = _load(args)
    # the source graph: the file is optimised again when loaded
    model.save(args.output, **({"prepacked": True} if args.prepacked else {}))
    if not args.no_check:
        back = fastnorm.load(args.output)
        feeds = _feeds(model, 1)
        a, b = model.run(feeds), back.run(feeds)
        if any(not np.array_equal(a[k], b[k], equal_nan=True) for k in a):
            print("fastnorm convert: %s does not reproduce %s's predictions" % (args.output, args.file),
                  file=sys.stderr)
            return 1
    bad = sum(f.severity in ("error", "warning") for f in model.doctor())
    params = sum(int(w.size) for w in model.source_graph.weights.values())
    print("wrote %s: %d nodes, %s parameters, %s bytes%s"
          % (args.output, len(model.source_graph.nodes), "{:,}".format(params),
             "{:,}".format(os.path.getsize(args.output)),
             "" if args.no_check else "; reloaded it: identical predictions"))
    print("doctor: %s" % ("%d warning(s)/error(s) (see `fastnorm info %s`)" % (bad, args.output) if bad
                          else "nothing wrong found"))
    return 0


def _feeds(model, batch):
    rng = np.random.default_rng(0)
    return {t.name: rng.standard_normal(tuple(batch if d is None else d for d in t.shape)).astype(np.float32)
            for t in model.inputs}


class _Progress:
    """A plain-text progress bar on stderr: \r[#####-----] done/total."""

    def __init__(self, enabled, total, unit, width=30, label="bench"):
        self.enabled, self.total, self.unit, self.width, self.label = enabled, total, unit, width, label
        self.last = 0.0

    def update(self, done, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        frac = min(1.0, done / self.total) if self.total else 1.0
        filled = int(round(frac * self.width))
        fmt = "%.1f/%.1f" if self.unit == "s" else "%d/%d"
        sys.stderr.write(("\r%s [%s%s] " + fmt + " %s") % (self.label, "#" * filled, "-" * (self.width - filled),
                                                           done, self.total, self.unit))
        sys.stderr.flush()

    def close(self, done):
        if self.enabled:
            self.update(done, force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def cmd_bench(args):
    import fastnorm
    for name, lo in (("batch", 1), ("threads", 0), ("warmup", 0), ("runs", 1)):
        v = getattr(args, name)
        if v is not None and v < lo:
            print("fastnorm bench: --%s must be >= %d, got %d" % (name, lo, v), file=sys.stderr)
            return 2
    if args.seconds is not None and not args.seconds > 0:
        print("fastnorm bench: --seconds must be > 0, got %g" % args.seconds, file=sys.stderr)
        return 2
    if args.cold is not None:
        if args.cold < 1:
            print("fastnorm bench: --cold must be >= 1, got %d" % args.cold, file=sys.stderr)
            return 2
        from fastnorm import _cold
        _cold.run_cli(args.file, args.onnx, args.cold, args.batch, args.threads or 1)
        return 0
    model = _load(args)
    if args.threads:
        fastnorm.set_num_threads(args.threads)
    if args.compare:
        return cmd_compare(args, model)
    feeds = _feeds(model, args.batch)
    batch = next(iter(feeds.values())).shape[0] if feeds else args.batch
    if batch != args.batch:
        print("fastnorm bench: the input's batch dimension is fixed to %d; --batch %d ignored"
              % (batch, args.batch), file=sys.stderr)
    model.run(feeds)                      # builds the plan for this shape
    for _ in range(args.warmup):
        model.run(feeds)
    show = args.progress or sys.stderr.isatty()
    times = []
    if args.seconds is not None:
        bar = _Progress(show, args.seconds, "s")
        t_end = time.perf_counter() + args.seconds
        start = time.perf_counter()
        while not times or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            model.run(feeds)
            times.append(time.perf_counter() - t0)
            bar.update(time.perf_counter() - start)
        bar.close(min(args.seconds, time.perf_counter() - start))
    else:
        runs = args.runs if args.runs is not None else 50
        bar = _Progress(show, runs, "runs")
        for i in range(runs):
            t0 = time.perf_counter()
            model.run(feeds)
            times.append(time.perf_counter() - t0)
            bar.update(i + 1)
        bar.close(len(times))
    ms = 1e3 * np.array(times)
    med = float(np.median(ms))
    print("%s: batch %d, %d thread(s), ISA %s, %d runs after %d warm-up"
          % (args.file, batch, fastnorm.get_num_threads(), fastnorm.cpu_info()["isa"], len(times), args.warmup))
    print("  median %.3f ms, p90 %.3f ms, min %.3f ms" % (med, float(np.percentile(ms, 90)), float(ms.min())))
    print("  throughput %.1f images/s (batch / median)" % (batch / med * 1e3))
    if args.profile:
        if len(model.inputs) != 1:
            print("--profile: the model has %d inputs; profiling needs one" % len(model.inputs), file=sys.stderr)
            return 0
        repeat = max(1, min(len(times), 20))
        rows = model.profile(next(iter(feeds.values())), repeat=repeat)
        total = sum(s for _, _, s in rows) or 1.0
        table = [("#", "op", "ms", "%", "source nodes")]
        for i, (op, sources, s) in enumerate(rows, 1):
            table.append((str(i), op, "%.3f" % (s * 1e3), "%.1f" % (100 * s / total), ", ".join(sources) or "-"))
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        print("per-op profile: median of %d runs, slowest first (total %.3f ms)" % (repeat, total * 1e3))
        for r in table:
            print("  " + "  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2]),
                                    r[3].rjust(widths[3]), r[4]]))
    return 0


def _peers(onnx_path, threads):
    """{name: (version, run(feeds) -> first output)} for the peers installed here."""
    peers = {}
    try:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        peers["ONNX Runtime"] = (ort.__version__, lambda feeds: sess.run(None, feeds)[0])
    except ImportError:
        pass
    try:
        import openvino as ov
        compiled = ov.Core().compile_model(onnx_path, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                             "INFERENCE_PRECISION_HINT": "f32"})
        peers["OpenVINO"] = (ov.__version__, lambda feeds: next(iter(compiled(feeds).values())))
    except ImportError:
        pass
    return peers


def cmd_compare(args, model):
    """fastnorm and every installed peer on the same input, timed in turns, round by round."""
    import fastnorm
    onnx_path = args.onnx or (args.file if args.file.lower().endswith(".onnx") else None)
    if onnx_path is None:
        print("fastnorm bench --compare: the peers run ONNX; give the model's .onnx file (or --onnx FILE)",
              file=sys.stderr)
        return 2
    threads = fastnorm.get_num_threads()
    feeds = _feeds(model, args.batch)
    runners = {"fastnorm": (fastnorm.__version__, lambda f: model.run(f)[model.outputs[0].name])}
    peers = _peers(onnx_path, threads)
    if not peers:
        print("fastnorm bench --compare: neither onnxruntime nor openvino is installed "
              "(pip install 'fastnorm[bench]')", file=sys.stderr)
        return 2
    runners.update(peers)
    names = list(runners)
    want = runners["fastnorm"][1](feeds)
    for name in names[1:]:
        got = runners[name][1](feeds)
        print("%s vs fastnorm: max abs difference %.3g" % (name, float(np.max(np.abs(np.asarray(got) - want)))))
    for _ in range(args.warmup):
        for name in names:
            runners[name][1](feeds)
    runs = args.runs if args.runs is not None else 30
    times = {n: [] for n in names}
    for r in range(runs):
        for name in names[r % len(names):] + names[:r % len(names)]:      # rotate who goes first
            t0 = time.perf_counter()
            runners[name][1](feeds)
            times[name].append(time.perf_counter() - t0)
    med = {n: float(np.median(t)) for n, t in times.items()}
    batch = next(iter(feeds.values())).shape[0]
    print("%s: batch %d, %d thread(s) each, %d interleaved rounds, fastnorm ISA %s"
          % (args.file, batch, threads, runs, fastnorm.cpu_info()["isa"]))
    for n in names:
        ratio = "" if n == "fastnorm" else "   fastnorm / %s = %.2f" % (n, med["fastnorm"] / med[n])
        print("  %-13s %-10s median %8.3f ms%s" % (n, runners[n][0].split("+")[0], med[n] * 1e3, ratio))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="fastnorm", description="CPU runtime for BatchNorm CNNs")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the embedded SimpleCNN end to end (no torch needed)")
    d.add_argument("--batch", type=int, default=64)
    d.add_argument("--repeat", type=int, default=20)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(fn=cmd_demo)
    i = sub.add_parser("info", help="inputs, outputs, op counts, MACs, parameters and the doctor's findings")
    i.add_argument("file")
    i.add_argument("--graph", action="store_true", help="also print the optimised graph node by node")
    i.set_defaults(fn=cmd_info)
    c = sub.add_parser("convert", help="write any model fastnorm.load accepts as a .fnm file")
    c.add_argument("file", metavar="input")
    c.add_argument("output")
    c.add_argument("--no-check", action="store_true",
                   help="do not reload the written file and compare its predictions")
    c.add_argument("--prepacked", action="store_true",
                   help="also store the conv weights packed for this CPU's ISA: a faster cold start there")
    c.set_defaults(fn=cmd_convert)
    b = sub.add_parser("bench", help="latency (median, p90) and throughput of a model file")
    b.add_argument("file")
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--threads", type=int, default=0, help="0: the default (fastnorm.get_num_threads())")
    b.add_argument("--warmup", type=int, default=3, help="untimed runs first (after the plan is built)")
    how = b.add_mutually_exclusive_group()
    how.add_argument("--runs", "--repeat", type=int, dest="runs", help="timed runs (default 50)")
    how.add_argument("--seconds", type=float, help="time runs for this long instead")
    b.add_argument("--profile", action="store_true", help="also print the median time of every op")
    b.add_argument("--progress", action="store_true", help="progress bar on stderr even when not a terminal")
    b.add_argument("--compare", action="store_true",
                   help="also time ONNX Runtime and OpenVINO (those installed) on the same input, in turns")
    b.add_argument("--onnx", help="with --compare or --cold and a .fnm model: the .onnx file the peers run")
    b.add_argument("--cold", type=int, nargs="?", const=5, metavar="N",
                   help="cold start instead: N fresh processes (default 5) each timing import, load, plan, "
                        "first and warm run, for the file (an .onnx also as a .fnm) and ONNX Runtime; "
                        "--threads defaults to 1 here")
    b.set_defaults(fn=cmd_bench)
    from fastnorm._predict_cli import add_parser as add_predict
    add_predict(sub, _load, _Progress)
    args = p.parse_args(argv)
    from fastnorm.errors import FormatError, UnsupportedError
    try:
        return args.fn(args)
    except (FormatError, UnsupportedError, OSError, ImportError, ValueError) as e:
        where = getattr(args, "file", None)
        msg = str(e) if not where or where in str(e) else "%s: %s" % (where, e)
        print("fastnorm %s: %s" % (args.cmd, msg), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
