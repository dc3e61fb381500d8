/* runtime/snapshot.c — what a speculation level saves besides the heap: the
 * executable's writable data (globals, statics) and the live stack segment.
 *
 * Both are copied at entry: the cost is proportional to the globals and the
 * stack depth at the spec_enter call, never to the heap.  The runtime's own
 * variables (section moj_rt) and the RELRO range are left out. */
#include "internal.h"

#include <link.h>
#include <string.h>
#include <sys/mman.h>

extern char __start_moj_rt[] __attribute__((weak));
extern char __stop_moj_rt[] __attribute__((weak));
extern void *__libc_stack_end;

void _moj_copy_raw(void *dst, const void *src, size_t n) MOJ_HIDDEN; /* spec_x86_64.S */

static void add_range(moj_rt_t *rt, uintptr_t lo, uintptr_t hi) {
  if (hi <= lo) return;
  if (rt->nranges == MOJ_MAX_RANGES) _moj_fatal("executable has too many writable segments");
  rt->ranges[rt->nranges].lo = lo;
  rt->ranges[rt->nranges].hi = hi;
  rt->nranges++;
  rt->globals_bytes += hi - lo;
}

/* Add [lo,hi) minus the holes (sorted, non-overlapping). */
static void add_minus(moj_rt_t *rt, uintptr_t lo, uintptr_t hi, const moj_range_t *holes, int nh) {
  for (int i = 0; i < nh && lo < hi; i++) {
    if (holes[i].hi <= lo || holes[i].lo >= hi) continue;
    add_range(rt, lo, holes[i].lo > lo ? holes[i].lo : lo);
    lo = holes[i].hi;
  }
  add_range(rt, lo, hi);
}

static int main_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  moj_rt_t *rt = arg;
  moj_range_t holes[2];
  int nh = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_GNU_RELRO) {
      holes[nh].lo = info->dlpi_addr + ph->p_vaddr;
      holes[nh].hi = holes[nh].lo + ph->p_memsz;
      nh++;
    }
  }
  if (__start_moj_rt && (uintptr_t)__stop_moj_rt > (uintptr_t)__start_moj_rt) {
    moj_range_t h = {(uintptr_t)__start_moj_rt, (uintptr_t)__stop_moj_rt};
    if (nh && h.lo < holes[0].lo) { holes[1] = holes[0]; holes[0] = h; } else holes[nh] = h;
    nh++;
  }
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    add_minus(rt, lo, lo + ph->p_memsz, holes, nh);
  }
  return 1; /* the first object is the executable */
}

void _moj_globals_init(void) {
  dl_iterate_phdr(main_object, _moj_rt);
}

int _moj_globals_save(moj_level_t *l) {
  moj_rt_t *rt = _moj_rt;
  if (!rt->globals_bytes) return 0;
  if (l->globals_cap < rt->globals_bytes) {
    char *b = _moj_mmap(rt->globals_bytes);
    if (!b) return -1;
    if (l->globals_save) munmap(l->globals_save, l->globals_cap);
    l->globals_save = b;
    l->globals_cap = rt->globals_bytes;
  }
  char *dst = l->globals_save;
  for (int i = 0; i < rt->nranges; i++) {
    size_t n = rt->ranges[i].hi - rt->ranges[i].lo;
    _moj_copy_raw(dst, (void *)rt->ranges[i].lo, n);
    dst += n;
  }
  return 0;
}

void _moj_globals_restore(const moj_level_t *l) {
  moj_rt_t *rt = _moj_rt;
  const char *src = l->globals_save;
  for (int i = 0; i < rt->nranges; i++) {
    size_t n = rt->ranges[i].hi - rt->ranges[i].lo;
    _moj_copy_raw((void *)rt->ranges[i].lo, src, n);
    src += n;
  }
}

/* Highest address of the current thread's frames.  The main thread's frames
 * all lie below __libc_stack_end; other threads use their pthread stack. */
uintptr_t _moj_stack_top(void) {
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  uintptr_t top = (uintptr_t)__libc_stack_end;
  if (here < top && top - here < ((uintptr_t)1 << 30)) return top;
  pthread_attr_t a;
  void *lo;
  size_t sz;
  if (pthread_getattr_np(pthread_self(), &a) != 0) _moj_fatal("cannot find this thread's stack");
  pthread_attr_getstack(&a, &lo, &sz);
  pthread_attr_destroy(&a);
  return (uintptr_t)lo + sz;
}
