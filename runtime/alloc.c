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

#define MOJ_MIN_ALIGN_LOG2 4 /* mimalloc's natural alignment for blocks >= 16 B */

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
  if (zero && !(where & MOJ_META_LARGE)) memset(b, 0, bytes); /* large: fresh file pages */
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
static void *new_object(size_t n, unsigned align_log2, int zero) {
  _moj_rt_enter();
  void *p = new_object_in(n, align_log2, zero);
  _moj_rt_leave();
  return p;
}

MOJ_EXPORT void *moj_malloc(size_t n) { return new_object(n, MOJ_MIN_ALIGN_LOG2, 0); }

MOJ_EXPORT void *moj_calloc(size_t count, size_t n) {
  size_t total;
  if (__builtin_mul_overflow(count, n, &total)) { errno = ENOMEM; return NULL; }
  return new_object(total, MOJ_MIN_ALIGN_LOG2, 1);
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
MOJ_EXPORT void moj_free(void *p) {
  if (!p) return;
  if (!moj_is_handle(p)) { free(p); return; }
  _moj_rt_enter();
  free_handle(p);
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

MOJ_EXPORT void *__moj_malloc(size_t n) { return moj_malloc(n); }
MOJ_EXPORT void *__moj_calloc(size_t c, size_t n) { return moj_calloc(c, n); }
MOJ_EXPORT void *__moj_realloc(void *p, size_t n) { return moj_realloc(p, n); }
MOJ_EXPORT void  __moj_free(void *p) { moj_free(p); }
MOJ_EXPORT int   __moj_posix_memalign(void **o, size_t a, size_t n) { return moj_posix_memalign(o, a, n); }
MOJ_EXPORT void *__moj_aligned_alloc(size_t a, size_t n) { return moj_aligned_alloc(a, n); }
MOJ_EXPORT size_t __moj_usable_size(const void *p) { return moj_usable_size(p); }

/* The runtime's counters, for programs and benchmarks (mojave/alloc.h). */
MOJ_EXPORT void moj_get_stats(moj_stats_t *out) {
  if (!_moj_rt) _moj_init();
  moj_rt_t *rt = _moj_rt;
  _moj_rt_enter();   /* a handler calling it meanwhile would deadlock on the lock */
  pthread_mutex_lock(&rt->lock);
  out->live_objects = rt->live;
  out->table_capacity = rt->capacity - 1;
  out->cow_copies = rt->cow_copies;
  out->cow_bytes = rt->cow_bytes;
  out->signals_deferred = __atomic_load_n(&rt->sig_deferred, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&rt->lock);
  _moj_rt_leave();
}
