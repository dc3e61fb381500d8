/* client_speclock.c — speculative lock acquisition (paper §3.2.4; cluster
 * file `speculative-locks on`) for programs linked with libmojave: a semop
 * that may have to wait sends its request, enters a speculation and returns
 * 0 at once, so the critical section runs during the round trip.  The home
 * answers at once: granted — the level commits; must wait (MOJ_EQUEUED) — the
 * level rolls back to the call, which then waits for the grant like any
 * semop and returns.
 *
 * Why it is safe.  What the level writes to shared pages is held from other
 * hosts until it commits (client_spec.c).  What it reads may be overwritten
 * by the lock's previous holder before our grant; but that holder must take
 * the pages from us first (IVY), so any PAGE_FETCH that reaches this process
 * while the lock is unresolved dooms the level (rolled back even if granted:
 * the call then returns with the lock held and the section runs again).
 * Anything else the level would do that leaves the process — another System
 * V call — first waits for the outcome (_moj_dsm_speclock_settle); output is
 * held by the runtime like any speculative output.
 *
 * The outcome reaches the application thread as a signal (MOJ_SPECLOCK_SIG,
 * installed through the runtime's sigaction so it runs only outside the
 * runtime), sent by whichever thread read the reply. */
#include "client.h"

#ifdef MOJ_IN_RUNTIME
#include "../spec_ext.h"
int spec_enter(void);
int spec_commit(int id);
int spec_abort_with(int id, int code);

#define MOJ_SPECLOCK_SIG (SIGRTMIN + 6)
#define MOJ_SPECLOCK_ABORT 0x5e1 /* the abort code our own roll-backs use */

struct speclock {
  struct pend *p;
  int host, level, id;
  int level_depth;     /* its position in the level stack (moves down when an enclosing level commits) */
  int self_abort;      /* we are rolling it back ourselves */
  pthread_t thread;
  _Atomic int doomed;
  int orphan;          /* the level went away without us (the program aborted an enclosing level) */
  size_t nsops;
  struct sembuf ops[]; /* for SEM_UNDO bookkeeping and for handing the lock back */
};
static MOJ_DSM_VAR struct speclock *cur;
static MOJ_DSM_VAR int sig_ready;
static MOJ_DSM_VAR _Atomic uint64_t st_commit, st_abort, st_doomed;

static void notify(struct pend *p) {
  struct speclock *s = cur;
  if (s && s->p == p && !s->orphan) pthread_kill(s->thread, MOJ_SPECLOCK_SIG);
}

/* The program rolled back a level enclosing ours: the request may still be
 * granted.  Cancel it; if the grant wins the race, hand the lock back. */
static void give_back(struct speclock *s) {
  struct _moj_sembuf b[500];
  size_t n = _moj_dsm_sem_inverse(s->ops, s->nsops, 0, b);
  if (!n) return;
  struct _moj_semop q = {s->id, (uint32_t)n, -1, _moj_dsm_cred(), _moj_dsm_rid()};
  _moj_dsm_call(s->host, MOJ_SEMOP, &q, sizeof q, b, n * sizeof *b, NULL, 0, NULL, 0);
}
static void finish_orphan(struct speclock *s) {
  struct hconn *hc = &_moj_dsm_homes[s->host];
  if (!atomic_load(&s->p->done)) {
    pthread_mutex_lock(&hc->lock);
    if (!hc->dead && !atomic_load(&s->p->done)) _moj_dsm_send_locked(hc, MOJ_CANCEL, 0, s->p->seq, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&hc->lock);
    while (!atomic_load(&s->p->done)) _moj_dsm_fwait(&s->p->done, 0);
  }
  if (s->p->status == 0) give_back(s);
  free(s->p);
  free(s);
}

/* Act on the outcome in the application thread: commit, or roll back to the
 * call.  block: wait for an outcome that has not arrived yet (with our
 * signal blocked: its handler would free the record under us). */
static void resolve(int block) {
  sigset_t blk, om;
  if (block) {
    sigemptyset(&blk);
    sigaddset(&blk, MOJ_SPECLOCK_SIG);
    pthread_sigmask(SIG_BLOCK, &blk, &om);
  }
  struct speclock *w = cur;
  if (block && w && pthread_equal(w->thread, pthread_self()) && !w->orphan) {
    /* wait for the outcome reading the connection ourselves (the reader
     * thread may be napping); fall back to sleeping if it broke */
    int broken = 0;
    _moj_dsm_self_read_enter(w->host);
    while (!atomic_load(&w->p->done) && !atomic_load(&w->p->queued) && !atomic_load(&w->doomed)) {
      if (!broken && _moj_dsm_pump(w->host, 1) < 0) broken = 1;
      if (broken) {
        struct timespec ms = {0, 1000000};
        syscall(SYS_futex, &w->p->done, FUTEX_WAIT_PRIVATE, 0, &ms, NULL, 0);
      }
    }
    _moj_dsm_self_read_leave(w->host);
  }
  for (;;) {
    struct speclock *s = cur;
    if (!s || !pthread_equal(s->thread, pthread_self())) break;
    if (s->orphan) { cur = NULL; finish_orphan(s); break; }
    int done = atomic_load(&s->p->done), queued = atomic_load(&s->p->queued), doomed = atomic_load(&s->doomed);
    if (done && s->p->status == 0 && !doomed) {
      cur = NULL;
      int lv = s->level;
      _moj_dsm_undo_note(s->id, s->ops, s->nsops);
      free(s->p);
      free(s);
      atomic_fetch_add(&st_commit, 1);
      spec_commit(lv);
      break;
    }
    if (done || queued || doomed) { /* back to the call, which finishes it (and restores the mask) */
      atomic_fetch_add(&st_abort, 1);
      s->self_abort = 1;
      spec_abort_with(s->level, MOJ_SPECLOCK_ABORT);
      break; /* not reached */
    }
    if (!block) break;
    /* queued and doomed do not wake the futex: look again every millisecond */
    struct timespec ms = {0, 1000000};
    syscall(SYS_futex, &s->p->done, FUTEX_WAIT_PRIVATE, 0, &ms, NULL, 0);
  }
  if (block) pthread_sigmask(SIG_SETMASK, &om, NULL);
}
static void on_sig(int sig) {
  (void)sig;
  int e = errno;
  resolve(0);
  errno = e;
}

void _moj_dsm_speclock_settle(void) {
  /* not from the calls a commit or abort replays (client_specipc.c) */
  if (cur && pthread_equal(cur->thread, pthread_self()) && !_moj_dsm_specipc_replaying()) resolve(1);
}
int _moj_dsm_speclock_pending(void) { return cur && pthread_equal(cur->thread, pthread_self()); }
/* A PAGE_FETCH reached us (reader thread): a level whose lock is not granted
 * yet may have read what the fetcher is about to change. */
void _moj_dsm_speclock_fetch_seen(void) {
  struct speclock *s = cur;
  if (s && !s->orphan && !atomic_load(&s->p->done)) {
    atomic_store(&s->doomed, 1);
    atomic_fetch_add(&st_doomed, 1);
    pthread_kill(s->thread, MOJ_SPECLOCK_SIG);
  }
}
/* The level stack changes (client_spec.c's event hook, app thread). */
void _moj_dsm_speclock_level_event(int ev, int k) {
  struct speclock *s = cur;
  if (!s || s->orphan || s->self_abort) return;
  if (ev == MOJ_SPEC_EV_COMMIT && k < s->level_depth) { s->level_depth--; return; }
  if ((ev == MOJ_SPEC_EV_ABORT && k <= s->level_depth) || (ev == MOJ_SPEC_EV_COMMIT && k == s->level_depth)) {
    /* the program ended our level itself (an enclosing abort, or a commit by
     * id): nobody waits for the request now; cancel it, and hand the lock
     * back if it was granted (at the next System V call or at exit) */
    s->orphan = 1;
    struct hconn *hc = &_moj_dsm_homes[s->host];
    pthread_mutex_lock(&hc->lock);
    if (!hc->dead && !atomic_load(&s->p->done)) _moj_dsm_send_locked(hc, MOJ_CANCEL, 0, s->p->seq, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&hc->lock);
  }
}

/* The semop wrapper's speculative path.  *handled = 0: take the classical
 * path (not applicable here). */
int _moj_dsm_speclock_semop(int host, const struct _moj_semop *q, const struct _moj_sembuf *b, size_t nsops, int id,
                            const struct sembuf *ops, int *handled) {
  *handled = 0;
  if (cur || _moj_dsm_tl_blocked) return 0; /* one at a time; never from inside our own handlers */
  if (!sig_ready) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART;
    if (sigaction(MOJ_SPECLOCK_SIG, &sa, NULL)) return 0;
    sig_ready = 1;
  }
  struct speclock *s = calloc(1, sizeof *s + nsops * sizeof(struct sembuf));
  if (!s) return 0;
  s->host = host; s->id = id; s->nsops = nsops; s->thread = pthread_self();
  memcpy(s->ops, ops, nsops * sizeof *ops);
  s->p = _moj_dsm_call_async(host, MOJ_SEMOP, MOJ_SEMOP_SPECULATIVE, q, sizeof *q, b, nsops * sizeof *b, notify);
  if (!s->p) { free(s); return 0; }
  *handled = 1;
  /* the request is out: from here the call's outcome is decided by its reply */
  sigset_t blk, om;
  sigemptyset(&blk);
  sigaddset(&blk, MOJ_SPECLOCK_SIG);
  pthread_sigmask(SIG_BLOCK, &blk, &om); /* no outcome acted on before the level exists */
  int lv = spec_enter();
  if (lv > 0) {
    s->level = lv;
    s->level_depth = spec_level();
    cur = s;
    pthread_sigmask(SIG_SETMASK, &om, NULL); /* a pending outcome is handled right here */
    return 0;
  }
  /* rolled back (lv < 0), or no speculation possible (lv == 0): wait like a
   * plain semop.  cur first: outcomes still queued as signals find nothing */
  cur = NULL;
  pthread_sigmask(SIG_SETMASK, &om, NULL);
  while (!atomic_load(&s->p->done)) _moj_dsm_fwait(&s->p->done, 0);
  int st = s->p->status;
  free(s->p);
  free(s);
  if (st == MOJ_ERETRY) { *handled = 0; return 0; } /* the home restarted: the classical path retries (same rid) */
  if (!st) _moj_dsm_undo_note(id, ops, nsops);
  return st ? _moj_dsm_fail(st) : 0;
}
void _moj_dsm_speclock_stats(uint64_t *commit, uint64_t *abort, uint64_t *doomed) {
  *commit = st_commit; *abort = st_abort; *doomed = st_doomed;
}
#else
void _moj_dsm_speclock_stats(uint64_t *commit, uint64_t *abort, uint64_t *doomed) { *commit = *abort = *doomed = 0; }
void _moj_dsm_speclock_settle(void) {}
int _moj_dsm_speclock_pending(void) { return 0; }
void _moj_dsm_speclock_fetch_seen(void) {}
void _moj_dsm_speclock_level_event(int ev, int k) { (void)ev; (void)k; }
int _moj_dsm_speclock_semop(int host, const struct _moj_semop *q, const struct _moj_sembuf *b, size_t nsops, int id,
                            const struct sembuf *ops, int *handled) {
  (void)host; (void)q; (void)b; (void)nsops; (void)id; (void)ops;
  *handled = 0;
  return 0;
}
#endif
