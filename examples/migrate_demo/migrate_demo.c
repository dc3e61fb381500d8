/* examples/migrate_demo/migrate_demo.c — README's migration demo (built by
 * mojcc): a little word-frequency table kept in the heap, filled in rounds;
 * each round says which host it ran on.  Started with
 * `mojave-run --migrate h2 ./migrate_demo` on h1, it moves to h2 at a
 * migration point in the middle of its work and finishes there, table,
 * counters and all.  Plain C: nothing in it knows about migration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct word { char *text; int count; struct word *next; };
static struct word *table[64];
static const char *corpus[] = {"speculative", "distributed", "migratable", "mojave", "page",
                               "handle", "frame", "image", "host", "heap"};

static unsigned hash(const char *s) { unsigned h = 5381; while (*s) h = h * 33 + (unsigned char)*s++; return h % 64; }

static void count(const char *w) {
  struct word **b = &table[hash(w)];
  for (struct word *p = *b; p; p = p->next)
    if (!strcmp(p->text, w)) { p->count++; return; }
  struct word *n = malloc(sizeof *n);
  n->text = strdup(w);
  n->count = 1;
  n->next = *b;
  *b = n;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 6;
  unsigned seed = 1;
  for (int r = 1; r <= rounds; r++) {
    for (int i = 0; i < 200000; i++) {       /* a round of work: polls on every iteration */
      seed = seed * 1103515245u + 12345u;
      count(corpus[(seed >> 16) % 10]);
    }
    const char *host = getenv("MOJAVE_HOST");
    printf("round %d done on %s (pid %d)\n", r, host ? host : "?", (int)getpid());
    fflush(stdout);
    usleep(150000);
  }
  long total = 0;
  for (int b = 0; b < 64; b++)
    for (struct word *p = table[b]; p; p = p->next) total += p->count;
  printf("counted %ld words in %d rounds: %s\n", total, rounds,
         total == 200000L * rounds ? "table intact" : "TABLE DAMAGED");
  return total == 200000L * rounds ? 0 : 1;
}
