/* runtime/table.c — the pointer table: index allocation and release, the
 * and the mmap-backed vectors the speculation logs use
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
moj_rt_t *_moj_rt MOJ_RTVAR;


uint32_t _moj_index_alloc(void) {
  moj_rt_t *rt = _moj_rt;
  static int warned MOJ_RTVAR;
  uint32_t idx;
  pthread_mutex_lock(&rt->lock);
  if (rt->free_head) {
    idx = rt->free_head;
    rt->free_head = rt->table[idx].size;
  } else if (rt->top < rt->capacity) {
    idx = rt->top++;
  } else {
    pthread_mutex_unlock(&rt->lock);
    _moj_warn_once(&warned, "pointer table full: %u live objects (raise MOJAVE_MAX_OBJECTS, at most %u)",
                   rt->capacity - 1, MOJ_HARD_MAX_OBJECTS);
    errno = ENOMEM;
    return 0;
  }
  rt->live++;
  pthread_mutex_unlock(&rt->lock);
  return idx;
}

void _moj_index_release(uint32_t idx) {
  moj_rt_t *rt = _moj_rt;
  pthread_mutex_lock(&rt->lock);
  moj_entry_t *e = &rt->table[idx];
  e->base = NULL;
  e->owner = MOJ_OWNER_FREE;
  e->size = rt->free_head;
  rt->meta[idx] = 0;
  rt->free_head = idx;
  rt->live--;
  pthread_mutex_unlock(&rt->lock);
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
