/* sklstm's product for the layer kernels, C[m, n] = A[m, k] @ B[k, n] (+ C), row-major:
 * the recurrent step's product, and the input projection and dX.
 *
 * Why not BLAS here: the step products are small (a block of rows times the recurrent
 * weights) and there are T of them per pass, all with the same B. OpenBLAS re-packs both
 * operands of every product past ~10^6 multiply-adds (11% of a large layer's training,
 * profiled in issue 3) and costs about a microsecond per call even for one row. This
 * kernel reads B in place: a row of B holds contiguous columns, which is all a register
 * tile needs, and B stays in cache from step to step.
 *
 * Tiles: MR rows by NV vectors of columns, held in registers, with one pass over k.
 * Every element is computed in the same order, c = c0 then c += a[i, p] * b[p, j] for
 * p = 0, 1, ..., k - 1 (fused where the CPU has FMA), whichever tile or edge loop
 * computes it: a row's result does not depend on the rows beside it, on the tile shapes
 * or on how the columns are split among threads.
 *
 * Vector width follows the CPU: with GCC on x86-64 Linux, one copy per ISA level
 * (x86-64-v4: 512-bit vectors, v3: 256-bit with FMA, baseline: 128-bit), picked at run
 * time as _gates.h's target_clones are; elsewhere 128-bit GCC vectors, or plain loops.
 */
#ifndef SKLSTM_MATMUL_H
#define SKLSTM_MATMUL_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) \
    && defined(__linux__)
#define SK_MM_X86_LEVELS 1
#endif

/* Tiles are at most 6 rows by 8 vectors. */
#define SK_MM_MAX_ROWS 6
#define SK_MM_MAX_VECTORS 8
#define SK_MM_MIN(a, b) ((a) < (b) ? (a) : (b))

#if defined(__GNUC__)

#define SK_MM_INLINE static inline __attribute__((always_inline))

/* A tile of MR rows and NV vectors of columns (MR, NV compile-time constants after
 * inlining: the accumulators then live in registers). */
#define SK_MM_TILE(T, NAME, VBYTES, ATTR)                                                   \
    typedef T NAME##_vec __attribute__((vector_size(VBYTES)));                              \
    typedef T NAME##_uvec                                                                   \
        __attribute__((vector_size(VBYTES), aligned(sizeof(T)), may_alias));                \
    ATTR SK_MM_INLINE void NAME##_tile(const int MR, const int NV, ptrdiff_t k,             \
                                       const T *A, ptrdiff_t lda, const T *B,               \
                                       ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)  \
    {                                                                                       \
        enum { VL = VBYTES / sizeof(T) };                                                   \
        NAME##_vec acc[SK_MM_MAX_ROWS][SK_MM_MAX_VECTORS];                                  \
        for (int r = 0; r < MR; r++)                                                        \
            for (int v = 0; v < NV; v++)                                                    \
                acc[r][v] = accumulate                                                      \
                                ? (NAME##_vec)*(const NAME##_uvec *)(C + r * ldc + v * VL)  \
                                : (NAME##_vec){0};                                          \
        for (ptrdiff_t p = 0; p < k; p++) {                                                 \
            NAME##_vec b[SK_MM_MAX_VECTORS];                                                \
            for (int v = 0; v < NV; v++)                                                    \
                b[v] = *(const NAME##_uvec *)(B + p * ldb + v * VL);                        \
            for (int r = 0; r < MR; r++) {                                                  \
                NAME##_vec a = (NAME##_vec){0} + A[r * lda + p];                            \
                for (int v = 0; v < NV; v++)                                                \
                    acc[r][v] += a * b[v];                                                  \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < MR; r++)                                                        \
            for (int v = 0; v < NV; v++)                                                    \
                *(NAME##_uvec *)(C + r * ldc + v * VL) = acc[r][v];                         \
    }

/* The last w columns of MR rows (w < VL), as a tile of one vector over the VL columns
 * that end the row: B and C point at their start. It reads the columns before the edge,
 * whose values its caller has already stored, and stores only the w edge columns. */
#define SK_MM_EDGE(T, NAME, VBYTES, ATTR)                                                   \
    ATTR SK_MM_INLINE void NAME##_edge(const int MR, int w, ptrdiff_t k, const T *A,        \
                                       ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,      \
                                       ptrdiff_t ldc, int accumulate)                       \
    {                                                                                       \
        enum { VL = VBYTES / sizeof(T) };                                                   \
        NAME##_vec acc[SK_MM_MAX_ROWS];                                                     \
        for (int r = 0; r < MR; r++)                                                        \
            acc[r] = accumulate ? (NAME##_vec)*(const NAME##_uvec *)(C + r * ldc)           \
                                : (NAME##_vec){0};                                          \
        for (ptrdiff_t p = 0; p < k; p++) {                                                 \
            NAME##_vec b = *(const NAME##_uvec *)(B + p * ldb);                             \
            for (int r = 0; r < MR; r++)                                                    \
                acc[r] += ((NAME##_vec){0} + A[r * lda + p]) * b;                           \
        }                                                                                   \
        for (int r = 0; r < MR; r++)                                                        \
            for (int j = VL - w; j < VL; j++)                                               \
                C[r * ldc + j] = acc[r][j];                                                 \
    }

#else /* no vector extensions: a tile is its columns, one after another */

#define SK_MM_INLINE static inline
#define SK_MM_TILE(T, NAME, VBYTES, ATTR)                                                   \
    SK_MM_INLINE void NAME##_tile(const int MR, const int NV, ptrdiff_t k, const T *A,      \
                                  ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,           \
                                  ptrdiff_t ldc, int accumulate)                            \
    {                                                                                       \
        for (int j = 0; j < NV * (int)(VBYTES / sizeof(T)); j++)                            \
            NAME##_scalar(MR, 1, k, A, lda, B + j, ldb, C + j, ldc, accumulate);            \
    }

#define SK_MM_EDGE(T, NAME, VBYTES, ATTR)                                                   \
    SK_MM_INLINE void NAME##_edge(const int MR, int w, ptrdiff_t k, const T *A,             \
                                  ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,           \
                                  ptrdiff_t ldc, int accumulate)                            \
    {                                                                                       \
        const int skip = (int)(VBYTES / sizeof(T)) - w;                                     \
        NAME##_scalar(MR, w, k, A, lda, B + skip, ldb, C + skip, ldc, accumulate);          \
    }

#endif

/* Columns left of a row block: the widest tiles first, then tiles of 4, 2 and 1 vectors
 * for the whole vectors left (tiles of one vector load B once per multiply-add, and wait
 * on its latency), then the columns left of a vector. ``left`` columns before B and C
 * belong to the same call: the edge may read them. */
#define SK_MM_ROWS(T, NAME, VL, ATTR)                                                       \
    ATTR SK_MM_INLINE void NAME##_rows(const int MR, const int NV, ptrdiff_t n,             \
                                       ptrdiff_t left, ptrdiff_t k, const T *A,             \
                                       ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,      \
                                       ptrdiff_t ldc, int accumulate)                       \
    {                                                                                       \
        ptrdiff_t j = 0;                                                                    \
        for (; j + NV * VL <= n; j += NV * VL)                                              \
            NAME##_tile(MR, NV, k, A, lda, B + j, ldb, C + j, ldc, accumulate);             \
        if (NV > 4 && j + 4 * VL <= n) {                                                    \
            NAME##_tile(MR, 4, k, A, lda, B + j, ldb, C + j, ldc, accumulate);              \
            j += 4 * VL;                                                                    \
        }                                                                                   \
        if (NV > 2 && j + 2 * VL <= n) {                                                    \
            NAME##_tile(MR, 2, k, A, lda, B + j, ldb, C + j, ldc, accumulate);              \
            j += 2 * VL;                                                                    \
        }                                                                                   \
        if (NV > 1 && j + 1 * VL <= n) {                                                    \
            NAME##_tile(MR, 1, k, A, lda, B + j, ldb, C + j, ldc, accumulate);              \
            j += 1 * VL;                                                                    \
        }                                                                                   \
        if (j < n && left + n >= VL)                                                        \
            NAME##_edge(MR, (int)(n - j), k, A, lda, B + n - VL, ldb, C + n - VL, ldc,      \
                        accumulate);                                                        \
        else if (j < n)                                                                     \
            NAME##_scalar(MR, (int)(n - j), k, A, lda, B + j, ldb, C + j, ldc, accumulate); \
    }

/* The last w columns of MR rows (w <= 16), element by element: the edge of a row
 * narrower than a vector. All MR * w sums advance together, so that they are not each
 * waiting for the latency of the previous multiply-add. */
#define SK_MM_SCALAR(T, NAME, ATTR)                                                         \
    ATTR SK_MM_INLINE void NAME##_scalar(const int MR, int w, ptrdiff_t k, const T *A,      \
                                         ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C,    \
                                         ptrdiff_t ldc, int accumulate)                     \
    {                                                                                       \
        T acc[SK_MM_MAX_ROWS][16];                                                          \
        for (int r = 0; r < MR; r++)                                                        \
            for (int j = 0; j < w; j++)                                                     \
                acc[r][j] = accumulate ? C[r * ldc + j] : (T)0;                             \
        for (ptrdiff_t p = 0; p < k; p++)                                                   \
            for (int r = 0; r < MR; r++)                                                    \
                for (int j = 0; j < w; j++)                                                 \
                    acc[r][j] += A[r * lda + p] * B[p * ldb + j];                           \
        for (int r = 0; r < MR; r++)                                                        \
            for (int j = 0; j < w; j++)                                                     \
                C[r * ldc + j] = acc[r][j];                                                 \
    }

/* The product. Full row blocks take MR x NV tiles, column panel by column panel, so that
 * a panel of B is reused by every row block. The last rows, fewer than MR, take wider
 * tiles within the same budget of ACC accumulators (one row: 8 vectors): a tile needs
 * several independent sums in flight to hide the latency of its multiply-adds. */
#define SK_MM_DRIVER(T, NAME, VL, ATTR, MR, NV, ACC)                                        \
    ATTR static void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A, ptrdiff_t lda, \
                          const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)   \
    {                                                                                       \
        ptrdiff_t full = m - m % MR, i, j = 0;                                              \
        for (; j + NV * VL <= n; j += NV * VL)                                              \
            for (i = 0; i < full; i += MR)                                                  \
                NAME##_tile(MR, NV, k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc,  \
                            accumulate);                                                    \
        for (i = 0; i < full; i += MR)                                                      \
            NAME##_rows(MR, NV, n - j, j, k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, \
                        ldc, accumulate);                                                   \
        A += full * lda;                                                                    \
        C += full * ldc;                                                                    \
        switch (m - full) {                                                                 \
        case 1: NAME##_rows(1, 8, n, 0, k, A, lda, B, ldb, C, ldc, accumulate); break;      \
        case 2: NAME##_rows(2, SK_MM_MIN(8, ACC / 2), n, 0, k, A, lda, B, ldb, C, ldc,      \
                            accumulate); break;                                             \
        case 3:                                                                             \
            NAME##_rows(3, ACC / 3, n, 0, k, A, lda, B, ldb, C, ldc, accumulate);           \
            break;                                                                          \
        case 4:                                                                             \
            NAME##_rows(4, ACC / 4, n, 0, k, A, lda, B, ldb, C, ldc, accumulate);           \
            break;                                                                          \
        case 5:                                                                             \
            NAME##_rows(5, ACC / 5, n, 0, k, A, lda, B, ldb, C, ldc, accumulate);           \
            break;                                                                          \
        default: break;                                                                     \
        }                                                                                   \
    }

/* MR x NV: the full tile; ACC: the accumulators a tile may use. */
#define SK_MM_DEFINE(T, NAME, VBYTES, ATTR, MR, NV, ACC)                                    \
    SK_MM_SCALAR(T, NAME, ATTR)                                                             \
    SK_MM_TILE(T, NAME, VBYTES, ATTR)                                                       \
    SK_MM_EDGE(T, NAME, VBYTES, ATTR)                                                       \
    SK_MM_ROWS(T, NAME, (ptrdiff_t)(VBYTES / sizeof(T)), ATTR)                              \
    SK_MM_DRIVER(T, NAME, (ptrdiff_t)(VBYTES / sizeof(T)), ATTR, MR, NV, ACC)

#ifdef SK_MM_X86_LEVELS

/* 32 vector registers: 4 x 4 tiles (measured fastest of 4x4, 6x2, 6x4, 8x2, 8x3, 12x2 on
 * the benchmark's step shapes, issue 3). 16 registers: 6 x 2, 12 accumulators with room
 * for the B vectors and a broadcast. */
#define SK_MM_V4 __attribute__((target("arch=x86-64-v4")))
#define SK_MM_V3 __attribute__((target("arch=x86-64-v3")))
SK_MM_DEFINE(float, sk_mm_f_v4, 64, SK_MM_V4, 4, 4, 16)
SK_MM_DEFINE(double, sk_mm_d_v4, 64, SK_MM_V4, 4, 4, 16)
SK_MM_DEFINE(float, sk_mm_f_v3, 32, SK_MM_V3, 6, 2, 12)
SK_MM_DEFINE(double, sk_mm_d_v3, 32, SK_MM_V3, 6, 2, 12)
SK_MM_DEFINE(float, sk_mm_f_v1, 16, , 6, 2, 12)
SK_MM_DEFINE(double, sk_mm_d_v1, 16, , 6, 2, 12)

/* The copy to run: set once, when the module loads, to the best the CPU has (the
 * caller does: see _blas.pyx); tests set another the CPU can run. */
static int sk_mm_level = 1;

static inline int sk_mm_best_level(void)
{
    return __builtin_cpu_supports("x86-64-v4") ? 4 : __builtin_cpu_supports("x86-64-v3") ? 3 : 1;
}

#define SK_MM_DISPATCH(T, NAME)                                                             \
    static inline void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A,              \
                            ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc,  \
                            int accumulate)                                                 \
    {                                                                                       \
        if (sk_mm_level == 4)                                                               \
            NAME##_v4(m, n, k, A, lda, B, ldb, C, ldc, accumulate);                         \
        else if (sk_mm_level == 3)                                                          \
            NAME##_v3(m, n, k, A, lda, B, ldb, C, ldc, accumulate);                         \
        else                                                                                \
            NAME##_v1(m, n, k, A, lda, B, ldb, C, ldc, accumulate);                         \
    }

SK_MM_DISPATCH(float, sk_mm_f)
SK_MM_DISPATCH(double, sk_mm_d)

#else

static int sk_mm_level = 1; /* one copy only */

static inline int sk_mm_best_level(void) { return 1; }

SK_MM_DEFINE(float, sk_mm_f, 16, , 6, 2, 12)
SK_MM_DEFINE(double, sk_mm_d, 16, , 6, 2, 12)

#endif

#endif
