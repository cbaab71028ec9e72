/* 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) over channels-last
   arrays (float32): each 2x2 block of output pixels (a tile) comes from a 4x4 patch d of the
   input as Y = A^T [ (G g G^T) . (B^T d B) ] A, so the GEMM part does 16 multiply-adds per
   (tile, input channel, output channel) where the direct convolution does 36: 2.25x fewer.
   The transforms only add and subtract (B, A) or halve (G: exact in binary), so the extra
   rounding is a few additions per value.

   U = G g G^T is made by the caller (conv_winograd.py) as (16, c, o). A task takes a run of
   tiles (flattened over images, tile rows and tile columns) in blocks of `tb`: the block's
   input patches are transformed into V (16, tb, c) in the thread's scratch, each of the 16
   products M[k] = V[k] U[k] (tb x c times c x o) runs with an R tiles x (16 V) channels block
   of M in registers over the whole reduction (the U[k] panel stays in L1 across the block),
   and the output transform adds the bias, applies ReLU and stores the tiles' pixels inside
   the output (a last row or column of tiles may be half outside it), or pools each tile as
   one 2x2 pooling window. Patch values outside the input are the padding's zeros. The filter
   gradient (below) reuses the input transform and the products. */
#include "tf_native.h"
#include "tf_scratch.h"
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define WG_STATUS 17   /* the parameter block's status slot: a scratch could not be had */

#if defined(__AVX512F__)

static inline __mmask16 lanes(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* Walks tiles in order (image, tile row, tile column) from tile t: the next one's
   indices by a step instead of divisions */
typedef struct { int64_t img, ty, tx, th, tw; } tile_walk;

static inline tile_walk walk_from(int64_t t, int64_t th, int64_t tw) {
    const int64_t per = th * tw, r = t % per;
    tile_walk k = {t / per, r / tw, r % tw, th, tw};
    return k;
}

static inline void walk_next(tile_walk *k) {
    if (++k->tx == k->tw) {
        k->tx = 0;
        if (++k->ty == k->th) {
            k->ty = 0;
            k->img++;
        }
    }
}

/* A pixel of a pooled layer's gradient seen at full size (conv_pool's backward): of a 2x2
   window's four pixels only its first maximum, the argmax `code` (0..3, row-major) that
   route (the pooling's idx, + 4 where ReLU left the window dead) names for a lane, gets that
   lane of g; the others are zero. `left`: the lanes from c0 on (route is read no further). */
static inline __m512i route_lanes(const uint8_t *route, int64_t left) {
    __m128i bytes;
    if (left >= 16) {
        bytes = _mm_loadu_si128((const __m128i *)route);
    } else {
        uint8_t tail[16] = {0};
        memcpy(tail, route, (size_t)left);
        bytes = _mm_loadu_si128((const __m128i *)tail);
    }
    return _mm512_cvtepu8_epi32(bytes);
}

static inline __m512 routed_pick(const float *g, __m512i lanes_code, int code, __mmask16 m) {
    const __mmask16 hit = _mm512_cmpeq_epi32_mask(lanes_code, _mm512_set1_epi32(code));
    return _mm512_maskz_loadu_ps(m & hit, g);
}

static inline __m512 routed_load(const float *g, const uint8_t *route, int code, __mmask16 m,
                                 int64_t left) {
    return routed_pick(g, route_lanes(route, left), code, m);
}

/* V[k][i][:] = (B^T d B)[k] for tiles t0 .. t0 + nt - 1, V's planes tb * c apart. With
   `route`, x is a pooled gradient (n, h / 2, w / 2, c) read as its (n, h, w, c) unpooled
   form (routed_load); made twice below, so each caller's loop has no test of it. */
static inline __attribute__((always_inline)) void transform_inputs(
        const float *x, const uint8_t *route, int64_t h, int64_t w, int64_t c, int64_t pt,
        int64_t pl, int64_t th, int64_t tw, int64_t t0, int64_t nt, int64_t tb, float *v) {
    const __m512 zero = _mm512_setzero_ps();
    const int64_t plane = tb * c;
    int64_t inner[16];   /* a patch's 16 pixels relative to its first, in floats */
    for (int q = 0; q < 16; q++) inner[q] = ((q / 4) * w + q % 4) * c;
    tile_walk k = walk_from(t0, th, tw);
    for (int64_t i = 0; i < nt; i++, walk_next(&k)) {
        const int64_t y0 = 2 * k.ty - pt, x0 = 2 * k.tx - pl;
        /* the patch's first pixel, an offset only: it may lie in the padding */
        const int64_t first = ((k.img * h + y0) * w + x0) * c;
        const float *src[16];
        int64_t at[16];    /* routed: the pooled position's offset, in floats and bytes */
        int code[16];
        for (int q = 0; q < 16; q++) {
            const int64_t yy = y0 + q / 4, xx = x0 + q % 4;
            const int inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
            if (route) {
                at[q] = ((k.img * (h / 2) + yy / 2) * (w / 2) + xx / 2) * c;
                code[q] = (int)((yy & 1) * 2 + (xx & 1));
                src[q] = inside ? x + at[q] : 0;
            } else {   /* a border tile's padding pixels read as zeros */
                src[q] = inside ? x + first + inner[q] : 0;
            }
        }
        /* the rows the tile below reads that this one does not: fetched ahead */
        if (!route && y0 + 5 < h && x0 >= 0 && x0 + 2 <= w) {
            const float *below = x + first + 4 * w * c;
            for (int64_t off = 0; off < 2 * c; off += 16) {
                _mm_prefetch((const char *)(below + off), _MM_HINT_T0);
                _mm_prefetch((const char *)(below + w * c + off), _MM_HINT_T0);
            }
        }
        float *vi = v + i * c;
        for (int64_t c0 = 0; c0 < c; c0 += 16) {
            const __mmask16 m = lanes(c - c0);
            __m512 d[16], s[16];
            for (int q = 0; q < 16; q++)
                d[q] = !src[q] ? zero
                       : route ? routed_load(src[q] + c0, route + at[q] + c0, code[q], m, c - c0)
                       : _mm512_maskz_loadu_ps(m, src[q] + c0);
            for (int b = 0; b < 4; b++) {   /* B^T d: along the patch's rows */
                s[b] = _mm512_sub_ps(d[b], d[8 + b]);
                s[4 + b] = _mm512_add_ps(d[4 + b], d[8 + b]);
                s[8 + b] = _mm512_sub_ps(d[8 + b], d[4 + b]);
                s[12 + b] = _mm512_sub_ps(d[4 + b], d[12 + b]);
            }
            for (int a = 0; a < 4; a++) {   /* (B^T d) B: along its columns */
                const __m512 *r = s + 4 * a;
                float *va = vi + 4 * a * plane + c0;
                _mm512_mask_storeu_ps(va, m, _mm512_sub_ps(r[0], r[2]));
                _mm512_mask_storeu_ps(va + plane, m, _mm512_add_ps(r[1], r[2]));
                _mm512_mask_storeu_ps(va + 2 * plane, m, _mm512_sub_ps(r[2], r[1]));
                _mm512_mask_storeu_ps(va + 3 * plane, m, _mm512_sub_ps(r[1], r[3]));
            }
        }
    }
}

static void input_transform(const float *x, int64_t h, int64_t w, int64_t c, int64_t pt,
                            int64_t pl, int64_t th, int64_t tw, int64_t t0, int64_t nt,
                            int64_t tb, float *v) {
    transform_inputs(x, 0, h, w, c, pt, pl, th, tw, t0, nt, tb, v);
}

static void input_transform_routed(const float *g, const uint8_t *route, int64_t h,
                                   int64_t w, int64_t c, int64_t pt, int64_t pl, int64_t th,
                                   int64_t tw, int64_t t0, int64_t nt, int64_t tb, float *v) {
    transform_inputs(g, route, h, w, c, pt, pl, th, tw, t0, nt, tb, v);
}

/* Rows [0, rows) x columns [ob, ob + 16 V) of a product m (+)= a b over `steps`: row r's
   value at step s is a[r * ar + s * as], b's row s starts at b + s * bs, m's row r at
   m + r * ms. R rows x V vectors stay in registers over the whole reduction, starting from
   zero or (add) from m; a short last block repeats its last row (not stored). */
#define WG_MK(V, R)                                                                          \
static inline __attribute__((always_inline)) void mk_##V##_##R(                             \
        const float *a, int64_t ar, int64_t as, int64_t steps, const float *b, int64_t bs,  \
        int64_t ob, __mmask16 tail, float *m, int64_t ms, int64_t rows, int add) {          \
    __m512 acc[R][V];                                                                        \
    const float *ap[R];                                                                      \
    for (int r = 0; r < R; r++) {                                                            \
        ap[r] = a + (r < rows ? r : rows - 1) * ar;                                          \
        for (int v = 0; v < V; v++)                                                          \
            acc[r][v] = add && r < rows                                                      \
                ? _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,               \
                                        m + r * ms + ob + 16 * v)                            \
                : _mm512_setzero_ps();                                                       \
    }                                                                                        \
    for (int64_t st = 0; st < steps; st++) {                                                 \
        __m512 bv[V];                                                                        \
        for (int v = 0; v < V; v++)                                                          \
            bv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,             \
                                          b + st * bs + ob + 16 * v);                        \
        for (int r = 0; r < R; r++) {                                                        \
            const __m512 x = _mm512_set1_ps(ap[r][st * as]);                                 \
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);   \
        }                                                                                    \
    }                                                                                        \
    for (int r = 0; r < R && r < rows; r++)                                                  \
        for (int v = 0; v < V; v++)                                                          \
            _mm512_mask_storeu_ps(m + r * ms + ob + 16 * v,                                 \
                                  v == V - 1 ? tail : (__mmask16)0xFFFF, acc[r][v]);         \
}
WG_MK(4, 4)
WG_MK(2, 8)
WG_MK(1, 12)

/* m (nrows x o, rows ms apart) (+)= a b, a's rows ar apart and steps as apart, b (steps x o,
   rows o apart): blocks of 64 columns, then of 32 or 16 for the rest, the last vector
   masked */
static void product(const float *a, int64_t ar, int64_t as, int64_t nrows, int64_t steps,
                    const float *b, int64_t o, float *m, int64_t ms, int add) {
    int64_t ob = 0;
    while (ob < o) {
        const int64_t left = o - ob;
        if (left > 48) {
            const __mmask16 tail = lanes(left - 48);
            for (int64_t r = 0; r < nrows; r += 4)
                mk_4_4(a + r * ar, ar, as, steps, b, o, ob, tail, m + r * ms, ms,
                       nrows - r < 4 ? nrows - r : 4, add);
            ob += 64;
        } else if (left > 16) {
            const __mmask16 tail = lanes(left - 16);
            for (int64_t r = 0; r < nrows; r += 8)
                mk_2_8(a + r * ar, ar, as, steps, b, o, ob, tail, m + r * ms, ms,
                       nrows - r < 8 ? nrows - r : 8, add);
            ob += 32;
        } else {
            const __mmask16 tail = lanes(left);
            for (int64_t r = 0; r < nrows; r += 12)
                mk_1_12(a + r * ar, ar, as, steps, b, o, ob, tail, m + r * ms, ms,
                        nrows - r < 12 ? nrows - r : 12, add);
            ob += 16;
        }
    }
}

/* One 2x2 window's maximum and the offset of its first maximum in row-major order, as
   kernels._pool_2x2_argmax_into (ties go left, then up; NaN as np.maximum); with relu the
   dead windows marked (idx + 4, kernels.mask_argmax_by_relu) and the ReLU after the
   pooling (conv_direct.c's pooled kernel, the same rules). n lanes stored. */
static inline void pool_window(__m512 a, __m512 b, __m512 c, __m512 d, int relu, int64_t n,
                               float *out, uint8_t *idx) {
    const __mmask16 rt = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
    const __mmask16 rb = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ);
    const __m512 top = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), b, a);
    const __m512 bottom = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask(c, d, _CMP_GE_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q), d, c);
    const __mmask16 bt = _mm512_cmp_ps_mask(bottom, top, _CMP_GT_OQ);
    __m512 m = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(top, bottom, _CMP_GE_OQ) |
                                    _mm512_cmp_ps_mask(top, top, _CMP_UNORD_Q), bottom, top);
    const __mmask16 col = (__mmask16)((rb & bt) | (rt & ~bt));
    __mmask16 dead = 0;
    if (relu) {
        dead = (__mmask16)~_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ);
        m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_LT_OQ),
                               _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(out, lanes(n), m);
    for (int64_t l = 0; l < n; l++)
        idx[l] = (uint8_t)(((bt >> l) & 1) * 2 + ((col >> l) & 1) + ((dead >> l) & 1) * 4);
}

/* the two rows of the tile below the one at p (a 2x2 tile's 2 o floats per row, rows wo o
   apart), prefetched: for writing (`write`: owned ahead of the stores) or for reading */
static inline void prefetch_tile_below(const float *p, int64_t wo, int64_t o, int write) {
    for (int64_t off = 0; off < 2 * o; off += 16) {
        const char *r2 = (const char *)(p + 2 * wo * o + off);
        const char *r3 = (const char *)(p + 3 * wo * o + off);
        if (write) {
            _mm_prefetch(r2, _MM_HINT_ET0);
            _mm_prefetch(r3, _MM_HINT_ET0);
        } else {
            _mm_prefetch(r2, _MM_HINT_T0);
            _mm_prefetch(r3, _MM_HINT_T0);
        }
    }
}

/* y's tiles t0 .. t0 + nt - 1 from M (16 planes tb * o apart): A^T M A, + bias, ReLU; or,
   with `pool` (out, idx of (n, ho / 2, wo / 2, o)), each whole tile's 2x2 window pooled
   instead (a tile is one window of 2x2 stride-2 pooling; a half tile at an odd edge is
   what pooling drops) */
static void output_transform(const float *mm, int64_t o, int64_t th, int64_t tw, int64_t t0,
                             int64_t nt, int64_t tb, const float *bias, int relu, float *y,
                             int64_t ho, int64_t wo, float *pool, uint8_t *pool_idx) {
    const int64_t plane = tb * o;
    const __m512 zero = _mm512_setzero_ps();
    tile_walk k = walk_from(t0, th, tw);
    for (int64_t i = 0; i < nt; i++, walk_next(&k)) {
        const int64_t y0 = 2 * k.ty, x0 = 2 * k.tx;
        const int rows = y0 + 1 < ho ? 2 : 1, cols = x0 + 1 < wo ? 2 : 1;
        float *out = 0;
        int64_t at = 0;   /* the pooled window's offset */
        if (pool) {
            if (rows < 2 || cols < 2) continue;
            at = ((k.img * (ho / 2) + k.ty) * (wo / 2) + k.tx) * o;
        } else {
            out = y + ((k.img * ho + y0) * wo + x0) * o;
            if (y0 + 3 < ho && cols == 2)   /* the tile below's rows, owned ahead of its stores */
                prefetch_tile_below(out, wo, o, 1);
        }
        const float *mi = mm + i * o;
        for (int64_t o0 = 0; o0 < o; o0 += 16) {
            const __mmask16 msk = lanes(o - o0);
            __m512 q[16], s[8], p[4];
            for (int k = 0; k < 16; k++) q[k] = _mm512_maskz_loadu_ps(msk, mi + k * plane + o0);
            for (int b = 0; b < 4; b++) {   /* A^T M */
                s[b] = _mm512_add_ps(_mm512_add_ps(q[b], q[4 + b]), q[8 + b]);
                s[4 + b] = _mm512_sub_ps(_mm512_sub_ps(q[4 + b], q[8 + b]), q[12 + b]);
            }
            const __m512 bv = bias ? _mm512_maskz_loadu_ps(msk, bias + o0) : zero;
            for (int a = 0; a < rows; a++) {   /* (A^T M) A, + bias */
                const __m512 *r = s + 4 * a;
                p[2 * a] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), bv);
                p[2 * a + 1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), bv);
            }
            if (pool) {
                pool_window(p[0], p[1], p[2], p[3], relu, o - o0 < 16 ? o - o0 : 16,
                            pool + at + o0, pool_idx + at + o0);
                continue;
            }
            for (int a = 0; a < rows; a++) {
                __m512 p0 = p[2 * a], p1 = p[2 * a + 1];
                if (relu) {
                    p0 = _mm512_max_ps(p0, zero);
                    p1 = _mm512_max_ps(p1, zero);
                }
                float *row = out + a * wo * o + o0;
                _mm512_mask_storeu_ps(row, msk, p0);
                if (cols == 2) _mm512_mask_storeu_ps(row + o, msk, p1);
            }
        }
    }
}

/* G g G^T for one vector of 16 output channels (at, lanes m) of g's 9 planes into u's 16:
   the rows of G g, then its columns (G's halves scale exactly) */
static inline void filter_vector(const float *g, int64_t plane, int64_t at, __mmask16 m,
                                 float *u) {
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 k[9], t[12];
    for (int q = 0; q < 9; q++) k[q] = _mm512_maskz_loadu_ps(m, g + q * plane + at);
    for (int j = 0; j < 3; j++) {   /* G g */
        const __m512 outer = _mm512_add_ps(k[j], k[6 + j]);
        t[j] = k[j];
        t[3 + j] = _mm512_mul_ps(_mm512_add_ps(outer, k[3 + j]), half);
        t[6 + j] = _mm512_mul_ps(_mm512_sub_ps(outer, k[3 + j]), half);
        t[9 + j] = k[6 + j];
    }
    for (int a = 0; a < 4; a++) {   /* (G g) G^T */
        const __m512 *r = t + 3 * a, outer = _mm512_add_ps(r[0], r[2]);
        float *ua = u + 4 * a * plane + at;
        _mm512_mask_storeu_ps(ua, m, r[0]);
        _mm512_mask_storeu_ps(ua + plane, m, _mm512_mul_ps(_mm512_add_ps(outer, r[1]), half));
        _mm512_mask_storeu_ps(ua + 2 * plane, m,
                              _mm512_mul_ps(_mm512_sub_ps(outer, r[1]), half));
        _mm512_mask_storeu_ps(ua + 3 * plane, m, r[2]);
    }
}

/* G^T dU G for one vector of 16 output channels of dU's 16 planes into dg's 9: along the
   columns, then the rows */
static inline void filter_grad_vector(const float *du, int64_t plane, int64_t at, __mmask16 m,
                                      float *dg) {
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 q[16], t[12];
    for (int k = 0; k < 16; k++) q[k] = _mm512_maskz_loadu_ps(m, du + k * plane + at);
    for (int b = 0; b < 4; b++) {   /* G^T dU */
        const __m512 mid = _mm512_mul_ps(_mm512_add_ps(q[4 + b], q[8 + b]), half);
        t[b] = _mm512_add_ps(q[b], mid);
        t[4 + b] = _mm512_mul_ps(_mm512_sub_ps(q[4 + b], q[8 + b]), half);
        t[8 + b] = _mm512_add_ps(mid, q[12 + b]);
    }
    for (int a = 0; a < 3; a++) {   /* (G^T dU) G */
        const __m512 *r = t + 4 * a;
        const __m512 mid = _mm512_mul_ps(_mm512_add_ps(r[1], r[2]), half);
        float *out = dg + 3 * a * plane + at;
        _mm512_mask_storeu_ps(out, m, _mm512_add_ps(r[0], mid));
        _mm512_mask_storeu_ps(out + plane, m, _mm512_mul_ps(_mm512_sub_ps(r[1], r[2]), half));
        _mm512_mask_storeu_ps(out + 2 * plane, m, _mm512_add_ps(mid, r[3]));
    }
}

/* `adjoint` 0: u (16, c, o) = G g G^T for the filter g (3, 3, c, o); 1: dg (3, 3, c, o) =
   G^T dU G for dU (16, c, o) */
static void filter_planes(const float *src, int64_t c, int64_t o, float *dst, int adjoint) {
    const int64_t plane = c * o;
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t o0 = 0; o0 < o; o0 += 16) {
            if (adjoint) filter_grad_vector(src, plane, ci * o + o0, lanes(o - o0), dst);
            else filter_vector(src, plane, ci * o + o0, lanes(o - o0), dst);
        }
}

TF_EXPORT void winograd_filter_f32(const float *g, int64_t c, int64_t o, float *u) {
    filter_planes(g, c, o, u, 0);
}

/* p: x, h, w, c, pt, pl, u, o, bias (0: none), relu, y, ho, wo, tb, then the pooled output
   and its argmax (0: no pooling, y written; else y is not), a route (0: none; else x is a
   pooled gradient (n, h / 2, w / 2, c) read unpooled through it), the status. Tiles
   [t0, t1) of the output's (ho + 1) / 2 x (wo + 1) / 2 tiles per image. */
TF_EXPORT void winograd_fwd_chunk_f32(int64_t *p, int64_t t0, int64_t t1) {
    const float *x = (const float *)(intptr_t)p[0];
    const int64_t h = p[1], w = p[2], c = p[3], pt = p[4], pl = p[5], o = p[7];
    const float *u = (const float *)(intptr_t)p[6], *bias = (const float *)(intptr_t)p[8];
    float *y = (float *)(intptr_t)p[10];
    const int64_t ho = p[11], wo = p[12], tb = p[13];
    const uint8_t *route = (const uint8_t *)(intptr_t)p[16];
    const int64_t th = (ho + 1) / 2, tw = (wo + 1) / 2;
    float *v = thread_scratch(0, (size_t)(16 * tb * c));
    float *m = thread_scratch(1, (size_t)(16 * tb * o));
    if (!v || !m) {
        __atomic_store_n(&p[WG_STATUS], 1, __ATOMIC_RELAXED);
        release_big_scratch();
        return;
    }
    for (int64_t b0 = t0; b0 < t1; b0 += tb) {
        const int64_t nt = t1 - b0 < tb ? t1 - b0 : tb;
        if (route) input_transform_routed(x, route, h, w, c, pt, pl, th, tw, b0, nt, tb, v);
        else input_transform(x, h, w, c, pt, pl, th, tw, b0, nt, tb, v);
        for (int k = 0; k < 16; k++)
            product(v + k * tb * c, c, 1, nt, c, u + k * c * o, o, m + k * tb * o, o, 0);
        output_transform(m, o, th, tw, b0, nt, tb, bias, (int)p[9], y, ho, wo,
                         (float *)(intptr_t)p[14], (uint8_t *)(intptr_t)p[15]);
    }
    release_big_scratch();
}

/* The filter gradient. With dM = A dY A^T per tile (dY its 2x2 block of dy, zero outside
   the output), the forward's Y = A^T (U . V) A gives dU[k] = sum over tiles of V[k]^T dM[k]
   (c x o per k) and dg = G^T dU G. */

/* dM[k][i][:] for tiles t0 .. t0 + nt - 1, its planes tb * o apart. With `route`, dy is a
   pooled gradient (n, ho / 2, wo / 2, o) read unpooled (routed_load; ho and wo even): a
   tile is one pooling window. */
static void grad_transform(const float *dy, const uint8_t *route, int64_t o, int64_t th,
                           int64_t tw, int64_t t0, int64_t nt, int64_t tb, int64_t ho,
                           int64_t wo, float *g) {
    const int64_t plane = tb * o;
    const __m512 zero = _mm512_setzero_ps();
    tile_walk k = walk_from(t0, th, tw);
    for (int64_t i = 0; i < nt; i++, walk_next(&k)) {
        const int64_t y0 = 2 * k.ty, x0 = 2 * k.tx;
        const int rows = y0 + 1 < ho ? 2 : 1, cols = x0 + 1 < wo ? 2 : 1;
        const int64_t at = route ? ((k.img * th + k.ty) * tw + k.tx) * o : 0;
        const float *src = route ? dy + at : dy + ((k.img * ho + y0) * wo + x0) * o;
        if (!route && y0 + 3 < ho && cols == 2)   /* the tile below's rows, fetched ahead */
            prefetch_tile_below(src, wo, o, 0);
        float *gi = g + i * o;
        for (int64_t o0 = 0; o0 < o; o0 += 16) {
            const __mmask16 m = lanes(o - o0);
            __m512 y00, y01, y10, y11;
            if (route) {
                const __m512i r = route_lanes(route + at + o0, o - o0);   /* once a window */
                y00 = routed_pick(src + o0, r, 0, m);
                y01 = routed_pick(src + o0, r, 1, m);
                y10 = routed_pick(src + o0, r, 2, m);
                y11 = routed_pick(src + o0, r, 3, m);
            } else {
                y00 = _mm512_maskz_loadu_ps(m, src + o0);
                y01 = cols == 2 ? _mm512_maskz_loadu_ps(m, src + o + o0) : zero;
                y10 = rows == 2 ? _mm512_maskz_loadu_ps(m, src + wo * o + o0) : zero;
                y11 = rows == 2 && cols == 2
                      ? _mm512_maskz_loadu_ps(m, src + (wo + 1) * o + o0) : zero;
            }
            /* A dY: rows y0, y0 + y1, y0 - y1, -y1 */
            const __m512 t[8] = {y00, y01, _mm512_add_ps(y00, y10), _mm512_add_ps(y01, y11),
                                 _mm512_sub_ps(y00, y10), _mm512_sub_ps(y01, y11),
                                 _mm512_sub_ps(zero, y10), _mm512_sub_ps(zero, y11)};
            for (int a = 0; a < 4; a++) {   /* (A dY) A^T: columns c0, c0 + c1, c0 - c1, -c1 */
                const __m512 c0 = t[2 * a], c1 = t[2 * a + 1];
                float *row = gi + 4 * a * plane + o0;
                _mm512_mask_storeu_ps(row, m, c0);
                _mm512_mask_storeu_ps(row + plane, m, _mm512_add_ps(c0, c1));
                _mm512_mask_storeu_ps(row + 2 * plane, m, _mm512_sub_ps(c0, c1));
                _mm512_mask_storeu_ps(row + 3 * plane, m, _mm512_sub_ps(zero, c1));
            }
        }
    }
}

/* db[:] = the tiles' dy pixels summed in double, in tile order, 64 channels at a time;
   with `route` (dy pooled, as grad_transform) each window's routed value, where it has one */
static void bias_sum(const float *dy, const uint8_t *route, int64_t o, int64_t th, int64_t tw,
                     int64_t t0, int64_t t1, int64_t ho, int64_t wo, float *db) {
    for (int64_t j0 = 0; j0 < o; j0 += 64) {
        const int64_t nj = o - j0 < 64 ? o - j0 : 64;
        double acc[64] = {0};
        tile_walk k = walk_from(t0, th, tw);
        for (int64_t t = t0; t < t1; t++, walk_next(&k)) {
            if (route) {
                const int64_t at = ((k.img * th + k.ty) * tw + k.tx) * o + j0;
                for (int64_t j = 0; j < nj; j++)
                    if (route[at + j] < 4) acc[j] += (double)dy[at + j];
                continue;
            }
            for (int64_t a = 2 * k.ty; a < 2 * k.ty + 2 && a < ho; a++)
                for (int64_t b = 2 * k.tx; b < 2 * k.tx + 2 && b < wo; b++) {
                    const float *d = dy + ((k.img * ho + a) * wo + b) * o + j0;
                    _Pragma("omp simd")
                    for (int64_t j = 0; j < nj; j++) acc[j] += (double)d[j];
                }
        }
        for (int64_t j = 0; j < nj; j++) db[j0 + j] = (float)acc[j];
    }
}

/* p: x, h, w, c, pt, pl, dy, o, the partials (one 16 x c x o dU per task), ho, wo, tb, the
   bias partials (one o-vector per task, or 0: no bias), a route (0: none; else dy is a
   pooled gradient read unpooled through it), then slot 17 the status. Task i: dU of tiles
   [t0, t1) into partial i. */
TF_EXPORT void winograd_dw_chunk_f32(int64_t *p, int64_t i, int64_t t0, int64_t t1) {
    const float *x = (const float *)(intptr_t)p[0], *dy = (const float *)(intptr_t)p[6];
    const int64_t h = p[1], w = p[2], c = p[3], pt = p[4], pl = p[5], o = p[7];
    const int64_t ho = p[9], wo = p[10], tb = p[11];
    const int64_t th = (ho + 1) / 2, tw = (wo + 1) / 2;
    const uint8_t *route = (const uint8_t *)(intptr_t)p[13];
    float *du = (float *)(intptr_t)p[8] + i * 16 * c * o;
    float *v = thread_scratch(0, (size_t)(16 * tb * c));
    float *g = thread_scratch(1, (size_t)(16 * tb * o));
    if (!v || !g) {
        __atomic_store_n(&p[WG_STATUS], 1, __ATOMIC_RELAXED);
        release_big_scratch();
        return;
    }
    memset(du, 0, (size_t)(16 * c * o) * sizeof(float));
    for (int64_t b0 = t0; b0 < t1; b0 += tb) {
        const int64_t nt = t1 - b0 < tb ? t1 - b0 : tb;
        input_transform(x, h, w, c, pt, pl, th, tw, b0, nt, tb, v);
        grad_transform(dy, route, o, th, tw, b0, nt, tb, ho, wo, g);
        for (int k = 0; k < 16; k++)   /* dU[k] (c x o) += V[k]^T (c x nt) dM[k] (nt x o) */
            product(v + k * tb * c, 1, c, c, nt, g + k * tb * o, o, du + k * c * o, o, 1);
    }
    if (p[12])
        bias_sum(dy, route, o, th, tw, t0, t1, ho, wo, (float *)(intptr_t)p[12] + i * o);
    release_big_scratch();
}

TF_EXPORT void winograd_filter_grad_f32(const float *du, int64_t c, int64_t o, float *dg) {
    filter_planes(du, c, o, dg, 1);
}

#endif  /* without AVX-512 only winograd_simd is built: the direct kernels run then */

/* 1 where the AVX-512 kernels were compiled in */
TF_EXPORT int64_t winograd_simd(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}
