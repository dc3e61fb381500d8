/* tests/e2e/spec_state.c — globals, locals (scalars and arrays on the stack)
 * and output are rolled back by spec_abort; output written inside a
 * committed speculation appears after commit.  A line containing FAIL that
 * leaks from an aborted speculation fails the ctest on its own. */
#include <mojave.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

int counter = 7;
static char gname[32] = "global";
static int *gptr;

int main(void) {
  int local = 1;
  int arr[64];
  for (int i = 0; i < 64; i++) arr[i] = i;
  gptr = malloc(4 * sizeof *gptr);
  gptr[2] = 42;
  fflush(stdout);

  int id = spec_enter();
  if (id > 0) {
    counter = 100;
    strcpy(gname, "changed");
    local = 2;
    for (int i = 0; i < 64; i++) arr[i] = -1;
    gptr[2] = -42;
    printf("FAIL: output of an aborted speculation leaked\n");
    fflush(stdout);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(id < 0, "not aborted (%d)", id);
  CHECK(counter == 7, "global %d", counter);
  CHECK(strcmp(gname, "global") == 0, "global array '%s'", gname);
  CHECK(local == 1, "local %d", local);
  int ok = 1;
  for (int i = 0; i < 64; i++) ok &= arr[i] == i;
  CHECK(ok, "stack array not restored");
  CHECK(gptr[2] == 42, "heap via global pointer %d", gptr[2]);

  id = spec_enter();
  printf("committed output\n");
  fflush(stdout);
  counter = 8;
  CHECK(spec_commit(id) == 0, "commit");
  CHECK(counter == 8, "global after commit %d", counter);
  free(gptr);
  DONE();
}
