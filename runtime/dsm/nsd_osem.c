/* nsd_osem.c — ordered semaphore sets (cluster file `ordered RANGE`, issue
 * 12 item 3): a set whose key is in an ordered range has no home; every
 * daemon keeps a replica, and every semget/semop/semctl on it is broadcast
 * through the total-order layer (nsd_order.c) and applied by each replica
 * when it commits, in the one committed order all daemons share.  Replicas
 * therefore take identical decisions — who is granted, who waits, in which
 * FIFO order waiters are woken — without a home, and a process asks its own
 * host's daemon, which answers it (origin) once its request committed.
 *
 * Replicas act on *committed* deliveries only; the speculation is the
 * caller's: a libmojave program with `speculative-locks on` runs past its
 * semop while the request is being ordered (client_speclock.c) and is told
 * MOJ_EQUEUED at commit when it must wait.  Anything decided by one daemon's
 * clock or connections — a semtimedop deadline, a CANCEL after a signal, a
 * process that went away (its waiters, its SEM_UNDO) — is itself submitted
 * as an ordered message by the origin, so no replica acts on local time.
 *
 * Not here: persistence (a restarted daemon has no replica: it must not be
 * restarted while ordered sets are in use), migration of SEM_UNDO on
 * ordered sets, IPC_PRIVATE (ordered sets need a key). */
#include "nsd.h"

#include <sys/sem.h>

#define OSEM_MAX 1024  /* ordered sets per cluster */
#define OSEM_NSEMS 2000 /* a SETALL must fit one ordered message (MOJ_TO_MAX_DATA) */

struct owaiter {
  struct _moj_osem_w who;
  uint32_t len;
  struct owaiter *next;
  uint8_t req[]; /* _moj_semop + ops */
};
struct oundo { uint32_t origin, fd, gen; int16_t *adj; struct oundo *next; };
struct osem {
  struct perm perm;
  int nsems;
  uint16_t *val;
  uint32_t *pid;
  int64_t otime, ctime;
  struct owaiter *w;
  struct oundo *undo;
};
static struct osem *osems[OSEM_MAX];

/* Our own processes' ordered requests not answered yet: what a CANCEL, a
 * deadline or a closed connection must be submitted for. */
struct oreq { struct cref c; uint32_t seq; int64_t deadline; int cancel_sent; struct oreq *next; };
static struct oreq *oreqs;
/* What must be submitted but cannot be from where we are (a connection
 * closing inside a commit callback): sent by osem_tick. */
struct obox { struct obox *next; uint32_t len; uint8_t data[]; };
static struct obox *outbox, **outbox_t = &outbox;

int osem_key(int32_t key) { return C.order && _moj_cluster_is_ordered(&C, key); }

/* ---------------- the origin: submitting, answering ---------------- */
static int submit_now(const struct _moj_osem_w *w, const void *pl, uint32_t len) {
  uint8_t buf[MOJ_TO_MAX_DATA];
  if (sizeof *w + len > sizeof buf) return EMSGSIZE;
  memcpy(buf, w, sizeof *w);
  if (len) memcpy(buf + sizeof *w, pl, len);
  return order_submit(buf, (uint32_t)(sizeof *w + len), NULL);
}
static void submit_later(const struct _moj_osem_w *w) {
  struct obox *b = malloc(sizeof *b + sizeof *w);
  if (!b) { logw("ordered semaphores: out of memory: a CANCEL or a departure of pid on fd %u is lost", w->fd); return; }
  b->next = NULL; b->len = sizeof *w;
  memcpy(b->data, w, sizeof *w);
  *outbox_t = b; outbox_t = &b->next;
}
/* A client's request: ordered, answered when it commits. */
static void submit(struct conn *c, const struct _moj_hdr *h, uint32_t kind, const uint8_t *pl, int64_t timeout_ns) {
  struct _moj_osem_w w = {kind, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, h->seq, h->aux};
  struct oreq *r = calloc(1, sizeof *r);
  if (!r) { reply(c, h, ENOMEM, NULL, 0); return; }
  int e = submit_now(&w, pl, h->len);
  if (e) { free(r); reply(c, h, e, NULL, 0); return; }
  c->osem_used = 1;
  r->c = cref_of(c); r->seq = h->seq;
  r->deadline = timeout_ns > 0 ? now_ns() + timeout_ns : 0;
  r->next = oreqs; oreqs = r;
}
static struct oreq **find_req(uint32_t fd, uint32_t gen, uint32_t seq) {
  struct oreq **pp = &oreqs;
  while (*pp && !((uint32_t)(*pp)->c.fd == fd && (*pp)->c.gen == gen && (*pp)->seq == seq)) pp = &(*pp)->next;
  return pp;
}
/* The origin answers its process (other replicas only apply). */
static void answer(const struct _moj_osem_w *w, uint16_t type, int32_t st, const void *p, size_t l, const void *p2,
                   size_t l2) {
  if (w->origin != (uint32_t)self_idx) return;
  if (st != MOJ_EQUEUED) {
    struct oreq **pp = find_req(w->fd, w->gen, w->seq);
    if (*pp) { struct oreq *r = *pp; *pp = r->next; free(r); }
  }
  struct conn *c = cget((struct cref){(int)w->fd, w->gen});
  if (c) sendm(c, (uint16_t)(type | MOJ_REPLY), w->seq, st, 0, p, l, p2, l2);
}

void osem_get(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  submit(c, h, MOJ_OK_SEMGET, pl, 0);
}
void osem_op(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  struct _moj_semop q; memcpy(&q, pl, sizeof q); /* do_semop checked the length */
  submit(c, h, MOJ_OK_SEMOP, pl, q.timeout_ns);
}
void osem_ctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  submit(c, h, MOJ_OK_SEMCTL, pl, 0);
}
/* A signal interrupted the caller (MOJ_CANCEL): 1 if it was ours to cancel. */
int osem_cancel(struct conn *c, uint32_t seq) {
  struct oreq **pp = find_req((uint32_t)c->fd, c->gen, seq);
  if (!*pp) return 0;
  if (!(*pp)->cancel_sent) {
    struct _moj_osem_w w = {MOJ_OK_CANCEL, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, seq, EINTR};
    (*pp)->cancel_sent = 1;
    submit_later(&w);
  }
  return 1;
}
/* The process's connection closed: its waiters go, its SEM_UNDO applies. */
void osem_conn_gone(struct conn *c) {
  if (!c->osem_used) return;
  for (struct oreq **pp = &oreqs; *pp;) {
    struct oreq *r = *pp;
    if (r->c.fd == c->fd && r->c.gen == c->gen) { *pp = r->next; free(r); }
    else pp = &r->next;
  }
  struct _moj_osem_w w = {MOJ_OK_GONE, (uint32_t)self_idx, (uint32_t)c->fd, c->gen, 0, 0};
  submit_later(&w);
}
/* Deadlines and what waited in the outbox; the next deadline (0: none). */
int64_t osem_tick(void) {
  while (outbox) {
    struct obox *b = outbox;
    if (order_submit(b->data, b->len, NULL)) break; /* out of memory: next turn */
    outbox = b->next;
    if (!outbox) outbox_t = &outbox;
    free(b);
  }
  int64_t now = now_ns(), next = 0;
  for (struct oreq *r = oreqs; r; r = r->next) {
    if (!r->deadline || r->cancel_sent) continue;
    if (r->deadline <= now) {
      struct _moj_osem_w w = {MOJ_OK_CANCEL, (uint32_t)self_idx, (uint32_t)r->c.fd, r->c.gen, r->seq, EAGAIN};
      if (!submit_now(&w, NULL, 0)) r->cancel_sent = 1;
    } else if (!next || r->deadline < next) {
      next = r->deadline;
    }
  }
  return next;
}

/* ---------------- the replica: applying committed requests ---------------- */
static int same_proc(const struct _moj_osem_w *a, uint32_t origin, uint32_t fd, uint32_t gen) {
  return a->origin == origin && a->fd == fd && a->gen == gen;
}
static struct osem *by_id(int32_t id, int *slot) {
  if (!MOJ_ID_IS_ORDERED(id) || MOJ_ID_SLOT(id) >= OSEM_MAX || !osems[MOJ_ID_SLOT(id)]) return NULL;
  *slot = MOJ_ID_SLOT(id);
  return osems[*slot];
}
static struct oundo *undo_of(struct osem *s, const struct _moj_osem_w *w) {
  for (struct oundo *u = s->undo; u; u = u->next)
    if (u->origin == w->origin && u->fd == w->fd && u->gen == w->gen) return u;
  struct oundo *u = calloc(1, sizeof *u);
  int16_t *adj = calloc((size_t)s->nsems, sizeof *adj);
  if (!u || !adj) { free(u); free(adj); return NULL; }
  *u = (struct oundo){w->origin, w->fd, w->gen, adj, s->undo};
  s->undo = u;
  return u;
}
/* All or nothing, as the kernel: 0 done, -1 must wait, >0 errno. */
static int try_op(struct osem *s, const struct _moj_osem_w *w, const struct _moj_semop *q, const uint8_t *ops_p) {
  int16_t tmp[SEMOPM];
  struct _moj_sembuf ops[SEMOPM];
  memcpy(ops, ops_p, q->nsops * sizeof *ops);
  for (uint32_t i = 0; i < q->nsops; i++) {
    int v = s->val[ops[i].num];
    for (uint32_t j = 0; j < i; j++)
      if (ops[j].num == ops[i].num) v += ops[j].op;
    if (ops[i].op == 0) { if (v != 0) return (ops[i].flg & IPC_NOWAIT) ? EAGAIN : -1; }
    else if (ops[i].op < 0) { if (v + ops[i].op < 0) return (ops[i].flg & IPC_NOWAIT) ? EAGAIN : -1; }
    else if (v + ops[i].op > SEMVMX) return ERANGE;
    tmp[i] = (int16_t)(v + ops[i].op);
  }
  struct oundo *u = NULL;
  for (uint32_t i = 0; i < q->nsops; i++)
    if ((ops[i].flg & SEM_UNDO) && ops[i].op && !(u = undo_of(s, w))) return ENOMEM; /* same on every replica only if none runs out */
  for (uint32_t i = 0; i < q->nsops; i++) {
    s->val[ops[i].num] = (uint16_t)tmp[i];
    s->pid[ops[i].num] = q->cred.pid;
    if ((ops[i].flg & SEM_UNDO) && u) u->adj[ops[i].num] = (int16_t)(u->adj[ops[i].num] - ops[i].op);
  }
  s->otime = wall();
  return 0;
}
static void wake(struct osem *s) {
  for (int progress = 1; progress;) {
    progress = 0;
    for (struct owaiter **pw = &s->w; *pw;) {
      struct owaiter *x = *pw;
      struct _moj_semop q; memcpy(&q, x->req, sizeof q);
      int r = try_op(s, &x->who, &q, x->req + sizeof q);
      if (r == -1) { pw = &x->next; continue; }
      *pw = x->next;
      answer(&x->who, MOJ_SEMOP, r, NULL, 0, NULL, 0);
      free(x);
      if (r == 0) progress = 1;
    }
  }
}
static void destroy(int slot) {
  struct osem *s = osems[slot];
  while (s->w) { struct owaiter *x = s->w; s->w = x->next; answer(&x->who, MOJ_SEMOP, EIDRM, NULL, 0, NULL, 0); free(x); }
  while (s->undo) { struct oundo *u = s->undo; s->undo = u->next; free(u->adj); free(u); }
  free(s->val); free(s->pid); free(s);
  osems[slot] = NULL;
}

static void apply_get(const struct _moj_osem_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_semget q;
  if (len != sizeof q) { answer(w, MOJ_SEMGET, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  for (int i = 0; i < OSEM_MAX; i++) {
    struct osem *s = osems[i];
    if (!s || s->perm.key != q.key) continue;
    int e = (q.flags & IPC_CREAT) && (q.flags & IPC_EXCL) ? EEXIST
            : !perm_ok(&s->perm, &q.cred, q.flags & 0777) ? EACCES
            : q.nsems < 0 || q.nsems > s->nsems ? EINVAL : 0;
    struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, i)};
    answer(w, MOJ_SEMGET, e, e ? NULL : &r, e ? 0 : sizeof r, NULL, 0);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { answer(w, MOJ_SEMGET, ENOENT, NULL, 0, NULL, 0); return; }
  if (q.nsems <= 0 || q.nsems > OSEM_NSEMS) { answer(w, MOJ_SEMGET, EINVAL, NULL, 0, NULL, 0); return; }
  int sl = 0;
  while (sl < OSEM_MAX && osems[sl]) sl++;
  if (sl == OSEM_MAX) { answer(w, MOJ_SEMGET, ENOSPC, NULL, 0, NULL, 0); return; }
  struct osem *s = calloc(1, sizeof *s);
  uint16_t *val = calloc((size_t)q.nsems, sizeof *val);
  uint32_t *pid = calloc((size_t)q.nsems, sizeof *pid);
  if (!s || !val || !pid) {
    /* the replicas would now disagree about this set: say so loudly */
    loge("ordered semaphores: out of memory creating the set of key 0x%x: this replica diverges from the others", (unsigned)q.key);
    free(s); free(val); free(pid);
    answer(w, MOJ_SEMGET, ENOMEM, NULL, 0, NULL, 0);
    return;
  }
  *s = (struct osem){.perm = {q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777},
                     .nsems = q.nsems, .val = val, .pid = pid, .ctime = wall()};
  osems[sl] = s;
  struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, sl)};
  answer(w, MOJ_SEMGET, 0, &r, sizeof r, NULL, 0);
}

static void apply_op(const struct _moj_osem_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_semop q;
  if (len < sizeof q) { answer(w, MOJ_SEMOP, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  if (q.nsops < 1 || q.nsops > SEMOPM || len != sizeof q + q.nsops * sizeof(struct _moj_sembuf)) {
    answer(w, MOJ_SEMOP, EPROTO, NULL, 0, NULL, 0);
    return;
  }
  int sl;
  struct osem *s = by_id(q.id, &sl);
  if (!s) { answer(w, MOJ_SEMOP, EINVAL, NULL, 0, NULL, 0); return; }
  int alter = 0;
  for (uint32_t i = 0; i < q.nsops; i++) {
    struct _moj_sembuf o; memcpy(&o, pl + sizeof q + i * sizeof o, sizeof o);
    if (o.num >= s->nsems) { answer(w, MOJ_SEMOP, EFBIG, NULL, 0, NULL, 0); return; }
    alter |= o.op != 0;
  }
  if (!perm_ok(&s->perm, &q.cred, alter ? 0222 : 0444)) { answer(w, MOJ_SEMOP, EACCES, NULL, 0, NULL, 0); return; }
  int r = try_op(s, w, &q, pl + sizeof q);
  if (r == -1) {
    if (q.timeout_ns == 0) { answer(w, MOJ_SEMOP, EAGAIN, NULL, 0, NULL, 0); return; }
    struct owaiter *x = malloc(sizeof *x + len);
    if (!x) { answer(w, MOJ_SEMOP, ENOMEM, NULL, 0, NULL, 0); return; }
    x->who = *w; x->len = len; x->next = NULL;
    memcpy(x->req, pl, len);
    struct owaiter **t = &s->w;
    while (*t) t = &(*t)->next; /* FIFO, in commit order: the same on every replica */
    *t = x;
    if (w->aux & MOJ_SEMOP_SPECULATIVE) answer(w, MOJ_SEMOP, MOJ_EQUEUED, NULL, 0, NULL, 0);
    return;
  }
  answer(w, MOJ_SEMOP, r, NULL, 0, NULL, 0);
  if (!r) wake(s);
}

static void apply_ctl(const struct _moj_osem_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_ctl q;
  if (len < sizeof q) { answer(w, MOJ_SEMCTL, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  int sl;
  struct osem *s = by_id(q.id, &sl);
  if (!s) { answer(w, MOJ_SEMCTL, EINVAL, NULL, 0, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  int cmd = q.cmd;
#define ANS(st) do { answer(w, MOJ_SEMCTL, (st), NULL, 0, NULL, 0); return; } while (0)
  if ((cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT || cmd == SETVAL) && (q.num < 0 || q.num >= s->nsems))
    ANS(EINVAL);
  switch (cmd) {
  case IPC_STAT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) ANS(EACCES);
    fill_perm(&r, &s->perm);
    r.atime = s->otime; r.ctime = s->ctime; r.nattch = (uint64_t)s->nsems;
    answer(w, MOJ_SEMCTL, 0, &r, sizeof r, NULL, 0);
    return;
  case IPC_SET:
    if (!is_owner(&s->perm, &q.cred)) ANS(EPERM);
    s->perm.uid = q.set_uid; s->perm.gid = q.set_gid; s->perm.mode = q.set_mode & 0777; s->ctime = wall();
    ANS(0);
  case IPC_RMID:
    if (!is_owner(&s->perm, &q.cred)) ANS(EPERM);
    destroy(sl);
    ANS(0);
  case GETVAL: case GETPID: case GETNCNT: case GETZCNT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) ANS(EACCES);
    if (cmd == GETVAL) r.val = s->val[q.num];
    else if (cmd == GETPID) r.val = (int32_t)s->pid[q.num];
    else
      for (struct owaiter *x = s->w; x; x = x->next) {
        struct _moj_semop wq; memcpy(&wq, x->req, sizeof wq);
        for (uint32_t i = 0; i < wq.nsops; i++) { /* each waiter once, for the first op it waits on (as Linux) */
          struct _moj_sembuf o; memcpy(&o, x->req + sizeof wq + i * sizeof o, sizeof o);
          if (o.num != q.num) continue;
          if ((cmd == GETNCNT && o.op < 0) || (cmd == GETZCNT && o.op == 0)) { r.val++; break; }
        }
      }
    answer(w, MOJ_SEMCTL, 0, &r, sizeof r, NULL, 0);
    return;
  case GETALL:
    if (!perm_ok(&s->perm, &q.cred, 0444)) ANS(EACCES);
    r.nvals = (uint32_t)s->nsems;
    answer(w, MOJ_SEMCTL, 0, &r, sizeof r, s->val, (size_t)s->nsems * 2);
    return;
  case SETVAL: case SETALL:
    if (!perm_ok(&s->perm, &q.cred, 0222)) ANS(EACCES);
    if (cmd == SETVAL) {
      if (q.val < 0 || q.val > SEMVMX) ANS(ERANGE);
      s->val[q.num] = (uint16_t)q.val;
      s->pid[q.num] = q.cred.pid;
    } else {
      if (q.nvals != (uint32_t)s->nsems || len != sizeof q + q.nvals * 2) ANS(EINVAL);
      for (int i = 0; i < s->nsems; i++) {
        uint16_t v; memcpy(&v, pl + sizeof q + 2 * i, 2);
        if (v > SEMVMX) ANS(ERANGE);
      }
      for (int i = 0; i < s->nsems; i++) { memcpy(&s->val[i], pl + sizeof q + 2 * i, 2); s->pid[i] = q.cred.pid; }
    }
    for (struct oundo *u = s->undo; u; u = u->next) /* as Linux: the changed semaphores' adjustments go */
      if (cmd == SETVAL) u->adj[q.num] = 0;
      else memset(u->adj, 0, (size_t)s->nsems * sizeof *u->adj);
    s->ctime = wall();
    answer(w, MOJ_SEMCTL, 0, NULL, 0, NULL, 0);
    wake(s);
    return;
  default:
    ANS(EINVAL);
  }
#undef ANS
}

static void apply_cancel(const struct _moj_osem_w *w) {
  for (int i = 0; i < OSEM_MAX; i++) {
    if (!osems[i]) continue;
    for (struct owaiter **pw = &osems[i]->w; *pw; pw = &(*pw)->next) {
      struct owaiter *x = *pw;
      if (same_proc(&x->who, w->origin, w->fd, w->gen) && x->who.seq == w->seq) {
        *pw = x->next;
        answer(&x->who, MOJ_SEMOP, (int32_t)w->aux, NULL, 0, NULL, 0);
        free(x);
        return;
      }
    }
  }
  /* not waiting: answered before the cancel committed (it was ordered after
   * the request, so the request is committed by now) */
}
static void apply_gone(const struct _moj_osem_w *w) {
  for (int i = 0; i < OSEM_MAX; i++) {
    struct osem *s = osems[i];
    if (!s) continue;
    int changed = 0;
    for (struct owaiter **pw = &s->w; *pw;) {
      struct owaiter *x = *pw;
      if (same_proc(&x->who, w->origin, w->fd, w->gen)) { *pw = x->next; free(x); changed = 1; }
      else pw = &x->next;
    }
    for (struct oundo **pu = &s->undo; *pu; pu = &(*pu)->next) {
      struct oundo *u = *pu;
      if (u->origin != w->origin || u->fd != w->fd || u->gen != w->gen) continue;
      for (int k = 0; k < s->nsems; k++) {
        int v = s->val[k] + u->adj[k];
        s->val[k] = (uint16_t)(v < 0 ? 0 : v > SEMVMX ? SEMVMX : v);
      }
      *pu = u->next;
      free(u->adj); free(u);
      changed = 1;
      break;
    }
    if (changed) wake(s);
  }
}

/* A committed ordered message that is not the log's (nsd_order.c). */
void osem_commit(const uint8_t *data, uint32_t len) {
  struct _moj_osem_w w;
  if (len < sizeof w) { logw("ordered semaphores: a committed message of %u bytes is too short, ignored", len); return; }
  memcpy(&w, data, sizeof w);
  if (w.origin >= (uint32_t)C.nhosts) { logw("ordered semaphores: origin %u out of range, ignored", w.origin); return; }
  const uint8_t *pl = data + sizeof w;
  uint32_t pl_len = len - (uint32_t)sizeof w;
  switch (w.kind) {
  case MOJ_OK_SEMGET: apply_get(&w, pl, pl_len); break;
  case MOJ_OK_SEMOP: apply_op(&w, pl, pl_len); break;
  case MOJ_OK_SEMCTL: apply_ctl(&w, pl, pl_len); break;
  case MOJ_OK_CANCEL: apply_cancel(&w); break;
  case MOJ_OK_GONE: apply_gone(&w); break;
  default: logw("ordered semaphores: unknown kind %u, ignored", w.kind);
  }
}
