/* examples/fig5_spec/fig5_sizes.c — the rows beside Figure 5 that follow
 * what issue 10 (items 7 and 8) asks to make flat: speculation entry against
 * the size of the executable's globals, and the cost of a 1-byte write to one
 * large managed object inside a speculation (and of 64 KiB and 1 MB), with the
 * commit and abort after it, against memcpy of the bytes involved and the
 * resident memory the write added.  Prints Markdown tables of medians
 * (microseconds).
 *
 *   fig5_sizes_32k | fig5_sizes_1m | fig5_sizes_64m  [--max-mb N] [--reps N]
 *
 * The binaries differ only in a .bss array (MOJ_FIG5_GLOBALS bytes), whose
 * pages are touched first so they are resident, as in a program using them.
 * A third table: entry, commit, and an abort after one write into the oldest
 * frame, against the depth of the live stack at spec_enter (--stack prints
 * only that one). */
#include <mojave.h>

#include "timing.h"

#include <alloca.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifndef MOJ_FIG5_GLOBALS
#define MOJ_FIG5_GLOBALS (32 * 1024)
#endif

#ifdef MOJ_FIG5_STATIC
/* built by mojcc (fig5_sizes_*_mojcc): a static array, which the pass turns
 * into a managed object (passes/MojGlobals.cpp) */
static char fig5_globals[MOJ_FIG5_GLOBALS];
#else
char fig5_globals[MOJ_FIG5_GLOBALS]; /* external: the stores stay */
#endif


static double entry_median(int reps) {
  double *v = malloc((size_t)reps * sizeof *v);
  for (int r = 0; r < reps; r++) {
    double t0 = now_us();
    int id = spec_enter();
    v[r] = now_us() - t0;
    spec_commit(id);
  }
  double m = median(v, reps);
  free(v);
  return m;
}

/* 1-byte write to a fresh speculation's object, then commit or abort. */
typedef struct { double write_us, end_us; long rss_kb; } big_t;
static big_t *probe;               /* libc memory: survives the abort */

static long rss_kb(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4;
}

/* One round: enter, write `m` bytes (one byte when m == 1) at offset 7, then
 * commit or abort; the write and the end are timed, and the resident set
 * growth the write caused is recorded (only when with_rss). */
static void big_round(void *obj, size_t m, int do_abort, int with_rss) {
  long r0 = with_rss ? rss_kb() : 0;
  int id = spec_enter();
  if (id > 0) {
    double t0 = now_us();
    if (m == 1) MOJ_W(char, obj)[7] = 1;
    else memset(MOJ_W(char, obj) + 7, 1, m);
    probe->write_us = now_us() - t0;
    probe->rss_kb = with_rss ? rss_kb() - r0 : 0;
    double t1 = now_us();
    if (do_abort) { probe->end_us = t1; spec_abort(id); }
    spec_commit(id);
    probe->end_us = now_us() - t1;
    return;
  }
  probe->end_us = now_us() - probe->end_us;
}

/* --- entry against the live stack's depth ------------------------------ */

typedef struct { double entry, commit, abort_us, write_us, t; char *oldest; } stk_t;
static stk_t *sk;                  /* libc memory: survives the aborts */

/* One round at the current depth: enter, commit; enter, write one byte of
 * the oldest frame (main's), abort. */
static __attribute__((noinline)) void stack_round(int r, double *e, double *c, double *a, double *w) {
  double t0 = now_us();
  int id = spec_enter();
  double t1 = now_us();
  spec_commit(id);
  e[r] = t1 - t0;
  c[r] = now_us() - t1;
  id = spec_enter();
  if (id > 0) {
    t0 = now_us();
    sk->oldest[r & 63] = (char)r;
    w[r] = now_us() - t0;
    sk->t = now_us();
    spec_abort(id);
  }
  a[r] = now_us() - sk->t;
}

static __attribute__((noinline)) void stack_rows(size_t depth, int reps) {
  /* `depth` bytes of live stack below main's frame, every page touched */
  size_t used = (uintptr_t)sk->oldest - (uintptr_t)__builtin_frame_address(0);
  size_t n = depth > used + 4096 ? depth - used - 4096 : 64;
  volatile char *pad = alloca(n);
  for (size_t i = 0; i < n; i += 4096) pad[i] = 1;
  pad[n - 1] = 1;
  double *e = malloc((size_t)reps * sizeof *e), *c = malloc((size_t)reps * sizeof *c),
         *a = malloc((size_t)reps * sizeof *a), *w = malloc((size_t)reps * sizeof *w);
  for (int r = 0; r < reps; r++) stack_round(r, e, c, a, w);
  char label[32];
  if (depth >= (1u << 20)) snprintf(label, sizeof label, "%.1f MB", depth / 1048576.0);
  else snprintf(label, sizeof label, "%zu KB", depth >> 10);
  printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", label, median(e, reps), median(c, reps), median(a, reps),
         median(w, reps));
  fflush(stdout);
  free(e); free(c); free(a); free(w);
}

static void stack_table(char *oldest, int reps) {
  sk = malloc(sizeof *sk);
  sk->oldest = oldest;
  struct rlimit rl;
  size_t limit = getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : (size_t)1 << 30;
  const size_t depths[] = {4 << 10, 64 << 10, 1 << 20, 8 << 20};
  printf("| live stack at spec_enter | spec entry | commit | abort after a write to the oldest frame |"
         " that write |\n|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
    size_t d = depths[i];
    if (d + (512 << 10) > limit) d = limit - (512 << 10);  /* room for the environment, signals */
    stack_rows(d, reps ? reps : 1001);
  }
  printf("\nMedians in microseconds of %d rounds; abort: from spec_abort until spec_enter returns.\n\n",
         reps ? reps : 1001);
  free(sk);
}

static void label_of(char *b, size_t n, size_t v) {
  if (v >= (1u << 20)) snprintf(b, n, "%zu MB", v >> 20);
  else snprintf(b, n, "%zu KiB", v >> 10);
}

int main(int argc, char **argv) {
  long max_mb = 1024;
  int reps = 0, only_stack = 0;
  char oldest[64];                 /* the oldest frame a level writes into */
  memset(oldest, 0, sizeof oldest);
  if (fig5_args(argc, argv, &max_mb, &reps, "--stack", &only_stack)) return 2;
  if (only_stack) {
    stack_table(oldest, reps);
    return oldest[0] == 127;       /* keeps `oldest` in main's frame */
  }
  for (size_t i = 0; i < sizeof fig5_globals; i += 4096) fig5_globals[i] = 1;
  probe = malloc(sizeof *probe);

  printf("| globals (.data+.bss) | spec entry |\n|---:|---:|\n");
  printf("| %zu KB | %.2f |\n\n", sizeof fig5_globals / 1024, entry_median(1001));
  stack_table(oldest, reps);

  /* Object sizes, and the bytes mutated in each: 1 byte, then 64 KiB and
   * 1 MB where the object holds them. */
  const size_t sizes[] = {4096, 1 << 20, 64 << 20, 1024u << 20};
  const size_t muts[] = {1, 64 << 10, 1 << 20};
  printf("| object | mutated | write in a speculation | RSS growth (KB) | commit after it | abort after it | memcpy(mutated) | memcpy(object) |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    if (n > 4096 && n > (size_t)max_mb << 20) break;
    void *obj = moj_malloc(n);
    if (!obj) { perror("moj_malloc"); return 1; }
    memset(MOJ_W(char, obj), 3, n);
    char *dst = malloc(n);
    memcpy(dst, MOJ_R(char, obj), n); /* dst resident before timing */
    for (size_t u = 0; u < sizeof muts / sizeof *muts; u++) {
      size_t m = muts[u];
      if (m + 7 > n) break;
      int k = reps ? reps : n >= (64u << 20) ? 5 : 101;
      double *w = malloc((size_t)k * sizeof *w), *c = malloc((size_t)k * sizeof *c),
             *a = malloc((size_t)k * sizeof *a), *g = malloc((size_t)k * sizeof *g),
             *mm = malloc((size_t)k * sizeof *mm), *mo = malloc((size_t)k * sizeof *mo);
      for (int r = 0; r < k; r++) {
        big_round(obj, m, 0, 1);
        w[r] = probe->write_us;
        g[r] = (double)probe->rss_kb;
        c[r] = probe->end_us;
        big_round(obj, m, 1, 0);
        a[r] = probe->end_us;
      }
      /* memcpy after the rounds: copying the object in between would leave
       * the rounds with cold caches */
      for (int r = 0; r < k; r++) {
        double t0 = now_us();
        memcpy(dst, MOJ_R(char, obj), m);
        mm[r] = now_us() - t0;
        t0 = now_us();
        if (u == 0) memcpy(dst, MOJ_R(char, obj), n);
        mo[r] = now_us() - t0;
      }
      char label[32], ml[32];
      label_of(label, sizeof label, n);
      if (m == 1) snprintf(ml, sizeof ml, "1 B");
      else label_of(ml, sizeof ml, m);
      printf("| %s | %s | %.2f | %.0f | %.2f | %.2f | %.2f |", label, ml, median(w, k), median(g, k),
             median(c, k), median(a, k), median(mm, k));
      if (u == 0) printf(" %.1f |\n", median(mo, k));
      else printf(" |\n");
      fflush(stdout);
      free(w); free(c); free(a); free(g); free(mm); free(mo);
    }
    free(dst);
    moj_free(obj);
  }
  printf("\nMedians in microseconds; 101 repetitions below 64 MB, 5 above. The abort is timed from\n"
         "spec_abort until spec_enter returns again. RSS growth: resident set after the write\n"
         "minus before the spec_enter (the copy the write made), KB.\n");
  return 0;
}
