/* runtime/spec.c — speculation levels: enter, commit, abort.
 *
 * Entry saves registers (spec_x86_64.S), the live stack segment (the main
 * stack's older frames lazily, stack_lazy.c), the globals and the
 * held-output marks; the heap is not touched (copy-on-write does the rest
 * lazily), so entry cost is independent of heap size.  Commit and abort
 * walk only the objects the levels modified. */
#include "internal.h"

#include <errno.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <ucontext.h>


/* The live stack: [lo, top) of the stack it is on, of which the main stack's
 * frames above a margin are saved lazily (stack_lazy.c). */
static int save_stack(moj_level_t *l, uintptr_t lo) {
  uintptr_t top = _moj_stack_top_of(lo);
  if (!top) return -1;                           /* errno EFAULT */
  uintptr_t hi = _moj_stack_lazy_enter(_moj_top(), lo, top);
  size_t n = hi - lo;
  if (l->stack_cap < n) {
    size_t cap = 4096;
    while (cap < n) cap *= 2;
    char *b = _moj_mmap(cap);
    if (!b) return -1;
    if (l->stack_save) munmap(l->stack_save, l->stack_cap);
    l->stack_save = b;
    l->stack_cap = cap;
  }
  l->stack_lo = lo;
  l->stack_hi = hi;
  l->stack_top = top;
  _moj_copy_raw(l->stack_save, (void *)lo, n);
  return 0;
}

void (*_moj_spec_ext)(int ev, int k) MOJ_RTVAR;
int (*_moj_spec_ext_vote)(int k) MOJ_RTVAR;

static int enter(moj_ctx_t *regs, uintptr_t caller_sp);
int _moj_spec_enter_c(moj_ctx_t *regs, uintptr_t caller_sp) {
  int errno_at = errno;
  if (moj_unlikely(!_moj_rt)) _moj_init();
  _moj_rt_enter();
  int id = enter(regs, caller_sp);
  if (id > 0) _moj_rt->levels[_moj_rt->depth].errno_at = errno_at;
  _moj_rt_leave();
  return id;
}

static int enter(moj_ctx_t *regs, uintptr_t caller_sp) {
  moj_rt_t *rt = _moj_rt;
  if (_moj_threads_running() > 0) { errno = ENOTSUP; return 0; }
  _moj_output_wrappers_linked();
  if (rt->depth >= SPEC_MAX_LEVELS) { errno = EOVERFLOW; return 0; }
  moj_level_t *l = &rt->levels[rt->depth + 1];
  if (rt->depth == 0 && _moj_output_begin() < 0) return 0;
  if (save_stack(l, caller_sp) < 0 || _moj_globals_save(l) < 0) {
    int e = errno == EFAULT ? EFAULT : ENOMEM;
    if (rt->depth == 0) _moj_output_end(0);
    errno = e;
    return 0;
  }
  _moj_output_marks(l->out_mark);
  l->ctx = *regs;
  if (++rt->next_id <= 0) rt->next_id = 1;
  l->id = rt->next_id;
  l->owner = (uint32_t)l->id;
  l->thread = pthread_self();
  l->log.n = 0;
  l->heap = NULL;
  l->mask_saved = 0;
  l->freed_own = 0;
  rt->depth++;
  __moj_cur_owner = l->owner;
  if (_moj_spec_ext) _moj_spec_ext(MOJ_SPEC_EV_ENTER, rt->depth);
  return l->id;
}

/* Find the active level `id`; sets errno and returns 0 when there is none. */
static int find_level(int id) {
  moj_rt_t *rt = _moj_rt;
  if (id <= 0) { errno = EINVAL; return 0; }
  if (!rt) { errno = ESRCH; return 0; }
  for (int d = rt->depth; d >= 1; d--) {
    if (rt->levels[d].id != id) continue;
    if (!pthread_equal(rt->levels[d].thread, pthread_self())) { errno = EPERM; return 0; }
    return d;
  }
  errno = ESRCH;
  return 0;
}

static void set_cur_owner(void) {
  moj_level_t *t = _moj_top();
  __moj_cur_owner = t ? t->owner : 0;
}

/* Remove level k from the stack, keeping its buffers for reuse at the end. */
static void remove_level(int k) {
  moj_rt_t *rt = _moj_rt;
  moj_level_t gone = rt->levels[k];
  memmove(&rt->levels[k], &rt->levels[k + 1], (size_t)(rt->depth - k) * sizeof gone);
  rt->levels[rt->depth] = gone;
  rt->levels[rt->depth].log.n = 0;
  rt->depth--;
  set_cur_owner();
}

static void commit(int k);
MOJ_EXPORT int spec_commit(int id) {
  int k = find_level(id);
  if (!k) return -1;
  if (_moj_spec_ext_vote) {
    int code = _moj_spec_ext_vote(k);
    /* returns only when exit() committed the level already (ECANCELED): it
     * commits; the voter said what is lost */
    if (code > 0) spec_abort_with(id, code);
  }
  _moj_rt_enter();
  commit(k);
  _moj_rt_leave();
  return 0;
}

static void commit(int k) {
  moj_rt_t *rt = _moj_rt;
  moj_level_t *l = &rt->levels[k];
  moj_level_t *p = k > 1 ? &rt->levels[k - 1] : NULL;
  uint32_t pown = p ? p->owner : 0;

  for (size_t i = 0; i < l->log.n; i++) {
    moj_rec_t *r = &l->log.v[i];
    moj_entry_t *e = _moj_ent(r->idx);
    if (!p || (!r->unallocated && r->saved.owner == pown)) {
      /* The enclosing state already has (or is) an older pre-state: ours is obsolete. */
      if (!r->unallocated && r->saved.base) {
        /* A large object's view goes back into its shared mapping, at the
         * cost of the pages written (large.c). */
        void *s;
        if ((r->meta & MOJ_META_LARGE) && e->owner == l->owner && e->base &&
            (rt->meta[r->idx] & MOJ_META_LARGE) && (s = _moj_large_writeback(e->base, r->saved.base)))
          e->base = s;
        else
          _moj_block_free(r->saved.base, r->meta);
      }
    } else {
      *(moj_rec_t *)_moj_vec_push(&p->log) = *r;
    }
    if (e->owner != l->owner) continue;            /* a later level owns it now */
    if (!e->base && !p) { _moj_index_release(r->idx); continue; }
    e->owner = pown;
    rt->meta[r->idx] &= (uint8_t)~MOJ_META_INHEAP; /* our heap is merged below */
  }
  /* Later levels' pre-states that were this level's copies now belong to p. */
  for (int d = k + 1; d <= rt->depth; d++) {
    moj_vec_t *v = &rt->levels[d].log;
    for (size_t i = 0; i < v->n; i++)
      if (!v->v[i].unallocated && v->v[i].saved.owner == l->owner) {
        v->v[i].saved.owner = pown;
        v->v[i].meta &= (uint8_t)~MOJ_META_INHEAP;
      }
  }
  if (l->heap) {
    /* Pages of the level heap that are already empty (temporaries allocated
     * and freed inside the level) would move to the default heap, which
     * never allocates while speculating and so never reuses or retires
     * them: a loop of committed speculations grew without bound.  Retire
     * them first (only when the level freed any of its own blocks: the
     * collection costs ~0.7 us). */
    if (l->freed_own) mi_heap_collect(l->heap, false);
    mi_heap_delete(l->heap);
    l->heap = NULL;
  }

  if (k == 1) {
    if (rt->depth == 1) {
      off_t all[2] = {-1, -1};
      _moj_output_flush_to(all);
      _moj_output_end(0);
    } else {
      _moj_output_flush_to(rt->levels[2].out_mark);
    }
  }
  _moj_sig_commit(k);
  if (_moj_spec_ext) _moj_spec_ext(MOJ_SPEC_EV_COMMIT, k);
  _moj_stack_lazy_fold(k, k);
  remove_level(k);
}

/* Undo one level: restore its logged pre-states, free what it allocated. */
static void undo_level(moj_level_t *l) {
  moj_rt_t *rt = _moj_rt;
  for (size_t i = l->log.n; i-- > 0;) {
    moj_rec_t *r = &l->log.v[i];
    moj_entry_t *e = _moj_ent(r->idx);
    if (e->base && !(rt->meta[r->idx] & MOJ_META_INHEAP)) _moj_block_free(e->base, rt->meta[r->idx]);
    if (r->unallocated) {
      _moj_index_release(r->idx);
    } else {
      *e = r->saved;
      rt->meta[r->idx] = r->meta;
    }
  }
  l->log.n = 0;
  if (l->heap) { mi_heap_destroy(l->heap); l->heap = NULL; }
}

#if !defined(__SANITIZE_ADDRESS__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MOJ_ASAN 1
#define MOJ_NO_ASAN __attribute__((no_sanitize_address))
#else
#define MOJ_NO_ASAN
#endif

/* Runs on the runtime's private stack, so overwriting the program's stack is
 * safe wherever spec_abort was called from.  Not instrumented by ASan: it
 * switches stacks, which ASan cannot follow. */
static MOJ_NO_ASAN void restore_and_resume(void *arg) {
  moj_level_t *l = arg;
#ifdef MOJ_ASAN
  /* this stack was left by a jump before (a handler replayed on it that
   * aborted): its abandoned frames' redzones would fault the code run here */
  __asan_unpoison_memory_region(_moj_rt->altstack, _moj_rt->altstack_size);
#endif
  _moj_globals_restore(l);
  int k = (int)(l - _moj_rt->levels);
  _moj_stack_lazy_restore(k, _moj_rt->abort_from);  /* the frames above the margin */
  _moj_copy_raw((void *)l->stack_lo, l->stack_save, l->stack_hi - l->stack_lo);
#ifdef MOJ_ASAN
  /* frames abandoned by the jump keep their redzone poison: clear it.  A
   * handler replayed at the end of an earlier abort runs on this private
   * stack, and may abort too: then abort_sp is not on the level's stack (the
   * range up to its top would span the address space) — the earlier abort
   * cleared the program's frames already, clear the level's own. */
  uintptr_t from = _moj_rt->abort_sp, alt = (uintptr_t)_moj_rt->altstack;
  if (from >= alt && from < alt + _moj_rt->altstack_size) from = l->stack_lo;
  uintptr_t lo = from - 65536;
  __asan_unpoison_memory_region((void *)lo, l->stack_top - lo);
#endif
  _moj_sig_abort_resume();   /* mask of the level's entry; deferred signals now */
  errno = l->errno_at;       /* last: nothing may set it before the jump */
  _moj_resume(&l->ctx, -_moj_rt->last_abort_code);
}

MOJ_EXPORT int spec_abort_with(int id, int code) {
  if (code < 1) { errno = EINVAL; return -1; }
  if (_moj_rt && _moj_rt->exiting && id > 0 && id <= _moj_rt->exit_id) { errno = ECANCELED; return -1; }
  int k = find_level(id);
  if (!k) return -1;
  _moj_rt_enter();           /* left on the abort stack (_moj_sig_abort_resume) */
  moj_rt_t *rt = _moj_rt;
  _moj_sig_abort_prepare(k, (uintptr_t)__builtin_frame_address(0));
  for (int d = rt->depth; d >= k; d--) undo_level(&rt->levels[d]);
  if (_moj_spec_ext) _moj_spec_ext(MOJ_SPEC_EV_ABORT, k);
  moj_level_t *l = &rt->levels[k];
  if (k == 1) _moj_output_end(1);
  else _moj_output_truncate(l->out_mark);
  rt->abort_from = rt->depth;
  rt->depth = k - 1;
  set_cur_owner();
  rt->last_abort_code = code;
  rt->abort_sp = (uintptr_t)__builtin_frame_address(0);
  _moj_on_stack(rt->altstack + rt->altstack_size, restore_and_resume, l);
}

/* exit() inside a speculation is an irrevocable act: every active level is
 * committed (so held output is written) before anything else runs — atexit
 * handlers, stdio's own flush.  exit is interposed for explicit calls, and
 * __libc_start_main for a return from main (libc calls exit internally
 * there).  From then on an abort of a level that exit committed fails with
 * ECANCELED; levels entered later (in an atexit handler) behave as usual and
 * are committed by the last atexit handler, registered before main. */
static void commit_for_exit(void) {
  moj_rt_t *rt = _moj_rt;
  if (!rt) return;
  if (!rt->exiting) {
    rt->exiting = 1;
    rt->exit_id = rt->next_id;
  }
  while (rt->depth) spec_commit(rt->levels[1].id);
  _moj_output_drain();
}

static void commit_all_at_exit(void) { commit_for_exit(); }

__attribute__((constructor(102))) static void register_exit_commit(void) {
  atexit(commit_all_at_exit);
}

MOJ_EXPORT __attribute__((weak, noreturn)) void exit(int status) {
  static void (*real_exit)(int) MOJ_RTVAR;
  commit_for_exit();
  if (!real_exit) real_exit = (void (*)(int))_moj_real("exit");
  real_exit(status);
  __builtin_unreachable();
}

typedef int (*moj_main_fn)(int, char **, char **);
static moj_main_fn program_main MOJ_RTVAR;
static int main_then_commit(int argc, char **argv, char **envp) {
  int r = program_main(argc, argv, envp);
  commit_for_exit();
  return r;
}

MOJ_EXPORT __attribute__((weak)) int __libc_start_main(moj_main_fn main, int argc, char **argv,
                                                       void (*init)(void), void (*fini)(void),
                                                       void (*rtld_fini)(void), void *stack_end) {
  int (*real)(moj_main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
      (__typeof__(real))_moj_real("__libc_start_main");
  program_main = main;
  return real(main_then_commit, argc, argv, init, fini, rtld_fini, stack_end);
}

MOJ_EXPORT int spec_abort(int id) { return spec_abort_with(id, SPEC_ABORT_DEFAULT); }

MOJ_EXPORT int spec_level(void) { return _moj_rt ? _moj_rt->depth : 0; }

MOJ_EXPORT int spec_current(void) {
  moj_level_t *t = _moj_rt ? _moj_top() : NULL;
  return t ? t->id : 0;
}

MOJ_EXPORT int spec_id_at(int depth) {
  if (!_moj_rt || depth < 1 || depth > _moj_rt->depth) return 0;
  return _moj_rt->levels[depth].id;
}

MOJ_EXPORT int spec_depth_of(int id) {
  if (!_moj_rt || id <= 0) return 0;
  for (int d = 1; d <= _moj_rt->depth; d++)
    if (_moj_rt->levels[d].id == id) return d;
  return 0;
}

MOJ_EXPORT int spec_last_abort_code(void) { return _moj_rt ? _moj_rt->last_abort_code : 0; }

/* A coroutine stack made with makecontext: snapshot.c must know its bounds so
 * spec_enter on it copies that stack's live range, not the main stack's. */
/* makecontext's extra arguments are ints; up to 16 are forwarded (x86-64
 * passes them in registers and on the stack exactly as for a call). */
MOJ_EXPORT __attribute__((weak)) void makecontext(ucontext_t *uc, void (*fn)(void), int argc, ...) {
  static void (*real)(ucontext_t *, void (*)(void), int, ...) MOJ_RTVAR;
  if (!real) real = (void (*)(ucontext_t *, void (*)(void), int, ...))_moj_real("makecontext");
  if (moj_unlikely(!_moj_rt)) _moj_init();
  _moj_note_context_stack((uintptr_t)uc->uc_stack.ss_sp, (uintptr_t)uc->uc_stack.ss_sp + uc->uc_stack.ss_size);
  long a[16] = {0};
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc && i < 16; i++) a[i] = va_arg(ap, int);
  va_end(ap);
  real(uc, fn, argc, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
       a[12], a[13], a[14], a[15]);
}
