/* nsd_omsg.c — ordered message queues (cluster file `ordered RANGE`): a
 * queue whose key is in an ordered range has no home; every daemon keeps a
 * replica and applies every committed msgget/msgsnd/msgrcv/msgctl in the
 * one committed order (nsd_oreq.c), so all replicas agree on which sender
 * waits for room, which receiver gets which message, and the FIFO order in
 * which blocked callers are served.  Only the origin answers (ord_answer).
 * Same limits as nsd_osem.c: no persistence, keys only (no IPC_PRIVATE).
 * The kernel's semantics as nsd_msg.c: type selection (0, > 0, < 0,
 * MSG_EXCEPT), MSG_NOERROR, IPC_NOWAIT, byte and message limits. */
#include "nsd.h"

#include <sys/msg.h>

#define OMSG_MAX 1024 /* ordered queues per cluster */

/* the queue as a home daemon keeps it (its waiter list and records unused:
 * ordered waiters are kept in commit order here) */
struct omq {
  struct mq q;
  struct owaiter *w;
};
static struct omq *omqs[OMSG_MAX];

static struct omq *by_id(int32_t id, int *slot) {
  if (!MOJ_ID_IS_ORDERED(id) || MOJ_ID_SLOT(id) >= OMSG_MAX || !omqs[MOJ_ID_SLOT(id)]) return NULL;
  *slot = MOJ_ID_SLOT(id);
  return omqs[*slot];
}

/* 0 done (answered), -1 must wait, >0 errno (not answered) */
static int try_snd(struct omq *m, const struct _moj_ord_w *w, const uint8_t *pl) {
  struct _moj_msgsnd q; memcpy(&q, pl, sizeof q);
  int e = mq_put(&m->q, &q, pl + sizeof q);
  if (!e) ord_answer(w, MOJ_MSGSND, 0, NULL, 0, NULL, 0);
  return e;
}
static int try_rcv(struct omq *m, const struct _moj_ord_w *w, const uint8_t *pl) {
  struct _moj_msgrcv q; memcpy(&q, pl, sizeof q);
  uint32_t sz;
  int e;
  struct msg *g = mq_take(&m->q, &q, &sz, &e);
  if (!g) return e;
  struct _moj_msgrcv_r r = {g->type, sz};
  ord_answer(w, MOJ_MSGRCV, 0, &r, sizeof r, g->data, sz);
  free(g);
  return 0;
}
static void wake(struct omq *m) {
  for (int progress = 1; progress;) {
    progress = 0;
    for (struct owaiter **pw = &m->w; *pw;) {
      struct owaiter *x = *pw;
      int r = x->who.kind == MOJ_OK_MSGSND ? try_snd(m, &x->who, x->req) : try_rcv(m, &x->who, x->req);
      if (r == -1) { pw = &x->next; continue; }
      *pw = x->next;
      if (r > 0) ord_answer(&x->who, x->who.kind == MOJ_OK_MSGSND ? MOJ_MSGSND : MOJ_MSGRCV, r, NULL, 0, NULL, 0);
      free(x);
      progress = 1;
    }
  }
}
static void destroy(int slot) {
  struct omq *m = omqs[slot];
  while (m->w) {
    struct owaiter *x = m->w;
    m->w = x->next;
    ord_answer(&x->who, x->who.kind == MOJ_OK_MSGSND ? MOJ_MSGSND : MOJ_MSGRCV, EIDRM, NULL, 0, NULL, 0);
    free(x);
  }
  mq_drain(&m->q);
  free(m);
  omqs[slot] = NULL;
}

static void apply_get(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_msgget q;
  if (len != sizeof q) { ord_answer(w, MOJ_MSGGET, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  for (int i = 0; i < OMSG_MAX; i++) {
    struct omq *m = omqs[i];
    if (!m || m->q.perm.key != q.key) continue;
    int e = (q.flags & IPC_CREAT) && (q.flags & IPC_EXCL) ? EEXIST : !perm_ok(&m->q.perm, &q.cred, q.flags & 0777) ? EACCES : 0;
    struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, i)};
    ord_answer(w, MOJ_MSGGET, e, e ? NULL : &r, e ? 0 : sizeof r, NULL, 0);
    return;
  }
  if (!(q.flags & IPC_CREAT)) { ord_answer(w, MOJ_MSGGET, ENOENT, NULL, 0, NULL, 0); return; }
  int sl = 0;
  while (sl < OMSG_MAX && omqs[sl]) sl++;
  if (sl == OMSG_MAX) { ord_answer(w, MOJ_MSGGET, ENOSPC, NULL, 0, NULL, 0); return; }
  struct omq *m = calloc(1, sizeof *m);
  if (!m) {
    loge("ordered queues: out of memory creating the queue of key 0x%x: this replica diverges from the others", (unsigned)q.key);
    ord_answer(w, MOJ_MSGGET, ENOMEM, NULL, 0, NULL, 0);
    return;
  }
  m->q.used = 1;
  m->q.perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  m->q.qbytes = MSGMNB;
  m->q.ctime = wall();
  omqs[sl] = m;
  struct _moj_id_r r = {MOJ_ID_MAKE(MOJ_ID_ORDERED, sl)};
  ord_answer(w, MOJ_MSGGET, 0, &r, sizeof r, NULL, 0);
}

/* msgsnd and msgrcv: checked, tried, else queued as a waiter (FIFO in commit order). */
static void apply_xfer(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  int snd = w->kind == MOJ_OK_MSGSND;
  uint16_t type = snd ? MOJ_MSGSND : MOJ_MSGRCV;
  int32_t id, flags;
  if (snd) {
    struct _moj_msgsnd q;
    if (len < sizeof q || (memcpy(&q, pl, sizeof q), len != sizeof q + q.size)) { ord_answer(w, type, EPROTO, NULL, 0, NULL, 0); return; }
    if (q.mtype < 1 || q.size > MSGMAX) { ord_answer(w, type, EINVAL, NULL, 0, NULL, 0); return; }
    id = q.id; flags = q.flags;
  } else {
    struct _moj_msgrcv q;
    if (len != sizeof q) { ord_answer(w, type, EPROTO, NULL, 0, NULL, 0); return; }
    memcpy(&q, pl, sizeof q);
    id = q.id; flags = q.flags;
  }
  (void)flags;
  int sl;
  struct omq *m = by_id(id, &sl);
  if (!m) { ord_answer(w, type, EINVAL, NULL, 0, NULL, 0); return; }
  struct _moj_cred cr;
  memcpy(&cr, pl + (snd ? offsetof(struct _moj_msgsnd, cred) : offsetof(struct _moj_msgrcv, cred)), sizeof cr);
  if (!perm_ok(&m->q.perm, &cr, snd ? 0222 : 0444)) { ord_answer(w, type, EACCES, NULL, 0, NULL, 0); return; }
  int r = snd ? try_snd(m, w, pl) : try_rcv(m, w, pl);
  if (r == -1) {
    if (ow_wait(&m->w, w, pl, len)) ord_answer(w, type, ENOMEM, NULL, 0, NULL, 0);
    return;
  }
  if (r > 0) { ord_answer(w, type, r, NULL, 0, NULL, 0); return; }
  wake(m);
}

static void apply_ctl(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  struct _moj_ctl q;
  if (len < sizeof q) { ord_answer(w, MOJ_MSGCTL, EPROTO, NULL, 0, NULL, 0); return; }
  memcpy(&q, pl, sizeof q);
  int sl;
  struct omq *m = by_id(q.id, &sl);
  if (!m) { ord_answer(w, MOJ_MSGCTL, EINVAL, NULL, 0, NULL, 0); return; }
  struct _moj_stat_r r;
  switch (q.cmd) {
  case IPC_STAT:
    if (!perm_ok(&m->q.perm, &q.cred, 0444)) { ord_answer(w, MOJ_MSGCTL, EACCES, NULL, 0, NULL, 0); return; }
    mq_stat(&m->q, &r);
    ord_answer(w, MOJ_MSGCTL, 0, &r, sizeof r, NULL, 0);
    return;
  case IPC_SET: {
    int e = mq_set(&m->q, &q);
    ord_answer(w, MOJ_MSGCTL, e, NULL, 0, NULL, 0);
    if (!e) wake(m);
    return;
  }
  case IPC_RMID:
    if (!is_owner(&m->q.perm, &q.cred)) { ord_answer(w, MOJ_MSGCTL, EPERM, NULL, 0, NULL, 0); return; }
    destroy(sl);
    ord_answer(w, MOJ_MSGCTL, 0, NULL, 0, NULL, 0);
    return;
  default:
    ord_answer(w, MOJ_MSGCTL, EINVAL, NULL, 0, NULL, 0);
  }
}

void omsg_apply(const struct _moj_ord_w *w, const uint8_t *pl, uint32_t len) {
  if (w->kind == MOJ_OK_MSGGET) apply_get(w, pl, len);
  else if (w->kind == MOJ_OK_MSGCTL) apply_ctl(w, pl, len);
  else apply_xfer(w, pl, len);
}
int omsg_cancel_waiter(const struct _moj_ord_w *w) {
  for (int i = 0; i < OMSG_MAX; i++) {
    struct owaiter *x = omqs[i] ? ow_take(&omqs[i]->w, w) : NULL;
    if (!x) continue;
    ord_answer(&x->who, x->who.kind == MOJ_OK_MSGSND ? MOJ_MSGSND : MOJ_MSGRCV, (int32_t)w->aux, NULL, 0, NULL, 0);
    free(x);
    wake(omqs[i]); /* a sender that left frees no room, but a receiver that left may let a lower-priority one match */
    return 1;
  }
  return 0;
}
void omsg_gone(const struct _moj_ord_w *w) {
  for (int i = 0; i < OMSG_MAX; i++)
    if (omqs[i] && ow_drop(&omqs[i]->w, w)) wake(omqs[i]);
}
