/* client_shm.c — shmget/shmat/shmdt/shmctl for distributed keys (others go
 * to the kernel). */
#include "client.h"

EXPORT int shmget(key_t key, size_t size, int flg) {
  int home, route = _moj_dsm_route_get(key, MOJ_ORD_SHM, &home);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_shmget(key, size, flg);
  struct _moj_shmget q = {key, size, flg, _moj_dsm_cred()};
  struct _moj_id_r r;
  int st = _moj_dsm_call(home, MOJ_SHMGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? _moj_dsm_fail(st) : r.id;
}

EXPORT void *shmat(int id, const void *addr, int flg) {
  sigset_t om;
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? (void *)-1 : _moj_dsm_real_shmat(id, addr, flg);
  if (addr && (flg & SHM_RND)) addr = (const void *)((uintptr_t)addr & ~(uintptr_t)(SHMLBA - 1));
  if (addr && ((uintptr_t)addr & (MOJ_PAGE - 1))) { errno = EINVAL; return (void *)-1; }
  struct _moj_shmat q = {id, flg, _moj_dsm_cred()};
  struct _moj_shmat_r r;
  int st = _moj_dsm_call(host, MOJ_SHMAT, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  if (st) { errno = st; return (void *)-1; }
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  struct cseg *s = _moj_dsm_seg_by_id(id);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) {
      _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
      struct _moj_shmdt d = {id, _moj_dsm_cred()};
      _moj_dsm_call(host, MOJ_SHMDT, &d, sizeof d, NULL, 0, NULL, 0, NULL, 0);
      errno = ENOMEM;
      return (void *)-1;
    }
    s->id = id; s->host = host; s->size = r.size;
    s->npages = (uint32_t)((r.size + MOJ_PAGE - 1) / MOJ_PAGE);
    s->ordered = MOJ_ID_IS_ORDERED(id);
    if (s->ordered) {
      _moj_dsm_ocap_install();
      s->over = calloc(s->npages, sizeof *s->over); /* NULL: speculations over it cannot commit (doomed) */
    }
    s->mapsize = (size_t)s->npages * MOJ_PAGE;
    s->memfd = memfd_create("mojave-dsm", MFD_CLOEXEC);
    s->rt = MAP_FAILED;
    if (s->memfd < 0 || ftruncate(s->memfd, (off_t)s->mapsize) ||
        (s->rt = mmap(NULL, s->mapsize, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0)) == MAP_FAILED ||
        !(s->acc = calloc(s->npages, 1))) {
      int e = s->rt == MAP_FAILED ? errno : ENOMEM;
      if (s->rt != MAP_FAILED) munmap(s->rt, s->mapsize);
      if (s->memfd >= 0) close(s->memfd);
      free(s);
      _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
      struct _moj_shmdt d = {id, _moj_dsm_cred()};
      _moj_dsm_call(host, MOJ_SHMDT, &d, sizeof d, NULL, 0, NULL, 0, NULL, 0);
      errno = e == EMFILE ? EMFILE : ENOMEM;
      return (void *)-1;
    }
    s->next = _moj_dsm_segs;
    _moj_dsm_segs = s;
  }
  uint8_t *v = MAP_FAILED;
  if (s->nviews < MAX_VIEWS)
    v = mmap((void *)addr, s->mapsize, PROT_NONE, MAP_SHARED | (addr ? MAP_FIXED : 0), s->memfd, 0);
  if (v == MAP_FAILED) {
    _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
    struct _moj_shmdt d = {id, _moj_dsm_cred()};
    _moj_dsm_call(host, MOJ_SHMDT, &d, sizeof d, NULL, 0, NULL, 0, NULL, 0);
    errno = ENOMEM;
    return (void *)-1;
  }
  int k = s->nviews++;
  s->v[k].addr = v;
  s->v[k].rdonly = (flg & SHM_RDONLY) != 0;
  for (uint32_t pn = 0; pn < s->npages; pn++) /* a second attach sees what we already hold */
    if (s->acc[pn]) _moj_dsm_set_prot(s, pn, s->acc[pn]);
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  return v;
}

EXPORT int shmdt(const void *addr) {
  sigset_t om;
  _moj_dsm_ensure_init();
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  struct cseg *s = _moj_dsm_segs;
  int k = -1;
  for (; s; s = s->next) {
    for (int i = 0; i < s->nviews; i++) if (s->v[i].addr == addr) { k = i; break; }
    if (k >= 0) break;
  }
  if (!s) { _moj_dsm_ulk(&_moj_dsm_seg_lock, &om); return _moj_dsm_real_shmdt(addr); }
  struct _moj_shmdt d = {s->id, _moj_dsm_cred()};
  uint8_t *pl = NULL;
  size_t pll = 0;
  int last = s->nviews == 1;
  if (last) {
    /* last detach of this process: hand the pages we own back with the detach
     * (the buffer first: without it the segment stays attached, nothing lost) */
    uint32_t nw = 0;
    for (uint32_t pn = 0; pn < s->npages; pn++) nw += s->acc[pn] == MOJ_ACC_WRITE;
    pll = nw * (4 + MOJ_PAGE);
    pl = malloc(pll ? pll : 1);
    if (!pl) { _moj_dsm_ulk(&_moj_dsm_seg_lock, &om); errno = ENOMEM; return -1; }
  }
  munmap(s->v[k].addr, s->mapsize);
  s->v[k] = s->v[--s->nviews];
  if (last) {
    size_t off = 0;
    for (uint32_t pn = 0; pn < s->npages; pn++)
      if (s->acc[pn] == MOJ_ACC_WRITE) {
        memcpy(pl + off, &pn, 4);
        memcpy(pl + off + 4, s->rt + (size_t)pn * MOJ_PAGE, MOJ_PAGE);
        off += 4 + MOJ_PAGE;
      }
    struct cseg **pp = &_moj_dsm_segs;
    while (*pp != s) pp = &(*pp)->next;
    *pp = s->next;
  }
  int host = s->host;
  /* Sent while holding _moj_dsm_seg_lock so a concurrent PAGE_FETCH is answered after it.
   * Owned pages travel in chunks below MOJ_MAX_PAYLOAD; only the last message
   * (aux = 0) detaches and is answered. */
  struct hconn *hc = _moj_dsm_hget(host);
  struct pend p = {.efd = -1};
  int st = EIDRM;
  if (hc) {
    p.seq = atomic_fetch_add(&hc->seq, 1) + 1;
    pthread_mutex_lock(&hc->lock);
    int err = hc->dead;
    const size_t rec = 4 + MOJ_PAGE, chunk = 200 * rec;
    size_t off = 0;
    while (!err && pll - off > chunk) {
      err = _moj_dsm_send_locked(hc, MOJ_SHMDT, 0, 1, &d, sizeof d, pl + off, chunk);
      off += chunk;
    }
    if (!err) {
      p.next = hc->pend;
      hc->pend = &p;
      if (_moj_dsm_send_locked(hc, MOJ_SHMDT, p.seq, 0, &d, sizeof d, pl + off, pll - off)) { hc->pend = p.next; err = 1; }
    }
    if (err) { atomic_store(&p.done, 1); p.status = EIDRM; }
    pthread_mutex_unlock(&hc->lock);
  }
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  if (hc) {
    while (!atomic_load(&p.done)) _moj_dsm_fwait(&p.done, 0);
    st = p.status;
  }
  free(pl);
  if (last) {
    sigset_t om2;
    _moj_dsm_lk(&_moj_dsm_seg_lock, &om2);
    _moj_dsm_spec_forget(s);
    _moj_dsm_ulk(&_moj_dsm_seg_lock, &om2);
    munmap(s->rt, s->mapsize);
    close(s->memfd);
    free((void *)s->acc);
    free(s->over);
    free(s);
  }
  (void)st; /* the mapping is gone either way, as with the kernel */
  return 0;
}

EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf) {
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_shmctl(id, cmd, buf);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.cmd = cmd; q.cred = _moj_dsm_cred();
  if (cmd == SHM_LOCK || cmd == SHM_UNLOCK) return 0; /* DSM pages are never swapped by us; accepted as a no-op */
  if (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID) return _moj_dsm_fail(EINVAL);
  if ((cmd == IPC_STAT || cmd == IPC_SET) && !buf) return _moj_dsm_fail(EFAULT);
  if (cmd == IPC_SET) { q.set_uid = buf->shm_perm.uid; q.set_gid = buf->shm_perm.gid; q.set_mode = buf->shm_perm.mode; }
  struct _moj_stat_r r;
  int st = _moj_dsm_call(host, MOJ_SHMCTL, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  if (st) return _moj_dsm_fail(st);
  if (cmd == IPC_STAT) {
    memset(buf, 0, sizeof *buf);
    buf->shm_perm.__key = r.key; buf->shm_perm.uid = r.uid; buf->shm_perm.gid = r.gid;
    buf->shm_perm.cuid = r.cuid; buf->shm_perm.cgid = r.cgid; buf->shm_perm.mode = (unsigned short)r.mode;
    buf->shm_segsz = r.size; buf->shm_atime = r.atime; buf->shm_dtime = r.dtime; buf->shm_ctime = r.ctime;
    buf->shm_cpid = (pid_t)r.cpid; buf->shm_lpid = (pid_t)r.lpid; buf->shm_nattch = r.nattch;
  }
  return 0;
}

