/* nsd_state.c — what lets semaphore sets and message queues survive a restart
 * of their home daemon (--state DIR):
 *   - one state file per object (sem-SLOT.state, msg-SLOT.state; framing in
 *     state_fmt.h, fields in docs/dsm.md): a complete image of the object is
 *     written after every change into the file's spare slot, which one store
 *     then makes current (msync too with --fsync);
 *   - replies to changing requests are held (dsend) until the state they
 *     report is saved (ipc_commit): a client never hears of a change that a
 *     kill -9 could still undo;
 *   - request-id records: per object and client (host, pid) the last applied
 *     rid and its reply, saved with the object, so a request the client repeats
 *     after reconnecting is answered with its original result;
 *   - SEM_UNDO records are saved with the set and keyed by (host, pid): after a
 *     restart they wait as "ghosts" until the process reconnects (re-associated
 *     at AUTH) or, 8 s later, are applied as if the process had exited. */
#include "nsd.h"
#include "state_fmt.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int state_sync, state_verify, ipc_state_rejected;
struct ghost *ghosts;
static int64_t ghost_until;

/* ---------------- request-id records ---------------- */
static struct rec *rec_of(struct recs *r, const char *host, uint32_t pid) {
  for (int i = 0; i < r->n; i++)
    if (r->v[i].pid == pid && !strncmp(r->v[i].host, host, 32)) return &r->v[i];
  return NULL;
}
/* A repeated request: answer it with the reply it got the first time. */
int rec_replay(struct recs *r, struct conn *c, const struct _moj_hdr *h, uint64_t rid) {
  struct rec *e = rid ? rec_of(r, c->host, c->pid) : NULL;
  if (!e || e->rid != rid) return 0;
  logm("%s from %s pid %u: request 0x%llx was already applied, its reply repeated", _moj_type_name(h->type), c->host,
       c->pid, (unsigned long long)rid);
  sendm(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, e->status, 0, e->data, e->len, NULL, 0);
  return 1;
}
static void rec_put(struct recs *r, const char *host, uint32_t pid, uint64_t rid, int32_t status, const void *p1,
                    size_t l1, const void *p2, size_t l2) {
  struct rec *e = rec_of(r, host, pid);
  if (!e) {
    if (r->n == r->cap) {
      int nc = r->cap ? r->cap * 2 : 4;
      struct rec *nv = realloc(r->v, (size_t)nc * sizeof *nv);
      if (!nv) return; /* no record: a retry would be applied again (logged by the caller's save, if any) */
      r->v = nv; r->cap = nc;
    }
    e = &r->v[r->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->host, host, 32);
    e->host[31] = 0;
    e->pid = pid;
  }
  free(e->data);
  e->data = l1 + l2 ? malloc(l1 + l2) : NULL;
  e->len = e->data ? (uint32_t)(l1 + l2) : 0;
  if (e->data) { memcpy(e->data, p1, l1); if (l2) memcpy(e->data + l1, p2, l2); }
  e->rid = rid; e->status = status;
}
void rec_set(struct recs *r, struct conn *c, uint64_t rid, int32_t status, const void *p1, size_t l1, const void *p2, size_t l2) {
  if (rid && c) rec_put(r, c->host, c->pid, rid, status, p1, l1, p2, l2);
}
static int rec_drop(struct recs *r, const char *host, uint32_t pid) {
  struct rec *e = rec_of(r, host, pid);
  if (!e) return 0;
  free(e->data);
  *e = r->v[--r->n];
  return 1;
}
void rec_free(struct recs *r) {
  for (int i = 0; i < r->n; i++) free(r->v[i].data);
  free(r->v);
  memset(r, 0, sizeof *r);
}

/* ---------------- held replies and saving ---------------- */
struct dr { struct cref c; uint16_t type; uint32_t seq; int32_t status; size_t len; struct dr *next; uint8_t data[]; };
static struct dr *dr_head, **dr_tail = &dr_head;
void dsend(struct conn *c, uint16_t type, uint32_t seq, int32_t status, const void *p1, size_t l1, const void *p2, size_t l2) {
  if (!c) return;
  struct dr *d = malloc(sizeof *d + l1 + l2);
  if (!d) { conn_close(c, "out of memory for a reply"); return; }
  d->c = cref_of(c); d->type = type; d->seq = seq; d->status = status; d->len = l1 + l2; d->next = NULL;
  if (l1) memcpy(d->data, p1, l1);
  if (l2) memcpy(d->data + l1, p2, l2);
  *dr_tail = d;
  dr_tail = &d->next;
}
static uint8_t dirty_f[2][MAX_SLOTS];
static int dirty_l[2][MAX_SLOTS], ndirty[2];
static void mark(int k, int slot) {
  if (!state_dir || dirty_f[k][slot]) return;
  dirty_f[k][slot] = 1;
  dirty_l[k][ndirty[k]++] = slot;
}
void sem_dirty(int slot) { mark(0, slot); }
void mq_dirty(int slot) { mark(1, slot); }

static void fpath(char *buf, size_t n, int is_mq, int slot) {
  snprintf(buf, n, "%s/%s-%d.state", state_dir, is_mq ? "msg" : "sem", slot);
}
struct wb { uint8_t *p; size_t n, cap; int oom; };
static void put(struct wb *b, const void *x, size_t l) {
  if (b->oom) return;
  if (b->n + l > b->cap) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->n + l) nc *= 2;
    uint8_t *np = realloc(b->p, nc);
    if (!np) { b->oom = 1; return; }
    b->p = np; b->cap = nc;
  }
  memcpy(b->p + b->n, x, l);
  b->n += l;
}
static void p16(struct wb *b, uint16_t v) { put(b, &v, 2); }
static void p32(struct wb *b, uint32_t v) { put(b, &v, 4); }
static void p64(struct wb *b, uint64_t v) { put(b, &v, 8); }
static void put_perm(struct wb *b, const struct perm *p) {
  p32(b, (uint32_t)p->key); p32(b, p->uid); p32(b, p->gid); p32(b, p->cuid); p32(b, p->cgid); p32(b, p->mode);
}
static void put_recs(struct wb *b, const struct recs *r) {
  p32(b, (uint32_t)r->n);
  for (int i = 0; i < r->n; i++) {
    const struct rec *e = &r->v[i];
    put(b, e->host, 32); p32(b, e->pid); p64(b, e->rid); p32(b, (uint32_t)e->status); p32(b, e->len);
    if (e->len) put(b, e->data, e->len);
  }
}
/* The undo records of one list for set `slot`, as (host, pid, entries). */
static void put_undo(struct wb *b, uint32_t *count, const char *host, uint32_t pid, struct undo *u, int slot, uint32_t gen) {
  for (; u; u = u->next) {
    if (u->slot != slot || u->gen != gen) continue;
    uint32_t n = 0;
    for (int i = 0; i < u->nsems; i++) n += u->adj[i] != 0;
    if (!n) return;
    char h[32] = {0};
    memcpy(h, host, 31);
    put(b, h, 32); p32(b, pid); p32(b, n);
    for (int i = 0; i < u->nsems; i++)
      if (u->adj[i]) { p16(b, (uint16_t)i); p16(b, (uint16_t)u->adj[i]); }
    ++*count;
    return;
  }
}
static void body_sem(struct wb *b, int slot) {
  struct sem *s = sems[slot];
  put_perm(b, &s->perm);
  p32(b, (uint32_t)s->nsems); p64(b, (uint64_t)s->otime); p64(b, (uint64_t)s->ctime);
  for (int i = 0; i < s->nsems; i++) { p16(b, s->val[i]); p32(b, s->pid[i]); }
  size_t at = b->n;
  uint32_t nu = 0;
  p32(b, 0);
  for (int fd = 0; fd <= maxfd; fd++)
    if (conns[fd] && conns[fd]->authed) put_undo(b, &nu, conns[fd]->host, conns[fd]->pid, conns[fd]->undos, slot, s->gen);
  for (struct ghost *g = ghosts; g; g = g->next) put_undo(b, &nu, g->host, g->pid, g->undos, slot, s->gen);
  if (!b->oom) memcpy(b->p + at, &nu, 4);
  put_recs(b, &s->recs);
}
static void body_mq(struct wb *b, int slot) {
  struct mq *m = mqs[slot];
  put_perm(b, &m->perm);
  p64(b, m->qbytes); p64(b, m->cbytes); p64(b, m->qnum);
  p64(b, (uint64_t)m->stime); p64(b, (uint64_t)m->rtime); p64(b, (uint64_t)m->ctime);
  p32(b, m->lspid); p32(b, m->lrpid);
  for (struct msg *g = m->head; g; g = g->next) { p64(b, (uint64_t)g->type); p32(b, g->size); put(b, g->data, g->size); }
  put_recs(b, &m->recs);
}
/* Each object's file stays mapped (MAP_SHARED) between saves. */
struct smap { uint8_t *map; size_t cap; };
static struct smap smaps[2][MAX_SLOTS];
static void unmap(struct smap *m) {
  if (m->map) munmap(m->map, sizeof(struct moj_state_file) + 2 * m->cap);
  m->map = NULL; m->cap = 0;
}
static int map_file(int fd, size_t cap, struct smap *m) {
  uint8_t *p = mmap(NULL, sizeof(struct moj_state_file) + 2 * cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return -1;
  m->map = p; m->cap = cap;
  return 0;
}
/* A first save, or an image that outgrew its slots: a new file with room for
 * twice the image, put in place by rename (atomic), space reserved up front
 * (a store into a mapped file the disk cannot hold would be SIGBUS). */
static int new_file(int is_mq, int slot, const uint8_t *img, size_t n) {
  size_t cap = 4096;
  while (cap < 2 * n) cap *= 2;
  if (cap > MOJ_STATE_MAXCAP) { errno = EFBIG; return -1; }
  char fin[600], tmp[700];
  fpath(fin, sizeof fin, is_mq, slot);
  snprintf(tmp, sizeof tmp, "%s.tmp", fin);
  size_t total = sizeof(struct moj_state_file) + 2 * cap;
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  struct smap m;
  int e = posix_fallocate(fd, 0, (off_t)total);
  if (e || map_file(fd, cap, &m)) { if (e) errno = e; close(fd); unlink(tmp); return -1; }
  close(fd);
  struct moj_state_file c = {MOJ_STATE_MAGIC, MOJ_STATE_VERSION, is_mq ? MOJ_STATE_MSG : MOJ_STATE_SEM, (uint32_t)cap, 0, 0, {0}};
  memcpy(m.map + sizeof c, img, n);
  memcpy(m.map, &c, sizeof c);
  int ok = (!state_sync || !msync(m.map, total, MS_SYNC)) && !rename(tmp, fin);
  if (ok && state_sync) { /* the rename itself is durable only once the directory is */
    int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd)) ok = 0;
    if (dfd >= 0) close(dfd);
  }
  if (!ok) { int err = errno; unmap(&m); unlink(tmp); errno = err; return -1; }
  unmap(&smaps[is_mq][slot]);
  smaps[is_mq][slot] = m;
  return 0;
}
/* Save one object: its image goes into the slot not in use, then one aligned
 * 8-byte store makes it current.  Against a daemon crash (kill -9) the page
 * cache is enough; --fsync adds msync for a machine crash. */
static void save(int is_mq, int slot) {
  if (is_mq ? !mqs[slot] : !sems[slot]) return;
  struct moj_state_hdr hd = {MOJ_STATE_MAGIC, MOJ_STATE_VERSION, is_mq ? MOJ_STATE_MSG : MOJ_STATE_SEM, 0, 0, 0};
  struct wb b = {0};
  put(&b, &hd, sizeof hd);
  if (is_mq) body_mq(&b, slot); else body_sem(&b, slot);
  char fin[600];
  fpath(fin, sizeof fin, is_mq, slot);
  if (b.oom) { loge("cannot save %s: out of memory; a restart would lose its last change", fin); free(b.p); return; }
  hd.body_len = (uint32_t)(b.n - sizeof hd);
  hd.sum = moj_state_sum(b.p + sizeof hd, b.n - sizeof hd);
  memcpy(b.p, &hd, sizeof hd);
  struct smap *m = &smaps[is_mq][slot];
  int ok;
  if (!m->map || b.n > m->cap) ok = !new_file(is_mq, slot, b.p, b.n);
  else {
    uint64_t *active = (uint64_t *)(m->map + offsetof(struct moj_state_file, active));
    uint64_t a = __atomic_load_n(active, __ATOMIC_RELAXED), next = !(a & 1);
    uint8_t *dst = m->map + sizeof(struct moj_state_file) + next * m->cap;
    memcpy(dst, b.p, b.n);
    ok = 1;
    if (state_sync) { /* msync wants page-aligned starts */
      uintptr_t lo = (uintptr_t)dst & ~(uintptr_t)4095;
      ok = !msync((void *)lo, (uintptr_t)dst + b.n - lo, MS_SYNC);
    }
    __atomic_store_n(active, ((a >> 1) + 1) << 1 | next, __ATOMIC_RELEASE);
    if (ok && state_sync) ok = !msync(m->map, 4096, MS_SYNC);
  }
  if (!ok) loge("cannot save %s: %s; a restart would lose its last change", fin, strerror(errno));
  free(b.p);
}
void ipc_state_remove(int is_mq, int slot) {
  if (!state_dir) return;
  /* a pending save of this slot stays listed: it finds no object and skips,
   * or finds one created since at the same slot and saves that */
  unmap(&smaps[is_mq][slot]);
  char p[600];
  fpath(p, sizeof p, is_mq, slot);
  if (unlink(p) && errno != ENOENT) loge("cannot remove %s: %s", p, strerror(errno));
}
/* Save every changed object, then send the replies that reported the changes. */
void ipc_commit(void) {
  /* MOJAVE_NSD_CRASH_AFTER_SAVES=N (tests only): the N-th commit that saved
   * something and holds replies kills the daemon between the save and the
   * replies — the one instant where a change is applied and its reply lost,
   * which a kill -9 from outside hits only by luck (dsm_*_restart) */
  static long crash_after = -1;
  if (crash_after < 0) crash_after = getenv("MOJAVE_NSD_CRASH_AFTER_SAVES") ? atol(getenv("MOJAVE_NSD_CRASH_AFTER_SAVES")) : 0;
  int saved = 0;
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < ndirty[k]; i++) {
      int sl = dirty_l[k][i];
      if (dirty_f[k][sl]) { save(k, sl); saved = 1; }
      dirty_f[k][sl] = 0;
    }
    ndirty[k] = 0;
  }
  if (saved && dr_head && crash_after > 0 && --crash_after == 0) {
    logw("MOJAVE_NSD_CRASH_AFTER_SAVES: dying between a save and its replies");
    raise(SIGKILL);
  }
  struct dr *d = dr_head;
  dr_head = NULL; dr_tail = &dr_head; /* a close inside sendm may commit again */
  while (d) {
    struct dr *n = d->next;
    sendm(cget(d->c), d->type, d->seq, d->status, 0, d->data, d->len, NULL, 0);
    free(d);
    d = n;
  }
}

/* ---------------- loading ---------------- */
struct rb { const uint8_t *p; size_t n, off; const char *bad; };
static const uint8_t *take(struct rb *r, size_t l) {
  if (r->bad || r->n - r->off < l) { if (!r->bad) r->bad = "truncated body"; return NULL; }
  const uint8_t *p = r->p + r->off;
  r->off += l;
  return p;
}
static uint16_t g16(struct rb *r) { const uint8_t *p = take(r, 2); uint16_t v = 0; if (p) memcpy(&v, p, 2); return v; }
static uint32_t g32(struct rb *r) { const uint8_t *p = take(r, 4); uint32_t v = 0; if (p) memcpy(&v, p, 4); return v; }
static uint64_t g64(struct rb *r) { const uint8_t *p = take(r, 8); uint64_t v = 0; if (p) memcpy(&v, p, 8); return v; }
static void get_perm(struct rb *r, struct perm *p) {
  p->key = (int32_t)g32(r); p->uid = g32(r); p->gid = g32(r); p->cuid = g32(r); p->cgid = g32(r); p->mode = g32(r) & 0777;
}
static void get_recs(struct rb *r, struct recs *out) {
  uint32_t n = g32(r);
  if (n > 65536) { r->bad = "too many request records"; return; }
  for (uint32_t i = 0; i < n && !r->bad; i++) {
    const uint8_t *h = take(r, 32);
    uint32_t pid = g32(r);
    uint64_t rid = g64(r);
    int32_t st = (int32_t)g32(r);
    uint32_t len = g32(r);
    if (len > sizeof(struct _moj_msgrcv_r) + MSGMAX) { r->bad = "request record too long"; return; }
    const uint8_t *d = take(r, len);
    if (!r->bad && h[31]) { r->bad = "unterminated host name"; return; }
    if (!r->bad) rec_put(out, (const char *)h, pid, rid, st, d, len, NULL, 0);
  }
}
static struct ghost *ghost_of(const char *host, uint32_t pid) {
  for (struct ghost *g = ghosts; g; g = g->next)
    if (g->pid == pid && !strncmp(g->host, host, 32)) return g;
  struct ghost *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  memcpy(g->host, host, 32);
  g->host[31] = 0;
  g->pid = pid;
  g->next = ghosts;
  ghosts = g;
  return g;
}
/* Parse one file into a new object at `slot`; NULL = fine, else why not. */
static const char *load_one(int is_mq, int slot, const uint8_t *buf, size_t len) {
  struct moj_state_hdr hd;
  if (len < sizeof hd) return "shorter than its header";
  memcpy(&hd, buf, sizeof hd);
  if (hd.magic != MOJ_STATE_MAGIC) return "bad magic";
  if (hd.version != MOJ_STATE_VERSION) return "unknown format version";
  if (hd.kind != (is_mq ? MOJ_STATE_MSG : MOJ_STATE_SEM) || hd.reserved) return "wrong kind";
  if (hd.body_len != len - sizeof hd) return "length does not match the header";
  if (moj_state_sum(buf + sizeof hd, hd.body_len) != hd.sum) return "checksum mismatch";
  struct rb r = {buf + sizeof hd, hd.body_len, 0, NULL};
  struct perm pm;
  get_perm(&r, &pm);
  if (!is_mq) {
    uint32_t nsems = g32(&r);
    if (!r.bad && (nsems < 1 || nsems > SEMMSL)) return "bad semaphore count";
    struct sem *s = calloc(1, sizeof *s);
    s->val = calloc(nsems ? nsems : 1, sizeof *s->val);
    s->pid = calloc(nsems ? nsems : 1, sizeof *s->pid);
    s->used = 1; s->perm = pm; s->nsems = (int)nsems;
    s->otime = (int64_t)g64(&r); s->ctime = (int64_t)g64(&r);
    for (uint32_t i = 0; i < nsems && !r.bad; i++) {
      s->val[i] = g16(&r); s->pid[i] = g32(&r);
      if (s->val[i] > SEMVMX) r.bad = "semaphore value above SEMVMX";
    }
    /* undo records go to their owners (ghosts) only once the whole file is known good */
    struct pu { const uint8_t *host; uint32_t pid; struct undo *u; } *pu = NULL;
    uint32_t nu = g32(&r), got = 0;
    if (!r.bad && nu > 65536) r.bad = "too many undo records";
    if (!r.bad && nu && !(pu = calloc(nu, sizeof *pu))) r.bad = "out of memory";
    for (uint32_t i = 0; i < nu && !r.bad; i++) {
      const uint8_t *h = take(&r, 32);
      uint32_t pid = g32(&r), n = g32(&r);
      if (r.bad) break;
      if (h[31] || n > nsems) { r.bad = "bad undo record"; break; }
      struct undo *u = calloc(1, sizeof *u);
      u->adj = calloc(nsems, sizeof *u->adj);
      u->slot = slot; u->nsems = (int)nsems;
      pu[got++] = (struct pu){h, pid, u};
      for (uint32_t j = 0; j < n && !r.bad; j++) {
        uint16_t num = g16(&r);
        int16_t adj = (int16_t)g16(&r);
        if (num >= nsems) r.bad = "undo entry beyond the set";
        else u->adj[num] = adj;
      }
    }
    get_recs(&r, &s->recs);
    if (!r.bad && r.off != r.n) r.bad = "trailing bytes";
    if (r.bad) {
      for (uint32_t i = 0; i < got; i++) { free(pu[i].u->adj); free(pu[i].u); }
      free(pu); rec_free(&s->recs); free(s->val); free(s->pid); free(s);
      return r.bad;
    }
    s->gen = gen_ctr++;
    for (uint32_t i = 0; i < got; i++) {
      struct ghost *g = ghost_of((const char *)pu[i].host, pu[i].pid);
      struct undo *u = pu[i].u;
      if (!g) { free(u->adj); free(u); continue; }
      u->gen = s->gen;
      u->next = g->undos; g->undos = u;
    }
    free(pu);
    for (int i = 0; i < s->recs.n; i++) ghost_of(s->recs.v[i].host, s->recs.v[i].pid);
    sems[slot] = s;
    return NULL;
  }
  struct mq *m = calloc(1, sizeof *m);
  m->used = 1; m->perm = pm;
  m->qbytes = g64(&r); m->cbytes = g64(&r); m->qnum = g64(&r);
  m->stime = (int64_t)g64(&r); m->rtime = (int64_t)g64(&r); m->ctime = (int64_t)g64(&r);
  m->lspid = g32(&r); m->lrpid = g32(&r);
  /* root may raise qbytes past MSGMNB: the bound is what the file can hold (12 bytes per message at least) */
  if (!r.bad && m->qnum > (r.n - r.off) / 12) r.bad = "more messages than the file can hold";
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < m->qnum && !r.bad; i++) {
    int64_t type = (int64_t)g64(&r);
    uint32_t size = g32(&r);
    if (r.bad) break;
    if (type < 1 || size > MSGMAX) { r.bad = "bad message"; break; }
    const uint8_t *d = take(&r, size);
    if (!d && size) break;
    struct msg *g = malloc(sizeof *g + size);
    g->type = type; g->size = size; g->next = NULL;
    if (size) memcpy(g->data, d, size);
    if (m->tail) m->tail->next = g; else m->head = g;
    m->tail = g;
    bytes += size;
  }
  if (!r.bad && bytes != m->cbytes) r.bad = "queue byte count does not match its messages";
  get_recs(&r, &m->recs);
  if (!r.bad && r.off != r.n) r.bad = "trailing bytes";
  if (r.bad) {
    while (m->head) { struct msg *g = m->head; m->head = g->next; free(g); }
    rec_free(&m->recs); free(m);
    return r.bad;
  }
  for (int i = 0; i < m->recs.n; i++) ghost_of(m->recs.v[i].host, m->recs.v[i].pid);
  mqs[slot] = m;
  return NULL;
}
void ipc_state_load(void) {
  DIR *d = opendir(state_dir);
  if (!d) return;
  struct dirent *e;
  int ns = 0, nm = 0, bad = 0;
  while ((e = readdir(d))) {
    char kind[8], ext[16], path[700];
    int slot, used = 0;
    if (sscanf(e->d_name, "%3[a-z]-%d.%15s%n", kind, &slot, ext, &used) != 3 || (strcmp(kind, "sem") && strcmp(kind, "msg"))) continue;
    snprintf(path, sizeof path, "%s/%s", state_dir, e->d_name);
    if (!strcmp(ext, "state.tmp")) { if (!state_verify) unlink(path); continue; } /* a save cut short by the crash */
    if (strcmp(ext, "state")) continue;
    int is_mq = kind[0] == 'm';
    const char *why = NULL;
    uint8_t *buf = NULL;
    ssize_t n = -1;
    if (slot <= 0 || slot >= MAX_SLOTS || (is_mq ? mqs[slot] != NULL : sems[slot] != NULL)) why = "bad slot number";
    else {
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd < 0 || fstat(fd, &st)) why = "cannot be read";
      else if (st.st_size > (off_t)(64u << 20)) why = "larger than 64 MB";
      else if (!(buf = malloc((size_t)st.st_size + 1))) why = "out of memory";
      else if ((n = read(fd, buf, (size_t)st.st_size)) != st.st_size) why = "short read";
      if (fd >= 0) close(fd);
    }
    size_t il = 0;
    const uint8_t *img = why ? NULL : moj_state_image(buf, (size_t)n, is_mq ? MOJ_STATE_MSG : MOJ_STATE_SEM, &il, &why);
    if (img) why = load_one(is_mq, slot, img, il);
    if (!why && !state_verify) { /* keep it mapped for the next save */
      int fd = open(path, O_RDWR | O_CLOEXEC);
      struct moj_state_file c;
      memcpy(&c, buf, sizeof c);
      if (fd < 0 || map_file(fd, c.cap, &smaps[is_mq][slot])) logw("cannot map %s (%s): the next save rewrites it", path, strerror(errno));
      if (fd >= 0) close(fd);
    }
    free(buf);
    if (why) {
      char kept[760];
      snprintf(kept, sizeof kept, "%s.corrupt", path);
      if (state_verify) logw("rejecting state file %s: %s", path, why);
      else {
        logw("ignoring state file %s: %s (kept as %s)", path, why, kept);
        if (rename(path, kept)) logw("cannot rename %s: %s", path, strerror(errno));
      }
      bad++;
      continue;
    }
    if (is_mq) nm++; else ns++;
  }
  closedir(d);
  ipc_state_rejected = bad;
  int ng = 0;
  for (struct ghost *g = ghosts; g; g = g->next) ng++;
  ghost_until = now_ns() + 8000000000LL; /* as segments: the clients' reconnect budget plus slack */
  if (ns || nm || bad)
    logm("restored %d semaphore set(s) and %d message queue(s) from %s (%d file(s) rejected); %d client(s) expected back",
         ns, nm, state_dir, bad, ng);
}

/* ---------------- clients coming back, or not ---------------- */
/* AUTH: a process known from before the restart reconnected: its SEM_UNDO
 * records are its connection's again (applied when it closes). */
void ipc_client_back(struct conn *c) {
  for (struct ghost **pg = &ghosts; *pg; pg = &(*pg)->next) {
    struct ghost *g = *pg;
    if (g->pid != c->pid || strncmp(g->host, c->host, 32)) continue;
    int n = 0;
    while (g->undos) {
      struct undo *u = g->undos;
      g->undos = u->next;
      struct undo *mine = NULL;
      for (struct undo *x = c->undos; x; x = x->next)
        if (x->slot == u->slot && x->gen == u->gen) mine = x;
      if (mine) { /* cannot happen today (AUTH comes first); merged to be safe */
        for (int i = 0; i < u->nsems && i < mine->nsems; i++) mine->adj[i] = (int16_t)(mine->adj[i] + u->adj[i]);
        free(u->adj); free(u);
      } else { u->next = c->undos; c->undos = u; }
      n++;
    }
    *pg = g->next;
    free(g);
    logm("%s pid %u is back after the restart (%d SEM_UNDO record(s) re-associated)", c->host, c->pid, n);
    return;
  }
}
static void drop_identity(const char *host, uint32_t pid) {
  for (int i = 0; i < MAX_SLOTS; i++) {
    if (sems[i] && rec_drop(&sems[i]->recs, host, pid)) sem_dirty(i);
    if (mqs[i] && rec_drop(&mqs[i]->recs, host, pid)) mq_dirty(i);
  }
}
/* A connection closed: the process is gone (its SEM_UNDO was applied by
 * sem_undo_exit), so are its request records — unless the same process has
 * another connection here. */
void ipc_client_gone(struct conn *c) {
  int other = 0;
  for (int fd = 0; fd <= maxfd && c->authed; fd++)
    if (conns[fd] && conns[fd] != c && conns[fd]->authed && conns[fd]->pid == c->pid && !strncmp(conns[fd]->host, c->host, 32)) other = 1;
  if (c->authed && !other) {
    for (struct undo *u = c->undos; u; u = u->next) sem_dirty(u->slot);
    drop_identity(c->host, c->pid);
  }
  ipc_commit();
}
/* After the grace period, a process that did not reconnect is taken for dead:
 * its SEM_UNDO adjustments are applied, as its exit would have done. */
void ipc_ghosts_expire(void) {
  if (!ghosts || now_ns() < ghost_until) return;
  while (ghosts) {
    struct ghost *g = ghosts;
    ghosts = g->next;
    int n = 0;
    for (struct undo *u = g->undos; u; u = u->next) { sem_dirty(u->slot); n++; }
    undo_apply(&g->undos);
    drop_identity(g->host, g->pid);
    logw("%s pid %u did not come back after the restart: %d SEM_UNDO record(s) applied, its request records dropped",
         g->host, g->pid, n);
    free(g);
  }
  ipc_commit();
}
