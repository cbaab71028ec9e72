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

/* Dropout's scaled keep mask drawn in one pass: out[i] = bits(i) >= thr ? scale : 0, where
   the random bits are SplitMix64's stream from the state `key` (its j-th output: the state
   key + (j + 1) * 0x9E3779B97F4A7C15, mixed), each 64-bit output giving `per` draws of
   64 / per bits (per = 4: 16-bit draws, per = 2: 32-bit), element i taking draw i % per of
   output i / per, lowest bits first. Counter-based: eight outputs per vector (AVX-512: their
   32 or 16 draws compared at once, 4-8x fewer multiplies than a hash per element), the
   rest one by one; random_ops' NumPy twin computes the same stream. thr is in the draws'
   range (the caller checks). */
static inline uint64_t splitmix64_at(uint64_t key, uint64_t j) {
    uint64_t z = key + (j + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* draws [i0, n) one element at a time (the whole mask where no vector code is built) */
#define DROPOUT_MASK_TAIL(T, SUF)                                                           \
static void dropout_tail_##SUF(T *restrict out, int64_t i0, int64_t n, uint64_t k,          \
                               int64_t per, uint64_t t, T s) {                              \
    const int sh = per == 4 ? 2 : 1, w = per == 4 ? 16 : 32;                                \
    const uint64_t keep = per == 4 ? 0xFFFFu : 0xFFFFFFFFu;                                 \
    for (int64_t i = i0; i < n; i++) {                                                      \
        uint64_t d = (splitmix64_at(k, (uint64_t)i >> sh) >> (w * (i & (per - 1)))) & keep; \
        out[i] = d >= t ? s : (T)0;                                                         \
    }                                                                                       \
}
DROPOUT_MASK_TAIL(float, f32)
DROPOUT_MASK_TAIL(double, f64)

#if VB == 64 && defined(__AVX512BW__) && defined(__AVX512DQ__)
/* eight outputs of the stream, words j .. j + 7, one per 64-bit lane */
static inline __m512i splitmix64_x8(uint64_t key, uint64_t j) {
    const __m512i step = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ull);
    __m512i z = _mm512_add_epi64(_mm512_set1_epi64((long long)key), _mm512_mullo_epi64(
        _mm512_add_epi64(_mm512_set1_epi64((long long)(j + 1)),
                         _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7)), step));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94D049BB133111EBull));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* 64 bits of keep flags for the draws of eight words (lowest draw first): 32 16-bit draws
   (per 4) or 16 32-bit ones (per 2), compared unsigned with t */
static inline uint64_t keep_bits_x8(uint64_t key, uint64_t j, int64_t per, uint64_t t) {
    __m512i z = splitmix64_x8(key, j);
    if (per == 4) return (uint64_t)_mm512_cmpge_epu16_mask(z, _mm512_set1_epi16((short)t));
    return (uint64_t)_mm512_cmpge_epu32_mask(z, _mm512_set1_epi32((int)t));
}

TF_EXPORT void dropout_mask_f32(float *restrict out, int64_t n, int64_t key, int64_t per,
                                int64_t thr, double scale) {
    const uint64_t k = (uint64_t)key, t = (uint64_t)thr;
    const int64_t draws = 8 * per;   /* per eight words: 32 or 16 */
    const __m512 s = _mm512_set1_ps((float)scale);
    int64_t i = 0;
    for (; i + draws <= n; i += draws) {
        uint64_t m = keep_bits_x8(k, (uint64_t)(i / per), per, t);
        for (int64_t h = 0; h < draws; h += 16)
            _mm512_storeu_ps(out + i + h, _mm512_maskz_mov_ps((__mmask16)(m >> h), s));
    }
    dropout_tail_f32(out, i, n, k, per, t, (float)scale);
}

TF_EXPORT void dropout_mask_f64(double *restrict out, int64_t n, int64_t key, int64_t per,
                                int64_t thr, double scale) {
    const uint64_t k = (uint64_t)key, t = (uint64_t)thr;
    const int64_t draws = 8 * per;
    const __m512d s = _mm512_set1_pd(scale);
    int64_t i = 0;
    for (; i + draws <= n; i += draws) {
        uint64_t m = keep_bits_x8(k, (uint64_t)(i / per), per, t);
        for (int64_t h = 0; h < draws; h += 8)
            _mm512_storeu_pd(out + i + h, _mm512_maskz_mov_pd((__mmask8)(m >> h), s));
    }
    dropout_tail_f64(out, i, n, k, per, t, scale);
}
#else
TF_EXPORT void dropout_mask_f32(float *restrict out, int64_t n, int64_t key, int64_t per,
                                int64_t thr, double scale) {
    dropout_tail_f32(out, 0, n, (uint64_t)key, per, (uint64_t)thr, (float)scale);
}

TF_EXPORT void dropout_mask_f64(double *restrict out, int64_t n, int64_t key, int64_t per,
                                int64_t thr, double scale) {
    dropout_tail_f64(out, 0, n, (uint64_t)key, per, (uint64_t)thr, scale);
}
#endif

/* ---- Narrow rows (cols <= NARROW_MAX, float32, AVX-512 builds): a classifier's (batch, 10)
   logits. The row kernels above pay ~60-90 ns per row however short it is (a whole vector's
   exponentials, the max and the sum across lanes); here 16 rows go at once, one row per
   lane: column j of the 16 rows is one gather (x[(r0 + lane) * cols + j]), so the max, the
   exponentials and the sums are plain vertical operations on full vectors, and the results
   go back by scatters. The numerics are the row kernels': x - max, tf_vexp.h's exponential,
   the row's sum in double (element order), 1 / sum in double rounded to float; the loss's
   log in double. A last group of fewer rows runs masked (masked lanes read and write
   nothing). The gathers' int32 offsets stay below 16 * NARROW_MAX. */
#if VB == 64
#define NARROW_MAX 32

TF_EXPORT int narrow_rows_simd(void) { return 1; }

static inline __mmask16 narrow_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

static inline __m512 narrow_exp(__m512 x) { return (__m512)exp_vec_f32((vfn)x); }

/* For 16 rows (lanes of k): d[j] = x[., j] - max over the row, e[j] = e^d[j] (where e is
   given), the row sums of e^d[j] in double into *s0 (lanes 0-7) and *s1 (lanes 8-15), and the
   max into *max (a NaN element: its d stays NaN) */
static inline void narrow_exp_sums(const float *xb, int64_t cols, __m512i idx, __mmask16 k,
                                   __m512 *d, __m512 *e, __m512 *max, __m512d *s0,
                                   __m512d *s1) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < cols; j++) {
        d[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, xb + j, 4);
        mx = _mm512_max_ps(d[j], mx);
    }
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    for (int64_t j = 0; j < cols; j++) {
        d[j] = _mm512_sub_ps(d[j], mx);
        __m512 ej = narrow_exp(d[j]);
        if (e) e[j] = ej;
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(ej)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(ej, 1)));
    }
    *max = mx;
    *s0 = a0;
    *s1 = a1;
}

/* two double vectors (lanes 0-7, 8-15) as one float vector, each value rounded once */
static inline __m512 narrow_to_float(__m512d lo, __m512d hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi),
                              1);
}

/* narrow_exp_sums for 16 rows (d, e, max, the sums in double); returns 1 / (the row sum) in
   float, and writes softmax = e * that to yb's rows where yb is given (yb may be xb: the rows
   are read before they are written) */
static inline __m512 narrow_softmax_group(const float *xb, int64_t cols, __m512i idx,
                                          __mmask16 k, __m512 *d, __m512 *e, __m512 *mx,
                                          __m512d *s0, __m512d *s1, float *yb) {
    narrow_exp_sums(xb, cols, idx, k, d, e, mx, s0, s1);
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512 inv = narrow_to_float(_mm512_div_pd(one, *s0), _mm512_div_pd(one, *s1));
    if (yb)
        for (int64_t j = 0; j < cols; j++)
            _mm512_mask_i32scatter_ps(yb + j, k, idx, _mm512_mul_ps(e[j], inv), 4);
    return inv;
}

/* log(s) in double for the row sums s (>= 1, or NaN): s = 2^e m with m in [sqrt(1/2),
   sqrt(2)), log m = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172, by its series to z^17
   (relative error < 1e-13, far below the float the result is rounded to); libm's scalar
   log per lane took 3/4 of the loss's time */
static inline __m512d narrow_log(__m512d s) {
    __m512d e = _mm512_getexp_pd(s);
    __m512d m = _mm512_getmant_pd(s, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d z = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one));
    __m512d z2 = _mm512_mul_pd(z, z);
    __m512d p = _mm512_set1_pd(1.0 / 17);
    for (int k = 15; k >= 1; k -= 2) p = _mm512_fmadd_pd(p, z2, _mm512_set1_pd(1.0 / k));
    __m512d lm = _mm512_mul_pd(_mm512_add_pd(z, z), p);
    return _mm512_fmadd_pd(e, _mm512_set1_pd(0.6931471805599453), lm);
}

static inline __m512i narrow_index(int64_t cols) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
                                               1, 0), _mm512_set1_epi32((int32_t)cols));
}

/* y = softmax(x) over rows of cols (y may be x: a group is read before it is written) */
TF_EXPORT void softmax_narrow_f32(const float *x, float *y, int64_t rows, int64_t cols) {
    if (cols < 1 || cols > NARROW_MAX) return;
    const __m512i idx = narrow_index(cols);
    __m512 d[NARROW_MAX], e[NARROW_MAX], mx;
    __m512d s0, s1;
    for (int64_t r0 = 0; r0 < rows; r0 += 16)
        narrow_softmax_group(x + r0 * cols, cols, idx, narrow_mask(rows - r0), d, e, &mx, &s0,
                             &s1, y + r0 * cols);
}

/* A classifier's softmax output, its cross-entropy and the loss's gradient in one pass over
   the logits (the executor's fusion of the three; each alone is this with the others NULL),
   from one set of exponentials and row sums: y = softmax(x) as softmax_narrow (y given);
   loss[r] = -sum_j labels[r, j] * (x[r, j] - max - log(sum)), log_softmax's terms as the
   twin nn_ops._xent_kernel (loss given); dx[r, j] = g[r] * (softmax(x)[r, j] *
   sum_j labels[r, j] - labels[r, j]), the twin fused_ops._softmax_xent_grad_kernel (dx and
   g given). */
TF_EXPORT void xent_all_narrow_f32(const float *labels, const float *x, const float *g,
                                   float *y, float *loss, float *dx, int64_t rows,
                                   int64_t cols) {
    if (cols < 1 || cols > NARROW_MAX) return;
    const __m512i idx = narrow_index(cols);
    __m512 d[NARROW_MAX], e[NARROW_MAX], lab[NARROW_MAX];
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        const __mmask16 k = narrow_mask(rows - r0);
        const float *lb = labels + r0 * cols;
        __m512 mx;
        __m512d s0, s1;
        const __m512 inv = narrow_softmax_group(x + r0 * cols, cols, idx, k, d, e, &mx, &s0,
                                                &s1, y ? y + r0 * cols : NULL);
        for (int64_t j = 0; j < cols; j++)
            lab[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, lb + j, 4);
        if (loss) {
            const __m512 lg = narrow_to_float(narrow_log(s0), narrow_log(s1));
            __m512 acc = _mm512_setzero_ps();
            for (int64_t j = 0; j < cols; j++)
                acc = _mm512_add_ps(acc, _mm512_mul_ps(lab[j], _mm512_sub_ps(d[j], lg)));
            _mm512_mask_storeu_ps(loss + r0, k, _mm512_sub_ps(_mm512_setzero_ps(), acc));
        }
        if (dx) {
            __m512d l0 = _mm512_setzero_pd(), l1 = _mm512_setzero_pd();
            for (int64_t j = 0; j < cols; j++) {   /* the labels' row sums, in double */
                l0 = _mm512_add_pd(l0, _mm512_cvtps_pd(_mm512_castps512_ps256(lab[j])));
                l1 = _mm512_add_pd(l1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(lab[j], 1)));
            }
            const __m512 lsum = narrow_to_float(l0, l1);
            const __m512 gv = _mm512_maskz_loadu_ps(k, g + r0);
            for (int64_t j = 0; j < cols; j++) {
                __m512 p = _mm512_mul_ps(_mm512_mul_ps(e[j], inv), lsum);
                _mm512_mask_i32scatter_ps(dx + r0 * cols + j, k, idx,
                                          _mm512_mul_ps(_mm512_sub_ps(p, lab[j]), gv), 4);
            }
        }
    }
}

/* labels (rows,) int64 in [0, cols): checked first; -1 (nothing written) if one is not */
static inline int narrow_labels_ok(const int64_t *labels, int64_t rows, int64_t cols) {
    int64_t bad = 0;
    for (int64_t r = 0; r < rows; r++) bad |= (uint64_t)labels[r] >= (uint64_t)cols;
    return !bad;
}

static inline __m512i narrow_label_index(const int64_t *labels, int64_t r0, __mmask16 k,
                                         __m512i idx) {
    __m256i lo = _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64((__mmask8)k, labels + r0));
    __m256i hi = _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64((__mmask8)(k >> 8),
                                                               labels + r0 + 8));
    __m512i lab = _mm512_inserti32x8(_mm512_castsi256_si512(lo), hi, 1);
    return _mm512_add_epi32(idx, lab);
}

/* xent_all_narrow for class-index labels (int64 (rows,), checked first: -1, nothing written,
   where one is outside [0, cols)): loss[r] = -(x[r, labels[r]] - max - log(sum)), the twin
   nn_ops._sparse_xent_kernel; dx[r, j] = (softmax(x)[r, j] - (j == labels[r])) * g[r], the
   twin fused_ops._sparse_xent_grad_kernel, the label's element written last as (p - 1) * g
   with p recomputed as stored */
TF_EXPORT int64_t sparse_xent_all_narrow_f32(const int64_t *labels, const float *x,
                                             const float *g, float *y, float *loss, float *dx,
                                             int64_t rows, int64_t cols) {
    if (cols < 1 || cols > NARROW_MAX) return -1;
    if (!narrow_labels_ok(labels, rows, cols)) return -1;
    const __m512i idx = narrow_index(cols);
    __m512 d[NARROW_MAX], e[NARROW_MAX];
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        const __mmask16 k = narrow_mask(rows - r0);
        const float *xb = x + r0 * cols;
        __m512 mx;
        __m512d s0, s1;
        const __m512 inv = narrow_softmax_group(xb, cols, idx, k, d, e, &mx, &s0, &s1,
                                                y ? y + r0 * cols : NULL);
        const __m512i at = narrow_label_index(labels, r0, k, idx);
        if (loss) {
            const __m512 lg = narrow_to_float(narrow_log(s0), narrow_log(s1));
            __m512 xl = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, at, xb, 4);
            __m512 ls = _mm512_sub_ps(_mm512_sub_ps(xl, mx), lg);
            _mm512_mask_storeu_ps(loss + r0, k, _mm512_sub_ps(_mm512_setzero_ps(), ls));
        }
        if (dx) {
            float *ob = dx + r0 * cols;
            __m512 gv = _mm512_maskz_loadu_ps(k, g + r0);
            for (int64_t j = 0; j < cols; j++)
                _mm512_mask_i32scatter_ps(ob + j, k, idx,
                                          _mm512_mul_ps(_mm512_mul_ps(e[j], inv), gv), 4);
            __m512i lab = _mm512_sub_epi32(at, idx);
            __m512 pl = _mm512_setzero_ps();
            for (int64_t j = 0; j < cols; j++) {
                __mmask16 hit = _mm512_cmpeq_epi32_mask(lab, _mm512_set1_epi32((int32_t)j));
                pl = _mm512_mask_mov_ps(pl, hit, _mm512_mul_ps(e[j], inv));
            }
            _mm512_mask_i32scatter_ps(ob, k, at,
                                      _mm512_mul_ps(_mm512_sub_ps(pl, _mm512_set1_ps(1.0f)),
                                                    gv), 4);
        }
    }
    return 0;
}

/* each alone */
TF_EXPORT void xent_narrow_f32(const float *labels, const float *x, float *loss, int64_t rows,
                               int64_t cols) {
    xent_all_narrow_f32(labels, x, NULL, NULL, loss, NULL, rows, cols);
}

TF_EXPORT void xent_grad_narrow_f32(const float *g, const float *labels, const float *x,
                                    float *dx, int64_t rows, int64_t cols) {
    xent_all_narrow_f32(labels, x, g, NULL, NULL, dx, rows, cols);
}

TF_EXPORT int64_t sparse_xent_narrow_f32(const int64_t *labels, const float *x, float *loss,
                                         int64_t rows, int64_t cols) {
    return sparse_xent_all_narrow_f32(labels, x, NULL, NULL, loss, NULL, rows, cols);
}

TF_EXPORT int64_t sparse_xent_grad_narrow_f32(const float *g, const int64_t *labels,
                                              const float *x, float *dx, int64_t rows,
                                              int64_t cols) {
    return sparse_xent_all_narrow_f32(labels, x, g, NULL, NULL, dx, rows, cols);
}
#else
TF_EXPORT int narrow_rows_simd(void) { return 0; }
#endif

/* Classification accuracy's matches in one pass: out[r] = 1 where the argmax of b's row r
   equals the argmax of a's row r (acols > 0: one-hot labels) or the label a[r] (acols == 0:
   class indices in T), else 0. The argmax is the argmax primitive's: NaN never wins, ties go
   to the first index, a row of NaN or -inf gives 0. */
#define ARGMAX_MATCH(T, SUF)                                                                \
static inline int64_t row_argmax_##SUF(const T *x, int64_t cols) {                          \
    int64_t best = 0;                                                                       \
    T top = -(T)INFINITY;                                                                   \
    for (int64_t j = 0; j < cols; j++)                                                      \
        if (x[j] > top) { top = x[j]; best = j; }                                           \
    return best;                                                                            \
}                                                                                           \
                                                                                            \
TF_EXPORT void argmax_match_##SUF(const T *a, const T *b, T *out, int64_t rows,              \
                                  int64_t acols, int64_t bcols) {                           \
    for (int64_t r = 0; r < rows; r++) {                                                    \
        const int64_t p = row_argmax_##SUF(b + r * bcols, bcols);                           \
        const int hit = acols > 0 ? row_argmax_##SUF(a + r * acols, acols) == p             \
                                  : (T)p == a[r];                                           \
        out[r] = hit ? (T)1 : (T)0;                                                         \
    }                                                                                       \
}

ARGMAX_MATCH(float, f32)
ARGMAX_MATCH(double, f64)

/* The machine vector width the build uses, in bytes (VB above) */
TF_EXPORT int rows_vector_bytes(void) { return VB; }

ROWS_KERNELS(float, f32)
ROWS_KERNELS(double, f64)
