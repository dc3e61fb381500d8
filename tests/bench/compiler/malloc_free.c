/* malloc_free.c — the allocator's common case alone: malloc/free pairs of
 * small varying sizes (16-64 bytes) with 16 objects live, as in a loop that
 * makes and drops temporaries.  Its Ir ratio is the per-pair cost of the
 * managed allocator against glibc's (issue 11: fewer instructions than
 * glibc's malloc+free).  Arg: number of pairs. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000, check = 0;
  long *live[16] = {0};
  for (long i = 0; i < n; i++) {
    int k = (int)(i & 15);
    if (live[k]) check += live[k][0];
    free(live[k]);
    live[k] = malloc(16 + (size_t)(i % 7) * 8);
    live[k][0] = i & 3;
  }
  for (int k = 0; k < 16; k++) free(live[k]);
  printf("check %ld\n", check);
  return 0;
}
