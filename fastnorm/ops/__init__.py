"""The functional API: torch.nn.functional's names, arguments and semantics, NumPy in and out.

Every function takes float32 arrays (float16/float64 are converted to float32; integer, bool and
complex arrays are a TypeError), returns a new float32 array, and runs its kernel with the GIL
released. Non-contiguous inputs are copied to contiguous memory first.

Each op family lives in its own module and lists its public functions in its __all__.

The families are imported on first use of any of their names (PEP 562), not with the package: loading a
model and predicting, which import fastnorm.ops._common, don't pay for them (issue 14's cold start).
"""
import importlib

_FAMILIES = ("_conv", "_norm", "_act", "_pool", "_glue")


def _load_all():
    """Import every family and bind its public names here (and __all__); returns the namespace."""
    g = globals()
    if "__all__" not in g:
        names = []
        for fam in _FAMILIES:
            mod = importlib.import_module("fastnorm.ops." + fam)
            for name in mod.__all__:
                g[name] = getattr(mod, name)
            names += mod.__all__
        from fastnorm.ops._common import as_float32
        g["as_float32"] = as_float32
        g["__all__"] = names + ["as_float32"]
    return g


def __getattr__(name):
    g = _load_all()
    if name in g:
        return g[name]
    raise AttributeError("module 'fastnorm.ops' has no attribute %r" % name)


def __dir__():
    return sorted(set(_load_all()))
