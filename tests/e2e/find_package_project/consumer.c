/* tests/e2e/find_package_project/consumer.c — the explicit API with plain cc:
 * a managed object and a global changed inside a speculation are restored by
 * spec_abort, then a committed change stays. */
#include <mojave.h>
#include <stdio.h>

static int counter = 1;

int main(void) {
  int *obj = moj_malloc(sizeof *obj);
  *MOJ_W(int, obj) = 7;
  int id = spec_enter();
  if (id > 0) {
    *MOJ_W(int, obj) = 99;
    counter = 2;
    spec_abort(id);
  }
  int aborted_ok = id < 0 && *MOJ_R(int, obj) == 7 && counter == 1;
  id = spec_enter();
  if (id > 0) {
    *MOJ_W(int, obj) = 42;
    spec_commit(id);
  }
  int committed_ok = *MOJ_R(int, obj) == 42;
  if (aborted_ok && committed_ok) {
    printf("PASS consumer (libmojave %s)\n", MOJAVE_VERSION_STRING);
    return 0;
  }
  printf("FAIL consumer obj=%d counter=%d\n", *MOJ_R(int, obj), counter);
  return 1;
}
