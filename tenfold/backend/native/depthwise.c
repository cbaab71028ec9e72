/* Depthwise 2-D convolution, NHWC, channel multiplier 1 (MobileNet's DepthwiseConv2D):
   x (N, H, W, C), filter w (KH, KW, C), output y (N, OH, OW, C). Any strides, dilations
   and explicit (possibly asymmetric, non-negative) pads; x is read unpadded, every tap's
   position checked against the image, so no padded copy is made. Channels are the
   contiguous inner loop (it vectorizes). Each call does the images [n0, n1) of a batch, so
   Python threads run chunks in parallel (ctypes releases the GIL).

   Taps are summed in window order (kh, then kw), the first valid tap written rather than
   added to a zero, as the NumPy twins in kernels.py do; taps that fall in the padding are
   skipped (the twins add their zero products). The channel loop runs in blocks of CB
   values held in a local array (registers) across the taps, then stored once. The forward
   and the input gradient are one gather through per-dimension tap tables (dw_gather).

   The file includes itself once per type: the part below the #else is the kernel text,
   written over T and instantiated as <name>_f32 and <name>_f64. */
#ifndef DW_T
#include "tf_native.h"

#define DW_CAT2(a, b) a##_##b
#define DW_CAT(a, b) DW_CAT2(a, b)
#define NAME(f) DW_CAT(f, DW_SFX)

#define DW_T float
#define DW_SFX f32
#define CB 32
#include "depthwise.c"
#undef DW_T
#undef DW_SFX
#undef CB

#define DW_T double
#define DW_SFX f64
#define CB 16
#include "depthwise.c"
#undef DW_T
#undef DW_SFX
#undef CB

#else
#define T DW_T

/* The ow in [0, OW) whose tap position ow*s + off lies in [0, n): [*lo, *hi). */
static inline void NAME(valid_range)(int64_t off, int64_t s, int64_t n, int64_t o,
                                     int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    *lo = a < o ? a : o;
    *hi = b < o ? b : o;
    if (*hi < *lo)
        *hi = *lo;
}

/* out[c0, c0 + m) (m <= CB) of one destination pixel: the sum over its taps (kh, kw), in
   window order, of src[r, q, c] * w[kh, kw, c] where r = th[kh], q = tw[kw] (a tap whose
   r or q lies outside [0, SH) / [0, SW) is skipped; so no table content leads outside
   src). The first valid tap is written, not added to a zero; none at all gives 0. */
static inline __attribute__((always_inline)) void NAME(taps_sum)(
        const T *restrict src, const T *restrict w, T *restrict out,
        const int64_t *restrict th, const int64_t *restrict tw, int64_t SH, int64_t SW,
        int64_t C, int64_t KH, int64_t KW, int64_t c0, int64_t m)
{
    T acc[CB];
    int first = 1;
    for (int64_t kh = 0; kh < KH; kh++) {
        const int64_t r = th[kh];
        if (r < 0 || r >= SH)
            continue;
        for (int64_t kw = 0; kw < KW; kw++) {
            const int64_t q = tw[kw];
            if (q < 0 || q >= SW)
                continue;
            const T *s = src + (r * SW + q) * C + c0;
            const T *wk = w + (kh * KW + kw) * C + c0;
            if (first) {
#pragma omp simd
                for (int64_t c = 0; c < m; c++)
                    acc[c] = s[c] * wk[c];
                first = 0;
            } else {
#pragma omp simd
                for (int64_t c = 0; c < m; c++)
                    acc[c] += s[c] * wk[c];
            }
        }
    }
    if (first)
        for (int64_t c = 0; c < m; c++)
            acc[c] = 0;
    for (int64_t c = 0; c < m; c++)
        out[c0 + c] = acc[c];
}

/* dst[n0:n1] (N, DH, DW, C): each pixel gathers src (N, SH, SW, C) through its taps;
   tab_h[i*KH + kh] is the src row that tap kh of dst row i reads (-1: none), tab_w[j*KW +
   kw] the src column. The forward (src x, dst y: row oh*s - p + kh*d) and the input
   gradient (src dy, dst dx: the output row that tap kh of input row ih feeds) are both
   this gather. */
TF_EXPORT void NAME(dw_gather)(const T *restrict src, const T *restrict w, T *restrict dst,
                               const int64_t *restrict tab_h, const int64_t *restrict tab_w,
                               int64_t n0, int64_t n1, int64_t SH, int64_t SW, int64_t C,
                               int64_t KH, int64_t KW, int64_t DH, int64_t DW)
{
    for (int64_t n = n0; n < n1; n++) {
        const T *srcn = src + n * SH * SW * C;
        for (int64_t i = 0; i < DH; i++)
            for (int64_t j = 0; j < DW; j++) {
                T *out = dst + ((n * DH + i) * DW + j) * C;
                int64_t c0 = 0;
                for (; c0 + CB <= C; c0 += CB)
                    NAME(taps_sum)(srcn, w, out, tab_h + i * KH, tab_w + j * KW, SH, SW, C,
                                   KH, KW, c0, CB);
                if (c0 < C)
                    NAME(taps_sum)(srcn, w, out, tab_h + i * KH, tab_w + j * KW, SH, SW, C,
                                   KH, KW, c0, C - c0);
            }
    }
}

/* p[c0, c0 + m) (m <= CB) += the sum over ow in [lo, hi) of x[ow * step + start + c] *
   g[ow * C + c] (every x index >= 0 for ow >= lo):
   one output row's products for one tap, summed in T (at most OW terms, in registers), the
   row sum added to the double total. */
static inline __attribute__((always_inline)) void NAME(row_products)(
        const T *restrict x, const T *restrict g, double *restrict p, int64_t lo, int64_t hi,
        int64_t step, int64_t start, int64_t C, int64_t c0, int64_t m)
{
    T acc[CB];
    for (int64_t c = 0; c < m; c++)
        acc[c] = 0;
    for (int64_t ow = lo; ow < hi; ow++) {
        const T *xi = x + (ow * step + start) + c0;
        const T *gi = g + ow * C + c0;
#pragma omp simd
        for (int64_t c = 0; c < m; c++)
            acc[c] += xi[c] * gi[c];
    }
    for (int64_t c = 0; c < m; c++)
        p[c0 + c] += (double)acc[c];
}

/* part (KH, KW, C), double: the filter gradient of the images [n0, n1), summed over
   x * dy. Each output row's products are summed in T (at most OW terms, in registers),
   each row sum added to the double total. */
TF_EXPORT void NAME(dw_backprop_filter1)(const T *restrict x, const T *restrict dy,
                                         double *restrict part, int64_t n0, int64_t n1,
                                         int64_t H, int64_t W, int64_t C, int64_t KH,
                                         int64_t KW, int64_t OH, int64_t OW,
                                         int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                                         int64_t ph, int64_t pw)
{
    for (int64_t i = 0; i < KH * KW * C; i++)
        part[i] = 0;
    for (int64_t n = n0; n < n1; n++) {
        const T *xn = x + n * H * W * C;
        for (int64_t oh = 0; oh < OH; oh++) {
            const T *g = dy + (n * OH + oh) * OW * C;
            for (int64_t kh = 0; kh < KH; kh++) {
                const int64_t ih = oh * sh - ph + kh * dh;
                if (ih < 0 || ih >= H)
                    continue;
                const T *xr = xn + ih * W * C;
                for (int64_t kw = 0; kw < KW; kw++) {
                    const int64_t off = kw * dw - pw;
                    int64_t lo, hi;
                    NAME(valid_range)(off, sw, W, OW, &lo, &hi);
                    if (lo == hi)
                        continue;
                    double *p = part + (kh * KW + kw) * C;
                    int64_t c0 = 0;
                    for (; c0 + CB <= C; c0 += CB)
                        NAME(row_products)(xr, g, p, lo, hi, sw * C, off * C, C, c0, CB);
                    if (c0 < C)
                        NAME(row_products)(xr, g, p, lo, hi, sw * C, off * C, C, c0, C - c0);
                }
            }
        }
    }
}

/* Channel multiplier M > 1 (filter (KH, KW, C, M), output channel c*M + m = input channel c
   times w[..., c, m]) runs the kernels above on C*M channels: the forward and the filter
   gradient on x with each channel repeated M times (dw_expand, a chunk of images at a time
   into a scratch array), the input gradient into a (.., C*M) scratch then summed over m
   (dw_reduce). */

/* xe (rows, C, M) = x (rows, C), each value repeated M times. */
TF_EXPORT void NAME(dw_expand)(const T *restrict x, T *restrict xe, int64_t rows, int64_t C,
                               int64_t M)
{
    for (int64_t r = 0; r < rows * C; r++)
        for (int64_t m = 0; m < M; m++)
            xe[r * M + m] = x[r];
}

/* dx (rows, C) = the sum over m (in order) of dxe (rows, C, M). */
TF_EXPORT void NAME(dw_reduce)(const T *restrict dxe, T *restrict dx, int64_t rows, int64_t C,
                               int64_t M)
{
    for (int64_t r = 0; r < rows * C; r++) {
        T s = dxe[r * M];
        for (int64_t m = 1; m < M; m++)
            s += dxe[r * M + m];
        dx[r] = s;
    }
}

#undef T
#endif
