/* tests/e2e/spec_chase.c — the pointer-chasing optimisations of moj-translate
 * (docs/mojcc.md, "Translating only where needed") inside speculations:
 * writes to freshly allocated objects without a barrier, translations merged
 * at joins and carried around loops, a read upgraded to the write
 * translation.  Each runs inside a level that is then aborted (every write
 * to older objects rolled back) or committed (kept), and the walkers check
 * what they see inside. */
#include <mojave.h>
#include <stdint.h>
#include "check.h"
#include "../bench/compiler/bisort.h"

static node *volatile escape;
/* build() (bisort.h) writes only nodes it allocated itself: fresh objects. */
/* A list whose nodes are linked while the previous one is still fresh. */
__attribute__((noinline)) static node *chain(int len, int base) {
  node *head = NULL, *prev = NULL;
  for (int i = 0; i < len; i++) {
    node *n = malloc(sizeof *n);
    n->value = base + i;
    n->left = NULL;
    n->right = prev;
    if (prev) prev->left = n; else head = n;
    prev = n;
  }
  return head;
}
static void destroy_chain(node *n) { while (n) { node *x = n->left; free(n); n = x; } }

/* bimerge (Olden's bitonic merge, tests/bench/compiler/bisort.h): the loop
 * reads pl/pr, swaps some of their fields (barriers on one side of a join)
 * and follows a field of the previous iteration's node (loop-carried
 * translation). */
static int last, bad;
static void in_order(const node *n) {
  if (!n) return;
  in_order(n->left);
  if (n->value < last) bad++;
  last = n->value;
  in_order(n->right);
}
/* In-order fingerprint: position-weighted, so a permutation changes it. */
static long pos;
static long fingerprint(const node *n) {
  if (!n) return 0;
  long l = fingerprint(n->left);
  long me = n->value * ++pos;
  return l + me + fingerprint(n->right);
}
static long fp(const node *t) { pos = 0; return fingerprint(t); }

/* Read, then write on one side of a join, then read at the join. */
__attribute__((noinline)) static int diamond(node *p, int c) {
  int a = p->value;
  if (c) p->value = a + 10;
  return p->value + (p->left != NULL);
}
/* Read-modify-write in one block (the read takes the write translation). */
__attribute__((noinline)) static void bump(node *p) { p->value++; }

/* Values live across four barriers whose slow path runs (objects older than
 * the level): the slow path's preserve_most entry must keep every register
 * the caller holds them in (runtime/cc_slow_x86_64.S). */
__attribute__((noinline)) static long scatter(node *a, node *b, node *c, node *d, long k) {
  long x1 = a->value * 3 + k, x2 = b->value * 5 + k, x3 = c->value * 7 + k, x4 = d->value * 11 + k;
  a->value = (int)(x1 + x2);
  b->value = (int)(x2 + x3);
  c->value = (int)(x3 + x4);
  d->value = (int)(x4 + x1);
  return (x1 * 13 + x2) * 17 + (x3 * 19 + x4) * 23 + k + (a->left == b->left) + (c->right == d->right);
}
static long scatter_expect(int a, int b, int c, int d, long k) {
  long x1 = a * 3 + k, x2 = b * 5 + k, x3 = c * 7 + k, x4 = d * 11 + k;
  return (x1 * 13 + x2) * 17 + (x3 * 19 + x4) * 23 + k; /* consecutive nodes: links differ */
}

int main(void) {
  node *t = build(10);
  long before = fp(t);
  node *l = chain(100, 1);

  /* Abort: the sort, the merges and the bumps all go. */
  int id = spec_enter();
  if (id > 0) {
    node *q = l->left->left; /* first writes to these nodes in the level */
    long want = scatter_expect(q->value, q->left->value, q->left->left->value, q->left->left->left->value, 99);
    long got = scatter(q, q->left, q->left->left, q->left->left->left, 99);
    CHECK(got == want, "values live across barriers: %ld, want %ld", got, want);
    int spr = bisort(t, 1 << 20, 0);
    last = -1; bad = 0; in_order(t);
    CHECK(bad == 0 && spr >= last, "tree not sorted inside the speculation (%d bad)", bad);
    CHECK(diamond(l, 1) == 11 + 1, "diamond inside: %d", l->value);
    for (node *n = l; n; n = n->left) bump(n);
    CHECK(l->value == 12 && l->left->value == 3, "bumped inside: %d %d", l->value, l->left->value);
    node *fresh = chain(50, 1000); /* fresh objects inside the level */
    CHECK(fresh->left->left->value == 1002, "fresh chain inside: %d", fresh->left->left->value);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(id == -SPEC_ABORT_DEFAULT, "spec_enter after abort returned %d", id);
  CHECK(fp(t) == before, "tree after abort: fingerprint %ld, was %ld", fp(t), before);
  long s = 0;
  int k = 1, order = 1;
  for (node *n = l; n; n = n->left, k++) { s += n->value; order &= n->value == k; }
  CHECK(order && s == 5050, "list after abort: sum %ld, in order %d", s, order);

  /* Commit: everything stays. */
  id = spec_enter();
  CHECK(id > 0, "spec_enter %d", id);
  bisort(t, 1 << 20, 0);
  for (node *n = l; n; n = n->left) bump(n);
  node *fresh = chain(50, 1000);
  CHECK(spec_commit(id) == 0, "spec_commit");
  last = -1; bad = 0; in_order(t);
  CHECK(bad == 0, "tree not sorted after commit (%d bad)", bad);
  CHECK(l->value == 2 && fresh->left->value == 1001, "after commit: %d %d", l->value, fresh->left->value);

  /* A node allocated and written before the level, written again inside:
   * the level changed in between, so that write must be rolled back.  (It
   * escapes first: otherwise clang sees the first store overwritten on the
   * only path it knows of spec_enter's returns and drops it.) */
  node *n = malloc(sizeof *n);
  n->value = 1;
  escape = n;
  id = spec_enter();
  if (id > 0) {
    n->value = 2;
    bump(n);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(n->value == 1, "pre-level node after abort: %d", n->value);

  free(n);
  destroy_chain(fresh);
  destroy_chain(l);
  destroy(t);
  DONE();
}
