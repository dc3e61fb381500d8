/* client.c — the DSM client runtime: System V IPC interposition (shm*, sem*,
 * msg*), the page-coherence client (SIGSEGV fault handler + double mapping) and
 * the per-connection reader thread that also serves the home's PAGE_FETCH
 * requests for pages this process owns.  Built into libmojave_ipc.so for
 * LD_PRELOAD and into the mojave_dsm static library for linked programs.
 *
 * Memory model: each attached segment has one memfd per process mapped twice —
 * the runtime view (always read/write, used to install and ship pages) and one
 * application view per shmat (protections follow the page's access right).
 * Installing data through the runtime view before raising the application
 * view's protection is what makes fills race-free. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <zstd.h>

#define EXPORT __attribute__((visibility("default")))
/* Inside libmojave, libc functions we wrap are weak like the runtime's other
 * interposers: a program may define its own. */
#ifdef MOJ_IN_RUNTIME
#define EXPORT_WRAP EXPORT __attribute__((weak))
#else
#define EXPORT_WRAP EXPORT
#endif

/* ---------------- real functions ---------------- */
static int (*real_shmget)(key_t, size_t, int);
static void *(*real_shmat)(int, const void *, int);
static int (*real_shmdt)(const void *);
static int (*real_shmctl)(int, int, struct shmid_ds *);
static int (*real_semget)(key_t, int, int);
static int (*real_semtimedop)(int, struct sembuf *, size_t, const struct timespec *);
static int (*real_semctl)(int, int, int, ...);
static int (*real_msgget)(key_t, int);
static int (*real_msgsnd)(int, const void *, size_t, int);
static ssize_t (*real_msgrcv)(int, void *, size_t, long, int);
static int (*real_msgctl)(int, int, struct msqid_ds *);

static void resolve_real(void) {
#define R(n) real_##n = dlsym(RTLD_NEXT, #n)
  R(shmget); R(shmat); R(shmdt); R(shmctl); R(semget); R(semtimedop); R(semctl);
  R(msgget); R(msgsnd); R(msgrcv); R(msgctl);
#undef R
}

/* ---------------- configuration ---------------- */
static struct _moj_cluster C;
static int cfg_ok;      /* a cluster file was loaded: distributed keys exist */
static int self_host = -1;
static pid_t owner_pid; /* the process whose attachments and sockets these are (not a vfork child) */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static long spin_us = 0;
/* MOJAVE_DSM_STATS=1: fault counters, printed to stderr at exit */
static int stats_on;
static _Atomic uint64_t st_rfault, st_wfault, st_upgrade, st_pages, st_batches, st_wait_ns;
static int zcomp; /* MOJAVE_DSM_COMPRESS=1: pages we ship are zstd-compressed when that saves >= 1/8 */ /* spinning lost to sleeping on a loaded 2-core host; see docs/performance.md */

static void warnm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnm(const char *fmt, ...) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "mojave-dsm[%d]: ", getpid());
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  va_end(ap);
  size_t l = strlen(buf);
  if (l < sizeof buf - 1) { buf[l++] = '\n'; }
  if (syscall(SYS_write, 2, buf, l) < 0) {}
}

static void sigsegv_install(void);
static void atfork_child(void);
static void atfork_prepare(void);
static void atfork_parent(void);
static void init(void) {
  resolve_real();
  zcomp = getenv("MOJAVE_DSM_COMPRESS") && atoi(getenv("MOJAVE_DSM_COMPRESS"));
  if (getenv("MOJAVE_DSM_SPIN_US")) spin_us = strtol(getenv("MOJAVE_DSM_SPIN_US"), NULL, 10);
  stats_on = getenv("MOJAVE_DSM_STATS") && atoi(getenv("MOJAVE_DSM_STATS"));
  _moj_net_inject_init();
  const char *path = getenv("MOJAVE_CLUSTER");
  if (!path || !*path) return; /* no cluster: every key is local */
  char err[512];
  if (_moj_cluster_load(path, &C, err, sizeof err)) {
    warnm("cluster file unusable, all IPC keys stay local: %s", err);
    return;
  }
  const char *h = getenv("MOJAVE_HOST");
  if (h) self_host = _moj_cluster_find_host(&C, h);
  if (self_host < 0) {
    char hn[64] = "";
    gethostname(hn, sizeof hn - 1);
    self_host = _moj_cluster_find_host(&C, h ? h : hn);
    if (self_host < 0) {
      warnm("this host ('%s') is not in cluster file %s (set MOJAVE_HOST); all IPC keys stay local", h ? h : hn, path);
      return;
    }
  }
  cfg_ok = 1;
  owner_pid = getpid();
  sigsegv_install();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
static inline void ensure_init(void) { pthread_once(&init_once, init); }

/* ---------------- futex wait ---------------- */
static void fwait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static void fwake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0); }

/* Locks taken by application threads are held with all signals blocked: an
 * application signal handler that touches DSM memory would otherwise fault
 * into the runtime while this thread holds the lock, and deadlock on it.
 * Nothing done under these locks touches application memory. */
static void lk(pthread_mutex_t *m, sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, old);
  pthread_mutex_lock(m);
}
static void ulk(pthread_mutex_t *m, const sigset_t *old) {
  pthread_mutex_unlock(m);
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---------------- connections to homes ---------------- */
#define MOJ_ERETRY 0x7ffe /* internal: the home restarted, repeat the request */
struct pend {
  uint32_t seq;
  uint16_t type;
  int efd;           /* >= 0: the waiter polls this eventfd (interruptible calls) */
  _Atomic uint32_t done;
  int status;
  uint8_t *buf; size_t cap, len;
  struct pend *next;
};
struct hconn {
  int fd;          /* -1: not connected */
  int dead;        /* connection lost: calls fail with EIDRM, faults raise SIGBUS */
  _Atomic int recovering; /* reconnecting to a restarted home: faults wait and retry */
  pthread_mutex_t lock; /* protects pend list and sends */
  /* Whoever holds rx reads the next message from fd: normally the reader
   * thread, but a faulting thread reads its own reply (one wake-up and one
   * thread hand-off fewer on the fault path).  Order: rx before seg_lock. */
  pthread_mutex_t rx;
  uint8_t *rxbuf;  /* MOJ_MAX_PAYLOAD bytes, used by the rx holder */
  _Atomic uint32_t self_rd; /* faulting threads reading for themselves: the reader thread stands aside */
  struct pend *pend;
  _Atomic uint32_t seq;
  pthread_t reader;
};
static struct hconn H[MOJ_MAX_HOSTS];
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t h_once = PTHREAD_ONCE_INIT;
static void h_init(void) {
  for (int i = 0; i < MOJ_MAX_HOSTS; i++) { H[i].fd = -1; pthread_mutex_init(&H[i].lock, NULL); pthread_mutex_init(&H[i].rx, NULL); }
}

/* ---------------- attached segments ---------------- */
#define MAX_VIEWS 16
struct cseg {
  int id, host;
  size_t size, mapsize;
  uint32_t npages;
  int memfd;
  uint8_t *rt;              /* runtime view, always RW */
  int orphan;               /* the restarted home no longer knows it: faults raise SIGBUS */
  _Atomic uint8_t *acc;     /* per page MOJ_ACC_* */
  int nviews;
  struct { uint8_t *addr; int rdonly; } v[MAX_VIEWS];
  struct cseg *next;
};
static struct cseg *segs;
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;

static struct cseg *seg_by_id(int id) {
  for (struct cseg *s = segs; s; s = s->next) if (s->id == id) return s;
  return NULL;
}
/* Which segment/view holds addr; caller holds seg_lock. */
static struct cseg *seg_by_addr(const void *addr, int *view) {
  const uint8_t *a = addr;
  for (struct cseg *s = segs; s; s = s->next)
    for (int i = 0; i < s->nviews; i++)
      if (a >= s->v[i].addr && a < s->v[i].addr + s->mapsize) { if (view) *view = i; return s; }
  return NULL;
}
/* Local page state: MOJ_ACC_NONE/READ/WRITE as granted, or ACC_CLEAN: owned
 * through write-ahead but not yet stored to (mapped read-only; the first
 * store tells the home, then maps it writable without a round trip). */
#define ACC_CLEAN 3
static void set_prot_n(struct cseg *s, uint32_t pn, uint32_t n, uint32_t acc) {
  for (int i = 0; i < s->nviews; i++) {
    int prot = acc == MOJ_ACC_WRITE ? (s->v[i].rdonly ? PROT_READ : PROT_READ | PROT_WRITE)
               : acc == MOJ_ACC_READ || acc == ACC_CLEAN ? PROT_READ : PROT_NONE;
    if (mprotect(s->v[i].addr + (size_t)pn * MOJ_PAGE, (size_t)n * MOJ_PAGE, prot))
      warnm("mprotect failed: %s", strerror(errno));
  }
  for (uint32_t k = 0; k < n; k++) atomic_store(&s->acc[pn + k], (uint8_t)acc);
}
static void set_prot(struct cseg *s, uint32_t pn, uint32_t acc) { set_prot_n(s, pn, 1, acc); }

static int send_locked(struct hconn *hc, uint16_t type, uint32_t seq, uint32_t aux, const void *p1, size_t l1,
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

static void conn_fail(struct hconn *hc, int host, const char *why) {
  pthread_mutex_lock(&hc->lock);
  if (!hc->dead) warnm("lost connection to home host %s: %s; pending calls fail with EIDRM, faults raise SIGBUS",
                       C.host[host].name, why);
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

/* Serve PAGE_FETCH: lower our access first so no application store can slip in
 * after the snapshot, then ship the runtime view's bytes. */
static void serve_fetch(struct hconn *hc, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_page q;
  if (h->len < sizeof q) return;
  memcpy(&q, pl, sizeof q);
  struct _moj_page r = {q.id, q.page, q.access, 0};
  const uint8_t *data = NULL;
  pthread_mutex_lock(&seg_lock);
  struct cseg *s = seg_by_id(q.id);
  if (s && q.page < s->npages) {
    uint32_t cur = atomic_load(&s->acc[q.page]);
    uint32_t na = q.access < cur ? q.access : cur;
    set_prot(s, q.page, na);
    if (q.has_data) { data = s->rt + (size_t)q.page * MOJ_PAGE; r.has_data = 1; }
  }
  size_t dl = data ? MOJ_PAGE : 0;
  static uint8_t zbuf[MOJ_PAGE + 1024]; /* reader thread only */
  if (zcomp && data) {
    size_t zl = ZSTD_compress(zbuf, sizeof zbuf, data, MOJ_PAGE, 1);
    if (!ZSTD_isError(zl) && zl < MOJ_PAGE - MOJ_PAGE / 8) { data = zbuf; dl = zl; r.has_data |= MOJ_PAGE_ZSTD; }
  }
  pthread_mutex_lock(&hc->lock);
  send_locked(hc, MOJ_PAGE_FETCH | MOJ_REPLY, h->seq, 0, &r, sizeof r, data, dl);
  pthread_mutex_unlock(&hc->lock);
  pthread_mutex_unlock(&seg_lock);
}
/* Install a granted page before waking the faulting thread.  Returns -1 on a
 * corrupt compressed frame: the connection is then unusable. */
static int install_page(const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_page q;
  if (h->status || h->len < sizeof q) return 0;
  memcpy(&q, pl, sizeof q);
  int z = (q.has_data & MOJ_PAGE_ZSTD) != 0;
  q.has_data &= ~MOJ_PAGE_ZSTD;
  pthread_mutex_lock(&seg_lock);
  struct cseg *s = seg_by_id(q.id);
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
    if (!rc && q.access == MOJ_ACC_AHEAD) {
      set_prot_n(s, q.page, 1, MOJ_ACC_WRITE);
      if (n > 1) set_prot_n(s, q.page + 1, n - 1, ACC_CLEAN);
    } else if (!rc) {
      set_prot_n(s, q.page, n, q.access);
    }
    if (stats_on) { st_pages += n; st_batches++; }
  }
  pthread_mutex_unlock(&seg_lock);
  return rc;
}


static int hconnect(int host);
static struct _moj_cred cred(void);
static int host_has_segs(int host) {
  pthread_mutex_lock(&seg_lock);
  int any = 0;
  for (struct cseg *s = segs; s; s = s->next) any |= s->host == host;
  pthread_mutex_unlock(&seg_lock);
  return any;
}
/* The home closed the connection while we hold segments there: it may be
 * restarting (mojave-nsd --state keeps segments).  Fail what cannot survive
 * (semaphore and queue calls: EIDRM), make page requests retry, reconnect for
 * up to MOJAVE_DSM_RECONNECT_MS and re-register every attachment with the
 * pages we hold, so nothing attached is lost. */
/* Requests sent on a connection that died will never be answered; caller holds hc->lock. */
static void fail_sent_locked(struct hconn *hc) {
  for (struct pend *p = hc->pend, *n; p; p = n) {
    n = p->next;
    p->status = p->type == MOJ_PAGE_REQ ? MOJ_ERETRY : EIDRM;
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
  warnm("connection to home host %s lost; reconnecting for up to %ld ms", C.host[host].name, budget);
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
  pthread_mutex_lock(&seg_lock);
  pthread_mutex_lock(&hc->lock);
  /* a request written into the dead socket before the peer's reset arrived is
   * still listed: it will never be answered, so it is repeated too */
  fail_sent_locked(hc);
  close(hc->fd);
  hc->fd = fd;
  const size_t rec = 8 + MOJ_PAGE, chunk = 200;
  uint8_t *buf = malloc(chunk * rec);
  for (struct cseg *s = segs; s; s = s->next) {
    if (s->host != host) continue;
    struct _moj_reattach q = {s->id, (uint32_t)s->nviews, cred()};
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
        send_locked(hc, MOJ_REATTACH, 0, last ? 0 : 1, &q, sizeof q, buf, n * rec);
        n = 0;
      }
    }
  }
  free(buf);
  pthread_mutex_unlock(&hc->lock);
  pthread_mutex_unlock(&seg_lock);
  atomic_store(&hc->recovering, 0);
  warnm("reconnected to home host %s; attachments re-registered", C.host[host].name);
  return 1;
}
/* The restarted home does not know this segment: nothing can be fetched any more. */
static void orphan_seg(int id) {
  pthread_mutex_lock(&seg_lock);
  struct cseg *s = seg_by_id(id);
  if (s) {
    s->orphan = 1;
    warnm("segment 0x%x is gone after its home restarted; accesses to pages not held here raise SIGBUS", id);
  }
  pthread_mutex_unlock(&seg_lock);
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
    if ((e == EPIPE || e == ECONNRESET) && host_has_segs(host) && recover(hc, host)) return 0;
    conn_fail(hc, host, e == EPIPE ? "closed by peer" : strerror(e));
    return 1;
  }
  const char *bad = _moj_hdr_check(&h);
  if (bad) { conn_fail(hc, host, bad); return 1; }
  if (_moj_read_full(hc->fd, buf, h.len)) { conn_fail(hc, host, "truncated message"); return 1; }
  if (h.type == MOJ_PAGE_FETCH) { serve_fetch(hc, &h, buf); return 0; }
  if (h.type == MOJ_ERROR) {
    warnm("home %s reports: %.*s", C.host[host].name, (int)(h.len > 200 ? 200 : h.len), (char *)buf);
    return 0;
  }
  if (h.type == (MOJ_PAGE_REQ | MOJ_REPLY) && install_page(&h, buf)) { conn_fail(hc, host, "corrupt compressed page"); return 1; }
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
  struct hconn *hc = &H[host];
  for (int done = 0; !done;) {
    struct pollfd pf = {hc->fd, POLLIN, 0};
    if (syscall(SYS_poll, &pf, 1, -1) < 0) continue; /* EINTR */
    for (uint32_t v; (v = atomic_load(&hc->self_rd)) != 0;) fwait(&hc->self_rd, v);
    pthread_mutex_lock(&hc->rx);
    /* a faulting thread may have taken the message meanwhile */
    if (readable_now(hc->fd)) done = rx_one(hc, host, 1);
    pthread_mutex_unlock(&hc->rx);
  }
  return NULL;
}

static int hconnect(int host) {
  const struct _moj_host *hh = &C.host[host];
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
  if (inet_pton(AF_INET, C.host[self_host].addr, &me.sin_addr) == 1) bind(fd, (struct sockaddr *)&me, sizeof me);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hh->port)};
  inet_pton(AF_INET, hh->addr, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    warnm("cannot reach home host %s at %s:%u: %s", hh->name, hh->addr, hh->port, strerror(errno));
    close(fd);
    return -1;
  }
  int auth = _moj_auth_client(fd, MOJ_MAGIC, MOJ_DSM_PROTO_VERSION, C.secret, C.secret_len, C.host[self_host].name);
  if (auth) {
    if (auth == MOJ_AUTH_BAD_GREETING) warnm("home host %s: bad greeting", hh->name);
    else if (auth == MOJ_AUTH_REFUSED) warnm("home host %s refused authentication (wrong cluster secret?)", hh->name);
    else warnm("home host %s failed to prove it knows the cluster secret", hh->name);
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

static struct hconn *hget(int host) {
  pthread_once(&h_once, h_init);
  struct hconn *hc = &H[host];
  if (hc->fd >= 0 && !hc->dead) return hc;
  sigset_t om;
  lk(&conn_lock, &om);
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
  ulk(&conn_lock, &om);
  return hc->fd >= 0 && !hc->dead ? hc : NULL;
}

#define CALL_FAULT 2 /* `interruptible` value for page faults: read the reply ourselves */
/* Per-thread eventfd a waiter polls; a fork()ed child gets a new one, since
 * the inherited descriptor is the same object as the parent's. */
static __thread int tl_efd = -1;
/* One request/reply exchange.  With interruptible != 0 a signal during the
 * wait sends CANCEL and the call then returns whatever the home decided
 * (EINTR if it cancelled, the real result if it had already completed). */
static int call(int host, uint16_t type, const void *p1, size_t l1, const void *p2, size_t l2, void *rbuf,
                size_t rcap, size_t *rlen, int interruptible) {
  struct hconn *hc = hget(host);
  if (!hc) return EIDRM;
  static int sr_env = -1; /* MOJAVE_DSM_SELF_READ=0: faults wait for the reader thread (for comparisons) */
  if (sr_env < 0) sr_env = !getenv("MOJAVE_DSM_SELF_READ") || atoi(getenv("MOJAVE_DSM_SELF_READ"));
  int self_read = interruptible == CALL_FAULT && sr_env;
  _moj_net_inject();
  /* Interruptible waits poll an eventfd: poll() always fails with EINTR on a
   * signal, even under SA_RESTART — exactly semop's rule — while a futex wait
   * would be restarted silently. */
  if ((interruptible || self_read) && tl_efd < 0) tl_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  /* a fault polls its eventfd too: the reader thread may deliver its reply */
  if (self_read) interruptible = 0;
  struct pend p = {.seq = atomic_fetch_add(&hc->seq, 1) + 1, .type = type, .buf = rbuf, .cap = rcap,
                   .efd = (interruptible || self_read) ? tl_efd : -1};
  sigset_t om;
  lk(&hc->lock, &om);
  if (hc->dead) { ulk(&hc->lock, &om); return EIDRM; }
  p.next = hc->pend;
  hc->pend = &p;
  if (send_locked(hc, type, p.seq, 0, p1, l1, p2, l2)) {
    hc->pend = p.next; /* we are still at the head: the list is only changed under lock */
    ulk(&hc->lock, &om);
    return EIDRM;
  }
  ulk(&hc->lock, &om);
  int cancelled = 0;
  /* A reply usually comes within a few tens of microseconds: spinning briefly
   * saves a sleep/wake pair on the critical path (MOJAVE_DSM_SPIN_US, 0 = off). */
  if (spin_us > 0) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; !atomic_load_explicit(&p.done, memory_order_acquire); i++) {
      __builtin_ia32_pause();
      if ((i & 63) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000 > spin_us) break;
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
      if (!atomic_load(&p.done) && readable_now(hc->fd)) r = rx_one(hc, (int)(hc - H), 0);
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
      lk(&hc->lock, &om);
      if (!hc->dead && !atomic_load(&p.done)) send_locked(hc, MOJ_CANCEL, 0, p.seq, NULL, 0, NULL, 0);
      ulk(&hc->lock, &om);
    }
  }
  if (rlen) *rlen = p.len;
  return p.status;
}

static struct _moj_cred cred(void) { return (struct _moj_cred){(uint32_t)geteuid(), (uint32_t)getegid(), (uint32_t)getpid()}; }
static int fail(int e) { errno = e; return -1; }

/* Home host of a key: ask the root nameserver once, then use the cache. */
static struct { int32_t key; int host; } kcache[256];
static int nk;
static pthread_mutex_t kc_lock = PTHREAD_MUTEX_INITIALIZER;
/* Resolution walks the nameserver tree like a DNS resolver: from the most
 * specific cached referral (else the root) follow referrals down to the home;
 * both the referrals and the final answer are cached for the process. */
static struct { uint32_t lo, hi; int host; } rcache[64];
static int nr;
static int key_home(int32_t key) {
  sigset_t om;
  uint32_t k = (uint32_t)key;
  int at = C.root;
  lk(&kc_lock, &om);
  for (int i = 0; i < nk; i++)
    if (kcache[i].key == key) { int h = kcache[i].host; ulk(&kc_lock, &om); return h; }
  uint32_t best = 0xffffffffu;
  for (int i = 0; i < nr; i++)
    if (k >= rcache[i].lo && k <= rcache[i].hi && rcache[i].hi - rcache[i].lo <= best) { best = rcache[i].hi - rcache[i].lo; at = rcache[i].host; }
  ulk(&kc_lock, &om);
  for (int hops = 0; hops <= MOJ_MAX_REFERRALS; hops++) {
    struct _moj_resolve q = {key};
    struct _moj_resolve_r r;
    size_t rl = 0;
    int st = call(at, MOJ_RESOLVE, &q, sizeof q, NULL, 0, &r, sizeof r, &rl, 0);
    if (st || rl != sizeof r || r.host_idx >= (uint32_t)C.nhosts) {
      warnm("cannot resolve key 0x%x at nameserver %s: %s", (unsigned)key, C.host[at].name,
            st ? strerror(st == EIDRM ? EHOSTUNREACH : st) : "malformed answer");
      return -1;
    }
    lk(&kc_lock, &om);
    if (!r.referral && nk < 256) { kcache[nk].key = key; kcache[nk].host = (int)r.host_idx; nk++; }
    if (r.referral && nr < 64 && r.lo <= k && k <= r.hi) { rcache[nr].lo = r.lo; rcache[nr].hi = r.hi; rcache[nr].host = (int)r.host_idx; nr++; }
    ulk(&kc_lock, &om);
    if (!r.referral) return (int)r.host_idx;
    at = (int)r.host_idx;
  }
  warnm("cannot resolve key 0x%x: more than %d referrals", (unsigned)key, MOJ_MAX_REFERRALS);
  return -1;
}
static int is_dist_key(key_t key) {
  ensure_init();
  return cfg_ok && _moj_cluster_is_distributed(&C, key);
}
static int is_dist_id(int id) {
  ensure_init();
  return cfg_ok && MOJ_ID_IS(id);
}
static int id_host(int id) {
  int h = MOJ_ID_HOST(id);
  return h < C.nhosts ? h : -1;
}

/* ---------------- page faults ---------------- */
static int acquire(struct cseg *s, uint32_t pn, uint32_t acc) {
  struct _moj_page_req q = {s->id, pn, acc};
  for (int tries = 0;; tries++) {
    if (s->orphan) return EIDRM;
    int st = call(s->host, MOJ_PAGE_REQ, &q, sizeof q, NULL, 0, NULL, 0, NULL, CALL_FAULT);
    /* a home restart in progress: wait for the re-registration, then ask again */
    if ((st == MOJ_ERETRY || (st == EIDRM && atomic_load(&H[s->host].recovering))) && tries < 1000) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
      continue;
    }
    return st;
  }
}
/* First store to a write-ahead page: tell the home (no reply needed: the
 * message is ordered before anything else this process sends it), then map
 * the page writable.  Caller holds seg_lock, so no PAGE_FETCH interleaves. */
static void clean_upgrade(struct cseg *s, uint32_t pn) {
  struct hconn *hc = &H[s->host];
  struct _moj_page_req q = {s->id, pn, MOJ_ACC_WRITE};
  pthread_mutex_lock(&hc->lock);
  if (!hc->dead && hc->fd >= 0) send_locked(hc, MOJ_PAGE_DIRTY, 0, 0, &q, sizeof q, NULL, 0);
  pthread_mutex_unlock(&hc->lock);
  set_prot(s, pn, MOJ_ACC_WRITE);
  if (stats_on) st_upgrade++;
}
static struct sigaction old_segv; /* the application's SIGSEGV disposition: we chain to it */
static int segv_installed;
static int (*real_sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!real_sigaction_fn) real_sigaction_fn = dlsym(RTLD_NEXT, "sigaction");
  return real_sigaction_fn(sig, act, old);
}
static void segv_handler(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  ucontext_t *u = uc;
  int write = (u->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  int view = -1;
  sigset_t om;
  lk(&seg_lock, &om);
  struct cseg *s = seg_by_addr(si->si_addr, &view);
  int rdonly = s ? s->v[view].rdonly : 0;
  uint32_t pn = s ? (uint32_t)(((uint8_t *)si->si_addr - s->v[view].addr) / MOJ_PAGE) : 0;
  if (s && write && !rdonly && pn < s->npages && atomic_load(&s->acc[pn]) == ACC_CLEAN) {
    clean_upgrade(s, pn);
    ulk(&seg_lock, &om);
    errno = saved;
    return;
  }
  ulk(&seg_lock, &om);
  if (!s || (write && rdonly) || pn >= s->npages) {
    /* not ours (or a store through a SHM_RDONLY attach): behave as without us */
    if (old_segv.sa_flags & SA_SIGINFO) { old_segv.sa_sigaction(sig, si, uc); return; }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) { old_segv.sa_handler(sig); return; }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction(SIGSEGV, &dfl, NULL);
    errno = saved;
    return; /* re-executes and dies with the default action */
  }
  struct timespec t0, t1;
  if (stats_on) { clock_gettime(CLOCK_MONOTONIC, &t0); if (write) st_wfault++; else st_rfault++; }
  int st = acquire(s, pn, write ? MOJ_ACC_WRITE : MOJ_ACC_READ);
  if (stats_on) {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st_wait_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
  }
  if (st) {
    warnm("DSM %s fault on segment 0x%x page %u failed (%s): raising SIGBUS", write ? "write" : "read", s->id, pn,
          st == EIO ? "page lost: its only copy was on a crashed process" : strerror(st));
    /* like a hardware SIGBUS: the application's handler runs if it has one */
    raise(SIGBUS);
  }
  errno = saved;
}
static void sigsegv_install(void) {
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
 * are not DSM faults, exactly as if it were installed alone. */
#ifdef MOJ_IN_RUNTIME /* runtime/signal.c wraps sigaction/signal first and chains here */
#define MOJ_SIG(name) __moj_dsm_##name
#else
#define MOJ_SIG(name) name
#endif
EXPORT int MOJ_SIG(sigaction)(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig != SIGSEGV || !segv_installed) return real_sigaction(sig, act, old);
  struct sigaction prev = old_segv;
  if (act) old_segv = *act;
  if (old) *old = prev;
  return 0;
}
EXPORT sighandler_t MOJ_SIG(signal)(int sig, sighandler_t h) {
  if (sig != SIGSEGV || !segv_installed) {
    static sighandler_t (*real_signal)(int, sighandler_t);
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
  if (!segs || !n) return;
  const uint8_t *a = p, *end = a + n;
  /* most I/O buffers are not DSM memory: one scan decides, then nothing per page */
  int overlaps = 0;
  sigset_t om0;
  lk(&seg_lock, &om0);
  for (struct cseg *s = segs; s && !overlaps; s = s->next)
    for (int i = 0; i < s->nviews; i++)
      if (a < s->v[i].addr + s->mapsize && end > s->v[i].addr) { overlaps = 1; break; }
  ulk(&seg_lock, &om0);
  if (!overlaps) return;
  while (a < end) {
    int view;
    sigset_t om;
    lk(&seg_lock, &om);
    struct cseg *s = seg_by_addr(a, &view);
    uint32_t pn = 0;
    int need = 0;
    if (s) {
      pn = (uint32_t)((a - s->v[view].addr) / MOJ_PAGE);
      if (pn < s->npages) {
        uint32_t cur = atomic_load(&s->acc[pn]);
        if (write && cur == ACC_CLEAN) clean_upgrade(s, pn);
        else need = write ? cur != MOJ_ACC_WRITE : cur == MOJ_ACC_NONE;
      }
    }
    ulk(&seg_lock, &om);
    if (need) acquire(s, pn, write ? MOJ_ACC_WRITE : MOJ_ACC_READ);
    a = (const uint8_t *)(((uintptr_t)a & ~(uintptr_t)(MOJ_PAGE - 1)) + MOJ_PAGE);
  }
}
/* Retry a syscall whose buffer lost its access between prefault and the call. */
#define RETRY_FAULT(call_expr, buf, len, wr)                         \
  ssize_t r_;                                                        \
  for (int try_ = 0;; try_++) {                                      \
    prefault(buf, len, wr);                                          \
    r_ = (call_expr);                                                \
    if (!(r_ < 0 && errno == EFAULT && segs && try_ < 100)) break;   \
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

/* ---------------- shared memory ---------------- */
EXPORT int shmget(key_t key, size_t size, int flg) {
  if (!is_dist_key(key)) return real_shmget(key, size, flg);
  int home = key_home(key);
  if (home < 0) return fail(EIDRM);
  struct _moj_shmget q = {key, size, flg, cred()};
  struct _moj_id_r r;
  int st = call(home, MOJ_SHMGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? fail(st) : r.id;
}

EXPORT void *shmat(int id, const void *addr, int flg) {
  sigset_t om;
  if (!is_dist_id(id)) return real_shmat(id, addr, flg);
  int host = id_host(id);
  if (host < 0) { errno = EINVAL; return (void *)-1; }
  if (addr && (flg & SHM_RND)) addr = (const void *)((uintptr_t)addr & ~(uintptr_t)(SHMLBA - 1));
  if (addr && ((uintptr_t)addr & (MOJ_PAGE - 1))) { errno = EINVAL; return (void *)-1; }
  struct _moj_shmat q = {id, flg, cred()};
  struct _moj_shmat_r r;
  int st = call(host, MOJ_SHMAT, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  if (st) { errno = st; return (void *)-1; }
  lk(&seg_lock, &om);
  struct cseg *s = seg_by_id(id);
  if (!s) {
    s = calloc(1, sizeof *s);
    s->id = id; s->host = host; s->size = r.size;
    s->npages = (uint32_t)((r.size + MOJ_PAGE - 1) / MOJ_PAGE);
    s->mapsize = (size_t)s->npages * MOJ_PAGE;
    s->memfd = memfd_create("mojave-dsm", MFD_CLOEXEC);
    if (s->memfd < 0 || ftruncate(s->memfd, (off_t)s->mapsize) ||
        (s->rt = mmap(NULL, s->mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0)) == MAP_FAILED) {
      int e = errno;
      if (s->memfd >= 0) close(s->memfd);
      free(s);
      ulk(&seg_lock, &om);
      struct _moj_shmdt d = {id, cred()};
      call(host, MOJ_SHMDT, &d, sizeof d, NULL, 0, NULL, 0, NULL, 0);
      errno = e == EMFILE ? EMFILE : ENOMEM;
      return (void *)-1;
    }
    s->acc = calloc(s->npages, 1);
    s->next = segs;
    segs = s;
  }
  uint8_t *v = MAP_FAILED;
  if (s->nviews < MAX_VIEWS)
    v = mmap((void *)addr, s->mapsize, PROT_NONE, MAP_SHARED | (addr ? MAP_FIXED : 0), s->memfd, 0);
  if (v == MAP_FAILED) {
    ulk(&seg_lock, &om);
    struct _moj_shmdt d = {id, cred()};
    call(host, MOJ_SHMDT, &d, sizeof d, NULL, 0, NULL, 0, NULL, 0);
    errno = ENOMEM;
    return (void *)-1;
  }
  int k = s->nviews++;
  s->v[k].addr = v;
  s->v[k].rdonly = (flg & SHM_RDONLY) != 0;
  for (uint32_t pn = 0; pn < s->npages; pn++) /* a second attach sees what we already hold */
    if (s->acc[pn]) set_prot(s, pn, s->acc[pn]);
  ulk(&seg_lock, &om);
  return v;
}

EXPORT int shmdt(const void *addr) {
  sigset_t om;
  ensure_init();
  lk(&seg_lock, &om);
  struct cseg *s = segs;
  int k = -1;
  for (; s; s = s->next) {
    for (int i = 0; i < s->nviews; i++) if (s->v[i].addr == addr) { k = i; break; }
    if (k >= 0) break;
  }
  if (!s) { ulk(&seg_lock, &om); return real_shmdt(addr); }
  munmap(s->v[k].addr, s->mapsize);
  s->v[k] = s->v[--s->nviews];
  struct _moj_shmdt d = {s->id, cred()};
  uint8_t *pl = NULL;
  size_t pll = 0;
  int last = s->nviews == 0;
  if (last) {
    /* last detach of this process: hand the pages we own back with the detach */
    uint32_t nw = 0;
    for (uint32_t pn = 0; pn < s->npages; pn++) nw += s->acc[pn] == MOJ_ACC_WRITE;
    pll = nw * (4 + MOJ_PAGE);
    pl = malloc(pll ? pll : 1);
    size_t off = 0;
    for (uint32_t pn = 0; pn < s->npages; pn++)
      if (s->acc[pn] == MOJ_ACC_WRITE) {
        memcpy(pl + off, &pn, 4);
        memcpy(pl + off + 4, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
        off += 4 + MOJ_PAGE;
      }
    struct cseg **pp = &segs;
    while (*pp != s) pp = &(*pp)->next;
    *pp = s->next;
  }
  int host = s->host;
  /* Sent while holding seg_lock so a concurrent PAGE_FETCH is answered after it.
   * Owned pages travel in chunks below MOJ_MAX_PAYLOAD; only the last message
   * (aux = 0) detaches and is answered. */
  struct hconn *hc = hget(host);
  struct pend p = {.efd = -1};
  int st = EIDRM;
  if (hc) {
    p.seq = atomic_fetch_add(&hc->seq, 1) + 1;
    pthread_mutex_lock(&hc->lock);
    int err = hc->dead;
    const size_t rec = 4 + MOJ_PAGE, chunk = 200 * rec;
    size_t off = 0;
    while (!err && pll - off > chunk) {
      err = send_locked(hc, MOJ_SHMDT, 0, 1, &d, sizeof d, pl + off, chunk);
      off += chunk;
    }
    if (!err) {
      p.next = hc->pend;
      hc->pend = &p;
      if (send_locked(hc, MOJ_SHMDT, p.seq, 0, &d, sizeof d, pl + off, pll - off)) { hc->pend = p.next; err = 1; }
    }
    if (err) { atomic_store(&p.done, 1); p.status = EIDRM; }
    pthread_mutex_unlock(&hc->lock);
  }
  ulk(&seg_lock, &om);
  if (hc) {
    while (!atomic_load(&p.done)) fwait(&p.done, 0);
    st = p.status;
  }
  free(pl);
  if (last) {
    munmap(s->rt, s->mapsize);
    close(s->memfd);
    free((void *)s->acc);
    free(s);
  }
  (void)st; /* the mapping is gone either way, as with the kernel */
  return 0;
}

EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf) {
  if (!is_dist_id(id)) return real_shmctl(id, cmd, buf);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.cmd = cmd; q.cred = cred();
  if (cmd == SHM_LOCK || cmd == SHM_UNLOCK) return 0; /* DSM pages are never swapped by us; accepted as a no-op */
  if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID) return fail(EINVAL);
  if ((cmd == IPC_STAT || cmd == IPC_SET) && !buf) return fail(EFAULT);
  if (cmd == IPC_SET) { q.set_uid = buf->shm_perm.uid; q.set_gid = buf->shm_perm.gid; q.set_mode = buf->shm_perm.mode; }
  struct _moj_stat_r r;
  int st = call(host, MOJ_SHMCTL, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  if (st) return fail(st);
  if (cmd == IPC_STAT) {
    memset(buf, 0, sizeof *buf);
    buf->shm_perm.__key = r.key; buf->shm_perm.uid = r.uid; buf->shm_perm.gid = r.gid;
    buf->shm_perm.cuid = r.cuid; buf->shm_perm.cgid = r.cgid; buf->shm_perm.mode = (unsigned short)r.mode;
    buf->shm_segsz = r.size; buf->shm_atime = r.atime; buf->shm_dtime = r.dtime; buf->shm_ctime = r.ctime;
    buf->shm_cpid = (pid_t)r.cpid; buf->shm_lpid = (pid_t)r.lpid; buf->shm_nattch = r.nattch;
  }
  return 0;
}

/* ---------------- semaphores ---------------- */
/* SEM_UNDO adjustments live at the home, per connection, and are applied when
 * the connection closes.  The client keeps its own tally of which sets have
 * them (the home's rules: -op per successful SEM_UNDO operation; SETVAL,
 * SETALL and IPC_RMID clear them): a migration takes exactly those sets'
 * adjustments off the source's connection (MOJ_UNDO_TAKE) into the image and
 * the migrated process gives them to its own (MOJ_UNDO_GIVE).  Overflowing the
 * table means the tally is incomplete: a migration is then refused. */
#define UNDO_MAX 64
static struct { int id; uint16_t num; int32_t adj; } undo_tab[UNDO_MAX];
static int undo_n, undo_overflow;
static pthread_mutex_t undo_lock = PTHREAD_MUTEX_INITIALIZER;
static void undo_note(int id, const struct sembuf *ops, size_t nsops) {
  sigset_t om;
  lk(&undo_lock, &om);
  for (size_t i = 0; i < nsops; i++) {
    if (!(ops[i].sem_flg & SEM_UNDO) || !ops[i].sem_op) continue;
    int k = 0;
    while (k < undo_n && (undo_tab[k].id != id || undo_tab[k].num != ops[i].sem_num)) k++;
    if (k == undo_n) {
      if (undo_n == UNDO_MAX) { undo_overflow = 1; continue; }
      undo_tab[undo_n++] = (__typeof__(undo_tab[0])){id, ops[i].sem_num, 0};
    }
    undo_tab[k].adj -= ops[i].sem_op;
  }
  ulk(&undo_lock, &om);
}
static void undo_clear(int id, int num) { /* num < 0: every semaphore of the set */
  sigset_t om;
  lk(&undo_lock, &om);
  for (int k = 0; k < undo_n; k++)
    if (undo_tab[k].id == id && (num < 0 || undo_tab[k].num == num)) undo_tab[k].adj = 0;
  ulk(&undo_lock, &om);
}
EXPORT int semget(key_t key, int nsems, int flg) {
  if (!is_dist_key(key)) return real_semget(key, nsems, flg);
  int home = key_home(key);
  if (home < 0) return fail(EIDRM);
  struct _moj_semget q = {key, nsems, flg, cred()};
  struct _moj_id_r r;
  int st = call(home, MOJ_SEMGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? fail(st) : r.id;
}
EXPORT int semtimedop(int id, struct sembuf *ops, size_t nsops, const struct timespec *tmo) {
  if (!is_dist_id(id)) return real_semtimedop(id, ops, nsops, tmo);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  if (nsops == 0) return fail(EINVAL);
  if (nsops > 500) return fail(E2BIG);
  if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)) return fail(EINVAL);
  struct _moj_semop q = {id, (uint32_t)nsops, tmo ? (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec : -1, cred()};
  struct _moj_sembuf b[500];
  for (size_t i = 0; i < nsops; i++) b[i] = (struct _moj_sembuf){ops[i].sem_num, ops[i].sem_op, ops[i].sem_flg, 0};
  int st = call(host, MOJ_SEMOP, &q, sizeof q, b, nsops * sizeof *b, NULL, 0, NULL, 1);
  if (!st) undo_note(id, ops, nsops);
  return st ? fail(st) : 0;
}
EXPORT int semop(int id, struct sembuf *ops, size_t nsops) { return semtimedop(id, ops, nsops, NULL); }

union _moj_semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };
EXPORT int semctl(int id, int num, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  union _moj_semun arg = va_arg(ap, union _moj_semun); /* may be garbage for cmds without arg; only read if used */
  va_end(ap);
  if (!is_dist_id(id)) return real_semctl(id, num, cmd, arg);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.num = num; q.cmd = cmd; q.cred = cred();
  uint16_t vals[32000];
  size_t vl = 0;
  switch (cmd) {
  case IPC_STAT: case IPC_SET: case GETALL: case SETALL:
    if (!arg.buf) return fail(EFAULT);
    break;
  case SETVAL: q.val = arg.val; break;
  case IPC_RMID: case GETVAL: case GETPID: case GETNCNT: case GETZCNT: break;
  default: return fail(EINVAL);
  }
  if (cmd == IPC_SET) { q.set_uid = arg.buf->sem_perm.uid; q.set_gid = arg.buf->sem_perm.gid; q.set_mode = arg.buf->sem_perm.mode; }
  if (cmd == SETALL) {
    /* the set size is needed to know how many values to read from the caller */
    struct _moj_ctl s2 = q; s2.cmd = IPC_STAT;
    struct _moj_stat_r r;
    int st = call(host, MOJ_SEMCTL, &s2, sizeof s2, NULL, 0, &r, sizeof r, NULL, 0);
    if (st) return fail(st);
    q.nvals = (uint32_t)r.nattch;
    for (uint32_t i = 0; i < q.nvals; i++) vals[i] = arg.array[i];
    vl = q.nvals * 2;
  }
  struct { struct _moj_stat_r r; uint16_t v[32000]; } *rb = malloc(sizeof *rb);
  size_t rl = 0;
  int st = call(host, MOJ_SEMCTL, &q, sizeof q, vals, vl, rb, sizeof *rb, &rl, 0);
  if (st) { free(rb); return fail(st); }
  if (cmd == SETVAL || cmd == SETALL || cmd == IPC_RMID) undo_clear(id, cmd == SETVAL ? num : -1);
  int ret = 0;
  if (cmd == IPC_STAT) {
    struct semid_ds *d = arg.buf;
    memset(d, 0, sizeof *d);
    d->sem_perm.__key = rb->r.key; d->sem_perm.uid = rb->r.uid; d->sem_perm.gid = rb->r.gid;
    d->sem_perm.cuid = rb->r.cuid; d->sem_perm.cgid = rb->r.cgid; d->sem_perm.mode = (unsigned short)rb->r.mode;
    d->sem_otime = rb->r.atime; d->sem_ctime = rb->r.ctime; d->sem_nsems = rb->r.nattch;
  } else if (cmd == GETALL) {
    for (uint32_t i = 0; i < rb->r.nvals && i < 32000; i++) arg.array[i] = rb->v[i];
  } else if (cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT) {
    ret = rb->r.val;
  }
  free(rb);
  return ret;
}

/* ---------------- message queues ---------------- */
#define MOJ_MSGMAX 8192
EXPORT int msgget(key_t key, int flg) {
  if (!is_dist_key(key)) return real_msgget(key, flg);
  int home = key_home(key);
  if (home < 0) return fail(EIDRM);
  struct _moj_msgget q = {key, flg, cred()};
  struct _moj_id_r r;
  int st = call(home, MOJ_MSGGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? fail(st) : r.id;
}
EXPORT int msgsnd(int id, const void *msgp, size_t sz, int flg) {
  if (!is_dist_id(id)) return real_msgsnd(id, msgp, sz, flg);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  if (sz > MOJ_MSGMAX) return fail(EINVAL);
  long mtype;
  memcpy(&mtype, msgp, sizeof mtype);
  if (mtype < 1) return fail(EINVAL);
  /* copied here, where a fault on a DSM buffer is an ordinary fault: the
   * send itself runs under the connection lock */
  char text[MOJ_MSGMAX];
  memcpy(text, (const char *)msgp + sizeof(long), sz);
  struct _moj_msgsnd q = {id, flg, mtype, (uint32_t)sz, cred()};
  int st = call(host, MOJ_MSGSND, &q, sizeof q, text, sz, NULL, 0, NULL, 1);
  return st ? fail(st) : 0;
}
EXPORT ssize_t msgrcv(int id, void *msgp, size_t sz, long typ, int flg) {
  if (!is_dist_id(id)) return real_msgrcv(id, msgp, sz, typ, flg);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  if ((ssize_t)sz < 0) return fail(EINVAL);
  struct _moj_msgrcv q = {id, flg, typ, (uint32_t)(sz > MOJ_MSGMAX ? MOJ_MSGMAX : sz), cred()};
  struct { struct _moj_msgrcv_r r; uint8_t d[MOJ_MSGMAX]; } rb;
  size_t rl = 0;
  int st = call(host, MOJ_MSGRCV, &q, sizeof q, NULL, 0, &rb, sizeof rb, &rl, 1);
  if (st) return fail(st);
  if (rl < sizeof rb.r || rb.r.size > rl - sizeof rb.r) return fail(EIO);
  long mt = (long)rb.r.mtype;
  memcpy(msgp, &mt, sizeof mt);
  memcpy((char *)msgp + sizeof(long), rb.d, rb.r.size);
  return rb.r.size;
}
EXPORT int msgctl(int id, int cmd, struct msqid_ds *buf) {
  if (!is_dist_id(id)) return real_msgctl(id, cmd, buf);
  int host = id_host(id);
  if (host < 0) return fail(EINVAL);
  if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID) return fail(EINVAL);
  if ((cmd == IPC_STAT || cmd == IPC_SET) && !buf) return fail(EFAULT);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.cmd = cmd; q.cred = cred();
  if (cmd == IPC_SET) {
    q.set_uid = buf->msg_perm.uid; q.set_gid = buf->msg_perm.gid; q.set_mode = buf->msg_perm.mode;
    q.set_qbytes = buf->msg_qbytes;
  }
  struct _moj_stat_r r;
  int st = call(host, MOJ_MSGCTL, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  if (st) return fail(st);
  if (cmd == IPC_STAT) {
    memset(buf, 0, sizeof *buf);
    buf->msg_perm.__key = r.key; buf->msg_perm.uid = r.uid; buf->msg_perm.gid = r.gid;
    buf->msg_perm.cuid = r.cuid; buf->msg_perm.cgid = r.cgid; buf->msg_perm.mode = (unsigned short)r.mode;
    buf->msg_qbytes = r.size; buf->msg_stime = r.atime; buf->msg_rtime = r.dtime; buf->msg_ctime = r.ctime;
    buf->msg_lspid = (pid_t)r.cpid; buf->msg_lrpid = (pid_t)r.lpid; buf->msg_qnum = r.nattch;
    buf->__msg_cbytes = r.cbytes;
  }
  return 0;
}

/* ---------------- process lifecycle ---------------- */
/* fork(): as with the kernel, the child inherits the parent's DSM attachments —
 * but as a separate cluster member.  It must not share the parent's sockets or
 * page copies, so it gets fresh connections, a fresh memfd mapped over every
 * inherited view (MAP_FIXED, no access: pages are fetched on demand) and
 * registers its attachments with the homes (REATTACH with no pages), so nattch
 * counts it at once.  Runs in the child before fork() returns there. */
static int fork_pipe[2] = {-1, -1};
/* The parent's fork() returns only once the child is registered, so an
 * IPC_STAT right after fork counts the child, as the kernel does. */
static void atfork_prepare(void) {
  fork_pipe[0] = fork_pipe[1] = -1;
  if (segs && pipe2(fork_pipe, O_CLOEXEC)) fork_pipe[0] = fork_pipe[1] = -1;
}
static void atfork_parent(void) {
  if (fork_pipe[0] < 0) return;
  close(fork_pipe[1]);
  char b;
  while (syscall(SYS_read, fork_pipe[0], &b, 1) < 0 && errno == EINTR) {}
  close(fork_pipe[0]);
}
static void atfork_child(void) {
  owner_pid = getpid();
  if (tl_efd >= 0) { close(tl_efd); tl_efd = -1; }
  if (fork_pipe[0] >= 0) close(fork_pipe[0]);
  for (int i = 0; i < MOJ_MAX_HOSTS; i++) {
    if (H[i].fd >= 0) close(H[i].fd);
    H[i].fd = -1;
    H[i].dead = 0;
    H[i].pend = NULL;
    atomic_store(&H[i].recovering, 0);
    pthread_mutex_init(&H[i].lock, NULL);
    pthread_mutex_init(&H[i].rx, NULL);
  }
  pthread_mutex_init(&seg_lock, NULL);
  pthread_mutex_init(&conn_lock, NULL);
  pthread_mutex_init(&kc_lock, NULL);
  for (struct cseg *s = segs; s; s = s->next) {
    int fd = memfd_create("mojave-dsm", MFD_CLOEXEC);
    uint8_t *rt = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)s->mapsize) == 0)
      rt = mmap(NULL, s->mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int ok = rt != MAP_FAILED;
    for (int v = 0; ok && v < s->nviews; v++)
      ok = mmap(s->v[v].addr, s->mapsize, PROT_NONE, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED;
    munmap(s->rt, s->mapsize);
    close(s->memfd);
    s->memfd = fd;
    s->rt = rt == MAP_FAILED ? NULL : rt;
    memset((void *)s->acc, 0, s->npages);
    struct _moj_reattach q = {s->id, (uint32_t)s->nviews, cred()};
    int st = ok ? call(s->host, MOJ_REATTACH, &q, sizeof q, NULL, 0, NULL, 0, NULL, 0) : ENOMEM;
    if (st) {
      s->orphan = 1;
      warnm("fork: child could not take over attachment of segment 0x%x (%s); its accesses raise SIGBUS", s->id, strerror(st));
    }
  }
  if (fork_pipe[1] >= 0) close(fork_pipe[1]); /* EOF releases the parent */
}
/* exit() detaches like the kernel does, handing owned pages back to the home. */
__attribute__((destructor)) static void at_exit_detach(void) {
  while (segs && segs->nviews) shmdt(segs->v[0].addr);
  if (stats_on && st_rfault + st_wfault + st_upgrade) {
    char line[256];
    int k = snprintf(line, sizeof line,
                     "mojave dsm: pid %d: %llu read faults, %llu write faults (%.1f ms waiting), %llu pages received in %llu replies, %llu write-ahead pages stored to\n",
                     (int)getpid(), (unsigned long long)st_rfault, (unsigned long long)st_wfault, (double)st_wait_ns / 1e6,
                     (unsigned long long)st_pages, (unsigned long long)st_batches, (unsigned long long)st_upgrade);
    if (k > 0 && syscall(SYS_write, 2, line, (size_t)k) < 0) {}
    st_rfault = st_wfault = st_upgrade = 0;
  }
}
/* _exit()/_Exit() skip destructors, yet forked children commonly leave that
 * way after writing shared memory: hand the pages back here too.  A vfork()
 * child shares our memory and sockets but has another pid: it must not touch
 * them, so only the process that owns the attachments detaches. */
static void exit_detach(void) {
  if (segs && owner_pid == getpid()) at_exit_detach();
}
EXPORT void _exit(int status) {
  exit_detach();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}
EXPORT void _Exit(int status) {
  exit_detach();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

/* exec() replaces the image and closes our home connections (CLOEXEC), which
 * the homes treat like a crash: pages only we hold would be lost.  Before
 * exec, hand every page we own back (the SHMDT page records without the
 * detach) and drop our copies, then wait for one round trip per home so the
 * records are applied before the connection closes.  If exec fails we carry on
 * attached, faulting pages back in as needed.  A vfork() child (another pid
 * sharing our memory) leaves everything alone. */
static int handback(int *bad_host);
static void exec_handback(void) {
  if (!segs || owner_pid != getpid()) return;
  handback(NULL);
}
/* The hand-back itself, shared by exec() and migration: returns 0 when every
 * home with pages of ours acknowledged them (one PING round trip after the
 * records), -1 with *bad_host set when a home could not be told (its
 * connection is dead or broke meanwhile: whatever we owned there is lost
 * either way, as with any broken connection). */
static int handback(int *bad_host) {
  sigset_t om;
  int used[MOJ_MAX_HOSTS] = {0}, rc = 0;
  lk(&seg_lock, &om);
  const size_t rec = 4 + MOJ_PAGE, chunk = 200;
  uint8_t *buf = malloc(chunk * rec);
  if (!buf) rc = -1;
  for (struct cseg *s = segs; s && buf; s = s->next) {
    struct hconn *hc = &H[s->host];
    if (hc->fd < 0 || hc->dead) {
      for (uint32_t pn = 0; pn < s->npages && bad_host; pn++)
        if (s->acc[pn] == MOJ_ACC_WRITE || s->acc[pn] == ACC_CLEAN) { rc = -1; *bad_host = s->host; break; }
      continue;
    }
    struct _moj_shmdt d = {s->id, cred()};
    size_t n = 0;
    for (uint32_t pn = 0; pn <= s->npages; pn++) {
      int last = pn == s->npages;
      if (!last && (s->acc[pn] == MOJ_ACC_WRITE || s->acc[pn] == ACC_CLEAN)) {
        memcpy(buf + n * rec, &pn, 4);
        memcpy(buf + n * rec + 4, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
        n++;
        set_prot(s, pn, MOJ_ACC_NONE); /* the home's copy is the current one now */
      }
      if (n && (n == chunk || last)) {
        pthread_mutex_lock(&hc->lock);
        if (send_locked(hc, MOJ_SHMDT, 0, 1, &d, sizeof d, buf, n * rec) && bad_host) { /* aux 1: records only, stay attached */
          rc = -1;
          *bad_host = s->host;
        }
        pthread_mutex_unlock(&hc->lock);
        used[s->host] = 1;
        n = 0;
      }
    }
  }
  free(buf);
  ulk(&seg_lock, &om);
  for (int h = 0; h < MOJ_MAX_HOSTS; h++)
    if (used[h] && call(h, MOJ_PING, NULL, 0, NULL, 0, NULL, 0, NULL, 0) && bad_host) {
      rc = -1;
      *bad_host = h;
    }
  return rc;
}
#define EXEC_REAL(name) \
  static __typeof__(name) *real_##name; \
  if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)
EXPORT_WRAP int execve(const char *path, char *const argv[], char *const envp[]) {
  EXEC_REAL(execve);
  exec_handback();
  return real_execve(path, argv, envp);
}
EXPORT_WRAP int execv(const char *path, char *const argv[]) {
  EXEC_REAL(execv);
  exec_handback();
  return real_execv(path, argv);
}
EXPORT_WRAP int execvp(const char *file, char *const argv[]) {
  EXEC_REAL(execvp);
  exec_handback();
  return real_execvp(file, argv);
}
EXPORT_WRAP int execvpe(const char *file, char *const argv[], char *const envp[]) {
  EXEC_REAL(execvpe);
  exec_handback();
  return real_execvpe(file, argv, envp);
}
EXPORT_WRAP int fexecve(int fd, char *const argv[], char *const envp[]) {
  EXEC_REAL(fexecve);
  exec_handback();
  return real_fexecve(fd, argv, envp);
}
/* execl, execlp, execle: collect the variadic list (bounded like ARG_MAX's
 * pointer count would be) and go through the vector forms above. */
#define EXECL_ARGS(arg, ap, av)                                                   \
  size_t cnt_ = 1;                                                                \
  va_start(ap, arg);                                                              \
  while (va_arg(ap, char *)) cnt_++;                                              \
  va_end(ap);                                                                     \
  char **av = malloc((cnt_ + 1) * sizeof *av);                                    \
  if (!av) { errno = ENOMEM; return -1; }                                         \
  va_start(ap, arg);                                                              \
  av[0] = (char *)arg;                                                            \
  for (size_t i_ = 1; i_ <= cnt_; i_++) av[i_] = i_ < cnt_ ? va_arg(ap, char *) : NULL
static int freed_av(int r, char **av) { /* exec returned: free the vector, keep errno */
  int e = errno;
  free(av);
  errno = e;
  return r;
}
EXPORT_WRAP int execl(const char *path, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  va_end(ap);
  return freed_av(execv(path, av), av);
}
EXPORT_WRAP int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  va_end(ap);
  return freed_av(execvp(file, av), av);
}
EXPORT_WRAP int execle(const char *path, const char *arg, ...) {
  va_list ap;
  EXECL_ARGS(arg, ap, av);
  char *const *envp = va_arg(ap, char *const *); /* after the terminating NULL */
  va_end(ap);
  return freed_av(execve(path, av, envp), av);
}

/* For programs linked with the runtime: query whether DSM is active. */
EXPORT int mojave_dsm_active(void) { ensure_init(); return cfg_ok; }
/* Latency probe for benchmarks: one PING round trip to a host's daemon. */
EXPORT int mojave_dsm_ping(const char *host) {
  ensure_init();
  if (!cfg_ok) return -1;
  int h = _moj_cluster_find_host(&C, host);
  if (h < 0) return -1;
  uint8_t b[8] = {0};
  return call(h, MOJ_PING, b, sizeof b, NULL, 0, b, sizeof b, NULL, 0) ? -1 : 0;
}

/* ---------------- process migration (libmojave only) ---------------- */
/* A mojcc program attached to distributed segments migrates
 * (runtime/migrate_frames.c, migrate_state.c; docs/migration.md):
 *  - at the source, __moj_dsm_mig_capture hands every owned page back to its
 *    home (the same records exec() sends), so no page lives only in this
 *    process, and lists the attachments for the image.  The attachments stay
 *    usable: if the hand-off then fails, the program faults its pages back in.
 *    After a successful hand-off the source leaves by _exit(), which detaches
 *    (nothing is owned any more, so nothing can be lost; the home's nattch
 *    drops by one while the destination's attach added one);
 *  - at the destination, __moj_dsm_mig_restore attaches the same segments at
 *    the same addresses before the heap and globals come back, so raw
 *    pointers into them stay valid;
 *  - the sockets, memfds and eventfds of the client do not travel
 *    (__moj_dsm_owns_fd: capture_files skips them).
 * SEM_UNDO adjustments live at the home per connection and would be applied
 * when the source's connection closes: a migration is refused while this
 * process has any (__moj_dsm_mig_undo_pending). */
#ifdef MOJ_IN_RUNTIME
#include "../../migrate/image.h"

int __moj_dsm_owns_fd(int fd) __attribute__((visibility("hidden")));
int __moj_dsm_mig_undo_pending(char *reason, size_t rlen) __attribute__((visibility("hidden")));
int __moj_dsm_mig_capture(moj_img_shm_t **shm, uint32_t *nshm, moj_img_semundo_t **undo, uint32_t *nundo,
                          char *reason, size_t rlen) __attribute__((visibility("hidden")));
int __moj_dsm_mig_restore(const moj_img_shm_t *shm, uint32_t nshm, char *reason, size_t rlen)
    __attribute__((visibility("hidden")));

int __moj_dsm_owns_fd(int fd) {
  if (fd < 0 || !cfg_ok) return 0;
  if (fd == tl_efd) return 1; /* the calling thread's; only it makes calls while others are refused */
  for (int i = 0; i < MOJ_MAX_HOSTS; i++)
    if (H[i].fd == fd) return 1;
  int mine = 0;
  sigset_t om;
  lk(&seg_lock, &om);
  for (struct cseg *s = segs; s && !mine; s = s->next) mine = s->memfd == fd;
  ulk(&seg_lock, &om);
  return mine;
}

int __moj_dsm_mig_undo_pending(char *reason, size_t rlen) {
  if (!cfg_ok) return 0;
  sigset_t om;
  int pending = 0;
  lk(&undo_lock, &om);
  if (undo_overflow) {
    snprintf(reason, rlen, "SEM_UNDO adjustments on more than %d distributed semaphores (not all of them can be "
             "carried)", UNDO_MAX);
    pending = 1;
  }
  ulk(&undo_lock, &om);
  return pending;
}

int __moj_dsm_mig_undo_give(const moj_img_semundo_t *u, uint32_t n, char *reason, size_t rlen)
    __attribute__((visibility("hidden")));

/* The sets this process holds adjustments on: their adjustments leave the
 * source's connections (the home answers with them) into *out.  On failure
 * the ones already taken are given back. */
static int undo_take(moj_img_semundo_t **out, uint32_t *nout, char *reason, size_t rlen) {
  int ids[UNDO_MAX], nid = 0;
  sigset_t om;
  lk(&undo_lock, &om);
  for (int k = 0; k < undo_n; k++) {
    if (!undo_tab[k].adj) continue;
    int seen = 0;
    for (int j = 0; j < nid; j++) seen |= ids[j] == undo_tab[k].id;
    if (!seen) ids[nid++] = undo_tab[k].id;
  }
  ulk(&undo_lock, &om);
  moj_img_semundo_t *v = NULL;
  uint32_t n = 0;
  for (int j = 0; j < nid; j++) {
    struct _moj_undo_q q = {ids[j]};
    static struct _moj_undo_e e[32000];
    size_t rl = 0;
    int st = call(id_host(ids[j]), MOJ_UNDO_TAKE, &q, sizeof q, NULL, 0, e, sizeof e, &rl, 0);
    if (st == EIDRM || st == EINVAL) continue; /* the set is gone: nothing to carry */
    if (st) {
      char ignore[128];
      if (n) __moj_dsm_mig_undo_give(v, n, ignore, sizeof ignore);
      snprintf(reason, rlen, "cannot take the SEM_UNDO adjustments of semaphore set 0x%x from its home: %s",
               (unsigned)ids[j], strerror(st));
      errno = st;
      free(v);
      return -1;
    }
    uint32_t m = (uint32_t)(rl / sizeof e[0]);
    moj_img_semundo_t *nv = realloc(v, (n + m + 1) * sizeof *v);
    if (!nv) { free(v); snprintf(reason, rlen, "out of memory"); errno = ENOMEM; return -1; }
    v = nv;
    for (uint32_t i = 0; i < m; i++) v[n++] = (moj_img_semundo_t){ids[j], e[i].num, e[i].adj};
  }
  *out = v;
  *nout = n;
  return 0;
}

/* Give adjustments (from an image, or back after a failed hand-off) to this
 * process's connections; the local tally follows. */
int __moj_dsm_mig_undo_give(const moj_img_semundo_t *u, uint32_t n, char *reason, size_t rlen) {
  ensure_init();
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i;
    static struct _moj_undo_e e[32000];
    uint32_t m = 0;
    for (; j < n && u[j].semid == u[i].semid && m < 32000; j++) e[m++] = (struct _moj_undo_e){u[j].num, u[j].adj};
    struct _moj_undo_q q = {u[i].semid};
    int st = call(id_host(u[i].semid), MOJ_UNDO_GIVE, &q, sizeof q, e, m * sizeof e[0], NULL, 0, NULL, 0);
    if (st) {
      snprintf(reason, rlen, "cannot give SEM_UNDO adjustments of semaphore set 0x%x to its home: %s",
               (unsigned)u[i].semid, strerror(st));
      errno = st;
      return -1;
    }
    for (uint32_t k = i; k < j; k++) {
      struct sembuf b = {u[k].num, (short)-u[k].adj, SEM_UNDO};
      undo_note(u[k].semid, &b, 1);
    }
    i = j;
  }
  return 0;
}

int __moj_dsm_mig_capture(moj_img_shm_t **shm, uint32_t *nshm, moj_img_semundo_t **undo, uint32_t *nundo,
                          char *reason, size_t rlen) {
  *shm = NULL; *nshm = 0; *undo = NULL; *nundo = 0;
  if (!cfg_ok) return 0;
  if (__moj_dsm_mig_undo_pending(reason, rlen)) { errno = EBUSY; return -1; }
  if (undo_take(undo, nundo, reason, rlen)) return -1;
  for (uint32_t i = 0; i < *nundo; i++) undo_clear((*undo)[i].semid, -1); /* they left this process */
  if (!segs) return 0;
  if (owner_pid != getpid()) { snprintf(reason, rlen, "DSM attachments belong to another process"); errno = EBUSY; return -1; }
  int bad = -1;
  if (handback(&bad)) {
    snprintf(reason, rlen, "cannot hand the DSM pages back to their home %s", bad >= 0 ? C.host[bad].name : "(out of memory)");
    errno = EIO;
    return -1;
  }
  sigset_t om;
  lk(&seg_lock, &om);
  uint32_t n = 0;
  for (struct cseg *s = segs; s; s = s->next) n += (uint32_t)s->nviews;
  moj_img_shm_t *v = calloc(n + 1, sizeof *v);
  uint32_t k = 0;
  for (struct cseg *s = segs; s && v; s = s->next)
    for (int i = 0; i < s->nviews; i++) {
      v[k++] = (moj_img_shm_t){s->id, 0, s->v[i].rdonly ? SHM_RDONLY : 0, (uint64_t)(uintptr_t)s->v[i].addr,
                               (uint64_t)s->size};
    }
  ulk(&seg_lock, &om);
  if (!v) {
    snprintf(reason, rlen, "out of memory listing DSM attachments");
    errno = ENOMEM;
    return -1;
  }
  /* the key, for the record (the id is cluster-wide and is what re-attaches) */
  for (uint32_t j = 0; j < n; j++) {
    struct shmid_ds ds;
    if (shmctl(v[j].shmid, IPC_STAT, &ds) == 0) v[j].key = ds.shm_perm.__key;
  }
  *shm = v;
  *nshm = n;
  return 0;
}

int __moj_dsm_mig_restore(const moj_img_shm_t *shm, uint32_t nshm, char *reason, size_t rlen) {
  for (uint32_t j = 0; j < nshm; j++) {
    const moj_img_shm_t *r = &shm[j];
    void *want = (void *)(uintptr_t)r->addr;
    size_t len = (size_t)((r->size + MOJ_PAGE - 1) / MOJ_PAGE) * MOJ_PAGE;
    if (!is_dist_id(r->shmid)) {
      snprintf(reason, rlen, "segment 0x%x: not a distributed id here (MOJAVE_CLUSTER unset or not this cluster)",
               (unsigned)r->shmid);
      errno = EINVAL;
      return -1;
    }
    /* the address range must be free here: shmat at a fixed address replaces
     * whatever is mapped there */
    void *probe = mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe != want) {
      int e = errno;
      if (probe != MAP_FAILED) munmap(probe, len); /* kernels before 4.17 ignore the flag */
      snprintf(reason, rlen, "segment 0x%x: its address %p..%p is not free here (%s)", (unsigned)r->shmid, want,
               (void *)((char *)want + len), probe == MAP_FAILED ? strerror(e) : "taken");
      errno = EADDRINUSE;
      return -1;
    }
    munmap(probe, len);
    void *got = shmat(r->shmid, want, r->shmflg & SHM_RDONLY);
    if (got != want) {
      snprintf(reason, rlen, "segment 0x%x: cannot attach at %p: %s", (unsigned)r->shmid, want,
               got == (void *)-1 ? strerror(errno) : "attached elsewhere");
      return -1;
    }
  }
  return 0;
}
#endif
