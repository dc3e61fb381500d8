/* runtime/startup.c — the runtime's start-up: the first constructor to run
 * maps the runtime state, reserves the pointer table (sized by
 * MOJAVE_MAX_OBJECTS) and the abort stack, then registers the executable's
 * globals.  Everything else in the runtime may assume _moj_rt is set. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
  _moj_index_caches_init(rt);
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

