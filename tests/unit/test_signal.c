/* tests/unit/test_signal.c — runtime/signal.c: handlers that abort or write
 * heap objects while a speculation runs (deferred out of runtime slow paths),
 * the signal mask after an abort, and the program's view of its dispositions.
 * The randomized timer test is tests/e2e/sig_stress.h, shared with the mojcc
 * e2e program; here it runs through MOJ_W (and under ASan in build-asan). */
#include "moj_test.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "../e2e/sig_stress.h"

static void randomized_timer_aborts(void **st) {
  (void)st;
  unsigned rounds = 10000;
  const char *e = getenv("MOJ_SIG_ROUNDS");
  if (e && *e) rounds = (unsigned)atoi(e);
  assert_int_equal(ss_run(rounds, 20261129), 0);
  assert_true(ss_m->aborts > 0 && ss_m->commits > 0);
}

static void on_usr1(int sig) { (void)sig; }

/* The program sees its own handler, not the runtime's trampoline. */
static void sigaction_reports_program_handler(void **st) {
  (void)st;
  struct sigaction a, o;
  memset(&a, 0, sizeof a);
  a.sa_handler = on_usr1;
  a.sa_flags = SA_RESTART;
  assert_int_equal(sigaction(SIGUSR1, &a, NULL), 0);
  assert_int_equal(sigaction(SIGUSR1, NULL, &o), 0);
  assert_ptr_equal(o.sa_handler, on_usr1);
  assert_false(o.sa_flags & SA_SIGINFO);
  assert_ptr_equal(signal(SIGUSR1, SIG_DFL), on_usr1);
  assert_ptr_equal(signal(SIGUSR1, SIG_IGN), SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
}

static volatile int usr1_abort_id;
static void abort_on_usr1(int sig) { (void)sig; if (usr1_abort_id) spec_abort(usr1_abort_id); }

static void abort_on_usr1_after_mask_change(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGHUP);
  sigprocmask(SIG_BLOCK, &s, NULL);          /* a mask change inside the handler */
  abort_on_usr1(sig);
}

static int blocked(int sig) {
  sigset_t s;
  sigprocmask(SIG_BLOCK, NULL, &s);
  return sigismember(&s, sig);
}

/* An abort from a handler installed without SA_NODEFER does not leave the
 * signal (or the handler's sa_mask) blocked; a mask changed inside the level
 * comes back too. */
static void abort_restores_mask(void **st) {
  (void)st;
  struct sigaction a;
  memset(&a, 0, sizeof a);
  a.sa_handler = abort_on_usr1;
  sigaddset(&a.sa_mask, SIGUSR2);
  assert_int_equal(sigaction(SIGUSR1, &a, NULL), 0);
  usr1_abort_id = 0;
  int id = spec_enter();
  if (id > 0) {
    usr1_abort_id = id;
    raise(SIGUSR1);
    fail_msg("the handler did not abort");
  }
  assert_int_equal(id, -SPEC_ABORT_DEFAULT);
  assert_false(blocked(SIGUSR1));
  assert_false(blocked(SIGUSR2));

  id = spec_enter();
  if (id > 0) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, NULL);
    int inner = spec_enter();
    if (inner > 0) {
      sigaddset(&s, SIGHUP);
      sigprocmask(SIG_BLOCK, &s, NULL);
      assert_int_equal(spec_commit(inner), 0);
    }
    assert_true(blocked(SIGUSR2) && blocked(SIGHUP));
    spec_abort(id);
  }
  assert_false(blocked(SIGUSR2));
  assert_false(blocked(SIGHUP));

  a.sa_handler = abort_on_usr1_after_mask_change;
  assert_int_equal(sigaction(SIGUSR1, &a, NULL), 0);
  usr1_abort_id = 0;
  id = spec_enter();
  if (id > 0) {
    usr1_abort_id = id;
    raise(SIGUSR1);
    fail_msg("the handler did not abort");
  }
  assert_false(blocked(SIGUSR1));              /* not the handler's mask */
  assert_false(blocked(SIGUSR2));
  assert_false(blocked(SIGHUP));
  signal(SIGUSR1, SIG_DFL);
}

static int *hcount;
static void bump(int sig) { (void)sig; MOJ_W(int, hcount)[0]++; }

/* A handler writing a heap int while the program is in the middle of
 * copy-on-write and allocation inside a speculation (1b), signals raised
 * synchronously from inside the slow path's callers. */
static void handler_heap_write_during_slow_paths(void **st) {
  (void)st;
  hcount = moj_malloc(sizeof(int));
  MOJ_W(int, hcount)[0] = 0;
  signal(SIGUSR1, bump);
  void *objs[64];
  for (int i = 0; i < 64; i++) objs[i] = moj_calloc(1, 256);
  int id = spec_enter();
  assert_true(id > 0);
  for (int i = 0; i < 64; i++) {
    MOJ_W(char, objs[i])[i] = 1;           /* copy-on-write */
    raise(SIGUSR1);
    void *t = moj_malloc(32);
    MOJ_W(char, t)[0] = 2;
    moj_free(t);
  }
  assert_int_equal(spec_commit(id), 0);
  assert_int_equal(MOJ_R(int, hcount)[0], 64);
  for (int i = 0; i < 64; i++) moj_free(objs[i]);
  moj_free(hcount);
  signal(SIGUSR1, SIG_DFL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(sigaction_reports_program_handler, moj_close_levels),
    cmocka_unit_test_teardown(abort_restores_mask, moj_close_levels),
    cmocka_unit_test_teardown(handler_heap_write_during_slow_paths, moj_close_levels),
    cmocka_unit_test_teardown(randomized_timer_aborts, moj_close_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
