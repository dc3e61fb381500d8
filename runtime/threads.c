/* runtime/threads.c — counts the threads a process runs, so speculation can be
 * refused (ENOTSUP) while other threads could see or change its state, and
 * pthread_create is refused (EAGAIN) while a speculation is active.
 * Interposes pthread_create; the real one comes from the next object. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start { void *(*fn)(void *); void *arg; };

static void thread_gone(void *unused) {
  (void)unused;
  __atomic_sub_fetch(&_moj_rt->threads, 1, __ATOMIC_SEQ_CST);
}

static void *trampoline(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  void *r;
  pthread_cleanup_push(thread_gone, NULL);
  r = s.fn(s.arg);
  pthread_cleanup_pop(1);
  return r;
}

/* Called by spec.c: the reference also guarantees this object (and so the
 * pthread_create wrapper) is linked from the archive whatever the link order. */
int _moj_threads_running(void) { return __atomic_load_n(&_moj_rt->threads, __ATOMIC_SEQ_CST); }

MOJ_EXPORT __attribute__((weak)) int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  static create_fn real MOJ_RTVAR;
  if (!real && !(real = (create_fn)dlsym(RTLD_NEXT, "pthread_create"))) return EAGAIN;
  if (!_moj_rt) _moj_init();
  if (_moj_rt->depth > 0) return EAGAIN;
  struct start *s = malloc(sizeof *s);
  if (!s) return EAGAIN;
  s->fn = fn;
  s->arg = arg;
  __atomic_add_fetch(&_moj_rt->threads, 1, __ATOMIC_SEQ_CST);
  int rc = real(t, a, trampoline, s);
  if (rc) {
    __atomic_sub_fetch(&_moj_rt->threads, 1, __ATOMIC_SEQ_CST);
    free(s);
  }
  return rc;
}
