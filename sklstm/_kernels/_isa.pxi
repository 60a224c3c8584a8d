# The ISA level of the C code of the module that includes this file (_isa.h): chosen once,
# when the module loads, and set by tests to run every copy the CPU can.

cdef extern from "_isa.h":
    int sk_isa_level
    int sk_isa_best_level() noexcept nogil


sk_isa_level = sk_isa_best_level()


def isa_levels():
    """The ISA levels whose copies of this module's C code this CPU runs, best first: 4, 3,
    1 (x86-64-v4, -v3, baseline), or only 1 off GCC on x86-64 Linux."""
    return [level for level in (4, 3, 1) if level <= sk_isa_best_level()]


def _force_isa_level(int level):
    """Tests only: run this module's copies of ``level`` (one of ``isa_levels()``), or the
    best ones again with 0."""
    global sk_isa_level
    if level != 0 and level not in isa_levels():
        raise ValueError(f"level {level} is not one of this CPU's {isa_levels()}")
    sk_isa_level = level if level else sk_isa_best_level()
