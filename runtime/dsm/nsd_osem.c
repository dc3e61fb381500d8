/* nsd_osem.c — ordered semaphore sets (cluster file `ordered RANGE`, issue
 * 12 item 3): a set whose key is in an ordered range has no home; every
 * daemon keeps a replica and applies every committed semget/semop/semctl
 * (nsd_oreq.c delivers them, in the one committed order), so all replicas
 * take identical decisions — who is granted, who waits, in which FIFO order
 * waiters are woken.  Only the origin answers (ord_answer).
 *
 * Replicas act on *committed* deliveries only; the speculation is the
 * caller's: a libmojave program with `speculative-locks on` runs past its
 * semop while the request is being ordered (client_speclock.c) and is told
 * MOJ_EQUEUED at commit when it must wait.
 *
 * Not here: persistence (a restarted daemon has no replica: it must not be
 * restarted while ordered sets are in use), migration of SEM_UNDO on
 * ordered sets, IPC_PRIVATE (ordered sets need a key). */
#include "nsd.h"

#include <sys/sem.h>

#define OSEM_MAX 1024  /* ordered sets per cluster */
#define OSEM_NSEMS 2000 /* a SETALL must fit one ordered message */

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

/* ---------------- the replica: applying committed requests ---------------- */
static struct osem *by_id(int32_t id, int *slot) {
  if (!MOJ_ID_IS_ORDERED(id) || MOJ_ID_SLOT(id) >= OSEM_MAX || !osems[MOJ_ID_SLOT(id)]) return NULL;
  *slot = MOJ_ID_SLOT(id);
  return osems[*slot];
}
static struct oundo *undo_of(struct osem *s, const struct _moj_ord_w *w) {
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
static int try_op(struct osem *s, const struct _moj_ord_w *w, const struct _moj_semop *q, const uint8_t *ops_p) {
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
      ord_answer(&x->who, MOJ_SEMOP, r, NULL, 0, NULL, 0);
      free(x);
      if (r == 0) progress = 1;
    }
  }
}
static void destroy(int slot) {
  struct osem *s = osems[slot];
  while (s->w) { struct owaiter *x = s->w; s->w = x->next; ord_answer(&x->who, MOJ_SEMOP, EIDRM, NULL, 0, NULL, 0); free(x); }
  while (s->undo) { struct oundo *u = s->undo; s->undo = u->next; free(u->adj); free(u); }
  free(s->val); free(s->pid); free(s);
  osems[slot] = NULL;
}

static void apply_get(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_semget q;
  if (len != sizeof q) { ord_answer(w, MOJ_SEMGET, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  for (int i = 0; i < OSEM_MAX; i++) {
    struct osem *s = osems[i];
    if (!s || s->perm.key != q.key) continue;
    int e = (q.flags & IPC_CREAT) && (q.flags & IPC_EXCL) ? EEXIST
            : !perm_ok(&s->perm, &q.cred, q.flags & 0777) ? EACCES
            : q.nsems < 0 || q.nsems > s->nsems ? EINVAL : 0;
    struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, i)};
    ord_answer(w, MOJ_SEMGET, e, e ? NULL : &r, e ? 0 : sizeof r, NULL, 0);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { ord_answer(w, MOJ_SEMGET, ENOENT, NULL, 0, NULL, 0); return; }
  if (q.nsems <= 0 || q.nsems > OSEM_NSEMS) { ord_answer(w, MOJ_SEMGET, EINVAL, NULL, 0, NULL, 0); return; }
  int sl = 0;
  while (sl < OSEM_MAX && osems[sl]) sl++;
  if (sl == OSEM_MAX) { ord_answer(w, MOJ_SEMGET, ENOSPC, NULL, 0, NULL, 0); return; }
  struct osem *s = calloc(1, sizeof *s);
  uint16_t *val = calloc((size_t)q.nsems, sizeof *val);
  uint32_t *pid = calloc((size_t)q.nsems, sizeof *pid);
  if (!s || !val || !pid) {
    /* the replicas would now disagree about this set: say so loudly */
    loge("ordered semaphores: out of memory creating the set of key 0x%x: this replica diverges from the others", (unsigned)q.key);
    free(s); free(val); free(pid);
    ord_answer(w, MOJ_SEMGET, ENOMEM, NULL, 0, NULL, 0);
    return;
  }
  *s = (struct osem){.perm = {q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777},
                     .nsems = q.nsems, .val = val, .pid = pid, .ctime = wall()};
  osems[sl] = s;
  struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, sl)};
  ord_answer(w, MOJ_SEMGET, 0, &r, sizeof r, NULL, 0);
}

static void apply_op(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_semop q;
  if (len < sizeof q) { ord_answer(w, MOJ_SEMOP, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  if (q.nsops < 1 || q.nsops > SEMOPM || len != sizeof q + q.nsops * sizeof(struct _moj_sembuf)) {
    ord_answer(w, MOJ_SEMOP, EPROTO, NULL, 0, NULL, 0);
    return;
  }
  int sl;
  struct osem *s = by_id(q.id, &sl);
  if (!s) { ord_answer(w, MOJ_SEMOP, EINVAL, NULL, 0, NULL, 0); return; }
  int alter = 0;
  for (uint32_t i = 0; i < q.nsops; i++) {
    struct _moj_sembuf o; memcpy(&o, pl + sizeof q + i * sizeof o, sizeof o);
    if (o.num >= s->nsems) { ord_answer(w, MOJ_SEMOP, EFBIG, NULL, 0, NULL, 0); return; }
    alter |= o.op != 0;
  }
  if (!perm_ok(&s->perm, &q.cred, alter ? 0222 : 0444)) { ord_answer(w, MOJ_SEMOP, EACCES, NULL, 0, NULL, 0); return; }
  int r = try_op(s, w, &q, pl + sizeof q);
  if (r == -1) {
    if (q.timeout_ns == 0) { ord_answer(w, MOJ_SEMOP, EAGAIN, NULL, 0, NULL, 0); return; }
    if (ow_wait(&s->w, w, pl, len)) { ord_answer(w, MOJ_SEMOP, ENOMEM, NULL, 0, NULL, 0); return; }
    if (w->aux & MOJ_SEMOP_SPECULATIVE) ord_answer(w, MOJ_SEMOP, MOJ_EQUEUED, NULL, 0, NULL, 0);
    return;
  }
  ord_answer(w, MOJ_SEMOP, r, NULL, 0, NULL, 0);
  if (!r) wake(s);
}

static void apply_ctl(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_ctl q;
  if (len < sizeof q) { ord_answer(w, MOJ_SEMCTL, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  int sl;
  struct osem *s = by_id(q.id, &sl);
  if (!s) { ord_answer(w, MOJ_SEMCTL, EINVAL, NULL, 0, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  int cmd = q.cmd;
#define ANS(st) do { ord_answer(w, MOJ_SEMCTL, (st), NULL, 0, NULL, 0); return; } while (0)
  if ((cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT || cmd == SETVAL) && (q.num < 0 || q.num >= s->nsems))
    ANS(EINVAL);
  switch (cmd) {
  case IPC_STAT:
    if (!perm_ok(&s->perm, &q.cred, 0444)) ANS(EACCES);
    fill_perm(&r, &s->perm);
    r.atime = s->otime; r.ctime = s->ctime; r.nattch = (uint64_t)s->nsems;
    ord_answer(w, MOJ_SEMCTL, 0, &r, sizeof r, NULL, 0);
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
    ord_answer(w, MOJ_SEMCTL, 0, &r, sizeof r, NULL, 0);
    return;
  case GETALL:
    if (!perm_ok(&s->perm, &q.cred, 0444)) ANS(EACCES);
    r.nvals = (uint32_t)s->nsems;
    ord_answer(w, MOJ_SEMCTL, 0, &r, sizeof r, s->val, (size_t)s->nsems * 2);
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
    ord_answer(w, MOJ_SEMCTL, 0, NULL, 0, NULL, 0);
    wake(s);
    return;
  default:
    ANS(EINVAL);
  }
#undef ANS
}

int osem_cancel_waiter(const struct _moj_ord_w *w) {
  for (int i = 0; i < OSEM_MAX; i++) {
    struct owaiter *x = osems[i] ? ow_take(&osems[i]->w, w) : NULL;
    if (!x) continue;
    ord_answer(&x->who, MOJ_SEMOP, (int32_t)w->aux, NULL, 0, NULL, 0);
    free(x);
    return 1;
  }
  return 0;
}
void osem_gone(const struct _moj_ord_w *w) {
  for (int i = 0; i < OSEM_MAX; i++) {
    struct osem *s = osems[i];
    if (!s) continue;
    int changed = ow_drop(&s->w, w) > 0;
    for (struct oundo **pu = &s->undo; *pu;) {
      struct oundo *u = *pu;
      struct _moj_ord_w uw = {0, u->origin, u->fd, u->gen, 0, 0};
      if (!ord_same_proc(&uw, w)) { pu = &u->next; continue; }
      for (int k = 0; k < s->nsems; k++) {
        int v = s->val[k] + u->adj[k];
        s->val[k] = (uint16_t)(v < 0 ? 0 : v > SEMVMX ? SEMVMX : v);
      }
      *pu = u->next;
      free(u->adj); free(u);
      changed = 1;
    }
    if (changed) wake(s);
  }
}

void osem_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  if (w->kind == MOJ_OK_SEMGET) apply_get(w, pl, len);
  else if (w->kind == MOJ_OK_SEMOP) apply_op(w, pl, len);
  else apply_ctl(w, pl, len);
}
