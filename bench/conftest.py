"""Benchmarks share the tests' reference models; the run's JSON records the ISA fastnorm used."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def pytest_benchmark_update_machine_info(config, machine_info):
    import fastnorm
    info = fastnorm.cpu_info()
    machine_info["fastnorm_isa"] = info["isa"]
    machine_info["fastnorm_best_isa"] = info["best_isa"]
