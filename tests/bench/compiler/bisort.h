/* bisort.h — Olden's bitonic merge and sort of values held in a binary tree,
 * in place (swapping values and subtrees), and the tree of random values it
 * sorts, built of malloc'd nodes: shared by the bisort benchmark
 * and tests/e2e/spec_chase.c, which runs it inside speculations. */
#ifndef MOJ_BENCH_BISORT_H
#define MOJ_BENCH_BISORT_H

#include <stdlib.h>

typedef struct node { int value; struct node *left, *right; } node;

static unsigned long rng = 12345;
static int rnd(void) { rng = rng * 6364136223846793005ul + 1442695040888963407ul; return (int)(rng >> 33); }

static node *build(int levels) {
  if (!levels) return NULL;
  node *n = malloc(sizeof *n);
  n->value = rnd() % 1000000;
  n->left = build(levels - 1);
  n->right = build(levels - 1);
  return n;
}
static void destroy(node *n) { if (n) { destroy(n->left); destroy(n->right); free(n); } }

#define SWAPV(a, b) do { int t_ = (a); (a) = (b); (b) = t_; } while (0)
#define SWAPP(a, b) do { node *t_ = (a); (a) = (b); (b) = t_; } while (0)

static int bimerge(node *root, int spr, int dir) {
  int rightex = (root->value > spr) ^ dir;
  if (rightex) SWAPV(root->value, spr);
  node *pl = root->left, *pr = root->right;
  while (pl) {
    int elemex = (pl->value > pr->value) ^ dir;
    if (rightex) {
      if (elemex) { SWAPV(pl->value, pr->value); SWAPP(pl->right, pr->right); pl = pl->left; pr = pr->left; }
      else { pl = pl->right; pr = pr->right; }
    } else {
      if (elemex) { SWAPV(pl->value, pr->value); SWAPP(pl->left, pr->left); pl = pl->right; pr = pr->right; }
      else { pl = pl->left; pr = pr->left; }
    }
  }
  if (root->left) {
    root->value = bimerge(root->left, root->value, dir);
    spr = bimerge(root->right, spr, dir);
  }
  return spr;
}
static int bisort(node *root, int spr, int dir) {
  if (!root->left) {
    if ((root->value > spr) ^ dir) SWAPV(root->value, spr);
  } else {
    root->value = bisort(root->left, root->value, dir);
    spr = bisort(root->right, spr, !dir);
    spr = bimerge(root, spr, dir);
  }
  return spr;
}

#endif
