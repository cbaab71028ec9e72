/* 2-D convolution as an implicit GEMM over channels-last arrays (float32): no im2col copy.
   The output's channels are the GEMM's columns, its pixels the rows; each row's K operand is
   read straight from the (already padded) input: for a tap (ky, kx), pixel j of output row i
   reads x[i*sh + ky*dh, j*sw + kx*dw, :].

   With AVX-512 a micro-kernel keeps an R pixels x (16 V) channels block of the output in
   registers (R * V accumulators) over the whole reduction, loading each weight vector once per
   R pixels and broadcasting each input value once per V vectors: the forward's 8x1, 8x2 and
   4x4 blocks use 8, 16 and 16 of the 32 vector registers (bigger ones spilled and measured
   up to 2x slower), the filter gradient's 14x1, 12x2 and 6x4 blocks 14, 24 and 24. A
   forward block's pixels are consecutive output pixels, across rows and images (no short
   blocks at the end of each row), and its outputs may go to a strided view (the input
   gradient's phases write dx in place). Without AVX-512 only conv_simd is built (it says 0)
   and the callers keep im2col + GEMM.

   conv_fwd:  y[n,i,j,:] = bias + sum_{ky,kx,c} xp[n, i*sh+ky*dh, j*sw+kx*dw, c] * w[ky,kx,c,:]
              (then ReLU if asked);
   conv_dw:   dw[ky,kx,c,:] = sum_{n,i,j} xp[n, i*sh+ky*dh, j*sw+kx*dw, c] * dy[n,i,j,:].
   Every index is bounded by the shapes the caller passes (checked in Python): xp is
   (n, hp, wp, c) with hp >= (ho-1)*sh + (kh-1)*dh + 1 and wp likewise. */
#include "tf_native.h"
#include "tf_scratch.h"
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* R pixels x V vectors of 16 channels, channels [ob, ob + 16 V); the last vector masked by
   `tail` (all ones unless the block ends past O). Pixel r's window starts at xr[r], its
   output at yr[r] (a block may span output rows and images); a last, short block (`rows`
   < R) repeats its last pixel's pointers and does not store past `rows`. */
#define FWD_MK(V, R)                                                                         \
static inline __attribute__((always_inline)) void fwd_mk_##V##_##R(                         \
        const float *const *xr, int64_t rs, int64_t c, int64_t kh, int64_t kw, int64_t dh,   \
        int64_t dwc, const float *w, int64_t ws, int64_t ob, __mmask16 tail,                 \
        const float *bias, int relu, float *const *yr, int64_t rows, int64_t t) {            \
    /* t < 0: every tap; t >= 0: tap t only, added to y's partial sums unless t == 0 */     \
    __m512 acc[R][V];                                                                        \
    for (int v = 0; v < V; v++) {                                                            \
        __mmask16 m = v == V - 1 ? tail : (__mmask16)0xFFFF;                                 \
        if (t > 0) {                                                                         \
            for (int r = 0; r < R; r++)                                                      \
                acc[r][v] = r < rows ? _mm512_maskz_loadu_ps(m, yr[r] + ob + 16 * v)        \
                                     : _mm512_setzero_ps();                                  \
        } else {                                                                             \
            __m512 b0 = bias ? _mm512_maskz_loadu_ps(m, bias + ob + 16 * v)                 \
                             : _mm512_setzero_ps();                                          \
            for (int r = 0; r < R; r++) acc[r][v] = b0;                                      \
        }                                                                                    \
    }                                                                                        \
    /* undilated in x: a tap row's (kx, c) pairs are one contiguous run of kw * c values */ \
    const int merged = dwc == c && t < 0;                                                    \
    const int64_t ky0 = t < 0 ? 0 : t / kw, ky1 = t < 0 ? kh : ky0 + 1;                      \
    const int64_t kx0 = t < 0 ? 0 : t % kw, kx1 = t < 0 ? (merged ? 1 : kw) : kx0 + 1;       \
    const int64_t cs = merged ? kw * c : c;                                                  \
    if (t >= 0 && t != kh * kw - 1) relu = 0;  /* ReLU once every tap is in */              \
    for (int64_t ky = ky0; ky < ky1; ky++) {                                                 \
        for (int64_t kx = kx0; kx < kx1; kx++) {                                             \
            const float *xk[R];                                                              \
            for (int r = 0; r < R; r++) xk[r] = xr[r] + ky * dh * rs + kx * dwc;             \
            const float *wk = w + (ky * kw + kx) * c * ws;                                   \
            for (int64_t ci = 0; ci < cs; ci++) {                                            \
                __m512 b[V];                                                                 \
                for (int v = 0; v < V; v++)                                                  \
                    b[v] = _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,       \
                                                 wk + ci * ws + 16 * v);                     \
                for (int r = 0; r < R; r++) {                                                \
                    __m512 a = _mm512_set1_ps(xk[r][ci]);                                    \
                    for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]); \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < R && r < rows; r++)                                                  \
        for (int v = 0; v < V; v++) {                                                        \
            __m512 s = relu ? _mm512_max_ps(acc[r][v], _mm512_setzero_ps()) : acc[r][v];     \
            _mm512_mask_storeu_ps(yr[r] + ob + 16 * v,                                       \
                                  v == V - 1 ? tail : (__mmask16)0xFFFF, s);                 \
        }                                                                                    \
}
FWD_MK(4, 4)
FWD_MK(2, 8)
FWD_MK(1, 8)

/* The output's pixels [p0, p1) (flattened over images and rows) in blocks of R, all with
   channels [ob, ob + 64) or the last, narrower block. `wpk`: the filter packed as
   (o / 64, kh, kw, c, 64) for the full 64-blocks (each tap's c x 64 panel one contiguous run,
   so it stays in L1 without cache-set conflicts), or NULL to read them from w as well. */
#define FWD_BLOCK(V, R)                                                                      \
static inline __attribute__((always_inline)) void fwd_pixels_##V(                           \
        const float *xp, int64_t hp, int64_t wp, int64_t c, const float *w, int64_t ws,      \
        int64_t kh, int64_t kw, int64_t ob, __mmask16 tail, int64_t sh,                      \
        int64_t sw, int64_t dh, int64_t dwc, const float *bias, int relu, float *y,          \
        const int64_t *ys, int64_t ho, int64_t wo, const int64_t *at, int64_t p0, int64_t p1, \
        int64_t t) {                                                                         \
    const int64_t rs = wp * c, pix = sw * c;                                                 \
    /* the next pixel's (image, row, column) and its x and y pointers, stepped along from    \
       p0's, `at` */                                                                         \
    int64_t b = at[0], i = at[1], j = at[2];                                                 \
    const float *xn = xp + (b * hp + i * sh) * rs + j * pix;                                 \
    float *yn = y + b * ys[0] + i * ys[1] + j * ys[2];                                       \
    for (int64_t p = p0; p < p1; p += R) {                                                   \
        const int64_t rows = p1 - p < R ? p1 - p : R;                                        \
        const float *xr[R];                                                                  \
        float *yr[R];                                                                        \
        for (int r = 0; r < R; r++) {                                                        \
            if (r >= rows) {                                                                 \
                xr[r] = xr[r - 1];                                                           \
                yr[r] = yr[r - 1];                                                           \
                continue;                                                                    \
            }                                                                                \
            xr[r] = xn;                                                                      \
            yr[r] = yn;                                                                      \
            xn += pix;                                                                       \
            yn += ys[2];                                                                     \
            if (++j == wo) {                                                                 \
                j = 0;                                                                       \
                if (++i == ho) { i = 0; b++; }                                               \
                xn = xp + (b * hp + i * sh) * rs;                                            \
                yn = y + b * ys[0] + i * ys[1];                                              \
            }                                                                                \
        }                                                                                    \
        fwd_mk_##V##_##R(xr, rs, c, kh, kw, dh, dwc, w, ws, ob, tail, bias, relu,            \
                         yr, rows, t);                                                       \
    }                                                                                        \
}
FWD_BLOCK(4, 4)
FWD_BLOCK(2, 8)
FWD_BLOCK(1, 8)

/* The L1 data cache's size (conv_set_l1d, from the Python side at load). The 4 x 4 block
   reads a 64-channel weight row per input value, so a tap row of 3 x 64 input channels is a
   48 KB panel: it stays in a 48 KB L1 (Intel since Ice Lake) but spills a 32 KB one (AMD
   Zen 4), where two 32-channel passes (8 x 2 blocks, 24 KB panels) ran ResNet-20's 3x3
   64->64 forward, one thread, in 2.95 ms instead of 3.82. Either way each output is the
   same sum in the same order (equal bits). */
static int64_t l1d_bytes = 48 << 10;

TF_EXPORT void conv_set_l1d(int64_t bytes) {
    if (bytes >= (8 << 10)) l1d_bytes = bytes;
}

/* whether full 64-channel blocks would stream a weight panel bigger than L1 (every tap per
   pixel block, filter read in place) */
static inline int narrow_blocks(int64_t c, int64_t kw, int64_t dw, const float *wpk,
                                int64_t tap_outer) {
    return !wpk && !tap_outer && (dw == 1 ? kw : 1) * c * 64 * (int64_t)sizeof(float) > l1d_bytes;
}

static inline __attribute__((always_inline)) void fwd_block(
        const float *xp, int64_t hp, int64_t wp, int64_t c, const float *w,
        const float *wpk, int64_t kh, int64_t kw, int64_t o, int64_t ob, int64_t sh,
        int64_t sw, int64_t dh, int64_t dw, const float *bias, int relu, float *y,
        const int64_t *ys, int64_t ho, int64_t wo, const int64_t *at, int64_t p0, int64_t p1,
        int64_t t, int narrow) {
    const int64_t left = o - ob, dwc = dw * c;
    if (left >= 64 && wpk)
        fwd_pixels_4(xp, hp, wp, c, wpk + (ob / 64) * kh * kw * c * 64, 64, kh, kw, ob,
                     0xFFFF, sh, sw, dh, dwc, bias, relu, y, ys, ho, wo, at, p0, p1, t);
    else if (left >= 64 && !narrow)
        fwd_pixels_4(xp, hp, wp, c, w + ob, o, kh, kw, ob, 0xFFFF, sh, sw, dh, dwc, bias,
                     relu, y, ys, ho, wo, at, p0, p1, t);
    else if (left > 16)
        fwd_pixels_2(xp, hp, wp, c, w + ob, o, kh, kw, ob,
                     left >= 32 ? (__mmask16)0xFFFF : tail_mask(left - 16), sh, sw,
                     dh, dwc, bias, relu, y, ys, ho, wo, at, p0, p1, t);
    else
        fwd_pixels_1(xp, hp, wp, c, w + ob, o, kh, kw, ob, tail_mask(left), sh, sw, dh,
                     dwc, bias, relu, y, ys, ho, wo, at, p0, p1, t);
}

static inline int64_t block_width(int64_t left, int narrow) {
    return left >= 64 && !narrow ? 64 : left > 16 ? 32 : 16;
}

static inline __attribute__((always_inline)) void fwd_taps(
        const float *xp, int64_t n, int64_t hp, int64_t wp, int64_t c, const float *w,
        const float *wpk, int64_t kh, int64_t kw, int64_t o, int64_t sh, int64_t sw,
        int64_t dh, int64_t dw, const float *bias, int relu, float *y, const int64_t *ys,
        int64_t ho, int64_t wo, int64_t tap_outer) {
    const int64_t npix = n * ho * wo;
    const int narrow = narrow_blocks(c, kw, dw, wpk, tap_outer);
    if (!tap_outer) {
        /* every tap per block of 8 pixels: their x windows stay in L1 across the channel
           blocks */
        int64_t at[3] = {0, 0, 0};  /* the group's first pixel: (image, row, column) */
        for (int64_t p = 0; p < npix; p += 8) {
            for (int64_t ob = 0; ob < o; ob += block_width(o - ob, narrow))
                fwd_block(xp, hp, wp, c, w, wpk, kh, kw, o, ob, sh, sw, dh, dw, bias, relu, y,
                          ys, ho, wo, at, p, p + 8 < npix ? p + 8 : npix, -1, narrow);
            at[2] += 8;
            while (at[2] >= wo) {
                at[2] -= wo;
                if (++at[1] == ho) { at[1] = 0; at[0]++; }
            }
        }
    } else {
        /* one tap and one channel block at a time over the chunk: the tap's c x 64 panel
           stays in L1, the chunk's x and partial sums in L2 */
        const int64_t origin[3] = {0, 0, 0};
        for (int64_t t = 0; t < kh * kw; t++)
            for (int64_t ob = 0; ob < o; ob += block_width(o - ob, narrow))
                fwd_block(xp, hp, wp, c, w, wpk, kh, kw, o, ob, sh, sw, dh, dw, bias, relu,
                          y, ys, ho, wo, origin, 0, npix, t, narrow);
    }
}

TF_EXPORT void conv_fwd_f32(const float *xp, int64_t n, int64_t hp, int64_t wp, int64_t c,
                            const float *w, int64_t kh, int64_t kw, int64_t o,
                            int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                            const float *bias, int64_t relu,
                            float *y, int64_t ho, int64_t wo, int64_t tap_outer,
                            const float *wpk, int64_t ys_img, int64_t ys_row, int64_t ys_pix) {
    /* output pixel (b, i, j) at y + b * ys_img + i * ys_row + j * ys_pix, its o channels
       contiguous (a strided view of a bigger array: the input gradient's phases) */
    const int64_t ys[3] = {ys_img, ys_row, ys_pix};
    /* the common channel counts as constants: the compiler then folds the weight strides
       into the addressing (about 1.5x faster than with o in a register) */
    const int r = (int)relu;
    switch (o) {
    case 16: fwd_taps(xp, n, hp, wp, c, w, wpk, kh, kw, 16, sh, sw, dh, dw, bias, r, y, ys, ho, wo, tap_outer); break;
    case 32: fwd_taps(xp, n, hp, wp, c, w, wpk, kh, kw, 32, sh, sw, dh, dw, bias, r, y, ys, ho, wo, tap_outer); break;
    case 64: fwd_taps(xp, n, hp, wp, c, w, wpk, kh, kw, 64, sh, sw, dh, dw, bias, r, y, ys, ho, wo, tap_outer); break;
    case 128: fwd_taps(xp, n, hp, wp, c, w, wpk, kh, kw, 128, sh, sw, dh, dw, bias, r, y, ys, ho, wo, tap_outer); break;
    default: fwd_taps(xp, n, hp, wp, c, w, wpk, kh, kw, o, sh, sw, dh, dw, bias, r, y, ys, ho, wo, tap_outer);
    }
}

/* The filter gradient is a GEMM whose depth is the pixels: dw[t, c, :] = sum_p x_t[p, c] dy[p, :].
   The pixels run in tiles of `tile` (<= DW_MAX_TILE). Per tile and block of 16 V output
   channels, dy's block is packed (tile x 16 V floats, tail lanes zero) into `g` and stays in
   L1 while every (tap, R input channels) register block of dw sweeps the tile's pixels,
   added into dw (the chunk's partial, in L2): dy is read from memory once, and x once per
   tap and channel block, from the tile's lines in L1. (Sweeping all the chunk's pixels per
   register block instead re-read dy from L2 or L3 once per block: up to 2x slower on the
   DCGAN's 4x4 128->128.)
   A block of `rows` < R channels reads the last valid channel again (never past the pixel)
   and does not store the rows past `rows`. */
#define DW_MAX_TILE 512
#define CHUNK_STATUS 26   /* the status slot of a chunk parameter block (conv_native.py) */
#define DW_PACK_BLOCKS 8
#define DW_MK_AS(NAME, V, R, OFF)                                                            \
static inline __attribute__((always_inline)) void NAME(                                      \
        const float *xt, const int64_t *poff, int64_t np, const float *g, int64_t gs,        \
        float *out, int64_t o, __mmask16 tail, int64_t rows) {                               \
    __m512 acc[R][V];                                                                        \
    for (int r = 0; r < R; r++)                                                              \
        for (int v = 0; v < V; v++)                                                          \
            acc[r][v] = r < rows ? _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF, \
                                                         out + r * o + 16 * v)               \
                                 : _mm512_setzero_ps();                                      \
    for (int64_t p = 0; p < np; p++) {                                                       \
        __m512 gv[V];                                                                        \
        for (int v = 0; v < V; v++)                                                          \
            gv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,              \
                                          g + p * gs + 16 * v);                              \
        const float *a = xt + poff[p];                                                       \
        /* `a` made opaque: the broadcasts then address a + 4 r, not xp + 4 (poff + c0 + r) \
           with an add per channel (measured 5-10% faster on the narrow blocks) */           \
        __asm__("" : "+r"(a));                                                               \
        for (int r = 0; r < R; r++) {                                                        \
            __m512 av = _mm512_set1_ps(a[OFF]);                                              \
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, gv[v], acc[r][v]);   \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < R && r < rows; r++)                                                  \
        for (int v = 0; v < V; v++)                                                          \
            _mm512_mask_storeu_ps(out + r * o + 16 * v,                                      \
                                  v == V - 1 ? tail : (__mmask16)0xFFFF, acc[r][v]);         \
}
#define DW_MK(V, R)                                                                          \
DW_MK_AS(dw_mk_##V##_##R, V, R, r)                                                           \
DW_MK_AS(dw_tail_##V##_##R, V, R, (r < rows ? r : rows - 1))
DW_MK(4, 6)
DW_MK(2, 12)
DW_MK(1, 14)

/* dy's rows [p0, p0 + np), channels [ob, ob + 16 V), into g (np x 16 V, masked lanes 0) */
static inline __attribute__((always_inline)) void dw_pack(
        const float *dy, int64_t np, int64_t o, int64_t ob, int V, __mmask16 tail, float *g) {
    for (int64_t p = 0; p < np; p++)
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(g + (p * V + v) * 16,
                             _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,
                                                   dy + p * o + ob + 16 * v));
}

/* one tile, one block of 16 V output channels at ob: every tap and channel block */
#define DW_TAPS(V, R)                                                                        \
static inline __attribute__((always_inline)) void dw_taps_##V(                               \
        const float *xp, const int64_t *poff, int64_t np, const float *dyt, float *g,        \
        float *out, int64_t o, int64_t ob, __mmask16 tail, int64_t c, int64_t kh, int64_t kw, \
        int64_t rs, int64_t dh, int64_t dw) {                                                \
    /* undilated in x: a tap row's (kx, c) pairs are kw * c contiguous values in x and rows \
       of dw, one run of channel blocks */                                                   \
    const int64_t kxs = dw == 1 ? 1 : kw, cs = dw == 1 ? kw * c : c;                         \
    /* dy's block packed where its rows are wider than the block (strided in L1, their  \
       lines spread over few cache sets) and enough register blocks read it: packing costs  \
       about one block's sweep */                                                            \
    int64_t gs = o;                                                                          \
    const float *gp = dyt + ob;                                                              \
    if (o > 16 * V && kh * kxs * ((cs + R - 1) / R) >= DW_PACK_BLOCKS) {                     \
        dw_pack(dyt, np, o, ob, V, tail, g);                                                 \
        gs = 16 * V;                                                                         \
        gp = g;                                                                              \
    }                                                                                        \
    for (int64_t ky = 0; ky < kh; ky++)                                                      \
        for (int64_t kx = 0; kx < kxs; kx++) {                                               \
            const float *xt = xp + ky * dh * rs + kx * dw * c;                               \
            float *ot = out + (ky * kw + kx) * c * o + ob;                                   \
            int64_t c0 = 0;                                                                  \
            for (; c0 + R <= cs; c0 += R)                                                    \
                dw_mk_##V##_##R(xt + c0, poff, np, gp, gs, ot + c0 * o, o, tail, R);         \
            if (c0 < cs)                                                                     \
                dw_tail_##V##_##R(xt + c0, poff, np, gp, gs, ot + c0 * o, o, tail, cs - c0); \
        }                                                                                    \
}
DW_TAPS(4, 6)
DW_TAPS(2, 12)
DW_TAPS(1, 14)

static inline __attribute__((always_inline)) void dw_all(
        const float *xp, int64_t n, int64_t hp, int64_t wp, int64_t c, const float *dy,
        int64_t ho, int64_t wo, int64_t o, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
        int64_t dh, int64_t dw, float *out, float *g, int64_t tile) {
    const int64_t rs = wp * c, pix = sw * c, total = n * ho * wo;
    for (int64_t i = 0; i < kh * kw * c * o; i++) out[i] = 0.0f;
    int64_t poff[DW_MAX_TILE];
    int64_t b = 0, i = 0, j = 0;  /* the next tile's first pixel */
    for (int64_t p0 = 0; p0 < total; p0 += tile) {
        const int64_t np = total - p0 < tile ? total - p0 : tile;
        for (int64_t p = 0; p < np; p++) {
            poff[p] = (b * hp + i * sh) * rs + j * pix;
            if (++j == wo) {
                j = 0;
                if (++i == ho) { i = 0; b++; }
            }
        }
        const float *dyt = dy + p0 * o;
        for (int64_t ob = 0; ob < o;) {
            const int64_t left = o - ob;
            if (left >= 64) {
                dw_taps_4(xp, poff, np, dyt, g, out, o, ob, 0xFFFF, c, kh, kw, rs, dh, dw);
                ob += 64;
            } else if (left > 16) {
                __mmask16 t = tail_mask(left - 16);
                dw_taps_2(xp, poff, np, dyt, g, out, o, ob, t, c, kh, kw, rs, dh, dw);
                ob += 32;
            } else {
                __mmask16 t = tail_mask(left);
                dw_taps_1(xp, poff, np, dyt, g, out, o, ob, t, c, kh, kw, rs, dh, dw);
                ob += 16;
            }
        }
    }
}

TF_EXPORT void conv_dw_f32(const float *xp, int64_t n, int64_t hp, int64_t wp, int64_t c,
                           const float *dy, int64_t ho, int64_t wo, int64_t o,
                           int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh,
                           int64_t dw, float *out, float *g, int64_t tile) {
    /* out (kh, kw, c, o), every element written; g: scratch of tile * 64 floats,
       1 <= tile <= DW_MAX_TILE */
    switch (o) {
    case 16: dw_all(xp, n, hp, wp, c, dy, ho, wo, 16, kh, kw, sh, sw, dh, dw, out, g, tile); break;
    case 32: dw_all(xp, n, hp, wp, c, dy, ho, wo, 32, kh, kw, sh, sw, dh, dw, out, g, tile); break;
    case 64: dw_all(xp, n, hp, wp, c, dy, ho, wo, 64, kh, kw, sh, sw, dh, dw, out, g, tile); break;
    case 128: dw_all(xp, n, hp, wp, c, dy, ho, wo, 128, kh, kw, sh, sw, dh, dw, out, g, tile); break;
    default: dw_all(xp, n, hp, wp, c, dy, ho, wo, o, kh, kw, sh, sw, dh, dw, out, g, tile);
    }
}

/* Chunks of images as tasks of a parallel region on the C pool (native_pool.run: helpers
   that need no GIL, a region started in microseconds). Each task pads its chunk into its
   thread's own scratch (kept between calls, grown as needed) and runs the kernel on it,
   where the Python kernel threads paid a GIL hand-off per task and padded in NumPy (b64, two
   threads: the kernel over pre-padded chunks on the pool took 1.67 ms for ResNet-20's 3x3
   16->16 32x32 forward and 1.86 for its 64->64 8x8, against 1.99 and 2.35 through the
   Python threads). A task's parameters are one int64 block
   (the layouts below, written by conv_native.py); a scratch (tf_scratch.h) that cannot be
   had sets the block's status slot to 1 and the task does nothing (the caller raises
   MemoryError). */

/* cnt images of x (h, w, c) into out (h + pt + pb, w + pl + pr, c), the borders zero */
static void pad_images(const float *x, int64_t cnt, int64_t h, int64_t w, int64_t c,
                       int64_t pt, int64_t pb, int64_t pl, int64_t pr, float *out) {
    const int64_t hp = h + pt + pb, wp = w + pl + pr, row = wp * c;
    for (int64_t b = 0; b < cnt; b++)
        for (int64_t i = 0; i < hp; i++) {
            float *o = out + (b * hp + i) * row;
            if (i < pt || i >= pt + h) {
                memset(o, 0, (size_t)row * sizeof(float));
                continue;
            }
            memset(o, 0, (size_t)(pl * c) * sizeof(float));
            memcpy(o + pl * c, x + ((b * h + i - pt) * w) * c, (size_t)(w * c) * sizeof(float));
            memset(o + (pl + w) * c, 0, (size_t)(pr * c) * sizeof(float));
        }
}

/* images [n0, n1) of x, padded unless no pad is asked (then read in place); NULL with the
   status set where the scratch cannot be had */
static const float *chunk_input(int64_t *p, int64_t n0, int64_t n1) {
    const float *x = (const float *)(intptr_t)p[0];
    const int64_t h = p[1], w = p[2], c = p[3], pt = p[4], pb = p[5], pl = p[6], pr = p[7];
    if (!(pt | pb | pl | pr)) return x + n0 * h * w * c;
    float *buf = thread_scratch(0, (size_t)((n1 - n0) * (h + pt + pb) * (w + pl + pr) * c));
    if (!buf) {
        __atomic_store_n(&p[CHUNK_STATUS], 1, __ATOMIC_RELAXED);
        return 0;
    }
    pad_images(x + n0 * h * w * c, n1 - n0, h, w, c, pt, pb, pl, pr, buf);
    return buf;
}

/* p: x, h, w, c, pt, pb, pl, pr (the chunk layout), then filter, kh, kw, o, sh, sw, dh, dw,
   bias, relu, y, ho, wo, tap_outer, packed filter, y's image, row and pixel strides */
TF_EXPORT void conv_fwd_chunk_f32(int64_t *p, int64_t n0, int64_t n1) {
    const float *xp = chunk_input(p, n0, n1);
    if (!xp) return;
    conv_fwd_f32(xp, n1 - n0, p[1] + p[4] + p[5], p[2] + p[6] + p[7], p[3],
                 (const float *)(intptr_t)p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15],
                 (const float *)(intptr_t)p[16], p[17], (float *)(intptr_t)p[18] + n0 * p[23],
                 p[19], p[20], p[21], (const float *)(intptr_t)p[22], p[23], p[24], p[25]);
    release_big_scratch();
}

/* p: x, h, w, c, pt, pb, pl, pr, then dy, ho, wo, o, kh, kw, sh, sw, dh, dw, the partials
   (one kh*kw*c*o block per task), tile, the bias partials (one o-vector per task, or 0: no
   bias). Task i: the filter gradient of images [n0, n1) into partial i, and with the bias,
   their rows of dy summed (in row order in double, after the kernel has read them). */
TF_EXPORT void conv_dw_chunk_f32(int64_t *p, int64_t i, int64_t n0, int64_t n1) {
    const float *xp = chunk_input(p, n0, n1);
    const int64_t tile = p[19], o = p[11], ho = p[9], wo = p[10];
    float *g = thread_scratch(1, (size_t)(tile * 64));
    if (!xp || !g) {
        if (!g) __atomic_store_n(&p[CHUNK_STATUS], 1, __ATOMIC_RELAXED);
        release_big_scratch();
        return;
    }
    const float *dy = (const float *)(intptr_t)p[8] + n0 * ho * wo * o;
    const int64_t kk = p[12] * p[13] * p[3] * o;
    conv_dw_f32(xp, n1 - n0, p[1] + p[4] + p[5], p[2] + p[6] + p[7], p[3], dy, ho, wo, o,
                p[12], p[13], p[14], p[15], p[16], p[17], (float *)(intptr_t)p[18] + i * kk, g,
                tile);
    if (p[20]) {   /* in double, 64 channels at a time (the chunk's rows are in cache) */
        float *db = (float *)(intptr_t)p[20] + i * o;
        const int64_t rows = (n1 - n0) * ho * wo;
        for (int64_t j0 = 0; j0 < o; j0 += 64) {
            const int64_t nj = o - j0 < 64 ? o - j0 : 64;
            double acc[64] = {0};
            for (int64_t r = 0; r < rows; r++) {
                const float *d = dy + r * o + j0;
                _Pragma("omp simd")
                for (int64_t j = 0; j < nj; j++) acc[j] += (double)d[j];
            }
            for (int64_t j = 0; j < nj; j++) db[j0 + j] = (float)acc[j];
        }
    }
    release_big_scratch();
}

#endif  /* without AVX-512 nothing here is built but conv_simd: im2col + GEMM runs then */


/* 1 where the AVX-512 micro-kernels were compiled in (the plain loops are no faster than
   im2col + GEMM, so the Python side takes this path only then) */
TF_EXPORT int64_t conv_simd(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}
