/* tests/e2e/spec_cold.c — heap reads and writes in cold blocks inside
 * speculations.  At -O2 moj-lower translates in blocks estimated to run
 * less than once in 32 entries of their function through the runtime's
 * out-of-line entries (lit lower-cold.ll); those must do the same
 * copy-on-write as the inline form: a write on an unlikely path inside a
 * level is undone by its abort and kept by its commit, for objects made
 * before the level and inside it, nested levels included.  Checked against
 * a plain-array model. */
#include <mojave.h>
#include <stdlib.h>
#include "check.h"

#define N 64
typedef struct rec { int v[4]; struct rec *next; } rec;

/* Unlikely paths (the estimate sees __builtin_expect): a rare write, a rare
 * read-modify-write through a chain, a rare relink. */
__attribute__((noinline)) static void touch(rec *r, int i, int rare) {
  r->v[0] += 1;                                 /* hot */
  if (__builtin_expect(rare, 0)) {
    r->v[1] = r->v[1] * 3 + i;                  /* cold write */
    if (r->next) r->next->v[2] ^= i;            /* cold read + write through a pointer */
  }
}
__attribute__((noinline)) static int rare_sum(rec *r, int rare) {
  int s = r->v[0];
  if (__builtin_expect(rare, 0)) s += r->v[1] + r->v[2] + r->v[3];  /* cold reads */
  return s;
}

static int model[N][4];
static rec *recs[N];

static void step(int k, int round) {
  int rare = (k * 7 + round) % 5 == 0;
  touch(recs[k], k + round, rare);
  model[k][0] += 1;
  if (rare) {
    model[k][1] = model[k][1] * 3 + k + round;
    if (k + 1 < N) model[k + 1][2] ^= k + round;
  }
}

static int agrees(void) {
  for (int k = 0; k < N; k++)
    for (int j = 0; j < 3; j++)
      if (recs[k]->v[j] != model[k][j]) return 0;
  return 1;
}

int main(void) {
  for (int k = 0; k < N; k++) {
    recs[k] = calloc(1, sizeof(rec));
    CHECK(recs[k] != NULL, "calloc");
    if (!recs[k]) DONE();
  }
  for (int k = 0; k + 1 < N; k++) recs[k]->next = recs[k + 1];

  /* model is a global: an abort rolls it back with the heap */
  for (int round = 0; round < 40; round++) {
    int keep = round % 3 == 0;
    int id = spec_enter();
    if (id > 0) {
      for (int k = 0; k < N; k++) step(k, round);
      int inner = spec_enter(); /* a nested level on the same objects, aborted */
      if (inner > 0) {
        for (int k = 0; k < N; k += 2) touch(recs[k], 1000 + k, 1);
        spec_abort(inner);
      }
      CHECK(inner == -SPEC_ABORT_DEFAULT, "round %d: inner level %d", round, inner);
      CHECK(agrees(), "round %d: the inner abort did not undo its cold writes", round);
      rec *fresh = calloc(1, sizeof(rec)); /* made inside the level */
      CHECK(fresh != NULL, "calloc");
      if (fresh) {
        touch(fresh, 5, 1);
        CHECK(fresh->v[1] == 5 && rare_sum(fresh, 1) == 6, "round %d: fresh object %d", round, fresh->v[1]);
        free(fresh);
      }
      if (keep) CHECK(spec_commit(id) == 0, "round %d: commit", round);
      else ABORT_UNLESS_FAILED(id);
    }
    CHECK(keep ? id > 0 : id == -SPEC_ABORT_DEFAULT, "round %d: spec_enter %d", round, id);
    CHECK(agrees(), "round %d (%s): heap differs from the model", round, keep ? "commit" : "abort");
  }
  int s = 0;
  for (int k = 0; k < N; k++) s += rare_sum(recs[k], k % 2);
  int m = 0;
  for (int k = 0; k < N; k++) m += model[k][0] + (k % 2 ? model[k][1] + model[k][2] + model[k][3] : 0);
  CHECK(s == m, "cold reads %d, model %d", s, m);
  DONE();
}
