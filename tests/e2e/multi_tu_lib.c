/* tests/e2e/multi_tu_lib.c — second translation unit of multi_tu: functions
 * other mojcc modules call with handles (decided at link time through the
 * __moj_def.* markers), including one reached through a function pointer. */
#include <stddef.h>

void lib_fill(int *a, size_t n, int v) {
  for (size_t i = 0; i < n; i++) a[i] = v;
}

int lib_sum(const int *a, size_t n) {
  int s = 0;
  for (size_t i = 0; i < n; i++) s += a[i];
  return s;
}

int *lib_keep;
void lib_remember(int *p) { lib_keep = p; }
