/* client_specipc.c — semop, msgsnd and msgrcv on distributed objects inside
 * a speculation (issue 12, item 1), for programs linked with libmojave.
 * Two kinds of call:
 *   - releases (a semop that only adds to semaphores; msgsnd) cannot fail
 *     for lack of a resource and give other processes something: they are
 *     *held* — the call returns 0 at once, the operation is sent when the
 *     level's outermost enclosing level commits, and dropped on abort; no
 *     process can act on it before the commit;
 *   - acquisitions (a semop that takes or waits; msgrcv) need their result
 *     now: they are performed at once and *compensated* if the level aborts
 *     (the taken units given back by an increment; a received message sent
 *     again — to the back of its queue, so its place among other messages
 *     of its type can change);
 *   - changes by semctl/msgctl (SETVAL, SETALL, IPC_SET, IPC_RMID) are held
 *     like releases: nobody, the level included, sees them before the
 *     outermost commit (a GETVAL after a held SETVAL reads the value before
 *     it); reads (GETVAL, IPC_STAT...) are performed at once.
 * A level's records pass to the enclosing level when it commits, like
 * twins (client_spec.c drives this from the runtime's events). */
#include "client.h"

struct act {
  int kind;       /* HOLD_SEM, HOLD_SND, COMP_SEM, COMP_RCV, HOLD_CTL (flg: MOJ_SEMCTL or MOJ_MSGCTL) */
  int level, host, id, flg;
  long mtype;
  size_t n;       /* semaphore operations, or message bytes */
  struct act *next;
  uint8_t data[]; /* struct _moj_sembuf[n], or the message text */
};
enum { HOLD_SEM = 1, HOLD_SND = 2, COMP_SEM = 3, COMP_RCV = 4, HOLD_CTL = 5 };
static MOJ_DSM_VAR struct act *acts; /* oldest first */
static MOJ_DSM_VAR pthread_mutex_t acts_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int replaying; /* our own sends at commit/abort go straight out */

int _moj_dsm_specipc_active(void) { return _moj_dsm_spec_depth > 0 && !replaying; }
int _moj_dsm_specipc_replaying(void) { return replaying; }

static int add(int kind, int host, int id, int flg, long mtype, const void *data, size_t bytes, size_t n) {
  struct act *a = malloc(sizeof *a + bytes);
  if (!a) return -1;
  *a = (struct act){kind, _moj_dsm_spec_depth, host, id, flg, mtype, n, NULL};
  memcpy(a->data, data, bytes);
  sigset_t om;
  _moj_dsm_lk(&acts_lock, &om);
  struct act **pp = &acts;
  while (*pp) pp = &(*pp)->next;
  *pp = a;
  _moj_dsm_ulk(&acts_lock, &om);
  return 0;
}

/* semop inside a speculation.  *handled = 0: not ours (performed as usual;
 * then _moj_dsm_specipc_semop_done records its compensation). */
int _moj_dsm_specipc_semop(int host, int id, const struct sembuf *ops, size_t nsops, int *handled) {
  *handled = 0;
  for (size_t i = 0; i < nsops; i++)
    if (ops[i].sem_op <= 0) return 0; /* takes or waits: performed now */
  struct _moj_sembuf b[500];
  for (size_t i = 0; i < nsops; i++) b[i] = (struct _moj_sembuf){ops[i].sem_num, ops[i].sem_op, ops[i].sem_flg, 0};
  if (add(HOLD_SEM, host, id, 0, 0, b, nsops * sizeof *b, nsops)) return _moj_dsm_fail(ENOMEM);
  *handled = 1;
  return 0;
}
void _moj_dsm_specipc_semop_done(int host, int id, const struct sembuf *ops, size_t nsops) {
  struct _moj_sembuf b[500];
  size_t n = _moj_dsm_sem_inverse(ops, nsops, 1, b);
  if (n && add(COMP_SEM, host, id, 0, 0, b, n * sizeof *b, n))
    _moj_dsm_warn("no memory to record how to undo a semop inside a speculation: an abort will not undo it");
}
int _moj_dsm_specipc_msgsnd(int host, int id, long mtype, const void *text, size_t sz, int flg) {
  if (add(HOLD_SND, host, id, flg, mtype, text, sz, sz)) return _moj_dsm_fail(ENOMEM);
  return 0;
}
/* semctl/msgctl changes inside a speculation: held (see the top). */
int _moj_dsm_specipc_ctl(int host, uint16_t type, const struct _moj_ctl *q, const void *vals, size_t vl) {
  uint8_t *b = malloc(sizeof *q + vl);
  if (!b) return _moj_dsm_fail(ENOMEM);
  memcpy(b, q, sizeof *q);
  if (vl) memcpy(b + sizeof *q, vals, vl);
  int r = add(HOLD_CTL, host, q->id, type, 0, b, sizeof *q + vl, sizeof *q + vl);
  free(b);
  return r ? _moj_dsm_fail(ENOMEM) : 0;
}
void _moj_dsm_specipc_msgrcv_done(int host, int id, long mtype, const void *text, size_t sz) {
  if (add(COMP_RCV, host, id, 0, mtype, text, sz, sz))
    _moj_dsm_warn("no memory to record a message received inside a speculation: an abort will not give it back");
}

static void run(struct act *a, int undo) {
  replaying = 1;
  int r = 0;
  if (a->kind == HOLD_SEM || a->kind == COMP_SEM) {
    struct _moj_semop q = {a->id, (uint32_t)a->n, -1, _moj_dsm_cred(), _moj_dsm_rid()};
    r = _moj_dsm_call(a->host, MOJ_SEMOP, &q, sizeof q, a->data, a->n * sizeof(struct _moj_sembuf), NULL, 0, NULL, 0);
    if (!r) {
      struct sembuf ops[500];
      for (size_t i = 0; i < a->n; i++) {
        const struct _moj_sembuf *b = (const void *)(a->data + i * sizeof *b);
        ops[i] = (struct sembuf){b->num, b->op, (short)b->flg};
      }
      _moj_dsm_undo_note(a->id, ops, a->n);
    }
  } else if (a->kind == HOLD_CTL) {
    struct _moj_ctl q;
    memcpy(&q, a->data, sizeof q);
    q.rid = _moj_dsm_rid(); /* a new request: the one made inside the level never left */
    r = _moj_dsm_call(a->host, (uint16_t)a->flg, &q, sizeof q, a->data + sizeof q, a->n - sizeof q, NULL, 0, NULL, 0);
    if (!r && a->flg == MOJ_SEMCTL && (q.cmd == SETVAL || q.cmd == SETALL || q.cmd == IPC_RMID))
      _moj_dsm_undo_clear(q.id, q.cmd == SETVAL ? q.num : -1);
  } else {
    struct _moj_msgsnd q = {a->id, a->kind == COMP_RCV ? IPC_NOWAIT : a->flg, a->mtype, (uint32_t)a->n, _moj_dsm_cred(),
                            _moj_dsm_rid()};
    r = _moj_dsm_call(a->host, MOJ_MSGSND, &q, sizeof q, a->data, a->n, NULL, 0, NULL, 0);
  }
  replaying = 0;
  if (r)
    _moj_dsm_warn("%s of a speculation on %s 0x%x failed: %s", undo ? "undoing a call" : "a call held until the commit",
                  a->kind == HOLD_SEM || a->kind == COMP_SEM || (a->kind == HOLD_CTL && a->flg == MOJ_SEMCTL) ? "semaphore set"
                                                                                                     : "message queue",
                  (unsigned)a->id, strerror(r));
}

/* The runtime's events (client_spec.c, application thread, no lock held). */
void _moj_dsm_specipc_event(int ev, int k, int is_abort) {
  struct act *todo = NULL, **tt = &todo;
  sigset_t om;
  _moj_dsm_lk(&acts_lock, &om);
  for (struct act **pp = &acts; *pp;) {
    struct act *a = *pp;
    int take = 0;
    if (is_abort) {
      take = a->level >= k; /* dropped (holds) or run (compensations) */
    } else if (a->level == k) {
      if (k == 1) take = 1; /* the outermost level commits: holds go out, compensations are moot */
      else a->level = k - 1;
    } else if (a->level > k) {
      a->level--;
    }
    if (take) { *pp = a->next; a->next = NULL; *tt = a; tt = &a->next; }
    else pp = &a->next;
  }
  _moj_dsm_ulk(&acts_lock, &om);
  (void)ev;
  if (is_abort) {
    /* compensations newest first */
    struct act *rev = NULL;
    while (todo) { struct act *a = todo; todo = a->next; a->next = rev; rev = a; }
    todo = rev;
  }
  while (todo) {
    struct act *a = todo;
    todo = a->next;
    if (is_abort ? a->kind == COMP_SEM || a->kind == COMP_RCV : a->kind == HOLD_SEM || a->kind == HOLD_SND || a->kind == HOLD_CTL)
      run(a, is_abort);
    free(a);
  }
}
