/* Training-mode BatchNormalization, channels-last: x is (rows, c), C-contiguous (see
   tenfold/backend/norm_kernels.py, which checks every size before a call).

   The rows are cut into blocks of `blk` rows (the last one may be shorter); each block's
   partial sums go to its own slot of `part` ((nblk + 1) x 2 x c doubles: the last slot is
   where they are combined), in block order, so the results do not depend on which thread
   ran which block.

   Forward:  bn_moments (per block: mean, then the sum of squared deviations from it, in
             double while the block is in cache), bn_stats (blocks combined; mean, biased
             variance, scale = gamma / sqrt(var + eps), shift = beta - mean * scale, as
             Keras and tf.nn.batch_normalization), bn_apply (y = x * scale + shift [+ res]
             [then ReLU], one pass).
   Backward: bn_grad_sums (per block: sum g' and sum g' * (x - mean), in double; g' = g, or
             g * (r > 0) under a ReLU), bn_grad_coef (per channel a, b, c, dgamma, dbeta),
             bn_grad_apply (dx = g' * a + (x - mean) * b + c, one pass).

   Small c: the loops run over "wide rows" of k whole rows (k * c <= BN_WIDE elements, one
   contiguous run), against per-channel vectors tiled k times, so each inner loop is long
   enough to vectorize well (16 channels alone are one vector); the accumulators are folded
   back to c channels in a fixed order. */
#include "tf_native.h"

#define BN_WIDE 256

/* The wide-row width: the most whole rows of c that fit BN_WIDE, or c itself if wider. */
static inline int64_t bn_width(int64_t c) { return c <= BN_WIDE ? (BN_WIDE / c) * c : c; }

static inline void bn_zero(double *a, int64_t n) {
    for (int64_t j = 0; j < n; j++) a[j] = 0.0;
}

/* out[j] = sum over t of acc[t * c + j] (t in order), for the w / c tiles of a wide row. */
static inline void bn_fold(const double *acc, int64_t w, int64_t c, double *out) {
    for (int64_t j = 0; j < c; j++) out[j] = acc[j];
    for (int64_t t = c; t < w; t += c)
        for (int64_t j = 0; j < c; j++) out[j] += acc[t + j];
}

#define BN_KERNELS(T, S, SQRT)                                                                \
                                                                                              \
/* Tiles the c-vector v into w (a multiple of c) elements of out. */                          \
static inline void bn_tile_##S(const T *v, int64_t c, int64_t w, T *out) {                    \
    for (int64_t t = 0; t < w; t += c)                                                        \
        for (int64_t j = 0; j < c; j++) out[t + j] = v[j];                                    \
}                                                                                             \
                                                                                              \
/* acc[e % w] += x[e] for the n elements of x (n and w multiples of c). */                    \
static inline void bn_sum_##S(const T *restrict x, int64_t n, int64_t w,                      \
                              double *restrict acc) {                                         \
    int64_t e = 0;                                                                            \
    for (; e + w <= n; e += w) {                                                              \
        const T *xr = x + e;                                                                  \
        _Pragma("omp simd")                                                                   \
        for (int64_t j = 0; j < w; j++) acc[j] += (double)xr[j];                              \
    }                                                                                         \
    for (int64_t j = 0; j < n - e; j++) acc[j] += (double)x[e + j];                           \
}                                                                                             \
                                                                                              \
/* acc[e % w] += (x[e] - m[e % w])^2. */                                                      \
static inline void bn_sqdev_##S(const T *restrict x, int64_t n, int64_t w,                    \
                                const double *restrict m, double *restrict acc) {             \
    int64_t e = 0;                                                                            \
    for (; e + w <= n; e += w) {                                                              \
        const T *xr = x + e;                                                                  \
        _Pragma("omp simd")                                                                   \
        for (int64_t j = 0; j < w; j++) {                                                     \
            double d = (double)xr[j] - m[j];                                                  \
            acc[j] += d * d;                                                                  \
        }                                                                                     \
    }                                                                                         \
    for (int64_t j = 0; j < n - e; j++) {                                                     \
        double d = (double)x[e + j] - m[j];                                                   \
        acc[j] += d * d;                                                                      \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Blocks b1 - 1 down to b0 (the last rows first: the producer of x wrote them last):         \
   part[b][0] = the block's per-channel mean, part[b][1] = its sum of squared deviations. */  \
TF_EXPORT void bn_moments_##S(const T *x, int64_t rows, int64_t c, int64_t blk, int64_t b0,   \
                              int64_t b1, double *part) {                                     \
    int64_t w = bn_width(c);                                                                  \
    double acc_buf[BN_WIDE], mean_buf[BN_WIDE];                                               \
    for (int64_t b = b1 - 1; b >= b0; b--) {                                                  \
        int64_t lo = b * blk, hi = lo + blk < rows ? lo + blk : rows;                         \
        int64_t n = (hi - lo) * c;                                                            \
        const T *xb = x + lo * c;                                                             \
        double *m = part + b * 2 * c, *q = m + c;                                             \
        double *acc = c <= BN_WIDE ? acc_buf : m;                                             \
        bn_zero(acc, w);                                                                      \
        bn_sum_##S(xb, n, w, acc);                                                            \
        if (acc != m) bn_fold(acc, w, c, m);                                                  \
        for (int64_t j = 0; j < c; j++) m[j] /= (double)(hi - lo);                            \
        const double *mw = m;                                                                 \
        if (c <= BN_WIDE) {                                                                   \
            for (int64_t t = 0; t < w; t += c)                                                \
                for (int64_t j = 0; j < c; j++) mean_buf[t + j] = m[j];                       \
            mw = mean_buf;                                                                    \
        }                                                                                     \
        acc = c <= BN_WIDE ? acc_buf : q;                                                     \
        bn_zero(acc, w);                                                                      \
        bn_sqdev_##S(xb, n, w, mw, acc);                                                      \
        if (acc != q) bn_fold(acc, w, c, q);                                                  \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* The blocks' moments combined in block order (mean = sum of n_b * mean_b / rows; M2 = sum   \
   of M2_b + n_b * (mean_b - mean)^2), in part's extra slot nblk (block by block, so the      \
   channel loops vectorize); then mean, biased var, scale and shift in T, computed as NumPy   \
   computes them from mean and var (norm_kernels' twin). */                                   \
TF_EXPORT void bn_stats_##S(double *part, int64_t nblk, int64_t rows, int64_t c, int64_t blk, \
                            const T *gamma, const T *beta, double eps, T *mean, T *var,       \
                            T *scale, T *shift) {                                             \
    double *mu = part + nblk * 2 * c, *m2 = mu + c;                                           \
    bn_zero(mu, 2 * c);                                                                       \
    for (int64_t b = 0; b < nblk; b++) {                                                      \
        double nb = (double)(b < nblk - 1 ? blk : rows - b * blk);                            \
        const double *mb = part + b * 2 * c;                                                  \
        for (int64_t j = 0; j < c; j++) mu[j] += mb[j] * nb;                                  \
    }                                                                                         \
    for (int64_t j = 0; j < c; j++) mu[j] /= (double)rows;                                    \
    for (int64_t b = 0; b < nblk; b++) {                                                      \
        double nb = (double)(b < nblk - 1 ? blk : rows - b * blk);                            \
        const double *mb = part + b * 2 * c, *qb = mb + c;                                    \
        for (int64_t j = 0; j < c; j++) {                                                     \
            double d = mb[j] - mu[j];                                                         \
            m2[j] += qb[j] + nb * d * d;                                                      \
        }                                                                                     \
    }                                                                                         \
    for (int64_t j = 0; j < c; j++) {                                                         \
        T mt = (T)mu[j], vt = (T)(m2[j] / (double)rows);                                      \
        T sc = gamma[j] / SQRT(vt + (T)eps);                                                  \
        mean[j] = mt;                                                                         \
        var[j] = vt;                                                                          \
        scale[j] = sc;                                                                        \
        shift[j] = beta[j] - mt * sc;                                                         \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* y = x * s + t [+ res] [then max(., 0)] over n elements, s and t tiled w wide. */          \
static inline __attribute__((always_inline)) void bn_affine_##S(                             \
        const T *restrict x, const T *restrict res, T *restrict y, int64_t n, int64_t w,     \
        const T *restrict s, const T *restrict t, int has_res, int relu) {                    \
    for (int64_t e = 0; e < n; e += w) {                                                      \
        int64_t m = n - e < w ? n - e : w;                                                    \
        const T *xr = x + e;                                                                  \
        const T *rr = has_res ? res + e : 0;                                                  \
        T *yr = y + e;                                                                        \
        _Pragma("omp simd")                                                                   \
        for (int64_t j = 0; j < m; j++) {                                                     \
            T v = xr[j] * s[j] + t[j];                                                        \
            if (has_res) v = v + rr[j];                                                       \
            if (relu) v = v < (T)0 ? (T)0 : v;                                                \
            yr[j] = v;                                                                        \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Rows [lo, hi): y = x * scale + shift, + res where res is not NULL, then ReLU if relu. */   \
TF_EXPORT void bn_apply_##S(const T *x, const T *res, T *y, const T *scale, const T *shift,  \
                            int64_t c, int64_t lo, int64_t hi, int64_t relu) {                \
    int64_t w = bn_width(c), n = (hi - lo) * c, o = lo * c;                                   \
    T s_buf[BN_WIDE], t_buf[BN_WIDE];                                                         \
    const T *s = scale, *t = shift;                                                           \
    if (c <= BN_WIDE) {                                                                       \
        bn_tile_##S(scale, c, w, s_buf);                                                      \
        bn_tile_##S(shift, c, w, t_buf);                                                      \
        s = s_buf;                                                                            \
        t = t_buf;                                                                            \
    }                                                                                         \
    const T *r = res ? res + o : 0;                                                           \
    if (res && relu) bn_affine_##S(x + o, r, y + o, n, w, s, t, 1, 1);                        \
    else if (res) bn_affine_##S(x + o, r, y + o, n, w, s, t, 1, 0);                           \
    else if (relu) bn_affine_##S(x + o, r, y + o, n, w, s, t, 0, 1);                          \
    else bn_affine_##S(x + o, r, y + o, n, w, s, t, 0, 0);                                    \
}                                                                                             \
                                                                                              \
/* ag[e % w] += g'[e], ax[e % w] += g'[e] * (x[e] - m[e % w]); g' = g, or g * (r > 0) (a    \
   product, as NumPy's twin: a select would not vectorize, its compare may trap). */          \
static inline __attribute__((always_inline)) void bn_gsum_##S(                               \
        const T *restrict g, const T *restrict x, const T *restrict r, int64_t n, int64_t w, \
        const T *restrict m, double *restrict ag, double *restrict ax, int relu) {            \
    for (int64_t e = 0; e < n; e += w) {                                                      \
        int64_t k = n - e < w ? n - e : w;                                                    \
        const T *gr = g + e, *xr = x + e, *rr = relu ? r + e : 0;                             \
        _Pragma("omp simd")                                                                   \
        for (int64_t j = 0; j < k; j++) {                                                     \
            T gt = gr[j];                                                                     \
            if (relu) gt = gt * (T)(rr[j] > (T)0);                                            \
            double gv = (double)gt;                                                           \
            ag[j] += gv;                                                                      \
            ax[j] += gv * ((double)xr[j] - (double)m[j]);                                     \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Blocks b1 - 1 down to b0: part[b][0] = sum g', part[b][1] = sum g' * (x - mean). */        \
TF_EXPORT void bn_grad_sums_##S(const T *g, const T *x, const T *r, const T *mean,           \
                                int64_t rows, int64_t c, int64_t blk, int64_t b0, int64_t b1, \
                                int64_t relu, double *part) {                                 \
    int64_t w = bn_width(c);                                                                  \
    double ag_buf[BN_WIDE], ax_buf[BN_WIDE];                                                  \
    T m_buf[BN_WIDE];                                                                         \
    const T *m = mean;                                                                        \
    if (c <= BN_WIDE) {                                                                       \
        bn_tile_##S(mean, c, w, m_buf);                                                       \
        m = m_buf;                                                                            \
    }                                                                                         \
    for (int64_t b = b1 - 1; b >= b0; b--) {                                                  \
        int64_t lo = b * blk, hi = lo + blk < rows ? lo + blk : rows;                         \
        int64_t n = (hi - lo) * c, o = lo * c;                                                \
        double *sg = part + b * 2 * c, *sx = sg + c;                                          \
        double *ag = c <= BN_WIDE ? ag_buf : sg, *ax = c <= BN_WIDE ? ax_buf : sx;            \
        bn_zero(ag, w);                                                                       \
        bn_zero(ax, w);                                                                       \
        if (relu) bn_gsum_##S(g + o, x + o, r + o, n, w, m, ag, ax, 1);                       \
        else bn_gsum_##S(g + o, x + o, r, n, w, m, ag, ax, 0);                                \
        if (c <= BN_WIDE) {                                                                   \
            bn_fold(ag, w, c, sg);                                                            \
            bn_fold(ax, w, c, sx);                                                            \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* The blocks' sums combined in block order (in part's extra slot nblk); per channel, in     \
   double (inv = 1 / sqrt(var + eps), n = rows): dbeta = sum g', dgamma = inv * sum g' (x -   \
   mean), a = gamma * inv, b = -a * inv * dgamma / n, c = -a * dbeta / n (dx = g' a + (x -    \
   mean) b + c). */                                                                           \
TF_EXPORT void bn_grad_coef_##S(double *part, int64_t nblk, int64_t rows, int64_t c,         \
                                const T *gamma, const T *var, double eps, T *a, T *b, T *cc,  \
                                T *dgamma, T *dbeta) {                                        \
    double n = (double)rows, *sg = part + nblk * 2 * c, *sx = sg + c;                         \
    bn_zero(sg, 2 * c);                                                                       \
    for (int64_t k = 0; k < nblk; k++) {                                                      \
        const double *pg = part + k * 2 * c, *px = pg + c;                                    \
        for (int64_t j = 0; j < c; j++) {                                                     \
            sg[j] += pg[j];                                                                   \
            sx[j] += px[j];                                                                   \
        }                                                                                     \
    }                                                                                         \
    for (int64_t j = 0; j < c; j++) {                                                         \
        double inv = 1.0 / sqrt((double)var[j] + eps);                                        \
        double dg = inv * sx[j], aj = (double)gamma[j] * inv;                                 \
        dbeta[j] = (T)sg[j];                                                                  \
        dgamma[j] = (T)dg;                                                                    \
        a[j] = (T)aj;                                                                         \
        b[j] = (T)(-aj * inv * dg / n);                                                       \
        cc[j] = (T)(-aj * sg[j] / n);                                                         \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static inline __attribute__((always_inline)) void bn_gapply_##S(                             \
        const T *restrict g, const T *restrict x, const T *restrict r, T *restrict dx,       \
        int64_t n, int64_t w, const T *restrict m, const T *restrict a, const T *restrict b, \
        const T *restrict cc, int relu) {                                                     \
    for (int64_t e = 0; e < n; e += w) {                                                      \
        int64_t k = n - e < w ? n - e : w;                                                    \
        const T *gr = g + e, *xr = x + e, *rr = relu ? r + e : 0;                             \
        T *dr = dx + e;                                                                       \
        _Pragma("omp simd")                                                                   \
        for (int64_t j = 0; j < k; j++) {                                                     \
            T gv = gr[j];                                                                     \
            if (relu) gv = gv * (T)(rr[j] > (T)0);                                            \
            dr[j] = gv * a[j] + (xr[j] - m[j]) * b[j] + cc[j];                                \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
/* Rows [lo, hi): dx = g' * a + (x - mean) * b + c. */                                        \
TF_EXPORT void bn_grad_apply_##S(const T *g, const T *x, const T *r, const T *mean,          \
                                 const T *a, const T *b, const T *cc, T *dx, int64_t c,       \
                                 int64_t lo, int64_t hi, int64_t relu) {                      \
    int64_t w = bn_width(c), n = (hi - lo) * c, o = lo * c;                                   \
    T m_buf[BN_WIDE], a_buf[BN_WIDE], b_buf[BN_WIDE], c_buf[BN_WIDE];                         \
    const T *mv = mean, *av = a, *bv = b, *cv = cc;                                           \
    if (c <= BN_WIDE) {                                                                       \
        bn_tile_##S(mean, c, w, m_buf);                                                       \
        bn_tile_##S(a, c, w, a_buf);                                                          \
        bn_tile_##S(b, c, w, b_buf);                                                          \
        bn_tile_##S(cc, c, w, c_buf);                                                         \
        mv = m_buf;                                                                           \
        av = a_buf;                                                                           \
        bv = b_buf;                                                                           \
        cv = c_buf;                                                                           \
    }                                                                                         \
    if (relu) bn_gapply_##S(g + o, x + o, r + o, dx + o, n, w, mv, av, bv, cv, 1);            \
    else bn_gapply_##S(g + o, x + o, r, dx + o, n, w, mv, av, bv, cv, 0);                     \
}

BN_KERNELS(float, f32, sqrtf)
BN_KERNELS(double, f64, sqrt)
