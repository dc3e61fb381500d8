/* examples/fig5_spec/fig5_spec.c — reproduces the paper's Figure 5 on this
 * machine: cost of entering, committing and aborting a speculation for heaps
 * of 100 KB .. 1 GB with 10 % and 100 % of the heap mutated inside it, and in
 * the same run the same checkpoint/rollback done with fork() (the child holds
 * the checkpoint).  Prints a Markdown table of medians (microseconds).
 *
 *   fig5_spec [--max-mb N] [--reps N]
 *
 * The heap is made of 4 KiB managed objects; "mutating x %" writes every byte
 * of x % of them, which with copy-on-write costs one object copy each. */
#include <mojave.h>

#include "timing.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

typedef struct {            /* survives aborts: lives in raw mmap'd memory */
  double t0, abort_us;
  int    done;
} probe_t;

static probe_t *P;
static void **blocks;       /* raw array of handles (not rolled back: never written in a speculation) */
static size_t nblocks;


static void mutate(double frac, unsigned salt) {
  size_t n = (size_t)(nblocks * frac + 0.5);
  size_t stride = n ? nblocks / n : 1;
  for (size_t i = 0, b = 0; i < n; i++, b += stride)
    memset(moj_w(blocks[b % nblocks]), (int)(salt + i), BLOCK);
}

/* One speculation round: enter, mutate, then commit or abort. */
static void spec_round(double frac, int do_abort, double *enter_us, double *end_us, double *mut_us) {
  double t0 = now_us();
  int id = spec_enter();
  if (id > 0) {
    *enter_us = now_us() - t0;
    double m0 = now_us();
    mutate(frac, 1);
    *mut_us = now_us() - m0;
    if (do_abort) {
      P->t0 = now_us();
      spec_abort(id);
    }
    double c0 = now_us();
    if (spec_commit(id)) { perror("spec_commit"); exit(1); }
    *end_us = now_us() - c0;
    return;
  }
  if (id == 0) { perror("spec_enter"); exit(1); }
  P->abort_us = now_us() - P->t0;   /* resumed here after the abort */
}

/* One fork round: the child holds the checkpoint; commit = discard the child,
 * abort = the child takes over (we time until it runs). */
static void fork_round(double frac, int do_abort, double *ckpt_us, double *end_us, double *mut_us) {
  int go[2], back[2];
  if (pipe(go) || pipe(back)) { perror("pipe"); exit(1); }
  double t0 = now_us();
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); exit(1); }
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) == 1 && c == 'A') {
      double t = now_us();
      if (write(back[1], &t, sizeof t) != sizeof t) _exit(1);
    }
    _exit(0);
  }
  *ckpt_us = now_us() - t0;
  double m0 = now_us();
  mutate(frac, 2);
  *mut_us = now_us() - m0;
  double e0 = now_us();
  if (do_abort) {
    double t;
    if (write(go[1], "A", 1) != 1 || read(back[0], &t, sizeof t) != sizeof t) { perror("pipe"); exit(1); }
    *end_us = t - e0;
  } else {
    if (write(go[1], "C", 1) != 1) { perror("pipe"); exit(1); }
    waitpid(pid, NULL, 0);
    *end_us = now_us() - e0;
  }
  if (do_abort) waitpid(pid, NULL, 0);
  close(go[0]); close(go[1]); close(back[0]); close(back[1]);
}

/* Entry alone: enter + commit with nothing changed, 1001 times. */
static double entry_alone(void) {
  double *warm = malloc(1001 * sizeof *warm);
  for (int r = 0; r < 1001; r++) {
    double t0 = now_us();
    int id = spec_enter();
    warm[r] = now_us() - t0;
    spec_commit(id);
  }
  double m = median(warm, 1001);
  free(warm);
  return m;
}

int main(int argc, char **argv) {
  long max_mb = 1024;
  int reps_arg = 0;
  if (fig5_args(argc, argv, &max_mb, &reps_arg, NULL, NULL)) return 2;
  P = mmap(NULL, sizeof *P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const size_t sizes_kb[] = {100, 200, 1024, 100 * 1024, 1024 * 1024};
  const double fracs[] = {0.10, 1.00};
  printf("| heap | mutated | spec entry | entry after mutation | spec commit | spec abort | fork ckpt | fork commit | fork abort | mutate (spec) | mutate (fork) |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t s = 0; s < sizeof sizes_kb / sizeof *sizes_kb; s++) {
    if (sizes_kb[s] > (size_t)max_mb * 1024) break;
    nblocks = sizes_kb[s] * 1024 / BLOCK;
    blocks = malloc(nblocks * sizeof *blocks);
    for (size_t i = 0; i < nblocks; i++) {
      blocks[i] = moj_malloc(BLOCK);
      memset(moj_w(blocks[i]), (int)i, BLOCK);
    }
    double warm_entry = entry_alone();
    int reps = reps_arg ? reps_arg : sizes_kb[s] >= 100 * 1024 ? 7 : 101;
    for (size_t f = 0; f < 2; f++) {
      double *v[8];
      for (int k = 0; k < 8; k++) v[k] = calloc((size_t)reps, sizeof(double));
      /* spec and fork rounds run in separate blocks: a fork leaves every page
       * copy-on-write shared, which would bill page faults to the next entry */
      double dummy;
      for (int r = 0; r < reps; r++) spec_round(fracs[f], 0, &v[0][r], &v[1][r], &v[6][r]);
      for (int r = 0; r < reps; r++) {
        spec_round(fracs[f], 1, &dummy, &dummy, &dummy);
        v[2][r] = P->abort_us;
      }
      for (int r = 0; r < reps; r++) fork_round(fracs[f], 0, &v[3][r], &v[4][r], &v[7][r]);
      for (int r = 0; r < reps; r++) fork_round(fracs[f], 1, &dummy, &v[5][r], &dummy);
      char heap[32];
      if (sizes_kb[s] >= 1024) snprintf(heap, sizeof heap, "%zu MB", sizes_kb[s] / 1024);
      else snprintf(heap, sizeof heap, "%zu KB", sizes_kb[s]);
      printf("| %s | %.0f %% | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |\n", heap,
             fracs[f] * 100, warm_entry, median(v[0], reps), median(v[1], reps), median(v[2], reps),
             median(v[3], reps), median(v[4], reps), median(v[5], reps), median(v[6], reps),
             median(v[7], reps));
      fflush(stdout);
      for (int k = 0; k < 8; k++) free(v[k]);
    }
    for (size_t i = 0; i < nblocks; i++) moj_free(blocks[i]);
    free(blocks);
  }
  printf("\nAll times are medians in microseconds. spec = libmojave speculation; fork = fork() checkpoint\n"
         "(child holds the checkpoint; commit = child exits and is reaped; abort = time until the child runs).\n"
         "spec entry: 1001 enter+commit pairs with nothing changed; entry after mutation: the entry of the\n"
         "measured rounds, each right after the previous round mutated and committed (cold caches).\n");
  return 0;
}
