/* ISA levels: how all of sklstm's C code runs the best copy of itself for the CPU.
 *
 * With GCC on x86-64 Linux, code that gains from wider vectors is compiled once per level,
 * each copy a function of its own with the target attribute of its level (SK_ISA_V4:
 * x86-64-v4, AVX-512; SK_ISA_V3: x86-64-v3, AVX2 + FMA; none: the baseline, SSE2), named
 * after it (NAME_v4, NAME_v3, NAME_v1); SK_ISA_CALL(NAME, (args)) calls the copy of the
 * level in sk_isa_level. No build flag raises the ISA the package needs. Elsewhere there
 * is one copy, NAME_v1, compiled for the build's target.
 *
 * sk_isa_level belongs to the module that includes this header (each extension module has
 * its own): the module sets it once, when it loads, to the best level the CPU runs
 * (_isa.pxi), and tests set each level in turn. One branch per call of a copy, which runs
 * a row of a cell or a whole product, costs nothing beside it; unlike GCC's target_clones
 * (an indirect call resolved at load time), it lets tests run every copy.
 */
#ifndef SKLSTM_ISA_H
#define SKLSTM_ISA_H

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) \
    && defined(__linux__)
#define SK_ISA_X86 1
#define SK_ISA_V4 __attribute__((target("arch=x86-64-v4")))
#define SK_ISA_V3 __attribute__((target("arch=x86-64-v3")))
#endif

static int sk_isa_level = 1;

#ifdef SK_ISA_X86

static inline int sk_isa_best_level(void)
{
    return __builtin_cpu_supports("x86-64-v4") ? 4 : __builtin_cpu_supports("x86-64-v3") ? 3 : 1;
}

#define SK_ISA_CALL(NAME, ARGS)                                                             \
    (sk_isa_level == 4 ? NAME##_v4 ARGS : sk_isa_level == 3 ? NAME##_v3 ARGS : NAME##_v1 ARGS)

#else

static inline int sk_isa_best_level(void) { return 1; }

#define SK_ISA_CALL(NAME, ARGS) ((void)sk_isa_level, NAME##_v1 ARGS) /* read: not unused */

#endif

#endif
