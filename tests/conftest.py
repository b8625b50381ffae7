"""Shared fixtures: `isa` runs a test once per ISA fastnorm has, with that kernel table forced (an ISA this
CPU lacks skips, naming it); the terminal summary says which ISAs ran. Every test starts from seeded
global random state."""
import collections
import os
import random

import numpy as np
import pytest
from hypothesis import settings

from fastnorm.testing import ISA_NAMES, available_isas, force_isa, unavailable_reason

try:
    import torch as _torch
except ImportError:  # the tests that need it skip (or, under CI=true, fail: util.importorskip)
    _torch = None

# every hypothesis test draws the same examples on every run and machine (a seed, not the clock);
# HYPOTHESIS_PROFILE=explore searches afresh
settings.register_profile("seeded", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "seeded"))

ISAS = available_isas()
_ISA_TESTS = collections.Counter()  # ISA -> tests that ran under it through the fixture
_ISA_SKIPPED = collections.Counter()  # ISA -> tests skipped because it is unavailable


@pytest.fixture(params=ISA_NAMES)
def isa(request):
    """Kernel calls in the test use this ISA's table; use assert_ran(isa) after a call to prove it."""
    reason = unavailable_reason(request.param)
    if reason is not None:
        _ISA_SKIPPED[request.param] += 1
        pytest.skip(reason)
    _ISA_TESTS[request.param] += 1
    with force_isa(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_global_random():
    """Legacy np.random, random and (when imported) torch start every test from the same seed, so a test
    that draws from them without its own generator is still repeatable."""
    np.random.seed(20240)
    random.seed(20240)
    if _torch is not None:
        _torch.manual_seed(20240)
    yield


def pytest_report_header(config):
    import fastnorm
    info = fastnorm.cpu_info()
    missing = ["%s (%s)" % (n, unavailable_reason(n)) for n in ISA_NAMES if n not in ISAS]
    return "fastnorm: best ISA %s, ISAs under test: %s%s" % (
        info["best_isa"], ", ".join(ISAS), "; not tested: " + ", ".join(missing) if missing else "")


def pytest_sessionfinish(session):
    """Under pytest-xdist (`-n auto`) each worker counts its own tests: it hands its counts to the
    controller, which adds them up (pytest_testnodedown) before the summary below."""
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["fastnorm_isa"] = (dict(_ISA_TESTS), dict(_ISA_SKIPPED))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    ran, skipped = getattr(node, "workeroutput", {}).get("fastnorm_isa", ({}, {}))
    _ISA_TESTS.update(ran)
    _ISA_SKIPPED.update(skipped)


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.write_sep("=", "fastnorm ISAs")
    for name in ISA_NAMES:
        if name in ISAS:
            tr.write_line("%-7s covered: %d tests ran under it (isa fixture), plus the all-ISA loops"
                          % (name, _ISA_TESTS[name]))
        else:
            tr.write_line("%-7s SKIPPED: %s (%d tests)" % (name, unavailable_reason(name), _ISA_SKIPPED[name]))
