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
struct ev { int64_t at; int kind; int to, from; uint64_t t; struct ev *next; }; /* kind 0 msg, 1 quiet */
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
static void bcast(struct sim *s, int n, int from, int kind, uint64_t t, int64_t now) {
  for (int k = 0; k < n; k++) {
    if (k == from) continue;
    int64_t at = now + s->delay + (s->jitter ? rand_r(&s->seed) % s->jitter : 0);
    if (at < s->link_due[from][k]) at = s->link_due[from][k]; /* FIFO link */
    s->link_due[from][k] = at;
    struct ev *e = calloc(1, sizeof *e);
    *e = (struct ev){at, kind, k, from, t, NULL};
    push(s, e);
  }
}
static void simulate(int n, int mode, int64_t delay, int64_t jitter, int per_node, unsigned seed, struct sim *s) {
  memset(s, 0, sizeof *s);
  s->seed = seed; s->delay = delay; s->jitter = jitter;
  for (int i = 0; i < n; i++) {
    struct _moj_to_consumer c = consumer(&s->log[i]);
    _moj_to_init(&s->to[i], i, n, mode, delay + jitter / 4, 3 * (delay + jitter), &c);
  }
  /* sends at random times, interleaved with everything else */
  int left[NN];
  int64_t next_send[NN];
  for (int i = 0; i < n; i++) { left[i] = per_node; next_send[i] = rand_r(&s->seed) % (delay + 1); }
  int64_t now = 0;
  for (int steps = 0; steps < 10000000; steps++) {
    /* the earliest of: a send, an arrival, a node's deadline */
    int64_t best = INT64_MAX; int who = -1, what = -1;
    for (int i = 0; i < n; i++) if (left[i] && next_send[i] < best) { best = next_send[i]; who = i; what = 0; }
    if (s->evs && s->evs->at < best) { best = s->evs->at; what = 1; }
    for (int i = 0; i < n; i++) {
      int64_t d = _moj_to_next_deadline(&s->to[i]);
      if (d && d < best) { best = d < now ? now : d; who = i; what = 2; }
    }
    if (what < 0) break;
    now = best;
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
      int r = e->kind ? _moj_to_recv_quiet(&s->to[who], e->t, (unsigned)e->from, now)
                      : _moj_to_recv(&s->to[who], e->t, (unsigned)e->from, &e->from, sizeof e->from, now);
      assert_int_equal(r, 0);
      free(e);
    } else {
      _moj_to_progress(&s->to[who], now);
    }
    for (int i = 0; i < n; i++) {
      uint64_t q = _moj_to_quiet_due(&s->to[i], now);
      if (q) bcast(s, n, i, 1, q, now);
    }
  }
  assert_null(s->evs);
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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(classical_waits_for_stability),
    cmocka_unit_test(speculative_delivers_undoes_commits),
    cmocka_unit_test(sim_classical),
    cmocka_unit_test(sim_speculative),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
