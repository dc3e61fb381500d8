/* tests/unit/test_cc_text.c — the runtime's table of instrumented code
 * ranges (runtime/cc_support.c) that indirect calls consult: registration
 * is idempotent, unregistration empties a slot for every address, slots are
 * reused, registrations survive spec_abort, and overflowing the table is a
 * clear fatal error.  This binary is built by gcc: it has no moj_text of its
 * own, so only the ranges registered here count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mojave.h>
#include <mojave/cc_abi.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moj_test.h"

static char code[8192]; /* stands in for text sections */
#define AT(i) ((const void *)&code[i])

static void nothing_is_instrumented_by_default(void **st) {
  (void)st;
  assert_false(__moj_cc_is_instrumented(AT(0)));
  assert_false(__moj_cc_is_instrumented((void *)memcpy));
  assert_false(__moj_cc_is_instrumented(NULL));
}

static void register_and_unregister(void **st) {
  (void)st;
  __moj_cc_register_text(AT(100), AT(200));
  assert_false(__moj_cc_is_instrumented(AT(99)));
  assert_true(__moj_cc_is_instrumented(AT(100)));
  assert_true(__moj_cc_is_instrumented(AT(199)));
  assert_false(__moj_cc_is_instrumented(AT(200)));
  __moj_cc_register_text(AT(100), AT(200)); /* again: a no-op ... */
  __moj_cc_unregister_text(AT(100), AT(200)); /* ... so one unregister ends it */
  assert_false(__moj_cc_is_instrumented(AT(150)));
  /* A freed slot holds nothing, above its old start included. */
  assert_false(__moj_cc_is_instrumented(AT(4000)));
  assert_false(__moj_cc_is_instrumented((void *)UINTPTR_MAX));
  __moj_cc_unregister_text(AT(100), AT(200)); /* unknown range: ignored */
  __moj_cc_register_text(AT(300), AT(300));   /* empty ranges are ignored */
  __moj_cc_register_text(AT(301), AT(300));
  assert_false(__moj_cc_is_instrumented(AT(300)));
}

static void slots_are_reused(void **st) {
  (void)st;
  __moj_cc_register_text(AT(1000), AT(1100));
  __moj_cc_register_text(AT(2000), AT(2100));
  __moj_cc_unregister_text(AT(1000), AT(1100));
  __moj_cc_register_text(AT(3000), AT(3100));
  assert_false(__moj_cc_is_instrumented(AT(1050)));
  assert_true(__moj_cc_is_instrumented(AT(2050)));
  assert_true(__moj_cc_is_instrumented(AT(3050)));
  __moj_cc_unregister_text(AT(2000), AT(2100));
  __moj_cc_unregister_text(AT(3000), AT(3100));
  assert_false(__moj_cc_is_instrumented(AT(2050)));
  assert_false(__moj_cc_is_instrumented(AT(3050)));
}

/* dlopen/dlclose are not undone by an abort, so neither is the table. */
static void survives_spec_abort(void **st) {
  (void)st;
  int id = spec_enter();
  if (id > 0) {
    __moj_cc_register_text(AT(5000), AT(5100));
    spec_abort(id);
    fail_msg("spec_abort returned");
  }
  assert_true(id < 0); /* resumed by the abort (locals are rolled back too) */
  assert_true(__moj_cc_is_instrumented(AT(5050)));
  __moj_cc_unregister_text(AT(5000), AT(5100));
}

static void fill_the_table(void) {
  for (int i = 0; i < 300; i++) __moj_cc_register_text(AT(2 * i), AT(2 * i + 1));
}

static void overflow_is_fatal(void **st) {
  (void)st;
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 2);
    fill_the_table();
    _exit(0);
  }
  close(pfd[1]);
  char msg[512];
  ssize_t n = 0, r;
  while ((r = read(pfd[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0) n += r;
  msg[n] = 0;
  close(pfd[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  assert_non_null(strstr(msg, "more than 256 mojcc-built shared objects"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(nothing_is_instrumented_by_default),
    cmocka_unit_test(register_and_unregister),
    cmocka_unit_test(slots_are_reused),
    cmocka_unit_test_teardown(survives_spec_abort, moj_close_levels),
    cmocka_unit_test(overflow_is_fatal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
