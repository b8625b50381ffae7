"""The measured single-core float32 FMA peak (GFLOP/s) of this machine, per ISA it has.

    python bench/fma_peak.py            # every ISA the CPU has, one line each
    python bench/fma_peak.py --isa avx512 --runs 15

Compiles bench/fma_peak.c at run time with gcc (or $CC), once per ISA with that ISA's flags only
(never -march=native): avx512 -mavx512f, avx2 -mavx2 -mfma, sse2 the x86-64 baseline (multiply then
add, no FMA). Runs only the ISAs fastnorm's CPU detection reports (CPUID and XGETBV). Each run times
12 independent chains of vector multiply-adds on one thread by the thread's CPU time (wall time on a
shared host counts the waits for a core); the peak is the best run, the median is printed beside it. bench/profile_models.py divides by this
peak for its "% of peak" columns.
"""
import argparse
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "fma_peak.c")
FLAGS = {"avx512": ["-DFMA_AVX512", "-mavx512f"], "avx2": ["-DFMA_AVX2", "-mavx2", "-mfma"], "sse2": []}


def host_isas():
    """The ISAs this CPU (and OS) can run, best first: as fastnorm detects them (CPUID and XGETBV),
    or from /proc/cpuinfo's flags when fastnorm is not importable."""
    names = ["avx512", "avx2", "sse2"]
    try:
        import fastnorm
        best = fastnorm.cpu_info()["best_isa"]
    except ImportError:
        flags = set()
        try:
            with open("/proc/cpuinfo") as f:
                flags = set(next((ln for ln in f if ln.startswith("flags")), ":").split(":", 1)[1].split())
        except OSError:
            pass
        best = "avx512" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags else "sse2"
    return names[names.index(best):] if best in names else ["sse2"]


def compiler():
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("fma_peak: no C compiler (gcc, or set CC)")
    return cc


@functools.lru_cache(maxsize=None)
def build(isa):
    """Path of the fma_peak executable for `isa`, compiled once per source version."""
    with open(SOURCE, "rb") as f:
        tag = hashlib.sha1(f.read() + " ".join(FLAGS[isa]).encode()).hexdigest()[:12]
    out = os.path.join(tempfile.gettempdir(), "fastnorm_fma_peak_%s_%s" % (isa, tag))
    if not os.path.exists(out):
        tmp = out + ".%d" % os.getpid()
        subprocess.run([compiler(), "-std=c11", "-O2", "-Wall", "-Wextra", *FLAGS[isa], SOURCE, "-o", tmp],
                       check=True)
        os.replace(tmp, out)
    return out


def measure(isa, runs=9, iters=10_000_000):
    """{"isa", "peak" (best run, GFLOP/s), "median", "runs"} for one thread on `isa`."""
    if isa not in host_isas():
        raise ValueError("fma_peak: this CPU cannot run %s (it has %s)" % (isa, ", ".join(host_isas())))
    res = subprocess.run([build(isa), str(iters), str(runs)], check=True, capture_output=True, text=True)
    rows = [[float(v) for v in line.split()] for line in res.stdout.split("\n") if line.strip()]
    gf = [r[0] for r in rows]
    return {"isa": isa, "peak": max(gf), "median": statistics.median(gf), "runs": gf,
            "wall_median": statistics.median(r[2] for r in rows)}


def peak(isa=None, runs=9):
    """The best single-core GFLOP/s on `isa` (default: the ISA fastnorm runs with)."""
    if isa is None:
        import fastnorm
        isa = fastnorm.cpu_info()["isa"]
        isa = "sse2" if isa == "scalar" else isa
    return measure(isa, runs)["peak"]


def cpu_name():
    from fastnorm._cold import cpu_name as name
    return name()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--isa", choices=list(FLAGS), action="append", help="default: every ISA the CPU has")
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--iters", type=int, default=10_000_000)
    a = p.parse_args(argv)
    print("CPU: %s; ISAs: %s; 1 thread, %d runs each" % (cpu_name(), ", ".join(host_isas()), a.runs))
    for isa in a.isa or host_isas():
        m = measure(isa, a.runs, a.iters)
        print("%-6s peak %6.1f GFLOP/s per core (best run by CPU time), median %6.1f; by wall time %.1f"
              % (isa, m["peak"], m["median"], m["wall_median"]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
