/* examples/spec_demo/spec_demo.c — shows what a speculation rolls back: a heap
 * object, a global, a local and printed output.  Built against libmojave's
 * explicit API (MOJ_R/MOJ_W); with mojcc the same program needs no macros. */
#include <mojave.h>
#include <stdio.h>
#include <string.h>

static int balance = 100;            /* a global */

static void show(const char *when, const char *note, int local) {
  printf("  %-16s heap note = \"%s\", global balance = %d, local count = %d\n",
         when, note, balance, local);
}

int main(void) {
  char *note = moj_malloc(64);       /* a managed heap object */
  strcpy(MOJ_W(char, note), "original");
  int count = 1;                     /* a local */

  printf("mojave speculation demo (libmojave %s)\n\n", MOJAVE_VERSION_STRING);
  show("before:", MOJ_R(char, note), count);
  fflush(stdout);

  int id = spec_enter();
  if (id > 0) {
    printf("\n[1] entered speculation %d (level %d); changing everything...\n", id, spec_level());
    strcpy(MOJ_W(char, note), "speculative");
    balance -= 70;
    count = 42;
    show("inside:", MOJ_R(char, note), count);
    printf("  this line is printed inside the speculation and will vanish\n");
    spec_abort_with(id, 7);           /* does not return */
  }
  if (id < 0) {
    printf("\n[1] speculation aborted (spec_enter returned %d, abort code %d)\n", id, -id);
    printf("    its output was dropped; state after rollback:\n");
    show("after abort:", MOJ_R(char, note), count);
  }

  id = spec_enter();
  if (id > 0) {
    printf("\n[2] entered speculation %d; making changes and committing\n", id);
    strcpy(MOJ_W(char, note), "committed");
    balance -= 30;
    count += 1;
    printf("  (this line was held until the commit)\n");
    if (spec_commit(id) != 0) { perror("spec_commit"); return 1; }
    show("after commit:", MOJ_R(char, note), count);
  }

  int ok = strcmp(MOJ_R(char, note), "committed") == 0 && balance == 70 && count == 2;
  printf("\n%s\n", ok ? "demo finished: abort restored, commit kept" : "demo FAILED");
  moj_free(note);
  return ok ? 0 : 1;
}
