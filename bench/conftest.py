"""Benchmarks share the tests' reference models; every benchmark runs with its runtimes' threads
pinned (bench/_peers.py); the run's JSON records the ISA fastnorm used and the thread count; runtimes
that did not import are listed at the end of the run."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import _peers  # noqa: E402


@pytest.fixture(autouse=True)
def _pinned_threads():
    with _peers.pinned() as threads:
        yield threads


def pytest_benchmark_update_machine_info(config, machine_info):
    import fastnorm
    info = fastnorm.cpu_info()
    machine_info["fastnorm_isa"] = info["isa"]
    machine_info["fastnorm_best_isa"] = info["best_isa"]
    machine_info["bench_threads"] = _peers.THREADS


def pytest_terminal_summary(terminalreporter):
    if _peers.MISSING:
        terminalreporter.section("MISSING RUNTIMES", sep="!", red=True, bold=True)
        for name, reason in sorted(_peers.MISSING.items()):
            terminalreporter.line("%s: %s" % (name, reason), red=True)
