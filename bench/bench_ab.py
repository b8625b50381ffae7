"""A/B toggles of the plan, timed in turns in one process: the figures of bench/RESULTS.md.

    python bench/bench_ab.py dwpw                 # MobileNetV2 b16: unfused / dw+pw / dw+pw+expand
    python bench/bench_ab.py residual-in-place    # ResNet-50 b1: conv output over its residual off / on
    python bench/bench_ab.py winograd             # ResNet-18 b1: direct 3x3 convs / Winograd F(4x4,3x3)
    python bench/bench_ab.py prefetch --clock cpu # MobileNetV3-Large b1: next weights prefetched off / on
    python bench/bench_ab.py dwpw-small --clock cpu   # MobileNetV3-Large b1: the fusion's old / new thresholds
    python bench/bench_ab.py dwpw-plain --clock cpu   # Xception-lite b1: separable convs fused / as two records
    python bench/bench_ab.py dw-expand --clock cpu    # EfficientNet-B0 b1: SE blocks' expand conv apart / banded in the depthwise record
    python bench/bench_ab.py dwpw --batch 1 --threads 2 --seconds 30 --model mobilenet_v2
    python bench/bench_ab.py residual-in-place --clock cpu   # 1 thread: time by the thread's CPU time
    python bench/bench_ab.py conv-post --clock cpu   # ConvMixer-256/8 b1: BN / add after the act as records / in the conv
    python bench/bench_ab.py patchify --clock cpu    # ConvMixer-256/8 b1: its patch conv on the first-layer kernel / as gather + 1x1
    python bench/bench_ab.py dilated-phases --clock cpu   # DeepLabV3 (OS 8) b1: dilated convs direct / as phases on Winograd
    python bench/bench_ab.py dilated-phases --size 513 --clock cpu   # the same at DeepLab's 513x513 (65x65 maps)
    python bench/bench_ab.py dead-taps --clock cpu        # DeepLabV3 (OS 8) b1 at 128x128: ASPP with / without its dead taps
    python bench/bench_ab.py merge-branches --clock cpu   # MobileOne-S0 (train form) b1: branches apart / merged

Each variant is the same zoo model (bench_models.py's calibrated torch net, canonical input) built
and planned under its own switch, all in one process; then every variant's predict is called once
per round, the order rotating (bench/_timing.py), for --seconds, and the table gives medians (minima
beside). The switches are the ones the library reads when it builds a plan:
  FASTNORM_DWPW=0               no depthwise + pointwise fusion (fastnorm/plan/lower_conv.py)
  FASTNORM_RESIDUAL_IN_PLACE=0  no conv output over its fused residual (fastnorm/plan/rewrites.py)
  FASTNORM_WINOGRAD=0           3x3 stride-1 convs stay direct (fastnorm/plan/lower_conv.py)
  FASTNORM_DWCONV_MEAN=0        SE pools stay pool records (fastnorm/plan/rewrites.py dwconv_takes_pool)
  FASTNORM_DW_EXPAND=0          an SE block's expand conv stays its own record (rewrites.py dwconv_takes_expand)
  FASTNORM_CONV_POST=0          a BN after a conv's act and an add after it stay records (rewrites.py)
  FASTNORM_PATCHIFY=0           patch embeddings stay on the conv kernels (fastnorm/plan/lower_conv.py)
  FASTNORM_DILATED_PHASES=0     dilated 3x3 convs stay on the direct kernel (fastnorm/plan/lower_conv.py)
  FASTNORM_DEAD_TAPS=0          conv taps that read only padding stay (fastnorm/plan/lower_conv.py)
  FASTNORM_MERGE_BRANCHES=0     parallel conv branches stay apart (fastnorm/passes/merge_branches.py)
  FASTNORM_PREFETCH_KB=0        no record prefetches the next one's weights (fastnorm/plan/core.py;
                                the default on AVX2, which the variant "on" overrides)
and module constants: fastnorm.plan.rewrites.DWPW_EXPAND_MIN_BYTES (set huge: the 1x1 expand conv
stays outside the fused record), rewrites.DWPW_PLAIN_MIN_BYTES (0: such records stay fused at any size;
dwpw-small: with fastnorm.plan.lower_conv.DWPW_MIN_BYTES, the values
before session 13). Before timing, every variant's output is checked against the first
variant's (bit-identical where the transformation is exact) and against torch, and the plans must
differ (a switch that did nothing fails loudly). Not reproducible from Python: the 1x1 row copy and
the AVX-512 weight prefetch are compile-time choices in src_c/conv/ with no switch.

Under pytest (`pytest bench/bench_ab.py`, CI's --benchmark-disable too) each toggle is built at batch
1 and checked as above, and its variants are timed in turns for a short while.
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fastnorm  # noqa: E402
import fastnorm.plan.core  # noqa: E402
import fastnorm.plan.lower_conv  # noqa: E402
import fastnorm.plan.rewrites  # noqa: E402

from _check import MODEL, WINOGRAD, check  # noqa: E402
from _peers import pinned  # noqa: E402
from _timing import fmt_time, interleaved, summary  # noqa: E402

HUGE = 1 << 62


class Variant:
    """Environment variables and module attributes set while one variant's plan is built."""

    def __init__(self, env=None, attrs=None):
        self.env = env or {}
        self.attrs = attrs or {}

    @contextlib.contextmanager
    def active(self):
        old_env = {k: os.environ.get(k) for k in self.env}
        old_attrs = {}
        for (mod, name), v in self.attrs.items():
            if not hasattr(mod, name):  # a refactor moved the switch: say so, do not measure nothing
                raise AttributeError("A/B switch %s.%s no longer exists" % (mod.__name__, name))
            old_attrs[(mod, name)] = getattr(mod, name)
            setattr(mod, name, v)
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in old_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            for (mod, name), v in old_attrs.items():
                setattr(mod, name, v)


DW = fastnorm.plan.rewrites
LC = fastnorm.plan.lower_conv
# toggle -> (default model, default batch, {variant: Variant}, tolerance between variants, what it shows[,
#            the square input side it needs, when not the model's canonical one])
TOGGLES = {
    "dwpw": ("mobilenet_v2", 16, {
        "unfused": Variant(env={"FASTNORM_DWPW": "0"}),
        "dw+pw": Variant(attrs={(DW, "DWPW_EXPAND_MIN_BYTES"): HUGE, (DW, "DWPW_PLAIN_MIN_BYTES"): 0}),
        "dw+pw+expand": Variant(),
    }, 0.0, "MobileNetV2's inverted-residual blocks as one record (DWCONV_PW), without and with the expand conv"),
    "residual-in-place": ("resnet50", 1, {
        "off": Variant(env={"FASTNORM_RESIDUAL_IN_PLACE": "0"}),
        "on": Variant(),
    }, 0.0, "a conv whose fused residual is that buffer's last reader writes its output over it"),
    "winograd": ("resnet18", 1, {
        "direct": Variant(env={"FASTNORM_WINOGRAD": "0"}),
        "winograd": Variant(),
    }, WINOGRAD, "3x3 stride-1 convs by Winograd F(4x4,3x3) where the plan finds it pays"),
    "prefetch": ("mobilenet_v3_large", 1, {
        "off": Variant(env={"FASTNORM_PREFETCH_KB": "0"}),
        # the default amount asked for explicitly: by default an AVX2 plan does not prefetch
        "on": Variant(env={"FASTNORM_PREFETCH_KB": str((fastnorm.plan.core.l2_bytes() // 4 or 256 << 10) >> 10)}),
    }, 0.0, "each record prefetching the next record's weights into L2 as it runs (fn_plan_link_prefetch)"),
    "dwpw-small": ("mobilenet_v3_large", 1, {
        "4M/1M": Variant(attrs={(DW, "DWPW_EXPAND_MIN_BYTES"): 4 << 20, (LC, "DWPW_MIN_BYTES"): 1 << 20}),
        "default": Variant(),
    }, 0.0, "the depthwise + pointwise fusion's size thresholds: before (expand 4 MiB, depthwise 1 MiB) / now"),
    "dwpw-plain": ("xception_lite", 1, {
        "fused": Variant(attrs={(DW, "DWPW_PLAIN_MIN_BYTES"): 0}),
        "split": Variant(),
    }, 0.0, "depthwise + 1x1 without an expand conv: one banded record / two records under 16 MiB (split_plain_dwpw)"),
    "dwconv-mean": ("efficientnet_b0", 1, {
        "pool": Variant(env={"FASTNORM_DWCONV_MEAN": "0"}),
        "folded": Variant(),
    }, 1e-4, "the SE blocks' global average pool made by the depthwise conv before it (out2)"),
    "dw-expand": ("efficientnet_b0", 1, {
        "apart": Variant(env={"FASTNORM_DW_EXPAND": "0"}),
        "banded": Variant(),
    }, 0.0, "an SE block's 1x1 expand conv made a band of rows at a time inside its depthwise record "
            "(rewrites.dwconv_takes_expand)"),
    "conv-post": ("convmixer_256_8", 1, {
        "off": Variant(env={"FASTNORM_CONV_POST": "0"}),
        "on": Variant(),
    }, 0.0, "a BN after a conv's activation, and an add after both, in the conv's epilogue (fn_post)"),
    "dilated-phases": ("deeplabv3_os8", 1, {
        "direct": Variant(env={"FASTNORM_DILATED_PHASES": "0"}),
        "phases": Variant(),
    }, WINOGRAD, "dilated 3x3 convs as their dh x dw phases, batched into one Winograd record between two copies"),
    "dead-taps": ("deeplabv3_os8", 1, {
        "all": Variant(env={"FASTNORM_DEAD_TAPS": "0"}),
        "live": Variant(),
    }, 1e-5, "conv kernel taps that read only padding at the input size dropped (ASPP's rate-18 conv on the "
             "16x16 map of a 128x128 input: 1x1)", 128),
    "merge-branches": ("mobileone_s0_train", 1, {
        "separate": Variant(env={"FASTNORM_MERGE_BRANCHES": "0"}),
        "merged": Variant(),
    }, 1e-4, "parallel conv branches of one input summed into one conv (MobileOne-S0's training-time blocks: "
             "fastnorm.passes.merge_branches)"),
    "patchify": ("convmixer_256_8", 1, {   # its 7x7x3 stem passes every ISA's threshold
        "off": Variant(env={"FASTNORM_PATCHIFY": "0"}),
        "on": Variant(),
    }, 1e-4, "patch-embedding convs (stride == kernel) as a row gather and a 1x1 conv"),
}


def plan_signature(model, x):
    plan = model._plan({model.graph.inputs[0].name: x.shape})
    return (tuple((r["type"], r.get("in"), r.get("in2"), r.get("out"), r.get("out2"), r.get("conv"))
                  for r in plan.records),
            tuple(plan.cplan.prefetch_links()))


def build(toggle, model_name=None, batch=None, threads=1, size=None):
    """(entry, x, {variant: fastnorm Model}) with every variant planned and checked; size: a square
    input of that side instead of the model's canonical one."""
    import torch  # noqa: F401  (bench_models needs it)
    from bench_models import Entry
    default_model, default_batch, variants, tol = TOGGLES[toggle][:4]
    size = size or (TOGGLES[toggle][5] if len(TOGGLES[toggle]) > 5 else None)   # a toggle's own input side
    entry = Entry(model_name or default_model, tempfile.mkdtemp())
    if size:
        entry.shape = tuple(entry.shape[:-2]) + (size, size)
        entry._inputs.clear()
        entry._refs.clear()
    x = entry.input(batch or default_batch)[0]
    models, sigs = {}, {}
    with pinned(threads):
        for name, v in variants.items():
            with v.active():
                m = fastnorm.from_torch(entry.net, entry.input(1)[1])
                m.predict(x)  # the plan for x's shape is built here, under the switch
            models[name] = m
            sigs[name] = plan_signature(m, x)
        first = next(iter(variants))
        want = entry.reference(x.shape[0])
        for name, m in models.items():
            got = m.predict(x)
            check("%s %s vs torch" % (toggle, name), got, want, MODEL if tol == 0 else tol)
            if name != first:
                check("%s %s vs %s" % (toggle, name, first), got, models[first].predict(x), tol)
                assert sigs[name] != sigs[first], "%s: variant %s planned the same records as %s" % (
                    toggle, name, first)
    return entry, x, models


def run(toggle, model_name=None, batch=None, threads=1, seconds=10.0, clock="wall", size=None):
    if clock == "cpu" and threads != 1:
        raise ValueError("--clock cpu times the calling thread only: use it with --threads 1")
    entry, x, models = build(toggle, model_name, batch, threads, size)
    with pinned(threads):
        samples = interleaved({k: (lambda m=m: m.predict(x)) for k, m in models.items()}, seconds=seconds,
                              clock=time.thread_time if clock == "cpu" else time.perf_counter)
    return entry, x, summary(samples)


def table(toggle, entry, x, stats, threads, clock="wall"):
    import fma_peak
    first = next(iter(stats))
    lines = ["%s: %s" % (toggle, TOGGLES[toggle][4]),
             "%s, batch %d, %d thread%s; fastnorm ISA %s; CPU %s; variants timed in turns in one process"
             " by %s time; load average %.1f" % (
                 entry.name, x.shape[0], threads, "s" if threads > 1 else "", fastnorm.cpu_info()["isa"],
                 fma_peak.cpu_name(), "the thread's CPU" if clock == "cpu" else "wall", os.getloadavg()[0]), "",
             "| variant | median | min | rounds | median / %s |" % first, "|---|---|---|---|---|"]
    for k, (med, mn, n) in stats.items():
        lines.append("| %s | %s | %s | %d | %.3f |" % (k, fmt_time(med), fmt_time(mn), n, med / stats[first][0]))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("toggle", choices=list(TOGGLES))
    p.add_argument("--model", default=None, help="a tests/zoo.py model (default: the toggle's)")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: the calling thread's CPU time (1 thread only; leaves out waits for a core)")
    p.add_argument("--size", type=int, default=None, help="a square input of this side (default: canonical)")
    a = p.parse_args(argv)
    entry, x, stats = run(a.toggle, a.model, a.batch, a.threads, a.seconds, a.clock, a.size)
    print(table(a.toggle, entry, x, stats, a.threads, a.clock))


# ---------------------------------------------------------------- under pytest: checks, short timing
try:
    import pytest
except ImportError:  # the script does not need pytest
    pytest = None

if pytest is not None:
    @pytest.mark.parametrize("toggle", list(TOGGLES))
    def test_ab(benchmark, toggle):
        from _peers import need
        need("torch")
        entry, x, models = build(toggle, batch=1)
        fns = {k: (lambda m=m: m.predict(x)) for k, m in models.items()}
        seconds = 0 if benchmark.disabled else 2.0
        stats = {}
        benchmark.pedantic(lambda: stats.update(summary(interleaved(fns, seconds=seconds, min_rounds=1 if
                                                                    benchmark.disabled else 5))),
                           rounds=1, iterations=1)
        benchmark.extra_info.update(toggle=toggle, model=entry.name, batch=1,
                                    medians={k: v[0] for k, v in stats.items()})


if __name__ == "__main__":
    main()
