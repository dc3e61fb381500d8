/* dlist.c — doubly linked lists of small nodes: build, copy, reverse in
 * place, compare, free, many times over (issue 11's list benchmark: every
 * operation is a malloc/free or a pointer chase through prev/next).
 * Arg: number of rounds over lists of 10^4 nodes. */
#include <stdio.h>
#include <stdlib.h>

typedef struct node { struct node *prev, *next; long val; } node;
typedef struct list { node *head, *tail; long len; } list;

static list *list_new(void) { list *l = malloc(sizeof *l); l->head = l->tail = NULL; l->len = 0; return l; }
static void push_back(list *l, long v) {
  node *n = malloc(sizeof *n);
  n->val = v; n->next = NULL; n->prev = l->tail;
  if (l->tail) l->tail->next = n; else l->head = n;
  l->tail = n;
  l->len++;
}
static long pop_front(list *l) {
  node *n = l->head;
  long v = n->val;
  l->head = n->next;
  if (l->head) l->head->prev = NULL; else l->tail = NULL;
  l->len--;
  free(n);
  return v;
}
static list *list_copy(const list *l) {
  list *c = list_new();
  for (const node *n = l->head; n; n = n->next) push_back(c, n->val);
  return c;
}
static void list_reverse(list *l) {
  node *n = l->head;
  l->head = l->tail; l->tail = n;
  while (n) { node *t = n->next; n->next = n->prev; n->prev = t; n = t; }
}
static int list_equal(const list *a, const list *b) {
  if (a->len != b->len) return 0;
  for (const node *x = a->head, *y = b->head; x; x = x->next, y = y->next)
    if (x->val != y->val) return 0;
  return 1;
}
static void list_free(list *l) { while (l->head) pop_front(l); free(l); }

#define SIZE 10000
int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 100;
  long check = 0;
  for (int r = 0; r < rounds; r++) {
    list *a = list_new();
    for (long i = 1; i <= SIZE; i++) push_back(a, i);
    list *b = list_copy(a), *c = list_new();
    /* move b into c back to front: c ends up as a reversed copy */
    while (b->len) { node *t = b->tail; long v = t->val; b->tail = t->prev; if (b->tail) b->tail->next = NULL; else b->head = NULL; b->len--; free(t); push_back(c, v); }
    list_reverse(a);
    check += list_equal(a, c) ? c->head->val : -1;
    list_reverse(c);
    check += list_equal(b, c) + c->len;
    list_free(a); list_free(b); list_free(c);
  }
  printf("check %ld\n", check);
  return 0;
}
