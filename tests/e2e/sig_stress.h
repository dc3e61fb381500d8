/* tests/e2e/sig_stress.h — the timer-driven randomized signal test shared by
 * tests/e2e/spec_signals.c (plain C built by mojcc at -O0/-O2: the pass's own
 * barriers) and tests/unit/test_signal.c (cc + MOJ_W, also run under ASan).
 *
 * Each round enters a speculation and arms a one-shot ITIMER_REAL.  The
 * SIGALRM handler always writes a heap int (issue 10, 1b); in an "abort" round
 * it also aborts the outermost level (1a), which the body never leaves on its
 * own: it loops over random writes, mallocs, frees, reallocs, global and local
 * writes and nested levels — mostly runtime slow paths — until the timer hits.
 * In a "commit" round the body runs a fixed number of ops and commits.  A
 * reference model in raw mmap'd memory (never rolled back) replays committed
 * ops; after every round the program state must equal the model exactly, the
 * live-object count must match, and SIGALRM must not be left blocked (1c).
 * Rounds are counted, never timed: on a loaded machine the timer only fires
 * later, the verdict is the same. */
#ifndef MOJ_SIG_STRESS_H
#define MOJ_SIG_STRESS_H

#include <mojave.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#ifdef __MOJCC__
/* mojcc: plain C, the pass inserts the barriers. */
#define SS_W(p) (p)
#define SS_R(p) (p)
#define SS_MALLOC malloc
#define SS_REALLOC realloc
#define SS_FREE free
#else
#define SS_W(p) MOJ_W(int, p)
#define SS_R(p) MOJ_R(int, p)
#define SS_MALLOC moj_malloc
#define SS_REALLOC moj_realloc
#define SS_FREE moj_free
#endif

#define SS_NOBJ 100
#define SS_NINT 8
#define SS_NG 16
#define SS_NL 8

typedef struct {                 /* the reference model: raw memory, survives aborts */
  int  obj[SS_NOBJ][SS_NINT];
  int  g[SS_NG];
  int  l[SS_NL];
  int  h;                        /* the handler's heap counter */
  long fires;                    /* handler invocations */
  long aborts, commits, failures;
  size_t live;
} ss_model_t;

static ss_model_t *ss_m;
static int *ss_obj[SS_NOBJ];     /* handles: globals, rolled back */
static int ss_g[SS_NG];
static int *ss_h;                /* the handler's heap counter */
static volatile int ss_id;       /* level the handler aborts (0: none) */
static volatile int ss_abort_mode;

typedef struct { int kind, i, j, v; } ss_op_t;

static __attribute__((noinline)) unsigned ss_rand(unsigned *s) {
  unsigned x = *s;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return *s = x ? x : 0x9e3779b9u;
}

static ss_op_t ss_next(unsigned *s) {
  unsigned r = ss_rand(s);
  ss_op_t o = {(int)(r % 10), (int)((r >> 4) % SS_NOBJ), (int)((r >> 12) % SS_NINT), (int)ss_rand(s)};
  return o;
}

static size_t ss_live(void) { moj_stats_t st; moj_get_stats(&st); return st.live_objects; }

/* The real program: every op is a store the speculation must undo. */
static void ss_apply(ss_op_t o, int *loc) {
  switch (o.kind) {
  case 0: case 1: case 2: case 3: SS_W(ss_obj[o.i])[o.j] = o.v; break;
  case 4: ss_g[o.v & (SS_NG - 1)] = o.v; break;
  case 5: loc[o.j] = o.v; break;
  case 6: {                                   /* replace by a new object */
    int *n = SS_MALLOC(SS_NINT * sizeof(int));
    for (int k = 0; k < SS_NINT; k++) SS_W(n)[k] = SS_R(ss_obj[o.i])[k];
    SS_FREE(ss_obj[o.i]);
    ss_obj[o.i] = n;
    SS_W(n)[o.j] = o.v;
    break;
  }
  case 7: {                                   /* resize: moves behind the handle */
    int *n = SS_REALLOC(ss_obj[o.i], (size_t)(SS_NINT + (o.v & 63)) * sizeof(int));
    if (n) ss_obj[o.i] = n;
    break;
  }
  case 8: {                                   /* a short-lived object */
    int *t = SS_MALLOC((size_t)(1 + (o.v & 255)) * sizeof(int));
    SS_W(t)[0] = o.v;
    SS_FREE(t);
    break;
  }
  default: SS_W(ss_obj[o.i])[0] = SS_R(ss_obj[o.j])[1] + 1; break;
  }
}

static void ss_model_apply(ss_op_t o) {
  switch (o.kind) {
  case 0: case 1: case 2: case 3: case 6: ss_m->obj[o.i][o.j] = o.v; break;
  case 4: ss_m->g[o.v & (SS_NG - 1)] = o.v; break;
  case 5: ss_m->l[o.j] = o.v; break;
  case 7: case 8: break;
  default: ss_m->obj[o.i][0] = ss_m->obj[o.j][1] + 1; break;
  }
}

/* The model after a committed round: the same ops, and what the handler did. */
static void ss_model_commit(unsigned seed, unsigned nops, long fires0) {
  unsigned t = seed;
  for (int k = 0; k < 4; k++) ss_rand(&t);
  for (unsigned k = 0; k < nops; k++) ss_model_apply(ss_next(&t));
  ss_m->h += (int)(ss_m->fires - fires0);
  ss_m->commits++;
}

static void ss_handler(int sig) {
  (void)sig;
  ss_m->fires++;
  SS_W(ss_h)[0] += 1;                       /* 1b: a heap write from the handler */
  if (ss_abort_mode && ss_id > 0) spec_abort(ss_id);
}

static void ss_handler_info(int sig, siginfo_t *si, void *uc) { (void)si; (void)uc; ss_handler(sig); }

static void ss_arm(unsigned usec) {
  struct itimerval it = {{0, 0}, {0, (long)usec}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static int ss_blocked(void) {
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  return sigismember(&cur, SIGALRM);
}

static int ss_check(const int *loc, unsigned round, const char *what) {
  int bad = 0;
  for (int i = 0; i < SS_NOBJ; i++)
    for (int j = 0; j < SS_NINT; j++)
      if (SS_R(ss_obj[i])[j] != ss_m->obj[i][j]) bad = 1;
  for (int i = 0; i < SS_NG; i++) bad |= ss_g[i] != ss_m->g[i];
  for (int i = 0; i < SS_NL; i++) bad |= loc[i] != ss_m->l[i];
  if (SS_R(ss_h)[0] != ss_m->h) bad = 1;
  if (ss_live() != ss_m->live) bad = 1;
  int blocked = ss_blocked();
  bad |= blocked;
  if (bad) {
    ss_m->failures++;
    printf("FAIL round %u (%s): state differs from the model (live %zu/%zu, SIGALRM %s)\n", round,
           what, ss_live(), ss_m->live, blocked ? "blocked" : "unblocked");
  }
  return bad;
}

/* The speculative part of a round; an abort round never returns from here. */
static __attribute__((noinline)) void ss_body(unsigned round, int abort_round, unsigned nops, unsigned *s, int *loc) {
  if (abort_round) {
    for (unsigned k = 0;; k++) {
      ss_apply(ss_next(s), loc);
      if ((k & 4095) == 4095 && ss_blocked()) {  /* the timer can never reach us */
        printf("FAIL round %u: SIGALRM left blocked by an earlier abort\n", round);
        exit(1);
      }
      if ((k & 31) == 31) {                 /* a nested level, sometimes left open */
        int n = spec_enter();
        if (n > 0) {
          for (int q = 0; q < 8; q++) ss_apply(ss_next(s), loc);
          if (k & 64) spec_commit(n);
        }
      }
    }
  }
  for (unsigned k = 0; k < nops; k++) ss_apply(ss_next(s), loc);
}

/* One round; `loc` is this frame's local array (must come back at abort).
 * What is used after spec_enter returns is volatile (setjmp rules). */
static __attribute__((noinline)) int ss_round(unsigned round, unsigned seed) {
  int loc[SS_NL];
  memcpy(loc, ss_m->l, sizeof loc);
  unsigned s = seed;
  volatile int abort_round = ss_rand(&s) & 1;
  volatile unsigned usec = 1 + ss_rand(&s) % 300;
  volatile unsigned nops = ss_rand(&s) % 64;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  int variant = (int)(ss_rand(&s) % 4);       /* NODEFER or not, SA_SIGINFO or not */
  if (variant & 1) sa.sa_flags |= SA_NODEFER;
  if (variant & 2) { sa.sa_flags |= SA_SIGINFO; sa.sa_sigaction = ss_handler_info; }
  else sa.sa_handler = ss_handler;
  sigaction(SIGALRM, &sa, NULL);
  volatile long fires0 = ss_m->fires;
  ss_abort_mode = abort_round;
  ss_id = 0;
  int id = spec_enter();
  if (id > 0) {
    ss_id = id;
    ss_arm(usec);
    ss_body(round, abort_round, nops, &s, loc);
    spec_commit(id);
    ss_id = 0;
    ss_arm(0);
    ss_model_commit(seed, nops, fires0);
    return ss_check(loc, round, "commit");
  }
  if (id == 0) { printf("FAIL round %u: spec_enter failed\n", round); ss_m->failures++; return 1; }
  ss_arm(0);
  ss_m->aborts++;
  return ss_check(loc, round, "abort");
}

/* Runs `rounds` rounds; returns the number of failed rounds. */
static long ss_run(unsigned rounds, unsigned seed) {
  ss_m = mmap(NULL, sizeof *ss_m, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ss_m == MAP_FAILED) { perror("mmap"); return 1; }
  memset(ss_m, 0, sizeof *ss_m);
  for (int i = 0; i < SS_NOBJ; i++) {
    ss_obj[i] = SS_MALLOC(SS_NINT * sizeof(int));
    for (int j = 0; j < SS_NINT; j++) SS_W(ss_obj[i])[j] = ss_m->obj[i][j] = i * 100 + j;
  }
  ss_h = SS_MALLOC(sizeof(int));
  SS_W(ss_h)[0] = 0;
  ss_m->live = ss_live();
  unsigned s = seed;
  for (unsigned r = 0; r < rounds && ss_m->failures < 10; r++) ss_round(r, ss_rand(&s));
  signal(SIGALRM, SIG_DFL);
  moj_stats_t st;
  moj_get_stats(&st);
  printf("signal stress: %u rounds, %ld aborts from the handler, %ld commits, %ld handler runs "
         "(%zu deferred out of runtime slow paths), %ld failures\n",
         rounds, ss_m->aborts, ss_m->commits, ss_m->fires, st.signals_deferred, ss_m->failures);
  return ss_m->failures;
}

#endif
