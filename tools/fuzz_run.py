"""Run the coverage-guided fuzz targets (atheris) one after the other and sum up: executions, coverage,
findings. A finding (a crash, a sanitizer report, an unexpected exception type, a timeout) fails the run
and leaves its input as DIR/<target>-crash-* (or -timeout-*), to replay with `python tools/<target>.py FILE`.

    python tools/fuzz_run.py --seconds 50 --seed 1              # CI: a bounded pass, ~2 minutes in all
    python tools/fuzz_run.py --seconds 3600 --corpus fuzz-corpus  # a long run; the corpus grows across runs

Targets: fuzz_fnm (the .fnm loader, tools/fuzz_fnm.py), fuzz_onnx (the ONNX frontend,
tools/fuzz_onnx.py), and, with --onnxpb, fuzz_onnxpb (the pure-Python ONNX reader). Each runs in its own
process (libFuzzer exits the process when it is done), with the source tree's fastnorm when it is built
in place, else the installed one. Under CI=true a missing atheris is installed with pip.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("fuzz_fnm", "fuzz_onnx")


def _atheris():
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI") != "true":
            raise SystemExit("fuzz_run: needs atheris (pip install atheris)")
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "atheris"])


def run(target, seconds, corpus, out_dir, timeout, seed=None):
    args = [sys.executable, os.path.join(HERE, target + ".py"), "-max_total_time=%d" % seconds,
            "-timeout=%d" % timeout, "-rss_limit_mb=4096", "-print_final_stats=1",
            "-artifact_prefix=%s" % os.path.join(out_dir, target + "-")]
    if seed is not None:
        args.append("-seed=%d" % seed)
    if corpus:
        os.makedirs(corpus, exist_ok=True)
        args.append(corpus)
    t0 = time.time()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = p.stdout
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    verdicts = re.findall(r"verdicts after \d+: (\{.*\})", log)
    row = {"target": target, "returncode": p.returncode, "executions": int(execs[-1]) if execs else 0,
           "coverage": cov[-1][0] if cov else "?", "features": cov[-1][1] if cov else "?",
           "verdicts": verdicts[-1] if verdicts else "?", "seconds": round(time.time() - t0)}
    if p.returncode != 0:
        sys.stdout.write(log[-6000:])
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=50, help="per target")
    ap.add_argument("--corpus", help="a folder: one corpus per target under it, kept across runs")
    ap.add_argument("--artifacts", help="where findings go (default: a temporary folder, printed)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds one input may take")
    ap.add_argument("--onnxpb", action="store_true", help="also fuzz fastnorm.onnxpb")
    ap.add_argument("--seed", type=int, help="libFuzzer's random seed (CI fixes it, so a submission is judged "
                    "on the same inputs every time; long runs leave it random)")
    ap.add_argument("--only", help="one target (e.g. fuzz_fnm), to run targets in parallel")
    a = ap.parse_args(argv)
    _atheris()
    out_dir = a.artifacts or tempfile.mkdtemp(prefix="fastnorm-fuzz-")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for target in [a.only] if a.only else TARGETS + (("fuzz_onnxpb",) if a.onnxpb else ()):
        corpus = os.path.join(a.corpus, target) if a.corpus else None
        rows.append(run(target, a.seconds, corpus, out_dir, a.timeout, a.seed))
        r = rows[-1]
        print("%-12s %s: %d executions in %d s, coverage %s (features %s), verdicts %s"
              % (r["target"], "ok" if r["returncode"] == 0 else "FINDING (exit %d)" % r["returncode"],
                 r["executions"], r["seconds"], r["coverage"], r["features"], r["verdicts"]), flush=True)
    total = sum(r["executions"] for r in rows)
    bad = [r["target"] for r in rows if r["returncode"] != 0]
    print("fuzz: %d executions in all, %s; artifacts in %s" % (total, "findings in %s" % bad if bad else "no findings",
                                                              out_dir))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
