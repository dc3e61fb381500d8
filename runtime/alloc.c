/* runtime/alloc.c — the managed allocator and the write barrier's slow path.
 *
 * Objects are mimalloc blocks named by pointer-table handles.  Outside
 * speculation they come from the default (thread-safe) heap; inside a level
 * they come from that level's private mimalloc heap, so aborting a level frees
 * everything it allocated with one mi_heap_destroy.  Frees and reallocs inside
 * a level never touch the pre-state: it stays in the level's log. */
#include "internal.h"

#include <errno.h>
#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


/* A large block a level is about to fill (a copy-on-write or realloc copy)
 * is backed by transparent huge pages where the kernel allows it: copying
 * 1 GB into fresh 4 KiB pages costs ~260,000 page faults (1.1-1.6 s on the
 * reference machine), into 2 MiB pages ~190 ms, and destroying the level's
 * heap at abort drops from ~140 ms to ~7 ms.  Only the 2 MiB-aligned interior
 * is advised; below MOJ_HUGE_COPY it is not worth a system call. */
#define MOJ_HUGE_COPY ((size_t)4 << 20)
static void advise_huge(void *b, size_t n) {
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)b + huge - 1) & ~(huge - 1), hi = ((uintptr_t)b + n) & ~(huge - 1);
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

void *_moj_block_alloc(moj_level_t *l, size_t n, unsigned align_log2) {
  size_t align = (size_t)1 << align_log2;
  if (!l) return align_log2 <= MOJ_MIN_ALIGN_LOG2 ? mi_malloc(n) : mi_malloc_aligned(n, align);
  if (!l->heap && !(l->heap = mi_heap_new())) return NULL;
  void *b = align_log2 <= MOJ_MIN_ALIGN_LOG2 ? mi_heap_malloc(l->heap, n)
                                             : mi_heap_malloc_aligned(l->heap, n, align);
  if (b && n >= MOJ_HUGE_COPY) advise_huge(b, n);
  return b;
}

/* Blocks of managed objects: large ones (large.c) live outside mimalloc so a
 * level's first write can copy them page by page. */
void *_moj_block_alloc_obj(moj_level_t *l, size_t n, unsigned align_log2, uint8_t *where) {
  if (n >= _moj_large_threshold() && align_log2 <= 12) {
    void *b = _moj_large_alloc(n);
    if (b) { *where = MOJ_META_LARGE; return b; }
  }
  *where = l ? MOJ_META_INHEAP : 0;
  return _moj_block_alloc(l, n, align_log2);
}

/* calloc's zeroing.  mimalloc (2.0.9, Debian's) clears every zeroed block
 * with memset, even a fresh huge one straight from mmap, and the old code
 * did the same after mi_malloc: a large calloc'd table that the program
 * touches in a few places (a hash table, a sieve, a memo) became resident
 * whole, where glibc's calloc maps such sizes lazily — a sparse 16 MB table
 * cost 16 MB of RSS against a few KB.  From MOJ_LAZY_ZERO up, the
 * page-aligned interior is released with MADV_DONTNEED instead: mimalloc's
 * memory is private anonymous, so it reads back as zero and is faulted in
 * only where touched.  Only the unaligned head and tail are cleared.  The
 * threshold is glibc's default mmap threshold. */
#define MOJ_LAZY_ZERO ((size_t)128 << 10)
static MOJ_NOINLINE void zero_large(void *b, size_t n) {
  uintptr_t pg = (uintptr_t)getpagesize(), s = (uintptr_t)b, e = s + n;
  uintptr_t lo = (s + pg - 1) & ~(pg - 1), hi = e & ~(pg - 1);
  memset(b, 0, lo - s);
  memset((void *)hi, 0, e - hi);
  if (madvise((void *)lo, hi - lo, MADV_DONTNEED)) memset((void *)lo, 0, hi - lo);
}
static inline void zero_block(void *b, size_t n) {
  if (moj_unlikely(n >= MOJ_LAZY_ZERO)) zero_large(b, n);
  else memset(b, 0, n);
}

static uint32_t checked_index(uint64_t h, const char *what) {
  uint32_t idx = (uint32_t)(h >> MOJ_INDEX_SHIFT) & ((1u << MOJ_INDEX_BITS) - 1);
  if (moj_unlikely(idx == 0 || idx >= _moj_rt->top))
    _moj_fatal("%s: 0x%016llx is not a valid handle (index %u out of range)", what,
               (unsigned long long)h, idx);
  if (moj_unlikely(_moj_rt->table[idx].owner == MOJ_OWNER_FREE))
    _moj_fatal("%s: handle 0x%016llx refers to a freed object (use after free)", what,
               (unsigned long long)h);
  return idx;
}

static int too_big(size_t n) {
  static int warned MOJ_RTVAR;
  if (moj_likely(n <= MOJ_MAX_OBJECT_SIZE)) return 0;
  _moj_warn_once(&warned, "allocation of %zu bytes exceeds the largest managed object (%llu bytes)",
                 n, (unsigned long long)MOJ_MAX_OBJECT_SIZE);
  errno = ENOMEM;
  return 1;
}

/* Record an object's pre-state in level l (first modification in l). */
static void log_prestate(moj_level_t *l, uint32_t idx, int unallocated) {
  moj_rec_t *r = _moj_vec_push(&l->log);
  r->idx = idx;
  r->unallocated = (uint8_t)unallocated;
  r->meta = _moj_rt->meta[idx];
  r->saved = _moj_rt->table[idx];
}

static void *new_object_in(size_t n, unsigned align_log2, int zero) {
  if (moj_unlikely(!_moj_rt)) _moj_init();
  if (too_big(n)) return NULL;
  moj_level_t *l = _moj_top();
  size_t bytes = n ? n : 1;
  uint8_t where;
  void *b = _moj_block_alloc_obj(l, bytes, align_log2, &where);
  if (!b) { errno = ENOMEM; return NULL; }
  if (zero && !(where & MOJ_META_LARGE)) zero_block(b, bytes); /* large: fresh file pages */
  uint32_t idx = _moj_index_alloc();
  if (!idx) { _moj_block_free(b, where); return NULL; }
  moj_entry_t *e = _moj_ent(idx);
  e->base = b;
  e->size = (uint32_t)n;
  e->owner = l ? l->owner : 0;
  _moj_rt->meta[idx] = (uint8_t)(align_log2 | where);
  if (l) log_prestate(l, idx, 1);
  return (void *)(uintptr_t)_moj_make_handle(idx);
}

/* Every slow path runs with _moj_sig.in_rt raised: a signal handler that
 * arrives meanwhile is deferred until it returns (signal.c). */
static MOJ_NOINLINE void *new_object(size_t n, unsigned align_log2, int zero) {
  _moj_rt_enter();
  void *p = new_object_in(n, align_log2, zero);
  _moj_rt_leave();
  return p;
}

/* The fast path's way out to the general one (in_rt already raised). */
static MOJ_NOINLINE void *new_object_left(size_t n, int zero) {
  void *p = new_object(n, MOJ_MIN_ALIGN_LOG2, zero);
  _moj_rt_leave();
  return p;
}

/* mimalloc had no block for the fast path: its index goes back (in_rt held). */
static MOJ_NOINLINE void *alloc_failed(moj_entry_t *e) {
  _moj_index_release((uint32_t)(e - _moj_rt->table));
  errno = ENOMEM;
  _moj_rt_leave();
  return NULL;
}

/* The common case — outside speculation, natural alignment, an index in this
 * thread's cache — without a lock or a call other than mimalloc's own
 * thread-local fast path: one unlikely branch for everything else (first
 * call, a level active — __moj_cur_owner is non-zero exactly then —, empty
 * cache, absurd size), which takes the general path above.  in_rt is raised
 * before the cache is read: a handler that allocated between our load and
 * store of its count would hand out the same index twice. */
static inline void *new_object_fast(size_t n, int zero) {
  _moj_rt_enter();
  moj_tcache_t *c = &_moj_tc;
  uint32_t k = c->n;
  /* n > MOJ_MAX_OBJECT_SIZE; large objects (large.c) and the first call,
   * while _moj_large_min is still 0, take the general path too */
  if (moj_unlikely((k == 0) | (((n >> 32) | _moj_cur_owner_h) != 0) | (n >= _moj_large_min)))
    return new_object_left(n, zero);
  uint32_t idx = c->idx[k - 1];
  __atomic_store_n(&c->n, k - 1, __ATOMIC_RELAXED);
  moj_rt_t *rt = _moj_rt; /* set: the cache was filled by the runtime */
  moj_entry_t *e = _moj_ent(idx);
  uint64_t size_owner = n; /* n < 2^32: size n, owner 0, in one store */
  _Static_assert(offsetof(moj_entry_t, owner) == offsetof(moj_entry_t, size) + 4, "entry layout");
  memcpy(&e->size, &size_owner, sizeof size_owner);
  rt->meta[idx] = MOJ_MIN_ALIGN_LOG2;
  /* Only e lives across the call: the handle is derived from it again. */
  void *b = mi_malloc(n); /* mi_malloc(0) is a unique minimal block, as n ? n : 1 */
  if (moj_unlikely(!b)) return alloc_failed(e);
  if (zero) zero_block(b, n);
  e->base = b;
  _moj_rt_leave();
  return (void *)_moj_handle_of_entry(e);
}

MOJ_EXPORT void *moj_malloc(size_t n) { return new_object_fast(n, 0); }

MOJ_EXPORT void *moj_calloc(size_t count, size_t n) {
  size_t total;
  if (__builtin_mul_overflow(count, n, &total)) { errno = ENOMEM; return NULL; }
  return new_object_fast(total, 1);
}

static int align_log2_of(size_t align, unsigned *out) {
  if (align == 0 || (align & (align - 1)) || align > ((size_t)1 << 30)) return -1;
  unsigned lg = (unsigned)__builtin_ctzll(align);
  *out = lg < MOJ_MIN_ALIGN_LOG2 ? MOJ_MIN_ALIGN_LOG2 : lg;
  return 0;
}

MOJ_EXPORT int moj_posix_memalign(void **out, size_t align, size_t n) {
  unsigned lg;
  if (align % sizeof(void *) || align_log2_of(align, &lg)) return EINVAL;
  int saved = errno;
  void *p = new_object(n, lg, 0);
  if (!p) { errno = saved; return ENOMEM; }
  *out = p;
  return 0;
}

MOJ_EXPORT void *moj_aligned_alloc(size_t align, size_t n) {
  unsigned lg;
  if (align_log2_of(align, &lg)) { errno = EINVAL; return NULL; }
  return new_object(n, lg, 0);
}

static void free_handle(void *p);
/* The general free, entered with in_rt raised by moj_free. */
static MOJ_NOINLINE void free_slow(void *p) {
  if (p && !moj_is_handle(p)) free(p);
  else if (p) free_handle(p);
  _moj_rt_leave();
}

/* Fast path of free: a handle to the start of a live object, outside
 * speculation, room in this thread's cache.  Everything else (NULL, raw
 * pointers, bad handles and their diagnostics, levels, a full cache) is one
 * unlikely branch to free_slow.  The block goes back to mimalloc, whose free
 * is lock-free across threads; the index goes to this thread's cache. */
MOJ_EXPORT void moj_free(void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p;
  uint32_t idx = (uint32_t)(h >> MOJ_INDEX_SHIFT) & ((1u << MOJ_INDEX_BITS) - 1);
  _moj_rt_enter();
  moj_tcache_t *c = &_moj_tc;
  uint32_t k = c->n;
  moj_rt_t *rt = _moj_rt;
  /* (int64_t)h < 0 is the tag; (uint32_t)h == 0 the start; k < lim implies
   * a registered cache, so rt is set; index 0 is caught as a free entry
   * (table.c marks it so); a large object's mapping is not mimalloc's. */
  if (moj_unlikely(((int64_t)h >= 0) | ((uint32_t)h != 0) | (k >= c->lim) | (_moj_cur_owner_h != 0)) ||
      moj_unlikely(idx >= rt->top || rt->table[idx].owner == MOJ_OWNER_FREE || (rt->meta[idx] & MOJ_META_LARGE))) {
    free_slow(p); /* leaves in_rt */
    return;
  }
  moj_entry_t *e = _moj_ent(idx);
  void *b = e->base;
  e->base = NULL;
  e->owner = MOJ_OWNER_FREE; /* meta is left: every allocation sets it */
  c->idx[k] = idx;
  __atomic_store_n(&c->n, k + 1, __ATOMIC_RELAXED);
  mi_free(b);
  _moj_rt_leave();
}

static void free_handle(void *p) {
  uint64_t h = (uint64_t)(uintptr_t)p;
  uint32_t idx = checked_index(h, "free");
  if (moj_unlikely((uint32_t)h != 0))
    _moj_fatal("free: 0x%016llx points %u bytes into an object, not at its start",
               (unsigned long long)h, (uint32_t)h);
  moj_entry_t *e = _moj_ent(idx);
  moj_level_t *l = _moj_top();
  if (!l) {
    _moj_block_free(e->base, _moj_rt->meta[idx]);
    _moj_index_release(idx);
    return;
  }
  if (moj_unlikely(!e->base))
    _moj_fatal("free: handle 0x%016llx was already freed in this speculation (double free)",
               (unsigned long long)h);
  if (e->owner == l->owner) { _moj_block_free(e->base, _moj_rt->meta[idx]); l->freed_own = 1; } /* own copy: nobody needs it */
  else log_prestate(l, idx, 0);                 /* pre-state kept until commit */
  e->base = NULL;
  e->owner = l->owner;
  _moj_rt->meta[idx] &= MOJ_META_ALIGN_MASK;
}

static void *realloc_handle(void *p, size_t n);
MOJ_EXPORT void *moj_realloc(void *p, size_t n) {
  if (!p) return moj_malloc(n);
  if (!moj_is_handle(p)) return realloc(p, n);
  _moj_rt_enter();
  void *r = realloc_handle(p, n);
  _moj_rt_leave();
  return r;
}

static void *realloc_handle(void *p, size_t n) {
  uint64_t h = (uint64_t)(uintptr_t)p;
  uint32_t idx = checked_index(h, "realloc");
  if (moj_unlikely((uint32_t)h != 0))
    _moj_fatal("realloc: 0x%016llx points %u bytes into an object, not at its start",
               (unsigned long long)h, (uint32_t)h);
  if (n == 0) { moj_free(p); return NULL; }
  if (too_big(n)) return NULL;
  moj_entry_t *e = _moj_ent(idx);
  unsigned lg = _moj_rt->meta[idx] & MOJ_META_ALIGN_MASK;
  moj_level_t *l = _moj_top();
  if (moj_unlikely(!e->base))
    _moj_fatal("realloc: handle 0x%016llx was freed in this speculation", (unsigned long long)h);
  uint8_t meta = _moj_rt->meta[idx], where;
  if (!l && !(meta & MOJ_META_LARGE) && n < _moj_large_threshold()) {
    void *nb = lg <= MOJ_MIN_ALIGN_LOG2 ? mi_realloc(e->base, n)
                                        : mi_realloc_aligned(e->base, n, (size_t)1 << lg);
    if (!nb) { errno = ENOMEM; return NULL; }
    e->base = nb;
    e->size = (uint32_t)n;
    return p;
  }
  void *nb = _moj_block_alloc_obj(l, n, lg, &where);
  if (!nb) { errno = ENOMEM; return NULL; }
  memcpy(nb, e->base, e->size < n ? e->size : n);
  if (!l) _moj_block_free(e->base, meta);
  else if (e->owner == l->owner) { _moj_block_free(e->base, meta); l->freed_own = 1; }
  else log_prestate(l, idx, 0);
  e->base = nb;
  e->size = (uint32_t)n;
  if (l) e->owner = l->owner;
  _moj_rt->meta[idx] = (uint8_t)(lg | where);
  return p;
}

MOJ_EXPORT size_t moj_usable_size(const void *p) {
  if (!p) return 0;
  if (!moj_is_handle(p)) return mi_usable_size(p);
  uint32_t idx = checked_index((uint64_t)(uintptr_t)p, "usable_size");
  return _moj_ent(idx)->size;
}

/* Copy-on-write: the first write to an object in a newer level copies it into
 * that level's heap; the old entry goes to the level's log. */
static void *cow(uint64_t h);
MOJ_EXPORT MOJ_NOINLINE void *__moj_w_slow(uint64_t h) {
  _moj_rt_enter();
  void *p = cow(h);
  _moj_rt_leave();
  return p;
}

static void *cow(uint64_t h) {
  uint32_t idx = checked_index(h, "write");
  moj_entry_t *e = _moj_ent(idx);
  moj_level_t *l = _moj_top();
  if (moj_unlikely(!e->base))
    _moj_fatal("write: handle 0x%016llx refers to an object freed in this speculation",
               (unsigned long long)h);
  if (moj_unlikely(!l || e->owner == l->owner))
    _moj_fatal("write: table entry %u is inconsistent (owner %u, current %u)", idx, e->owner,
               __moj_cur_owner);
  unsigned lg = _moj_rt->meta[idx] & MOJ_META_ALIGN_MASK;
  size_t n = e->size ? e->size : 1;
  uint8_t where = MOJ_META_LARGE;
  /* a large object's copy is a view the kernel copies page by page (large.c) */
  void *copy = (_moj_rt->meta[idx] & MOJ_META_LARGE) ? _moj_large_copy(e->base) : NULL;
  if (!copy) {
    copy = _moj_block_alloc_obj(l, n, lg, &where);
    if (!copy) _moj_fatal("out of memory copying a %zu-byte object on write in a speculation", n);
    memcpy(copy, e->base, n);
    _moj_rt->cow_bytes += n;
  }
  log_prestate(l, idx, 0);
  e->base = copy;
  e->owner = l->owner;
  _moj_rt->meta[idx] = (uint8_t)(lg | where);
  _moj_rt->cow_copies++;
  return (char *)copy + (uint32_t)h;
}

/* Out-of-line entry points for the compiler (and C callers). */
MOJ_EXPORT void *__moj_tr(const void *p) { return __moj_r(p); }
MOJ_EXPORT void *__moj_tw1(void *p) { return __moj_w(p); }
MOJ_EXPORT void *__moj_tw2(void *p) { return __moj_w(p); }
MOJ_EXPORT void *__moj_tw4(void *p) { return __moj_w(p); }
MOJ_EXPORT void *__moj_tw8(void *p) { return __moj_w(p); }
MOJ_EXPORT void *__moj_tw16(void *p) { return __moj_w(p); }
MOJ_EXPORT void *__moj_twn(void *p, size_t n) { (void)n; return __moj_w(p); }

/* Aliases, not wrappers: a jump less on the two hottest entry points. */
MOJ_EXPORT void *__moj_malloc(size_t n) __attribute__((alias("moj_malloc")));
MOJ_EXPORT void *__moj_calloc(size_t c, size_t n) { return moj_calloc(c, n); }
MOJ_EXPORT void *__moj_realloc(void *p, size_t n) { return moj_realloc(p, n); }
MOJ_EXPORT void  __moj_free(void *p) __attribute__((alias("moj_free")));
MOJ_EXPORT int   __moj_posix_memalign(void **o, size_t a, size_t n) { return moj_posix_memalign(o, a, n); }
MOJ_EXPORT void *__moj_aligned_alloc(size_t a, size_t n) { return moj_aligned_alloc(a, n); }
MOJ_EXPORT size_t __moj_usable_size(const void *p) { return moj_usable_size(p); }

/* The runtime's counters, for programs and benchmarks (mojave/alloc.h). */
MOJ_EXPORT void moj_get_stats(moj_stats_t *out) {
  if (!_moj_rt) _moj_init();
  moj_rt_t *rt = _moj_rt;
  _moj_rt_enter();   /* a handler calling it meanwhile would deadlock on the lock */
  pthread_mutex_lock(&rt->lock);
  size_t cached = 0;
  for (moj_tcache_t *c = rt->caches; c; c = c->next) cached += __atomic_load_n(&c->n, __ATOMIC_RELAXED);
  out->live_objects = rt->live - cached;
  out->table_capacity = rt->capacity - 1;
  out->cow_copies = rt->cow_copies;
  out->cow_bytes = rt->cow_bytes;
  out->signals_deferred = __atomic_load_n(&rt->sig_deferred, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&rt->lock);
  _moj_rt_leave();
}
