#!/usr/bin/env bash
# fastnorm on aarch64 without ARM hardware (issue 16), as CI runs it (from .ci/run, inside its venv):
#   1. Debian's cross gcc and qemu-user;
#   2. the C core cross-compiled with tests/c/kernel_check.c, run under qemu-aarch64: every NEON
#      kernel against the portable one on awkward shapes;
#   3. an arm64 Python 3.11 + NumPy sysroot from Debian's arm64 packages (apt-get download + dpkg-deb -x),
#      the extension cross-compiled by setup.py (CC=aarch64-linux-gnu-gcc), and under qemu-aarch64:
#      import, `fastnorm demo`, tests/arm_models.py (zoo models vs the x86 outputs made here just
#      before, within 1e-5) and a pytest subset that needs neither torch nor a subprocess.
# Everything it downloads or builds stays in build/arm64/ inside the clone. Emulated timings mean
# nothing: the demo's are blanked and no benchmark runs here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/build/arm64
start=$SECONDS
step() { echo "== arm: $* ($((SECONDS - start)) s)"; }
mkdir -p "$work"

step "toolchain (gcc-aarch64-linux-gnu, qemu-user) and Debian's arm64 package lists"
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then apt-get install -y -qq "${need[@]}" >/dev/null; fi
aarch64-linux-gnu-gcc --version | head -1
qemu-aarch64 --version | head -1

step "C kernels: every NEON kernel against the portable one, under qemu-aarch64"
bash tests/c/build.sh "$work/kernel_check" aarch64-linux-gnu-gcc
qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/kernel_check"

step "arm64 Python sysroot (Debian bookworm's python3.11, numpy, pytest, hypothesis)"
pyver=3.11
debs=(python$pyver-minimal libpython$pyver-minimal libpython$pyver-stdlib python$pyver libpython$pyver-dev
      python3-numpy libc6 libexpat1 zlib1g libffi8 libbz2-1.0 liblzma5 libcrypt1 libssl3 libuuid1
      libsqlite3-0 libtinfo6 libncursesw6 libreadline8 libtirpc3 libnsl2 libdb5.3 libgssapi-krb5-2
      libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
      libblas3 liblapack3 libgfortran5 libgcc-s1 libgomp1 libstdc++6)
pure=(python3-pytest python3-pluggy python3-iniconfig python3-packaging python3-attr python3-py
      python3-exceptiongroup python3-tomli python3-more-itertools python3-pkg-resources
      python3-hypothesis python3-sortedcontainers)
rm -rf "$work/debs" "$work/sysroot"
mkdir -p "$work/debs" "$work/sysroot"
(cd "$work/debs" && apt-get download -qq "${debs[@]/%/:arm64}" "${pure[@]}")
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/sysroot"; done
lib=$work/sysroot/usr/lib/aarch64-linux-gnu
ln -sf blas/libblas.so.3 "$lib/libblas.so.3"  # what update-alternatives would have made
ln -sf lapack/liblapack.so.3 "$lib/liblapack.so.3"
# NumPy 1.24's headers must not shadow the build's (NumPy 2 headers build for a 1.x runtime too)
rm -f "$work/sysroot/usr/include/python$pyver/numpy"
du -sh "$work/sysroot" | cut -f1

step "the extension, cross-compiled by setup.py"
python -m pip install -q "setuptools>=77" "Cython>=3.0"
rm -rf "$work/lib" "$work/tmp"
mkdir -p "$work/lib"
cp -r fastnorm "$work/lib/"
find "$work/lib" -name '*.so' -delete
CC=aarch64-linux-gnu-gcc LDSHARED="aarch64-linux-gnu-gcc -shared" LDFLAGS="" \
    CFLAGS="-I$work/sysroot/usr/include -I$work/sysroot/usr/include/python$pyver" \
    SETUPTOOLS_EXT_SUFFIX=".cpython-${pyver/./}-aarch64-linux-gnu.so" \
    python setup.py -q build_ext -b "$work/lib" -t "$work/tmp" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
if grep -E "\.[ch]:[0-9]+:[0-9]+: (warning|error):" "$work/build.log"; then
    echo "the cross build warned (above)"
    exit 1
fi
aarch64-linux-gnu-readelf -h "$work"/lib/fastnorm/_C.cpython-*-aarch64-linux-gnu.so | grep -E "Machine:"

step "x86-64 reference outputs (tests/arm_models.py make, this machine's build)"
python tests/arm_models.py make "$work/ref"

# The arm64 Python, with the cross-built package first on its path (run from $work/lib, so the
# clone's own fastnorm/, which has no aarch64 extension, is not the one imported).
arm_py() { (cd "$work/lib" && qemu-aarch64 -L "$work/sysroot" -E PYTHONPATH="$work/lib" "$work/sysroot/usr/bin/python$pyver" "$@"); }

step "under qemu-aarch64: import, cpu_info"
arm_py -c "import fastnorm, platform; i = fastnorm.cpu_info(); print(platform.machine(), i['arch'], 'best ISA:', i['best_isa'], '| in use:', i['isa'], '| features:', i['features'])"

step "under qemu-aarch64: FASTNORM_ISA=scalar|neon is honoured, an x86 ISA refused"
for isa in scalar neon; do
    got=$(FASTNORM_ISA=$isa arm_py -c "import fastnorm; print(fastnorm.cpu_info()['isa'])")
    echo "FASTNORM_ISA=$isa -> $got"
    [ "$got" = "$isa" ]
done
if FASTNORM_ISA=avx2 arm_py -c "import fastnorm" 2>/dev/null; then echo "FASTNORM_ISA=avx2 was accepted on aarch64"; exit 1; fi

step "under qemu-aarch64: fastnorm demo (timings blanked: emulated)"
arm_py -m fastnorm.cli demo --batch 8 --repeat 2 | sed -E 's/median [0-9.]+ ms \([0-9]+ images\/s\)/(emulated: no timing)/'

step "under qemu-aarch64: zoo models, every ISA, vs the x86 outputs"
arm_py "$root/tests/arm_models.py" check "$work/ref"

# (tests/test_act_vmath.py's 10^7-point sweeps per function take minutes under emulation: the
# kernel check above holds NEON's vector math to the scalar one instead.)
step "under qemu-aarch64: pytest subset (no torch, no subprocess, seconds under emulation)"
arm_py -m pytest -p no:cacheprovider -q -rfE \
    "$root/tests/test_isa.py" "$root/tests/test_passes.py" "$root/tests/test_predict_fastpath.py" \
    "$root/tests/test_onnx_ir_ops.py" "$root/tests/test_gconv.py" -k "not env_var and not torch and not through_a_model"

step "done"
