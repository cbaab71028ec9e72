/* Row-wise kernels of attention models over the last axis of a C-contiguous (rows, cols)
   array: softmax and its gradient, layer normalization and its gradient, and dropout's keep
   mask. Each row is read from memory once (its later passes hit the cache), where the NumPy
   twins (tenfold/ops/fused_ops.py) stream every block through 4-9 ufunc/BLAS calls.

   Vectors: GCC/Clang vector extensions of the machine's width (tf_vexp.h, with the
   exponential).
   Numerics: the row sums accumulate in 8 logical double lanes (element j into lane j % 8,
   in element order, held as 8 / (VB / 8) machine vectors), added in a fixed order at the
   end: the same sums on every call, thread count and vector width (explicit SIMD: nothing
   is left to reassociate, no -ffast-math). Elementwise steps run in T as the twins' ufuncs
   do. The exponential is a polynomial in T on whole vectors, its Horner steps fused
   multiply-adds (tf_vexp.h; libm's exp is a scalar call: without -ffast-math glibc offers
   no vector variant): within 0.94 ulp of the exact value in float32 (NumPy's own float32
   exp: 2.4) and 0.88 in float64, measured over [-104, 0] / [-700, 0]. */
#include "tf_vexp.h"

#define NACC (8 / NL)      /* machine vectors per 8 logical lanes */

typedef float vfh __attribute__((vector_size(VB / 2)));     /* NL floats: half a vfn */

/* 8 logical double lanes */
typedef struct { vdn v[NACC]; } acc8;

static inline acc8 zero8(void) {
    acc8 a;
    for (int p = 0; p < NACC; p++) a.v[p] = (vdn){0};
    return a;
}

typedef double vd4 __attribute__((vector_size(4 * sizeof(double))));
typedef double vd2 __attribute__((vector_size(2 * sizeof(double))));

/* ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) by vector halves, whatever the width */
static inline double total8(acc8 a) {
#if NACC == 1
    union { vdn w; vd4 h[2]; } u = {a.v[0]};
    union { vd4 w; vd2 h[2]; } t = {u.h[0] + u.h[1]};
    vd2 s = t.h[0] + t.h[1];
#elif NACC == 2
    union { vd4 w; vd2 h[2]; } t = {a.v[0] + a.v[1]};
    vd2 s = t.h[0] + t.h[1];
#else
    vd2 s = (a.v[0] + a.v[2]) + (a.v[1] + a.v[3]);
#endif
    return s[0] + s[1];
}

/* NL elements of T as a T vector (ldh), and widened to doubles (WIDE_T) */
static inline vfh ldh_f32(const float *p) {
    vfh v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline vdn ldh_f64(const double *p) {
    vdn v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

#define WIDE_f32(v) __builtin_convertvector((v), vdn)
#define WIDE_f64(v) (v)

typedef vfn vec_f32;
typedef vdn vec_f64;
typedef vin mask_f32;
typedef vln mask_f64;
#define VW_f32 (2 * NL)
#define VW_f64 NL

static inline vfn ldv_f32(const float *p) {
    vfn v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline vdn ldv_f64(const double *p) {
    vdn v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline void stv_f32(float *p, vfn v) { __builtin_memcpy(p, &v, sizeof v); }
static inline void stv_f64(double *p, vdn v) { __builtin_memcpy(p, &v, sizeof v); }

/* a += the VW lanes of v, the elements j.. of a row (j a multiple of VW): element i into
   logical lane i % 8. float: v's two halves, NL lanes each; double: one piece of NL. */
static inline void add_wide_f32(acc8 *a, vfn v, int64_t j) {
    union { vfn w; vfh h[2]; } u = {v};
    int p = (int)((j % 8) / NL);
    a->v[p % NACC] += WIDE_f32(u.h[0]);
    a->v[(p + 1) % NACC] += WIDE_f32(u.h[1]);
}

static inline void add_wide_f64(acc8 *a, vdn v, int64_t j) {
    a->v[(j % 8) / NL] += v;
}

/* hmax's first steps on AVX-512 (where the softmax runs): the vector's halves, then
   quarters, compared as vectors, leaving 4 / 2 lanes for the scalar tree */
#if VB == 64
typedef float f32x8 __attribute__((vector_size(8 * sizeof(float))));
typedef int32_t i32x8 __attribute__((vector_size(8 * sizeof(int32_t))));
typedef float f32x4 __attribute__((vector_size(4 * sizeof(float))));
typedef int32_t i32x4 __attribute__((vector_size(4 * sizeof(int32_t))));
typedef int64_t i64x4 __attribute__((vector_size(4 * sizeof(int64_t))));
typedef int64_t i64x2 __attribute__((vector_size(2 * sizeof(int64_t))));
#define VMAX2(H, M, a, b) ((H)(((M)(a) & ((a) > (b))) | ((M)(b) & ~((a) > (b)))))
#define HMAX_HALVES_2(V, H, M, Q, N)                                                        \
    union { V w; H h[2]; } hu_ = {v};                                                       \
    union { H w; Q q[2]; } qu_ = {VMAX2(H, M, hu_.h[0], hu_.h[1])};                         \
    Q src_ = VMAX2(Q, N, qu_.q[0], qu_.q[1]);
#define HMAX_HALVES_f32 HMAX_HALVES_2(vfn, f32x8, i32x8, f32x4, i32x4)
#define HMAX_HALVES_f64 HMAX_HALVES_2(vdn, vd4, i64x4, vd2, i64x2)
#define HMAX_HALVES(SUF) HMAX_HALVES_##SUF
#define HMAX_LANES(SUF) (VW_##SUF / 4)
#else
#define HMAX_HALVES(SUF) vec_##SUF src_ = v;
#define HMAX_LANES(SUF) VW_##SUF
#endif

/* Whole-vector helpers for the softmax rows: a row's last, partial vector is loaded into a
   vector filled with -inf (whose exponential is 0) and stored back element by element, so
   short rows (10 classes, 64 keys) take the vector code too. */
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
static inline T hmax_##SUF(vec_##SUF v) {   /* a tree over the lanes */                     \
    HMAX_HALVES(SUF)                                                                        \
    T l[HMAX_LANES(SUF)];                                                                   \
    for (int k = 0; k < HMAX_LANES(SUF); k++) l[k] = src_[k];                               \
    for (int w = HMAX_LANES(SUF) / 2; w > 0; w /= 2)                                        \
        for (int k = 0; k < w; k++) l[k] = l[k + w] > l[k] ? l[k + w] : l[k];               \
    return l[0];                                                                            \
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
        T mxs[GROUP];                                                                       \
        /* the group's maxima first, then its exponentials: each phase's rows are          \
           independent, so their latency chains (the max tree, the polynomial) overlap */   \
        for (int k = 0; k < n; k++) {                                                       \
            const T *xr = x + (i0 + k) * cols;                                              \
            vec_##SUF vm = rest ? ld_tail_##SUF(xr + whole, rest) : ldv_##SUF(xr);          \
            for (int64_t j = 0; j < whole; j += VW_##SUF)                                   \
                vm = vmax_##SUF(vm, ldv_##SUF(xr + j));                                     \
            mxs[k] = hmax_##SUF(vm);                                                        \
        }                                                                                   \
        for (int k = 0; k < n; k++) {                                                       \
            const T *xr = x + (i0 + k) * cols;                                              \
            T *yr = y + (i0 + k) * cols, mx = mxs[k];                                       \
            acc8 acc = zero8();                                                               \
            for (int64_t j = 0; j < whole; j += VW_##SUF) {                                 \
                vec_##SUF e = exp_vec_##SUF(ldv_##SUF(xr + j) - mx);                        \
                stv_##SUF(yr + j, e);                                                       \
                add_wide_##SUF(&acc, e, j);                                                 \
            }                                                                               \
            if (rest) {                     /* the padding's exponentials are 0 */          \
                vec_##SUF e = exp_vec_##SUF(ld_tail_##SUF(xr + whole, rest) - mx);          \
                st_tail_##SUF(yr + whole, e, rest);                                         \
                add_wide_##SUF(&acc, e, whole);                                             \
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
        acc8 acc = zero8();                                                                   \
        double tail = 0.0;                                                                  \
        int64_t j = 0;                                                                      \
        for (; j + 8 <= cols; j += 8)                                                       \
            for (int p = 0; p < NACC; p++)                                                  \
                acc.v[p] += WIDE_##SUF(ldh_##SUF(gr + j + p * NL)) *                        \
                            WIDE_##SUF(ldh_##SUF(yr + j + p * NL));                         \
        for (; j < cols; j++) tail += (double)gr[j] * (double)yr[j];                        \
        T s = (T)(total8(acc) + tail);                                                      \
        _Pragma("omp simd")                                                                 \
        for (j = 0; j < cols; j++) dr[j] = (gr[j] - s) * yr[j];                             \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* the row's mean, in double */                                                             \
static inline double ln_mean_##SUF(const T *xr, int64_t cols) {                             \
    acc8 acc = zero8();                                                                       \
    double tail = 0.0;                                                                      \
    int64_t j = 0;                                                                          \
    for (; j + 8 <= cols; j += 8)                                                           \
        for (int p = 0; p < NACC; p++) acc.v[p] += WIDE_##SUF(ldh_##SUF(xr + j + p * NL));  \
    for (; j < cols; j++) tail += (double)xr[j];                                            \
    return (total8(acc) + tail) / (double)cols;                                             \
}                                                                                           \
                                                                                            \
/* the row's sum of squared deviations from its mean m (a second pass: no cancellation) */ \
static inline double ln_sqdev_##SUF(const T *xr, int64_t cols, double m) {                  \
    acc8 acc = zero8();                                                                       \
    double tail = 0.0;                                                                      \
    int64_t j = 0;                                                                          \
    for (; j + 8 <= cols; j += 8)                                                           \
        for (int p = 0; p < NACC; p++) {                                                    \
            vdn d = WIDE_##SUF(ldh_##SUF(xr + j + p * NL)) - m;                             \
            acc.v[p] += d * d;                                                              \
        }                                                                                   \
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
                acc8 a = zero8(), b = zero8();                                              \
                double ta = 0.0, tb = 0.0;                                                  \
                int64_t j = 0;                                                              \
                for (; j + 8 <= cols; j += 8)                                               \
                    for (int p = 0; p < NACC; p++) {                                        \
                        int64_t o = j + p * NL;                                             \
                        vdn dh = WIDE_##SUF(ldh_##SUF(gr + o) * ldh_##SUF(gamma + o));      \
                        a.v[p] += dh;                                                       \
                        b.v[p] += dh * (WIDE_##SUF(ldh_##SUF(xr + o)) - mk);                \
                    }                                                                       \
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

/* The machine vector width the build uses, in bytes (VB above) */
TF_EXPORT int rows_vector_bytes(void) { return VB; }

ROWS_KERNELS(float, f32)
ROWS_KERNELS(double, f64)
KEEP_MASK(float, f32, uint16_t, 16)
KEEP_MASK(double, f64, uint16_t, 16)
KEEP_MASK(float, f32, uint32_t, 32)
KEEP_MASK(double, f64, uint32_t, 32)
