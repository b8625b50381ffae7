"""Denormal (subnormal) floats in a model's runs: flushed to zero by default.

A float32 below 2**-126 in magnitude is denormal. x86 cores handle an operation that reads or writes
one through a microcode assist that costs on the order of a hundred cycles, and CNNs make them: a
squeeze-and-excitation gate sigmoid(z) of a strongly negative z, SiLU of a negative input, products
of small activations and small weights. On the Xeon of bench/RESULTS.md a calibrated EfficientNet-B2
predicts in 0.79 of the time with them flushed (AVX-512; 0.81 on AVX2), and models without denormals
time the same either way (python bench/bench_denormals.py).

So every plan run (Model.predict / run / profile, the batch-split runner) sets the flush modes on each
thread it uses (x86: MXCSR FTZ and DAZ; AArch64: FPCR FZ) and restores each thread's own mode after
(src_c/plan/plan.c fn_plan_run_flush): a denormal operand reads as 0 and a denormal result is stored
as 0. Results then differ from IEEE gradual underflow only by magnitudes below 1.2e-38 (far below
any tolerance a model's output is compared with); ONNX Runtime (session.set_denormal_as_zero) and
OpenVINO (CPU_DENORMALS_OPTIMIZATION) offer the same modes as options, PyTorch as
torch.set_flush_denormal.

    fastnorm.set_flush_denormals(False)   # IEEE gradual underflow in model runs
    FASTNORM_DENORMALS=keep python ...    # the same from the environment (default: flush)

The functional API (fastnorm.ops) always keeps IEEE semantics: it is the torch.nn.functional
reference, denormals included.
"""
import os
import warnings

from fastnorm.errors import FastnormWarning

_WORDS = {"flush": True, "keep": False}


def _from_env():
    v = os.environ.get("FASTNORM_DENORMALS")
    if v is None or v.strip() == "":
        return True
    w = v.strip().lower()
    if w not in _WORDS:
        warnings.warn("FASTNORM_DENORMALS=%r: expected 'flush' or 'keep'; denormals are flushed" % v,
                      FastnormWarning, stacklevel=3)
        return True
    return _WORDS[w]


flush = _from_env()   # read by fastnorm.plan (Plan.run, Plan.run1) and fastnorm.plan.split at each run


def set_flush_denormals(on):
    """Flush denormals to zero in model runs (True, the default) or keep IEEE gradual underflow
    (False), for every model in this process from the next run on. Returns the previous setting."""
    global flush
    if not isinstance(on, bool):
        raise TypeError("set_flush_denormals: expected True or False, got %r" % (on,))
    prev, flush = flush, on
    return prev


def get_flush_denormals():
    """Whether model runs flush denormals to zero (set_flush_denormals, FASTNORM_DENORMALS)."""
    return flush
