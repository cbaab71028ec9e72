/* Float32 products a @ b whose left operand is mostly zeros (AVX-512): a Dense layer fed
   MNIST's pixels (81% zeros), one-hot or bag-of-words features, and that layer's weight
   gradient x^T dy. Only a's nonzeros are multiplied.

   One parallel region of `sparse_task_f32` tasks over a parameter block (P_* below): the
   first T tasks list a's nonzeros, each for its own range of a's rows (CSR: per row a start
   and an end into val/idx, each task's entries in its own segment of cap entries); the
   others each compute a block of c's columns once every list is done (they wait on a
   counter: tasks are taken in order, so every list task has been taken, and is running,
   before any product task starts; one thread runs them all in order).

   Listing: x != 0 decides, so a NaN is listed (it reaches every output of its row, as in
   the dense product) and a -0 is not. a is read in place through element strides: rows
   contiguous (acs == 1: x itself) or columns contiguous (ars == 1: x^T, listed by counting
   each row's nonzeros first). A task gives up (its count -1) when its rows look dense:
   eight sample rows (or columns) first, then as soon as more than cap nonzeros are found;
   the product tasks then stop with status 2 and the caller runs the dense product.

   Product: each row's 16V-column block is held in registers and summed over the row's
   nonzeros in column order (one chain of fused multiply-adds from 0), then stored (the bias
   added after, rounded apart as a separate add). The zeros' terms are not added, and need
   not be: with b finite, fma(0, b, s) is s exactly (s starts at +0 and a sum of nonzero
   products rounded to nearest is never -0), so the result is the dense product's single
   chain in column order. Where b is not finite, 0 * inf would be NaN in the dense product:
   each task checks its columns of b as it copies them (status 1) and stops.

   Without AVX-512 only gemm_sparse_simd is built (it says 0) and the callers keep the
   dense product. Every index is bounded by the sizes and strides the Python caller
   (tenfold/backend/gemm_sparse.py) takes from the arrays; each segment of idx and val
   holds cap + 16 entries (a block's compressed store writes 16 lanes). */
#include "tf_native.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#include "tf_scratch.h"

TF_EXPORT int64_t gemm_sparse_simd(void) { return 1; }

static inline __mmask16 tail16(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
}

static inline __mmask16 nonzero16(__m512 v, __mmask16 valid) {
    return _mm512_mask_cmp_ps_mask(valid, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
}

/* nonzeros of the n contiguous floats at p */
static int64_t count_run(const float *p, int64_t n) {
    int64_t got = 0;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 t = tail16(n - i);
        got += __builtin_popcount(nonzero16(_mm512_maskz_loadu_ps(t, p + i), t));
    }
    return got;
}

/* whether eight runs spread over `runs` runs of n contiguous floats (os apart) hold more
   than `per_run` nonzeros each on average */
static int looks_dense(const float *a, int64_t runs, int64_t os, int64_t n, double per_run) {
    int64_t samples = runs < 8 ? runs : 8, got = 0;
    for (int64_t s = 0; s < samples; s++)
        got += count_run(a + (s * runs / samples) * os, n);
    return (double)got > per_run * (double)samples;
}

/* rows contiguous: each row's nonzeros compressed 16 columns at a time */
static int64_t pack_rows(const float *a, int64_t r0, int64_t r1, int64_t k, int64_t ars,
                         float *val, int32_t *idx, int64_t *start, int64_t *end,
                         int64_t off, int64_t cap) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                           14, 15);
    int64_t nnz = 0;
    for (int64_t r = r0; r < r1; r++) {
        const float *row = a + r * ars;
        start[r] = off + nnz;
        for (int64_t c = 0; c < k; c += 16) {
            __mmask16 t = tail16(k - c);
            __m512 v = _mm512_maskz_loadu_ps(t, row + c);
            __mmask16 nz = nonzero16(v, t);
            if (!nz) continue;
            if (nnz > cap) return -1;   /* the store below stays within cap + 16 */
            _mm512_storeu_ps(val + off + nnz, _mm512_maskz_compress_ps(nz, v));
            _mm512_storeu_si512(idx + off + nnz, _mm512_maskz_compress_epi32(
                nz, _mm512_add_epi32(iota, _mm512_set1_epi32((int)c))));
            nnz += __builtin_popcount(nz);
        }
        end[r] = off + nnz;
    }
    return nnz > cap ? -1 : nnz;
}

/* columns contiguous (a = x^T): each row's nonzeros counted over the columns (16 rows at a
   time, in `count`), then listed in column order through per-row cursors */
static int64_t pack_columns(const float *a, int64_t r0, int64_t r1, int64_t k, int64_t acs,
                            float *val, int32_t *idx, int64_t *start, int64_t *end,
                            int32_t *count, int64_t off, int64_t cap) {
    for (int64_t r = r0; r < r1; r++) count[r] = 0;
    const __m512i one = _mm512_set1_epi32(1);
    for (int64_t c = 0; c < k; c++) {
        const float *col = a + c * acs;
        for (int64_t r = r0; r < r1; r += 16) {
            __mmask16 t = tail16(r1 - r);
            __mmask16 nz = nonzero16(_mm512_maskz_loadu_ps(t, col + r), t);
            if (!nz) continue;
            __m512i n = _mm512_maskz_loadu_epi32(t, count + r);
            _mm512_mask_storeu_epi32(count + r, t, _mm512_mask_add_epi32(n, nz, n, one));
        }
    }
    int64_t nnz = 0;
    for (int64_t r = r0; r < r1; r++) {
        start[r] = off + nnz;
        nnz += count[r];
        end[r] = off + nnz;
    }
    if (nnz > cap) return -1;
    for (int64_t r = r0; r < r1; r++) count[r] = (int32_t)(start[r] - off);
    for (int64_t c = 0; c < k; c++) {
        const float *col = a + c * acs;
        for (int64_t r = r0; r < r1; r += 16) {
            __mmask16 t = tail16(r1 - r);
            __mmask16 nz = nonzero16(_mm512_maskz_loadu_ps(t, col + r), t);
            while (nz) {
                int64_t q = r + __builtin_ctz(nz);
                int64_t at = off + count[q]++;
                val[at] = col[q];
                idx[at] = (int32_t)c;
                nz &= (__mmask16)(nz - 1);
            }
        }
    }
    return nnz;
}

#define SPARSE_V 8    /* 16-float vectors of a row's block held in registers: 128 columns */
#define SPARSE_KB 40   /* rows of b per k block: 40 x 128 floats (20 KB) stay in L1 */
#define SPARSE_ROWS 512   /* rows of a per pass: their partial sums (256 KB) stay in L2 */

/* b[k0:k1, j:j + 16V) copied into pk (rows of 16V floats; lanes past j1 zero); 0 where it
   holds an infinity or a NaN (x - x is then NaN, and NaN stays in the sum), else 1 */
static int pack_b(const float *b, int64_t brs, int64_t k0, int64_t k1, int64_t j,
                  const __mmask16 *t, float *pk) {
    __m512 bad = _mm512_setzero_ps();
    for (int64_t p = k0; p < k1; p++) {
        const float *br = b + p * brs + j;
        float *dst = pk + (p - k0) * 16 * SPARSE_V;
        for (int v = 0; v < SPARSE_V; v++) {
            __m512 x = _mm512_maskz_loadu_ps(t[v], br + 16 * v);
            bad = _mm512_add_ps(bad, _mm512_sub_ps(x, x));
            _mm512_store_ps(dst + 16 * v, x);
        }
    }
    return !_mm512_cmp_ps_mask(bad, bad, _CMP_UNORD_Q);
}

/* c[:, j0:j1) = a @ b[:, j0:j1) (+ bias[j0:j1)) from a's lists; b: k rows (row stride brs),
   c: m rows (row stride crs), columns contiguous in both. *status = 1 (nothing promised
   about c) where b[:, j0:j1) holds an infinity or a NaN; -1 where the thread's scratch
   cannot be had.

   Each nonzero reads one vector of b per 16 columns, and b is too big for L1: read from
   L2, that vector would cost two cycles for each one-cycle fused multiply-add. So the
   reduction is cut into blocks of SPARSE_KB rows of b, copied into a contiguous scratch
   (b's own rows, a power of two apart, would share a few L1 sets), where every row of a
   takes its nonzeros of that block, SPARSE_ROWS rows at a time. A row's partial sums wait
   between blocks in the thread's own scratch (float32 either way: the same chain), and
   only the last block
   writes c: two tasks' columns can share c's cache line at their border, which written at
   every block passes between the cores (the MLP's forward on two threads: 230 us -> 170). */
static void product(const float *val, const int32_t *idx, const int64_t *start,
                    const int64_t *end, const float *b, float *c, const float *bias,
                    int64_t *status, int64_t m, int64_t k, int64_t brs, int64_t crs,
                    int64_t j0, int64_t j1) {
    const int64_t w = 16 * SPARSE_V;
    int64_t blocks = (k + SPARSE_KB - 1) / SPARSE_KB;
    /* slot 0: the packed block of b, then the rows' cursors; slot 1: the partial sums */
    float *pk = thread_scratch(0, (size_t)SPARSE_KB * w + 2 * (size_t)SPARSE_ROWS);
    float *part = blocks > 1 ? thread_scratch(1, (size_t)SPARSE_ROWS * w) : 0;
    if (!pk || (blocks > 1 && !part)) {
        *status = -1;
        return;
    }
    int64_t *cur = (int64_t *)(pk + SPARSE_KB * w);
    for (int64_t j = j0; j < j1; j += w) {
        __mmask16 t[SPARSE_V];
        for (int v = 0; v < SPARSE_V; v++) t[v] = tail16(j1 - j - 16 * v);
        __m512 bs[SPARSE_V];
        for (int v = 0; v < SPARSE_V; v++)
            bs[v] = bias ? _mm512_maskz_loadu_ps(t[v], bias + j + 16 * v) : _mm512_setzero_ps();
        for (int64_t r0 = 0; r0 < m; r0 += SPARSE_ROWS) {
            int64_t r1 = m - r0 > SPARSE_ROWS ? r0 + SPARSE_ROWS : m;
            for (int64_t r = r0; r < r1; r++) cur[r - r0] = start[r];
            for (int64_t k0 = 0; k0 < k || k0 == 0; k0 += SPARSE_KB) {
                int64_t k1 = k - k0 > SPARSE_KB ? k0 + SPARSE_KB : k;
                int first = k0 == 0, last = k1 == k;
                if (!pack_b(b, brs, k0, k1, j, t, pk)) {
                    *status = 1;
                    return;
                }
                for (int64_t r = r0; r < r1; r++) {
                    int64_t q = cur[r - r0], e = end[r];
                    float *pr = part + (r - r0) * w;
                    if (!last && !(q < e && idx[q] < k1)) {   /* nothing to add here */
                        if (first)
                            for (int v = 0; v < SPARSE_V; v++)
                                _mm512_store_ps(pr + 16 * v, _mm512_setzero_ps());
                        continue;
                    }
                    __m512 acc[SPARSE_V];
                    for (int v = 0; v < SPARSE_V; v++)
                        acc[v] = first ? _mm512_setzero_ps() : _mm512_load_ps(pr + 16 * v);
                    for (; q < e && idx[q] < k1; q++) {
                        __m512 x = _mm512_set1_ps(val[q]);
                        const float *br = pk + ((int64_t)idx[q] - k0) * w;
                        for (int v = 0; v < SPARSE_V; v++)
                            acc[v] = _mm512_fmadd_ps(x, _mm512_load_ps(br + 16 * v), acc[v]);
                    }
                    cur[r - r0] = q;
                    if (last) {
                        float *cr = c + r * crs + j;
                        for (int v = 0; v < SPARSE_V; v++)
                            _mm512_mask_storeu_ps(cr + 16 * v, t[v],
                                                  bias ? _mm512_add_ps(acc[v], bs[v]) : acc[v]);
                    } else {
                        for (int v = 0; v < SPARSE_V; v++) _mm512_store_ps(pr + 16 * v, acc[v]);
                    }
                }
            }
        }
    }
}

/* The parameter block's slots (int64; pointers as integers) */
enum { P_A, P_VAL, P_IDX, P_START, P_END, P_COUNT, P_GOT, P_DONE, P_B, P_C, P_BIAS, P_STATUS,
       P_M, P_K, P_ARS, P_ACS, P_BRS, P_CRS, P_N, P_LISTS, P_CAP, P_WIDTH, P_SLOTS };

/* Task t of the region: t < T lists rows [t m / T, (t + 1) m / T) of a into segment t (its
   count, or -1, in got[t]); the others compute columns [w u, w (u + 1)) of c, u = t - T,
   once done == T (status[u]: 0, 1 b not finite, 2 a dense, -1 no scratch). */
TF_EXPORT void sparse_task_f32(int64_t *p, int64_t t) {
    const float *a = (const float *)p[P_A];
    float *val = (float *)p[P_VAL];
    int32_t *idx = (int32_t *)p[P_IDX];
    int64_t *start = (int64_t *)p[P_START], *end = (int64_t *)p[P_END];
    int64_t *got = (int64_t *)p[P_GOT], *done = (int64_t *)p[P_DONE];
    int64_t m = p[P_M], k = p[P_K], lists = p[P_LISTS], cap = p[P_CAP];
    if (t < lists) {
        int64_t r0 = t * m / lists, r1 = (t + 1) * m / lists, off = t * (cap + 16), n;
        int64_t ars = p[P_ARS], acs = p[P_ACS];
        double per_run = 1.25 * (double)cap / (double)(r1 - r0 > 0 ? r1 - r0 : 1);
        if (r1 <= r0)
            n = 0;
        else if (acs == 1)
            n = looks_dense(a + r0 * ars, r1 - r0, ars, k, per_run) ? -1
                : pack_rows(a, r0, r1, k, ars, val, idx, start, end, off, cap);
        else if (ars == 1)
            n = looks_dense(a + r0, k, acs, r1 - r0, per_run * (double)(r1 - r0) / (double)k)
                ? -1 : pack_columns(a, r0, r1, k, acs, val, idx, start, end,
                                    (int32_t *)p[P_COUNT], off, cap);
        else
            n = -1;
        got[t] = n;
        __atomic_fetch_add(done, 1, __ATOMIC_RELEASE);
        return;
    }
    int64_t u = t - lists, w = p[P_WIDTH], n = p[P_N];
    int64_t *status = (int64_t *)p[P_STATUS] + u;
    while (__atomic_load_n(done, __ATOMIC_ACQUIRE) < lists) _mm_pause();
    for (int64_t i = 0; i < lists; i++)
        if (got[i] < 0) {
            *status = 2;
            return;
        }
    int64_t j0 = u * w, j1 = j0 + w < n ? j0 + w : n;
    product(val, idx, start, end, (const float *)p[P_B], (float *)p[P_C],
            (const float *)p[P_BIAS], status, m, k, p[P_BRS], p[P_CRS], j0, j1);
}

#else

TF_EXPORT int64_t gemm_sparse_simd(void) { return 0; }

#endif
