"""bench_models.py's JSON -> issue 5's markdown table.

    python bench/models_table.py models.json [more.json ...] [--stat min] [--sequential] [--plot out.png]

When the JSON holds test_side_by_side's rows (every runtime timed in turns, round by round), the
table is built from those samples: each cell the median of a runtime's samples in one run. Otherwise,
or with --sequential, from the per-runtime benchmarks, which time one runtime after the other.

Rows in the issue's order, medians in ms for fastnorm / ONNX Runtime / OpenVINO / PyTorch, then
fastnorm / best peer and the geometric mean of those ratios, the ISA and the CPU. Given several
JSON files (repeated runs on a noisy machine), each cell is the median of the runs' medians and the
ratio is taken between those. --stat min uses each run's fastest round instead of its median (on a
host shared with other jobs, the least disturbed round; the table says which statistic it shows).
"""
import json
import math
import statistics
import sys

# (zoo name, batch, threads) in the order: bench_models.py runs these rows.
ROWS = [
    ("simplecnn", 1, 1),
    ("simplecnn", 16, 1),
    ("resnet18", 1, 1),
    ("resnet18", 1, 2),
    ("resnet50", 1, 1),
    ("mobilenet_v2", 1, 1),
    ("mobilenet_v2", 16, 1),
    ("dcgan_generator", 1, 1),
    ("normcnn_groupnorm", 1, 1),
    ("normcnn_instancenorm", 1, 1),
    ("normcnn_layernorm", 1, 1),
    ("normcnn_batchnorm", 1, 1),
]
# issue 14's extended table: published architectures the kernels were not tuned on (bench/zoo_extended.py)
EXTENDED_ROWS = [
    ("efficientnet_b0", 1, 1),
    ("mobilenet_v3_large", 1, 1),
    ("regnety_200mf", 1, 1),
    ("convnext_atto", 1, 1),
    ("densenet121", 1, 1),
    ("inception_v3", 1, 1),
    # the throughput rows: batch 16 on 2 threads
    ("resnet18", 16, 2),
    ("efficientnet_b0", 16, 2),
]
RUNTIMES = [("fastnorm", "fastnorm"), ("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO f32"),
            ("torch", "PyTorch")]
LABELS = {
    "simplecnn": "SimpleCNN",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "mobilenet_v2": "MobileNetV2",
    "dcgan_generator": "DCGAN generator",
    "normcnn_groupnorm": "SimpleCNN x4 wide, 128x128, GroupNorm(8)",
    "normcnn_instancenorm": "same, InstanceNorm (affine)",
    "normcnn_layernorm": "same, LayerNorm over channels",
    "normcnn_batchnorm": "same, BatchNorm (the twin of the three above)",
    "efficientnet_b0": "EfficientNet-B0",
    "mobilenet_v3_large": "MobileNetV3-Large",
    "regnety_200mf": "RegNetY-200MF",
    "convnext_atto": "ConvNeXt-atto",
    "densenet121": "DenseNet-121",
    "inception_v3": "Inception-v3 (299x299)",
}


def _fmt_ms(s):
    ms = s * 1e3
    return "%.3f" % ms if ms < 1 else "%.2f" % ms if ms < 10 else "%.1f" % ms if ms < 100 else "%.0f" % ms


def _macs(m):
    return "%.2f G" % (m / 1e9) if m >= 1e8 else "%.1f M" % (m / 1e6)


_STAT = {"median": statistics.median, "min": min, "mean": statistics.mean}


def collect(paths, stat="median", interleaved=True):
    """{(model, batch, threads): {runtime: [statistic per run]}}, extra info per row, machine info,
    row order, and whether the cells come from the interleaved (side-by-side) samples."""
    datas = []
    for path in paths:
        with open(path) as f:
            datas.append(json.load(f))
    interleaved = interleaved and any("side_by_side" in b.get("extra_info", {})
                                      for d in datas for b in d["benchmarks"])
    cells, info, machine, order = {}, {}, {}, []
    for data in datas:
        machine = machine or data.get("machine_info", {})
        for b in data["benchmarks"]:
            ei = b.get("extra_info", {})
            if "model" not in ei or b.get("stats") is None or ("side_by_side" in ei) != interleaved:
                continue
            key = (ei["model"], ei["batch"], ei["threads"])
            if key not in cells:
                order.append(key)
            info.setdefault(key, {}).update({"macs": ei.get("macs_per_image")})
            if interleaved:
                for rt, ts in ei["side_by_side"].items():
                    if ts:
                        cells.setdefault(key, {}).setdefault(rt, []).append(_STAT[stat](ts))
                info.setdefault("versions", {}).update(ei.get("versions", {}))
            else:
                cells.setdefault(key, {}).setdefault(ei["runtime"], []).append(b["stats"][stat])
                info.setdefault("versions", {})[ei["runtime"]] = ei.get("version", "?")
    return cells, info, machine, order, interleaved


def table(paths, stat="median", interleaved=True):
    cells, info, machine, order, interleaved = collect(paths, stat, interleaved)
    keys = [k for k in ROWS + EXTENDED_ROWS if k in cells]
    keys += [k for k in order if k not in keys]  # rows a later bench adds, in the order they ran
    versions = info.get("versions", {})
    head = ["model (MACs/image)", "batch", "threads"]
    for rt, label in RUNTIMES:
        v = versions.get(rt)
        head.append("%s %s" % (label, v.split(" ")[0] if v and rt != "fastnorm" else "") if v else label)
    head.append("fastnorm / best peer")
    out = ["| " + " | ".join(h.strip() for h in head) + " |", "|" + "---|" * len(head)]
    ratios, seen = [], set()
    for key in keys:
        name, batch, threads = key
        label = LABELS.get(name, name)
        if name not in seen and info[key].get("macs"):
            label += " (%s)" % _macs(info[key]["macs"])
        seen.add(name)
        med = {rt: statistics.median(v) for rt, v in cells[key].items()}
        line = [label, str(batch), str(threads)]
        line += [_fmt_ms(med[rt]) if rt in med else "—" for rt, _ in RUNTIMES]
        peers = {rt: t for rt, t in med.items() if rt != "fastnorm"}
        if "fastnorm" in med and peers:
            best = min(peers, key=peers.get)
            r = med["fastnorm"] / peers[best]
            ratios.append(r)
            line.append("%.2f (%s)" % (r, dict(RUNTIMES)[best]))
        else:
            line.append("— (not importable yet)" if peers else "—")
        out.append("| " + " | ".join(line) + " |")
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
    runs = max((len(v) for c in cells.values() for v in c.values()), default=0)
    cpu = machine.get("cpu", {}).get("brand_raw", "?")
    out.append("")
    what = "Medians" if stat == "median" else "Per-run %s (fastest round)" % stat if stat == "min" else stat
    how = ("runtimes timed in turns, round by round (test_side_by_side)" if interleaved
           else "each runtime timed in its own benchmark")
    out.append("Geometric mean of fastnorm / best peer over %d rows: **%.2f**. %s in ms%s, %s. "
               "fastnorm ISA: %s (best on this CPU: %s). CPU: %s, %s logical CPUs."
               % (len(ratios), geo, what, " (median over %d runs)" % runs if runs > 1 else "", how,
                  machine.get("fastnorm_isa", "?"), machine.get("fastnorm_best_isa", "?"), cpu,
                  machine.get("cpu", {}).get("count", "?")))
    return "\n".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    stat = "median"
    if "--stat" in args:
        i = args.index("--stat")
        stat = args[i + 1] if i + 1 < len(args) else ""
        del args[i:i + 2]
        if stat not in ("median", "min", "mean"):
            sys.exit("--stat: expected median, min or mean, got %r" % stat)
    sequential = "--sequential" in args
    args = [a for a in args if a != "--sequential"]
    out_png = None
    if "--plot" in args:                     # the same data as a picture (bench/models_plot.py)
        i = args.index("--plot")
        out_png = args[i + 1] if i + 1 < len(args) else sys.exit("--plot: expected a file name")
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    print(table(args, stat, interleaved=not sequential))
    if out_png:
        from models_plot import plot
        plot(args, out_png, stat, interleaved=not sequential)
        print("\nwrote %s" % out_png)
