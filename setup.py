"""Build fastnorm's one extension: Cython bindings plus the C kernels in src_c/.

Portable files get baseline x86-64 flags only. A file named *_avx2.c or *_avx512.c gets that ISA's
flags and nothing else does, so the wheel runs on any x86-64 CPU and picks the wide kernels at run
time (src_c/dispatch.c).
"""
import os
import sys
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ISA_FLAGS = {
    "_avx2.c": ["-mavx2", "-mfma"],
    "_avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"],
}
COMMON_C = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-math-errno"]
OPENMP = [] if os.environ.get("FASTNORM_NO_OPENMP") else ["-fopenmp"]
# FASTNORM_SANITIZE=1: ASan + UBSan at -O1 (last on the line, so it overrides -O3); see the README.
SANITIZE = (["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
             "-O1", "-g"] if os.environ.get("FASTNORM_SANITIZE") == "1" else [])


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
        super().build_extensions()


sources = ["fastnorm/_C.pyx"] + sorted(glob("src_c/**/*.c", recursive=True))

ext = Extension(
    "fastnorm._C",
    sources=sources,
    include_dirs=["src_c", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_link_args=OPENMP + SANITIZE,
    depends=sorted(glob("src_c/**/*.h", recursive=True)) + glob("fastnorm/_bind/*.pxi") + glob("fastnorm/*.pxd"),
)

if sys.platform != "linux":
    raise SystemExit("fastnorm builds on Linux x86-64 with gcc or clang")

setup(
    ext_modules=cythonize(
        [ext],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
