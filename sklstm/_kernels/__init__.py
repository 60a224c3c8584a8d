"""Cython kernels: the only place in sklstm with loops over numbers."""

try:
    from . import _openmp  # noqa: F401  (any compiled module will do)
except ImportError as exc:
    raise ImportError(
        f"sklstm's compiled kernels are missing from {__path__[0]}. Python is probably "
        "importing sklstm's source tree (the current directory) instead of the installed "
        "package: run from another directory, or install with 'pip install -e .' to build "
        "the kernels in the source tree."
    ) from exc
