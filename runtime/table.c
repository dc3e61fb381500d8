/* runtime/table.c — the pointer table: index allocation and release (with
 * per-thread caches), and the mmap-backed vectors the speculation logs use
 * (start-up is in startup.c, diagnostics in diag.c).
 *
 * The table is one virtual reservation (MAP_NORESERVE) sized for the maximum
 * number of objects, so entries never move and the inline fast path can read
 * them without locks; pages are committed by the kernel on first touch. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

MOJ_EXPORT uintptr_t __moj_tbl MOJ_RTVAR;
MOJ_EXPORT uint32_t  __moj_cur_owner MOJ_RTVAR;
/* Hidden names of the two: the runtime reaches them without a GOT indirection. */
extern __typeof(__moj_tbl) _moj_tbl_h __attribute__((alias("__moj_tbl"), visibility("hidden")));
extern __typeof(__moj_cur_owner) _moj_cur_owner_h __attribute__((alias("__moj_cur_owner"), visibility("hidden")));
moj_rt_t *_moj_rt MOJ_RTVAR;


/* ---- table indices --------------------------------------------------------
 *
 * Free indices live in two places: the global free list (linked through
 * entry.size, under rt->lock) plus the never-used range [top, capacity), and
 * one small cache per thread (`_moj_tc`, internal.h), which the inline
 * allocation and free paths in alloc.c pop and push without any lock or
 * atomic instruction.  Only a refill (empty cache) or a flush (full cache)
 * takes the lock, moving MOJ_TC_BATCH indices at once, so the mutex costs
 * 1/32 of what it cost per call.  rt->live counts the indices outside the
 * global pool (live objects + cached ones); moj_get_stats subtracts the
 * caches, which are linked into rt->caches for that, for reclaiming a dead
 * thread's indices (key destructor, fork) and for migration's restore. */
__thread moj_tcache_t _moj_tc __attribute__((tls_model("initial-exec")));

static void tc_give_back(moj_tcache_t *c, uint32_t keep); /* rt->lock held */

/* Start-up (startup.c) of the per-thread index caches: the key whose
 * destructor hands a dying thread's cache back, and the fork handlers. */
static void fork_prepare(void), fork_parent(void), fork_child(void);
static void tc_thread_exit(void *arg);
void _moj_index_caches_init(moj_rt_t *rt) {
  rt->table[0].owner = MOJ_OWNER_FREE; /* index 0 is never valid: free's fast path finds it freed */
  if (pthread_key_create(&rt->tc_key, tc_thread_exit) || pthread_atfork(fork_prepare, fork_parent, fork_child))
    _moj_fatal("cannot set up the per-thread index caches");
}

static void tc_thread_exit(void *arg) {
  moj_tcache_t *c = arg;
  moj_rt_t *rt = _moj_rt;
  _moj_rt_enter();
  pthread_mutex_lock(&rt->lock);
  tc_give_back(c, 0);
  for (moj_tcache_t **pp = &rt->caches; *pp; pp = &(*pp)->next)
    if (*pp == c) { *pp = c->next; break; }
  /* Frees made by later destructors of this thread go straight to the
   * global list (lim 0 sends both inline paths to the slow ones). */
  c->registered = -1;
  __atomic_store_n(&c->lim, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&rt->lock);
  _moj_rt_leave();
}

/* Global free list push / pop; rt->lock held. */
static void global_push(moj_rt_t *rt, uint32_t idx) {
  rt->table[idx].size = rt->free_head;
  rt->free_head = idx;
  rt->live--;
}
static uint32_t global_pop(moj_rt_t *rt) {
  uint32_t idx;
  if (rt->free_head) {
    idx = rt->free_head;
    rt->free_head = rt->table[idx].size;
  } else if (rt->top < rt->capacity) {
    idx = rt->top++;
    rt->table[idx].owner = MOJ_OWNER_FREE; /* cached, never used: still "freed" to checks */
  } else {
    return 0;
  }
  rt->live++;
  return idx;
}

static void tc_give_back(moj_tcache_t *c, uint32_t keep) {
  moj_rt_t *rt = _moj_rt;
  uint32_t n = c->n;
  while (n > keep) global_push(rt, c->idx[--n]);
  __atomic_store_n(&c->n, n, __ATOMIC_RELAXED);
}

static void tc_register(moj_rt_t *rt, moj_tcache_t *c) { /* rt->lock held */
  c->next = rt->caches;
  rt->caches = c;
  c->registered = 1;
  __atomic_store_n(&c->lim, MOJ_TC_CAP, __ATOMIC_RELAXED);
  pthread_setspecific(rt->tc_key, c); /* the destructor gives the indices back */
}

/* Slow path of _moj_index_alloc: the cache is empty (or the thread is exiting). */
uint32_t _moj_index_refill(void) {
  moj_rt_t *rt = _moj_rt;
  moj_tcache_t *c = &_moj_tc;
  static int warned MOJ_RTVAR;
  pthread_mutex_lock(&rt->lock);
  uint32_t idx = global_pop(rt);
  if (idx && c->registered >= 0) {
    if (!c->registered) tc_register(rt, c);
    uint32_t n = c->n;
    while (n < MOJ_TC_BATCH) {
      uint32_t more = global_pop(rt);
      if (!more) break;
      c->idx[n++] = more;
    }
    __atomic_store_n(&c->n, n, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&rt->lock);
  if (!idx) {
    _moj_warn_once(&warned, "pointer table full: %u live objects (raise MOJAVE_MAX_OBJECTS, at most %u)",
                   rt->capacity - 1, MOJ_HARD_MAX_OBJECTS);
    errno = ENOMEM;
  }
  return idx;
}

/* Slow path of _moj_index_push: the cache is full; half of it goes back. */
void _moj_index_flush(uint32_t idx) {
  moj_rt_t *rt = _moj_rt;
  moj_tcache_t *c = &_moj_tc;
  pthread_mutex_lock(&rt->lock);
  if (c->registered >= 0) {
    if (!c->registered) tc_register(rt, c);
    tc_give_back(c, MOJ_TC_CAP - MOJ_TC_BATCH);
    c->idx[c->n] = idx;
    __atomic_store_n(&c->n, c->n + 1, __ATOMIC_RELAXED);
  } else {
    global_push(rt, idx);
  }
  pthread_mutex_unlock(&rt->lock);
}

uint32_t _moj_index_alloc(void) { return _moj_index_pop(); }

void _moj_index_release(uint32_t idx) {
  moj_entry_t *e = _moj_ent(idx);
  e->base = NULL;
  e->owner = MOJ_OWNER_FREE;
  _moj_rt->meta[idx] = 0;
  _moj_index_push(idx);
}

/* Migration restore rebuilds the free list from the image: cached indices
 * would alias restored objects, so every cache is emptied (the process is
 * single-threaded there). */
void _moj_index_caches_drop(void) {
  moj_rt_t *rt = _moj_rt;
  pthread_mutex_lock(&rt->lock);
  for (moj_tcache_t *c = rt->caches; c; c = c->next) __atomic_store_n(&c->n, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&rt->lock);
}

/* fork: the lock is held across it, so the child never inherits it taken by
 * a thread that does not exist there; in the child, the caches of the other
 * threads go back to the global list. */
static void fork_prepare(void) { _moj_rt_enter(); pthread_mutex_lock(&_moj_rt->lock); }
static void fork_parent(void) { pthread_mutex_unlock(&_moj_rt->lock); _moj_rt_leave(); }
static void fork_child(void) {
  moj_rt_t *rt = _moj_rt;
  moj_tcache_t *self = &_moj_tc;
  for (moj_tcache_t *c = rt->caches, *next; c; c = next) {
    next = c->next;
    if (c != self) tc_give_back(c, 0);
  }
  rt->caches = self->registered > 0 ? self : NULL;
  self->next = NULL;
  pthread_mutex_unlock(&rt->lock);
  _moj_rt_leave();
}

void *_moj_vec_push(moj_vec_t *v) {
  if (moj_unlikely(v->n == v->cap)) {
    size_t ncap = v->cap ? v->cap * 2 : 1024;
    moj_rec_t *nv = _moj_mmap(ncap * sizeof *nv);
    if (!nv) _moj_fatal("out of memory for the speculation log (%zu records)", ncap);
    if (v->v) {
      memcpy(nv, v->v, v->n * sizeof *nv);
      munmap(v->v, v->cap * sizeof *nv);
    }
    v->v = nv;
    v->cap = ncap;
  }
  return &v->v[v->n++];
}


MOJ_EXPORT void MOJ_ABI_VERSION_SYMBOL(void) {}
