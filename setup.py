"""Build fastnorm's one extension: Cython bindings plus the C kernels in src_c/.

Portable files get baseline flags only. A file named *_avx2.c or *_avx512.c gets that ISA's flags
and nothing else does, so the wheel runs on any x86-64 CPU and picks the wide kernels at run time
(src_c/dispatch.c). Those files are compiled for x86-64 only, the *_neon.c ones for aarch64 only
(target_arch(): FASTNORM_TARGET_ARCH, or the CC prefix when cross-compiling).
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ISA_FLAGS = {
    "_avx2.c": ["-mavx2", "-mfma"],
    "_avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"],
    "_neon.c": [],  # ASIMD is baseline on ARMv8-A: no flag, no run-time check
}
# The ISA files each target architecture compiles (src_c/fastnorm.h's FN_ISA_LIST must agree).
ARCH_ISAS = {"x86_64": ("_avx2.c", "_avx512.c"), "aarch64": ("_neon.c",)}


def target_arch():
    """The architecture the extension is built for: FASTNORM_TARGET_ARCH, else the one CC names
    (CC=aarch64-linux-gnu-gcc cross-compiles), else this machine's."""
    import platform
    arch = os.environ.get("FASTNORM_TARGET_ARCH", "")
    if not arch:
        cc = os.path.basename(os.environ.get("CC", "").split(" ")[0])
        arch = cc.split("-")[0] if cc.count("-") >= 2 else platform.machine()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(arch.lower(), arch.lower())


def compiled_here(source, arch):
    """A per-ISA file is built only for its architecture; portable files always."""
    isa_file = any(source.endswith(suffix) for suffix in ISA_FLAGS)
    return not isa_file or source.endswith(ARCH_ISAS.get(arch, ()))
COMMON_C = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-math-errno"]
OPENMP = [] if os.environ.get("FASTNORM_NO_OPENMP") else ["-fopenmp"]
# FASTNORM_SANITIZE=1: ASan + UBSan at -O1 (last on the line, so it overrides -O3); see the README.
# FN_SANITIZE: src_c/simd/common.h stops forcing inlining and unrolling (the ASan compile took minutes).
SANITIZE = (["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
             "-O1", "-g", "-DFN_SANITIZE"] if os.environ.get("FASTNORM_SANITIZE") == "1" else [])


def isa_flags_for(source):
    for suffix, flags in ISA_FLAGS.items():
        if source.endswith(suffix):
            return flags
    return []


class BuildExt(build_ext):
    """Adds ISA flags per source file: setuptools otherwise compiles every file alike."""

    def build_extensions(self):
        compiler = self.compiler
        original = compiler._compile

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            extra = list(extra_postargs)
            if src.endswith(".c") and src.startswith(("src_c", os.path.join(os.getcwd(), "src_c"))):
                extra = COMMON_C + OPENMP + isa_flags_for(src) + extra
            else:
                # Cython's generated C: baseline flags, quiet about its own unused functions.
                extra = ["-O3", "-Wno-unused-function"] + OPENMP + extra
            return original(obj, src, ext, cc_args, extra + SANITIZE, pp_opts)

        compiler._compile = _compile
        compiler.compile = self._compile_all(compiler)
        super().build_extensions()

    def _compile_all(self, compiler):
        """CCompiler.compile over a pool of -j jobs (default: the CPU count; ~50 C files, which
        setuptools compiles one by one), skipping an object newer than its source and every header
        (src_c/*.h, the .pxi files: `depends`) when the flags are those of the last build (a stamp in
        build_temp) and --force was not given."""
        def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0, extra_preargs=None,
                    extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
            stamp = os.path.join(self.build_temp, "fastnorm-flags.txt")
            flags = repr((COMMON_C, OPENMP, SANITIZE, ISA_FLAGS, cc_args, extra_postargs, compiler.compiler_so))
            os.makedirs(self.build_temp, exist_ok=True)
            same_flags = os.path.exists(stamp) and open(stamp).read() == flags
            newest_dep = max((os.path.getmtime(d) for d in depends or () if os.path.exists(d)), default=0.0)

            def stale(obj, src):
                return (self.force or not same_flags or not os.path.exists(obj)
                        or os.path.getmtime(obj) < max(os.path.getmtime(src), newest_dep))
            todo = [(obj,) + build[obj] for obj in objects if obj in build and stale(obj, build[obj][0])]
            # the slowest first (Cython's generated C): the pool then ends about together
            todo.sort(key=lambda t: -os.path.getsize(t[1]))
            with ThreadPoolExecutor(max(1, self.parallel or os.cpu_count() or 1)) as pool:
                for f in [pool.submit(compiler._compile, obj, src, ext, cc_args, extra_postargs, pp_opts)
                          for obj, src, ext in todo]:
                    f.result()
            with open(stamp, "w") as fh:
                fh.write(flags)
            return objects
        return compile


TARGET_ARCH = target_arch()
sources = ["fastnorm/_C.pyx"] + sorted(s for s in glob("src_c/**/*.c", recursive=True)
                                       if compiled_here(s, TARGET_ARCH))

ext = Extension(
    "fastnorm._C",
    sources=sources,
    include_dirs=["src_c", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_link_args=OPENMP + SANITIZE,
    depends=sorted(glob("src_c/**/*.h", recursive=True)) + glob("fastnorm/_bind/*.pxi") + glob("fastnorm/*.pxd"),
)

if sys.platform != "linux":
    raise SystemExit("fastnorm builds on Linux (x86-64 or aarch64) with gcc or clang")

setup(
    ext_modules=cythonize(
        [ext],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
