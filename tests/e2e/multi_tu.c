/* tests/e2e/multi_tu.c — calls into another mojcc translation unit must pass
 * handles (not raw addresses), so the callee's writes go through the
 * copy-on-write barrier and are rolled back; a pointer the callee stores
 * stays a handle. */
#include <mojave.h>
#include <stdint.h>
#include "check.h"

void lib_fill(int *a, size_t n, int v);
int lib_sum(const int *a, size_t n);
void lib_remember(int *p);
extern int *lib_keep;

int main(void) {
  int *a = malloc(100 * sizeof *a);
  lib_fill(a, 100, 1);
  CHECK(lib_sum(a, 100) == 100, "sum %d", lib_sum(a, 100));
  lib_remember(a);
  CHECK((intptr_t)lib_keep < 0, "stored pointer should be a handle: %p", (void *)lib_keep);

  void (*fill)(int *, size_t, int) = lib_fill;
  int id = spec_enter();
  if (id > 0) {
    fill(a, 100, 3);
    CHECK(lib_sum(a, 100) == 300, "inside %d", lib_sum(a, 100));
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(lib_sum(a, 100) == 100, "after abort %d", lib_sum(a, 100));
  free(a);
  DONE();
}
