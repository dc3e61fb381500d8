/* client_conn.c — connections to home daemons: the handshake, one
 * request/reply call (interruptible by signals via CANCEL), the reader thread
 * that dispatches replies and serves PAGE_FETCH, and reconnection with
 * re-registration when a home restarts. */
#include "client.h"

void _moj_dsm_fwait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static void fwake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0); }
/* poll past the interposers, as ppoll: aarch64 has no poll system call. */
static long sys_poll(struct pollfd *pf, int n, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
  return syscall(SYS_ppoll, pf, n, timeout_ms < 0 ? NULL : &ts, NULL, _NSIG / 8);
}

/* Locks taken by application threads are held with all signals blocked: an
 * application signal handler that touches DSM memory would otherwise fault
 * into the runtime while this thread holds the lock, and deadlock on it.
 * Nothing done under these locks touches application memory.  A thread that
 * already runs with everything blocked (the fault handler, a call between its
 * send and its wait) skips the two sigprocmask calls. */
__thread int _moj_dsm_tl_blocked;
__thread sigset_t _moj_dsm_tl_appmask;
void _moj_dsm_lk(pthread_mutex_t *m, sigset_t *old) {
  if (!_moj_dsm_tl_blocked) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
  }
  pthread_mutex_lock(m);
}
void _moj_dsm_ulk(pthread_mutex_t *m, const sigset_t *old) {
  pthread_mutex_unlock(m);
  if (!_moj_dsm_tl_blocked) pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---------------- connections to homes ---------------- */
MOJ_DSM_VAR struct hconn _moj_dsm_homes[MOJ_MAX_HOSTS];
MOJ_DSM_VAR pthread_mutex_t _moj_dsm_conn_lock = PTHREAD_MUTEX_INITIALIZER;
static MOJ_DSM_VAR pthread_once_t h_once = PTHREAD_ONCE_INIT;
static void h_init(void) {
  for (int i = 0; i < MOJ_MAX_HOSTS; i++) { _moj_dsm_homes[i].fd = -1; pthread_mutex_init(&_moj_dsm_homes[i].lock, NULL); pthread_mutex_init(&_moj_dsm_homes[i].rx, NULL); }
}


/* Write one frame (header + two payload pieces) with one sendmsg; caller holds
 * hc->lock.  Every message to a home leaves through here. */
int _moj_dsm_send_locked(struct hconn *hc, uint16_t type, uint32_t seq, uint32_t aux, const void *p1, size_t l1,
                       const void *p2, size_t l2) {
  if (hc->ch.tx.alg) return _moj_chan_send(hc->fd, &hc->ch.tx, hc->txbuf, type, seq, 0, aux, p1, l1, p2, l2);
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
static MOJ_DSM_VAR _Atomic uint8_t used_ipc[MOJ_MAX_HOSTS];
/* The connection is gone for good: calls pending on it, and later ones until
 * a reconnect succeeds, fail with a connection errno (err: ECONNRESET,
 * ETIMEDOUT, ...) — not EIDRM, which would claim the object was removed. */
static void conn_fail(struct hconn *hc, int host, const char *why, int err) {
  pthread_mutex_lock(&hc->lock);
  if (!hc->dead) _moj_dsm_warn("lost connection to home host %s: %s; pending calls fail with %s, faults raise SIGBUS",
                       _moj_dsm_cluster.host[host].name, why, strerrorname_np(err));
  hc->dead = 1;
  atomic_store(&hc->err, err);
  for (struct pend *p = hc->pend, *n; p; p = n) {
    n = p->next;
    void (*od)(struct pend *) = p->on_done;
    p->status = err;
    atomic_store(&p->done, 1);
    if (od) od(p);
    fwake(&p->done);
    if (p->efd >= 0) { uint64_t one = 1; if (syscall(SYS_write, p->efd, &one, 8) < 0) {} }
  }
  hc->pend = NULL;
  pthread_mutex_unlock(&hc->lock);
}


static int hconnect(int host, struct _moj_chan *ch);
/* A new connection's session keys take over from the last one's (caller
 * holds lock and rx, or no reader runs yet). */
static int chan_install(struct hconn *hc, struct _moj_chan *ch) {
  if (ch->tx.alg && !hc->txbuf && !(hc->txbuf = malloc(24 + MOJ_MAX_FRAME))) { _moj_chan_free(ch); return -1; }
  _moj_chan_free(&hc->ch);
  hc->ch = *ch;
  return 0;
}
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
    p->status = p->type == MOJ_PAGE_REQ || retryable(p->type) ? MOJ_ERETRY : ECONNRESET;
    int efd = p->efd;
    void (*od)(struct pend *) = p->on_done;
    atomic_store(&p->done, 1);
    if (od) od(p);
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
  struct _moj_chan ch = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    fd = hconnect(host, &ch);
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
  if (chan_install(hc, &ch)) { close(fd); fd = -1; } /* no memory: the sends below fail, the next read ends it */
  hc->fd = fd;
  const size_t rec = 8 + MOJ_PAGE, chunk = 200;
  uint8_t *buf = malloc(chunk * rec);
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) {
    if (s->host != host) continue;
    if (!buf) { /* cannot re-register what we hold: the home must not wait for us */
      _moj_dsm_warn("out of memory re-registering segment 0x%x after a home restart; its pages raise SIGBUS", s->id);
      s->orphan = 1;
      continue;
    }
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
  uint32_t missed = _moj_log_rl_flush(&hc->rl);
  _moj_dsm_warn("reconnected to home host %s; attachments re-registered%s", _moj_dsm_cluster.host[host].name,
                missed ? " (later connection attempts failed the same way)" : "");
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

/* Read one frame if one has begun to arrive: 1 = header in *h and payload in
 * hc->rxbuf, 2 = a page grant whose pages are already installed (its
 * struct _moj_page in hc->rxbuf), 0 = nothing to read (another rx holder took it), -1 = broken
 * connection (errno).  Caller holds hc->rx.  Every message from a home comes
 * in through here.  The header is tried without blocking — that try replaces
 * a poll() per message — and the rest of a frame that has begun is awaited. */
static int frame_read(struct hconn *hc, struct _moj_hdr *h, const char **bad) {
  long r;
  do r = syscall(SYS_recvfrom, hc->fd, h, sizeof *h, MSG_DONTWAIT, NULL, NULL); while (r < 0 && errno == EINTR);
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  if (r == 0) { errno = EPIPE; return -1; }
  if ((size_t)r < sizeof *h && _moj_read_full(hc->fd, (char *)h + r, sizeof *h - (size_t)r)) return -1;
  if ((*bad = _moj_frame_check(&hc->ch.rx, h))) return 1; /* the caller reports it */
  size_t got = 0;
  if (h->type == (MOJ_PAGE_REQ | MOJ_REPLY) && !hc->ch.rx.alg && h->len > sizeof(struct _moj_page)) {
    /* a page grant: its pages may go straight to their place */
    got = sizeof(struct _moj_page);
    if (_moj_read_full(hc->fd, hc->rxbuf, got)) { if (errno != EPIPE) errno = EPIPE; return -1; }
    struct _moj_page q;
    memcpy(&q, hc->rxbuf, sizeof q);
    int r = _moj_dsm_recv_pages(hc->fd, h, &q);
    if (r) return r < 0 ? -1 : 2;
  }
  if (_moj_read_full(hc->fd, hc->rxbuf + got, h->len - got)) { if (errno != EPIPE) errno = EPIPE; return -1; }
  return 1;
}

/* Read and handle one message if one is there; caller holds hc->rx.  Returns
 * 1 when the connection is finished (the reader thread then exits), 0
 * otherwise.  Only the reader thread (may_recover) handles a broken
 * connection: a calling thread that meets one gives rx back and waits like
 * any other. */
static __thread int64_t tl_woke; /* MOJAVE_DSM_TRACE: when this thread's poll saw the reply */
static int rx_one(struct hconn *hc, int host, int may_recover) {
  const uint8_t *buf = hc->rxbuf;
  int64_t t_read = 0, t_inst = 0;
  struct _moj_hdr h;
  const char *bad = NULL;
  int fr = frame_read(hc, &h, &bad);
  if (fr == 0) return 0;
  if (fr < 0) {
    int e = errno;
    if (!may_recover) return -1;
    if ((e == EPIPE || e == ECONNRESET) && host_needs_recovery(hc, host) && recover(hc, host)) return 0;
    conn_fail(hc, host, e == EPIPE ? "closed by peer" : strerror(e), e == EPIPE || !e ? ECONNRESET : e);
    return 1;
  }
  if (bad) { conn_fail(hc, host, bad, EPROTO); return 1; }
  if (_moj_dsm_trace_on) t_read = _moj_dsm_now();
  if ((bad = _moj_frame_open(&hc->ch.rx, &h, hc->rxbuf, &buf))) { conn_fail(hc, host, bad, EPROTO); return 1; }
  if (h.type == MOJ_PAGE_FETCH) { _moj_dsm_serve_fetch(hc, &h, buf); return 0; }
  if (h.type == MOJ_ERROR) {
    _moj_dsm_warn("home %s reports: %.*s", _moj_dsm_cluster.host[host].name, (int)(h.len > 200 ? 200 : h.len), (const char *)buf);
    return 0;
  }
  if (h.type == (MOJ_PAGE_REQ | MOJ_REPLY) && fr != 2) {
    if (_moj_dsm_install_page(&h, buf)) { conn_fail(hc, host, "corrupt compressed page", EPROTO); return 1; }
    if (_moj_dsm_trace_on) t_inst = _moj_dsm_now();
  }
  if (h.type == (MOJ_REATTACH | MOJ_REPLY) && h.seq == 0) { /* from recover(): nobody waits */
    int32_t id;
    if (h.status && h.len >= 4) { memcpy(&id, buf, 4); orphan_seg(id); }
    return 0;
  }
  pthread_mutex_lock(&hc->lock);
  struct pend **pp = &hc->pend;
  while (*pp && (*pp)->seq != h.seq) pp = &(*pp)->next;
  struct pend *p = *pp;
  if (p && p->keep_queued && h.status == MOJ_EQUEUED) { /* provisional: the real reply follows */
    atomic_store(&p->queued, 1);
    if (p->on_done) p->on_done(p);
    pthread_mutex_unlock(&hc->lock);
    return 0;
  }
  if (p) {
    *pp = p->next;
    p->status = h.status;
    p->len = h.len;
    if (p->buf) memcpy(p->buf, buf, h.len < p->cap ? h.len : p->cap);
    if (p->tr >= 0) {
      _moj_dsm_tr_set(p->tr, TR_WOKE, tl_woke);
      _moj_dsm_tr_set(p->tr, TR_READ, t_read);
      _moj_dsm_tr_set(p->tr, TR_INST, t_inst);
      _moj_dsm_tr_set(p->tr, TR_WAKE, _moj_dsm_now());
    }
    int efd = p->efd;
    void (*od)(struct pend *) = p->on_done;
    atomic_store(&p->done, 1);
    if (od) od(p);
    /* the waiter polls its eventfd, or sleeps on done; when the waiter
     * itself is reading, it sees done on return and needs neither */
    if (efd < 0) fwake(&p->done);
    else if (efd != _moj_dsm_tl_efd) { uint64_t one = 1; if (syscall(SYS_write, efd, &one, 8) < 0) {} }
  }
  pthread_mutex_unlock(&hc->lock);
  return 0;
}
/* The reader thread serves what arrives while no call is waiting: PAGE_FETCH
 * from the home, replies of calls made from signal handlers.  While calling
 * threads read for themselves (self_rd > 0) it stands aside.  It does not
 * wait for a wake-up when they are done: waking it cost the calling thread
 * ~4 us (a futex wake, an IPI to the other core) on every fault.  Instead it
 * naps READER_NAP_US at a time and returns to the socket after a nap without
 * any call: back-to-back faults never wake it, and a message nobody waits
 * for is read at most one nap late.  Only a single call that outlasts
 * two naps (a large read-ahead batch, a blocked semop) gets a real sleep,
 * and a wake-up from the caller when it ends (rd_parked): naps would cost
 * more there. */
#define READER_NAP_US 200
static void reader_stand_aside(struct hconn *hc) {
  uint32_t gen = atomic_load(&hc->seq);
  for (int same = 0;;) {
    struct timespec nap = {0, READER_NAP_US * 1000};
    nanosleep(&nap, NULL);
    uint32_t g = atomic_load(&hc->seq), n = atomic_load(&hc->self_rd);
    if (!n && g == gen) return; /* a whole nap without calls */
    same = g == gen ? same + 1 : 0;
    gen = g;
    if (n && same >= 2) { /* one call waits long (a big batch, a blocked semop): sleep until it ends */
      atomic_store(&hc->rd_parked, 1); /* seq_cst, paired with the caller's decrement then load */
      for (uint32_t v; (v = atomic_load(&hc->self_rd)) != 0;) _moj_dsm_fwait(&hc->self_rd, v);
      atomic_store(&hc->rd_parked, 0);
      same = 0;
      gen = atomic_load(&hc->seq);
    }
  }
}
static void *reader_main(void *arg) {
  int host = (int)(intptr_t)arg;
  struct hconn *hc = &_moj_dsm_homes[host];
  for (int done = 0; !done;) {
    struct pollfd pf = {hc->fd, POLLIN, 0};
    if (sys_poll(&pf, 1, -1) < 0) continue; /* EINTR */
    if (_moj_dsm_trace_on) tl_woke = _moj_dsm_now();
    /* a broken connection is the reader's to handle, callers or not */
    if (atomic_load(&hc->self_rd) && !(pf.revents & (POLLHUP | POLLERR))) reader_stand_aside(hc);
    pthread_mutex_lock(&hc->rx);
    done = rx_one(hc, host, 1); /* nothing happens if a caller took the message meanwhile */
    pthread_mutex_unlock(&hc->rx);
  }
  return NULL;
}

static int hconnect(int host, struct _moj_chan *ch) {
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
  struct hconn *hc = &_moj_dsm_homes[host];
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    int e = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;
    atomic_store(&hc->err, e);
    uint32_t dropped;
    if (_moj_ratelimit_pass(&hc->rl, 1, 10000, &dropped))
      _moj_dsm_warn("cannot reach home host %s at %s:%u: %s%s", hh->name, hh->addr, hh->port, strerror(e),
                    dropped ? " (again; earlier attempts failed too)" : "");
    close(fd);
    return -1;
  }
  int auth = _moj_auth_client_ch(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, _moj_dsm_cluster.secret, _moj_dsm_cluster.secret_len,
                                 _moj_dsm_cluster.host[_moj_dsm_self_host].name, _moj_dsm_cluster.encrypt, ch);
  if (auth) {
    if (auth == MOJ_AUTH_BAD_GREETING) _moj_dsm_warn("home host %s: bad greeting", hh->name);
    else if (auth == MOJ_AUTH_CIPHER)
      _moj_dsm_warn("home host %s says 'encrypt %s', our cluster file 'encrypt %s': the files differ", hh->name,
                    _moj_aead_name(ch->peer_alg), _moj_aead_name(_moj_dsm_cluster.encrypt));
    else if (auth == MOJ_AUTH_KEYS) _moj_dsm_warn("home host %s: cannot derive session keys (libcrypto)", hh->name);
    else if (auth == MOJ_AUTH_REFUSED) _moj_dsm_warn("home host %s refused authentication (wrong cluster secret?)", hh->name);
    else _moj_dsm_warn("home host %s failed to prove it knows the cluster secret", hh->name);
    atomic_store(&hc->err, auth == MOJ_AUTH_BAD_GREETING ? EPROTO : EACCES);
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
  static MOJ_DSM_VAR int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
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
    struct _moj_chan ch = {0};
    int fd = hconnect(host, &ch);
    if (fd >= 0 && !hc->rxbuf) hc->rxbuf = malloc(MOJ_MAX_FRAME);
    if (fd >= 0 && (!hc->rxbuf || chan_install(hc, &ch))) { _moj_chan_free(&ch); close(fd); fd = -1; }
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

/* A calling thread stops reading for itself; the last one wakes the reader
 * thread if it went to sleep (rather than napping) meanwhile. */
static void self_read_leave(struct hconn *hc) {
  if (atomic_fetch_sub(&hc->self_rd, 1) == 1 && atomic_load(&hc->rd_parked)) fwake(&hc->self_rd);
}
/* A thread waiting for a reply it did not wait for in a call (a speculative
 * lock's, client_speclock.c) reads the connection itself, as callers do:
 * the reader thread naps while calls come and go, so the reply would sit
 * up to a nap or two.  Between enter and leave the reader stands aside;
 * pump reads at most one message, waiting up to timeout_ms for it: 0, or -1
 * when the connection broke (the reader thread handles that). */
void _moj_dsm_self_read_enter(int host) { atomic_fetch_add(&_moj_dsm_homes[host].self_rd, 1); }
void _moj_dsm_self_read_leave(int host) { self_read_leave(&_moj_dsm_homes[host]); }
int _moj_dsm_pump(int host, int timeout_ms) {
  struct hconn *hc = &_moj_dsm_homes[host];
  struct pollfd pf = {hc->fd, POLLIN, 0};
  if (hc->fd < 0 || sys_poll(&pf, 1, timeout_ms) <= 0 || pthread_mutex_trylock(&hc->rx)) return 0;
  int broken = rx_one(hc, host, 0);
  pthread_mutex_unlock(&hc->rx);
  return broken ? -1 : 0;
}
/* Per-thread eventfd a waiter polls; a fork()ed child gets a new one, since
 * the inherited descriptor is the same object as the parent's. */
__thread int _moj_dsm_tl_efd = -1;
static __thread int tl_spin_score = 8; /* replies caught while spinning lately (0..16) */
static __thread unsigned tl_spin_probe;
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
/* One request/reply exchange.  With interruptible != 0 a signal during the
 * wait sends CANCEL and the _moj_dsm_call then returns whatever the home decided
 * (EINTR if it cancelled, the real result if it had already completed).
 *
 * The calling thread reads its own reply from the socket (and whatever
 * arrives before it: other threads' replies, PAGE_FETCH), so the reply costs
 * one wake-up of the thread that needs it and no hand-off from the reader
 * thread.  Signals stay blocked from the send to the end, except inside the
 * wait: ppoll() runs it with the application's mask, so a handler runs there
 * (and may itself fault: it finds rx free) and interrupts the wait with EINTR
 * even under SA_RESTART — exactly semop's rule.  The fault handler enters
 * with everything blocked already (_moj_dsm_tl_blocked) and its sigreturn
 * restores the application's mask: a fault costs one sigprocmask. */
/* Send a request and return without waiting: the reply completes the heap
 * record (done, status) and calls on_done.  NULL with errno when it could
 * not be sent.  Used by speculative lock acquisition. */
struct pend *_moj_dsm_call_async(int host, uint16_t type, uint32_t aux, const void *p1, size_t l1, const void *p2,
                                 size_t l2, void (*on_done)(struct pend *)) {
  struct hconn *hc = _moj_dsm_hget(host);
  if (!hc) { errno = EHOSTUNREACH; return NULL; }
  struct pend *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->type = type; p->efd = -1; p->tr = -1; p->keep_queued = 1; p->on_done = on_done;
  sigset_t om;
  _moj_dsm_lk(&hc->lock, &om);
  if (hc->dead) { _moj_dsm_ulk(&hc->lock, &om); free(p); errno = atomic_load(&hc->err) ? atomic_load(&hc->err) : ECONNRESET; return NULL; }
  p->seq = atomic_fetch_add(&hc->seq, 1) + 1;
  p->next = hc->pend;
  hc->pend = p;
  if (_moj_dsm_send_locked(hc, type, p->seq, aux, p1, l1, p2, l2)) {
    hc->pend = p->next;
    _moj_dsm_ulk(&hc->lock, &om);
    free(p);
    errno = ECONNRESET;
    return NULL;
  }
  _moj_dsm_ulk(&hc->lock, &om);
  return p;
}
static int call_once(int host, uint16_t type, const void *p1, size_t l1, const void *p2, size_t l2, void *rbuf,
                     size_t rcap, size_t *rlen, int interruptible) {
  int tries = 0;
  /* a call made inside a lock speculation waits for its outcome first: its
   * effects must not escape a level that may roll back */
  if (type != MOJ_PAGE_REQ) _moj_dsm_speclock_settle();
  _moj_dsm_tl_retried = 0;
  if (retryable(type) && !atomic_load_explicit(&used_ipc[host], memory_order_relaxed)) atomic_store(&used_ipc[host], 1);
again:;
  struct hconn *hc = _moj_dsm_hget(host);
  if (!hc) { int e = atomic_load(&_moj_dsm_homes[host].err); return e ? e : EHOSTUNREACH; }
  static MOJ_DSM_VAR int sr_env = -1; /* MOJAVE_DSM_SELF_READ=0: calls wait for the reader thread (for comparisons) */
  if (sr_env < 0) sr_env = !getenv("MOJAVE_DSM_SELF_READ") || atoi(getenv("MOJAVE_DSM_SELF_READ"));
  int self_read = sr_env;
  if (interruptible == CALL_FAULT) interruptible = 0;
  _moj_net_inject();
  if (_moj_dsm_tl_efd < 0) _moj_dsm_tl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (_moj_dsm_tl_efd < 0) self_read = 0; /* no eventfd: futex wait for the reader thread */
  struct pend p = {.seq = atomic_fetch_add(&hc->seq, 1) + 1, .type = type, .buf = rbuf, .cap = rcap,
                   .efd = _moj_dsm_tl_efd, .tr = -1};
  if (_moj_dsm_trace_on) {
    p.tr = _moj_dsm_tl_tr = _moj_dsm_tr_slot(type);
    _moj_dsm_tr_set(p.tr, TR_ENTRY, _moj_dsm_tl_entry ? _moj_dsm_tl_entry : _moj_dsm_now());
    _moj_dsm_tl_entry = 0;
  }
  int own_mask = !_moj_dsm_tl_blocked;
  sigset_t appmask;
  if (own_mask) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &appmask);
    _moj_dsm_tl_blocked = 1;
  } else {
    appmask = _moj_dsm_tl_appmask;
  }
  pthread_mutex_lock(&hc->lock);
  if (hc->dead) {
    pthread_mutex_unlock(&hc->lock);
    if (own_mask) { _moj_dsm_tl_blocked = 0; pthread_sigmask(SIG_SETMASK, &appmask, NULL); }
    int e = atomic_load(&hc->err);
    return e ? e : ECONNRESET;
  }
  p.next = hc->pend;
  hc->pend = &p;
  /* announced before the send: the reader thread must not take the reply */
  if (self_read) atomic_fetch_add(&hc->self_rd, 1);
  int sent = _moj_dsm_send_locked(hc, type, p.seq, 0, p1, l1, p2, l2) == 0;
  if (!sent) hc->pend = p.next; /* we are still at the head: the list is only changed under lock */
  pthread_mutex_unlock(&hc->lock);
  if (!sent && retryable(type) && tries < 50) { /* the home may be restarting: same request, same rid */
    if (self_read) self_read_leave(hc);
    if (own_mask) { _moj_dsm_tl_blocked = 0; pthread_sigmask(SIG_SETMASK, &appmask, NULL); }
    tries++;
    await_recovery(hc, 1);
    _moj_dsm_tl_retried = 1;
    goto again;
  }
  if (p.tr >= 0) _moj_dsm_tr_set(p.tr, TR_SENT, _moj_dsm_now());
  int cancelled = 0, reading = self_read && sent;
  /* MOJAVE_DSM_SPIN_US (default 50): look for the reply without sleeping
   * this long first — on an idle VM the wake-up of a halted vCPU costs more
   * than the round trip.  Adaptive per thread: spinning goes on only while
   * it keeps catching replies (under load the peers need the CPU it would
   * burn), with one probe every 32 calls. */
  int spin = _moj_dsm_spin_us > 0 && reading && (tl_spin_score >= 4 || (++tl_spin_probe & 31) == 0);
  int64_t spin_end = spin ? _moj_dsm_now() + _moj_dsm_spin_us * 1000 : 0;
  while (sent && !atomic_load(&p.done)) {
    struct pollfd pf[2] = {{p.efd, POLLIN, 0}, {hc->fd, POLLIN, 0}};
    long r = 0;
    if (spin_end && _moj_dsm_now() < spin_end) {
      moj_cpu_relax();
      pf[1].revents = POLLIN;
    } else if (p.efd >= 0) {
      struct timespec *no_timeout = NULL;
      _moj_dsm_tl_blocked = 0; /* a handler run inside the wait blocks for itself */
      r = syscall(SYS_ppoll, pf, reading ? 2 : 1, no_timeout, &appmask, _NSIG / 8);
      _moj_dsm_tl_blocked = 1;
      if (_moj_dsm_trace_on && r > 0) tl_woke = _moj_dsm_now();
    } else {
      _moj_dsm_tl_blocked = 0;
      pthread_sigmask(SIG_SETMASK, &appmask, NULL);
      r = syscall(SYS_futex, &p.done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, NULL);
      _moj_dsm_tl_blocked = 1;
    }
    if (r < 0) {
      if (errno == EINTR && interruptible && !cancelled) {
        cancelled = 1;
        pthread_mutex_lock(&hc->lock);
        if (!hc->dead && !atomic_load(&p.done)) _moj_dsm_send_locked(hc, MOJ_CANCEL, 0, p.seq, NULL, 0, NULL, 0);
        pthread_mutex_unlock(&hc->lock);
      }
      continue;
    }
    if (pf[0].revents) { uint64_t v; if (syscall(SYS_read, p.efd, &v, 8) < 0) {} }
    if (!reading || !pf[1].revents || atomic_load(&p.done)) continue;
    /* another rx holder is reading (perhaps our reply): poll again */
    if (pthread_mutex_trylock(&hc->rx)) continue;
    int broken = atomic_load(&p.done) ? 0 : rx_one(hc, host, 0);
    pthread_mutex_unlock(&hc->rx);
    if (broken) { /* the reader thread handles it (it must not stand aside for us): wait on the eventfd */
      reading = 0;
      self_read_leave(hc);
      self_read = 0;
    }
  }
  if (spin_end) { /* caught while spinning, or only after falling asleep? */
    if (_moj_dsm_now() < spin_end) tl_spin_score = tl_spin_score < 16 ? tl_spin_score + 1 : 16;
    else tl_spin_score = tl_spin_score > 4 ? tl_spin_score - 4 : 0;
  }
  if (self_read) self_read_leave(hc);
  if (own_mask) { _moj_dsm_tl_blocked = 0; pthread_sigmask(SIG_SETMASK, &appmask, NULL); }
  if (!sent) return ECONNRESET;
  if (p.tr >= 0) _moj_dsm_tr_set(p.tr, TR_DONE, _moj_dsm_now());
  if (p.status == MOJ_ERETRY && retryable(type) && ++tries <= 50) { /* the home restarted: same request, same rid */
    await_recovery(hc, 0);
    _moj_dsm_tl_retried = 1;
    goto again;
  }
  if (p.status == MOJ_ERETRY && type != MOJ_PAGE_REQ) { int e = atomic_load(&hc->err); return e ? e : ECONNRESET; }
  if (rlen) *rlen = p.len;
  return p.status;
}
/* The application's errno survives a successful call: the reads and polls
 * inside (EAGAIN from a non-blocking read while spinning) must not leak out;
 * a failing call's errno is set by its caller from the returned status. */
int _moj_dsm_call(int host, uint16_t type, const void *p1, size_t l1, const void *p2, size_t l2, void *rbuf,
                size_t rcap, size_t *rlen, int interruptible) {
  int saved = errno;
  int st = call_once(host, type, p1, l1, p2, l2, rbuf, rcap, rlen, interruptible);
  errno = saved;
  return st;
}

struct _moj_cred _moj_dsm_cred(void) { return (struct _moj_cred){(uint32_t)geteuid(), (uint32_t)getegid(), (uint32_t)getpid()}; }
int _moj_dsm_fail(int e) { errno = e; return -1; }
