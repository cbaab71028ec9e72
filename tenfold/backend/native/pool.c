/* A fork-join pool of C threads for the native kernels' parallel regions.

   Why: kernels.run_tasks hands tasks to Python threads (a ThreadPoolExecutor). On this
   kind of machine (a 2-core VM) a hand-off costs 40-70 us: a futex wake-up of the helper,
   then the GIL passed back and forth around each task's Python glue. Sub-millisecond
   kernels (most of a Transformer step's) are therefore run on one thread. Here the
   helpers are C threads that call the kernel themselves (no GIL), and after a region
   they spin for a short while (`spin_ns`, with pause instructions) before sleeping on a
   condition variable, so a region that follows soon starts in a microsecond or two;
   pool_quiet() sends spinning helpers to sleep at once (the Python threads' regions).

   A region: `pool_run(fn, n_tasks, iargs, n_int, dargs, n_dbl, threads, spin_ns)` calls
   fn(iargs[t*n_int], ..., iargs[t*n_int + n_int - 1], dargs[0], ..., dargs[n_dbl - 1])
   for every task t, on the calling thread and up to threads - 1 helpers; tasks are taken
   in order from a shared counter, so a helper that is not scheduled (a busy machine) just
   takes fewer of them. It returns when every task is done. The call goes through one
   function type of 24 integer and 8 double arguments: on the x86-64 System V and AArch64
   ABIs, integer (pointer) and floating-point arguments travel in separate register files
   (the excess integers on the stack, in order), so a kernel taking k <= 24 integers and
   d <= 8 doubles, in any interleaving, reads exactly its own; elsewhere pool_abi() says 0
   and the Python side keeps its thread pool.

   A started region (`pool_start`) runs on the helpers while the caller goes on, until
   `pool_join`, where the caller takes the tasks left and waits for the rest (the
   optimizer's update overlapping the Python after it: tenfold/backend/native_pool.py).

   Safety: one region at a time (a mutex around pool_run; the Python side also runs one;
   a started region holds it until its join, which pool_run and fork() do first);
   a helper joins a region under the mutex and only while it is open, and the caller
   closes it and waits for the helpers that joined before returning, so a helper never
   reads a later region's arguments. fork() waits for a running region; the child has no
   helpers, and its pool starts again empty. */
#define _POSIX_C_SOURCE 200809L
#include "tf_native.h"
#include <pthread.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Subnormal floats: flushed to zero (results) and read as zero (inputs) while tenfold runs,
   as TensorFlow's and XLA's CPU kernels do. Why: an operation on a subnormal takes ~100
   cycles of microcode instead of one, and training makes them: RMSprop's and Adam's second
   moments decay by rho each step wherever a gradient is (nearly) zero (the MLP's first-layer
   slots: a third of 401K values after 700 steps, and its update 4-6x slower). The mode is a
   per-thread register (x86-64: MXCSR's FTZ and DAZ bits; AArch64: FPCR.FZ), so the caller
   sets it around its work (`fp_flush_enter` / `fp_flush_restore`) and the pool's helpers
   take the caller's for each region. */
#if defined(__x86_64__)
#define FP_FLUSH_BITS 0x8040u   /* MXCSR: FTZ (bit 15) | DAZ (bit 6) */
static inline uint64_t fp_get(void) { return _mm_getcsr(); }
static inline void fp_set(uint64_t v) { _mm_setcsr((unsigned int)v); }
#elif defined(__aarch64__)
#define FP_FLUSH_BITS (1u << 24)   /* FPCR.FZ */
static inline uint64_t fp_get(void) {
    uint64_t v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return v;
}
static inline void fp_set(uint64_t v) { __asm__ __volatile__("msr fpcr, %0" : : "r"(v)); }
#else
#define FP_FLUSH_BITS 0u
static inline uint64_t fp_get(void) { return 0; }
static inline void fp_set(uint64_t v) { (void)v; }
#endif

/* this thread's flush bits set to `bits` (only FP_FLUSH_BITS are read) */
static inline void fp_adopt(uint64_t bits) {
    const uint64_t cur = fp_get();
    if ((cur & FP_FLUSH_BITS) != (bits & FP_FLUSH_BITS))
        fp_set((cur & ~(uint64_t)FP_FLUSH_BITS) | (bits & FP_FLUSH_BITS));
}

/* Sets this thread's flush mode on; returns the bits it had (for fp_flush_restore). */
TF_EXPORT int64_t fp_flush_enter(void) {
    const uint64_t before = fp_get() & FP_FLUSH_BITS;
    fp_adopt(FP_FLUSH_BITS);
    return (int64_t)before;
}

TF_EXPORT void fp_flush_restore(int64_t bits) { fp_adopt((uint64_t)bits); }

/* flushing off on this thread (fp_flush_restore(0) without an argument to convert: the
   common exit, from a thread that was not flushing before) */
TF_EXPORT void fp_flush_off(void) { fp_adopt(0); }

/* this thread's flush bits now (FP_FLUSH_BITS when flushing; 0 where the CPU has no mode) */
TF_EXPORT int64_t fp_flush_bits(void) { return (int64_t)(fp_get() & FP_FLUSH_BITS); }
TF_EXPORT int64_t fp_flush_supported(void) { return (int64_t)FP_FLUSH_BITS; }

#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(_WIN32)
#define POOL_ABI 1
#else
#define POOL_ABI 0
#endif

TF_EXPORT int64_t pool_abi(void) { return POOL_ABI; }

#if POOL_ABI

#if defined(__x86_64__)
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() __asm__ __volatile__("yield")
#endif

#define MAX_HELPERS 63
#define N_INT 24
#define N_DBL 8

typedef void (*kernel_fn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                          int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                          int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                          int64_t, int64_t, int64_t, double, double, double, double, double,
                          double, double, double);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;     /* the region's fields */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER; /* one region at a time */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int n_helpers = 0, sleeping = 0;
static int64_t generation = 0;      /* bumped for each region (read with atomics) */
static int open_region = 0;         /* helpers may still join */
static int joined = 0;              /* helpers inside the region */
static int64_t next_task = 0;       /* the shared task counter (atomic) */
static int64_t spin_limit_ns = 0;
static int64_t quiet = 0;           /* bumped by pool_quiet: spinning helpers go to sleep */
static int pending = 0;             /* a region started by pool_start, not yet joined */
static pthread_t pending_owner;     /* the thread that started it (it holds run_lock) */
/* the region */
static kernel_fn fn_;
static int64_t n_tasks_, n_int_;
static const int64_t *iargs_;
static double dargs_[N_DBL];
static uint64_t flush_;              /* the caller's flush bits, taken by the helpers */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void run_tasks(void) {
    int64_t a[N_INT];
    for (;;) {
        const int64_t t = __atomic_fetch_add(&next_task, 1, __ATOMIC_RELAXED);
        if (t >= n_tasks_) return;
        const int64_t *row = iargs_ + t * n_int_;
        for (int64_t i = 0; i < N_INT; i++) a[i] = i < n_int_ ? row[i] : 0;
        const double *d = dargs_;
        fn_(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
            a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23],
            d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
    }
}

static void *helper_main(void *arg) {
    (void)arg;
    int64_t seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    for (;;) {
        /* spin a while for the next region, then sleep */
        int64_t g = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        if (g == seen) {
            const int64_t end = now_ns() + __atomic_load_n(&spin_limit_ns, __ATOMIC_RELAXED);
            const int64_t q = __atomic_load_n(&quiet, __ATOMIC_RELAXED);
            do {
                for (int k = 0; k < 32; k++) CPU_RELAX();
                g = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
            } while (g == seen && now_ns() < end && __atomic_load_n(&quiet, __ATOMIC_RELAXED) == q);
        }
        pthread_mutex_lock(&lock);
        if (g == seen) {
            sleeping++;
            while (generation == seen) pthread_cond_wait(&wake, &lock);
            sleeping--;
        }
        seen = generation;
        const int join = open_region;
        if (join) joined++;
        pthread_mutex_unlock(&lock);
        if (!join) continue;        /* the region closed before this helper got there */
        fp_adopt(flush_);
        run_tasks();
        pthread_mutex_lock(&lock);
        joined--;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* fork() waits for a running region and holds both locks across it; the child, where the
   helpers do not exist, starts with none */
static void join_pending(void);

static void before_fork(void) {
    join_pending();
    pthread_mutex_lock(&run_lock);
    pthread_mutex_lock(&lock);
}

static void after_fork_parent(void) {
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&run_lock);
}

static void after_fork_child(void) {
    n_helpers = sleeping = joined = open_region = 0;
    pthread_cond_init(&wake, NULL);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&run_lock);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void register_fork(void) {
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* starts helpers up to `want`; returns how many there are */
static int ensure_helpers(int want) {
    pthread_once(&fork_once, register_fork);
    if (want > MAX_HELPERS) want = MAX_HELPERS;
    while (n_helpers < want) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        int err = pthread_create(&th, &at, helper_main, NULL);
        pthread_attr_destroy(&at);
        if (err) break;
        n_helpers++;
    }
    return n_helpers;
}

/* Spinning helpers stop spinning and sleep (other threads are about to need the cores:
   the Python kernel threads' regions, whose work a spinning helper would slow down). */
TF_EXPORT void pool_quiet(void) { __atomic_add_fetch(&quiet, 1, __ATOMIC_RELAXED); }

/* Posts a region (under run_lock, the caller's): its fields set, the helpers woken when
   there are any to have (returned). */
static int post_region(const void *fn, int64_t n_tasks, const int64_t *iargs, int64_t n_int,
                       const double *dargs, int64_t n_dbl, int want) {
    int have = want > 0 ? ensure_helpers(want) : 0;
    pthread_mutex_lock(&lock);
    fn_ = (kernel_fn)fn;
    n_tasks_ = n_tasks;
    n_int_ = n_int;
    iargs_ = iargs;
    flush_ = fp_get() & FP_FLUSH_BITS;
    for (int64_t i = 0; i < N_DBL; i++) dargs_[i] = i < n_dbl ? dargs[i] : 0.0;
    __atomic_store_n(&next_task, 0, __ATOMIC_RELAXED);
    open_region = have > 0;
    if (have > 0) {
        __atomic_store_n(&generation, generation + 1, __ATOMIC_RELEASE);
        if (sleeping) pthread_cond_broadcast(&wake);
    }
    pthread_mutex_unlock(&lock);
    return have;
}

/* The caller takes the tasks left, closes the region, waits for the helpers inside it. */
static void finish_region(void) {
    run_tasks();
    pthread_mutex_lock(&lock);
    open_region = 0;
    while (joined) {
        pthread_mutex_unlock(&lock);
        CPU_RELAX();
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
}

/* a region this thread started with pool_start: finished here (else nothing) */
static void join_pending(void) {
    /* (another thread may read `pending` meanwhile: it never sees itself as the owner) */
    if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) &&
            pthread_equal(pending_owner, pthread_self())) {
        finish_region();
        __atomic_store_n(&pending, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&run_lock);
    }
}

/* Checks the arguments, finishes this thread's started region, takes run_lock and posts the
   region: the helpers it has (at most `want`), or -1 for bad arguments (nothing done). */
static int open_region_locked(const void *fn, int64_t n_tasks, const int64_t *iargs,
                              int64_t n_int, const double *dargs, int64_t n_dbl, int want,
                              int64_t spin_ns) {
    if (n_int < 0 || n_int > N_INT || n_dbl < 0 || n_dbl > N_DBL) return -1;
    join_pending();
    pthread_mutex_lock(&run_lock);
    __atomic_store_n(&spin_limit_ns, spin_ns < 0 ? 0 : spin_ns, __ATOMIC_RELAXED);
    return post_region(fn, n_tasks, iargs, n_int, dargs, n_dbl, want);
}

/* Runs the region (see the top); returns the number of helpers that could be had. A region
   this thread left pending (pool_start) is finished first. */
TF_EXPORT int64_t pool_run(const void *fn, int64_t n_tasks, const int64_t *iargs,
                           int64_t n_int, const double *dargs, int64_t n_dbl,
                           int64_t threads, int64_t spin_ns) {
    if (n_tasks <= 0) return 0;
    const int have = open_region_locked(fn, n_tasks, iargs, n_int, dargs, n_dbl,
                                        threads > 1 && n_tasks > 1 ? (int)(threads - 1) : 0,
                                        spin_ns);
    if (have < 0) return -1;
    finish_region();
    pthread_mutex_unlock(&run_lock);
    return have;
}

/* Starts a region on the helpers alone and returns at once (1), the caller free to do other
   work until pool_join, where it takes the tasks still left and waits for the rest: an
   optimizer step's update then overlaps the Python that follows it. The caller keeps iargs
   (and whatever the tasks read and write) alive and untouched until then; it must call
   pool_join (pool_run and fork() call it for it). Without a helper to have (threads <= 1),
   the tasks run here, now (0). */
TF_EXPORT int64_t pool_start(const void *fn, int64_t n_tasks, const int64_t *iargs,
                             int64_t n_int, const double *dargs, int64_t n_dbl,
                             int64_t threads, int64_t spin_ns) {
    if (n_tasks <= 0) return 0;
    const int have = open_region_locked(fn, n_tasks, iargs, n_int, dargs, n_dbl,
                                        threads > 1 ? (int)(threads - 1) : 0, spin_ns);
    if (have < 0) return -1;
    if (have == 0) {
        finish_region();
        pthread_mutex_unlock(&run_lock);
        return 0;
    }
    pending_owner = pthread_self();
    __atomic_store_n(&pending, 1, __ATOMIC_RELEASE);
    return 1;   /* run_lock stays held until pool_join */
}

/* Finishes the region this thread started with pool_start (nothing if there is none). */
TF_EXPORT void pool_join(void) { join_pending(); }

#else

TF_EXPORT int64_t pool_run(const void *fn, int64_t n_tasks, const int64_t *iargs,
                           int64_t n_int, const double *dargs, int64_t n_dbl,
                           int64_t threads, int64_t spin_ns) {
    (void)fn; (void)n_tasks; (void)iargs; (void)n_int; (void)dargs; (void)n_dbl;
    (void)threads; (void)spin_ns;
    return -1;
}

TF_EXPORT void pool_quiet(void) {}

TF_EXPORT int64_t pool_start(const void *fn, int64_t n_tasks, const int64_t *iargs,
                             int64_t n_int, const double *dargs, int64_t n_dbl,
                             int64_t threads, int64_t spin_ns) {
    (void)fn; (void)n_tasks; (void)iargs; (void)n_int; (void)dargs; (void)n_dbl;
    (void)threads; (void)spin_ns;
    return -1;
}

TF_EXPORT void pool_join(void) {}

#endif
