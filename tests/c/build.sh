#!/usr/bin/env bash
# Build tests/c/kernel_check (every wide kernel table against the portable one) from the C core
# alone: bash tests/c/build.sh OUT [CC]. CC defaults to $CC or cc; with CC=aarch64-linux-gnu-gcc
# the binary is for aarch64 (run it with qemu-aarch64 -L /usr/aarch64-linux-gnu OUT).
# The file selection and ISA flags are setup.py's (ISA_FLAGS, ARCH_ISAS): the x86 ISA files for
# x86-64 only, the NEON ones for aarch64 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1
cc=${2:-${CC:-cc}}
arch=$($cc -dumpmachine | cut -d- -f1)
objdir=$out.objs # beside the binary (inside the clone in CI), removed at the end
rm -rf "$objdir"
mkdir -p "$objdir"
trap 'rm -rf "$objdir"' EXIT
flags=(-std=c11 -O2 -Wall -Wextra -Werror -fno-math-errno -fopenmp -Isrc_c)
compile() { # source -> object, with that file's ISA flags
    local src=$1 isa=()
    case $src in
    *_avx2.c) isa=(-mavx2 -mfma) ;;
    *_avx512.c) isa=(-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma) ;;
    esac
    $cc "${flags[@]}" "${isa[@]}" -c "$src" -o "$objdir/$(echo "$src" | tr / _).o"
}
export -f compile
export cc objdir
case $arch in
x86_64) skip='_neon\.c$' ;;
aarch64) skip='_(avx2|avx512)\.c$' ;;
*) skip='_(avx2|avx512|neon)\.c$' ;;
esac
# two at a time (the CI machine has 2 cores)
find src_c -name '*.c' | grep -Ev "$skip" | sort > "$objdir/sources"
echo tests/c/kernel_check.c >> "$objdir/sources"
xargs -P 2 -I{} bash -c "$(declare -p flags); compile {}" < "$objdir/sources"
$cc -fopenmp -o "$out" "$objdir"/*.o -lm
echo "built $out for $arch ($(wc -l < "$objdir/sources") files)"
