/* runtime/diag.c — the runtime's diagnostics ("mojave: fatal: ..."),
 * through log.h.  They go to the real stderr even while a speculation holds
 * the program's stderr (saved_fd[1]): a fatal error must be seen. */
#include "internal.h"
#include "log.h"

#include <stdlib.h>

static int diag_fd(void) { return (_moj_rt && _moj_rt->saved_fd[1] >= 0) ? _moj_rt->saved_fd[1] : 2; }

void _moj_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog_fd(diag_fd(), "mojave", MOJ_LOG_FATAL, fmt, ap);
  va_end(ap);
  abort();
}

void _moj_warn_once(int *flag, const char *fmt, ...) {
  if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED)) return;
  va_list ap;
  va_start(ap, fmt);
  _moj_vlog_fd(diag_fd(), "mojave", MOJ_LOG_ERROR, fmt, ap);
  va_end(ap);
}
