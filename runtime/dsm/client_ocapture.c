/* client_ocapture.c — stores to ordered segments (nsd_oshm.c): the page is
 * never handed out writable, so a store faults; the handler catches exactly
 * the bytes that one instruction writes and sends them to our daemon, which
 * orders them; the store returns when the write committed there.
 *
 * How the bytes are caught (x86-64): the page is made writable and the
 * instruction single-stepped (EFLAGS.TF) twice from the same registers —
 * once over the page as it was (its result is kept), once over the page's
 * bitwise complement (discarded).  A byte the instruction writes differs
 * from what was there in at least one of the two runs, unless it stores
 * exactly the value it would have read in both — a read-modify-write that
 * leaves the byte as it found it, which is a write of the value the
 * process's own view already holds there, so leaving it out changes no
 * outcome of a sequential order (see nsd_oshm.c); a diff against one run
 * alone would drop plain stores of an equal value, and with them writes
 * ordered after another host's.  Addresses never depend on the data (x86
 * has no memory-indirect addressing), so both runs touch the same bytes.
 *
 * Limits (docs/speculative-dsm.md §7): x86-64 only; one thread per process
 * touching ordered pages (another thread could see the complement); the
 * registers restored between the runs are the general ones and the
 * x87/SSE state (no store instruction changes the AVX upper halves);
 * atomic read-modify-writes are not atomic across hosts (use an ordered
 * semaphore); system calls that write into an ordered page fail with
 * EFAULT.  Inside a speculation the bytes are kept (client_otx.c). */
#include "client.h"

#if defined(__x86_64__)
#include <ucontext.h>

#define TF 0x100
#define CAP_PAGES 2     /* a store spans at most two pages */
#define CAP_MAX_RUNS 64 /* byte runs one instruction writes (a scatter at most; far below MOJ_PWRITE_MAX_RUNS) */

struct cap {
  int phase; /* 0 idle, 1 first run stepping, 2 second run stepping */
  int n;
  struct { struct cseg *s; uint32_t pn; uint8_t twin[MOJ_PAGE], r1[MOJ_PAGE]; } pg[CAP_PAGES];
  gregset_t g0, g1;
  struct _libc_fpstate fp0, fp1;
  sigset_t appmask;
  /* cap_send's buffers: it runs in a signal handler, perhaps on a small
   * alternate stack, so not on the stack; and not as __thread arrays, which
   * every thread of every mojcc program would carry (20 KB of start-up RSS) */
  uint8_t msg[MOJ_TO_MAX_DATA], data[CAP_PAGES * MOJ_PAGE];
  struct _moj_pwrite_run rv[CAP_MAX_RUNS];
};
static __thread struct cap *tl_cap;
static MOJ_DSM_VAR struct sigaction old_trap;
static MOJ_DSM_VAR int trap_installed;

static uint8_t *rt_page(struct cseg *s, uint32_t pn) { return s->rt + (size_t)pn * MOJ_PAGE; }
static void views_prot(struct cseg *s, uint32_t pn, int prot) {
  for (int i = 0; i < s->nviews; i++)
    if (!s->v[i].rdonly && mprotect(s->v[i].addr + (size_t)pn * MOJ_PAGE, MOJ_PAGE, prot))
      _moj_dsm_warn("mprotect failed: %s", strerror(errno));
}
/* Add page pn of s to the capture: its content before the store, writable. */
static void cap_add(struct cap *c, struct cseg *s, uint32_t pn) {
  for (int i = 0; i < c->n; i++)
    if (c->pg[i].s == s && c->pg[i].pn == pn) { views_prot(s, pn, PROT_READ | PROT_WRITE); return; } /* lost it to an invalidation meanwhile */
  c->pg[c->n].s = s;
  c->pg[c->n].pn = pn;
  memcpy(c->pg[c->n].twin, rt_page(s, pn), MOJ_PAGE);
  c->n++;
  views_prot(s, pn, PROT_READ | PROT_WRITE);
}

/* Did the instruction write byte b?  (see the top) */
static inline int wrote(const uint8_t *tw, const uint8_t *r1, const uint8_t *r2, uint32_t b) {
  uint8_t cpl = (uint8_t)(tw[b] ^ 0xffu);
  return r1[b] != tw[b] || r2[b] != cpl;
}
/* The written bytes: ordered at once as one PAGE_WRITE, or — inside a
 * speculation — kept by client_otx.c until the outermost commit.  The
 * first run's page content is put back either way.  0 or an errno. */
static int cap_send(struct cap *c) {
  uint8_t *msg = c->msg, *data = c->data;
  struct _moj_pwrite_run *rv = c->rv;
  struct _moj_pwrite q = {0, 0};
  size_t dl = 0, nr = 0;
  int st = 0;
  for (int i = 0; i < c->n && !st; i++) {
    const uint8_t *tw = c->pg[i].twin, *r1 = c->pg[i].r1, *r2 = rt_page(c->pg[i].s, c->pg[i].pn);
    for (uint32_t b = 0; b < MOJ_PAGE;) {
      if (!wrote(tw, r1, r2, b)) { b++; continue; }
      uint32_t e = b + 1;
      while (e < MOJ_PAGE && wrote(tw, r1, r2, e)) e++;
      if (nr == CAP_MAX_RUNS) { st = E2BIG; break; } /* never for one instruction's store */
      rv[nr] = (struct _moj_pwrite_run){c->pg[i].s->id, c->pg[i].pn, (uint16_t)b, (uint16_t)(e - b)};
      memcpy(data + dl, r1 + b, e - b);
      dl += e - b;
      nr++;
      b = e;
    }
  }
  for (int i = 0; i < c->n; i++) memcpy(rt_page(c->pg[i].s, c->pg[i].pn), c->pg[i].r1, MOJ_PAGE);
  if (st || !nr) return st;
  if (_moj_dsm_spec_depth > 0) { /* kept, with each page as it was before the level's first store */
    const uint8_t *d = data;
    for (size_t k = 0; k < nr && !st; k++) {
      int i = 0;
      while (c->pg[i].s->id != rv[k].id || c->pg[i].pn != rv[k].page) i++; /* the run came from one of them */
      st = _moj_dsm_otx_store(c->pg[i].s, rv[k].page, c->pg[i].twin, rv[k].off, rv[k].len, d);
      d += rv[k].len;
    }
    return st;
  }
  q.nruns = (uint32_t)nr;
  memcpy(msg, &q, sizeof q);
  memcpy(msg + sizeof q, rv, nr * sizeof *rv);
  return _moj_dsm_call(c->pg[0].s->host, MOJ_PAGE_WRITE, msg, sizeof q + nr * sizeof *rv, data, dl, NULL, 0, NULL, CALL_FAULT);
}

static void trap_handler(int sig, siginfo_t *si, void *uc) {
  struct cap *c = tl_cap;
  if (!c || !c->phase) { /* not ours: as without us */
    if (!_moj_dsm_chain(&old_trap, sig, si, uc)) raise(SIGTRAP);
    return;
  }
  int saved = errno;
  ucontext_t *u = uc;
  if (c->phase == 1) {
    /* keep the first run's result and registers; run again over the complement */
    for (int i = 0; i < c->n; i++) {
      uint8_t *p = rt_page(c->pg[i].s, c->pg[i].pn);
      memcpy(c->pg[i].r1, p, MOJ_PAGE);
      for (uint32_t b = 0; b < MOJ_PAGE; b++) p[b] = (uint8_t)(c->pg[i].twin[b] ^ 0xffu);
    }
    memcpy(c->g1, u->uc_mcontext.gregs, sizeof c->g1);
    if (u->uc_mcontext.fpregs) c->fp1 = *u->uc_mcontext.fpregs;
    memcpy(u->uc_mcontext.gregs, c->g0, sizeof c->g0);
    if (u->uc_mcontext.fpregs) *u->uc_mcontext.fpregs = c->fp0;
    c->phase = 2;
    errno = saved;
    return;
  }
  /* second run done: the first run's state back, the pages read-only (or
   * whatever an invalidation left them), then the bytes ordered */
  memcpy(u->uc_mcontext.gregs, c->g1, sizeof c->g1);
  u->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TF;
  if (u->uc_mcontext.fpregs) *u->uc_mcontext.fpregs = c->fp1;
  u->uc_sigmask = c->appmask;
  c->phase = 0;
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  for (int i = 0; i < c->n; i++) _moj_dsm_set_prot(c->pg[i].s, c->pg[i].pn, atomic_load(&c->pg[i].s->acc[c->pg[i].pn]));
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  int outer_blocked = _moj_dsm_tl_blocked;
  sigset_t outer_mask = _moj_dsm_tl_appmask;
  _moj_dsm_tl_blocked = 1;
  _moj_dsm_tl_appmask = c->appmask;
  int st = cap_send(c);
  _moj_dsm_tl_blocked = outer_blocked;
  _moj_dsm_tl_appmask = outer_mask;
  if (_moj_dsm_stats_on) _moj_dsm_st_wfault++;
  if (st) {
    _moj_dsm_warn("store to ordered segment 0x%x page %u failed (%s): raising SIGBUS", c->pg[0].s->id, c->pg[0].pn,
                  st == E2BIG ? "one instruction wrote more byte runs than a PAGE_WRITE carries" : strerror(st));
    pthread_sigmask(SIG_SETMASK, &c->appmask, NULL);
    raise(SIGBUS);
  }
  errno = saved;
}

int _moj_dsm_ocap_install(void) {
  if (trap_installed) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = trap_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigfillset(&sa.sa_mask);
  if (_moj_dsm_real_sigaction(SIGTRAP, &sa, &old_trap)) return errno;
  trap_installed = 1;
  return 0;
}

/* A store faulted on page pn of ordered segment s (pn readable, or being
 * captured already: a store across a page boundary).  Called from the
 * SIGSEGV handler without the segment lock; appmask is the application's
 * signal mask.  Returns 0 (the instruction will be stepped) or an errno. */
int _moj_dsm_ocap_fault(struct cseg *s, uint32_t pn, void *uc, const sigset_t *appmask) {
  ucontext_t *u = uc;
  struct cap *c = tl_cap;
  if (!c && !(c = tl_cap = calloc(1, sizeof *c))) return ENOMEM;
  if (c->phase) { /* the same instruction touches a second page */
    if (c->n == CAP_PAGES && !(c->pg[0].s == s && c->pg[0].pn == pn) && !(c->pg[1].s == s && c->pg[1].pn == pn)) return E2BIG;
    cap_add(c, s, pn);
    return 0;
  }
  if (!trap_installed) return ENOTSUP;
  c->n = 0;
  cap_add(c, s, pn);
  memcpy(c->g0, u->uc_mcontext.gregs, sizeof c->g0);
  c->g0[REG_EFL] |= TF;
  if (u->uc_mcontext.fpregs) c->fp0 = *u->uc_mcontext.fpregs;
  c->appmask = *appmask;
  u->uc_mcontext.gregs[REG_EFL] |= TF;
  /* nothing asynchronous may run between the steps (it could see the
   * complement); the faults the steps raise must stay deliverable */
  sigfillset(&u->uc_sigmask);
  sigdelset(&u->uc_sigmask, SIGTRAP);
  sigdelset(&u->uc_sigmask, SIGSEGV);
  sigdelset(&u->uc_sigmask, SIGBUS);
  c->phase = 1;
  return 0;
}
int _moj_dsm_ocap_active(void) { return tl_cap && tl_cap->phase; }
int _moj_dsm_ocap_sigaction(const struct sigaction *act, struct sigaction *old) {
  if (!trap_installed) return -1;
  struct sigaction prev = old_trap;
  if (act) old_trap = *act;
  if (old) *old = prev;
  return 0;
}
#else
int _moj_dsm_ocap_install(void) { return 0; }
int _moj_dsm_ocap_fault(struct cseg *s, uint32_t pn, void *uc, const sigset_t *appmask) {
  (void)s; (void)pn; (void)uc; (void)appmask;
  return ENOTSUP; /* no single-step trap flag to catch a store with (docs/speculative-dsm.md §7) */
}
int _moj_dsm_ocap_active(void) { return 0; }
int _moj_dsm_ocap_sigaction(const struct sigaction *act, struct sigaction *old) { (void)act; (void)old; return -1; }
#endif
