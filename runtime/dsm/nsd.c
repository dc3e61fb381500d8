/* nsd.c — mojave-nsd: per-host daemon that is (a) a nameserver in the key
 * hierarchy (root answers RESOLVE with the home host, delegates own their key
 * ranges) and (b) the home of the System V objects whose keys it owns: the page
 * directory and home copies of shared segments (IVY centralized manager),
 * semaphore sets and message queues.  One epoll loop, no threads: every object
 * is touched by this loop only, which is what makes semop atomic and serialises
 * ownership changes per page without locks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cluster.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_SLOTS 4096
#define MAX_ATT 64     /* processes attached to one segment (copyset is a 64-bit mask) */
#define SEMMSL 32000
#define SEMOPM 500
#define SEMVMX 32767
#define MSGMAX 8192
#define MSGMNB 16384
#define SHMMAX_DSM (1ull << 32)
#define MAX_TX (64u << 20)

static struct _moj_cluster C;
static int self_idx;
static const char *state_dir; /* --state: home copies + metadata survive a daemon restart */
static const char *self_name = "?";
static int debug; /* MOJAVE_NSD_DEBUG=1: trace page traffic */
static int zcomp; /* --compress / MOJAVE_NSD_COMPRESS=1: zstd page transfers */
static uint64_t z_pages, z_raw, z_sent;
/* Fault batching.  A fault on a page idle at home (nobody else holds a copy)
 * also grants the following idle pages: read copies after a read fault, the
 * writable copy after a write fault.  The batch starts at --readahead pages
 * and doubles, up to --readahead-max, while one attachment's faults keep
 * landing just past its previous batch (a scan); any other fault resets it. */
static int ra_pages = 8;      /* --readahead N: first batch (0 = no batching) */
static int ra_max = 64;       /* --readahead-max M: largest batch */
static int wa_on = 1;         /* --no-write-ahead clears it: write faults fetch one page */

static void logm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logm(const char *fmt, ...) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "mojave-nsd[%s] %ld.%03ld ", self_name, (long)ts.tv_sec, ts.tv_nsec / 1000000);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", buf);
}
static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------- connections ---------------- */
struct conn {
  int fd;
  uint32_t gen;
  int authed;
  int64_t t_accept;
  char peer[64];
  char host[32];
  uint32_t pid;
  uint8_t snonce[16];
  uint8_t *rx; size_t rxlen, rxcap;
  uint8_t *tx; size_t txlen, txoff, txcap;
  int want_out;
  struct undo *undos;
  uint32_t fetch_seq;
};
struct cref { int fd; uint32_t gen; };
static struct conn *conns[65536];
static uint32_t gen_ctr = 1;
static int epfd;
static int maxfd;

static struct conn *cget(struct cref r) {
  if (r.fd < 0 || r.fd >= 65536) return NULL;
  struct conn *c = conns[r.fd];
  return c && c->gen == r.gen ? c : NULL;
}
static struct cref cref_of(struct conn *c) { return (struct cref){c->fd, c->gen}; }

static void conn_close(struct conn *c, const char *why);

static void flush_out(struct conn *c) {
  while (c->txoff < c->txlen) {
    ssize_t w = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return; /* reader side will see the error and close */
    }
    c->txoff += (size_t)w;
  }
  if (c->txoff == c->txlen) c->txoff = c->txlen = 0;
  int want = c->txlen > 0;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
}
static void sendm(struct conn *c, uint16_t type, uint32_t seq, int32_t status, uint32_t aux,
                  const void *p1, size_t l1, const void *p2, size_t l2) {
  if (!c) return;
  if (c->txlen + 24 + l1 + l2 > MAX_TX) {
    conn_close(c, "peer does not read its replies (tx buffer limit)");
    return;
  }
  size_t need = c->txlen + 24 + l1 + l2;
  if (need > c->txcap) {
    size_t nc = c->txcap ? c->txcap : 8192;
    while (nc < need) nc *= 2;
    c->tx = realloc(c->tx, nc);
    c->txcap = nc;
  }
  struct _moj_hdr h;
  _moj_hdr_init(&h, type, (uint32_t)(l1 + l2), seq, status);
  h.aux = aux;
  memcpy(c->tx + c->txlen, &h, 24);
  if (l1) memcpy(c->tx + c->txlen + 24, p1, l1);
  if (l2) memcpy(c->tx + c->txlen + 24 + l1, p2, l2);
  c->txlen = need;
  flush_out(c);
}
static void reply(struct conn *c, const struct _moj_hdr *rq, int32_t status, const void *p, size_t l) {
  sendm(c, (uint16_t)(rq->type | MOJ_REPLY), rq->seq, status, 0, p, l, NULL, 0);
}

/* ---------------- permissions (Linux ipcperms) ---------------- */
struct perm { int32_t key; uint32_t uid, gid, cuid, cgid, mode; };
static int perm_ok(const struct perm *p, const struct _moj_cred *cr, int flag) {
  if (cr->uid == 0) return 1; /* CAP_IPC_OWNER */
  int req = (flag >> 6) | (flag >> 3) | flag;
  int granted = (int)p->mode;
  if (cr->uid == p->cuid || cr->uid == p->uid) granted >>= 6;
  else if (cr->gid == p->cgid || cr->gid == p->gid) granted >>= 3;
  return !((req & ~granted) & 0007);
}
static int is_owner(const struct perm *p, const struct _moj_cred *cr) {
  return cr->uid == 0 || cr->uid == p->uid || cr->uid == p->cuid;
}

/* ---------------- waiters (blocked semop / msgsnd / msgrcv) ---------------- */
static int timed_waiters; /* upper bound on waiters with a deadline */
struct waiter {
  struct cref c;
  uint32_t seq;
  uint16_t type;
  int64_t deadline; /* 0 = none */
  uint8_t *req; size_t reqlen; /* copy of the request payload, re-run on every change */
  struct waiter *next;
};

/* ---------------- shared memory ---------------- */
struct page {
  uint8_t claimed;   /* recovery: the owner re-registered it as writable */
  uint8_t busy;
  uint8_t want_data;
  uint8_t clean;     /* owned through write-ahead, no MOJ_PAGE_DIRTY yet: the home copy is still current */
  uint64_t copyset;  /* attachment slots holding read-only copies */
  uint64_t waitmask; /* slots whose PAGE_FETCH reply we still await */
  int fetch_from;    /* slot we asked for data */
  struct cref req_c; uint32_t req_seq; int req_slot; uint32_t req_acc; /* current transaction */
  struct pq { struct cref c; uint32_t seq; uint32_t acc; struct pq *next; } *q, *qt;
};
struct ra { uint32_t next, win; }; /* per attachment and direction: where a scan would fault next, batch size */
struct att { struct cref c; int count; struct ra ra[2]; };
struct who { char host[32]; uint32_t pid; };
struct shm {
  int used, removed;
  int8_t *own;       /* per page: attachment slot holding the only (writable) copy; -1 home copy valid; -2 lost.
                        Persisted (mapped file) with --state so a restarted home knows who owns what. */
  struct who who[MAX_ATT]; /* which process holds each attachment slot (persisted) */
  int recovering;    /* restored after a restart: page requests wait until the former attachers re-register */
  uint64_t returned; /* recovery: slots that re-registered */
  int64_t recover_until;
  struct perm perm;
  uint64_t size; uint32_t npages;
  uint8_t *home;
  struct page *pg;
  struct att att[MAX_ATT];
  int64_t atime, dtime, ctime;
  uint32_t cpid, lpid;
};
static struct shm *shms[MAX_SLOTS];

/* ---------------- semaphores ---------------- */
struct sem {
  int used;
  uint32_t gen;
  struct perm perm;
  int nsems;
  uint16_t *val; uint32_t *pid;
  int64_t otime, ctime;
  struct waiter *w;
};
static struct sem *sems[MAX_SLOTS];
struct undo { int slot; uint32_t gen; int16_t *adj; int nsems; struct undo *next; };

/* ---------------- message queues ---------------- */
struct msg { int64_t type; uint32_t size; struct msg *next; uint8_t data[]; };
struct mq {
  int used;
  struct perm perm;
  struct msg *head, *tail;
  uint64_t qbytes, cbytes, qnum;
  int64_t stime, rtime, ctime;
  uint32_t lspid, lrpid;
  struct waiter *w;
};
static struct mq *mqs[MAX_SLOTS];

static int64_t wall(void) { return (int64_t)time(NULL); }

/* ---------------- page directory (IVY centralized manager) ---------------- */
static int att_slot(struct shm *s, struct conn *c) {
  for (int i = 0; i < MAX_ATT; i++)
    if (s->att[i].count && s->att[i].c.fd == c->fd && s->att[i].c.gen == c->gen) return i;
  return -1;
}
/* has_data = number of consecutive pages carried (pn, pn+1, ...), 0 for none */
static void page_send_n(struct conn *c, uint32_t seq, int32_t st, int id, uint32_t pn, uint32_t acc, const uint8_t *data, uint32_t n) {
  struct _moj_page p = {id, pn, acc, data ? n : 0};
  size_t raw = data ? (size_t)n * MOJ_PAGE : 0;
  if (zcomp && data) {
    /* sent compressed only when it saves at least 1/8: incompressible pages
     * would just cost CPU at both ends */
    static uint8_t zbuf[(64 + 2) * MOJ_PAGE + 1024];
    size_t zl = ZSTD_compress(zbuf, sizeof zbuf, data, raw, 1);
    if (!ZSTD_isError(zl) && zl < raw - raw / 8) {
      p.has_data |= MOJ_PAGE_ZSTD;
      z_pages += n; z_raw += raw; z_sent += zl;
      sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, seq, st, 0, &p, sizeof p, zbuf, zl);
      return;
    }
  }
  sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, seq, st, 0, &p, sizeof p, data, raw);
}
static void page_send(struct conn *c, uint32_t seq, int32_t st, int id, uint32_t pn, uint32_t acc, const uint8_t *data) {
  page_send_n(c, seq, st, id, pn, acc, data, 1);
}
static void fetch_send(struct shm *s, int id, uint32_t pn, int slot, uint32_t newacc, int want) {
  struct conn *o = cget(s->att[slot].c);
  s->pg[pn].waitmask |= 1ull << slot;
  struct _moj_page p = {id, pn, newacc, (uint32_t)want};
  if (debug) logm("PAGE_FETCH -> slot %d (%s) id=0x%x page %u newacc %u want %d", slot, o ? o->host : "gone", id, pn, newacc, want);
  if (o) sendm(o, MOJ_PAGE_FETCH, ++o->fetch_seq, 0, 0, &p, sizeof p, NULL, 0);
}

static void page_run(struct shm *s, int id, uint32_t pn);

/* Largest batch for a fault of attachment slot at pn (dir 0 read, 1 write):
 * a scan (pn just past the previous batch; one page of slack for strides a
 * little over a page) doubles the window, anything else starts over. */
static uint32_t ra_window(struct shm *s, int slot, int dir, uint32_t pn) {
  struct ra *r = &s->att[slot].ra[dir];
  if (ra_pages <= 0) return 0;
  if (r->win && pn >= r->next && pn <= r->next + 1) r->win = r->win * 2 > (uint32_t)ra_max ? (uint32_t)ra_max : r->win * 2;
  else r->win = (uint32_t)ra_pages;
  return r->win;
}
/* Record the batch actually sent, so the next fault can be recognised as a scan. */
static void ra_sent(struct shm *s, int slot, int dir, uint32_t pn, uint32_t n) { s->att[slot].ra[dir].next = pn + n; }
/* Write-ahead hands out only pages nobody holds or waits for. */
static int wa_free(struct shm *s, uint32_t pn) {
  struct page *pk = &s->pg[pn];
  return s->own[pn] == -1 && !pk->busy && !pk->q && pk->copyset == 0;
}

/* Finish the current transaction: the requester receives the page with the access it asked for. */
static void page_complete(struct shm *s, int id, uint32_t pn) {
  struct page *p = &s->pg[pn];
  struct conn *rc = cget(p->req_c);
  int slot = rc ? att_slot(s, rc) : -1;
  const uint8_t *home = s->home + (size_t)pn * MOJ_PAGE;
  p->busy = 0;
  if (s->own[pn] == -2) {
    if (rc) page_send(rc, p->req_seq, EIO, id, pn, 0, NULL);
  } else if (slot < 0) {
    /* requester vanished meanwhile: the home copy is current, nobody owns it */
    s->own[pn] = -1;
  } else if (p->req_acc == MOJ_ACC_READ) {
    p->copyset |= 1ull << slot;
    page_send(rc, p->req_seq, 0, id, pn, MOJ_ACC_READ, home);
  } else {
    int had = (p->copyset >> slot) & 1;
    s->own[pn] = (int8_t)slot;
    p->copyset = 0;
    uint32_t n = 1;
    if (!had && wa_on) {
      /* write-ahead: following pages nobody holds become ours too (a scan
       * writing a fresh buffer pays one round trip per batch, not per page) */
      uint32_t w = ra_window(s, slot, 1, pn);
      while (n <= w && pn + n < s->npages && wa_free(s, pn + n)) {
        s->own[pn + n] = (int8_t)slot;
        s->pg[pn + n].clean = 1;
        n++;
      }
      ra_sent(s, slot, 1, pn, n);
    }
    p->clean = 0;
    page_send_n(rc, p->req_seq, 0, id, pn, n > 1 ? MOJ_ACC_AHEAD : MOJ_ACC_WRITE, had ? NULL : home, n);
  }
  page_run(s, id, pn);
}

/* Start queued requests on a page until one has to wait for a client. */
static void page_run(struct shm *s, int id, uint32_t pn) {
  struct page *p = &s->pg[pn];
  if (s->recovering) return; /* served once the former attachers re-registered */
  while (!p->busy && p->q) {
    struct pq *r = p->q;
    p->q = r->next;
    if (!p->q) p->qt = NULL;
    struct conn *rc = cget(r->c);
    int slot = rc ? att_slot(s, rc) : -1;
    uint32_t acc = r->acc, seq = r->seq;
    free(r);
    if (slot < 0) {
      if (rc) page_send(rc, seq, EINVAL, id, pn, 0, NULL);
      continue;
    }
    if (s->own[pn] == -2) { page_send(rc, seq, EIO, id, pn, 0, NULL); continue; }
    p->req_c = cref_of(rc); p->req_seq = seq; p->req_slot = slot; p->req_acc = acc;
    if (s->own[pn] == slot) { /* already exclusive: spurious or racing fault */
      page_send(rc, seq, 0, id, pn, MOJ_ACC_WRITE, NULL);
      continue;
    }
    if (acc == MOJ_ACC_READ) {
      if (s->own[pn] == -1) {
        p->copyset |= 1ull << slot;
        /* read-ahead: the following pages that sit idle at home go along as
         * read copies in the same reply (home copies are contiguous), so a
         * scan pays one round trip, one wake-up and one mprotect per batch */
        uint32_t n = 1, w = ra_window(s, slot, 0, pn);
        while (n <= w && pn + n < s->npages) {
          struct page *pk = &s->pg[pn + n];
          if (s->own[pn + n] != -1 || pk->busy || pk->q || ((pk->copyset >> slot) & 1)) break;
          pk->copyset |= 1ull << slot;
          n++;
        }
        ra_sent(s, slot, 0, pn, n);
        page_send_n(rc, seq, 0, id, pn, MOJ_ACC_READ, s->home + (size_t)pn * MOJ_PAGE, n);
        continue;
      }
      p->busy = 1; p->fetch_from = s->own[pn]; p->want_data = 1;
      fetch_send(s, id, pn, s->own[pn], MOJ_ACC_READ, 1);
      return;
    }
    if (s->own[pn] >= 0) {
      p->busy = 1; p->fetch_from = s->own[pn]; p->want_data = 1;
      fetch_send(s, id, pn, s->own[pn], MOJ_ACC_NONE, 1);
      return;
    }
    uint64_t others = p->copyset & ~(1ull << slot);
    if (!others) { p->busy = 1; page_complete(s, id, pn); return; }
    p->busy = 1; p->fetch_from = -1; p->want_data = 0; p->waitmask = 0;
    for (int i = 0; i < MAX_ATT; i++)
      if ((others >> i) & 1) {
        if (s->att[i].count && cget(s->att[i].c)) fetch_send(s, id, pn, i, MOJ_ACC_NONE, 0);
        p->copyset &= ~(1ull << i);
      }
    if (p->waitmask == 0) { page_complete(s, id, pn); return; }
    return;
  }
}

/* A client answered a PAGE_FETCH, or never will: it detached (data == NULL, dead == 0:
 * its SHMDT already refreshed the home copy) or crashed (dead == 1). */
static void page_fetched(struct shm *s, int id, uint32_t pn, int from_slot, const uint8_t *data, int dead) {
  struct page *p = &s->pg[pn];
  if (!p->busy || !((p->waitmask >> from_slot) & 1)) return;
  p->waitmask &= ~(1ull << from_slot);
  if (p->want_data) {
    if (data) memcpy(s->home + (size_t)pn * MOJ_PAGE, data, MOJ_PAGE);
    else if (dead && !p->clean) s->own[pn] = -2; /* the only up-to-date copy died with its process */
    p->clean = 0;
    if (s->own[pn] != -2) {
      int keep = p->req_acc == MOJ_ACC_READ && data != NULL;
      s->own[pn] = -1;
      p->copyset = keep ? (1ull << from_slot) : 0;
    }
    page_complete(s, id, pn);
  } else if (p->waitmask == 0) {
    page_complete(s, id, pn);
  }
}


/* ---- persistence: a restarted home must not lose segments still attached.
 * The home copy of every page lives in a MAP_SHARED file, so even data fetched
 * from an owner an instant before a crash is on disk; metadata is rewritten
 * (write + rename) whenever it changes, and the per-page owner array is a
 * mapped file too.  Read copies are not persisted: the attached clients
 * re-register what they hold (REATTACH) after reconnecting. */
struct shm_meta { uint32_t magic; int32_t key; uint32_t uid, gid, cuid, cgid, mode; int32_t removed;
                  uint64_t size; int64_t atime, dtime, ctime; uint32_t cpid, lpid; struct who who[MAX_ATT]; };
#define META_MAGIC 0x4d4a534du
static void state_path(char *buf, size_t n, int slot, const char *ext) {
  snprintf(buf, n, "%s/shm-%d.%s", state_dir, slot, ext);
}
static void shm_save_meta(int slot) {
  struct shm *s = shms[slot];
  if (!state_dir || !s) return;
  struct shm_meta m = {META_MAGIC, s->perm.key, s->perm.uid, s->perm.gid, s->perm.cuid, s->perm.cgid, s->perm.mode,
                       s->removed, s->size, s->atime, s->dtime, s->ctime, s->cpid, s->lpid, {{{0}, 0}}};
  memcpy(m.who, s->who, sizeof m.who);
  char tmp[700], fin[600];
  state_path(fin, sizeof fin, slot, "meta");
  snprintf(tmp, sizeof tmp, "%s.tmp", fin);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, &m, sizeof m) != (ssize_t)sizeof m || close(fd) || rename(tmp, fin))
    logm("cannot save segment metadata %s: %s", fin, strerror(errno));
}
/* Home copy storage: a file in the state dir when persistent, else anonymous memory. */
static uint8_t *home_map(int slot, size_t bytes, int keep, const char *ext) {
  if (!state_dir) return keep ? NULL : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char path[600];
  state_path(path, sizeof path, slot, ext);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC), 0600);
  if (fd < 0 || ftruncate(fd, (off_t)bytes)) { logm("cannot create %s: %s", path, strerror(errno)); if (fd >= 0) close(fd); return MAP_FAILED; }
  uint8_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p;
}

static void shm_destroy(int slot) {
  struct shm *s = shms[slot];
  for (uint32_t i = 0; i < s->npages; i++)
    while (s->pg[i].q) { struct pq *r = s->pg[i].q; s->pg[i].q = r->next; free(r); }
  free(s->pg);
  munmap(s->home, (size_t)s->npages * MOJ_PAGE);
  munmap(s->own, s->npages);
  if (state_dir) {
    char path[600];
    state_path(path, sizeof path, slot, "meta"); unlink(path);
    state_path(path, sizeof path, slot, "pages"); unlink(path);
    state_path(path, sizeof path, slot, "owners"); unlink(path);
  }
  free(s);
  shms[slot] = NULL;
}
static int shm_nattch(struct shm *s) {
  int n = 0;
  for (int i = 0; i < MAX_ATT; i++) n += s->att[i].count;
  return n;
}

/* Detach every attachment of connection c from segment slot (or one if !all).  Pages
 * the process still owned are either supplied (clean detach) or lost (crash). */
static void shm_detach(int slot, struct conn *c, int all, int crashed) {
  struct shm *s = shms[slot];
  int a = att_slot(s, c);
  if (a < 0) return;
  s->att[a].count = all ? 0 : s->att[a].count - 1;
  s->dtime = wall();
  s->lpid = c->pid;
  if (s->att[a].count == 0) {
    int id = MOJ_ID_MAKE(self_idx, slot);
    memset(&s->who[a], 0, sizeof s->who[a]);
    shm_save_meta(slot);
    for (uint32_t pn = 0; pn < s->npages; pn++) {
      struct page *p = &s->pg[pn];
      p->copyset &= ~(1ull << a);
      if (p->busy && ((p->waitmask >> a) & 1)) page_fetched(s, id, pn, a, NULL, crashed);
      else if (s->own[pn] == a) s->own[pn] = crashed && !p->clean ? -2 : -1;
      if (s->own[pn] < 0) p->clean = 0;
    }
    if (crashed) {
      int lost = 0;
      for (uint32_t pn = 0; pn < s->npages; pn++) lost += s->own[pn] == -2;
      if (lost) logm("segment id=0x%x: %d page(s) lost with crashed pid %u on %s", id, lost, c->pid, c->host);
    }
  }
  if (s->removed && shm_nattch(s) == 0) shm_destroy(slot);
}

static int find_by_key_shm(int32_t key) {
  for (int i = 0; i < MAX_SLOTS; i++)
    if (shms[i] && !shms[i]->removed && shms[i]->perm.key == key) return i;
  return -1;
}
static int free_slot(void **tab) {
  for (int i = 1; i < MAX_SLOTS; i++) /* slot 0 unused: keeps ids != MOJ_ID_FLAG alone */
    if (!tab[i]) return i;
  return -1;
}
static struct shm *shm_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !shms[sl]) return NULL;
  *slot = sl;
  return shms[sl];
}

#define NEED(T) \
  if (h->len < sizeof(T)) { logm("%s from %s: payload %u < %zu bytes, rejected", _moj_type_name(h->type), c->peer, h->len, sizeof(T)); reply(c, h, EPROTO, NULL, 0); return; }

/* Only a key's home may create or look it up: a client that asks another
 * daemon (cluster files that differ between hosts) must not split the
 * namespace.  Returns 0 after refusing. */
static int key_is_mine(struct conn *c, const struct _moj_hdr *h, int32_t key) {
  if (key == 0 || _moj_cluster_home(&C, key) == self_idx) return 1; /* IPC_PRIVATE: created where asked */
  logm("%s from %s: key 0x%x is not homed here (do the cluster files differ?), refused", _moj_type_name(h->type), c->peer, (unsigned)key);
  reply(c, h, EREMOTE, NULL, 0);
  return 0;
}
static void do_shmget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmget);
  struct _moj_shmget q; memcpy(&q, pl, sizeof q);
  if (!key_is_mine(c, h, q.key)) return;
  int sl = find_by_key_shm(q.key);
  if (sl >= 0) {
    struct shm *s = shms[sl];
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&s->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    if (q.size > s->size) { reply(c, h, EINVAL, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { reply(c, h, ENOENT, NULL, 0); return; }
  if (q.size < 1 || q.size > SHMMAX_DSM) { reply(c, h, EINVAL, NULL, 0); return; }
  sl = free_slot((void **)shms);
  if (sl < 0) { reply(c, h, ENOSPC, NULL, 0); return; }
  struct shm *s = calloc(1, sizeof *s);
  s->used = 1;
  s->perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  s->size = q.size;
  s->npages = (uint32_t)((q.size + MOJ_PAGE - 1) / MOJ_PAGE);
  s->home = home_map(sl, (size_t)s->npages * MOJ_PAGE, 0, "pages");
  s->own = (int8_t *)home_map(sl, s->npages, 0, "owners");
  s->pg = calloc(s->npages, sizeof *s->pg);
  if (s->home == MAP_FAILED || (uint8_t *)s->own == MAP_FAILED || !s->pg) {
    if (s->home != MAP_FAILED) munmap(s->home, (size_t)s->npages * MOJ_PAGE);
    if ((uint8_t *)s->own != MAP_FAILED) munmap(s->own, s->npages);
    free(s->pg); free(s); reply(c, h, ENOMEM, NULL, 0); return;
  }
  for (uint32_t i = 0; i < s->npages; i++) s->own[i] = -1;
  s->ctime = wall();
  s->cpid = q.cred.pid;
  shms[sl] = s;
  shm_save_meta(sl);
  struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
  logm("shmget key=0x%x size=%llu -> id=0x%x (by %s pid %u)", q.key, (unsigned long long)q.size, r.id, c->host, c->pid);
  reply(c, h, 0, &r, sizeof r);
}
static void do_shmat(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmat);
  struct _moj_shmat q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s) { reply(c, h, EINVAL, NULL, 0); return; }
  int flag = (q.flags & SHM_RDONLY) ? 0444 : 0666;
  if (!perm_ok(&s->perm, &q.cred, flag)) { reply(c, h, EACCES, NULL, 0); return; }
  int a = att_slot(s, c);
  if (a < 0) {
    for (a = 0; a < MAX_ATT && s->att[a].count; a++) {}
    if (a == MAX_ATT) { reply(c, h, ENOSPC, NULL, 0); return; } /* documented limit */
    /* a recycled slot must not inherit rights from its previous user */
    for (uint32_t pn = 0; pn < s->npages; pn++) s->pg[pn].copyset &= ~(1ull << a);
    s->att[a].c = cref_of(c);
    memset(s->att[a].ra, 0, sizeof s->att[a].ra);
    memcpy(s->who[a].host, c->host, 32);
    s->who[a].pid = c->pid;
    shm_save_meta(sl);
  }
  s->att[a].count++;
  s->atime = wall();
  s->lpid = q.cred.pid;
  struct _moj_shmat_r r = {s->size};
  reply(c, h, 0, &r, sizeof r);
}
/* SHMDT payload: _moj_shmdt then, on the process's last detach, (u32 page + data)
 * for every page it held writable, so the home copy stays current. */
static void do_shmdt(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmdt);
  struct _moj_shmdt q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  int a = s ? att_slot(s, c) : -1;
  if (a < 0) { reply(c, h, EINVAL, NULL, 0); return; }
  size_t off = sizeof q, rec = 4 + MOJ_PAGE;
  if ((h->len - off) % rec) { logm("SHMDT from %s: trailing bytes, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
  for (; off < h->len; off += rec) {
    uint32_t pn; memcpy(&pn, pl + off, 4);
    if (pn >= s->npages) continue;
    struct page *p = &s->pg[pn];
    if (s->own[pn] == a || (p->busy && p->want_data && p->fetch_from == a)) {
      memcpy(s->home + (size_t)pn * MOJ_PAGE, pl + off + 4, MOJ_PAGE);
      if (s->own[pn] == a) s->own[pn] = -1;
      p->clean = 0;
    }
  }
  if (h->aux & 1) return; /* more page records follow; the last message detaches */
  shm_detach(sl, c, 0, 0);
  reply(c, h, 0, NULL, 0);
}
static void fill_perm(struct _moj_stat_r *r, const struct perm *p) {
  r->key = p->key; r->uid = p->uid; r->gid = p->gid; r->cuid = p->cuid; r->cgid = p->cgid; r->mode = p->mode;
}
static void do_shmctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s) { reply(c, h, EINVAL, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  switch (q.cmd) {
  case IPC_STAT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    fill_perm(&r, &s->perm);
    if (s->removed) r.mode |= SHM_DEST;
    r.size = s->size; r.atime = s->atime; r.dtime = s->dtime; r.ctime = s->ctime;
    r.cpid = s->cpid; r.lpid = s->lpid; r.nattch = (uint64_t)shm_nattch(s);
    reply(c, h, 0, &r, sizeof r);
    return;
  case IPC_SET:
    if (!is_owner(&s->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    s->perm.uid = q.set_uid; s->perm.gid = q.set_gid; s->perm.mode = q.set_mode & 0777;
    s->ctime = wall();
    shm_save_meta(sl);
    reply(c, h, 0, NULL, 0);
    return;
  case IPC_RMID:
    if (!is_owner(&s->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    s->removed = 1;
    s->perm.key = IPC_PRIVATE;
    shm_save_meta(sl);
    logm("shm id=0x%x marked for removal (nattch=%d)", q.id, shm_nattch(s));
    if (shm_nattch(s) == 0) shm_destroy(sl);
    reply(c, h, 0, NULL, 0);
    return;
  default:
    reply(c, h, EINVAL, NULL, 0);
  }
}

/* End of recovery for a restored segment: pages owned by a process that did not
 * come back are lost; pages whose owner came back without claiming them were
 * handed over in the crash window and the (persisted) home copy is current. */
static void finish_recovery(int sl) {
  struct shm *s = shms[sl];
  int id = MOJ_ID_MAKE(self_idx, sl), lost = 0;
  s->recovering = 0;
  for (uint32_t pn = 0; pn < s->npages; pn++) {
    int o = s->own[pn];
    if (o >= 0 && !((s->returned >> o) & 1)) { s->own[pn] = -2; lost++; }
    else if (o >= 0 && !s->pg[pn].claimed) s->own[pn] = -1;
    s->pg[pn].claimed = 0;
  }
  for (int a = 0; a < MAX_ATT; a++)
    if (s->who[a].pid && !((s->returned >> a) & 1)) memset(&s->who[a], 0, sizeof s->who[a]);
  shm_save_meta(sl);
  logm("segment id=0x%x: recovery complete (%d page(s) lost with processes that did not return)", id, lost);
  for (uint32_t pn = 0; pn < s->npages; pn++) page_run(s, id, pn);
}
static void check_recovery_deadlines(void) {
  int64_t t = now_ns();
  for (int i = 0; i < MAX_SLOTS; i++)
    if (shms[i] && shms[i]->recovering && t > shms[i]->recover_until) finish_recovery(i);
}

/* REATTACH: a client that was attached before this daemon restarted re-registers
 * its attachment and the pages it holds.  Payload: _moj_reattach, then records
 * {u32 page, u32 access, 4096 bytes}; aux = 1 means more records follow.  The
 * process gets back its former attachment slot (matched by host and pid), so
 * the persisted owner array stays meaningful. */
static void do_reattach(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_reattach);
  struct _moj_reattach q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s) { if (!(h->aux & 1)) reply(c, h, EIDRM, &q.id, sizeof q.id); return; }
  size_t off = sizeof q, rec = 8 + MOJ_PAGE;
  if ((h->len - off) % rec) { logm("REATTACH from %s: trailing bytes, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
  int a = att_slot(s, c);
  if (a < 0) {
    for (a = 0; a < MAX_ATT; a++)
      if (s->who[a].pid == c->pid && !strncmp(s->who[a].host, c->host, 32) && !s->att[a].count) break;
    if (a == MAX_ATT) { /* not a former attacher (a fork()ed child): needs the rights of a fresh shmat */
      if (!perm_ok(&s->perm, &q.cred, 0444)) { reply(c, h, EACCES, &q.id, sizeof q.id); return; }
      for (a = 0; a < MAX_ATT && (s->att[a].count || s->who[a].pid); a++) {}
    }
    if (a == MAX_ATT) { reply(c, h, ENOSPC, &q.id, sizeof q.id); return; }
    s->att[a].c = cref_of(c);
    memset(s->att[a].ra, 0, sizeof s->att[a].ra);
    s->att[a].count = (int)(q.count ? q.count : 1);
    memcpy(s->who[a].host, c->host, 32);
    s->who[a].pid = c->pid;
  }
  for (; off < h->len; off += rec) {
    uint32_t pn, acc;
    memcpy(&pn, pl + off, 4); memcpy(&acc, pl + off + 4, 4);
    if (pn >= s->npages) continue;
    struct page *p = &s->pg[pn];
    int ok;
    if (acc == MOJ_ACC_WRITE) {
      ok = s->own[pn] == a;
      if (ok) { p->claimed = 1; memcpy(s->home + (size_t)pn * MOJ_PAGE, pl + off + 8, MOJ_PAGE); }
    } else {
      ok = s->own[pn] == -1;
      if (ok) p->copyset |= 1ull << a;
    }
    if (!ok) { /* contradicts the persisted directory: revoke this copy (no reply awaited) */
      struct _moj_page f = {q.id, pn, MOJ_ACC_NONE, 0};
      sendm(c, MOJ_PAGE_FETCH, ++c->fetch_seq, 0, 0, &f, sizeof f, NULL, 0);
    }
  }
  if (h->aux & 1) return;
  s->returned |= 1ull << a;
  shm_save_meta(sl);
  logm("segment id=0x%x: %s pid %u re-attached after restart", q.id, c->host, c->pid);
  reply(c, h, 0, &q.id, sizeof q.id);
  if (s->recovering) {
    int all = 1;
    for (int i = 0; i < MAX_ATT; i++)
      if (s->who[i].pid && !((s->returned >> i) & 1)) all = 0;
    if (all) finish_recovery(sl);
  }
}

static void do_page_req(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_page_req);
  struct _moj_page_req q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s || q.page >= s->npages || (q.access != MOJ_ACC_READ && q.access != MOJ_ACC_WRITE) || att_slot(s, c) < 0) {
    logm("PAGE_REQ from %s: bad id/page/access (0x%x/%u/%u), rejected", c->peer, q.id, q.page, q.access);
    page_send(c, h->seq, EINVAL, q.id, q.page, 0, NULL);
    return;
  }
  if (debug) logm("PAGE_REQ %s pid %u id=0x%x page %u acc %u (owner %d copyset %llx busy %d recovering %d)", c->host, c->pid,
                  q.id, q.page, q.access, s->own[q.page], (unsigned long long)s->pg[q.page].copyset, s->pg[q.page].busy, s->recovering);
  struct pq *r = malloc(sizeof *r);
  *r = (struct pq){cref_of(c), h->seq, q.access, NULL};
  struct page *p = &s->pg[q.page];
  if (p->qt) p->qt->next = r; else p->q = r;
  p->qt = r;
  page_run(s, q.id, q.page);
}
/* PAGE_DIRTY (no reply): the owner is about to store to a write-ahead page,
 * so from now on only its copy is current. */
static void do_page_dirty(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (h->len < sizeof(struct _moj_page_req)) { logm("PAGE_DIRTY from %s: payload %u bytes, rejected", c->peer, h->len); return; }
  struct _moj_page_req q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  int a = s && q.page < s->npages ? att_slot(s, c) : -1;
  if (a < 0 || s->own[q.page] != a) {
    logm("PAGE_DIRTY from %s: id 0x%x page %u is not owned by it, ignored", c->peer, q.id, q.page);
    return;
  }
  s->pg[q.page].clean = 0;
}
static void do_fetch_reply(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_page);
  struct _moj_page q; memcpy(&q, pl, sizeof q);
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s || q.page >= s->npages) return; /* segment gone meanwhile: nothing waits */
  int a = att_slot(s, c);
  if (a < 0) return; /* detached before answering: shm_detach already settled it */
  const uint8_t *data = NULL;
  static uint8_t unz[MOJ_PAGE];
  if (q.has_data & MOJ_PAGE_ZSTD) {
    size_t r = ZSTD_decompress(unz, sizeof unz, pl + sizeof q, h->len - sizeof q);
    if (ZSTD_isError(r) || r != MOJ_PAGE) { logm("PAGE_FETCH reply from %s: bad zstd frame, rejected", c->peer); return; }
    data = unz;
  } else if (q.has_data) {
    if (h->len != sizeof q + MOJ_PAGE) { logm("PAGE_FETCH reply from %s: wrong length %u, rejected", c->peer, h->len); return; }
    data = pl + sizeof q;
  }
  page_fetched(s, q.id, q.page, a, data, 0);
}

/* ---------------- semaphores ---------------- */
static struct sem *sem_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !sems[sl]) return NULL;
  *slot = sl;
  return sems[sl];
}
static void do_semget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_semget);
  struct _moj_semget q; memcpy(&q, pl, sizeof q);
  if (!key_is_mine(c, h, q.key)) return;
  for (int i = 0; i < MAX_SLOTS; i++) {
    struct sem *s = sems[i];
    if (!s || s->perm.key != q.key) continue;
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&s->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    if (q.nsems < 0 || q.nsems > s->nsems) { reply(c, h, EINVAL, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, i)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { reply(c, h, ENOENT, NULL, 0); return; }
  if (q.nsems <= 0 || q.nsems > SEMMSL) { reply(c, h, EINVAL, NULL, 0); return; }
  int sl = free_slot((void **)sems);
  if (sl < 0) { reply(c, h, ENOSPC, NULL, 0); return; }
  struct sem *s = calloc(1, sizeof *s);
  s->used = 1;
  s->gen = gen_ctr++;
  s->perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  s->nsems = q.nsems;
  s->val = calloc((size_t)q.nsems, sizeof *s->val);
  s->pid = calloc((size_t)q.nsems, sizeof *s->pid);
  s->ctime = wall();
  sems[sl] = s;
  struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
  reply(c, h, 0, &r, sizeof r);
}
static struct undo *undo_for(struct conn *c, int slot, struct sem *s) {
  for (struct undo *u = c->undos; u; u = u->next)
    if (u->slot == slot && u->gen == s->gen) return u;
  struct undo *u = calloc(1, sizeof *u);
  u->slot = slot; u->gen = s->gen; u->nsems = s->nsems;
  u->adj = calloc((size_t)s->nsems, sizeof *u->adj);
  u->next = c->undos;
  c->undos = u;
  return u;
}
/* Try a semop atomically: returns 0 done, -1 must block, >0 errno. */
static int sem_try(struct conn *c, int slot, struct sem *s, const struct _moj_semop *q, const struct _moj_sembuf *ops) {
  int16_t tmp[SEMOPM];
  uint32_t n = q->nsops;
  for (uint32_t i = 0; i < n; i++) {
    int v = s->val[ops[i].num];
    for (uint32_t j = 0; j < i; j++) /* earlier ops in the same call already applied */
      if (ops[j].num == ops[i].num) v += ops[j].op;
    if (ops[i].op == 0) { if (v != 0) return (ops[i].flg & IPC_NOWAIT) ? EAGAIN : -1; }
    else if (ops[i].op < 0) { if (v + ops[i].op < 0) return (ops[i].flg & IPC_NOWAIT) ? EAGAIN : -1; }
    else if (v + ops[i].op > SEMVMX) return ERANGE;
    tmp[i] = (int16_t)(v + ops[i].op);
  }
  for (uint32_t i = 0; i < n; i++) {
    s->val[ops[i].num] = (uint16_t)tmp[i];
    s->pid[ops[i].num] = q->cred.pid;
    if ((ops[i].flg & SEM_UNDO) && c) undo_for(c, slot, s)->adj[ops[i].num] -= ops[i].op;
  }
  s->otime = wall();
  return 0;
}
static void sem_wake(int slot) {
  struct sem *s = sems[slot];
  int progress = 1;
  while (progress && s) {
    progress = 0;
    for (struct waiter **pw = &s->w; *pw;) {
      struct waiter *w = *pw;
      struct conn *wc = cget(w->c);
      if (!wc) { *pw = w->next; free(w->req); free(w); continue; }
      const struct _moj_semop *q = (const void *)w->req;
      int r = sem_try(wc, slot, s, q, (const void *)(w->req + sizeof *q));
      if (r == -1) { pw = &w->next; continue; }
      *pw = w->next;
      sendm(wc, MOJ_SEMOP | MOJ_REPLY, w->seq, r, 0, NULL, 0, NULL, 0);
      free(w->req); free(w);
      if (r == 0) progress = 1;
    }
  }
}
static void waiters_fail(struct waiter **list, int err) {
  while (*list) {
    struct waiter *w = *list;
    *list = w->next;
    struct conn *wc = cget(w->c);
    if (wc) sendm(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, err, 0, NULL, 0, NULL, 0);
    free(w->req); free(w);
  }
}
static void add_waiter(struct waiter **list, struct conn *c, const struct _moj_hdr *h, const uint8_t *pl, int64_t timeout_ns) {
  struct waiter *w = calloc(1, sizeof *w);
  w->c = cref_of(c); w->seq = h->seq; w->type = h->type;
  w->deadline = timeout_ns >= 0 ? now_ns() + timeout_ns : 0;
  if (timeout_ns == 0) w->deadline = 1; /* already expired: one try, then EAGAIN */
  if (w->deadline) timed_waiters++;
  w->req = malloc(h->len); memcpy(w->req, pl, h->len); w->reqlen = h->len;
  struct waiter **t = list;
  while (*t) t = &(*t)->next; /* FIFO: waiters are served in arrival order */
  *t = w;
}
static void do_semop(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_semop);
  struct _moj_semop q; memcpy(&q, pl, sizeof q);
  if (q.nsops < 1 || q.nsops > SEMOPM) { reply(c, h, q.nsops < 1 ? EINVAL : E2BIG, NULL, 0); return; }
  if (h->len != sizeof q + q.nsops * sizeof(struct _moj_sembuf)) { logm("SEMOP from %s: length %u does not match nsops %u, rejected", c->peer, h->len, q.nsops); reply(c, h, EPROTO, NULL, 0); return; }
  int sl;
  struct sem *s = sem_by_id(q.id, &sl);
  if (!s) { reply(c, h, EINVAL, NULL, 0); return; }
  const struct _moj_sembuf *ops = (const void *)(pl + sizeof q);
  int alter = 0;
  for (uint32_t i = 0; i < q.nsops; i++) {
    if (ops[i].num >= s->nsems) { reply(c, h, EFBIG, NULL, 0); return; }
    if (ops[i].op) alter = 1;
  }
  if (!perm_ok(&s->perm, &q.cred, alter ? 0222 : 0444)) { reply(c, h, EACCES, NULL, 0); return; }
  int r = sem_try(c, sl, s, &q, ops); /* _moj_sembuf is packed: unaligned access is fine */
  if (r == -1) {
    if (q.timeout_ns == 0) { reply(c, h, EAGAIN, NULL, 0); return; }
    add_waiter(&s->w, c, h, pl, q.timeout_ns);
    return;
  }
  reply(c, h, r, NULL, 0);
  if (r == 0) sem_wake(sl);
}
static void sem_destroy(int sl) {
  struct sem *s = sems[sl];
  waiters_fail(&s->w, EIDRM);
  free(s->val); free(s->pid); free(s);
  sems[sl] = NULL;
}
static void do_semctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  int sl;
  struct sem *s = sem_by_id(q.id, &sl);
  if (!s) { reply(c, h, EINVAL, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  int cmd = q.cmd;
  if (cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT || cmd == SETVAL)
    if (q.num < 0 || q.num >= s->nsems) { reply(c, h, EINVAL, NULL, 0); return; }
  switch (cmd) {
  case IPC_STAT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    fill_perm(&r, &s->perm);
    r.atime = s->otime; r.ctime = s->ctime; r.nattch = (uint64_t)s->nsems;
    reply(c, h, 0, &r, sizeof r);
    return;
  case IPC_SET:
    if (!is_owner(&s->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    s->perm.uid = q.set_uid; s->perm.gid = q.set_gid; s->perm.mode = q.set_mode & 0777; s->ctime = wall();
    reply(c, h, 0, NULL, 0);
    return;
  case IPC_RMID:
    if (!is_owner(&s->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    sem_destroy(sl);
    reply(c, h, 0, NULL, 0);
    return;
  case GETVAL: case GETPID: case GETNCNT: case GETZCNT: {
    if (!perm_ok(&s->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    if (cmd == GETVAL) r.val = s->val[q.num];
    else if (cmd == GETPID) r.val = (int32_t)s->pid[q.num];
    else {
      for (struct waiter *w = s->w; w; w = w->next) {
        const struct _moj_semop *wq = (const void *)w->req;
        const struct _moj_sembuf *ops = (const void *)(w->req + sizeof *wq);
        /* count each waiter once, for the first op it is blocked on (as Linux) */
        for (uint32_t i = 0; i < wq->nsops; i++) {
          struct _moj_sembuf o; memcpy(&o, &ops[i], sizeof o);
          if (o.num != q.num) continue;
          if (cmd == GETNCNT && o.op < 0) { r.val++; break; }
          if (cmd == GETZCNT && o.op == 0) { r.val++; break; }
        }
      }
    }
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  case GETALL: {
    if (!perm_ok(&s->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    r.nvals = (uint32_t)s->nsems;
    sendm(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, 0, &r, sizeof r, s->val, (size_t)s->nsems * 2);
    return;
  }
  case SETVAL:
  case SETALL: {
    if (!perm_ok(&s->perm, &q.cred, 0222)) { reply(c, h, EACCES, NULL, 0); return; }
    if (cmd == SETVAL) {
      if (q.val < 0 || q.val > SEMVMX) { reply(c, h, ERANGE, NULL, 0); return; }
      s->val[q.num] = (uint16_t)q.val;
      s->pid[q.num] = q.cred.pid;
    } else {
      if (q.nvals != (uint32_t)s->nsems || h->len != sizeof q + q.nvals * 2) { reply(c, h, EINVAL, NULL, 0); return; }
      for (int i = 0; i < s->nsems; i++) {
        uint16_t v; memcpy(&v, pl + sizeof q + 2 * i, 2);
        if (v > SEMVMX) { reply(c, h, ERANGE, NULL, 0); return; }
      }
      for (int i = 0; i < s->nsems; i++) { memcpy(&s->val[i], pl + sizeof q + 2 * i, 2); s->pid[i] = q.cred.pid; }
    }
    /* Linux clears the undo entries for the changed semaphores */
    for (int fd = 0; fd <= maxfd; fd++) {
      if (!conns[fd]) continue;
      for (struct undo *u = conns[fd]->undos; u; u = u->next)
        if (u->slot == sl && u->gen == s->gen) {
          if (cmd == SETVAL) u->adj[q.num] = 0;
          else memset(u->adj, 0, (size_t)u->nsems * 2);
        }
    }
    s->ctime = wall();
    reply(c, h, 0, NULL, 0);
    sem_wake(sl);
    return;
  }
  default:
    reply(c, h, EINVAL, NULL, 0);
  }
}

/* ---------------- message queues ---------------- */
static struct mq *mq_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !mqs[sl]) return NULL;
  *slot = sl;
  return mqs[sl];
}
static void do_msgget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgget);
  struct _moj_msgget q; memcpy(&q, pl, sizeof q);
  if (!key_is_mine(c, h, q.key)) return;
  for (int i = 0; i < MAX_SLOTS; i++) {
    struct mq *m = mqs[i];
    if (!m || m->perm.key != q.key) continue;
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&m->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, i)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { reply(c, h, ENOENT, NULL, 0); return; }
  int sl = free_slot((void **)mqs);
  if (sl < 0) { reply(c, h, ENOSPC, NULL, 0); return; }
  struct mq *m = calloc(1, sizeof *m);
  m->used = 1;
  m->perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  m->qbytes = MSGMNB;
  m->ctime = wall();
  mqs[sl] = m;
  struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
  reply(c, h, 0, &r, sizeof r);
}
/* returns 0 sent, -1 block, >0 errno */
static int msg_try_snd(struct mq *m, const uint8_t *pl, uint32_t len) {
  struct _moj_msgsnd q; memcpy(&q, pl, sizeof q);
  if (m->cbytes + q.size > m->qbytes || m->qnum + 1 > m->qbytes)
    return (q.flags & IPC_NOWAIT) ? EAGAIN : -1;
  struct msg *g = malloc(sizeof *g + q.size);
  g->type = q.mtype; g->size = q.size; g->next = NULL;
  memcpy(g->data, pl + sizeof q, q.size);
  (void)len;
  if (m->tail) m->tail->next = g; else m->head = g;
  m->tail = g;
  m->cbytes += q.size; m->qnum++;
  m->lspid = q.cred.pid; m->stime = wall();
  return 0;
}
static int msg_try_rcv(struct conn *c, struct mq *m, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_msgrcv q; memcpy(&q, pl, sizeof q);
  struct msg *prev = NULL, *g = NULL, *gp = NULL;
  for (struct msg *x = m->head, *px = NULL; x; px = x, x = x->next) {
    int match;
    if (q.mtype == 0) match = 1;
    else if (q.mtype > 0) match = (q.flags & MSG_EXCEPT) ? x->type != q.mtype : x->type == q.mtype;
    else match = x->type <= -q.mtype && (!g || x->type < g->type);
    if (!match) continue;
    if (q.mtype < 0) { g = x; gp = px; continue; } /* keep looking for a lower type */
    g = x; gp = px;
    break;
  }
  prev = gp;
  if (!g) return (q.flags & IPC_NOWAIT) ? ENOMSG : -1;
  uint32_t sz = g->size;
  if (sz > q.maxsize) {
    if (!(q.flags & MSG_NOERROR)) return E2BIG;
    sz = q.maxsize;
  }
  if (prev) prev->next = g->next; else m->head = g->next;
  if (m->tail == g) m->tail = prev;
  m->cbytes -= g->size; m->qnum--;
  m->lrpid = q.cred.pid; m->rtime = wall();
  struct _moj_msgrcv_r r = {g->type, sz};
  sendm(c, MOJ_MSGRCV | MOJ_REPLY, h->seq, 0, 0, &r, sizeof r, g->data, sz);
  free(g);
  return 0;
}
static void mq_wake(int sl) {
  struct mq *m = mqs[sl];
  int progress = 1;
  while (progress) {
    progress = 0;
    for (struct waiter **pw = &m->w; *pw;) {
      struct waiter *w = *pw;
      struct conn *wc = cget(w->c);
      if (!wc) { *pw = w->next; free(w->req); free(w); continue; }
      int r;
      if (w->type == MOJ_MSGSND) r = msg_try_snd(m, w->req, (uint32_t)w->reqlen);
      else {
        struct _moj_hdr hh; _moj_hdr_init(&hh, w->type, (uint32_t)w->reqlen, w->seq, 0);
        r = msg_try_rcv(wc, m, &hh, w->req);
      }
      if (r == -1) { pw = &w->next; continue; }
      *pw = w->next;
      if (w->type == MOJ_MSGSND || r > 0) sendm(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, r, 0, NULL, 0, NULL, 0);
      free(w->req); free(w);
      progress = 1;
    }
  }
}
static void do_msgsnd(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgsnd);
  struct _moj_msgsnd q; memcpy(&q, pl, sizeof q);
  if (h->len != sizeof q + q.size) { logm("MSGSND from %s: length mismatch, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
  int sl;
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  if (q.mtype < 1 || q.size > MSGMAX) { reply(c, h, EINVAL, NULL, 0); return; }
  if (!perm_ok(&m->perm, &q.cred, 0222)) { reply(c, h, EACCES, NULL, 0); return; }
  int r = msg_try_snd(m, pl, h->len);
  if (r == -1) { add_waiter(&m->w, c, h, pl, -1); return; }
  reply(c, h, r, NULL, 0);
  if (r == 0) mq_wake(sl);
}
static void do_msgrcv(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgrcv);
  int sl;
  struct _moj_msgrcv q; memcpy(&q, pl, sizeof q);
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  if (!perm_ok(&m->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
  int r = msg_try_rcv(c, m, h, pl);
  if (r == -1) { add_waiter(&m->w, c, h, pl, -1); return; }
  if (r > 0) reply(c, h, r, NULL, 0);
  else mq_wake(sl);
}
static void do_msgctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  int sl;
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  switch (q.cmd) {
  case IPC_STAT:
    if (!perm_ok(&m->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    fill_perm(&r, &m->perm);
    r.size = m->qbytes; r.atime = m->stime; r.dtime = m->rtime; r.ctime = m->ctime;
    r.cpid = m->lspid; r.lpid = m->lrpid; r.nattch = m->qnum; r.cbytes = m->cbytes;
    reply(c, h, 0, &r, sizeof r);
    return;
  case IPC_SET:
    if (!is_owner(&m->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    if (q.set_qbytes > MSGMNB && q.cred.uid != 0) { reply(c, h, EPERM, NULL, 0); return; }
    m->perm.uid = q.set_uid; m->perm.gid = q.set_gid; m->perm.mode = q.set_mode & 0777;
    m->qbytes = q.set_qbytes; m->ctime = wall();
    reply(c, h, 0, NULL, 0);
    mq_wake(sl);
    return;
  case IPC_RMID:
    if (!is_owner(&m->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    waiters_fail(&m->w, EIDRM);
    while (m->head) { struct msg *g = m->head; m->head = g->next; free(g); }
    free(m);
    mqs[sl] = NULL;
    reply(c, h, 0, NULL, 0);
    return;
  default:
    reply(c, h, EINVAL, NULL, 0);
  }
}

/* ---------------- cancel / timeouts ---------------- */
static int cancel_in(struct waiter **list, struct conn *c, uint32_t seq) {
  for (struct waiter **pw = list; *pw; pw = &(*pw)->next) {
    struct waiter *w = *pw;
    if (w->c.fd == c->fd && w->c.gen == c->gen && w->seq == seq) {
      *pw = w->next;
      sendm(c, (uint16_t)(w->type | MOJ_REPLY), w->seq, EINTR, 0, NULL, 0, NULL, 0);
      free(w->req); free(w);
      return 1;
    }
  }
  return 0;
}
static void do_cancel(struct conn *c, const struct _moj_hdr *h) {
  /* No reply of its own: the cancelled request is answered with EINTR, or it
   * already completed and its reply is on the way. */
  for (int i = 0; i < MAX_SLOTS; i++) {
    if (sems[i] && cancel_in(&sems[i]->w, c, h->aux)) return;
    if (mqs[i] && cancel_in(&mqs[i]->w, c, h->aux)) { mq_wake(i); return; }
  }
}
static int64_t expire_waiters(void) {
  if (!timed_waiters) return 0; /* the common case: skip the scan on the hot path */
  int64_t t = now_ns(), next = 0;
  int left = 0;
  for (int i = 0; i < MAX_SLOTS; i++) {
    struct waiter **lists[2] = {sems[i] ? &sems[i]->w : NULL, mqs[i] ? &mqs[i]->w : NULL};
    for (int k = 0; k < 2; k++) {
      if (!lists[k]) continue;
      for (struct waiter **pw = lists[k]; *pw;) {
        struct waiter *w = *pw;
        if (w->deadline && w->deadline <= t) {
          *pw = w->next;
          struct conn *wc = cget(w->c);
          if (wc) sendm(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, EAGAIN, 0, NULL, 0, NULL, 0);
          free(w->req); free(w);
          continue;
        }
        if (w->deadline && (!next || w->deadline < next)) next = w->deadline;
        if (w->deadline) left++;
        pw = &w->next;
      }
    }
  }
  timed_waiters = left;
  return next;
}

/* ---------------- connection lifecycle ---------------- */
static void conn_close(struct conn *c, const char *why) {
  if (c->authed) logm("closing %s (host %s pid %u): %s", c->peer, c->host, c->pid, why);
  else logm("closing unauthenticated %s: %s", c->peer, why);
  conns[c->fd] = NULL;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  /* SEM_UNDO: apply this process's adjustments, as the kernel does at exit */
  while (c->undos) {
    struct undo *u = c->undos;
    c->undos = u->next;
    struct sem *s = sems[u->slot];
    if (s && s->gen == u->gen) {
      for (int i = 0; i < u->nsems; i++) {
        int v = s->val[i] + u->adj[i];
        s->val[i] = (uint16_t)(v < 0 ? 0 : v > SEMVMX ? SEMVMX : v);
      }
      sem_wake(u->slot);
    }
    free(u->adj); free(u);
  }
  for (int i = 0; i < MAX_SLOTS; i++) {
    if (shms[i]) shm_detach(i, c, 1, 1);
    if (sems[i]) sem_wake(i);  /* drops its waiters */
    if (mqs[i]) mq_wake(i);
  }
  free(c->rx); free(c->tx); free(c);
}

static void handle_auth(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (h->type != MOJ_AUTH || h->len != sizeof(struct _moj_auth)) {
    logm("refused %s: first message must be AUTH (%s, %u bytes)", c->peer, _moj_type_name(h->type), h->len);
    const char *m = "authentication required";
    sendm(c, MOJ_ERROR, h->seq, EACCES, 0, m, strlen(m), NULL, 0);
    conn_close(c, "not authenticated");
    return;
  }
  struct _moj_auth a; memcpy(&a, pl, sizeof a);
  struct _moj_auth_ok ok;
  if (_moj_auth_server(C.secret, C.secret_len, c->snonce, &a, &ok) || _moj_cluster_find_host(&C, a.host) < 0) {
    logm("refused %s claiming host '%s' pid %u: bad cluster secret or unknown host", c->peer, a.host, a.pid);
    const char *m = "authentication failed";
    sendm(c, MOJ_ERROR, h->seq, EACCES, 0, m, strlen(m), NULL, 0);
    conn_close(c, "authentication failed");
    return;
  }
  c->authed = 1;
  memcpy(c->host, a.host, 32);
  c->pid = a.pid;
  ok.client_id = c->gen;
  sendm(c, MOJ_AUTH_OK, h->seq, 0, 0, &ok, sizeof ok, NULL, 0);
}

/* Migration of a process with SEM_UNDO adjustments (docs/migration.md): at
 * the source they leave its connection (TAKE: returned, and no longer applied
 * when that connection closes), the image carries them, and the migrated
 * process's new connection takes them over (GIVE) once it runs; a failed
 * hand-off gives them back to the source's connection. */
static void do_undo_take(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_undo_q);
  struct _moj_undo_q q; memcpy(&q, pl, sizeof q);
  int sl;
  struct sem *s = sem_by_id(q.id, &sl);
  if (!s) { reply(c, h, EIDRM, NULL, 0); return; }
  struct _moj_undo_e e[SEMMSL];
  uint32_t n = 0;
  for (struct undo **pu = &c->undos; *pu; pu = &(*pu)->next) {
    struct undo *u = *pu;
    if (u->slot != sl || u->gen != s->gen) continue;
    for (int i = 0; i < u->nsems && n < SEMMSL; i++)
      if (u->adj[i]) e[n++] = (struct _moj_undo_e){(uint16_t)i, u->adj[i]};
    *pu = u->next;
    free(u->adj); free(u);
    break;
  }
  reply(c, h, 0, e, n * sizeof e[0]);
}
static void do_undo_give(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_undo_q);
  if ((h->len - sizeof(struct _moj_undo_q)) % sizeof(struct _moj_undo_e)) { reply(c, h, EPROTO, NULL, 0); return; }
  struct _moj_undo_q q; memcpy(&q, pl, sizeof q);
  int sl;
  struct sem *s = sem_by_id(q.id, &sl);
  if (!s) { reply(c, h, EIDRM, NULL, 0); return; }
  uint32_t n = (h->len - (uint32_t)sizeof q) / (uint32_t)sizeof(struct _moj_undo_e);
  const uint8_t *p = pl + sizeof q;
  for (uint32_t i = 0; i < n; i++) { /* all checked before any is applied */
    struct _moj_undo_e e; memcpy(&e, p + i * sizeof e, sizeof e);
    if (e.num >= s->nsems) { reply(c, h, EINVAL, NULL, 0); return; }
  }
  struct undo *u = undo_for(c, sl, s);
  for (uint32_t i = 0; i < n; i++) {
    struct _moj_undo_e e; memcpy(&e, p + i * sizeof e, sizeof e);
    int v = u->adj[e.num] + e.adj;
    u->adj[e.num] = (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
  }
  reply(c, h, 0, NULL, 0);
}

static void dispatch(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  if (!c->authed) { handle_auth(c, h, pl); return; }
  switch (h->type) {
  case MOJ_PING: reply(c, h, 0, pl, h->len); break;
  case MOJ_RESOLVE: {
    NEED(struct _moj_resolve);
    struct _moj_resolve q; memcpy(&q, pl, sizeof q);
    int ref = 0;
    uint32_t lo = 0, hi = 0;
    int at = _moj_cluster_resolve_at(&C, self_idx, q.key, &ref, &lo, &hi);
    if (at < 0) {
      logm("RESOLVE from %s: key 0x%x is outside this server's zone, refused", c->peer, (unsigned)q.key);
      reply(c, h, ENXIO, NULL, 0);
      break;
    }
    struct _moj_resolve_r r = {(uint32_t)at, (uint32_t)ref, lo, hi};
    reply(c, h, 0, &r, sizeof r);
    break;
  }
  case MOJ_SHMGET: do_shmget(c, h, pl); break;
  case MOJ_SHMAT: do_shmat(c, h, pl); break;
  case MOJ_SHMDT: do_shmdt(c, h, pl); break;
  case MOJ_SHMCTL: do_shmctl(c, h, pl); break;
  case MOJ_PAGE_REQ: do_page_req(c, h, pl); break;
  case MOJ_PAGE_DIRTY: do_page_dirty(c, h, pl); break;
  case MOJ_REATTACH: do_reattach(c, h, pl); break;
  case MOJ_PAGE_FETCH | MOJ_REPLY: do_fetch_reply(c, h, pl); break;
  case MOJ_SEMGET: do_semget(c, h, pl); break;
  case MOJ_SEMOP: do_semop(c, h, pl); break;
  case MOJ_SEMCTL: do_semctl(c, h, pl); break;
  case MOJ_CANCEL: do_cancel(c, h); break;
  case MOJ_UNDO_TAKE: do_undo_take(c, h, pl); break;
  case MOJ_UNDO_GIVE: do_undo_give(c, h, pl); break;
  case MOJ_MSGGET: do_msgget(c, h, pl); break;
  case MOJ_MSGSND: do_msgsnd(c, h, pl); break;
  case MOJ_MSGRCV: do_msgrcv(c, h, pl); break;
  case MOJ_MSGCTL: do_msgctl(c, h, pl); break;
  default:
    logm("unknown message type %u from %s, rejected", h->type, c->peer);
    reply(c, h, EPROTO, NULL, 0);
  }
}

static void on_readable(struct conn *c) {
  for (;;) {
    if (c->rxcap - c->rxlen < 65536) {
      c->rxcap = c->rxcap ? c->rxcap * 2 : 131072;
      c->rx = realloc(c->rx, c->rxcap);
    }
    ssize_t r = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      conn_close(c, strerror(errno));
      return;
    }
    if (r == 0) {
      if (c->rxlen) logm("%s: connection closed inside a message (%zu bytes pending): truncated message dropped", c->peer, c->rxlen);
      conn_close(c, "connection closed");
      return;
    }
    c->rxlen += (size_t)r;
    size_t off = 0;
    while (c->rxlen - off >= sizeof(struct _moj_hdr)) {
      struct _moj_hdr h;
      memcpy(&h, c->rx + off, sizeof h);
      const char *bad = _moj_hdr_check(&h);
      if (bad) {
        logm("malformed message from %s: %s (magic 0x%08x version %u type %u len %u), rejected", c->peer, bad,
             h.magic, h.version, h.type, h.len);
        sendm(c, MOJ_ERROR, h.seq, EPROTO, 0, bad, strlen(bad), NULL, 0);
        flush_out(c);
        conn_close(c, "protocol error: the byte stream cannot be resynchronised");
        return;
      }
      if (c->rxlen - off < sizeof h + h.len) break;
      uint32_t gen = c->gen;
      int fd = c->fd;
      dispatch(c, &h, c->rx + off + sizeof h);
      if (conns[fd] != c || c->gen != gen) return; /* closed by the handler */
      off += sizeof h + h.len;
    }
    if (off) { memmove(c->rx, c->rx + off, c->rxlen - off); c->rxlen -= off; }
  }
}

static int listen_on(const char *addr, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { logm("bad address %s", addr); exit(2); }
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128)) {
    logm("cannot listen on %s:%u: %s", addr, port, strerror(errno));
    exit(2);
  }
  return fd;
}


static void state_load(void) {
  if (mkdir(state_dir, 0700) && errno != EEXIST) { logm("cannot create state dir %s: %s", state_dir, strerror(errno)); exit(2); }
  DIR *d = opendir(state_dir);
  if (!d) { logm("cannot open state dir %s: %s", state_dir, strerror(errno)); exit(2); }
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    int slot;
    char ext[16];
    if (sscanf(e->d_name, "shm-%d.%15s", &slot, ext) != 2 || strcmp(ext, "meta") || slot <= 0 || slot >= MAX_SLOTS) continue;
    char path[600];
    state_path(path, sizeof path, slot, "meta");
    struct shm_meta m;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, &m, sizeof m) : -1;
    if (fd >= 0) close(fd);
    if (r != (ssize_t)sizeof m || m.magic != META_MAGIC || m.size < 1 || m.size > SHMMAX_DSM) { logm("ignoring bad state file %s", path); continue; }
    struct shm *s = calloc(1, sizeof *s);
    s->used = 1; s->removed = m.removed;
    s->perm = (struct perm){m.key, m.uid, m.gid, m.cuid, m.cgid, m.mode};
    s->size = m.size; s->npages = (uint32_t)((m.size + MOJ_PAGE - 1) / MOJ_PAGE);
    s->atime = m.atime; s->dtime = m.dtime; s->ctime = m.ctime; s->cpid = m.cpid; s->lpid = m.lpid;
    s->home = home_map(slot, (size_t)s->npages * MOJ_PAGE, 1, "pages");
    s->own = (int8_t *)home_map(slot, s->npages, 1, "owners");
    s->pg = calloc(s->npages, sizeof *s->pg);
    if (!s->home || s->home == MAP_FAILED || (uint8_t *)s->own == MAP_FAILED || !s->pg) {
      logm("cannot restore segment slot %d", slot); free(s->pg); free(s); continue;
    }
    memcpy(s->who, m.who, sizeof s->who);
    for (int a = 0; a < MAX_ATT; a++) {
      s->who[a].host[31] = 0;
      if (s->who[a].pid) s->recovering = 1;
    }
    /* the client reconnect budget (MOJAVE_DSM_RECONNECT_MS, 5 s) plus slack */
    s->recover_until = now_ns() + 8000000000LL;
    shms[slot] = s;
    n++;
  }
  closedir(d);
  if (n) logm("restored %d segment(s) from %s; waiting for attached processes to re-register", n, state_dir);
}

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

/* A batch-size option: an integer in [0, 64], or a clear error. */
static int parse_pages(const char *what, const char *v) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > 64) {
    fprintf(stderr, "mojave-nsd: %s must be an integer from 0 to 64, got '%s'\n", what, v);
    exit(2);
  }
  return (int)n;
}

int main(int argc, char **argv) {
  const char *cluster = getenv("MOJAVE_CLUSTER"), *host = getenv("MOJAVE_HOST");
  static struct option lo[] = {{"cluster", 1, 0, 'c'}, {"host", 1, 0, 'H'}, {"state", 1, 0, 's'}, {"readahead", 1, 0, 'r'}, {"readahead-max", 1, 0, 'm'}, {"no-write-ahead", 0, 0, 'W'}, {"compress", 0, 0, 'z'}, {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
  /* environment first, so the command line wins */
  if (getenv("MOJAVE_NSD_READAHEAD")) ra_pages = parse_pages("MOJAVE_NSD_READAHEAD", getenv("MOJAVE_NSD_READAHEAD"));
  if (getenv("MOJAVE_NSD_WRITEAHEAD") && !strcmp(getenv("MOJAVE_NSD_WRITEAHEAD"), "0")) wa_on = 0;
  int o;
  while ((o = getopt_long(argc, argv, "c:H:s:r:m:Wzh", lo, NULL)) != -1) {
    if (o == 's') state_dir = optarg;
    else if (o == 'z') zcomp = 1;
    else if (o == 'r') ra_pages = parse_pages("--readahead", optarg);
    else if (o == 'm') ra_max = parse_pages("--readahead-max", optarg);
    else if (o == 'W') wa_on = 0;
    else if (o == 'c') cluster = optarg;
    else if (o == 'H') host = optarg;
    else if (o == 'V') { printf("mojave-nsd %s\n", MOJ_VERSION); return 0; }
    else {
      fprintf(o == 'h' ? stdout : stderr,
              "usage: mojave-nsd --cluster FILE --host NAME [options]\n"
              "Serves the DSM key range of host NAME from the cluster file (and key\n"
              "resolution if NAME is the root nameserver): home copies of shared memory\n"
              "pages, semaphores and message queues.  Logs to stderr.\n"
              "  --cluster FILE        cluster file (docs/cluster.md); also MOJAVE_CLUSTER\n"
              "  --host NAME           this daemon's host entry; also MOJAVE_HOST\n"
              "  --state DIR           keep segments (home copies + metadata) across restarts\n"
              "  --readahead N         a fault on a page nobody else holds also grants up to N\n"
              "                        following idle pages (read copies after a read fault,\n"
              "                        ownership after a write fault); 0 = one page per fault\n"
              "                        (default 8; also MOJAVE_NSD_READAHEAD)\n"
              "  --readahead-max M     the batch doubles up to M pages while a process scans\n"
              "                        sequentially (default 64, at most 64)\n"
              "  --no-write-ahead      write faults take one page (also MOJAVE_NSD_WRITEAHEAD=0)\n"
              "  --compress            send pages zstd-compressed when that saves >= 1/8\n"
              "                        (also MOJAVE_NSD_COMPRESS=1)\n"
              "  --help                this text\n"
              "  --version             print the version and exit\n"
              "Exit status: 0 after SIGTERM/SIGINT, 2 on bad arguments or configuration.\n");
      return o == 'h' ? 0 : 2;
    }
  }
  if (!cluster || !host) { fprintf(stderr, "mojave-nsd: need --cluster FILE and --host NAME (or MOJAVE_CLUSTER/MOJAVE_HOST)\n"); return 2; }
  char err[512];
  if (_moj_cluster_load(cluster, &C, err, sizeof err)) { fprintf(stderr, "mojave-nsd: %s\n", err); return 2; }
  self_idx = _moj_cluster_find_host(&C, host);
  if (self_idx < 0) { fprintf(stderr, "mojave-nsd: host '%s' not in %s\n", host, cluster); return 2; }
  self_name = C.host[self_idx].name;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  _moj_net_inject_init();
  debug = getenv("MOJAVE_NSD_DEBUG") != NULL;
  if (getenv("MOJAVE_NSD_COMPRESS") && atoi(getenv("MOJAVE_NSD_COMPRESS"))) zcomp = 1;
  if (ra_max < ra_pages) ra_max = ra_pages;
  if (state_dir) state_load();
  int lfd = listen_on(C.host[self_idx].addr, C.host[self_idx].port);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  logm("serving on %s:%u%s", C.host[self_idx].addr, C.host[self_idx].port, self_idx == C.root ? " (root nameserver)" : "");
  while (!stop) {
    int64_t next = expire_waiters();
    check_recovery_deadlines();
    int tmo = 1000;
    if (next) {
      int64_t d = (next - now_ns()) / 1000000 + 1;
      if (d < tmo) tmo = d < 0 ? 0 : (int)d;
    }
    struct epoll_event evs[64];
    int n = epoll_wait(epfd, evs, 64, tmo);
    if (n < 0) { if (errno == EINTR) continue; logm("epoll_wait: %s", strerror(errno)); break; }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          struct sockaddr_in pa; socklen_t pl = sizeof pa;
          int cfd = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          if (cfd >= 65536) { close(cfd); continue; }
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          _moj_sock_liveness(cfd);
          struct conn *c = calloc(1, sizeof *c);
          c->fd = cfd; c->gen = gen_ctr++; c->t_accept = now_ns();
          snprintf(c->peer, sizeof c->peer, "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
          conns[cfd] = c;
          if (cfd > maxfd) maxfd = cfd;
          struct epoll_event e2 = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &e2);
          struct _moj_hello hello;
          _moj_random(c->snonce, 16);
          memcpy(hello.nonce, c->snonce, 16);
          hello.server_idx = (uint32_t)self_idx;
          sendm(c, MOJ_HELLO, 0, 0, 0, &hello, sizeof hello, NULL, 0);
        }
        continue;
      }
      struct conn *c = conns[fd];
      if (!c) continue;
      if (evs[i].events & EPOLLOUT) flush_out(c);
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    /* handshake deadline: an unauthenticated peer may not hold a connection
     * (checked twice a second, not on every event) */
    int64_t t = now_ns();
    static int64_t last_scan;
    if (t - last_scan < 500000000LL) continue;
    last_scan = t;
    for (int fd = 0; fd <= maxfd; fd++)
      if (conns[fd] && !conns[fd]->authed && t - conns[fd]->t_accept > 5000000000LL) conn_close(conns[fd], "no AUTH within 5 s");
  }
  if (zcomp) logm("compression: %llu pages sent compressed, %llu -> %llu bytes", (unsigned long long)z_pages,
                  (unsigned long long)z_raw, (unsigned long long)z_sent);
  logm("shutting down");
  return 0;
}
