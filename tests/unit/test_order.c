/* tests/unit/test_order.c — the total-order state machine (runtime/dsm/order.c):
 * hand-built scenarios (classical delivery waits for stability; speculative
 * delivery after the window, undone newest-first when a smaller id arrives,
 * committed by QUIETs; FIFO violations refused), then a discrete-event
 * simulation of 4-5 nodes over links with delay and jitter (FIFO per link,
 * as TCP) in both modes: every node commits the same sequence, in id order,
 * with nothing lost; classical never speculates; speculative mode with
 * jitter does, rolls back, and still agrees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "order.h"

/* ---- a consumer that checks the callback discipline ---- */
struct ent { uint64_t t; unsigned m; };
struct log {
  struct ent tent[4096]; int ntent;   /* delivered, not committed, in order */
  struct ent *com; int ncom, cap;     /* committed */
  int spec, undos;
};
static void c_deliver(void *ctx, const struct _moj_to_msg *x, int spec) {
  struct log *l = ctx;
  if (l->ntent) assert_true(_moj_to_less(l->tent[l->ntent - 1].t, l->tent[l->ntent - 1].m, x->t, x->m));
  assert_true(l->ntent < 4096);
  l->tent[l->ntent++] = (struct ent){x->t, x->m};
  l->spec += spec;
}
static void c_undo(void *ctx, const struct _moj_to_msg *x) {
  struct log *l = ctx;
  assert_true(l->ntent > 0); /* newest first: it must be the last delivered */
  assert_true(l->tent[l->ntent - 1].t == x->t && l->tent[l->ntent - 1].m == x->m);
  l->ntent--;
  l->undos++;
}
static void c_commit(void *ctx, const struct _moj_to_msg *x) {
  struct log *l = ctx;
  assert_true(l->ntent > 0); /* the oldest delivery */
  assert_true(l->tent[0].t == x->t && l->tent[0].m == x->m);
  memmove(l->tent, l->tent + 1, (size_t)(l->ntent - 1) * sizeof l->tent[0]);
  l->ntent--;
  if (l->ncom == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 256;
    l->com = realloc(l->com, (size_t)l->cap * sizeof *l->com);
    assert_non_null(l->com);
  }
  if (l->ncom) assert_true(_moj_to_less(l->com[l->ncom - 1].t, l->com[l->ncom - 1].m, x->t, x->m));
  l->com[l->ncom++] = (struct ent){x->t, x->m};
}
static struct _moj_to_consumer consumer(struct log *l) {
  return (struct _moj_to_consumer){c_deliver, c_undo, c_commit, NULL, l};
}

static void classical_waits_for_stability(void **state) {
  (void)state;
  struct log l = {0};
  struct _moj_to_consumer c = consumer(&l);
  struct _moj_to to;
  _moj_to_init(&to, 0, 3, MOJ_TO_CLASSICAL, 1000, 5000, &c);
  assert_int_equal(_moj_to_recv(&to, 1, 1, "a", 1, 10), 0);
  _moj_to_progress(&to, 1000000);
  assert_int_equal(l.ntent + l.ncom, 0); /* node 2 not heard past (1,1) */
  assert_int_equal(_moj_to_quiet_due(&to, 11), 2); /* classical: the acknowledgement is due at once */
  assert_int_equal(_moj_to_recv_quiet(&to, 1, 2, 20), 0); /* (1,2) > (1,1) */
  assert_int_equal(l.ncom, 1);
  assert_int_equal(l.spec, 0);
  assert_int_equal(to.st.committed, 1);
  /* a smaller id from a node after a larger one breaks FIFO */
  assert_int_equal(_moj_to_recv(&to, 1, 1, NULL, 0, 30), -1);
  assert_int_equal(_moj_to_recv(&to, 5, 0, NULL, 0, 30), -1); /* from ourselves */
  assert_int_equal(_moj_to_recv(&to, 5, 3, NULL, 0, 30), -1); /* no such node */
  _moj_to_free(&to);
  free(l.com);
}

static void speculative_delivers_undoes_commits(void **state) {
  (void)state;
  struct log l = {0};
  struct _moj_to_consumer c = consumer(&l);
  struct _moj_to to;
  _moj_to_init(&to, 0, 3, MOJ_TO_SPECULATIVE, 10, 50, &c);
  assert_int_equal(_moj_to_recv(&to, 5, 1, NULL, 0, 0), 0);
  assert_int_equal(_moj_to_next_deadline(&to), 10);
  _moj_to_progress(&to, 9);
  assert_int_equal(l.ntent, 0);
  _moj_to_progress(&to, 10);
  assert_int_equal(l.ntent, 1); /* delivered inside a speculation */
  assert_int_equal(l.spec, 1);
  assert_int_equal(_moj_to_quiet_due(&to, 20), 0); /* T' not over */
  assert_int_equal(_moj_to_recv(&to, 3, 2, NULL, 0, 11), 0); /* smaller: undoes (5,1) */
  assert_int_equal(l.undos, 1);
  assert_int_equal(to.st.abort_events, 1);
  /* (3,2) is stable at once (node 1 is past it with (5,1), node 2 sent it):
   * delivered and committed; (5,1), whose window is over, is delivered
   * speculatively again behind it */
  assert_int_equal(l.ncom, 1);
  assert_true(l.com[0].t == 3 && l.com[0].m == 2);
  assert_int_equal(l.ntent, 1);
  assert_int_equal(l.spec, 2);
  assert_int_equal(_moj_to_recv_quiet(&to, 6, 2, 31), 0);
  assert_int_equal(l.ncom, 2); /* node 2 heard past (5,1) */
  assert_int_equal(to.st.spec_committed, 1);
  assert_int_equal(to.st.immediate, 1); /* (5,1) was overtaken */
  assert_int_equal(_moj_to_quiet_due(&to, 49), 0);
  uint64_t q = _moj_to_quiet_due(&to, 50); /* owed since 0: T' = 50 is over */
  assert_true(q > 6);
  assert_int_equal(_moj_to_quiet_due(&to, 200), 0); /* nothing new received since */
  _moj_to_free(&to);
  free(l.com);
}

/* ---- simulation ---- */
#define NN 5
struct ev { /* kind 0 msg, 1 quiet, 2 FAIL(f = t, count = rc[0]) */
  int64_t at; int kind; int to, from; uint64_t t; struct ev *next;
  uint32_t rc[NN]; /* the sender's receipt counts when it sent (receipts on) */
};
struct sim {
  struct _moj_to to[NN];
  struct log log[NN];
  struct ev *evs;
  int64_t link_due[NN][NN];
  unsigned seed;
  int64_t delay, jitter;
};
static void push(struct sim *s, struct ev *e) {
  struct ev **pp = &s->evs;
  while (*pp && (*pp)->at <= e->at) pp = &(*pp)->next;
  e->next = *pp;
  *pp = e;
}
static int crashed = -1; /* the failure simulation's dead node: sends nothing */
static void bcast(struct sim *s, int n, int from, int kind, uint64_t t, int64_t now) {
  if (from == crashed) return;
  for (int k = 0; k < n; k++) {
    if (k == from) continue;
    int64_t at = now + s->delay + (s->jitter ? rand_r(&s->seed) % s->jitter : 0);
    if (at < s->link_due[from][k]) at = s->link_due[from][k]; /* FIFO link */
    s->link_due[from][k] = at;
    struct ev *e = calloc(1, sizeof *e);
    *e = (struct ev){at, kind, k, from, t, NULL, {0}};
    memcpy(e->rc, s->to[from].rcount, sizeof e->rc);
    push(s, e);
  }
}
static void simulate_x(int n, int mode, int64_t delay, int64_t jitter, int per_node, unsigned seed, struct sim *s, int c,
                       int64_t crash_at);
/* No failure: every node up to the end. */
static void simulate(int n, int mode, int64_t delay, int64_t jitter, int per_node, unsigned seed, struct sim *s) {
  simulate_x(n, mode, delay, jitter, per_node, seed, s, -1, INT64_MAX);
}
static void check_agreement(struct sim *s, int n, int total) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(s->log[i].ncom, total);
    assert_int_equal(s->log[i].ntent, 0);
    assert_int_equal(s->to[i].qlen, 0);
    assert_memory_equal(s->log[i].com, s->log[0].com, (size_t)total * sizeof(struct ent));
  }
}
static void free_sim(struct sim *s, int n) {
  for (int i = 0; i < n; i++) { _moj_to_free(&s->to[i]); free(s->log[i].com); }
}

static void sim_classical(void **state) {
  (void)state;
  static struct sim s;
  for (unsigned seed = 1; seed <= 5; seed++) {
    simulate(4, MOJ_TO_CLASSICAL, 1000, 3000, 150, seed, &s);
    check_agreement(&s, 4, 600);
    for (int i = 0; i < 4; i++) { assert_int_equal(s.log[i].spec, 0); assert_int_equal(s.log[i].undos, 0); }
    free_sim(&s, 4);
  }
}
static void sim_speculative(void **state) {
  (void)state;
  static struct sim s;
  uint64_t aborts = 0, spec = 0;
  for (unsigned seed = 1; seed <= 5; seed++) {
    simulate(NN, MOJ_TO_SPECULATIVE, 1000, 3000, 150, seed, &s);
    check_agreement(&s, NN, NN * 150);
    for (int i = 0; i < NN; i++) {
      aborts += s.to[i].st.abort_events;
      spec += s.to[i].st.spec_deliveries;
      assert_int_equal(s.log[i].undos, (int)s.to[i].st.undone);
      assert_int_equal(s.to[i].st.committed, NN * 150);
    }
    free_sim(&s, NN);
  }
  /* jitter 3x the delay with T = delay + jitter/4: some messages are
   * overtaken after their window (the fixed seeds make this deterministic) */
  assert_true(spec > 0);
  assert_true(aborts > 0);
  printf("speculative simulation: %llu speculative deliveries, %llu rollbacks\n", (unsigned long long)spec,
         (unsigned long long)aborts);
}

/* ---- failure of a node (write speculation for faults) ---- */
static void fail_bcast(struct sim *s, int n, int from, unsigned f, uint32_t count, int64_t now) {
  bcast(s, n, from, 2, f, now);
  for (struct ev *e = s->evs; e; e = e->next) /* the FAIL events just queued carry the count */
    if (e->kind == 2 && e->from == from && e->t == f && e->at >= now) e->rc[0] = count;
}
/* n nodes sending per_node messages each at random times, receipts on (as
 * the daemons run it).  c >= 0: node c crashes at crash_at: its frames
 * still in flight on each link are cut at a random point (a TCP stream
 * ends), every survivor suspects it at its own random time and broadcasts
 * FAIL; the survivors keep sending. */
static void simulate_x(int n, int mode, int64_t delay, int64_t jitter, int per_node, unsigned seed, struct sim *s, int c,
                       int64_t crash_at) {
  memset(s, 0, sizeof *s);
  s->seed = seed; s->delay = delay; s->jitter = jitter;
  for (int i = 0; i < n; i++) {
    struct _moj_to_consumer cs = consumer(&s->log[i]);
    _moj_to_init(&s->to[i], i, n, mode, delay + jitter / 4, 3 * (delay + jitter), &cs);
    s->to[i].receipts = 1;
  }
  int left[NN];
  int64_t next_send[NN], suspect_at[NN];
  for (int i = 0; i < n; i++) {
    left[i] = per_node;
    next_send[i] = rand_r(&s->seed) % (delay + 1);
    suspect_at[i] = c < 0 || i == c ? INT64_MAX : crash_at + delay + rand_r(&s->seed) % (4 * delay);
  }
  int64_t now = 0;
  int is_down = 0;
  for (int steps = 0; steps < 10000000; steps++) {
    int64_t best = INT64_MAX; int who = -1, what = -1;
    for (int i = 0; i < n; i++) if (left[i] && next_send[i] < best && !(i == c && is_down)) { best = next_send[i]; who = i; what = 0; }
    if (s->evs && s->evs->at < best) { best = s->evs->at; what = 1; }
    for (int i = 0; i < n; i++) {
      if (i == c && is_down) continue;
      int64_t d = _moj_to_next_deadline(&s->to[i]);
      if (d && d < best) { best = d < now ? now : d; who = i; what = 2; }
    }
    if (!is_down && crash_at < best) { best = crash_at; what = 3; }
    for (int i = 0; i < n; i++) if (suspect_at[i] < best) { best = suspect_at[i]; who = i; what = 4; }
    if (what < 0) break;
    now = best;
    if (what == 3) { /* the crash: cut every outgoing link of c at a random point */
      is_down = 1;
      crashed = c;
      for (int k = 0; k < n; k++) {
        if (k == c) continue;
        int cnt = 0;
        for (struct ev *e = s->evs; e; e = e->next) cnt += e->from == c && e->to == k;
        int keep = rand_r(&s->seed) % (cnt + 1), seen = 0;
        for (struct ev **pp = &s->evs; *pp;) {
          struct ev *e = *pp;
          if (e->from == c && e->to == k && seen++ >= keep) { *pp = e->next; free(e); }
          else pp = &e->next;
        }
      }
      continue;
    }
    if (what == 4) {
      suspect_at[who] = INT64_MAX;
      if (!s->to[who].failing[c] && !s->to[who].excluded[c]) fail_bcast(s, n, who, (unsigned)c, _moj_to_suspect(&s->to[who], (unsigned)c, now), now);
      continue;
    }
    if (what == 0) {
      const struct _moj_to_msg *x = _moj_to_send(&s->to[who], &who, sizeof who, now);
      assert_non_null(x);
      bcast(s, n, who, 0, x->t, now);
      left[who]--;
      next_send[who] = now + rand_r(&s->seed) % (2 * delay + 1);
      _moj_to_progress(&s->to[who], now);
    } else if (what == 1) {
      struct ev *e = s->evs;
      s->evs = e->next;
      who = e->to;
      if (who == c && is_down) { free(e); continue; }
      int r;
      if (e->kind == 2) {
        unsigned f = (unsigned)e->t;
        if (!s->to[who].failing[f] && !s->to[who].excluded[f])
          fail_bcast(s, n, who, f, _moj_to_suspect(&s->to[who], f, now), now);
        r = _moj_to_recv_fail(&s->to[who], (unsigned)e->from, f, e->rc[0], now) < 0 ? -1 : 0;
      } else {
        _moj_to_receipts(&s->to[who], (unsigned)e->from, e->rc);
        r = e->kind ? _moj_to_recv_quiet(&s->to[who], e->t, (unsigned)e->from, now)
                    : _moj_to_recv(&s->to[who], e->t, (unsigned)e->from, &e->from, sizeof e->from, now);
      }
      assert_int_equal(r, 0);
      free(e);
    } else {
      _moj_to_progress(&s->to[who], now);
    }
    for (int i = 0; i < n; i++) {
      if (i == c && is_down) continue;
      uint64_t q = _moj_to_quiet_due(&s->to[i], now);
      if (q) bcast(s, n, i, 1, q, now);
    }
  }
  crashed = -1;
  assert_null(s->evs);
}
static void sim_failure(void **state) {
  (void)state;
  static struct sim s;
  uint64_t dropped = 0, kept = 0;
  for (int mode = MOJ_TO_CLASSICAL; mode <= MOJ_TO_SPECULATIVE; mode++)
    for (unsigned seed = 1; seed <= 6; seed++) {
      int n = 5, c = (int)(seed % 5);
      simulate_x(n, mode, 1000, 3000, 60, seed, &s, c, 40000 + 7000 * (int64_t)seed); /* they must agree on one sequence */
      int ref = c == 0 ? 1 : 0;
      for (int i = 0; i < n; i++) {
        if (i == c) continue;
        assert_int_equal(s.to[i].excluded[c], 1);
        assert_int_equal(s.log[i].ntent, 0);
        assert_int_equal(s.to[i].qlen, 0);
        /* the same committed sequence everywhere ... */
        assert_int_equal(s.log[i].ncom, s.log[ref].ncom);
        assert_memory_equal(s.log[i].com, s.log[ref].com, (size_t)s.log[ref].ncom * sizeof(struct ent));
        dropped += s.to[i].dropped;
      }
      /* ... with every survivor message in it */
      int from_c = 0;
      for (int k = 0; k < s.log[ref].ncom; k++) from_c += s.log[ref].com[k].m == (unsigned)c;
      assert_int_equal(s.log[ref].ncom - from_c, (n - 1) * 60);
      assert_true(from_c <= 60);
      kept += (uint64_t)from_c;
      free_sim(&s, n);
    }
  printf("failure simulation: %llu messages of the dead node committed everywhere, %llu dropped beyond the cut\n",
         (unsigned long long)kept, (unsigned long long)dropped);
  assert_true(kept > 0);
}
/* A minority never excludes: 2 of 4 left cannot outvote the others. */
static void minority_stalls(void **state) {
  (void)state;
  struct log l = {0};
  struct _moj_to_consumer c = consumer(&l);
  struct _moj_to to;
  _moj_to_init(&to, 0, 4, MOJ_TO_CLASSICAL, 1000, 5000, &c);
  to.receipts = 1;
  _moj_to_suspect(&to, 2, 0);
  _moj_to_suspect(&to, 3, 0);
  assert_int_equal(_moj_to_recv_fail(&to, 1, 2, 0, 1), 0); /* node 3 said nothing about 2 */
  assert_int_equal(to.excluded[2], 0);
  assert_int_equal(_moj_to_recv_fail(&to, 1, 0, 0, 1), -1); /* about us */
  assert_int_equal(_moj_to_recv_fail(&to, 2, 2, 0, 1), -1); /* about itself */
  _moj_to_free(&to);
  free(l.com);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(classical_waits_for_stability),
    cmocka_unit_test(speculative_delivers_undoes_commits),
    cmocka_unit_test(sim_classical),
    cmocka_unit_test(sim_speculative),
    cmocka_unit_test(sim_failure),
    cmocka_unit_test(minority_stalls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
