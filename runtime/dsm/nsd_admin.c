/* nsd_admin.c — what this daemon homes, for mojave-ipcs: one LIST reply
 * with a fixed-width record per segment, semaphore set and queue, including
 * where each segment's pages are (home copy, owned by a process, lost). */
#include "nsd.h"

static void shm_owners(const struct shm *s, struct _moj_list_e *e) {
  uint32_t per[MAX_ATT] = {0};
  for (uint32_t pn = 0; pn < s->npages; pn++) {
    int o = s->own[pn];
    if (o == -1) e->pages_home++;
    else if (o == -2) e->pages_lost++;
    else if (o >= 0 && o < MAX_ATT) { e->pages_owned++; per[o]++; }
  }
  for (int a = 0; a < MAX_ATT; a++) e->nowners += per[a] > 0;
  for (int k = 0; k < MOJ_LIST_OWNERS; k++) { /* the largest owners, largest first */
    int best = -1;
    for (int a = 0; a < MAX_ATT; a++)
      if (per[a] && (best < 0 || per[a] > per[best])) best = a;
    if (best < 0) break;
    memcpy(e->owner[k].host, s->who[best].host, sizeof e->owner[k].host);
    e->owner[k].host[sizeof e->owner[k].host - 1] = 0;
    e->owner[k].pid = s->who[best].pid;
    e->owner[k].pages = per[best];
    per[best] = 0;
  }
}

static int count_waiters(const struct waiter *w) {
  int n = 0;
  for (; w; w = w->next) n++;
  return n;
}

void do_list(struct conn *c, const struct _moj_hdr *h, const uint8_t *pl) {
  (void)pl;
  size_t n = 0;
  for (int i = 0; i < MAX_SLOTS; i++) n += (shms[i] != NULL) + (sems[i] != NULL) + (mqs[i] != NULL);
  if (n * sizeof(struct _moj_list_e) > MOJ_MAX_PAYLOAD) n = MOJ_MAX_PAYLOAD / sizeof(struct _moj_list_e);
  struct _moj_list_e *v = calloc(n ? n : 1, sizeof *v);
  if (!v) { reply(c, h, ENOMEM, NULL, 0); return; }
  size_t k = 0;
  for (int i = 0; i < MAX_SLOTS && k < n; i++) {
    const struct shm *s = shms[i];
    if (!s) continue;
    struct _moj_list_e *e = &v[k++];
    e->kind = MOJ_LIST_SHM;
    e->flags = (uint8_t)((s->removed ? MOJ_LIST_REMOVED : 0) | (s->recovering ? MOJ_LIST_RECOVERING : 0));
    e->key = s->perm.key; e->id = MOJ_ID_MAKE(self_idx, i);
    e->uid = s->perm.uid; e->gid = s->perm.gid; e->mode = s->perm.mode; e->cpid = s->cpid; e->lpid = s->lpid;
    e->size = s->size;
    for (int a = 0; a < MAX_ATT; a++) e->count += (uint64_t)s->att[a].count;
    shm_owners(s, e);
  }
  for (int i = 0; i < MAX_SLOTS && k < n; i++) {
    const struct sem *s = sems[i];
    if (!s) continue;
    struct _moj_list_e *e = &v[k++];
    e->kind = MOJ_LIST_SEM;
    e->key = s->perm.key; e->id = MOJ_ID_MAKE(self_idx, i);
    e->uid = s->perm.uid; e->gid = s->perm.gid; e->mode = s->perm.mode;
    e->size = (uint64_t)s->nsems;
    e->count = (uint64_t)count_waiters(s->w);
  }
  for (int i = 0; i < MAX_SLOTS && k < n; i++) {
    const struct mq *m = mqs[i];
    if (!m) continue;
    struct _moj_list_e *e = &v[k++];
    e->kind = MOJ_LIST_MSG;
    e->key = m->perm.key; e->id = MOJ_ID_MAKE(self_idx, i);
    e->uid = m->perm.uid; e->gid = m->perm.gid; e->mode = m->perm.mode; e->cpid = m->lspid; e->lpid = m->lrpid;
    e->size = m->qbytes; e->count = m->qnum; e->bytes = m->cbytes;
  }
  reply(c, h, 0, v, k * sizeof *v);
  free(v);
}
