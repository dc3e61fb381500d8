/* client_fault.c — the page-coherence client: attached segments and their
 * views, the SIGSEGV fault handler (chained to the application's), pages
 * installed from the home or shipped to it, and the I/O system calls whose
 * buffers may lie in DSM memory (made accessible before the kernel sees them). */
#include "client.h"

MOJ_DSM_VAR struct cseg *_moj_dsm_segs;
MOJ_DSM_VAR pthread_mutex_t _moj_dsm_seg_lock = PTHREAD_MUTEX_INITIALIZER;

struct cseg *_moj_dsm_seg_by_id(int id) {
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) if (s->id == id) return s;
  return NULL;
}
/* Which segment/view holds addr; caller holds _moj_dsm_seg_lock. */
static struct cseg *seg_by_addr(const void *addr, int *view) {
  const uint8_t *a = addr;
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next)
    for (int i = 0; i < s->nviews; i++)
      if (a >= s->v[i].addr && a < s->v[i].addr + s->mapsize) { if (view) *view = i; return s; }
  return NULL;
}
static void set_prot_run(struct cseg *s, uint32_t pn, uint32_t n, uint32_t acc, int spec_ro) {
  for (int i = 0; i < s->nviews; i++) {
    int prot = acc == MOJ_ACC_WRITE ? (s->v[i].rdonly || spec_ro ? PROT_READ : PROT_READ | PROT_WRITE)
               : acc == MOJ_ACC_READ || acc == ACC_CLEAN ? PROT_READ : PROT_NONE;
    if (mprotect(s->v[i].addr + (size_t)pn * MOJ_PAGE, (size_t)n * MOJ_PAGE, prot))
      _moj_dsm_warn("mprotect failed: %s", strerror(errno));
  }
}
/* Writable pages stay read-only while a speculation has not saved them
 * (client_spec.c): runs of pages that differ there are protected apart. */
static void set_prot_n(struct cseg *s, uint32_t pn, uint32_t n, uint32_t acc) {
  for (uint32_t k = 0; k < n; k++) atomic_store(&s->acc[pn + k], (uint8_t)acc);
  if (acc != MOJ_ACC_WRITE || _moj_dsm_spec_depth <= 0) { set_prot_run(s, pn, n, acc, 0); return; }
  for (uint32_t at = pn, end = pn + n; at < end;) {
    int ro = _moj_dsm_spec_ro(s, at);
    uint32_t m = 1;
    while (at + m < end && _moj_dsm_spec_ro(s, at + m) == ro) m++;
    set_prot_run(s, at, m, acc, ro);
    at += m;
  }
}
void _moj_dsm_set_prot_n(struct cseg *s, uint32_t pn, uint32_t n, uint32_t acc) { set_prot_n(s, pn, n, acc); }
void _moj_dsm_set_prot(struct cseg *s, uint32_t pn, uint32_t acc) { set_prot_n(s, pn, 1, acc); }
/* A write-ahead grant: pn writable (the store that faulted), the n - 1 after
 * it clean.  pn counts in the writer's sequential run (clean_upgrade) when it
 * continues one, so a scan's run survives batch boundaries. */
static void install_ahead(struct cseg *s, uint32_t pn, uint32_t n) {
  set_prot_n(s, pn, 1, MOJ_ACC_WRITE);
  if (n > 1) set_prot_n(s, pn + 1, n - 1, ACC_CLEAN);
  s->up_run = pn == s->up_next ? s->up_run + 1 : 1;
  s->up_next = pn + 1;
}


/* Answer PAGE_FETCH: lower our access first so no application store can slip
 * in after the snapshot, then ship the runtime view's bytes.  Caller holds
 * _moj_dsm_seg_lock (which also serialises zbuf). */
void _moj_dsm_fetch_reply(struct hconn *hc, uint32_t seq, const struct _moj_page *qp, struct cseg *s) {
  struct _moj_page q = *qp;
  struct _moj_page r = {q.id, q.page, q.access, 0};
  const uint8_t *data = NULL;
  if (s && q.page < s->npages) {
    uint32_t cur = atomic_load(&s->acc[q.page]);
    uint32_t na = q.access < cur ? q.access : cur;
    _moj_dsm_set_prot(s, q.page, na);
    if (q.has_data) { data = s->rt + (size_t)q.page * MOJ_PAGE; r.has_data = 1; }
  }
  size_t dl = data ? MOJ_PAGE : 0;
  static uint8_t zbuf[MOJ_PAGE + 1024];
  if (_moj_dsm_zcomp && data) {
    size_t zl = ZSTD_compress(zbuf, sizeof zbuf, data, MOJ_PAGE, 1);
    if (!ZSTD_isError(zl) && zl < MOJ_PAGE - MOJ_PAGE / 8) { data = zbuf; dl = zl; r.has_data |= MOJ_PAGE_ZSTD; }
  }
  pthread_mutex_lock(&hc->lock);
  _moj_dsm_send_locked(hc, MOJ_PAGE_FETCH | MOJ_REPLY, seq, 0, &r, sizeof r, data, dl);
  pthread_mutex_unlock(&hc->lock);
}
/* PAGE_FETCH from the home: answered now, or held while a speculation has
 * written the page (client_spec.c). */
void _moj_dsm_serve_fetch(struct hconn *hc, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_page q;
  if (h->len < sizeof q) return;
  memcpy(&q, pl, sizeof q);
  _moj_dsm_speclock_fetch_seen();
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  struct cseg *s = _moj_dsm_seg_by_id(q.id);
  if (s && s->ordered && q.page < s->npages) _moj_dsm_otx_invalidated(s, q.page);
  if (!_moj_dsm_spec_hold_fetch(hc, h->seq, &q, s)) _moj_dsm_fetch_reply(hc, h->seq, &q, s);
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
}
/* Pages of a plain (uncompressed, unencrypted) grant go from the socket
 * straight into the runtime view: no bounce through the frame buffer, whose
 * memcpy was ~4 % of a matmul worker's CPU.  q was read, data follows on fd.
 * Returns 1 = installed, 0 = not for us (the caller reads the payload as
 * usual; nothing consumed), -1 = connection broken.  The segment lock is held
 * across the read so no shmdt can unmap the destination meanwhile: the
 * frame has begun and the home sends the rest without waiting on anyone. */
int _moj_dsm_recv_pages(int fd, const struct _moj_hdr *h, const struct _moj_page *q) {
  uint32_t n = q->has_data;
  if (h->status || !n || (n & MOJ_PAGE_ZSTD) || h->len != sizeof *q + (size_t)n * MOJ_PAGE) return 0;
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  struct cseg *s = _moj_dsm_seg_by_id(q->id);
  if (!s || q->page >= s->npages || n > s->npages - q->page) { pthread_mutex_unlock(&_moj_dsm_seg_lock); return 0; }
  if (_moj_read_full(fd, s->rt + (size_t)q->page * MOJ_PAGE, (size_t)n * MOJ_PAGE)) {
    pthread_mutex_unlock(&_moj_dsm_seg_lock);
    if (errno != EPIPE) errno = EPIPE;
    return -1;
  }
  if (s->over) s->over[q->page] = h->aux; /* ordered: the version granted (one page per grant) */
  if (q->access == MOJ_ACC_AHEAD) {
    install_ahead(s, q->page, n);
  } else {
    set_prot_n(s, q->page, n, q->access);
  }
  if (_moj_dsm_stats_on) { _moj_dsm_st_pages += n; _moj_dsm_st_batches++; }
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
  return 1;
}
/* Install a granted page before waking the faulting thread.  Returns -1 on a
 * corrupt compressed frame: the connection is then unusable. */
int _moj_dsm_install_page(const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_page q;
  if (h->status || h->len < sizeof q) return 0;
  memcpy(&q, pl, sizeof q);
  int z = (q.has_data & MOJ_PAGE_ZSTD) != 0;
  q.has_data &= ~MOJ_PAGE_ZSTD;
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  struct cseg *s = _moj_dsm_seg_by_id(q.id);
  /* has_data = pages carried: the faulting page plus read-ahead followers */
  uint32_t n = q.has_data ? q.has_data : 1;
  int rc = 0;
  if (s && q.page < s->npages && n <= s->npages - q.page && (z || !q.has_data || h->len >= sizeof q + (size_t)n * MOJ_PAGE)) {
    if (z) {
      size_t r = ZSTD_decompress(s->rt + (size_t)q.page * MOJ_PAGE, (size_t)n * MOJ_PAGE, pl + sizeof q, h->len - sizeof q);
      if (ZSTD_isError(r) || r != (size_t)n * MOJ_PAGE) rc = -1;
    } else if (q.has_data) {
      memcpy(s->rt + (size_t)q.page * MOJ_PAGE, pl + sizeof q, (size_t)n * MOJ_PAGE);
    }
    if (!rc && s->over) s->over[q.page] = h->aux;
    if (!rc && q.access == MOJ_ACC_AHEAD) {
      install_ahead(s, q.page, n);
    } else if (!rc) {
      set_prot_n(s, q.page, n, q.access);
    }
    if (_moj_dsm_stats_on) { _moj_dsm_st_pages += n; _moj_dsm_st_batches++; }
  }
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
  return rc;
}



/* ---------------- page faults ---------------- */
static int acquire(struct cseg *s, uint32_t pn, uint32_t acc) {
  struct _moj_page_req q = {s->id, pn, acc};
  for (int tries = 0;; tries++) {
    if (s->orphan) return EIDRM;
    int st = _moj_dsm_call(s->host, MOJ_PAGE_REQ, &q, sizeof q, NULL, 0, NULL, 0, NULL, CALL_FAULT);
    /* a home restart in progress: wait for the re-registration, then ask again */
    if ((st == MOJ_ERETRY || (st && atomic_load(&_moj_dsm_homes[s->host].recovering))) && tries < 1000) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
      continue;
    }
    return st;
  }
}
/* First store to a write-ahead page: tell the home (no reply needed: the
 * message is ordered before anything else this process sends it), then map
 * the page writable.  A writer that goes on to the next clean page gets as
 * many pages upgraded at once as it has already written in sequence (up to
 * MOJ_DIRTY_MAX; one message, one mprotect): filling a fresh buffer paid a
 * signal, an mprotect and a message per page.  The price is on crashes only:
 * pages of a run the process did not get to write — never more than it had
 * written in sequence before — are lost with it (EIO) instead of staying
 * current at the home; shmdt ships them back like written ones.  Caller holds
 * _moj_dsm_seg_lock, so no PAGE_FETCH interleaves. */
#define MOJ_DIRTY_MAX 64u
static void clean_upgrade(struct cseg *s, uint32_t pn) {
  struct hconn *hc = &_moj_dsm_homes[s->host];
  if (pn != s->up_next) s->up_run = 0;
  uint32_t w = s->up_run ? (s->up_run < MOJ_DIRTY_MAX ? s->up_run : MOJ_DIRTY_MAX) : 1;
  uint32_t n = 1;
  while (n < w && pn + n < s->npages && atomic_load(&s->acc[pn + n]) == ACC_CLEAN) n++;
  s->up_next = pn + n;
  s->up_run += n;
  struct _moj_page_req q = {s->id, pn, MOJ_ACC_WRITE};
  pthread_mutex_lock(&hc->lock);
  if (!hc->dead && hc->fd >= 0) _moj_dsm_send_locked(hc, MOJ_PAGE_DIRTY, 0, n, &q, sizeof q, NULL, 0);
  pthread_mutex_unlock(&hc->lock);
  set_prot_n(s, pn, n, MOJ_ACC_WRITE);
  if (_moj_dsm_stats_on) { _moj_dsm_st_upgrade += n; _moj_dsm_st_upmsg++; }
}
static MOJ_DSM_VAR struct sigaction old_segv; /* the application's SIGSEGV disposition: we chain to it */
static MOJ_DSM_VAR int segv_installed;
static MOJ_DSM_VAR int (*real_sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!real_sigaction_fn) real_sigaction_fn = dlsym(RTLD_NEXT, "sigaction");
  return real_sigaction_fn(sig, act, old);
}
int _moj_dsm_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) { return real_sigaction(sig, act, old); }
/* A signal that is not ours goes to the application's disposition old:
 * its handler (1), or the default action installed for the caller to
 * re-execute or re-raise (0). */
int _moj_dsm_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc) {
  if (old->sa_flags & SA_SIGINFO) { old->sa_sigaction(sig, si, uc); return 1; }
  if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) { old->sa_handler(sig); return 1; }
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  real_sigaction(sig, &dfl, NULL);
  return 0;
}
/* All signals are blocked once on entry and never unblocked on the way out:
 * sigreturn restores the application's mask for free.  The wait for the
 * reply runs with the application's mask (see _moj_dsm_call). */
static void segv_handler(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  int64_t t_entry = _moj_dsm_trace_on ? _moj_dsm_now() : 0;
  ucontext_t *u = uc;
  int write = moj_fault_is_write(u);
  int view = -1;
  sigset_t all, appmask;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &appmask);
  /* a fault inside an application handler run during another fault's wait */
  int outer_blocked = _moj_dsm_tl_blocked;
  sigset_t outer_mask = _moj_dsm_tl_appmask;
  _moj_dsm_tl_blocked = 1;
  _moj_dsm_tl_appmask = appmask;
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  struct cseg *s = seg_by_addr(si->si_addr, &view);
  int rdonly = s ? s->v[view].rdonly : 0;
  uint32_t pn = s ? (uint32_t)(((uint8_t *)si->si_addr - s->v[view].addr) / MOJ_PAGE) : 0;
  int sw = s && write && !rdonly && pn < s->npages && !s->ordered ? _moj_dsm_spec_write_fault(s, pn) : 0;
  if (sw < 0) {
    pthread_mutex_unlock(&_moj_dsm_seg_lock);
    _moj_dsm_warn("no memory to save DSM page %u of segment 0x%x for the speculation: raising SIGBUS", pn, s->id);
    pthread_sigmask(SIG_SETMASK, &appmask, NULL);
    raise(SIGBUS);
    return;
  }
  if (sw || (s && write && !rdonly && pn < s->npages && atomic_load(&s->acc[pn]) == ACC_CLEAN)) {
    if (!sw) clean_upgrade(s, pn);
    pthread_mutex_unlock(&_moj_dsm_seg_lock);
    _moj_dsm_tl_blocked = outer_blocked;
    _moj_dsm_tl_appmask = outer_mask;
    errno = saved;
    return;
  }
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
  if (!s || (write && rdonly) || pn >= s->npages) {
    _moj_dsm_tl_blocked = outer_blocked;
    _moj_dsm_tl_appmask = outer_mask;
    pthread_sigmask(SIG_SETMASK, &appmask, NULL);
    /* not ours (or a store through a SHM_RDONLY attach): behave as without us */
    if (_moj_dsm_chain(&old_segv, sig, si, uc)) return;
    errno = saved;
    return; /* re-executes and dies with the default action */
  }
  if (_moj_dsm_speclock_pending()) {
    /* A lock speculation never waits for a page: the page may be held by a
     * process whose own speculation waits for one of ours.  Its outcome
     * first (commit, or roll back to the semop, leaving this handler). */
    _moj_dsm_tl_blocked = outer_blocked;
    _moj_dsm_tl_appmask = outer_mask;
    pthread_sigmask(SIG_SETMASK, &appmask, NULL);
    _moj_dsm_speclock_settle();
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    _moj_dsm_tl_blocked = 1;
    _moj_dsm_tl_appmask = appmask;
  }
  if (s->ordered && write) {
    /* a store to an ordered segment: made readable if it is not, then
     * caught by single-stepping and ordered (client_ocapture.c) */
    int st = 0;
    if (atomic_load(&s->acc[pn]) == MOJ_ACC_NONE && !(st = acquire(s, pn, MOJ_ACC_READ))) _moj_dsm_otx_read(s, pn);
    if (!st) st = _moj_dsm_ocap_fault(s, pn, uc, &appmask);
    _moj_dsm_tl_blocked = outer_blocked;
    _moj_dsm_tl_appmask = outer_mask;
    if (st) {
      _moj_dsm_warn("store to ordered segment 0x%x page %u refused (%s): raising SIGBUS", s->id, pn,
                    st == ENOTSUP ? "this architecture has no single-step trap to catch stores with"
                    : st == E2BIG ? "one instruction writes more than two pages" : strerror(st));
      pthread_sigmask(SIG_SETMASK, &appmask, NULL);
      raise(SIGBUS);
    }
    errno = saved;
    return;
  }
  struct timespec t0, t1;
  if (_moj_dsm_stats_on) { clock_gettime(CLOCK_MONOTONIC, &t0); if (write) _moj_dsm_st_wfault++; else _moj_dsm_st_rfault++; }
  _moj_dsm_tl_entry = t_entry;
  int st = acquire(s, pn, write ? MOJ_ACC_WRITE : MOJ_ACC_READ);
  if (!st && s->ordered) _moj_dsm_otx_read(s, pn); /* inside a speculation: its version is checked at commit */
  if (_moj_dsm_stats_on) {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    _moj_dsm_st_wait_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
  }
  _moj_dsm_tl_blocked = outer_blocked;
  _moj_dsm_tl_appmask = outer_mask;
  if (st) {
    _moj_dsm_warn("DSM %s fault on segment 0x%x page %u failed (%s): raising SIGBUS", write ? "write" : "read", s->id, pn,
          st == EIO ? "page lost: its only copy was on a crashed process" : strerror(st));
    /* like a hardware SIGBUS: the application's handler runs if it has one */
    pthread_sigmask(SIG_SETMASK, &appmask, NULL);
    raise(SIGBUS);
  }
  if (_moj_dsm_trace_on) _moj_dsm_tr_set(_moj_dsm_tl_tr, TR_RET, _moj_dsm_now());
  errno = saved;
}
void _moj_dsm_sigsegv_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  real_sigaction(SIGSEGV, &sa, &old_segv);
  segv_installed = 1;
}

/* Applications that install their own SIGSEGV handler must not take DSM
 * faults away from us: their handler is recorded and called for faults that
 * are not DSM faults, exactly as if it were installed alone.  The same for
 * SIGTRAP once an ordered segment is attached (client_ocapture.c steps
 * stores with the trap flag). */
#ifdef MOJ_IN_RUNTIME /* runtime/signal.c wraps sigaction/signal first and chains here */
#define MOJ_SIG(name) __moj_dsm_##name
#else
#define MOJ_SIG(name) name
#endif
EXPORT int MOJ_SIG(sigaction)(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig == SIGTRAP && _moj_dsm_ocap_sigaction(act, old) == 0) return 0;
  if (sig != SIGSEGV || !segv_installed) return real_sigaction(sig, act, old);
  struct sigaction prev = old_segv;
  if (act) old_segv = *act;
  if (old) *old = prev;
  return 0;
}
EXPORT sighandler_t MOJ_SIG(signal)(int sig, sighandler_t h) {
  if (sig == SIGTRAP) {
    struct sigaction a, o;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = SA_RESTART;
    if (_moj_dsm_ocap_sigaction(&a, &o) == 0) return (o.sa_flags & SA_SIGINFO) ? SIG_DFL : o.sa_handler;
  }
  if (sig != SIGSEGV || !segv_installed) {
    static MOJ_DSM_VAR sighandler_t (*real_signal)(int, sighandler_t);
    if (!real_signal) real_signal = (sighandler_t (*)(int, sighandler_t))dlsym(RTLD_NEXT, "signal");
    return real_signal(sig, h);
  }
  sighandler_t prev = (old_segv.sa_flags & SA_SIGINFO) ? SIG_DFL : old_segv.sa_handler;
  memset(&old_segv, 0, sizeof old_segv);
  old_segv.sa_handler = h;
  old_segv.sa_flags = SA_RESTART;
  return prev;
}

/* Make [p, p+n) accessible before a syscall touches it: the kernel returns
 * EFAULT instead of faulting on a protected page. */
static void prefault(const void *p, size_t n, int write) {
  if (!_moj_dsm_segs || !n) return;
  const uint8_t *a = p, *end = a + n;
  /* most I/O buffers are not DSM memory: one scan decides, then nothing per page */
  int overlaps = 0;
  sigset_t om0;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om0);
  for (struct cseg *s = _moj_dsm_segs; s && !overlaps; s = s->next)
    for (int i = 0; i < s->nviews; i++)
      if (a < s->v[i].addr + s->mapsize && end > s->v[i].addr) { overlaps = 1; break; }
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om0);
  if (!overlaps) return;
  while (a < end) {
    int view;
    sigset_t om;
    _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
    struct cseg *s = seg_by_addr(a, &view);
    uint32_t pn = 0;
    int need = 0;
    if (s) {
      pn = (uint32_t)((a - s->v[view].addr) / MOJ_PAGE);
      if (pn < s->npages) {
        uint32_t cur = atomic_load(&s->acc[pn]);
        if (write && cur == ACC_CLEAN) clean_upgrade(s, pn);
        else if (s->ordered) need = cur == MOJ_ACC_NONE; /* never writable: the kernel's store fails (EFAULT, documented) */
        else need = write ? cur != MOJ_ACC_WRITE : cur == MOJ_ACC_NONE;
      }
    }
    _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
    if (need) acquire(s, pn, write && !s->ordered ? MOJ_ACC_WRITE : MOJ_ACC_READ);
    a = (const uint8_t *)(((uintptr_t)a & ~(uintptr_t)(MOJ_PAGE - 1)) + MOJ_PAGE);
  }
}
/* Retry a syscall whose buffer lost its access between prefault and the _moj_dsm_call. */
#define RETRY_FAULT(call_expr, buf, len, wr)                         \
  ssize_t r_;                                                        \
  for (int try_ = 0;; try_++) {                                      \
    prefault(buf, len, wr);                                          \
    r_ = (call_expr);                                                \
    if (!(r_ < 0 && errno == EFAULT && _moj_dsm_segs && try_ < 100)) break;   \
  }                                                                  \
  return r_;

/* Inside libmojave (MOJ_IN_RUNTIME) the runtime's output layer owns write,
 * pwrite, send and sendto and chains to these under __moj_dsm_* names. */
#ifdef MOJ_IN_RUNTIME
#define MOJ_IO(name) __moj_dsm_##name
#else
#define MOJ_IO(name) name
#endif
EXPORT ssize_t read(int fd, void *buf, size_t n) { RETRY_FAULT(syscall(SYS_read, fd, buf, n), buf, n, 1) }
EXPORT ssize_t MOJ_IO(write)(int fd, const void *buf, size_t n) { RETRY_FAULT(syscall(SYS_write, fd, buf, n), buf, n, 0) }
EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t o) { RETRY_FAULT(syscall(SYS_pread64, fd, buf, n, o), buf, n, 1) }
EXPORT ssize_t MOJ_IO(pwrite)(int fd, const void *buf, size_t n, off_t o) { RETRY_FAULT(syscall(SYS_pwrite64, fd, buf, n, o), buf, n, 0) }
EXPORT ssize_t recv(int fd, void *buf, size_t n, int fl) { RETRY_FAULT(syscall(SYS_recvfrom, fd, buf, n, fl, NULL, NULL), buf, n, 1) }
EXPORT ssize_t MOJ_IO(send)(int fd, const void *buf, size_t n, int fl) { RETRY_FAULT(syscall(SYS_sendto, fd, buf, n, fl, NULL, 0), buf, n, 0) }
EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int fl, struct sockaddr *sa, socklen_t *sl) {
  RETRY_FAULT(syscall(SYS_recvfrom, fd, buf, n, fl, sa, sl), buf, n, 1)
}
EXPORT ssize_t MOJ_IO(sendto)(int fd, const void *buf, size_t n, int fl, const struct sockaddr *sa, socklen_t sl) {
  RETRY_FAULT(syscall(SYS_sendto, fd, buf, n, fl, sa, sl), buf, n, 0)
}

