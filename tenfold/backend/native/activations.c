/* Elementwise activations in one pass, bit for bit the NumPy forms they replace
   (kernels.leaky_relu / leaky_relu_backprop, and the bias add that precedes them,
   kernels.bias_add): the same float operations on each element. */
#include "tf_native.h"

#define ACTIVATIONS(T, SUF)                                                                   \
/* o = maximum(x * a, x) (NaN in, NaN out, as np.maximum) */                                 \
TF_EXPORT void leaky_relu_##SUF(const T *x, T *o, int64_t n, double alpha) {                 \
    const T a = (T)alpha;                                                                     \
    for (int64_t i = 0; i < n; i++) {                                                         \
        T xi = x[i], t = xi * a;                                                              \
        o[i] = (t >= xi || t != t) ? t : xi;                                                  \
    }                                                                                         \
}                                                                                             \
/* o = g * a where y * a >= y, else g (o may be g or y: each element is read before it is    \
   written) */                                                                                \
TF_EXPORT void leaky_relu_backprop_##SUF(const T *g, const T *y, T *o, int64_t n,            \
                                          double alpha) {                                     \
    const T a = (T)alpha;                                                                     \
    for (int64_t i = 0; i < n; i++) {                                                         \
        T yi = y[i], gi = g[i];                                                               \
        o[i] = (yi * a >= yi) ? gi * a : gi;                                                  \
    }                                                                                         \
}                                                                                             \
/* o = x + b over rows x c, b broadcast along the rows (o may be x). NumPy's broadcast add   \
   runs one short inner loop per row of c */                                                  \
TF_EXPORT void bias_add_##SUF(const T *x, const T *b, T *o, int64_t rows, int64_t c) {       \
    for (int64_t r = 0; r < rows; r++) {                                                      \
        const T *xr = x + r * c;                                                              \
        T *orow = o + r * c;                                                                  \
        for (int64_t j = 0; j < c; j++)                                                       \
            orow[j] = xr[j] + b[j];                                                           \
    }                                                                                         \
}                                                                                             \
/* o = relu(x + b) as bias_add then np.maximum(v, 0) (NaN stays NaN), in one pass (o may   \
   be x): a Dense layer's bias and ReLU after its product (fused_ops.matmul_bias) */          \
TF_EXPORT void bias_relu_##SUF(const T *x, const T *b, T *o, int64_t rows, int64_t c) {      \
    for (int64_t r = 0; r < rows; r++) {                                                      \
        const T *xr = x + r * c;                                                              \
        T *orow = o + r * c;                                                                  \
        for (int64_t j = 0; j < c; j++) {                                                     \
            T v = xr[j] + b[j];                                                               \
            orow[j] = (v > (T)0 || v != v) ? v : (T)0;   /* -0.0 -> 0.0, as np.maximum */    \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
/* o = g * (y > 0), the product with the mask as 1.0 / 0.0 as NumPy's multiply by a bool   \
   array computes it (inf or NaN times 0 is NaN); o may be g or y */                         \
TF_EXPORT void relu_grad_##SUF(const T *g, const T *y, T *o, int64_t n, double unused) {     \
    (void)unused;                                                                             \
    for (int64_t i = 0; i < n; i++) o[i] = g[i] * (y[i] > (T)0 ? (T)1 : (T)0);              \
}                                                                                             \
/* o = leaky_relu(x + b) as bias_add then leaky_relu, in one pass (o may be x) */            \
TF_EXPORT void bias_leaky_relu_##SUF(const T *x, const T *b, T *o, int64_t rows, int64_t c,  \
                                      double alpha) {                                         \
    const T a = (T)alpha;                                                                     \
    for (int64_t r = 0; r < rows; r++) {                                                      \
        const T *xr = x + r * c;                                                              \
        T *orow = o + r * c;                                                                  \
        for (int64_t j = 0; j < c; j++) {                                                     \
            T v = xr[j] + b[j], t = v * a;                                                    \
            orow[j] = (t >= v || t != t) ? t : v;                                             \
        }                                                                                     \
    }                                                                                         \
}

ACTIVATIONS(float, f32)
ACTIVATIONS(double, f64)
