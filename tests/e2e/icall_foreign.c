/* tests/e2e/icall_foreign.c — a library built with gcc (icall_gcc_lib.c,
 * path in argv[1]) loaded with dlopen and called through dlsym pointers with
 * heap buffers: its functions get raw addresses, variadic pointer arguments
 * included.  Arguments go through the copy-on-write barrier first, so what
 * the library writes through them inside a speculation is rolled back; a
 * pointer the library keeps and writes through later is a raw address of
 * one copy, and that write is not rolled back (docs/mojcc.md, Limitations).
 * Signal handlers the library installed, fetched back with signal() and
 * sigaction(), are called the same way; the program's own handler fetched
 * back still gets handles. */
#include <dlfcn.h>
#include <mojave.h>
#include <mojave/cc_abi.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

typedef void (*fill_t)(char *, int);
typedef int (*fmt_t)(char *, const char *, ...);
typedef void (*keep_t)(char *);
typedef void (*poke_t)(char);

static int own_got_handle;
static void own_action(int sig, siginfo_t *info, void *ctx) {
  (void)info;
  own_got_handle = (intptr_t)ctx < 0;
  ((int *)ctx)[0] = sig;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: icall_foreign <path of libicall_gcc.so>");
  if (argc != 2) DONE();
  void *lib = dlopen(argv[1], RTLD_NOW);
  CHECK(lib, "dlopen: %s", dlerror());
  if (!lib) DONE();
  fill_t fill = (fill_t)dlsym(lib, "fill");
  fmt_t fmt = (fmt_t)dlsym(lib, "fmt");
  keep_t keep = (keep_t)dlsym(lib, "keep");
  poke_t poke_kept = (poke_t)dlsym(lib, "poke_kept");
  int (*install)(int, int) = (int (*)(int, int))dlsym(lib, "install_handlers");
  int (*last_signal_seen)(void) = (int (*)(void))dlsym(lib, "last_signal_seen");
  CHECK(fill && fmt && keep && poke_kept && install && last_signal_seen, "dlsym: %s", dlerror());
  CHECK(!__moj_cc_is_instrumented((void *)fill), "a gcc-built function counted as instrumented");

  char *buf = malloc(16);
  CHECK((intptr_t)buf < 0, "heap buffer must be a handle");
  strcpy(buf, "abcdefgh");
  fill(buf, 4);
  CHECK(strcmp(buf, "ffffefgh") == 0, "fill wrote '%s'", buf);

  char *out = malloc(64), *name = malloc(16);
  strcpy(name, "mojave");
  int n = fmt(out, "%s=%d;%s", name, 42, buf);
  CHECK(n == 18 && strcmp(out, "mojave=42;ffffefgh") == 0, "fmt: %d '%s'", n, out);

  /* Written through the barrier's copy: aborted, then committed. */
  int id = spec_enter();
  if (id > 0) {
    fill(buf, 8);
    fmt(out, "%s!", name);
    CHECK(strcmp(buf, "ffffffff") == 0 && strcmp(out, "mojave!") == 0, "inside: '%s' '%s'", buf, out);
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(strcmp(buf, "ffffefgh") == 0, "after abort: buf '%s'", buf);
  CHECK(strcmp(out, "mojave=42;ffffefgh") == 0, "after abort: out '%s'", out);
  id = spec_enter();
  if (id > 0) {
    fill(buf, 8);
    spec_commit(id);
  }
  CHECK(strcmp(buf, "ffffffff") == 0, "after commit: buf '%s'", buf);

  /* A kept raw address bypasses the barrier: the write is not rolled back. */
  char *kb = malloc(8);
  strcpy(kb, "kept");
  keep(kb);
  id = spec_enter();
  if (id > 0) {
    poke_kept('K');
    ABORT_UNLESS_FAILED(id);
  }
  CHECK(strcmp(kb, "Kept") == 0, "a write through a kept raw address: '%s'", kb);

  /* Handlers installed by the library, fetched back and called directly. */
  CHECK(install(SIGUSR1, SIGUSR2) == 0, "install_handlers");
  void (*prev)(int) = signal(SIGUSR1, SIG_DFL);
  CHECK(prev != SIG_DFL && prev != SIG_IGN && prev != SIG_ERR, "signal() returned no handler");
  if (prev != SIG_DFL && prev != SIG_IGN && prev != SIG_ERR) prev(SIGUSR1);
  CHECK(last_signal_seen() == SIGUSR1, "library handler saw %d", last_signal_seen());
  CHECK(signal(SIGUSR1, SIG_IGN) == SIG_DFL, "SIG_DFL came back");

  struct sigaction *old = malloc(sizeof *old);
  siginfo_t *info = calloc(1, sizeof *info);
  int *ctx = calloc(2, sizeof *ctx);
  CHECK(sigaction(SIGUSR2, NULL, old) == 0 && (old->sa_flags & SA_SIGINFO), "sigaction fetch");
  info->si_signo = SIGUSR2;
  info->si_value.sival_int = 99;
  old->sa_sigaction(SIGUSR2, info, ctx);
  CHECK(ctx[0] == SIGUSR2 && ctx[1] == 99, "library action wrote %d %d", ctx[0], ctx[1]);

  /* The program's own action, installed and fetched back: handles. */
  struct sigaction *mine = calloc(1, sizeof *mine);
  mine->sa_sigaction = own_action;
  mine->sa_flags = SA_SIGINFO;
  CHECK(sigaction(SIGUSR2, mine, NULL) == 0 && sigaction(SIGUSR2, NULL, old) == 0, "sigaction own");
  ctx[0] = 0;
  old->sa_sigaction(SIGUSR2, info, ctx);
  CHECK(own_got_handle && ctx[0] == SIGUSR2, "own action: handle %d, wrote %d", own_got_handle, ctx[0]);
  /* And a real delivery of the library's handler still works. */
  CHECK(install(SIGTERM, SIGUSR2) == 0 && raise(SIGTERM) == 0, "install, raise");
  CHECK(last_signal_seen() == SIGTERM, "delivered: %d", last_signal_seen());
  dlclose(lib);
  DONE();
}
