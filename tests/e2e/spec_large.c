/* tests/e2e/spec_large.c — copy-on-write by page inside a large object
 * (issue 10, item 8): a few bytes written to a 256 MB object inside a
 * speculation are rolled back by abort and kept by commit, at every nesting
 * order, and memory grows by the pages written, not by the object (resident
 * set checked, not time).  Also: a system call writing into the object, free
 * and realloc inside a level, and a fork() child writing its copy.  Last,
 * many short levels in a row: the pages of a level's copy are returned by the
 * runtime's reclaimer thread after commit/abort, so the next levels write
 * while earlier copies are still being cleaned (and a fork() and a free()
 * come right after an abort/commit). */
#include <mojave.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

#define SIZE ((size_t)256 << 20)
#define MB ((long)1 << 20)

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + (i >> 12)); }

/* Bytes of the object that differ from the pattern, sampled on every page
 * plus the given positions (exactly checked). */
static long diffs(const unsigned char *o) {
  long d = 0;
  for (size_t i = 0; i < SIZE; i += 4093) d += o[i] != pat(i);
  return d;
}

static const size_t A = 12345, B = 200u << 20, C = SIZE - 1;

int main(void) {
  unsigned char *o = malloc(SIZE);
  CHECK(o != NULL, "malloc of 256 MB");
  if (!o) DONE();
  for (size_t i = 0; i < SIZE; i++) o[i] = pat(i);
  long base = e2e_rss();

  /* Abort restores exactly; memory grows by pages, not by the object. */
  int id = spec_enter();
  if (id > 0) {
    o[A] = 1; o[B] = 2; o[C] = 3;
    long grown = e2e_rss() - base;
    CHECK(grown < 16 * MB, "1-byte writes grew the resident set by %ld MB", grown / MB);
    CHECK(o[A] == 1 && o[B] == 2 && o[C] == 3, "writes visible inside");
    CHECK(o[A + 1] == pat(A + 1) && o[B - 1] == pat(B - 1), "neighbours intact inside");
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(o[A] == pat(A) && o[B] == pat(B) && o[C] == pat(C), "abort restored %d %d %d", o[A], o[B], o[C]);
  CHECK(diffs(o) == 0, "object differs after abort");

  /* Commit keeps; the copy does not stay resident beside the object. */
  id = spec_enter();
  CHECK(id > 0, "spec_enter %d", id);
  o[A] = 11;
  memset(o + B, 0x5a, 8192); /* one memory intrinsic spanning pages */
  CHECK(spec_commit(id) == 0, "spec_commit");
  CHECK(o[A] == 11 && o[B] == 0x5a && o[B + 8191] == 0x5a && o[B + 8192] == pat(B + 8192),
        "commit kept %d %d %d", o[A], o[B], o[B + 8191]);
  long grown = e2e_rss() - base;
  CHECK(grown < 16 * MB, "after commit the resident set grew by %ld MB", grown / MB);
  o[A] = pat(A);
  for (size_t i = B; i < B + 8192; i++) o[i] = pat(i);

  /* Nested: the inner level aborts, the outer commits. */
  int outer = spec_enter();
  CHECK(outer > 0, "outer %d", outer);
  o[A] = 21;
  int inner = spec_enter();
  if (inner > 0) {
    o[A] = 22; o[B] = 23;
    CHECK(o[A] == 22, "inner write %d", o[A]);
    ABORT_UNLESS_FAILED(inner);
  }
  CHECK(o[A] == 21 && o[B] == pat(B), "after inner abort %d %d", o[A], o[B]);
  CHECK(spec_commit(outer) == 0, "outer commit");
  CHECK(o[A] == 21, "after outer commit %d", o[A]);
  o[A] = pat(A);

  /* Nested: the inner level commits into the outer, which aborts. */
  outer = spec_enter();
  if (outer > 0) {
    o[A] = 31;
    inner = spec_enter();
    CHECK(inner > 0, "inner %d", inner);
    o[A] = 32; o[C] = 33;
    CHECK(spec_commit(inner) == 0, "inner commit");
    CHECK(o[A] == 32 && o[C] == 33, "inner commit kept %d %d", o[A], o[C]);
    ABORT_UNLESS_FAILED(outer);
  }
  CHECK(o[A] == pat(A) && o[C] == pat(C), "outer abort restored %d %d", o[A], o[C]);

  /* Nested: the outer level commits while the inner one stays active; the
   * inner one then aborts to the state after the outer's writes. */
  outer = spec_enter();
  CHECK(outer > 0, "outer %d", outer);
  o[A] = 41;
  inner = spec_enter();
  if (inner > 0) {
    o[A] = 42; o[B] = 43;
    CHECK(spec_commit(outer) == 0, "outer commit under inner");
    CHECK(o[A] == 42, "inner still sees its write %d", o[A]);
    ABORT_UNLESS_FAILED(inner);
  }
  CHECK(o[A] == 41 && o[B] == pat(B), "inner abort after outer commit %d %d", o[A], o[B]);
  o[A] = pat(A);
  CHECK(diffs(o) == 0, "object differs after the nested rounds");

  /* A system call writes into the object (the kernel fills the copy). */
  int fds[2];
  CHECK(pipe(fds) == 0, "pipe");
  CHECK(write(fds[1], "kernel", 6) == 6, "write to pipe");
  id = spec_enter();
  if (id > 0) {
    CHECK(read(fds[0], o + B, 6) == 6, "read into the object");
    CHECK(memcmp(o + B, "kernel", 6) == 0, "read data inside");
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(o[B] == pat(B) && o[B + 5] == pat(B + 5), "abort restored what read() wrote");
  close(fds[0]);
  close(fds[1]);

  /* free and realloc inside a level. */
  id = spec_enter();
  if (id > 0) {
    o[A] = 51;
    free(o);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(o[A] == pat(A) && diffs(o) == 0, "abort brought the freed object back");
  id = spec_enter();
  if (id > 0) {
    unsigned char *r = realloc(o, SIZE + 4096);
    CHECK(r != NULL && r[C] == pat(C), "realloc inside keeps contents");
    if (r) r[C + 1] = 61;
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(o[C] == pat(C) && diffs(o) == 0, "abort undid the realloc");

  /* fork: the child's writes stay in the child. */
  id = spec_enter();
  CHECK(id > 0, "spec_enter %d", id);
  o[A] = 71;
  CHECK(spec_commit(id) == 0, "commit before fork");
  pid_t pid = fork();
  if (pid == 0) {
    o[A] = 72; o[B] = 73;
    id = spec_enter();
    if (id > 0) { o[C] = 74; spec_commit(id); }
    _exit(o[A] == 72 && o[C] == 74 ? 0 : 1);
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "child status %d", st);
  CHECK(o[A] == 71 && o[B] == pat(B) && o[C] == pat(C), "parent after child wrote %d %d %d", o[A],
        o[B], o[C]);

  /* Many short levels back to back, 1 to 8 bytes each, one in three
   * committed (the pattern is put back outside, so `s` changes while copies
   * are being cleaned), one in five with an inner level aborted. */
  uint32_t x = 20261130;
  int bad = 0;
  for (int round = 0; round < 3000 && !bad; round++) {
    size_t pos[8];
    unsigned char want[8];
    int n = 1 + round % 8, commit = round % 3 == 0;
    for (int k = 0; k < n; k++) {
      x = x * 1103515245u + 12345u;
      pos[k] = ((size_t)x * 2654435761u) % SIZE;
    }
    id = spec_enter();
    if (id > 0) {
      for (int k = 0; k < n; k++) o[pos[k]] = (unsigned char)(pat(pos[k]) + 1 + k);
      if (round % 5 == 0) {
        inner = spec_enter();
        if (inner > 0) {
          for (int k = 0; k < n; k++) o[pos[k]] = 0xee;
          spec_abort(inner);
        }
      }
      if (commit) spec_commit(id);
      else spec_abort(id);
    }
    for (int k = 0; k < n; k++) want[k] = commit ? o[pos[k]] : pat(pos[k]);
    for (int k = 0; k < n; k++) /* the last write to a position wins */
      for (int j = 0; j < n; j++)
        if (commit && pos[j] == pos[k]) want[k] = (unsigned char)(pat(pos[k]) + 1 + j);
    for (int k = 0; k < n && !bad; k++)
      if (o[pos[k]] != want[k]) {
        bad = 1;
        CHECK(0, "round %d (%s): byte %zu is %d, want %d", round, commit ? "commit" : "abort", pos[k], o[pos[k]], want[k]);
      }
    if (commit)
      for (int k = 0; k < n; k++) o[pos[k]] = pat(pos[k]);
  }
  CHECK(diffs(o) == 0, "object differs after the short levels");
  /* ... and the object is back in its own mapping: a level's 1-byte write
   * copies one page, not every page written since an outer level committed
   * under an inner one (the rounds above wrote ~18 MB outside). */
  base = e2e_rss();
  id = spec_enter();
  if (id > 0) {
    o[A] = 91;
    grown = e2e_rss() - base;
    CHECK(grown < 4 * MB, "after the short levels a 1-byte write grew the resident set by %ld MB", grown / MB);
    ABORT_UNLESS_FAILED(id);
  }

  /* fork() right after an abort of a 1 MB write (its copy still being
   * cleaned): the child sees the object as before the level. */
  id = spec_enter();
  if (id > 0) {
    memset(o + B, 0x77, 1 << 20);
    spec_abort(id);
  }
  pid = fork();
  if (pid == 0) _exit(diffs(o) == 0 && o[B] == pat(B) && o[B + (1 << 20) - 1] == pat(B + (1 << 20) - 1) ? 0 : 1);
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "child after abort: status %d", st);

  /* free() right after a commit (the object goes once its copy is clean). */
  id = spec_enter();
  CHECK(id > 0, "spec_enter %d", id);
  memset(o + B, 0x78, 1 << 20);
  CHECK(spec_commit(id) == 0, "commit before free");
  CHECK(o[B] == 0x78 && o[B + (1 << 20) - 1] == 0x78, "commit kept the 1 MB write");
  free(o);
  DONE();
}
