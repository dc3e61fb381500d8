/* hashtable.c — chained hash table with string keys: malloc per entry,
 * pointer chasing, strcmp/memcpy on managed strings, rehashing.  Arg: ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry { char *key; long val; struct entry *next; } entry;
typedef struct { entry **b; size_t n, cap; } table;

static unsigned long hash(const char *s) { unsigned long h = 5381; while (*s) h = h * 33 + (unsigned char)*s++; return h; }
static void grow(table *t) {
  size_t nc = t->cap * 2;
  entry **nb = calloc(nc, sizeof *nb);
  for (size_t i = 0; i < t->cap; i++)
    for (entry *e = t->b[i], *nx; e; e = nx) { nx = e->next; size_t h = hash(e->key) & (nc - 1); e->next = nb[h]; nb[h] = e; }
  free(t->b); t->b = nb; t->cap = nc;
}
static entry *find(table *t, const char *k) {
  for (entry *e = t->b[hash(k) & (t->cap - 1)]; e; e = e->next) if (strcmp(e->key, k) == 0) return e;
  return NULL;
}
static void put(table *t, const char *k, long v) {
  entry *e = find(t, k);
  if (e) { e->val += v; return; }
  if (t->n * 4 >= t->cap * 3) grow(t);
  e = malloc(sizeof *e);
  size_t len = strlen(k) + 1;
  e->key = malloc(len); memcpy(e->key, k, len);
  e->val = v;
  size_t h = hash(k) & (t->cap - 1);
  e->next = t->b[h]; t->b[h] = e; t->n++;
}
int main(int argc, char **argv) {
  long ops = argc > 1 ? atol(argv[1]) : 1000000;
  table t = {calloc(16, sizeof(entry *)), 0, 16};
  char key[32];
  unsigned long x = 12345;
  for (long i = 0; i < ops; i++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    snprintf(key, sizeof key, "k%lu", (x >> 33) % (ops / 4 + 1));
    put(&t, key, (long)(i & 7));
  }
  long sum = 0; size_t longest = 0;
  for (size_t i = 0; i < t.cap; i++) { size_t l = 0; for (entry *e = t.b[i]; e; e = e->next) { sum += e->val; l++; } if (l > longest) longest = l; }
  printf("%zu keys, sum %ld, longest chain %zu\n", t.n, sum, longest);
  for (size_t i = 0; i < t.cap; i++) for (entry *e = t.b[i], *nx; e; e = nx) { nx = e->next; free(e->key); free(e); }
  free(t.b);
  return 0;
}
