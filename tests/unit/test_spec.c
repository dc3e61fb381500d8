/* tests/unit/test_spec.c — the speculation API: every rule of spec_enter /
 * spec_commit / spec_abort (nesting, abort of later levels, commit leaving later
 * levels running), rollback of heap, globals and locals, and every misuse case. */
#include "moj_test.h"

#include <errno.h>
#include <mojave.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static size_t live(void) { moj_stats_t s; moj_get_stats(&s); return s.live_objects; }

static int g_counter = 5;
static char g_text[32] = "global";

/* Keeps locals in memory so the test checks the stack, not registers. */
static void touch(volatile int *p, int v) { *p = v; }

static void enter_commit_basics(void **st) {
  (void)st;
  assert_int_equal(spec_level(), 0);
  assert_int_equal(spec_current(), 0);
  int id = spec_enter();
  assert_true(id > 0);
  assert_int_equal(spec_level(), 1);
  assert_int_equal(spec_current(), id);
  assert_int_equal(spec_id_at(1), id);
  assert_int_equal(spec_depth_of(id), 1);
  assert_int_equal(spec_commit(id), 0);
  assert_int_equal(spec_level(), 0);
  int id2 = spec_enter();
  assert_true(id2 > id);                                /* ids are never reused */
  assert_int_equal(spec_commit(id2), 0);
}

static void abort_returns_code(void **st) {
  (void)st;
  volatile int rounds = 0;
  int r = spec_enter();
  rounds++;
  if (r > 0) spec_abort(r);
  assert_int_equal(r, -SPEC_ABORT_DEFAULT);
  assert_int_equal(rounds, 1);                          /* the local came back too */
  r = spec_enter();
  if (r > 0) spec_abort_with(r, 1234);
  assert_int_equal(r, -1234);
  assert_int_equal(spec_last_abort_code(), 1234);
  assert_int_equal(spec_level(), 0);
}

static void abort_rolls_back_heap_globals_locals(void **st) {
  (void)st;
  int *obj = moj_malloc(4 * sizeof(int));
  for (int i = 0; i < 4; i++) MOJ_W(int, obj)[i] = i;
  volatile int local = 10;
  size_t objs = live();
  int r = spec_enter();
  if (r > 0) {
    MOJ_W(int, obj)[2] = 99;
    g_counter = 77;
    strcpy(g_text, "changed");
    touch(&local, 11);
    void *extra = moj_malloc(100);                      /* allocated inside: freed */
    MOJ_W(char, extra)[0] = 1;
    assert_int_equal(live(), objs + 1);
    spec_abort(r);
  }
  assert_int_equal(MOJ_R(int, obj)[2], 2);
  assert_int_equal(g_counter, 5);
  assert_string_equal(g_text, "global");
  assert_int_equal(local, 10);
  assert_int_equal(live(), objs);
  moj_free(obj);
}

static void commit_keeps_changes(void **st) {
  (void)st;
  int *obj = moj_malloc(sizeof(int));
  *MOJ_W(int, obj) = 1;
  int r = spec_enter();
  assert_true(r > 0);
  *MOJ_W(int, obj) = 2;
  g_counter = 8;
  int *made = moj_malloc(sizeof(int));
  *MOJ_W(int, made) = 3;
  assert_int_equal(spec_commit(r), 0);
  assert_int_equal(*MOJ_R(int, obj), 2);
  assert_int_equal(*MOJ_R(int, made), 3);
  assert_int_equal(g_counter, 8);
  *MOJ_W(int, obj) = 4;                                 /* writable again at level 0 */
  g_counter = 5;
  moj_free(obj);
  moj_free(made);
}

static void free_and_realloc_are_undone(void **st) {
  (void)st;
  char *a = moj_malloc(8), *b = moj_malloc(8);
  strcpy(MOJ_W(char, a), "aaaa");
  strcpy(MOJ_W(char, b), "bbbb");
  size_t objs = live();
  int r = spec_enter();
  if (r > 0) {
    moj_free(a);
    assert_ptr_equal(moj_realloc(b, 4096), b);
    strcpy(MOJ_W(char, b) + 4000, "far");
    spec_abort(r);
  }
  assert_string_equal(MOJ_R(char, a), "aaaa");
  assert_string_equal(MOJ_R(char, b), "bbbb");
  assert_int_equal(moj_usable_size(b), 8);
  assert_int_equal(live(), objs);
  r = spec_enter();
  moj_free(a);                                          /* now commit the free */
  assert_int_equal(spec_commit(r), 0);
  assert_int_equal(live(), objs - 1);
  moj_free(b);
}

static void abort_outer_aborts_inner(void **st) {
  (void)st;
  int *x = moj_malloc(sizeof(int));
  *MOJ_W(int, x) = 0;
  /* raw memory, not rolled back; volatile, or the compiler keeps it in a
   * register and never allocates it (clang does on aarch64) */
  volatile int *inner_id = malloc(sizeof *inner_id);
  *inner_id = 0;
  int a = spec_enter();
  if (a > 0) {
    *MOJ_W(int, x) = 1;
    int b = spec_enter();
    assert_true(b > a);
    *inner_id = b;
    *MOJ_W(int, x) = 2;
    g_counter = 100;
    assert_int_equal(spec_level(), 2);
    spec_abort(a);                                      /* aborts b too */
  }
  assert_true(a < 0);
  assert_int_equal(spec_level(), 0);
  assert_int_equal(*MOJ_R(int, x), 0);
  assert_int_equal(g_counter, 5);
  assert_true(*inner_id > 0);
  errno = 0;
  assert_int_equal(spec_commit(*inner_id), -1);        /* b ended with a */
  assert_int_equal(errno, ESRCH);
  free((void *)inner_id);
  moj_free(x);
}

static void commit_outer_leaves_inner_running(void **st) {
  (void)st;
  int *x = moj_malloc(sizeof(int));
  *MOJ_W(int, x) = 0;
  volatile int phase = 0;
  int a = spec_enter();
  assert_true(a > 0);
  *MOJ_W(int, x) = 1;                                   /* a's change */
  g_counter = 6;
  int b = spec_enter();
  if (b > 0) {
    *MOJ_W(int, x) = 2;                                 /* b's change */
    g_counter = 7;
    assert_int_equal(spec_commit(a), 0);                /* a commits; b still active */
    assert_int_equal(spec_level(), 1);
    assert_int_equal(spec_current(), b);
    assert_int_equal(spec_depth_of(b), 1);
    touch(&phase, 1);
    spec_abort(b);                                      /* back to before b's entry */
  }
  assert_true(b < 0);
  assert_int_equal(phase, 0);
  assert_int_equal(spec_level(), 0);
  assert_int_equal(*MOJ_R(int, x), 1);                  /* a's change survived */
  assert_int_equal(g_counter, 6);
  g_counter = 5;
  moj_free(x);
}

static void commit_inner_then_abort_outer(void **st) {
  (void)st;
  int *x = moj_malloc(sizeof(int));
  *MOJ_W(int, x) = 0;
  int a = spec_enter();
  if (a > 0) {
    int b = spec_enter();
    *MOJ_W(int, x) = 5;
    void *y = moj_malloc(64);
    MOJ_W(char, y)[0] = 1;
    assert_int_equal(spec_commit(b), 0);                /* merged into a */
    assert_int_equal(*MOJ_R(int, x), 5);
    spec_abort(a);
  }
  assert_int_equal(*MOJ_R(int, x), 0);
  moj_free(x);
}

static void middle_commit_keeps_older_prestate(void **st) {
  (void)st;
  /* a writes x, b writes x, c writes x; commit b; abort c -> b's value;
   * then abort a -> the original. */
  int *x = moj_malloc(sizeof(int));
  *MOJ_W(int, x) = 10;
  volatile int stage = 0;
  int a = spec_enter();
  if (a < 0) {
    assert_int_equal(*MOJ_R(int, x), 10);
    assert_int_equal(stage, 0);
    moj_free(x);
    return;
  }
  *MOJ_W(int, x) = 11;
  int b = spec_enter();
  *MOJ_W(int, x) = 12;
  int c = spec_enter();
  if (c > 0) {
    *MOJ_W(int, x) = 13;
    assert_int_equal(spec_commit(b), 0);
    assert_int_equal(spec_level(), 2);
    spec_abort(c);
  }
  assert_int_equal(*MOJ_R(int, x), 12);
  assert_int_equal(spec_level(), 1);
  touch(&stage, 1);
  spec_abort(a);
}

static void misuse_errors(void **st) {
  (void)st;
  errno = 0;
  assert_int_equal(spec_commit(0), -1);
  assert_int_equal(errno, EINVAL);
  assert_int_equal(spec_abort(-4), -1);
  assert_int_equal(errno, EINVAL);
  assert_int_equal(spec_commit(987654), -1);
  assert_int_equal(errno, ESRCH);
  int id = spec_enter();
  assert_int_equal(spec_abort_with(id, 0), -1);         /* code out of range */
  assert_int_equal(errno, EINVAL);
  assert_int_equal(spec_abort_with(id, -3), -1);
  assert_int_equal(spec_level(), 1);                    /* nothing happened */
  assert_int_equal(spec_commit(id), 0);
  assert_int_equal(spec_commit(id), -1);                /* already ended */
  assert_int_equal(errno, ESRCH);
  assert_int_equal(spec_abort(id), -1);
  assert_int_equal(errno, ESRCH);
}

static void nesting_limit(void **st) {
  (void)st;
  int ids[SPEC_MAX_LEVELS];
  for (int i = 0; i < SPEC_MAX_LEVELS; i++) {
    ids[i] = spec_enter();
    assert_true(ids[i] > 0);
  }
  errno = 0;
  assert_int_equal(spec_enter(), 0);
  assert_int_equal(errno, EOVERFLOW);
  assert_int_equal(spec_level(), SPEC_MAX_LEVELS);      /* state intact */
  for (int i = SPEC_MAX_LEVELS - 1; i >= 0; i--) assert_int_equal(spec_commit(ids[i]), 0);
  assert_int_equal(spec_level(), 0);
}

static void *idle(void *arg) {
  pthread_mutex_lock(arg);
  pthread_mutex_unlock(arg);
  return NULL;
}

static void threads_are_refused(void **st) {
  (void)st;
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&m);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, idle, &m), 0);
  errno = 0;
  assert_int_equal(spec_enter(), 0);                    /* another thread is running */
  assert_int_equal(errno, ENOTSUP);
  pthread_mutex_unlock(&m);
  pthread_join(t, NULL);
  int id = spec_enter();
  assert_true(id > 0);
  assert_int_equal(pthread_create(&t, NULL, idle, &m), EAGAIN); /* none while speculating */
  assert_int_equal(spec_commit(id), 0);
}

static void *threaded_allocs(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    int *p = moj_malloc(16);
    *MOJ_W(int, p) = i;
    if (*MOJ_R(int, p) != i) return (void *)1;
    moj_free(p);
  }
  return NULL;
}

static void allocator_is_thread_safe(void **st) {
  (void)st;
  size_t before = live();
  pthread_t t[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, threaded_allocs, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
  assert_int_equal(live(), before);
}

static __attribute__((noinline)) int enter_elsewhere(void) {
  int r = spec_enter();
  return r;
}

static void abort_from_a_returned_frame(void **st) {
  (void)st;
  /* The function that entered has returned; aborting still resumes inside it. */
  volatile int resumed = 0;
  int r = enter_elsewhere();
  if (r > 0) {
    touch(&resumed, 1);
    spec_abort(r);
  }
  assert_true(r < 0);
  assert_int_equal(resumed, 0);
}

/* exit() inside a speculation (issue 10, item 2): the levels are committed
 * before the atexit handlers run; an abort of one of them from a handler is
 * refused with ECANCELED; a level entered in the handler works as usual.  The
 * child reports what its atexit handler saw through a pipe. */
static int exit_pipe = -1;
static int exit_level_id;
static int g_exit_state = 1;

static void report_at_exit(void) {
  char msg[128];
  int lvl = spec_level();
  errno = 0;
  int r = spec_abort(exit_level_id);            /* must not resume the program */
  int e = errno;
  int fresh = spec_enter(), again = 0;
  if (fresh > 0) { g_exit_state = 9; spec_abort(fresh); }
  if (fresh < 0) again = g_exit_state;           /* the abort inside the handler works */
  int n = snprintf(msg, sizeof msg, "level=%d abort=%d errno=%d g=%d inner=%d", lvl, r, e,
                   g_exit_state, again);
  if (write(exit_pipe, msg, (size_t)n) < 0) _exit(3);
}

static void exit_child(int via_return) {
  atexit(report_at_exit);
  int id = spec_enter();
  if (id < 0) { dprintf(exit_pipe, "resumed after exit"); _exit(4); }
  exit_level_id = id;
  g_exit_state = 2;
  if (via_return) return;                        /* main returns inside the level */
  exit(0);
}

static void run_exit_child(int via_return) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    exit_pipe = p[1];
    if (!via_return) exit_child(0);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    moj_exec_self((char *[]){"test_spec", "--return-in-speculation", fd, NULL});
    _exit(5);
  }
  char buf[256];
  int status = moj_collect_child(pid, p, buf, sizeof buf);
  char want[128];
  snprintf(want, sizeof want, "level=0 abort=-1 errno=%d g=2 inner=2", ECANCELED);
  assert_string_equal(buf, want);
  assert_true(WIFEXITED(status));
}

static void exit_commits_before_atexit(void **st) { (void)st; run_exit_child(0); }
static void return_from_main_commits_before_atexit(void **st) { (void)st; run_exit_child(1); }

/* spec_enter on another stack (issue 10, item 5): a sigaltstack and a
 * makecontext coroutine are supported (their own live range is saved); a
 * stack the runtime cannot bound fails with EFAULT.  Never a hang. */
static int g_alt = 1;
static volatile int alt_result;

static void alt_handler(int sig) {
  (void)sig;
  volatile int local = 5;
  int id = spec_enter();
  if (id > 0) {
    g_alt = 2;
    local = 6;
    spec_abort(id);
  }
  alt_result = (id < 0 && g_alt == 1 && local == 5) ? 1 : -1;
  id = spec_enter();
  if (id > 0) { g_alt = 3; spec_commit(id); }
}

static void enter_on_sigaltstack(void **st) {
  (void)st;
  stack_t ss = {.ss_sp = malloc(256 * 1024), .ss_size = 256 * 1024, .ss_flags = 0}, old;
  assert_int_equal(sigaltstack(&ss, &old), 0);
  struct sigaction a, o;
  memset(&a, 0, sizeof a);
  a.sa_handler = alt_handler;
  a.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR2, &a, &o);
  alt_result = 0;
  raise(SIGUSR2);
  assert_int_equal(alt_result, 1);
  assert_int_equal(g_alt, 3);
  sigaction(SIGUSR2, &o, NULL);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  free(ss.ss_sp);
}

/* The contexts live in libc memory: an abort must not roll them back (the
 * main context saved at the second switch is the one to return to). */
static ucontext_t *co_main, *co_ctx;
static int *co_result;

static void coroutine(void) {
  volatile int local = 1;
  int id = spec_enter();
  if (id > 0) {
    local = 2;
    g_alt = 20;
    swapcontext(co_ctx, co_main);              /* yield inside the level */
    spec_abort(id);
  }
  *co_result = (id < 0 && local == 1 && g_alt == 10) ? 1 : -1;
}

static void enter_on_makecontext_stack(void **st) {
  (void)st;
  g_alt = 10;
  moj_coroutine_t co = moj_coroutine(256 * 1024, coroutine);
  co_main = co.main;
  co_ctx = co.ctx;
  co_result = malloc(sizeof *co_result);
  *co_result = 0;
  swapcontext(co_main, co_ctx);                /* runs until the yield */
  assert_int_equal(spec_level(), 1);
  swapcontext(co_main, co_ctx);                /* aborts, then finishes */
  assert_int_equal(*co_result, 1);
  assert_int_equal(spec_level(), 0);
  moj_coroutine_free(co);
  free(co_result);
}

#if !defined(__SANITIZE_ADDRESS__)  /* the test below does not run under ASan (main) */
/* A hand-made stack: switch the stack pointer and call fn there. */
static int call_on_stack(void *top, int (*fn)(void)) {
#if defined(__x86_64__)
  int r;
  __asm__ volatile("mov %%rsp, %%rbx\n\t"
                   "mov %1, %%rsp\n\t"
                   "call *%2\n\t"
                   "mov %%rbx, %%rsp"
                   : "=a"(r)
                   : "r"(top), "r"(fn)
                   : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
  return r;
#elif defined(__aarch64__)
  register long r __asm__("x0");
  __asm__ volatile("mov x19, sp\n\t"
                   "mov sp, %1\n\t"
                   "blr %2\n\t"
                   "mov sp, x19"
                   : "=r"(r)
                   : "r"(top), "r"(fn)
                   : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                     "x14", "x15", "x16", "x17", "x18", "x19", "x30", "v0", "v1", "v2", "v3", "v4", "v5",
                     "v6", "v7", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",
                     "v26", "v27", "v28", "v29", "v30", "v31", "memory", "cc");
  return (int)r;
#else
#error "call_on_stack: no stack switch for this instruction set"
#endif
}

static int errno_after_enter;
static int enter_here(void) {
  errno = 0;
  int id = spec_enter();
  errno_after_enter = errno;
  if (id > 0) spec_commit(id);
  return id;
}

static void enter_on_unknown_stack_fails(void **st) {
  (void)st;
  size_t n = 256 * 1024;
  char *stack = malloc(n);
  int r = call_on_stack((void *)(((uintptr_t)stack + n - 64) & ~(uintptr_t)15), enter_here);
  assert_int_equal(r, 0);
  assert_int_equal(errno_after_enter, EFAULT);
  assert_int_equal(spec_level(), 0);
  free(stack);
}
#endif

/* errno is restored by an abort to its value at spec_enter (issue 10, item 9). */
static void abort_restores_errno(void **st) {
  (void)st;
  errno = 42;
  int id = spec_enter();
  if (id > 0) {
    errno = 7;
    spec_abort(id);
  }
  assert_int_equal(errno, 42);
}

/* Resident memory now, in KiB (/proc/self/statm counts pages). */
static long rss_kib(void) {
  long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
  fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void temporaries_round(void) {
  int id = spec_enter();
  for (int k = 0; k < 16; k++) {
    void *t = moj_malloc((size_t)16 << (k % 8));
    MOJ_W(char, t)[0] = 1;
    moj_free(t);
  }
  spec_commit(id);
}

/* Committed speculations that allocate and free temporaries must not make
 * the process grow round after round (their empty pages used to pile up in
 * the default heap, which never allocates while speculating). */
static void committed_temporaries_do_not_accumulate(void **st) {
  (void)st;
  for (int r = 0; r < 2000; r++) temporaries_round();
  long before = rss_kib();
  for (int r = 0; r < 20000; r++) temporaries_round();
  long grown = rss_kib() - before;
  if (grown > 8 * 1024) fail_msg("20000 committed rounds grew the process by %ld KiB", grown);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--return-in-speculation")) {
    exit_pipe = atoi(argv[2]);
    exit_child(1);
    return 0;
  }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(enter_commit_basics, moj_close_levels),
    cmocka_unit_test_teardown(abort_returns_code, moj_close_levels),
    cmocka_unit_test_teardown(abort_rolls_back_heap_globals_locals, moj_close_levels),
    cmocka_unit_test_teardown(commit_keeps_changes, moj_close_levels),
    cmocka_unit_test_teardown(free_and_realloc_are_undone, moj_close_levels),
    cmocka_unit_test_teardown(abort_outer_aborts_inner, moj_close_levels),
    cmocka_unit_test_teardown(commit_outer_leaves_inner_running, moj_close_levels),
    cmocka_unit_test_teardown(commit_inner_then_abort_outer, moj_close_levels),
    cmocka_unit_test_teardown(middle_commit_keeps_older_prestate, moj_close_levels),
    cmocka_unit_test_teardown(misuse_errors, moj_close_levels),
    cmocka_unit_test_teardown(nesting_limit, moj_close_levels),
    cmocka_unit_test_teardown(threads_are_refused, moj_close_levels),
    cmocka_unit_test_teardown(allocator_is_thread_safe, moj_close_levels),
    cmocka_unit_test_teardown(abort_from_a_returned_frame, moj_close_levels),
    cmocka_unit_test_teardown(exit_commits_before_atexit, moj_close_levels),
    cmocka_unit_test_teardown(return_from_main_commits_before_atexit, moj_close_levels),
    cmocka_unit_test_teardown(abort_restores_errno, moj_close_levels),
    cmocka_unit_test_teardown(committed_temporaries_do_not_accumulate, moj_close_levels),
    cmocka_unit_test_teardown(enter_on_sigaltstack, moj_close_levels),
#if !defined(__SANITIZE_ADDRESS__)  /* ASan cannot follow a hand-made stack switch */
    /* before the makecontext test: its freed stack stays a known stack range */
    cmocka_unit_test_teardown(enter_on_unknown_stack_fails, moj_close_levels),
#endif
    cmocka_unit_test_teardown(enter_on_makecontext_stack, moj_close_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
