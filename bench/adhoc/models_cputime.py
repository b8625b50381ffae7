"""The model comparison in CPU time, for a host loaded by other jobs (issue 14's extended rows).

    python bench/adhoc/models_cputime.py [model ...] [--seconds 20] [--threads 1] [--batch 1]
    python bench/adhoc/models_cputime.py --heldout   # the held-out architectures (tests/zoo_heldout.py)
    python bench/adhoc/models_cputime.py --heldout2  # the second held-out set (tests/zoo_heldout2.py)
    python bench/adhoc/models_cputime.py --heldout3  # the third (tests/zoo_heldout3.py; or name some of them)
    python bench/adhoc/models_cputime.py --heldout4  # the fourth (tests/zoo_heldout4.py, session 26)
    python bench/adhoc/models_cputime.py --heldout5  # the fifth's image and video CNNs (session 27)
    python bench/adhoc/models_cputime.py --heldout7  # the seventh's image CNNs at 224 x 224 (session 29)
    python bench/adhoc/models_cputime.py --scaled    # the extended models at other widths / sizes (session 33)
    LD_PRELOAD=/tmp/cpuid_avx2.so python bench/adhoc/models_cputime.py   # every runtime on AVX2 (tools/cpuid_avx2.c)
    FASTNORM_ISA=avx2 BENCH_PEER_ISA=avx2 python bench/adhoc/models_cputime.py   # only OpenVINO capped (ORT cannot be)

bench_models.py's rows (same models, same inputs, every output checked against torch first), each
runtime timed in turns (bench/_timing.py) with time.process_time: the CPU time of this process, all
its threads, so the slices spent waiting for a core while other jobs run are left out (ONNX Runtime
and OpenVINO may compute on a thread of their own; with one thread and spinning off, that thread is
busy only while a run lasts). Prints ms per run (median and minimum over the rounds) and fastnorm /
best peer for each statistic. Default models: the extended rows (models_table.EXTENDED_ROWS).
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import _peers  # noqa: E402
import bench_models as B  # noqa: E402
from _timing import interleaved  # noqa: E402
from models_table import EXTENDED_ROWS, LABELS  # noqa: E402
from zoo_heldout import HELDOUT  # noqa: E402
from zoo_heldout2 import HELDOUT2  # noqa: E402
from zoo_heldout3 import HELDOUT3  # noqa: E402
from zoo_heldout4 import HELDOUT4  # noqa: E402
from zoo_heldout5 import HELDOUT5  # noqa: E402
from zoo_heldout7 import HELDOUT7  # noqa: E402
from zoo_scaled import SCALED  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*")
    ap.add_argument("--heldout", action="store_true",
                    help="the held-out architectures (tests/zoo_heldout.py) instead of the extended rows")
    ap.add_argument("--heldout2", action="store_true",
                    help="the second held-out set (tests/zoo_heldout2.py, session 22)")
    ap.add_argument("--heldout3", action="store_true",
                    help="the third held-out set (tests/zoo_heldout3.py, session 23)")
    ap.add_argument("--heldout4", action="store_true",
                    help="the fourth held-out set (tests/zoo_heldout4.py, session 26)")
    ap.add_argument("--heldout5", action="store_true",
                    help="the fifth held-out set's image and video CNNs (tests/zoo_heldout5.py, session 27)")
    ap.add_argument("--heldout7", action="store_true",
                    help="the seventh held-out set's image CNNs at 224 x 224 (tests/zoo_heldout7.py, session 29)")
    ap.add_argument("--scaled", action="store_true",
                    help="the extended models at other widths, depths and input sizes (tests/zoo_scaled.py, session 33)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if not a.models:
        a.models = (sorted(HELDOUT) if a.heldout else sorted(HELDOUT2) if a.heldout2
                    else sorted(HELDOUT3) if a.heldout3 else sorted(HELDOUT4) if a.heldout4
                    else sorted(HELDOUT5) if a.heldout5 else sorted(HELDOUT7) if a.heldout7
                    else list(SCALED) if a.scaled
                    else [r[0] for r in EXTENDED_ROWS if r[1:] == (1, 1)])
    import fastnorm
    print("fastnorm ISA %s; %s; %s; load average %s; %s UTC" % (
        fastnorm.cpu_info()["isa"], _peers.peer_isa_note(), _peers_cpu(), " ".join("%.1f" % x for x in os.getloadavg()),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
    print("| model | fastnorm ms | ORT ms | OpenVINO ms | torch ms | fastnorm / best (median) | (min) "
          "| fastnorm / OpenVINO (median) |")
    print("|---|---|---|---|---|---|---|---|")
    tmp = tempfile.mkdtemp()
    for name in a.models:
        entry = B.Entry(name, tmp)
        with _peers.pinned(a.threads):
            runs = {rt: B._runner(entry, rt, a.batch, a.threads) for rt in B.RUNTIMES}
            for rt, run in runs.items():
                B._check(entry, rt, a.batch, run())
            s = interleaved(runs, seconds=a.seconds, min_rounds=5, clock=time.process_time)
        med = {rt: sorted(v)[len(v) // 2] for rt, v in s.items()}
        mn = {rt: min(v) for rt, v in s.items()}
        ratio = {}
        for key, st in (("med", med), ("min", mn)):
            best = min((t, rt) for rt, t in st.items() if rt != "fastnorm")
            ratio[key] = "%.2f (%s)" % (st["fastnorm"] / best[0], best[1])
        print("| %s | %s | %s | %s | %s | %s | %s | %.2f |" % (
            LABELS.get(name, name), *("%.1f" % (med[rt] * 1e3) for rt in B.RUNTIMES), ratio["med"],
            ratio["min"], med["fastnorm"] / med["openvino"]), flush=True)


def _peers_cpu():
    try:
        import cpuinfo
        return cpuinfo.get_cpu_info().get("brand_raw", "?")
    except ImportError:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")


if __name__ == "__main__":
    main()
