/* runtime/internal.h — libmojave's internal state: pointer table, speculation
 * levels, copy-on-write logs.  Not installed; prefix _moj_ / MOJ_.
 *
 * All mutable runtime state lives in one mmap'd region (`_moj_rt`), never in
 * .data/.bss, because aborting a speculation restores the executable's
 * writable segments and must not roll the runtime back with the program.  The
 * few true globals are set once at start-up, or live in the `moj_rt` section
 * that the globals snapshot skips. */
#ifndef MOJ_INTERNAL_H
#define MOJ_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"
#include "mojave/abi.h"
#include "mojave/alloc.h"
#include "mojave/spec.h"

#define MOJ_HIDDEN  __attribute__((visibility("hidden")))
#define MOJ_EXPORT  __attribute__((visibility("default")))
#define MOJ_RTVAR   __attribute__((section("moj_rt")))
#define MOJ_NOINLINE __attribute__((noinline))

/* Owner value of a table entry that is on the free list. */
#define MOJ_OWNER_FREE 0xffffffffu
/* Default and hard limits of the table (entries, index 0 unused). */
#define MOJ_DEFAULT_MAX_OBJECTS (1u << 27)
#define MOJ_HARD_MAX_OBJECTS    ((1u << MOJ_INDEX_BITS) - 1)

/* Per-entry cold metadata (parallel byte array). */
#define MOJ_META_ALIGN_MASK 0x3f  /* log2 of the object's alignment          */
#define MOJ_META_INHEAP     0x40  /* base lives in its owner level's private heap */
#define MOJ_META_LARGE      0x80  /* base is a large object's mapping (large.c)   */

/* A saved table entry: pre-state of an object before a level modified it. */
typedef struct moj_rec {
  uint32_t    idx;
  uint8_t     meta;
  uint8_t     unallocated; /* object did not exist before this level */
  uint16_t    _pad;
  moj_entry_t saved;
} moj_rec_t;

typedef struct moj_vec {  /* growable array of records, backed by mmap */
  moj_rec_t *v;
  size_t     n, cap;
} moj_vec_t;

/* Saved machine context of spec_enter: the callee-saved state of the
 * platform ABI, in the layout spec_<processor>.S writes and reads. */
#if defined(__x86_64__)
typedef struct moj_ctx {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
  uint32_t mxcsr;
  uint16_t fpucw;
  uint16_t _pad;
} moj_ctx_t;
#elif defined(__aarch64__)
typedef struct moj_ctx {
  uint64_t x19_x28[10], fp, lr, sp;
  uint64_t d8_d15[8];   /* the low halves of v8-v15 are callee-saved */
  uint64_t fpcr;
} moj_ctx_t;
_Static_assert(sizeof(moj_ctx_t) == 176, "spec_aarch64.S's frame holds a moj_ctx_t");
#else
#error "libmojave supports x86-64 and aarch64 (runtime/spec_<processor>.S)"
#endif

/* A page of the main stack as it was at some level's entry (stack_lazy.c). */
typedef struct moj_ovl { uintptr_t addr; char *page; } moj_ovl_t;

typedef struct moj_level {
  int        id;         /* public id, never reused                      */
  uint32_t   owner;      /* owner value in table entries (== id)         */
  pthread_t  thread;     /* thread that entered                           */
  moj_ctx_t  ctx;        /* registers at spec_enter                      */
  moj_vec_t  log;        /* pre-states of objects this level modified    */
  void      *heap;       /* mi_heap_t*, created on first allocation      */
  /* stack frames live at entry: [stack_lo, stack_hi) copied to stack_save;
   * [stack_hi, stack_top), when not empty, saved lazily (stack_lazy.c) */
  uintptr_t  stack_lo, stack_hi, stack_top;
  char      *stack_save; size_t stack_cap;
  moj_ovl_t *ovl; size_t novl, ovl_cap; /* main-stack pages as at this entry */
  uint8_t   *ovl_bits;                  /* ... which pages ovl holds        */
  char      *globals_save; size_t globals_cap; /* snapshot of writable data */
  off_t      out_mark[2];/* held stdout/stderr length at entry            */
  int        mask_saved; /* the signal mask was changed while this level was innermost */
  uint64_t   mask_at;    /* ... and this was the mask before that first change        */
  int        errno_at;   /* errno at spec_enter: thread-local, restored by hand        */
  int        freed_own;  /* freed blocks of its own heap: may hold empty pages (spec.c) */
} moj_level_t;

/* A writable range of the executable captured by the globals snapshot. */
typedef struct moj_range { uintptr_t lo, hi; } moj_range_t;
#define MOJ_MAX_RANGES 16
#define MOJ_MAX_CTX_STACKS 16

/* A thread's cache of free table indices (table.c): the allocation and free
 * fast paths pop and push here with no lock and no atomic instruction.
 * `n` is written by its thread only, read by moj_get_stats on others
 * (relaxed atomics: plain moves on x86-64).  `lim` is MOJ_TC_CAP once the
 * cache is registered, 0 before and after (so a push goes to the slow path,
 * which registers the cache or, once its thread is exiting, bypasses it). */
#define MOJ_TC_CAP   64
#define MOJ_TC_BATCH 32          /* indices moved per refill / flush     */
typedef struct moj_tcache {
  uint32_t n, lim;
  int      registered;           /* 0 not yet, 1 in rt->caches, -1 thread exiting */
  struct moj_tcache *next;       /* rt->caches, under rt->lock           */
  uint32_t idx[MOJ_TC_CAP];
} moj_tcache_t;
extern __thread moj_tcache_t _moj_tc MOJ_HIDDEN __attribute__((tls_model("initial-exec")));

typedef struct moj_rt {
  pthread_mutex_t lock;          /* global free list, growth, rt->caches */
  moj_tcache_t   *caches;        /* every registered per-thread cache    */
  pthread_key_t   tc_key;        /* its destructor returns a dead thread's cache */
  moj_entry_t    *table;         /* entry 0 unused                      */
  uint8_t        *meta;
  uint32_t        capacity;      /* max index + 1                       */
  uint32_t        top;           /* next never-used index               */
  uint32_t        free_head;     /* free list through entry.size        */
  size_t          live;          /* indices outside the global pool (objects + cached) */
  size_t          cow_copies, cow_bytes;

  int             depth;         /* active levels                       */
  int             next_id;
  int             last_abort_code;
  moj_level_t     levels[SPEC_MAX_LEVELS + 1]; /* [1..depth]            */

  moj_range_t     ranges[MOJ_MAX_RANGES];
  int             nranges;
  size_t          globals_bytes;

  /* held output (see output.c) */
  int             out_fd[2];     /* memfd per stream (same one if shared) */
  int             saved_fd[2];   /* the real stdout/stderr while held     */
  int             out_shared;    /* stdout and stderr are the same file   */
  off_t           released[2];   /* held bytes already copied out         */
  off_t           last_mark[2];  /* held lengths when last measured       */
  int             out_mode, out_mode_set; /* MOJAVE_HOLD_OUTPUT           */
  int             out_armed;     /* a speculation is holding output       */
  int             out_engaged;   /* descriptors 1/2 point at the memfds   */
  int             out_dirty;     /* output may have happened since last_mark */
  int             out_children;  /* a child process may write at any time */
  int             out_inherited; /* forked child: the memfds are the parent's */
  /* Memory files children started inside a finished speculation may still
   * write to: what they add is copied to `dst` when the program waits for a
   * child (pclose, wait*) and at exit (output.c). */
  struct { int fd, dst; off_t off; } linger[8];
  int             out_detached[2]; /* the program replaced or closed fd 1/2 while held */
  struct { int fd, stream, cloexec; } alias[16]; /* its dups of held fds 1/2 */
  int             nalias;

  char           *altstack;      /* stack used while restoring the stack */
  size_t          altstack_size;
  uintptr_t       abort_sp;      /* frame of the spec_abort call (ASan builds) */
  int             abort_from;    /* depth before the abort in progress         */
  int             threads;       /* threads started through pthread_create and still running */

  /* signal.c: the program's own dispositions behind the runtime's trampoline */
  struct { void *fn; int flags; int wrapped; } sig_act[65];
  size_t          sig_deferred;  /* signals deferred out of slow paths (statistics) */
  struct { uintptr_t lo, hi; } ctx_stack[16]; /* makecontext stacks (snapshot.c) */
  unsigned        ctx_next;
  uintptr_t       main_stack_span;
  int             exiting;       /* exit() has started: levels <= exit_id were committed by it */
  int             exit_id;
} moj_rt_t;

/* Per-thread signal state (signal.c).  `in_rt` brackets the runtime's slow
 * paths: an asynchronous signal arriving inside one is deferred (recorded and
 * re-sent to this thread when the outermost slow path returns), so handlers
 * never see — or abort in the middle of — a half-updated table, log or heap.
 * Thread-local, never in .data/.bss: an abort must not roll it back. */
typedef struct moj_sigtls {
  int       in_rt;      /* runtime slow paths active on this thread (nesting) */
  int       hdepth;     /* wrapped handlers running on this thread            */
  uint64_t  pending;    /* deferred signals, bit sig-1                         */
  uintptr_t hsp;        /* frame of the outermost running handler             */
  uint64_t  hmask;      /* signal mask of the code that handler interrupted   */
  siginfo_t info[64];   /* siginfo of each deferred signal                     */
} moj_sigtls_t;
extern __thread moj_sigtls_t _moj_sig MOJ_HIDDEN __attribute__((tls_model("initial-exec")));

extern moj_rt_t *_moj_rt MOJ_HIDDEN;
extern uintptr_t _moj_tbl_h MOJ_HIDDEN;        /* __moj_tbl (table.c)       */
extern uint32_t  _moj_cur_owner_h MOJ_HIDDEN;  /* __moj_cur_owner (table.c) */

void _moj_init(void) MOJ_HIDDEN;
void _moj_fatal(const char *fmt, ...) MOJ_HIDDEN __attribute__((noreturn, format(printf, 1, 2)));
/* libzstd is loaded on first use (zstd_lazy.c); this loads it now. */
void _moj_zstd_preload(void) MOJ_HIDDEN;
void _moj_warn_once(int *flag, const char *fmt, ...) MOJ_HIDDEN __attribute__((format(printf, 2, 3)));

/* table.c */
uint32_t _moj_index_alloc(void) MOJ_HIDDEN;         /* 0 when full (errno set) */
void     _moj_index_caches_init(moj_rt_t *rt) MOJ_HIDDEN; /* start-up: per-thread caches */
void     _moj_index_release(uint32_t idx) MOJ_HIDDEN; /* marks the entry free, caches it */
uint32_t _moj_index_refill(void) MOJ_HIDDEN;        /* slow path of _moj_index_pop */
void     _moj_index_flush(uint32_t idx) MOJ_HIDDEN; /* slow path of _moj_index_push */
void     _moj_index_caches_drop(void) MOJ_HIDDEN;   /* migration restore: forget cached indices */
void    *_moj_vec_push(moj_vec_t *v) MOJ_HIDDEN;    /* fatal on ENOMEM */
void    *_moj_mmap(size_t n) MOJ_HIDDEN;            /* libc_real.c; NULL on failure */

static inline moj_entry_t *_moj_ent(uint32_t idx) { return &_moj_rt->table[idx]; }
static inline uint64_t _moj_make_handle(uint32_t idx) {
  return MOJ_HANDLE_TAG | ((uint64_t)idx << MOJ_INDEX_SHIFT);
}
/* The handle (offset 0) of entry e: __moj_tbl is biased by 2^31 entries, so
 * (e - __moj_tbl) / 16 is idx + 2^31 and shifting it up sets the tag too. */
static inline uintptr_t _moj_handle_of_entry(const moj_entry_t *e) {
  return ((uintptr_t)e - _moj_tbl_h) << (MOJ_INDEX_SHIFT - 4);
}

/* Index fast paths: callers hold _moj_rt_enter (a handler running between
 * the load and the store of `n` would otherwise hand out the same index). */
static inline uint32_t _moj_index_pop(void) {
  moj_tcache_t *c = &_moj_tc;
  uint32_t n = c->n;
  if (moj_unlikely(n == 0)) return _moj_index_refill();
  __atomic_store_n(&c->n, n - 1, __ATOMIC_RELAXED);
  return c->idx[n - 1];
}
static inline void _moj_index_push(uint32_t idx) { /* entry already marked free */
  moj_tcache_t *c = &_moj_tc;
  uint32_t n = c->n;
  if (moj_unlikely(n >= c->lim)) { _moj_index_flush(idx); return; }
  c->idx[n] = idx;
  __atomic_store_n(&c->n, n + 1, __ATOMIC_RELAXED);
}

/* alloc.c */
/* Alignment every heap block gets without asking (mimalloc's natural one
 * for blocks >= 16 B); images record it (migrate/image_abi.c). */
#define MOJ_MIN_ALIGN_LOG2 4
void *_moj_block_alloc(moj_level_t *l, size_t n, unsigned align_log2) MOJ_HIDDEN;
/* ... and large objects too: *where gets MOJ_META_LARGE or (in a level) INHEAP */
void *_moj_block_alloc_obj(moj_level_t *l, size_t n, unsigned align_log2, uint8_t *where) MOJ_HIDDEN;

/* large.c: objects of _moj_large_min bytes or more (4 MiB; MOJAVE_LARGE_MIN
 * overrides it, which the differential test uses), copied on write by page */
extern size_t _moj_large_min MOJ_HIDDEN;
size_t _moj_large_min_init(void) MOJ_HIDDEN;
static inline size_t _moj_large_threshold(void) {
  return moj_likely(_moj_large_min) ? _moj_large_min : _moj_large_min_init();
}
void *_moj_large_alloc(size_t n) MOJ_HIDDEN;       /* NULL: use mimalloc          */
void  _moj_large_free(void *b) MOJ_HIDDEN;
void *_moj_large_copy(void *b) MOJ_HIDDEN;         /* NULL: copy the whole object */
void *_moj_large_writeback(void *view, void *pre) MOJ_HIDDEN; /* the new base, or NULL */
int   _moj_large_owns_fd(int fd) MOJ_HIDDEN;
void  _moj_block_free(void *b, uint8_t meta) MOJ_HIDDEN; /* mi_free or _moj_large_free */

/* spec.c */
static inline moj_level_t *_moj_top(void) {
  return _moj_rt->depth ? &_moj_rt->levels[_moj_rt->depth] : NULL;
}

/* snapshot.c: globals and stack */
void _moj_globals_init(void) MOJ_HIDDEN;
int  _moj_globals_save(moj_level_t *l) MOJ_HIDDEN;
void _moj_globals_restore(const moj_level_t *l) MOJ_HIDDEN;
uintptr_t _moj_stack_top_of(uintptr_t sp) MOJ_HIDDEN; /* 0 + EFAULT: unknown stack */
uintptr_t _moj_main_stack_span(void) MOJ_HIDDEN;     /* RLIMIT_STACK, at most 1 GB */

/* stack_lazy.c: the main stack above a margin, saved lazily.  Entry copies
 * [sp, split) itself; levels with at most MOJ_STACK_EAGER bytes of live stack
 * copy all of it (cheaper than the system call that tracks the rest). */
#define MOJ_STACK_EAGER  (64u << 10)
#define MOJ_STACK_MARGIN (16u << 10)
uintptr_t _moj_stack_lazy_enter(moj_level_t *inner, uintptr_t sp, uintptr_t top) MOJ_HIDDEN; /* split */
void _moj_stack_lazy_fold(int k, int d) MOJ_HIDDEN;    /* levels k..d end: overlays to k-1 */
void _moj_stack_lazy_restore(int k, int d) MOJ_HIDDEN; /* abort to k: lazy range back, then fold */
size_t _moj_stack_lazy_stats(size_t *bytes) MOJ_HIDDEN;/* lazy entries; bytes copied into S */
void _moj_note_context_stack(uintptr_t lo, uintptr_t hi) MOJ_HIDDEN; /* a makecontext stack */

/* output.c */
int  _moj_output_begin(void) MOJ_HIDDEN;                  /* outermost entry            */
void _moj_output_marks(off_t mark[2]) MOJ_HIDDEN;         /* held lengths now           */
void _moj_output_truncate(const off_t mark[2]) MOJ_HIDDEN;/* abort: drop after the marks */
void _moj_output_flush_to(const off_t to[2]) MOJ_HIDDEN;  /* commit: copy out up to marks (-1 = all) */
void _moj_output_end(int discard) MOJ_HIDDEN;             /* no level left: stop holding */
void _moj_output_hook(void) MOJ_HIDDEN;                   /* an output path is about to run */
void _moj_output_children(void) MOJ_HIDDEN;               /* a child process is being started */
void _moj_output_forked(void) MOJ_HIDDEN;                 /* in a child of fork() */
void _moj_output_drain(void) MOJ_HIDDEN;                  /* copy out what children wrote after their speculation */
void _moj_output_fd_replaced(int fd) MOJ_HIDDEN;          /* the program closed or dup2'ed over fd */
void _moj_output_fd_dup(int oldfd, int newfd, int cloexec) MOJ_HIDDEN; /* newfd now duplicates oldfd */
void _moj_output_wrappers_linked(void) MOJ_HIDDEN;
extern int _moj_out_hook MOJ_HIDDEN;                      /* output_wrap.c: a speculation may hold output */

/* libc_real.c — the bottom layer under the interposers: libc's own functions */
void *_moj_real(const char *name) MOJ_HIDDEN;             /* next definition of name (RTLD_NEXT), or fatal */
ssize_t _moj_sys_write(int fd, const void *b, size_t n) MOJ_HIDDEN; /* the runtime's own writes: never held */
int _moj_sys_fflush(FILE *f) MOJ_HIDDEN;                  /* the runtime's own flushes: never held */

/* signal.c */
void _moj_sig_replay(void) MOJ_HIDDEN;                    /* re-send deferred signals */
void _moj_sig_abort_prepare(int k, uintptr_t sp) MOJ_HIDDEN; /* spec_abort of level k, from frame sp */
void _moj_sig_abort_resume(void) MOJ_HIDDEN;              /* on the abort stack, just before resuming */
void _moj_sig_commit(int k) MOJ_HIDDEN;                   /* level k commits into k-1 */
#define MOJ_SIGFENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#include "spec_ext.h"
static inline void _moj_rt_enter(void) { _moj_sig.in_rt++; MOJ_SIGFENCE(); }
static inline void _moj_rt_leave(void) {
  MOJ_SIGFENCE();
  if (--_moj_sig.in_rt == 0 && moj_unlikely(_moj_sig.pending)) _moj_sig_replay();
}

/* threads.c */
int _moj_threads_running(void) MOJ_HIDDEN;

/* the DSM client (runtime/dsm), when linked in: it chains signal() and sigaction() */
int __moj_dsm_sigaction(int, const struct sigaction *, struct sigaction *) MOJ_HIDDEN __attribute__((weak));

/* spec_x86_64.S / spec_aarch64.S */
int  _moj_spec_enter_c(moj_ctx_t *regs, uintptr_t caller_sp) MOJ_HIDDEN;
void _moj_resume(const moj_ctx_t *ctx, int value) MOJ_HIDDEN __attribute__((noreturn));
void _moj_on_stack(void *stack_top, void (*fn)(void *), void *arg) MOJ_HIDDEN __attribute__((noreturn));
void _moj_copy_raw(void *dst, const void *src, size_t n) MOJ_HIDDEN; /* memcpy that no hook can see */

#endif /* MOJ_INTERNAL_H */
