/* tests/bench/compiler/icall.c — cost of an indirect call's target test
 * (docs/mojcc.md, "Function pointers"; numbers in docs/performance.md).
 * Not part of run.sh's table.  `icall N` calls the program's own function
 * through a pointer N times with a heap pointer argument (inline path);
 * `icall N x` calls strlen through a dlsym pointer (foreign path).
 *
 *   mojcc -O2 icall.c -o icall && valgrind --tool=callgrind ./icall 1000000 [x]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) static void inc(int *p) { p[0]++; }
static void (*volatile vfp)(int *) = inc;
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  int *p = malloc(sizeof *p);
  *p = 0;
  char *s = malloc(8);
  strcpy(s, "abc");
  if (argc > 2) { /* foreign: strlen through dlsym */
    size_t (*sl)(const char *) = (size_t (*)(const char *))dlsym(RTLD_DEFAULT, "strlen");
    size_t t = 0;
    for (long i = 0; i < n; i++) t += sl(s);
    printf("%zu\n", t);
    return 0;
  }
  void (*f)(int *) = vfp;
  for (long i = 0; i < n; i++) f(p);
  printf("%d\n", *p);
  return 0;
}
