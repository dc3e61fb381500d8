/* isa_refused.c — a program whose bitcode cannot move to another instruction
 * set (t_isa_ir.sh): what clang lowered for its own ABI is in its IR
 * (passes/MojPortable.cpp names it).  KIND picks the construct:
 *   vararg      a variadic function of its own (va_start/va_arg)
 *   longdouble  long double arithmetic (x87 80-bit on x86-64)
 * It asks moj_migrate(HOST) once, prints what came back, then computes the
 * same thing again: the state it had must be intact wherever it ends up.
 *   isa_refused KIND HOST */
#include <errno.h>
#include <mojave.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long sum(int n, ...) {
  va_list ap;
  va_start(ap, n);
  long s = 0;
  while (n--) s += va_arg(ap, long);
  va_end(ap);
  return s;
}

static volatile long double ld_factor = 3.0L; /* volatile: not folded away at -O2 */
static long double __attribute__((noinline)) scaled(long double x) { return x * ld_factor; }

static long compute(const char *kind, long *heap) {
  if (!strcmp(kind, "vararg")) return sum(3, heap[0], heap[1], heap[2]);
  return (long)scaled((long double)heap[0]);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: isa_refused vararg|longdouble HOST\n"); return 2; }
  long *heap = malloc(3 * sizeof *heap);
  heap[0] = 11, heap[1] = 22, heap[2] = 33;
  long before = compute(argv[1], heap);
  int r = moj_migrate(argv[2], 0);
  if (r == MOJ_MIGRATE_ARRIVED) printf("arrived\n");
  else printf("moj_migrate(%s) returned %d (errno %d: %s)\n", argv[2], r, errno, moj_migrate_error());
  long after = compute(argv[1], heap);
  printf("%s %s: %ld %ld\n", before == after && heap[2] == 33 ? "PASS" : "FAIL", argv[1], before, after);
  return before == after ? 0 : 1;
}
