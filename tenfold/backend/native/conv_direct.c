/* Direct 2-D convolution for few input channels (a vision model's first layer: K * C_in of
   9..48, where im2col + GEMM is a GEMM too shallow to run fast and an im2col copy as big as
   the work). NHWC, w (KH, KW, C, O), groups 1, any strides, dilations and (non-negative,
   asymmetric) pads; x is read unpadded: every tap range is clipped to the image, so nothing
   outside x is read.
   - forward: per output pixel, a block of O (a compile-time width, kept in registers) sums
     x * w[ky, kx, c, :] over the taps inside the image, in (ky, kx, c) order, then + bias
     and ReLU, written once;
   - forward + 2x2/2 max pooling (conv_bias_act_pool): the four pixels of each window, then
     the pooling with its argmax (the NumPy twin's tie and NaN rules), only the pooled output
     written;
   - filter gradient: per output row, dw[ky, kx, c, :] += sum over the row's pixels of
     x * dy (a row sum in T, kept in registers), added into a double partial per call (one
     call per chunk of images; the caller sums the partials in chunk order);
   - the pooled filter gradient: the same from the pooled gradient t and the argmax, each
     conv row's gradient made from them in a scratch row;
   - planar kernels, vectorized along x instead of over O (few channels on both sides): the
     input gradient (conv_direct_bpi, dy made planar) and the filter gradient for many taps
     (conv_direct_bpf_planar, x and dy made planar); with AVX-512, the forward of one input
     channel to four outputs packs four pixels to a vector (fwd_o4c1, the same sums);
   - average pooling whose windows tile the image, and its gradient (the NumPy path's
     operations in its order).
   Compiled once per type: this file includes itself with CD_T float and double. The Python
   wrapper (tenfold/backend/conv_direct.py) checks every size before a call. */
#ifndef CD_T
#include "tf_native.h"

/* The multiply-adds of these sums are fused where the machine has FMA: the NumPy twin is
   a BLAS GEMM, which fuses them too, so there are no NumPy bits to match, and one fused
   rounding per term is as accurate as two (a twice faster inner loop). Only here: the rest
   of the library builds with -ffp-contract=off. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* ceil(a / b) for b > 0 */
static inline int64_t cd_cdiv(int64_t a, int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static inline int64_t cd_clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* [*lo, *hi): the k in [0, K) with 0 <= base + k * d < n (d > 0) */
static inline void cd_range(int64_t base, int64_t d, int64_t n, int64_t K, int64_t *lo,
                            int64_t *hi) {
    if (d == 1) {   /* most convolutions: no division */
        *lo = cd_clamp(-base, 0, K);
        *hi = cd_clamp(n - base, *lo, K);
        return;
    }
    *lo = cd_clamp(cd_cdiv(-base, d), 0, K);
    *hi = cd_clamp(cd_cdiv(n - base, d), *lo, K);
}


/* the packed forward (fwd_o4c1): float, AVX-512 (its 128-bit broadcast loads and lane
   permutes; vector-extension shuffles across sizes go through the stack) */
#if defined(__AVX512F__)
#include <immintrin.h>
#define CD_PACKED 1
#else
#define CD_PACKED 0
#endif

#define CD_T float
#define CD_S(name) name##_f32
#include "conv_direct.c"
#undef CD_T
#undef CD_S
#undef CD_PACKED
#define CD_PACKED 0

#define CD_T double
#define CD_S(name) name##_f64
#include "conv_direct.c"
#undef CD_PACKED

#else  /* the kernels over T = CD_T */
typedef CD_T CD_S(t);
#define T CD_S(t)

/* The geometry of one call, as the wrapper checked it. */
typedef struct {
    int64_t H, W, C, OH, OW, O, KH, KW, sh, sw, dh, dw, pt, pl;
} CD_S(geo);

/* the clipped tap ranges of one output pixel */
typedef struct { int64_t iy0, ky0, ky1, ix0, kx0, kx1; } CD_S(taps);

static inline CD_S(taps) CD_S(taps_of)(const CD_S(geo) *g, int64_t oy, int64_t ox) {
    CD_S(taps) t;
    t.iy0 = oy * g->sh - g->pt;
    t.ix0 = ox * g->sw - g->pl;
    cd_range(t.iy0, g->dh, g->H, g->KH, &t.ky0, &t.ky1);
    cd_range(t.ix0, g->dw, g->W, g->KW, &t.kx0, &t.kx1);
    return t;
}

/* Vectors of 64, 32, 16 bytes and one T (GCC/Clang vector extensions, mapped to the
   machine's registers or split where it has none), unaligned; with the uint8 vectors of as
   many lanes (the argmax). All arithmetic stays in these vectors: a result stored as one
   width and read back as another stalls store forwarding (measured: a quarter of the
   time). */
typedef T CD_S(v64) __attribute__((vector_size(64), aligned(sizeof(T)), may_alias));
typedef T CD_S(v32) __attribute__((vector_size(32), aligned(sizeof(T)), may_alias));
typedef T CD_S(v16) __attribute__((vector_size(16), aligned(sizeof(T)), may_alias));
typedef T CD_S(v1) __attribute__((vector_size(sizeof(T)), aligned(sizeof(T)), may_alias));
typedef uint8_t CD_S(u64) __attribute__((vector_size(64 / sizeof(T)), aligned(1), may_alias));
typedef uint8_t CD_S(u32) __attribute__((vector_size(32 / sizeof(T)), aligned(1), may_alias));
typedef uint8_t CD_S(u16) __attribute__((vector_size(16 / sizeof(T)), aligned(1), may_alias));
typedef uint8_t CD_S(u1) __attribute__((vector_size(1), aligned(1), may_alias));

/* select(m, a, b): a where the lane mask m is set, else b (bitwise: NaNs pass unchanged) */
#define CD_SEL(IV, m, a, b) ((__typeof__(a))(((IV)(a) & (m)) | ((IV)(b) & ~(m))))

/* The kernels for blocks of NV vectors VT of output channels (o0.. of O), held in
   registers; U8: the uint8 vector of VT's lane count.
   - pixels: acc[p] = the conv at P output pixels of one row, ox + p (P = 1, or 4 pixels
             whose taps are all inside the image in x: they share the weight loads and
             give the adds independent chains), taps in (ky, kx, c) order;
   - fwd:    out = relu?(acc + bias);
   - pool:   per 2x2 window the four pixels (+ bias), their maximum and the offset of the
             first maximum in row-major order (kernels._pool_2x2_argmax_into: ties go
             left, then up; NaN as np.maximum), with relu the dead windows marked
             (idx + 4, kernels.mask_argmax_by_relu) and the ReLU (np.maximum(m, 0));
   - bpf:    dst[o] += sum over x in [x0, x1) of xr[base + x * step] * dyr[x, o] (even
             and odd x in two chains, then added), dst an image's sums in T. */
/* the loops of CD_PIXELS for C input channels (C a constant 1 where it is, so the channel
   loop goes) */
#define CD_PIXEL_LOOPS(VT, NV, P, C)                                                         \
    for (int64_t ky = t->ky0; ky < t->ky1; ky++) {                                           \
        const T *xr = xi + (t->iy0 + ky * g->dh) * g->W * (C);                               \
        const T *wr = w + ky * g->KW * (C) * O + o0;                                         \
        for (int64_t kx = t->kx0; kx < t->kx1; kx++) {                                       \
            const T *xp = xr + (t->ix0 + kx * g->dw) * (C);                                  \
            const T *wp = wr + kx * (C) * O;                                                 \
            for (int64_t c = 0; c < (C); c++) {                                              \
                const VT *wc = (const VT *)(wp + c * O);                                     \
                VT wv[NV];                                                                   \
                for (int k = 0; k < NV; k++) wv[k] = wc[k];                                  \
                for (int p = 0; p < P; p++) {                                                \
                    const T v = xp[p * g->sw * (C) + c];                                     \
                    for (int k = 0; k < NV; k++) acc[p][k] += v * wv[k];                     \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

#define CD_PIXELS(NAME, VT, NV, P)                                                          \
static inline __attribute__((always_inline)) void CD_S(pixels##P##_##NAME)(                \
        const T *restrict xi, const T *restrict w, const CD_S(geo) *g,                       \
        const CD_S(taps) *t, int64_t o0, VT (*acc)[NV]) {                                    \
    const int64_t O = g->O;                                                                  \
    for (int p = 0; p < P; p++)                                                              \
        for (int k = 0; k < NV; k++) acc[p][k] = (VT){0};                                    \
    if (g->C == 1) {                                                                         \
        CD_PIXEL_LOOPS(VT, NV, P, 1)                                                         \
    } else {                                                                                 \
        const int64_t C = g->C;                                                              \
        CD_PIXEL_LOOPS(VT, NV, P, C)                                                         \
    }                                                                                        \
}

#define CD_KIND(NAME, VT, NV, U8)                                                           \
CD_PIXELS(NAME, VT, NV, 1)                                                                   \
CD_PIXELS(NAME, VT, NV, 4)                                                                   \
                                                                                             \
static inline __attribute__((always_inline)) void CD_S(fwd_##NAME)(                        \
        const T *restrict xi, const T *restrict w, const T *restrict bias,                   \
        const CD_S(geo) *g, const CD_S(taps) *t, int64_t o0, int64_t relu, int P,            \
        T *restrict out) {                                                                   \
    typedef __typeof__((VT){0} < (VT){0}) IV;                                                \
    VT acc[4][NV];                                                                           \
    if (P == 4) CD_S(pixels4_##NAME)(xi, w, g, t, o0, acc);                                  \
    else CD_S(pixels1_##NAME)(xi, w, g, t, o0, acc);                                         \
    for (int p = 0; p < P; p++)                                                              \
        for (int k = 0; k < NV; k++) {                                                       \
            VT a = acc[p][k];                                                                \
            if (bias) a += ((const VT *)(bias + o0))[k];                                     \
            if (relu) a = (VT)((IV)a & ~(a < (VT){0}));                                      \
            ((VT *)(out + p * g->O))[k] = a;                                                 \
        }                                                                                    \
}                                                                                            \
                                                                                             \
/* pooled: the 2x2 windows of the v[row][pixel] block (+ bias), nw windows */            \
static inline __attribute__((always_inline)) void CD_S(pooled_##NAME)(                     \
        VT (*v)[4][NV], const T *restrict bias, int64_t o0, int64_t relu, int nw,            \
        int64_t O, T *restrict out, uint8_t *restrict idx) {                                 \
    typedef __typeof__((VT){0} < (VT){0}) IV;                                                \
    if (bias)                                                                                \
        for (int r = 0; r < 2; r++)                                                          \
            for (int p = 0; p < 2 * nw; p++)                                                 \
                for (int k = 0; k < NV; k++) v[r][p][k] += ((const VT *)(bias + o0))[k];     \
    for (int h = 0; h < nw; h++)                                                             \
        for (int k = 0; k < NV; k++) {                                                       \
            const VT a = v[0][2 * h][k], b = v[0][2 * h + 1][k];                             \
            const VT c = v[1][2 * h][k], d = v[1][2 * h + 1][k];                             \
            const IV rt = b > a, rb = d > c;                                                 \
            const VT top = CD_SEL(IV, (a >= b) | (a != a), a, b);                            \
            const VT bottom = CD_SEL(IV, (c >= d) | (c != c), c, d);                         \
            const IV bt = bottom > top;                                                      \
            VT m = CD_SEL(IV, (top >= bottom) | (top != top), top, bottom);                  \
            IV q = (bt & 2) | (((rb & bt) | (rt & ~bt)) & 1);                                \
            if (relu) {                                                                      \
                q |= ~(m > (VT){0}) & 4;                                                     \
                m = (VT)((IV)m & ~(m < (VT){0}));                                            \
            }                                                                                \
            ((VT *)(out + h * O))[k] = m;                                                    \
            ((U8 *)(idx + h * O))[k] = __builtin_convertvector(q, U8);                       \
        }                                                                                    \
}                                                                                            \
                                                                                             \
/* P == 4: two windows side by side, t[row] their first pixels' taps (all inside in x);  \
   else one window, t[2 * row + column] */                                                  \
static inline __attribute__((always_inline)) void CD_S(pool_##NAME)(                       \
        const T *restrict xi, const T *restrict w, const T *restrict bias,                   \
        const CD_S(geo) *g, const CD_S(taps) *t, int64_t o0, int64_t relu, int P,            \
        T *restrict out, uint8_t *restrict idx) {                                            \
    VT v[2][4][NV];   /* [row of the windows][pixel][vector] */                              \
    for (int r = 0; r < 2; r++) {                                                            \
        if (P == 4) CD_S(pixels4_##NAME)(xi, w, g, t + r, o0, v[r]);                         \
        else {                                                                               \
            CD_S(pixels1_##NAME)(xi, w, g, t + 2 * r, o0, v[r]);                             \
            CD_S(pixels1_##NAME)(xi, w, g, t + 2 * r + 1, o0, v[r] + 1);                     \
        }                                                                                    \
    }                                                                                        \
    CD_S(pooled_##NAME)(v, bias, o0, relu, P / 2, g->O, out, idx);                           \
}                                                                                            \
                                                                                             \
static inline __attribute__((always_inline)) void CD_S(bpf_##NAME)(                        \
        const T *restrict xr, int64_t base, const T *restrict dyr, T *restrict dst,          \
        int64_t x0, int64_t x1, int64_t step, int64_t O, int64_t o0) {                       \
    VT acc[2][NV];                                                                           \
    for (int k = 0; k < NV; k++) acc[0][k] = acc[1][k] = (VT){0};                            \
    int64_t x = x0;                                                                          \
    for (; x + 2 <= x1; x += 2)                                                              \
        for (int e = 0; e < 2; e++) {                                                        \
            const T v = xr[base + (x + e) * step];                                           \
            const VT *gp = (const VT *)(dyr + (x + e) * O + o0);                             \
            for (int k = 0; k < NV; k++) acc[e][k] += v * gp[k];                             \
        }                                                                                    \
    if (x < x1) {                                                                            \
        const T v = xr[base + x * step];                                                     \
        const VT *gp = (const VT *)(dyr + x * O + o0);                                       \
        for (int k = 0; k < NV; k++) acc[0][k] += v * gp[k];                                 \
    }                                                                                        \
    for (int k = 0; k < NV; k++) ((VT *)(dst + o0))[k] += acc[0][k] + acc[1][k];            \
}
/* patch_NAME: tacc[j, o0..] += sum over x in [x0, x1) of
   xr[base + ky * rs + x * sw + kx * dw] * dyr[x, o0..] for the nine taps j = 3 * ky + kx
   of a 3x3 filter on one channel */
#define CD_PATCH_KERNEL(NAME, VT, NV)                                                       \
static inline __attribute__((always_inline)) void CD_S(patch_##NAME)(                      \
        const T *restrict xr, int64_t base, int64_t rs, const T *restrict dyr,               \
        T *restrict tacc, int64_t x0, int64_t x1, int64_t sw, int64_t dw, int64_t O,         \
        int64_t o0) {                                                                        \
    VT acc[9][NV];                                                                           \
    for (int j = 0; j < 9; j++)                                                              \
        for (int k = 0; k < NV; k++) acc[j][k] = (VT){0};                                    \
    for (int64_t x = x0; x < x1; x++) {                                                      \
        const VT *gp = (const VT *)(dyr + x * O + o0);                                       \
        VT gv[NV];                                                                           \
        for (int k = 0; k < NV; k++) gv[k] = gp[k];                                          \
        for (int j = 0; j < 9; j++) {                                                        \
            const T v = xr[base + x * sw + (j / 3) * rs + (j % 3) * dw];                     \
            for (int k = 0; k < NV; k++) acc[j][k] += v * gv[k];                             \
        }                                                                                    \
    }                                                                                        \
    for (int j = 0; j < 9; j++)                                                              \
        for (int k = 0; k < NV; k++) ((VT *)(tacc + j * O + o0))[k] += acc[j][k];            \
}
#define CD_KINDP(NAME, VT, NV, U8) CD_KIND(NAME, VT, NV, U8) CD_PATCH_KERNEL(NAME, VT, NV)
CD_KINDP(w2, CD_S(v64), 2, CD_S(u64))
CD_KINDP(w1, CD_S(v64), 1, CD_S(u64))
CD_KINDP(wh, CD_S(v32), 1, CD_S(u32))
CD_KINDP(wq, CD_S(v16), 1, CD_S(u16))
CD_KINDP(ws, CD_S(v1), 1, CD_S(u1))

/* CALL(kind, o0) over the channel blocks of O, widest first: 2 and 1 vectors of 64 bytes,
   1 of 32, 1 of 16, one element. (64-byte loads at NumPy's 16-byte alignment span two
   cache lines; still measured ~10% faster here than 32-byte vectors, AVX-512.) */
#define CD_BLOCKS(O, CALL)                                                                  \
    do {                                                                                     \
        const int64_t w1_ = 64 / (int64_t)sizeof(T);                                         \
        int64_t o0 = 0;                                                                      \
        for (; o0 + 2 * w1_ <= (O); o0 += 2 * w1_) CALL(w2, o0);                             \
        for (; o0 + w1_ <= (O); o0 += w1_) CALL(w1, o0);                                     \
        for (; o0 + w1_ / 2 <= (O); o0 += w1_ / 2) CALL(wh, o0);                             \
        for (; o0 + w1_ / 4 <= (O); o0 += w1_ / 4) CALL(wq, o0);                             \
        for (; o0 < (O); o0++) CALL(ws, o0);                                                 \
    } while (0)

/* whether the taps of pixels ox .. ox + 3 of a row are all inside the image in x (then
   they run as one block of 4) */
static inline int CD_S(inner4)(const CD_S(geo) *g, const CD_S(taps) *t, int64_t ox) {
    if (ox + 4 > g->OW || t->kx0 != 0 || t->kx1 != g->KW) return 0;
    const int64_t last = (ox + 3) * g->sw - g->pl + (g->KW - 1) * g->dw;
    return last < g->W;
}

/* whether the taps of pixels ox .. ox + n - 1 of a row are all inside the image in x */
static inline int CD_S(inner_n)(const CD_S(geo) *g, const CD_S(taps) *t, int64_t ox,
                                int64_t n) {
    if (ox + n > g->OW || t->kx0 != 0 || t->kx1 != g->KW) return 0;
    return (ox + n - 1) * g->sw - g->pl + (g->KW - 1) * g->dw < g->W;
}

#if CD_PACKED
/* Four output channels of a one-channel, stride-1 conv (the Siamese first layer), four
   pixels to a 16-lane vector (lane 4 p + o: pixel p, channel o; out's own layout), NB
   blocks of four pixels side by side (their taps inside the image in x): per tap one
   four-pixel x load spread over the lanes and one weight load repeated four times, one
   multiply-add per block, against four scalar loads and four of 4-lane vectors in fwd_wq.
   Per lane the taps in (ky, kx) order, fused, as fwd_wq and the pooled kernel (bit for
   bit). */
static inline __attribute__((always_inline)) void CD_S(fwd_o4c1)(
        const T *restrict xi, const T *restrict w, const T *restrict bias,
        const CD_S(geo) *g, const CD_S(taps) *t, int64_t relu, T *restrict out,
        const int NB) {
    typedef CD_S(v64) VT;
    typedef __typeof__((VT){0} < (VT){0}) IV;
    /* lane 4 p + o takes element p of a broadcast 4-element load */
    const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    VT acc[4];
    for (int b = 0; b < NB; b++) acc[b] = (VT){0};
    for (int64_t ky = t->ky0; ky < t->ky1; ky++) {
        const T *xr = xi + (t->iy0 + ky * g->dh) * g->W + t->ix0;
        const T *wr = w + ky * g->KW * 4;
        for (int64_t kx = 0; kx < g->KW; kx++) {
            const VT wv = (VT)_mm512_broadcast_f32x4(_mm_loadu_ps(wr + kx * 4));
            const T *xp = xr + kx * g->dw;
            for (int b = 0; b < NB; b++) {
                const __m512 x4 = _mm512_broadcast_f32x4(_mm_loadu_ps(xp + 4 * b));
                acc[b] += (VT)_mm512_permutexvar_ps(spread, x4) * wv;
            }
        }
    }
    VT bv = (VT){0};
    if (bias) bv = (VT)_mm512_broadcast_f32x4(_mm_loadu_ps(bias));
    for (int b = 0; b < NB; b++) {
        VT a = acc[b];
        if (bias) a += bv;
        if (relu) a = (VT)((IV)a & ~(a < (VT){0}));
        *(VT *)(out + 16 * b) = a;
    }
}
#endif

/* out[n0:n1] = relu?(conv(x, w) + bias) (bias may be NULL); out (N, OH, OW, O) */
TF_EXPORT void CD_S(conv_direct_fwd)(
        const T *restrict x, const T *restrict w, const T *restrict bias, T *restrict out,
        int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
        int64_t O, int64_t KH, int64_t KW, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
        int64_t pt, int64_t pl, int64_t relu) {
    const CD_S(geo) g = {H, W, C, OH, OW, O, KH, KW, sh, sw, dh, dw, pt, pl};
    for (int64_t n = n0; n < n1; n++) {
        const T *xi = x + n * H * W * C;
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW;) {
                T *op = out + ((n * OH + oy) * OW + ox) * O;
                const CD_S(taps) t = CD_S(taps_of)(&g, oy, ox);
#if CD_PACKED
                if (O == 4 && C == 1 && sw == 1) {   /* 16 pixels, else 4, packed */
                    if (CD_S(inner_n)(&g, &t, ox, 16)) {
                        CD_S(fwd_o4c1)(xi, w, bias, &g, &t, relu, op, 4);
                        ox += 16;
                        continue;
                    }
                    if (CD_S(inner_n)(&g, &t, ox, 4)) {
                        CD_S(fwd_o4c1)(xi, w, bias, &g, &t, relu, op, 1);
                        ox += 4;
                        continue;
                    }
                }
#endif
                const int P = CD_S(inner4)(&g, &t, ox) ? 4 : 1;
#define CD_FWD(kind, o0) CD_S(fwd_##kind)(xi, w, bias, &g, &t, o0, relu, P, op + o0)
                if (P == 4) CD_BLOCKS(O, CD_FWD);
                else CD_BLOCKS(O, CD_FWD);   /* (two copies: each sees its P as a constant) */
#undef CD_FWD
                ox += P;
            }
    }
}

/* out, idx [n0:n1] = 2x2/2 max pooling (with argmax) of relu?(conv(x, w) + bias) over the
   pooled (HA, WA) = (OH // 2, OW // 2) windows; out and idx (N, HA, WA, O) */
TF_EXPORT void CD_S(conv_direct_fwd_pool)(
        const T *restrict x, const T *restrict w, const T *restrict bias, T *restrict out,
        uint8_t *restrict idx, int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C,
        int64_t HA, int64_t WA, int64_t O, int64_t KH, int64_t KW, int64_t sh, int64_t sw,
        int64_t dh, int64_t dw, int64_t pt, int64_t pl, int64_t relu) {
    const CD_S(geo) g = {H, W, C, 2 * HA, 2 * WA, O, KH, KW, sh, sw, dh, dw, pt, pl};
    for (int64_t n = n0; n < n1; n++) {
        const T *xi = x + n * H * W * C;
        for (int64_t py = 0; py < HA; py++)
            for (int64_t px = 0; px < WA;) {
                const int64_t at = ((n * HA + py) * WA + px) * O;
                T *op = out + at;
                uint8_t *ip = idx + at;
                /* two windows side by side (4 pixels of each row) where their taps are
                   inside the image in x, else one: t[row] or t[2 * row + column] */
                CD_S(taps) t[4];
                t[0] = CD_S(taps_of)(&g, 2 * py, 2 * px);
                const int P = px + 2 <= WA && CD_S(inner4)(&g, t, 2 * px) ? 4 : 2;
                if (P == 4) {
                    t[1] = CD_S(taps_of)(&g, 2 * py + 1, 2 * px);
                } else {
                    t[1] = CD_S(taps_of)(&g, 2 * py, 2 * px + 1);
                    t[2] = CD_S(taps_of)(&g, 2 * py + 1, 2 * px);
                    t[3] = CD_S(taps_of)(&g, 2 * py + 1, 2 * px + 1);
                }
#define CD_POOL(kind, o0) CD_S(pool_##kind)(xi, w, bias, &g, t, o0, relu, P, op + o0, ip + o0)
                if (P == 4) CD_BLOCKS(O, CD_POOL);
                else CD_BLOCKS(O, CD_POOL);
#undef CD_POOL
                px += P / 2;
            }
    }
}

/* tacc (KH, KW, C, O) += the filter gradient from conv output row oy of image xi, whose
   gradient is dyr (ow, O): its pixels in [xlo, xhi), tap by tap */
static void CD_S(bpf_taps)(const T *restrict xi, const T *restrict dyr, T *restrict tacc,
                           const CD_S(geo) *g, int64_t oy, int64_t ow, int64_t xlo,
                           int64_t xhi) {
    const int64_t C = g->C, O = g->O, step = g->sw * C;
    const int64_t iy0 = oy * g->sh - g->pt;
    int64_t ky0, ky1;
    cd_range(iy0, g->dh, g->H, g->KH, &ky0, &ky1);
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const T *xrow = xi + (iy0 + ky * g->dh) * g->W * C;
        for (int64_t kx = 0; kx < g->KW; kx++) {
            const int64_t off = kx * g->dw - g->pl;
            int64_t x0, x1;   /* the pixels x with 0 <= x * sw + off < W */
            cd_range(off, g->sw, g->W, ow, &x0, &x1);
            x0 = x0 < xlo ? xlo : x0;
            x1 = x1 > xhi ? xhi : x1;
            if (x0 >= x1) continue;
            for (int64_t c = 0; c < C; c++) {
                T *dst = tacc + ((ky * g->KW + kx) * C + c) * O;
#define CD_BPF(kind, o0) CD_S(bpf_##kind)(xrow, off * C + c, dyr, dst, x0, x1, step, O, o0)
                CD_BLOCKS(O, CD_BPF);
#undef CD_BPF
            }
        }
    }
}

/* The same for the whole row: a 3x3 filter on one channel (a first layer on grey images)
   takes the pixels whose nine taps are all inside the image together (patch_*: each dy
   vector loaded once for the nine taps, in registers), the others tap by tap. */
static void CD_S(bpf_row)(const T *restrict xi, const T *restrict dyr, T *restrict tacc,
                          const CD_S(geo) *g, int64_t oy, int64_t ow) {
    const int64_t iy0 = oy * g->sh - g->pt;
    int64_t ky0, ky1, xa, xb, ya, yb;
    if (g->C != 1 || g->KH != 3 || g->KW != 3) {
        CD_S(bpf_taps)(xi, dyr, tacc, g, oy, ow, 0, ow);
        return;
    }
    cd_range(iy0, g->dh, g->H, 3, &ky0, &ky1);
    cd_range(-g->pl, g->sw, g->W, ow, &xa, &xb);               /* kx = 0 */
    cd_range(2 * g->dw - g->pl, g->sw, g->W, ow, &ya, &yb);    /* kx = 2 */
    if (ky0 != 0 || ky1 != 3 || yb <= xa) {
        CD_S(bpf_taps)(xi, dyr, tacc, g, oy, ow, 0, ow);
        return;
    }
    const T *xr = xi + iy0 * g->W;   /* (iy0 >= 0: ky0 == 0) */
    const int64_t O = g->O, rs = g->dh * g->W;
#define CD_PATCH(kind, o0) \
    CD_S(patch_##kind)(xr, -g->pl, rs, dyr, tacc, xa, yb, g->sw, g->dw, O, o0)
    CD_BLOCKS(O, CD_PATCH);
#undef CD_PATCH
    if (xa > 0) CD_S(bpf_taps)(xi, dyr, tacc, g, oy, ow, 0, xa);
    if (yb < ow) CD_S(bpf_taps)(xi, dyr, tacc, g, oy, ow, yb, ow);
}

/* the sums of one image (tacc, m values in T, then zeroed) added into the double dwp */
static void CD_S(bpf_flush)(T *restrict tacc, double *restrict dwp, int64_t m) {
    for (int64_t i = 0; i < m; i++) dwp[i] += (double)tacc[i];
    for (int64_t i = 0; i < m; i++) tacc[i] = 0;
}

/* dwp (KH, KW, C, O), double, += the filter gradient of images [n0, n1) for output
   gradient dy (N, OH, OW, O), each image summed in tacc (KH * KW * C * O scratch) */
TF_EXPORT void CD_S(conv_direct_bpf)(
        const T *restrict x, const T *restrict dy, T *restrict tacc, double *restrict dwp,
        int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
        int64_t O, int64_t KH, int64_t KW, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
        int64_t pt, int64_t pl) {
    const CD_S(geo) g = {H, W, C, OH, OW, O, KH, KW, sh, sw, dh, dw, pt, pl};
    const int64_t m = KH * KW * C * O;
    for (int64_t i = 0; i < m; i++) tacc[i] = 0;
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t oy = 0; oy < OH; oy++)
            CD_S(bpf_row)(x + n * H * W * C, dy + (n * OH + oy) * OW * O, tacc, &g, oy, OW);
        CD_S(bpf_flush)(tacc, dwp, m);
    }
}

/* One pooled position's gradient routed to its window's four conv pixels, as the twin:
   r[q] = tp * (ip == q) (t times 0 or 1; r[q] = row q >> 1, column 2 * px + (q & 1)), and
   bsum += tp * (ip < 4) (the routed gradient's sum: a dead window's ip >= 4 routes none).
   Vectorized by hand (the compiler leaves this uint8-to-float mix scalar). */
static inline void CD_S(route)(const T *restrict tp, const uint8_t *restrict ip,
                               T *restrict r0, T *restrict r1, T *restrict bsum, int64_t O) {
    typedef CD_S(v32) V;
    typedef __typeof__((V){0} < (V){0}) IV;
    const int64_t L = 32 / (int64_t)sizeof(T);
    T *const r[4] = {r0, r0 + O, r1, r1 + O};
    int64_t o = 0;
    for (; o + L <= O; o += L) {
        const IV iv = __builtin_convertvector(*(const CD_S(u32) *)(ip + o), IV);
        const V tv = *(const V *)(tp + o);
        for (int q = 0; q < 4; q++)
            *(V *)(r[q] + o) = tv * __builtin_convertvector((iv == q) & 1, V);
        *(V *)(bsum + o) += tv * __builtin_convertvector((iv < 4) & 1, V);
    }
    for (; o < O; o++) {
        for (int q = 0; q < 4; q++) r[q][o] = tp[o] * (T)(ip[o] == q);
        bsum[o] += tp[o] * (T)(ip[o] < 4);
    }
}

/* The same for a stride-1 conv whose output went through 2x2/2 max pooling, from the pooled
   gradient t and the argmax idx (N, HA, WA, O): conv row 2 * py + qi gets t where
   idx == 2 * qi + qj at column 2 * px + qj (a dead window's idx >= 4 matches nothing), the
   two rows made in `rows` (2, 2 * WA, O) scratch. tacc: KH * KW * C * O + O scratch, the
   last O the routed gradient's sum; with db (O, double, or NULL), db += that sum. */
TF_EXPORT void CD_S(conv_direct_bpf_pool)(
        const T *restrict x, const T *restrict t, const uint8_t *restrict idx,
        T *restrict rows, T *restrict tacc, double *restrict dwp, double *restrict db,
        int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C, int64_t HA, int64_t WA,
        int64_t O, int64_t KH, int64_t KW, int64_t dh, int64_t dw, int64_t pt, int64_t pl) {
    const CD_S(geo) g = {H, W, C, 2 * HA, 2 * WA, O, KH, KW, 1, 1, dh, dw, pt, pl};
    const int64_t m = KH * KW * C * O, rl = 2 * WA * O;
    T *restrict bsum = tacc + m;
    for (int64_t i = 0; i < m + O; i++) tacc[i] = 0;
    for (int64_t n = n0; n < n1; n++) {
        for (int64_t py = 0; py < HA; py++) {
            const int64_t at = (n * HA + py) * WA * O;
            for (int64_t px = 0; px < WA; px++)
                CD_S(route)(t + at + px * O, idx + at + px * O, rows + 2 * px * O,
                            rows + rl + 2 * px * O, bsum, O);
            for (int64_t qi = 0; qi < 2; qi++)
                CD_S(bpf_row)(x + n * H * W * C, rows + qi * rl, tacc, &g, 2 * py + qi,
                              2 * WA);
        }
        CD_S(bpf_flush)(tacc, dwp, m);
        if (db) CD_S(bpf_flush)(bsum, db, O);
        else for (int64_t o = 0; o < O; o++) bsum[o] = 0;
    }
}

/* ROW(..., C) with C a constant where it is a usual channel count (its loops unrolled,
   vector code), else ANY(..., C) */
#define CD_MAX_C 64
#define CD_BY_CHANNELS(ROW, ANY, ...)                                                      \
    switch (C) {                                                                             \
    case 1: ROW(__VA_ARGS__, 1); break;                                                      \
    case 2: ROW(__VA_ARGS__, 2); break;                                                      \
    case 3: ROW(__VA_ARGS__, 3); break;                                                      \
    case 4: ROW(__VA_ARGS__, 4); break;                                                      \
    case 8: ROW(__VA_ARGS__, 8); break;                                                      \
    case 16: ROW(__VA_ARGS__, 16); break;                                                    \
    case 32: ROW(__VA_ARGS__, 32); break;                                                    \
    case 64: ROW(__VA_ARGS__, 64); break;                                                    \
    default: ANY(__VA_ARGS__, C); break;                                                     \
    }

/* dst[c * plane + r * drow + x] = src[r * srow + x * C + c] for rows r < rows, pixels
   x < cols, channels c < C: NHWC rows made planar */
static inline __attribute__((always_inline)) void CD_S(planar_rows)(
        const T *restrict src, int64_t rows, int64_t cols, int64_t srow, T *restrict dst,
        int64_t drow, int64_t plane, const int64_t C) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t x = 0; x < cols; x++)
            for (int64_t c = 0; c < C; c++)
                dst[c * plane + r * drow + x] = src[r * srow + x * C + c];
}

static void CD_S(planar_rows_any)(const T *restrict src, int64_t rows, int64_t cols,
                                  int64_t srow, T *restrict dst, int64_t drow, int64_t plane,
                                  int64_t C) {
    CD_S(planar_rows)(src, rows, cols, srow, dst, drow, plane, C);
}

static void CD_S(to_planar)(const T *restrict src, int64_t rows, int64_t cols, int64_t srow,
                            T *restrict dst, int64_t drow, int64_t plane, int64_t C) {
    CD_BY_CHANNELS(CD_S(planar_rows), CD_S(planar_rows_any), src, rows, cols, srow, dst, drow,
                   plane)
}

/* ---- the input gradient (few input channels: a layer after a trained input layer, a
   generator's last transposed conv) ----
   dx[iy, ix, c] = sum over the taps (ky, kx) and o of w[ky, kx, c, o] * dy[oy, ox, o] with
   oy * sh = iy + pt - ky * dh, ox * sw = ix + pl - kx * dw. Per image dy goes into a planar,
   zero-bordered scratch (O, HP, WP) at (oy + offh, ox + offw); then each dx row and x phase
   rx (the columns ix = rx + sw * jx) is a sum of shifted rows of that scratch times scalar
   weights, vectorized over jx (no gathers, no clipping in the inner loop), up to 4
   channels' sums in registers at a time, into a row scratch (C, JR), then written to dx.
   Strides cost nothing extra: only the taps that hit a dy pixel are summed (by phases). */
#define CD_BPI_MAX_K 16

/* out[c, j0 .. j0 + P * L) for the CC channels c of w's (and out's) first, of one dx row
   and phase: the sums over its taps, nr rows (scratch offsets rows[], filter offsets
   wrows[]) by nc columns (cols[], wcols[]). R = 1: even and odd column taps in two chains
   (the adds' latency); R = 2: also the next dx row (stride 1: each tap's row one scratch
   row down, rstep), into out + ostep, each weight load serving both rows. CO: w's
   stride between channels (O). */
static inline __attribute__((always_inline)) void CD_S(bpi_block)(
        const T *restrict pad, const T *restrict w, int64_t O, int64_t plane,
        const int64_t *rows, const int64_t *wrows, int nr, const int64_t *cols,
        const int64_t *wcols, int nc, int64_t j0, int64_t JR, T *restrict out, int64_t rstep,
        int64_t ostep, const int CC, const int P, const int R) {
    typedef CD_S(v64) VT;
    const int64_t L = 64 / (int64_t)sizeof(T);
    VT a[2][4][2];   /* [chain (R = 1) or row (R = 2)][channel][vector] */
    for (int e = 0; e < 2; e++)
        for (int c = 0; c < CC; c++)
            for (int p = 0; p < P; p++) a[e][c][p] = (VT){0};
    for (int r = 0; r < nr; r++)
        for (int64_t o = 0; o < O; o++) {
            const T *src = pad + o * plane + rows[r] + j0;
            const T *wr = w + wrows[r] + o;
            int b = 0;
            if (R == 2) {
                for (; b < nc; b++) {
                    VT u[2], v[2];
                    for (int p = 0; p < P; p++) {
                        u[p] = *(const VT *)(src + cols[b] + p * L);
                        v[p] = *(const VT *)(src + rstep + cols[b] + p * L);
                    }
                    const T *wu = wr + wcols[b];
                    for (int c = 0; c < CC; c++) {
                        const T x0 = wu[c * O];
                        for (int p = 0; p < P; p++) {
                            a[0][c][p] += x0 * u[p];
                            a[1][c][p] += x0 * v[p];
                        }
                    }
                }
                continue;
            }
            for (; b + 2 <= nc; b += 2) {
                VT u[2], v[2];
                for (int p = 0; p < P; p++) {
                    u[p] = *(const VT *)(src + cols[b] + p * L);
                    v[p] = *(const VT *)(src + cols[b + 1] + p * L);
                }
                const T *wu = wr + wcols[b], *wv = wr + wcols[b + 1];
                for (int c = 0; c < CC; c++) {
                    const T x0 = wu[c * O], x1 = wv[c * O];
                    for (int p = 0; p < P; p++) {
                        a[0][c][p] += x0 * u[p];
                        a[1][c][p] += x1 * v[p];
                    }
                }
            }
            if (b < nc) {
                VT u[2];
                for (int p = 0; p < P; p++) u[p] = *(const VT *)(src + cols[b] + p * L);
                const T *wu = wr + wcols[b];
                for (int c = 0; c < CC; c++)
                    for (int p = 0; p < P; p++) a[0][c][p] += wu[c * O] * u[p];
            }
        }
    for (int c = 0; c < CC; c++)
        for (int p = 0; p < P; p++) {
            if (R == 2) {
                *(VT *)(out + c * JR + j0 + p * L) = a[0][c][p];
                *(VT *)(out + ostep + c * JR + j0 + p * L) = a[1][c][p];
            } else {
                *(VT *)(out + c * JR + j0 + p * L) = a[0][c][p] + a[1][c][p];
            }
        }
}

/* the vector blocks [0, jv) of one dx row (R = 2: two) and phase, two vectors at a time */
static inline __attribute__((always_inline)) void CD_S(bpi_phase)(
        const T *restrict pad, const T *restrict w, int64_t O, int64_t plane,
        const int64_t *rows, const int64_t *wrows, int nr, const int64_t *cols,
        const int64_t *wcols, int nc, int64_t jv, int64_t JR, T *restrict out, int64_t rstep,
        int64_t ostep, const int CC, const int R) {
    const int64_t L = 64 / (int64_t)sizeof(T);
    int64_t j0 = 0;
    for (; j0 + 2 * L <= jv; j0 += 2 * L)
        CD_S(bpi_block)(pad, w, O, plane, rows, wrows, nr, cols, wcols, nc, j0, JR, out, rstep,
                        ostep, CC, 2, R);
    if (j0 < jv)
        CD_S(bpi_block)(pad, w, O, plane, rows, wrows, nr, cols, wcols, nc, j0, JR, out, rstep,
                        ostep, CC, 1, R);
}

/* dx[n0:n1] (N, H, W, C) = the input gradient of dy (N, OH, OW, O) and w (KH, KW, C, O)
   (C of any size, 4 channels at a time; the wrapper takes few); scratch: O * plane (the
   planar dy, plane >= HP * WP) + 2 * C * JR (two rows), with (the wrapper's sizes)
   offh = (KH - 1) * dh // sh, offw = (KW - 1) * dw // sw, HP = (H - 1 + pt) // sh + 1 + offh,
   JR = ceil(ceil(W / sw) / L) * L, WP = JR + (sw - 1 + pl) // sw + offw. Rows and columns of
   taps outside the scratch are skipped (none, with those sizes), so nothing outside it is
   read whatever the sizes. */
TF_EXPORT void CD_S(conv_direct_bpi)(
        const T *restrict dy, const T *restrict w, T *restrict dx, T *restrict scratch,
        int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
        int64_t O, int64_t KH, int64_t KW, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
        int64_t pt, int64_t pl, int64_t HP, int64_t WP, int64_t JR, int64_t offh,
        int64_t offw, int64_t plane) {
    const int64_t L = 64 / (int64_t)sizeof(T);
    if (C < 1 || KH > CD_BPI_MAX_K || KW > CD_BPI_MAX_K || JR % L || sh < 1 || sw < 1 ||
        offh < 0 || offw < 0 || plane < HP * WP)
        return;
    T *restrict pad = scratch, *restrict rowbuf = scratch + O * plane;
    for (int64_t i = 0; i < O * plane; i++) pad[i] = 0;
    /* the dy pixels inside the scratch (the others reach no dx pixel) */
    const int64_t ohn = cd_clamp(HP - offh, 0, OH), own = cd_clamp(WP - offw, 0, OW);
    int64_t rows[CD_BPI_MAX_K], wrows[CD_BPI_MAX_K], cols[CD_BPI_MAX_K], wcols[CD_BPI_MAX_K];
    for (int64_t n = n0; n < n1; n++) {
        const T *d = dy + n * OH * OW * O;
        CD_S(to_planar)(d, ohn, own, OW * O, pad + offh * WP + offw, WP, plane, O);
        for (int64_t iy = 0; iy < H;) {
            int nr = 0, pair = sh == 1 && iy + 1 < H;
            for (int64_t ky = 0; ky < KH; ky++) {
                const int64_t t = iy + pt - ky * dh;
                if (t % sh) continue;
                const int64_t r = t / sh + offh;
                if (r < 0 || r >= HP) continue;
                pair &= r + 1 < HP;
                rows[nr] = r * WP;
                wrows[nr++] = ky * KW * C * O;
            }
            /* stride 1 (every tap inside the scratch): rows iy and iy + 1 together, the
               second one scratch row down for each tap */
            if (pair && nr < KH) pair = 0;
            const int R = pair ? 2 : 1;
            for (int64_t rx = 0; rx < sw && rx < W; rx++) {
                const int64_t jn = (W - rx + sw - 1) / sw, jv = (jn + L - 1) / L * L;
                if (jv > JR) return;
                int nc = 0;
                for (int64_t kx = 0; kx < KW; kx++) {
                    const int64_t t = rx + pl - kx * dw;
                    if (t % sw) continue;
                    const int64_t q = t / sw + offw;
                    if (q < 0 || q + jv > WP) continue;
                    cols[nc] = q;
                    wcols[nc++] = kx * C * O;
                }
                for (int64_t c0 = 0; c0 < C; c0 += 4) {
                    const T *wc = w + c0 * O;
                    T *out = rowbuf + c0 * JR;
#define CD_BPI(CC, RR) CD_S(bpi_phase)(pad, wc, O, plane, rows, wrows, nr, cols, wcols, nc, \
                                       jv, JR, out, WP, C * JR, CC, RR)
                    if (R == 2)
                        switch (C - c0) {
                        case 1: CD_BPI(1, 2); break;
                        case 2: CD_BPI(2, 2); break;
                        case 3: CD_BPI(3, 2); break;
                        default: CD_BPI(4, 2); break;
                        }
                    else
                        switch (C - c0) {
                        case 1: CD_BPI(1, 1); break;
                        case 2: CD_BPI(2, 1); break;
                        case 3: CD_BPI(3, 1); break;
                        default: CD_BPI(4, 1); break;
                        }
#undef CD_BPI
                }
                for (int e = 0; e < R; e++) {
                    T *dxr = dx + (n * H + iy + e) * W * C;
                    const T *rb = rowbuf + e * C * JR;
                    for (int64_t jx = 0; jx < jn; jx++)
                        for (int64_t c = 0; c < C; c++)
                            dxr[(rx + jx * sw) * C + c] = rb[c * JR + jx];
                }
            }
            iy += R;
        }
    }
}

/* ---- the filter gradient, planar (stride 1 in x; few channels: any number of taps) ----
   dw[ky, kx, c, o] = sum over images and output pixels of x[oy * sh - pt + ky * dh,
   ox - pl + kx * dw, c] * dy[oy, ox, o]. Each image goes into a zero-bordered planar
   scratch first, x as (C, HX, WX) at (iy + pt, ix + pl) and dy as (O, OH, OWR) (OWR: OW up
   to whole vectors, the tail zero); then per block of up to 4 output channels, input
   channel and tap, the sums over the image run in vector registers (each x vector load
   serving the block; the planes of one block and channel stay in L1), added into vector
   sums per (tap, c, o) kept in the scratch; their lanes are added at the end of the call
   in a fixed tree, into the double dwp. */
static inline __attribute__((always_inline)) T CD_S(lanes_sum)(CD_S(v64) v) {
    const int L = 64 / (int)sizeof(T);
    T t[64 / sizeof(T)];
    for (int i = 0; i < L; i++) t[i] = v[i];
    for (int h = L / 2; h >= 1; h /= 2)
        for (int i = 0; i < h; i++) t[i] += t[i + h];
    return t[0];
}

/* vacc[k] += the sums over the image's rows of x row (xr, stepping xstep) * dy plane
   o0 + k's rows, k < CC */
static inline __attribute__((always_inline)) void CD_S(bpfp_taps)(
        const T *restrict xr, const T *restrict yr, CD_S(v64) *restrict vacc, int64_t xstep,
        int64_t OH, int64_t OWR, int64_t yplane, const int CC) {
    typedef CD_S(v64) VT;
    const int64_t L = 64 / (int64_t)sizeof(T);
    VT a0[4], a1[4];
    for (int k = 0; k < CC; k++) a0[k] = a1[k] = (VT){0};
    for (int64_t oy = 0; oy < OH; oy++, xr += xstep, yr += OWR) {
        int64_t j = 0;
        for (; j + 2 * L <= OWR; j += 2 * L) {
            const VT u = *(const VT *)(xr + j), v = *(const VT *)(xr + j + L);
            for (int k = 0; k < CC; k++) {
                a0[k] += u * *(const VT *)(yr + k * yplane + j);
                a1[k] += v * *(const VT *)(yr + k * yplane + j + L);
            }
        }
        if (j < OWR) {
            const VT u = *(const VT *)(xr + j);
            for (int k = 0; k < CC; k++)
                ((oy & 1) ? a1 : a0)[k] += u * *(const VT *)(yr + k * yplane + j);
        }
    }
    for (int k = 0; k < CC; k++) vacc[k] += a0[k] + a1[k];
}

/* The same for a whole filter row (KB = KW taps, a constant) and 4 output channels: each
   dy vector loaded once for the KB taps (9 loads for 20 multiply-adds at KB = 5, against
   25 tap by tap); vacc[kb * C * O + k] += its sums, kb < KB, k < 4. */
static inline __attribute__((always_inline)) void CD_S(bpfp_row_taps)(
        const T *restrict xr, const T *restrict yr, CD_S(v64) *restrict vacc, int64_t xstep,
        int64_t OH, int64_t OWR, int64_t yplane, int64_t dw, int64_t tstep, const int KB) {
    typedef CD_S(v64) VT;
    const int64_t L = 64 / (int64_t)sizeof(T);
    VT a[5][4];
    for (int kb = 0; kb < KB; kb++)
        for (int k = 0; k < 4; k++) a[kb][k] = (VT){0};
    for (int64_t oy = 0; oy < OH; oy++, xr += xstep, yr += OWR)
        for (int64_t j = 0; j < OWR; j += L) {
            VT y[4];
            for (int k = 0; k < 4; k++) y[k] = *(const VT *)(yr + k * yplane + j);
            for (int kb = 0; kb < KB; kb++) {
                const VT u = *(const VT *)(xr + j + kb * dw);
                for (int k = 0; k < 4; k++) a[kb][k] += u * y[k];
            }
        }
    for (int kb = 0; kb < KB; kb++)
        for (int k = 0; k < 4; k++) vacc[kb * tstep + k] += a[kb][k];
}

/* dwp (KH, KW, C, O), double, += the filter gradient of images [n0, n1); scratch:
   C * xplane + O * yplane + KH * KW * C * O * L, xplane >= HX * WX and yplane >= OH * OWR
   (the planes' strides), with (the wrapper's sizes) HX = (OH - 1) * sh + (KH - 1) * dh + 1
   (the rows read), OWR = ceil(OW / L) * L, WX = OWR + (KW - 1) * dw. Pixels of x outside
   those rows and columns are read by no tap and left out. */
TF_EXPORT void CD_S(conv_direct_bpf_planar)(
        const T *restrict x, const T *restrict dy, T *restrict scratch, double *restrict dwp,
        int64_t n0, int64_t n1, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
        int64_t O, int64_t KH, int64_t KW, int64_t sh, int64_t dh, int64_t dw, int64_t pt,
        int64_t pl, int64_t HX, int64_t WX, int64_t OWR, int64_t xplane, int64_t yplane) {
    typedef CD_S(v64) VT;
    const int64_t L = 64 / (int64_t)sizeof(T);
    if (OWR % L || OWR < OW || WX < OWR + (KW - 1) * dw || HX < (OH - 1) * sh +
        (KH - 1) * dh + 1 || sh < 1 || dh < 1 || dw < 1 || pt < 0 || pl < 0 ||
        xplane < HX * WX || yplane < OH * OWR || xplane % L || yplane % L)
        return;
    const int64_t m = KH * KW * C * O;
    T *restrict xs = scratch, *restrict ys = scratch + C * xplane;
    VT *restrict vacc = (VT *)(ys + O * yplane);
    for (int64_t i = 0; i < C * xplane + O * yplane; i++) scratch[i] = 0;
    for (int64_t i = 0; i < m; i++) vacc[i] = (VT){0};
    const int64_t hn = cd_clamp(HX - pt, 0, H), wn = cd_clamp(WX - pl, 0, W);
    for (int64_t n = n0; n < n1; n++) {
        CD_S(to_planar)(x + n * H * W * C, hn, wn, W * C, xs + pt * WX + pl, WX, xplane, C);
        CD_S(to_planar)(dy + n * OH * OW * O, OH, OW, OW * O, ys, OWR, yplane, O);
        for (int64_t o0 = 0; o0 < O; o0 += 4)
            for (int64_t c = 0; c < C; c++)
                for (int64_t ky = 0; ky < KH; ky++) {
                    if (O - o0 >= 4 && (KW == 3 || KW == 5)) {   /* the row's taps at once */
                        const T *xr = xs + c * xplane + ky * dh * WX;
                        VT *va = vacc + (ky * KW * C + c) * O + o0;
#define CD_ROW(KB) CD_S(bpfp_row_taps)(xr, ys + o0 * yplane, va, sh * WX, OH, OWR, yplane, dw, \
                                       C * O, KB)
                        if (KW == 5) CD_ROW(5);
                        else CD_ROW(3);
#undef CD_ROW
                        continue;
                    }
                    for (int64_t kx = 0; kx < KW; kx++) {
                        const T *xr = xs + c * xplane + ky * dh * WX + kx * dw;
                        VT *va = vacc + ((ky * KW + kx) * C + c) * O + o0;
#define CD_BPFP(CC) CD_S(bpfp_taps)(xr, ys + o0 * yplane, va, sh * WX, OH, OWR, yplane, CC)
                        switch (O - o0) {
                        case 1: CD_BPFP(1); break;
                        case 2: CD_BPFP(2); break;
                        case 3: CD_BPFP(3); break;
                        default: CD_BPFP(4); break;
                        }
#undef CD_BPFP
                    }
                }
    }
    for (int64_t i = 0; i < m; i++) dwp[i] += (double)CD_S(lanes_sum)(vacc[i]);
}

/* ---- average pooling whose windows tile the image (stride = window, no pads: the usual
   AveragePooling2D(k)); a remainder of rows and columns is no window's ----
   Each window's elements summed in row-major order, then / (KH * KW): the NumPy path's
   operations in its order (its bits). Per window, the C channels' sums in registers where
   C is one of the usual counts (a compile-time constant there: vector code). */
static inline __attribute__((always_inline)) void CD_S(avg_row)(
        const T *restrict xr, T *restrict o, int64_t W, int64_t WO, int64_t KH, int64_t KW,
        const int64_t C) {
    const T cnt = (T)(KH * KW);
    for (int64_t ox = 0; ox < WO; ox++, o += C) {
        const T *xw = xr + ox * KW * C;
        T a[CD_MAX_C];   /* (C <= CD_MAX_C, a constant: registers) */
        for (int64_t c = 0; c < C; c++) a[c] = xw[c];
        for (int64_t j = 1; j < KW; j++)
            for (int64_t c = 0; c < C; c++) a[c] += xw[j * C + c];
        for (int64_t i = 1; i < KH; i++)
            for (int64_t j = 0; j < KW; j++)
                for (int64_t c = 0; c < C; c++) a[c] += xw[(i * W + j) * C + c];
        for (int64_t c = 0; c < C; c++) o[c] = a[c] / cnt;
    }
}

/* the same for any C: the sums made in o */
static void CD_S(avg_row_any)(const T *restrict xr, T *restrict o, int64_t W, int64_t WO,
                              int64_t KH, int64_t KW, int64_t C) {
    const T cnt = (T)(KH * KW);
    for (int64_t ox = 0; ox < WO; ox++, o += C) {
        const T *xw = xr + ox * KW * C;
        for (int64_t c = 0; c < C; c++) o[c] = xw[c];
        for (int64_t j = 1; j < KW; j++)
            for (int64_t c = 0; c < C; c++) o[c] += xw[j * C + c];
        for (int64_t i = 1; i < KH; i++)
            for (int64_t j = 0; j < KW; j++)
                for (int64_t c = 0; c < C; c++) o[c] += xw[(i * W + j) * C + c];
        for (int64_t c = 0; c < C; c++) o[c] /= cnt;
    }
}

static inline __attribute__((always_inline)) void CD_S(avg_grad_row)(
        const T *restrict gr, T *restrict d, int64_t W, int64_t WO, int64_t KH, int64_t KW,
        const int64_t C) {
    const T cnt = (T)(KH * KW);
    for (int64_t ox = 0; ox < WO; ox++) {
        T q[CD_MAX_C];   /* (C <= CD_MAX_C, a constant: registers) */
        for (int64_t c = 0; c < C; c++) q[c] = gr[ox * C + c] / cnt;
        for (int64_t i = 0; i < KH; i++)
            for (int64_t j = 0; j < KW; j++)
                for (int64_t c = 0; c < C; c++) d[(i * W + ox * KW + j) * C + c] = q[c];
    }
}

static void CD_S(avg_grad_row_any)(const T *restrict gr, T *restrict d, int64_t W,
                                   int64_t WO, int64_t KH, int64_t KW, int64_t C) {
    const T cnt = (T)(KH * KW);
    for (int64_t ox = 0; ox < WO; ox++)
        for (int64_t c = 0; c < C; c++) {
            const T q = gr[ox * C + c] / cnt;
            for (int64_t i = 0; i < KH; i++)
                for (int64_t j = 0; j < KW; j++) d[(i * W + ox * KW + j) * C + c] = q;
        }
}

/* out[n0:n1] (N, HO, WO, C) = the means of the KH x KW windows tiling x (N, H, W, C) */
TF_EXPORT void CD_S(avg_pool_tiling)(const T *restrict x, T *restrict out, int64_t n0,
                                     int64_t n1, int64_t H, int64_t W, int64_t C, int64_t HO,
                                     int64_t WO, int64_t KH, int64_t KW) {
    if (HO * KH > H || WO * KW > W || KH < 1 || KW < 1 || C < 1) return;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t oy = 0; oy < HO; oy++) {
            const T *xr = x + (n * H + oy * KH) * W * C;
            T *o = out + (n * HO + oy) * WO * C;
            CD_BY_CHANNELS(CD_S(avg_row), CD_S(avg_row_any), xr, o, W, WO, KH, KW)
        }
}

/* its gradient: dx[n0:n1] (N, H, W, C) = g / (KH * KW) over each window, 0 in the
   remainder */
TF_EXPORT void CD_S(avg_pool_grad_tiling)(const T *restrict g, T *restrict dx, int64_t n0,
                                          int64_t n1, int64_t H, int64_t W, int64_t C,
                                          int64_t HO, int64_t WO, int64_t KH, int64_t KW) {
    if (HO * KH > H || WO * KW > W || KH < 1 || KW < 1 || C < 1) return;
    for (int64_t n = n0; n < n1; n++) {
        T *dn = dx + n * H * W * C;
        for (int64_t oy = 0; oy < HO; oy++) {
            const T *gr = g + (n * HO + oy) * WO * C;
            T *d = dn + oy * KH * W * C;
            CD_BY_CHANNELS(CD_S(avg_grad_row), CD_S(avg_grad_row_any), gr, d, W, WO, KH, KW)
            for (int64_t i = 0; i < KH; i++)   /* the columns past the last window */
                for (int64_t e = WO * KW * C; e < W * C; e++) d[i * W * C + e] = 0;
        }
        for (int64_t e = HO * KH * W * C; e < H * W * C; e++) dn[e] = 0;   /* the rows */
    }
}

#undef T
#undef CD_KIND
#undef CD_PIXELS
#undef CD_PIXEL_LOOPS
#undef CD_PATCH_KERNEL
#undef CD_KINDP
#undef CD_BLOCKS
#undef CD_BPI_MAX_K
#undef CD_BY_CHANNELS
#undef CD_MAX_C
#endif
