"""The side-by-side picture of models_table.py's data: `python bench/models_table.py runs.json --plot out.png`.

Left: milliseconds per runtime and row (log scale). Right: fastnorm's time over each peer's (below the
line at 1.0, fastnorm is faster). Needs matplotlib (the `bench` extra)."""
import statistics

from models_table import LABELS, ROWS, RUNTIMES, collect

# y-axis labels: the table's label up to its first comma, except where that is not unique
SHORT = {"normcnn_groupnorm": "NormCNN GroupNorm", "normcnn_instancenorm": "NormCNN InstanceNorm",
         "normcnn_layernorm": "NormCNN LayerNorm", "normcnn_batchnorm": "NormCNN BatchNorm"}
COLORS = {"fastnorm": "#1f77b4", "onnxruntime": "#ff7f0e", "openvino": "#2ca02c", "torch": "#d62728"}


def plot(paths, out, stat="median", interleaved=True):
    """Write the figure to `out` (any format matplotlib knows by the suffix); returns the rows drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells, _, machine, order, interleaved = collect(paths, stat, interleaved)
    keys = [k for k in ROWS if k in cells] + [k for k in order if k not in ROWS]
    keys = [k for k in keys if "fastnorm" in cells[k]]
    if not keys:
        raise ValueError("no fastnorm rows in %s" % ", ".join(paths))
    med = {k: {rt: statistics.median(v) for rt, v in cells[k].items()} for k in keys}
    labels = ["%s b%d t%d" % (SHORT.get(n) or LABELS.get(n, n).split(",")[0], b, t) for n, b, t in keys]
    fig, (ax_ms, ax_ratio) = plt.subplots(1, 2, figsize=(13, 0.5 * len(keys) + 2.4), sharey=True)
    def offsets(j, n):
        return [i + (j - (n - 1) / 2) * (0.8 / n) for i in range(len(keys))]

    for j, (rt, name) in enumerate(RUNTIMES):
        ms = [med[k].get(rt, float("nan")) * 1e3 for k in keys]
        ax_ms.barh(offsets(j, len(RUNTIMES)), ms, height=0.8 / len(RUNTIMES), color=COLORS[rt], label=name)
    peers = RUNTIMES[1:]
    worst = 1.0
    for j, (rt, name) in enumerate(peers):
        ratio = [med[k]["fastnorm"] / med[k][rt] if rt in med[k] else float("nan") for k in keys]
        worst = max([worst] + [r for r in ratio if r == r])
        ax_ratio.barh(offsets(j, len(peers)), ratio, height=0.8 / len(peers), color=COLORS[rt],
                      label="fastnorm / " + name)
    ax_ms.set_xscale("log")
    ax_ms.set_xlabel("%s ms per batch (log scale)" % stat)
    ax_ms.set_yticks(range(len(keys)))
    ax_ms.set_yticklabels(labels)
    ax_ms.invert_yaxis()
    ax_ms.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / len(keys) / 4), ncol=4, fontsize=8)
    ax_ratio.axvline(1.0, color="black", linewidth=1)
    ax_ratio.set_xlim(0, worst * 1.1)
    ax_ratio.set_xlabel("fastnorm time / peer time (< 1: fastnorm faster)")
    ax_ratio.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.2 / len(keys) / 4), ncol=3, fontsize=8)
    cpu = machine.get("cpu", {}).get("brand_raw", "?")
    fig.suptitle("fastnorm beside its peers (%s, %s; fastnorm ISA %s)"
                 % (cpu, "interleaved rounds" if interleaved else "sequential benchmarks",
                    machine.get("fastnorm_isa", "?")), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return keys
