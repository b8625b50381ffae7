"""Tolerances (in one place, with their reasons) and comparison helpers for the tests."""
import importlib
import importlib.util
import os
import sys

import numpy as np
import pytest

from fastnorm.testing import last_isa

# Kernel vs float64 reference, float32 arithmetic. Elementwise ops (scale/shift, clamp, pool) round once
# or twice: a few ulp. Dot products of length K accumulate rounding ~ sqrt(K) ulp of the partial
# sums' magnitude, so conv/linear get an absolute bound scaled by the sum of |terms| (see close_dot).
RTOL_ELEMENTWISE = 2e-6
ATOL_ELEMENTWISE = 1e-6
RTOL_DOT = 1e-5          # times sqrt(K)-ish growth is covered by comparing against sum |a||b|
# Whole models vs PyTorch eval: the bound (max abs error).
ATOL_MODEL = 1e-4


def assert_ran(isa):
    """The latest kernel call in this thread used the `isa` table."""
    got = last_isa()
    assert got == isa, "expected the %s kernels to run, got %s" % (isa, got)


def assert_close(got, want, rtol=RTOL_ELEMENTWISE, atol=ATOL_ELEMENTWISE, what="output"):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, "%s: shape %s != expected %s" % (what, got.shape, want.shape)
    assert got.dtype == np.float32, "%s: dtype %s, expected float32" % (what, got.dtype)
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert (nan_got == nan_want).all(), "%s: NaN positions differ" % what
    g, w = got[~nan_got].astype(np.float64), want[~nan_want].astype(np.float64)
    err = np.abs(g - w)
    bound = atol + rtol * np.abs(w)
    bad = err > bound
    assert not bad.any(), "%s: %d of %d elements off; max abs err %.3g (bound there %.3g)" % (
        what, bad.sum(), err.size, err.max(), bound[np.argmax(err - bound)])


def assert_model_close(got, want, what):
    """A model's output against torch's: shapes equal, max abs error within ATOL_MODEL of max |want|
    (at least 1); `what` names the model, route, batch and ISA in the failure."""
    assert got.shape == want.shape, (what, got.shape, want.shape)
    bound = ATOL_MODEL * max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max())
    assert err <= bound, "%s: max abs err %.3g > %.3g" % (what, err, bound)


def assert_close_dot(got, want, magnitude, what="output"):
    """For sums of products: error bounded relative to `magnitude`, the same sum over |terms|."""
    got = np.asarray(got, np.float64)
    assert got.shape == want.shape, "%s: shape %s != expected %s" % (what, got.shape, want.shape)
    err = np.abs(got - want)
    bound = 1e-6 + RTOL_DOT * np.asarray(magnitude)
    assert (err <= bound).all(), "%s: max abs err %.3g exceeds bound %.3g" % (
        what, err.max(), bound.flat[np.argmax(err - bound)])


def run_python(args, env=None, timeout=300):
    """Run `python *args` in an empty folder, so the source tree (whose fastnorm/ has no compiled
    extension) can never shadow the installed package through the child's sys.path."""
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=timeout)


# Needed for the suite to prove anything: under CI a missing one is a failure, not a skip.
REQUIRED_MODULES = ("torch", "onnx", "onnxruntime", "safetensors", "onnxscript")


def deps_required():
    """CI=true (or FASTNORM_REQUIRE_DEPS=1): a missing required module fails instead of skipping."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("FASTNORM_REQUIRE_DEPS") == "1"


def importorskip(name):
    """pytest.importorskip, except that under deps_required() a required module that does not import
    fails the test (or, at module level, the collection of its file)."""
    if deps_required() and name.split(".")[0] in REQUIRED_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError as e:
            pytest.fail("required module %r does not import (CI=true / FASTNORM_REQUIRE_DEPS=1): %s" % (name, e),
                        pytrace=False)
    return pytest.importorskip(name)


def load_tool(name):
    """tools/<name>.py as a module (the fuzz targets: their mutations and oracles run in the tests)."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    # a tool may put the source tree on sys.path for its own runs; the tests (and every child process
    # that inherits sys.path through PYTHONPATH) must keep importing the fastnorm under test
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def fn_module(fn):
    """A torch.nn.Module whose forward is fn(x) (tests that export one expression; torch imported here)."""
    import torch

    class _Fn(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return _Fn()
