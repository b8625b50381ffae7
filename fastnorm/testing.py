"""Helpers for tests: run kernels under a chosen ISA, list the ISAs this CPU has."""
import contextlib
import os
import threading

from fastnorm import _C

ISA_NAMES = _C.ISA_NAMES
_forced = threading.local()  # .isa: the table index force_isa set in this thread (-1: none)


def available_isas():
    """Every ISA this process may run, narrowest first: those the CPU and OS have, capped by
    FASTNORM_ISA when it is set (FASTNORM_ISA=avx2 on an AVX-512 machine tests as an AVX2 machine)."""
    best = ISA_NAMES.index(_C.best_isa())
    env = os.environ.get("FASTNORM_ISA")
    if env:
        best = min(best, ISA_NAMES.index(env))  # the import already rejected an unknown name
    return list(ISA_NAMES[: best + 1])


def unavailable_reason(name):
    """Why `name` is not in available_isas() (None when it is)."""
    if name in available_isas():
        return None
    if ISA_NAMES.index(name) > ISA_NAMES.index(_C.best_isa()):
        return "CPU lacks %s" % name
    return "FASTNORM_ISA=%s excludes %s" % (os.environ.get("FASTNORM_ISA"), name)


@contextlib.contextmanager
def force_isa(name):
    """Within the block, kernel calls and models built in this thread use the `name` kernel table.

    Thread-local, so it never changes what other threads run. FASTNORM_ISA does the same for a
    whole process, at import. Blocks nest: leaving one restores the ISA forced around it.
    """
    if name not in ISA_NAMES:
        raise ValueError("force_isa: expected one of %s, got %r" % (", ".join(ISA_NAMES), name))
    outer = getattr(_forced, "isa", -1)
    _C._set_thread_isa(ISA_NAMES.index(name))
    _forced.isa = ISA_NAMES.index(name)
    try:
        yield
    finally:
        _C._set_thread_isa(outer)
        _forced.isa = outer


def last_isa():
    """The ISA whose kernel table the latest kernel call in this thread used."""
    return _C.last_isa()
