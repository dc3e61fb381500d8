/* runtime/snapshot.c — what a speculation level saves besides the heap: the
 * executable's writable data (globals, statics) and the live stack segment.
 *
 * The globals are copied at entry, and so is the stack, except the main
 * stack's frames above a margin, which stack_lazy.c saves lazily: the cost
 * follows the globals' size, never the heap's.  The stack is the
 * one spec_enter runs on, which may be a sigaltstack or a coroutine's.  The runtime's own
 * variables (section moj_rt) and the RELRO range are left out. */
#include "internal.h"

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>

extern char __start_moj_rt[] __attribute__((weak));
extern char __stop_moj_rt[] __attribute__((weak));
extern void *__libc_stack_end;


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

/* Stacks made for makecontext, recorded by the interposer below: the
 * runtime cannot otherwise know where a coroutine's stack ends. */
void _moj_note_context_stack(uintptr_t lo, uintptr_t hi) {
  moj_rt_t *rt = _moj_rt;
  int slot = -1;
  for (int i = 0; i < MOJ_MAX_CTX_STACKS; i++)
    if (rt->ctx_stack[i].lo < hi && lo < rt->ctx_stack[i].hi) { slot = i; break; } /* reused */
  if (slot < 0) slot = rt->ctx_next++ % MOJ_MAX_CTX_STACKS;
  rt->ctx_stack[slot].lo = lo;
  rt->ctx_stack[slot].hi = hi;
}


/* The main thread's stack: [__libc_stack_end - RLIMIT_STACK, __libc_stack_end)
 * (1 GB when unlimited; mappings then start far below it). */
uintptr_t _moj_main_stack_span(void) {
  moj_rt_t *rt = _moj_rt;
  if (!rt->main_stack_span) {
    struct rlimit r;
    uintptr_t span = (uintptr_t)1 << 30;
    if (getrlimit(RLIMIT_STACK, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < span)
      span = r.rlim_cur;
    rt->main_stack_span = span;
  }
  return rt->main_stack_span;
}

/* Highest address of the stack that `sp` is on — the main thread's, a
 * thread's, the sigaltstack a handler runs on, or a makecontext stack — so a
 * level saves only that stack's live range.  0 (errno EFAULT) when sp is on a
 * stack the runtime cannot bound (switched to by hand). */
uintptr_t _moj_stack_top_of(uintptr_t sp) {
  uintptr_t top = (uintptr_t)__libc_stack_end;
  if (sp < top && top - sp < _moj_main_stack_span()) return top;
  stack_t ss;
  if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) &&
      sp >= (uintptr_t)ss.ss_sp && sp < (uintptr_t)ss.ss_sp + ss.ss_size)
    return (uintptr_t)ss.ss_sp + ss.ss_size;
  moj_rt_t *rt = _moj_rt;
  for (int i = 0; i < MOJ_MAX_CTX_STACKS; i++)
    if (sp >= rt->ctx_stack[i].lo && sp < rt->ctx_stack[i].hi) return rt->ctx_stack[i].hi;
  pthread_attr_t a;
  void *lo;
  size_t sz;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstack(&a, &lo, &sz);
    pthread_attr_destroy(&a);
    if (sp >= (uintptr_t)lo && sp < (uintptr_t)lo + sz) return (uintptr_t)lo + sz;
  }
  errno = EFAULT;
  return 0;
}
