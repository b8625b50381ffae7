"""tools/cpuid_avx2.c: the LD_PRELOAD library that makes CPUID report an AVX2-only CPU (bench/RESULTS.md's
AVX2 rows compare fastnorm's AVX2 path with ONNX Runtime's and OpenVINO's under it). A process started
under it must see no AVX-512 (fastnorm's dispatcher picks avx2 by itself, without FASTNORM_ISA), compute
the bits FASTNORM_ISA=avx2 computes, and still die of a real segmentation fault, through the handler the
program installed (Python's faulthandler) when there is one. Linux x86-64 with CPUID faulting (the
kernel's ARCH_SET_CPUID; some hypervisors do not offer it) and a C compiler only."""
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest

import fastnorm
from fastnorm.testing import force_isa

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SOURCE = os.path.join(ROOT, "tools", "cpuid_avx2.c")

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                                reason="CPUID faulting is an x86-64 Linux feature")


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build tools/cpuid_avx2.c")
    out = str(tmp_path_factory.mktemp("cpuid") / "cpuid_avx2.so")
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", out,
                    SOURCE, "-ldl"], check=True)
    probe = _run(out, "pass")
    if "CPUID faulting is not available" in probe.stderr:
        pytest.skip("this kernel or hypervisor offers no CPUID faulting (arch_prctl ARCH_SET_CPUID)")
    assert probe.returncode == 0, probe.stderr
    return out


def _run(lib, code, *args):
    # the fastnorm this process imported (an installed wheel in CI, where the checkout has no extension)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(fastnorm.__file__)))
    env = dict(os.environ, LD_PRELOAD=lib, PYTHONPATH=pkg_root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("FASTNORM_ISA", None)
    # cwd: python -c puts it first on sys.path, and a checkout's fastnorm/ (no extension) would shadow
    return subprocess.run([sys.executable, *args, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(lib))


def _ops(seed):
    """A few kernels whose code differs by ISA: 1x1, 3x3 and depthwise convs with fused-looking acts,
    batch norm, gelu, on awkward sizes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 19, 13, 11)).astype(np.float32)
    w1 = rng.standard_normal((37, 19, 1, 1)).astype(np.float32) * 0.3
    w3 = rng.standard_normal((37, 37, 3, 3)).astype(np.float32) * 0.1
    wd = rng.standard_normal((37, 1, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(37).astype(np.float32)
    ops = fastnorm.ops
    y = ops.silu(ops.conv2d(x, w1, b))
    y = ops.gelu(ops.conv2d(y, w3, b, padding=1))
    y = ops.hardswish(ops.conv2d(y, wd, None, stride=2, padding=1, groups=37))
    return ops.batch_norm(y, b, np.abs(b) + 0.5, b * 0.5, b * 0.25)


def test_process_sees_avx2_only(shim):
    r = _run(shim, textwrap.dedent("""
        import fastnorm, numpy as np
        info = fastnorm.cpu_info()
        f = info["features"]
        print(info["isa"], f["avx2"], f["avx512f"], f["avx512bw"], f["avx512_vnni"], f["avx512_bf16"])
        """))
    assert r.returncode == 0, r.stderr
    isa, avx2, *avx512 = r.stdout.split()
    assert avx512 == ["False"] * 4
    host = fastnorm.cpu_info()
    assert avx2 == str(host["features"]["avx2"])
    assert isa == ("avx2" if host["features"]["avx2"] and host["features"]["fma"] else "scalar")


def test_same_bits_as_forced_avx2(shim, tmp_path):
    if not fastnorm.cpu_info()["features"]["avx2"]:
        pytest.skip("this CPU has no AVX2")
    out = tmp_path / "y.npy"
    r = _run(shim, textwrap.dedent("""
        import sys, numpy as np
        sys.path.insert(0, %r)
        from test_cpuid_avx2 import _ops
        from fastnorm.testing import last_isa
        y = _ops(7)
        assert last_isa() == "avx2", last_isa()
        np.save(%r, y)
        """ % (os.path.dirname(os.path.abspath(__file__)), str(out))))
    assert r.returncode == 0, r.stderr
    with force_isa("avx2"):
        want = _ops(7)
    got = np.load(out)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("handler", ["none", "faulthandler"])
def test_real_segfault_still_kills(shim, handler):
    """A fault that is not CPUID goes to the program's own handler, or kills the process as SIGSEGV."""
    args = ("-X", "faulthandler") if handler == "faulthandler" else ()
    r = _run(shim, "import ctypes; ctypes.string_at(1)", *args)
    assert r.returncode == -signal.SIGSEGV, (r.returncode, r.stderr)
    if handler == "faulthandler":
        assert "Segmentation fault" in r.stderr
