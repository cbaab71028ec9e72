/* The Keras optimizers' dense updates in one pass over the gradient, the weights and the
   slots (tenfold/keras/optimizers/optimizers.py runs the same arithmetic as 8-12 NumPy
   passes). Each element sees exactly the NumPy body's operations, in its order and in T:
   every scalar is converted to T first (the bodies' scalars are of the variables' dtype),
   no contraction (-ffp-contract=off), sqrt correctly rounded in both. Optional slots are
   NULL; each variant is its own loop so that it vectorizes. The Python wrapper
   (tenfold/keras/optimizers/native_updates.py) checks sizes, dtypes and contiguity; these
   loops touch only [0, n) of each array (rows [0, nrows) for the sparse Adam). */
#include "tf_native.h"

/* np.maximum(a, b): a NaN in either gives NaN, a tie (+0 / -0) gives b */
#define TF_MAXIMUM(a, b) (((a) > (b) || (a) != (a)) ? (a) : (b))

#define OPTIMIZER_KERNELS(T, SUF)                                                           \
/* Adam._body: m += (g - m) * c1; v += (g * g - v) * c2; [vh = maximum(vh, v); v = vh];     \
   w -= (m * alpha) / (sqrt(v) + eps) */                                                     \
TF_EXPORT void adam_##SUF(const T *restrict g, T *restrict w, T *restrict m,                 \
                          T *restrict v, T *restrict vh, int64_t n, double alpha_,           \
                          double c1_, double c2_, double eps_) {                             \
    const T alpha = (T)alpha_, c1 = (T)c1_, c2 = (T)c2_, eps = (T)eps_;                      \
    if (vh == NULL) {                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T mi = m[i] + (gi - m[i]) * c1;                                                  \
            T vi = v[i] + (gi * gi - v[i]) * c2;                                             \
            m[i] = mi;                                                                       \
            v[i] = vi;                                                                       \
            w[i] = w[i] - (mi * alpha) / (TF_SQRT_##SUF(vi) + eps);                              \
        }                                                                                    \
    } else {                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T mi = m[i] + (gi - m[i]) * c1;                                                  \
            T vi = v[i] + (gi * gi - v[i]) * c2;                                             \
            T hi = vh[i];                                                                    \
            hi = TF_MAXIMUM(hi, vi);                                                         \
            m[i] = mi;                                                                       \
            v[i] = vi;                                                                       \
            vh[i] = hi;                                                                      \
            w[i] = w[i] - (mi * alpha) / (TF_SQRT_##SUF(hi) + eps);                              \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Adam._sparse_kernel on rows [r0, r1) of `row` elements each, the gradient given as rows  \
   `values` (n_ids of them) of ids grouped by a stable sort: id uniq[k] (ascending) has the \
   rows order[first[k]], ..., order[first[k + 1] - 1], in their order. A looked-up row      \
   takes the full formula with its rows' sum gs = ((0 + x0) + x1) + ... and the sum of     \
   their squares sq = (gs0 * gs0 + x1 * x1) + ... (summed_rows' numbers; in the scratch gs, \
   sq of `row` elements), the others m - m * c1, v - v * c2; then every row's step. Ids,   \
   bounds and positions are used only where they point inside the arrays. */               \
TF_EXPORT void adam_sparse_##SUF(T *restrict w, T *restrict m, T *restrict v, int64_t r0,   \
                                 int64_t r1, int64_t row, const int64_t *restrict uniq,      \
                                 const int64_t *restrict first, int64_t k0, int64_t k1,      \
                                 const int64_t *restrict order, int64_t n_ids,               \
                                 const T *restrict values, T *restrict gs, T *restrict sq,   \
                                 double alpha_, double c1_, double c2_, double eps_) {       \
    const T alpha = (T)alpha_, c1 = (T)c1_, c2 = (T)c2_, eps = (T)eps_;                      \
    int64_t k = k0;                                                                          \
    for (int64_t r = r0; r < r1; r++) {                                                      \
        T *restrict wr = w + r * row, *restrict mr = m + r * row, *restrict vr = v + r * row; \
        if (k < k1 && uniq[k] == r) {                                                        \
            int64_t p0 = first[k], p1 = first[k + 1], seen = 0;                              \
            k++;                                                                             \
            for (int64_t j = 0; j < row; j++) {                                              \
                gs[j] = 0;                                                                   \
                sq[j] = 0;                                                                   \
            }                                                                                \
            for (int64_t p = p0 < 0 ? 0 : p0; p < p1 && p < n_ids; p++) {                   \
                int64_t o = order[p];                                                        \
                if (o < 0 || o >= n_ids)                                                     \
                    continue;                                                                \
                const T *restrict x = values + o * row;                                      \
                if (seen++ == 0) {                                                           \
                    for (int64_t j = 0; j < row; j++) {                                      \
                        T x0 = x[j] + (T)0;                                                  \
                        gs[j] = x0;                                                          \
                        sq[j] = x0 * x0;                                                     \
                    }                                                                        \
                } else {                                                                     \
                    for (int64_t j = 0; j < row; j++) {                                      \
                        gs[j] = gs[j] + x[j];                                                \
                        sq[j] = sq[j] + x[j] * x[j];                                         \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
            for (int64_t j = 0; j < row; j++) {                                              \
                T mi = mr[j] + (gs[j] - mr[j]) * c1;                                         \
                T vi = vr[j] + (sq[j] - vr[j]) * c2;                                         \
                mr[j] = mi;                                                                  \
                vr[j] = vi;                                                                  \
                wr[j] = wr[j] - (mi * alpha) / (TF_SQRT_##SUF(vi) + eps);                    \
            }                                                                                \
        } else {                                                                             \
            for (int64_t j = 0; j < row; j++) {                                              \
                T mi = mr[j] - mr[j] * c1;                                                   \
                T vi = vr[j] - vr[j] * c2;                                                   \
                mr[j] = mi;                                                                  \
                vr[j] = vi;                                                                  \
                wr[j] = wr[j] - (mi * alpha) / (TF_SQRT_##SUF(vi) + eps);                    \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* RMSprop._body: v = v * rho + (g * g) * one_m_rho; centered: a = a * rho + g * one_m_rho, \
   d = (v - a * a) + eps, else d = v + eps; step = (g * lr) / sqrt(d); momentum:            \
   m = m * mom + step, w -= m; else w -= step */                                             \
TF_EXPORT void rmsprop_##SUF(const T *restrict g, T *restrict w, T *restrict v,              \
                             T *restrict a, T *restrict m, int64_t n, double lr_,            \
                             double rho_, double one_m_rho_, double eps_, double mom_) {     \
    const T lr = (T)lr_, rho = (T)rho_, one_m_rho = (T)one_m_rho_, eps = (T)eps_,            \
        mom = (T)mom_;                                                                       \
    if (a == NULL && m == NULL) {                                                            \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T vi = v[i] * rho + (gi * gi) * one_m_rho;                                       \
            v[i] = vi;                                                                       \
            w[i] = w[i] - (gi * lr) / TF_SQRT_##SUF(vi + eps);                                   \
        }                                                                                    \
    } else if (a == NULL) {                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T vi = v[i] * rho + (gi * gi) * one_m_rho;                                       \
            T mi = m[i] * mom + (gi * lr) / TF_SQRT_##SUF(vi + eps);                             \
            v[i] = vi;                                                                       \
            m[i] = mi;                                                                       \
            w[i] = w[i] - mi;                                                                \
        }                                                                                    \
    } else if (m == NULL) {                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T vi = v[i] * rho + (gi * gi) * one_m_rho;                                       \
            T ai = a[i] * rho + gi * one_m_rho;                                              \
            v[i] = vi;                                                                       \
            a[i] = ai;                                                                       \
            w[i] = w[i] - (gi * lr) / TF_SQRT_##SUF((vi - ai * ai) + eps);                       \
        }                                                                                    \
    } else {                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T gi = g[i];                                                                     \
            T vi = v[i] * rho + (gi * gi) * one_m_rho;                                       \
            T ai = a[i] * rho + gi * one_m_rho;                                              \
            T mi = m[i] * mom + (gi * lr) / TF_SQRT_##SUF((vi - ai * ai) + eps);                 \
            v[i] = vi;                                                                       \
            a[i] = ai;                                                                       \
            m[i] = mi;                                                                       \
            w[i] = w[i] - mi;                                                                \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* SGD: plain w -= g * lr; momentum m = m * mom - g * lr, then w += m, or (Nesterov)        \
   w += m * mom - g * lr */                                                                  \
TF_EXPORT void sgd_##SUF(const T *restrict g, T *restrict w, T *restrict m, int64_t n,       \
                         double lr_, double mom_, int64_t nesterov) {                        \
    const T lr = (T)lr_, mom = (T)mom_;                                                      \
    if (m == NULL) {                                                                         \
        for (int64_t i = 0; i < n; i++)                                                      \
            w[i] = w[i] - g[i] * lr;                                                         \
    } else if (!nesterov) {                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T mi = m[i] * mom - g[i] * lr;                                                   \
            m[i] = mi;                                                                       \
            w[i] = w[i] + mi;                                                                \
        }                                                                                    \
    } else {                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T step = g[i] * lr;                                                              \
            T mi = m[i] * mom - step;                                                        \
            m[i] = mi;                                                                       \
            w[i] = w[i] + (mi * mom - step);                                                 \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Optimizer._apply_weight_decay: w -= (w * wd) * lr */                                    \
TF_EXPORT void weight_decay_##SUF(T *restrict w, int64_t n, double wd_, double lr_) {        \
    const T wd = (T)wd_, lr = (T)lr_;                                                        \
    for (int64_t i = 0; i < n; i++)                                                          \
        w[i] = w[i] - (w[i] * wd) * lr;                                                      \
}                                                                                            \
                                                                                             \
/* Adagrad: acc += g * g; w -= (g * lr) / sqrt(acc + eps) */                                \
TF_EXPORT void adagrad_##SUF(const T *restrict g, T *restrict w, T *restrict acc, int64_t n, \
                             double lr_, double eps_) {                                      \
    const T lr = (T)lr_, eps = (T)eps_;                                                      \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                         \
        T ai = acc[i] + gi * gi;                                                             \
        acc[i] = ai;                                                                         \
        w[i] = w[i] - (gi * lr) / TF_SQRT_##SUF(ai + eps);                                   \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Adadelta: ag = ag * rho + (g * g) * one_m_rho;                                           \
   delta = -((sqrt(ad + eps) * g) / sqrt(ag + eps));                                        \
   ad = ad * rho + (delta * delta) * one_m_rho; w += delta * lr */                           \
TF_EXPORT void adadelta_##SUF(const T *restrict g, T *restrict w, T *restrict ag,            \
                              T *restrict ad, int64_t n, double lr_, double rho_,            \
                              double one_m_rho_, double eps_) {                              \
    const T lr = (T)lr_, rho = (T)rho_, one_m_rho = (T)one_m_rho_, eps = (T)eps_;            \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                         \
        T agi = ag[i] * rho + (gi * gi) * one_m_rho;                                         \
        T delta = -((TF_SQRT_##SUF(ad[i] + eps) * gi) / TF_SQRT_##SUF(agi + eps));           \
        ag[i] = agi;                                                                         \
        ad[i] = ad[i] * rho + (delta * delta) * one_m_rho;                                   \
        w[i] = w[i] + delta * lr;                                                            \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Adamax: m += (g - m) * c1; u = maximum(u * b2, |g|);                                     \
   w -= (m * lr) / ((u + eps) * one_m_b1p) */                                                \
TF_EXPORT void adamax_##SUF(const T *restrict g, T *restrict w, T *restrict m,               \
                            T *restrict u, int64_t n, double lr_, double c1_, double b2_,    \
                            double eps_, double one_m_b1p_) {                                \
    const T lr = (T)lr_, c1 = (T)c1_, b2 = (T)b2_, eps = (T)eps_, one_m_b1p = (T)one_m_b1p_; \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                         \
        T mi = m[i] + (gi - m[i]) * c1;                                                      \
        T ui = u[i] * b2;                                                                    \
        T ag = TF_ABS_##SUF(gi);                                                             \
        ui = TF_MAXIMUM(ui, ag);                                                             \
        m[i] = mi;                                                                           \
        u[i] = ui;                                                                           \
        w[i] = w[i] - (mi * lr) / ((ui + eps) * one_m_b1p);                                  \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Nadam: m += (g - m) * c1; v += (g * g - v) * c2;                                         \
   w -= (((m * u_t_1) / d1 + (g * one_m_ut) / d2) * lr) / (sqrt(v / one_m_b2p) + eps) */    \
TF_EXPORT void nadam_##SUF(const T *restrict g, T *restrict w, T *restrict m,                \
                           T *restrict v, int64_t n, double lr_, double c1_, double c2_,     \
                           double u_t_1_, double d1_, double one_m_ut_, double d2_,          \
                           double one_m_b2p_, double eps_) {                                 \
    const T lr = (T)lr_, c1 = (T)c1_, c2 = (T)c2_, u_t_1 = (T)u_t_1_, d1 = (T)d1_,           \
        one_m_ut = (T)one_m_ut_, d2 = (T)d2_, one_m_b2p = (T)one_m_b2p_, eps = (T)eps_;      \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                         \
        T mi = m[i] + (gi - m[i]) * c1;                                                      \
        T vi = v[i] + (gi * gi - v[i]) * c2;                                                 \
        T m_hat = (mi * u_t_1) / d1 + (gi * one_m_ut) / d2;                                  \
        m[i] = mi;                                                                           \
        v[i] = vi;                                                                           \
        w[i] = w[i] - (m_hat * lr) / (TF_SQRT_##SUF(vi / one_m_b2p) + eps);                  \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Lion: w -= sign(m * b1 + g * c1) * lr; m = m * b2 + g * c2 (np.sign: +-0 -> +0, NaN      \
   stays itself) */                                                                          \
TF_EXPORT void lion_##SUF(const T *restrict g, T *restrict w, T *restrict m, int64_t n,      \
                          double lr_, double b1_, double c1_, double b2_, double c2_) {      \
    const T lr = (T)lr_, b1 = (T)b1_, c1 = (T)c1_, b2 = (T)b2_, c2 = (T)c2_;                 \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T gi = g[i];                                                                         \
        T x = m[i] * b1 + gi * c1;                                                           \
        T sg = x > 0 ? (T)1 : x < 0 ? (T)-1 : x == 0 ? (T)0 : x;                             \
        w[i] = w[i] - sg * lr;                                                               \
        m[i] = m[i] * b2 + gi * c2;                                                          \
    }                                                                                        \
}

#define TF_SQRT_f32 sqrtf
#define TF_SQRT_f64 sqrt
#define TF_ABS_f32 fabsf
#define TF_ABS_f64 fabs
OPTIMIZER_KERNELS(float, f32)
OPTIMIZER_KERNELS(double, f64)
