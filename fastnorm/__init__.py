"""fastnorm: a CPU runtime for BatchNorm-equipped CNNs.

    model = fastnorm.from_torch(net.eval(), torch.randn(1, 3, 32, 32))
    model.save("net.fnm"); model = fastnorm.load("net.fnm")   # or fastnorm.load("net.onnx")
    y = model.predict(x)            # x: float32 NCHW NumPy array, any batch size
"""
import os as _os


def _bounded_openmp_spin():
    """OpenMP workers that finish a parallel region spin before sleeping; libgomp's default spin is
    long (GOMP_SPINCOUNT 300000 pauses, tens of ms on some CPUs), which burns a core between predicts
    and, when the host lends this process less than the cores it sees, steals the time slices the
    other threads need (ResNet-18 on 2 threads of a loaded 2-vCPU VM: ~150 ms spinning vs ~25 ms
    not). Unless the user chose a policy, bound the spin to ~10^4 pauses (well under a millisecond):
    long enough to bridge the gap between the ops of one predict. libgomp reads this once, when it
    is loaded with _C below; the variable is removed again so child processes don't inherit it."""
    if any(k in _os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")):
        return False
    _os.environ["GOMP_SPINCOUNT"] = "10000"
    return True


def _import_c():
    """Import _C. In a repaired (manylinux) wheel, _C links its own libgomp (fastnorm.libs/); torch
    loads its libgomp into the global symbol scope, where the loader would look first and bind
    fastnorm's OpenMP calls to torch's pool (whose spin and thread settings are torch's). RTLD_DEEPBIND
    makes _C resolve them in its own libgomp, whatever was imported before. Only then: an in-place or
    sanitizer build links the system libgomp and is loaded as usual."""
    import sys
    libs = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "fastnorm.libs")
    deep = getattr(_os, "RTLD_DEEPBIND", 0) if _os.path.isdir(libs) else 0
    old = sys.getdlopenflags()
    sys.setdlopenflags(old | deep)
    try:
        from fastnorm import _C
    finally:
        sys.setdlopenflags(old)
    return _C


_spin_set = _bounded_openmp_spin()
_C = _import_c()
if _spin_set:
    del _os.environ["GOMP_SPINCOUNT"]
from fastnorm.errors import FastnormWarning, FormatError, UnsupportedError
from fastnorm.api import from_onnx, from_torch, load
from fastnorm.model import Model
from fastnorm.threads import get_num_threads, set_num_threads
from fastnorm.denormals import get_flush_denormals, set_flush_denormals

__version__ = "0.1.0"


def __getattr__(name):
    """fastnorm.ops (the functional API) is imported on first use, not by `import fastnorm`: loading a
    model and predicting never needs it (issue 14's cold start)."""
    if name == "ops":
        import importlib
        return importlib.import_module("fastnorm.ops")
    raise AttributeError("module 'fastnorm' has no attribute %r" % name)


def cpu_info():
    """CPU features found (CPUID + XGETBV on x86-64, HWCAP on aarch64), the best ISA this CPU runs,
    and the ISA in use; avx512_half_rate: whether convs whose output channels leave AVX-512 lanes empty
    run on the AVX2 table (a CPU whose 512-bit FMAs are two 256-bit halves: AMD Zen 4; or
    FASTNORM_AVX512_HALF_RATE=1)."""
    return {"arch": _C.ARCH, "features": _C.cpu_features(), "best_isa": _C.best_isa(), "isa": _C.active_isa(),
            "avx512_half_rate": _C.avx512_half_rate(),
            "openmp": _C.omp_enabled(), "threads": get_num_threads(), "flush_denormals": get_flush_denormals()}


__all__ = ["Model", "load", "from_torch", "from_onnx", "ops", "cpu_info", "set_num_threads", "get_num_threads",
           "set_flush_denormals", "get_flush_denormals",
           "FormatError", "UnsupportedError", "FastnormWarning"]
