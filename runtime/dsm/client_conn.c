/* client_conn.c — connections to home daemons: the handshake, one
 * request/reply call (interruptible by signals via CANCEL), the reader thread
 * that dispatches replies and serves PAGE_FETCH, and reconnection with
 * re-registration when a home restarts. */
#include "client.h"

void _moj_dsm_fwait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static void fwake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0); }

/* Locks taken by application threads are held with all signals blocked: an
 * application signal handler that touches DSM memory would otherwise fault
 * into the runtime while this thread holds the lock, and deadlock on it.
 * Nothing done under these locks touches application memory. */
void _moj_dsm_lk(pthread_mutex_t *m, sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, old);
  pthread_mutex_lock(m);
}
void _moj_dsm_ulk(pthread_mutex_t *m, const sigset_t *old) {
  pthread_mutex_unlock(m);
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---------------- connections to homes ---------------- */
struct hconn _moj_dsm_homes[MOJ_MAX_HOSTS];
pthread_mutex_t _moj_dsm_conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t h_once = PTHREAD_ONCE_INIT;
static void h_init(void) {
  for (int i = 0; i < MOJ_MAX_HOSTS; i++) { _moj_dsm_homes[i].fd = -1; pthread_mutex_init(&_moj_dsm_homes[i].lock, NULL); pthread_mutex_init(&_moj_dsm_homes[i].rx, NULL); }
}


int _moj_dsm_send_locked(struct hconn *hc, uint16_t type, uint32_t seq, uint32_t aux, const void *p1, size_t l1,
                       const void *p2, size_t l2) {
  struct _moj_hdr h;
  _moj_hdr_init(&h, type, (uint32_t)(l1 + l2), seq, 0);
  h.aux = aux;
  struct iovec iov[3] = {{&h, sizeof h}, {(void *)p1, l1}, {(void *)p2, l2}};
  struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
  size_t total = sizeof h + l1 + l2;
  while (total) {
    long w = syscall(SYS_sendmsg, hc->fd, &mh, MSG_NOSIGNAL);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    total -= (size_t)w;
    while (w > 0 && mh.msg_iovlen) { /* advance past what the kernel took */
      if ((size_t)w >= mh.msg_iov[0].iov_len) { w -= (long)mh.msg_iov[0].iov_len; mh.msg_iov++; mh.msg_iovlen--; }
      else { mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + w; mh.msg_iov[0].iov_len -= (size_t)w; w = 0; }
    }
  }
  return 0;
}

/* Semaphore and queue requests carry a request id (proto.h): the home applies
 * each at most once, so after a home restart they are simply sent again. */
static int retryable(uint16_t t) {
  return t == MOJ_SEMGET || t == MOJ_SEMOP || t == MOJ_SEMCTL || t == MOJ_MSGGET || t == MOJ_MSGSND || t == MOJ_MSGRCV ||
         t == MOJ_MSGCTL;
}
__thread int _moj_dsm_tl_retried;
/* hosts this process sent semaphore/queue requests to: it reconnects to them
 * at once when they close (a call may be about to go out) */
static _Atomic uint8_t used_ipc[MOJ_MAX_HOSTS];
static void conn_fail(struct hconn *hc, int host, const char *why) {
  pthread_mutex_lock(&hc->lock);
  if (!hc->dead) _moj_dsm_warn("lost connection to home host %s: %s; pending calls fail with EIDRM, faults raise SIGBUS",
                       _moj_dsm_cluster.host[host].name, why);
  hc->dead = 1;
  for (struct pend *p = hc->pend; p; p = p->next) {
    p->status = EIDRM;
    atomic_store(&p->done, 1);
    fwake(&p->done);
    if (p->efd >= 0) { uint64_t one = 1; if (syscall(SYS_write, p->efd, &one, 8) < 0) {} }
  }
  hc->pend = NULL;
  pthread_mutex_unlock(&hc->lock);
}


static int hconnect(int host);
static int host_has_segs(int host) {
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  int any = 0;
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) any |= s->host == host;
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
  return any;
}
/* Reasons to reconnect at once when the home closes: attached segments,
 * calls in flight, semaphores or queues used there (a call may be on its way;
 * SEM_UNDO adjustments of a process that does not come back within 8 s are
 * applied by the restarted home as if it had exited). */
static int host_needs_recovery(struct hconn *hc, int host) {
  pthread_mutex_lock(&hc->lock);
  int any = hc->pend != NULL || atomic_load(&used_ipc[host]);
  pthread_mutex_unlock(&hc->lock);
  return any || host_has_segs(host);
}
/* The home closed the connection: it may be restarting (mojave-nsd --state
 * keeps segments, semaphore sets and queues).  Make page requests and
 * semaphore/queue calls in flight retry, reconnect for up to
 * MOJAVE_DSM_RECONNECT_MS and re-register every attachment with the pages we
 * hold, so nothing attached is lost. */
/* Requests sent on a connection that died will never be answered; caller holds hc->lock. */
static void fail_sent_locked(struct hconn *hc) {
  for (struct pend *p = hc->pend, *n; p; p = n) {
    n = p->next;
    p->status = p->type == MOJ_PAGE_REQ || retryable(p->type) ? MOJ_ERETRY : EIDRM;
    int efd = p->efd;
    atomic_store(&p->done, 1);
    fwake(&p->done);
    if (efd >= 0) { uint64_t one = 1; if (syscall(SYS_write, efd, &one, 8) < 0) {} }
  }
  hc->pend = NULL;
}
static int recover(struct hconn *hc, int host) {
  atomic_store(&hc->recovering, 1);
  pthread_mutex_lock(&hc->lock);
  fail_sent_locked(hc);
  pthread_mutex_unlock(&hc->lock);
  const char *e = getenv("MOJAVE_DSM_RECONNECT_MS");
  long budget = e ? strtol(e, NULL, 10) : 5000;
  _moj_dsm_warn("connection to home host %s lost; reconnecting for up to %ld ms", _moj_dsm_cluster.host[host].name, budget);
  int fd = -1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    fd = hconnect(host);
    if (fd >= 0) break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > budget) return 0;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  pthread_mutex_lock(&hc->lock);
  /* a request written into the dead socket before the peer's reset arrived is
   * still listed: it will never be answered, so it is repeated too */
  fail_sent_locked(hc);
  close(hc->fd);
  hc->fd = fd;
  const size_t rec = 8 + MOJ_PAGE, chunk = 200;
  uint8_t *buf = malloc(chunk * rec);
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) {
    if (s->host != host) continue;
    struct _moj_reattach q = {s->id, (uint32_t)s->nviews, _moj_dsm_cred()};
    size_t n = 0;
    for (uint32_t pn = 0; pn <= s->npages; pn++) {
      int last = pn == s->npages;
      if (!last && s->acc[pn] != MOJ_ACC_NONE) {
        uint32_t acc = s->acc[pn] == ACC_CLEAN ? MOJ_ACC_WRITE : s->acc[pn];
        memcpy(buf + n * rec, &pn, 4);
        memcpy(buf + n * rec + 4, &acc, 4);
        memcpy(buf + n * rec + 8, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
        n++;
      }
      if (n == chunk || last) {
        _moj_dsm_send_locked(hc, MOJ_REATTACH, 0, last ? 0 : 1, &q, sizeof q, buf, n * rec);
        n = 0;
      }
    }
  }
  free(buf);
  pthread_mutex_unlock(&hc->lock);
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
  atomic_store(&hc->recovering, 0);
  _moj_dsm_warn("reconnected to home host %s; attachments re-registered", _moj_dsm_cluster.host[host].name);
  return 1;
}
/* The restarted home does not know this segment: nothing can be fetched any more. */
static void orphan_seg(int id) {
  pthread_mutex_lock(&_moj_dsm_seg_lock);
  struct cseg *s = _moj_dsm_seg_by_id(id);
  if (s) {
    s->orphan = 1;
    _moj_dsm_warn("segment 0x%x is gone after its home restarted; accesses to pages not held here raise SIGBUS", id);
  }
  pthread_mutex_unlock(&_moj_dsm_seg_lock);
}

/* Read and handle one message; caller holds hc->rx.  Returns 1 when the
 * connection is finished (the reader thread then exits), 0 otherwise.  Only
 * the reader thread (may_recover) handles a broken connection: a faulting
 * thread that meets one gives rx back and waits like any other. */
static int rx_one(struct hconn *hc, int host, int may_recover) {
  uint8_t *buf = hc->rxbuf;
  struct _moj_hdr h;
  if (_moj_read_full(hc->fd, &h, sizeof h)) {
    int e = errno;
    if (!may_recover) return -1;
    if ((e == EPIPE || e == ECONNRESET) && host_needs_recovery(hc, host) && recover(hc, host)) return 0;
    conn_fail(hc, host, e == EPIPE ? "closed by peer" : strerror(e));
    return 1;
  }
  const char *bad = _moj_hdr_check(&h);
  if (bad) { conn_fail(hc, host, bad); return 1; }
  if (_moj_read_full(hc->fd, buf, h.len)) { conn_fail(hc, host, "truncated message"); return 1; }
  if (h.type == MOJ_PAGE_FETCH) { _moj_dsm_serve_fetch(hc, &h, buf); return 0; }
  if (h.type == MOJ_ERROR) {
    _moj_dsm_warn("home %s reports: %.*s", _moj_dsm_cluster.host[host].name, (int)(h.len > 200 ? 200 : h.len), (char *)buf);
    return 0;
  }
  if (h.type == (MOJ_PAGE_REQ | MOJ_REPLY) && _moj_dsm_install_page(&h, buf)) { conn_fail(hc, host, "corrupt compressed page"); return 1; }
  if (h.type == (MOJ_REATTACH | MOJ_REPLY) && h.seq == 0) { /* from recover(): nobody waits */
    int32_t id;
    if (h.status && h.len >= 4) { memcpy(&id, buf, 4); orphan_seg(id); }
    return 0;
  }
  pthread_mutex_lock(&hc->lock);
  struct pend **pp = &hc->pend;
  while (*pp && (*pp)->seq != h.seq) pp = &(*pp)->next;
  struct pend *p = *pp;
  if (p) {
    *pp = p->next;
    p->status = h.status;
    p->len = h.len;
    if (p->buf) memcpy(p->buf, buf, h.len < p->cap ? h.len : p->cap);
    int efd = p->efd;
    atomic_store(&p->done, 1);
    fwake(&p->done);
    if (efd >= 0) { uint64_t one = 1; if (syscall(SYS_write, efd, &one, 8) < 0) {} }
  }
  pthread_mutex_unlock(&hc->lock);
  return 0;
}
static int readable_now(int fd) {
  struct pollfd pf = {fd, POLLIN, 0};
  return syscall(SYS_poll, &pf, 1, 0) > 0;
}
static void *reader_main(void *arg) {
  int host = (int)(intptr_t)arg;
  struct hconn *hc = &_moj_dsm_homes[host];
  for (int done = 0; !done;) {
    struct pollfd pf = {hc->fd, POLLIN, 0};
    if (syscall(SYS_poll, &pf, 1, -1) < 0) continue; /* EINTR */
    for (uint32_t v; (v = atomic_load(&hc->self_rd)) != 0;) _moj_dsm_fwait(&hc->self_rd, v);
    pthread_mutex_lock(&hc->rx);
    /* a faulting thread may have taken the message meanwhile */
    if (readable_now(hc->fd)) done = rx_one(hc, host, 1);
    pthread_mutex_unlock(&hc->rx);
  }
  return NULL;
}

static int hconnect(int host) {
  const struct _moj_host *hh = &_moj_dsm_cluster.host[host];
  int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  _moj_sock_liveness(fd);
  /* Source address = our host's address, so the home sees which host we are. */
  struct sockaddr_in me = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, _moj_dsm_cluster.host[_moj_dsm_self_host].addr, &me.sin_addr) == 1) bind(fd, (struct sockaddr *)&me, sizeof me);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hh->port)};
  inet_pton(AF_INET, hh->addr, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    _moj_dsm_warn("cannot reach home host %s at %s:%u: %s", hh->name, hh->addr, hh->port, strerror(errno));
    close(fd);
    return -1;
  }
  int auth = _moj_auth_client(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, _moj_dsm_cluster.secret, _moj_dsm_cluster.secret_len, _moj_dsm_cluster.host[_moj_dsm_self_host].name);
  if (auth) {
    if (auth == MOJ_AUTH_BAD_GREETING) _moj_dsm_warn("home host %s: bad greeting", hh->name);
    else if (auth == MOJ_AUTH_REFUSED) _moj_dsm_warn("home host %s refused authentication (wrong cluster secret?)", hh->name);
    else _moj_dsm_warn("home host %s failed to prove it knows the cluster secret", hh->name);
    close(fd);
    return -1;
  }
  tv.tv_sec = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

/* Start a connection's reader thread.  Inside libmojave, pthread_create is the
 * runtime's wrapper (runtime/threads.c), which counts application threads:
 * speculation (ENOTSUP) and migration (EBUSY) refuse while any run.  The
 * reader is the runtime's own and never touches application memory, so it is
 * started with the next pthread_create (libc's) and is not counted. */
static int reader_create(pthread_t *t, int host) {
#ifdef MOJ_IN_RUNTIME
  static int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
  if (!real_create) real_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT, "pthread_create");
  if (real_create) return real_create(t, NULL, reader_main, (void *)(intptr_t)host);
#endif
  return pthread_create(t, NULL, reader_main, (void *)(intptr_t)host);
}

struct hconn *_moj_dsm_hget(int host) {
  pthread_once(&h_once, h_init);
  struct hconn *hc = &_moj_dsm_homes[host];
  if (hc->fd >= 0 && !hc->dead) return hc;
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_conn_lock, &om);
  if (hc->fd < 0 || hc->dead) {
    if (hc->fd >= 0) { /* reconnect after a loss: the old reader has exited */
      pthread_join(hc->reader, NULL);
      close(hc->fd);
      hc->fd = -1;
    }
    int fd = hconnect(host);
    if (fd >= 0 && !hc->rxbuf) hc->rxbuf = malloc(MOJ_MAX_PAYLOAD);
    if (fd >= 0 && !hc->rxbuf) { close(fd); fd = -1; }
    if (fd >= 0) {
      hc->fd = fd;
      hc->dead = 0;
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old); /* the reader must never run app signal handlers */
      reader_create(&hc->reader, host);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
  }
  _moj_dsm_ulk(&_moj_dsm_conn_lock, &om);
  return hc->fd >= 0 && !hc->dead ? hc : NULL;
}

/* Per-thread eventfd a waiter polls; a fork()ed child gets a new one, since
 * the inherited descriptor is the same object as the parent's. */
__thread int _moj_dsm_tl_efd = -1;
/* One request/reply exchange.  With interruptible != 0 a signal during the
 * wait sends CANCEL and the _moj_dsm_call then returns whatever the home decided
 * (EINTR if it cancelled, the real result if it had already completed). */
/* A retryable call met a broken connection: wait for the reader thread's
 * recovery to finish (bounded; the reconnect budget plus slack).  With
 * unsent = 1 the reader may not have noticed the break yet. */
static void await_recovery(struct hconn *hc, int unsent) {
  const char *e = getenv("MOJAVE_DSM_RECONNECT_MS");
  long rounds = (e ? strtol(e, NULL, 10) : 5000) / 10 + 500;
  struct timespec ts = {0, 10 * 1000 * 1000};
  for (int i = 0; unsent && i < 200 && !atomic_load(&hc->recovering) && !hc->dead; i++) nanosleep(&ts, NULL);
  for (long i = 0; i < rounds && atomic_load(&hc->recovering) && !hc->dead; i++) nanosleep(&ts, NULL);
}
int _moj_dsm_call(int host, uint16_t type, const void *p1, size_t l1, const void *p2, size_t l2, void *rbuf,
                size_t rcap, size_t *rlen, int interruptible) {
  int tries = 0;
  _moj_dsm_tl_retried = 0;
  if (retryable(type) && !atomic_load_explicit(&used_ipc[host], memory_order_relaxed)) atomic_store(&used_ipc[host], 1);
again:;
  struct hconn *hc = _moj_dsm_hget(host);
  if (!hc) return EIDRM;
  static int sr_env = -1; /* MOJAVE_DSM_SELF_READ=0: faults wait for the reader thread (for comparisons) */
  if (sr_env < 0) sr_env = !getenv("MOJAVE_DSM_SELF_READ") || atoi(getenv("MOJAVE_DSM_SELF_READ"));
  int self_read = interruptible == CALL_FAULT && sr_env;
  _moj_net_inject();
  /* Interruptible waits poll an eventfd: poll() always fails with EINTR on a
   * signal, even under SA_RESTART — exactly semop's rule — while a futex wait
   * would be restarted silently. */
  if ((interruptible || self_read) && _moj_dsm_tl_efd < 0) _moj_dsm_tl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  /* a fault polls its eventfd too: the reader thread may deliver its reply */
  if (self_read) interruptible = 0;
  struct pend p = {.seq = atomic_fetch_add(&hc->seq, 1) + 1, .type = type, .buf = rbuf, .cap = rcap,
                   .efd = (interruptible || self_read) ? _moj_dsm_tl_efd : -1};
  sigset_t om;
  _moj_dsm_lk(&hc->lock, &om);
  if (hc->dead) { _moj_dsm_ulk(&hc->lock, &om); return EIDRM; }
  p.next = hc->pend;
  hc->pend = &p;
  if (_moj_dsm_send_locked(hc, type, p.seq, 0, p1, l1, p2, l2)) {
    hc->pend = p.next; /* we are still at the head: the list is only changed under lock */
    _moj_dsm_ulk(&hc->lock, &om);
    if (!retryable(type) || ++tries > 50) return EIDRM;
    await_recovery(hc, 1);
    _moj_dsm_tl_retried = 1;
    goto again;
  }
  _moj_dsm_ulk(&hc->lock, &om);
  int cancelled = 0;
  /* A reply usually comes within a few tens of microseconds: spinning briefly
   * saves a sleep/wake pair on the critical path (MOJAVE_DSM_SPIN_US, 0 = off). */
  if (_moj_dsm_spin_us > 0) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; !atomic_load_explicit(&p.done, memory_order_acquire); i++) {
      __builtin_ia32_pause();
      if ((i & 63) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000 > _moj_dsm_spin_us) break;
      }
    }
  }
  /* A fault reads its own reply when nobody else is reading: poll with
   * signals enabled, then take rx with them blocked (a handler touching DSM
   * memory must not fault into a thread that holds rx) and read what came. */
  if (self_read && p.efd >= 0) atomic_fetch_add(&hc->self_rd, 1);
  while (self_read && p.efd >= 0 && !atomic_load(&p.done)) {
    struct pollfd pf[2] = {{hc->fd, POLLIN, 0}, {p.efd, POLLIN, 0}};
    if (syscall(SYS_poll, pf, 2, -1) < 0) continue;
    if (pf[1].revents) { uint64_t v; if (syscall(SYS_read, p.efd, &v, 8) < 0) {} }
    if (atomic_load(&p.done)) break;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int got = pthread_mutex_trylock(&hc->rx) == 0;
    int r = 0;
    if (got) {
      if (!atomic_load(&p.done) && readable_now(hc->fd)) r = rx_one(hc, (int)(hc - _moj_dsm_homes), 0);
      pthread_mutex_unlock(&hc->rx);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) break; /* broken connection: the reader thread handles it; wait */
  }
  if (self_read && p.efd >= 0 && atomic_fetch_sub(&hc->self_rd, 1) == 1) fwake(&hc->self_rd);
  while (!atomic_load(&p.done)) {
    long r;
    if (p.efd >= 0) {
      struct pollfd pf = {p.efd, POLLIN, 0};
      r = syscall(SYS_poll, &pf, 1, -1);
      if (r > 0) { uint64_t v; if (syscall(SYS_read, p.efd, &v, 8) < 0) {} }
    } else {
      r = syscall(SYS_futex, &p.done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    }
    if (r < 0 && errno == EINTR && interruptible && !cancelled) {
      cancelled = 1;
      _moj_dsm_lk(&hc->lock, &om);
      if (!hc->dead && !atomic_load(&p.done)) _moj_dsm_send_locked(hc, MOJ_CANCEL, 0, p.seq, NULL, 0, NULL, 0);
      _moj_dsm_ulk(&hc->lock, &om);
    }
  }
  if (p.status == MOJ_ERETRY && retryable(type) && ++tries <= 50) { /* the home restarted: same request, same rid */
    await_recovery(hc, 0);
    _moj_dsm_tl_retried = 1;
    goto again;
  }
  if (p.status == MOJ_ERETRY && type != MOJ_PAGE_REQ) return EIDRM;
  if (rlen) *rlen = p.len;
  return p.status;
}

struct _moj_cred _moj_dsm_cred(void) { return (struct _moj_cred){(uint32_t)geteuid(), (uint32_t)getegid(), (uint32_t)getpid()}; }
int _moj_dsm_fail(int e) { errno = e; return -1; }
