/* tests/e2e/spec_heap.c — heap state (arrays, lists, realloc, free, malloc
 * inside the speculation, nested levels) is rolled back by spec_abort and
 * kept by spec_commit, with every access translated by mojcc. */
#include <mojave.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

struct node { int v; struct node *next; };

static struct node *push(struct node *h, int v) {
  struct node *n = malloc(sizeof *n);
  n->v = v;
  n->next = h;
  return n;
}
static int sum(const struct node *h) {
  int s = 0;
  for (; h; h = h->next) s += h->v;
  return s;
}

int main(void) {
  enum { N = 1000 };
  int *a = malloc(N * sizeof *a);
  CHECK((intptr_t)a < 0, "malloc must return a handle, got %p", (void *)a);
  for (int i = 0; i < N; i++) a[i] = i;
  struct node *list = NULL;
  for (int i = 1; i <= 10; i++) list = push(list, i);
  char *buf = calloc(1, 16);
  strcpy(buf, "before");

  /* Abort: everything written, reallocated, freed or allocated inside goes. */
  int id = spec_enter();
  if (id > 0) {
    for (int i = 0; i < N; i++) a[i] = -i;
    list->v = 1000;
    list = push(list, 5000);
    buf = realloc(buf, 4096);
    strcpy(buf, "after-a-long-string");
    free(list->next->next);           /* freed inside, restored by abort */
    CHECK(a[10] == -10, "write visible inside speculation: %d", a[10]);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(id == -SPEC_ABORT_DEFAULT, "spec_enter after abort returned %d", id);
  long s = 0;
  for (int i = 0; i < N; i++) s += a[i];
  CHECK(s == (long)N * (N - 1) / 2, "array sum after abort %ld", s);
  CHECK(sum(list) == 55, "list sum after abort %d", sum(list));
  CHECK(strcmp(buf, "before") == 0, "buffer after abort '%s'", buf);

  /* Commit: changes stay. */
  id = spec_enter();
  CHECK(id > 0, "spec_enter %d", id);
  for (int i = 0; i < N; i++) a[i] = 2 * i;
  list = push(list, 45);
  CHECK(spec_commit(id) == 0, "spec_commit");
  CHECK(a[N - 1] == 2 * (N - 1), "array after commit %d", a[N - 1]);
  CHECK(sum(list) == 100, "list after commit %d", sum(list));

  /* Nested: abort the inner level only, then commit the outer. */
  int outer = spec_enter();
  CHECK(outer > 0, "outer %d", outer);
  a[0] = 111;
  int inner = spec_enter();
  if (inner > 0) {
    a[0] = 222;
    a[1] = 333;
    CHECK(a[0] == 222, "inner write %d", a[0]);
    ABORT_UNLESS_FAILED(inner);
  }
  CHECK(inner < 0, "inner level was not aborted (%d)", inner);
  CHECK(a[0] == 111 && a[1] == 2, "after inner abort a[0]=%d a[1]=%d", a[0], a[1]);
  CHECK(spec_commit(outer) == 0, "outer commit");
  CHECK(a[0] == 111, "after outer commit %d", a[0]);

  while (list) { struct node *n = list->next; free(list); list = n; }
  free(a);
  free(buf);
  DONE();
}
