/* nsd_oshm.c — ordered shared-memory segments (cluster file `ordered RANGE`
 * covering a shm key; docs/speculative-dsm.md §7): the speculative coherence
 * mode's pages.  A segment whose key is ordered has no home: every daemon
 * keeps a full replica, and every write goes through the total order —
 * a process's store is captured (client_ocapture.c) and sent to its own
 * daemon as PAGE_WRITE, which submits it; every daemon applies it to its
 * replica at commit, in the one committed order, and invalidates the copies
 * its own processes hold of the pages it changed; the origin answers the
 * writer after those invalidations, on the same connection.
 *
 * Reads are served by the process's own daemon from its replica (a read
 * fault costs a local round trip, never a network one).  Why that is
 * sequentially consistent: each replica is a prefix of the one committed
 * sequence of writes; a process's copies are valid for the prefix its
 * daemon had applied when it last read from its connection (invalidations
 * arrive in order, before any later reply), so the prefix a process sees
 * only grows; and a writer continues only after its own write is in that
 * prefix.  Writes in commit order, each read placed at its process's prefix,
 * is then one sequential order that keeps every process's program order.
 * The one condition: the processes synchronise through the same order (the
 * semaphores and queues they use are ordered too); a home-based semaphore
 * is a second channel that can overtake the order (docs).
 *
 * A PAGE_WRITE may also carry the pages a committing speculation read and
 * the versions it read them at (client_otx.c): applied only if every one
 * is unchanged, else answered MOJ_ECONFLICT — the paper's speculative read,
 * checked by every replica at the same place in the order.
 *
 * Not here: persistence, IPC_PRIVATE, reuse of a removed segment's slot
 * (ids are handed out once per cluster lifetime, OSHM_MAX of them), and
 * nattch/atime/lpid counting other hosts' processes (each daemon counts its
 * own). */
#include "nsd.h"

#include <sys/shm.h>

#define OSHM_MAX 256                       /* ordered segments per cluster lifetime */
#define OSHM_MAX_BYTES (256u << 20)        /* a replica on every host: keep them modest */

struct oshm {
  struct perm perm;
  uint64_t size;
  uint32_t npages;
  int removed;
  uint8_t *mem;      /* the replica (NULL once removed and no local process attached) */
  uint32_t *ver;     /* per page: writes applied */
  uint32_t *held;    /* [page * MAX_ATT + slot]: version + 1 of the copy that local attachment holds, 0 none */
  struct { struct cref c; int count; } att[MAX_ATT];
  int64_t atime, dtime, ctime;
  uint32_t cpid, lpid;
};
static struct oshm *oshms[OSHM_MAX];
static int oshm_next; /* slots are handed out once: every replica picks the same */

static struct oshm *by_id(int32_t id) {
  if (!MOJ_ID_IS_ORDERED(id) || MOJ_ID_SLOT(id) >= OSHM_MAX) return NULL;
  return oshms[MOJ_ID_SLOT(id)];
}
static int slot_of(struct oshm *s, struct conn *c) {
  for (int i = 0; i < MAX_ATT; i++)
    if (s->att[i].count && s->att[i].c.fd == c->fd && s->att[i].c.gen == c->gen) return i;
  return -1;
}
static int nattch(const struct oshm *s) {
  int n = 0;
  for (int i = 0; i < MAX_ATT; i++) n += s->att[i].count;
  return n;
}
/* The replica's memory goes once the segment is removed and no process of
 * ours is attached; the slot stays (see the top). */
static void maybe_free(struct oshm *s) {
  if (!s->removed || nattch(s)) return;
  free(s->mem); free(s->ver); free(s->held);
  s->mem = NULL; s->ver = NULL; s->held = NULL;
}

/* ---------------- applied at commit, on every replica ---------------- */
static void apply_get(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_shmget q;
  if (len != sizeof q) { ord_answer(w, MOJ_SHMGET, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  for (int i = 0; i < oshm_next; i++) {
    struct oshm *s = oshms[i];
    if (!s || s->removed || s->perm.key != q.key) continue;
    int e = (q.flags & IPC_CREAT) && (q.flags & IPC_EXCL) ? EEXIST
            : !perm_ok(&s->perm, &q.cred, q.flags & 0777) ? EACCES
            : q.size > s->size ? EINVAL : 0;
    struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, i)};
    ord_answer(w, MOJ_SHMGET, e, e ? NULL : &r, e ? 0 : sizeof r, NULL, 0);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { ord_answer(w, MOJ_SHMGET, ENOENT, NULL, 0, NULL, 0); return; }
  if (q.size < 1 || q.size > OSHM_MAX_BYTES) { ord_answer(w, MOJ_SHMGET, EINVAL, NULL, 0, NULL, 0); return; }
  if (oshm_next == OSHM_MAX) { ord_answer(w, MOJ_SHMGET, ENOSPC, NULL, 0, NULL, 0); return; }
  int sl = oshm_next++;
  struct oshm *s = calloc(1, sizeof *s);
  uint32_t np = (uint32_t)((q.size + MOJ_PAGE - 1) / MOJ_PAGE);
  if (s) {
    s->mem = calloc(np, MOJ_PAGE);
    s->ver = calloc(np, sizeof *s->ver);
    s->held = calloc((size_t)np * MAX_ATT, sizeof *s->held);
  }
  if (!s || !s->mem || !s->ver || !s->held) {
    loge("ordered segments: out of memory for the replica of key 0x%x (%llu bytes): this replica diverges from the others",
         (unsigned)q.key, (unsigned long long)q.size);
    if (s) { free(s->mem); free(s->ver); free(s->held); free(s); }
    ord_answer(w, MOJ_SHMGET, ENOMEM, NULL, 0, NULL, 0);
    return;
  }
  s->perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  s->size = q.size;
  s->npages = np;
  s->ctime = wall();
  s->cpid = q.cred.pid;
  oshms[sl] = s;
  struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, sl)};
  logm("ordered shmget key=0x%x size=%llu -> id=0x%x", (unsigned)q.key, (unsigned long long)q.size, (unsigned)r.id);
  ord_answer(w, MOJ_SHMGET, 0, &r, sizeof r, NULL, 0);
}

static void apply_ctl(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_ctl q;
  if (len < sizeof q) { ord_answer(w, MOJ_SHMCTL, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  struct oshm *s = by_id(q.id);
  if (!s || s->removed) { ord_answer(w, MOJ_SHMCTL, EINVAL, NULL, 0, NULL, 0); return; }
  struct _moj_stat_r r;
  memset(&r, 0, sizeof r);
  switch (q.cmd) {
  case IPC_STAT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) { ord_answer(w, MOJ_SHMCTL, EACCES, NULL, 0, NULL, 0); return; }
    fill_perm(&r, &s->perm);
    r.size = s->size; r.atime = s->atime; r.dtime = s->dtime; r.ctime = s->ctime;
    r.cpid = s->cpid; r.lpid = s->lpid; r.nattch = (uint64_t)nattch(s); /* the origin's own processes */
    ord_answer(w, MOJ_SHMCTL, 0, &r, sizeof r, NULL, 0);
    return;
  case IPC_SET:
    if (!is_owner(&s->perm, &q.cred)) { ord_answer(w, MOJ_SHMCTL, EPERM, NULL, 0, NULL, 0); return; }
    s->perm.uid = q.set_uid; s->perm.gid = q.set_gid; s->perm.mode = q.set_mode & 0777;
    s->ctime = wall();
    ord_answer(w, MOJ_SHMCTL, 0, NULL, 0, NULL, 0);
    return;
  case IPC_RMID:
    if (!is_owner(&s->perm, &q.cred)) { ord_answer(w, MOJ_SHMCTL, EPERM, NULL, 0, NULL, 0); return; }
    s->removed = 1; /* no shmget finds it again; attached processes keep using it */
    maybe_free(s);
    ord_answer(w, MOJ_SHMCTL, 0, NULL, 0, NULL, 0);
    return;
  default:
    ord_answer(w, MOJ_SHMCTL, EINVAL, NULL, 0, NULL, 0);
  }
}

/* A PAGE_WRITE checked against the segments (every replica checks alike,
 * so all accept or all refuse).  0 or an errno; *reads and *runs point into pl. */
static int check_write(const uint8_t *pl, uint32_t len, struct _moj_pwrite *q, const uint8_t **reads, const uint8_t **runs) {
  if (len < sizeof *q) return EPROTO;
  memcpy(q, pl, sizeof *q);
  if (q->nreads > MOJ_PWRITE_MAX_READS || q->nruns > MOJ_PWRITE_MAX_RUNS || !(q->nreads + q->nruns)) return EPROTO;
  size_t need = sizeof *q + (size_t)q->nreads * sizeof(struct _moj_pwrite_read) + (size_t)q->nruns * sizeof(struct _moj_pwrite_run);
  if (len < need) return EPROTO;
  *reads = pl + sizeof *q;
  *runs = *reads + (size_t)q->nreads * sizeof(struct _moj_pwrite_read);
  for (uint32_t i = 0; i < q->nreads; i++) {
    struct _moj_pwrite_read r;
    memcpy(&r, *reads + i * sizeof r, sizeof r);
    struct oshm *s = by_id(r.id);
    if (!s || !s->mem || r.page >= s->npages) return EINVAL;
  }
  for (uint32_t i = 0; i < q->nruns; i++) {
    struct _moj_pwrite_run r;
    memcpy(&r, *runs + i * sizeof r, sizeof r);
    struct oshm *s = by_id(r.id);
    if (!s || !s->mem || r.page >= s->npages || !r.len || (uint32_t)r.off + r.len > MOJ_PAGE) return EINVAL;
    need += r.len;
  }
  return need == len ? 0 : EPROTO;
}
/* Our processes' copies of a page the write changed go — except the
 * writer's when it was current before the write (the stores were made in
 * it, so it is current after). */
static void invalidate(struct oshm *s, int32_t id, uint32_t pn, uint32_t old, const struct _moj_ord_w *w) {
  int mine = w->origin == (uint32_t)self_idx;
  for (int a = 0; a < MAX_ATT; a++) {
    uint32_t *h = &s->held[(size_t)pn * MAX_ATT + a];
    if (!*h || !s->att[a].count) continue;
    if (mine && (uint32_t)s->att[a].c.fd == w->fd && s->att[a].c.gen == w->gen && *h == old + 1) { *h = s->ver[pn] + 1; continue; }
    *h = 0;
    struct conn *o = cget(s->att[a].c);
    struct _moj_page f = {id, pn, MOJ_ACC_NONE, 0};
    if (o) sendm(o, MOJ_PAGE_FETCH, ++o->fetch_seq, 0, 0, &f, sizeof f, NULL, 0);
  }
}
static void apply_write(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_pwrite q;
  const uint8_t *reads, *runs;
  int e = check_write(pl, len, &q, &reads, &runs);
  if (e) { ord_answer(w, MOJ_PAGE_WRITE, e, NULL, 0, NULL, 0); return; }
  /* a speculation's reads: still what it read, or nothing happens */
  for (uint32_t i = 0; i < q.nreads; i++) {
    struct _moj_pwrite_read r;
    memcpy(&r, reads + i * sizeof r, sizeof r);
    if (by_id(r.id)->ver[r.page] != r.version) {
      if (debug) logm("PAGE_WRITE of %u/%u/%u: segment 0x%x page %u read at version %u, now %u: conflict", w->origin, w->fd, w->seq,
                      (unsigned)r.id, r.page, r.version, by_id(r.id)->ver[r.page]);
      ord_answer(w, MOJ_PAGE_WRITE, MOJ_ECONFLICT, NULL, 0, NULL, 0);
      return;
    }
  }
  const uint8_t *data = runs + (size_t)q.nruns * sizeof(struct _moj_pwrite_run);
  for (uint32_t i = 0; i < q.nruns; i++) {
    struct _moj_pwrite_run r;
    memcpy(&r, runs + i * sizeof r, sizeof r);
    memcpy(by_id(r.id)->mem + (size_t)r.page * MOJ_PAGE + r.off, data, r.len);
    data += r.len;
  }
  /* one version step per page written, whatever the number of runs */
  for (uint32_t i = 0; i < q.nruns; i++) {
    struct _moj_pwrite_run r;
    memcpy(&r, runs + i * sizeof r, sizeof r);
    int seen = 0;
    for (uint32_t k = 0; k < i && !seen; k++) {
      struct _moj_pwrite_run u;
      memcpy(&u, runs + k * sizeof u, sizeof u);
      seen = u.id == r.id && u.page == r.page;
    }
    if (seen) continue;
    struct oshm *s = by_id(r.id);
    uint32_t old = s->ver[r.page]++;
    invalidate(s, r.id, r.page, old, w);
  }
  ord_answer(w, MOJ_PAGE_WRITE, 0, NULL, 0, NULL, 0);
}

void oshm_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  if (w->kind == MOJ_OK_SHMGET) apply_get(w, pl, len);
  else if (w->kind == MOJ_OK_SHMCTL) apply_ctl(w, pl, len);
  else apply_write(w, pl, len);
}

/* ---------------- our own processes (not ordered) ---------------- */
void oshm_at(struct conn *c, const struct _moj_hdr *h, const struct _moj_shmat *q) {
  struct oshm *s = by_id(q->id);
  if (!s || s->removed) { reply(c, h, EINVAL, NULL, 0); return; }
  if (!perm_ok(&s->perm, &q->cred, (q->flags & SHM_RDONLY) ? 0444 : 0666)) { reply(c, h, EACCES, NULL, 0); return; }
  int a = slot_of(s, c);
  if (a < 0) {
    for (a = 0; a < MAX_ATT && s->att[a].count; a++) {}
    if (a == MAX_ATT) { reply(c, h, ENOSPC, NULL, 0); return; }
    for (uint32_t pn = 0; pn < s->npages; pn++) s->held[(size_t)pn * MAX_ATT + a] = 0;
    s->att[a].c = cref_of(c);
  }
  s->att[a].count++;
  s->atime = wall();
  s->lpid = q->cred.pid;
  struct _moj_shmat_r r = {s->size};
  reply(c, h, 0, &r, sizeof r);
}
static void detach(struct oshm *s, int a, int all) {
  s->att[a].count = all ? 0 : s->att[a].count - 1;
  if (!s->att[a].count)
    for (uint32_t pn = 0; pn < s->npages; pn++) s->held[(size_t)pn * MAX_ATT + a] = 0;
  s->dtime = wall();
  maybe_free(s);
}
void oshm_dt(struct conn *c, const struct _moj_hdr *h, const struct _moj_shmdt *q) {
  struct oshm *s = by_id(q->id);
  int a = s && s->mem ? slot_of(s, c) : -1;
  if (a < 0) { reply(c, h, EINVAL, NULL, 0); return; }
  if (h->aux & 1) return; /* page records: never sent for ordered segments (no page is ever held writable) */
  detach(s, a, 0);
  reply(c, h, 0, NULL, 0);
}
/* REATTACH: a fork()ed child (or a migrated process) takes over attachments
 * it did not shmat itself; the pages records a recovering client appends
 * are read copies (never writable here), nothing to take from them. */
void oshm_reattach(struct conn *c, const struct _moj_hdr *h, const struct _moj_reattach *q) {
  struct oshm *s = by_id(q->id);
  if (h->aux & 1) return; /* more records follow; the last message attaches */
  if (!s || !s->mem) { reply(c, h, EIDRM, &q->id, sizeof q->id); return; }
  if (!perm_ok(&s->perm, &q->cred, 0444)) { reply(c, h, EACCES, &q->id, sizeof q->id); return; }
  int a = slot_of(s, c);
  if (a < 0) {
    for (a = 0; a < MAX_ATT && s->att[a].count; a++) {}
    if (a == MAX_ATT) { reply(c, h, ENOSPC, &q->id, sizeof q->id); return; }
    for (uint32_t pn = 0; pn < s->npages; pn++) s->held[(size_t)pn * MAX_ATT + a] = 0;
    s->att[a].c = cref_of(c);
  }
  s->att[a].count += q->count ? (int)q->count : 1;
  reply(c, h, 0, NULL, 0);
}
void oshm_conn_gone(struct conn *c) {
  for (int i = 0; i < oshm_next; i++) {
    struct oshm *s = oshms[i];
    int a = s && s->mem ? slot_of(s, c) : -1;
    if (a >= 0) detach(s, a, 1);
  }
}
/* A read fault: the page from our replica, at once.  Ordered pages are never
 * handed out writable (stores are captured and ordered instead). */
void oshm_page_req(struct conn *c, const struct _moj_hdr *h, const struct _moj_page_req *q) {
  struct oshm *s = by_id(q->id);
  int a = s && s->mem && q->page < s->npages ? slot_of(s, c) : -1;
  if (a < 0 || q->access != MOJ_ACC_READ) {
    logp(c, MOJ_LOG_WARN, "PAGE_REQ from %s: ordered segment 0x%x page %u access %u: %s, rejected", c->peer, (unsigned)q->id,
         q->page, q->access, a < 0 ? "not attached or no such page" : "only read access is granted");
    struct _moj_page p = {q->id, q->page, 0, 0};
    sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, h->seq, EINVAL, 0, &p, sizeof p, NULL, 0);
    return;
  }
  s->held[(size_t)q->page * MAX_ATT + a] = s->ver[q->page] + 1;
  struct _moj_page p = {q->id, q->page, MOJ_ACC_READ, 1};
  /* aux: the version, which a speculation that reads the page must find
   * unchanged when it commits */
  sendm(c, MOJ_PAGE_REQ | MOJ_REPLY, h->seq, 0, s->ver[q->page], &p, sizeof p, s->mem + (size_t)q->page * MOJ_PAGE, MOJ_PAGE);
}
/* PAGE_WRITE: a process's captured store, checked here first (a malformed one
 * never reaches the order), then ordered; answered at commit. */
void do_page_write(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_pwrite q;
  const uint8_t *reads, *runs;
  int e = check_write(pl, h->len, &q, &reads, &runs);
  for (uint32_t i = 0; !e && i < q.nruns; i++) { /* only into segments it has attached */
    struct _moj_pwrite_run r;
    memcpy(&r, runs + i * sizeof r, sizeof r);
    if (slot_of(by_id(r.id), c) < 0) e = EINVAL;
  }
  if (e) {
    logp(c, MOJ_LOG_WARN, "PAGE_WRITE from %s: %s, rejected", c->peer, e == EPROTO ? "malformed" : "no such segment, page or attachment");
    reply(c, h, e, NULL, 0);
    return;
  }
  ord_submit(c, h, MOJ_OK_PWRITE, pl, 0);
}
