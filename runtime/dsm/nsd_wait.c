/* nsd_wait.c — callers blocked in semop/msgsnd/msgrcv: waiter lists kept
 * FIFO per object, CANCEL (a signal interrupted the caller), and deadlines
 * (semtimedop, the client's IPC_NOWAIT retries). */
#include "nsd.h"

static int timed_waiters; /* upper bound on waiters with a deadline */

void waiters_fail(struct waiter **list, int err) {
  while (*list) {
    struct waiter *w = *list;
    *list = w->next;
    struct conn *wc = cget(w->c);
    if (wc) sendm(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, err, 0, NULL, 0, NULL, 0);
    free(w->req); free(w);
  }
}
void add_waiter(struct waiter **list, struct conn *c, const struct _moj_hdr *h, const uint8_t *pl, int64_t timeout_ns) {
  struct waiter *w = calloc(1, sizeof *w);
  w->c = cref_of(c); w->seq = h->seq; w->type = h->type;
  w->deadline = timeout_ns >= 0 ? now_ns() + timeout_ns : 0;
  if (timeout_ns == 0) w->deadline = 1; /* already expired: one try, then EAGAIN */
  if (w->deadline) timed_waiters++;
  w->req = malloc(h->len); memcpy(w->req, pl, h->len); w->reqlen = h->len;
  struct waiter **t = list;
  while (*t) t = &(*t)->next; /* FIFO: waiters are served in arrival order */
  *t = w;
}

/* ---------------- cancel / timeouts ---------------- */
static int cancel_in(struct waiter **list, struct conn *c, uint32_t seq) {
  for (struct waiter **pw = list; *pw; pw = &(*pw)->next) {
    struct waiter *w = *pw;
    if (w->c.fd == c->fd && w->c.gen == c->gen && w->seq == seq) {
      *pw = w->next;
      sendm(c, (uint16_t)(w->type | MOJ_REPLY), w->seq, EINTR, 0, NULL, 0, NULL, 0);
      free(w->req); free(w);
      return 1;
    }
  }
  return 0;
}
void do_cancel(struct conn *c, const struct _moj_hdr *h) {
  /* No reply of its own: the cancelled request is answered with EINTR, or it
   * already completed and its reply is on the way. */
  if (c->ord_used && ord_cancel(c, h->aux)) return; /* an ordered object's: cancelled in the total order */
  for (int i = 0; i < MAX_SLOTS; i++) {
    if (sems[i] && cancel_in(&sems[i]->w, c, h->aux)) return;
    if (mqs[i] && cancel_in(&mqs[i]->w, c, h->aux)) { mq_wake(i); ipc_commit(); return; } /* a freed sender slot */
  }
}
int64_t expire_waiters(void) {
  if (!timed_waiters) return 0; /* the common case: skip the scan on the hot path */
  int64_t t = now_ns(), next = 0;
  int left = 0;
  for (int i = 0; i < MAX_SLOTS; i++) {
    struct waiter **lists[2] = {sems[i] ? &sems[i]->w : NULL, mqs[i] ? &mqs[i]->w : NULL};
    for (int k = 0; k < 2; k++) {
      if (!lists[k]) continue;
      for (struct waiter **pw = lists[k]; *pw;) {
        struct waiter *w = *pw;
        if (w->deadline && w->deadline <= t) {
          *pw = w->next;
          struct conn *wc = cget(w->c);
          if (wc) sendm(wc, (uint16_t)(w->type | MOJ_REPLY), w->seq, EAGAIN, 0, NULL, 0, NULL, 0);
          free(w->req); free(w);
          continue;
        }
        if (w->deadline && (!next || w->deadline < next)) next = w->deadline;
        if (w->deadline) left++;
        pw = &w->next;
      }
    }
  }
  timed_waiters = left;
  return next;
}

