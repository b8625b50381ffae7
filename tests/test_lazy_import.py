"""Issue 14's cold start: `import fastnorm`, and loading a .fnm (plain or prepacked) and predicting, import
none of the heavy or optional modules; the lazily imported API (fastnorm.ops) is still all there."""
import json
import os
import subprocess
import sys
import tempfile

import fastnorm
from fastnorm.model import Model
from fastnorm.models import simple_cnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))

# never on the path from `import fastnorm` to a .fnm model's first result
HEAVY = ("torch", "onnx", "onnxruntime", "google", "ml_dtypes", "scipy", "safetensors", "threadpoolctl",
         "fastnorm.frontends", "fastnorm.onnxpb", "fastnorm.ops._conv", "fastnorm.ops._glue", "fastnorm.ops._norm",
         "fastnorm.ops._pool", "fastnorm._pickling", "fastnorm.per_shape", "fastnorm.batch", "fastnorm.cli")
# standard library modules the .fnm path does without: dataclasses' import and its exec() per class were
# ~2 ms of `import fastnorm` (fastnorm._record replaces it); copy is only graph._copy_value's fallback; threading:
# _thread gives the same lock without its 0.6 ms
STDLIB_SPARED = ("dataclasses", "copy", "threading")

_CHILD = r"""
import json, sys
import numpy as np
import fastnorm
after_import = sorted(sys.modules)
out = {"import": after_import}
if len(sys.argv) > 1:
    m = fastnorm.load(sys.argv[1])
    m.predict(np.zeros((1, 3, 32, 32), np.float32))
    out["load_predict"] = sorted(sys.modules)
print("MODS " + json.dumps(out))
"""


def _child(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                              else ""))
    p = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, env=env, timeout=300,
                       cwd=tempfile.gettempdir())
    assert p.returncode == 0, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith("MODS "))
    return json.loads(line[5:])


def _heavy(mods):
    return sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY + STDLIB_SPARED))


def test_import_fastnorm_imports_nothing_heavy():
    mods = _child()["import"]
    assert _heavy(mods) == []
    assert "fastnorm.prepack" not in mods


def test_load_fnm_and_predict_import_nothing_heavy(tmp_path):
    m = Model(simple_cnn(seed=0))
    m.save(tmp_path / "plain.fnm")
    m.save(tmp_path / "packed.fnm", prepacked=True)
    r = _child(str(tmp_path / "plain.fnm"))
    assert _heavy(r["load_predict"]) == []
    assert "fastnorm.prepack" not in r["load_predict"]      # only files with the section need it
    assert _heavy(_child(str(tmp_path / "packed.fnm"))["load_predict"]) == []


def test_the_functional_api_is_unchanged():
    """fastnorm.ops is bound on first use: every family's names, __all__ and dir() as before."""
    import importlib
    ops = fastnorm.ops
    names = []
    for fam in ("_conv", "_norm", "_act", "_pool", "_glue"):
        mod = importlib.import_module("fastnorm.ops." + fam)
        names += mod.__all__
        for n in mod.__all__:
            assert getattr(ops, n) is getattr(mod, n)
    assert ops.__all__ == names + ["as_float32"]
    assert set(ops.__all__) <= set(dir(ops))
    ns = {}
    exec("from fastnorm.ops import *", ns)
    assert set(ops.__all__) <= set(ns)
    assert "ops" in fastnorm.__all__ and fastnorm.ops is sys.modules["fastnorm.ops"]
    try:
        fastnorm.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("fastnorm.no_such_name did not raise")
