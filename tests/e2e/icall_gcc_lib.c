/* tests/e2e/icall_gcc_lib.c — a shared library built with the system cc,
 * not mojcc (so it knows nothing of handles), for icall_foreign: it must
 * receive raw addresses when instrumented code calls it through dlsym
 * pointers or through signal handlers it installed. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fill(char *buf, int n) { memset(buf, 'f', (size_t)n); }

int fmt(char *out, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int r = vsprintf(out, f, ap);
  va_end(ap);
  return r;
}

/* Keeps a pointer for later: what libraries that cache buffers do. */
static char *kept;
void keep(char *p) { kept = p; }
void poke_kept(char c) { kept[0] = c; }

/* Signal handlers: plain and SA_SIGINFO (which writes through ctx). */
static int last_signal;
static void on_signal(int sig) { last_signal = sig; }
static void on_action(int sig, siginfo_t *info, void *ctx) {
  last_signal = sig;
  int *out = ctx;
  out[0] = info->si_signo;
  out[1] = info->si_value.sival_int;
}
int last_signal_seen(void) { return last_signal; }
int install_handlers(int plain, int with_info) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_action;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(with_info, &sa, NULL)) return -1;
  return signal(plain, on_signal) == SIG_ERR ? -1 : 0;
}
