/* nsd_shm.c — shared segments homed here: shmget/shmat/shmdt/shmctl,
 * attachment slots, destruction once removed and detached, and recovery
 * after a restart (former attachers re-register what they hold). */
#include "nsd.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/shm.h>

struct shm *shms[MAX_SLOTS];

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
void shm_detach(int slot, struct conn *c, int all, int crashed) {
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
      if (lost) logw("segment id=0x%x: %d page(s) lost with crashed pid %u on %s", id, lost, c->pid, c->host);
    }
  }
  if (s->removed && shm_nattch(s) == 0) shm_destroy(slot);
}


void do_shmget(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmget);
  struct _moj_shmget q; memcpy(&q, pl, sizeof q);
  if (q.key != IPC_PRIVATE && ord_key(q.key, MOJ_ORD_SHM)) { ord_submit(c, h, MOJ_OK_SHMGET, pl, 0); return; }
  if (!key_is_mine(c, h, q.key)) return;
  int sl = q.key == IPC_PRIVATE ? -1 : find_by_key_shm(q.key); /* IPC_PRIVATE: always a new one */
  if (sl >= 0) {
    struct shm *s = shms[sl];
    if ((q.flags & IPC_CREAT) && (q.flags & IPC_EXCL)) { reply(c, h, EEXIST, NULL, 0); return; }
    if (!perm_ok(&s->perm, &q.cred, q.flags & 0777)) { reply(c, h, EACCES, NULL, 0); return; }
    if (q.size > s->size) { reply(c, h, EINVAL, NULL, 0); return; }
    struct _moj_id_r r = {MOJ_ID_MAKE(self_idx, sl)};
    reply(c, h, 0, &r, sizeof r);
    return;
  }
  if (!(q.flags & IPC_CREAT) && q.key != IPC_PRIVATE) { reply(c, h, ENOENT, NULL, 0); return; }
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
void do_shmat(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmat);
  struct _moj_shmat q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { oshm_at(c, h, &q); return; }
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
void do_shmdt(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_shmdt);
  struct _moj_shmdt q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { oshm_dt(c, h, &q); return; }
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  int a = s ? att_slot(s, c) : -1;
  if (a < 0) { reply(c, h, EINVAL, NULL, 0); return; }
  size_t off = sizeof q, rec = 4 + MOJ_PAGE;
  if ((h->len - off) % rec) { logp(c, MOJ_LOG_WARN, "SHMDT from %s: trailing bytes, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
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
void fill_perm(struct _moj_stat_r *r, const struct perm *p) {
  r->key = p->key; r->uid = p->uid; r->gid = p->gid; r->cuid = p->cuid; r->cgid = p->cgid; r->mode = p->mode;
}
void do_shmctl(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_ctl);
  struct _moj_ctl q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { ord_submit(c, h, MOJ_OK_SHMCTL, pl, 0); return; }
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
  logw("segment id=0x%x: recovery complete (%d page(s) lost with processes that did not return)", id, lost);
  for (uint32_t pn = 0; pn < s->npages; pn++) page_run(s, id, pn);
}
void check_recovery_deadlines(void) {
  /* runs before every epoll_wait, i.e. after every message: the deadlines are
   * seconds away, so the scan of all slots runs at most every 10 ms */
  static int64_t last_scan;
  int64_t t = now_ns();
  if (t - last_scan < 10000000LL) return;
  last_scan = t;
  for (int i = 0; i < MAX_SLOTS; i++)
    if (shms[i] && shms[i]->recovering && t > shms[i]->recover_until) finish_recovery(i);
}

/* REATTACH: a client that was attached before this daemon restarted re-registers
 * its attachment and the pages it holds.  Payload: _moj_reattach, then records
 * {u32 page, u32 access, 4096 bytes}; aux = 1 means more records follow.  The
 * process gets back its former attachment slot (matched by host and pid), so
 * the persisted owner array stays meaningful. */
void do_reattach(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_reattach);
  struct _moj_reattach q; memcpy(&q, pl, sizeof q);
  if (MOJ_ID_IS_ORDERED(q.id)) { oshm_reattach(c, h, &q); return; }
  int sl;
  struct shm *s = shm_by_id(q.id, &sl);
  if (!s) { if (!(h->aux & 1)) reply(c, h, EIDRM, &q.id, sizeof q.id); return; }
  size_t off = sizeof q, rec = 8 + MOJ_PAGE;
  if ((h->len - off) % rec) { logp(c, MOJ_LOG_WARN, "REATTACH from %s: trailing bytes, rejected", c->peer); reply(c, h, EPROTO, NULL, 0); return; }
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

