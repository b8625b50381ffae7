"""Run-time dispatch: CPU detection, FASTNORM_ISA, and portable code free of AVX instructions."""
import os
import re
import shutil
import subprocess
import sys

import pytest

import fastnorm
from fastnorm import _C
from fastnorm.testing import ISA_NAMES, available_isas, force_isa, last_isa
from util import run_python


ISAS_OF_ARCH = {"x86_64": ("scalar", "avx2", "avx512"), "aarch64": ("scalar", "neon")}


def test_isa_names_are_the_architectures():
    """The build lists the ISAs of the architecture it was compiled for, and only those."""
    assert _C.ISA_NAMES == ISAS_OF_ARCH.get(_C.ARCH, ("scalar",))
    assert fastnorm.cpu_info()["arch"] == _C.ARCH


def test_cpu_info_reports_features_and_isa():
    info = fastnorm.cpu_info()
    assert info["isa"] in _C.ISA_NAMES
    assert info["isa"] in available_isas()  # available_isas() is capped by FASTNORM_ISA; best_isa is not
    assert available_isas()[-1] == info["isa"]
    f = info["features"]
    if info["arch"] == "aarch64":  # ASIMD is baseline on ARMv8-A, and fastnorm's NEON kernels need nothing more
        assert f["asimd"] and info["best_isa"] == "neon"
        assert set(f) == {"asimd", "dotprod", "fp16", "sve", "sve2"}
        return
    assert f["sse2"]
    if info["best_isa"] == "avx512":
        assert f["avx512f"] and f["os_avx512"] and f["avx2"] and f["fma"]
    if info["best_isa"] in ("avx2", "avx512"):
        assert f["avx2"] and f["fma"] and f["os_avx"]


def _run(code, isa):
    env = dict(os.environ, FASTNORM_ISA=isa)
    return run_python(["-c", code], env=env)


@pytest.mark.parametrize("isa", available_isas())
def test_env_var_lowers_the_choice(isa):
    r = _run("import fastnorm; print(fastnorm.cpu_info()['isa'])", isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == isa


def test_env_var_rejects_unknown_isa():
    r = _run("import fastnorm", "sse9")
    assert r.returncode != 0 and "FASTNORM_ISA='sse9'" in r.stderr


def test_force_isa_is_thread_local_and_restored():
    before = _C.resolve_isa(-1)
    with force_isa("scalar"):
        fastnorm.ops.relu(fastnorm.ops.as_float32([1.0, -1.0], "x"))
        assert last_isa() == "scalar"
    assert _C.resolve_isa(-1) == before
    other = "avx2" if _C.ARCH == "aarch64" else "neon"  # a real ISA of the other architecture
    with pytest.raises(ValueError, match="expected one of"):
        with force_isa(other):
            pass


def test_force_isa_blocks_nest():
    isas = available_isas()
    if len(isas) < 2:
        pytest.skip("one ISA only on this CPU")
    outer, inner = isas[0], isas[-1]
    with force_isa(outer):
        with force_isa(inner):
            assert ISA_NAMES[_C.resolve_isa(-1)] == inner
        assert ISA_NAMES[_C.resolve_isa(-1)] == outer  # the outer block's ISA, not the process default
        fastnorm.ops.relu(fastnorm.ops.as_float32([1.0, -1.0], "x"))
        assert last_isa() == outer


def test_env_var_rejects_other_architectures_isa():
    other = "avx2" if _C.ARCH == "aarch64" else "neon"
    r = _run("import fastnorm", other)
    assert r.returncode != 0 and "FASTNORM_ISA='%s'" % other in r.stderr


def _functions_with_wide_instructions(path):
    """{function: set of 'avx' / 'avx512'} from objdump of the built extension."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True,
                         text=True, check=True).stdout
    found, func = {}, None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            func = m.group(1)
            continue
        parts = line.split("\t")
        if func is None or len(parts) < 2:
            continue
        insn = parts[-1].strip()
        mnemonic = insn.split(" ")[0]
        if "%zmm" in insn or re.search(r"%k[0-7]\b", insn) or mnemonic.startswith("kmov"):
            found.setdefault(func, set()).add("avx512")
        elif "%ymm" in insn or (mnemonic.startswith("v") and mnemonic not in ("verr", "verw")):
            found.setdefault(func, set()).add("avx")
    return found


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) not installed")
@pytest.mark.skipif(_C.ARCH != "x86_64", reason="x86-64 builds only")
def test_portable_code_holds_no_avx():
    wide = _functions_with_wide_instructions(_C.__file__)
    assert any(f.endswith("__avx512") for f in wide), "no AVX-512 kernel found: is the build right?"
    assert any(f.endswith("__avx2") for f in wide), "no AVX2 kernel found: is the build right?"
    stray = {f: k for f, k in wide.items() if not (f.endswith("__avx2") or f.endswith("__avx512"))}
    assert not stray, "wide instructions outside the ISA files: %s" % sorted(stray)
    avx512_in_avx2 = [f for f, k in wide.items() if f.endswith("__avx2") and "avx512" in k]
    assert not avx512_in_avx2, "AVX-512 instructions in AVX2 kernels: %s" % avx512_in_avx2


SRC_C = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src_c")


def _c_sources():
    for root, _, files in os.walk(SRC_C):
        for name in files:
            if name.endswith((".c", ".h")):
                path = os.path.join(root, name)
                with open(path) as f:
                    yield os.path.relpath(path, SRC_C), f.read()


@pytest.mark.skipif(not os.path.isdir(SRC_C), reason="needs the source tree")
def test_simd_templates_hold_no_raw_intrinsics():
    """A kernel template (*_simd.h, simd/vmath.h, simd/vec_ops.h) is written in the vocabulary of
    src_c/simd/vec_<isa>.h only, so it compiles for every ISA; intrinsics live in those headers."""
    raw = re.compile(r"\b_mm(256|512)?_\w+|\b__m(128|256|512)[id]?\b|\b__mmask\d+\b")
    templates = {path: text for path, text in _c_sources()
                 if path.endswith("_simd.h") or path in ("simd/vmath.h", "simd/vec_ops.h", "simd/common.h")}
    assert any(p.endswith("_simd.h") for p in templates), "no *_simd.h template found"
    bad = {p: sorted(set(m.group(0) for m in raw.finditer(t))) for p, t in templates.items() if raw.search(t)}
    assert not bad, "raw intrinsics in SIMD templates (use src_c/simd/vec_<isa>.h): %s" % bad


@pytest.mark.skipif(not os.path.isdir(SRC_C), reason="needs the source tree")
def test_simd_helpers_defined_once():
    """One AVX2 tail-mask table and one spelling of always-inline, both in src_c/simd/."""
    sources = dict(_c_sources())
    tables = [p for p, t in sources.items() if re.search(r"int32_t\s+\w+\[16\]\s*=\s*\{\s*-1", t)]
    assert tables == ["simd/vec_avx2.h"], tables
    inline = [p for p, t in sources.items() if "__attribute__((always_inline))" in t]
    assert inline == ["simd/common.h"], inline
