/* pheap_mst.c — Prim's minimum spanning tree on a random sparse graph with a
 * pairing heap of malloc'd nodes (lazy deletion: every relaxation inserts a
 * node, every pop frees one), adjacency lists as linked edge nodes: the
 * priority-queue-of-nodes pattern of issue 11's Fibonacci-heap MST.
 * Arg: number of vertices (8 random edges each, plus a ring). */
#include <stdio.h>
#include <stdlib.h>

typedef struct edge { struct edge *next; int to, w; } edge;
typedef struct hnode { struct hnode *child, *sibling; int key, v; } hnode;

static unsigned long rng = 42;
static int rnd(int n) { rng = rng * 6364136223846793005ul + 1442695040888963407ul; return (int)((rng >> 33) % (unsigned long)n); }

static void add_edge(edge **adj, int a, int b, int w) {
  edge *e = malloc(sizeof *e); e->to = b; e->w = w; e->next = adj[a]; adj[a] = e;
  e = malloc(sizeof *e); e->to = a; e->w = w; e->next = adj[b]; adj[b] = e;
}
static hnode *meld(hnode *a, hnode *b) {
  if (!a) return b;
  if (!b) return a;
  if (b->key < a->key) { hnode *t = a; a = b; b = t; }
  b->sibling = a->child;
  a->child = b;
  return a;
}
static hnode *merge_pairs(hnode *first) { /* two-pass, iterative */
  hnode *acc = NULL;
  while (first) {
    hnode *a = first, *b = a->sibling;
    if (!b) { a->sibling = acc; acc = a; break; }
    first = b->sibling;
    a->sibling = b->sibling = NULL;
    hnode *m = meld(a, b);
    m->sibling = acc;
    acc = m;
  }
  hnode *root = NULL;
  while (acc) { hnode *n = acc->sibling; acc->sibling = NULL; root = meld(root, acc); acc = n; }
  return root;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  edge **adj = calloc((size_t)n, sizeof *adj);
  for (int i = 0; i < n; i++) add_edge(adj, i, (i + 1) % n, 1000 + rnd(1000));
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 4; k++) add_edge(adj, i, rnd(n), rnd(1000));
  char *in = calloc((size_t)n, 1);
  int *best = malloc((size_t)n * sizeof *best);
  for (int i = 0; i < n; i++) best[i] = 1 << 30;
  long total = 0, pops = 0;
  hnode *h = malloc(sizeof *h);
  h->child = h->sibling = NULL; h->key = 0; h->v = 0; best[0] = 0;
  while (h) {
    hnode *top = h;
    h = merge_pairs(top->child);
    int v = top->v, key = top->key;
    free(top);
    pops++;
    if (in[v]) continue;
    in[v] = 1;
    total += key;
    for (edge *e = adj[v]; e; e = e->next)
      if (!in[e->to] && e->w < best[e->to]) {
        best[e->to] = e->w;
        hnode *x = malloc(sizeof *x);
        x->child = x->sibling = NULL; x->key = e->w; x->v = e->to;
        h = meld(h, x);
      }
  }
  for (int i = 0; i < n; i++) while (adj[i]) { edge *e = adj[i]; adj[i] = e->next; free(e); }
  free(adj); free(in); free(best);
  printf("mst weight %ld, heap pops %ld\n", total, pops);
  return 0;
}
