/* Small float32 GEMMs, batched over up to two leading axes, on strided operands (AVX-512):
   the Dense layers' thin products ((4096, 32) x (32, 64)) and MultiHeadAttention's q @ k^T
   per batch and head, read in place from (B, T, H, K) layouts. (Longer reductions are
   summed in k blocks; the Python caller, gemm_native.py, takes k <= 256 only.)

   c[i, j] = sum_p a[i, p] * b[p, j] for every (i0, i1) of the batch, where, in elements,
   a[i, p] = a[i0 * as0 + i1 * as1 + i * ars + p * acs], b[p, j] = b[... + p * brs + j * bcs]
   and c[i, j] = c[i0 * cs0 + i1 * cs1 + i * crs + j] (unit column stride). A b whose
   columns are not contiguous (bcs != 1: q @ k^T) is first gathered into `pack` (k * n
   floats, row-major); a is read by broadcasts, so any strides serve. With `bias` (n floats,
   or NULL) every row then gets c[i, j] = c[i, j] + bias[j] (a Dense layer's bias).

   A micro-kernel keeps an R rows x (16 V) columns block of c in registers over a k block,
   loading each row of b once per R rows: (R, V) = (6, 4), (8, 3), (8, 2), (8, 1) (at most
   24 of the 32 vector registers hold sums), and prefetches the next block's rows of a (the
   last block: the next product's a and b), one cache line per step. Each c element is one
   chain of fused multiply-adds from 0 in p order per k block of KB = 256, the blocks'
   sums added to c in order (c = c + block): OpenBLAS's order for k <= 256 (its results,
   bit for bit, there). A block's last vector is masked (masked lanes are never read or
   written); a short last row block repeats its last row (reads stay inside a; the repeats
   are not stored). Every index is bounded by the sizes and strides the caller passes
   (tenfold/backend/gemm_native.py takes them from the arrays).

   Fused attention (attention_f32, attention_grad_f32): softmax(q k^T) v per (batch, head)
   on (B, T, H, K) layouts, the T x S scores kept in a per-thread scratch that stays in
   cache, through the same micro-kernels; see the functions.

   Without AVX-512 only gemm_simd is built (it says 0) and the callers keep np.matmul. */
#include "tf_vexp.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)

TF_EXPORT int64_t gemm_simd(void) { return 1; }

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* A prefetch stream: the 64-byte lines [0, nl) bytes of no runs starting os bytes apart,
   one line per step (prefetches never fault; they are kept inside the arrays anyway) */
typedef struct { const char *p; int64_t os, no, nl, o, l; } pfs;

static inline pfs stream(const float *p, int64_t os, int64_t no, int64_t nl) {
    pfs s = {(const char *)p, 4 * os, no, 4 * nl, 0, 0};
    return s;
}

static inline void pf_step(pfs *s) {
    if (s->o < s->no) {
        _mm_prefetch(s->p + s->o * s->os + s->l, _MM_HINT_T0);
        s->l += 64;
        if (s->l >= s->nl) { s->l = 0; s->o++; }
    }
}

/* the lines of a's rows [i, i + rows): along the rows (acs == 1), else along p (ars == 1),
   else none */
static inline pfs a_stream(const float *a, int64_t ars, int64_t acs, int64_t rows, int64_t k) {
    if (rows <= 0) return stream(a, 0, 0, 0);
    if (acs == 1) return stream(a, ars, rows, k);
    if (ars == 1) return stream(a, acs, k, rows);
    return stream(a, 0, 0, 0);
}

/* c[r, :16V] += bias[:16V] for r < rows (the last vector masked) */
static inline void add_bias(float *c, int64_t crs, int64_t rows, const float *bias, int V,
                            __mmask16 tail) {
    for (int v = 0; v < V; v++) {
        __mmask16 mv = v == V - 1 ? tail : (__mmask16)0xFFFF;
        __m512 bs = _mm512_maskz_loadu_ps(mv, bias + 16 * v);
        for (int64_t r = 0; r < rows; r++)
            _mm512_mask_storeu_ps(c + r * crs + 16 * v, mv,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(mv, c + r * crs + 16 * v),
                                                bs));
    }
}

/* rows [0, rows) of an R x 16V block: c[r, :] = sum_p a[r, p] * b[p, :], two prefetch
   streams stepped along (the data of the next block) */
#define GEMM_MK(R, V)                                                                       \
static inline __attribute__((always_inline)) void mk_##R##x##V(                             \
        const float *a, int64_t ars, int64_t acs, const float *b, int64_t brs,              \
        float *c, int64_t crs, int64_t k, int64_t rows, __mmask16 tail, int add, pfs *s1,   \
        pfs *s2) {                                                                          \
    __m512 acc[R][V];                                                                       \
    const float *ar[R];                                                                     \
    for (int r = 0; r < R; r++) {                                                           \
        ar[r] = a + (r < rows ? r : rows - 1) * ars;                                         \
        for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();                        \
    }                                                                                       \
    for (int64_t p = 0; p < k; p++) {                                                       \
        pf_step(s1);                                                                        \
        pf_step(s2);                                                                        \
        __m512 bv[V];                                                                       \
        for (int v = 0; v < V; v++)                                                         \
            bv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? tail : (__mmask16)0xFFFF,             \
                                          b + p * brs + 16 * v);                            \
        for (int r = 0; r < R; r++) {                                                       \
            __m512 x = _mm512_set1_ps(ar[r][p * acs]);                                      \
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);   \
        }                                                                                   \
    }                                                                                       \
    for (int r = 0; r < R; r++) {   /* add: c = c + this k block's sums */                \
        if (r >= rows) break;                                                               \
        for (int v = 0; v < V; v++) {                                                       \
            __mmask16 mv = v == V - 1 ? tail : (__mmask16)0xFFFF;                           \
            __m512 o = acc[r][v];                                                           \
            if (add) o = _mm512_add_ps(_mm512_maskz_loadu_ps(mv, c + r * crs + 16 * v), o); \
            _mm512_mask_storeu_ps(c + r * crs + 16 * v, mv, o);                             \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* columns [j0, j0 + 16V) (the last vector masked to n), every row; the last block        \
   prefetches `after` (the next product's first data) */                                   \
static void panel_##R##x##V(const float *a, int64_t ars, int64_t acs, const float *b,       \
                            int64_t brs, float *c, int64_t crs, int64_t m, int64_t n,       \
                            int64_t k, int64_t j0, int add, const float *bias,              \
                            pfs *after1, pfs *after2) {                                     \
    __mmask16 tail = tail_mask(n - j0 - 16 * (V - 1));                                      \
    pfs none = stream(a, 0, 0, 0);                                                          \
    for (int64_t i = 0; i < m; i += R) {                                                    \
        int64_t rows = m - i < R ? m - i : R, left = m - i - rows;                          \
        pfs s1 = a_stream(a + (i + rows) * ars, ars, acs, left < R ? left : R, k);          \
        mk_##R##x##V(a + i * ars, ars, acs, b + j0, brs, c + i * crs + j0, crs, k, rows,     \
                     tail, add, left ? &s1 : after1, left ? &none : after2);                \
        if (bias)   /* + bias, rounded apart (as a separate add), the block still in L1 */  \
            add_bias(c + i * crs + j0, crs, rows, bias + j0, V, tail);                      \
    }                                                                                       \
}

GEMM_MK(6, 4)
GEMM_MK(8, 3)
GEMM_MK(8, 2)
GEMM_MK(8, 1)

/* one (m, n, k) product, b's rows contiguous (row stride brs), over k blocks of KB: c is
   the first block's sums, then c = c + each next block's (in order), as OpenBLAS sums its
   k blocks; a block's a and b stay in cache across the row blocks */
#define KB 256

static void gemm1(const float *a, int64_t ars, int64_t acs, const float *b, int64_t brs,
                  float *c, int64_t crs, int64_t m, int64_t n, int64_t k, const float *bias,
                  pfs *s1, pfs *s2) {
    pfs none = stream(a, 0, 0, 0);
    for (int64_t p0 = 0; p0 < k; p0 += KB) {
        const int64_t kb = k - p0 < KB ? k - p0 : KB, last = p0 + KB >= k, add = p0 > 0;
        const float *ap = a + p0 * acs, *bp = b + p0 * brs;
        pfs *t1 = last ? s1 : &none, *t2 = last ? s2 : &none;
        const float *bl = last ? bias : NULL;
        int64_t j0 = 0;
        for (; n - j0 > 48; j0 += 64)   /* the next product's data: in the last panel */
            panel_6x4(ap, ars, acs, bp, brs, c, crs, m, n, kb, j0, add, bl,
                      n - j0 > 64 ? &none : t1, n - j0 > 64 ? &none : t2);
        if (n - j0 > 32)
            panel_8x3(ap, ars, acs, bp, brs, c, crs, m, n, kb, j0, add, bl, t1, t2);
        else if (n - j0 > 16)
            panel_8x2(ap, ars, acs, bp, brs, c, crs, m, n, kb, j0, add, bl, t1, t2);
        else if (n - j0 > 0)
            panel_8x1(ap, ars, acs, bp, brs, c, crs, m, n, kb, j0, add, bl, t1, t2);
    }
}

/* pack[p * n + j] = b[p * brs + j * bcs]: 16 columns per gather (the caller checks that
   j * bcs fits an int32 for every j < n) */
static void pack_b(const float *b, int64_t brs, int64_t bcs, int64_t k, int64_t n,
                   float *pack) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        __mmask16 m = tail_mask(n - j0);
        __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)bcs));
        const float *bj = b + j0 * bcs;
        for (int64_t p = 0; p < k; p++)
            _mm512_mask_storeu_ps(pack + p * n + j0, m,
                                  _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx,
                                                           bj + p * brs, 4));
    }
}

TF_EXPORT void gemm_f32(const float *a, const float *b, float *c, float *pack,
                        const float *bias, int64_t nb0, int64_t nb1,
                        int64_t m, int64_t n, int64_t k,
                        int64_t as0, int64_t as1, int64_t ars, int64_t acs,
                        int64_t bs0, int64_t bs1, int64_t brs, int64_t bcs,
                        int64_t cs0, int64_t cs1, int64_t crs) {
    const int64_t total = nb0 * nb1;
    for (int64_t t = 0; t < total; t++) {
        const int64_t i0 = t / nb1, i1 = t % nb1;
        const float *ab = a + i0 * as0 + i1 * as1;
        const float *bb = b + i0 * bs0 + i1 * bs1;
        float *cb = c + i0 * cs0 + i1 * cs1;
        /* the next product's first rows of a and its b, prefetched during this one's end */
        pfs s1 = stream(a, 0, 0, 0), s2 = stream(b, 0, 0, 0);
        if (t + 1 < total) {
            const int64_t j0 = (t + 1) / nb1, j1 = (t + 1) % nb1;
            s1 = a_stream(a + j0 * as0 + j1 * as1, ars, acs, m < 8 ? m : 8, k);
            const float *bn = b + j0 * bs0 + j1 * bs1;
            s2 = bcs == 1 ? stream(bn, brs, k, n) : brs == 1 ? stream(bn, bcs, n, k)
                                                             : stream(bn, 0, 0, 0);
        }
        int64_t ldb = brs;
        if (bcs != 1) {               /* b's columns strided: copy it row-major */
            pack_b(bb, brs, bcs, k, n, pack);
            bb = pack;
            ldb = n;
        }
        gemm1(ab, ars, acs, bb, ldb, cb, crs, m, n, k, bias, &s1, &s2);
    }
}

/* ---- Fused attention: o = softmax(q k^T) v for each (batch, head), q already scaled.
   q (B, T, H, K), k (B, S, H, K), v (B, S, H, V), o (B, T, H, V), all C-contiguous; the
   (batch, head) pairs t0 <= t < t1 (t = b H + h) are done, one at a time: k^T packed, the
   T x S scores p = q k^T, their softmax in place, then o = p v, everything of one pair in
   L1/L2 (MultiHeadAttention's unfused graph writes and reads the (B, H, T, S) scores and
   probabilities three times through memory). The forward can leave p in a (B, H, T, S)
   array for the backward, which otherwise recomputes it; the backward's four products
   run on the same scratch. */

/* the rows of s (rows x cols, contiguous) replaced by their softmax: max, e^(x - max) by
   tf_vexp.h's polynomial (as rows.c's softmax), their sum in double, then x 1/sum */
static void softmax_inplace(float *s, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        float *r = s + i * cols;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 m = tail_mask(cols - j);
            vm = _mm512_mask_max_ps(vm, m, vm, _mm512_maskz_loadu_ps(m, r + j));
        }
        const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
        __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 m = tail_mask(cols - j);
            __m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, r + j), mx);
            __m512 e = _mm512_maskz_mov_ps(m, (__m512)exp_vec_f32((vfn)x));
            _mm512_mask_storeu_ps(r + j, m, e);
            lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
            hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(
                     _mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        }
        const __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(
                                                      _mm512_add_pd(lo, hi))));
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 m = tail_mask(cols - j);
            _mm512_mask_storeu_ps(r + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r + j), inv));
        }
    }
}

/* d = p * (d - sum(d * p)) per row (softmax's gradient, d = dL/dp on entry), the row sum in
   double, as rows.c's softmax_grad_rows */
static void softmax_grad_inplace(float *d, const float *p, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        float *dr = d + i * cols;
        const float *pr = p + i * cols;
        __m512d acc = _mm512_setzero_pd();
        for (int64_t j = 0; j < cols; j += 8) {
            __mmask8 m = (__mmask8)(cols - j >= 8 ? 0xFF : (1u << (cols - j)) - 1u);
            acc = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, dr + j)),
                                  _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, pr + j)), acc);
        }
        const __m512 s = _mm512_set1_ps((float)_mm512_reduce_add_pd(acc));
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 m = tail_mask(cols - j);
            __m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, dr + j), s);
            _mm512_mask_storeu_ps(dr + j, m, _mm512_mul_ps(x, _mm512_maskz_loadu_ps(m, pr + j)));
        }
    }
}

/* p (T x S) = softmax(q_bh k_bh^T) of one (batch, head); pack: K x S floats */
static void attention_probs(const float *qb, const float *kb, int64_t hk, int64_t T, int64_t S,
                            int64_t K, float *p, float *pack) {
    pfs none = stream(qb, 0, 0, 0);
    pack_b(kb, 1, hk, K, S, pack);
    gemm1(qb, hk, 1, pack, S, p, S, T, S, K, NULL, &none, &none);
    softmax_inplace(p, T, S);
}

/* probs: NULL, or (B, H, T, S) floats that get each pair's probabilities (for the
   backward); work: T S (unless probs) + K S floats */
TF_EXPORT void attention_f32(const float *q, const float *k, const float *v, float *o,
                             float *probs, float *work, int64_t t0, int64_t t1, int64_t H,
                             int64_t T, int64_t S, int64_t K, int64_t V) {
    float *pack = work + (probs ? 0 : T * S);
    pfs none = stream(q, 0, 0, 0);
    for (int64_t t = t0; t < t1; t++) {
        const int64_t b = t / H, h = t % H;
        const float *qb = q + (b * T * H + h) * K, *kb = k + (b * S * H + h) * K;
        const float *vb = v + (b * S * H + h) * V;
        float *p = probs ? probs + t * T * S : work;
        attention_probs(qb, kb, H * K, T, S, K, p, pack);
        gemm1(p, S, 1, vb, H * V, o + (b * T * H + h) * V, H * V, T, V, S, NULL, &none,
              &none);
    }
}

/* the gradients of o = attention(q, k, v) given g = dL/do (B, T, H, V): dq, dk, dv in q's,
   k's and v's layouts. probs: the forward's (B, H, T, S) probabilities, or NULL to
   recompute them. work: T S (unless probs) + T S + max(K, V) S floats */
TF_EXPORT void attention_grad_f32(const float *g, const float *q, const float *k,
                                  const float *v, const float *probs, float *dq, float *dk,
                                  float *dv, float *work, int64_t t0, int64_t t1, int64_t H,
                                  int64_t T, int64_t S, int64_t K, int64_t V) {
    float *d = work + (probs ? 0 : T * S), *pack = d + T * S;
    const int64_t hk = H * K, hv = H * V;
    pfs none = stream(q, 0, 0, 0);
    for (int64_t t = t0; t < t1; t++) {
        const int64_t b = t / H, h = t % H;
        const int64_t qo = (b * T * H + h) * K, ko = (b * S * H + h) * K;
        const int64_t go = (b * T * H + h) * V, vo = (b * S * H + h) * V;
        const float *p = probs ? probs + t * T * S : work;
        if (!probs) attention_probs(q + qo, k + ko, hk, T, S, K, work, pack);
        pack_b(v + vo, 1, hv, V, S, pack);                  /* v^T: V x S */
        gemm1(g + go, hv, 1, pack, S, d, S, T, S, V, NULL, &none, &none);   /* dp = g v^T */
        softmax_grad_inplace(d, p, T, S);                   /* ds */
        gemm1(d, S, 1, k + ko, hk, dq + qo, hk, T, K, S, NULL, &none, &none); /* ds k */
        gemm1(d, 1, S, q + qo, hk, dk + ko, hk, S, K, T, NULL, &none, &none); /* ds^T q */
        gemm1(p, 1, S, g + go, hv, dv + vo, hv, S, V, T, NULL, &none, &none); /* p^T g */
    }
}

#else

TF_EXPORT int64_t gemm_simd(void) { return 0; }

#endif
