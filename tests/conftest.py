"""Shared fixtures: `isa` runs a test once per ISA this CPU has, with that kernel table forced."""
import numpy as np
import pytest

from fastnorm.testing import available_isas, force_isa, last_isa

ISAS = available_isas()


@pytest.fixture(params=ISAS)
def isa(request):
    """Kernel calls in the test use this ISA's table; use assert_ran(isa) after a call to prove it."""
    with force_isa(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_report_header(config):
    import fastnorm
    info = fastnorm.cpu_info()
    return "fastnorm: best ISA %s, ISAs under test: %s" % (info["best_isa"], ", ".join(ISAS))
