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

/* exp(x) on whole vectors for x <= 0 or NaN (softmax arguments x - max): x = n ln2 + r
   with |r| <= ln2/2, e^r by its Taylor polynomial, 2^n put into exponent bits as two half
   powers (each normal, so a result in the subnormal range is rounded once). Lanes below
   -104 (float) / -750 (double), whose e^x rounds to 0 (masked scores, -inf, a row's
   padding), are computed at 0 and then zeroed, never by an underflowing multiply: each of
   those costs a microcode assist (a (64, 16) softmax with one large logit per row: 30 us
   against 9). NaN stays NaN (its comparison is false, the polynomial propagates it). */
static inline vfn exp_vec_f32(vfn x) {
    const float shifter = 12582912.0f;              /* 1.5 * 2^23: t - shifter = round */
    vin under = x < -104.0f;                        /* e^-104 < half the least float */
    x = (vfn)((vin)x & ~under);
    vfn t = x * 1.44269504f + shifter;
    vfn n = t - shifter;
    vfn r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  /* ln2 = hi + lo, n*hi exact */
    vfn p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
            r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    vun k = (vun)t - bits_f32(shifter);            /* n, wrapped */
    vun h = (vun)((vin)k >> 1);
    vfn e = p * (vfn)((h + 127u) << 23) * (vfn)((k - h + 127u) << 23);
    return (vfn)((vin)e & ~under);
}

static inline vdn exp_vec_f64(vdn x) {
    const double shifter = 6755399441055744.0;      /* 1.5 * 2^52 */
    vln under = x < -750.0;                         /* e^-750 rounds to 0 */
    x = (vdn)((vln)x & ~under);
    vdn t = x * 1.4426950408889634 + shifter;
    vdn n = t - shifter;
    vdn r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    vdn p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
            r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
            r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 +
            r * (1.0 / 6227020800.0)))))))))))));     /* degree 13: error < 1e-17 */
    vqn k = (vqn)t - bits_f64(shifter);
    vqn h = (vqn)((vln)k >> 1);
    vdn e = p * (vdn)((h + 1023u) << 52) * (vdn)((k - h + 1023u) << 52);
    return (vdn)((vln)e & ~under);
}

#endif
