/* Row-wise kernels of attention models over the last axis of a C-contiguous (rows, cols)
   array: softmax and its gradient, layer normalization and its gradient. Each row is read
   from memory once (its later passes hit the cache), where the NumPy twins
   (tenfold/ops/fused_ops.py) stream every block through 4-9 ufunc/BLAS calls.

   Numerics: the row sums accumulate in double, in 8 lanes added in a fixed order at the end
   (the lanes vectorize without reassociation: no -ffast-math needed, and the order never
   depends on the thread count); elementwise steps run in T as the twins' ufuncs do. The
   exponential is a polynomial in T that the compiler vectorizes (libm's exp is a scalar
   call: without -ffast-math glibc offers no vector variant): float32 within 1.2 ulp of
   the exact value (NumPy's own float32 exp: 2.4), float64 within a few ulps. */
#include "tf_native.h"

#define LANES 8

static inline double lanes_total(const double *a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* exp(x) for x <= 0 or NaN (softmax arguments x - max): x = n ln2 + r with |r| <= ln2/2,
   e^r by its Taylor polynomial, 2^n put into exponent bits as two half powers (each normal,
   so a result in the subnormal range is rounded once). Below `lo` the result rounds to 0;
   NaN stays NaN (the comparison is false, the polynomial propagates it). Written for T in
   T's own arithmetic: GCC vectorizes a compare-and-select only in a loop of one lane width. */
static inline uint32_t bits_f32(float d) {
    uint32_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

static inline float of_bits_f32(uint32_t u) {
    float d;
    __builtin_memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t bits_f64(double d) {
    uint64_t u;
    __builtin_memcpy(&u, &d, sizeof u);
    return u;
}

static inline double of_bits_f64(uint64_t u) {
    double d;
    __builtin_memcpy(&d, &u, sizeof d);
    return d;
}

static inline float exp_neg_f32(float x) {
    const float shifter = 12582912.0f;              /* 1.5 * 2^23: t - shifter = round */
    x = x < -104.0f ? -104.0f : x;                  /* e^-104 < half the least float */
    float t = x * 1.44269504f + shifter;
    float n = t - shifter;
    float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  /* ln2 = hi + lo, n*hi exact */
    float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 +
              r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t k = bits_f32(t) - bits_f32(shifter);  /* n, wrapped */
    uint32_t h = (uint32_t)((int32_t)k >> 1);
    return p * of_bits_f32((h + 127u) << 23) * of_bits_f32((k - h + 127u) << 23);
}

static inline double exp_neg_f64(double x) {
    const double shifter = 6755399441055744.0;      /* 1.5 * 2^52 */
    x = x < -750.0 ? -750.0 : x;                    /* e^-750 rounds to 0 */
    double t = x * 1.4426950408889634 + shifter;
    double n = t - shifter;
    double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
               r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
               r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 +
               r * (1.0 / 6227020800.0)))))))))))));     /* degree 13: error < 1e-17 */
    uint64_t k = bits_f64(t) - bits_f64(shifter);
    uint64_t h = (uint64_t)((int64_t)k >> 1);
    return p * of_bits_f64((h + 1023u) << 52) * of_bits_f64((k - h + 1023u) << 52);
}

/* BODY for each element J of a row of n, with L = J % LANES while whole steps of LANES
   last and L = 0 for the tail: BODY adds into lane L of its accumulators (arrays of LANES
   doubles), which the caller totals with lanes_total. BODY has no commas outside
   parentheses. */
#define LANE_LOOP(n, BODY)                                                                  \
    do {                                                                                    \
        int64_t j_ = 0;                                                                     \
        for (; j_ + LANES <= (n); j_ += LANES)                                              \
            for (int L = 0; L < LANES; L++) {                                               \
                int64_t J = j_ + L;                                                         \
                BODY                                                                        \
            }                                                                               \
        for (; j_ < (n); j_++) {                                                            \
            const int L = 0;                                                                \
            int64_t J = j_;                                                                 \
            BODY                                                                            \
        }                                                                                   \
    } while (0)

#define ROWS_KERNELS(T, SUF)                                                                 \
/* y = softmax(x) row by row; y may be x itself (each element is read before written) */  \
TF_EXPORT void softmax_rows_##SUF(const T *x, T *y, int64_t rows, int64_t cols) {          \
    if (cols <= 0) return;                                                                  \
    for (int64_t i = 0; i < rows; i++) {                                                    \
        const T *xr = x + i * cols;                                                         \
        T *yr = y + i * cols;                                                               \
        T mx = xr[0];                                                                       \
        _Pragma("omp simd reduction(max:mx)")  /* from 0: a whole number of vectors */      \
        for (int64_t j = 0; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;                    \
        _Pragma("omp simd")                                                                 \
        for (int64_t j = 0; j < cols; j++) yr[j] = exp_neg_##SUF(xr[j] - mx);               \
        double acc[LANES] = {0};                                                            \
        LANE_LOOP(cols, acc[L] += (double)yr[J];);                                        \
        T inv = (T)(1.0 / lanes_total(acc));                                                \
        _Pragma("omp simd")                                                                 \
        for (int64_t j = 0; j < cols; j++) yr[j] *= inv;                                    \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* dx = y * (g - sum(g * y)) row by row */                                                  \
TF_EXPORT void softmax_grad_rows_##SUF(const T *restrict g, const T *restrict y,            \
                                       T *restrict dx, int64_t rows, int64_t cols) {        \
    for (int64_t i = 0; i < rows; i++) {                                                    \
        const T *gr = g + i * cols, *yr = y + i * cols;                                     \
        T *dr = dx + i * cols;                                                              \
        double acc[LANES] = {0};                                                            \
        LANE_LOOP(cols, acc[L] += (double)gr[J] * (double)yr[J];);                        \
        T s = (T)lanes_total(acc);                                                          \
        _Pragma("omp simd")                                                                 \
        for (int64_t j = 0; j < cols; j++) dr[j] = (gr[j] - s) * yr[j];                     \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* the row's mean in double */                                                             \
static inline double ln_mean_##SUF(const T *xr, int64_t cols) {                             \
    double s[LANES] = {0};                                                                  \
    LANE_LOOP(cols, s[L] += (double)xr[J];);                                                \
    return lanes_total(s) / (double)cols;                                                   \
}                                                                                           \
                                                                                            \
/* y = (x - mean) / sqrt(var + eps) * gamma + beta over each row (cols >= 1), the last     \
   steps in T as the twin's */                                                              \
TF_EXPORT void layer_norm_rows_##SUF(const T *restrict x, const T *restrict gamma,          \
                                     const T *restrict beta, T *restrict y, int64_t rows,   \
                                     int64_t cols, double eps) {                            \
    for (int64_t i = 0; i < rows; i++) {                                                    \
        const T *xr = x + i * cols;                                                         \
        T *yr = y + i * cols;                                                               \
        double m = ln_mean_##SUF(xr, cols), v[LANES] = {0};                                 \
        LANE_LOOP(cols, v[L] += ((double)xr[J] - m) * ((double)xr[J] - m););                 \
        T mt = (T)m, rt = (T)(1.0 / sqrt(lanes_total(v) / (double)cols + eps));             \
        _Pragma("omp simd")                                                                 \
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mt) * rt * gamma[j] + beta[j];  \
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
    for (int64_t lo = 0, k = 0; lo < rows; lo += chunk, k++) {                              \
        int64_t hi = rows - lo < chunk ? rows : lo + chunk;                                 \
        double *dgk = dgamma + k * cols, *dbk = dbeta + k * cols;                           \
        for (int64_t j = 0; j < cols; j++) dgk[j] = 0.0;                                    \
        for (int64_t j = 0; j < cols; j++) dbk[j] = 0.0;                                    \
        for (int64_t i = lo; i < hi; i++) {                                                 \
            const T *gr = g + i * cols, *xr = x + i * cols;                                 \
            T *dr = dx + i * cols;                                                          \
            double m = ln_mean_##SUF(xr, cols);                                             \
            double v[LANES] = {0}, a[LANES] = {0}, b[LANES] = {0};                          \
            LANE_LOOP(cols, {                                                               \
                double d = (double)xr[J] - m;                                               \
                double dh = (double)(gr[J] * gamma[J]);                                     \
                v[L] += d * d;                                                              \
                a[L] += dh;                                                                 \
                b[L] += dh * d;                                                             \
            });                                                                             \
            double r = 1.0 / sqrt(lanes_total(v) / (double)cols + eps);                     \
            T mt = (T)m, rt = (T)r;                                                         \
            T m1 = (T)(lanes_total(a) / (double)cols);                                      \
            T kk = (T)(lanes_total(b) / (double)cols * r * r);                              \
            _Pragma("omp simd")                                                             \
            for (int64_t j = 0; j < cols; j++) {                                            \
                T xc = xr[j] - mt;                                                          \
                dr[j] = (gr[j] * gamma[j] - m1 - xc * kk) * rt;                             \
                dgk[j] += (double)(gr[j] * xc) * r;                                         \
                dbk[j] += (double)gr[j];                                                    \
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

ROWS_KERNELS(float, f32)
ROWS_KERNELS(double, f64)
KEEP_MASK(float, f32, uint16_t, 16)
KEEP_MASK(double, f64, uint16_t, 16)
KEEP_MASK(float, f32, uint32_t, 32)
KEEP_MASK(double, f64, uint32_t, 32)
