/* bisort.c — bitonic sort of values held in a binary tree, in place (after
 * Olden's bisort): the tree is built of malloc'd nodes in random order,
 * sorted forwards then backwards by swapping values and subtrees, checked by
 * an in-order walk and freed; repeated.  Pointer chasing through nodes
 * allocated by many small mallocs.  Arg: log2 of the tree size. */
#include <stdio.h>
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
