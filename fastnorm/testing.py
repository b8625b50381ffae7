"""Helpers for tests: run kernels under a chosen ISA, list the ISAs this CPU has."""
import contextlib

from fastnorm import _C

ISA_NAMES = _C.ISA_NAMES


def available_isas():
    """Every ISA this CPU and OS can run, narrowest first."""
    best = ISA_NAMES.index(_C.best_isa())
    return list(ISA_NAMES[: best + 1])


@contextlib.contextmanager
def force_isa(name):
    """Within the block, kernel calls and models built in this thread use the `name` kernel table.

    Thread-local, so it never changes what other threads run. FASTNORM_ISA does the same for a
    whole process, at import.
    """
    if name not in ISA_NAMES:
        raise ValueError("force_isa: expected one of %s, got %r" % (", ".join(ISA_NAMES), name))
    _C._set_thread_isa(ISA_NAMES.index(name))
    try:
        yield
    finally:
        _C._set_thread_isa(-1)


def last_isa():
    """The ISA whose kernel table the latest kernel call in this thread used."""
    return _C.last_isa()
