"""The functional API: torch.nn.functional's names, arguments and semantics, NumPy in and out.

Every function takes float32 arrays (float16/float64 are converted to float32; integer, bool and
complex arrays are a TypeError), returns a new float32 array, and runs its kernel with the GIL
released. Non-contiguous inputs are copied to contiguous memory first.

Each op family lives in its own module and lists its public functions in its __all__.
"""
from fastnorm.ops import _act, _conv, _glue, _norm, _pool
from fastnorm.ops._act import *  # noqa: F401,F403
from fastnorm.ops._common import as_float32
from fastnorm.ops._conv import *  # noqa: F401,F403
from fastnorm.ops._glue import *  # noqa: F401,F403
from fastnorm.ops._norm import *  # noqa: F401,F403
from fastnorm.ops._pool import *  # noqa: F401,F403

__all__ = _conv.__all__ + _norm.__all__ + _act.__all__ + _pool.__all__ + _glue.__all__ + ["as_float32"]
