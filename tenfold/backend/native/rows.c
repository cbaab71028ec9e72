/* Row-wise kernels of attention models over the last axis of a C-contiguous (rows, cols)
   array: softmax and its gradient, layer normalization and its gradient, and dropout's keep
   mask. Each row is read from memory once (its later passes hit the cache), where the NumPy
   twins (tenfold/ops/fused_ops.py) stream every block through 4-9 ufunc/BLAS calls.

   Numerics: the row sums accumulate in 8 double lanes (GCC/Clang vector extensions:
   explicit SIMD, so nothing is left to reassociate and no -ffast-math is needed), added in
   a fixed order at the end: the same sums on every call and thread count. Elementwise
   steps run in T as the twins' ufuncs do. The exponential is a polynomial in T that
   vectorizes (libm's exp is a scalar call: without -ffast-math glibc offers no vector
   variant): float32 within 1.2 ulp of the exact value (NumPy's own float32 exp: 2.4),
   float64 within a few ulps. */
#include "tf_native.h"

#if defined(__GNUC__) && !defined(__clang__)
/* the vector types below are only passed between inlined functions: no ABI is at stake */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef double vd8 __attribute__((vector_size(8 * sizeof(double))));
typedef float vt8_f32 __attribute__((vector_size(8 * sizeof(float))));
typedef double vt8_f64 __attribute__((vector_size(8 * sizeof(double))));

static inline double total8(vd8 a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

static inline vt8_f32 ld8_f32(const float *p) {
    vt8_f32 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline vt8_f64 ld8_f64(const double *p) {
    vt8_f64 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

#define WIDE(v) __builtin_convertvector((v), vd8)

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

typedef float vf16 __attribute__((vector_size(16 * sizeof(float))));
typedef int32_t vi16 __attribute__((vector_size(16 * sizeof(int32_t))));
typedef uint32_t vu16 __attribute__((vector_size(16 * sizeof(uint32_t))));
typedef int64_t vl8 __attribute__((vector_size(8 * sizeof(int64_t))));
typedef uint64_t vq8 __attribute__((vector_size(8 * sizeof(uint64_t))));
typedef vf16 vec_f32;
typedef vd8 vec_f64;
#define VW_f32 16
#define VW_f64 8

/* exp(x) on whole vectors (GCC/Clang vector extensions) for x <= 0 or NaN (softmax
   arguments x - max): x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial, 2^n put
   into exponent bits as two half powers (each normal, so a result in the subnormal range is
   rounded once). Lanes below -104 (float) / -750 (double), whose e^x rounds to 0 (masked
   scores, -inf, a row's padding), are computed at 0 and then zeroed, never by an
   underflowing multiply: each of those costs a microcode assist (a (64, 16) softmax with one
   large logit per row: 30 us against 9).
   NaN stays NaN (its comparison is false, the polynomial propagates it). */
static inline vf16 exp_vec_f32(vf16 x) {
    const float shifter = 12582912.0f;              /* 1.5 * 2^23: t - shifter = round */
    vi16 under = x < -104.0f;                       /* e^-104 < half the least float */
    x = (vf16)((vi16)x & ~under);
    vf16 t = x * 1.44269504f + shifter;
    vf16 n = t - shifter;
    vf16 r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  /* ln2 = hi + lo, n*hi exact */
    vf16 p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
             r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    vu16 k = (vu16)t - bits_f32(shifter);          /* n, wrapped */
    vu16 h = (vu16)((vi16)k >> 1);
    vf16 e = p * (vf16)((h + 127u) << 23) * (vf16)((k - h + 127u) << 23);
    return (vf16)((vi16)e & ~under);
}

static inline vd8 exp_vec_f64(vd8 x) {
    const double shifter = 6755399441055744.0;      /* 1.5 * 2^52 */
    vl8 under = x < -750.0;                         /* e^-750 rounds to 0 */
    x = (vd8)((vl8)x & ~under);
    vd8 t = x * 1.4426950408889634 + shifter;
    vd8 n = t - shifter;
    vd8 r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    vd8 p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
            r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
            r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 +
            r * (1.0 / 6227020800.0)))))))))))));     /* degree 13: error < 1e-17 */
    vq8 k = (vq8)t - bits_f64(shifter);
    vq8 h = (vq8)((vl8)k >> 1);
    vd8 e = p * (vd8)((h + 1023u) << 52) * (vd8)((k - h + 1023u) << 52);
    return (vd8)((vl8)e & ~under);
}

static inline vf16 ldv_f32(const float *p) {
    vf16 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline vd8 ldv_f64(const double *p) {
    vd8 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline void stv_f32(float *p, vf16 v) { __builtin_memcpy(p, &v, sizeof v); }
static inline void stv_f64(double *p, vd8 v) { __builtin_memcpy(p, &v, sizeof v); }

/* acc + the lanes of v in double (float: its low 8 lanes, then its high 8) */
typedef double vd16 __attribute__((vector_size(16 * sizeof(double))));

static inline vd8 add_wide_f32(vd8 acc, vf16 v) {
    union { vd16 w; vd8 h[2]; } u = {__builtin_convertvector(v, vd16)};  /* two registers */
    return (acc + u.h[0]) + u.h[1];
}

static inline vd8 add_wide_f64(vd8 acc, vd8 v) { return acc + v; }

/* Whole-vector helpers for the softmax rows: a row's last, partial vector is loaded into a
   vector filled with -inf (whose exponential is 0) and stored back element by element, so
   short rows (10 classes, 64 keys) take the vector code too. */
typedef vi16 mask_f32;
typedef vl8 mask_f64;
typedef vt8_f32 half_f32;                  /* halves and quarters of a vector, for hmax */
typedef int32_t hmask_f32 __attribute__((vector_size(8 * sizeof(int32_t))));
typedef float quarter_f32 __attribute__((vector_size(4 * sizeof(float))));
typedef int32_t qmask_f32 __attribute__((vector_size(4 * sizeof(int32_t))));
typedef double half_f64 __attribute__((vector_size(4 * sizeof(double))));
typedef int64_t hmask_f64 __attribute__((vector_size(4 * sizeof(int64_t))));
typedef double quarter_f64 __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t qmask_f64 __attribute__((vector_size(2 * sizeof(int64_t))));

#define SOFTMAX_VEC_HELPERS(T, SUF)                                                         \
static inline vec_##SUF splat_##SUF(T v) { return (vec_##SUF){0} + v; }                     \
                                                                                            \
static inline vec_##SUF ld_tail_##SUF(const T *p, int64_t n) {                              \
    vec_##SUF v = splat_##SUF(-(T)INFINITY);                                                \
    for (int64_t j = 0; j < n; j++) v[j] = p[j];                                            \
    return v;                                                                               \
}                                                                                           \
                                                                                            \
static inline void st_tail_##SUF(T *p, vec_##SUF v, int64_t n) {                            \
    for (int64_t j = 0; j < n; j++) p[j] = v[j];                                            \
}                                                                                           \
                                                                                            \
static inline vec_##SUF vmax_##SUF(vec_##SUF a, vec_##SUF b) {                              \
    mask_##SUF gt = a > b;                                                                  \
    return (vec_##SUF)(((mask_##SUF)a & gt) | ((mask_##SUF)b & ~gt));                      \
}                                                                                           \
                                                                                            \
static inline T hmax_##SUF(vec_##SUF v) {   /* halves: 2 vector steps, then 4 lanes */      \
    union { vec_##SUF w; half_##SUF h[2]; } a = {v};                                        \
    half_##SUF m1 = a.h[0], m2 = a.h[1];                                                    \
    hmask_##SUF gt = m1 > m2;                                                               \
    union { half_##SUF w; quarter_##SUF q[2]; } b =                                         \
        {(half_##SUF)(((hmask_##SUF)m1 & gt) | ((hmask_##SUF)m2 & ~gt))};                   \
    quarter_##SUF q1 = b.q[0], q2 = b.q[1];                                                 \
    qmask_##SUF qg = q1 > q2;                                                               \
    quarter_##SUF q = (quarter_##SUF)(((qmask_##SUF)q1 & qg) | ((qmask_##SUF)q2 & ~qg));    \
    T m = q[0];                                                                             \
    for (int l = 1; l < VW_##SUF / 4; l++) m = q[l] > m ? q[l] : m;                         \
    return m;                                                                               \
}

SOFTMAX_VEC_HELPERS(float, f32)
SOFTMAX_VEC_HELPERS(double, f64)

/* Rows go in groups of GROUP: the per-row divisions and square roots of a group are done
   together (they pipeline, or vectorize) instead of each stalling its own row's last pass
   (a (4096, 32) layer norm spent 40% of its time waiting on them). */
#define GROUP 8

static inline void recip_group(double *s, int n) {
    _Pragma("omp simd")
    for (int k = 0; k < n; k++) s[k] = 1.0 / s[k];
}

/* v[k] (a sum of squared deviations over cols) -> 1 / sqrt(v[k] / cols + eps) */
static inline void rstd_group(double *v, int n, int64_t cols, double eps) {
    _Pragma("omp simd")
    for (int k = 0; k < n; k++) v[k] = 1.0 / sqrt(v[k] / (double)cols + eps);
}

#define ROWS_KERNELS(T, SUF)                                                                 \
/* y = softmax(x) row by row; y may be x itself (each element is read before written) */  \
TF_EXPORT void softmax_rows_##SUF(const T *x, T *y, int64_t rows, int64_t cols) {          \
    if (cols <= 0) return;                                                                  \
    const int64_t whole = cols - cols % VW_##SUF, rest = cols - whole;                      \
    for (int64_t i0 = 0; i0 < rows; i0 += GROUP) {                                          \
        int n = rows - i0 < GROUP ? (int)(rows - i0) : GROUP;                               \
        double s[GROUP];                                                                    \
        for (int k = 0; k < n; k++) {                                                       \
            const T *xr = x + (i0 + k) * cols;                                              \
            T *yr = y + (i0 + k) * cols;                                                    \
            vec_##SUF vm = rest ? ld_tail_##SUF(xr + whole, rest) : ldv_##SUF(xr);          \
            for (int64_t j = 0; j < whole; j += VW_##SUF)                                   \
                vm = vmax_##SUF(vm, ldv_##SUF(xr + j));                                     \
            T mx = hmax_##SUF(vm);                                                          \
            vd8 acc = {0};                                                                  \
            for (int64_t j = 0; j < whole; j += VW_##SUF) {                                 \
                vec_##SUF e = exp_vec_##SUF(ldv_##SUF(xr + j) - mx);                        \
                stv_##SUF(yr + j, e);                                                       \
                acc = add_wide_##SUF(acc, e);                                               \
            }                                                                               \
            if (rest) {                     /* the padding's exponentials are 0 */          \
                vec_##SUF e = exp_vec_##SUF(ld_tail_##SUF(xr + whole, rest) - mx);          \
                st_tail_##SUF(yr + whole, e, rest);                                         \
                acc = add_wide_##SUF(acc, e);                                               \
            }                                                                               \
            s[k] = total8(acc);                                                             \
        }                                                                                   \
        recip_group(s, n);                                                                  \
        for (int k = 0; k < n; k++) {                                                       \
            T *yr = y + (i0 + k) * cols, inv = (T)s[k];                                     \
            _Pragma("omp simd")                                                             \
            for (int64_t j = 0; j < cols; j++) yr[j] *= inv;                                \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* dx = y * (g - sum(g * y)) row by row */                                                  \
TF_EXPORT void softmax_grad_rows_##SUF(const T *restrict g, const T *restrict y,            \
                                       T *restrict dx, int64_t rows, int64_t cols) {        \
    for (int64_t i = 0; i < rows; i++) {                                                    \
        const T *gr = g + i * cols, *yr = y + i * cols;                                     \
        T *dr = dx + i * cols;                                                              \
        vd8 acc = {0};                                                                      \
        double tail = 0.0;                                                                  \
        int64_t j = 0;                                                                      \
        for (; j + 8 <= cols; j += 8)                                                       \
            acc += WIDE(ld8_##SUF(gr + j)) * WIDE(ld8_##SUF(yr + j));                       \
        for (; j < cols; j++) tail += (double)gr[j] * (double)yr[j];                        \
        T s = (T)(total8(acc) + tail);                                                      \
        _Pragma("omp simd")                                                                 \
        for (j = 0; j < cols; j++) dr[j] = (gr[j] - s) * yr[j];                             \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* the row's mean, in double */                                                             \
static inline double ln_mean_##SUF(const T *xr, int64_t cols) {                             \
    vd8 acc = {0};                                                                          \
    double tail = 0.0;                                                                      \
    int64_t j = 0;                                                                          \
    for (; j + 8 <= cols; j += 8) acc += WIDE(ld8_##SUF(xr + j));                           \
    for (; j < cols; j++) tail += (double)xr[j];                                            \
    return (total8(acc) + tail) / (double)cols;                                             \
}                                                                                           \
                                                                                            \
/* the row's sum of squared deviations from its mean m (a second pass: no cancellation) */ \
static inline double ln_sqdev_##SUF(const T *xr, int64_t cols, double m) {                  \
    vd8 acc = {0};                                                                          \
    double tail = 0.0;                                                                      \
    int64_t j = 0;                                                                          \
    for (; j + 8 <= cols; j += 8) {                                                         \
        vd8 d = WIDE(ld8_##SUF(xr + j)) - m;                                                \
        acc += d * d;                                                                       \
    }                                                                                       \
    for (; j < cols; j++) tail += ((double)xr[j] - m) * ((double)xr[j] - m);                \
    return total8(acc) + tail;                                                              \
}                                                                                           \
                                                                                            \
/* y = (x - mean) / sqrt(var + eps) * gamma + beta over each row (cols >= 1), the last     \
   steps in T as the twin's */                                                              \
TF_EXPORT void layer_norm_rows_##SUF(const T *restrict x, const T *restrict gamma,          \
                                     const T *restrict beta, T *restrict y, int64_t rows,   \
                                     int64_t cols, double eps) {                            \
    for (int64_t i0 = 0; i0 < rows; i0 += GROUP) {                                          \
        int n = rows - i0 < GROUP ? (int)(rows - i0) : GROUP;                               \
        double m[GROUP], r[GROUP];                                                          \
        for (int k = 0; k < n; k++) {                                                       \
            const T *xr = x + (i0 + k) * cols;                                              \
            m[k] = ln_mean_##SUF(xr, cols);                                                 \
            r[k] = ln_sqdev_##SUF(xr, cols, m[k]);                                          \
        }                                                                                   \
        rstd_group(r, n, cols, eps);                                                        \
        for (int k = 0; k < n; k++) {                                                       \
            const T *xr = x + (i0 + k) * cols;                                              \
            T *yr = y + (i0 + k) * cols;                                                    \
            T mt = (T)m[k], rt = (T)r[k];                                                   \
            _Pragma("omp simd")                                                             \
            for (int64_t j = 0; j < cols; j++)                                              \
                yr[j] = (xr[j] - mt) * rt * gamma[j] + beta[j];                             \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* With xc = x - mean, r = 1 / sqrt(var + eps), xhat = xc r, dxhat = g gamma:               \
   dx = r (dxhat - mean(dxhat) - xc r^2 mean(dxhat xc)); the sums of g xhat (dgamma) and    \
   of g (dbeta) per column go to the partial rows dgamma[k], dbeta[k] (cols each) of each    \
   chunk k of `chunk` rows (the last may be shorter), overwritten, not added to: the caller \
   sums them in chunk order, so results never depend on how chunks meet threads. */        \
TF_EXPORT void layer_norm_grad_rows_##SUF(const T *restrict g, const T *restrict x,         \
                                          const T *restrict gamma, T *restrict dx,          \
                                          double *restrict dgamma, double *restrict dbeta,  \
                                          int64_t rows, int64_t cols, int64_t chunk,        \
                                          double eps) {                                     \
    for (int64_t lo = 0, c = 0; lo < rows; lo += chunk, c++) {                              \
        int64_t hi = rows - lo < chunk ? rows : lo + chunk;                                 \
        double *dgc = dgamma + c * cols, *dbc = dbeta + c * cols;                           \
        for (int64_t j = 0; j < cols; j++) dgc[j] = 0.0;                                    \
        for (int64_t j = 0; j < cols; j++) dbc[j] = 0.0;                                    \
        for (int64_t i0 = lo; i0 < hi; i0 += GROUP) {                                       \
            int n = hi - i0 < GROUP ? (int)(hi - i0) : GROUP;                               \
            double m[GROUP], r[GROUP], sa[GROUP], sb[GROUP];                                \
            for (int k = 0; k < n; k++) {                                                   \
                const T *gr = g + (i0 + k) * cols, *xr = x + (i0 + k) * cols;               \
                double mk = m[k] = ln_mean_##SUF(xr, cols);                                 \
                r[k] = ln_sqdev_##SUF(xr, cols, mk);                                        \
                vd8 a = {0}, b = {0};                                                       \
                double ta = 0.0, tb = 0.0;                                                  \
                int64_t j = 0;                                                              \
                for (; j + 8 <= cols; j += 8) {                                             \
                    vd8 dh = WIDE(ld8_##SUF(gr + j) * ld8_##SUF(gamma + j));                \
                    a += dh;                                                                \
                    b += dh * (WIDE(ld8_##SUF(xr + j)) - mk);                               \
                }                                                                           \
                for (; j < cols; j++) {                                                     \
                    double dh = (double)(gr[j] * gamma[j]);                                 \
                    ta += dh;                                                               \
                    tb += dh * ((double)xr[j] - mk);                                        \
                }                                                                           \
                sa[k] = total8(a) + ta;                                                     \
                sb[k] = total8(b) + tb;                                                     \
            }                                                                               \
            rstd_group(r, n, cols, eps);                                                    \
            for (int k = 0; k < n; k++) {                                                   \
                const T *gr = g + (i0 + k) * cols, *xr = x + (i0 + k) * cols;               \
                T *dr = dx + (i0 + k) * cols;                                               \
                double rk = r[k];                                                           \
                T mt = (T)m[k], rt = (T)rk;                                                 \
                T m1 = (T)(sa[k] / (double)cols);                                           \
                T kk = (T)(sb[k] / (double)cols * rk * rk);                                 \
                _Pragma("omp simd")                                                         \
                for (int64_t j = 0; j < cols; j++) {                                        \
                    T xc = xr[j] - mt;                                                      \
                    dr[j] = (gr[j] * gamma[j] - m1 - xc * kk) * rt;                         \
                    dgc[j] += (double)(gr[j] * xc) * rk;                                    \
                    dbc[j] += (double)gr[j];                                                \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
}

/* Dropout's keep mask from random bits: out = bits >= thr ? scale : 0 (UINT: uint16_t or
   uint32_t, thr in its range, checked by the caller) */
#define KEEP_MASK(T, SUF, UINT, BITS)                                                       \
TF_EXPORT void keep_mask_u##BITS##_##SUF(const UINT *restrict bits, T *restrict out,        \
                                         int64_t n, int64_t thr, double scale) {            \
    const UINT t = (UINT)thr;                                                               \
    const T s = (T)scale;                                                                   \
    _Pragma("omp simd")                                                                     \
    for (int64_t i = 0; i < n; i++) out[i] = bits[i] >= t ? s : (T)0;                       \
}

/* 1 where the vector types above map onto the machine's registers (AVX-512: 64 bytes).
   Elsewhere the compiler splits them and keeps them in memory: the kernels still give the
   same values but run ~4x slower (an AVX2 build: a (4096, 32) layer norm 0.58 ms against
   0.13), slower than the NumPy twins, so the caller takes the twins there. */
TF_EXPORT int rows_vectors_native(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

ROWS_KERNELS(float, f32)
ROWS_KERNELS(double, f64)
KEEP_MASK(float, f32, uint16_t, 16)
KEEP_MASK(double, f64, uint16_t, 16)
KEEP_MASK(float, f32, uint32_t, 32)
KEEP_MASK(double, f64, uint32_t, 32)
