/* examples/fig5_spec/timing.h — the clock, the median and the command line
 * the Figure 5 programs share (fig5_spec.c, fig5_sizes.c, fig5_large_costs.c). */
#ifndef MOJ_FIG5_TIMING_H
#define MOJ_FIG5_TIMING_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp); return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; }

/* [--max-mb N] [--reps N], and `flag` (NULL: none) setting *on.  0, or 2
 * after printing the usage. */
static int fig5_args(int argc, char **argv, long *max_mb, int *reps, const char *flag, int *on) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--max-mb") && i + 1 < argc) *max_mb = atol(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) *reps = atoi(argv[++i]);
    else if (flag && !strcmp(argv[i], flag)) *on = 1;
    else {
      fprintf(stderr, "usage: %s [--max-mb N] [--reps N]%s%s%s\n", argv[0], flag ? " [" : "", flag ? flag : "",
              flag ? "]" : "");
      return 2;
    }
  }
  return 0;
}
#endif
