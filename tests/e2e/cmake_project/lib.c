/* Library half of the CMake probe: a function other modules pass handles. */
#include <stdlib.h>
int *probe_make(int n) {
  int *a = malloc(n * sizeof *a);
  for (int i = 0; i < n; i++) a[i] = i;
  return a;
}
