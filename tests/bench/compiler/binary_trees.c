/* binary_trees.c — benchmarks-game binary-trees: allocation-heavy recursion
 * (malloc/free of small nodes, pointer chasing).  Arg: max depth. */
#include <stdio.h>
#include <stdlib.h>

typedef struct node { struct node *l, *r; } node;

static node *make(int d) {
  node *n = malloc(sizeof *n);
  if (d > 0) { n->l = make(d - 1); n->r = make(d - 1); }
  else n->l = n->r = NULL;
  return n;
}
static long check(const node *n) { return n->l ? 1 + check(n->l) + check(n->r) : 1; }
static void destroy(node *n) {
  if (n->l) { destroy(n->l); destroy(n->r); }
  free(n);
}

int main(int argc, char **argv) {
  int max = argc > 1 ? atoi(argv[1]) : 16, min = 4;
  if (max < min + 2) max = min + 2;
  node *stretch = make(max + 1);
  printf("stretch tree of depth %d\t check: %ld\n", max + 1, check(stretch));
  destroy(stretch);
  node *longlived = make(max);
  for (int d = min; d <= max; d += 2) {
    long iters = 1L << (max - d + min), c = 0;
    for (long i = 0; i < iters; i++) { node *t = make(d); c += check(t); destroy(t); }
    printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, c);
  }
  printf("long lived tree of depth %d\t check: %ld\n", max, check(longlived));
  destroy(longlived);
  return 0;
}
