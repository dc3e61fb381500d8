/* migrate/ctl.c — the program's side of the control socket to its supervisor
 * (mojave-run on the launching host, mojaved after a migration): migration
 * requests in (MOJ_CTL_SIGNAL + a REQUEST packet), READY / RESTORED / MOVED /
 * PROGRESS / FAILED out.  Part of libmojave, so it runs inside every mojcc
 * program: no threads, no stdio streams, errno preserved, I/O by raw
 * syscalls (wire.c), state in the runtime's `moj_rt` section so that a
 * speculation rollback (which restores .data/.bss) cannot undo a request. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_internal.h"
#include "wire.h"

volatile uint32_t __moj_mig_req MG_RTVAR;

/* The supervisor's socket (-1: unsupervised) and the latest request. */
static int ctl_fd MG_RTVAR = -1;
static pid_t ctl_pid MG_RTVAR; /* the supervised process; its fork()ed children are not */
static struct mg_request req MG_RTVAR;
static int req_pending MG_RTVAR;

/* A child the program forks inherits the socket but must not take the
 * parent's requests or report for it: it acts unsupervised. */
int moj_ctl_fd(void) { return ctl_fd >= 0 && getpid() == ctl_pid ? ctl_fd : -1; }

/* The handler only raises the flag: a migration point polls it and calls
 * moj_ctl_take_request, outside signal context. */
static void on_request(int sig) {
  (void)sig;
  __moj_mig_req = 1;
}

void moj_ctl_init(void) {
  int saved = errno;
  const char *s = getenv("MOJAVE_CTL_FD");
  char *end;
  long fd = s && *s ? strtol(s, &end, 10) : -1;
  int type = 0;
  socklen_t tl = sizeof type;
  /* only a SOCK_SEQPACKET socket is ours: a stale variable inherited by a
   * grandchild must not make it talk to whatever now has that number */
  if (fd >= 0 && fd < 65536 && !*end && getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
      type == SOCK_SEQPACKET) {
    /* out of the way of programs that expect low descriptor numbers, and
     * not inherited by what the program executes */
    int hi = fcntl((int)fd, F_DUPFD_CLOEXEC, 900);
    if (hi >= 0) {
      close((int)fd);
      ctl_fd = hi;
    } else {
      ctl_fd = (int)fd;
      fcntl(ctl_fd, F_SETFD, FD_CLOEXEC);
    }
    ctl_pid = getpid();
    /* children of the program are not supervised by our supervisor */
    unsetenv("MOJAVE_CTL_FD");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_request;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(MOJ_CTL_SIGNAL, &sa, NULL);
    /* the supervisor sends the signal only after this: before it, the
     * signal's default action would kill the program */
    struct mg_ready r = {(uint32_t)getpid()};
    mg_pkt_send(ctl_fd, MG_READY, 0, 0, &r, sizeof r);
  }
  errno = saved;
}

/* A REQUEST packet: remember it (the last one wins). */
static void keep_request(const struct _moj_hdr *h, const char *buf) {
  if (h->type != MG_REQUEST || h->len != sizeof req) return;
  memcpy(&req, buf, sizeof req);
  req.host[sizeof req.host - 1] = 0;
  req_pending = 1;
}

/* Read whatever the supervisor sent without blocking (stale GO/ABORT from
 * an earlier hand-off are dropped). */
static void ctl_drain(void) {
  struct _moj_hdr h;
  char buf[1024];
  int fd = moj_ctl_fd();
  while (fd >= 0 && mg_pkt_recv(fd, &h, buf, sizeof buf, 1) == 0) keep_request(&h, buf);
}

int moj_ctl_take_request(char *host, size_t hostlen, int *mode) {
  int saved = errno;
  __moj_mig_req = 0;
  ctl_drain();
  int got = req_pending && hostlen > strlen(req.host);
  if (got) {
    memcpy(host, req.host, strlen(req.host) + 1);
    *mode = req.mode <= 2 ? (int)req.mode : 0; /* 0 auto: moj_ship_mode decides */
  }
  req_pending = 0;
  errno = saved;
  return got;
}

void moj_ctl_notify(uint16_t type, const void *p, size_t n) {
  int fd = moj_ctl_fd();
  if (fd < 0) return;
  int saved = errno;
  mg_pkt_send(fd, type, 0, 0, p, n);
  errno = saved;
}

void moj_ctl_moved(const char *host, const char *job) {
  int saved = errno;
  int fd = moj_ctl_fd();
  if (fd >= 0) {
    struct mg_moved m;
    memset(&m, 0, sizeof m);
    snprintf(m.host, sizeof m.host, "%s", host);
    snprintf(m.job, sizeof m.job, "%s", job);
    /* signals that arrived after GO (moj_ship_commit blocked them) belong
     * to the program, which now runs there */
    static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t pend;
    if (sigpending(&pend) == 0)
      for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++)
        if (sigismember(&pend, fwd[i]) == 1) m.sigs |= 1ull << (fwd[i] - 1);
    mg_pkt_send(fd, MG_MOVED, 0, 0, &m, sizeof m);
    errno = saved;
    return;
  }
  /* Unsupervised (started from a shell): become the launcher in place, so
   * the shell keeps waiting on this pid and gets the real exit status. */
  char target[128];
  snprintf(target, sizeof target, "%s:%s", host, job);
  const char *run = getenv("MOJAVE_RUN");
  char *argv[] = {(char *)(run && *run ? run : "mojave-run"), "--attach", target, NULL};
  /* the signal mask stays as moj_ship_commit left it: signals that arrived
   * after GO stay pending across exec, and mojave-run reads them from its
   * signalfd and forwards them to the job */
  signal(MOJ_CTL_SIGNAL, SIG_DFL);
  execvp(argv[0], argv);
  errno = saved;
}

int moj_ctl_restored(void) {
  int saved = errno;
  int fd = moj_ctl_fd();
  if (fd < 0) return 0; /* not started by mojaved: nobody to wait for */
  mg_pkt_send(fd, MG_RESTORED, 0, 0, NULL, 0);
  for (;;) {
    struct _moj_hdr h;
    char buf[1024];
    if (mg_pkt_recv(fd, &h, buf, sizeof buf, 0) < 0) {
      if (errno == EPROTO) continue;
      _exit(0); /* supervisor gone: the source still runs, quietly step aside */
    }
    if (h.type == MG_GO) break;
    if (h.type == MG_ABORT) _exit(0);
    keep_request(&h, buf); /* for the first migration point after GO */
    if (req_pending) __moj_mig_req = 1;
  }
  errno = saved;
  return 0;
}
