/* runtime/output_wrap.c — the output paths libmojave interposes so that held
 * output can be engaged lazily: spec_enter only arms holding (no system
 * call); the first call below made while armed redirects stdout/stderr to the
 * memory files (output.c) before forwarding to libc.  Everything a program or
 * library can reach through the PLT that writes to a descriptor, flushes a
 * stdio stream or starts another process is here; glibc's internal writes
 * happen only from inside these calls (or from stdio buffers filled by the
 * putc macros, which output.c flushes itself).  The real functions come from
 * the next object (dlsym RTLD_NEXT), resolved on first use. */
/* No glibc extern-inline bodies (putchar, putc_unlocked, fputc_unlocked at
 * -O2): clang ignores the weak/default-visibility attributes of an
 * interposer declared after such a body. */
#define __NO_INLINE__ 1
#include "internal.h"

#include <dlfcn.h>
#include <err.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>
#include <wchar.h>

int _moj_out_hook MOJ_RTVAR; /* non-zero while a speculation may hold output */

/* Interposers are weak: a program that defines one of these names itself
 * (its own error() or printf) keeps its definition and links cleanly; only
 * that path then bypasses held output. */
#define MOJ_INTERPOSE MOJ_EXPORT __attribute__((weak))

#define HOOK() do { if (moj_unlikely(_moj_out_hook)) _moj_output_hook(); } while (0)
#define REAL(name) \
  ({ if (moj_unlikely(!real_##name)) real_##name = _moj_real(#name); real_##name; })

/* stdio.h may define some of these as macros; the functions are what we wrap. */
#undef putc
#undef putchar
#undef putc_unlocked
#undef putchar_unlocked
#undef fputc_unlocked
#undef fwrite_unlocked
#undef fputs_unlocked

/* Plain forwarders: ret name(params) { hook; return real(args); } */
#define MOJ_FORWARD(X) \
  X(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n)) \
  X(ssize_t, pwrite64, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o)) \
  X(ssize_t, pwritev, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o)) \
  X(ssize_t, pwritev2, (int fd, const struct iovec *v, int n, off_t o, int f), (fd, v, n, o, f)) \
  X(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f)) \
  X(ssize_t, sendfile, (int o, int i, off_t *off, size_t n), (o, i, off, n)) \
  X(ssize_t, splice, (int a, loff_t *b, int c, loff_t *d, size_t n, unsigned f), (a, b, c, d, n, f)) \
  X(ssize_t, copy_file_range, (int a, loff_t *b, int c, loff_t *d, size_t n, unsigned f), (a, b, c, d, n, f)) \
  X(int, puts, (const char *s), (s)) \
  X(int, fputs, (const char *s, FILE *f), (s, f)) \
  X(int, fputs_unlocked, (const char *s, FILE *f), (s, f)) \
  X(int, fputc, (int c, FILE *f), (c, f)) \
  X(int, fputc_unlocked, (int c, FILE *f), (c, f)) \
  X(int, putc, (int c, FILE *f), (c, f)) \
  X(int, putc_unlocked, (int c, FILE *f), (c, f)) \
  X(int, putchar, (int c), (c)) \
  X(int, putchar_unlocked, (int c), (c)) \
  X(int, putw, (int w, FILE *f), (w, f)) \
  X(size_t, fwrite, (const void *p, size_t s, size_t n, FILE *f), (p, s, n, f)) \
  X(size_t, fwrite_unlocked, (const void *p, size_t s, size_t n, FILE *f), (p, s, n, f)) \
  X(int, fflush, (FILE *f), (f)) \
  X(int, fflush_unlocked, (FILE *f), (f)) \
  X(int, fclose, (FILE *f), (f)) \
  X(int, __overflow, (FILE *f, int c), (f, c)) \
  X(wint_t, __woverflow, (FILE *f, wint_t c), (f, c)) \
  X(void, perror, (const char *s), (s)) \
  X(void, psignal, (int sig, const char *s), (sig, s)) \
  X(wint_t, fputwc, (wchar_t c, FILE *f), (c, f)) \
  X(wint_t, putwc, (wchar_t c, FILE *f), (c, f)) \
  X(wint_t, putwchar, (wchar_t c), (c)) \
  X(int, fputws, (const wchar_t *s, FILE *f), (s, f)) \
  X(int, vprintf, (const char *fmt, va_list ap), (fmt, ap)) \
  X(int, vfprintf, (FILE *f, const char *fmt, va_list ap), (f, fmt, ap)) \
  X(int, vdprintf, (int fd, const char *fmt, va_list ap), (fd, fmt, ap)) \
  X(int, __vprintf_chk, (int fl, const char *fmt, va_list ap), (fl, fmt, ap)) \
  X(int, __vfprintf_chk, (FILE *f, int fl, const char *fmt, va_list ap), (f, fl, fmt, ap)) \
  X(int, __vdprintf_chk, (int fd, int fl, const char *fmt, va_list ap), (fd, fl, fmt, ap)) \
  X(int, vwprintf, (const wchar_t *fmt, va_list ap), (fmt, ap)) \
  X(int, vfwprintf, (FILE *f, const wchar_t *fmt, va_list ap), (f, fmt, ap)) \
  X(void, vwarn, (const char *fmt, va_list ap), (fmt, ap)) \
  X(void, vwarnx, (const char *fmt, va_list ap), (fmt, ap))

#define DEFINE_FORWARD(ret, name, params, args) \
  static ret (*real_##name) params MOJ_RTVAR; \
  MOJ_INTERPOSE ret name params { HOOK(); return REAL(name) args; }
MOJ_FORWARD(DEFINE_FORWARD)

/* Calls that start a process: it inherits the held descriptors and may write
 * to them after the speculation ends (output.c keeps those memory files). */
#define MOJ_SPAWNS(X) \
  X(int, posix_spawn, (pid_t *p, const char *f, const posix_spawn_file_actions_t *a, const posix_spawnattr_t *t, char *const v[], char *const e[]), (p, f, a, t, v, e)) \
  X(int, posix_spawnp, (pid_t *p, const char *f, const posix_spawn_file_actions_t *a, const posix_spawnattr_t *t, char *const v[], char *const e[]), (p, f, a, t, v, e)) \
  X(int, system, (const char *c), (c)) \
  X(FILE *, popen, (const char *c, const char *m), (c, m))
#define DEFINE_SPAWN(ret, name, params, args) \
  static ret (*real_##name) params MOJ_RTVAR; \
  MOJ_INTERPOSE ret name params { HOOK(); _moj_output_children(); return REAL(name) args; }
MOJ_SPAWNS(DEFINE_SPAWN)

/* Calls the distributed-shared-memory layer also wraps (a syscall handed a
 * protected DSM page must fault it in, not fail with EFAULT).  When the static
 * DSM library is linked in, it provides __moj_dsm_<name> and we chain to it;
 * otherwise (or under LD_PRELOAD, where RTLD_NEXT finds it) we go to libc. */
#define MOJ_FORWARD_DSM(X) \
  X(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n)) \
  X(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o)) \
  X(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f)) \
  X(ssize_t, sendto, (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l), (fd, b, n, f, a, l))

#define DEFINE_DSM_FORWARD(ret, name, params, args) \
  ret __moj_dsm_##name params __attribute__((weak)); \
  static ret (*real_##name) params MOJ_RTVAR; \
  MOJ_INTERPOSE ret name params { \
    HOOK(); \
    if (__moj_dsm_##name) return __moj_dsm_##name args; \
    return REAL(name) args; }
MOJ_FORWARD_DSM(DEFINE_DSM_FORWARD)

/* The variadic ones format through the v-forms above. */
#define VARIADIC(ret, name, params, vcall) \
  MOJ_INTERPOSE ret name params { va_list ap; va_start(ap, fmt); ret r = vcall; va_end(ap); return r; }
VARIADIC(int, printf, (const char *fmt, ...), vprintf(fmt, ap))
VARIADIC(int, fprintf, (FILE *f, const char *fmt, ...), vfprintf(f, fmt, ap))
VARIADIC(int, dprintf, (int fd, const char *fmt, ...), vdprintf(fd, fmt, ap))
VARIADIC(int, __printf_chk, (int fl, const char *fmt, ...), __vprintf_chk(fl, fmt, ap))
VARIADIC(int, __fprintf_chk, (FILE *f, int fl, const char *fmt, ...), __vfprintf_chk(f, fl, fmt, ap))
VARIADIC(int, __dprintf_chk, (int fd, int fl, const char *fmt, ...), __vdprintf_chk(fd, fl, fmt, ap))
VARIADIC(int, wprintf, (const wchar_t *fmt, ...), vwprintf(fmt, ap))
VARIADIC(int, fwprintf, (FILE *f, const wchar_t *fmt, ...), vfwprintf(f, fmt, ap))

MOJ_INTERPOSE void warn(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vwarn(fmt, ap); va_end(ap); }
MOJ_INTERPOSE void warnx(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vwarnx(fmt, ap); va_end(ap); }

#define NORETURN_V(name, vname) \
  static void (*real_##vname)(int, const char *, va_list) MOJ_RTVAR; \
  MOJ_INTERPOSE void vname(int st, const char *fmt, va_list ap) { \
    HOOK(); REAL(vname)(st, fmt, ap); abort(); } \
  MOJ_INTERPOSE void name(int st, const char *fmt, ...) { \
    va_list ap; va_start(ap, fmt); vname(st, fmt, ap); }
NORETURN_V(err, verr)
NORETURN_V(errx, verrx)

static pid_t (*real_fork)(void) MOJ_RTVAR;
MOJ_INTERPOSE pid_t fork(void) {
  HOOK();
  _moj_output_children();
  pid_t pid = REAL(fork)();
  if (pid == 0) _moj_output_forked();
  return pid;
}
/* A vfork child would run on our frame; a fork is always a valid vfork. */
MOJ_INTERPOSE pid_t vfork(void) { return fork(); }

static void (*real___assert_fail)(const char *, const char *, unsigned, const char *) MOJ_RTVAR;
MOJ_INTERPOSE void __assert_fail(const char *a, const char *f, unsigned l, const char *fn) {
  HOOK();
  REAL(__assert_fail)(a, f, l, fn);
  abort();
}

/* Waiting for a child is when its output written after its speculation ended
 * is complete: copy it out then (output.c, lingering memory files). */
#define DRAIN() do { if (moj_unlikely(_moj_rt && _moj_rt->linger[0].fd)) _moj_output_drain(); } while (0)
#define MOJ_WAITS(X) \
  X(int, pclose, (FILE *f), (f)) \
  X(pid_t, waitpid, (pid_t p, int *s, int o), (p, s, o)) \
  X(pid_t, wait, (int *s), (s)) \
  X(pid_t, wait3, (int *s, int o, struct rusage *u), (s, o, u)) \
  X(pid_t, wait4, (pid_t p, int *s, int o, struct rusage *u), (p, s, o, u)) \
  X(int, waitid, (idtype_t t, id_t i, siginfo_t *s, int o), (t, i, s, o))
#define DEFINE_WAIT(ret, name, params, args) \
  static ret (*real_##name) params MOJ_RTVAR; \
  MOJ_INTERPOSE ret name params { ret r = REAL(name) args; int e = errno; DRAIN(); errno = e; return r; }
MOJ_WAITS(DEFINE_WAIT)

/* Descriptor calls that change what 1/2 are or duplicate them (output.c).
 * Duplicating 1/2 while armed engages holding first, so the copy is held. */
#define HOOK_STD(fd) do { if ((fd) == 1 || (fd) == 2) HOOK(); } while (0)
static int (*real_dup)(int) MOJ_RTVAR;
static int (*real_dup2)(int, int) MOJ_RTVAR;
static int (*real_dup3)(int, int, int) MOJ_RTVAR;
static int (*real_close)(int) MOJ_RTVAR;
static int (*real_fcntl)(int, int, ...) MOJ_RTVAR;
static int (*real_fcntl64)(int, int, ...) MOJ_RTVAR;

MOJ_INTERPOSE int dup(int fd) {
  HOOK_STD(fd);
  int r = REAL(dup)(fd);
  if (r >= 0) _moj_output_fd_dup(fd, r, 0);
  return r;
}
MOJ_INTERPOSE int dup3(int a, int b, int flags) {
  HOOK_STD(a);
  int r = REAL(dup3)(a, b, flags);
  if (r >= 0) { _moj_output_fd_replaced(b); _moj_output_fd_dup(a, b, (flags & O_CLOEXEC) != 0); }
  return r;
}
MOJ_INTERPOSE int dup2(int a, int b) {
  if (a == b) return REAL(dup2)(a, b);
  HOOK_STD(a);
  int r = REAL(dup2)(a, b);
  if (r >= 0) { _moj_output_fd_replaced(b); _moj_output_fd_dup(a, b, 0); }
  return r;
}
MOJ_INTERPOSE int close(int fd) {
  int r = REAL(close)(fd);
  _moj_output_fd_replaced(fd);   /* the descriptor is gone even on EINTR (Linux) */
  return r;
}
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
  if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC) return real(fd, cmd, arg);
  HOOK_STD(fd);
  int r = real(fd, cmd, arg);
  if (r >= 0) _moj_output_fd_dup(fd, r, cmd == F_DUPFD_CLOEXEC);
  return r;
}
/* The third argument is an int, a long or a pointer: all travel in one
 * 64-bit register on x86-64, so it is forwarded as a pointer. */
#define DEFINE_FCNTL(name) \
  MOJ_INTERPOSE int name(int fd, int cmd, ...) { \
    va_list ap; \
    va_start(ap, cmd); \
    void *arg = va_arg(ap, void *); \
    va_end(ap); \
    return fcntl_common(REAL(name), fd, cmd, arg); }
DEFINE_FCNTL(fcntl)
DEFINE_FCNTL(fcntl64)

/* Referenced from spec.c so this object is always linked in. */
void _moj_output_wrappers_linked(void) {}

/* glibc's error() writes through internal calls, so it is reimplemented here
 * with the same output (program name, message, errno text, newline). */
extern void (*error_print_progname)(void);
extern unsigned int error_message_count;
MOJ_INTERPOSE void error(int status, int errnum, const char *fmt, ...) {
  HOOK();
  fflush(stdout);
  if (error_print_progname) error_print_progname();
  else fprintf(stderr, "%s: ", program_invocation_name);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (errnum) fprintf(stderr, ": %s", strerror(errnum));
  fputc('\n', stderr);
  fflush(stderr);
  ++error_message_count;
  if (status) exit(status);
}

