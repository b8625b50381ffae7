"""bench/fma_peak.py under pytest: the probe builds warning-free for every ISA the CPU has and
measures a plausible peak (the full measurement: python bench/fma_peak.py)."""
import os
import shutil

import pytest

import fma_peak


@pytest.mark.parametrize("isa", fma_peak.host_isas())
def test_fma_peak(benchmark, isa):
    if shutil.which("gcc") is None and not os.environ.get("CC"):
        pytest.skip("fma_peak needs a C compiler (gcc or $CC): not found")
    m = benchmark.pedantic(fma_peak.measure, args=(isa,), kwargs=dict(runs=3, iters=1_000_000),
                           rounds=1, iterations=1)
    # vector width x 2 flops x >= 1 vector op per cycle at >= 1 GHz: far below any real peak,
    # far above a probe that did not run or timed the wrong thing
    lanes = {"avx512": 16, "avx2": 8, "sse2": 4}[isa]
    assert lanes * 2 * 1.0 / 2 <= m["peak"] < 1e4, m
    benchmark.extra_info.update(isa=isa, peak_gflops=m["peak"], median_gflops=m["median"])
