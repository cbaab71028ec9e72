/* The elementwise work of one LSTM / GRU time step (tenfold/ops/recurrent_kernels.py), between
   the step's recurrent GEMMs (which stay in NumPy / OpenBLAS): one pass over the batch rows
   instead of a dozen NumPy passes over (batch, H) blocks.

   Layouts (the Python wrappers check every size and stride before a call):
   - rec, z, dz, b:  (n, K*hs) rows, contiguous (the GEMM results / inputs of a step);
   - wk, g:          one step of a gate-major workspace: block j (a contiguous (n, hs) array)
                     starts at wk + j*bs;
   - hp, cp, dh, ...: contiguous (n, hs) arrays; rb: (hs,); keep: n bytes (0: masked) or NULL;
     mask: n floats 0/1 (the backward's mask, as the NumPy twin multiplies by it) or NULL.
   Each operation is the NumPy twin's, in its order (no FMA: -ffp-contract=off); only tanh
   differs, by an ulp or two (tf_tanh_f32 / _f64 below: vectorizable, where the C library's
   tanh is a scalar call that made the float64 kernels 2.5x slower than NumPy's loops). The
   GRU backward has no tanh: its results are NumPy's bits. */
#include "tf_native.h"
#include <string.h>

/* tanh for float, branch-free (the loops vectorize) with one division: with e = expm1(-2|x|)
   in (-1, 0], tanh|x| = -e / (2 + e), no cancellation for small |x| (e ~ -2|x| to an ulp) nor
   large (2 + e = 1 + exp(-2|x|)). e = 2^k (expm1(r) + 1) - 1, k <= 0, |r| <= ln2 / 2, expm1(r)
   by its Taylor polynomial to r^7 (truncation < 2e-8 relative). Fused multiply-adds (fmaf,
   exact IEEE operations) inside this approximation only: half the instructions, each result
   still the same on every machine with them (-march=native: the build is per CPU). Measured
   max error 2.5 ulp against float64 (NumPy's float32 tanh: 1.4). |x| >= 10 gives +-1 (tanh
   rounds to 1 from 9.01 on: the clamp only keeps 2^k normal); NaN stays NaN (the comparison
   keeps it; 2^k's bits are then garbage, in unsigned arithmetic, and e is NaN). */
static inline float tf_tanh_f32(float x) {
    float a = fabsf(x);
    a = a > 10.0f ? 10.0f : a;
    float y = -2.0f * a;
    const float shifter = 12582912.0f;     /* 1.5 * 2^23: adding it rounds to an integer */
    float kr = fmaf(y, 1.44269504f, shifter);
    float k = kr - shifter;
    uint32_t kbits;
    memcpy(&kbits, &kr, 4);
    /* 2^k: k's bits sit at the bottom of kr's (kr's bits - shifter's = k, -29..0) */
    uint32_t scale_bits = (kbits - 0x4B400000u + 127u) << 23;
    float r = fmaf(k, -0.693359375f, y);   /* ln 2 in two parts (Cody-Waite) */
    r = fmaf(k, 2.12194440e-4f, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p * r, r, r);                 /* expm1(r) */
    float scale;
    memcpy(&scale, &scale_bits, 4);
    float e = fmaf(scale, p, scale - 1.0f); /* expm1(y); exactly p when k = 0 */
    float t = e / (-2.0f - e);
    return copysignf(t, x);
}

/* tanh for double, as tf_tanh_f32: expm1(r) by its Taylor polynomial to r^13 (truncation
   < 1e-16 relative), |x| >= 20 gives +-1 (tanh rounds to 1 from 19.1 on). Measured max error
   2.5 ulp against long double (NumPy's float64 tanh: 1.2). */
static inline double tf_tanh_f64(double x) {
    double a = fabs(x);
    a = a > 20.0 ? 20.0 : a;
    double y = -2.0 * a;
    const double shifter = 6755399441055744.0;  /* 1.5 * 2^52 */
    double kr = fma(y, 1.4426950408889634, shifter);
    double k = kr - shifter;
    uint64_t kbits;
    memcpy(&kbits, &kr, 8);
    uint64_t scale_bits = (kbits - 0x4338000000000000ull + 1023u) << 52;
    double r = fma(k, -6.93147180369123816490e-01, y);
    r = fma(k, -1.90821492927058770002e-10, r);
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0);
    p = fma(p, r, 1.0 / 39916800.0);
    p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0);
    p = fma(p, r, 1.0 / 40320.0);
    p = fma(p, r, 1.0 / 5040.0);
    p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    p = fma(p * r, r, r);
    double scale;
    memcpy(&scale, &scale_bits, 8);
    double e = fma(scale, p, scale - 1.0);
    double t = e / (-2.0 - e);
    return copysign(t, x);
}

#define RECURRENT_KERNELS(T, SUF)                                                              \
                                                                                               \
/* LSTM forward step (gate order o, i, f, g; o, i, f's pre-activations halved, so sigmoid =    \
   0.5 tanh + 0.5): wk[2..5] = activated gates of rec + (z + b) (z: the input projection,      \
   b its bias: added here, not in a pass of its own); wk[1] = c = f cp + i g;                  \
   wk[0] = h = o tanh(c); masked rows keep hp, cp. */                                          \
TF_EXPORT void lstm_fwd_step_##SUF(const T *rec, const T *z, const T *b, T *wk, int64_t bs,    \
                                   const T *hp, const T *cp, const uint8_t *keep, int64_t n,   \
                                   int64_t hs) {                                               \
    for (int64_t r = 0; r < n; r++) {                                                          \
        const T *rr = rec + r * 4 * hs, *zr = z + r * 4 * hs;                                  \
        T *h = wk + r * hs, *c = wk + bs + r * hs;                                             \
        T *o = wk + 2 * bs + r * hs, *i = wk + 3 * bs + r * hs;                                \
        T *f = wk + 4 * bs + r * hs, *g = wk + 5 * bs + r * hs;                                \
        const T *hr = hp + r * hs, *cr = cp + r * hs;                                          \
        _Pragma("omp simd")                                                                    \
        for (int64_t j = 0; j < hs; j++) {                                                     \
            T to = tf_tanh_##SUF(rr[j] + (zr[j] + b[j]));                                      \
            T ti = tf_tanh_##SUF(rr[hs + j] + (zr[hs + j] + b[hs + j]));                       \
            T tf = tf_tanh_##SUF(rr[2 * hs + j] +                                              \
                                (zr[2 * hs + j] + b[2 * hs + j]));                             \
            T tg = tf_tanh_##SUF(rr[3 * hs + j] +                                              \
                                (zr[3 * hs + j] + b[3 * hs + j]));                             \
            T so = to * (T)0.5 + (T)0.5, si = ti * (T)0.5 + (T)0.5;                            \
            T sf = tf * (T)0.5 + (T)0.5;                                                       \
            o[j] = so; i[j] = si; f[j] = sf; g[j] = tg;                                        \
            T cn = sf * cr[j] + si * tg;                                                       \
            T hn = tf_tanh_##SUF(cn) * so;                                                     \
            c[j] = cn;                                                                         \
            h[j] = hn;                                                                         \
        }                                                                                      \
        if (keep && !keep[r]) {                                                                \
            for (int64_t j = 0; j < hs; j++) { h[j] = hr[j]; c[j] = cr[j]; }                   \
        }                                                                                      \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* LSTM backward step: finishes the previous step (pending: dh, dc += carry_h, carry_c, the    \
   masked rows' gradients), adds this step's output gradients g[0], g[1] (c_grad) and, with    \
   gates_grad, g[2..5]; writes dz = the gate pre-activations' gradients (n, 4hs: o, i, f, g)   \
   and dc *= f. The caller then sets dh = dz @ u^T. The flags' work runs in loops of its own   \
   (a branch inside the main loop would keep it from vectorizing), in the twin's order. */     \
TF_EXPORT void lstm_bwd_step_##SUF(T *dh, T *dc, T *carry_h, T *carry_c, int64_t pending,      \
                                   const T *gk, int64_t gbs, int64_t c_grad,                   \
                                   int64_t gates_grad, const T *wk, int64_t bs, const T *cp,   \
                                   const T *mask, T *dz, int64_t n, int64_t hs) {              \
    for (int64_t r = 0; r < n; r++) {                                                          \
        int64_t row = r * hs;                                                                  \
        T *dhr = dh + row, *dcr = dc + row, *chr = carry_h + row, *ccr = carry_c + row;        \
        const T *c = wk + bs + row, *o = wk + 2 * bs + row, *i = wk + 3 * bs + row;            \
        const T *f = wk + 4 * bs + row, *g = wk + 5 * bs + row, *cpr = cp + row;               \
        const T *g0 = gk + row, *g1 = gk + gbs + row;                                          \
        T *dzr = dz + r * 4 * hs;                                                              \
        if (mask) {                                                                            \
            T m = mask[r], mc = (T)1 - m;                                                      \
            if (pending) {                                                                     \
                _Pragma("omp simd")                                                            \
                for (int64_t j = 0; j < hs; j++) {                                             \
                    dhr[j] = dhr[j] + chr[j]; dcr[j] = dcr[j] + ccr[j];                        \
                }                                                                              \
            }                                                                                  \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) dhr[j] = dhr[j] + g0[j];                          \
            if (c_grad) {                                                                      \
                _Pragma("omp simd")                                                            \
                for (int64_t j = 0; j < hs; j++) dcr[j] = dcr[j] + g1[j];                      \
            }                                                                                  \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) {                                                 \
                chr[j] = dhr[j] * mc; ccr[j] = dcr[j] * mc;                                    \
                dhr[j] = dhr[j] * m; dcr[j] = dcr[j] * m;                                      \
            }                                                                                  \
        } else {                                                                               \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) dhr[j] = dhr[j] + g0[j];                          \
            if (c_grad) {                                                                      \
                _Pragma("omp simd")                                                            \
                for (int64_t j = 0; j < hs; j++) dcr[j] = dcr[j] + g1[j];                      \
            }                                                                                  \
        }                                                                                      \
        _Pragma("omp simd")                                                                    \
        for (int64_t j = 0; j < hs; j++) {                                                     \
            T h_ = dhr[j], c_ = dcr[j];                                                        \
            T so = o[j], si = i[j], sf = f[j], gg = g[j];                                      \
            T tc = tf_tanh_##SUF(c[j]);                                                        \
            T der_o = ((T)1 - so) * so, der_i = ((T)1 - si) * si;                              \
            T der_f = ((T)1 - sf) * sf, der_g = (T)1 - gg * gg;                                \
            T fc = ((T)1 - tc * tc) * so;                                                      \
            dzr[j] = h_ * (der_o * tc);                                                        \
            c_ = c_ + h_ * fc;                                                                 \
            dzr[hs + j] = c_ * (der_i * gg);                                                   \
            dzr[2 * hs + j] = c_ * (der_f * cpr[j]);                                           \
            dzr[3 * hs + j] = c_ * (der_g * si);                                               \
            dcr[j] = c_ * sf;                                                                  \
        }                                                                                      \
        if (gates_grad) { /* the gates' own gradients, times their activations' derivatives */ \
            const T *go = gk + 2 * gbs + row, *gi = gk + 3 * gbs + row;                        \
            const T *gf = gk + 4 * gbs + row, *gg_ = gk + 5 * gbs + row;                       \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) {                                                 \
                T so = o[j], si = i[j], sf = f[j], gg = g[j];                                  \
                dzr[j] = dzr[j] + go[j] * (((T)1 - so) * so);                                  \
                dzr[hs + j] = dzr[hs + j] + gi[j] * (((T)1 - si) * si);                        \
                dzr[2 * hs + j] = dzr[2 * hs + j] + gf[j] * (((T)1 - sf) * sf);                \
                dzr[3 * hs + j] = dzr[3 * hs + j] + gg_[j] * ((T)1 - gg * gg);                 \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
}                                                                                              \
                                                                                               \
                                                                                               \
/* GRU (reset_after) forward step: wk[1], wk[2] = z, r = sigmoid of rzr + (zzr + b[:2hs])      \
   (halved, 0.5 tanh + 0.5); wk[4] (h @ u_hh, put there by the caller) += rb; wk[3] = hh =     \
   tanh(r wk[4] + (zh + b[2hs:])); wk[0] = h = (hp - hh) z + hh; masked rows keep hp. */       \
TF_EXPORT void gru_fwd_step_##SUF(const T *rzr, const T *zzr, const T *zh, const T *b,         \
                                  const T *rb,                                                 \
                                  T *wk, int64_t bs, const T *hp, const uint8_t *keep,         \
                                  int64_t n, int64_t hs) {                                     \
    for (int64_t r = 0; r < n; r++) {                                                          \
        int64_t row = r * hs;                                                                  \
        const T *ar = rzr + 2 * row, *xr = zzr + 2 * row, *zhr = zh + row, *hr = hp + row;     \
        T *h = wk + row, *zg = wk + bs + row, *rg = wk + 2 * bs + row;                         \
        T *hh = wk + 3 * bs + row, *rh = wk + 4 * bs + row;                                    \
        _Pragma("omp simd")                                                                    \
        for (int64_t j = 0; j < hs; j++) {                                                     \
            T sz = tf_tanh_##SUF(ar[j] + (xr[j] + b[j])) * (T)0.5 + (T)0.5;                    \
            T sr = tf_tanh_##SUF(ar[hs + j] + (xr[hs + j] + b[hs + j])) * (T)0.5               \
                   + (T)0.5;                                                                   \
            T rhv = rh[j] + rb[j];                                                             \
            T c = tf_tanh_##SUF(sr * rhv + (zhr[j] + b[2 * hs + j]));                          \
            zg[j] = sz; rg[j] = sr; rh[j] = rhv; hh[j] = c;                                    \
            h[j] = (hr[j] - c) * sz + c;                                                       \
        }                                                                                      \
        if (keep && !keep[r]) {                                                                \
            for (int64_t j = 0; j < hs; j++) h[j] = hr[j];                                     \
        }                                                                                      \
    }                                                                                          \
}                                                                                              \
                                                                                               \
/* GRU (reset_after) backward step: finishes the previous step (pending: dh += rec, the        \
   product of its b with u^T, then + carry with a mask), adds g[0] (and with gates_grad the    \
   gates' gradients g[1..4]); writes b = [da_hh, da_z, da_r, d_rh] (n, 4hs) and dh *= z.       \
   The caller then sets rec = b[:, hs:] @ u^T. The flags' work runs in loops of its own. */    \
TF_EXPORT void gru_bwd_step_##SUF(T *dh, const T *rec, T *carry, int64_t pending,              \
                                  const T *gk, int64_t gbs, int64_t gates_grad, const T *wk,   \
                                  int64_t bs, const T *hp, const T *mask, T *b, int64_t n,     \
                                  int64_t hs) {                                                \
    for (int64_t r = 0; r < n; r++) {                                                          \
        int64_t row = r * hs;                                                                  \
        T *dhr = dh + row, *cr = carry + row;                                                  \
        const T *recr = rec + row, *g0 = gk + row, *hpr = hp + row;                            \
        const T *zg = wk + bs + row, *rg = wk + 2 * bs + row;                                  \
        const T *hh = wk + 3 * bs + row, *rh = wk + 4 * bs + row;                              \
        T *br = b + 4 * row;                                                                   \
        if (pending) {                                                                         \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) dhr[j] = dhr[j] + recr[j];                        \
            if (mask) {                                                                        \
                _Pragma("omp simd")                                                            \
                for (int64_t j = 0; j < hs; j++) dhr[j] = dhr[j] + cr[j];                      \
            }                                                                                  \
        }                                                                                      \
        _Pragma("omp simd")                                                                    \
        for (int64_t j = 0; j < hs; j++) dhr[j] = dhr[j] + g0[j];                              \
        if (mask) {                                                                            \
            T m = mask[r], mc = (T)1 - m;                                                      \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) { cr[j] = dhr[j] * mc; dhr[j] = dhr[j] * m; }     \
        }                                                                                      \
        _Pragma("omp simd")                                                                    \
        for (int64_t j = 0; j < hs; j++) {                                                     \
            T h_ = dhr[j], z = zg[j], rv = rg[j], c = hh[j];                                   \
            T omz = (T)1 - z;                                                                  \
            T dah = h_ * (omz * ((T)1 - c * c));                                               \
            br[j] = dah;                                                                       \
            br[hs + j] = h_ * (((hpr[j] - c) * omz) * z);                                      \
            br[2 * hs + j] = dah * ((((T)1 - rv) * rv) * rh[j]);                               \
            br[3 * hs + j] = dah * rv;                                                         \
            dhr[j] = h_ * z;                                                                   \
        }                                                                                      \
        if (gates_grad) { /* the gates' own gradients, times their activations' derivatives */ \
            const T *g1 = gk + gbs + row, *g2 = gk + 2 * gbs + row;                            \
            const T *g3 = gk + 3 * gbs + row, *g4 = gk + 4 * gbs + row;                        \
            _Pragma("omp simd")                                                                \
            for (int64_t j = 0; j < hs; j++) {                                                 \
                T z = zg[j], rv = rg[j], c = hh[j];                                            \
                T dah = br[j] + g3[j] * ((T)1 - c * c);                                        \
                br[j] = dah;                                                                   \
                br[hs + j] = br[hs + j] + g1[j] * (((T)1 - z) * z);                            \
                T der_r = ((T)1 - rv) * rv;                                                    \
                br[2 * hs + j] = dah * (der_r * rh[j]) + g2[j] * der_r;                        \
                br[3 * hs + j] = dah * rv + g4[j];                                             \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
}

RECURRENT_KERNELS(float, f32)
RECURRENT_KERNELS(double, f64)
