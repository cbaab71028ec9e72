/* Elementwise activations in one pass, bit for bit the NumPy forms they replace
   (kernels.leaky_relu / leaky_relu_backprop): the same float operations on each element. */
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
}

ACTIVATIONS(float, f32)
ACTIVATIONS(double, f64)
