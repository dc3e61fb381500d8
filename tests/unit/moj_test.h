/* tests/unit/moj_test.h — shared helpers for the runtime's cmocka tests. */
#ifndef MOJ_TEST_H
#define MOJ_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mojave.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* A coroutine: fn on a fresh malloc'd stack of n bytes, returning to *main.
 * The contexts live in libc memory, so an abort does not roll them back.
 * Free with moj_coroutine_free. */
typedef struct { ucontext_t *main, *ctx; char *stack; } moj_coroutine_t;
static inline moj_coroutine_t moj_coroutine(size_t n, void (*fn)(void)) {
  moj_coroutine_t c = {malloc(sizeof(ucontext_t)), malloc(sizeof(ucontext_t)), malloc(n)};
  getcontext(c.ctx);
  c.ctx->uc_stack.ss_sp = c.stack;
  c.ctx->uc_stack.ss_size = n;
  c.ctx->uc_link = c.main;
  makecontext(c.ctx, fn, 0);
  return c;
}
static inline void moj_coroutine_free(moj_coroutine_t c) {
  free(c.stack);
  free(c.main);
  free(c.ctx);
}

/* Teardown: a failed assertion inside a speculation leaves it open with the
 * failure message held; committing what is left makes the message visible. */
static inline int moj_close_levels(void **st) {
  (void)st;
  while (spec_level()) spec_commit(spec_id_at(1));
  return 0;
}

/* Parent side of a child that reports through a pipe: close the write end,
 * read everything into buf (NUL-terminated), reap the child; its status. */
static inline int moj_collect_child(pid_t pid, int p[2], char *buf, size_t cap) {
  close(p[1]);
  size_t got = 0;
  ssize_t n;
  while (got + 1 < cap && (n = read(p[0], buf + got, cap - 1 - got)) > 0) got += (size_t)n;
  buf[got] = 0;
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

/* Child side of a fork: runs this test binary again with argv (argv[0]
 * first, NULL last); returns only when the exec failed.  A cross build runs
 * its tests under an emulator, named by MOJ_TEST_EMULATOR (tests/unit's
 * CMakeLists.txt), and the kernel cannot exec the target's binaries itself:
 * the emulator gets this binary's path (which it reports for
 * /proc/self/exe) and the arguments. */
static inline void moj_exec_self(char *const argv[]) {
  const char *emu = getenv("MOJ_TEST_EMULATOR");
  if (!emu || !*emu) { execv("/proc/self/exe", argv); return; }
  static char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = 0;
  char *v[32];
  int k = 0;
  v[k++] = (char *)emu;
  v[k++] = self;
  for (int i = 1; argv[i]; i++) {
    if (k == 31) return;
    v[k++] = argv[i];
  }
  v[k] = NULL;
  execv(emu, v);
}

#endif
