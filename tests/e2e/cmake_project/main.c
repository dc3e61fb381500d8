/* Executable half of the CMake probe: speculates over the library's data. */
#include <mojave.h>
#include <stdio.h>
#include <stdlib.h>
int *probe_make(int n);
int main(void) {
  int *a = probe_make(10);
  int id = spec_enter();
  if (id > 0) { a[3] = 99; spec_abort(id); }
  int ok = a[3] == 3;
  printf(ok ? "PASS\n" : "FAIL cmake probe a[3]=%d\n", a[3]);
  free(a);
  return ok ? 0 : 1;
}
