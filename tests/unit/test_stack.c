/* tests/unit/test_stack.c — the live stack under speculation (issue 10,
 * item 7): with ~1 MB of caller frames, levels write into caller frames at
 * every depth (plain stores, a system call, a signal handler, a forked child),
 * nest, commit and abort at random, and every abort must give back exactly
 * the frames as they were at that level's entry; and entry must not copy the
 * whole live stack each time (the frames above a margin are saved lazily,
 * runtime/stack_lazy.c). */
#include "moj_test.h"

#include "internal.h"

#include <alloca.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define FRAMES 400           /* caller frames, FRAME_BUF bytes of locals each: ~1 MB */
#define FRAME_BUF 2560
#define MAX_NEST 5

/* Set before any level and never changed inside one (globals roll back). */
static char *frame_buf[FRAMES];
/* State that must survive aborts lives in libc memory. */
typedef struct {
  unsigned long rng;
  char *snap[MAX_NEST + 1];  /* frame buffers at each nesting level's entry */
  int   ids[MAX_NEST + 1];
  long  aborts_checked, rounds, syscalls, signals;
  int   pipe[2];
  int   sig_frame;
} state_t;
static state_t *S;

static unsigned rnd(unsigned n) {
  S->rng = S->rng * 6364136223846793005ul + 1442695040888963407ul;
  return (unsigned)(S->rng >> 33) % n;
}

static void snapshot(char *to) {
  for (int f = 0; f < FRAMES; f++) memcpy(to + (size_t)f * FRAME_BUF, frame_buf[f], FRAME_BUF);
}

static void check_frames(const char *want, const char *what) {
  for (int f = 0; f < FRAMES; f++)
    if (memcmp(want + (size_t)f * FRAME_BUF, frame_buf[f], FRAME_BUF) != 0)
      fail_msg("%s: frame %d of %d differs from its content at the level's entry", what, f, FRAMES);
}

static void scribble(int f) {
  size_t off = rnd(FRAME_BUF - 64), n = 1 + rnd(64);
  for (size_t i = 0; i < n; i++) frame_buf[f][off + i] = (char)rnd(256);
}

static void on_usr1(int sig) {
  (void)sig;
  scribble(S->sig_frame);          /* a handler writing into a caller frame */
  S->signals++;
}

/* Random writes into caller frames at any depth: stores, read(2) (the
 * kernel writes), a signal handler. */
static void mutate(void) {
  if (rnd(20) == 0)                /* now and then every frame: hundreds of saved pages */
    for (int f = 0; f < FRAMES; f++) scribble(f);
  int n = 1 + (int)rnd(12);
  for (int i = 0; i < n; i++) {
    int f = rnd(4) == 0 ? (int)rnd(8) : (int)rnd(FRAMES);   /* often the oldest frames */
    switch (rnd(6)) {
    case 0: {
      char msg[32];
      int len = 1 + (int)rnd(31);
      for (int j = 0; j < len; j++) msg[j] = (char)rnd(256);
      assert_int_equal(write(S->pipe[1], msg, (size_t)len), len);
      assert_int_equal(read(S->pipe[0], frame_buf[f] + rnd(FRAME_BUF - 32), (size_t)len), len);
      S->syscalls++;
      break;
    }
    case 1:
      S->sig_frame = f;
      raise(SIGUSR1);
      break;
    default:
      scribble(f);
    }
  }
}

/* One level at nesting `nest`, entered `extra` bytes below its caller (so
 * nested levels have different margins); returns after it committed. */
static void level(int nest) {
  volatile char *pad = alloca(rnd(3) == 0 ? 1 + rnd(96 * 1024) : 1);
  pad[0] = 1;
  int id = spec_enter();
  if (id < 0) {                    /* aborted back to this level's entry */
    check_frames(S->snap[nest], "abort");
    S->aborts_checked++;
    return;
  }
  assert_true(id > 0);
  S->ids[nest] = id;
  snapshot(S->snap[nest]);
  mutate();
  for (int c = 0; c < 3 && nest < MAX_NEST && rnd(2); c++) {   /* 0-3 nested levels in turn */
    level(nest + 1);
    mutate();
  }
  unsigned r = rnd(10);
  if (r < 4) {
    spec_abort(id);
  } else if (r < 5 && nest > 0) {
    spec_abort(S->ids[rnd((unsigned)nest)]);          /* an older level */
  } else {
    assert_int_equal(spec_commit(id), 0);
  }
}

static void random_rounds(long rounds) {
  for (long r = 0; r < rounds; r++) {
    level(0);
    assert_int_equal(spec_level(), 0);
    S->rounds++;
  }
}

/* Recurse FRAMES deep, each frame with FRAME_BUF bytes of locals, then run fn. */
static void descend(int f, void (*fn)(long), long arg) {
  char buf[FRAME_BUF];
  for (int i = 0; i < FRAME_BUF; i++) buf[i] = (char)(f * 7 + i);
  frame_buf[f] = buf;
  if (f + 1 < FRAMES) descend(f + 1, fn, arg);
  else fn(arg);
  __asm__ volatile("" ::"r"(buf) : "memory");     /* the frame stays live */
}

static void run_random(long rounds) { random_rounds(rounds); }

static void setup_state(void) {
  S = calloc(1, sizeof *S);
  S->rng = 20261130;
  for (int i = 0; i <= MAX_NEST; i++) S->snap[i] = malloc((size_t)FRAMES * FRAME_BUF);
  assert_int_equal(pipe(S->pipe), 0);
  struct sigaction a;
  memset(&a, 0, sizeof a);
  a.sa_handler = on_usr1;
  sigaction(SIGUSR1, &a, NULL);
}

static void teardown_state(void) {
  close(S->pipe[0]);
  close(S->pipe[1]);
  for (int i = 0; i <= MAX_NEST; i++) free(S->snap[i]);
  free(S);
  S = NULL;
}

static void deep_stack_random_levels(void **st) {
  (void)st;
  setup_state();
  long rounds = getenv("MOJ_STACK_ROUNDS") ? atol(getenv("MOJ_STACK_ROUNDS")) : 1500;
  descend(0, run_random, rounds);
  print_message("%ld rounds, %ld aborts checked, %ld read(2) and %ld handlers into caller frames\n",
                S->rounds, S->aborts_checked, S->syscalls, S->signals);
  assert_true(S->aborts_checked > rounds / 4);
  teardown_state();
}

/* Entry with ~1 MB of live stack and nothing written between entries copies
 * a margin, not the stack (a count, not a time). */
static void entry_copies(long n) {
  int id = spec_enter();                           /* the first entry fills the shadow */
  assert_true(id > 0);
  spec_commit(id);
  size_t b0;
  size_t lazy0 = _moj_stack_lazy_stats(&b0);
  size_t eager = 0;
  for (long i = 0; i < n; i++) {
    id = spec_enter();
    assert_true(id > 0);
    moj_level_t *l = &_moj_rt->levels[_moj_rt->depth];
    eager += l->stack_hi - l->stack_lo;
    spec_commit(id);
  }
  size_t b1;
  size_t lazy = _moj_stack_lazy_stats(&b1) - lazy0;
  if (lazy == 0) {
    print_message("no lazy stack saving here (no userfaultfd WP_ASYNC or PAGEMAP_SCAN): skipped\n");
    return;
  }
  assert_int_equal(lazy, n);
  size_t per_entry = (eager + (b1 - b0)) / (size_t)n;
  print_message("%zu bytes copied per entry with %d KB of live stack\n", per_entry, FRAMES * FRAME_BUF / 1024);
  assert_true(per_entry <= MOJ_STACK_MARGIN + 4 * 4096);
}

static void entry_does_not_copy_the_deep_stack(void **st) {
  (void)st;
  descend(0, entry_copies, 200);
}

/* A child of fork() inside a level: the kernel's write tracking is gone
 * there (new levels copy their stack), yet aborting the level entered before
 * the fork must still restore every frame. */
static pid_t *fork_pid;
static void fork_child_entry(long unused) {
  (void)unused;
  int id = spec_enter();
  if (id < 0) {                                      /* only the child gets here */
    int ok = 1;
    for (int f = 0; f < FRAMES; f++)
      ok &= !memcmp(S->snap[0] + (size_t)f * FRAME_BUF, frame_buf[f], FRAME_BUF);
    if (*fork_pid == 0) _exit(ok ? 0 : 4);
    fail_msg("abort in the parent");
  }
  snapshot(S->snap[0]);
  scribble(0);
  scribble(FRAMES - 1);
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  *fork_pid = pid;
  if (pid == 0) {
    close(p[0]);
    for (int f = 0; f < FRAMES; f += 2) scribble(f);
    snapshot(S->snap[1]);
    int id2 = spec_enter();
    if (id2 > 0) {
      for (int f = 1; f < FRAMES; f += 3) scribble(f);
      spec_abort(id2);
    }
    for (int f = 0; f < FRAMES; f++)
      if (memcmp(S->snap[1] + (size_t)f * FRAME_BUF, frame_buf[f], FRAME_BUF)) _exit(6);
    for (int f = 0; f < FRAMES; f += 5) scribble(f);
    spec_abort(id);
    _exit(5);
  }
  char buf[8];
  int status = moj_collect_child(pid, p, buf, sizeof buf);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  spec_commit(id);
}

static void fork_inside_a_level(void **st) {
  (void)st;
  setup_state();
  fork_pid = malloc(sizeof *fork_pid);
  descend(0, fork_child_entry, 0);
  free(fork_pid);
  teardown_state();
}

/* Levels on two stacks interleaved: level 1 on the deep main stack, level 2
 * on a makecontext stack (copied at entry) that stays active while the main
 * stack enters level 3 (whose entry hands the pages written since level 1 to
 * level 2's overlay).  Aborting 3, then 1, must restore the main stack's
 * frames as at each entry. */
static ucontext_t *co_main, *co_ctx;
static int *co_state;

static void coroutine(void) {
  int id = spec_enter();
  if (id > 0) {
    for (int f = 0; f < FRAMES; f += 4) scribble(f);   /* the main stack's frames */
    *co_state = id;
    swapcontext(co_ctx, co_main);                      /* level 2 stays active */
  }
  *co_state = -1;
}

static void two_stacks(long unused) {
  (void)unused;
  int id1 = spec_enter();
  if (id1 < 0) {
    check_frames(S->snap[0], "abort of the main-stack level under a coroutine's level");
    S->aborts_checked++;
    return;
  }
  snapshot(S->snap[0]);
  for (int f = 1; f < FRAMES; f += 3) scribble(f);
  swapcontext(co_main, co_ctx);                        /* enters level 2, writes, yields */
  assert_int_equal(spec_level(), 2);
  for (int f = 2; f < FRAMES; f += 5) scribble(f);
  int id3 = spec_enter();                              /* main stack again: lazy, syncs */
  if (id3 < 0) {
    check_frames(S->snap[1], "abort of the level entered over the coroutine's level");
    S->aborts_checked++;
    spec_commit(*co_state);                            /* level 2, from the main stack */
    for (int f = 0; f < FRAMES; f += 2) scribble(f);
    spec_abort(id1);
  }
  snapshot(S->snap[1]);
  for (int f = 0; f < FRAMES; f++) scribble(f);
  spec_abort(id3);
}

static void levels_on_two_stacks(void **st) {
  (void)st;
  setup_state();
  moj_coroutine_t co = moj_coroutine(256 * 1024, coroutine);
  co_main = co.main;
  co_ctx = co.ctx;
  co_state = malloc(sizeof *co_state);
  descend(0, two_stacks, 0);
  assert_int_equal(S->aborts_checked, 2);
  assert_int_equal(spec_level(), 0);
  moj_coroutine_free(co);
  free(co_state);
  teardown_state();
}

/* The function that entered returns while the level is active and its
 * callers write their frames; the abort resumes in the returned function
 * (spec_enter is returns_twice: its frame is restored with the others). */
static __attribute__((noinline)) int enter_and_return(void) {
  volatile char pad[256];
  pad[0] = 1;
  int id = spec_enter();
  pad[1] = (char)id;
  return id + pad[0] - 1;
}

static void returned_frame(long unused) {
  (void)unused;
  snapshot(S->snap[0]);
  int id = enter_and_return();
  if (id < 0) {
    check_frames(S->snap[0], "abort after the entering function returned");
    S->aborts_checked++;
    return;
  }
  for (int f = 0; f < FRAMES; f++) scribble(f);
  spec_abort(id);
}

static void abort_after_the_entering_function_returned(void **st) {
  (void)st;
  setup_state();
  descend(0, returned_frame, 0);
  assert_int_equal(S->aborts_checked, 1);
  teardown_state();
}

/* Aborts from a SIGALRM handler at random points of levels entered ~1 MB
 * deep — between stores, inside nested entries' scans and commits (deferred
 * out of the runtime's slow paths) — restore every frame as at entry.  The
 * level never ends on its own: rounds are counted, the timer only decides
 * where the abort lands. */
static void on_alarm(int sig) {
  (void)sig;
  S->signals++;
  spec_abort(S->ids[0]);
}

static void timer_rounds(long rounds) {
  struct itimerval it = {{0, 0}, {0, 150}};
  while (S->aborts_checked < rounds) {            /* the count survives the aborts */
    int id = spec_enter();
    if (id < 0) {
      check_frames(S->snap[0], "abort from a signal handler");
      S->aborts_checked++;
      continue;
    }
    S->ids[0] = id;
    snapshot(S->snap[0]);
    it.it_value.tv_usec = 50 + (long)rnd(400);
    setitimer(ITIMER_REAL, &it, NULL);
    for (;;) {                                     /* until the handler aborts */
      scribble((int)rnd(FRAMES));
      if (rnd(4) == 0) {
        int in = spec_enter();                     /* a nested entry: a sync */
        if (in > 0) {
          scribble((int)rnd(FRAMES));
          if (rnd(2)) spec_commit(in); else spec_abort(in);
        }
      }
    }
  }
}

static void aborts_from_a_timer_handler(void **st) {
  (void)st;
  setup_state();
  struct sigaction a, old;
  memset(&a, 0, sizeof a);
  a.sa_handler = on_alarm;
  a.sa_flags = SA_NODEFER;
  sigaction(SIGALRM, &a, &old);
  descend(0, timer_rounds, 300);
  sigaction(SIGALRM, &old, NULL);
  print_message("%ld aborts from the handler checked\n", S->aborts_checked);
  assert_int_equal(S->aborts_checked, 300);
  teardown_state();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(deep_stack_random_levels, moj_close_levels),
    cmocka_unit_test_teardown(entry_does_not_copy_the_deep_stack, moj_close_levels),
    cmocka_unit_test_teardown(fork_inside_a_level, moj_close_levels),
    cmocka_unit_test_teardown(levels_on_two_stacks, moj_close_levels),
    cmocka_unit_test_teardown(abort_after_the_entering_function_returned, moj_close_levels),
    cmocka_unit_test_teardown(aborts_from_a_timer_handler, moj_close_levels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
