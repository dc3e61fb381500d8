/* nsd_sem.c — semaphore sets homed here: semget/semop/semctl with the
 * kernel's semantics (all-or-nothing semop, FIFO wake-up of blocked callers),
 * SEM_UNDO adjustments applied when a process's connection closes, and their
 * hand-over when the process migrates (UNDO_TAKE / UNDO_GIVE).  Every change
 * marks the set dirty and its replies go out through dsend/ipc_commit, after
 * the set's state file is saved (nsd_state.c). */
#include "nsd.h"

#include <sys/sem.h>

struct sem *sems[MAX_SLOTS];

static struct sem *sem_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !sems[sl]) return NULL;
  *slot = sl;
  return sems[sl];
}
void do_semget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_semget);
  struct _moj_semget q; memcpy(&q, pl, sizeof q);
  if (ord_key(q.key, MOJ_ORD_SEM)) { if (h->len == sizeof q) ord_submit(c, h, MOJ_OK_SEMGET, pl, 0); else reply(c, h, EPROTO, NULL, 0); return; }
  if (!key_is_mine(c, h, q.key)) return;
  for (int i = 0; q.key != IPC_PRIVATE && i < MAX_SLOTS; i++) { /* IPC_PRIVATE: always a new one */
    struct sem *s = sems[i];
    if (!s || s->perm.key != q.key) continue;
    if (rec_replay(&s->recs, c, h, q.rid)) return; /* our own creation, repeated after a restart */
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&s->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    if (q.nsems < 0 || q.nsems > s->nsems) { reply(c, h, EINVAL, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, i)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT) && q.key != IPC_PRIVATE) { reply(c, h, ENOENT, NULL, 0); return; }
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
  rec_set(&s->recs, c, q.rid, 0, &r, sizeof r, NULL, 0);
  sem_dirty(sl);
  dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, &r, sizeof r, NULL, 0);
  ipc_commit();
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
void sem_wake(int slot) {
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
      if (r == 0) { rec_set(&s->recs, wc, q->rid, 0, NULL, 0, NULL, 0); sem_dirty(slot); }
      dsend(wc, MOJ_SEMOP | MOJ_REPLY, w->seq, r, NULL, 0, NULL, 0); /* sent by the caller's ipc_commit */
      free(w->req); free(w);
      if (r == 0) progress = 1;
    }
  }
}

void do_semop(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_semop);
  struct _moj_semop q; memcpy(&q, pl, sizeof q);
  if (q.nsops < 1 || q.nsops > SEMOPM) { reply(c, h, q.nsops < 1 ? EINVAL : E2BIG, NULL, 0); return; }
  if (h->len != sizeof q + q.nsops * sizeof(struct _moj_sembuf)) { logw("SEMOP from %s: length %u does not match nsops %u, rejected", c->peer, h->len, q.nsops); reply(c, h, EPROTO, NULL, 0); return; }
  if (MOJ_ID_IS_ORDERED(q.id)) { ord_submit(c, h, MOJ_OK_SEMOP, pl, q.timeout_ns); return; }
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
  if (rec_replay(&s->recs, c, h, q.rid)) return;
  int r = sem_try(c, sl, s, &q, ops); /* _moj_sembuf is packed: unaligned access is fine */
  if (r == -1) {
    if (q.timeout_ns == 0) { reply(c, h, EAGAIN, NULL, 0); return; }
    /* a speculating caller learns at once that it must wait (and rolls back) */
    if (h->aux & MOJ_SEMOP_SPECULATIVE) reply(c, h, MOJ_EQUEUED, NULL, 0);
    add_waiter(&s->w, c, h, pl, q.timeout_ns);
    return;
  }
  if (r) { reply(c, h, r, NULL, 0); return; }
  rec_set(&s->recs, c, q.rid, 0, NULL, 0, NULL, 0);
  sem_dirty(sl);
  dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, NULL, 0, NULL, 0);
  sem_wake(sl);
  ipc_commit();
}
static void undo_clear(struct undo *u, int sl, uint32_t gen, int num) { /* num < 0: all */
  for (; u; u = u->next)
    if (u->slot == sl && u->gen == gen) {
      if (num >= 0) u->adj[num] = 0;
      else memset(u->adj, 0, (size_t)u->nsems * 2);
    }
}
static void sem_destroy(int sl) {
  struct sem *s = sems[sl];
  waiters_fail(&s->w, EIDRM);
  rec_free(&s->recs);
  free(s->val); free(s->pid); free(s);
  sems[sl] = NULL;
  ipc_state_remove(0, sl); /* before the reply: a restart must not bring it back */
}
void do_semctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { ord_submit(c, h, MOJ_OK_SEMCTL, pl, 0); return; }
  int sl;
  struct sem *s = sem_by_id(q.id, &sl);
  if (!s) { reply(c, h, EINVAL, NULL, 0); return; }
  struct _moj_stat_r r; memset(&r, 0, sizeof r);
  int cmd = q.cmd;
  if ((cmd == IPC_SET || cmd == SETVAL || cmd == SETALL) && rec_replay(&s->recs, c, h, q.rid)) return;
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
    rec_set(&s->recs, c, q.rid, 0, NULL, 0, NULL, 0);
    sem_dirty(sl);
    dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, NULL, 0, NULL, 0);
    ipc_commit();
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
    /* Linux clears the undo entries for the changed semaphores (those of
     * processes not yet back after a restart too) */
    for (int fd = 0; fd <= maxfd; fd++)
      if (conns[fd]) undo_clear(conns[fd]->undos, sl, s->gen, cmd == SETVAL ? q.num : -1);
    for (struct ghost *g = ghosts; g; g = g->next) undo_clear(g->undos, sl, s->gen, cmd == SETVAL ? q.num : -1);
    s->ctime = wall();
    rec_set(&s->recs, c, q.rid, 0, NULL, 0, NULL, 0);
    sem_dirty(sl);
    dsend(c, (uint16_t)(h->type | MOJ_REPLY), h->seq, 0, NULL, 0, NULL, 0);
    sem_wake(sl);
    ipc_commit();
    return;
  }
  default:
    reply(c, h, EINVAL, NULL, 0);
  }
}


/* Migration of a process with SEM_UNDO adjustments (docs/migration.md): at
 * the source they leave its connection (TAKE: returned, and no longer applied
 * when that connection closes), the image carries them, and the migrated
 * process's new connection takes them over (GIVE) once it runs; a failed
 * hand-off gives them back to the source's connection. */
void do_undo_take(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
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
  sem_dirty(sl);
  ipc_commit();
  reply(c, h, 0, e, n * sizeof e[0]);
}
void do_undo_give(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
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
  sem_dirty(sl);
  ipc_commit();
  reply(c, h, 0, NULL, 0);
}


/* SEM_UNDO at exit: apply the closing process's adjustments, as the kernel
 * does, and wake whoever they unblock (the caller commits). */
void undo_apply(struct undo **list) {
  while (*list) {
    struct undo *u = *list;
    *list = u->next;
    struct sem *s = sems[u->slot];
    if (s && s->gen == u->gen) {
      for (int i = 0; i < u->nsems; i++) {
        int v = s->val[i] + u->adj[i];
        s->val[i] = (uint16_t)(v < 0 ? 0 : v > SEMVMX ? SEMVMX : v);
      }
      sem_dirty(u->slot);
      sem_wake(u->slot);
    }
    free(u->adj); free(u);
  }
}
void sem_undo_exit(struct conn *c) { undo_apply(&c->undos); }
