/* Per-thread scratch for the kernels that run as tasks of the C pool (pool.c): each thread
   keeps its own buffers between tasks, grown as needed, so no task allocates in its loop
   and no two threads share one. A buffer over TF_SCRATCH_KEEP_FLOATS (a chunk of one huge
   image) is freed after its task, so no thread holds it for the rest of the process. Each
   library that includes this has its own buffers. */
#ifndef TF_SCRATCH_H
#define TF_SCRATCH_H
#include <stdlib.h>

#define TF_SCRATCH_SLOTS 2
#define TF_SCRATCH_KEEP_FLOATS ((size_t)4 << 20)

static _Thread_local float *tl_scratch[TF_SCRATCH_SLOTS];
static _Thread_local size_t tl_floats[TF_SCRATCH_SLOTS];

static inline void release_big_scratch(void) {
    for (int k = 0; k < TF_SCRATCH_SLOTS; k++)
        if (tl_floats[k] > TF_SCRATCH_KEEP_FLOATS) {
            free(tl_scratch[k]);
            tl_scratch[k] = 0;
            tl_floats[k] = 0;
        }
}

/* slot k's buffer of at least `floats` floats (64-byte aligned), or NULL where it cannot
   be had */
static inline float *thread_scratch(int k, size_t floats) {
    if (floats > ((size_t)-1 - 64) / sizeof(float)) return 0;   /* its bytes overflow */
    if (tl_floats[k] < floats) {
        free(tl_scratch[k]);
        const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        tl_scratch[k] = (float *)aligned_alloc(64, bytes);
        tl_floats[k] = tl_scratch[k] ? floats : 0;
    }
    return tl_scratch[k];
}

#endif
