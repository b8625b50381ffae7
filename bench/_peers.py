"""The peer runtimes, set up alike: threads pinned, missing runtimes reported loudly.

Every runtime of a comparison runs on the same explicit thread count:
  fastnorm     fastnorm.set_num_threads(T)
  torch        torch.set_num_threads(T)
  onnxruntime  SessionOptions.intra_op_num_threads = T (inter-op 1, spinning off, sequential)
  openvino     INFERENCE_NUM_THREADS = T
  NumPy        its BLAS limited to T threads through threadpoolctl (elementwise NumPy is 1 thread)
T is BENCH_THREADS (default 1: on a shared 2-core host a second thread mostly measures how long a
descheduled worker keeps a region waiting). bench/conftest.py pins every benchmark to T.

A runtime that does not import is never dropped silently: need() skips with a message naming it,
the run's summary lists it under "MISSING RUNTIMES", and with CI=true a missing torch, onnx or
onnxruntime fails the run instead.

BENCH_PEER_ISA=avx2 caps OpenVINO at AVX2 (ONEDNN_MAX_CPU_ISA and OV_CPU_MAX_ISA, set before openvino
loads), so that fastnorm's AVX2 path (FASTNORM_ISA=avx2) is timed against an AVX2 peer on an AVX-512
machine: on an Intel Xeon (AVX-512) the cap takes OpenVINO's ResNet-50 from 90 to 126 ms, one thread.
ONNX Runtime has no such switch (MLAS picks the CPU's best ISA), so its column stays uncapped.
The fair AVX2 comparison on an AVX-512 host is a process whose CPUID reports an AVX2-only CPU to every
runtime: LD_PRELOAD of tools/cpuid_avx2.c (`gcc -O2 -shared -fPIC -o /tmp/cpuid_avx2.so
tools/cpuid_avx2.c -ldl`, then `LD_PRELOAD=/tmp/cpuid_avx2.so python bench/...`); peer_isa_note says
when a report ran under it.
"""
import contextlib
import importlib
import os

import pytest

THREADS = int(os.environ.get("BENCH_THREADS", "1"))
REQUIRED_IN_CI = ("torch", "onnx", "onnxruntime")
MISSING = {}  # runtime -> reason, for the run's summary
PEER_ISA = os.environ.get("BENCH_PEER_ISA", "").strip().upper()
if PEER_ISA:
    # read once by oneDNN at its first dispatch, so it must be in the environment before openvino loads
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", PEER_ISA)
    os.environ.setdefault("OV_CPU_MAX_ISA", PEER_ISA)


def cpuid_masked():
    """True in a process whose CPUID hides the AVX-512 the kernel reports (tools/cpuid_avx2.c)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    except OSError:
        return False
    import fastnorm
    return "avx512f" in flags and not fastnorm.cpu_info()["features"]["avx512f"]


def peer_isa_note():
    """How the peers' ISA is set, for a report's header."""
    if cpuid_masked():
        return ("CPUID reports an AVX2-only CPU to every runtime (tools/cpuid_avx2.c, LD_PRELOAD): "
                "ONNX Runtime, OpenVINO and fastnorm all on their AVX2 paths")
    if not PEER_ISA:
        return "peers at the CPU's best ISA"
    return "OpenVINO capped at %s (ONEDNN_MAX_CPU_ISA); ONNX Runtime uncapped (no switch)" % PEER_ISA


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def need(name, module_level=False):
    """Import a peer runtime; when it is missing, report it (and fail under CI=true if required)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        MISSING[name] = str(e)
        msg = "runtime %s is MISSING (%s): its rows are not in this run" % (name, e)
        if in_ci() and name in REQUIRED_IN_CI:
            pytest.fail("CI=true requires %s: %s" % (name, msg), pytrace=False)
        pytest.skip(msg, allow_module_level=module_level)


def missing(name, reason):
    """Record a runtime that could not run a row (e.g. a model fastnorm cannot import yet)."""
    MISSING.setdefault(name, reason)
    if in_ci() and name in REQUIRED_IN_CI:
        pytest.fail("CI=true requires %s: %s" % (name, reason), pytrace=False)


@contextlib.contextmanager
def pinned(threads=THREADS):
    """fastnorm, torch (if imported) and NumPy's BLAS on `threads` threads inside the block."""
    import sys

    import fastnorm
    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    fastnorm.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    limiter = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        pass
    try:
        with limiter:
            yield threads
    finally:
        fastnorm.set_num_threads(None)
        if torch is not None:
            torch.set_num_threads(old_torch)


def ort_options(threads):
    """ORT_ENABLE_ALL, `threads` intra-op threads, 1 inter-op, spinning off, sequential."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def ort_session(model, threads):
    """An ONNX Runtime CPU session on a path or serialized bytes, pinned to `threads`."""
    ort = need("onnxruntime")
    return ort.InferenceSession(model, ort_options(threads), providers=["CPUExecutionProvider"])


def openvino_request(onnx_path, input_shape, threads):
    """An OpenVINO CPU InferRequest for the .onnx reshaped to a static input shape, f32, `threads`."""
    ov = need("openvino")
    core = ov.Core()
    model = core.read_model(onnx_path)
    model.reshape({model.inputs[0]: ov.PartialShape(list(input_shape))})
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                 "INFERENCE_NUM_THREADS": threads,
                                                 "PERFORMANCE_HINT": "LATENCY"})
    return compiled.create_infer_request()
