/* examples/fig5_spec/fig5_sizes.c — the rows beside Figure 5 that follow
 * what issue 10 (items 7 and 8) asks to make flat: speculation entry against
 * the size of the executable's globals, and the cost of a 1-byte write to one
 * large managed object inside a speculation, with the commit and abort after
 * it, against memcpy of the bytes involved.  Prints Markdown tables of
 * medians (microseconds).
 *
 *   fig5_sizes_32k | fig5_sizes_64m  [--max-mb N] [--reps N]
 *
 * The two binaries differ only in a .bss array (MOJ_FIG5_GLOBALS bytes), whose
 * pages are touched first so they are resident, as in a program using them. */
#include <mojave.h>

#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MOJ_FIG5_GLOBALS
#define MOJ_FIG5_GLOBALS (32 * 1024)
#endif

char fig5_globals[MOJ_FIG5_GLOBALS]; /* external: the stores stay */


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
typedef struct { double write_us, end_us; } big_t;
static big_t *probe;               /* libc memory: survives the abort */

static void big_round(void *obj, int do_abort) {
  int id = spec_enter();
  if (id > 0) {
    double t0 = now_us();
    MOJ_W(char, obj)[7] = 1;
    probe->write_us = now_us() - t0;
    double t1 = now_us();
    if (do_abort) { probe->end_us = t1; spec_abort(id); }
    spec_commit(id);
    probe->end_us = now_us() - t1;
    return;
  }
  probe->end_us = now_us() - probe->end_us;
}

int main(int argc, char **argv) {
  long max_mb = 1024;
  int reps = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--max-mb") && i + 1 < argc) max_mb = atol(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else { fprintf(stderr, "usage: %s [--max-mb N] [--reps N]\n", argv[0]); return 2; }
  }
  for (size_t i = 0; i < sizeof fig5_globals; i += 4096) fig5_globals[i] = 1;
  probe = malloc(sizeof *probe);

  printf("| globals (.data+.bss) | spec entry |\n|---:|---:|\n");
  printf("| %zu KB | %.2f |\n\n", sizeof fig5_globals / 1024, entry_median(1001));

  printf("| object | 1-byte write in a speculation | commit after it | abort after it | memcpy(object) |\n");
  printf("|---:|---:|---:|---:|---:|\n");
  const size_t sizes[] = {4096, 1 << 20, 64 << 20, 1024u << 20};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    if (n > 4096 && n > (size_t)max_mb << 20) break;
    void *obj = moj_malloc(n);
    if (!obj) { perror("moj_malloc"); return 1; }
    memset(MOJ_W(char, obj), 3, n);
    int k = reps ? reps : n >= (64u << 20) ? 5 : 101;
    double *w = malloc((size_t)k * sizeof *w), *c = malloc((size_t)k * sizeof *c),
           *a = malloc((size_t)k * sizeof *a), *m = malloc((size_t)k * sizeof *m);
    char *dst = malloc(n);
    for (int r = 0; r < k; r++) {
      big_round(obj, 0);
      w[r] = probe->write_us;
      c[r] = probe->end_us;
      big_round(obj, 1);
      a[r] = probe->end_us;
      double t0 = now_us();
      memcpy(dst, MOJ_R(char, obj), n);
      m[r] = now_us() - t0;
    }
    char label[32];
    if (n >= (1 << 20)) snprintf(label, sizeof label, "%zu MB", n >> 20);
    else snprintf(label, sizeof label, "%zu KiB", n >> 10);
    printf("| %s | %.2f | %.2f | %.2f | %.1f |\n", label, median(w, k), median(c, k), median(a, k),
           median(m, k));
    fflush(stdout);
    free(w); free(c); free(a); free(m); free(dst);
    moj_free(obj);
  }
  printf("\nMedians in microseconds; 101 repetitions below 64 MB, 5 above. The abort is timed from\n"
         "spec_abort until spec_enter returns again.\n");
  return 0;
}
