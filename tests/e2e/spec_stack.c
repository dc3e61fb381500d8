/* tests/e2e/spec_stack.c — locals of caller frames ~1 MB up the stack are
 * rolled back (issue 10, item 7: the main stack's older frames are saved
 * lazily, runtime/stack_lazy.c): nested levels write frames at every depth
 * through pointers, by read(2) and from a signal handler, then abort or
 * commit; after each abort every frame must be as at that level's entry. */
#include <mojave.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

#define FRAMES 256
#define BUF 4000

static char *frame[FRAMES];
static int pipefd[2];
static volatile int sig_target;

static void on_alarm(int sig) {
  (void)sig;
  frame[sig_target][sig_target % BUF] ^= 0x5a;      /* a handler writes a caller frame */
}

static unsigned sum(void) {
  unsigned h = 0;
  for (int f = 0; f < FRAMES; f++)
    for (int i = 0; i < BUF; i += 7) h = h * 31 + (unsigned char)frame[f][i];
  return h;
}

static void write_frames(int step, int salt) {
  for (int f = 0; f < FRAMES; f += step)
    for (int i = 0; i < BUF; i += 64) frame[f][i] = (char)(f + i + salt);
}

static void bottom(void) {
  unsigned before = sum();
  for (int round = 0; round < 40; round++) {
    int id = spec_enter();
    if (id > 0) {
      write_frames(1 + round % 5, round);
      if (write(pipefd[1], "abcdefgh", 8) != 8 || read(pipefd[0], frame[round % FRAMES] + 100, 8) != 8)
        CHECK(0, "pipe");
      sig_target = (round * 37) % FRAMES;
      raise(SIGUSR1);
      int inner = spec_enter();
      if (inner > 0) {
        unsigned mid = sum();
        write_frames(3, round + 1);
        spec_abort(inner);
        (void)mid;
      }
      write_frames(2, round + 2);
      if (round % 2) {
        int inner2 = spec_enter();
        if (inner2 > 0) { write_frames(7, round + 3); spec_commit(inner2); }
      }
      ABORT_UNLESS_FAILED(id);
    }
    CHECK(id < 0, "round %d: not aborted (%d)", round, id);
    CHECK(sum() == before, "round %d: caller frames not restored", round);
  }
  /* a nested abort checked against the state at the inner entry */
  int id = spec_enter();
  if (id > 0) {
    write_frames(4, 9);
    unsigned at_inner = sum();
    int inner = spec_enter();
    if (inner > 0) {
      write_frames(1, 11);
      spec_abort(inner);
    }
    CHECK(sum() == at_inner, "inner abort: frames not as at the inner entry");
    CHECK(spec_commit(id) == 0, "commit");
  }
  CHECK(sum() != before, "committed writes lost");
}

static void descend(int f) {
  char buf[BUF];
  for (int i = 0; i < BUF; i++) buf[i] = (char)(f * 3 + i);
  frame[f] = buf;
  if (f + 1 < FRAMES) descend(f + 1);
  else bottom();
  frame[f] = buf;   /* keeps buf alive across the call */
}

int main(void) {
  CHECK(pipe(pipefd) == 0, "pipe");
  signal(SIGUSR1, on_alarm);
  descend(0);
  DONE();
}
