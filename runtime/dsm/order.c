/* order.c — the total-order state machine of order.h: hold-back queue,
 * Lamport clock, stability, speculative delivery after the window T, undo of
 * speculative deliveries overtaken by a smaller message, QUIET messages, and
 * the per-message times the paper's latency model needs (recv, stable, last
 * smaller arrival, delivery).  Pure: time comes in as arguments. */
#include "order.h"

#include <stdlib.h>
#include <string.h>

void _moj_to_init(struct _moj_to *to, int me, int n, int mode, int64_t window_ns, int64_t quiet_ns,
                  const struct _moj_to_consumer *c) {
  memset(to, 0, sizeof *to);
  to->me = me;
  to->n = n;
  to->mode = mode;
  to->window_ns = window_ns;
  to->quiet_ns = quiet_ns;
  if (c) to->c = *c;
}

void _moj_to_free(struct _moj_to *to) {
  while (to->q) {
    struct _moj_to_msg *x = to->q;
    to->q = x->next;
    free(x);
  }
  to->qlen = 0;
}

/* Heard past (t, m) from every node but the sender and us (and, with
 * receipts, every such node said it has it)?  Excluded nodes no longer
 * count; a node being suspected still does (we wait for the agreement). */
static int stable(const struct _moj_to *to, const struct _moj_to_msg *x) {
  for (int k = 0; k < to->n; k++) {
    if (k == to->me || k == x->m || to->excluded[k]) continue;
    if (!to->heard[k] || !_moj_to_less(x->t, x->m, to->last_t[k], (unsigned)k)) return 0;
    if (to->receipts && to->prc[k][x->m] < x->seq) return 0;
  }
  return 1;
}

static int64_t tstart(const struct _moj_to *to) { return to->c.clock ? to->c.clock() : 0; }
static void tadd(const struct _moj_to *to, int64_t *acc, int64_t t0) {
  if (to->c.clock) *acc += to->c.clock() - t0;
}

static void insert(struct _moj_to *to, struct _moj_to_msg *x) {
  struct _moj_to_msg **pp = &to->q;
  while (*pp && _moj_to_less((*pp)->t, (*pp)->m, x->t, x->m)) pp = &(*pp)->next;
  x->next = *pp;
  *pp = x;
  to->qlen++;
}

static struct _moj_to_msg *mk(uint64_t t, unsigned m, const void *data, uint32_t len, int64_t now) {
  struct _moj_to_msg *x = calloc(1, sizeof *x + len);
  if (!x) return NULL;
  x->t = t;
  x->m = (uint16_t)m;
  x->len = len;
  x->recv_ns = now;
  x->immediate = 1;
  if (len) memcpy(x->data, data, len);
  return x;
}

const struct _moj_to_msg *_moj_to_send(struct _moj_to *to, const void *data, uint32_t len, int64_t now) {
  struct _moj_to_msg *x = mk(to->clock + 1, (unsigned)to->me, data, len, now);
  if (!x) return NULL;
  /* larger than everything received (clock >= every received t): it can
   * neither overtake nor be overtaken here */
  to->clock++;
  to->sent_t = to->clock;
  to->last_send_ns = now;
  to->owe = 0;
  to->st.sent++;
  x->seq = ++to->rcount[to->me];
  insert(to, x);
  return x;
}

/* A node's ids only grow on a FIFO link. */
static int heard_from(struct _moj_to *to, uint64_t t, unsigned m, int strict) {
  if ((int)m == to->me || (int)m >= to->n) return -1;
  if (to->heard[m] && (strict ? t <= to->last_t[m] : t < to->last_t[m])) return -1;
  to->heard[m] = 1;
  to->last_t[m] = t;
  if (t > to->clock) to->clock = t;
  return 0;
}

/* Undo every speculative delivery from `first` on, newest first (the
 * consumer keeps a stack), counted as one rollback.  Returns how many. */
static size_t undo_from(struct _moj_to *to, struct _moj_to_msg *first) {
  size_t n = 0;
  for (struct _moj_to_msg *y = first; y; y = y->next) n += y->state == 1;
  if (!n) return 0;
  struct _moj_to_msg **v = malloc(n * sizeof *v), *y = first;
  size_t k = 0;
  for (; y && k < n; y = y->next)
    if (y->state == 1) {
      if (v) v[k] = y;
      k++;
    }
  int64_t t0 = tstart(to);
  for (size_t i = n; i-- > 0;) {
    struct _moj_to_msg *u = v ? v[i] : NULL;
    if (!u) { /* out of memory for the list: walk it again for each, newest first */
      size_t j = 0;
      for (u = first; u; u = u->next)
        if (u->state == 1 && j++ == i) break;
    }
    if (to->c.undo) to->c.undo(to->c.ctx, u);
    u->state = 0;
    u->aborts++;
  }
  tadd(to, &to->st.ta_ns, t0);
  free(v);
  to->st.abort_events++;
  to->st.undone += n;
  return n;
}

/* x arrived behind deliveries of larger ids: undo them. */
static void overtaken(struct _moj_to *to, struct _moj_to_msg *x, int64_t now) {
  for (struct _moj_to_msg *y = x->next; y; y = y->next) {
    y->immediate = 0;
    y->last_smaller_ns = now;
  }
  undo_from(to, x->next);
}

int _moj_to_recv(struct _moj_to *to, uint64_t t, unsigned m, const void *data, uint32_t len, int64_t now) {
  if ((int)m < to->n && (to->failing[m] || to->excluded[m])) return 0; /* a suspect's: ignored (see the top) */
  if (heard_from(to, t, m, 1)) return -1;
  struct _moj_to_msg *x = mk(t, m, data, len, now);
  if (!x) return -1;
  x->seq = ++to->rcount[m];
  if (t > to->max_recv_t) to->max_recv_t = t;
  if (!to->owe) { to->owe = 1; to->owe_since = now; }
  to->st.received++;
  insert(to, x);
  overtaken(to, x, now);
  _moj_to_progress(to, now);
  return 0;
}

int _moj_to_recv_quiet(struct _moj_to *to, uint64_t t, unsigned m, int64_t now) {
  if ((int)m < to->n && (to->failing[m] || to->excluded[m])) return 0;
  if (heard_from(to, t, m, 0)) return -1;
  to->st.quiets_received++;
  _moj_to_progress(to, now);
  return 0;
}

void _moj_to_progress(struct _moj_to *to, int64_t now) {
  /* the stable prefix: delivered (if it was not yet) and committed */
  while (to->q && stable(to, to->q)) {
    struct _moj_to_msg *x = to->q;
    x->stable_ns = now;
    if (x->state == 0) {
      if (to->c.deliver) to->c.deliver(to->c.ctx, x, 0);
      if (!x->first_deliver_ns) x->first_deliver_ns = now;
      x->deliver_ns = now;
      x->state = 2;
    } else if (x->state == 1) {
      to->st.spec_committed++;
    }
    int64_t t0 = tstart(to);
    if (to->c.commit) to->c.commit(to->c.ctx, x);
    if (x->state == 1) tadd(to, &to->st.tc_ns, t0);
    to->st.committed++;
    if (x->immediate) to->st.immediate++;
    to->q = x->next;
    to->qlen--;
    free(x);
  }
  if (to->mode != MOJ_TO_SPECULATIVE) return;
  /* Figure 2: a message still not stable T after its reception is delivered
   * inside a speculation; deliveries stay in id order */
  for (struct _moj_to_msg *x = to->q; x; x = x->next) {
    if (x->state) continue;
    if (now < x->recv_ns + to->window_ns) break;
    int64_t t0 = tstart(to);
    if (to->c.deliver) to->c.deliver(to->c.ctx, x, 1);
    tadd(to, &to->st.te_ns, t0);
    if (!x->first_deliver_ns) x->first_deliver_ns = now;
    x->deliver_ns = now;
    x->state = 1;
    to->st.spec_deliveries++;
  }
}

uint64_t _moj_to_quiet_due(struct _moj_to *to, int64_t now) {
  if (!to->owe) return 0;
  if (to->mode == MOJ_TO_SPECULATIVE && now < to->owe_since + to->quiet_ns) return 0;
  to->clock++; /* past every id received: (clock, me) > (t, m) for all of them */
  to->sent_t = to->clock;
  to->last_send_ns = now;
  to->owe = 0;
  to->st.quiets_sent++;
  return to->clock;
}

int64_t _moj_to_next_deadline(const struct _moj_to *to) {
  int64_t d = 0;
  if (to->owe) d = to->mode == MOJ_TO_SPECULATIVE ? to->owe_since + to->quiet_ns : to->owe_since;
  if (to->mode == MOJ_TO_SPECULATIVE)
    for (const struct _moj_to_msg *x = to->q; x; x = x->next)
      if (!x->state) {
        int64_t w = x->recv_ns + to->window_ns;
        if (!d || w < d) d = w;
        break;
      }
  return d;
}

/* ---- receipts and failures ---- */
void _moj_to_receipts(struct _moj_to *to, unsigned from, const uint32_t *rc) {
  if ((int)from >= to->n || (int)from == to->me || to->failing[from] || to->excluded[from]) return;
  for (int k = 0; k < to->n; k++)
    if (rc[k] > to->prc[from][k]) to->prc[from][k] = rc[k];
}

uint32_t _moj_to_suspect(struct _moj_to *to, unsigned f, int64_t now) {
  if ((int)f >= to->n || (int)f == to->me) return 0;
  if (!to->failing[f] && !to->excluded[f]) {
    to->failing[f] = 1;
    to->fail_rc[f][to->me] = to->rcount[f];
    to->fail_seen[f][to->me] = 1;
    (void)now;
  }
  return to->fail_rc[f][to->me];
}

/* Every other node's FAIL about f is in, and we are a majority: exclude. */
static int try_exclude(struct _moj_to *to, unsigned f, int64_t now) {
  if (to->excluded[f] || !to->failing[f]) return 0;
  uint32_t cut = UINT32_MAX;
  for (int j = 0; j < to->n; j++) {
    if (j == (int)f || to->excluded[j]) continue;
    if (!to->fail_seen[f][j]) return 0;
    if (to->fail_rc[f][j] < cut) cut = to->fail_rc[f][j];
  }
  int alive = to->n - to->nexcluded - 1;
  if (2 * alive <= to->n) return 0; /* a minority stalls rather than go on alone */
  /* undo every speculative delivery from the first message to drop on,
   * newest first (the consumer keeps a stack), then drop */
  struct _moj_to_msg *first = NULL;
  for (struct _moj_to_msg *x = to->q; x && !first; x = x->next)
    if (x->m == f && x->seq > cut) first = x;
  if (first) {
    undo_from(to, first);
    for (struct _moj_to_msg **pp = &to->q; *pp;) {
      struct _moj_to_msg *x = *pp;
      if (x->m == f && x->seq > cut) { *pp = x->next; to->qlen--; to->dropped++; free(x); }
      else pp = &x->next;
    }
  }
  for (int j = 0; j < to->n; j++)
    if (to->fail_seen[f][j] && to->fail_rc[f][j] > to->prc[j][f]) to->prc[j][f] = to->fail_rc[f][j];
  to->excluded[f] = 1;
  to->failing[f] = 0;
  to->nexcluded++;
  if (!to->owe) { to->owe = 1; to->owe_since = now; } /* one QUIET each: what waited for f can become stable */
  _moj_to_progress(to, now);
  return 1;
}

int _moj_to_recv_fail(struct _moj_to *to, unsigned from, unsigned f, uint32_t count, int64_t now) {
  if ((int)from >= to->n || (int)f >= to->n || from == f || (int)f == to->me || (int)from == to->me) return -1;
  if (to->excluded[f]) return 0;
  _moj_to_suspect(to, f, now);
  to->fail_rc[f][from] = count;
  to->fail_seen[f][from] = 1;
  return try_exclude(to, f, now);
}
