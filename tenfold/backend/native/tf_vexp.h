/* Vector types of the machine's width (GCC/Clang vector extensions) and the exponential on
   whole vectors, shared by the families that need them (rows.c's softmax, gemm.c's fused
   attention): one polynomial, so the two softmaxes round alike.

   VB bytes per vector: 64 with AVX-512, 32 with AVX, else 16 (wider types would be split and
   kept in memory, ~4x slower). */
#ifndef TF_VEXP_H
#define TF_VEXP_H
#include "tf_native.h"

#if defined(__GNUC__) && !defined(__clang__)
/* the vector types below are only passed between inlined functions: no ABI is at stake */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__AVX512F__)
#define VB 64
#elif defined(__AVX__)
#define VB 32
#else
#define VB 16
#endif
#define NL (VB / 8)        /* doubles per machine vector */

typedef double vdn __attribute__((vector_size(VB)));        /* NL doubles */
typedef int64_t vln __attribute__((vector_size(VB)));
typedef uint64_t vqn __attribute__((vector_size(VB)));
typedef float vfn __attribute__((vector_size(VB)));         /* 2 NL floats */
typedef int32_t vin __attribute__((vector_size(VB)));
typedef uint32_t vun __attribute__((vector_size(VB)));
static inline uint32_t bits_f32(float d) {
    uint32_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

static inline uint64_t bits_f64(double d) {
    uint64_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

/* a * b + c on whole vectors, rounded once (IEEE's fusedMultiplyAdd): the families build
   with -ffp-contract=off, so nothing is fused unless asked, and here it is (the polynomial's
   Horner steps take half the instructions, and round less). One instruction with AVX-512 or
   AVX2's FMA; elsewhere C's fma per lane (libm's, exact), so every build, whatever its
   vector width, gives the same bits. */
#if VB == 64 || (VB == 32 && defined(__FMA__))
#include <immintrin.h>
#endif
#if VB == 64
#define VFMA_F32(a, b, c) ((vfn)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define VFMA_F64(a, b, c) ((vdn)_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
#elif VB == 32 && defined(__FMA__)
#define VFMA_F32(a, b, c) ((vfn)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define VFMA_F64(a, b, c) ((vdn)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#else
static inline vfn vfma_lanes_f32(vfn a, vfn b, vfn c) {
    for (int i = 0; i < VB / 4; i++) a[i] = __builtin_fmaf(a[i], b[i], c[i]);
    return a;
}
static inline vdn vfma_lanes_f64(vdn a, vdn b, vdn c) {
    for (int i = 0; i < VB / 8; i++) a[i] = __builtin_fma(a[i], b[i], c[i]);
    return a;
}
#define VFMA_F32(a, b, c) vfma_lanes_f32((a), (b), (c))
#define VFMA_F64(a, b, c) vfma_lanes_f64((a), (b), (c))
#endif
#define SPLAT_F32(c) ((vfn){0} + (float)(c))
#define SPLAT_F64(c) ((vdn){0} + (double)(c))

/* exp(x) on whole vectors for x <= 0 or NaN (softmax arguments x - max): x = n ln2 + r
   with |r| <= ln2/2 (ln2 in two parts, n * the first exact), e^r by its Taylor polynomial
   in Horner form, 2^n put into exponent bits as two half powers (each normal, so a result
   in the subnormal range is rounded once). Lanes below -104 (float) / -750 (double), whose
   e^x rounds to 0 (masked scores, -inf, a row's padding), are computed at 0 and then
   zeroed, never by an underflowing multiply: each of those costs a microcode assist (a
   (64, 16) softmax with one large logit per row: 30 us against 9). NaN stays NaN (its
   comparison is false, the polynomial propagates it). Float32 on AVX-512 here: 0.42 ns per
   element, against 0.71 with separate multiplies and adds. */
static inline vfn exp_vec_f32(vfn x) {
    const float shifter = 12582912.0f;              /* 1.5 * 2^23: t - shifter = round */
    vin under = x < -104.0f;                        /* e^-104 < half the least float */
    x = (vfn)((vin)x & ~under);
    vfn t = VFMA_F32(x, SPLAT_F32(1.44269504f), SPLAT_F32(shifter));
    vfn n = t - shifter;
    vfn r = VFMA_F32(n, SPLAT_F32(-0.693359375f), x);
    r = VFMA_F32(n, SPLAT_F32(2.12194440e-4f), r);
    vfn p = SPLAT_F32(1.0f / 5040);
    p = VFMA_F32(p, r, SPLAT_F32(1.0f / 720));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f / 120));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f / 24));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f / 6));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f / 2));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f));
    p = VFMA_F32(p, r, SPLAT_F32(1.0f));
    vun k = (vun)t - bits_f32(shifter);            /* n, wrapped */
    vun h = (vun)((vin)k >> 1);
    vfn e = p * (vfn)((h + 127u) << 23) * (vfn)((k - h + 127u) << 23);
    return (vfn)((vin)e & ~under);
}

static inline vdn exp_vec_f64(vdn x) {
    const double shifter = 6755399441055744.0;      /* 1.5 * 2^52 */
    static const double c[] = {1.0 / 6227020800.0, 1.0 / 479001600, 1.0 / 39916800,
                               1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040,
                               1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1.0, 1.0};
    vln under = x < -750.0;                         /* e^-750 rounds to 0 */
    x = (vdn)((vln)x & ~under);
    vdn t = VFMA_F64(x, SPLAT_F64(1.4426950408889634), SPLAT_F64(shifter));
    vdn n = t - shifter;
    vdn r = VFMA_F64(n, SPLAT_F64(-6.93147180369123816490e-01), x);
    r = VFMA_F64(n, SPLAT_F64(-1.90821492927058770002e-10), r);
    vdn p = SPLAT_F64(c[0]);                        /* degree 13: error < 1e-17 */
    for (int i = 1; i < 14; i++) p = VFMA_F64(p, r, SPLAT_F64(c[i]));
    vqn k = (vqn)t - bits_f64(shifter);
    vqn h = (vqn)((vln)k >> 1);
    vdn e = p * (vdn)((h + 1023u) << 52) * (vdn)((k - h + 1023u) << 52);
    return (vdn)((vln)e & ~under);
}

#endif
