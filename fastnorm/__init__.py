"""fastnorm: a CPU runtime for BatchNorm-equipped CNNs."""
from fastnorm import _C
from fastnorm.errors import FormatError, UnsupportedError


def cpu_info():
    """The CPU features found, the best ISA this CPU runs, and the ISA in use."""
    return {"features": _C.cpu_features(), "best_isa": _C.best_isa(), "isa": _C.active_isa()}


__all__ = ["cpu_info", "FormatError", "UnsupportedError"]
__version__ = "0.1.0"
