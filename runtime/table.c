/* runtime/table.c — the pointer table: index allocation, limits, start-up,
 * diagnostics, and the mmap-backed vectors the speculation logs use.
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
ssize_t _moj_sys_write(int fd, const void *b, size_t n) MOJ_HIDDEN;

void *_moj_mmap(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Diagnostics go to the real stderr even while stderr is held by a speculation. */
static void vsay(const char *kind, const char *fmt, va_list ap) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "mojave: %s: ", kind);
  n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  int fd = (_moj_rt && _moj_rt->saved_fd[1] >= 0) ? _moj_rt->saved_fd[1] : 2;
  ssize_t w = _moj_sys_write(fd, buf, (size_t)n);
  (void)w;
}

void _moj_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay("fatal", fmt, ap);
  va_end(ap);
  abort();
}

void _moj_warn_once(int *flag, const char *fmt, ...) {
  if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED)) return;
  va_list ap;
  va_start(ap, fmt);
  vsay("error", fmt, ap);
  va_end(ap);
}

static uint32_t max_objects_from_env(void) {
  const char *s = getenv("MOJAVE_MAX_OBJECTS");
  if (!s || !*s) return MOJ_DEFAULT_MAX_OBJECTS;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || v < 16 || v > MOJ_HARD_MAX_OBJECTS)
    _moj_fatal("MOJAVE_MAX_OBJECTS='%s' is not a number between 16 and %u", s, MOJ_HARD_MAX_OBJECTS);
  return (uint32_t)v;
}

__attribute__((constructor(101))) void _moj_init(void) {
  if (_moj_rt) return;
  moj_rt_t *rt = _moj_mmap(sizeof *rt);
  if (!rt) _moj_fatal("cannot map the runtime state (%s)", strerror(errno));
  pthread_mutex_init(&rt->lock, NULL);
  rt->capacity = max_objects_from_env() + 1;
  rt->table = _moj_mmap((size_t)rt->capacity * sizeof(moj_entry_t));
  rt->meta = _moj_mmap(rt->capacity);
  if (!rt->table || !rt->meta)
    _moj_fatal("cannot reserve a pointer table of %u entries (%s); lower MOJAVE_MAX_OBJECTS",
               rt->capacity - 1, strerror(errno));
  rt->top = 1; /* index 0 is never a valid handle */
  rt->out_fd[0] = rt->out_fd[1] = -1;
  rt->saved_fd[0] = rt->saved_fd[1] = -1;
  rt->altstack_size = 256 * 1024;
  rt->altstack = _moj_mmap(rt->altstack_size);
  if (!rt->altstack) _moj_fatal("cannot map the runtime's abort stack");
  __moj_tbl = (uintptr_t)rt->table - ((uintptr_t)1 << MOJ_INDEX_BITS) * sizeof(moj_entry_t);
  __moj_cur_owner = 0;
  _moj_rt = rt;
  _moj_globals_init();
}

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

MOJ_EXPORT void MOJ_ABI_VERSION_SYMBOL(void) {}
