/* 2-D convolutions with few output channels and many input channels (the DCGAN generator's
   last Conv2D(1, 7x7) on 128 channels), channels-last, one group, vectorized over the input
   channels: with one output channel each output pixel is a dot product of length KH*KW*C,
   and each filter tap's gradient a sum over the pixels of x[..., c] * dy. x is read in
   place: a tap that falls outside x (the padding) is skipped, or, inside a block whose
   other lanes need it, read from `zero` (C zeros the caller passes). Runs of channels are
   read in vectors aligned to cache lines where every pixel's run starts alike (C a
   multiple of the lanes), the lanes outside the run masked off (a masked lane is not read).

   narrow_fwd:  y[n,i,j,o] = bias[o] + sum_{ky,kx,c} x[n, i*sh+ky*dh-pt, j*sw+kx*dw-pl, c]
                                                      * wt[o, ky, kx, c]   (ReLU if asked)
                for the images n0 <= n < n1. A block of P pixels of one output row and OB
                output channels keeps P*OB vector accumulators over every tap and channel,
                loading each weight vector once per P pixels; blocks sweep down the rows.
                One output channel at stride and dilation 1 with 3, 5 or 7 filter columns:
                a filter row's weight vectors stay in registers and each input column is
                loaded once for every pixel it reaches (fwd_taps_run).
   narrow_bpf:  part[o, ky, kx, c] += sum_{n0<=n<n1,i,j} x[n, i*sh+ky*dh-pt, j*sw+kx*dw-pl, c]
                                                      * dy[n,i,j,o]
                (a chunk's partial sums, part zeroed by the caller, who adds the chunks in
                order). A run of taps of one filter row is contiguous in x and in part; a
                block of R vectors of it and OB output channels keeps its accumulators over
                every pixel of a group of images; one output channel with 3, 5 or 7 filter
                columns at stride and dilation 1 keeps a filter row's accumulators and a
                sliding window of dy broadcasts in registers (bpf_regs).
   narrow_bpi:  dx[n,h,w,c] = sum_{ky,kx} dy[n, h+pt-ky, w+pl-kx] * wt[ky, kx, c] for one
                output channel at stride and dilation 1 and 1, 3, 5 or 7 filter columns.
   Every index is bounded by the sizes the caller passes (checked in Python): x and dx are
   (N, H, W, C), wt (O, KH, KW, C), y and dy (N, OH, OW, O), part (O, KH, KW, C), zero (C);
   a tap position is used only when 0 <= row < H and 0 <= column < W.

   Written once over a type T: this file includes itself (NARROW_BODY) for float and double.
   Without AVX-512 only conv_narrow_simd is built (it says 0) and the callers keep NumPy. */
#ifndef NARROW_BODY
#include "tf_native.h"
#if defined(__AVX512F__)
#include <immintrin.h>

typedef struct {
    int64_t h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl;
} geom_t;

/* A run: consecutive taps kx of filter row ky whose (kx, c) values are contiguous both in x
   (from a pixel's column j: x[n, ih, j*sw - pl, 0] + xoff) and in part (its (o, ky) row,
   from poff), `len` values long, for the output columns [j0, j1) of every row. */
typedef struct {
    int64_t ky, j0, j1, xoff, poff, len;
} run_t;

#define MAXP 8      /* forward: pixels per block */
#define MAXOB 3     /* output channels per block */
#define MAXKW 7     /* filter columns held in registers */
#define MAXCB 4     /* filter gradient: channel vectors per filter column held */
#define BPF_GROUP_BYTES (256 << 10)   /* filter gradient: x of the images swept together */
#define MAXR 24     /* filter gradient: vectors per block */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define NAME(f) CAT(f, SFX)
#define INLINE static inline __attribute__((always_inline))

static inline int64_t floor_div(int64_t a, int64_t b) {   /* b > 0 */
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

#define NARROW_BODY
#define T float
#define SFX _f32
#define VEC __m512
#define MASK __mmask16
#define LANES 16
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VLOAD _mm512_loadu_ps
#define VMLOAD _mm512_maskz_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VMSTORE _mm512_mask_storeu_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VSUM _mm512_reduce_add_ps
#include __FILE__
#undef T
#undef SFX
#undef VEC
#undef MASK
#undef LANES
#undef VZERO
#undef VSET1
#undef VLOAD
#undef VMLOAD
#undef VSTORE
#undef VMSTORE
#undef VFMA
#undef VADD
#undef VSUM
#define T double
#define SFX _f64
#define VEC __m512d
#define MASK __mmask8
#define LANES 8
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VLOAD _mm512_loadu_pd
#define VMLOAD _mm512_maskz_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VMSTORE _mm512_mask_storeu_pd
#define VFMA _mm512_fmadd_pd
#define VADD _mm512_add_pd
#define VSUM _mm512_reduce_add_pd
#include __FILE__
#endif  /* __AVX512F__ */

/* 1 where the AVX-512 kernels were compiled in (the Python side uses them only then) */
TF_EXPORT int64_t conv_narrow_simd(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

#else  /* NARROW_BODY: the kernels over T */

INLINE MASK NAME(tail_mask)(int64_t left) {   /* the lanes below `left` */
    return left >= LANES ? (MASK)-1 : left <= 0 ? (MASK)0 : (MASK)((1u << left) - 1u);
}

/* The lanes [lo, hi) of a vector. */
INLINE MASK NAME(lanes)(int64_t lo, int64_t hi) {
    return (MASK)(NAME(tail_mask)(hi) & ~NAME(tail_mask)(lo));
}

/* Where every pixel's run starts at the same place within a 64-byte line (C a multiple of
   the lanes), runs are read in vectors aligned to the lines: a vector that straddles two
   lines costs two loads (x from NumPy is 16 bytes past a line: 2x slower unaligned). This
   is how many values of the line precede p; 0 where they do not all agree. */
INLINE int64_t NAME(shift)(const T *p, int64_t c) {
    return c % LANES ? 0 : (int64_t)(((uintptr_t)p % 64) / sizeof(T));
}

/* ---- forward ---------------------------------------------------------------------------- */

/* One vector of P pixels' runs (x at p[q] + xo, the weights at wk + wo) for OB output
   channels; masked: lanes outside mk are not read. */
INLINE void NAME(fwd_step)(VEC acc[MAXP][MAXOB], const T *const *p, int64_t xo, const T *wk,
                           int64_t wo, int64_t filter, MASK mk, int masked, const int P,
                           const int OB) {
    VEC wv[MAXOB];
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++)
        wv[o] = masked ? VMLOAD(mk, wk + o * filter + wo) : VLOAD(wk + o * filter + wo);
#pragma GCC unroll 8
    for (int q = 0; q < P; q++) {
        const VEC xv = masked ? VMLOAD(mk, p[q] + xo) : VLOAD(p[q] + xo);
#pragma GCC unroll 4
        for (int o = 0; o < OB; o++) acc[q][o] = VFMA(xv, wv[o], acc[q][o]);
    }
}

/* A run of len values for P pixels from x at p[q] + xo and the weights at wk + wo, in
   vectors aligned to the lines of x: the run is the lanes [sh, sh + len) of them. */
INLINE void NAME(fwd_run)(VEC acc[MAXP][MAXOB], const T *const *p, int64_t xo, const T *wk,
                          int64_t wo, int64_t filter, int64_t len, int64_t sh, const int P,
                          const int OB) {
    int64_t m = -sh;
    const MASK head = NAME(lanes)(sh, sh + len);
    if (head != (MASK)-1) {
        NAME(fwd_step)(acc, p, xo + m, wk, wo + m, filter, head, 1, P, OB);
        m += LANES;
    }
    for (; m + LANES <= len; m += LANES)
        NAME(fwd_step)(acc, p, xo + m, wk, wo + m, filter, (MASK)-1, 0, P, OB);
    if (m < len)
        NAME(fwd_step)(acc, p, xo + m, wk, wo + m, filter, NAME(tail_mask)(len - m), 1, P, OB);
}

/* One vector (at m) of the channels of a filter row of KW taps for P pixels of one output
   channel (stride and dilation 1): the row's KW weight vectors stay in registers while each
   of the P+KW-1 input columns (iw0 + col, those of [clo, chi) inside x) is loaded once and
   multiplied into every pixel it reaches (0.4 loads per multiply-add instead of 1.1). */
INLINE void NAME(fwd_taps_step)(VEC acc[MAXP][MAXOB], const T *row, int64_t iw0, int64_t clo,
                                int64_t chi, const T *wk, int64_t c, int64_t m, MASK mk,
                                int masked, const int P, const int KW) {
    VEC wv[MAXKW];
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; kx++)
        wv[kx] = masked ? VMLOAD(mk, wk + kx * c + m) : VLOAD(wk + kx * c + m);
    const T *xc = row + (iw0 + clo) * c + m;
#pragma GCC unroll 16
    for (int col = 0; col < P + KW - 1; col++) {
        if (col < clo || col >= chi) continue;
        const VEC xv = masked ? VMLOAD(mk, xc) : VLOAD(xc);
        xc += c;
#pragma GCC unroll 8
        for (int kx = 0; kx < KW; kx++)
            if (col - kx >= 0 && col - kx < P)
                acc[col - kx][0] = VFMA(xv, wv[kx], acc[col - kx][0]);
    }
}

INLINE void NAME(fwd_taps_run)(VEC acc[MAXP][MAXOB], const T *row, int64_t iw0, int64_t w,
                               const T *wk, int64_t c, const int P, const int KW) {
    const int64_t clo = iw0 < 0 ? -iw0 : 0;
    const int64_t chi = w - iw0 < P + KW - 1 ? w - iw0 : P + KW - 1;
    if (clo >= chi) return;
    const int64_t sh = NAME(shift)(row, c);
    int64_t m = -sh;
    const MASK head = NAME(lanes)(sh, sh + c);
    if (head != (MASK)-1) {
        NAME(fwd_taps_step)(acc, row, iw0, clo, chi, wk, c, m, head, 1, P, KW);
        m += LANES;
    }
    for (; m + LANES <= c; m += LANES)
        NAME(fwd_taps_step)(acc, row, iw0, clo, chi, wk, c, m, (MASK)-1, 0, P, KW);
    if (m < c)
        NAME(fwd_taps_step)(acc, row, iw0, clo, chi, wk, c, m, NAME(tail_mask)(c - m), 1, P,
                            KW);
}

/* Whether fwd_taps_run takes blocks of 8 and 4 pixels of this conv, border ones too. */
INLINE int NAME(taps_ok)(const geom_t *g, int64_t obn) {
    return obn == 1 && g->sw == 1 && g->dw == 1 && (g->kw == 3 || g->kw == 5 || g->kw == 7);
}

/* Output pixels j0 .. j0+P-1 of row i of image n, output channels ob .. ob+OB-1. Where
   every tap of every pixel lands inside x, the pixels' positions are set once per filter
   row and each tap is an offset from them; with dw == 1, a filter row's (kx, c) values are
   one run of KW*C in x and in wt. Else each tap's position is checked (a lane outside x
   reads `zero`). */
INLINE void NAME(fwd_block)(const T *x, const T *wt, const T *bias, const T *zero, T *y,
                            const geom_t *g, int64_t n, int64_t i, int64_t j0, int64_t ob,
                            int relu, const int P, const int OB) {
    const int64_t C = g->c, O = g->o, kw = g->kw, filter = g->kh * kw * C;
    const int64_t ih0 = i * g->sh - g->pt, iw0 = j0 * g->sw - g->pl;
    const int inside = iw0 >= 0 && iw0 + (P - 1) * g->sw + (kw - 1) * g->dw < g->w;
    const int merged = inside && g->dw == 1;
    VEC acc[MAXP][MAXOB];
#pragma GCC unroll 8
    for (int q = 0; q < P; q++)
#pragma GCC unroll 4
        for (int o = 0; o < OB; o++) acc[q][o] = VZERO();
    const T *wb = wt + ob * filter;
    for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t ih = ih0 + ky * g->dh;
        if (ih < 0 || ih >= g->h) continue;
        const T *row = x + (n * g->h + ih) * g->w * C;
        const T *wk = wb + ky * kw * C;
        const T *p[MAXP];
        if ((P == 8 || P == 4) && OB == 1 && NAME(taps_ok)(g, OB)) {
            if (kw == 3) NAME(fwd_taps_run)(acc, row, iw0, g->w, wk, C, P, 3);
            else if (kw == 5) NAME(fwd_taps_run)(acc, row, iw0, g->w, wk, C, P, 5);
            else NAME(fwd_taps_run)(acc, row, iw0, g->w, wk, C, P, 7);
            continue;
        }
        if (inside) {
#pragma GCC unroll 8
            for (int q = 0; q < P; q++) p[q] = row + (iw0 + q * g->sw) * C;
            const int64_t sh = NAME(shift)(p[0], C);
            if (merged) {
                NAME(fwd_run)(acc, p, 0, wk, 0, filter, kw * C, sh, P, OB);
            } else {
                for (int64_t kx = 0; kx < kw; kx++)
                    NAME(fwd_run)(acc, p, kx * g->dw * C, wk, kx * C, filter, C, sh, P, OB);
            }
            continue;
        }
        for (int64_t kx = 0; kx < kw; kx++) {
            int any = 0;
#pragma GCC unroll 8
            for (int q = 0; q < P; q++) {
                const int64_t iw = iw0 + q * g->sw + kx * g->dw;
                const int ok = iw >= 0 && iw < g->w;
                p[q] = ok ? row + iw * C : zero;
                any |= ok;
            }
            if (any) NAME(fwd_run)(acc, p, 0, wk, kx * C, filter, C, 0, P, OB);
        }
    }
    T *yo = y + ((n * g->oh + i) * g->ow + j0) * O + ob;
#pragma GCC unroll 8
    for (int q = 0; q < P; q++)
#pragma GCC unroll 4
        for (int o = 0; o < OB; o++) {
            T s = VSUM(acc[q][o]);
            if (bias) s += bias[ob + o];
            yo[q * O + o] = relu && s < 0 ? (T)0 : s;   /* NaN stays NaN, as np.maximum */
        }
}

/* The output columns [j0, j0+P) of every row of image n, output channels ob .. ob+OB-1:
   down the rows, the rows of x a block reads slide by one. */
#define FWD_SWEEP(OBC)                                                                      \
static void NAME(fwd_sweep##OBC)(const T *x, const T *wt, const T *bias, const T *zero,    \
                                 T *y, const geom_t *g, int64_t n, int64_t j0, int64_t ob, \
                                 int p, int relu) {                                         \
    for (int64_t i = 0; i < g->oh; i++) {                                                   \
        switch (p) {                                                                        \
        case 8: NAME(fwd_block)(x, wt, bias, zero, y, g, n, i, j0, ob, relu, 8, OBC); break;\
        case 4: NAME(fwd_block)(x, wt, bias, zero, y, g, n, i, j0, ob, relu, 4, OBC); break;\
        case 2: NAME(fwd_block)(x, wt, bias, zero, y, g, n, i, j0, ob, relu, 2, OBC); break;\
        default: NAME(fwd_block)(x, wt, bias, zero, y, g, n, i, j0, ob, relu, 1, OBC); break;\
        }                                                                                   \
    }                                                                                       \
}
FWD_SWEEP(1)
FWD_SWEEP(2)
FWD_SWEEP(3)

/* [0, jl, jr, ow): the output columns whose taps all land inside x are [jl, jr) */
static void NAME(column_cuts)(const geom_t *g, int64_t *cuts) {
    int64_t jl = (g->pl + g->sw - 1) / g->sw;
    int64_t jr = floor_div(g->w - 1 - (g->kw - 1) * g->dw + g->pl, g->sw) + 1;
    if (jl > g->ow) jl = g->ow;
    if (jr > g->ow) jr = g->ow;
    if (jr < jl) jr = jl;
    cuts[0] = 0, cuts[1] = jl, cuts[2] = jr, cuts[3] = g->ow;
}

TF_EXPORT void NAME(narrow_fwd)(const T *x, const T *wt, const T *bias, const T *zero, T *y,
                                int64_t n0, int64_t n1, int64_t h, int64_t w, int64_t c,
                                int64_t oh, int64_t ow, int64_t o, int64_t kh, int64_t kw,
                                int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                                int64_t pl, int64_t relu) {
    const geom_t gg = {h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl};
    int64_t cuts[4];
    NAME(column_cuts)(&gg, cuts);
    if (NAME(taps_ok)(&gg, o))   /* border blocks as fast: no cuts */
        cuts[1] = cuts[2] = 0;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t ob = 0; ob < o; ob += MAXOB)
            for (int r = 0; r < 3; r++)
                for (int64_t j = cuts[r]; j < cuts[r + 1];) {
                    /* blocks of 8 pixels, then 4, 2, 1 (no idle lanes) */
                    const int64_t left = cuts[r + 1] - j;
                    const int p = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
                    if (o - ob >= 3)
                        NAME(fwd_sweep3)(x, wt, bias, zero, y, &gg, n, j, ob, p, (int)relu);
                    else if (o - ob == 2)
                        NAME(fwd_sweep2)(x, wt, bias, zero, y, &gg, n, j, ob, p, (int)relu);
                    else
                        NAME(fwd_sweep1)(x, wt, bias, zero, y, &gg, n, j, ob, p, (int)relu);
                    j += p;
                }
}

/* ---- filter gradient -------------------------------------------------------------------- */

/* Vectors v0 .. v0+R-1 of a run, output channels ob .. ob+OB-1: R*OB accumulators over every
   pixel of the run's columns in the images n0 .. n1-1, added to part. */
INLINE void NAME(bpf_segment)(const T *x, const T *dy, T *part, const geom_t *g,
                              const run_t *r, int64_t sh, int64_t n0, int64_t n1, int64_t v0,
                              int64_t ob, const int R, const int OB) {
    /* the run's values are the lanes [sh, sh + len) of its vectors (line-aligned in x);
       the segment's first and last vectors are masked to them (a masked lane is not read) */
    const int64_t C = g->c, O = g->o, step = g->sw * C;
    MASK first = NAME(lanes)(sh - v0 * LANES, sh + r->len - v0 * LANES);
    MASK last = NAME(lanes)(sh - (v0 + R - 1) * LANES, sh + r->len - (v0 + R - 1) * LANES);
    if (R == 1) first = last = (MASK)(first & last);
    const int64_t off = (r->j0 * g->sw - g->pl) * C + r->xoff - sh + v0 * LANES;
    VEC acc[MAXR][MAXOB];
#pragma GCC unroll 24
    for (int v = 0; v < R; v++)
#pragma GCC unroll 4
        for (int o = 0; o < OB; o++) acc[v][o] = VZERO();
    for (int64_t n = n0; n < n1; n++)
        for (int64_t i = 0; i < g->oh; i++) {
            const int64_t ih = i * g->sh - g->pt + r->ky * g->dh;
            if (ih < 0 || ih >= g->h) continue;
            const T *px = x + (n * g->h + ih) * g->w * C + off;
            const T *d = dy + ((n * g->oh + i) * g->ow + r->j0) * O + ob;
            for (int64_t j = r->j0; j < r->j1; j++, px += step, d += O) {
                VEC dv[MAXOB];
#pragma GCC unroll 4
                for (int o = 0; o < OB; o++) dv[o] = VSET1(d[o]);
#pragma GCC unroll 24
                for (int v = 0; v < R; v++) {
                    const VEC xv = v == 0 ? VMLOAD(first, px)
                                   : v == R - 1 ? VMLOAD(last, px + v * LANES)
                                                : VLOAD(px + v * LANES);
#pragma GCC unroll 4
                    for (int o = 0; o < OB; o++) acc[v][o] = VFMA(xv, dv[o], acc[v][o]);
                }
            }
        }
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++) {
        T *dst = part + ((ob + o) * g->kh + r->ky) * g->kw * C + r->poff - sh + v0 * LANES;
#pragma GCC unroll 24
        for (int v = 0; v < R; v++) {
            const MASK m = v == 0 ? first : v == R - 1 ? last : (MASK)-1;
            VMSTORE(dst + v * LANES, m, VADD(VMLOAD(m, dst + v * LANES), acc[v][o]));
        }
    }
}

#define BPF_CASE(R, OB)                                                                     \
    case (R) * 4 + (OB):                                                                    \
        NAME(bpf_segment)(x, dy, part, g, r, sh, n0, n1, v0, ob, R, OB);                      \
        break;

/* The run in segments of the widest block that fits what is left of it. */
static void NAME(bpf_run)(const T *x, const T *dy, T *part, const geom_t *g, const run_t *r,
                          int64_t n0, int64_t n1, int64_t ob, int obn) {
    static const int widths[4][8] = {{0}, {24, 16, 12, 8, 4, 2, 1, 0},
                                     {12, 8, 4, 2, 1, 0}, {8, 4, 2, 1, 0}};
    if (r->j1 <= r->j0 || r->len <= 0) return;
    const int64_t sh = NAME(shift)(x + r->xoff, g->c);   /* every pixel's run alike */
    const int64_t vectors = (sh + r->len + LANES - 1) / LANES;
    for (int64_t v0 = 0; v0 < vectors;) {
        int k = 0;
        while (widths[obn][k] > vectors - v0) k++;
        const int rw = widths[obn][k];
        switch (rw * 4 + obn) {
            BPF_CASE(24, 1) BPF_CASE(16, 1) BPF_CASE(12, 1) BPF_CASE(8, 1)
            BPF_CASE(4, 1) BPF_CASE(2, 1) BPF_CASE(1, 1)
            BPF_CASE(12, 2) BPF_CASE(8, 2) BPF_CASE(4, 2) BPF_CASE(2, 2) BPF_CASE(1, 2)
            BPF_CASE(8, 3) BPF_CASE(4, 3) BPF_CASE(2, 3) BPF_CASE(1, 3)
            default: break;
        }
        v0 += rw;
    }
}

/* Taps kx0 .. kx1-1 of filter row ky for the columns [j0, j1): one run when dw == 1, else
   one per tap. */
static void NAME(bpf_taps)(const T *x, const T *dy, T *part, const geom_t *g, int64_t ky,
                           int64_t j0, int64_t j1, int64_t kx0, int64_t kx1, int64_t n0,
                           int64_t n1, int64_t ob, int obn) {
    const int64_t C = g->c;
    if (g->dw == 1) {
        const run_t r = {ky, j0, j1, kx0 * C, kx0 * C, (kx1 - kx0) * C};
        NAME(bpf_run)(x, dy, part, g, &r, n0, n1, ob, obn);
        return;
    }
    for (int64_t kx = kx0; kx < kx1; kx++) {
        const run_t r = {ky, j0, j1, kx * g->dw * C, kx * C, C};
        NAME(bpf_run)(x, dy, part, g, &r, n0, n1, ob, obn);
    }
}

/* One output channel at stride and dilation 1 with 3, 5 or 7 filter columns: the filter
   row ky's KW x CB accumulators (CB channel vectors from the aligned vector v0, lanes
   outside [sh, sh + C) masked) stay in registers while each input column is loaded once
   and multiplied by the KW dy values it pairs with, a window of broadcasts that slides by
   one per column (0.2 loads per multiply-add instead of 1). A dy value outside dy is 0. */
INLINE void NAME(bpf_regs_sweep)(const T *x, const T *dy, T *part, const geom_t *g,
                                 int64_t n0, int64_t n1, int64_t ky, int64_t v0, int64_t sh,
                                 const int CB, const int KW) {
    const int64_t C = g->c, W = g->w, OW = g->ow, pl = g->pl;
    MASK mk[MAXCB];
#pragma GCC unroll 4
    for (int cb = 0; cb < CB; cb++)
        mk[cb] = NAME(lanes)(sh - (v0 + cb) * LANES, sh + C - (v0 + cb) * LANES);
    VEC acc[MAXKW][MAXCB];
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; kx++)
#pragma GCC unroll 4
        for (int cb = 0; cb < CB; cb++) acc[kx][cb] = VZERO();
    const int64_t off = v0 * LANES - sh;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t i = 0; i < g->oh; i++) {
            const int64_t ih = i * g->sh - g->pt + ky * g->dh;
            if (ih < 0 || ih >= g->h) continue;
            const T *xr = x + (n * g->h + ih) * W * C + off;
            const T *d = dy + (n * g->oh + i) * OW;
            VEC bw[MAXKW];   /* bw[kx] = dy[i, col + pl - kx], col = -1 to start */
#pragma GCC unroll 8
            for (int kx = 0; kx < KW; kx++) {
                const int64_t j = pl - 1 - kx;
                bw[kx] = VSET1(j >= 0 && j < OW ? d[j] : (T)0);
            }
            for (int64_t col = 0; col < W; col++, xr += C) {
#pragma GCC unroll 8
                for (int kx = KW - 1; kx > 0; kx--) bw[kx] = bw[kx - 1];
                const int64_t j = col + pl;
                bw[0] = VSET1(j < OW ? d[j] : (T)0);   /* j >= 0: pl >= 0 */
                VEC xv[MAXCB];
#pragma GCC unroll 4
                for (int cb = 0; cb < CB; cb++) xv[cb] = VMLOAD(mk[cb], xr + cb * LANES);
#pragma GCC unroll 8
                for (int kx = 0; kx < KW; kx++)
#pragma GCC unroll 4
                    for (int cb = 0; cb < CB; cb++)
                        acc[kx][cb] = VFMA(xv[cb], bw[kx], acc[kx][cb]);
            }
        }
#pragma GCC unroll 8
    for (int kx = 0; kx < KW; kx++) {
        T *dst = part + (ky * KW + kx) * C + off;
#pragma GCC unroll 4
        for (int cb = 0; cb < CB; cb++)
            VMSTORE(dst + cb * LANES, mk[cb],
                    VADD(VMLOAD(mk[cb], dst + cb * LANES), acc[kx][cb]));
    }
}

#define REGS_CASE(KW, CB)                                                                   \
    case (KW) * 8 + (CB):                                                                   \
        NAME(bpf_regs_sweep)(x, dy, part, g, n0, n1, ky, v0, sh, CB, KW);                   \
        break;

/* Channel vectors per sweep by filter columns: KW*CB accumulators, KW broadcasts and CB
   input vectors within the 32 vector registers. */
static void NAME(bpf_regs)(const T *x, const T *dy, T *part, const geom_t *g, int64_t n0,
                           int64_t n1) {
    const int64_t sh = NAME(shift)(x, g->c);
    const int64_t vectors = (sh + g->c + LANES - 1) / LANES;
    const int most = g->kw == 7 ? 2 : 4;
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t v0 = 0; v0 < vectors;) {
            const int cb = vectors - v0 < most ? (int)(vectors - v0) : most;
            switch (g->kw * 8 + cb) {
                REGS_CASE(3, 1) REGS_CASE(3, 2) REGS_CASE(3, 3) REGS_CASE(3, 4)
                REGS_CASE(5, 1) REGS_CASE(5, 2) REGS_CASE(5, 3) REGS_CASE(5, 4)
                REGS_CASE(7, 1) REGS_CASE(7, 2)
                default: break;
            }
            v0 += cb;
        }
}

TF_EXPORT void NAME(narrow_bpf)(const T *x, const T *dy, T *part,
                                int64_t n0, int64_t n1, int64_t h, int64_t w, int64_t c,
                                int64_t oh, int64_t ow, int64_t o, int64_t kh, int64_t kw,
                                int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                                int64_t pl) {
    const geom_t gg = {h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl};
    int64_t cuts[4];
    NAME(column_cuts)(&gg, cuts);
    /* each run sweeps a group of images that stays in L2 (the whole chunk at once: 3x
       slower for 16 DCGAN images, 6.4 MB) */
    int64_t group = BPF_GROUP_BYTES / ((int64_t)sizeof(T) * h * w * c);
    if (group < 1) group = 1;
    for (int64_t g0 = n0; g0 < n1; g0 += group) {
        const int64_t g1 = n1 - g0 < group ? n1 : g0 + group;
        if (NAME(taps_ok)(&gg, o)) {
            NAME(bpf_regs)(x, dy, part, &gg, g0, g1);
            continue;
        }
        for (int64_t ob = 0; ob < o; ob += MAXOB) {
            const int obn = (int)(o - ob < MAXOB ? o - ob : MAXOB);
            for (int64_t ky = 0; ky < kh; ky++) {
                /* the columns whose taps all land inside x, over the whole filter row */
                NAME(bpf_taps)(x, dy, part, &gg, ky, cuts[1], cuts[2], 0, kw, g0, g1, ob, obn);
                /* each other column over the taps that land inside x */
                for (int64_t j = 0; j < ow; j++) {
                    if (j == cuts[1]) j = cuts[2];
                    if (j >= ow) break;
                    const int64_t iw = j * sw - pl;   /* the column of tap 0 */
                    int64_t kx0 = iw >= 0 ? 0 : (-iw + dw - 1) / dw;
                    int64_t kx1 = floor_div(w - 1 - iw, dw) + 1;
                    if (kx1 > kw) kx1 = kw;
                    if (kx0 < kx1)
                        NAME(bpf_taps)(x, dy, part, &gg, ky, j, j + 1, kx0, kx1, g0, g1, ob,
                                       obn);
                }
            }
        }
    }
}

/* ---- input gradient (one output channel, stride and dilation 1) ------------------------- */

/* dx[n, h, j0 .. j0+P-1, CB vectors of channels from cv] = sum_{ky,kx} dy[n, h+pt-ky,
   j0+q+pl-kx] * w[ky, kx, :]: a filter row's KW x CB weight vectors stay in registers while
   each of the P+KW-1 dy values of the row is broadcast once into every pixel it reaches. */
INLINE void NAME(bpi_block)(const T *dy, const T *wt, T *dx, const geom_t *g, int64_t n,
                            int64_t h, int64_t j0, int64_t cv, const int P, const int KW,
                            const int CB) {
    const int64_t C = g->c;
    MASK mk[2];
#pragma GCC unroll 2
    for (int cb = 0; cb < CB; cb++) mk[cb] = NAME(tail_mask)(C - cv - cb * LANES);
    VEC acc[MAXP][2];
#pragma GCC unroll 8
    for (int q = 0; q < P; q++)
#pragma GCC unroll 2
        for (int cb = 0; cb < CB; cb++) acc[q][cb] = VZERO();
    const int64_t d0 = j0 + g->pl - (KW - 1);   /* the dy column of t = 0 */
    const int64_t tlo = d0 < 0 ? -d0 : 0;
    const int64_t thi = g->ow - d0 < P + KW - 1 ? g->ow - d0 : P + KW - 1;
    for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t i = h + g->pt - ky;
        if (i < 0 || i >= g->oh || tlo >= thi) continue;
        const T *d = dy + (n * g->oh + i) * g->ow + d0;
        const T *wk = wt + ky * KW * C + cv;
        VEC wv[MAXKW][2];
#pragma GCC unroll 8
        for (int kx = 0; kx < KW; kx++)
#pragma GCC unroll 2
            for (int cb = 0; cb < CB; cb++)
                wv[kx][cb] = VMLOAD(mk[cb], wk + kx * C + cb * LANES);
#pragma GCC unroll 16
        for (int t = 0; t < P + KW - 1; t++) {
            if (t < tlo || t >= thi) continue;
            const VEC b = VSET1(d[t]);
#pragma GCC unroll 8
            for (int kx = 0; kx < KW; kx++) {
                const int q = t + kx - (KW - 1);
                if (q >= 0 && q < P)
#pragma GCC unroll 2
                    for (int cb = 0; cb < CB; cb++)
                        acc[q][cb] = VFMA(b, wv[kx][cb], acc[q][cb]);
            }
        }
    }
    T *o = dx + ((n * g->h + h) * g->w + j0) * C + cv;
#pragma GCC unroll 8
    for (int q = 0; q < P; q++)
#pragma GCC unroll 2
        for (int cb = 0; cb < CB; cb++) VMSTORE(o + q * C + cb * LANES, mk[cb], acc[q][cb]);
}

#define BPI_CHANNELS(P, KWC)                                                                \
    do {                                                                                    \
        int64_t cv = 0;                                                                     \
        for (; cv + LANES < g->c; cv += 2 * LANES)                                          \
            NAME(bpi_block)(dy, wt, dx, g, n, h, j, cv, P, KWC, 2);                         \
        if (cv < g->c) NAME(bpi_block)(dy, wt, dx, g, n, h, j, cv, P, KWC, 1);              \
    } while (0)

#define BPI_ROW(KWC)                                                                        \
static void NAME(bpi_row##KWC)(const T *dy, const T *wt, T *dx, const geom_t *g, int64_t n, \
                               int64_t h) {                                                 \
    for (int64_t j = 0; j < g->w;) {                                                        \
        const int64_t left = g->w - j;                                                      \
        const int p = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;                   \
        if (p == 8) BPI_CHANNELS(8, KWC);                                                   \
        else if (p == 4) BPI_CHANNELS(4, KWC);                                              \
        else if (p == 2) BPI_CHANNELS(2, KWC);                                              \
        else BPI_CHANNELS(1, KWC);                                                          \
        j += p;                                                                             \
    }                                                                                       \
}
BPI_ROW(1)
BPI_ROW(3)
BPI_ROW(5)
BPI_ROW(7)

/* dx (N, H, W, C) for the images n0 .. n1-1 of the stride-1, undilated conv whose filter is
   wt (KH, KW, C) (one output channel) and output gradient dy (N, OH, OW); kw is 1, 3, 5 or 7
   (the caller checks), anything else writes nothing. */
TF_EXPORT void NAME(narrow_bpi)(const T *dy, const T *wt, T *dx, int64_t n0, int64_t n1,
                                int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                                int64_t kh, int64_t kw, int64_t pt, int64_t pl) {
    const geom_t gg = {h, w, c, oh, ow, 1, kh, kw, 1, 1, 1, 1, pt, pl};
    for (int64_t n = n0; n < n1; n++)
        for (int64_t r = 0; r < h; r++) {
            if (kw == 7) NAME(bpi_row7)(dy, wt, dx, &gg, n, r);
            else if (kw == 5) NAME(bpi_row5)(dy, wt, dx, &gg, n, r);
            else if (kw == 3) NAME(bpi_row3)(dy, wt, dx, &gg, n, r);
            else if (kw == 1) NAME(bpi_row1)(dy, wt, dx, &gg, n, r);
        }
}

#endif  /* NARROW_BODY */
