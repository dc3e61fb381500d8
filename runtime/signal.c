/* runtime/signal.c — signals meet speculation.
 *
 * A handler may interrupt the program anywhere, including inside the
 * runtime's slow paths (copy-on-write, allocation, the log, commit, abort),
 * and may itself write heap objects or abort a level.  Making all of those
 * re-entrant is not possible (mimalloc is not), so they are protected by
 * *deferral*: the program's handlers are installed behind a trampoline
 * (sigaction/signal are interposed); while the interrupted thread is inside a
 * slow path (`_moj_sig.in_rt`, a thread-local counter the slow paths bump —
 * the inline fast path is untouched), an asynchronous signal is only recorded
 * and re-sent to the same thread, with the same siginfo, when the outermost
 * slow path returns.  Synchronous faults (SIGSEGV, SIGBUS, ... raised by an
 * instruction) are never deferred: the DSM layer and the program's own fault
 * handlers must run at once.
 *
 * Signal mask: an abort issued from a handler leaves through a jump, not
 * sigreturn, so the kernel would leave the handler's mask (its own signal,
 * sa_mask) blocked.  The trampoline remembers the mask of the code the
 * outermost handler interrupted; sigprocmask/pthread_sigmask are interposed so
 * a mask change made inside a level records the mask before it.  Abort then
 * sets the mask the aborted level had at entry, with no system call at entry. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread moj_sigtls_t _moj_sig __attribute__((tls_model("initial-exec")));

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
static sigaction_fn real_sigaction MOJ_RTVAR;
static sigmask_fn real_sigprocmask MOJ_RTVAR, real_pthread_sigmask MOJ_RTVAR;

/* The DSM client (runtime/dsm/client.c) keeps SIGSEGV for its page faults and
 * chains to the program's handler; inside libmojave it is reached under this
 * name, after the trampoline is put in place. */

static int call_sigaction(int sig, const struct sigaction *a, struct sigaction *o) {
  if (__moj_dsm_sigaction) return __moj_dsm_sigaction(sig, a, o);
  if (!real_sigaction) real_sigaction = (sigaction_fn)_moj_real("sigaction");
  return real_sigaction(sig, a, o);
}

/* The kernel's view of a mask: the first 64 bits of glibc's sigset_t. */
static uint64_t mask_bits(const sigset_t *s) { uint64_t m; memcpy(&m, s, sizeof m); return m; }
static void set_mask_raw(uint64_t m) { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m); }

/* Raised by an instruction of this thread: must be handled now, never deferred. */
static int synchronous(int sig, const siginfo_t *si) {
  switch (sig) {
  case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP: case SIGSYS:
    return si && si->si_code > 0 && si->si_code != SI_KERNEL;
  default:
    return 0;
  }
}

static void send_self(int sig, siginfo_t *si) {
  /* Same thread, same siginfo (SI_TIMER, SI_KERNEL, ...): the kernel allows
   * any si_code for a signal a thread queues to itself. */
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), sig, si) != 0)
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

void _moj_sig_replay(void) {
  moj_sigtls_t *t = &_moj_sig;
  while (t->pending) {
    int b = __builtin_ctzll(t->pending);
    siginfo_t si = t->info[b];
    t->pending &= ~(1ull << b);
    MOJ_SIGFENCE();
    send_self(b + 1, &si);   /* delivered as the system call returns */
  }
}

/* The default action of a signal whose disposition changed under the trampoline. */
static void default_action(int sig, siginfo_t *si) {
  struct sigaction d;
  memset(&d, 0, sizeof d);
  d.sa_handler = SIG_DFL;
  call_sigaction(sig, &d, NULL);
  send_self(sig, si);
}

static void trampoline(int sig, siginfo_t *si, void *ucv) {
  moj_sigtls_t *t = &_moj_sig;
  if (t->in_rt && !synchronous(sig, si)) {
    t->info[sig - 1] = *si;
    t->pending |= 1ull << (sig - 1);
    __atomic_add_fetch(&_moj_rt->sig_deferred, 1, __ATOMIC_RELAXED);
    return;
  }
  moj_rt_t *rt = _moj_rt;
  void *fn = rt->sig_act[sig].fn;
  int flags = rt->sig_act[sig].flags;
  if (fn == (void *)SIG_IGN) return;
  if (fn == (void *)SIG_DFL) { default_action(sig, si); return; }
  if (flags & SA_RESETHAND) {        /* one-shot: emulated, the kernel sees a plain handler */
    rt->sig_act[sig].fn = (void *)SIG_DFL;
    rt->sig_act[sig].wrapped = 0;
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    call_sigaction(sig, &d, NULL);
  }
  if (t->hdepth++ == 0) {
    t->hsp = (uintptr_t)__builtin_frame_address(0);
    t->hmask = mask_bits(&((ucontext_t *)ucv)->uc_sigmask);
  }
  MOJ_SIGFENCE();
  if (flags & SA_SIGINFO) ((void (*)(int, siginfo_t *, void *))fn)(sig, si, ucv);
  else ((void (*)(int))fn)(sig);
  MOJ_SIGFENCE();
  t->hdepth--;
}

MOJ_EXPORT __attribute__((weak)) int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (moj_unlikely(!_moj_rt)) _moj_init();
  if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP) return call_sigaction(sig, act, old);
  moj_rt_t *rt = _moj_rt;
  __typeof__(rt->sig_act[0]) prev = rt->sig_act[sig];
  struct sigaction k;
  if (act) {
    k = *act;
    void *fn = (act->sa_flags & SA_SIGINFO) ? (void *)act->sa_sigaction : (void *)act->sa_handler;
    int wrap = fn != (void *)SIG_DFL && fn != (void *)SIG_IGN;
    if (wrap) {
      k.sa_sigaction = trampoline;
      k.sa_flags = (act->sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    }
    /* The table first: a signal arriving in between reaches the new handler. */
    rt->sig_act[sig].fn = fn;
    rt->sig_act[sig].flags = act->sa_flags;
    rt->sig_act[sig].wrapped = wrap;
  }
  int r = call_sigaction(sig, act ? &k : NULL, old);
  if (r != 0) { rt->sig_act[sig] = prev; return r; }
  if (old && old->sa_sigaction == trampoline) {  /* report the program's handler */
    old->sa_flags = prev.flags;
    if (prev.flags & SA_SIGINFO) old->sa_sigaction = (void (*)(int, siginfo_t *, void *))prev.fn;
    else old->sa_handler = (void (*)(int))prev.fn;
  }
  return 0;
}

/* glibc's signal() is BSD signal: SA_RESTART, the signal blocked in its handler. */
static sighandler_t install(int sig, sighandler_t h, int flags) {
  struct sigaction a, o;
  memset(&a, 0, sizeof a);
  a.sa_handler = h;
  a.sa_flags = flags;
  if (!(flags & SA_NODEFER) && sig >= 1 && sig <= 64) sigaddset(&a.sa_mask, sig);
  if (sigaction(sig, &a, &o) != 0) return SIG_ERR;
  return o.sa_handler;
}
MOJ_EXPORT __attribute__((weak)) sighandler_t signal(int sig, sighandler_t h) { return install(sig, h, SA_RESTART); }
MOJ_EXPORT __attribute__((weak)) sighandler_t bsd_signal(int sig, sighandler_t h) { return install(sig, h, SA_RESTART); }
MOJ_EXPORT __attribute__((weak)) sighandler_t sysv_signal(int sig, sighandler_t h) {
  return install(sig, h, SA_RESETHAND | SA_NODEFER);
}

/* A mask change inside a level: remember the mask before the first one. */
static int mask_call(sigmask_fn *real, const char *name, int how, const sigset_t *set, sigset_t *old) {
  if (!*real) *real = (sigmask_fn)_moj_real(name);
  moj_level_t *l = _moj_rt ? _moj_top() : NULL;
  if (!l || !set || l->mask_saved) return (*real)(how, set, old);
  sigset_t before;
  int r = (*real)(how, set, &before);
  if (r == 0) {
    /* Inside a handler the mask before the change is the kernel's handler
     * mask; the speculative code's own is the one the handler interrupted. */
    moj_sigtls_t *t = &_moj_sig;
    int in_handler = t->hdepth > 0 && (uintptr_t)__builtin_frame_address(0) < t->hsp;
    l->mask_at = in_handler ? t->hmask : mask_bits(&before);
    l->mask_saved = 1;
    if (old) *old = before;
  }
  return r;
}
MOJ_EXPORT __attribute__((weak)) int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  return mask_call(&real_sigprocmask, "sigprocmask", how, set, old);
}
MOJ_EXPORT __attribute__((weak)) int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  return mask_call(&real_pthread_sigmask, "pthread_sigmask", how, set, old);
}

/* Commit of level k into k-1: the older record of the entry mask wins. */
void _moj_sig_commit(int k) {
  moj_rt_t *rt = _moj_rt;
  moj_level_t *l = &rt->levels[k];
  if (k > 1 && l->mask_saved && !rt->levels[k - 1].mask_saved) {
    rt->levels[k - 1].mask_saved = 1;
    rt->levels[k - 1].mask_at = l->mask_at;
  }
  l->mask_saved = 0;
}

/* Per-thread decision made on the program's stack, applied on the abort stack. */
static __thread struct { int set; uint64_t mask; } abort_mask __attribute__((tls_model("initial-exec")));

void _moj_sig_abort_prepare(int k, uintptr_t sp) {
  moj_rt_t *rt = _moj_rt;
  moj_sigtls_t *t = &_moj_sig;
  int in_handler = t->hdepth > 0 && sp < t->hsp; /* else the handler was left by longjmp */
  abort_mask.set = 0;
  for (int d = k; d <= rt->depth; d++)
    if (rt->levels[d].mask_saved) {     /* the program changed the mask since k's entry */
      abort_mask.set = 1;
      abort_mask.mask = rt->levels[d].mask_at;
      break;
    }
  if (!abort_mask.set && in_handler) {  /* the mask the interrupted (speculative) code had */
    abort_mask.set = 1;
    abort_mask.mask = t->hmask;
  }
  for (int d = k; d <= rt->depth; d++) rt->levels[d].mask_saved = 0;
}

void _moj_sig_abort_resume(void) {
  moj_sigtls_t *t = &_moj_sig;
  t->hdepth = 0;
  if (abort_mask.set) set_mask_raw(abort_mask.mask);
  MOJ_SIGFENCE();
  t->in_rt = 0;
  MOJ_SIGFENCE();
  if (t->pending) _moj_sig_replay();
}
