/* isa_lowering.c — what clang lowered for the source's ABI, moved to another
 * instruction set in IR mode (t_isa_ir.sh; passes/MojPortable.cpp and
 * MojVarargs.cpp).  KIND picks the construct:
 *   vararg      variadic functions of its own: ints, longs, doubles and
 *               strings past the registers of either ABI, va_copy, a
 *               va_list handed to another function, a call through a
 *               pointer (x86-64's are converted; aarch64's are refused)
 *   longdouble  long double arithmetic (x87 80-bit on x86-64): refused
 *               (built with -DWITH_LONGDOUBLE)
 *   vprintf     a va_list handed to the C library (vsnprintf): refused
 *               (built with -DWITH_VPRINTF)
 * A refusal is the whole program's, so each refused construct is built in
 * only when asked for.
 * It computes, moves along HOPS ("h2" or "h2,h1"; moj_migrate, default
 * mode), printing what came back after each hop, and computes again: the
 * results must agree wherever it ends up.
 *   isa_lowering KIND HOPS */
#include <errno.h>
#include <mojave.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double mix(const char *fmt, ...) {
  va_list ap, aq;
  va_start(ap, fmt);
  va_copy(aq, ap);
  double s = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p == 'i') s += va_arg(ap, int);
    else if (*p == 'l') s += (double)va_arg(ap, long);
    else if (*p == 'd') s += va_arg(ap, double) * 10;
    else if (*p == 's') s += (double)strlen(va_arg(ap, const char *)) * 100;
  }
  va_end(ap);
  int first = *fmt == 'i' ? va_arg(aq, int) : -1;
  va_end(aq);
  return s * 1000 + first;
}
static long vsum(int n, va_list ap) { long s = 0; while (n--) s += va_arg(ap, long); return s; }
static long lsum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  long s = vsum(n, ap);
  va_end(ap);
  return s;
}
double (*volatile mix_ptr)(const char *, ...) = mix;

#ifdef WITH_LONGDOUBLE
static volatile long double ld_factor = 3.0L; /* volatile: not folded away at -O2 */
static long double __attribute__((noinline)) scaled(long double x) { return x * ld_factor; }
#endif

#ifdef WITH_VPRINTF
static int formatted(char *out, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(out, n, fmt, ap);
  va_end(ap);
  return r;
}
#endif

static double compute(const char *kind, long *heap) {
  if (!strcmp(kind, "vararg")) {
    int k = (int)heap[0];
    return mix("iidls", 1, 2, 0.5, 7L, "abc") + mix_ptr("sdsdi", "x", 1.5, "yy", 2.5, k) +
           mix("iiiiiiiiiddddddddddd", 1, 2, 3, 4, 5, 6, 7, 8, k, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0,
               10.0, 0.25) +
           (double)lsum(9, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, heap[1]);
  }
#ifdef WITH_LONGDOUBLE
  if (!strcmp(kind, "longdouble")) return (double)scaled((long double)heap[0]);
#endif
#ifdef WITH_VPRINTF
  char b[64];
  if (!strcmp(kind, "vprintf")) return formatted(b, sizeof b, "%ld-%ld", heap[0], heap[1]);
#endif
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: isa_lowering vararg|longdouble|vprintf HOPS\n"); return 2; }
  long *heap = malloc(3 * sizeof *heap);
  heap[0] = 11, heap[1] = 22, heap[2] = 33;
  double before = compute(argv[1], heap);
  char hops[256];
  snprintf(hops, sizeof hops, "%s", argv[2]);
  int ok = 1;
  for (char *save, *h = strtok_r(hops, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
    int r = moj_migrate(h, 0);
    if (r == MOJ_MIGRATE_ARRIVED) printf("arrived at %s\n", h);
    else printf("moj_migrate(%s) returned %d (errno %d: %s)\n", h, r, errno, moj_migrate_error());
    double again = compute(argv[1], heap);
    ok &= again == before && heap[2] == 33;
    printf("%s %s: %.1f %.1f\n", again == before ? "same" : "DIFFERENT", argv[1], before, again);
  }
  printf("%s %s\n", ok ? "PASS" : "FAIL", argv[1]);
  return !ok;
}
