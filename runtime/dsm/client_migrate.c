/* client_migrate.c — process migration hooks (libmojave only): capture the
 * attachments and SEM_UNDO record, hand pages back, restore at the destination. */
#include "client.h"

/* A mojcc program attached to distributed segments migrates
 * (runtime/migrate_frames.c, migrate_state.c; docs/migration.md):
 *  - at the source, __moj_dsm_mig_capture hands every owned page back to its
 *    home (the same records exec() sends), so no page lives only in this
 *    process, and lists the attachments for the image.  The attachments stay
 *    usable: if the hand-off then fails, the program faults its pages back in.
 *    After a successful hand-off the source leaves by _exit(), which detaches
 *    (nothing is owned any more, so nothing can be lost; the home's nattch
 *    drops by one while the destination's attach added one);
 *  - at the destination, __moj_dsm_mig_restore attaches the same segments at
 *    the same addresses before the heap and globals come back, so raw
 *    pointers into them stay valid;
 *  - the sockets, memfds and eventfds of the client do not travel
 *    (__moj_dsm_owns_fd: capture_files skips them).
 * SEM_UNDO adjustments live at the home per connection and would be applied
 * when the source's connection closes: a migration is refused while this
 * process has any (__moj_dsm_mig_undo_pending). */
#ifdef MOJ_IN_RUNTIME
#include "../../migrate/image.h"

int __moj_dsm_owns_fd(int fd) __attribute__((visibility("hidden")));
int __moj_dsm_mig_undo_pending(char *reason, size_t rlen) __attribute__((visibility("hidden")));
int __moj_dsm_mig_capture(moj_img_shm_t **shm, uint32_t *nshm, moj_img_semundo_t **undo, uint32_t *nundo,
                          char *reason, size_t rlen) __attribute__((visibility("hidden")));
int __moj_dsm_mig_restore(const moj_img_shm_t *shm, uint32_t nshm, char *reason, size_t rlen)
    __attribute__((visibility("hidden")));

int __moj_dsm_owns_fd(int fd) {
  if (fd < 0 || !_moj_dsm_cfg_ok) return 0;
  if (fd == _moj_dsm_tl_efd) return 1; /* the calling thread's; only it makes calls while others are refused */
  for (int i = 0; i < MOJ_MAX_HOSTS; i++)
    if (_moj_dsm_homes[i].fd == fd) return 1;
  int mine = 0;
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  for (struct cseg *s = _moj_dsm_segs; s && !mine; s = s->next) mine = s->memfd == fd;
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  return mine;
}

int __moj_dsm_mig_undo_pending(char *reason, size_t rlen) {
  if (!_moj_dsm_cfg_ok) return 0;
  sigset_t om;
  int pending = 0;
  _moj_dsm_lk(&_moj_dsm_undo_lock, &om);
  if (_moj_dsm_undo_overflow) {
    snprintf(reason, rlen, "SEM_UNDO adjustments on more than %d distributed semaphores (not all of them can be "
             "carried)", UNDO_MAX);
    pending = 1;
  }
  _moj_dsm_ulk(&_moj_dsm_undo_lock, &om);
  return pending;
}

int __moj_dsm_mig_undo_give(const moj_img_semundo_t *u, uint32_t n, char *reason, size_t rlen)
    __attribute__((visibility("hidden")));

/* The sets this process holds adjustments on: their adjustments leave the
 * source's connections (the home answers with them) into *out.  On failure
 * the ones already taken are given back. */
static int undo_take(moj_img_semundo_t **out, uint32_t *nout, char *reason, size_t rlen) {
  int ids[UNDO_MAX], nid = 0;
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_undo_lock, &om);
  for (int k = 0; k < _moj_dsm_undo_n; k++) {
    if (!_moj_dsm_undo_tab[k].adj) continue;
    int seen = 0;
    for (int j = 0; j < nid; j++) seen |= ids[j] == _moj_dsm_undo_tab[k].id;
    if (!seen) ids[nid++] = _moj_dsm_undo_tab[k].id;
  }
  _moj_dsm_ulk(&_moj_dsm_undo_lock, &om);
  moj_img_semundo_t *v = NULL;
  uint32_t n = 0;
  /* heap, not static: 256 KiB of .bss would be copied at every spec_enter */
  struct _moj_undo_e *e = nid ? malloc(32000 * sizeof *e) : NULL;
  if (nid && !e) { snprintf(reason, rlen, "out of memory"); errno = ENOMEM; return -1; }
  for (int j = 0; j < nid; j++) {
    struct _moj_undo_q q = {ids[j]};
    size_t rl = 0;
    int st = _moj_dsm_call(_moj_dsm_id_host(ids[j]), MOJ_UNDO_TAKE, &q, sizeof q, NULL, 0, e, 32000 * sizeof *e, &rl, 0);
    if (st == EIDRM || st == EINVAL) continue; /* the set is gone: nothing to carry */
    if (st) {
      char ignore[128];
      if (n) __moj_dsm_mig_undo_give(v, n, ignore, sizeof ignore);
      snprintf(reason, rlen, "cannot take the SEM_UNDO adjustments of semaphore set 0x%x from its home: %s",
               (unsigned)ids[j], strerror(st));
      errno = st;
      free(v);
      free(e);
      return -1;
    }
    uint32_t m = (uint32_t)(rl / sizeof e[0]);
    moj_img_semundo_t *nv = realloc(v, (n + m + 1) * sizeof *v);
    if (!nv) { free(v); free(e); snprintf(reason, rlen, "out of memory"); errno = ENOMEM; return -1; }
    v = nv;
    for (uint32_t i = 0; i < m; i++) v[n++] = (moj_img_semundo_t){ids[j], e[i].num, e[i].adj};
  }
  free(e);
  *out = v;
  *nout = n;
  return 0;
}

/* Give adjustments (from an image, or back after a failed hand-off) to this
 * process's connections; the local tally follows. */
int __moj_dsm_mig_undo_give(const moj_img_semundo_t *u, uint32_t n, char *reason, size_t rlen) {
  _moj_dsm_ensure_init();
  struct _moj_undo_e *e = n ? malloc(32000 * sizeof *e) : NULL; /* heap: see above */
  if (n && !e) { snprintf(reason, rlen, "out of memory"); errno = ENOMEM; return -1; }
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i;
    uint32_t m = 0;
    for (; j < n && u[j].semid == u[i].semid && m < 32000; j++) e[m++] = (struct _moj_undo_e){u[j].num, u[j].adj};
    struct _moj_undo_q q = {u[i].semid};
    int st = _moj_dsm_call(_moj_dsm_id_host(u[i].semid), MOJ_UNDO_GIVE, &q, sizeof q, e, m * sizeof e[0], NULL, 0, NULL, 0);
    if (st) {
      snprintf(reason, rlen, "cannot give SEM_UNDO adjustments of semaphore set 0x%x to its home: %s",
               (unsigned)u[i].semid, strerror(st));
      free(e);
      errno = st;
      return -1;
    }
    for (uint32_t k = i; k < j; k++) {
      struct sembuf b = {u[k].num, (short)-u[k].adj, SEM_UNDO};
      _moj_dsm_undo_note(u[k].semid, &b, 1);
    }
    i = j;
  }
  free(e);
  return 0;
}

int __moj_dsm_mig_capture(moj_img_shm_t **shm, uint32_t *nshm, moj_img_semundo_t **undo, uint32_t *nundo,
                          char *reason, size_t rlen) {
  *shm = NULL; *nshm = 0; *undo = NULL; *nundo = 0;
  if (!_moj_dsm_cfg_ok) return 0;
  if (__moj_dsm_mig_undo_pending(reason, rlen)) { errno = EBUSY; return -1; }
  if (undo_take(undo, nundo, reason, rlen)) return -1;
  for (uint32_t i = 0; i < *nundo; i++) _moj_dsm_undo_clear((*undo)[i].semid, -1); /* they left this process */
  if (!_moj_dsm_segs) return 0;
  if (_moj_dsm_owner_pid != getpid()) { snprintf(reason, rlen, "DSM attachments belong to another process"); errno = EBUSY; return -1; }
  int bad = -1;
  if (_moj_dsm_handback(&bad)) {
    snprintf(reason, rlen, "cannot hand the DSM pages back to their home %s", bad >= 0 ? _moj_dsm_cluster.host[bad].name : "(out of memory)");
    errno = EIO;
    return -1;
  }
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_seg_lock, &om);
  uint32_t n = 0;
  for (struct cseg *s = _moj_dsm_segs; s; s = s->next) n += (uint32_t)s->nviews;
  moj_img_shm_t *v = calloc(n + 1, sizeof *v);
  uint32_t k = 0;
  for (struct cseg *s = _moj_dsm_segs; s && v; s = s->next)
    for (int i = 0; i < s->nviews; i++) {
      v[k++] = (moj_img_shm_t){s->id, 0, s->v[i].rdonly ? SHM_RDONLY : 0, (uint64_t)(uintptr_t)s->v[i].addr,
                               (uint64_t)s->size};
    }
  _moj_dsm_ulk(&_moj_dsm_seg_lock, &om);
  if (!v) {
    snprintf(reason, rlen, "out of memory listing DSM attachments");
    errno = ENOMEM;
    return -1;
  }
  /* the key, for the record (the id is cluster-wide and is what re-attaches) */
  for (uint32_t j = 0; j < n; j++) {
    struct shmid_ds ds;
    if (shmctl(v[j].shmid, IPC_STAT, &ds) == 0) v[j].key = ds.shm_perm.__key;
  }
  *shm = v;
  *nshm = n;
  return 0;
}

int __moj_dsm_mig_restore(const moj_img_shm_t *shm, uint32_t nshm, char *reason, size_t rlen) {
  for (uint32_t j = 0; j < nshm; j++) {
    const moj_img_shm_t *r = &shm[j];
    void *want = (void *)(uintptr_t)r->addr;
    size_t len = (size_t)((r->size + MOJ_PAGE - 1) / MOJ_PAGE) * MOJ_PAGE;
    if (!_moj_dsm_is_dist_id(r->shmid)) {
      snprintf(reason, rlen, "segment 0x%x: not a distributed id here (MOJAVE_CLUSTER unset or not this cluster)",
               (unsigned)r->shmid);
      errno = EINVAL;
      return -1;
    }
    /* the address range must be free here: shmat at a fixed address replaces
     * whatever is mapped there */
    void *probe = mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe != want) {
      int e = errno;
      if (probe != MAP_FAILED) munmap(probe, len); /* kernels before 4.17 ignore the flag */
      snprintf(reason, rlen, "segment 0x%x: its address %p..%p is not free here (%s)", (unsigned)r->shmid, want,
               (void *)((char *)want + len), probe == MAP_FAILED ? strerror(e) : "taken");
      errno = EADDRINUSE;
      return -1;
    }
    munmap(probe, len);
    void *got = shmat(r->shmid, want, r->shmflg & SHM_RDONLY);
    if (got != want) {
      snprintf(reason, rlen, "segment 0x%x: cannot attach at %p: %s", (unsigned)r->shmid, want,
               got == (void *)-1 ? strerror(errno) : "attached elsewhere");
      return -1;
    }
  }
  return 0;
}
#endif

