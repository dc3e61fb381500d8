/* nsd_msg.c — message queues homed here: msgget/msgsnd/msgrcv/msgctl with
 * the kernel's semantics (type selection, MSG_EXCEPT, MSG_NOERROR, queue
 * byte limits), blocked senders and receivers woken in arrival order.
 * Changes mark the queue dirty and their replies wait in dsend until
 * ipc_commit has saved its state file (nsd_state.c). */
#include "nsd.h"

#include <sys/msg.h>

struct mq *mqs[MAX_SLOTS];

static struct mq *mq_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !mqs[sl]) return NULL;
  *slot = sl;
  return mqs[sl];
}
void do_msgget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgget);
  struct _moj_msgget q; memcpy(&q, pl, sizeof q);
  if (ord_key(q.key, MOJ_ORD_MSG)) { if (h->len == sizeof q) ord_submit(c, h, MOJ_OK_MSGGET, pl, 0); else reply(c, h, EPROTO, NULL, 0); return; }
  if (!key_is_mine(c, h, q.key)) return;
  for (int i = 0; q.key != IPC_PRIVATE && i < MAX_SLOTS; i++) { /* IPC_PRIVATE: always a new one */
    struct mq *m = mqs[i];
    if (!m || m->perm.key != q.key) continue;
    if (rec_replay(&m->recs, c, h, q.rid)) return; /* our own creation, repeated after a restart */
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&m->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, i)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT) && q.key != IPC_PRIVATE) { reply(c, h, ENOENT, NULL, 0); return; }
  int sl = free_slot((void **)mqs);
  if (sl < 0) { reply(c, h, ENOSPC, NULL, 0); return; }
  struct mq *m = calloc(1, sizeof *m);
  m->used = 1;
  m->perm = (struct perm){q.key, q.cred.uid, q.cred.gid, q.cred.uid, q.cred.gid, (uint32_t)q.flags & 0777};
  m->qbytes = MSGMNB;
  m->ctime = wall();
  mqs[sl] = m;
  struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
  rec_set(&m->recs, c, q.rid, 0, &r, sizeof r, NULL, 0);
  mq_dirty(sl);
  dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, &r, sizeof r, NULL, 0);
  ipc_commit();
}
/* ---- the queue itself, shared with the ordered replicas (nsd_omsg.c) ---- */
/* Appends msgsnd q's message (its text at text): 0, -1 when it must wait for
 * room, or an errno (EAGAIN with IPC_NOWAIT, ENOMEM). */
int mq_put(struct mq *m, const struct _moj_msgsnd *q, const uint8_t *text) {
  if (m->cbytes + q->size > m->qbytes || m->qnum + 1 > m->qbytes) return (q->flags & IPC_NOWAIT) ? EAGAIN : -1;
  struct msg *g = malloc(sizeof *g + q->size);
  if (!g) return ENOMEM;
  g->type = q->mtype; g->size = q->size; g->next = NULL;
  memcpy(g->data, text, q->size);
  if (m->tail) m->tail->next = g; else m->head = g;
  m->tail = g;
  m->cbytes += q->size; m->qnum++;
  m->lspid = q->cred.pid; m->stime = wall();
  return 0;
}
/* Unlinks the message msgrcv q takes (the caller frees it; *sz: the bytes it
 * gets), or NULL with *err -1 (must wait), ENOMSG or E2BIG. */
struct msg *mq_take(struct mq *m, const struct _moj_msgrcv *q, uint32_t *sz, int *err) {
  struct msg *prev, *g = msg_select(m->head, q->mtype, q->flags, &prev);
  if (!g) { *err = (q->flags & IPC_NOWAIT) ? ENOMSG : -1; return NULL; }
  *sz = g->size;
  if (*sz > q->maxsize) {
    if (!(q->flags & MSG_NOERROR)) { *err = E2BIG; return NULL; }
    *sz = q->maxsize;
  }
  if (prev) prev->next = g->next; else m->head = g->next;
  if (m->tail == g) m->tail = prev;
  m->cbytes -= g->size; m->qnum--;
  m->lrpid = q->cred.pid; m->rtime = wall();
  return g;
}
void mq_stat(const struct mq *m, struct _moj_stat_r *r) {
  memset(r, 0, sizeof *r);
  fill_perm(r, &m->perm);
  r->size = m->qbytes; r->atime = m->stime; r->dtime = m->rtime; r->ctime = m->ctime;
  r->cpid = m->lspid; r->lpid = m->lrpid; r->nattch = m->qnum; r->cbytes = m->cbytes;
}
/* IPC_SET: 0 done, or EPERM (not the owner, or a limit above MSGMNB unprivileged). */
int mq_set(struct mq *m, const struct _moj_ctl *q) {
  if (!is_owner(&m->perm, &q->cred)) return EPERM;
  if (q->set_qbytes > MSGMNB && q->cred.uid != 0) return EPERM;
  m->perm.uid = q->set_uid; m->perm.gid = q->set_gid; m->perm.mode = q->set_mode & 0777;
  m->qbytes = q->set_qbytes; m->ctime = wall();
  return 0;
}
void mq_drain(struct mq *m) {
  while (m->head) { struct msg *g = m->head; m->head = g->next; free(g); }
  m->tail = NULL;
}

/* returns 0 sent (reply held for ipc_commit), -1 block, >0 errno */
static int msg_try_snd(struct conn *c, int sl, struct mq *m, uint32_t seq, const uint8_t *pl) {
  struct _moj_msgsnd q; memcpy(&q, pl, sizeof q);
  int e = mq_put(m, &q, pl + sizeof q);
  if (e) return e;
  rec_set(&m->recs, c, q.rid, 0, NULL, 0, NULL, 0);
  mq_dirty(sl);
  dsend(c, MOJ_MSGSND | MOJ_REPLY, seq, 0, NULL, 0, NULL, 0);
  return 0;
}
/* The message msgrcv(mtype, flags) takes, as the kernel picks it: the first
 * (0: any; > 0: of that type, or not of it with MSG_EXCEPT), or (< 0) the
 * first of the lowest type <= -mtype; *prev gets the one before it. */
struct msg *msg_select(struct msg *head, int64_t mtype, int flags, struct msg **prev) {
  struct msg *g = NULL;
  *prev = NULL;
  for (struct msg *x = head, *px = NULL; x; px = x, x = x->next) {
    int match;
    if (mtype == 0) match = 1;
    else if (mtype > 0) match = (flags & MSG_EXCEPT) ? x->type != mtype : x->type == mtype;
    else match = x->type <= -mtype && (!g || x->type < g->type);
    if (!match) continue;
    g = x; *prev = px;
    if (mtype >= 0) break; /* negative: keep looking for a lower type */
  }
  return g;
}
/* returns 0 received (reply held for ipc_commit), -1 block, >0 errno */
static int msg_try_rcv(struct conn *c, int sl, struct mq *m, uint32_t seq, const uint8_t *pl) {
  struct _moj_msgrcv q; memcpy(&q, pl, sizeof q);
  uint32_t sz;
  int e;
  struct msg *g = mq_take(m, &q, &sz, &e);
  if (!g) return e;
  struct _moj_msgrcv_r r = {g->type, sz};
  rec_set(&m->recs, c, q.rid, 0, &r, sizeof r, g->data, sz);
  mq_dirty(sl);
  dsend(c, MOJ_MSGRCV | MOJ_REPLY, seq, 0, &r, sizeof r, g->data, sz);
  free(g);
  return 0;
}
void mq_wake(int sl) {
  struct mq *m = mqs[sl];
  int progress = 1;
  while (progress) {
    progress = 0;
    for (struct waiter **pw = &m->w; *pw;) {
      struct waiter *w = *pw;
      struct conn *wc = cget(w->c);
      if (!wc) { *pw = w->next; free(w->req); free(w); continue; }
      int r;
      if (w->type == MOJ_MSGSND) r = msg_try_snd(wc, sl, m, w->seq, w->req);
      else r = msg_try_rcv(wc, sl, m, w->seq, w->req);
      if (r == -1) { pw = &w->next; continue; }
      *pw = w->next;
      if (r > 0) dsend(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, r, NULL, 0, NULL, 0);
      free(w->req); free(w);
      progress = 1;
    }
  }
}
void do_msgsnd(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgsnd);
  struct _moj_msgsnd q; memcpy(&q, pl, sizeof q);
  if (h->len != sizeof q + q.size) { logw("MSGSND from %s: length mismatch, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
  if (MOJ_ID_IS_ORDERED(q.id)) { ord_submit(c, h, MOJ_OK_MSGSND, pl, 0); return; }
  int sl;
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  if (q.mtype < 1 || q.size > MSGMAX) { reply(c, h, EINVAL, NULL, 0); return; }
  if (!perm_ok(&m->perm, &q.cred, 0222)) { reply(c, h, EACCES, NULL, 0); return; }
  if (rec_replay(&m->recs, c, h, q.rid)) return;
  int r = msg_try_snd(c, sl, m, h->seq, pl);
  if (r == -1) { add_waiter(&m->w, c, h, pl, -1); return; }
  if (r) { reply(c, h, r, NULL, 0); return; }
  mq_wake(sl);
  ipc_commit();
}
void do_msgrcv(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_msgrcv);
  int sl;
  struct _moj_msgrcv q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { if (h->len == sizeof q) ord_submit(c, h, MOJ_OK_MSGRCV, pl, 0); else reply(c, h, EPROTO, NULL, 0); return; }
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  if (!perm_ok(&m->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
  if (rec_replay(&m->recs, c, h, q.rid)) return;
  int r = msg_try_rcv(c, sl, m, h->seq, pl);
  if (r == -1) { add_waiter(&m->w, c, h, pl, -1); return; }
  if (r > 0) { reply(c, h, r, NULL, 0); return; }
  mq_wake(sl);
  ipc_commit();
}
void do_msgctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { ord_submit(c, h, MOJ_OK_MSGCTL, pl, 0); return; }
  int sl;
  struct mq *m = mq_by_id(q.id, &sl);
  if (!m) { reply(c, h, EINVAL, NULL, 0); return; }
  struct _moj_stat_r r;
  if (q.cmd == IPC_SET && rec_replay(&m->recs, c, h, q.rid)) return;
  switch (q.cmd) {
  case IPC_STAT:
    if (!perm_ok(&m->perm, &q.cred, 0444)) { reply(c, h, EACCES, NULL, 0); return; }
    mq_stat(m, &r);
    reply(c, h, 0, &r, sizeof r);
    return;
  case IPC_SET:
    { int e = mq_set(m, &q); if (e) { reply(c, h, e, NULL, 0); return; } }
    rec_set(&m->recs, c, q.rid, 0, NULL, 0, NULL, 0);
    mq_dirty(sl);
    dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, NULL, 0, NULL, 0);
    mq_wake(sl);
    ipc_commit();
    return;
  case IPC_RMID:
    if (!is_owner(&m->perm, &q.cred)) { reply(c, h, EPERM, NULL, 0); return; }
    waiters_fail(&m->w, EIDRM);
    mq_drain(m);
    rec_free(&m->recs);
    free(m);
    mqs[sl] = NULL;
    ipc_state_remove(1, sl); /* before the reply: a restart must not bring it back */
    reply(c, h, 0, NULL, 0);
    return;
  default:
    reply(c, h, EINVAL, NULL, 0);
  }
}

