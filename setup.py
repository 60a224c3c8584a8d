"""Build the Cython kernels of sklstm.

Files ending in ``.tp`` in sklstm/_kernels are Tempita templates (Cython's): each is
expanded into the file of its name without ``.tp`` (``_recurrent.pyx.tp`` ->
``_recurrent.pyx``) before Cython runs. The expansions are not under version control.

OpenMP is detected by compiling and linking a small test program with the compiler that
builds the extensions; ``-fopenmp`` is used only where that works, and the kernels fall
back to serial loops otherwise. Environment variables:

- ``SKLSTM_OPENMP=0`` builds without OpenMP even where it is available.
- ``SKLSTM_CYTHON_CHECKS=1`` turns Cython's bounds and initialisation checks back on.
"""

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = [
    "_blas",
    "_fastmath_check",
    "_openmp",
    "_optim",
    "_packing",
    "_pooling",
    "_recurrent",
    "_stream",
]
KERNEL_DIR = Path("sklstm/_kernels")

CHECKS = os.environ.get("SKLSTM_CYTHON_CHECKS", "0") == "1"
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": CHECKS,
    "wraparound": CHECKS,
    "initializedcheck": CHECKS,
    "cdivision": True,
}

OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {  /* compiled and linked, not run: the pragma and the runtime */
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n != omp_get_max_threads();
    }
    """
)


def openmp_flag(compiler):
    """The flag that enables OpenMP for this compiler, or None where it does not work."""
    if os.environ.get("SKLSTM_OPENMP", "1") == "0":
        return None
    flag = "/openmp" if compiler.compiler_type == "msvc" else "-fopenmp"
    tmp = tempfile.mkdtemp()
    try:
        src = Path(tmp, "test_openmp.c")
        src.write_text(OPENMP_TEST)
        objects = compiler.compile([str(src)], output_dir=tmp, extra_postargs=[flag])
        compiler.link_executable(objects, "test_openmp", output_dir=tmp, extra_postargs=[flag])
    except Exception:  # any compile or link failure means: no OpenMP here
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return flag


def expand_templates():
    """Expand every template of the kernels, rewriting an expansion only when it changes
    (so that Cython and the compiler do not redo what is up to date). Returns them."""
    expanded = []
    for template in sorted(KERNEL_DIR.glob("*.tp")):
        target = template.with_suffix("")
        text = Tempita.sub(template.read_text(), name=template.name)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        expanded.append(str(target))
    return expanded


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # the extensions compile side by side, as -j would
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        flag = openmp_flag(self.compiler)
        print(f"sklstm: building {'with' if flag else 'WITHOUT'} OpenMP")
        # -fopenmp-simd: the `omp simd` loops of _cells.h, even without OpenMP.
        # -fno-trapping-math, -fno-math-errno: no value changes (nothing here traps or reads
        # errno), but branch-free selects may then be computed on both sides and sqrt needs
        # no error branch, which lets those loops vectorise.
        msvc = self.compiler.compiler_type == "msvc"
        optimise = (
            ["/O2"] if msvc else ["-O3", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno"]
        )
        for ext in self.extensions:
            ext.extra_compile_args = optimise + ([flag] if flag else [])
            ext.extra_link_args = [flag] if flag and not msvc else []
        super().build_extensions()


GENERATED = expand_templates()
extensions = [
    Extension(
        f"sklstm._kernels.{name}",
        [f"sklstm/_kernels/{name}.pyx"],
        include_dirs=["sklstm/_kernels"],
        depends=[
            *GENERATED,
            *map(str, KERNEL_DIR.glob("*.tp")),
            "sklstm/_kernels/_fastmath.h",
            "sklstm/_kernels/_isa.h",
            "sklstm/_kernels/_isa.pxi",
        ],
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, build_dir="build/cython"),
    cmdclass={"build_ext": BuildExt},
)
