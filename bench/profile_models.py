"""Where fastnorm loses time, per op, beside ONNX Runtime's own per-node profile of the same model.

    python bench/profile_models.py resnet18 resnet50 mobilenet_v2 normcnn_groupnorm \
        [--batch 1] [--threads 1] [--repeat 30] [--top 12] [--peak GFLOPS] [--after-torch]

For each zoo model (built as bench_models.py builds it, at the canonical input): fastnorm's
Model.profile, run --repeat times with repeat=1 so each step has a sample per run, and ORT's
profiler (enable_profiling) over as many runs. On a shared host a step's median can hold a
descheduling of another process; the minimum is the step's undisturbed cost, so the tables give
both and rank by the minimum. Each conv gets its GFLOP/s (2 x MACs / time) beside the FMA peak
measured on this machine for fastnorm's ISA by bench/fma_peak.py (--peak overrides it explicitly);
convs are matched to ORT's nodes by (weight shape, output shape) in execution order. Steps are
grouped (first conv with Cin <= 4, 3x3, 1x1, depthwise, other convs, linear, layout changes,
normalization, pooling, elementwise) and each group's total is set beside ORT's. "predict - steps"
is what the fastest whole predict cost above the sum of its steps' minima: the call overhead when
the host is quiet, time lost to other processes when it is not.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fastnorm  # noqa: E402
from fastnorm.graph import infer_shapes  # noqa: E402

import fma_peak  # noqa: E402


def _conv_info(graph, node, shapes):
    """(kind, description, MACs, match key) of a conv2d/linear graph node."""
    out = shapes[node.outputs[0]]
    w = graph.weights[node.inputs[1]].shape
    if node.op == "linear":
        return "linear", "linear %d->%d" % (w[1], w[0]), int(np.prod(out)) * w[1], ("gemm", tuple(out))
    cin = shapes[node.inputs[0]][1]
    g = node.attrs.get("groups", 1)
    s = node.attrs.get("stride", [1, 1])
    macs = int(np.prod(out)) * w[1] * w[2] * w[3]
    if g == cin and w[1] == 1 and g > 1:
        kind = "conv depthwise"
    elif cin <= 4:
        kind = "conv first (Cin<=4)"
    elif w[2] == w[3] == 1:
        kind = "conv 1x1"
    elif w[2] == w[3] == 3:
        kind = "conv 3x3"
    else:
        kind = "conv other"
    desc = "%dx%d/%d %d->%d%s @%dx%d" % (w[2], w[3], s[0], cin, w[0], " g%d" % g if g > 1 else "", out[2], out[3])
    return kind, desc, macs, ("conv", tuple(w), tuple(out))


_KIND_OF_OP = {"nchw->nhwc": "layout", "nhwc->nchw": "layout", "copy": "layout", "batch_norm": "norm",
               "group_norm": "norm", "instance_norm": "norm", "layer_norm": "norm",
               "layer_norm_channels": "norm", "max_pool2d": "pool", "avg_pool2d": "pool",
               "adaptive_avg_pool2d": "pool", "adaptive_max_pool2d": "pool"}
_ORT_KIND = {"ReorderInput": "layout", "ReorderOutput": "layout", "Transpose": "layout",
             "MaxPool": "pool", "GlobalAveragePool": "pool", "AveragePool": "pool",
             "GlobalMaxPool": "pool", "BatchNormalization": "norm", "InstanceNormalization": "norm",
             "GroupNormalization": "norm", "LayerNormalization": "norm", "Gemm": "linear",
             "MatMul": "linear", "FusedGemm": "linear", "FusedMatMul": "linear"}


def fastnorm_profile(model, x, repeat, before=None):
    """[(label, sources, samples)] and predict()'s minimum and median wall time.

    Model.profile sorts its steps slowest first, so the runs are lined up by (label, source nodes);
    unnamed steps with the same label (layout changes at the plan's edges) are summed. before: None,
    or a callable run before each profiled and each timed run (--after-torch)."""
    model.predict(x)
    runs = []
    for _ in range(repeat):
        if before:
            before()
        d = {}
        for lab, src, t in model.profile(x, repeat=1):
            d[(lab, tuple(src))] = d.get((lab, tuple(src)), 0.0) + t
        runs.append(d)
    steps = [(lab, list(src), [r.get((lab, src), np.nan) for r in runs]) for lab, src in runs[0]]
    walls = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        model.predict(x)
        walls.append(time.perf_counter() - t0)
    return steps, min(walls), float(np.median(walls))


def ort_profile(onnx_path, x, threads, repeat, before=None):
    """[(op type, node name, weight shape, output shape, samples)] in execution order (before: as in
    fastnorm_profile)."""
    import onnxruntime as ort
    from _peers import ort_options
    so = ort_options(threads)
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    for _ in range(2):
        sess.run(None, {"input": x})
    walls = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        sess.run(None, {"input": x})
        walls.append(time.perf_counter() - t0)
    with open(sess.end_profiling()) as f:
        events = json.load(f)
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_run = len(nodes) // (repeat + 2)
    nodes = nodes[2 * per_run:]  # drop the warm-up runs
    out = []
    for i in range(per_run):
        ev = nodes[i::per_run]
        a = ev[0]["args"]
        ins = [list(s.values())[0] for s in a.get("input_type_shape", [])]
        outs = [list(s.values())[0] for s in a.get("output_type_shape", [])]
        out.append((a.get("op_name", "?"), ev[0]["name"][:-len("_kernel_time")],
                    tuple(ins[1]) if len(ins) > 1 else None, tuple(outs[0]) if outs else None,
                    [e["dur"] * 1e-6 for e in ev]))
    return out, min(walls), float(np.median(walls))


def _ort_conv_kind(wshape, oshape):
    """The group of an ORT conv node from its (logical OIHW) weight and output shapes."""
    if wshape is None or len(wshape) != 4:
        return "conv other"
    if wshape[1] == 1 and oshape and wshape[0] == oshape[1] and wshape[0] > 1:
        return "conv depthwise"
    if wshape[1] <= 4:
        return "conv first (Cin<=4)"
    if wshape[2] == wshape[3] == 1:
        return "conv 1x1"
    if wshape[2] == wshape[3] == 3:
        return "conv 3x3"
    return "conv other"


def _ms(s):
    return "%.3f" % (s * 1e3) if s < 0.01 else "%.2f" % (s * 1e3)


def report(name, batch, threads, repeat, top, peak, with_ort=True, peak_note="given by --peak",
           after_torch=False):
    from bench_models import Entry
    tmp = tempfile.mkdtemp()
    entry = Entry(name, tmp)
    x, xt = entry.input(batch)
    before = None
    if after_torch:
        import torch

        def before():
            with torch.no_grad():
                entry.net(xt)
    fastnorm.set_num_threads(threads)
    model = entry.fastnorm()
    if isinstance(model, fastnorm.UnsupportedError):
        return "## %s\n\nfastnorm cannot import it yet: %s\n" % (name, model)
    graph = model.graph
    shapes = infer_shapes(graph, {graph.inputs[0].name: x.shape})
    nodes = {n.name: n for n in graph.nodes}
    steps, fn_wall, fn_wall_med = fastnorm_profile(model, x, repeat, before)
    fastnorm.set_num_threads(None)

    ort_nodes, ort_wall, ort_wall_med = ort_profile(entry.onnx_path(), x, threads, repeat, before) if with_ort else ([], None, None)
    ort_by_key = {}
    for op, nm, wshape, oshape, samples in ort_nodes:
        if op in ("Conv", "FusedConv") and wshape is not None:
            key = ("conv", wshape, oshape)
        elif _ORT_KIND.get(op) == "linear":
            key = ("gemm", oshape)
        else:
            continue
        ort_by_key.setdefault(key, []).append((nm, samples))

    rows = []
    for label, sources, samples in steps:
        node = nodes.get(sources[0]) if sources else None
        kind, desc, macs, ort_t = _KIND_OF_OP.get(label, "elementwise"), label, 0, None
        if node is not None and node.op in ("conv2d", "linear"):
            kind, desc, macs, key = _conv_info(graph, node, shapes)
            match = ort_by_key.get(key)
            if match:
                ort_t = min(match.pop(0)[1])
        if node is not None and node.attrs.get("act"):
            desc += " +" + node.attrs["act"][0]
        if node is not None and node.attrs.get("residual"):
            desc += " +res"
        if node is not None and kind not in ("linear",) and not kind.startswith("conv"):
            desc = node.op + (" +" + node.attrs["act"][0] if node.attrs.get("act") else "")
        rows.append(dict(kind=kind, desc=desc, src=", ".join(sources) or "(plan edge)", macs=macs,
                         tmin=float(np.nanmin(samples)), tmed=float(np.nanmedian(samples)), ort=ort_t))

    lines = ["## %s, batch %d, %d thread%s" % (name, batch, threads, "s" if threads > 1 else ""), ""]
    fn_sum = sum(r["tmin"] for r in rows)
    total_macs = sum(r["macs"] for r in rows)
    lines.append("fastnorm: predict %s ms min / %s median over %d runs; sum of step minima %s ms; "
                 "%.2f GMACs -> %.1f GFLOP/s overall (FMA peak %.1f GFLOP/s per core, %s)."
                 % (_ms(fn_wall), _ms(fn_wall_med), repeat, _ms(fn_sum), total_macs / 1e9,
                    2 * total_macs / fn_wall / 1e9, peak, peak_note))
    if with_ort:
        ort_sum = sum(min(s) for *_, s in ort_nodes)
        lines.append("ONNX Runtime: run %s ms min / %s median; sum of node minima %s ms."
                     % (_ms(ort_wall), _ms(ort_wall_med), _ms(ort_sum)))
    lines.append("")
    # per group
    kinds = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], [0.0, 0.0, 0, 0])
        k[0] += r["tmin"]
        k[2] += r["macs"]
        k[3] += 1
    ort_kinds = {}
    for op, nm, wshape, oshape, samples in ort_nodes:
        if op in ("Conv", "FusedConv"):
            kind = _ort_conv_kind(wshape, oshape)
        else:
            kind = _ORT_KIND.get(op, "elementwise")
        ort_kinds[kind] = ort_kinds.get(kind, 0.0) + min(samples)
    lines.append("| group | steps | fastnorm ms (sum of minima) | GFLOP/s | % of peak x threads | ORT ms | fastnorm - ORT ms |")
    lines.append("|---|---|---|---|---|---|---|")
    for kind, (t, _, macs, cnt) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        gf = 2 * macs / t / 1e9 if macs and t else None
        o = ort_kinds.get(kind)
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            kind, cnt, _ms(t), "%.1f" % gf if gf else "", "%.0f%%" % (100 * gf / (peak * threads)) if gf else "",
            _ms(o) if o is not None else ("0" if with_ort else ""),
            "%+.2f" % ((t - (o or 0)) * 1e3) if with_ort else ""))
    for kind, o in ort_kinds.items():
        if kind not in kinds:
            lines.append("| %s (ORT only) | | 0 | | | %s | %+.2f |" % (kind, _ms(o), -o * 1e3))
    lines.append("| predict min - sum of step minima (call overhead; on a busy host, preemption) | | %s | | | | |"
                 % _ms(max(0.0, fn_wall - fn_sum)))
    lines.append("")
    # top steps by time (or by loss vs ORT where matched)
    lines.append("Top %d steps by fastnorm time (minimum over runs; median beside it):" % top)
    lines.append("")
    lines.append("| step | source nodes | fastnorm ms min / med | GFLOP/s | % of peak x threads | ORT ms | ORT GFLOP/s |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["tmin"])[:top]:
        gf = 2 * r["macs"] / r["tmin"] / 1e9 if r["macs"] else None
        ogf = 2 * r["macs"] / r["ort"] / 1e9 if r["macs"] and r["ort"] else None
        src = r["src"] if len(r["src"]) < 60 else r["src"][:57] + "..."
        lines.append("| %s | %s | %s / %s | %s | %s | %s | %s |" % (
            r["desc"], src, _ms(r["tmin"]), _ms(r["tmed"]), "%.1f" % gf if gf else "",
            "%.0f%%" % (100 * gf / (peak * threads)) if gf else "",
            _ms(r["ort"]) if r["ort"] is not None else "", "%.1f" % ogf if ogf else ""))
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--peak", type=float, default=None,
                   help="FMA peak GFLOP/s per core; default: measured now by bench/fma_peak.py for fastnorm's ISA")
    p.add_argument("--no-ort", action="store_true")
    p.add_argument("--after-torch", action="store_true",
                   help="a torch forward of the same model before every run (both runtimes): the caches "
                        "as the interleaved comparison leaves them (bench/adhoc/models_cputime.py)")
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    isa = fastnorm.cpu_info()["isa"]
    note = "given by --peak"
    if a.peak is None:
        m = fma_peak.measure("sse2" if isa == "scalar" else isa)
        a.peak = m["peak"]
        note = "measured by bench/fma_peak.py on %s, best of %d runs, median %.1f" % (
            m["isa"], len(m["runs"]), m["median"])
    print("fastnorm ISA %s; CPU %s; FMA peak %.1f GFLOP/s per core (%s); %s"
          % (isa, fma_peak.cpu_name(), a.peak, note, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    print()
    for name in a.models:
        print(report(name, a.batch, a.threads, a.repeat, a.top, a.peak, with_ort=not a.no_ort, peak_note=note,
                     after_torch=a.after_torch))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
