/* tests/e2e/spec_globals.c — large static globals are copied on write like
 * heap objects (issue 10, item 7; passes/MojGlobals.cpp): spec_enter does
 * not copy a 64 MB static array (resident set checked at entry, not time),
 * and writes to it — direct, through a pointer kept in another global,
 * through libc and a system call — are rolled back by abort and kept by
 * commit at nested levels, beside small globals that entry still copies. */
#include <mojave.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

#define BIG ((size_t)64 << 20)
#define MB ((long)1 << 20)

static char big[BIG];
static int tbl[8192] = {1, 2, 3, 4};
static int small = 5;
static char *alias;            /* a pointer into big, kept in a global */

static char pat(size_t i) { return (char)(i * 13 + 1); }
static long diffs(void) {
  long d = 0;
  for (size_t i = 0; i < BIG; i += 4091) d += big[i] != pat(i);
  return d;
}

static const size_t A = 777, B = 40u << 20;

int main(void) {
  for (size_t i = 0; i < BIG; i++) big[i] = pat(i);
  alias = big + B;
  CHECK(tbl[0] == 1 && tbl[3] == 4 && tbl[4] == 0, "initializer %d %d %d", tbl[0], tbl[3], tbl[4]);

  /* Entry does not copy the 64 MB array. */
  long before = e2e_rss();
  int id = spec_enter();
  if (id > 0) {
    long grown = e2e_rss() - before;
    CHECK(grown < 16 * MB, "spec_enter grew the resident set by %ld MB", grown / MB);
    big[A] = 1; tbl[5] = 6; small = 7; *alias = 2;
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(big[A] == pat(A) && big[B] == pat(B) && tbl[5] == 0 && small == 5,
        "abort restored %d %d %d %d", big[A], big[B], tbl[5], small);

  /* Nested: the inner level aborts, the outer commits. */
  int outer = spec_enter();
  CHECK(outer > 0, "outer %d", outer);
  big[A] = 11; tbl[1] = 12;
  int inner = spec_enter();
  if (inner > 0) {
    big[A] = 21; *alias = 22; tbl[1] = 23;
    memset(big + 100, 0x7f, 5000);                 /* libc writes into it */
    ABORT_UNLESS_FAILED(inner);
  }
  CHECK(big[A] == 11 && big[B] == pat(B) && tbl[1] == 12 && big[100] == pat(100),
        "inner abort %d %d %d %d", big[A], big[B], tbl[1], big[100]);
  CHECK(spec_commit(outer) == 0, "outer commit");
  CHECK(big[A] == 11 && tbl[1] == 12, "outer commit kept %d %d", big[A], tbl[1]);
  big[A] = pat(A); tbl[1] = 2;

  /* Nested: the inner level commits into the outer, which aborts. */
  outer = spec_enter();
  if (outer > 0) {
    big[A] = 31;
    inner = spec_enter();
    CHECK(inner > 0, "inner %d", inner);
    *alias = 32; tbl[2] = 33;
    CHECK(spec_commit(inner) == 0, "inner commit");
    ABORT_UNLESS_FAILED(outer);
  }
  CHECK(big[A] == pat(A) && big[B] == pat(B) && tbl[2] == 3, "outer abort %d %d %d", big[A], big[B], tbl[2]);

  /* The outer level commits while the inner stays; the inner aborts to the
   * state after the outer's writes.  A system call writes into the array. */
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  CHECK(write(fds[1], "kernel", 6) == 6, "write");
  outer = spec_enter();
  CHECK(outer > 0, "outer %d", outer);
  big[A] = 41;
  inner = spec_enter();
  if (inner > 0) {
    big[A] = 42;
    CHECK(read(fds[0], big + B, 6) == 6 && memcmp(big + B, "kernel", 6) == 0, "read into big");
    CHECK(spec_commit(outer) == 0, "outer commit under inner");
    ABORT_UNLESS_FAILED(inner);
  }
  CHECK(big[A] == 41 && big[B] == pat(B), "inner abort after outer commit %d %d", big[A], big[B]);
  big[A] = pat(A);
  CHECK(diffs() == 0 && big[100] == pat(100) && big[5099] == pat(5099), "array differs at the end");
  close(fds[0]);
  close(fds[1]);
  DONE();
}
