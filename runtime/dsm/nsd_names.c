/* nsd_names.c — the key namespace as this daemon sees it: which keys it
 * homes (delegation in the cluster file), RESOLVE for the root and zone
 * servers, slots and ids of the objects it holds, and the System V
 * permission rules (Linux ipcperms) every room applies. */
#include "nsd.h"

/* ---- permissions (Linux ipcperms) ---- */

int perm_ok(const struct perm *p, const struct _moj_cred *cr, int flag) {
  if (cr->uid == 0) return 1; /* CAP_IPC_OWNER */
  int req = (flag >> 6) | (flag >> 3) | flag;
  int granted = (int)p->mode;
  if (cr->uid == p->cuid || cr->uid == p->uid) granted >>= 6;
  else if (cr->gid == p->cgid || cr->gid == p->gid) granted >>= 3;
  return !((req & ~granted) & 0007);
}
int is_owner(const struct perm *p, const struct _moj_cred *cr) {
  return cr->uid == 0 || cr->uid == p->uid || cr->uid == p->cuid;
}


int find_by_key_shm(int32_t key) {
  for (int i = 0; i < MAX_SLOTS; i++)
    if (shms[i] && !shms[i]->removed && shms[i]->perm.key == key) return i;
  return -1;
}
int free_slot(void **tab) {
  for (int i = 1; i < MAX_SLOTS; i++) /* slot 0 unused: keeps ids != MOJ_ID_FLAG alone */
    if (!tab[i]) return i;
  return -1;
}
struct shm *shm_by_id(int id, int *slot) {
  if (!MOJ_ID_IS(id) || MOJ_ID_HOST(id) != (unsigned)self_idx) return NULL;
  int sl = MOJ_ID_SLOT(id);
  if (sl >= MAX_SLOTS || !shms[sl]) return NULL;
  *slot = sl;
  return shms[sl];
}


/* Only a key's home may create or look it up: a client that asks another
 * daemon (cluster files that differ between hosts) must not split the
 * namespace.  Returns 0 after refusing. */
int key_is_mine(struct conn *c, const struct _moj_hdr *h, int32_t key) {
  if (key == 0 || _moj_cluster_home(&C, key) == self_idx) return 1; /* IPC_PRIVATE: created where asked */
  logp(c, MOJ_LOG_WARN, "%s from %s: key 0x%x is not homed here (do the cluster files differ?), refused", _moj_type_name(h->type), c->peer, (unsigned)key);
  reply(c, h, EREMOTE, NULL, 0);
  return 0;
}

/* RESOLVE: which host homes a key, or which zone server to ask next. */
void do_resolve(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  NEED(struct _moj_resolve);
  struct _moj_resolve q; memcpy(&q, pl, sizeof q);
  int ref = 0;
  uint32_t lo = 0, hi = 0;
  int at = _moj_cluster_resolve_at(&C, self_idx, q.key, &ref, &lo, &hi);
  if (at < 0) {
    logp(c, MOJ_LOG_WARN, "RESOLVE from %s: key 0x%x is outside this server's zone, refused", c->peer, (unsigned)q.key);
    reply(c, h, ENXIO, NULL, 0);
    return;
  }
  struct _moj_resolve_r r = {(uint32_t)at, (uint32_t)ref, lo, hi};
  reply(c, h, 0, &r, sizeof r);
}
