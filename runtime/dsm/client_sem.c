/* client_sem.c — semget/semop/semtimedop/semctl for distributed keys, and
 * the local record of SEM_UNDO adjustments that migration hands over. */
#include "client.h"

/* SEM_UNDO adjustments live at the home, per connection, and are applied when
 * the connection closes.  The client keeps its own tally of which sets have
 * them (the home's rules: -op per successful SEM_UNDO operation; SETVAL,
 * SETALL and IPC_RMID clear them): a migration takes exactly those sets'
 * adjustments off the source's connection (MOJ_UNDO_TAKE) into the image and
 * the migrated process gives them to its own (MOJ_UNDO_GIVE).  Overflowing the
 * table means the tally is incomplete: a migration is then refused. */
MOJ_DSM_VAR struct moj_dsm_undo _moj_dsm_undo_tab[UNDO_MAX];
MOJ_DSM_VAR int _moj_dsm_undo_n, _moj_dsm_undo_overflow;
MOJ_DSM_VAR pthread_mutex_t _moj_dsm_undo_lock = PTHREAD_MUTEX_INITIALIZER;
void _moj_dsm_undo_note(int id, const struct sembuf *ops, size_t nsops) {
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_undo_lock, &om);
  for (size_t i = 0; i < nsops; i++) {
    if (!(ops[i].sem_flg & SEM_UNDO) || !ops[i].sem_op) continue;
    int k = 0;
    while (k < _moj_dsm_undo_n && (_moj_dsm_undo_tab[k].id != id || _moj_dsm_undo_tab[k].num != ops[i].sem_num)) k++;
    if (k == _moj_dsm_undo_n) {
      if (_moj_dsm_undo_n == UNDO_MAX) { _moj_dsm_undo_overflow = 1; continue; }
      _moj_dsm_undo_tab[_moj_dsm_undo_n++] = (__typeof__(_moj_dsm_undo_tab[0])){id, ops[i].sem_num, 0};
    }
    _moj_dsm_undo_tab[k].adj -= ops[i].sem_op;
  }
  _moj_dsm_ulk(&_moj_dsm_undo_lock, &om);
}
void _moj_dsm_undo_clear(int id, int num) { /* num < 0: every semaphore of the set */
  sigset_t om;
  _moj_dsm_lk(&_moj_dsm_undo_lock, &om);
  for (int k = 0; k < _moj_dsm_undo_n; k++)
    if (_moj_dsm_undo_tab[k].id == id && (num < 0 || _moj_dsm_undo_tab[k].num == num)) _moj_dsm_undo_tab[k].adj = 0;
  _moj_dsm_ulk(&_moj_dsm_undo_lock, &om);
}
/* Request ids: incarnation << 32 | counter.  The incarnation is random and
 * drawn again in a fork()ed child (a new pid): a process that reuses a dead
 * one's pid cannot be mistaken for it by a home that still has its records. */
uint64_t _moj_dsm_rid(void) {
  static MOJ_DSM_VAR _Atomic uint64_t ctr; /* moj_rt: an aborted speculation must not reuse ids */
  static MOJ_DSM_VAR _Atomic uint64_t inc_pid; /* incarnation << 32 | pid it belongs to */
  uint64_t ip = atomic_load(&inc_pid);
  uint32_t pid = (uint32_t)getpid();
  if ((uint32_t)ip != pid) {
    uint32_t inc = 0;
    while (!inc) _moj_random(&inc, sizeof inc);
    uint64_t want = (uint64_t)inc << 32 | pid;
    if (!atomic_compare_exchange_strong(&inc_pid, &ip, want) && (uint32_t)ip != pid) atomic_store(&inc_pid, want);
    ip = atomic_load(&inc_pid);
  }
  return (ip & 0xffffffff00000000ull) | (uint32_t)(atomic_fetch_add(&ctr, 1) + 1);
}
/* The operations that undo ops (each nonzero op negated; SEM_UNDO kept when
 * keep_undo): a compensation, or a lock handed back.  Returns how many. */
size_t _moj_dsm_sem_inverse(const struct sembuf *ops, size_t n, int keep_undo, struct _moj_sembuf *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (ops[i].sem_op)
      out[k++] = (struct _moj_sembuf){ops[i].sem_num, (int16_t)-ops[i].sem_op,
                                      (int16_t)(keep_undo ? ops[i].sem_flg & SEM_UNDO : 0), 0};
  return k;
}
EXPORT int semget(key_t key, int nsems, int flg) {
  int home, route = _moj_dsm_route_get(key, MOJ_ORD_SEM, &home);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_semget(key, nsems, flg);
  struct _moj_semget q = {key, nsems, flg, _moj_dsm_cred(), (flg & IPC_CREAT) || key == IPC_PRIVATE ? _moj_dsm_rid() : 0};
  struct _moj_id_r r;
  int st = _moj_dsm_call(home, MOJ_SEMGET, &q, sizeof q, NULL, 0, &r, sizeof r, NULL, 0);
  return st ? _moj_dsm_fail(st) : r.id;
}
EXPORT int semtimedop(int id, struct sembuf *ops, size_t nsops, const struct timespec *tmo) {
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_semtimedop(id, ops, nsops, tmo);
  if (nsops == 0) return _moj_dsm_fail(EINVAL);
  if (nsops > 500) return _moj_dsm_fail(E2BIG);
  if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)) return _moj_dsm_fail(EINVAL);
  struct _moj_semop q = {id, (uint32_t)nsops, tmo ? (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec : -1, _moj_dsm_cred(),
                         _moj_dsm_rid()};
  struct _moj_sembuf b[500];
  for (size_t i = 0; i < nsops; i++) b[i] = (struct _moj_sembuf){ops[i].sem_num, ops[i].sem_op, ops[i].sem_flg, 0};
  _moj_dsm_speclock_settle(); /* a lock speculation's outcome first */
  int in_spec = _moj_dsm_specipc_active();
  if (in_spec) { /* inside a speculation: held, or performed and undone on abort (client_specipc.c) */
    int handled = 0;
    int r = _moj_dsm_specipc_semop(host, id, ops, nsops, &handled);
    if (handled) return r;
  }
  if (_moj_dsm_cluster.spec_locks && !tmo && !in_spec) { /* speculate past an operation that may wait (client_speclock.c) */
    int may_wait = 0, handled = 0;
    for (size_t i = 0; i < nsops; i++) may_wait |= ops[i].sem_op <= 0 && !(ops[i].sem_flg & IPC_NOWAIT);
    if (may_wait) {
      _moj_dsm_speclock_settle();
      int r = _moj_dsm_speclock_semop(host, &q, b, nsops, id, ops, &handled);
      if (handled) return r;
    }
  }
  int st = _moj_dsm_call(host, MOJ_SEMOP, &q, sizeof q, b, nsops * sizeof *b, NULL, 0, NULL, 1);
  if (!st) _moj_dsm_undo_note(id, ops, nsops);
  if (!st && in_spec) _moj_dsm_specipc_semop_done(host, id, ops, nsops);
  return st ? _moj_dsm_fail(st) : 0;
}
EXPORT int semop(int id, struct sembuf *ops, size_t nsops) { return semtimedop(id, ops, nsops, NULL); }

union _moj_semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };
EXPORT int semctl(int id, int num, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  union _moj_semun arg = va_arg(ap, union _moj_semun); /* may be garbage for cmds without arg; only read if used */
  va_end(ap);
  int host, route = _moj_dsm_route_id(id, &host);
  if (route <= 0) return route < 0 ? -1 : _moj_dsm_real_semctl(id, num, cmd, arg);
  struct _moj_ctl q;
  memset(&q, 0, sizeof q);
  q.id = id; q.num = num; q.cmd = cmd; q.cred = _moj_dsm_cred();
  if (cmd == SETVAL || cmd == SETALL || cmd == IPC_SET || cmd == IPC_RMID) q.rid = _moj_dsm_rid();
  uint16_t vals[32000];
  size_t vl = 0;
  switch (cmd) {
  case IPC_STAT: case IPC_SET: case GETALL: case SETALL:
    if (!arg.buf) return _moj_dsm_fail(EFAULT);
    break;
  case SETVAL: q.val = arg.val; break;
  case IPC_RMID: case GETVAL: case GETPID: case GETNCNT: case GETZCNT: break;
  default: return _moj_dsm_fail(EINVAL);
  }
  if (cmd == IPC_SET) { q.set_uid = arg.buf->sem_perm.uid; q.set_gid = arg.buf->sem_perm.gid; q.set_mode = arg.buf->sem_perm.mode; }
  if (cmd == SETALL) {
    /* the set size is needed to know how many values to read from the caller */
    struct _moj_ctl s2 = q; s2.cmd = IPC_STAT;
    struct _moj_stat_r r;
    int st = _moj_dsm_call(host, MOJ_SEMCTL, &s2, sizeof s2, NULL, 0, &r, sizeof r, NULL, 0);
    if (st) return _moj_dsm_fail(st);
    q.nvals = (uint32_t)r.nattch;
    for (uint32_t i = 0; i < q.nvals; i++) vals[i] = arg.array[i];
    vl = q.nvals * 2;
  }
  if ((cmd == SETVAL || cmd == SETALL || cmd == IPC_SET || cmd == IPC_RMID) && _moj_dsm_specipc_active())
    return _moj_dsm_specipc_ctl(host, MOJ_SEMCTL, &q, vals, vl); /* held until the commit (client_specipc.c) */
  struct { struct _moj_stat_r r; uint16_t v[32000]; } *rb = malloc(sizeof *rb);
  if (!rb) return _moj_dsm_fail(ENOMEM);
  size_t rl = 0;
  int st = _moj_dsm_call(host, MOJ_SEMCTL, &q, sizeof q, vals, vl, rb, sizeof *rb, &rl, 0);
  /* removed before the restart, the reply lost: the set is gone either way */
  if (cmd == IPC_RMID && st == EINVAL && _moj_dsm_tl_retried) st = 0;
  if (st) { free(rb); return _moj_dsm_fail(st); }
  if (cmd == SETVAL || cmd == SETALL || cmd == IPC_RMID) _moj_dsm_undo_clear(id, cmd == SETVAL ? num : -1);
  int ret = 0;
  if (cmd == IPC_STAT) {
    struct semid_ds *d = arg.buf;
    memset(d, 0, sizeof *d);
    d->sem_perm.__key = rb->r.key; d->sem_perm.uid = rb->r.uid; d->sem_perm.gid = rb->r.gid;
    d->sem_perm.cuid = rb->r.cuid; d->sem_perm.cgid = rb->r.cgid; d->sem_perm.mode = (unsigned short)rb->r.mode;
    d->sem_otime = rb->r.atime; d->sem_ctime = rb->r.ctime; d->sem_nsems = rb->r.nattch;
  } else if (cmd == GETALL) {
    for (uint32_t i = 0; i < rb->r.nvals && i < 32000; i++) arg.array[i] = rb->v[i];
  } else if (cmd == GETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT) {
    ret = rb->r.val;
  }
  free(rb);
  return ret;
}

