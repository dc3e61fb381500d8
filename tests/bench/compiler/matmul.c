/* matmul.c — naive n x n double matrix multiply (i-k-j order) over heap
 * matrices.  Arg: n (1000 for the benchmark). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  double *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b);
  double *c = calloc((size_t)n * n, sizeof *c);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) { a[i * n + j] = (i + j) % 7 - 3; b[i * n + j] = (i * j) % 5 - 2; }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n; k++) {
      double aik = a[i * n + k];
      for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  double tr = 0, s = 0;
  for (int i = 0; i < n; i++) tr += c[i * n + i];
  for (long i = 0; i < (long)n * n; i++) s += c[i];
  printf("trace %.1f sum %.1f\n", tr, s);
  free(a); free(b); free(c);
  return 0;
}
