/* examples/fig5_spec/timing.h — the clock and the median the Figure 5
 * programs share (fig5_spec.c, fig5_sizes.c). */
#ifndef MOJ_FIG5_TIMING_H
#define MOJ_FIG5_TIMING_H
#include <stdlib.h>
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
#endif
