/* bisort.c — bitonic sort of values held in a binary tree, in place (after
 * Olden's bisort): the tree is built of malloc'd nodes in random order,
 * sorted forwards then backwards by swapping values and subtrees, checked by
 * an in-order walk and freed; repeated.  Pointer chasing through nodes
 * allocated by many small mallocs.  Arg: log2 of the tree size. */
#include <stdio.h>
#include <stdlib.h>

#include "bisort.h"

/* in-order values then spr must be monotone in direction dir */
static int last, bad;
static void walk(const node *n, int dir) {
  if (!n) return;
  walk(n->left, dir);
  if (dir ? n->value > last : n->value < last) bad++;
  last = n->value;
  walk(n->right, dir);
}
static long sum(const node *n) { return n ? n->value + sum(n->left) + sum(n->right) : 0; }

int main(int argc, char **argv) {
  int levels = argc > 1 ? atoi(argv[1]) : 16;
  long check = 0;
  for (int round = 0; round < 4; round++) {
    node *t = build(levels);
    int spr = rnd() % 1000000;
    spr = bisort(t, spr, 0);
    last = -1; bad = 0; walk(t, 0); if (spr < last) bad++;
    check += bad;
    spr = bisort(t, spr, 1);
    last = 1 << 30; bad = 0; walk(t, 1); if (spr > last) bad++;
    check += bad * 1000 + sum(t) % 1000;
    destroy(t);
  }
  printf("check %ld\n", check);
  return 0;
}
